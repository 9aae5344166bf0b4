"""Shared stale scans (`bot/scans.py`): one scan per Nexudus account and business filter a cycle.

Against the sandbox, whose accounts here see only some businesses (as Nexudus users with access to some
locations), the fake Slack and a FakeClock. The same cycles run with and without sharing must post the same
digests; sharing only saves requests.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ADMIN, FakeClock
from helpers.rooms import add_room
from slack_sdk import WebClient

from bot.alerts import AlertWorker, CycleReport
from bot.console.fake_slack import FakeSlack
from bot.deps import Deps
from bot.nexudus.client import ClientFactory, NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NotFound
from bot.nexudus.pacing import PacerRegistry
from bot.sandbox.seed import ALL_ROLES, DEMO_USERS, ROLE_LIST, ROLE_READ, DemoUser
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.scans import Scan, SharedScans, StaleRoom
from bot.settings import Settings
from bot.slack.publisher import SlackPublisher
from bot.store import Subscription
from bot.wiring import build_deps

TEAM = "T0001"
NORTH = DemoUser("north@sandbox.local", "sandbox-north", ALL_ROLES, businesses=frozenset({9001, 9002}))
SOUTH = DemoUser(
    "south@sandbox.local", "sandbox-south", frozenset({ROLE_LIST, ROLE_READ}), businesses=frozenset({9002, 9003})
)
USERS = {**DEMO_USERS, NORTH.email: NORTH, SOUTH.email: SOUTH}
LOGINS = {
    "UADMIN1": ADMIN,
    "UADMIN2": ADMIN,
    "UNORTH": (NORTH.email, NORTH.password),
    "USOUTH": (SOUTH.email, SOUTH.password),
}
H = timedelta(hours=1)


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    server = SandboxServer(config=SandboxConfig(throttle=False), now=clock, chatrooms=0, users=USERS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def subscribe(
    deps: Deps, user: str, channel: str, threshold: int, business: int | None = None, **extra: object
) -> Subscription:
    if deps.store.load_credentials(TEAM, user) is None:
        deps.services.login(TEAM, user, *LOGINS[user])
    sub = Subscription(
        team_id=TEAM,
        channel_id=channel,
        created_by=user,
        threshold_minutes=threshold,
        business_id=business,
        created_at=deps.clock(),
        **extra,
    )
    return deps.store.add_subscription(sub)


def worker(deps: Deps, fake: FakeSlack, *, share: bool = True) -> AlertWorker:
    slack = WebClient(token="xoxb-test", base_url=fake.api_url)
    return AlertWorker(deps, SlackPublisher(slack, sleep=lambda seconds: None), share_scans=share)


def digest_rooms(fake: FakeSlack) -> dict[str, set[int]]:
    """Chatroom ids each channel was posted about (each digest row shows its id as `#N`)."""
    rooms: dict[str, set[int]] = {}
    for call in fake.calls("chat.postMessage"):
        if call.error is None:
            found = re.findall(r"`#(\d+)`", json.dumps(call.args.get("blocks", []), ensure_ascii=False))
            rooms.setdefault(call.args["channel"], set()).update(int(i) for i in found)
    return rooms


def messages(fake: FakeSlack) -> list[tuple[str, str, str]]:
    """Every post and update as (method, channel, text): what people saw, in order."""
    return [
        (c.method, c.args["channel"], c.args.get("text", ""))
        for c in fake.calls()
        if c.error is None and c.method in ("chat.postMessage", "chat.update")
    ]


def same_outcome(report: CycleReport) -> tuple[int, ...]:
    """A report's figures but the requests (which sharing changes on purpose)."""
    return (
        report.subscriptions,
        report.paused,
        report.resumed,
        report.chatrooms_alerted,
        report.resolved,
        report.digests_posted,
        report.digests_updated,
        report.quiet,
        report.errors,
    )


# ------------------------------------------------------------------------------- same alerts


