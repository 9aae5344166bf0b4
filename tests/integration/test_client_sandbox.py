"""The real `NexudusClient` over HTTP against the local sandbox: the life cycle, roles, errors, paging,
and the shared contract cases (the same ones `tests/unit/test_client_contract.py` replays through `responses`)."""

from __future__ import annotations

import math
import pathlib
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from helpers.nexudus_contract import CASES, MISSING_ID, ContractCase, run, sandbox_target

from bot.nexudus import (
    ChatRoomChanges,
    ChatRoomFilters,
    CommandFailed,
    Conflict,
    Credentials,
    Direction,
    NewChatRoom,
    NexudusClient,
    NotAuthorised,
    NotFound,
    ValidationFailed,
)
from bot.nexudus.pacing import PacerRegistry
from bot.sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

ADMIN = Credentials("admin@sandbox.local", "sandbox-admin")
READER = Credentials("reader@sandbox.local", "sandbox-reader")
WRONG = Credentials("admin@sandbox.local", "not-the-password")
ACCOUNTS = {"admin": ADMIN, "reader": READER, "wrong": WRONG}


def start_sandbox(**config: object) -> SandboxServer:
    return SandboxServer(db_path=":memory:", port=0, config=SandboxConfig(**config), chatrooms=60).start()  # type: ignore[arg-type]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(throttle=False)
    try:
        yield server
    finally:
        server.stop()


ClientMaker = Callable[..., NexudusClient]


