"""The app's small persistent store: Nexudus logins (encrypted), alert subscriptions and alert state.

Everything lives in ONE SQLite file, in four sqlitedict tables (``credentials``, ``subscriptions``,
``alerts``, ``digests``) whose values are JSON, never pickle, so a tampered file cannot run code.
The web process and the alert worker open the same file at once, so:

* every public write runs in its own ``BEGIN IMMEDIATE`` transaction and is committed (with
  ``synchronous=FULL``) before the method returns; SQLite's file lock serialises the processes and a
  30 s busy timeout makes a writer wait for the other instead of failing;
* read-modify-write operations (``snooze``, ``update_subscription``, removals) happen inside that
  transaction, so a concurrent writer in the other process cannot be overwritten by stale data;
* within a process, one lock serialises calls, because sqlitedict reports a failed statement to
  whichever caller talks to its thread next, and it must be the caller who issued it.

Passwords only ever exist inside a Fernet token; nothing here logs or reprs a password or a token.

Opening the store checks three things before anything is served, and refuses with a message that says what
is wrong and what to do (``StoreError``): the file is a sound SQLite database (never overwritten if not);
the file is private (created 0600, tightened to 0600 if it was not); and ``STORE_KEY`` is the key the data
was written with — a *key check* (a known text encrypted with the key) is kept in the ``meta`` table, so a
valid but wrong key is caught at start instead of making every saved login look absent. With a key list
(rotation), everything encrypted is re-encrypted with the first key at start, so the old key can then be
dropped; a process still running with only the old key says so instead of treating logins as missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, ConfigDict, Field
from sqlitedict import SqliteDict

from bot.nexudus.credentials import Credentials

__all__ = [
    "AlertRecord",
    "Cipher",
    "Digest",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreKey",
    "StoreKeyMismatch",
    "Subscription",
    "fernet_from_setting",
    "local_key_file",
    "new_subscription_id",
]

log = logging.getLogger(__name__)

Cipher = Fernet | MultiFernet
"""What encrypts credentials: one key, or several for rotation (the first encrypts, all decrypt)."""

BAD_KEY_MESSAGE = "STORE_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for the other process's transaction before giving up."""

_TABLES = ("credentials", "subscriptions", "alerts", "digests", "meta")

KEY_CHECK = "key_check"
_KEY_CHECK_TEXT = b"chatrooms-bot store key check v1"
_ENCRYPTED_FIELDS = ("token",)
"""The fields of a credentials record that hold Fernet tokens (re-encrypted when keys rotate)."""

FILE_MODE = 0o600


# ----------------------------------------------------------------------------- the file and errors


def _tokens(value: Any) -> list[str]:
    """The Fernet tokens in one credentials record."""
    if not isinstance(value, dict):
        return []
    return [value[field] for field in _ENCRYPTED_FIELDS if isinstance(value.get(field), str)]


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


def _private_file(path: Path) -> None:
    """Create the store file (and a new directory) private to this user; tighten an existing file to 0600."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise StoreError(f"cannot open the store file {path}: {exc.strerror}. Check STORE_PATH.") from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            try:
                os.fchmod(fd, FILE_MODE)
                log.warning("the store file %s was readable by others (mode %o); it is now 0600", path, mode)
            except OSError:
                log.warning("the store file %s is readable by others (mode %o) and cannot be made 0600", path, mode)
    finally:
        os.close(fd)


def _check_integrity(path: Path) -> None:
    """Refuse a file that is not a sound SQLite database, before anything reads or writes it."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store file {path}: {exc}. Check STORE_PATH.") from None
    try:
        result = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and not _is_corruption(exc):
            raise StoreError(f"cannot read the store file {path}: {exc}.") from None
        raise StoreDamaged(path, str(exc)) from None
    finally:
        conn.close()
    if result != ["ok"]:
        raise StoreDamaged(path, "; ".join(str(r) for r in result[:3]))


class StoreError(Exception):
    """The store cannot be used as it is. The text says what is wrong and what to do; it never holds a secret."""


