"""Store keys: ``STORE_KEY`` (one Fernet key, or a comma-separated list for rotation) and the local demo key."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

log = logging.getLogger(__name__)

Cipher = Fernet | MultiFernet
"""What encrypts credentials: one key, or several for rotation (the first encrypts, all decrypt)."""

BAD_KEY_MESSAGE = "STORE_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"


def fernet_from_setting(key: str) -> Cipher:
    """Build the cipher from ``STORE_KEY``; a comma-separated list enables key rotation.

    The error never echoes the value: it is a secret, and error messages end up in logs.
    """
    parts = [part.strip() for part in (key or "").split(",")]
    if not parts or any(not part for part in parts):
        raise ValueError(BAD_KEY_MESSAGE)
    fernets: list[Fernet] = []
    for part in parts:
        try:
            fernets.append(Fernet(part.encode("ascii")))
        except (ValueError, TypeError, UnicodeError):
            raise ValueError(BAD_KEY_MESSAGE) from None
    if len(fernets) == 1:
        return fernets[0]
    return MultiFernet(fernets)


def local_key_file(path: Path) -> str:
    """Return the key kept in ``path``, creating it (mode 0600) if missing.

    Only for the embedded local demo, where nobody has set ``STORE_KEY``. Creation is atomic (a
    private temp file hard-linked into place), so two processes starting together agree on one key.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, Fernet.generate_key() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("local store key file %s is readable by others (mode %o); it should be 0600", path, mode)
    key = path.read_text(encoding="ascii").strip()
    try:
        Fernet(key.encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise ValueError(f"local store key file {path} does not hold a valid Fernet key") from None
    return key


class StoreKey:
    """Namespace for the key helpers, for callers that prefer ``StoreKey.fernet_from_setting``."""

    fernet_from_setting = staticmethod(fernet_from_setting)
    local_key_file = staticmethod(local_key_file)
