"""End to end: signed Slack requests → the real Bolt app → the sandbox over HTTP → the fake Slack."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import ADMIN, EVERY_DIALECT, READER, SLACK_E2E, RunningApp

from bot.console.driver import find_action
from bot.slack import ids

pytestmark = [pytest.mark.integration, EVERY_DIALECT, SLACK_E2E]


def response_messages(app: RunningApp, count: int = 1) -> list[dict[str, Any]]:
    return [app.next("response_url").args for _ in range(count)]


def all_text(message: dict[str, Any]) -> str:
    import json

    return json.dumps(message, ensure_ascii=False)


def test_not_logged_in_user_is_sent_to_login(running_app: RunningApp) -> None:
    ack = running_app.slack.command("list")
    assert ack.status == 200
    msg = response_messages(running_app)[0]
    assert "/chatrooms login" in all_text(msg)
    assert find_action(msg["blocks"], ids.LOGIN) is not None


def test_bad_argument_is_answered_in_the_ack_with_usage(running_app: RunningApp) -> None:
    ack = running_app.slack.command("list colour:blue")
    assert ack.status == 200
    assert ack.json["response_type"] == "ephemeral"
    assert "colour" in all_text(ack.json)
    assert running_app.fake.calls("response_url") == []


@pytest.mark.dialect_sensitive("basic", "tokens")
def test_login_via_modal_then_list_and_next_page(running_app: RunningApp) -> None:
    app = running_app
    app.slack.command("login")
    opened = app.next("views.open").response["view"]
    assert opened["callback_id"] == ids.LOGIN_MODAL
    # A wrong password: the modal comes back with the error, nothing stored.
    ack = app.slack.submit(
        opened,
        {
            ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": ADMIN[0]}},
            ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": "wrong"}},
        },
    )
    assert ack.json["response_action"] == "update"
    updated = app.next("views.update").args["view"]
    assert "did not accept" in all_text(updated)
    assert app.deps.store.whoami(app.slack.team_id, app.slack.user_id) is None
    # The right one.
    ack = app.slack.submit(
        opened | {"hash": "2"},
        {
            ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": ADMIN[0]}},
            ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": ADMIN[1]}},
        },
    )
    assert app.next("views.update").args["view"]["title"]["text"] == "Logged in"
    assert app.deps.store.whoami(app.slack.team_id, app.slack.user_id) == ADMIN[0]
    assert "Logged in as *admin@sandbox.local*" in all_text(response_messages(app)[0])

    app.slack.command("list size:20")
    first = response_messages(app)[0]
    assert "1–20 of 60" in all_text(first)
    nxt = find_action(first["blocks"], ids.LIST_NEXT)
    assert nxt is not None and nxt["text"]["text"].startswith("Next")
    app.slack.click(ids.LIST_NEXT, nxt["value"])
    second = response_messages(app)[0]
    assert second["replace_original"] is True
    assert "21–40 of 60" in all_text(second)
    # A middle page has both buttons in one actions block: Slack wants their action ids distinct.
    previous, following = find_action(second["blocks"], ids.LIST_PREVIOUS), find_action(second["blocks"], ids.LIST_NEXT)
    assert previous is not None and following is not None
    assert app.fake.last("response_url").error is None, "the strict fake Slack took the page"


@pytest.mark.dialect_sensitive("dir")
def test_list_keeps_filters_across_pages(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("list active:true size:5 sort:-visited")
    first = response_messages(app)[0]
    nxt = find_action(first["blocks"], ids.LIST_NEXT)
    assert nxt is not None
    assert "active:true" in nxt["value"] and "sort:-" in nxt["value"]
    active = sum(1 for i in range(1_000_001, 1_000_061) if (row := app.sandbox.db.get(i)) and row.active)
    assert 0 < active < 60
    assert f"of {active}" in all_text(first)


@pytest.mark.dialect_sensitive("dir", "local_zone")
def test_a_size_above_slacks_40_rows_is_capped_and_the_header_says_so(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("list size:50 sort:-visited")
    first = response_messages(app)[0]
    assert "40 per page (Slack's limit)" in all_text(first)
    assert "sorted by last agent visit, newest first" in all_text(first)
    assert "1–40 of 60" in all_text(first)
    nxt = find_action(first["blocks"], ids.LIST_NEXT)
    assert nxt is not None and "size:40" in nxt["value"], "the next page continues where this one stopped"


@pytest.mark.dialect_sensitive("extra_fields", "local_zone")
def test_edit_via_modal_keeps_users_and_other_fields(logged_in: RunningApp) -> None:
    app = logged_in
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    before = session.get(1_000_001)
    assert before.users, "demo chatrooms have members"
    app.slack.command(f"edit {before.id}")
    form = app.next("views.update").response["view"]  # the loading modal becomes the form
    assert form["callback_id"] == ids.EDIT_MODAL
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Renamed from Slack"}}
    ack = app.slack.submit(form, values)
    assert ack.json["response_action"] == "update"
    saved = app.next("views.update").args["view"]
    assert saved["title"]["text"] == "Saved", all_text(saved)
    after = session.get(before.id)
    assert after.name == "Renamed from Slack"
    assert after.users == before.users
    assert after.active == before.active
    assert after.last_agent_visit == before.last_agent_visit
    assert after.system_id == before.system_id
    assert after.business == before.business


@pytest.mark.dialect_sensitive("extra_fields", "local_zone")
def test_edit_refused_when_someone_else_changed_the_record(logged_in: RunningApp) -> None:
    app = logged_in
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    app.slack.command("edit 1000002")
    form = app.next("views.update").response["view"]  # the loading modal becomes the form
    # Someone else edits the chatroom meanwhile.
    from bot.nexudus.client import ChatRoomChanges

    session.edit(
        1_000_002, ChatRoomChanges(name="Changed elsewhere"), expected_updated_on=None, expected_fingerprint=None
    )
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "My rename"}}
    app.slack.submit(form, values)
    again = app.next("views.update").args["view"]
    assert again["callback_id"] == ids.EDIT_MODAL
    assert "changed this chatroom after you opened it" in all_text(again)
    assert session.get(1_000_002).name == "Changed elsewhere"


def test_client_side_errors_come_back_under_the_field(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("create")
    form = app.next("views.open").response["view"]
    values = prefilled_state(form)
    values[ids.F_BUSINESS] = {ids.F_BUSINESS: {"type": "number_input", "value": "abc"}}
    values[ids.F_USERS] = {ids.F_USERS: {"type": "plain_text_input", "value": "12, x"}}
    ack = app.slack.submit(form, values)
    assert ack.json["response_action"] == "errors"
    assert set(ack.json["errors"]) >= {ids.F_BUSINESS, ids.F_NAME, ids.F_USERS}


def test_a_create_form_with_forged_metadata_is_refused_in_the_ack_and_creates_nothing(logged_in: RunningApp) -> None:
    # Before, the ack showed "Creating the chatroom…" for a form that could not be run, then an error.
    app = logged_in
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Forged create"}}
    ack = app.slack.submit(form | {"private_metadata": '{"response_url": "ftp://x"}'}, values)
    assert ack.json["response_action"] == "update"
    assert "out of date or was altered" in all_text(ack.json["view"])
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    assert (
        session.find(
            __import__("bot.nexudus.query", fromlist=["ChatRoomFilters"]).ChatRoomFilters(name="Forged create")
        ).total_items
        == 0
    )


def test_create_then_delete_with_confirmation(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Made in Slack"}}
    values[ids.F_USERS] = {ids.F_USERS: {"type": "plain_text_input", "value": "7000001, 7000002"}}
    app.slack.submit(form, values)
    done = app.next("views.update").args["view"]
    assert done["title"]["text"] == "Chatroom created", all_text(done)
    created = app.deps.services.session(app.slack.team_id, app.slack.user_id).find(
        __import__("bot.nexudus.query", fromlist=["ChatRoomFilters"]).ChatRoomFilters(name="Made in Slack")
    )
    assert created.total_items == 1
    room_id = created.records[0].id
    app.slack.command(f"delete {room_id}")
    confirm = app.next("views.update").response["view"]
    assert "Made in Slack" in all_text(confirm)
    assert confirm["submit"]["text"] == "Delete"
    app.slack.submit(confirm, {})
    app.next("views.update")
    from bot.nexudus.errors import NotFound

    try:
        app.deps.services.session(app.slack.team_id, app.slack.user_id).get(room_id)
        raise AssertionError("the chatroom should be gone")
    except NotFound:
        pass


def test_reader_is_told_the_missing_role(running_app: RunningApp) -> None:
    app = running_app
    app.deps.services.login(app.slack.team_id, app.slack.user_id, *READER)
    app.slack.command("delete 1000003")
    confirm = app.next("views.update").response["view"]
    app.slack.submit(confirm, {})
    shown = app.next("views.update").args["view"]
    assert "lacks the *ChatRoom-Delete* role" in all_text(shown)
    assert app.deps.services.session(app.slack.team_id, app.slack.user_id).get(1_000_003).id == 1_000_003


def test_forged_and_stale_requests_are_rejected(logged_in: RunningApp) -> None:
    from bot.console import signing

    body = signing.slash_command_body("/chatrooms", "list", "U0001", "T0001", "C0001", "http://x", "1.2.3")
    bad = logged_in.slack.post(body, headers={**signing.signed_headers(body, "wrong-secret")})
    assert bad.status == 401
    import time

    stale = logged_in.slack.post(
        body, headers=signing.signed_headers(body, "test-signing-secret", int(time.time()) - 600)
    )
    assert stale.status == 401
    assert logged_in.fake.calls("response_url") == []


def prefilled_state(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends when the user submits a form without touching it."""
    from bot.console.render import initial_state, render_modal

    modal = render_modal(view)
    return {f.block_id: {f.action_id: initial_state(f)} for f in modal.fields}


