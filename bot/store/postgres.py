"""The shared backend: the store's tables in PostgreSQL, with SQLAlchemy 2 Core over psycopg 3.

Selected by ``DATABASE_URL`` (``postgresql+psycopg://user:password@host/db``). Several processes on
several hosts use it at once, so every read-modify-write of `bot.store.base.Store` runs in one transaction
in which the rows it reads are locked (``SELECT … FOR UPDATE``); inserts are ``INSERT … ON CONFLICT DO
UPDATE``, "only if it still exists" is ``UPDATE … RETURNING``, and a decision over a whole table
(``subscribe_once``, the key check) first takes a transaction-scoped advisory lock for that table.

The schema belongs to Alembic (bot/store/migrations): at start the database must be at this version's
head revision, or the start is refused naming ``python -m bot migrate`` (`StoreSchemaBehind`). Nothing is
migrated behind the operator's back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.database import APPLICATION_NAME, CONNECT_TIMEOUT, WHAT_TO_DO, PoolBudget, safe_url
from bot.store.errors import DatabaseFull, PoolExhausted, StoreError, StoreSchemaBehind, StoreUnavailable
from bot.store.schema import TABLE_OBJECTS, metadata

__all__ = ["PostgresTables", "database_error", "engine_for", "metadata", "migrate", "safe_url", "schema_status"]

DATABASE_ERRORS = (OperationalError, PoolTimeout)
"""What a statement or a checkout raises when the database, not the statement, is the problem: `database_error`
says which."""

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_BASE = 0x57_0E_00_00
"""Advisory lock ids of the store: this base plus a number per table (stable across processes)."""


def engine_for(url: str, pool: PoolBudget | None = None) -> Engine:
    """The process's pooled engine for ``DATABASE_URL`` (psycopg 3), within `pool` (bot/database.py): the store,
    and the distributed app's installation and OAuth state stores, all use this one engine and its connections."""
    pool = pool or PoolBudget()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            "DATABASE_URL is not a database URL: expected postgresql+psycopg://user:password@host:5432/dbname"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise StoreError(f"DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://…), not {parsed.drivername}://…")
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,  # then `PoolExhausted`: a thread waits its turn, it never opens more
        connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": APPLICATION_NAME},
    )


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def schema_status(engine: Engine) -> tuple[str | None, str | None]:
    """(the database's revision, this version's head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
    return current, head


def migrate(url: str) -> tuple[str | None, str | None]:
    """Bring the database's schema to this version's head (``python -m bot migrate``); (before, after)."""
    from alembic import command

    engine = engine_for(url)
    try:
        before, _ = schema_status(engine)
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        after, _ = schema_status(engine)
        return before, after
    except DATABASE_ERRORS as exc:
        raise database_error(exc, url) from None
    finally:
        engine.dispose()


# What PostgreSQL (or libpq) says, for errors that carry no SQLSTATE: libpq reports a refused connection as text only.
_FULL = ("too many clients", "too many connections", "remaining connection slots are reserved")
_LOGIN = ("password authentication failed", "no pg_hba.conf entry", "authentication failed", "no password supplied")
_NOT_NOW = ("is starting up", "is shutting down", "in recovery mode", "not yet accepting connections", "not accepting")
_CUT = ("server closed the connection", "terminating connection", "connection is closed", "consuming input failed")


def database_error(exc: BaseException, url: str | None, pool: PoolBudget | None = None) -> StoreUnavailable:
    """What went wrong with PostgreSQL, in words that are true and say what to do; never a password. `url` None:
    the words name no database (/healthz shows no URL). `pool`: this process's, named when it is the cause."""
    where = f"PostgreSQL at {safe_url(url)}" if url else "PostgreSQL"
    if isinstance(exc, PoolTimeout):
        if pool is None:
            return PoolExhausted("no database connection of this check became free in time")
        return PoolExhausted(
            f"all {pool.connections} database connections of this process ({pool.settings_text()}) stayed in use "
            f"for {pool.timeout:g} s (DATABASE_POOL_TIMEOUT), so an operation got none; PostgreSQL was not asked for "
            "more. This process had more database work at once than connections: if it happens often, raise "
            "DATABASE_MAX_OVERFLOW (counting every process against PostgreSQL's max_connections) or look for slow "
            "statements and locks in pg_stat_activity."
        )
    orig = getattr(exc, "orig", None) or exc
    said = " ".join(str(orig).split()) or type(orig).__name__
    text = said.lower()
    state = str(getattr(orig, "sqlstate", None) or "")
    if state == "53300" or any(words in text for words in _FULL):
        own = "role" if "too many connections for role" in text else "database"
        if "too many connections for" in text:  # ALTER ROLE / DATABASE … CONNECTION LIMIT, not max_connections
            limit = f"the connection limit set on the app's {own}"
            fix = (
                "raise it (ALTER ROLE / ALTER DATABASE … CONNECTION LIMIT), or lower DATABASE_POOL_SIZE / "
                "DATABASE_MAX_OVERFLOW or the number of processes"
            )
        else:
            limit, fix = "its max_connections", WHAT_TO_DO
        share = f" This process may hold up to {pool.connections} ({pool.settings_text()})." if pool else ""
        return DatabaseFull(
            f"{where} is running but refused another connection: it has reached {limit} (it said: {said}).{share} "
            f"Every web worker, alert worker and host holds connections of its own. To fix: {fix}."
        )
    if state.startswith("53"):
        return StoreUnavailable(
            f"{where} is running but short of resources (it said: {said}): its server needs attention."
        )
    if (
        state.startswith("28")
        or any(words in text for words in _LOGIN)
        or ("role" in text and "does not exist" in text)
    ):
        return StoreUnavailable(
            f"{where} refused the app's login (it said: {said}). Check the user name and password in DATABASE_URL, "
            "and that pg_hba.conf lets this host in."
        )
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return StoreUnavailable(
            f"{where} is running but has no such database (it said: {said}). Create it, or fix the database name in "
            "DATABASE_URL, then run `python -m bot migrate`."
        )
    if state == "57P03" or any(words in text for words in _NOT_NOW):
        return StoreUnavailable(
            f"{where} is running but not accepting connections yet (it said: {said}): it is starting up, shutting "
            "down or recovering. Try again in a moment."
        )
    if state in ("57P01", "57P02") or any(words in text for words in _CUT):
        return StoreUnavailable(
            f"the connection to {where} was cut (it said: {said}): PostgreSQL restarted or closed it. The next "
            "operation connects again."
        )
    if state:
        return StoreUnavailable(
            f"{where} refused a statement (it said: {said}; SQLSTATE {state}); nothing of it was saved."
        )
    return StoreUnavailable(
        f"cannot reach the database{' ' + safe_url(url) if url else ''}: {said}. Check DATABASE_URL (host and port) "
        "and that PostgreSQL is running and accepts connections from this host."
    )


