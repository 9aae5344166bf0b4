"""End to end with the injected clock: escalation, quiet hours and the daily summary (issue 15, items 1–3),
through the real Bolt app, the sandbox over HTTP and the strict fake Slack."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from conftest import EVERY_DIALECT, SLACK_E2E, START, RunningApp
from test_alerts_flow import add_room, replies, subscribe, text, worker
from test_alerts_flow import sandbox as sandbox

from bot.console.driver import find_action
from bot.slack import ids
from bot.slack.views.alerts import duration_text

pytestmark = [pytest.mark.integration, EVERY_DIALECT, SLACK_E2E]

LEADS = "<!subteam^S0LEADS|@support-leads>"


def top_level_posts(app: RunningApp) -> list[dict]:
    return [c.args for c in app.fake.calls("chat.postMessage") if c.error is None and not c.args.get("thread_ts")]


def thread_posts(app: RunningApp) -> list[dict]:
    return [c.args for c in app.fake.calls("chat.postMessage") if c.error is None and c.args.get("thread_ts")]


@pytest.mark.dialect_sensitive("extra_fields", "ids", "local_zone")
def test_escalation_fires_once_in_the_digest_thread_and_resolving_updates_both(logged_in: RunningApp) -> None:
    app = logged_in
    room = add_room(app, visited_ago=timedelta(hours=5))
    subscribe(app, f"alerts subscribe after:4h escalate-after:8h escalate-to:{LEADS} zone:UTC")
    alerts = worker(app)
    assert alerts.run_cycle().digests_posted == 1
    digest_ts = app.fake.calls("chat.postMessage")[0].response["ts"]

    app.clock.advance(hours=2, minutes=59)  # waited 7 h 59
    assert alerts.run_cycle().escalated == 0
    app.clock.advance(minutes=2)
    report = alerts.run_cycle()
    assert (report.escalated, report.digests_posted, report.digests_updated) == (1, 0, 1)
    [escalation] = thread_posts(app)
    assert escalation["thread_ts"] == digest_ts and "<!subteam^S0LEADS>" in escalation["text"]
    assert len(top_level_posts(app)) == 1  # never a second top-level post for the room
    digest = app.fake.message(app.slack.channel_id, digest_ts)
    assert digest is not None and "Escalated" in text(digest["blocks"])

    for _ in range(3):  # once per wait, however many cycles follow
        app.clock.advance(minutes=5)
        assert alerts.run_cycle().escalated == 0
    assert len(thread_posts(app)) == 1

    button = find_action(digest["blocks"], ids.ALERT_VISITED)
    assert button is not None
    app.slack.click(ids.ALERT_VISITED, button["value"], message=digest)
    app.fake.wait_for("chat.update", count=3, timeout=10)  # the digest (escalated), the escalation, the digest
    esc_ts = app.fake.calls("chat.postMessage")[-1].response["ts"]
    resolved = app.fake.message(app.slack.channel_id, esc_ts)
    assert resolved is not None and "no longer waiting" in resolved["text"]
    assert f"<@{app.slack.user_id}>" in resolved["text"]
    digest = app.fake.message(app.slack.channel_id, digest_ts)
    assert digest is not None and "Marked visited by" in text(digest["blocks"])
    assert app.deps.store.get_alert(app.deps.store.subscriptions()[0].id, room).resolved_at is not None  # type: ignore[union-attr]


@pytest.mark.dialect_sensitive("ids")
def test_an_escalated_room_visited_in_nexudus_updates_the_thread_too(logged_in: RunningApp) -> None:
    app = logged_in
    room = add_room(app, visited_ago=timedelta(hours=9))
    subscribe(app, "alerts subscribe after:4h escalate-after:8h escalate-to:<@U0LEAD|lead> zone:UTC")
    alerts = worker(app)
    alerts.run_cycle()
    assert alerts.run_cycle().escalated == 1  # already past 8 h: escalated on the cycle after its digest
    [escalation] = thread_posts(app)
    assert "<@U0LEAD>" in escalation["text"]
    app.sandbox.db.update_fields([room], app.clock(), "agent@example.com", last_agent_visit=app.clock())
    assert alerts.run_cycle().resolved == 1
    esc_ts = app.fake.calls("chat.postMessage")[-1].response["ts"]
    updated = app.fake.message(app.slack.channel_id, esc_ts)
    assert updated is not None and "visited or closed in Nexudus" in updated["text"]


@pytest.mark.dialect_sensitive("local_zone")
def test_quiet_hours_hold_overnight_and_the_opening_digest_says_since_when(logged_in: RunningApp) -> None:
    app = logged_in  # the clock starts on Wednesday 12:00 UTC
    subscribe(app, "alerts subscribe after:4h hours:08:00-20:00 days:mon-fri zone:UTC")
    app.clock.advance(hours=9)  # Wednesday 21:00: closed
    add_room(app, visited_ago=timedelta(hours=1), name="Night owl")  # stale from 00:00
    alerts = worker(app)
    for _ in range(11):  # every hour through the night, until 07:00
        report = alerts.run_cycle()
        assert (report.quiet, report.digests_posted) == (1, 0)
        app.clock.advance(hours=1)
    assert app.fake.calls("chat.postMessage") == []  # nothing posted outside the hours
    sub = app.deps.store.subscriptions()[0]
    assert sub.quiet_since is not None and sub.quiet_since.hour == 21

    app.clock.advance(minutes=1)  # Thursday 08:01: open
    report = alerts.run_cycle()
    assert (report.quiet, report.digests_posted, report.chatrooms_alerted) == (0, 1, 1)
    [digest] = top_level_posts(app)
    assert "quiet since" in text(digest["blocks"]) and "Night owl" in text(digest["blocks"])
    assert app.deps.store.subscriptions()[0].quiet_since is None
    assert alerts.run_cycle().digests_posted == 0  # one opening summary, not one a cycle
    assert len(app.fake.calls("chat.postMessage")) == 1


def test_quiet_days_hold_over_the_weekend(logged_in: RunningApp) -> None:
    app = logged_in
    subscribe(app, "alerts subscribe after:4h days:mon-fri zone:UTC")
    app.clock.advance(days=2, hours=12)  # Saturday 00:00
    add_room(app, visited_ago=timedelta(hours=5))
    alerts = worker(app)
    for _ in range(4):  # Saturday and Sunday
        assert alerts.run_cycle().quiet == 1
        app.clock.advance(hours=12)
    assert app.fake.calls("chat.postMessage") == []
    assert alerts.run_cycle().digests_posted == 1  # Monday 00:00


def test_the_opening_with_nothing_new_says_so_once(logged_in: RunningApp) -> None:
    app = logged_in
    subscribe(app, "alerts subscribe after:4h hours:08:00-20:00 zone:UTC")
    alerts = worker(app)
    app.clock.advance(hours=9)
    assert alerts.run_cycle().quiet == 1
    app.clock.advance(hours=11, minutes=1)
    alerts.run_cycle()
    [opened] = top_level_posts(app)
    assert "open again" in opened["text"] and "no room waited" in opened["text"]
    alerts.run_cycle()
    assert len(top_level_posts(app)) == 1


@pytest.mark.dialect_sensitive("ids")
def test_the_daily_summary_counts_match_the_store(logged_in: RunningApp) -> None:
    app = logged_in  # Wednesday 12:00 UTC
    rooms = [add_room(app, visited_ago=timedelta(hours=5), name=f"Room {i}") for i in range(3)]
    subscribe(app, "alerts subscribe after:4h summary:09:00 zone:UTC")
    alerts = worker(app)
    assert alerts.run_cycle().chatrooms_alerted == 3
    app.clock.advance(minutes=42)
    app.sandbox.db.update_fields(
        rooms[:2], app.clock(), "agent@example.com", last_agent_visit=app.clock(), active=False
    )
    assert alerts.run_cycle().resolved == 2  # visited and closed: they do not wait again
    app.clock.advance(hours=20, minutes=17)  # Thursday 08:59
    assert alerts.run_cycle().summaries == 0
    app.clock.advance(minutes=2)
    assert alerts.run_cycle().summaries == 1
    summary = top_level_posts(app)[-1]["text"]

    # The counts are the store's alert history of that day: each wait alerted, and when it was visited.
    sub = app.deps.store.subscriptions()[0]
    history = [e for e in app.deps.store.history(sub.team_id, START) if e.subscription_id == sub.id]
    wednesday = [e for e in history if e.kind == "alerted" and e.at.date().isoformat() == "2026-11-25"]
    stale = {e.chatroom_id: e.stale_at for e in wednesday}
    visits = [(e.at - stale[e.chatroom_id]).total_seconds() / 60 for e in history if e.kind == "resolved"]
    waiting = set(stale) - {e.chatroom_id for e in history if e.kind == "resolved"}
    # Stale since 11:00, before the alerts were set up at 12:00: the desk's time runs from 12:00 to 12:42.
    assert len(wednesday) == 3 and sorted(visits) == [42.0, 42.0]
    assert f"yesterday {len(wednesday)} alerted" in summary
    assert f"median time to visit {duration_text(round(statistics.median(visits)))} after going stale" in summary
    assert f"{len(waiting)} room waiting, oldest 26 h" in summary  # Room 2, last visited Wednesday 07:00
    assert alerts.run_cycle().summaries == 0  # once a day
    app.clock.advance(days=1)
    assert alerts.run_cycle().summaries == 1


def test_escalating_sooner_than_the_default_threshold_is_refused(logged_in: RunningApp) -> None:
    app = logged_in  # the default threshold is longer than 10 minutes
    app.slack.command("alerts subscribe escalate-after:10m escalate-to:<@U0LEAD>")
    reply = text(replies(app)[0])
    assert "must be longer than the alert threshold" in reply and "Nothing was set up" in reply
    assert app.deps.store.subscriptions() == []


def test_the_subscription_says_its_schedule(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command(
        f"alerts subscribe after:4h escalate-after:8h escalate-to:{LEADS} hours:08:00-20:00 days:mon-fri "
        "summary:09:00 zone:Europe/Paris"
    )
    reply = text(replies(app)[0])
    assert "escalates to <!subteam^S0LEADS> after *8 h*" in reply
    assert "posts 08:00–20:00, Mon–Fri" in reply and "daily summary at 09:00" in reply
    assert "Europe/Paris" in reply