@pytest.mark.dialect_sensitive("extra_fields")
def test_saving_again_after_a_conflict_keeps_the_other_change(logged_in: RunningApp) -> None:
    from bot.nexudus.client import ChatRoomChanges

    app = logged_in
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    assert session.get(1_000_002).active is True
    app.slack.command("edit 1000002")
    form = app.next("views.update").response["view"]
    # Someone else closes the chatroom while the form is open.
    session.edit(1_000_002, ChatRoomChanges(active=False), expected_updated_on=None, expected_fingerprint=None)
    values = prefilled_state(form)  # the form still shows it active
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Renamed by me"}}
    app.slack.submit(form, values)
    again = app.next("views.update").response["view"]
    assert "changed this chatroom after you opened it" in all_text(again)
    # Save the form as the app now shows it: the current record with my rename on top.
    app.slack.submit(again, prefilled_state(again))
    assert app.next("views.update").args["view"]["title"]["text"] == "Saved"
    after = session.get(1_000_002)
    assert after.name == "Renamed by me"
    assert after.active is False, "the other person's change must survive"


@pytest.mark.dialect_sensitive("extra_fields")
def test_edit_keeps_a_long_name_and_a_huge_member_list_it_cannot_show(logged_in: RunningApp) -> None:
    from bot.nexudus.client import ChatRoomChanges

    app = logged_in
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    long_name = "Lobby " + "x" * 294
    members = list(range(7_000_001, 7_000_401))
    session.edit(
        1_000_005,
        ChatRoomChanges(name=long_name, users=members),
        expected_updated_on=None,
        expected_fingerprint=None,
    )
    app.slack.command("edit 1000005")
    form = app.next("views.update").response["view"]
    users_block = next(b for b in form["blocks"] if b.get("block_id") == ids.F_USERS)
    assert "initial_value" not in users_block["element"], "3000+ characters do not fit a Slack input"
    assert "400 members" in users_block["hint"]["text"]
    values = prefilled_state(form)
    values[ids.F_ACTIVE] = {ids.F_ACTIVE: {"type": "checkboxes", "selected_options": []}}
    app.slack.submit(form, values)
    saved = app.next("views.update").args["view"]
    assert "saved (active)" in all_text(saved)
    after = session.get(1_000_005)
    assert after.active is False
    assert after.name == long_name
    assert after.users == members