class _PgTx:
    """Statements inside one transaction; ``locking`` (write transactions) locks every row it reads."""

    def __init__(self, conn: Connection, *, locking: bool) -> None:
        self._conn = conn
        self._locking = locking

    def get(self, table: str, key: str) -> Any | None:
        t = TABLE_OBJECTS[table]
        query = select(t.c.value).where(t.c.key == key)
        if self._locking:
            query = query.with_for_update()
        return self._conn.execute(query).scalar_one_or_none()

    def put(self, table: str, key: str, value: Any) -> None:
        t = TABLE_OBJECTS[table]
        stmt = insert(t).values(key=key, value=value)
        self._conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.key], set_={"value": stmt.excluded.value}))

    def update(self, table: str, key: str, value: Any) -> bool:
        t = TABLE_OBJECTS[table]
        stmt = update(t).where(t.c.key == key).values(value=value).returning(t.c.key)
        return self._conn.execute(stmt).first() is not None

    def delete(self, table: str, key: str) -> bool:
        t = TABLE_OBJECTS[table]
        return self._conn.execute(delete(t).where(t.c.key == key).returning(t.c.key)).first() is not None

    def range(
        self, table: str, low: str, high: str, *, limit: int | None = None, descending: bool = False
    ) -> list[tuple[str, Any]]:
        t = TABLE_OBJECTS[table]
        query = select(t.c.key, t.c.value).where(t.c.key >= low, t.c.key < high)
        query = query.order_by(t.c.key.desc() if descending else t.c.key)
        if limit is not None:
            query = query.limit(int(limit))
        if self._locking:
            query = query.with_for_update()
        return [(row.key, row.value) for row in self._conn.execute(query)]

    def delete_range(self, table: str, low: str, high: str) -> int:
        t = TABLE_OBJECTS[table]
        return len(self._conn.execute(delete(t).where(t.c.key >= low, t.c.key < high).returning(t.c.key)).all())

    def scan(self, table: str) -> list[tuple[str, Any]]:
        t = TABLE_OBJECTS[table]
        return [(row.key, row.value) for row in self._conn.execute(select(t.c.key, t.c.value).order_by(t.c.seq))]

    def serialize(self, table: str) -> None:
        """A transaction-scoped advisory lock per table: released by the commit or the rollback."""
        self._conn.execute(select(func.pg_advisory_xact_lock(_lock_id(f"table:{table}"))))

    def now(self) -> datetime | None:
        """The database's clock (``clock_timestamp()``: the time now, not the transaction's start), one for every
        host: heartbeats written and compared with it never depend on the hosts' clocks agreeing."""
        at: object = self._conn.execute(select(func.clock_timestamp())).scalar_one()
        return at if isinstance(at, datetime) else None


