"""End to end with the injected clock (issue 15 item 5): rooms go stale, are alerted, escalated and visited;
`/chatrooms stats` and the Home tab show the true figures; two workspaces never see each other's.

Through the real Bolt app, the sandbox over HTTP and the strict fake Slack, in the default dialect only
(the alert flow itself runs in every dialect in test_alerts_flow.py and test_alerts_schedule.py)."""

from __future__ import annotations

import dataclasses
import statistics
from datetime import timedelta

import pytest
from conftest import ADMIN, RunningApp
from test_alerts_flow import add_room, replies, settle, subscribe, text, worker
from test_alerts_flow import sandbox as sandbox

from bot.console.driver import find_action
from bot.slack import ids
from bot.stats import fold_waits

pytestmark = [pytest.mark.integration]

LEADS = "<!subteam^S0LEADS|@support-leads>"


def stats_reply(app: RunningApp, command: str = "stats") -> str:
    app.fake.clear()
    app.slack.command(command)
    answer = text(replies(app)[0])
    app.fake.clear()
    return answer


def test_stats_show_the_true_median_p90_and_counts_and_teams_stay_apart(logged_in: RunningApp) -> None:
    app = logged_in  # Wednesday 2026-11-25 12:00 UTC
    in_nexudus, by_button, escalated = (
        add_room(app, visited_ago=timedelta(hours=3), name=name) for name in ("Printer", "Lockers", "Parking")
    )  # waiting since 09:00, stale at 13:00
    assert "No room was alerted" in stats_reply(app)  # nothing yet, and it says so
    sub_id = subscribe(app, f"alerts subscribe after:4h escalate-after:6h escalate-to:{LEADS} zone:UTC")
    alerts = worker(app)
    assert alerts.run_cycle().chatrooms_alerted == 0
    app.clock.advance(hours=1, minutes=5)
    assert alerts.run_cycle().chatrooms_alerted == 3  # 13:05

    app.clock.advance(minutes=30)  # 13:35: a visit in Nexudus, seen by the next check
    app.sandbox.db.update_fields([in_nexudus], app.clock(), "agent@example.com", last_agent_visit=app.clock())
    assert alerts.run_cycle().resolved == 1

    app.clock.advance(minutes=30)  # 14:05: Mark visited in the digest
    digest = app.fake.message(app.slack.channel_id, app.fake.calls("chat.postMessage")[0].response["ts"])
    assert digest is not None and find_action(digest["blocks"], ids.ALERT_VISITED) is not None
    app.slack.click(ids.ALERT_VISITED, f"{sub_id}:{by_button}", message=digest)
    app.fake.wait_for("chat.update", count=2, timeout=10)
    settle(app)

    app.clock.advance(hours=1)  # 15:05: waited 6 h 5 min > 6 h
    assert alerts.run_cycle().escalated == 1

    # The history holds each step once, and the stats are its figures.
    team = app.slack.team_id
    events = app.deps.store.history(team, app.clock() - timedelta(days=1))
    assert sorted((e.kind, e.chatroom_id) for e in events) == sorted(
        [
            ("alerted", in_nexudus),
            ("alerted", by_button),
            ("alerted", escalated),
            ("resolved", in_nexudus),
            ("resolved", by_button),
            ("escalated", escalated),
        ]
    )
    assert next(e.by for e in events if e.kind == "resolved" and e.chatroom_id == by_button) == app.slack.user_id
    minutes = sorted(w.minutes_to_visit for w in fold_waits(events) if w.minutes_to_visit is not None)
    assert minutes == [35.0, 65.0]  # from 13:00 (stale) to 13:35 and to 14:05
    assert statistics.median(minutes) == 50
    reply = stats_reply(app)
    assert "*3* rooms alerted" in reply and "median *50 min*" in reply
    assert "90th percentile *1 h 5 min*" in reply and "(2 visited)" in reply  # nearest rank of two: the larger
    assert "🚨 1 escalated" in reply and "⏳ 1 still waiting" in reply
    assert "Alerted" in reply and "█" in reply and "all businesses · last 30 days (since Tue 27 Oct, UTC)" in reply
    assert "*3* rooms alerted" in stats_reply(app, "stats since:1d business:9001")
    assert "No room of business 9002 was alerted" in stats_reply(app, "stats business:9002")

    # Another workspace, watching the same Nexudus rooms from 15:05: its own figures only, and ours unchanged.
    other = dataclasses.replace(app, slack=app.slack.as_user("U0OTHER", team_id="T0OTHER"), seen={})
    app.deps.services.login("T0OTHER", "U0OTHER", *ADMIN)
    other.slack.command("alerts subscribe after:4h")
    assert "🔔" in text(replies(other)[0])
    app.fake.clear()
    assert worker(app).run_cycle().chatrooms_alerted == 1  # the escalated room waits still: new to them
    theirs = stats_reply(other)
    assert "*1* room alerted" in theirs and "no alerted room has been visited yet" in theirs
    assert "*3* rooms alerted" in stats_reply(app)

    # The App Home shows the last 7 days of the workspace it is opened in.
    app.fake.clear()
    app.slack.event({"type": "app_home_opened", "user": app.slack.user_id, "channel": "D0001", "tab": "home"})
    home = text(app.fake.wait_for("views.publish")[0].args["view"])
    assert "*Last 7 days*: 3 rooms alerted" in home and "median *50 min*" in home and "1 still waiting" in home
