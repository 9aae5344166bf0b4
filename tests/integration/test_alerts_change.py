"""End to end with the injected clock: `/chatrooms alerts change ID …` takes effect on the next cycle, keeps
what was already alerted, and stays within its workspace — through the real Bolt app, the sandbox over HTTP
and the strict fake Slack. (One sandbox dialect: this is about the subscription, not Nexudus' dialects.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import SLACK_E2E, RunningApp
from test_alerts_flow import add_room, subscribe, text, worker
from test_alerts_flow import sandbox as sandbox

from bot.console.driver import SlackDriver, find_action
from bot.slack import ids

pytestmark = [pytest.mark.integration, SLACK_E2E]

LEADS = "<!subteam^S0LEADS|@support-leads>"


def ask(app: RunningApp, command: str, driver: SlackDriver | None = None) -> str:
    """Run a command and return the private reply to it: in the ack (a grammar mistake) or after it."""
    ack = (driver or app.slack).command(command)
    if ack.json:
        return text(ack.json)
    return text(app.next("response_url").args)


def posts(app: RunningApp) -> list[dict[str, Any]]:
    return [c.args for c in app.fake.calls("chat.postMessage") if c.error is None]


def test_quiet_hours_added_by_a_change_hold_from_the_next_cycle_and_nothing_is_alerted_twice(
    logged_in: RunningApp,
) -> None:
    app = logged_in  # Wednesday 12:00 UTC
    first = add_room(app, visited_ago=timedelta(hours=5), name="Front desk")
    sub_id = subscribe(app, "alerts subscribe after:4h zone:UTC")
    alerts = worker(app)
    assert alerts.run_cycle().chatrooms_alerted == 1
    app.fake.clear()

    reply = ask(app, f"alerts change {sub_id} hours:13:00-20:00")
    assert "Changed alerts" in reply and "hours any hour → *13:00–20:00*" in reply
    [notice] = posts(app)  # the channel is told, in one short message
    assert notice["channel"] == app.slack.channel_id
    assert f"<@{app.slack.user_id}> changed the stale-visit alerts `{sub_id}`" in notice["text"]
    assert "hours any hour → *13:00–20:00*" in notice["text"]
    app.fake.clear()

    add_room(app, visited_ago=timedelta(hours=4, minutes=30), name="Parcels")
    report = alerts.run_cycle()  # 12:00: now outside its hours
    assert (report.quiet, report.digests_posted) == (1, 0)
    assert posts(app) == []

    app.clock.advance(hours=1, minutes=1)  # 13:01: open
    report = alerts.run_cycle()
    assert (report.digests_posted, report.chatrooms_alerted) == (1, 1)
    [digest] = posts(app)
    assert "Parcels" in text(digest["blocks"]) and "Front desk" not in text(digest["blocks"])
    assert "quiet since" in text(digest["blocks"])
    sub = app.deps.store.get_subscription(sub_id)
    assert sub is not None and sub.open_hours == (780, 1200)
    assert app.deps.store.get_alert(sub_id, first) is not None  # its alert record was kept


def test_escalation_turned_off_by_a_change_never_fires(logged_in: RunningApp) -> None:
    app = logged_in
    add_room(app, visited_ago=timedelta(hours=5))
    sub_id = subscribe(app, f"alerts subscribe after:4h escalate-after:8h escalate-to:{LEADS} zone:UTC")
    alerts = worker(app)
    assert alerts.run_cycle().digests_posted == 1

    reply = ask(app, f"alerts change {sub_id} escalate-after:off")
    assert "escalation to <!subteam^S0LEADS> after 8 h → *off*" in reply
    app.clock.advance(hours=4)  # waited 9 h: past the escalation it had
    report = alerts.run_cycle()
    assert (report.escalated, report.digests_posted) == (0, 0)
    assert [p for p in posts(app) if p.get("thread_ts")] == []

    # Turned on again, later than the room's wait so far: it fires once, when due.
    ask(app, f"alerts change {sub_id} escalate-after:10h escalate-to:<@U0LEAD|lead>")
    assert alerts.run_cycle().escalated == 0
    app.clock.advance(hours=1, minutes=1)
    assert alerts.run_cycle().escalated == 1
    assert alerts.run_cycle().escalated == 0


def test_a_raised_threshold_neither_resolves_nor_alerts_again_what_was_alerted(logged_in: RunningApp) -> None:
    app = logged_in
    visited = add_room(app, visited_ago=timedelta(hours=5), name="Visited once")
    never = add_room(app, visited_ago=None, created_ago=timedelta(hours=5), name="Never visited")
    sub_id = subscribe(app, "alerts subscribe after:4h")
    alerts = worker(app)
    assert alerts.run_cycle().chatrooms_alerted == 2
    [digest_call] = [c for c in app.fake.calls("chat.postMessage") if c.error is None]
    digest_ts = digest_call.response["ts"]

    assert "threshold 4 h → *6 h*" in ask(app, f"alerts change {sub_id} after:6h")
    for _ in range(4):  # through the hour both rooms are under the new threshold, and after
        report = alerts.run_cycle()
        assert (report.resolved, report.chatrooms_alerted, report.digests_posted) == (0, 0, 0)
        app.clock.advance(minutes=30)
    for room in (visited, never):
        rec = app.deps.store.get_alert(sub_id, room)
        assert rec is not None and rec.resolved_at is None and rec.message_ts == digest_ts

    # Visited now: resolved as ever, and the old digest still says what it was posted for.
    app.sandbox.db.update_fields([visited], app.clock(), "agent@example.com", last_agent_visit=app.clock())
    assert alerts.run_cycle().resolved == 1
    digest = app.fake.message(app.slack.channel_id, digest_ts)
    assert digest is not None and "more than *4 h*" in text(digest["blocks"])
    assert "No longer waiting: visited or closed in Nexudus" in text(digest["blocks"])


def test_a_lowered_threshold_alerts_only_the_rooms_it_adds(logged_in: RunningApp) -> None:
    app = logged_in
    add_room(app, visited_ago=timedelta(hours=5), name="Long wait")
    sub_id = subscribe(app, "alerts subscribe after:4h")
    alerts = worker(app)
    assert alerts.run_cycle().chatrooms_alerted == 1
    add_room(app, visited_ago=timedelta(hours=2), name="Shorter wait")
    ask(app, f"alerts change {sub_id} after:1h")
    app.fake.clear()
    report = alerts.run_cycle()
    assert (report.chatrooms_alerted, report.digests_posted) == (1, 1)
    [digest] = posts(app)
    assert "Shorter wait" in text(digest["blocks"]) and "Long wait" not in text(digest["blocks"])
    assert "more than *1 h*" in text(digest["blocks"])


def test_another_business_marks_old_rows_as_no_longer_followed(logged_in: RunningApp) -> None:
    app = logged_in
    add_room(app, visited_ago=timedelta(hours=5))  # business 9001
    sub_id = subscribe(app, "alerts subscribe after:4h business:9001")
    alerts = worker(app)
    alerts.run_cycle()
    digest_ts = app.fake.calls("chat.postMessage")[0].response["ts"]
    assert "business 9001 → *business 9002*" in ask(app, f"alerts change {sub_id} business:9002")
    assert alerts.run_cycle().resolved == 1
    digest = app.fake.message(app.slack.channel_id, digest_ts)
    assert digest is not None
    assert "(business 9001)" in text(digest["blocks"])  # the digest still says what it was posted for
    assert "outside the business these alerts now follow" in text(digest["blocks"])  # not "visited"


def test_changes_stay_in_their_workspace_and_channel(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app, "alerts subscribe after:4h summary:09:00")
    before = app.deps.store.get_subscription(sub_id)

    other_team = app.slack.as_user("UX", team_id="T0002")
    assert f"There are no alerts `{sub_id}` in this workspace" in ask(
        app, f"alerts change {sub_id} summary:off", other_team
    )
    assert "There are no alerts `nope42`" in ask(app, "alerts change nope42 summary:off")
    elsewhere = SlackDriver(app.url, app.slack.secret, app.fake, user_id="U0BYSTANDER", channel_id="C0ELSEWHERE")
    reply = ask(app, f"alerts change {sub_id} summary:off", elsewhere)
    assert f"belong to <#{app.slack.channel_id}>" in reply and f"ask <@{app.slack.user_id}>" in reply
    assert app.deps.store.get_subscription(sub_id) == before
    assert posts(app) == []  # nothing announced: nothing changed

    # Anyone in the alerts' own channel may change them.
    here = SlackDriver(app.url, app.slack.secret, app.fake, user_id="U0COLLEAGUE", channel_id=app.slack.channel_id)
    assert "daily summary at 09:00 → *off*" in ask(app, f"alerts change {sub_id} summary:off", here)
    changed = app.deps.store.get_subscription(sub_id)
    assert changed is not None and changed.summary_minute is None and changed.created_by == app.slack.user_id


def test_bad_changes_are_refused_clearly_and_change_nothing(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app, "alerts subscribe after:4h")
    before = app.deps.store.get_subscription(sub_id)
    reply = ask(app, f"alerts change {sub_id} escalate-after:8h")
    assert "needs someone to escalate to" in reply and "Nothing was changed" in reply
    reply = ask(app, f"alerts change {sub_id} escalate-after:2h escalate-to:<@U0LEAD>")
    assert "would not come after the alert itself (4 h)" in reply
    reply = ask(app, f"alerts change {sub_id} hours:8-20")
    assert "is not a time of day" in reply
    subscribe_other = "alerts subscribe after:6h"
    app.slack.command(subscribe_other)
    app.next("response_url")
    assert "already has alerts" in ask(app, f"alerts change {sub_id} after:6h")
    assert app.deps.store.get_subscription(sub_id) == before
    assert "nothing changed" in ask(app, f"alerts change {sub_id} after:4h")


def test_subscribing_again_with_other_options_points_to_the_change(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app, "alerts subscribe after:4h zone:Europe/Paris")
    reply = ask(app, "alerts subscribe after:4h hours:09:00-18:00 summary:09:00")
    assert "already has these alerts" in reply
    command = f"/chatrooms alerts change {sub_id} hours:09:00-18:00 summary:09:00`"
    assert command in reply  # only what was typed: the zone it has is kept
    ask(app, command.removeprefix("/chatrooms ").removesuffix("`"))
    sub = app.deps.store.get_subscription(sub_id)
    assert sub is not None and (sub.open_hours, sub.summary_minute, sub.zone) == ((540, 1080), 540, "Europe/Paris")
    assert len(app.deps.store.subscriptions()) == 1
    assert "lists them" in ask(app, "alerts subscribe after:4h")  # the same alerts: nothing to change

    shown = ask(app, "alerts")
    assert "posts 09:00–18:00, every day" in shown and "daily summary at 09:00" in shown
    assert "/chatrooms alerts change ID" in shown
    assert find_action(app.fake.calls("response_url")[-1].args["blocks"], ids.ALERT_UNSUBSCRIBE) is not None


def test_a_change_the_channel_could_not_be_told_of_says_so(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app, "alerts subscribe after:4h")
    app.fake.fail_next("chat.postMessage", "not_in_channel")
    reply = ask(app, f"alerts change {sub_id} summary:09:00")
    assert "Changed alerts" in reply and "I couldn't tell" in reply and "not_in_channel" in reply
    sub = app.deps.store.get_subscription(sub_id)
    assert sub is not None and sub.summary_minute == 540


def test_the_home_tab_shows_the_changed_options(logged_in: RunningApp) -> None:
    app = logged_in
    sub_id = subscribe(app, "alerts subscribe after:4h")
    ask(app, f"alerts change {sub_id} hours:09:00-18:00 days:mon-fri escalate-after:8h escalate-to:<@U0LEAD|lead>")
    app.slack.event({"type": "app_home_opened", "user": app.slack.user_id, "channel": "D0001", "tab": "home"})
    home = text(app.fake.wait_for("views.publish")[0].args["view"])
    assert f"`{sub_id}` · after *4 h*" in home
    assert "escalates to <@U0LEAD> after *8 h*" in home and "posts 09:00–18:00, Mon–Fri" in home
