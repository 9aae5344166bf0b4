"""What the strict fake Slack refuses, rule by rule, and the views that used to break those rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.digests import DigestMessage
from bot.nexudus.models import ActionResult, ChatRoom, Command, CommandParameter, Page
from bot.slack import forms, ids
from bot.slack.limits import MAX_DATE_TIME
from bot.slack.payload_check import ack_problems, message_problems, mrkdwn_problems, view_problems
from bot.slack.views.alerts import StaleRow, render_digest
from bot.slack.views.chatrooms import render_cards, render_list
from bot.slack.views.commands import render_run_result, run_modal
from bot.slack.views.common import clip, escape
from bot.slack.views.modals import chatroom_form, room_values, shown_values
from bot.store import Subscription

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, text: str = "Go") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}}


def modal(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "T"},
        "submit": {"type": "plain_text", "text": "OK"},
        "blocks": list(blocks),
    }


def input_block(element: dict[str, Any], block_id: str = "f") -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "label": {"type": "plain_text", "text": "F"}, "element": element}


def whys(problems: list[Any]) -> str:
    return " | ".join(str(p) for p in problems)


# --------------------------------------------------------------------------------------------- rules


def test_action_ids_must_differ_within_a_block_but_may_repeat_across_blocks() -> None:
    same_block = {"text": "t", "blocks": [{"type": "actions", "elements": [button("a"), button("a", "Other")]}]}
    assert "duplicate action_id in one block: a" in whys(message_problems(same_block))
    two_blocks = {"text": "t", "blocks": [{"type": "actions", "elements": [button("a")]}] * 2}
    assert message_problems(two_blocks) == []


def test_block_ids_must_differ_within_a_message() -> None:
    msg = {"text": "t", "blocks": [section("a", block_id="x"), section("b", block_id="x")]}
    assert "duplicate block_id: x" in whys(message_problems(msg))


@pytest.mark.parametrize("stamp", [-1, MAX_DATE_TIME + 1, -62135596800, "1700000000"])
def test_datetimepicker_values_outside_slacks_range_are_refused(stamp: object) -> None:
    view = modal(input_block({"type": "datetimepicker", "action_id": "f", "initial_date_time": stamp}))
    assert "initial_date_time" in whys(view_problems(view))


def test_date_and_time_pickers_need_their_formats() -> None:
    date = modal(input_block({"type": "datepicker", "action_id": "f", "initial_date": "2026-13-01"}))
    time = modal(input_block({"type": "timepicker", "action_id": "f", "initial_time": "25:00"}))
    assert "YYYY-MM-DD" in whys(view_problems(date)) and "HH:mm" in whys(view_problems(time))


def test_initial_options_must_be_among_the_options() -> None:
    a = {"text": {"type": "plain_text", "text": "A"}, "value": "a"}
    b = {"text": {"type": "plain_text", "text": "B"}, "value": "b"}
    view = modal(input_block({"type": "static_select", "action_id": "f", "options": [a], "initial_option": b}))
    assert "is not among the options" in whys(view_problems(view))
    checked = modal(input_block({"type": "checkboxes", "action_id": "f", "options": [a], "initial_options": [a]}))
    assert view_problems(checked) == []


def test_no_more_initial_options_than_max_selected_items() -> None:
    options = [{"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(2)]
    element = {"type": "multi_external_select", "action_id": "f", "max_selected_items": 1, "initial_options": options}
    assert "more than max_selected_items (1)" in whys(view_problems(modal(input_block(element))))


def test_blocks_need_a_fallback_text() -> None:
    assert "fallback text" in whys(message_problems({"blocks": [section("hi")]}))
    assert message_problems({"text": "hi", "blocks": [section("hi")]}) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("R&amp;D &lt;team&gt;", True),
        ("<@U123> in <#C123|support>, <!here>, <!date^1700000000^{time}|12:00 UTC>", True),
        ("<https://example.com/a?b=1&amp;c=2|a link> and <mailto:x@example.com>", True),
        ("> quoted line\nnext", True),
        ("R&D", False),
        ("a <b> tag", False),
        ("x > y", False),
        ("&amp", False),
    ],
)
def test_mrkdwn_must_escape_user_data(text: str, ok: bool) -> None:
    assert (mrkdwn_problems(text, "/t") == []) is ok


def test_unknown_properties_and_empty_arrays_are_refused() -> None:
    typo = {"text": "t", "blocks": [section("x", intial_value="y")]}
    assert "invalid additional property: intial_value" in whys(message_problems(typo))
    empty = {"text": "t", "blocks": [{"type": "actions", "elements": []}]}
    assert "elements must not be empty" in whys(message_problems(empty))


def test_slack_sdk_models_checks_run_too() -> None:
    long_title = {**modal(section("x")), "title": {"type": "plain_text", "text": "x" * 25}}
    assert "title" in whys(view_problems(long_title))
    assert "3000" in whys(message_problems({"text": "t", "blocks": [section("x" * 3001)]}))


def test_an_ack_is_checked_like_what_it_carries() -> None:
    submitted = modal(input_block({"type": "plain_text_input", "action_id": "f"}))
    assert ack_problems({"response_action": "errors", "errors": {"f": "Wrong"}}, submitted) == []
    assert "input block" in whys(ack_problems({"response_action": "errors", "errors": {"g": "Wrong"}}, submitted))
    assert "unescaped" in whys(ack_problems({"response_type": "ephemeral", "text": "a <b>"}))
    assert view_problems(modal()) != [], "a view needs blocks"


# ------------------------------------------------------------------------------------ views fixed


def room(i: int, name: str = "Room", visit: str | None = "2026-11-25T08:00:00Z") -> ChatRoom:
    return ChatRoom.model_validate(
        {"Id": i, "Name": name, "Active": True, "BusinessId": 9001, "LastAgentVisit": visit, "Users": [7000001]}
    )


def test_a_middle_list_page_has_previous_and_next_with_their_own_action_ids() -> None:
    page = Page(records=[room(1)], current_page=2, page_size=1, total_items=3, total_pages=3, first_item=2)
    msg = render_list(page, summary="", previous_value="list page:1", next_value="list page:3", now=NOW)
    (paging,) = [b for b in msg["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in paging["elements"]] == [ids.LIST_PREVIOUS, ids.LIST_NEXT]
    assert message_problems(msg) == []


@pytest.mark.parametrize("visit", ["1960-05-01T10:00:00Z", "2400-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_a_visit_slacks_picker_cannot_show_is_left_empty_with_a_note(visit: str) -> None:
    values = room_values(room(1, visit=visit))
    form = chatroom_form(callback_id=ids.EDIT_MODAL, title="Edit", submit="Save", private_metadata="{}", values=values)
    (picker,) = [b for b in form["blocks"] if b.get("block_id") == ids.F_VISIT]
    assert "initial_date_time" not in picker["element"]
    assert visit[:4] in picker["hint"]["text"] and "leave it empty to keep it" in picker["hint"]["text"]
    assert view_problems(form) == []
    assert shown_values(values)[ids.F_VISIT] is None, "an untouched form hands back nothing: the visit is kept"


def test_a_run_form_leaves_an_unshowable_date_empty_with_a_note() -> None:
    parameter = CommandParameter.model_validate({"Name": "When", "Type": "DateTime"})
    block = forms.parameter_block(0, parameter, initial="2400-01-01T00:00:00Z")
    assert "initial_date_time" not in block["element"]
    assert "cannot be shown" in block["hint"]["text"]
    assert view_problems(modal(block)) == []


def one_room_command(**extra: Any) -> Command:
    return Command.model_validate(
        {
            "Key": "RENAME",
            "Name": "Rename",
            "AppliesOnlyToOneEntity": True,
            "NeedsEntitiesToRun": True,
            "RequiresParameters": [],
            **extra,
        }
    )


def test_a_one_chatroom_command_named_with_two_keeps_both_and_stays_valid() -> None:
    view = run_modal(
        choices=[], command=one_room_command(), pick=False, rooms=[(1, "A"), (2, "B")], private_metadata="{}"
    )
    picker = next(b for b in view["blocks"] if b.get("block_id") == ids.RUN_ROOMS)["element"]
    assert [o["value"] for o in picker["initial_options"]] == ["1", "2"]
    assert view_problems(view) == []


def test_the_chosen_command_is_among_the_options_even_past_the_first_hundred() -> None:
    choices = [one_room_command(Key=f"K{i:03d}", Name=f"Command {i}") for i in range(150)]
    view = run_modal(choices=choices, command=choices[120], pick=True, rooms=[], private_metadata="{}")
    assert view_problems(view) == []


def test_names_and_nexudus_text_are_escaped_in_fallbacks() -> None:
    sub = Subscription.model_validate(
        {"id": "s1", "team_id": "T", "channel_id": "C", "created_by": "U", "threshold_minutes": 60, "created_at": NOW}
    )
    rows = [StaleRow(1, "R&D <team>", NOW)]
    digest = render_digest(sub, DigestMessage(rows, more=0, now=NOW))
    assert "R&amp;D &lt;team&gt;" in digest["text"] and message_problems(digest) == []
    result = ActionResult.model_validate({"WasSuccessful": True, "Message": "Renamed to <b> & co"})
    ran = render_run_result(one_room_command(Name="A & B"), result, [1])
    assert message_problems(ran) == [], json.dumps(ran)
    (cards,) = render_cards([room(1, "R&D <team>")], [], NOW, UTC)
    assert message_problems(cards) == []


def test_clip_never_cuts_an_escaped_character_in_half() -> None:
    clipped = clip(escape("ab&cd"), 5)  # "ab&amp;cd" cut at 4 would leave "ab&a…"
    assert mrkdwn_problems(clipped, "/t") == [] and clipped == "ab…"