class StoreDamaged(StoreError):
    """The store file is not a sound SQLite database. Nothing was written to it."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"The store file {path} is damaged (SQLite says: {detail}). The app has not changed it.\n"
            f"Restore it from a backup; or keep it aside (`mv {path} {path}.damaged`) and start again with an "
            "empty store: everyone then logs in again with `/chatrooms login` and channels subscribe again."
        )


class StoreKeyMismatch(StoreError):
    """``STORE_KEY`` does not decrypt the store's data (the wrong key, or the store was re-keyed since)."""


# --------------------------------------------------------------------------------------------- keys


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


# ------------------------------------------------------------------------------------------- models


def new_subscription_id() -> str:
    """Short random hex: unique enough for a few subscriptions and easy to type in a command."""
    return secrets.token_hex(4)


class Subscription(BaseModel):
    """A channel wants to hear about chatrooms whose last agent visit is older than the threshold."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_subscription_id)
    team_id: str
    enterprise_id: str | None = None
    """The Enterprise Grid organisation of the team, if any: with the team, it finds the workspace's bot token."""
    channel_id: str
    created_by: str
    """Slack user whose Nexudus credentials the scan uses."""
    threshold_minutes: int
    business_id: int | None = None
    created_at: datetime
    paused_reason: str | None = None
    """Set when the creator's credentials were removed or rejected; the channel has been told once."""
    last_error: str | None = None
    last_error_reported: bool = False
    escalate_after_minutes: int | None = None
    """A room still waiting this long is posted once more, in its digest's thread, mentioning `escalate_to`."""
    escalate_to: str | None = None
    """A Slack user (`U…`/`W…`) or user group (`S…`) id."""
    open_hours: tuple[int, int] | None = None
    """Quiet hours: posts only from, until (minutes after midnight in `zone`; until < from spans midnight)."""
    open_days: tuple[int, ...] | None = None
    """Quiet days: posts only on these days (0 = Monday) of `zone`; None: every day."""
    zone: str | None = None
    """IANA zone of `open_hours`, `open_days` and `summary_minute`; None: the space's (`NEXUDUS_TIMEZONE`)."""
    summary_minute: int | None = None
    """A daily summary at this time of day (minutes after midnight in `zone`)."""
    quiet_since: datetime | None = None
    """Set by the first cycle that found it outside its hours; the next opening's summary says since when."""
    last_summary_on: str | None = None
    """The local date (ISO) of the last daily summary posted, so it is posted once a day."""

    def same_filter(self, other: Subscription) -> bool:
        """Same channel, threshold and business: the same alerts, whoever set them up."""
        return (self.team_id, self.channel_id, self.threshold_minutes, self.business_id) == (
            other.team_id,
            other.channel_id,
            other.threshold_minutes,
            other.business_id,
        )


class AlertRecord(BaseModel):
    """What was alerted for one chatroom of one subscription, so the same wait is not alerted twice."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    chatroom_id: int
    last_agent_visit: datetime | None
    """The value that was alerted on; a newer visit means a new wait."""
    channel_id: str
    message_ts: str
    """The digest message the chatroom appeared in."""
    alerted_at: datetime
    snoozed_until: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    escalated_at: datetime | None = None
    """When this wait was escalated (recorded before the post: an escalation is posted at most once)."""
    escalation_ts: str | None = None
    """The escalation's message in the digest's thread, updated when the room is resolved."""


class Digest(BaseModel):
    """One posted digest message, so its buttons can find the chatrooms it listed."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    channel_id: str
    message_ts: str
    chatroom_ids: list[int]
    posted_at: datetime
    resolved_ids: dict[int, str] = Field(default_factory=dict)
    """Chatroom id -> Slack user who resolved it from this digest."""

    redraw: str | None = None
    """Set (a fresh token) when rows of this digest changed and its message must be redrawn; cleared once
    it was, so a redraw interrupted by a crash or a Slack error is done by the worker's next cycle."""

    @property
    def pending(self) -> bool:
        """Recorded before posting, and not yet stamped with Slack's message ts (see `Store.begin_digest`)."""
        return self.message_ts.startswith(PENDING_PREFIX)


