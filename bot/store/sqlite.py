"""The embedded backend: the store's tables in ONE private SQLite file, through the standard `sqlite3` module.

The file keeps the layout earlier versions wrote with sqlitedict (one ``key TEXT PRIMARY KEY, value`` table
per name in `TABLES`, values JSON text, never pickle), so an existing store opens as it is. The web process
and the alert worker open the same file at once, so:

* every write transaction starts with ``BEGIN IMMEDIATE`` (the file's write lock, taken up front) and is
  committed with ``synchronous=FULL`` before the method returns; a 30 s busy timeout makes a writer wait for
  the other process instead of failing. Rows read inside it cannot change before the commit, so
  read-modify-write operations are atomic across processes, and `Tx.serialize` has nothing more to do;
* within a process, one lock serialises the calls on the one connection.

Opening checks the file before anything is served, and refuses with a message that says what is wrong and
what to do (``StoreError``): it is a sound SQLite database (never overwritten if not), and it is private
(created 0600, tightened to 0600 if it was not).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.store.base import TABLES
from bot.store.errors import StoreDamaged, StoreError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for the other process's transaction before giving up."""

FILE_MODE = 0o600


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


def _checked(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"no such store table: {table}")
    return f'"{table}"'


class _SqliteTx:
    """Statements on the one connection, inside the transaction `SqliteTables` opened."""

    def __init__(self, owner: SqliteTables) -> None:
        self._owner = owner

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._owner.execute(sql, args)

    def get(self, table: str, key: str) -> Any | None:
        rows = self._rows(f"SELECT value FROM {_checked(table)} WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put(self, table: str, key: str, value: Any) -> None:
        self._rows(f"REPLACE INTO {_checked(table)} (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def update(self, table: str, key: str, value: Any) -> bool:
        sql = f"UPDATE {_checked(table)} SET value = ? WHERE key = ? RETURNING key"
        return bool(self._rows(sql, (json.dumps(value), key)))

    def delete(self, table: str, key: str) -> bool:
        return bool(self._rows(f"DELETE FROM {_checked(table)} WHERE key = ? RETURNING key", (key,)))

    def range(
        self, table: str, low: str, high: str, *, limit: int | None = None, descending: bool = False
    ) -> list[tuple[str, Any]]:
        order = "DESC" if descending else "ASC"
        sql = f"SELECT key, value FROM {_checked(table)} WHERE key >= ? AND key < ? ORDER BY key {order} LIMIT ?"
        rows = self._rows(sql, (low, high, -1 if limit is None else int(limit)))
        return [(key, json.loads(value)) for key, value in rows]

    def delete_range(self, table: str, low: str, high: str) -> int:
        sql = f"DELETE FROM {_checked(table)} WHERE key >= ? AND key < ? RETURNING key"
        return len(self._rows(sql, (low, high)))

    def scan(self, table: str) -> list[tuple[str, Any]]:
        rows = self._rows(f"SELECT key, value FROM {_checked(table)} ORDER BY rowid")
        return [(key, json.loads(value)) for key, value in rows]

    def serialize(self, table: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the whole file's write lock."""

    def now(self) -> datetime | None:
        """None: the file is shared by the processes of one host, whose clock is the caller's."""
        return None


class SqliteTables:
    """The store's tables in one SQLite file (see the module's text)."""

    lost_key_hint = "Only if the key is lost: move the file aside and start again; everyone then logs in again."

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        _private_file(self.path)
        _check_integrity(self.path)
        try:
            # isolation_level=None: no implicit transactions; each write block says BEGIN IMMEDIATE itself.
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store file {self.path}: {exc}. Check STORE_PATH.") from None
        self._conn = conn
        try:
            # Not WAL: switching a file to WAL needs an exclusive lock that SQLite does not wait for, so two
            # processes opening a new store together could fail. The rollback journal is plenty here.
            self.execute("PRAGMA journal_mode = DELETE")
            self.execute("PRAGMA synchronous = FULL")
            with self.write():
                for table in TABLES:
                    self.execute(f"CREATE TABLE IF NOT EXISTS {_checked(table)} (key TEXT PRIMARY KEY, value BLOB)")
        except BaseException:
            self.close()
            raise
        log.debug("store: opened the SQLite file %s", self.path)

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement, its rows fetched; a damaged file becomes `StoreDamaged`."""
        with self._lock:
            if self._conn is None:
                raise RuntimeError("the store is closed")
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    raise StoreDamaged(self.path, str(exc)) from None
                if isinstance(exc, sqlite3.OperationalError) and "no such table" not in str(exc):
                    raise StoreError(f"cannot use the store file {self.path}: {exc}.") from None
                raise

    @contextlib.contextmanager
    def read(self) -> Iterator[_SqliteTx]:
        with self._lock:
            yield _SqliteTx(self)

    @contextlib.contextmanager
    def write(self) -> Iterator[_SqliteTx]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, durable before returning; rolled back if the block raises."""
        with self._lock:
            self.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self)
                self.execute("COMMIT")
            except BaseException:
                if self._conn is not None and self._conn.in_transaction:
                    with contextlib.suppress(Exception):
                        self._conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """An ``flock`` on ``<store file>.<name>.lock``: every process of this machine sees it, and the kernel
        drops it when the holder dies."""
        path = self.path.with_name(f"{self.path.name}.{name}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                conn.close()
            log.debug("store: closed the SQLite file %s", self.path)
