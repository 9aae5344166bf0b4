"""The documented variants of the Nexudus API the sandbox can speak, and its token endpoint.

Nexudus' documentation disagrees with itself (find-by-ids, the `dir` encoding, local times with a `Z`,
throttling answers, extra record fields). `python -m bot sandbox --dialect NAME` (repeatable) makes the
sandbox speak one reading strictly, so the adapter's detection is tested against each:

| name | what changes |
|---|---|
| `seed` | the default: the seed reference (`ChatRoom_Id=[…]` → envelope; `dir` in any documented form) |
| `ids-array` | `id=[1,2]` → a bare array of full records (role Read); `ChatRoom_Id` is ignored |
| `dir-name` / `dir-signed` / `dir-binary` | only `Ascending/Descending`, `1/-1` or `0/1`; anything else is ignored |
| `local-times` | times are the space's wall clock (Europe/Madrid) with a `Z`, in and out |
| `throttle-empty` | throttling is a 409 with an empty body |
| `throttle-429` | throttling is a 429 |
| `extra-fields` | records carry IsNew, ToStringText, LocalizationDetails, CustomFields, AddedUsers/RemovedUsers null |
| `bearer-only` | HTTP Basic is refused; only `/api/token` tokens work |
| `no-token` | no `/api/token` (404): HTTP Basic only |
| `reference` | the current reference at once: ids-array, dir-signed, extra-fields, throttle-429 with empty bodies |

Every dialect has `/api/token` (but `no-token`), with password and refresh grants and a 2FA demo user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

LOCAL_ZONE = "Europe/Madrid"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"
"""The 2FA demo user's fixed TOTP secret (base32), so a test or a person can compute its codes."""
ACCESS_LIFETIME = timedelta(seconds=604_799)
REFRESH_LIFETIME = timedelta(days=15)


@dataclass(frozen=True)
class SandboxDialect:
    ids: Literal["envelope", "array"] = "envelope"
    dir: Literal["any", "name", "signed", "binary"] = "any"
    local_zone: str | None = None
    throttle_status: int = 409
    throttle_body: Literal["json", "empty"] = "json"
    extra_fields: bool = False
    basic: bool = True
    tokens: bool = True


SEED = SandboxDialect()
_CHANGES: dict[str, dict[str, object]] = {
    "seed": {},
    "ids-array": {"ids": "array"},
    "dir-name": {"dir": "name"},
    "dir-signed": {"dir": "signed"},
    "dir-binary": {"dir": "binary"},
    "local-times": {"local_zone": LOCAL_ZONE},
    "throttle-empty": {"throttle_body": "empty"},
    "throttle-429": {"throttle_status": 429},
    "extra-fields": {"extra_fields": True},
    "bearer-only": {"basic": False},
    "no-token": {"tokens": False},
    "reference": {
        "ids": "array",
        "dir": "signed",
        "extra_fields": True,
        "throttle_status": 429,
        "throttle_body": "empty",
    },
}
DIALECT_NAMES: tuple[str, ...] = tuple(_CHANGES)


def dialect(*names: str) -> SandboxDialect:
    """The dialect made of these named variants (later ones win where they overlap)."""
    result = SEED
    for name in names:
        if name not in _CHANGES:
            raise ValueError(f"unknown dialect {name!r} (known: {', '.join(DIALECT_NAMES)})")
        result = replace(result, **_CHANGES[name])  # type: ignore[arg-type]
    return result


# --------------------------------------------------------------------------------------- TOTP
def totp(secret: str, at: datetime, *, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 (HMAC-SHA1, 30 s steps, 6 digits), as every authenticator app computes it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(at.timestamp()) // step
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return f"{code:0{digits}d}"


def totp_ok(secret: str, code: str, at: datetime) -> bool:
    """The code of this step or the one either side (clock drift), compared in constant time."""
    code = code.strip()
    return any(hmac.compare_digest(code, totp(secret, at + timedelta(seconds=30 * drift))) for drift in (-1, 0, 1))


# ------------------------------------------------------------------------------------- tokens
class TokenStore:
    """Issued access and refresh tokens (in memory: a restarted sandbox forgets them, as after a revoke)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._access: dict[str, tuple[str, datetime]] = {}
        self._refresh: dict[str, tuple[str, datetime]] = {}

    def issue(self, email: str, now: datetime) -> dict[str, object]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = (email, now + ACCESS_LIFETIME)
            self._refresh[refresh] = (email, now + REFRESH_LIFETIME)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(ACCESS_LIFETIME.total_seconds()),
            "refresh_token": refresh,
        }

    def user_of(self, access: str, now: datetime) -> str | None:
        with self._lock:
            entry = self._access.get(access)
        return entry[0] if entry and now < entry[1] else None

    def redeem_refresh(self, refresh: str, now: datetime) -> str | None:
        """The refresh token's user, once: a refresh token is replaced by the new one it buys."""
        with self._lock:
            entry = self._refresh.pop(refresh, None)
        return entry[0] if entry and now < entry[1] else None

    def revoke(self, email: str | None = None) -> None:
        """Forget every token (of one user): their next refresh fails, as after a password change."""
        with self._lock:
            for table in (self._access, self._refresh):
                for token in [t for t, (e, _) in table.items() if email is None or e == email]:
                    del table[token]