@pytest.mark.dialect_sensitive("ids")
def test_show_of_many_ids_uses_few_messages(logged_in: RunningApp) -> None:
    app = logged_in
    ids_text = " ".join(str(i) for i in range(1_000_001, 1_000_026))
    app.slack.command(f"show {ids_text} 999")
    cards, rest, missing = response_messages(app, 3)
    assert sum(1 for b in cards["blocks"] if b["type"] == "actions") == 10
    assert "15 more" in all_text(rest)
    assert "`999`" in all_text(missing)


def test_slow_answers_show_a_placeholder_that_the_answer_replaces(logged_in: RunningApp) -> None:
    app = logged_in
    ack = app.slack.command("list size:2")
    assert "Looking up chatrooms" in ack.json["text"]
    answer = response_messages(app)[0]
    assert answer["replace_original"] is True
    assert "1–2 of 60" in all_text(answer)


@pytest.mark.dialect_sensitive("extra_fields", "local_zone")
def test_inline_edit_applies_at_once_and_keeps_users_and_untouched_fields(logged_in: RunningApp, sandbox: Any) -> None:
    app = logged_in
    before = sandbox.db.get(1_000_001)
    assert before is not None and before.users and before.active, "a demo chatroom with members"
    ack = app.slack.command('edit 1000001 name:"Front desk" active:false')
    assert "Saving your changes" in all_text(ack.json)
    reply = response_messages(app)[0]
    assert reply["replace_original"] is True
    assert "✅ Saved active, name" in all_text(reply)
    assert "Front desk" in all_text(reply)
    after = sandbox.db.get(1_000_001)
    assert after is not None
    assert (after.name, after.active) == ("Front desk", False)
    # Everything not typed is kept, members included (a PUT clears what it is not sent).
    assert after.users == before.users
    assert after.business_id == before.business_id
    assert after.last_agent_visit == before.last_agent_visit
    assert after.system_id == before.system_id
    assert after.unique_id == before.unique_id
    assert app.fake.calls("views.open") == [], "no form for a power user's inline edit"
    # The other fields, the other way round: what was just saved is kept in turn.
    app.slack.command("edit 1000001 visited:never users:7000237")
    assert "✅ Saved last agent visit, users" in all_text(response_messages(app)[0])
    again = sandbox.db.get(1_000_001)
    assert again is not None
    assert (again.last_agent_visit, again.users) == (None, (7000237,))
    assert (again.name, again.active, again.business_id) == ("Front desk", False, before.business_id)


