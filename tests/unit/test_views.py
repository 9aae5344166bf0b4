"""Block Kit views are pure functions; every one stays within Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.nexudus.models import ChatRoom, Page
from bot.slack import ids, payload_check
from bot.slack.limits import MAX_MESSAGE_BLOCKS, MAX_MODAL_BLOCKS, MAX_MODAL_TITLE, MAX_PRIVATE_METADATA
from bot.slack.metadata import EditContext
from bot.slack.views.chatrooms import MAX_LIST_ROWS, render_cards, render_help, render_list, render_notice
from bot.slack.views.common import relative_time
from bot.slack.views.modals import chatroom_form, delete_modal, login_modal, room_values

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def room(i: int, **extra: object) -> ChatRoom:
    data = {
        "Id": i,
        "Name": f"Room {i}",
        "Active": i % 2 == 0,
        "BusinessId": 9001,
        "LastAgentVisit": (NOW - timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Users": [7000001, 7000002],
    }
    data.update(extra)  # type: ignore[arg-type]
    return ChatRoom.model_validate(data)


def assert_within_limits(blocks: list[dict], max_blocks: int) -> None:
    """Within the surface's block limit, and taken by Slack's own models and rules (bot.slack.payload_check)."""
    assert len(blocks) <= max_blocks
    assert [str(p) for p in payload_check.blocks_problems(blocks, "/blocks")] == []


def test_list_of_a_thousand_records_is_cut_to_the_row_limit_and_says_so() -> None:
    page = Page(records=[room(i) for i in range(1, 1001)], total_items=5000, total_pages=5, page_size=1000)
    msg = render_list(page, summary="all chatrooms", previous_value=None, next_value="list page:2", now=NOW)
    assert_within_limits(msg["blocks"], MAX_MESSAGE_BLOCKS)
    rows = [b for b in msg["blocks"] if b.get("accessory", {}).get("action_id") == ids.ROW_MENU]
    assert len(rows) == MAX_LIST_ROWS
    assert "showing the first 40" in json.dumps(msg)


def test_list_shows_count_relative_visit_and_paging() -> None:
    page = Page(
        records=[room(i) for i in range(21, 41)],
        current_page=2,
        page_size=20,
        first_item=21,
        last_item=40,
        total_items=60,
        total_pages=3,
        has_next_page=True,
        has_previous_page=True,
    )
    msg = render_list(page, summary="active", previous_value="list page:1", next_value="list page:3", now=NOW)
    text = json.dumps(msg, ensure_ascii=False)
    assert "21–40 of 60" in text and "page 2 of 3" in text
    assert "21 h ago" in text
    paging = next(b for b in msg["blocks"] if b.get("block_id") == "paging")
    assert [e["value"] for e in paging["elements"]] == ["list page:1", "list page:3"]


def test_empty_list_says_nothing_matches() -> None:
    msg = render_list(Page(), summary="name contains “zzz”", previous_value=None, next_value=None, now=NOW)
    assert "No chatroom matches" in json.dumps(msg, ensure_ascii=False)


def test_huge_names_are_clipped_and_escaped() -> None:
    hostile = room(1, Name="<!channel> " + "x" * 5000)
    [msg] = render_cards([hostile], [], NOW, UTC)
    assert_within_limits(msg["blocks"], MAX_MESSAGE_BLOCKS)
    text = json.dumps(msg)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_cards_page_every_ten_chatrooms() -> None:
    messages = render_cards([room(i) for i in range(1, 26)], [99], NOW, UTC)
    assert len(messages) == 4  # 10 + 10 + 5 cards, then the missing ids
    for msg in messages:
        assert_within_limits(msg["blocks"], MAX_MESSAGE_BLOCKS)
    assert "`99`" in json.dumps(messages[-1])
    buttons = [e["action_id"] for b in messages[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {ids.EDIT, ids.DELETE, ids.RUN} <= set(buttons)


def test_forms_stay_within_modal_limits_and_prefill() -> None:
    r = room(3, Users=list(range(1, 400)))
    meta = EditContext(chatroom_id=3, updated_on=NOW, fingerprint=r.fingerprint()).dump()
    view = chatroom_form(
        callback_id=ids.EDIT_MODAL,
        title="Edit chatroom with a very long title indeed",
        submit="Save",
        private_metadata=meta,
        values=room_values(r),
        errors={ids.F_NAME: "may not be null or empty", "": "general"},
    )
    assert len(view["title"]["text"]) <= MAX_MODAL_TITLE
    assert len(view["blocks"]) <= MAX_MODAL_BLOCKS
    assert len(view["private_metadata"]) <= MAX_PRIVATE_METADATA
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    assert by_id[ids.F_NAME]["element"]["initial_value"] == "Room 3"
    assert by_id[ids.F_VISIT]["element"]["initial_date_time"] == int(r.last_agent_visit.timestamp())  # type: ignore[union-attr]
    index = [b.get("block_id") for b in view["blocks"]].index(ids.F_NAME)
    assert "may not be null" in view["blocks"][index + 1]["elements"][0]["text"]


def test_login_and_delete_modals() -> None:
    login = login_modal("{}", email="a@b.co", error="Nexudus did not accept that e-mail and password.")
    assert login["submit"]["text"] == "Log in"
    assert "did not accept" in json.dumps(login)
    confirm = delete_modal(room(5), "{}")
    assert "Room 5" in json.dumps(confirm) and confirm["submit"]["text"] == "Delete"


def test_help_is_split_under_section_limit() -> None:
    msg = render_help("\n\n".join("word " * 200 for _ in range(30)))
    assert_within_limits(msg["blocks"], MAX_MESSAGE_BLOCKS)
    assert len(msg["blocks"]) > 1


def test_notice_offers_login() -> None:
    msg = render_notice("log in", login_button=True)
    assert msg["blocks"][1]["elements"][0]["action_id"] == ids.LOGIN


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=20), "3 h 20 min ago"),
        (timedelta(hours=30), "30 h ago"),
        (timedelta(days=4), "4 d ago"),
        (-timedelta(hours=2), "in 2 h"),
    ],
)
def test_relative_time(delta: timedelta, expected: str) -> None:
    assert relative_time(NOW - delta, NOW) == expected


def test_relative_time_never() -> None:
    assert relative_time(None, NOW) == "never"


def test_a_write_that_may_have_run_is_never_called_harmless() -> None:
    from bot.nexudus.errors import RateLimited, Unavailable
    from bot.slack.errors import describe

    assert "may or may not have been applied" in describe(Unavailable("HTTP 500", maybe_applied=True)).text
    assert "Nothing was changed" in describe(Unavailable("could not connect")).text
    assert "Nothing was changed" in describe(RateLimited(3)).text


def test_compact_list_of_ninety_chatrooms_fits_one_message() -> None:
    from bot.slack.views.chatrooms import render_compact

    msg = render_compact([room(i, Name="N" * 200) for i in range(1, 91)], NOW)
    assert_within_limits(msg["blocks"], MAX_MESSAGE_BLOCKS)
    text = json.dumps(msg)
    assert "`#1`" in text and "`#90`" in text and "90 more" in text


def test_a_page_past_the_end_says_so() -> None:
    page = Page(records=[], current_page=99, page_size=10, total_items=60, total_pages=6)
    msg = render_list(page, summary="", previous_value=None, next_value=None, now=NOW)
    assert "Page 99 is past the last page (6) of 60 chatrooms." in json.dumps(msg)


def test_nexudus_refusals_name_fields_as_the_form_does_not_by_api_name() -> None:
    from bot.nexudus.errors import ValidationFailed
    from bot.nexudus.models import FieldError
    from bot.slack.errors import describe

    refused = ValidationFailed(
        "Invalid", [FieldError(property_name="LastAgentVisit", message="must be a date"), FieldError(message="no")]
    )
    message = describe(refused)
    assert message.text == ":warning: Nexudus refused it: Last agent visit: must be a date; record: no"
    assert message.field_errors == {ids.F_VISIT: "must be a date", "": "no"}


def test_a_card_names_the_business_once_and_says_active_or_inactive() -> None:
    blocks = render_cards([room(1, BusinessId=9004, Active=False)], [], NOW, UTC)[0]["blocks"]
    text = json.dumps(blocks, ensure_ascii=False)
    assert "Business 9004" not in text and "9004" in text
    assert "⚫ Inactive" in text


def test_the_form_says_active_like_everything_else() -> None:
    form = chatroom_form(callback_id="c", title="t", submit="s", private_metadata="", values={ids.F_ACTIVE: True})
    labels = [b["label"]["text"] for b in form["blocks"] if b.get("type") == "input"]
    assert "Active" in labels and "Status" not in labels


def test_a_refusal_about_a_property_without_an_input_is_shown_in_words() -> None:
    form = chatroom_form(
        callback_id="c", title="t", submit="s", private_metadata="", values={}, errors={ids.F_SYSTEM_ID: "taken"}
    )
    text = json.dumps(form, ensure_ascii=False)
    assert "System ID: taken" in text and "system_id:" not in text
