"""The alert worker writes the alert history (issue 15 item 5), and the daily summary counts from it: against
the sandbox and the fake Slack, with the clock moved by hand."""

from __future__ import annotations

from datetime import timedelta

from conftest import FakeClock
from slack_sdk import WebClient
from test_alerts import TEAM, add_room, make_worker, posts, subscribe
from test_alerts import rooms as rooms
from test_alerts import sandbox as sandbox
from test_alerts import slack as slack

from bot.console.fake_slack import FakeSlack
from bot.deps import Deps
from bot.sandbox.server import SandboxServer
from bot.stats import compute_stats, fold_waits, last_days


def test_a_room_that_waits_twice_in_a_day_is_two_waits_in_the_summary(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, slack: WebClient, fake_slack: FakeSlack
) -> None:
    room = add_room(sandbox, clock, visited_ago=timedelta(hours=5))
    sub = subscribe(deps, threshold=240)
    daily = {"summary_minute": 9 * 60, "zone": "UTC"}
    assert deps.store.change_subscription(TEAM, sub.id, lambda current, _: current.model_copy(update=daily))
    worker = make_worker(deps, slack)
    assert worker.run_cycle().chatrooms_alerted == 1  # Wednesday 12:00, stale since 11:00
    clock.advance(minutes=20)
    sandbox.db.update_fields([room], clock(), "agent@example.com", last_agent_visit=clock())
    assert worker.run_cycle().resolved == 1  # 12:20: stale before the alerts were set up at 12:00, so 20 min
    clock.advance(hours=4, minutes=10)  # 16:30: waiting again since 12:20, stale since 16:20
    assert worker.run_cycle().chatrooms_alerted == 1
    clock.advance(minutes=30)
    sandbox.db.update_fields([room], clock(), "agent@example.com", last_agent_visit=clock())
    assert worker.run_cycle().resolved == 1  # 17:00: 40 min after going stale

    # The alert record was overwritten by the second wait; the history keeps both.
    assert len(deps.store.alerts_for(sub.id)) == 1
    events = deps.store.history(TEAM, clock() - timedelta(days=1))
    waits = fold_waits(events)
    assert [w.minutes_to_visit for w in waits] == [20.0, 40.0]

    clock.advance(hours=16)  # Thursday 09:00: the summary
    assert worker.run_cycle().summaries == 1
    summary = posts(fake_slack)[-1]["text"]
    assert "yesterday 2 alerted" in summary and "median time to visit 30 min after going stale" in summary


def test_overlapping_subscriptions_of_a_channel_count_a_wait_once(
    deps: Deps, sandbox: SandboxServer, clock: FakeClock, slack: WebClient
) -> None:
    visit = clock() - timedelta(minutes=30)
    add_room(sandbox, clock, visited_ago=timedelta(minutes=30))
    subscribe(deps, threshold=240)
    subscribe(deps, threshold=60, business=9001)
    worker = make_worker(deps, slack)
    clock.advance(minutes=35)
    assert worker.run_cycle().chatrooms_alerted == 1  # the 1 h subscription's digest
    clock.advance(hours=3)
    worker.run_cycle()  # the 4 h one finds it too: recorded against the channel's digest, not posted again
    events = deps.store.history(TEAM, clock() - timedelta(days=1))
    assert sorted((e.kind, e.stale_at) for e in events) == [
        ("alerted", visit + timedelta(hours=1)),
        ("alerted", visit + timedelta(hours=4)),
    ]  # one entry each subscription
    start, end = last_days(clock(), 1, deps.zone)
    stats = compute_stats(events, start=start, end=end, zone=deps.zone)
    assert stats.alerted == 1 and stats.waiting == 1
    assert fold_waits(events)[0].stale_at == visit + timedelta(hours=1)  # the shorter threshold's