@pytest.mark.dialect_sensitive("local_zone")
def test_inline_edit_refusals_are_answered_in_the_ack_and_change_nothing(
    logged_in: RunningApp, sandbox: Any, clock: Any
) -> None:
    app = logged_in
    before = sandbox.db.get(1_000_002)
    future = (clock() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    for text, message in (
        (f"edit 1000002 visited:{future}", "cannot be in the future"),
        ("edit 1000002 nme:x", "Did you mean `name`?"),
        ("edit 1000002 name:" + "x" * 201, "at most 200 characters"),
    ):
        ack = app.slack.command(text)
        assert message in all_text(ack.json), text
    assert sandbox.db.get(1_000_002) == before
    assert app.fake.calls("response_url") == []


@pytest.mark.dialect_sensitive("ids")
def test_a_deleted_chatroom_s_card_is_redrawn_as_deleted_by_whom_without_buttons(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("show 1000001 1000002")
    cards = response_messages(app)[0]
    buttons = [
        e for b in cards["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == ids.DELETE
    ]
    assert len(buttons) == 2
    app.slack.click(ids.DELETE, buttons[1]["value"], message=cards)
    confirm = app.next("views.update").response["view"]
    app.slack.submit(confirm, {})
    app.next("views.update")
    notice, redrawn = response_messages(app, 2)
    assert "was deleted" in all_text(notice)
    assert redrawn["replace_original"] is True
    text = all_text(redrawn)
    assert f"Deleted by <@{app.slack.user_id}>" in text and "`#1000002`" in text
    values = [e.get("value", "") for b in redrawn["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert values and all(not v.startswith("1000002") for v in values)  # no button left on the deleted card
    assert any(v.startswith("1000001") for v in values)  # the other card keeps its buttons


@pytest.mark.dialect_sensitive("ids")
def test_once_nexudus_refuses_a_role_what_needs_it_is_hidden_and_said_why_until_the_next_login(
    running_app: RunningApp,
) -> None:
    app = running_app
    services = app.deps.services
    services.login(app.slack.team_id, app.slack.user_id, *READER)

    def card_buttons() -> tuple[set[str], str]:
        app.slack.command("show 1000003")
        card = response_messages(app)[0]
        found = {e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]}
        return found, all_text(card)

    buttons, _ = card_buttons()
    assert {ids.EDIT, ids.RUN, ids.DELETE} <= buttons  # nothing refused yet: Nexudus has not been asked
    app.slack.command("delete 1000003")
    confirm = app.next("views.update").response["view"]
    app.slack.submit(confirm, {})
    assert "lacks the *ChatRoom-Delete* role" in all_text(app.next("views.update").args["view"])

    buttons, text = card_buttons()
    assert ids.DELETE not in buttons and ids.EDIT in buttons  # only what was refused is hidden
    assert "What needs the *ChatRoom-Delete* role (Delete) is hidden: Nexudus refused it" in text
    assert "/chatrooms login" in text

    # Typed anyway (or an old button): answered at once, with no form to fill in first.
    opened = len(app.fake.calls("views.open"))
    app.slack.command("delete 1000003")
    answer = all_text(response_messages(app)[0])
    assert "lacks the *ChatRoom-Delete* role" in answer and "did not ask again" in answer
    assert len(app.fake.calls("views.open")) == opened

    # The list's row menus leave it out too; the memory fades after an hour, or at the next login.
    app.slack.command("list size:3")
    listing = all_text(response_messages(app)[0])
    assert '"delete:' not in listing and '"edit:' in listing and "ChatRoom-Delete" in listing
    app.clock.advance(hours=1, minutes=1)
    assert services.refused_roles(app.slack.team_id, app.slack.user_id) == frozenset()
    services.note_refused(app.slack.team_id, app.slack.user_id, "ChatRoom-Delete")
    services.login(app.slack.team_id, app.slack.user_id, *READER)
    buttons, _ = card_buttons()
    assert ids.DELETE in buttons


def test_deleting_from_a_list_row_redraws_that_page_without_it_and_says_who(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("list active:true size:3")
    listing = response_messages(app)[0]
    rows = [b for b in listing["blocks"] if b.get("accessory", {}).get("action_id") == ids.ROW_MENU]
    assert len(rows) == 3
    victim = rows[1]
    option = next(o for o in victim["accessory"]["options"] if o["value"].startswith("delete:"))
    room_id = int(option["value"].split(":")[1])
    app.slack.click(ids.ROW_MENU, selected_option=option, block_id=victim["block_id"], message=listing)
    confirm = app.next("views.update").response["view"]
    app.slack.submit(confirm, {})
    app.next("views.update")
    notice, redrawn = response_messages(app, 2)
    assert "was deleted" in all_text(notice)
    assert redrawn["replace_original"] is True
    text = all_text(redrawn)
    assert f"(`#{room_id}`) was deleted by <@{app.slack.user_id}>" in text
    assert f'"delete:{room_id}"' not in text and text.count('"delete:') == 3  # the page refilled, without it
