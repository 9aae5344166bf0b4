"""End to end: Nexudus commands from Slack, through the real Bolt app, the sandbox and the fake Slack."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from conftest import EVERY_DIALECT, READER, SLACK_E2E, RunningApp

from bot.console.driver import find_action
from bot.console.render import field_state, initial_state, render_modal
from bot.slack import ids
from bot.slack.limits import MAX_OPTION_TEXT

pytestmark = [pytest.mark.integration, EVERY_DIALECT, SLACK_E2E]


def all_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def runs(app: RunningApp) -> int:
    return app.sandbox.stats.count("POST", "runcommand")


def next_call(app: RunningApp, method: str, before: int) -> Any:
    """The first `method` call after `before` of them were recorded (stored views are kept)."""
    return app.fake.wait_for(method, count=before + 1, timeout=10)[before]


def open_form(app: RunningApp, text: str) -> dict[str, Any]:
    """`/chatrooms TEXT` → the run modal as Slack stores it (after the loading view)."""
    before = len(app.fake.calls("views.update"))
    app.slack.command(text)
    view = next_call(app, "views.update", before).response["view"]
    assert view["callback_id"] == ids.RUN_MODAL, all_text(view)
    return view


def state_for(view: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """The state Slack sends: initial values, with `typed` (by field label) as a person would type them."""
    modal = render_modal(view)
    state: dict[str, Any] = {}
    for f in modal.fields:
        entry = field_state(f, typed[f.label]) if f.label in typed else initial_state(f)
        state[f.block_id] = {f.action_id: entry}
    return state


def block_of(view: dict[str, Any], label: str) -> str:
    for block in view["blocks"]:
        if block.get("type") == "input" and block["label"]["text"] == label:
            return str(block["block_id"])
    raise AssertionError(f"no input labelled {label!r} in {all_text(view)}")


def submit_and_wait(app: RunningApp, view: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    before = len(app.fake.calls("views.update"))
    ack = app.slack.submit(view, state)
    assert ack.json.get("response_action") == "update", ack.json
    assert "submit" not in ack.json["view"], "the Running… view must not be submittable"
    return dict(next_call(app, "views.update", before).args["view"])


def test_commands_lists_visible_commands_in_order(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("commands")
    msg = app.fake.wait_for("response_url")[0].args
    text = all_text(msg)
    keys = [
        b["accessory"]["value"] for b in msg["blocks"] if b.get("accessory", {}).get("action_id") == ids.RUN_COMMAND
    ]
    assert keys == [
        "RENAME",
        "SEND_TRANSCRIPT",
        "MARK_VISITED",
        "CLOSE_IDLE",
        "SET_ACTIVE",
        "SCHEDULE_FOLLOW_UP",
        "SET_RESPONSE_TARGET",
        "MERGE_CHATROOMS",
    ]
    assert "INTERNAL_REINDEX" not in text
    assert "exactly 2 chatrooms" in text and "*New name* (text)" in text
    assert "1 command that Nexudus hides" in text


@pytest.mark.dialect_sensitive("ids")
def test_command_metadata_is_cached_per_user(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("commands")
    app.fake.wait_for("response_url")
    open_form(app, "run SET_ACTIVE 1000001")
    assert app.sandbox.stats.count("GET", "commands") == 1
    app.clock.advance(minutes=6)
    open_form(app, "run SET_ACTIVE 1000001")
    assert app.sandbox.stats.count("GET", "commands") == 2


@pytest.mark.dialect_sensitive("ids")
def test_set_active_runs_and_posts_result_with_refreshed_cards(logged_in: RunningApp) -> None:
    app = logged_in
    assert app.sandbox.db.get(1_000_001).active and app.sandbox.db.get(1_000_002).active  # type: ignore[union-attr]
    form = open_form(app, "run SET_ACTIVE 1000001 1000002")
    picker = find_input(form, ids.RUN_ROOMS)
    assert [o["value"] for o in picker["element"]["initial_options"]] == ["1000001", "1000002"]
    assert "Mail & parcels" in all_text(picker)
    active = find_input(form, block_of(form, "Active"))
    assert active["element"]["type"] == "radio_buttons"
    done = submit_and_wait(app, form, state_for(form, {"Active": "false"}))
    assert done["title"]["text"] == "Command run", all_text(done)
    assert "Closed 2 chatrooms" in all_text(done)
    assert not app.sandbox.db.get(1_000_001).active  # type: ignore[union-attr]
    assert not app.sandbox.db.get(1_000_002).active  # type: ignore[union-attr]
    result, cards = (c.args for c in app.fake.wait_for("response_url", count=2, timeout=10))
    assert "Closed 2 chatrooms" in all_text(result)
    assert all_text(cards).count("⚫ Inactive") == 2
    assert find_action(cards["blocks"], ids.RUN) is not None
    assert runs(app) == 1


@pytest.mark.dialect_sensitive("ids")
def test_invalid_values_come_back_under_their_fields_and_nothing_runs(logged_in: RunningApp) -> None:
    app = logged_in
    form = open_form(app, "run SCHEDULE_FOLLOW_UP 1000001 1000002")
    state = state_for(form, {"Visit at": "2026-12-01 10:00"})
    priority, visit = block_of(form, "Priority"), block_of(form, "Visit at")
    state[priority] = {priority: {"type": "number_input", "value": "abc"}}
    ack = app.slack.submit(form, state)
    assert ack.json["response_action"] == "errors"
    assert set(ack.json["errors"]) == {priority}
    state[priority] = {priority: {"type": "number_input", "value": "2.5"}}
    state[visit] = {visit: {"type": "datetimepicker", "selected_date_time": "2026-13-45"}}
    ack = app.slack.submit(form, state)
    assert ack.json["response_action"] == "errors"
    assert set(ack.json["errors"]) == {priority, visit}
    assert "fraction" in ack.json["errors"][priority]
    assert "2026-13-45" in ack.json["errors"][visit]
    assert runs(app) == 0


@pytest.mark.dialect_sensitive("ids")
def test_entity_rules_are_enforced_before_anything_is_sent(logged_in: RunningApp) -> None:
    app = logged_in
    cases = [
        ("run RENAME 1000001 1000002", {"New name": "x"}, "exactly one chatroom"),
        ("run MERGE_CHATROOMS 1000001", {"Close the second": "false"}, "exactly two chatrooms"),
        ("run SCHEDULE_FOLLOW_UP 1000001", {"Visit at": "2026-12-01 10:00", "Priority": "3"}, "two or more"),
    ]
    for text, typed, rule in cases:
        form = open_form(app, text)
        assert rule in all_text(form["blocks"][0]), "told at once, in the modal"
        ack = app.slack.submit(form, state_for(form, typed))
        assert ack.json["response_action"] == "errors", text
        assert rule in ack.json["errors"][ids.RUN_ROOMS]
    assert runs(app) == 0


def test_close_idle_runs_with_no_chatroom(logged_in: RunningApp) -> None:
    app = logged_in
    form = open_form(app, "run CLOSE_IDLE")
    assert find_input(form, ids.RUN_ROOMS)["optional"] is True
    # It needs no chatroom: the form says what it may touch, and a run with none chosen is confirmed first.
    assert "may change any of the *60* chatrooms your Nexudus login can reach, in every business" in all_text(form)
    ack = app.slack.submit(form, state_for(form, {"Idle for days": "7"}))
    assert ack.json["response_action"] == "errors" and "tick this" in ack.json["errors"][ids.RUN_CONFIRM]
    assert runs(app) == 0
    done = submit_and_wait(app, form, state_for(form, {"Idle for days": "7", "Confirm": "y"}))
    assert "Closed" in all_text(done) and "idle chatroom" in all_text(done), all_text(done)
    assert runs(app) == 1
    result = app.fake.wait_for("response_url")[0].args
    assert "idle chatroom" in all_text(result)


@pytest.mark.dialect_sensitive("ids")
def test_nexudus_refusal_is_shown_in_the_form_with_values_kept(logged_in: RunningApp) -> None:
    app = logged_in
    form = open_form(app, "run RENAME 1000001")
    assert find_input(form, block_of(form, "New name"))["optional"] is False, "never 'optional', then refused"
    ack = app.slack.submit(form, state_for(form, {"New name": "   "}))
    assert ack.json["response_action"] == "errors"
    assert "Enter a value" in all_text(ack.json)
    form = open_form(app, "run SCHEDULE_FOLLOW_UP 1000001 1000002")
    again = submit_and_wait(app, form, state_for(form, {"Visit at": "2026-12-01 10:00", "Priority": "9"}))
    assert "Priority must be between 1 and 5" in all_text(again)
    assert "Nexudus says the command did not succeed" in all_text(again)
    assert "by Slack" not in all_text(again), "Nexudus refused, not Slack"
    assert find_input(again, block_of(again, "Priority"))["element"]["initial_value"] == "9"
    assert find_input(again, block_of(again, "Visit at"))["element"]["initial_date_time"] == 1_796_119_200
    assert [o["value"] for o in find_input(again, ids.RUN_ROOMS)["element"]["initial_options"]] == [
        "1000001",
        "1000002",
    ]


@pytest.mark.dialect_sensitive("ids")
def test_pick_a_command_in_the_modal_keeps_the_chosen_chatrooms(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("show 1000003")
    card = app.fake.wait_for("response_url")[0].args
    run_button = find_action(card["blocks"], ids.RUN)
    assert run_button is not None and run_button["value"] == "1000003"
    before = len(app.fake.calls("views.update"))
    app.slack.click(ids.RUN, run_button["value"])
    form = next_call(app, "views.update", before).response["view"]
    pick = find_input(form, ids.RUN_PICK)
    assert pick["dispatch_action"] is True
    options = [o["value"] for o in pick["element"]["options"]]
    assert "SET_ACTIVE" in options and "INTERNAL_REINDEX" not in options
    # Submitting before choosing a command is refused under the select.
    ack = app.slack.submit(form, state_for(form, {}))
    assert ack.json["response_action"] == "errors" and ids.RUN_PICK in ack.json["errors"]
    before = len(app.fake.calls("views.update"))
    option = next(o for o in pick["element"]["options"] if o["value"] == "SET_ACTIVE")
    app.slack.click(ids.RUN_PICK, selected_option=option, view=form, block_id=ids.RUN_PICK, action_type="static_select")
    form = next_call(app, "views.update", before).response["view"]
    assert find_input(form, ids.RUN_PICK)["element"]["initial_option"]["value"] == "SET_ACTIVE"
    assert [o["value"] for o in find_input(form, ids.RUN_ROOMS)["element"]["initial_options"]] == ["1000003"]
    done = submit_and_wait(app, form, state_for(form, {"Active": "false"}))
    assert "Closed 1 chatroom" in all_text(done)
    assert not app.sandbox.db.get(1_000_003).active  # type: ignore[union-attr]


def test_chatroom_picker_searches_by_name_and_id(logged_in: RunningApp) -> None:
    app = logged_in
    form = open_form(app, "run SET_ACTIVE")

    def suggest(query: str) -> list[dict[str, Any]]:
        payload = {
            "type": "block_suggestion",
            "user": {"id": app.slack.user_id, "team_id": app.slack.team_id},
            "team": {"id": app.slack.team_id, "domain": "t"},
            "api_app_id": "A0001",
            "token": "verification-token",
            "action_id": ids.RUN_ROOMS,
            "block_id": ids.RUN_ROOMS,
            "value": query,
            "container": {"type": "view", "view_id": form["id"]},
            "view": form,
        }
        ack = app.slack.post("payload=" + quote(json.dumps(payload)))
        assert ack.status == 200
        return list(ack.json["options"])

    by_id = suggest("1000002")
    assert by_id[0]["value"] == "1000002" and "Desk booking" in by_id[0]["text"]["text"]
    by_name = suggest("northwind")
    assert {"1000001", "1000003"} <= {o["value"] for o in by_name}
    assert all(len(o["text"]["text"]) <= MAX_OPTION_TEXT for o in by_name)

    # A slow Nexudus: the picker answers within Slack's 3 s, with no suggestions rather than too late.
    app.sandbox.config.delay = 4.0
    try:
        started = time.monotonic()
        assert suggest("northwind") == []
        assert time.monotonic() - started < 2.9
    finally:
        app.sandbox.config.delay = 0.0


@pytest.mark.dialect_sensitive("ids")
def test_double_submit_runs_once(logged_in: RunningApp) -> None:
    app = logged_in
    form = open_form(app, "run MARK_VISITED 1000004")
    state = state_for(form, {})
    first = app.slack.submit(form, state)
    second = app.slack.submit(form, state)
    assert first.json["response_action"] == second.json["response_action"] == "update"
    app.fake.wait_for("response_url", count=2, timeout=10)  # the result and the refreshed card
    assert runs(app) == 1


@pytest.mark.dialect_sensitive("ids")
def test_hidden_and_forged_commands_are_refused(logged_in: RunningApp) -> None:
    app = logged_in
    before = len(app.fake.calls("views.update"))
    app.slack.command("run INTERNAL_REINDEX")
    shown = next_call(app, "views.update", before).args["view"]
    assert "not offered by Nexudus" in all_text(shown)
    form = open_form(app, "run MARK_VISITED 1000001")
    forged = json.loads(form["private_metadata"]) | {"key": "INTERNAL_REINDEX", "needs": False}
    shown = submit_and_wait(app, form | {"private_metadata": json.dumps(forged)}, state_for(form, {}))
    assert "not offered by Nexudus" in all_text(shown)
    ack = app.slack.submit(form | {"private_metadata": '{"key": 1'}, state_for(form, {}))
    assert "out of date or was altered" in all_text(ack.json)
    assert runs(app) == 0


@pytest.mark.dialect_sensitive("ids")
def test_a_mistyped_command_key_suggests_the_right_one(logged_in: RunningApp) -> None:
    app = logged_in
    before = len(app.fake.calls("views.update"))
    app.slack.command("run MARK-VISITED 1000001")
    shown = next_call(app, "views.update", before).args["view"]
    assert "There is no command `MARK-VISITED`. Did you mean `MARK_VISITED`?" in all_text(shown)
    form = open_form(app, "run mark_visited 1000001")  # the case of a key does not matter
    assert "MARK_VISITED" in all_text(form)


@pytest.mark.dialect_sensitive("ids")
def test_reader_is_told_the_missing_role(running_app: RunningApp) -> None:
    app = running_app
    app.deps.services.login(app.slack.team_id, app.slack.user_id, *READER)
    before = app.sandbox.db.get(1_000_005)
    assert before is not None
    form = open_form(app, "run SET_ACTIVE 1000005")
    shown = submit_and_wait(app, form, state_for(form, {"Active": "false" if before.active else "true"}))
    assert "lacks the *ChatRoom-Edit* role" in all_text(shown)
    after = app.sandbox.db.get(1_000_005)
    assert after is not None and after.active == before.active


def find_input(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    for block in view["blocks"]:
        if block.get("block_id") == block_id:
            return dict(block)
    raise AssertionError(f"no block {block_id} in {all_text(view)}")
