"""The real adapter against the sandbox speaking every documented dialect: the shared contract cases,
detection (and its cost), throttling answers, local times with a `Z`, extra record fields, tokens and 2FA."""

from __future__ import annotations

import logging
import pathlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from helpers.nexudus_contract import CASES, ContractCase, run, sandbox_target

from bot.nexudus import (
    ChatRoomChanges,
    ChatRoomFilters,
    Credentials,
    Direction,
    NewChatRoom,
    NexudusClient,
    NotAuthorised,
    RateLimited,
)
from bot.nexudus.auth import TokenRefused, exchange_password, refresh_tokens
from bot.nexudus.dialect import DialectMemory
from bot.nexudus.timecodec import TimeCodec
from bot.sandbox.dialects import DIALECT_NAMES, LOCAL_ZONE, TOTP_SECRET, dialect, totp
from bot.sandbox.server import SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

ADMIN = ("admin@sandbox.local", "sandbox-admin")
READER = ("reader@sandbox.local", "sandbox-reader")
TWO_FACTOR = ("2fa@sandbox.local", "sandbox-2fa")


def login(server: SandboxServer, email: str, password: str, name: str) -> Credentials:
    """A token login where the dialect offers one (every dialect but `no-token`), else the password."""
    if name == "no-token":
        return Credentials(email, password)
    with requests.Session() as session:
        return exchange_password(session, server.url, email, password, now=server.app.now())


def codec_for(name: str) -> TimeCodec:
    return TimeCodec(ZoneInfo(LOCAL_ZONE)) if name == "local-times" else TimeCodec(UTC)


@pytest.fixture(params=DIALECT_NAMES)
def spoken(request: pytest.FixtureRequest) -> Iterator[tuple[str, SandboxServer]]:
    server = SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect(request.param)), chatrooms=60)
    server.start()
    try:
        yield request.param, server
    finally:
        server.stop()


def make(server: SandboxServer, name: str, credentials: Credentials, memory: DialectMemory) -> NexudusClient:
    return NexudusClient(
        server.url, credentials, codec=codec_for(name), retries=2, backoff=0, pacer=None, dialects=memory
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_contract_case_in_every_dialect(case: ContractCase, spoken: tuple[str, SandboxServer]) -> None:
    name, server = spoken
    target = sandbox_target(server)
    accounts = {
        "admin": login(server, *ADMIN, name),
        "reader": login(server, *READER, name),
        "wrong": Credentials(ADMIN[0], "not-the-password")
        if name == "no-token"
        else Credentials(ADMIN[0], access_token="revoked-or-made-up"),
    }
    memory = DialectMemory()
    # Learn the dialect once (what the first use on a server does), then the case costs exactly its requests.
    learner = make(server, name, accounts["admin"], memory)
    learner.find(direction=Direction.DESCENDING, size=5)
    learner.find_by_ids([target.existing_id, target.missing_id])
    client = make(server, name, accounts[case.account], memory)
    before = server.stats.total
    run(case, client, target)
    assert server.stats.total - before == len(case.exchanges), "after detection, the same requests as documented"


def test_detection_is_remembered_and_costs_nothing_the_second_time(spoken: tuple[str, SandboxServer]) -> None:
    name, server = spoken
    memory = DialectMemory()
    client = make(server, name, login(server, *ADMIN, name), memory)
    ids = [1_000_003, 1_000_001, 987_654_321]

    before = server.stats.total
    first = client.find_by_ids(ids)
    first_cost = server.stats.total - before
    before = server.stats.total
    again = client.find_by_ids(ids)
    assert server.stats.total - before == 1, "one request once the form is known"
    assert [r.id for r in first] == [r.id for r in again] == [1_000_003, 1_000_001], "none dropped, order kept"
    assert first_cost <= 2

    page = client.find(direction=Direction.DESCENDING, size=10)
    assert [r.id for r in page.records] == sorted((r.id for r in page.records), reverse=True)
    before = server.stats.total
    client.find(direction=Direction.DESCENDING, size=10)
    assert server.stats.total - before == 1

    learnt = memory.get(server.url)
    assert learnt.ids == ("array" if name in ("ids-array", "reference") else "envelope")
    expected_dir = {"dir-signed": "signed", "reference": "signed", "dir-binary": "binary"}.get(name, "name")
    assert learnt.dir == expected_dir


def test_a_sorted_walk_is_in_order_in_every_dialect(spoken: tuple[str, SandboxServer]) -> None:
    name, server = spoken
    client = make(server, name, login(server, *ADMIN, name), DialectMemory())
    for direction in (Direction.ASCENDING, Direction.DESCENDING):
        visits = [
            r.last_agent_visit
            for r in client.iter_chatrooms(size=7, order_by="LastAgentVisit", direction=direction)
            if r.last_agent_visit
        ]
        assert len(visits) > 40
        assert visits == sorted(visits, reverse=direction == Direction.DESCENDING)


@pytest.mark.parametrize("name", ["seed", "throttle-empty", "throttle-429", "reference"])
def test_throttling_in_each_form_is_waited_out_or_named(name: str) -> None:
    skipped = [0.0]  # seconds the sandbox's throttle clock is moved on, instead of sleeping
    config = SandboxConfig(throttle=True, dialect=dialect(name), clock=lambda: time.monotonic() + skipped[0])
    with SandboxServer(config=config, chatrooms=5) as server:
        credentials = login(server, *ADMIN, name)
        patient = NexudusClient(server.url, credentials, retries=2, backoff=0, pacer=None)
        assert patient.find().records  # 1st
        assert patient.find().records, "a throttled read waits Retry-After and succeeds"
        assert server.stats.statuses[dialect(name).throttle_status] >= 1
        hasty = NexudusClient(server.url, credentials, retries=0, backoff=0, pacer=None)
        skipped[0] += 1.0
        hasty.find()
        with pytest.raises(RateLimited) as info:
            hasty.find()
        assert info.value.retry_after == 1


def test_local_times_are_read_and_written_in_the_space_zone_and_a_wrong_zone_is_noticed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect("local-times")), chatrooms=5) as server:
        credentials = login(server, *ADMIN, "local-times")
        memory = DialectMemory()
        right = make(server, "local-times", credentials, memory)
        visit = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
        new_id = right.create(NewChatRoom(business_id=9001, name="Zoned", last_agent_visit=visit))
        record = right.get(new_id)
        assert record.last_agent_visit == visit
        assert server.db.get(new_id).last_agent_visit == visit  # type: ignore[union-attr]
        assert memory.get(server.url).time_offset_minutes == 60  # Madrid in winter

        wrong_memory = DialectMemory()
        wrong = NexudusClient(server.url, credentials, pacer=None, dialects=wrong_memory)
        with caplog.at_level(logging.WARNING, logger="bot.nexudus.client"):
            wrong.edit(new_id, ChatRoomChanges(name="Zoned again"))
            wrong.get(new_id)
        assert "local times with a Z" in caplog.text
        assert wrong_memory.get(server.url).time_offset_minutes == 60