PENDING_PREFIX = "pending-"


def new_pending_ts() -> str:
    """The stand-in `message_ts` of a digest about to be posted: unique, and never a Slack ts."""
    return f"{PENDING_PREFIX}{secrets.token_hex(8)}"


# -------------------------------------------------------------------------------------------- store


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """Key range ``[prefix:, prefix;)`` — every composite key starting with ``prefix:``.

    ``;`` is the character after ``:``, so a primary-key range scan finds exactly one subscription's
    rows without reading the whole table (and ``ab`` never matches ``abc:...``).
    """
    return f"{prefix}:", f"{prefix};"


def _credential_record(creds: Credentials) -> dict[str, Any]:
    """What is encrypted for a login: the password (Basic), or the tokens and their expiry (Bearer)."""
    if creds.access_token is None:
        return {"email": creds.email, "password": creds.password}
    return {
        "email": creds.email,
        "scheme": "bearer",
        "access_token": creds.access_token,
        "refresh_token": creds.refresh_token,
        "expires_at": creds.expires_at.isoformat() if creds.expires_at else None,
        "refresh_expires_at": creds.refresh_expires_at.isoformat() if creds.refresh_expires_at else None,
    }


def _credentials_from(plain: dict[str, Any]) -> Credentials:
    if plain.get("scheme") != "bearer":
        return Credentials(email=str(plain["email"]), password=str(plain["password"]))

    def when(key: str) -> datetime | None:
        raw = plain.get(key)
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None

    refresh = plain.get("refresh_token")
    return Credentials(
        email=str(plain["email"]),
        access_token=str(plain["access_token"]),
        refresh_token=str(refresh) if isinstance(refresh, str) else None,
        expires_at=when("expires_at"),
        refresh_expires_at=when("refresh_expires_at"),
    )


def _cred_key(team_id: str, user_id: str) -> str:
    return f"{team_id}:{user_id}"


def _alert_key(sub_id: str, chatroom_id: int) -> str:
    return f"{sub_id}:{int(chatroom_id)}"


def _digest_key(sub_id: str, message_ts: str) -> str:
    return f"{sub_id}:{message_ts}"