def test_shared_scans_post_exactly_what_one_scan_a_subscription_posts(
    settings: Settings, sandbox: SandboxServer, clock: FakeClock, tmp_path: Path
) -> None:
    for business, ago in [(9001, 0.3), (9001, 0.75), (9001, 1.5), (9002, 2.5), (9002, 3.3), (9003, 5), (9004, 10)]:
        add_room(sandbox, clock, business=business, visited_ago=ago * H)
    add_room(sandbox, clock, business=9002, visited_ago=None, created_ago=5 * H)  # never visited
    add_room(sandbox, clock, business=9001, visited_ago=12 * H, active=False)  # closed
    with ExitStack() as stack:
        runs = []
        for share in (True, False):
            deps = build_deps(
                settings.model_copy(update={"store_path": tmp_path / f"{share}.sqlite"}),
                clock=clock,
                clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False)),
            )
            stack.callback(deps.store.close)
            fake = stack.enter_context(FakeSlack())
            runs.append((deps, fake, worker(deps, fake, share=share)))
            subscribe(deps, "UADMIN1", "C1", 60)
            subscribe(deps, "UADMIN2", "C2", 240)
            subscribe(deps, "UADMIN1", "C3", 120, 9002)
            subscribe(deps, "UADMIN1", "C1", 240, 9001)  # the channel of the first: told once about one wait
            subscribe(deps, "UNORTH", "C4", 60, 9001)
            subscribe(deps, "UNORTH", "C5", 180, 9002)
            subscribe(deps, "USOUTH", "C6", 30)
            subscribe(deps, "UADMIN1", "C7", 10, open_hours=(0, 60))  # quiet now: neither scanned nor planned
        (_, shared_slack, shared), (_, unshared_slack, unshared) = runs
        requests = {shared: 0, unshared: 0}

        def cycle() -> None:
            reports = []
            for alerts in (shared, unshared):
                before = sandbox.stats.count("GET")
                reports.append(alerts.run_cycle())
                assert reports[-1].nexudus_requests == sandbox.stats.count("GET") - before
                requests[alerts] += reports[-1].nexudus_requests
            assert same_outcome(reports[0]) == same_outcome(reports[1])
            assert messages(shared_slack) == messages(unshared_slack)
            assert digest_rooms(shared_slack) == digest_rooms(unshared_slack)

        cycle()
        first = digest_rooms(shared_slack)
        assert first["C4"] and first["C5"] and first["C6"] and "C7" not in first
        assert requests[shared] < requests[unshared]
        clock.advance(minutes=40)
        visited = sorted(first["C1"])[:2]
        sandbox.db.update_fields(visited, clock(), "System", last_agent_visit=clock())  # resolved in Nexudus
        add_room(sandbox, clock, business=9003, visited_ago=6 * H)
        cycle()
        clock.advance(minutes=30)
        cycle()
        assert requests[shared] < requests[unshared]
        assert [c.method for c in shared_slack.calls("chat.update")], "the visited rooms were shown resolved"


