"""Block Kit → text rendering and typed answers → view state, as the console relies on them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.console.render import (
    DIVIDER,
    Field,
    field_state,
    initial_state,
    mrkdwn,
    render_errors,
    render_message,
    render_modal,
)


def pt(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def opt(text: str, value: str) -> dict[str, Any]:
    return {"text": pt(text), "value": value}


# ---------------------------------------------------------------------- mrkdwn


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("*Front desk* is _busy_", "Front desk is busy"),
        ("~old~ new", "old new"),
        ("<https://nexudus.com/rooms|Rooms>", "Rooms (https://nexudus.com/rooms)"),
        ("<https://nexudus.com>", "https://nexudus.com"),
        ("<mailto:ops@example.com|ops@example.com>", "ops@example.com"),
        ("<!date^1700000000^{date_short}|Nov 14, 2023>", "Nov 14, 2023"),
        ("<!date^1700000000^{date_short}>", "2023-11-14 22:13 UTC"),
        ("ping <@U123>", "ping @U123"),
        ("ping <@U123|ann>", "ping @ann"),
        ("in <#C42|support>", "in #support"),
        ("<!here> <!channel>", "@here @channel"),
        ("<!subteam^S1|@ops>", "@ops"),
        ("a &amp; b &lt;c&gt;", "a & b <c>"),
        (":wave: hello :white_check_mark:", ":wave: hello :white_check_mark:"),
        ("room_id and snake_case_name stay", "room_id and snake_case_name stay"),
        ("2*3*4 is arithmetic", "2*3*4 is arithmetic"),
        ("`*not bold*` here", "`*not bold*` here"),
        ("```line *1*\nline 2```", "line *1*\nline 2"),
        ("<https://x.io/a_b_/c|the _docs_>", "the docs (https://x.io/a_b_/c)"),
    ],
)
def test_mrkdwn_to_plain_text(source: str, expected: str) -> None:
    assert mrkdwn(source) == expected


def test_mrkdwn_colour_uses_ansi_only_when_asked() -> None:
    assert mrkdwn("*bold* _it_") == "bold it"
    assert mrkdwn("*bold* _it_", color=True) == "\x1b[1mbold\x1b[22m \x1b[3mit\x1b[23m"


# ---------------------------------------------------------------------- messages


def test_plain_text_message_without_blocks_renders_text_as_mrkdwn() -> None:
    rendered = render_message("*Done*: room <#C1|front> closed", None)
    assert rendered.text == "Done: room #front closed"
    assert rendered.buttons == []


def test_blocks_win_over_fallback_text() -> None:
    rendered = render_message("fallback only", [{"type": "section", "text": md("shown")}])
    assert rendered.text == "shown"


def test_header_divider_context_image_blocks() -> None:
    rendered = render_message(
        None,
        [
            {"type": "header", "text": pt("Chatrooms")},
            {"type": "divider"},
            {
                "type": "context",
                "elements": [md("Updated by <@U7>"), {"type": "image", "image_url": "x", "alt_text": "logo"}],
            },
            {"type": "image", "image_url": "https://x/chart.png", "alt_text": "wait times"},
        ],
    )
    assert rendered.text.split("\n") == [
        "Chatrooms",
        "═════════",
        DIVIDER,
        "  · Updated by @U7  [image: logo]",
        "[image: wait times]",
    ]


def test_section_fields_become_label_value_pairs_two_per_row() -> None:
    rendered = render_message(
        None,
        [
            {
                "type": "section",
                "text": md("*Front desk*"),
                "fields": [md("*Status*\nOpen"), md("*Waiting:*\n3"), md("*Owner*\n<@U1>")],
            }
        ],
    )
    assert rendered.text.split("\n") == ["Front desk", "Status: Open   Waiting: 3", "Owner: @U1"]


def test_buttons_are_numbered_across_the_message_with_their_action_data() -> None:
    confirm = {"title": pt("Sure?"), "text": pt("Delete it"), "confirm": pt("Yes"), "deny": pt("No")}
    rendered = render_message(
        None,
        [
            {
                "type": "section",
                "block_id": "room",
                "text": md("Front desk"),
                "accessory": {"type": "button", "action_id": "edit", "text": pt("Edit"), "value": "r1"},
            },
            {
                "type": "actions",
                "block_id": "acts",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "delete",
                        "text": pt("Delete"),
                        "value": "r1",
                        "style": "danger",
                        "confirm": confirm,
                    },
                    {"type": "button", "action_id": "docs", "text": pt("Docs"), "url": "https://help.nexudus.com"},
                ],
            },
        ],
    )
    assert rendered.text.split("\n") == [
        "Front desk",
        "  [1] Edit",
        "[2] Delete  [3] Docs ↗ (https://help.nexudus.com)",
    ]
    numbers = [(b.number, b.label, b.action_id, b.block_id, b.value) for b in rendered.buttons]
    assert numbers == [
        (1, "Edit", "edit", "room", "r1"),
        (2, "Delete", "delete", "acts", "r1"),
        (3, "Docs", "docs", "acts", None),
    ]
    assert rendered.buttons[1].style == "danger"
    assert rendered.buttons[1].confirm == confirm
    assert rendered.buttons[2].url == "https://help.nexudus.com"
    assert rendered.buttons[1].action() == {
        "action_id": "delete",
        "block_id": "acts",
        "type": "button",
        "text": {"type": "plain_text", "text": "Delete", "emoji": True},
        "value": "r1",
        "style": "danger",
    }


def test_numbering_can_continue_from_a_previous_message() -> None:
    blocks = [{"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": pt("Go")}]}]
    rendered = render_message(None, blocks, start=7)
    assert rendered.text == "[7] Go"
    assert rendered.buttons[0].number == 7


def test_overflow_and_select_options_are_numbered_choices() -> None:
    rendered = render_message(
        None,
        [
            {
                "type": "section",
                "block_id": "s",
                "text": md("Room"),
                "accessory": {
                    "type": "overflow",
                    "action_id": "more",
                    "options": [opt("Rename", "rename"), opt("Archive", "archive")],
                },
            },
            {
                "type": "actions",
                "block_id": "a",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": "status",
                        "placeholder": pt("Status"),
                        "option_groups": [
                            {"label": pt("Live"), "options": [opt("Open", "open")]},
                            {"label": pt("Not live"), "options": [opt("Closed", "closed")]},
                        ],
                    }
                ],
            },
        ],
    )
    assert rendered.text.split("\n") == ["Room", "  ⋯: [1] Rename  [2] Archive", "Status: [3] Open  [4] Closed"]
    assert [b.value for b in rendered.buttons] == ["rename", "archive", "open", "closed"]
    assert rendered.buttons[1].action() == {
        "action_id": "more",
        "block_id": "s",
        "type": "overflow",
        "selected_option": opt("Archive", "archive"),
    }
    assert rendered.buttons[3].action()["selected_option"] == opt("Closed", "closed")


def test_rich_text_sections_lists_quotes_and_code() -> None:
    rendered = render_message(
        None,
        [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Hi "},
                            {"type": "user", "user_id": "U9"},
                            {"type": "text", "text": " see "},
                            {"type": "link", "url": "https://x.io", "text": "this"},
                            {"type": "emoji", "name": "eyes"},
                        ],
                    },
                    {
                        "type": "rich_text_list",
                        "style": "ordered",
                        "elements": [
                            {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                            {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]},
                        ],
                    },
                    {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
                    {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "code"}]},
                ],
            }
        ],
    )
    assert rendered.text.split("\n") == [
        "Hi @U9 see this (https://x.io):eyes:",
        "1. one",
        "2. two",
        "> quoted",
        "    code",
    ]


def test_input_block_in_message_and_unknown_block_are_visible() -> None:
    rendered = render_message(
        None,
        [
            {"type": "input", "label": pt("Note"), "element": {"type": "plain_text_input", "action_id": "n"}},
            {"type": "mystery"},
        ],
    )
    assert rendered.text.split("\n") == ["Note: [plain text input]", "[unsupported block: mystery]"]


def test_colour_marks_headers_and_dims_context() -> None:
    rendered = render_message(
        None,
        [{"type": "header", "text": pt("Hi")}, {"type": "context", "elements": [md("small")]}],
        color=True,
    )
    assert "\x1b[1mHi\x1b[22m" in rendered.text
    assert "\x1b[2m  · small\x1b[22m" in rendered.text


# ---------------------------------------------------------------------- modals


def modal(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "room_edit",
        "private_metadata": '{"room": 5}',
        "title": pt("Edit room"),
        "submit": pt("Save"),
        "blocks": list(blocks),
    }


def one_field(element: dict[str, Any], **block: Any) -> Field:
    view = modal(
        {"type": "input", "block_id": "b", "label": pt("Label"), "element": {"action_id": "a", **element}, **block}
    )
    fields = render_modal(view).fields
    assert len(fields) == 1
    return fields[0]


def test_modal_chrome_text_and_fields() -> None:
    rendered = render_modal(
        modal(
            {"type": "section", "text": md("Editing *Front desk*")},
            {
                "type": "input",
                "block_id": "name",
                "label": pt("Name"),
                "hint": pt("Shown to members"),
                "element": {"type": "plain_text_input", "action_id": "value", "initial_value": "Front desk"},
            },
            {"type": "actions", "elements": [{"type": "button", "action_id": "preview", "text": pt("Preview")}]},
            {
                "type": "input",
                "block_id": "notes",
                "optional": True,
                "label": pt("Notes"),
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            },
        )
    )
    assert (rendered.title, rendered.submit, rendered.close) == ("Edit room", "Save", "Cancel")
    assert rendered.callback_id == "room_edit"
    assert rendered.private_metadata == '{"room": 5}'
    assert rendered.text == "Editing Front desk\n[1] Preview"
    assert [b.action_id for b in rendered.buttons] == ["preview"]
    name, notes = rendered.fields
    assert (name.block_id, name.action_id, name.label, name.hint, name.optional) == (
        "name",
        "value",
        "Name",
        "Shown to members",
        False,
    )
    assert (name.kind, name.multiline, name.initial) == ("plain_text_input", False, "Front desk")
    assert (notes.optional, notes.multiline, notes.initial) == (True, True, "")


def test_modal_without_submit_has_none() -> None:
    rendered = render_modal({"type": "modal", "title": pt("Info"), "close": pt("Done"), "blocks": []})
    assert (rendered.submit, rendered.close) == (None, "Done")


def test_plain_text_input_state() -> None:
    f = one_field({"type": "plain_text_input", "initial_value": "Front", "max_length": 5})
    assert initial_state(f) == {"type": "plain_text_input", "value": "Front"}
    assert field_state(f, "Desk") == {"type": "plain_text_input", "value": "Desk"}
    assert field_state(f, "") == {"type": "plain_text_input", "value": None}
    with pytest.raises(ValueError, match="at most 5"):
        field_state(f, "Too long")


def test_required_field_can_be_enforced_like_slacks_client() -> None:
    f = one_field({"type": "plain_text_input"})
    with pytest.raises(ValueError, match="fill out"):
        field_state(f, "  ", enforce_required=True)
    optional = one_field({"type": "plain_text_input"}, optional=True)
    assert field_state(optional, "", enforce_required=True) == {"type": "plain_text_input", "value": None}


def test_number_input_state_and_limits() -> None:
    f = one_field({"type": "number_input", "is_decimal_allowed": False, "min_value": "1", "max_value": "50"})
    assert (f.kind, f.is_decimal_allowed, f.min_value, f.max_value) == ("number_input", False, "1", "50")
    assert field_state(f, "12") == {"type": "number_input", "value": "12"}
    assert field_state(f, "") == {"type": "number_input", "value": None}
    assert initial_state(f) == {"type": "number_input", "value": None}
    for bad, message in (("abc", "not a number"), ("1.5", "whole numbers"), ("0", "at least 1"), ("51", "at most 50")):
        with pytest.raises(ValueError, match=message):
            field_state(f, bad)
    decimal = one_field({"type": "number_input", "is_decimal_allowed": True, "initial_value": "2.5"})
    assert field_state(decimal, "1.5") == {"type": "number_input", "value": "1.5"}
    assert initial_state(decimal) == {"type": "number_input", "value": "2.5"}


def test_checkboxes_by_numbers_values_and_initial_options() -> None:
    options = [opt("Email", "email"), opt("Slack", "slack"), opt("SMS", "sms")]
    f = one_field({"type": "checkboxes", "options": options, "initial_options": [options[1]]})
    assert f.kind == "checkboxes"
    assert f.options == [("Email", "email"), ("Slack", "slack"), ("SMS", "sms")]
    assert f.initial == "2"
    assert initial_state(f) == {"type": "checkboxes", "selected_options": [options[1]]}
    assert field_state(f, f.initial) == initial_state(f)
    assert field_state(f, "1,3") == {"type": "checkboxes", "selected_options": [options[0], options[2]]}
    assert field_state(f, "sms") == {"type": "checkboxes", "selected_options": [options[2]]}
    assert field_state(f, "") == {"type": "checkboxes", "selected_options": []}
    with pytest.raises(ValueError, match="no choice '4'"):
        field_state(f, "4")


def test_single_checkbox_takes_yes_or_no() -> None:
    only = opt("Notify members", "notify")
    f = one_field({"type": "checkboxes", "options": [only]})
    assert field_state(f, "y") == {"type": "checkboxes", "selected_options": [only]}
    assert field_state(f, "n") == {"type": "checkboxes", "selected_options": []}


def test_radio_buttons_and_static_select_pick_one() -> None:
    options = [opt("Open", "open"), opt("Closed", "closed")]
    radio = one_field({"type": "radio_buttons", "options": options, "initial_option": options[0]})
    assert radio.initial == "1"
    assert initial_state(radio) == {"type": "radio_buttons", "selected_option": options[0]}
    assert field_state(radio, "2") == {"type": "radio_buttons", "selected_option": options[1]}
    select = one_field({"type": "static_select", "options": options})
    assert initial_state(select) == {"type": "static_select", "selected_option": None}
    assert field_state(select, "closed") == {"type": "static_select", "selected_option": options[1]}
    assert field_state(select, "") == {"type": "static_select", "selected_option": None}
    with pytest.raises(ValueError, match="only one"):
        field_state(select, "1,2")


def test_multi_static_select_with_option_groups() -> None:
    a, b = opt("A", "a"), opt("B", "b")
    f = one_field(
        {
            "type": "multi_static_select",
            "option_groups": [{"label": pt("G1"), "options": [a]}, {"label": pt("G2"), "options": [b]}],
            "initial_options": [b],
        }
    )
    assert f.options == [("A", "a"), ("B", "b")]
    assert initial_state(f) == {"type": "multi_static_select", "selected_options": [b]}
    assert field_state(f, "1,2") == {"type": "multi_static_select", "selected_options": [a, b]}
    assert field_state(f, "") == {"type": "multi_static_select", "selected_options": []}


def test_date_time_and_datetime_pickers() -> None:
    date = one_field({"type": "datepicker", "initial_date": "2024-05-01"})
    assert initial_state(date) == {"type": "datepicker", "selected_date": "2024-05-01"}
    assert field_state(date, "2024-06-30") == {"type": "datepicker", "selected_date": "2024-06-30"}
    assert field_state(date, "") == {"type": "datepicker", "selected_date": None}
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        field_state(date, "30/06/2024")

    tp = one_field({"type": "timepicker", "timezone": "Europe/London"})
    assert field_state(tp, "09:30") == {"type": "timepicker", "selected_time": "09:30", "timezone": "Europe/London"}
    assert initial_state(tp) == {"type": "timepicker", "selected_time": None, "timezone": "Europe/London"}

    dt = one_field({"type": "datetimepicker", "initial_date_time": 1700000000})
    assert dt.initial == "2023-11-14 22:13"
    assert initial_state(dt) == {"type": "datetimepicker", "selected_date_time": 1700000000}
    assert field_state(dt, "2024-01-02 03:04") == {"type": "datetimepicker", "selected_date_time": 1704164640}
    assert field_state(dt, "") == {"type": "datetimepicker", "selected_date_time": None}
    with pytest.raises(ValueError, match="date and time"):
        field_state(dt, "tomorrow")


@pytest.mark.parametrize(
    ("element", "kind", "typed", "expected"),
    [
        ({"type": "users_select", "initial_user": "U1"}, "users_select", "U2", {"selected_user": "U2"}),
        ({"type": "multi_users_select"}, "multi_users_select", "U1, U2", {"selected_users": ["U1", "U2"]}),
        ({"type": "conversations_select"}, "conversations_select", "C1", {"selected_conversation": "C1"}),
        ({"type": "channels_select"}, "channels_select", "", {"selected_channel": None}),
        ({"type": "multi_channels_select"}, "multi_channels_select", "", {"selected_channels": []}),
        (
            {"type": "external_select"},
            "external_select",
            "loc-1",
            {"selected_option": {"text": {"type": "plain_text", "text": "loc-1", "emoji": True}, "value": "loc-1"}},
        ),
        ({"type": "email_text_input"}, "plain_text_input", "a@b.co", {"value": "a@b.co"}),
        ({"type": "shiny_new_input"}, "text", "x", {"value": "x"}),
    ],
)
def test_id_selects_and_other_elements_are_typed_as_text(
    element: dict[str, Any], kind: str, typed: str, expected: dict[str, Any]
) -> None:
    f = one_field(element)
    assert f.kind == kind
    assert field_state(f, typed) == {"type": element["type"], **expected}


def test_initial_state_of_id_selects() -> None:
    assert initial_state(one_field({"type": "users_select", "initial_user": "U1"})) == {
        "type": "users_select",
        "selected_user": "U1",
    }
    assert initial_state(one_field({"type": "multi_conversations_select"})) == {
        "type": "multi_conversations_select",
        "selected_conversations": [],
    }


def test_render_errors_under_labels_and_flags_unknown_blocks() -> None:
    fields = render_modal(
        modal(
            {"type": "input", "block_id": "name", "label": pt("Name"), "element": {"type": "plain_text_input"}},
            {"type": "input", "block_id": "size", "label": pt("Seats"), "element": {"type": "number_input"}},
        )
    ).fields
    text = render_errors({"size": "Must be at least 1", "ghost": "Oops"}, fields)
    assert text.split("\n") == [
        "Seats",
        "  ✖ Must be at least 1",
        "ghost (not an input of this modal)",
        "  ✖ Oops",
    ]
    assert render_errors({}, fields) == ""