class Store:
    """The persistent store. Thread-safe; safe for several processes sharing one file."""

    def __init__(self, path: Path | str, cipher: Cipher) -> None:
        self.path = Path(path)
        self._cipher = cipher
        self._lock = threading.RLock()
        self._closed = False
        self._dicts: dict[str, Any] = {}
        _private_file(self.path)
        _check_integrity(self.path)
        try:
            for table in _TABLES:
                self._dicts[table] = self._open(table)
            self._check_key()
        except sqlite3.DatabaseError as exc:
            self.close()
            if _is_corruption(exc):
                raise StoreDamaged(self.path, str(exc)) from None
            raise StoreError(f"cannot open the store file {self.path}: {exc}.") from None
        except BaseException:
            self.close()
            raise

    def _open(self, table: str) -> Any:
        """One long-lived SqliteDict per table; JSON values so no pickle ever touches the file."""
        d = SqliteDict(
            str(self.path),
            tablename=table,
            flag="c",
            autocommit=False,
            # Not WAL: switching a file to WAL needs an exclusive lock that SQLite does not wait for,
            # so two processes opening a new store together could fail. The rollback journal is
            # plenty for a handful of small writes a minute.
            journal_mode="DELETE",
            encode=json.dumps,
            decode=json.loads,
        )
        # sqlitedict sets synchronous=OFF and leaves Python's 5 s busy timeout (its own `timeout=` is
        # only for its thread's start-up); we want commits that survive a power cut and writers that
        # wait for the other process rather than fail.
        self._sql(d, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._sql(d, "PRAGMA synchronous = FULL")
        return d

    def __repr__(self) -> str:
        return f"Store(path={str(self.path)!r})"

    __str__ = __repr__

    # -- lifecycle

    def close(self) -> None:
        """Close every table (committing nothing new: every write was committed already)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for d in self._dicts.values():
                with contextlib.suppress(Exception):
                    d.close()
            self._dicts.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- low level

    @staticmethod
    def _sql(d: Any, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the table's sqlitedict thread and wait for it.

        Waiting (rather than sqlitedict's fire-and-forget ``execute``) means a failure surfaces
        here, before the commit, so a half-done transaction is rolled back instead of committed.
        """
        try:
            return list(d.conn.select(sql, args))
        except sqlite3.DatabaseError as exc:
            if _is_corruption(exc):
                raise StoreDamaged(Path(d.filename), str(exc)) from None
            raise

    def _table(self, table: str) -> Any:
        if self._closed:
            raise RuntimeError("the store is closed")
        return self._dicts[table]

    @contextlib.contextmanager
    def _write(self, table: str) -> Iterator[Any]:
        """A write transaction on ``table``'s connection, committed durably before returning.

        ``BEGIN IMMEDIATE`` takes the file's write lock up front (waiting up to the busy timeout),
        so reads inside the block see data no other process can change before the commit.
        """
        with self._lock:
            d = self._table(table)
            self._sql(d, "BEGIN IMMEDIATE")
            try:
                yield d
                d.commit(blocking=True)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._sql(d, "ROLLBACK")
                raise

    def _get(self, table: str, key: str) -> Any | None:
        with self._lock:
            rows = self._sql(self._table(table), f'SELECT value FROM "{table}" WHERE key = ?', (key,))
        return json.loads(rows[0][0]) if rows else None

    def _range(self, table: str, prefix: str) -> list[tuple[str, Any]]:
        low, high = _prefix_bounds(prefix)
        with self._lock:
            rows = self._sql(
                self._table(table),
                f'SELECT key, value FROM "{table}" WHERE key >= ? AND key < ? ORDER BY key',
                (low, high),
            )
        return [(key, json.loads(value)) for key, value in rows]

    def _all(self, table: str) -> list[Any]:
        with self._lock:
            rows = self._sql(self._table(table), f'SELECT value FROM "{table}" ORDER BY rowid')
        return [json.loads(value) for (value,) in rows]

    @staticmethod
    def _put(d: Any, table: str, key: str, value: Any) -> None:
        Store._sql(d, f'REPLACE INTO "{table}" (key, value) VALUES (?, ?)', (key, json.dumps(value)))

    @staticmethod
    def _delete(d: Any, table: str, key: str) -> bool:
        return bool(Store._sql(d, f'DELETE FROM "{table}" WHERE key = ? RETURNING key', (key,)))

    # --------------------------------------------------------------------------------- the key

    def _check_key(self) -> None:
        """Refuse a STORE_KEY that is not the one the data was written with; rotate to the first key.

        One transaction on one connection (the file's write lock held throughout), so processes starting
        together agree: the first writes the check, the others read it.
        """
        with self._write("meta") as d:
            rows = self._sql(d, 'SELECT value FROM "meta" WHERE key = ?', (KEY_CHECK,))
            check = json.loads(rows[0][0]) if rows else None
            credentials = [(key, json.loads(raw)) for key, raw in self._sql(d, 'SELECT key, value FROM "credentials"')]
            if isinstance(check, dict) and isinstance(check.get("token"), str):
                if not self._decrypts(check["token"]):
                    raise self._mismatch()
            else:
                # A store from before key checks: the key is right if any saved login decrypts (or there is none).
                tokens = [token for _, value in credentials for token in _tokens(value)]
                if tokens and not any(self._decrypts(token) for token in tokens):
                    raise self._mismatch()
            if check is None or isinstance(self._cipher, MultiFernet):
                self._put(d, "meta", KEY_CHECK, {"token": self._cipher.encrypt(_KEY_CHECK_TEXT).decode("ascii")})
            if isinstance(self._cipher, MultiFernet):
                self._rotate(d, credentials)

    def _rotate(self, d: Any, credentials: list[tuple[str, Any]]) -> None:
        """Re-encrypt every credential token under the first key of STORE_KEY (inside the caller's transaction)."""
        cipher = self._cipher
        assert isinstance(cipher, MultiFernet)
        rotated = 0
        for key, value in credentials:
            if not isinstance(value, dict):
                continue
            for field in _ENCRYPTED_FIELDS:
                token = value.get(field)
                if not isinstance(token, str):
                    continue
                try:
                    value[field] = cipher.rotate(token.encode("ascii")).decode("ascii")
                except (InvalidToken, ValueError, TypeError, UnicodeError):
                    continue  # unreadable under every key: left as it is (load_credentials says so)
                rotated += 1
            self._put(d, "credentials", key, value)
        if rotated:
            log.info("re-encrypted %s saved login(s) with the first key of STORE_KEY", rotated)

    def _decrypts(self, token: str) -> bool:
        try:
            self._cipher.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError, TypeError, UnicodeError):
            return False
        return True

    def _key_still_matches(self) -> bool:
        rows = self._get("meta", KEY_CHECK)
        return isinstance(rows, dict) and isinstance(rows.get("token"), str) and self._decrypts(rows["token"])

    def _mismatch(self) -> StoreKeyMismatch:
        return StoreKeyMismatch(
            f"STORE_KEY does not decrypt the store {self.path}: it is not the key (or key list) the saved logins "
            "were encrypted with. Set STORE_KEY to that key — during a rotation, the new key first and the old "
            "one after it, comma-separated. Nothing in the store was changed. (Only if the key is lost: move the "
            "file aside and start again; everyone then logs in again.)"
        )

    def _rekeyed(self) -> StoreKeyMismatch:
        log.error(
            "this process's STORE_KEY no longer decrypts the store %s: another process re-encrypted it with a "
            "newer key. Restart this process with the current STORE_KEY.",
            self.path,
        )
        return StoreKeyMismatch(
            "This app process cannot read saved Nexudus logins: the store was re-encrypted with a newer key "
            "(STORE_KEY) than the one this process has. Nothing was changed. An administrator must restart it "
            "with the current STORE_KEY."
        )

    # ------------------------------------------------------------------------------ credentials

    def save_credentials(self, team_id: str, user_id: str, creds: Credentials, now: datetime) -> None:
        """Store a login; only the email is in clear (for ``whoami``), the secrets are in the Fernet token.

        A token login keeps its access and refresh tokens and their expiry, never a password.
        """
        secret = json.dumps(_credential_record(creds)).encode("utf-8")
        value = {
            "email": creds.email,
            "token": self._cipher.encrypt(secret).decode("ascii"),
            "saved_at": now.isoformat(),
        }
        with self._write("credentials") as d:
            self._put(d, "credentials", _cred_key(team_id, user_id), value)

    def load_credentials(self, team_id: str, user_id: str) -> Credentials | None:
        """The user's login, or None if absent or unreadable (tampered).

        Raises ``StoreKeyMismatch`` when this process's key no longer reads the store (another process
        rotated it to a newer key): a login that exists must not look absent.
        """
        value = self._get("credentials", _cred_key(team_id, user_id))
        if value is None:
            return None
        try:
            token = value["token"]
            plain = json.loads(self._cipher.decrypt(token.encode("ascii")))
            return _credentials_from(plain)
        except (InvalidToken, KeyError, TypeError, ValueError, AttributeError, UnicodeError):
            if not self._key_still_matches():
                raise self._rekeyed() from None
            # The reason alone: the token, the key and the plaintext are all secrets.
            log.warning(
                "stored credentials for team %s user %s cannot be decrypted (wrong STORE_KEY or "
                "tampered data); treating them as absent",
                team_id,
                user_id,
            )
            return None

    def delete_credentials(self, team_id: str, user_id: str) -> bool:
        """Forget a login; True if there was one."""
        with self._write("credentials") as d:
            return self._delete(d, "credentials", _cred_key(team_id, user_id))

    def whoami(self, team_id: str, user_id: str) -> str | None:
        """The email of the saved login, without decrypting anything."""
        value = self._get("credentials", _cred_key(team_id, user_id))
        if not isinstance(value, dict) or not isinstance(value.get("email"), str):
            return None
        return str(value["email"])

    def has_credentials(self, team_id: str, user_id: str) -> bool:
        """Whether a login is saved (it may still fail to decrypt; ``load_credentials`` tells)."""
        return self._get("credentials", _cred_key(team_id, user_id)) is not None

    # ---------------------------------------------------------------------------- subscriptions

    def add_subscription(self, sub: Subscription) -> Subscription:
        """Save a new subscription (replacing one with the same id)."""
        with self._write("subscriptions") as d:
            self._put(d, "subscriptions", sub.id, sub.model_dump(mode="json"))
        return sub

    def subscribe_once(self, sub: Subscription) -> tuple[Subscription, bool]:
        """Save ``sub`` unless its channel already has a subscription with the same filter.

        Returns (the subscription in force, whether it is the new one). The look-up and the insert run
        in one ``BEGIN IMMEDIATE`` transaction, so two identical subscribes at the same moment (threads
        of one process, or two processes sharing the file) make one subscription, never two.
        """
        with self._write("subscriptions") as d:
            for (raw,) in self._sql(d, 'SELECT value FROM "subscriptions" ORDER BY rowid'):
                existing = Subscription.model_validate(json.loads(raw))
                if existing.same_filter(sub):
                    return existing, False
            self._put(d, "subscriptions", sub.id, sub.model_dump(mode="json"))
        return sub, True

    def subscriptions(self, team_id: str | None = None) -> list[Subscription]:
        """All subscriptions, or only one team's: a team never sees another's."""
        subs = [Subscription.model_validate(v) for v in self._all("subscriptions")]
        if team_id is not None:
            subs = [s for s in subs if s.team_id == team_id]
        return subs

    def channel_subscriptions(self, team_id: str, channel_id: str) -> list[Subscription]:
        """The team's subscriptions posting to one channel."""
        return [s for s in self.subscriptions(team_id) if s.channel_id == channel_id]

    def subscriptions_by_user(self, team_id: str, user_id: str) -> list[Subscription]:
        """The team's subscriptions that scan with this user's credentials."""
        return [s for s in self.subscriptions(team_id) if s.created_by == user_id]

    def get_subscription(self, sub_id: str) -> Subscription | None:
        """One subscription by id (callers acting for a user must check its ``team_id``)."""
        value = self._get("subscriptions", sub_id)
        return None if value is None else Subscription.model_validate(value)

    def update_subscription(self, sub: Subscription) -> bool:
        """Overwrite an existing subscription; False (and nothing written) if it was removed.

        The alert worker updates subscriptions while users may remove them; writing only when the
        row still exists means a removed subscription is never brought back.
        """
        with self._write("subscriptions") as d:
            rows = self._sql(
                d,
                'UPDATE "subscriptions" SET value = ? WHERE key = ? RETURNING key',
                (json.dumps(sub.model_dump(mode="json")), sub.id),
            )
            return bool(rows)

    def remove_subscription(self, team_id: str, sub_id: str) -> bool:
        """Remove a team's subscription with its alerts and digests, in one transaction.

        Another team's id is treated as unknown (False), so ids cannot be probed across teams.
        """
        with self._write("subscriptions") as d:
            rows = self._sql(d, 'SELECT value FROM "subscriptions" WHERE key = ?', (sub_id,))
            if not rows or json.loads(rows[0][0]).get("team_id") != team_id:
                return False
            self._sql(d, 'DELETE FROM "subscriptions" WHERE key = ?', (sub_id,))
            low, high = _prefix_bounds(sub_id)
            for table in ("alerts", "digests"):
                self._sql(d, f'DELETE FROM "{table}" WHERE key >= ? AND key < ?', (low, high))
            return True

    # ------------------------------------------------------------------------------ alert state

    def get_alert(self, sub_id: str, chatroom_id: int) -> AlertRecord | None:
        value = self._get("alerts", _alert_key(sub_id, chatroom_id))
        return None if value is None else AlertRecord.model_validate(value)

    def put_alert(self, rec: AlertRecord) -> None:
        """Record (or replace) what was alerted for one chatroom."""
        with self._write("alerts") as d:
            self._put(d, "alerts", _alert_key(rec.subscription_id, rec.chatroom_id), rec.model_dump(mode="json"))

    def put_alerts(self, recs: list[AlertRecord]) -> None:
        """Record many alerts in one transaction: a digest's rows land together, or not at all."""
        if not recs:
            return
        with self._write("alerts") as d:
            for rec in recs:
                self._put(d, "alerts", _alert_key(rec.subscription_id, rec.chatroom_id), rec.model_dump(mode="json"))

    def alerts_for(self, sub_id: str) -> list[AlertRecord]:
        """A subscription's alert records, by a key-range scan rather than a full table scan."""
        return [AlertRecord.model_validate(v) for _, v in self._range("alerts", sub_id)]

    def delete_alert(self, sub_id: str, chatroom_id: int) -> bool:
        """Forget one chatroom's alert (e.g. the member was answered); True if there was one."""
        with self._write("alerts") as d:
            return self._delete(d, "alerts", _alert_key(sub_id, chatroom_id))

    def snooze(self, sub_id: str, chatroom_id: int, until: datetime) -> AlertRecord | None:
        """Silence one chatroom's alert until ``until``; None if there is no such alert.

        Read and write happen in one transaction, so a concurrent ``put_alert`` from the worker is
        either fully before (and kept, snoozed) or fully after.
        """
        key = _alert_key(sub_id, chatroom_id)
        with self._write("alerts") as d:
            rows = self._sql(d, 'SELECT value FROM "alerts" WHERE key = ?', (key,))
            if not rows:
                return None
            rec = AlertRecord.model_validate(json.loads(rows[0][0])).model_copy(update={"snoozed_until": until})
            self._put(d, "alerts", key, rec.model_dump(mode="json"))
            return rec

    def put_digest(self, digest: Digest) -> None:
        """Record (or replace) a posted digest message."""
        with self._write("digests") as d:
            key = _digest_key(digest.subscription_id, digest.message_ts)
            self._put(d, "digests", key, digest.model_dump(mode="json"))

    def begin_digest(self, digest: Digest, recs: list[AlertRecord]) -> None:
        """Record a digest about to be posted (its ts pending) and its rows pointing at it, in one transaction.

        A worker killed after the post but before ``stamp_digest`` leaves this intent behind, so the next
        cycle can find the posted message and stamp it (or, if it was never posted, drop the intent).
        """
        if not digest.pending:
            raise ValueError("begin_digest takes a digest whose message_ts is pending")
        with self._write("digests") as d:
            self._put(
                d, "digests", _digest_key(digest.subscription_id, digest.message_ts), digest.model_dump(mode="json")
            )
            for rec in recs:
                self._put(d, "alerts", _alert_key(rec.subscription_id, rec.chatroom_id), rec.model_dump(mode="json"))

    def stamp_digest(self, sub_id: str, pending_ts: str, message_ts: str) -> Digest | None:
        """Give a pending digest and its rows Slack's ts, in one transaction; None if there was no such intent."""
        with self._write("digests") as d:
            rows = self._sql(d, 'SELECT value FROM "digests" WHERE key = ?', (_digest_key(sub_id, pending_ts),))
            if not rows:
                return None
            pending = Digest.model_validate(json.loads(rows[0][0]))
            digest = pending.model_copy(update={"message_ts": message_ts})
            self._delete(d, "digests", _digest_key(sub_id, pending_ts))
            self._put(d, "digests", _digest_key(sub_id, message_ts), digest.model_dump(mode="json"))
            self._restamp(d, pending, message_ts)
            return digest

    def drop_digest(self, sub_id: str, pending_ts: str) -> int:
        """Forget a digest that never reached Slack and its rows, so the next cycle posts them; rows dropped."""
        with self._write("digests") as d:
            rows = self._sql(d, 'SELECT value FROM "digests" WHERE key = ?', (_digest_key(sub_id, pending_ts),))
            if not rows:
                return 0
            self._delete(d, "digests", _digest_key(sub_id, pending_ts))
            return self._restamp(d, Digest.model_validate(json.loads(rows[0][0])), None)

    def _restamp(self, d: Any, digest: Digest, new_ts: str | None) -> int:
        """Point a digest's rows from its ts to ``new_ts`` (None: delete them); rows touched.

        Only rows still pointing at this digest change: one alerted again since keeps its newer digest.
        One statement over the subscription's key range (SQLite's JSON functions), however many rows.
        """
        low, high = _prefix_bounds(digest.subscription_id)
        where = "key >= ? AND key < ? AND json_extract(value, '$.message_ts') = ?"
        args: tuple[str, ...]
        if new_ts is None:
            sql, args = f'DELETE FROM "alerts" WHERE {where} RETURNING key', (low, high, digest.message_ts)
        else:
            sql = f"UPDATE \"alerts\" SET value = json_set(value, '$.message_ts', ?) WHERE {where} RETURNING key"
            args = (new_ts, low, high, digest.message_ts)
        return len(self._sql(d, sql, args))

    def mark_digest(self, sub_id: str, message_ts: str, resolved: dict[int, str] | None = None) -> Digest | None:
        """Record rows resolved from a posted digest and flag it for a redraw, in one transaction.

        ``resolved`` maps chatroom ids to the Slack user who resolved them ("" for Nexudus itself, which
        never replaces a name already there). None if there is no such posted digest.
        """
        key = _digest_key(sub_id, message_ts)
        with self._write("digests") as d:
            rows = self._sql(d, 'SELECT value FROM "digests" WHERE key = ?', (key,))
            if not rows:
                return None
            digest = Digest.model_validate(json.loads(rows[0][0]))
            if digest.pending:
                return None
            for chatroom_id, by in (resolved or {}).items():
                if by or chatroom_id not in digest.resolved_ids:
                    digest.resolved_ids[chatroom_id] = by
            digest = digest.model_copy(update={"redraw": secrets.token_hex(6)})
            self._put(d, "digests", key, digest.model_dump(mode="json"))
            return digest

    def digest_redrawn(self, digest: Digest) -> bool:
        """Clear the redraw flag of ``digest`` unless it was flagged again since it was read."""
        key = _digest_key(digest.subscription_id, digest.message_ts)
        with self._write("digests") as d:
            rows = self._sql(d, 'SELECT value FROM "digests" WHERE key = ?', (key,))
            value = json.loads(rows[0][0]) if rows else None
            if not isinstance(value, dict) or value.get("redraw") != digest.redraw or digest.redraw is None:
                return False
            self._put(d, "digests", key, {**value, "redraw": None})
            return True

    def digests_to_redraw(self, sub_id: str) -> list[Digest]:
        """A subscription's digests flagged for a redraw (one range read, filtered by SQLite)."""
        low, high = _prefix_bounds(sub_id)
        with self._lock:
            rows = self._sql(
                self._table("digests"),
                "SELECT value FROM \"digests\" WHERE key >= ? AND key < ? AND json_extract(value, '$.redraw') "
                "IS NOT NULL ORDER BY key",
                (low, high),
            )
        return [Digest.model_validate(json.loads(value)) for (value,) in rows]

    def get_digest(self, sub_id: str, message_ts: str) -> Digest | None:
        value = self._get("digests", _digest_key(sub_id, message_ts))
        return None if value is None else Digest.model_validate(value)

    def pending_digests(self, sub_id: str) -> list[Digest]:
        """A subscription's digests recorded but not stamped: a key-range read, however many digests it has."""
        low = _digest_key(sub_id, PENDING_PREFIX)
        high = low[:-1] + chr(ord(low[-1]) + 1)  # just past every key starting with `low`
        with self._lock:
            rows = self._sql(
                self._table("digests"),
                'SELECT value FROM "digests" WHERE key >= ? AND key < ? ORDER BY key',
                (low, high),
            )
        return [Digest.model_validate(json.loads(value)) for (value,) in rows]

    def digests_for(self, sub_id: str) -> list[Digest]:
        """A subscription's digests, oldest first."""
        digests = [Digest.model_validate(v) for _, v in self._range("digests", sub_id)]
        return sorted(digests, key=lambda dg: dg.posted_at)