def test_extra_fields_survive_an_edit_and_computed_ones_are_not_sent_back() -> None:
    with SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect("extra-fields")), chatrooms=5) as server:
        client = make(server, "extra-fields", login(server, *ADMIN, "extra-fields"), DialectMemory())
        record = client.get(1_000_001)
        assert record.model_extra and {"IsNew", "ToStringText", "CustomFields", "AddedUsers"} <= set(record.model_extra)
        users = list(record.users or [])
        edited = client.edit(1_000_001, ChatRoomChanges(name="Kept members"))
        assert edited.users == users
        assert server.db.get(1_000_001).users == tuple(users) or list(server.db.get(1_000_001).users) == users  # type: ignore[union-attr]


def test_find_by_ids_falls_back_to_one_read_per_id_when_no_batch_form_works() -> None:
    with SandboxServer(config=SandboxConfig(throttle=False), chatrooms=10) as server:
        real = server.app.handle

        def no_batch(request):  # type: ignore[no-untyped-def]
            if "id=" in request.target.lower():  # ChatRoom_Id and id: a server ignoring both
                request.target = request.target.split("?")[0] + "?page=1&size=25"
            return real(request)

        server.app.handle = no_batch  # type: ignore[method-assign]
        memory = DialectMemory()
        client = make(server, "seed", Credentials(*ADMIN), memory)
        found = client.find_by_ids([1_000_004, 987_654_321, 1_000_002])
        assert [r.id for r in found] == [1_000_004, 1_000_002]
        assert memory.get(server.url).ids == "per-id"


# ----------------------------------------------------------------------------------- tokens
def test_token_login_refresh_and_two_factor() -> None:
    with SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect("bearer-only")), chatrooms=3) as server:
        now = server.app.now()
        session = requests.Session()
        with pytest.raises(TokenRefused) as missing:
            exchange_password(session, server.url, *TWO_FACTOR, now=now)
        assert missing.value.needs_code
        with pytest.raises(TokenRefused) as wrong:
            exchange_password(session, server.url, *TWO_FACTOR, now=now, totp="000000")
        assert wrong.value.needs_code
        code = totp(TOTP_SECRET, server.config.now())
        tokens = exchange_password(session, server.url, *TWO_FACTOR, now=now, totp=code)
        assert tokens.bearer and tokens.password == "" and tokens.expires_at == now + timedelta(seconds=604_799)
        assert NexudusClient(server.url, tokens, pacer=None).probe()
        with pytest.raises(NotAuthorised):
            NexudusClient(server.url, Credentials(*ADMIN), pacer=None, retries=0).find()  # Basic refused here

        fresh = refresh_tokens(session, server.url, tokens, now=now)
        assert fresh.access_token != tokens.access_token and fresh.refresh_token != tokens.refresh_token
        assert NexudusClient(server.url, fresh, pacer=None).probe()
        with pytest.raises(TokenRefused):
            refresh_tokens(session, server.url, tokens, now=now)  # a refresh token works once

        form = session.post(server.url + "/token", json={"grant_type": "password"}, timeout=5)
        assert form.status_code == 400 and form.json() == {"error": "unsupported_grant_type"}
        bad = session.post(server.url + "/token", data={"grant_type": "password", "username": ADMIN[0]}, timeout=5)
        assert bad.json()["error"] == "invalid_grant"


def test_filters_read_the_space_zone_in_local_times() -> None:
    with SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect("local-times")), chatrooms=60) as server:
        client = make(server, "local-times", login(server, *ADMIN, "local-times"), DialectMemory())
        rows = [r for r in client.iter_chatrooms() if r.last_agent_visit]
        visited = sorted(r.last_agent_visit for r in rows if r.last_agent_visit)
        cutoff = visited[len(visited) // 2]
        before = {r.id for r in client.iter_chatrooms(ChatRoomFilters(visited_to=cutoff))}
        earlier = {r.id for r in rows if r.last_agent_visit and r.last_agent_visit < cutoff - timedelta(minutes=1)}
        later = {r.id for r in rows if r.last_agent_visit and r.last_agent_visit > cutoff + timedelta(minutes=1)}
        assert earlier and earlier <= before, "the filter's wall clock is read in the space zone"
        assert not later & before
