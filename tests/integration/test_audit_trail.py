"""End to end: the audit trail matches the Nexudus changes made from Slack (signed requests → the real Bolt app →
the sandbox → the fake Slack), keeps workspaces apart, survives a reopen, is pruned by retention and is
mirrored to a channel. One dialect: what is recorded does not depend on how Nexudus words its answers."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import ADMIN, SLACK_E2E, RunningApp, database_text
from slack_sdk import WebClient
from test_slack_run import open_form, state_for, submit_and_wait

from bot.alerts import AlertWorker
from bot.console.driver import find_action
from bot.sandbox.dialects import TOTP_SECRET, totp
from bot.slack import ids
from bot.slack.publisher import SlackPublisher
from bot.store import AuditEntry, Store
from bot.wiring import store_cipher

pytestmark = [pytest.mark.integration, SLACK_E2E]


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def entries(app: RunningApp, team: str | None = None) -> list[AuditEntry]:
    return app.deps.store.audit_entries(team or app.slack.team_id, limit=500)[0]


def latest(app: RunningApp, action: str, count: int = 1) -> AuditEntry:
    """The newest `action` entry, once there are `count` of them (the lazy work records it)."""
    deadline = time.monotonic() + 10
    while len(found := [e for e in entries(app) if e.action == action]) < count:
        assert time.monotonic() < deadline, f"no {action} entry in {[e.action for e in entries(app)]}"
        time.sleep(0.02)
    return found[0]


def answer(app: RunningApp, text_typed: str, before: int = 0) -> dict[str, Any]:
    """The (last) answer to the slash command `text_typed`, or to a button: `action:ACTION_ID`."""
    target = text_typed if text_typed.startswith("action:") else f"command:{text_typed[:40]}"
    deadline = time.monotonic() + 10
    while True:
        found = [c for c in app.fake.calls("response_url") if unquote(c.target or "").endswith(f"-{target}")]
        if len(found) > before:
            return dict(found[-1].args)
        assert time.monotonic() < deadline, f"no answer to {text_typed}"
        time.sleep(0.02)


def command(app: RunningApp, typed: str) -> dict[str, Any]:
    before = len(
        [c for c in app.fake.calls("response_url") if unquote(c.target or "").endswith(f"-command:{typed[:40]}")]
    )
    app.slack.command(typed)
    return answer(app, typed, before)


def changes(entry: AuditEntry) -> dict[str, tuple[Any, Any]]:
    return {c.field: (c.before, c.after) for c in entry.changes}


def create_room(app: RunningApp, name: str) -> int:
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    values = {
        ids.F_BUSINESS: {ids.F_BUSINESS: {"type": "plain_text_input", "value": "9001"}},
        ids.F_NAME: {ids.F_NAME: {"type": "plain_text_input", "value": name}},
        ids.F_ACTIVE: {ids.F_ACTIVE: {"type": "checkboxes", "selected_options": [{"value": "active"}]}},
        ids.F_USERS: {ids.F_USERS: {"type": "plain_text_input", "value": "7000001, 7000002"}},
    }
    app.slack.submit(form, values)
    assert app.next("views.update").args["view"]["title"]["text"] == "Chatroom created"
    room_id = latest(app, "create").chatroom_ids[0]
    row = app.sandbox.db.get(room_id)
    assert row is not None and row.name == name, "the entry names the chatroom Nexudus created"
    return room_id


def test_every_change_from_slack_is_recorded_as_nexudus_made_it(logged_in: RunningApp) -> None:
    app = logged_in
    user, team = app.slack.user_id, app.slack.team_id
    assert latest(app, "login").email == ADMIN[0]

    room_id = create_room(app, "Made in Slack")
    made = latest(app, "create")
    assert made.chatroom_ids == [room_id] and made.user_id == user and made.team_id == team
    assert changes(made)["name"] == (None, "Made in Slack")
    assert changes(made)["users"] == (None, [7000001, 7000002])
    assert made.at == app.clock() and made.outcome == "ok"

    command(app, f'edit {room_id} name:"Renamed & co" active:false users:7000001,7000002')
    edited = latest(app, "edit")
    row = app.sandbox.db.get(room_id)
    assert row is not None and row.name == "Renamed & co" and row.active is False
    # Only what changed, before → after: the members were typed but are the same.
    assert changes(edited) == {"name": ("Made in Slack", "Renamed & co"), "active": (True, False)}

    form = open_form(app, f"run SET_ACTIVE {room_id}")
    submit_and_wait(app, form, state_for(form, {"Active": "true"}))
    ran = latest(app, "run")
    assert (ran.command, ran.chatroom_ids, ran.parameters, ran.outcome) == (
        "SET_ACTIVE",
        [room_id],
        [("Active", "true")],
        "ok",
    )
    assert app.sandbox.db.get(room_id).active is True  # type: ignore[union-attr]

    form = open_form(app, f"run SCHEDULE_FOLLOW_UP {room_id} 1000001")
    submit_and_wait(app, form, state_for(form, {"Visit at": "2026-12-01 10:00", "Priority": "9"}))
    failed = latest(app, "run", count=2)
    assert failed.command == "SCHEDULE_FOLLOW_UP" and failed.outcome == "failed"
    assert "Priority must be between 1 and 5" in (failed.message or "")

    app.clock.advance(minutes=5)
    app.slack.click(ids.ALERT_VISITED, f"-:{room_id}")
    visited = latest(app, "visited")
    assert visited.chatroom_ids == [room_id]
    before, after = changes(visited)["last_agent_visit"]
    assert before is None and after is not None
    assert app.sandbox.db.get(room_id).last_agent_visit is not None  # type: ignore[union-attr]

    before = len(app.fake.calls("views.update"))
    app.slack.command(f"delete {room_id}")
    confirm = app.fake.wait_for("views.update", count=before + 1, timeout=10)[before].response["view"]
    assert confirm["callback_id"] == ids.DELETE_MODAL
    app.slack.submit(confirm, {})
    gone = latest(app, "delete")
    assert app.sandbox.db.get(room_id) is None
    assert gone.name == "Renamed & co" and changes(gone)["business_id"] == (9001, None)

    command(app, "logout")
    assert latest(app, "logout").email == ADMIN[0]

    # What `/chatrooms audit` shows: newest first, who, when, what; the edit before → after, escaped.
    shown = text(command(app, f"audit {room_id}"))
    order = [shown.index(word) for word in ("deleted", "marked", "SCHEDULE_FOLLOW_UP", "SET_ACTIVE", "edited")]
    assert order == sorted(order), shown
    assert "Name “Made in Slack” → “Renamed &amp; co”" in shown
    assert "Active yes → no" in shown
    assert f"<@{user}>" in shown and "<!date^" in shown
    assert "Nexudus said it did not succeed" in shown
    assert "logged in" not in shown, "only that chatroom's entries"


def test_audit_pages_with_previous_and_next_and_filters_by_person_and_time(logged_in: RunningApp) -> None:
    app = logged_in
    other = app.slack.as_user("U0OTHER")
    app.deps.services.login(app.slack.team_id, "U0OTHER", *ADMIN)
    for n in range(23):
        app.clock.advance(minutes=1)
        app.deps.services.session(app.slack.team_id, app.slack.user_id).edit(
            1_000_001 + n % 3,
            __import__("bot.nexudus.client", fromlist=["ChatRoomChanges"]).ChatRoomChanges(name=f"Room {n}"),
            expected_updated_on=None,
            expected_fingerprint=None,
        )
    first = command(app, "audit")
    assert "1–20, newest first" in text(first) and "Room 22" in text(first)
    nxt = find_action(first["blocks"], ids.AUDIT_NEXT)
    assert nxt is not None and find_action(first["blocks"], ids.AUDIT_PREVIOUS) is None
    app.slack.click(ids.AUDIT_NEXT, nxt["value"])
    second = answer(app, f"action:{ids.AUDIT_NEXT}")
    assert second["replace_original"] is True
    assert "21–25" in text(second) and "Room 0" in text(second) and "Room 22" not in text(second)
    assert find_action(second["blocks"], ids.AUDIT_PREVIOUS) is not None

    other.command("audit user:<@U0OTHER|other> since:1h")
    mine = text(answer(app, "audit user:<@U0OTHER|other> since:1h"))
    assert "logged in as" in mine and "Room" not in mine, mine
    for bad, words in (
        ("audit since:abc", "not a date"),
        ("audit user:nobody", "not a person I can find"),
        ("audit 12x", "not a chatroom id"),
        ("audit channel #nowhere", "pick the channel"),
    ):
        ack = app.slack.command(bad)
        assert words in text(ack.json), (bad, ack.json)


def test_a_workspace_sees_only_its_own_entries(logged_in: RunningApp) -> None:
    app = logged_in
    there = app.slack.as_user("U0THERE", team_id="T0THERE")
    app.deps.services.login("T0THERE", "U0THERE", *ADMIN)
    there.command('edit 1000003 name:"Changed over there"')
    answer(app, 'edit 1000003 name:"Changed over there"')
    command(app, 'edit 1000004 name:"Changed here"')
    here = {e.team_id for e in entries(app)}
    assert here == {app.slack.team_id}
    assert [e.name for e in entries(app, "T0THERE") if e.action == "edit"] == ["Changed over there"]
    shown = text(command(app, "audit"))
    assert "Changed here" in shown and "Changed over there" not in shown and "U0THERE" not in shown
    there.command("audit 1000004")
    assert "Nothing recorded" in text(answer(app, "audit 1000004"))


def test_entries_survive_a_reopen_and_hold_no_password_token_or_code(running_app: RunningApp, tmp_path: Path) -> None:
    app = running_app
    app.slack.command("login")
    opened = app.next("views.open").response["view"]
    app.slack.submit(
        opened,
        {
            ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": ADMIN[0]}},
            ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": ADMIN[1]}},
        },
    )
    assert app.next("views.update").args["view"]["title"]["text"] == "Logged in"
    creds = app.deps.store.load_credentials(app.slack.team_id, app.slack.user_id)
    assert creds is not None and creds.access_token and creds.refresh_token
    app.slack.command("logout")
    settings = app.deps.settings
    latest(app, "logout")
    code = totp(TOTP_SECRET, app.clock())
    app.deps.services.login(app.slack.team_id, "U0TWOFA", "2fa@sandbox.local", "sandbox-2fa", code)
    with app.deps.store.tables.read() as tx:
        rows = tx.scan("audit")
    raw = text(rows)
    assert ADMIN[0] in raw and "2fa@sandbox.local" in raw, "the check reads the right rows"
    for secret in (ADMIN[1], "sandbox-2fa", creds.access_token, creds.refresh_token):
        assert secret not in raw
    assert not [v for _, row in rows for v in row.values() if code in str(v)], "no field holds the 2FA code"
    if settings.database_url is not None:  # every row of every table, as someone reading the database sees it
        stored = database_text(settings.database_url.get_secret_value()).encode()
    else:
        stored = Path(settings.store_path).read_bytes()
    assert ADMIN[1].encode() not in stored
    with Store(settings.store_location, store_cipher(settings, local=False)) as reopened:
        assert [e.action for e in reopened.audit_entries(app.slack.team_id)[0]] == ["login", "logout", "login"]


def test_retention_prunes_from_the_alert_workers_cycle_with_the_injected_clock(logged_in: RunningApp) -> None:
    app = logged_in
    command(app, 'edit 1000001 name:"Old change"')
    worker = AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    )
    worker.run_cycle()
    assert len(entries(app)) == 2, "young entries are kept"
    app.clock.advance(days=app.deps.settings.audit_retention_days - 1)
    app.deps.services.login(app.slack.team_id, app.slack.user_id, *ADMIN)
    app.clock.advance(days=2)
    worker.run_cycle()
    assert [e.action for e in entries(app)] == ["login"], "older than the retention: pruned; the rest kept"


def test_new_entries_are_mirrored_to_the_audit_channel_and_a_refusal_loses_nothing(logged_in: RunningApp) -> None:
    app = logged_in
    posted = len(app.fake.calls("chat.postMessage"))
    app.fake.fail_next("chat.postMessage", "not_in_channel")
    assert "Invite me there first" in text(command(app, "audit channel <#C0OPSROOM|ops>"))
    assert app.deps.store.audit_channel(app.slack.team_id) is None

    assert "will be posted in <#C0OPSROOM>" in text(command(app, "audit channel <#C0OPSROOM|ops>"))
    command(app, 'edit 1000002 name:"Mirrored &lt;b&gt; &amp; co"')
    calls = app.fake.wait_for("chat.postMessage", count=posted + 3, timeout=10)[posted:]
    notice, mirrored = calls[1].args, calls[2].args
    assert notice["channel"] == "C0OPSROOM" and "audit trail" in notice["text"]
    assert mirrored["channel"] == "C0OPSROOM" and "Mirrored &lt;b&gt; &amp; co" in mirrored["text"]
    assert calls[2].error is None

    # The app was removed from the channel: the entry stays, the person who set it is told once.
    app.fake.fail_next("chat.postMessage", "not_in_channel")
    command(app, 'edit 1000002 name:"Not mirrored"')
    told = app.fake.wait_for("chat.postMessage", count=posted + 5, timeout=10)[posted + 4].args
    assert told["channel"] == app.slack.user_id and "could not post the audit trail" in told["text"]
    assert latest(app, "edit").name == "Not mirrored"
    setting = app.deps.store.audit_channel(app.slack.team_id)
    assert setting is not None and setting.failing == "not_in_channel"

    assert "no longer posted in <#C0OPSROOM>" in text(command(app, "audit channel off"))
    command(app, 'edit 1000002 name:"After off"')
    time.sleep(0.3)
    assert not [c for c in app.fake.calls("chat.postMessage")[posted + 5 :] if c.args.get("channel") == "C0OPSROOM"]
    assert latest(app, "audit_channel").channel_id is None


def test_subscription_changes_are_recorded_by_whom_and_pauses_by_the_app(logged_in: RunningApp) -> None:
    app = logged_in
    command(app, "alerts subscribe <#C0SUPPORT|support> after:30m business:9001")
    sub = latest(app, "subscribe")
    assert sub.channel_id == "C0SUPPORT" and sub.user_id == app.slack.user_id
    assert sub.detail == "after:30m business:9001"
    subscription = app.deps.store.get_subscription(sub.subscription_id or "")
    assert subscription is not None

    app.slack.click(ids.ALERT_SNOOZE, f"{subscription.id}:1000001")
    snoozed = latest(app, "snooze")
    assert snoozed.chatroom_ids == [1000001] and snoozed.until == app.clock() + timedelta(hours=1)

    worker = AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    )
    command(app, "logout")
    worker.run_cycle()
    paused = latest(app, "pause")
    assert paused.user_id is None and paused.subscription_id == subscription.id and paused.detail
    app.deps.services.login(app.slack.team_id, app.slack.user_id, *ADMIN)
    worker.run_cycle()
    assert latest(app, "resume").user_id is None

    command(app, f"alerts change {subscription.id} after:1h hours:08:00-20:00")
    changed = latest(app, "change")
    assert [(c.field, c.before, c.after) for c in changed.changes] == [
        ("after", "30m", "1h"),
        ("hours", None, "08:00-20:00"),
    ]
    command(app, f"alerts unsubscribe {subscription.id}")
    assert latest(app, "unsubscribe").subscription_id == subscription.id
    shown = text(command(app, "audit"))
    assert "the app paused alerts" in shown and "subscribed <#C0SUPPORT> to alerts" in shown
    assert "`after:` 30m → 1h; `hours:` off → 08:00-20:00" in shown
