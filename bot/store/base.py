"""The store's storage interface (`Tables`) and the one `Store` every backend shares.

The store keeps small tables of JSON records, each keyed by a text key: ``credentials``
(``team:user``), ``subscriptions`` (id), ``alerts`` (``subscription:chatroom``), ``digests``
(``subscription:message_ts``) and ``meta``, and the append-only ``audit`` (``team:time:random``, see
`bot.store.audit`) and ``alert_history``. A backend only stores and finds those records, inside
transactions (`Tables`, `Tx`); everything else lives here, above the storage, so the embedded SQLite file
(`bot.store.sqlite`) and PostgreSQL (`bot.store.postgres`) behave the same:

* Fernet / MultiFernet encryption of logins (only the email is in clear, for ``whoami``), the *key check*
  (a known text encrypted with the key, in ``meta``) that refuses a wrong ``STORE_KEY`` at start, and key
  rotation (`Store.rotate_keys`, also done at start when ``STORE_KEY`` is a key list);
* every read-modify-write runs inside one write transaction in which the rows read are locked against
  other processes (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT … FOR UPDATE``), and a decision over a
  whole table (``subscribe_once``) first serialises that table's writers (`Tx.serialize`).

*The alert history* (``alert_history``): every write of alert records (`Store._record`) compares each record
with the one it replaces and appends what changed — alerted (once its digest is posted), escalated (or
un-escalated when the post was refused), snoozed, resolved, and unwatched when a subscription is removed —
in the same transaction, so the history and the alert state never disagree. Entries are keyed
``team:time:…``: a team's window is one key-range read (`Store.history`), and each append removes that team's
entries older than the retention (``HISTORY_RETENTION_DAYS``) with one key-range delete. `bot/stats.py`
turns entries into figures.

To add an operation (escalations, quiet hours, …): write it here in terms of `Tx`; both backends get it.
A new kind of record is one more name in `TABLES` (and, on PostgreSQL, one Alembic revision).

Passwords only ever exist inside a Fernet token; nothing here logs or reprs a password or a token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from cryptography.fernet import InvalidToken, MultiFernet

from bot.database import PoolBudget
from bot.nexudus.credentials import Credentials
from bot.store.audit import AuditChannel, AuditEntry, audit_channel_key, time_key
from bot.store.errors import StoreKeyMismatch
from bot.store.inflight import MAX_ATTEMPTS, SEALED_FIELDS, InFlight
from bot.store.keys import Cipher
from bot.store.models import (
    PENDING_PREFIX,
    WORKER_FIELDS,
    AlertRecord,
    Digest,
    HistoryEvent,
    HistoryKind,
    Scope,
    Subscription,
)

log = logging.getLogger(__name__)

TABLES = (
    "credentials",
    "subscriptions",
    "alerts",
    "digests",
    "meta",
    "audit",
    "alert_history",
    "inflight",
    "processes",
)
"""Every table of the store; each holds JSON records under a text key. ``audit`` (changes made through the
app) and ``alert_history`` (each wait: stale, alerted, escalated, visited) are append-only; ``inflight``
(acknowledged writes whose outcome has not reached their user) and ``processes`` (each process's heartbeat)
are what a surviving process recovers a dead one's work from (`bot.store.inflight`)."""

HISTORY_RETENTION = timedelta(days=400)
"""How long the alert history is kept by default (``HISTORY_RETENTION_DAYS``): a year of stats and some."""
KEY_CHECK = "key_check"
ALERT_CYCLE = "alert_cycle"
"""The last alert-cycle slot a worker claimed (see `Store.alert_cycle`)."""
AUDIT_PRUNED = "audit_pruned"
"""When the audit trail's retention last ran (see `Store.claim_audit_pruning`)."""
AUDIT_CHUNK = 200
"""Audit entries read at a time, newest first (`Store.audit_entries`)."""
_KEY_CHECK_TEXT = b"chatrooms-bot store key check v1"
_ENCRYPTED_FIELDS = ("token",)
"""The fields of a credentials record that hold Fernet tokens (re-encrypted when keys rotate)."""


# ------------------------------------------------------------------------------- the storage interface


NEWER: Literal["newer"] = "newer"
"""What reading an in-flight entry gives when it decrypts but this version cannot understand it (a newer version
wrote it, during a rolling deploy): left to that version, never deleted."""


class Tx(Protocol):
    """One transaction on the tables. In a write transaction, rows read are locked until it commits."""

    def get(self, table: str, key: str) -> Any | None:
        """The record under ``key``, or None."""

    def put(self, table: str, key: str, value: Any) -> None:
        """Insert or replace the record under ``key``."""

    def update(self, table: str, key: str, value: Any) -> bool:
        """Replace the record under ``key`` only if there is one; whether there was."""

    def delete(self, table: str, key: str) -> bool:
        """Remove the record under ``key``; whether there was one."""

    def range(
        self, table: str, low: str, high: str, *, limit: int | None = None, descending: bool = False
    ) -> list[tuple[str, Any]]:
        """Records whose key is in ``[low, high)`` (byte order), by key (``descending``: last key first), at
        most ``limit`` of them: a bounded read from either end of a range, using the key index."""

    def delete_range(self, table: str, low: str, high: str) -> int:
        """Remove the records whose key is in ``[low, high)``; how many."""

    def scan(self, table: str) -> list[tuple[str, Any]]:
        """Every record of the table, oldest first."""

    def serialize(self, table: str) -> None:
        """Make other processes' writers that also call this wait until this transaction ends."""

    def now(self) -> datetime | None:
        """The database's clock when several hosts share it (PostgreSQL's ``clock_timestamp()``), so that times
        written by one host and compared by another never depend on their clocks agreeing; None when the
        caller's clock is the one (the embedded file, on one host)."""


class Tables(Protocol):
    """A storage backend: the tables of `TABLES`, read and written in transactions."""

    where: str
    """Where the data is, for messages (a file path, or a database URL without its password)."""

    lost_key_hint: str
    """What to do if the key is lost, for the key-mismatch message."""

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction (writes from other processes may land between two reads)."""

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction, committed durably when the block ends, rolled back if it raises."""

    def close(self) -> None:
        """Release the connections; later calls raise RuntimeError."""

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """Try, without waiting, to hold the lock ``name`` among every process sharing the data; whether this
        process holds it. Released when the block ends, and by the system if the process dies holding it."""


# ------------------------------------------------------------------------------------------ keys


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """Key range ``[prefix:, prefix;)`` — every composite key starting with ``prefix:``.

    ``;`` is the character after ``:``, so a primary-key range scan finds exactly one subscription's
    rows without reading the whole table (and ``ab`` never matches ``abc:...``).
    """
    return f"{prefix}:", f"{prefix};"


def _cred_key(team_id: str, user_id: str) -> str:
    return f"{team_id}:{user_id}"


def _alert_key(sub_id: str, chatroom_id: int) -> str:
    return f"{sub_id}:{int(chatroom_id)}"


def _digest_key(sub_id: str, message_ts: str) -> str:
    return f"{sub_id}:{message_ts}"


def _history_key(event: HistoryEvent) -> str:
    """``team:time:chatroom:subscription:kind``: one team's history is one key range, in time order, so a
    window (`Store.history`) and the retention (`Store._append_history`) are key-range operations."""
    return f"{event.team_id}:{time_key(event.at)}:{event.chatroom_id:012d}:{event.subscription_id}:{event.kind}"


def _alerted(rec: AlertRecord) -> bool:
    """Shown in a posted digest (not a pending intent, not a snooze from the Home tab before any alert)."""
    return bool(rec.message_ts) and not rec.message_ts.startswith(PENDING_PREFIX)


def _changes(old: AlertRecord | None, new: AlertRecord, at: datetime | None) -> list[tuple[HistoryKind, datetime]]:
    """What writing ``new`` over ``old`` (one room of one subscription) adds to the history, and when."""
    found: list[tuple[HistoryKind, datetime]] = []
    same_wait = old is not None and old.last_agent_visit == new.last_agent_visit
    if _alerted(new) and not (old is not None and same_wait and _alerted(old) and old.alerted_at == new.alerted_at):
        found.append(("alerted", new.alerted_at))
    if new.escalated_at is not None and (old is None or old.escalated_at is None or not same_wait):
        found.append(("escalated", new.escalated_at))
    if old is not None and same_wait and old.escalated_at is not None and new.escalated_at is None:
        found.append(("unescalated", old.escalated_at))  # its post was refused: it did not happen
    if new.snoozed_until is not None and (old is None or old.snoozed_until != new.snoozed_until):
        found.append(("snoozed", at or new.alerted_at))
    if new.resolved_at is not None and (old is None or old.resolved_at is None or not same_wait):
        found.append(("resolved", new.resolved_at))
    return found


def _history_events(
    sub: Subscription | None, old: AlertRecord | None, new: AlertRecord, at: datetime | None
) -> list[HistoryEvent]:
    """The history entries for one alert write; none when its subscription is gone (removed meanwhile)."""
    changes = _changes(old, new, at)
    if not changes or sub is None:
        return []
    since = new.waiting_since or new.last_agent_visit
    stale_at = since + timedelta(minutes=sub.threshold_minutes) if since is not None else None
    if stale_at is not None and stale_at < sub.created_at:
        stale_at = sub.created_at  # stale before the alerts were set up: the desk's time starts with them
    # A room of another business than the alerts now follow (`alerts change … business:`) that the scan stopped
    # finding may have left the business rather than been visited: no longer watched, not a visit.
    elsewhere = new.business_id is not None and sub.business_id not in (None, new.business_id)
    return [
        HistoryEvent(
            kind="unwatched" if kind == "resolved" and elsewhere and new.resolved_by is None else kind,
            at=when,
            team_id=sub.team_id,
            subscription_id=new.subscription_id,
            channel_id=new.channel_id,
            chatroom_id=new.chatroom_id,
            business_id=new.business_id if new.business_id is not None else sub.business_id,
            last_agent_visit=new.last_agent_visit,
            waiting_since=since,
            stale_at=stale_at,
            by=new.resolved_by if kind == "resolved" else None,
            until=new.snoozed_until if kind == "snoozed" else None,
        )
        for kind, when in changes
    ]


def _tokens(value: Any) -> list[str]:
    """The Fernet tokens in one credentials record."""
    if not isinstance(value, dict):
        return []
    return [value[field] for field in _ENCRYPTED_FIELDS if isinstance(value.get(field), str)]


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


CLAIM_PAGE = 200
"""Entries in flight read at a time while looking for a dead process's (`Store.claim_orphans`)."""
_LAST_KEY = "\U0010ffff"


def _alive(owner: object, beats: dict[str, Any], cutoff: datetime) -> bool:
    """Whether ``owner``'s heartbeat is newer than ``cutoff``."""
    beat = beats.get(owner) if isinstance(owner, str) else None
    at = beat.get("beat") if isinstance(beat, dict) else None
    return isinstance(at, str) and datetime.fromisoformat(at) > cutoff


def _orphan_keys(tx: Tx, beats: dict[str, Any], cutoff: datetime, limit: int) -> list[str]:
    """The keys of at most ``limit`` entries whose owner is dead, oldest first, paging through the whole table
    (`CLAIM_PAGE` at a time: bounded, each page starts past the last one's key)."""
    keys: list[str] = []
    low = ""
    while len(keys) < limit:
        page = tx.range("inflight", low, _LAST_KEY, limit=CLAIM_PAGE)
        keys += [key for key, row in page if isinstance(row, dict) and not _alive(row.get("owner"), beats, cutoff)]
        if len(page) < CLAIM_PAGE:
            break
        low = page[-1][0] + "\x01"  # the smallest key after it (keys hold no NUL, which PostgreSQL refuses)
    return keys[:limit]


def open_tables(where: Path | str | Tables, pool: PoolBudget | None = None) -> Tables:
    """The backend for ``where``: a database URL (``postgresql+psycopg://…``, its connections within `pool`), or
    the path of the SQLite file."""
    if isinstance(where, str) and "://" in where:
        from bot.store.postgres import PostgresTables

        return PostgresTables(where, pool)
    if isinstance(where, (str, Path)):
        from bot.store.sqlite import SqliteTables

        return SqliteTables(Path(where))
    return where


# ------------------------------------------------------------------------------------------ store


class Store:
    """The persistent store, on any backend. Thread-safe; safe for several processes sharing the data.

    ``Store(path, cipher)`` opens the embedded SQLite file; ``Store(database_url, cipher)`` PostgreSQL (its
    schema must be current: ``python -m bot migrate``; its connections stay within `pool`). Opening checks the key
    (`StoreKeyMismatch`) and, with a key list, re-encrypts every login under the first key.
    """

    def __init__(
        self,
        where: Path | str | Tables,
        cipher: Cipher,
        *,
        history_retention: timedelta = HISTORY_RETENTION,
        pool: PoolBudget | None = None,
    ) -> None:
        self.history_retention = history_retention
        self._tables = open_tables(where, pool)
        self.path: Path | None = getattr(self._tables, "path", None)
        self._cipher = cipher
        try:
            self._check_key()
        except BaseException:
            self.close()
            raise

    @property
    def tables(self) -> Tables:
        """The storage backend (for tools such as the bench; the app only uses the methods below)."""
        return self._tables

    def __repr__(self) -> str:
        return f"Store({self._tables.where!r})"

    __str__ = __repr__

    # -- lifecycle

    def close(self) -> None:
        """Release the backend (idempotent; every write was committed already)."""
        self._tables.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self) -> AbstractContextManager[Tx]:
        return self._tables.read()

    def _write(self) -> AbstractContextManager[Tx]:
        return self._tables.write()

    def _get(self, table: str, key: str) -> Any | None:
        with self._read() as tx:
            return tx.get(table, key)

    def _range(self, table: str, prefix: str) -> list[tuple[str, Any]]:
        with self._read() as tx:
            return tx.range(table, *_prefix_bounds(prefix))

    # --------------------------------------------------------------------------------- the key

    def _check_key(self) -> None:
        """Refuse a STORE_KEY that is not the one the data was written with; rotate to the first key.

        One write transaction with the ``meta`` writers serialised, so processes starting together agree:
        the first writes the check, the others read it.
        """
        with self._write() as tx:
            tx.serialize("meta")
            check = tx.get("meta", KEY_CHECK)
            credentials = tx.scan("credentials")
            if isinstance(check, dict) and isinstance(check.get("token"), str):
                if not self._decrypts(check["token"]):
                    raise self._mismatch()
            else:
                # A store from before key checks: the key is right if any saved login decrypts (or there is none).
                tokens = [token for _, value in credentials for token in _tokens(value)]
                if tokens and not any(self._decrypts(token) for token in tokens):
                    raise self._mismatch()
            if check is None or isinstance(self._cipher, MultiFernet):
                tx.put("meta", KEY_CHECK, {"token": self._cipher.encrypt(_KEY_CHECK_TEXT).decode("ascii")})
            if isinstance(self._cipher, MultiFernet):
                self._rotate(tx, credentials, self._cipher)
                self._rotate_inflight(tx, self._cipher)

    def rotate_keys(self) -> int:
        """Re-encrypt every saved login (and the key check) under the first key of STORE_KEY; how many tokens.

        What ``python -m bot rotate-keys`` runs. Once it has, the old keys can be dropped from STORE_KEY.
        """
        cipher = self._cipher if isinstance(self._cipher, MultiFernet) else MultiFernet([self._cipher])
        with self._write() as tx:
            tx.serialize("meta")
            tx.put("meta", KEY_CHECK, {"token": self._cipher.encrypt(_KEY_CHECK_TEXT).decode("ascii")})
            self._rotate_inflight(tx, cipher)
            return self._rotate(tx, tx.scan("credentials"), cipher)

    @staticmethod
    def _rotate_inflight(tx: Tx, cipher: MultiFernet) -> None:
        """Re-encrypt the in-flight entries under the first key (they live seconds, but hold response URLs)."""
        for key, value in tx.scan("inflight"):
            if isinstance(value, dict) and isinstance(value.get("sealed"), str):
                with contextlib.suppress(InvalidToken, ValueError, TypeError, UnicodeError):
                    value["sealed"] = cipher.rotate(value["sealed"].encode("ascii")).decode("ascii")
                    tx.put("inflight", key, value)

    @staticmethod
    def _rotate(tx: Tx, credentials: list[tuple[str, Any]], cipher: MultiFernet) -> int:
        """Re-encrypt every credential token under the cipher's first key (inside the caller's transaction)."""
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
            tx.put("credentials", key, value)
        if rotated:
            log.info("re-encrypted %s saved login(s) with the first key of STORE_KEY", rotated)
        return rotated

    def _decrypts(self, token: str) -> bool:
        try:
            self._cipher.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError, TypeError, UnicodeError):
            return False
        return True

    def _key_still_matches(self) -> bool:
        check = self._get("meta", KEY_CHECK)
        return isinstance(check, dict) and isinstance(check.get("token"), str) and self._decrypts(check["token"])

    def _mismatch(self) -> StoreKeyMismatch:
        return StoreKeyMismatch(
            f"STORE_KEY does not decrypt the store {self._tables.where}: it is not the key (or key list) the saved "
            "logins were encrypted with. Set STORE_KEY to that key — during a rotation, the new key first and the "
            f"old one after it, comma-separated. Nothing in the store was changed. ({self._tables.lost_key_hint})"
        )

    def _rekeyed(self) -> StoreKeyMismatch:
        log.error(
            "this process's STORE_KEY no longer decrypts the store %s: another process re-encrypted it with a "
            "newer key. Restart this process with the current STORE_KEY.",
            self._tables.where,
        )
        return StoreKeyMismatch(
            "This app process cannot read saved Nexudus logins: the store was re-encrypted with a newer key "
            "(STORE_KEY) than the one this process has. Nothing was changed. An administrator must restart it "
            "with the current STORE_KEY."
        )

    # ------------------------------------------------------------------------- alert worker cycles

    @contextlib.contextmanager
    def alert_cycle(self, slot: int | None) -> Iterator[bool]:
        """Whether this process runs the alert cycle of ``slot`` (a number per interval: ``now // interval``;
        None: whenever no other cycle is running).

        Several alert workers may run (on one machine with the SQLite file, anywhere with PostgreSQL). Each
        slot's cycle is run by exactly one: the one that holds the cycle lock (so two cycles never overlap)
        and is first to claim the slot in ``meta`` (so a cycle is not run twice). A worker killed mid-cycle
        loses the lock with its process; the next slot is claimed by another, whose cycle finishes what was
        interrupted (digest intents: no repeat, no loss).
        """
        with self._tables.exclusive("alert-cycle") as held:
            yield held and (slot is None or self._claim_slot(slot))

    def _claim_slot(self, slot: int) -> bool:
        with self._write() as tx:
            tx.serialize("meta")
            done = tx.get("meta", ALERT_CYCLE)
            if isinstance(done, dict) and isinstance(done.get("slot"), int) and done["slot"] >= slot:
                return False
            tx.put("meta", ALERT_CYCLE, {"slot": slot})
            return True

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
        with self._write() as tx:
            tx.put("credentials", _cred_key(team_id, user_id), value)

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
        with self._write() as tx:
            return tx.delete("credentials", _cred_key(team_id, user_id))

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
        with self._write() as tx:
            tx.put("subscriptions", sub.id, sub.model_dump(mode="json"))
        return sub

    def subscribe_once(self, sub: Subscription) -> tuple[Subscription, bool]:
        """Save ``sub`` unless its channel already has a subscription with the same filter.

        Returns (the subscription in force, whether it is the new one). The look-up and the insert run in
        one write transaction with the subscription writers serialised, so two identical subscribes at the
        same moment (threads of one process, or two processes) make one subscription, never two.
        """
        with self._write() as tx:
            tx.serialize("subscriptions")
            for _, value in tx.scan("subscriptions"):
                existing = Subscription.model_validate(value)
                if existing.same_filter(sub):
                    return existing, False
            tx.put("subscriptions", sub.id, sub.model_dump(mode="json"))
        return sub, True

    def subscriptions(self, team_id: str | None = None) -> list[Subscription]:
        """All subscriptions, or only one team's: a team never sees another's."""
        with self._read() as tx:
            subs = [Subscription.model_validate(value) for _, value in tx.scan("subscriptions")]
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
        """Record the alert worker's bookkeeping of ``sub`` (`WORKER_FIELDS`: paused, errors, quiet hours,
        summary day) on the stored row; False (and nothing written) if it was removed.

        The worker holds a subscription read at the start of a cycle while users may remove it or change
        its options: writing only its own fields onto the row as it is now, and only when the row still
        exists, means a removed subscription is never brought back and a change is never undone.
        """
        with self._write() as tx:
            value = tx.get("subscriptions", sub.id)
            if not isinstance(value, dict):
                return False
            current = Subscription.model_validate(value)
            kept = current.model_copy(update={name: getattr(sub, name) for name in WORKER_FIELDS})
            return tx.update("subscriptions", sub.id, kept.model_dump(mode="json"))

    def change_subscription(
        self, team_id: str, sub_id: str, change: Callable[[Subscription, list[Subscription]], Subscription]
    ) -> tuple[Subscription, Subscription] | None:
        """Change a team's subscription in place: (before, after), or None if the team has no such one.

        ``change(current, the channel's other subscriptions)`` returns the subscription as it should be (or
        raises, and nothing is written). It runs inside one write transaction with the subscription writers
        serialised, so its checks see what is written: two changes at once never undo each other, and no
        two subscriptions of a channel ever end up with the same filter. The subscription keeps its alert
        records; when its threshold or business changes, its digests keep the ones they were posted under.
        """
        with self._write() as tx:
            tx.serialize("subscriptions")
            value = tx.get("subscriptions", sub_id)
            if not isinstance(value, dict) or value.get("team_id") != team_id:
                return None
            before = Subscription.model_validate(value)
            siblings = [
                other
                for _, v in tx.scan("subscriptions")
                if (other := Subscription.model_validate(v)).id != before.id
                and (other.team_id, other.channel_id) == (before.team_id, before.channel_id)
            ]
            after = change(before, siblings).model_copy(update={"id": before.id, "team_id": before.team_id})
            if after == before:
                return before, after
            tx.put("subscriptions", sub_id, after.model_dump(mode="json"))
            posted_under = Scope(threshold_minutes=before.threshold_minutes, business_id=before.business_id)
            if Scope(threshold_minutes=after.threshold_minutes, business_id=after.business_id) != posted_under:
                for key, raw in tx.range("digests", *_prefix_bounds(sub_id)):
                    digest = Digest.model_validate(raw)
                    if digest.scope is None:
                        tx.put(
                            "digests", key, digest.model_copy(update={"scope": posted_under}).model_dump(mode="json")
                        )
            return before, after

    def remove_subscription(self, team_id: str, sub_id: str, *, now: datetime | None = None) -> bool:
        """Remove a team's subscription with its alerts and digests, in one transaction.

        Another team's id is treated as unknown (False), so ids cannot be probed across teams. With ``now``, the
        history records that the rooms it had alerted and still saw waiting are no longer watched by it.
        """
        with self._write() as tx:
            value = tx.get("subscriptions", sub_id)
            if not isinstance(value, dict) or value.get("team_id") != team_id:
                return False
            if now is not None:
                waiting = [
                    AlertRecord.model_validate(rec)
                    for _, rec in tx.range("alerts", *_prefix_bounds(sub_id))
                    if isinstance(rec, dict) and rec.get("resolved_at") is None
                ]
                self._append_history(
                    tx,
                    [
                        # the wait as an alert names it, told as no longer watched by this subscription
                        event.model_copy(update={"kind": "unwatched", "at": now})
                        for rec in waiting
                        if _alerted(rec)
                        for event in _history_events(Subscription.model_validate(value), None, rec, None)[:1]
                    ],
                )
            tx.delete("subscriptions", sub_id)
            for table in ("alerts", "digests"):
                tx.delete_range(table, *_prefix_bounds(sub_id))
            return True

    # ------------------------------------------------------------------------------ alert state

    def get_alert(self, sub_id: str, chatroom_id: int) -> AlertRecord | None:
        value = self._get("alerts", _alert_key(sub_id, chatroom_id))
        return None if value is None else AlertRecord.model_validate(value)

    def put_alert(self, rec: AlertRecord) -> None:
        """Record (or replace) what was alerted for one chatroom."""
        self.put_alerts([rec])

    def put_alerts(self, recs: list[AlertRecord]) -> None:
        """Record many alerts in one transaction: a digest's rows land together, or not at all."""
        if not recs:
            return
        with self._write() as tx:
            self._record(tx, recs)

    def alerts_for(self, sub_id: str) -> list[AlertRecord]:
        """A subscription's alert records, by a key-range scan rather than a full table scan."""
        return [AlertRecord.model_validate(v) for _, v in self._range("alerts", sub_id)]

    def delete_alert(self, sub_id: str, chatroom_id: int) -> bool:
        """Forget one chatroom's alert (e.g. the member was answered); True if there was one."""
        with self._write() as tx:
            return tx.delete("alerts", _alert_key(sub_id, chatroom_id))

    def _record(
        self,
        tx: Tx,
        recs: list[AlertRecord],
        *,
        at: datetime | None = None,
        sub: Any = None,
        old: Iterable[AlertRecord] | None = None,
    ) -> None:
        """Write alert records and, in the same transaction, append what their changes add to the history.

        Each record's subscription is read first (``sub`` when the caller already has), then the records it
        replaces (``old`` when the caller already has them): on PostgreSQL every write takes its locks in the
        order subscription → alerts, as `remove_subscription` does, so two writers never wait on each other.
        """
        events: list[HistoryEvent] = []
        for sub_id in dict.fromkeys(rec.subscription_id for rec in recs):
            mine = [rec for rec in recs if rec.subscription_id == sub_id]
            value = sub if sub is not None else tx.get("subscriptions", sub_id)
            watcher = Subscription.model_validate(value) if isinstance(value, dict) else None
            if old is not None:
                before = {rec.chatroom_id: rec for rec in old if rec.subscription_id == sub_id}
            elif len(mine) > 32:  # a digest's rows: one key-range read of the subscription's, not one read each
                wanted = {_alert_key(sub_id, rec.chatroom_id) for rec in mine}
                stored = [
                    AlertRecord.model_validate(raw)
                    for key, raw in tx.range("alerts", *_prefix_bounds(sub_id))
                    if key in wanted
                ]
                before = {rec.chatroom_id: rec for rec in stored}
            else:
                before = {
                    rec.chatroom_id: AlertRecord.model_validate(raw)
                    for rec in mine
                    if (raw := tx.get("alerts", _alert_key(sub_id, rec.chatroom_id))) is not None
                }
            for rec in mine:
                tx.put("alerts", _alert_key(sub_id, rec.chatroom_id), rec.model_dump(mode="json"))
                events += _history_events(watcher, before.get(rec.chatroom_id), rec, at)
        self._append_history(tx, events)

    def _append_history(self, tx: Tx, events: list[HistoryEvent]) -> None:
        """Append history entries; each team's entries older than the retention go in the same transaction (a
        key-range delete below the oldest time kept: an index seek, nothing to scan when nothing expired)."""
        for event in events:
            tx.put("alert_history", _history_key(event), event.model_dump(mode="json"))
        latest: dict[str, datetime] = {}
        for event in events:
            latest[event.team_id] = max(latest.get(event.team_id, event.at), event.at)
        for team_id, when in latest.items():
            tx.delete_range("alert_history", f"{team_id}:", f"{team_id}:{time_key(when - self.history_retention)}")

    def history(self, team_id: str, since: datetime, until: datetime | None = None) -> list[HistoryEvent]:
        """One team's alert history from ``since`` (until ``until``), oldest first: one key-range read."""
        high = f"{team_id}:{time_key(until)}" if until is not None else f"{team_id};"
        with self._read() as tx:
            rows = tx.range("alert_history", f"{team_id}:{time_key(since)}", high)
        return [HistoryEvent.model_validate(value) for _, value in rows]

    def snooze(
        self, sub_id: str, chatroom_id: int, until: datetime, *, now: datetime | None = None
    ) -> AlertRecord | None:
        """Silence one chatroom's alert until ``until``; None if there is no such alert. The history records
        the snooze at ``now`` (None: at its alert's time).

        Read and write happen in one transaction (the row locked), so a concurrent ``put_alert`` from the
        worker is either fully before (and kept, snoozed) or fully after.
        """
        with self._write() as tx:
            sub = tx.get("subscriptions", sub_id)  # first, as everywhere: one lock order
            value = tx.get("alerts", _alert_key(sub_id, chatroom_id))
            if value is None:
                return None
            old = AlertRecord.model_validate(value)
            rec = old.model_copy(update={"snoozed_until": until})
            self._record(tx, [rec], at=now, sub=sub, old=[old])
            return rec

    def put_digest(self, digest: Digest) -> None:
        """Record (or replace) a posted digest message."""
        with self._write() as tx:
            tx.put("digests", _digest_key(digest.subscription_id, digest.message_ts), digest.model_dump(mode="json"))

    def begin_digest(self, digest: Digest, recs: list[AlertRecord]) -> None:
        """Record a digest about to be posted (its ts pending) and its rows pointing at it, in one transaction.

        A worker killed after the post but before ``stamp_digest`` leaves this intent behind, so the next
        cycle can find the posted message and stamp it (or, if it was never posted, drop the intent).
        """
        if not digest.pending:
            raise ValueError("begin_digest takes a digest whose message_ts is pending")
        with self._write() as tx:
            sub = tx.get("subscriptions", digest.subscription_id)
            tx.put("digests", _digest_key(digest.subscription_id, digest.message_ts), digest.model_dump(mode="json"))
            self._record(tx, recs, sub=sub)

    def stamp_digest(self, sub_id: str, pending_ts: str, message_ts: str) -> Digest | None:
        """Give a pending digest and its rows Slack's ts, in one transaction; None if there was no such intent."""
        with self._write() as tx:
            sub = tx.get("subscriptions", sub_id)  # first, as everywhere: one lock order
            value = tx.get("digests", _digest_key(sub_id, pending_ts))
            if value is None:
                return None
            pending = Digest.model_validate(value)
            digest = pending.model_copy(update={"message_ts": message_ts})
            tx.delete("digests", _digest_key(sub_id, pending_ts))
            tx.put("digests", _digest_key(sub_id, message_ts), digest.model_dump(mode="json"))
            self._restamp(tx, pending, message_ts, sub)
            return digest

    def drop_digest(self, sub_id: str, pending_ts: str) -> int:
        """Forget a digest that never reached Slack and its rows, so the next cycle posts them; rows dropped."""
        with self._write() as tx:
            tx.get("subscriptions", sub_id)  # first, as everywhere: one lock order
            value = tx.get("digests", _digest_key(sub_id, pending_ts))
            if value is None:
                return 0
            tx.delete("digests", _digest_key(sub_id, pending_ts))
            return self._restamp(tx, Digest.model_validate(value), None)

    def _restamp(self, tx: Tx, digest: Digest, new_ts: str | None, sub: Any = None) -> int:
        """Point a digest's rows from its ts to ``new_ts`` (None: delete them); rows touched.

        Only rows still pointing at this digest change: one alerted again since keeps its newer digest.
        One key-range read of the subscription's rows (locked), however many digests it has.
        """
        touched: list[AlertRecord] = []
        for key, value in tx.range("alerts", *_prefix_bounds(digest.subscription_id)):
            if not isinstance(value, dict) or value.get("message_ts") != digest.message_ts:
                continue
            if new_ts is None:
                tx.delete("alerts", key)
            touched.append(AlertRecord.model_validate(value))
        if new_ts is not None:  # posted: its rooms were alerted (a dropped intent never was)
            restamped = [rec.model_copy(update={"message_ts": new_ts}) for rec in touched]
            self._record(tx, restamped, sub=sub, old=touched)
        return len(touched)

    def mark_digest(self, sub_id: str, message_ts: str, resolved: dict[int, str] | None = None) -> Digest | None:
        """Record rows resolved from a posted digest and flag it for a redraw, in one transaction.

        ``resolved`` maps chatroom ids to the Slack user who resolved them ("" for Nexudus itself, which
        never replaces a name already there). None if there is no such posted digest.
        """
        key = _digest_key(sub_id, message_ts)
        with self._write() as tx:
            value = tx.get("digests", key)
            if value is None:
                return None
            digest = Digest.model_validate(value)
            if digest.pending:
                return None
            for chatroom_id, by in (resolved or {}).items():
                if by or chatroom_id not in digest.resolved_ids:
                    digest.resolved_ids[chatroom_id] = by
            digest = digest.model_copy(update={"redraw": secrets.token_hex(6)})
            tx.put("digests", key, digest.model_dump(mode="json"))
            return digest

    def digest_redrawn(self, digest: Digest) -> bool:
        """Clear the redraw flag of ``digest`` unless it was flagged again since it was read."""
        key = _digest_key(digest.subscription_id, digest.message_ts)
        with self._write() as tx:
            value = tx.get("digests", key)
            if not isinstance(value, dict) or value.get("redraw") != digest.redraw or digest.redraw is None:
                return False
            tx.put("digests", key, {**value, "redraw": None})
            return True

    def digests_to_redraw(self, sub_id: str) -> list[Digest]:
        """A subscription's digests flagged for a redraw (one key-range read)."""
        return [
            Digest.model_validate(value)
            for _, value in self._range("digests", sub_id)
            if isinstance(value, dict) and value.get("redraw") is not None
        ]

    def get_digest(self, sub_id: str, message_ts: str) -> Digest | None:
        value = self._get("digests", _digest_key(sub_id, message_ts))
        return None if value is None else Digest.model_validate(value)

    def pending_digests(self, sub_id: str) -> list[Digest]:
        """A subscription's digests recorded but not stamped: a key-range read, however many digests it has."""
        low = _digest_key(sub_id, PENDING_PREFIX)
        high = low[:-1] + chr(ord(low[-1]) + 1)  # just past every key starting with `low`
        with self._read() as tx:
            rows = tx.range("digests", low, high)
        return [Digest.model_validate(value) for _, value in rows]

    def digests_for(self, sub_id: str) -> list[Digest]:
        """A subscription's digests, oldest first."""
        digests = [Digest.model_validate(v) for _, v in self._range("digests", sub_id)]
        return sorted(digests, key=lambda dg: dg.posted_at)

    # ------------------------------------------------------------------------------ audit trail
    # Append-only: entries are only ever added (`append_audit`) and read; the one deletion is retention
    # (`prune_audit`). Nothing here updates an entry (tests/unit/test_store.py checks the source says so).

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Add an entry under a new ``TEAM:TIME:NNNNNN`` key, never replacing one; the entry with its key.

        Appends are serialised, so entries of the same microsecond (a frozen test clock, two processes)
        get increasing numbers: the order they were recorded in is the order they are read in."""
        stamp = f"{entry.team_id}:{time_key(entry.at)}"
        with self._write() as tx:
            tx.serialize("audit")
            last = tx.range("audit", f"{stamp}:", f"{stamp};", limit=1, descending=True)
            number = int(last[0][0].rsplit(":", 1)[1]) + 1 if last else 0
            key = f"{stamp}:{number:06d}"
            stored = entry.model_copy(update={"key": key})
            tx.put("audit", key, stored.model_dump(mode="json", exclude={"key"}))
        return stored

    def audit_entries(
        self,
        team_id: str,
        *,
        since: datetime | None = None,
        match: Callable[[AuditEntry], bool] | None = None,
        offset: int = 0,
        limit: int = 20,
        chunk: int = AUDIT_CHUNK,
    ) -> tuple[list[AuditEntry], bool]:
        """One workspace's entries, newest first: those after ``since`` that ``match``, skipping ``offset`` of
        them, at most ``limit``; and whether there are more. Reads the team's key range from its newest end
        in chunks, so a page costs what it skips and shows, never another team's rows."""
        low, high = _prefix_bounds(team_id)
        if since is not None:
            low = f"{team_id}:{time_key(since)}"
        found: list[AuditEntry] = []
        wanted = offset + limit + 1
        size = min(chunk, wanted) if match is None else chunk  # unfiltered: read exactly what is shown
        while len(found) < wanted:
            with self._read() as tx:
                rows = tx.range("audit", low, high, limit=size, descending=True)
            for key, value in rows:
                entry = AuditEntry.model_validate({**value, "key": key})
                if match is None or match(entry):
                    found.append(entry)
            if len(rows) < size:
                break
            high = rows[-1][0]  # the next chunk: strictly older keys
        return found[offset : offset + limit], len(found) > offset + limit

    def prune_audit(self, older_than: datetime) -> int:
        """Retention: delete every workspace's entries older than ``older_than``; how many.

        One bounded key-range delete per workspace, the workspaces found by skipping from one team's
        range to the next (one indexed read each), never by reading the table."""
        removed, low = 0, ""
        cutoff = time_key(older_than)
        while True:
            with self._write() as tx:
                first = tx.range("audit", low, "\U0010ffff", limit=1)
                if not first:
                    return removed
                team = first[0][0].split(":", 1)[0]
                removed += tx.delete_range("audit", f"{team}:", f"{team}:{cutoff}")
            low = _prefix_bounds(team)[1]

    def audit_channel(self, team_id: str) -> AuditChannel | None:
        """Where a workspace's new audit entries are mirrored, if anywhere."""
        value = self._get("meta", audit_channel_key(team_id))
        return None if value is None else AuditChannel.model_validate(value)

    def set_audit_channel(self, team_id: str, channel: AuditChannel | None) -> AuditChannel | None:
        """Mirror a workspace's new entries to ``channel`` (None: stop); the setting it replaced."""
        key = audit_channel_key(team_id)
        with self._write() as tx:
            old = tx.get("meta", key)
            if channel is None:
                tx.delete("meta", key)
            else:
                tx.put("meta", key, channel.model_dump(mode="json"))
        return None if old is None else AuditChannel.model_validate(old)

    def audit_mirror_state(self, team_id: str, channel_id: str, failing: str | None) -> bool:
        """Record whether mirroring to ``channel_id`` fails (Slack's error) or works (None); whether that
        changed — so the person who set the channel is told once, not for every entry."""
        key = audit_channel_key(team_id)
        with self._write() as tx:
            value = tx.get("meta", key)
            if not isinstance(value, dict) or value.get("channel_id") != channel_id:
                return False
            if value.get("failing") == failing:
                return False
            tx.put("meta", key, {**value, "failing": failing})
            return True

    def claim_audit_pruning(self, now: datetime, every: timedelta) -> bool:
        """Whether retention pruning is due (last run ``every`` ago or more); claims it for ``now`` if so."""
        with self._write() as tx:
            tx.serialize("meta")
            done = tx.get("meta", AUDIT_PRUNED)
            last = done.get("at") if isinstance(done, dict) else None
            if isinstance(last, str) and datetime.fromisoformat(last) > now - every:
                return False
            tx.put("meta", AUDIT_PRUNED, {"at": now.isoformat()})
            return True

    # ------------------------------------------------------------------------- work in flight
    # Acknowledged writes whose outcome has not reached their user yet, and each process's heartbeat: a
    # surviving process claims a dead one's entries and tells their users what is known (bot/inflight.py).

    def begin_work(self, work: InFlight) -> InFlight:
        """Record acknowledged work about to start (its details encrypted); the entry with its key."""
        self.begin_works([work])
        return work

    def begin_works(self, works: Iterable[InFlight]) -> None:
        """Record several entries in one write transaction (work queued behind others, written in batches)."""
        rows = [(work.key, self._work_row(work)) for work in works]
        if not rows:
            return
        with self._write() as tx:
            for key, row in rows:
                tx.put("inflight", key, row)

    def _work_row(self, work: InFlight) -> dict[str, Any]:
        # Unset fields are left out: an older version, during a rolling deploy, reads what it knows.
        fields = work.model_dump(mode="json", include=set(SEALED_FIELDS), exclude_none=True)
        sealed = json.dumps(fields).encode("utf-8")
        return {
            "owner": work.owner,
            "started_at": work.started_at.isoformat(),
            "attempts": work.attempts,
            "sealed": self._cipher.encrypt(sealed).decode("ascii"),
        }

    def end_work(self, key: str) -> bool:
        """Forget work whose outcome reached its user; whether it was still recorded."""
        with self._write() as tx:
            return tx.delete("inflight", key)

    def inflight(self) -> list[InFlight]:
        """Every entry in flight, oldest first (an entry that no key decrypts is left out)."""
        with self._read() as tx:
            rows = tx.range("inflight", "", "\U0010ffff")
        return [work for key, row in rows if isinstance(work := self._unseal(key, row), InFlight)]

    def heartbeat(self, process_id: str, now: datetime) -> None:
        """This process is alive at ``now`` (one row per process, replaced at each beat). On a database shared by
        hosts, its own clock is written instead (`Tx.now`), and `claim_orphans` compares with that same clock: a
        host whose clock runs behind the others' never passes for dead."""
        with self._write() as tx:
            tx.put("processes", process_id, {"beat": (tx.now() or now).isoformat()})

    def end_process(self, process_id: str) -> None:
        """This process stops: its heartbeat goes (its unfinished entries become orphans at once)."""
        with self._write() as tx:
            tx.delete("processes", process_id)

    def claim_orphans(self, claimer: str, now: datetime, orphan_after: timedelta, *, limit: int = 20) -> list[InFlight]:
        """Take over the entries whose owner is dead — its heartbeat older than ``orphan_after``, or gone —
        as ``claimer``, oldest first, at most ``limit``; the entries claimed (theirs to tell, now). ``now`` is
        this host's clock; a database shared by hosts uses its own (`Tx.now`), the one the heartbeats carry.

        The whole table is looked through, `CLAIM_PAGE` entries at a time, so however many entries live
        processes have, a dead one's are reached. One write transaction with the table's claimers serialised:
        two sweepers never claim the same entry (the second sees the first's claim, whose owner is alive). An
        entry claimed `MAX_ATTEMPTS` times is dropped with a log line instead. Heartbeats a day old are removed
        on the way.
        """
        with self._read() as tx:  # most sweeps find nothing: no write transaction, no lock for them
            cutoff = (tx.now() or now) - orphan_after
            beats = dict(tx.scan("processes"))
            candidates = _orphan_keys(tx, beats, cutoff, limit)
        if not candidates:
            return []
        claimed: list[InFlight] = []
        with self._write() as tx:
            tx.serialize("inflight")
            clock = tx.now() or now
            cutoff = clock - orphan_after
            beats = dict(tx.scan("processes"))
            for key in candidates:
                row = tx.get("inflight", key)
                if not isinstance(row, dict) or _alive(row.get("owner"), beats, cutoff):
                    continue  # ended, or claimed by another sweeper meanwhile
                work = self._unseal(key, row)
                if work == NEWER:
                    continue  # left for the processes of the version that wrote it
                if work is None or work.attempts >= MAX_ATTEMPTS:
                    if work is not None:
                        log.warning("in-flight work %s: given up after %s tries to tell its user", key, MAX_ATTEMPTS)
                    tx.delete("inflight", key)
                    continue
                row = {**row, "owner": claimer, "attempts": work.attempts + 1}
                tx.put("inflight", key, row)
                claimed.append(work.model_copy(update={"owner": claimer, "attempts": work.attempts + 1}))
            for owner, beat in beats.items():
                at = beat.get("beat") if isinstance(beat, dict) else None
                if not isinstance(at, str) or datetime.fromisoformat(at) < clock - timedelta(days=1):
                    tx.delete("processes", owner)
        return claimed

    def release_work(self, key: str) -> bool:
        """Give claimed work back (telling its user failed): the next sweep, anywhere, claims it again."""
        with self._write() as tx:
            row = tx.get("inflight", key)
            if not isinstance(row, dict):
                return False
            tx.put("inflight", key, {**row, "owner": ""})
            return True

    def _unseal(self, key: str, row: Any) -> InFlight | Literal["newer"] | None:
        """The entry; None when it cannot be read (another STORE_KEY, damaged); `NEWER` for one that decrypts but
        that this version cannot understand (a newer version's kind of work: not to be deleted)."""
        if not isinstance(row, dict) or not isinstance(row.get("sealed"), str):
            return None
        try:
            plain = json.loads(self._cipher.decrypt(row["sealed"].encode("ascii")))
        except (InvalidToken, ValueError, TypeError, UnicodeError):
            log.warning("in-flight work %s cannot be read with this STORE_KEY", key)
            return None
        try:
            return InFlight.model_validate(
                {
                    **plain,
                    "key": key,
                    "owner": str(row.get("owner") or ""),
                    "started_at": row["started_at"],
                    "attempts": int(row.get("attempts") or 0),
                }
            )
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("in-flight work %s was written by another version of the app (%s): left to it", key, exc)
            return NEWER
