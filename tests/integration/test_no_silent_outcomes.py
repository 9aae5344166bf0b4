"""Every outcome reaches the person, even when they closed the modal while Nexudus worked.

Slack forgets a closed modal: `views.update` then answers `not_found`. The fake Slack does the same after
`close_view`, so each form is submitted with its modal already closed (as a person who clicked × right
after Submit), and the outcome must arrive privately: through the slash command's response_url when the
modal was opened from one, else as a direct message from the app.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ADMIN, SLACK_E2E, RunningApp

from bot.console.fake_slack import Call
from bot.nexudus.query import ChatRoomFilters
from bot.slack import ids

pytestmark = [pytest.mark.integration, SLACK_E2E]


def text_of(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def prefilled(view: dict[str, Any]) -> dict[str, Any]:
    from bot.console.render import initial_state, render_modal

    return {f.block_id: {f.action_id: initial_state(f)} for f in render_modal(view).fields}


def closed_then_submitted(app: RunningApp, view: dict[str, Any], state: dict[str, Any]) -> None:
    """The person submits, then closes the modal before the app has answered."""
    assert app.fake.close_view(view["id"])
    ack = app.slack.submit(view, state)
    assert ack.status == 200 and ack.json.get("response_action") in ("update", None), ack.json


def modal_update_failed(app: RunningApp) -> Call:
    """The app did try the modal, and Slack said it was gone."""
    call = app.next("views.update")
    assert call.error == "not_found", (call.error, text_of(call.args))
    return call


def private_answer(app: RunningApp) -> dict[str, Any]:
    return dict(app.next("response_url").args)


def test_create_with_the_modal_closed_is_still_reported(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    state = prefilled(form)
    state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Made & closed"}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    told = private_answer(app)
    assert "Chatroom created" in text_of(told) and "Made &amp; closed" in text_of(told)
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    assert session.find(ChatRoomFilters(name="Made & closed")).total_items == 1


def test_a_create_nexudus_refused_with_the_modal_closed_says_nothing_was_created(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("create business:1")  # no such business in the sandbox: Nexudus refuses
    form = app.next("views.open").response["view"]
    state = prefilled(form)
    state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Nowhere"}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    told = text_of(private_answer(app))
    assert "no business has this id" in told and "No chatroom was created" in told


def test_edit_with_the_modal_closed_is_still_reported(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("edit 1000004")
    form = app.next("views.update").response["view"]
    state = prefilled(form)
    state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Saved while closed"}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    assert "Saved name" in text_of(private_answer(app))
    assert app.sandbox.db.get(1_000_004).name == "Saved while closed"  # type: ignore[union-attr]


def test_an_edit_conflict_with_the_modal_closed_is_still_reported(logged_in: RunningApp) -> None:
    from bot.nexudus.client import ChatRoomChanges

    app = logged_in
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    app.slack.command("edit 1000005")
    form = app.next("views.update").response["view"]
    session.edit(1_000_005, ChatRoomChanges(name="Elsewhere"), expected_updated_on=None, expected_fingerprint=None)
    state = prefilled(form)
    state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Mine"}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    told = text_of(private_answer(app))
    assert "Nothing was saved" in told and "/chatrooms edit 1000005" in told
    assert app.sandbox.db.get(1_000_005).name == "Elsewhere"  # type: ignore[union-attr]


def test_delete_with_the_modal_closed_is_still_reported(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("delete 1000006")
    confirm = app.next("views.update").response["view"]
    closed_then_submitted(app, confirm, {})
    modal_update_failed(app)
    assert "was deleted" in text_of(private_answer(app))
    assert app.sandbox.db.get(1_000_006) is None


def test_run_with_the_modal_closed_is_still_reported(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("run SET_ACTIVE 1000008")
    form = app.next("views.update").response["view"]
    state = prefilled(form)
    active = next(b["block_id"] for b in form["blocks"] if b.get("label", {}).get("text") == "Active")
    state[active] = {active: {"type": "radio_buttons", "selected_option": {"value": "false"}}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    assert "Closed 1 chatroom" in text_of(private_answer(app))
    assert not app.sandbox.db.get(1_000_008).active  # type: ignore[union-attr]


def test_a_run_nexudus_refused_with_the_modal_closed_says_it_did_not_run(logged_in: RunningApp) -> None:
    from bot.console.render import field_state, initial_state, render_modal

    app = logged_in
    app.slack.command("run SCHEDULE_FOLLOW_UP 1000001 1000002")
    form = app.next("views.update").response["view"]
    typed = {"Visit at": "2026-12-01 10:00", "Priority": "9"}  # Nexudus takes priorities 1 to 5 only
    state = {
        f.block_id: {f.action_id: field_state(f, typed[f.label]) if f.label in typed else initial_state(f)}
        for f in render_modal(form).fields
    }
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    told = text_of(private_answer(app))
    assert "Priority must be between 1 and 5" in told and "not run" in told


def test_login_with_the_modal_closed_is_still_reported(running_app: RunningApp) -> None:
    app = running_app
    app.slack.command("login")
    form = app.next("views.open").response["view"]
    state = {
        ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": ADMIN[0]}},
        ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": "wrong"}},
    }
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    refused = private_answer(app)
    assert "did not accept" in text_of(refused) and "You are not logged in" in text_of(refused)
    app.slack.command("login")
    form = app.next("views.open").response["view"]
    state[ids.F_PASSWORD] = {ids.F_PASSWORD: {"type": "plain_text_input", "value": ADMIN[1]}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    assert "Logged in as *admin@sandbox.local*" in text_of(private_answer(app))


def test_without_a_response_url_the_outcome_comes_as_a_direct_message(logged_in: RunningApp) -> None:
    app = logged_in
    home = {"id": "VHOME", "type": "home", "blocks": []}
    app.slack.click(ids.EDIT, "1000010", view=home)  # a button in a view carries no response_url
    form = app.next("views.update").response["view"]
    state = prefilled(form)
    state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Told by DM"}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    dm = app.next("chat.postMessage")
    assert dm.args["channel"] == app.slack.user_id and "Saved name" in text_of(dm.args)


def test_an_error_with_the_modal_closed_is_still_reported(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("delete 1000011")
    confirm = app.next("views.update").response["view"]
    app.sandbox.db.delete(1_000_011)  # gone in Nexudus before the person confirms
    closed_then_submitted(app, confirm, {})
    modal_update_failed(app)
    assert "Nexudus has no chatroom 1000011" in text_of(private_answer(app))


def test_a_response_url_past_its_30_minutes_gives_way_to_a_direct_message(logged_in: RunningApp) -> None:
    app = logged_in
    later = [app.fake.clock()]
    app.fake.clock = lambda: later[0]
    app.slack.command("edit 1000012")
    form = app.next("views.update").response["view"]
    later[0] += 31 * 60  # the person filled the form for half an hour
    state = prefilled(form)
    state[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Slowly saved"}}
    closed_then_submitted(app, form, state)
    modal_update_failed(app)
    assert app.next("response_url").error == "expired_url"
    dm = app.next("chat.postMessage")
    assert dm.args["channel"] == app.slack.user_id and "Saved name" in text_of(dm.args)
