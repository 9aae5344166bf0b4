"""SQLite storage of the sandbox: businesses, chatrooms and their members.

Every filter, range and ordering of the search runs in SQL (with indexes), so a page of a
100 000-chatroom database costs milliseconds. Date-times are stored as UTC text
`YYYY-MM-DDTHH:MM:SS`, which sorts and compares correctly as plain strings. One connection is shared
by the server's threads, guarded by a re-entrant lock so a command can group several writes in one
transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DB_FORMAT = "%Y-%m-%dT%H:%M:%S"

SCHEMA = """
CREATE TABLE IF NOT EXISTS businesses (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chatrooms (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id      INTEGER NOT NULL REFERENCES businesses(id),
    name             TEXT,
    name_fold        TEXT,
    active           INTEGER NOT NULL DEFAULT 0,
    last_agent_visit TEXT,
    created_on       TEXT NOT NULL,
    updated_on       TEXT NOT NULL,
    updated_by       TEXT,
    unique_id        TEXT NOT NULL UNIQUE,
    system_id        TEXT
);
CREATE TABLE IF NOT EXISTS chatroom_users (
    chatroom_id INTEGER NOT NULL REFERENCES chatrooms(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    PRIMARY KEY (chatroom_id, user_id)
) WITHOUT ROWID;
"""

# Secondary indexes, by name: dropped during a bulk seed of an empty table and rebuilt after (3x faster).
INDEXES: dict[str, str] = {
    "chatroom_users_by_user": "chatroom_users(user_id, chatroom_id)",
    "chatrooms_active_visit": "chatrooms(active, last_agent_visit)",
    "chatrooms_visit": "chatrooms(last_agent_visit)",
    "chatrooms_business": "chatrooms(business_id)",
    "chatrooms_updated": "chatrooms(updated_on)",
    "chatrooms_created": "chatrooms(created_on)",
    "chatrooms_name": "chatrooms(name_fold)",
}

# Record property (lower-cased) -> (canonical property name, SQL expression to order by).
ORDER_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("Id", "id"),
    "name": ("Name", "name_fold"),
    "active": ("Active", "active"),
    "lastagentvisit": ("LastAgentVisit", "last_agent_visit"),
    "createdon": ("CreatedOn", "created_on"),
    "updatedon": ("UpdatedOn", "updated_on"),
    "updatedby": ("UpdatedBy", "updated_by"),
    "uniqueid": ("UniqueId", "unique_id"),
    "systemid": ("SystemId", "system_id"),
    "business": ("Business", "business_id"),
    "businessid": ("BusinessId", "business_id"),
}

# Columns a command or an update may write (keys are the keyword names `update_fields` takes).
WRITABLE = ("business_id", "name", "active", "last_agent_visit", "system_id")


def fold(text: str | None) -> str | None:
    """Case-insensitive form of a name (Unicode-aware, unlike SQLite's ASCII-only NOCASE/LIKE)."""
    return None if text is None else text.casefold()


def to_db(value: datetime | None) -> str | None:
    """An aware (or naive = UTC) datetime to the stored UTC text, at second resolution."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds")


def from_db(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, DB_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class ChatRoomRow:
    """One chatroom as stored; `users` is only loaded by `get` (the single-record read)."""

    id: int
    business_id: int
    name: str | None
    active: bool
    last_agent_visit: datetime | None
    created_on: datetime
    updated_on: datetime
    updated_by: str | None
    unique_id: str
    system_id: str | None
    users: tuple[int, ...] = ()


@dataclass(frozen=True)
class NewChatRoom:
    """A chatroom to insert; `id` None lets SQLite assign the next id (never reusing a deleted one)."""

    business_id: int
    name: str | None
    active: bool
    last_agent_visit: datetime | None
    created_on: datetime
    updated_on: datetime
    updated_by: str | None
    unique_id: str
    system_id: str | None = None
    users: Sequence[int] = ()
    id: int | None = None


@dataclass(frozen=True)
class SearchQuery:
    """A search, already parsed and validated by the HTTP layer. Ranges are inclusive on both ends."""

    ids: tuple[int, ...] | None = None
    id: int | None = None
    active: bool | None = None
    business: int | None = None
    businesses: tuple[int, ...] | None = None
    """Only these businesses' chatrooms (the account's visibility), whatever the filters say."""
    visit_minute: datetime | None = None
    name: str | None = None
    user: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    visited_from: datetime | None = None
    visited_to: datetime | None = None
    order_by: str = "id"
    descending: bool = False
    page: int = 1
    size: int = 25


_SELECT = (
    "SELECT id, business_id, name, active, last_agent_visit, created_on, updated_on, updated_by, "
    "unique_id, system_id FROM chatrooms"
)


def _row(raw: Sequence[Any], users: tuple[int, ...] = ()) -> ChatRoomRow:
    created = from_db(raw[5])
    updated = from_db(raw[6])
    assert created is not None and updated is not None
    return ChatRoomRow(
        id=raw[0],
        business_id=raw[1],
        name=raw[2],
        active=bool(raw[3]),
        last_agent_visit=from_db(raw[4]),
        created_on=created,
        updated_on=updated,
        updated_by=raw[7],
        unique_id=raw[8],
        system_id=raw[9],
        users=users,
    )


def _where(query: SearchQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (shared by the page and its COUNT) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.ids is not None:
        clauses.append("id IN (SELECT value FROM json_each(?))")
        params.append("[" + ",".join(str(int(i)) for i in query.ids) + "]")
    if query.id is not None:
        clauses.append("id = ?")
        params.append(query.id)
    if query.active is not None:
        clauses.append("active = ?")
        params.append(1 if query.active else 0)
    if query.business is not None:
        clauses.append("business_id = ?")
        params.append(query.business)
    if query.businesses is not None:
        clauses.append("business_id IN (SELECT value FROM json_each(?))")
        params.append("[" + ",".join(str(int(i)) for i in query.businesses) + "]")
    if query.visit_minute is not None:
        start = query.visit_minute.replace(second=0, microsecond=0)
        clauses.append("last_agent_visit >= ? AND last_agent_visit < ?")
        params += [to_db(start), to_db(start + timedelta(minutes=1))]
    if query.name is not None:
        clauses.append("instr(name_fold, ?) > 0")
        params.append(fold(query.name))
    if query.user is not None:
        clauses.append("id IN (SELECT chatroom_id FROM chatroom_users WHERE user_id = ?)")
        params.append(query.user)
    ranges = (
        ("created_on", query.created_from, query.created_to),
        ("updated_on", query.updated_from, query.updated_to),
        ("last_agent_visit", query.visited_from, query.visited_to),
    )
    for column, low, high in ranges:
        # A NULL never satisfies a comparison, so a never-visited chatroom never matches a visit range.
        if low is not None:
            clauses.append(f"{column} >= ?")
            params.append(to_db(low))
        if high is not None:
            clauses.append(f"{column} <= ?")
            params.append(to_db(high))
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return where, params


class SandboxDB:
    """The sandbox's store. A file path persists across restarts; `:memory:` does not."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._depth = 0
        with self.lock:
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._create_schema()

    # -- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested uses join the outer transaction."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.lock:
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            return self._conn.execute(sql, params).fetchone()

    def reset(self) -> None:
        """Drop every table and recreate the empty schema (`--reset`)."""
        with self.transaction() as conn:
            for table in ("chatroom_users", "chatrooms", "businesses"):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DELETE FROM sqlite_sequence WHERE name = 'chatrooms'")
        with self.lock:
            self._create_schema()

    def _create_schema(self) -> None:
        self._conn.executescript(SCHEMA)
        for name, target in INDEXES.items():
            self._conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    # -- businesses -------------------------------------------------------------------------------

    def add_businesses(self, businesses: Iterable[tuple[int, str]]) -> None:
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO businesses (id, name) VALUES (?, ?)", businesses)

    def businesses(self) -> list[tuple[int, str]]:
        return [(r[0], r[1]) for r in self._all("SELECT id, name FROM businesses ORDER BY id")]

    def business_exists(self, business_id: int) -> bool:
        return self._one("SELECT 1 FROM businesses WHERE id = ?", (business_id,)) is not None

    # -- chatrooms: reads -------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM chatrooms")[0])

    def is_empty(self) -> bool:
        return self._one("SELECT 1 FROM chatrooms LIMIT 1") is None and not self.businesses()

    def get(self, chatroom_id: int) -> ChatRoomRow | None:
        """One chatroom with its members, or None."""
        with self.lock:
            raw = self._one(_SELECT + " WHERE id = ?", (chatroom_id,))
            if raw is None:
                return None
            return _row(raw, self.users_of(chatroom_id))

    def users_of(self, chatroom_id: int) -> tuple[int, ...]:
        rows = self._all("SELECT user_id FROM chatroom_users WHERE chatroom_id = ? ORDER BY user_id", (chatroom_id,))
        return tuple(r[0] for r in rows)

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = "[" + ",".join(str(int(i)) for i in ids) + "]"
        rows = self._all("SELECT id FROM chatrooms WHERE id IN (SELECT value FROM json_each(?))", (wanted,))
        return {r[0] for r in rows}

    def search(self, query: SearchQuery) -> tuple[list[ChatRoomRow], int]:
        """One page of matching chatrooms (without members) and the total number that match."""
        if query.order_by.lower() not in ORDER_COLUMNS:
            raise ValueError(f"cannot order by {query.order_by!r}")
        column = ORDER_COLUMNS[query.order_by.lower()][1]
        direction = "DESC" if query.descending else "ASC"
        where, params = _where(query)
        order = f" ORDER BY {column} {direction}" + (f", id {direction}" if column != "id" else "")
        offset = (max(query.page, 1) - 1) * query.size
        with self.lock:
            total = int(self._one("SELECT COUNT(*) FROM chatrooms" + where, params)[0])
            rows = self._all(_SELECT + where + order + " LIMIT ? OFFSET ?", [*params, query.size, offset])
        return [_row(r) for r in rows], total

    # -- chatrooms: writes ------------------------------------------------------------------------

    def insert(self, room: NewChatRoom) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO chatrooms (id, business_id, name, name_fold, active, last_agent_visit, "
                "created_on, updated_on, updated_by, unique_id, system_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    room.id,
                    room.business_id,
                    room.name,
                    fold(room.name),
                    1 if room.active else 0,
                    to_db(room.last_agent_visit),
                    to_db(room.created_on),
                    to_db(room.updated_on),
                    room.updated_by,
                    room.unique_id,
                    room.system_id,
                ),
            )
            new_id = cursor.lastrowid
            assert new_id is not None
            self._set_users(conn, new_id, room.users)
        return new_id

    def insert_many(self, rooms: Iterable[NewChatRoom]) -> int:
        """Bulk insert in one transaction (the 100k seed); rooms must carry explicit ids."""
        users: list[tuple[int, int]] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            for room in rooms:
                assert room.id is not None, "insert_many needs explicit ids"
                users.extend((room.id, u) for u in dict.fromkeys(room.users))
                yield (
                    room.id,
                    room.business_id,
                    room.name,
                    fold(room.name),
                    1 if room.active else 0,
                    to_db(room.last_agent_visit),
                    to_db(room.created_on),
                    to_db(room.updated_on),
                    room.updated_by,
                    room.unique_id,
                    room.system_id,
                )

        with self.transaction() as conn:
            bulk = conn.execute("SELECT 1 FROM chatrooms LIMIT 1").fetchone() is None
            if bulk:
                for name in INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
            cursor = conn.executemany(
                "INSERT INTO chatrooms (id, business_id, name, name_fold, active, last_agent_visit, "
                "created_on, updated_on, updated_by, unique_id, system_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows(),
            )
            count = cursor.rowcount
            conn.executemany("INSERT INTO chatroom_users (chatroom_id, user_id) VALUES (?, ?)", users)
            if bulk:
                for name, target in INDEXES.items():
                    conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
        return count

    def update_fields(self, ids: Iterable[int], now: datetime, user: str | None, **values: Any) -> int:
        """Set some writable columns of some chatrooms, stamping UpdatedOn/UpdatedBy; returns rows changed."""
        unknown = set(values) - set(WRITABLE)
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        assignments = ["updated_on = ?", "updated_by = ?"]
        params: list[Any] = [to_db(now), user]
        for column, value in values.items():
            if column == "last_agent_visit":
                value = to_db(value)
            elif column == "active":
                value = 1 if value else 0
            assignments.append(f"{column} = ?")
            params.append(value)
            if column == "name":
                assignments.append("name_fold = ?")
                params.append(fold(value))
        id_list = "[" + ",".join(str(int(i)) for i in ids) + "]"
        with self.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE chatrooms SET {', '.join(assignments)} WHERE id IN (SELECT value FROM json_each(?))",
                [*params, id_list],
            )
            return cursor.rowcount

    def set_users(self, chatroom_id: int, users: Iterable[int]) -> None:
        with self.transaction() as conn:
            self._set_users(conn, chatroom_id, users)

    @staticmethod
    def _set_users(conn: sqlite3.Connection, chatroom_id: int, users: Iterable[int]) -> None:
        conn.execute("DELETE FROM chatroom_users WHERE chatroom_id = ?", (chatroom_id,))
        conn.executemany(
            "INSERT INTO chatroom_users (chatroom_id, user_id) VALUES (?, ?)",
            [(chatroom_id, u) for u in dict.fromkeys(users)],
        )

    def delete(self, chatroom_id: int) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM chatrooms WHERE id = ?", (chatroom_id,))
            return cursor.rowcount > 0

    def idle_ids(self, cutoff: datetime, among: Sequence[int] | None = None) -> list[int]:
        """Active chatrooms not visited since `cutoff` (never-visited ones count from their creation)."""
        sql = (
            "SELECT id FROM chatrooms WHERE active = 1 AND ("
            "(last_agent_visit IS NOT NULL AND last_agent_visit < ?) OR "
            "(last_agent_visit IS NULL AND created_on < ?))"
        )
        params: list[Any] = [to_db(cutoff), to_db(cutoff)]
        if among is not None:
            sql += " AND id IN (SELECT value FROM json_each(?))"
            params.append("[" + ",".join(str(int(i)) for i in among) + "]")
        return [r[0] for r in self._all(sql + " ORDER BY id", params)]
