"""The sandbox's SQLite layer and seed, without HTTP."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sandbox.commands import COMMANDS, CommandRefused, Parameter, parse_datetime
from bot.sandbox.db import NewChatRoom, SandboxDB, SearchQuery, from_db, to_db
from bot.sandbox.seed import BUSINESSES, DEMO_USERS, FIRST_CHATROOM_ID, seed, seed_if_empty

NOW = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def db() -> Iterator[SandboxDB]:
    store = SandboxDB(":memory:")
    seed(store, NOW)
    yield store
    store.close()


def all_rows(db: SandboxDB) -> list:
    rows, _ = db.search(SearchQuery(size=1000))
    return rows


def test_seed_is_deterministic_and_realistic(db: SandboxDB) -> None:
    other = SandboxDB(":memory:")
    seed(other, NOW)
    assert all_rows(db) == all_rows(other)
    other.close()

    rows = all_rows(db)
    assert len(rows) == 60
    assert {b for b, _ in db.businesses()} == {b for b, _ in BUSINESSES}
    active = sum(r.active for r in rows)
    assert 0.65 <= active / len(rows) <= 0.95
    visits = [r.last_agent_visit for r in rows]
    assert any(v is None for v in visits)
    ages = [NOW - v for v in visits if v is not None]
    assert min(ages) < timedelta(hours=1)
    assert max(ages) > timedelta(days=2)
    for row in rows:
        assert row.created_on <= (row.last_agent_visit or NOW)
        assert row.updated_on <= NOW
        assert row.name
    assert len({r.unique_id for r in rows}) == 60
    assert any("\N{EN DASH}" in (r.name or "") for r in rows)


def test_seed_if_empty_only_seeds_once(db: SandboxDB) -> None:
    assert seed_if_empty(db, NOW) is False
    assert db.count() == 60
    fresh = SandboxDB(":memory:")
    assert seed_if_empty(fresh, NOW, chatrooms=5) is True
    assert fresh.count() == 5
    fresh.close()


def test_demo_users_roles() -> None:
    admin = DEMO_USERS["admin@sandbox.local"]
    reader = DEMO_USERS["reader@sandbox.local"]
    owner = DEMO_USERS["owner@sandbox.local"]
    assert admin.has_role("ChatRoom-Delete") and not admin.administrator
    assert reader.has_role("ChatRoom-List") and reader.has_role("ChatRoom-Read")
    assert not reader.has_role("ChatRoom-Edit")
    assert owner.has_role("ChatRoom-Delete") and owner.has_role("Anything-Else")


def test_get_loads_users_and_search_does_not(db: SandboxDB) -> None:
    row = db.get(FIRST_CHATROOM_ID)
    assert row is not None and row.users
    listed, _ = db.search(SearchQuery(id=FIRST_CHATROOM_ID))
    assert listed[0].users == ()
    assert db.get(1) is None


def test_search_filters_match_python(db: SandboxDB) -> None:
    rows = all_rows(db)
    some = rows[3]
    cutoff = NOW - timedelta(hours=6)

    def ids(query: SearchQuery) -> list[int]:
        found, total = db.search(query)
        assert total == len(found)
        return [r.id for r in found]

    assert ids(SearchQuery(active=True, size=1000)) == [r.id for r in rows if r.active]
    assert ids(SearchQuery(business=9002, size=1000)) == [r.id for r in rows if r.business_id == 9002]
    assert ids(SearchQuery(visited_to=cutoff, size=1000)) == [
        r.id for r in rows if r.last_agent_visit is not None and r.last_agent_visit <= cutoff
    ]
    assert ids(SearchQuery(visited_from=cutoff, active=True, size=1000)) == [
        r.id for r in rows if r.active and r.last_agent_visit is not None and r.last_agent_visit >= cutoff
    ]
    assert ids(SearchQuery(created_from=some.created_on, created_to=some.created_on, size=1000)) == [
        r.id for r in rows if r.created_on == some.created_on
    ]
    user = db.users_of(some.id)[0]
    assert some.id in ids(SearchQuery(user=user, size=1000))
    assert ids(SearchQuery(ids=(some.id, rows[0].id, 5), size=1000)) == sorted([some.id, rows[0].id])


def test_name_filter_is_unicode_case_insensitive(db: SandboxDB) -> None:
    new_id = db.insert(
        NewChatRoom(9001, "Locker key \N{EN DASH} ZOË MÜLLER", True, None, NOW, NOW, "t", "u-1", users=[1])
    )
    found, _ = db.search(SearchQuery(name="zoë mül", size=1000))
    assert new_id in [r.id for r in found]
    assert all("zoë mül" in (r.name or "").casefold() for r in found)


def test_order_by_and_direction(db: SandboxDB) -> None:
    names, _ = db.search(SearchQuery(order_by="name", size=1000))
    folded = [(r.name or "").casefold() for r in names]
    assert folded == sorted(folded)
    desc, _ = db.search(SearchQuery(order_by="updatedon", descending=True, size=1000))
    stamps = [r.updated_on for r in desc]
    assert stamps == sorted(stamps, reverse=True)
    with pytest.raises(ValueError):
        db.search(SearchQuery(order_by="users"))


def test_paging_uses_limit_offset(db: SandboxDB) -> None:
    page, total = db.search(SearchQuery(page=3, size=25))
    assert total == 60 and len(page) == 10
    assert page[0].id == FIRST_CHATROOM_ID + 50


def test_update_fields_and_users(db: SandboxDB) -> None:
    later = NOW + timedelta(minutes=5)
    changed = db.update_fields([FIRST_CHATROOM_ID], later, "me@x", name="New", active=False, last_agent_visit=None)
    assert changed == 1
    row = db.get(FIRST_CHATROOM_ID)
    assert row is not None
    assert (row.name, row.active, row.last_agent_visit, row.updated_on, row.updated_by) == (
        "New",
        False,
        None,
        later,
        "me@x",
    )
    found, _ = db.search(SearchQuery(name="new", id=FIRST_CHATROOM_ID))
    assert found  # the folded name followed the rename
    db.set_users(FIRST_CHATROOM_ID, [3, 1, 3])
    assert db.users_of(FIRST_CHATROOM_ID) == (1, 3)
    with pytest.raises(ValueError):
        db.update_fields([FIRST_CHATROOM_ID], later, "me", unique_id="x")


def test_deleted_ids_are_never_reused(db: SandboxDB) -> None:
    last = FIRST_CHATROOM_ID + 59
    assert db.delete(last) is True
    assert db.delete(last) is False
    new_id = db.insert(NewChatRoom(9001, "n", True, None, NOW, NOW, "t", "u-new"))
    assert new_id == last + 1
    assert db.users_of(last) == ()


def test_transaction_rolls_back(db: SandboxDB) -> None:
    with pytest.raises(RuntimeError), db.transaction():
        db.update_fields([FIRST_CHATROOM_ID], NOW, "x", name="Gone")
        raise RuntimeError("boom")
    row = db.get(FIRST_CHATROOM_ID)
    assert row is not None and row.name != "Gone"


def test_idle_ids(db: SandboxDB) -> None:
    cutoff = NOW - timedelta(days=3)
    expected = [r.id for r in all_rows(db) if r.active and ((r.last_agent_visit or r.created_on) < cutoff)]
    assert db.idle_ids(cutoff) == expected
    assert db.idle_ids(cutoff, among=expected[:1]) == expected[:1]


def test_reset_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "sandbox.sqlite"
    store = SandboxDB(path)
    seed(store, NOW, chatrooms=10)
    store.update_fields([FIRST_CHATROOM_ID], NOW, "x", name="Kept")
    store.close()
    again = SandboxDB(path)
    assert seed_if_empty(again, NOW) is False
    row = again.get(FIRST_CHATROOM_ID)
    assert row is not None and row.name == "Kept"
    again.reset()
    assert again.count() == 0 and again.is_empty()
    again.close()


def test_datetime_round_trip() -> None:
    assert to_db(NOW) == "2024-06-03T12:00:00"
    assert from_db("2024-06-03T12:00:00") == NOW
    assert to_db(None) is None


def test_seeding_thousands_gives_every_row_and_a_full_deep_filtered_page() -> None:
    # How fast at 100,000 rows (the target: seeded in under 30 s, a page in under 1 s): bench/sandbox_scale.py.
    store = SandboxDB(":memory:")
    seed(store, NOW, chatrooms=5_000)
    rows, total = store.search(SearchQuery(active=True, visited_to=NOW - timedelta(hours=4), page=50, size=25))
    assert store.count() == 5_000 and len(rows) == 25 and total > 50 * 25
    cutoff = NOW - timedelta(hours=4)
    assert all(r.active and r.last_agent_visit is not None and r.last_agent_visit <= cutoff for r in rows)
    store.close()


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("Boolean", "True", True),
        ("boolean", "0", False),
        ("Boolean", False, False),
        ("Int32", "42", 42),
        ("int32", 7, 7),
        ("DateTime", "2024-06-10T09:30", datetime(2024, 6, 10, 9, 30, tzinfo=UTC)),
        ("DateTime", "2024-06-10T09:30:15Z", datetime(2024, 6, 10, 9, 30, 15, tzinfo=UTC)),
        ("string", 12, "12"),
        ("EmailAddress", "a@b", "a@b"),
    ],
)
def test_parameter_parsing(kind: str, raw: object, expected: object) -> None:
    assert Parameter("P", kind).parse(raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("Boolean", "maybe"),
        ("Int32", "2.5"),
        ("Int32", "99999999999"),
        ("Decimal", "abc"),
        ("Decimal", "nan"),
        ("DateTime", "tomorrow"),
        ("DateTime", "2024-02-30T10:00"),
        ("string", None),
    ],
)
def test_parameter_parsing_refuses(kind: str, raw: object) -> None:
    with pytest.raises(CommandRefused, match="'P'"):
        Parameter("P", kind).parse(raw)


def test_decimal_parameter() -> None:
    assert str(Parameter("P", "Decimal").parse("2.5")) == "2.5"
    assert parse_datetime("2024-06-10T09:30z").minute == 30


def test_catalogue_orders_are_distinct_and_unsorted() -> None:
    orders = [c.order for c in COMMANDS]
    assert len(set(orders)) == len(orders)
    assert orders != sorted(orders)


def test_db_is_usable_from_threads(db: SandboxDB) -> None:
    import threading

    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                db.search(SearchQuery(active=True))
                db.update_fields([FIRST_CHATROOM_ID], NOW, "t", active=True)
        except (sqlite3.Error, AssertionError) as exc:  # pragma: no cover - failure path
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not errors