def test_one_account_with_different_thresholds_and_businesses_costs_one_scan(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    recent = add_room(sandbox, clock, business=9001, visited_ago=1.5 * H)
    old = add_room(sandbox, clock, business=9001, visited_ago=5 * H)
    other = add_room(sandbox, clock, business=9002, visited_ago=0.75 * H)
    hourly = subscribe(deps, "UADMIN1", "C1", 60)
    four_hours = subscribe(deps, "UADMIN2", "C2", 240)  # another Slack user, logged in to the same account
    only_9002 = subscribe(deps, "UADMIN1", "C3", 30, 9002)
    before = sandbox.stats.count("GET")

    report = worker(deps, fake_slack).run_cycle()

    # One scan at the smallest threshold (30 min): one never-visited probe and one page of visited rooms.
    assert sandbox.stats.count("GET") - before == report.nexudus_requests == 2
    assert digest_rooms(fake_slack) == {"C1": {recent, old}, "C2": {old}, "C3": {other}}
    alerted = {
        sub.channel_id: {a.chatroom_id for a in deps.store.alerts_for(sub.id)}
        for sub in (hourly, four_hours, only_9002)
    }
    assert alerted == {"C1": {recent, old}, "C2": {old}, "C3": {other}}

    before = sandbox.stats.count("GET")
    assert worker(deps, fake_slack, share=False).run_cycle().nexudus_requests == 6  # what sharing saved
    assert sandbox.stats.count("GET") - before == 6


def test_different_accounts_never_share_a_scan_nor_see_each_others_rooms(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    rooms = {
        business: add_room(sandbox, clock, business=business, visited_ago=9 * H)
        for business in (9001, 9002, 9003, 9004)
    }
    subscribe(deps, "UNORTH", "CNORTH", 240)
    subscribe(deps, "USOUTH", "CSOUTH", 240)
    subscribe(deps, "UADMIN1", "CADMIN", 240)
    subscribe(deps, "UADMIN2", "CADMIN2", 480)  # the admin account again: its scan is shared
    before = sandbox.stats.count("GET")

    report = worker(deps, fake_slack).run_cycle()

    assert digest_rooms(fake_slack) == {
        "CNORTH": {rooms[9001], rooms[9002]},
        "CSOUTH": {rooms[9002], rooms[9003]},
        "CADMIN": set(rooms.values()),
        "CADMIN2": set(rooms.values()),
    }
    assert sandbox.stats.count("GET") - before == report.nexudus_requests == 3 * 2  # a scan an account


def test_an_incomplete_shared_scan_never_resolves(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = [add_room(sandbox, clock, business=9001, visited_ago=(5 + n) * H) for n in range(6)]
    subscribe(deps, "UADMIN1", "C1", 60)
    subscribe(deps, "UADMIN2", "C2", 240)
    first = worker(deps, fake_slack).run_cycle()
    assert (first.chatrooms_alerted, first.resolved, first.nexudus_requests) == (12, 0, 2)  # one complete scan

    # Now a scan reads at most 2 pages of 2: the never-visited probe and the two oldest visited rooms.
    monkeypatch.setattr("bot.alerts.SharedScans", functools.partial(SharedScans, page_size=2, max_pages=2))
    before = sandbox.stats.count("GET")
    report = worker(deps, fake_slack).run_cycle()
    assert report.resolved == 0 and report.digests_updated == 0
    # The 1-hour scan stopped before the 4-hour cutoff: the 4-hour subscription scanned on its own, as
    # it would without sharing, and stopped early too. Nothing unseen was resolved.
    assert sandbox.stats.count("GET") - before == report.nexudus_requests == 4
    for sub in deps.store.subscriptions():
        assert {a.chatroom_id for a in deps.store.alerts_for(sub.id) if a.resolved_at is None} == set(stale)
    assert not fake_slack.calls("chat.update")

    # Once a scan sees them all again, a room visited meanwhile is resolved for both.
    monkeypatch.undo()
    sandbox.db.update_fields([stale[0]], clock(), "System", last_agent_visit=clock())
    assert worker(deps, fake_slack).run_cycle().resolved == 2


def test_a_shared_scan_stopped_past_a_larger_threshold_still_resolves_for_it(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = add_room(sandbox, clock, business=9001, visited_ago=10 * H)
    add_room(sandbox, clock, business=9001, visited_ago=9 * H)
    for n in range(4):
        add_room(sandbox, clock, business=9001, visited_ago=(1.5 + n / 10) * H)
    subscribe(deps, "UADMIN1", "C1", 60)
    four_hours = subscribe(deps, "UADMIN2", "C2", 240)
    worker(deps, fake_slack).run_cycle()
    sandbox.db.update_fields([old], clock(), "System", last_agent_visit=clock())

    monkeypatch.setattr("bot.alerts.SharedScans", functools.partial(SharedScans, page_size=2, max_pages=3))
    before = sandbox.stats.count("GET", "search")
    report = worker(deps, fake_slack).run_cycle()
    # The 1-hour scan read the 4-hour rooms and beyond (visits 1.6 h ago) before it stopped: the 4-hour
    # subscription saw everything stale for it, so its visited room is resolved; the 1-hour one's waits.
    assert sandbox.stats.count("GET", "search") - before == 3
    assert report.resolved == 1
    resolved = [a for a in deps.store.alerts_for(four_hours.id) if a.resolved_at is not None]
    assert [a.chatroom_id for a in resolved] == [old]


def test_a_refused_login_pauses_every_subscription_of_it_and_tells_each_channel_once(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    add_room(sandbox, clock, business=9001, visited_ago=5 * H)
    subs = [subscribe(deps, "UADMIN1", "C1", 60), subscribe(deps, "UADMIN1", "C2", 240, 9001)]
    subscribe(deps, "UNORTH", "C3", 60)  # another account: unaffected
    deps.store.save_credentials(TEAM, "UADMIN1", Credentials(ADMIN[0], "changed-in-nexudus"), clock())
    alerts = worker(deps, fake_slack)
    before = sandbox.stats.count("GET", "search")

    report = alerts.run_cycle()

    assert (report.paused, report.digests_posted) == (2, 1)
    # The refused login was sent once, for both of its subscriptions; the other account scanned (2).
    assert sandbox.stats.count("GET", "search") - before == 1 + 2
    for sub in subs:
        stored = deps.store.get_subscription(sub.id)
        assert stored is not None and stored.paused_reason is not None and "no longer accepts" in stored.paused_reason
    for channel in ("C1", "C2"):
        notices = [c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] == channel]
        assert len(notices) == 1 and "paused" in notices[0].args["text"]

    assert alerts.run_cycle().paused == 2  # not retried, nor told again
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.args["channel"] in ("C1", "C2")]) == 2
    deps.services.login(TEAM, "UADMIN1", *ADMIN)
    assert alerts.run_cycle().resumed == 2


def test_a_sandbox_account_with_some_businesses_reads_edits_and_deletes_only_their_chatrooms(
    sandbox: SandboxServer, clock: FakeClock
) -> None:
    """What the tests above rely on: the sandbox's accounts may see only some businesses, as in Nexudus."""
    mine, theirs = (
        add_room(sandbox, clock, business=9001, visited_ago=H),
        add_room(sandbox, clock, business=9004, visited_ago=H),
    )
    client = NexudusClient(sandbox.url, Credentials(NORTH.email, NORTH.password), retries=0)
    try:
        assert [room.id for room in client.iter_chatrooms(size=10)] == [mine]
        assert [room.id for room in client.find_by_ids([mine, theirs])] == [mine]
        assert client.get(mine).id == mine
        with pytest.raises(NotFound):
            client.get(theirs)
        with pytest.raises(NotFound):
            client.delete(theirs)
    finally:
        client.close()
    assert sandbox.db.get(theirs) is not None


def test_a_business_less_scan_serves_a_business_only_when_its_records_carry_their_business(clock: FakeClock) -> None:
    now = clock()
    rooms = [StaleRoom(1, 9001, "A", now - 5 * H, now - 50 * H), StaleRoom(2, None, "B", now - 6 * H, now - 50 * H)]
    unknown = Scan(None, 30, now, rooms, complete=True, visited_through=None, businesses_known=False)
    known = Scan(None, 30, now, rooms[:1], complete=True, visited_through=None, businesses_known=True)
    assert unknown.serves(60, None) and known.serves(60, None)
    assert not unknown.serves(60, 9001)  # room 2 might be 9001's: that subscription scans its business itself
    assert known.serves(60, 9001)
    assert not known.serves(20, 9001)  # a smaller threshold than the scan's would miss rooms
    stopped = Scan(None, 30, now, rooms[:1], complete=False, visited_through=now - 5 * H, businesses_known=True)
    assert not stopped.serves(60, 9001) and stopped.serves(480, 9001)  # saw every visit before 5 h ago


def test_a_cycle_reads_the_subscriptions_once_however_many_there_are(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each subscription's channel siblings come from the cycle's one read (it was one read per subscription:
    a cycle over 1,000 subscriptions decoded a million)."""
    add_room(sandbox, clock, business=9001, visited_ago=5 * H)
    subscribe(deps, "UADMIN1", "C1", 60)
    subscribe(deps, "UADMIN1", "C1", 240)  # the same channel: told once about one wait
    for n in range(4):
        subscribe(deps, "UADMIN2", f"C{n + 2}", 240)
    reads = []
    read = deps.store.subscriptions
    monkeypatch.setattr(deps.store, "subscriptions", lambda *a, **k: reads.append(a) or read(*a, **k))

    report = worker(deps, fake_slack).run_cycle()

    assert len(reads) == 1
    assert (report.digests_posted, report.chatrooms_alerted) == (5, 5)
    assert len(digest_rooms(fake_slack)) == 5
