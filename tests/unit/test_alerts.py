"""The alert worker against the sandbox and the fake Slack, with time moved by hand.

The sandbox starts empty (or with thousands of seeded rooms for the cost test) so each test decides
exactly which chatrooms wait; the sandbox and the worker share the test's FakeClock.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ADMIN, FakeClock
from helpers.rooms import add_room
from slack_sdk import WebClient

from bot.alerts import AlertWorker, CycleReport
from bot.console.fake_slack import FakeSlack
from bot.deps import Deps
from bot.nexudus.credentials import Credentials
from bot.nexudus.models import ChatRoom
from bot.sandbox.db import SearchQuery
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack.limits import MAX_MESSAGE_BLOCKS
from bot.slack.publisher import SlackPublisher
from bot.slack.views.alerts import MAX_DIGEST_ROWS
from bot.stale import ScanStats, is_stale, scan_stale
from bot.store import Store, Subscription, fernet_from_setting
from bot.wiring import build_deps
from bot.worker import main, run_forever

TEAM, USER, CHANNEL = "T0001", "U0001", "C0001"


@pytest.fixture
def rooms(request: pytest.FixtureRequest) -> int:
    """How many demo chatrooms the sandbox seeds (0 unless a test parametrizes it)."""
    return int(getattr(request, "param", 0))


@pytest.fixture
def sandbox(clock: FakeClock, rooms: int) -> Iterator[SandboxServer]:
    server = SandboxServer(config=SandboxConfig(throttle=False), now=clock, chatrooms=rooms)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slack(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake_slack.api_url)


def subscribe(deps: Deps, *, threshold: int = 240, business: int | None = None, channel: str = CHANNEL) -> Subscription:
    deps.services.login(TEAM, USER, *ADMIN)
    sub = Subscription(
        team_id=TEAM,
        channel_id=channel,
        created_by=USER,
        threshold_minutes=threshold,
        business_id=business,
        created_at=deps.clock(),
    )
    return deps.store.add_subscription(sub)


def make_worker(deps: Deps, slack: WebClient) -> AlertWorker:
    """A worker whose pauses between posts to one channel are recorded, not slept."""
    return AlertWorker(deps, SlackPublisher(slack, sleep=lambda seconds: None))


def posts(fake: FakeSlack) -> list[dict]:
    return [c.args for c in fake.calls("chat.postMessage") if c.error is None]


def text_of(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


# ------------------------------------------------------------------------------------------- stale


def test_stale_means_active_and_unvisited_past_the_threshold(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock
) -> None:
    h = timedelta(hours=1)
    stale_visit = add_room(sandbox, clock, visited_ago=5 * h)
    add_room(sandbox, clock, visited_ago=1 * h)  # visited recently
    stale_never = add_room(sandbox, clock, visited_ago=None, created_ago=5 * h)
    add_room(sandbox, clock, visited_ago=None, created_ago=1 * h)  # new, never visited: not waited long yet
    add_room(sandbox, clock, visited_ago=10 * h, active=False)  # closed
    other = add_room(sandbox, clock, visited_ago=6 * h, business=9002)
    deps.services.login(TEAM, USER, *ADMIN)
    session = deps.services.session(TEAM, USER)
    cutoff = clock() - timedelta(hours=4)

    stats = ScanStats()
    found = [r.id for r in scan_stale(session, cutoff, None, stats)]
    assert sorted(found) == sorted([stale_visit, stale_never, other])
    assert stats.complete and stats.requests == 2
    only_9001 = [r.id for r in scan_stale(session, cutoff, 9001, ScanStats())]
    assert sorted(only_9001) == sorted([stale_visit, stale_never])


def test_is_stale_edges() -> None:
    cutoff = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    at = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (cutoff + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert is_stale(ChatRoom.model_validate({"Id": 1, "Active": True, "LastAgentVisit": at}), cutoff)
    assert not is_stale(ChatRoom.model_validate({"Id": 1, "Active": True, "LastAgentVisit": later}), cutoff)
    assert not is_stale(ChatRoom.model_validate({"Id": 1, "Active": False, "LastAgentVisit": at}), cutoff)
    assert is_stale(ChatRoom.model_validate({"Id": 1, "Active": True, "CreatedOn": at}), cutoff)
    assert not is_stale(ChatRoom.model_validate({"Id": 1, "Active": True, "CreatedOn": later}), cutoff)
    assert not is_stale(ChatRoom.model_validate({"Id": 1, "Active": True}), cutoff)  # no date at all: unknown


# ------------------------------------------------------------------------------------ no repeats


def test_alert_once_then_resolve_when_visited_in_nexudus(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    room = add_room(sandbox, clock, visited_ago=timedelta(hours=3), name="Front <desk> & co")
    subscribe(deps)
    worker = make_worker(deps, slack)

    assert worker.run_cycle().digests_posted == 0  # 3 h < 4 h
    clock.advance(hours=1, minutes=1)
    first = worker.run_cycle()
    assert (first.digests_posted, first.chatrooms_alerted, first.errors) == (1, 1, 0)
    digest = posts(fake_slack)[-1]
    assert "Front &lt;desk&gt; &amp; co" in text_of(digest)
    assert f"sub:{room}" not in text_of(digest)  # values are SUB:ID
    assert len(digest["blocks"]) <= MAX_MESSAGE_BLOCKS

    again = worker.run_cycle()
    assert (again.digests_posted, again.chatrooms_alerted, again.digests_updated) == (0, 0, 0)
    assert len(posts(fake_slack)) == 1

    # Someone answers in Nexudus itself: the digest is redrawn to show it, once.
    sandbox.db.update_fields([room], clock(), "agent@example.com", last_agent_visit=clock())
    resolved = worker.run_cycle()
    assert (resolved.resolved, resolved.digests_updated, resolved.digests_posted) == (1, 1, 0)
    update = fake_slack.last("chat.update")
    assert update is not None and "No longer waiting" in text_of(update.args)
    assert worker.run_cycle().digests_updated == 0

    # A new wait after that visit is a new alert.
    clock.advance(hours=4, minutes=1)
    assert worker.run_cycle().chatrooms_alerted == 1


def test_a_restart_neither_repeats_nor_forgets(
    deps: Deps, settings: Settings, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    room = add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    subscribe(deps)
    assert make_worker(deps, slack).run_cycle().digests_posted == 1

    deps.store.close()
    store = Store(settings.store_path, fernet_from_setting(settings.store_key or ""))
    try:
        restarted = build_deps(settings, clock=clock, store=store, clients=deps.services.clients)  # type: ignore[arg-type]
        worker = make_worker(restarted, slack)
        assert worker.run_cycle().digests_posted == 0  # not repeated
        sandbox.db.update_fields([room], clock(), "agent@example.com", last_agent_visit=clock())
        report = worker.run_cycle()
        assert (report.resolved, report.digests_updated) == (1, 1)  # not forgotten
    finally:
        store.close()


class Killed(BaseException):
    """A SIGKILL at one exact line: nothing after it runs, no `except Exception` catches it."""


def test_a_worker_killed_between_posting_and_stamping_has_its_digest_stamped_and_redrawn_later(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    room = add_room(sandbox, clock, visited_ago=timedelta(hours=5), name="Lobby")
    other = add_room(sandbox, clock, visited_ago=timedelta(hours=6), name="Desk")
    sub = subscribe(deps)
    doomed = make_worker(deps, slack)

    def killed(*args: object) -> None:
        raise Killed()

    real_stamp = deps.store.stamp_digest
    deps.store.stamp_digest = killed  # type: ignore[method-assign]
    with pytest.raises(Killed):
        doomed.run_cycle()  # posted, then killed before the stamp
    deps.store.stamp_digest = real_stamp  # type: ignore[method-assign]
    (posted,) = posts(fake_slack)
    ts = fake_slack.calls("chat.postMessage")[0].response["ts"]
    assert {r.message_ts for r in deps.store.alerts_for(sub.id)} != {ts}  # the rows do not know the ts yet

    restarted = make_worker(deps, slack)
    report = restarted.run_cycle()
    assert (report.digests_recovered, report.digests_posted, report.chatrooms_alerted) == (1, 0, 0)
    assert {r.message_ts for r in deps.store.alerts_for(sub.id)} == {ts}
    assert len(posts(fake_slack)) == 1  # no repeat

    sandbox.db.update_fields([room], clock(), "agent@example.com", last_agent_visit=clock())
    report = restarted.run_cycle()
    assert (report.resolved, report.digests_updated, report.digests_posted) == (1, 1, 0)
    update = fake_slack.last("chat.update")
    assert update is not None and update.args["ts"] == ts and "No longer waiting" in text_of(update.args)
    assert other and posted


def test_a_worker_killed_before_slack_got_the_digest_posts_it_once_later(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps)
    doomed = make_worker(deps, slack)

    def killed(channel: str, message: dict) -> str:
        raise Killed()

    doomed.publisher._post = killed  # type: ignore[method-assign]
    with pytest.raises(Killed):
        doomed.run_cycle()
    assert posts(fake_slack) == [] and len(deps.store.alerts_for(sub.id)) == 1  # recorded, never posted

    # Right away it may still be on its way from another worker: nothing is dropped or posted yet.
    assert make_worker(deps, slack).run_cycle().digests_posted == 0
    clock.advance(minutes=3)
    report = make_worker(deps, slack).run_cycle()
    assert (report.digests_recovered, report.digests_posted, report.chatrooms_alerted) == (0, 1, 1)
    ts = fake_slack.calls("chat.postMessage")[0].response["ts"]
    assert {r.message_ts for r in deps.store.alerts_for(sub.id)} == {ts}
    assert make_worker(deps, slack).run_cycle().digests_posted == 0


def test_an_unstamped_digest_is_not_repeated_while_slack_history_cannot_be_read(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    subscribe(deps)
    doomed = make_worker(deps, slack)
    real_stamp = deps.store.stamp_digest

    def killed(*args: object) -> None:
        raise Killed()

    deps.store.stamp_digest = killed  # type: ignore[method-assign]
    with pytest.raises(Killed):
        doomed.run_cycle()
    deps.store.stamp_digest = real_stamp  # type: ignore[method-assign]
    fake_slack.fail_next("conversations.history", "missing_scope")
    report = make_worker(deps, slack).run_cycle()
    assert (report.errors, report.digests_posted, report.digests_recovered) == (0, 0, 0)
    assert make_worker(deps, slack).run_cycle().digests_recovered == 1  # found once history can be read


def test_many_stale_chatrooms_fit_one_message_and_are_all_remembered(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    ids = [add_room(sandbox, clock, visited_ago=timedelta(hours=5, minutes=i), name=f"R{i}") for i in range(57)]
    never = add_room(sandbox, clock, visited_ago=None, created_ago=timedelta(days=9), name="Never")
    subscribe(deps)
    worker = make_worker(deps, slack)
    report = worker.run_cycle()
    assert (report.digests_posted, report.chatrooms_alerted) == (1, 58)
    message = posts(fake_slack)[-1]
    assert len(message["blocks"]) <= MAX_MESSAGE_BLOCKS
    text = text_of(message)
    # Oldest first: the never-visited room (waiting 9 days), then R56, R55, …
    assert text.index("Never") < text.index("R56") < text.index("R55")
    assert f"…and {58 - MAX_DIGEST_ROWS} more" in text and f"Show the other {58 - MAX_DIGEST_ROWS}" in text
    assert len(deps.store.alerts_for(deps.store.subscriptions()[0].id)) == 58
    assert worker.run_cycle().chatrooms_alerted == 0
    assert ids and never


@pytest.mark.parametrize("rooms", [5000], indirect=True)
def test_scan_cost_is_one_request_per_page_of_stale_chatrooms(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    subscribe(deps, threshold=240)
    cutoff = (clock() - timedelta(minutes=240)).replace(second=0)
    visited = sandbox.db.search(SearchQuery(active=True, visited_to=cutoff, size=1))[1]
    stale = len(sandbox.db.idle_ids(cutoff + timedelta(seconds=1)))
    never = stale - visited
    assert visited > 1000 and never > 0, "the seed should give several pages of stale rooms"
    before = sandbox.stats.count("GET")

    report = worker_cycle(deps, slack)

    requests = sandbox.stats.count("GET") - before
    # ⌈visited / 1000⌉ pages of stale visited rooms + 1 request for the never-visited ones (< 1000 of them).
    assert requests == math.ceil(visited / 1000) + 1 == report.nexudus_requests
    assert report.chatrooms_alerted == stale and report.digests_posted == 1
    assert len(posts(fake_slack)[-1]["blocks"]) <= MAX_MESSAGE_BLOCKS

    before = sandbox.stats.count("GET")
    second = worker_cycle(deps, slack)
    assert second.chatrooms_alerted == 0 and second.digests_posted == 0
    assert sandbox.stats.count("GET") - before == math.ceil(visited / 1000) + 1


def worker_cycle(deps: Deps, slack: WebClient) -> CycleReport:
    return make_worker(deps, slack).run_cycle()


# ------------------------------------------------------------------------------ snooze, failures


def test_snoozed_room_waits_for_the_snooze_to_end(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    from bot.digests import snooze

    room = add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps)
    worker = make_worker(deps, slack)
    assert worker.run_cycle().chatrooms_alerted == 1
    until, redrawn = snooze(deps, SlackPublisher(slack), None, team_id=TEAM, subscription_id=sub.id, chatroom_id=room)
    assert until == clock() + timedelta(hours=1) and redrawn
    assert "Snoozed" in text_of(fake_slack.last("chat.update").args)  # type: ignore[union-attr]
    clock.advance(minutes=59)
    assert worker.run_cycle().chatrooms_alerted == 0
    clock.advance(minutes=2)
    assert worker.run_cycle().chatrooms_alerted == 1
    assert len(posts(fake_slack)) == 2


def test_a_redraw_slack_refused_is_done_by_the_next_cycle(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    room = add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    subscribe(deps)
    worker = make_worker(deps, slack)
    worker.run_cycle()
    sandbox.db.update_fields([room], clock(), "agent@example.com", last_agent_visit=clock())
    fake_slack.fail_next("chat.update", "internal_error")
    assert worker.run_cycle().errors == 1  # the room is recorded as resolved, but the digest was not redrawn
    report = worker.run_cycle()
    assert (report.errors, report.digests_updated, report.resolved) == (0, 1, 0)
    update = fake_slack.last("chat.update")
    assert update is not None and update.error is None and "No longer waiting" in text_of(update.args)
    assert worker.run_cycle().digests_updated == 0  # done once


def test_a_mark_visited_interrupted_before_its_redraw_is_shown_by_the_next_cycle(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    from bot.digests import resolve_by_user

    room = add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps)
    worker = make_worker(deps, slack)
    worker.run_cycle()
    dying = WebClient(token="xoxb-test", base_url=fake_slack.api_url)

    def killed(**kwargs: object) -> None:
        raise Killed()

    dying.chat_update = killed  # type: ignore[method-assign]
    session = deps.services.session(TEAM, USER)
    with pytest.raises(Killed):
        resolve_by_user(
            deps,
            SlackPublisher(dying),
            session,
            team_id=TEAM,
            subscription_id=sub.id,
            chatroom_id=room,
            user_id="U0042",
        )
    assert fake_slack.calls("chat.update") == []
    report = worker.run_cycle()
    assert report.digests_updated == 1
    update = fake_slack.last("chat.update")
    assert update is not None and "Marked visited by <@U0042>" in text_of(update.args)


def test_nexudus_down_is_reported_once_then_recovers(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps)
    worker = make_worker(deps, slack)
    sandbox.config.fault_rate, sandbox.config.fault_kinds = 1.0, ("500",)
    for _ in range(3):
        assert worker.run_cycle().errors == 1
    reports = [p for p in posts(fake_slack) if "couldn't check" in p["text"]]
    assert len(reports) == 1 and "unavailable" in reports[0]["text"]
    stored = deps.store.get_subscription(sub.id)
    assert stored is not None and stored.last_error_reported and stored.last_error

    sandbox.config.fault_rate = 0.0
    report = worker.run_cycle()
    assert (report.errors, report.digests_posted) == (0, 1)
    assert any("works again" in p["text"] for p in posts(fake_slack))
    stored = deps.store.get_subscription(sub.id)
    assert stored is not None and stored.last_error is None and not stored.last_error_reported


def test_one_failing_subscription_does_not_stop_the_others(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    subscribe(deps, channel="CBROKEN")
    subscribe(deps, channel="CGOOD")
    fake_slack.fail_next("chat.postMessage", "not_in_channel")  # the first digest is refused
    report = make_worker(deps, slack).run_cycle()
    assert (report.errors, report.digests_posted) == (1, 1)
    assert any(p["channel"] == "CGOOD" and "waited more than" in text_of(p) for p in posts(fake_slack))
    told = [p for p in posts(fake_slack) if p["channel"] == "CBROKEN"]
    assert told and "/invite" in told[0]["text"]


def test_credentials_removed_pause_once_and_resume_after_login(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps)
    deps.services.logout(TEAM, USER)
    worker = make_worker(deps, slack)
    for _ in range(2):
        report = worker.run_cycle()
        assert (report.paused, report.subscriptions, report.digests_posted) == (1, 0, 0)
    notices = [p for p in posts(fake_slack) if "paused" in p["text"]]
    assert len(notices) == 1 and "login was removed" in notices[0]["text"]
    assert deps.store.get_subscription(sub.id).paused_reason  # type: ignore[union-attr]

    deps.services.login(TEAM, USER, *ADMIN)
    report = worker.run_cycle()
    assert (report.resumed, report.digests_posted) == (1, 1)
    assert deps.store.get_subscription(sub.id).paused_reason is None  # type: ignore[union-attr]
    assert any("running again" in p["text"] for p in posts(fake_slack))


def test_rejected_login_pauses_and_is_not_retried_until_it_changes(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps)
    deps.store.save_credentials(TEAM, USER, Credentials(ADMIN[0], "changed-in-nexudus"), clock())
    worker = make_worker(deps, slack)
    assert worker.run_cycle().paused == 1
    assert "no longer accepts" in posts(fake_slack)[-1]["text"]
    before = sandbox.stats.total
    assert worker.run_cycle().paused == 1
    assert sandbox.stats.total == before  # the refused password is not sent again
    clock.advance(minutes=61)  # tried again after an hour, in case a role was granted back: still refused
    assert worker.run_cycle().paused == 1
    assert sandbox.stats.total == before + 1
    assert len([p for p in posts(fake_slack) if "paused" in p["text"]]) == 1

    deps.services.login(TEAM, USER, *ADMIN)
    assert worker.run_cycle().resumed == 1
    assert deps.store.get_subscription(sub.id).paused_reason is None  # type: ignore[union-attr]


def test_posts_to_one_channel_are_a_second_apart(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, fake_slack: FakeSlack, slack: WebClient
) -> None:
    add_room(sandbox, clock, visited_ago=timedelta(hours=5), business=9001)
    add_room(sandbox, clock, visited_ago=timedelta(hours=5), business=9002)
    subscribe(deps, threshold=60, business=9001)
    subscribe(deps, threshold=120, business=9002)
    sleeps: list[float] = []
    worker = AlertWorker(deps, SlackPublisher(slack, sleep=sleeps.append, monotonic=lambda: 100.0))
    assert worker.run_cycle().digests_posted == 2
    assert sleeps == [1.0]


# ------------------------------------------------------------------------------------ loop, main


def test_run_forever_survives_a_failed_cycle_and_stops(deps: Deps, slack: WebClient) -> None:
    stop = threading.Event()
    calls: list[int] = []
    worker = make_worker(deps, slack)

    def cycle() -> CycleReport:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        stop.set()
        return CycleReport()

    worker.run_cycle = cycle  # type: ignore[method-assign]
    done = threading.Thread(target=run_forever, args=(worker, stop, 0.0))
    done.start()
    done.join(timeout=5)
    assert not done.is_alive() and len(calls) == 2


def test_main_without_a_bot_token_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["--once"]) == 2
    assert "SLACK_BOT_TOKEN is not set" in capsys.readouterr().out


def test_main_once_runs_one_cycle(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    sandbox: SandboxServer,
    clock: FakeClock,
    fake_slack: FakeSlack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The real clock runs here: a room last visited years ago is stale whatever today is.
    room = add_room(sandbox, clock, visited_ago=timedelta(days=3650), created_ago=timedelta(days=3651))
    with Store(settings.store_path, fernet_from_setting(settings.store_key or "")) as store:
        store.save_credentials(TEAM, USER, Credentials(*ADMIN), clock())
        store.add_subscription(
            Subscription(team_id=TEAM, channel_id=CHANNEL, created_by=USER, threshold_minutes=60, created_at=clock())
        )
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "NEXUDUS_BASE_URL": sandbox.url,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "STORE_PATH": str(settings.store_path),
        "STORE_KEY": settings.store_key or "",
        "NEXUDUS_PACING": "false",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["--once"]) == 0
    assert "1 digests posted" in capsys.readouterr().out
    assert f"#{room}" in text_of(posts(fake_slack)[-1])
    assert main(["--interval", "1"]) == 2  # below the documented minimum


def test_run_forever_leaves_a_cycle_another_worker_ran_and_runs_the_next(deps: Deps, slack: WebClient) -> None:
    interval = 3600.0
    slot = int(deps.clock().timestamp() // interval)
    with deps.store.alert_cycle(slot) as claimed:  # another alert worker ran this interval's cycle
        assert claimed
    calls: list[int] = []
    worker = make_worker(deps, slack)
    worker.run_cycle = lambda: calls.append(1) or CycleReport()  # type: ignore[method-assign]
    stop = threading.Event()
    loop = threading.Thread(target=run_forever, args=(worker, stop, interval))
    loop.start()
    stop.wait(0.3)
    stop.set()
    loop.join(timeout=5)
    assert not loop.is_alive() and calls == []
    deps.clock.advance(seconds=interval)  # type: ignore[attr-defined]
    stop.clear()
    loop = threading.Thread(target=run_forever, args=(worker, stop, interval))
    loop.start()
    stop.wait(0.3)
    stop.set()
    loop.join(timeout=5)
    assert not loop.is_alive() and calls == [1]