def _lock_id(name: str) -> int:
    """A stable advisory-lock id per name, in the store's own range."""
    return _LOCK_BASE + zlib.crc32(name.encode()) % 0xFFFF


class PostgresTables:
    """The store's tables in PostgreSQL (see the module's text)."""

    lost_key_hint = (
        "Only if the key is lost: empty the store's tables (DROP the store_* tables, then `python -m bot migrate`); "
        "everyone then logs in again."
    )

    def __init__(self, url: str, pool: PoolBudget | None = None) -> None:
        self.where = safe_url(url)
        self._url = url
        self._closed = False
        self._guard = threading.Lock()
        self.pool = pool or PoolBudget()
        self.engine = engine_for(url, self.pool)
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")  # the same pool
        try:
            current, head = schema_status(self.engine)
        except DATABASE_ERRORS as exc:
            self.engine.dispose()
            raise self._error(exc) from None
        if current != head:
            self.engine.dispose()
            state = "has no schema yet" if current is None else f"has schema revision {current}"
            raise StoreSchemaBehind(
                f"The database {self.where} {state}; this version of the app needs revision {head}. "
                "Run `python -m bot migrate` (with the same DATABASE_URL), then start the app again."
            )
        log.debug("store: opened PostgreSQL %s at revision %s", self.where, head)

    metadata = metadata

    def _error(self, exc: BaseException) -> StoreUnavailable:
        return database_error(exc, self._url, self.pool)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")

    @contextlib.contextmanager
    def _transaction(self, *, locking: bool) -> Iterator[_PgTx]:
        self._check_open()
        try:
            if locking:
                with self.engine.begin() as conn:
                    yield _PgTx(conn, locking=True)
            else:  # one statement per read: autocommit saves the BEGIN and COMMIT round trips
                with self._reader.connect() as conn:
                    yield _PgTx(conn, locking=False)
        except DATABASE_ERRORS as exc:
            raise self._error(exc) from None

    def read(self) -> contextlib.AbstractContextManager[_PgTx]:
        return self._transaction(locking=False)

    def write(self) -> contextlib.AbstractContextManager[_PgTx]:
        return self._transaction(locking=True)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A session advisory lock (``pg_try_advisory_lock``) on a connection of its own, held for the block:
        every process on every host sees it, and PostgreSQL drops it when the holder's connection ends."""
        self._check_open()
        lock_id = _lock_id(name)
        try:
            conn = self.engine.connect()
        except DATABASE_ERRORS as exc:
            raise self._error(exc) from None
        try:
            held = bool(conn.execute(select(func.pg_try_advisory_lock(lock_id))).scalar())
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    try:
                        conn.execute(select(func.pg_advisory_unlock(lock_id)))
                        conn.commit()
                    except DBAPIError:
                        conn.invalidate()  # never back to the pool still holding the lock: close the session
        finally:
            conn.close()

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
        self.engine.dispose()