@pytest.fixture
def make_client(sandbox: SandboxServer) -> Iterator[ClientMaker]:
    made: list[NexudusClient] = []

    def make(credentials: Credentials = ADMIN, **kwargs: object) -> NexudusClient:
        options: dict[str, object] = {"retries": 2, "backoff": 0, "pacer": None, "timeout": (5.0, 10.0)}
        options.update(kwargs)
        client = NexudusClient(sandbox.url, credentials, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def admin(make_client: ClientMaker) -> NexudusClient:
    return make_client(ADMIN)


# ----------------------------------------------------------------------------- contract cases
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract_case_against_the_sandbox(case: ContractCase, sandbox: SandboxServer, make_client) -> None:
    target = sandbox_target(sandbox)
    client = make_client(ACCOUNTS[case.account])
    before = sandbox.stats.total
    run(case, client, target)
    assert sandbox.stats.total - before == len(case.exchanges), "the same requests as the canned exchanges"
    for exchange in case.exchanges:
        kind = {"": "search", "/commands": "commands", "/runcommand": "runcommand"}.get(exchange.path)
        if kind is None:
            kind = {"GET": "get", "DELETE": "delete"}[exchange.method]
        elif exchange.method == "POST" and kind == "search":
            kind = "create"
        elif exchange.method == "PUT":
            kind = "update"
        elif "ChatRoom_Id" in (exchange.query or {}):
            kind = "ids"
        assert sandbox.stats.count(exchange.method, kind) >= 1, (exchange.method, kind)


def test_contract_covers_every_operation() -> None:
    methods = {(e.method, e.path) for c in CASES for e in c.exchanges}
    assert methods >= {
        ("GET", ""),
        ("GET", "/{existing_id}"),
        ("GET", "/commands"),
        ("POST", ""),
        ("PUT", ""),
        ("DELETE", "/{disposable_id}"),
        ("POST", "/runcommand"),
    }


# ----------------------------------------------------------------------------- the life cycle
def test_full_life_cycle(sandbox: SandboxServer, make_client) -> None:
    admin = make_client(ADMIN)
    business = sandbox.db.businesses()[0][0]
    visit = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    started = datetime.now(UTC) - timedelta(minutes=5)

    # create
    new_id = admin.create(
        NewChatRoom(
            business_id=business,
            name="Life cycle room",
            active=True,
            last_agent_visit=visit,
            users=[101, 102],
            system_id="ext-42",
        )
    )
    assert sandbox.db.get(new_id) is not None

    # find with filters
    page = admin.find(
        ChatRoomFilters(name="Life cycle room", active=True, business=business, created_from=started),
        size=10,
    )
    assert [r.id for r in page.records] == [new_id]
    assert page.total_items == 1 and page.has_next_page is False
    listed = page.records[0]
    assert listed.business == business and listed.users is None
    assert listed.last_agent_visit == visit

    # find_by_ids keeps the asked order and drops the missing
    other = sandbox_target(sandbox).existing_id
    assert [r.id for r in admin.find_by_ids([new_id, MISSING_ID, other])] == [new_id, other]
    assert [r.id for r in admin.find_by_ids([other, new_id])] == [other, new_id]

    # get
    record = admin.get(new_id)
    assert record.name == "Life cycle room"
    assert record.business_id == business
    assert sorted(record.users or []) == [101, 102]
    assert record.active is True
    assert record.system_id == "ext-42"
    assert record.last_agent_visit == visit
    assert record.updated_by == ADMIN.email

    # edit keeps Users and every other field
    merged = admin.edit(
        new_id,
        ChatRoomChanges(name="Renamed room"),
        expected_updated_on=record.updated_on,
        expected_fingerprint=record.fingerprint(),
    )
    assert merged.name == "Renamed room"
    row = sandbox.db.get(new_id)
    assert row is not None
    assert row.name == "Renamed room"
    assert sorted(row.users) == [101, 102]
    assert row.active is True
    assert row.business_id == business
    assert row.system_id == "ext-42"
    assert row.last_agent_visit == visit
    assert row.unique_id == record.unique_id
    assert row.created_on == record.created_on
    after = admin.get(new_id)
    assert after.fingerprint() == merged.fingerprint()

    # a concurrent edit: another client changes the record between our read and our edit
    seen = admin.get(new_id)
    someone_else = make_client(Credentials("owner@sandbox.local", "sandbox-owner"))
    someone_else.edit(new_id, ChatRoomChanges(active=False))
    with pytest.raises(Conflict) as info:
        admin.edit(
            new_id,
            ChatRoomChanges(name="Would overwrite"),
            expected_updated_on=seen.updated_on,
            expected_fingerprint=seen.fingerprint(),
        )
    assert info.value.current.active is False
    row = sandbox.db.get(new_id)
    assert row is not None and row.name == "Renamed room" and row.active is False

    # run commands and see their effect
    commands = {c.key: c for c in admin.commands()}
    rename = commands["RENAME"]
    result = admin.run_command("RENAME", [new_id], [(rename.requires_parameters[0], "By command")])
    assert result.was_successful
    assert admin.get(new_id).name == "By command"
    set_active = commands["SET_ACTIVE"]
    admin.run_command("SET_ACTIVE", [new_id], [(set_active.requires_parameters[0], "true")])
    assert admin.get(new_id).active is True
    assert sorted(admin.get(new_id).users or []) == [101, 102]

    # delete
    deleted = admin.delete(new_id)
    assert deleted.was_successful
    with pytest.raises(NotFound) as missing:
        admin.get(new_id)
    assert missing.value.chatroom_id == new_id
    assert sandbox.db.get(new_id) is None
    with pytest.raises(NotFound):
        admin.delete(new_id)


def test_edit_can_change_users_and_visit_without_touching_the_rest(sandbox: SandboxServer, admin) -> None:
    target = sandbox_target(sandbox)
    before = sandbox.db.get(target.existing_id)
    assert before is not None
    visit = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    admin.edit(target.existing_id, ChatRoomChanges(users=[7, 8, 9], last_agent_visit=visit))
    after = sandbox.db.get(target.existing_id)
    assert after is not None
    assert sorted(after.users) == [7, 8, 9]
    assert after.last_agent_visit == visit
    for name in ("name", "active", "business_id", "system_id", "unique_id", "created_on"):
        assert getattr(after, name) == getattr(before, name), name


def test_raw_replace_clears_missing_properties_which_edit_avoids(sandbox: SandboxServer, admin) -> None:
    target = sandbox_target(sandbox)
    record = admin.get(target.existing_id)
    admin.replace({"Id": record.id, "BusinessId": record.business_id, "Name": record.name})
    row = sandbox.db.get(target.existing_id)
    assert row is not None and row.users == () and row.active is False


# ----------------------------------------------------------------------------- roles and credentials
def test_reader_can_list_and_read_but_not_write(sandbox: SandboxServer, make_client) -> None:
    reader = make_client(READER)
    target = sandbox_target(sandbox)
    assert reader.probe() is True
    assert reader.get(target.existing_id).id == target.existing_id
    with pytest.raises(NotAuthorised) as info:
        reader.delete(target.existing_id)
    assert info.value.role == "ChatRoom-Delete"
    with pytest.raises(NotAuthorised) as info:
        reader.create(NewChatRoom(business_id=target.business_id, name="x"))
    assert info.value.role == "ChatRoom-Create"
    with pytest.raises(NotAuthorised) as info:
        reader.edit(target.existing_id, ChatRoomChanges(name="x"))
    assert info.value.role == "ChatRoom-Edit"
    with pytest.raises(NotAuthorised) as info:
        reader.run_command("MARK_VISITED", [target.existing_id])
    assert info.value.role == "ChatRoom-Edit"
    assert sandbox.db.get(target.existing_id) is not None


def test_bad_password(make_client) -> None:
    wrong = make_client(WRONG)
    assert wrong.probe() is False
    with pytest.raises(NotAuthorised) as info:
        wrong.find()
    assert info.value.role == "ChatRoom-List"
    assert WRONG.password not in str(info.value) and WRONG.password not in repr(info.value)
    assert make_client(Credentials("nobody@sandbox.local", "sandbox-admin")).probe() is False


# ----------------------------------------------------------------------------- errors
def test_create_without_a_name_names_the_field(sandbox: SandboxServer, admin) -> None:
    count = sandbox.db.count()
    with pytest.raises(ValidationFailed) as info:
        admin.create(NewChatRoom(business_id=sandbox_target(sandbox).business_id))
    assert "Name" in info.value.by_field()
    with pytest.raises(ValidationFailed) as info:
        admin.create(NewChatRoom(business_id=MISSING_ID, name=" "))
    assert set(info.value.by_field()) >= {"BusinessId", "Name"}
    assert sandbox.db.count() == count


def test_edit_to_an_empty_name_is_refused(sandbox: SandboxServer, admin) -> None:
    target = sandbox_target(sandbox)
    with pytest.raises(ValidationFailed) as info:
        admin.edit(target.existing_id, ChatRoomChanges(name=""))
    assert "Name" in info.value.by_field()


@pytest.mark.parametrize(
    ("key", "ids", "values"),
    [
        ("NO_SUCH_COMMAND", "one", ()),
        ("RENAME", "two", ("x",)),  # runs on exactly one chatroom
        ("RENAME", "one", ("   ",)),  # the effect refuses an empty name
        ("SCHEDULE_FOLLOW_UP", "two", ("2026-11-01T10:00", "9")),  # priority out of range
        ("MARK_VISITED", "missing", ()),
    ],
)
def test_failing_command_is_command_failed(sandbox: SandboxServer, admin, key, ids, values) -> None:
    target = sandbox_target(sandbox)
    chosen = {
        "one": [target.existing_id],
        "two": [target.existing_id, target.disposable_id],
        "missing": [MISSING_ID],
    }[ids]
    params = {c.key: c.requires_parameters for c in admin.commands()}.get(key, [])
    before = sandbox.db.get(target.existing_id)
    with pytest.raises(CommandFailed) as info:
        admin.run_command(key, chosen, list(zip(params, values, strict=True)))
    assert info.value.result is not None and info.value.result.was_successful is False
    assert str(info.value)
    assert sandbox.db.get(target.existing_id) == before


def test_commands_are_sorted_and_complete(admin) -> None:
    commands = admin.commands()
    assert [c.order for c in commands] == sorted(c.order for c in commands)
    assert {"RENAME", "SET_ACTIVE", "MARK_VISITED"} <= {c.key for c in commands}


def test_server_down_is_unavailable() -> None:
    from bot.nexudus import Unavailable

    server = start_sandbox(throttle=False)
    url = server.url
    server.stop()
    client = NexudusClient(url, ADMIN, retries=1, backoff=0, timeout=(0.5, 0.5))
    try:
        with pytest.raises(Unavailable):
            client.find()
    finally:
        client.close()


# ----------------------------------------------------------------------------- paging and filters
def test_iter_pages_walks_the_whole_demo_set(sandbox: SandboxServer, admin) -> None:
    total = sandbox.db.count()
    assert total == 60
    pages = list(admin.iter_pages(size=7))
    assert len(pages) == math.ceil(total / 7)
    ids = [r.id for p in pages for r in p.records]
    assert len(ids) == total and len(set(ids)) == total
    assert ids == sorted(ids)
    assert [p.current_page for p in pages] == list(range(1, len(pages) + 1))
    assert pages[-1].has_next_page is False and all(p.has_next_page for p in pages[:-1])
    assert [r.id for r in admin.iter_chatrooms(size=1000)] == ids
    descending = [r.id for r in admin.iter_chatrooms(size=25, direction=Direction.DESCENDING)]
    assert descending == sorted(ids, reverse=True)


def test_iter_pages_respects_max_pages(admin) -> None:
    assert len(list(admin.iter_pages(size=5, max_pages=3))) == 3


def test_filters_select_what_they_say(sandbox: SandboxServer, admin) -> None:
    everything = list(admin.iter_chatrooms(size=1000))
    visits = sorted(r.last_agent_visit for r in everything if r.last_agent_visit)
    low, high = visits[len(visits) // 4], visits[3 * len(visits) // 4]
    business = everything[0].business
    cases: list[tuple[ChatRoomFilters, Callable[..., bool]]] = [
        (ChatRoomFilters(active=True), lambda r: r.active is True),
        (ChatRoomFilters(active=False), lambda r: r.active is False),
        (ChatRoomFilters(business=business), lambda r: r.business == business),
        # Range filters have minute resolution (`YYYY-MM-DDTHH:mm`), both ends inclusive.
        (
            ChatRoomFilters(visited_from=low.replace(second=0), visited_to=high.replace(second=0)),
            lambda r: (
                r.last_agent_visit is not None and low.replace(second=0) <= r.last_agent_visit <= high.replace(second=0)
            ),
        ),
        (
            ChatRoomFilters(created_from=low.replace(second=0) - timedelta(days=30)),
            lambda r: r.created_on is not None and r.created_on >= low.replace(second=0) - timedelta(days=30),
        ),
        (ChatRoomFilters(id=everything[3].id), lambda r: r.id == everything[3].id),
    ]
    for filters, keep in cases:
        expected = [r.id for r in everything if keep(r)]
        got = [r.id for r in admin.iter_chatrooms(filters, size=1000)]
        assert got == expected, filters
        assert expected, f"the demo set exercises {filters}"


# ----------------------------------------------------------------------------- throttling
def test_throttled_read_waits_retry_after_and_succeeds() -> None:
    server = start_sandbox(throttle=True)
    client = NexudusClient(server.url, ADMIN, retries=2, backoff=0, pacer=None)
    try:
        client.find(size=1)
        client.find(size=1)  # within 100 ms: 409 Retry-After 1, then retried
        assert server.stats.statuses[409] >= 1
        assert server.stats.statuses[200] == 2
    finally:
        client.close()
        server.stop()


def test_pacer_keeps_a_client_under_the_throttle() -> None:
    server = start_sandbox(throttle=True)
    client = NexudusClient(server.url, ADMIN, retries=0, pacer=PacerRegistry().for_account(ADMIN.email))
    try:
        for _ in range(4):
            client.find(size=1)
        client.create(NewChatRoom(business_id=server.db.businesses()[0][0], name="Paced"))
        assert server.stats.statuses[409] == 0
    finally:
        client.close()
        server.stop()
