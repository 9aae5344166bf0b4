"""Forms generated from `RequiresParameters`: the right input per type, and submissions → typed values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.console.render import field_state, initial_state, render_modal
from bot.nexudus.models import Command, CommandParameter
from bot.slack import forms, ids
from bot.slack.forms import Kind
from bot.slack.limits import MAX_MODAL_BLOCKS, MAX_OPTION_TEXT, MAX_PRIVATE_METADATA
from bot.slack.listeners.run import check_submission, context_for, kinds_of
from bot.slack.metadata import BadMetadata, RunContext


def p(name: str, type_: str) -> CommandParameter:
    return CommandParameter(name=name, type=type_)


def entry(block: dict[str, Any]) -> dict[str, Any]:
    return dict(block["element"])


def state_of(blocks: list[dict[str, Any]], typed: dict[str, str] | None = None) -> dict[str, Any]:
    """What Slack sends for these inputs: initial values, or `typed` (by block id) as a person types."""
    modal = render_modal({"type": "modal", "blocks": blocks})
    typed = typed or {}
    return {
        f.block_id: {f.action_id: field_state(f, typed[f.block_id]) if f.block_id in typed else initial_state(f)}
        for f in modal.fields
    }


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("string", Kind.TEXT),
        ("String", Kind.TEXT),
        ("Text", Kind.TEXT),
        ("Boolean", Kind.BOOLEAN),
        ("bool", Kind.BOOLEAN),
        ("Int32", Kind.INTEGER),
        ("int", Kind.INTEGER),
        ("INTEGER", Kind.INTEGER),
        ("System.Int32", Kind.INTEGER),
        ("Int32?", Kind.INTEGER),
        ("Int64", Kind.LONG),
        ("Decimal", Kind.DECIMAL),
        ("double", Kind.DECIMAL),
        ("Float", Kind.DECIMAL),
        ("Single", Kind.DECIMAL),
        ("Money", Kind.DECIMAL),
        ("Number", Kind.DECIMAL),
        ("DateTime", Kind.DATETIME),
        ("date", Kind.DATETIME),
        ("DateTimeOffset", Kind.DATETIME),
        ("Nullable<System.DateTime>", Kind.DATETIME),
        ("EmailAddress", Kind.EMAIL),
        ("Url", Kind.URL),
        ("Guid", Kind.GUID),
        ("Colour", Kind.OTHER),
        ("", Kind.OTHER),
        (None, Kind.OTHER),
        (42, Kind.OTHER),
    ],
)
def test_type_names_match_case_insensitively_with_aliases(type_name: object, kind: Kind) -> None:
    assert forms.kind_of(type_name) is kind


@pytest.mark.parametrize(
    ("type_name", "element_type", "optional"),
    [
        ("string", "plain_text_input", False),
        ("Boolean", "radio_buttons", False),
        ("Int32", "number_input", False),
        ("Decimal", "number_input", False),
        ("DateTime", "datetimepicker", False),
        ("EmailAddress", "email_text_input", False),
        ("Url", "url_text_input", False),
        ("Guid", "plain_text_input", False),
        ("SomethingNew", "plain_text_input", False),
    ],
)
def test_each_type_gets_its_input(type_name: str, element_type: str, optional: bool) -> None:
    block = forms.parameter_block(0, p("Field", type_name), scope="abc")
    assert block["type"] == "input"
    assert block["block_id"] == block["element"]["action_id"] == "p.abc.0"
    assert block["element"]["type"] == element_type
    assert block["optional"] is optional
    assert block["label"]["text"] == "Field"


def test_numbers_say_whether_decimals_are_allowed() -> None:
    integer = entry(forms.parameter_block(0, p("n", "Int32")))
    assert integer["is_decimal_allowed"] is False
    assert (integer["min_value"], integer["max_value"]) == (str(-(2**31)), str(2**31 - 1))
    assert entry(forms.parameter_block(0, p("n", "Int64")))["max_value"] == str(2**63 - 1)
    assert entry(forms.parameter_block(0, p("n", "Decimal")))["is_decimal_allowed"] is True


def test_unknown_type_is_plain_text_sent_as_typed() -> None:
    parameter = p("Colour", "HexColour")
    block = forms.parameter_block(0, parameter)
    assert "HexColour" in block["hint"]["text"] and "sent as typed" in block["hint"]["text"]
    state = state_of([block], {block["block_id"]: "#ff0000 "})
    assert forms.parse_parameters([parameter], state) == ([(parameter, "#ff0000 ")], {})


def test_empty_or_duplicate_names_still_give_unique_blocks_with_labels() -> None:
    parameters = [p("", "string"), p("Same", "Int32"), p("Same", "Int32"), p("日本語 ✓", "Boolean")]
    blocks = forms.parameter_blocks(parameters, scope="s1")
    assert [b["block_id"] for b in blocks] == ["p.s1.0", "p.s1.1", "p.s1.2", "p.s1.3"]
    assert [b["label"]["text"] for b in blocks] == ["Parameter 1", "Same", "Same", "日本語 ✓"]


def test_zero_parameters() -> None:
    assert forms.parameter_blocks([]) == []
    assert forms.parse_parameters([], {}) == ([], {})


def test_ninety_parameters_fit_and_more_are_refused() -> None:
    many = [p(f"P{i}", "string") for i in range(forms.MAX_FORM_PARAMETERS)]
    assert len(forms.parameter_blocks(many)) == forms.MAX_FORM_PARAMETERS < MAX_MODAL_BLOCKS
    too_many = [p(f"P{i}", "string") for i in range(150)]
    assert forms.too_many_parameters(too_many)
    with pytest.raises(ValueError, match="150 parameters"):
        forms.parameter_blocks(too_many)


def test_values_convert_to_strings_in_order() -> None:
    parameters = [
        p("Name", "string"),
        p("On", "Boolean"),
        p("Count", "Int32"),
        p("Hours", "Decimal"),
        p("At", "DateTime"),
        p("Mail", "EmailAddress"),
        p("Ref", "Guid"),
    ]
    blocks = forms.parameter_blocks(parameters)
    bid = [b["block_id"] for b in blocks]
    typed = {
        bid[0]: "Front desk",
        bid[1]: "true",
        bid[2]: " -42 ",
        bid[3]: "1.50",
        bid[4]: "2026-07-01 09:30",
        bid[5]: "a@b.co",
        bid[6]: "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
    }
    pairs, errors = forms.parse_parameters(parameters, state_of(blocks, typed))
    assert errors == {}
    assert [param for param, _ in pairs] == parameters
    assert [value for _, value in pairs] == [
        "Front desk",
        "true",
        "-42",
        "1.50",
        "2026-07-01T09:30:00Z",
        "a@b.co",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    ]


def test_date_times_are_sent_in_the_space_zone() -> None:
    block = forms.parameter_block(0, p("At", "DateTime"))
    stamp = int(datetime(2026, 7, 1, 9, 30, tzinfo=UTC).timestamp())
    state = {block["block_id"]: {block["block_id"]: {"type": "datetimepicker", "selected_date_time": stamp}}}
    values, errors = forms.parse_values([Kind.DATETIME], state, zone=ZoneInfo("Europe/London"))
    assert (values, errors) == (["2026-07-01T10:30:00Z"], {})


@pytest.mark.parametrize(
    ("type_name", "raw", "message"),
    [
        ("Int32", "abc", "not a whole number"),
        ("Int32", "2.5", "has a fraction"),
        ("Int32", "", "Enter a whole number"),
        ("Int32", "3000000000", "between"),
        ("Decimal", "abc", "not a number"),
        ("Decimal", "NaN", "not a number"),
        ("Decimal", "1e400", "too large"),
        ("EmailAddress", "nobody", "e-mail"),
        ("Url", "ftp://x", "web address"),
        ("Guid", "123", "identifier"),
    ],
)
def test_bad_values_get_a_clear_message_under_their_field(type_name: str, raw: str, message: str) -> None:
    block = forms.parameter_block(0, p("F", type_name), scope="x")
    state = {block["block_id"]: {block["block_id"]: {"type": block["element"]["type"], "value": raw}}}
    pairs, errors = forms.parse_parameters([p("F", type_name)], state, scope="x")
    assert pairs == []
    assert list(errors) == ["p.x.0"]
    assert message in errors["p.x.0"]


@pytest.mark.parametrize("raw", ["2026-13-45", "tomorrow", 10**15, True, [], None])
def test_bad_dates_are_refused(raw: object) -> None:
    state = {"p.0": {"p.0": {"type": "datetimepicker", "selected_date_time": raw}}}
    values, errors = forms.parse_values([Kind.DATETIME], state)
    assert values == [] and list(errors) == ["p.0"]


def test_boolean_must_be_chosen() -> None:
    assert forms.parse_values([Kind.BOOLEAN], {"p.0": {"p.0": {"selected_option": None}}}) == (
        [],
        {"p.0": "Choose Yes or No."},
    )
    values, errors = forms.parse_values([Kind.BOOLEAN], {"p.0": {"p.0": {"selected_option": {"value": "maybe"}}}})
    assert values == [] and "p.0" in errors
    assert forms.parse_values([Kind.BOOLEAN], {"p.0": {"p.0": {"selected_option": {"value": "false"}}}}) == (
        ["false"],
        {},
    )


def test_every_parameter_is_required_and_blank_text_is_refused_under_its_field() -> None:
    # RENAME's "New name" was marked optional, then Nexudus refused it empty: the form must not say optional.
    block = forms.parameter_block(0, p("New name", "string"))
    assert block["optional"] is False
    assert "empty" not in block["hint"]["text"]
    values, errors = forms.parse_values([Kind.TEXT, Kind.OTHER], {"p.1": {"p.1": {"value": "  "}}})
    assert values == [] and set(errors) == {"p.0", "p.1"}
    assert "Enter a value" in errors["p.0"]


def test_wrong_shapes_in_state_become_errors_not_exceptions() -> None:
    kinds = [Kind.TEXT, Kind.INTEGER, Kind.BOOLEAN, Kind.DATETIME]
    state: Any = {"p.0": {"p.0": {"value": 5}}, "p.1": [], "p.2": "x", "p.3": {"p.3": 7}}
    values, errors = forms.parse_values(kinds, state)
    assert values == [] and set(errors) == {"p.0", "p.1", "p.2", "p.3"}
    assert forms.parse_values(kinds, "not a dict")[1].keys() == {"p.0", "p.1", "p.2", "p.3"}  # type: ignore[arg-type]


def test_values_prefill_the_form_and_come_back_unchanged() -> None:
    parameters = [p("a", "string"), p("b", "Boolean"), p("c", "Int64"), p("d", "Decimal"), p("e", "DateTime")]
    values = ["x y", "false", "9007199254740993", "-0.25", "2026-01-31T23:59:00Z"]
    zone = ZoneInfo("America/New_York")
    blocks = forms.parameter_blocks(parameters, scope="r", values=values, zone=zone)
    pairs, errors = forms.parse_parameters(parameters, state_of(blocks), scope="r", zone=zone)
    assert errors == {}
    assert [v for _, v in pairs] == values


def test_chatroom_ids_from_the_picker() -> None:
    def picked(*values: object) -> dict[str, Any]:
        options = [{"text": {"type": "plain_text", "text": f"Room {v}"}, "value": v} for v in values]
        return {ids.RUN_ROOMS: {ids.RUN_ROOMS: {"type": "multi_external_select", "selected_options": options}}}

    assert forms.parse_chatroom_ids(picked("12", "13", "12")) == ([12, 13], [(12, "Room 12"), (13, "Room 13")], None)
    assert forms.parse_chatroom_ids({}) == ([], [], None)
    assert forms.parse_chatroom_ids(picked("x"))[2] == "“x” is not a chatroom id."
    assert forms.parse_chatroom_ids(picked("0"))[2] is not None
    too_large = "“99999999999999999999”: That number is too large for a chatroom id (at most 2147483647)."
    assert forms.parse_chatroom_ids(picked("99999999999999999999"))[2] == too_large
    assert forms.parse_chatroom_ids(picked(*[str(i) for i in range(1, 102)]))[2] == "At most 100 chatrooms at a time."


def test_rooms_in_an_untouched_view_come_from_the_initial_options() -> None:
    block = forms.chatrooms_block(None, [(1000001, "Front desk")])
    view = {"blocks": [block], "state": {"values": {}}}
    assert forms.rooms_in_view(view) == [(1000001, "Front desk (#1000001)")]
    # An option label already naming the id is not suffixed again.
    again = forms.chatrooms_block(None, forms.rooms_in_view(view))
    assert again["element"]["initial_options"][0]["text"]["text"] == "Front desk (#1000001)"
    assert forms.rooms_in_view("nope") == []


def test_chatroom_picker_follows_the_entity_rule() -> None:
    one = Command(key="A", applies_only_to_one_entity=True)
    none = Command(key="B", needs_entities_to_run=False)
    assert forms.chatrooms_block(one, [])["element"]["max_selected_items"] == 1
    assert (
        forms.chatrooms_block(Command(key="C", applies_only_to_two_entities=True), [])["element"]["max_selected_items"]
        == 2
    )
    assert forms.chatrooms_block(one, [])["optional"] is False
    assert forms.chatrooms_block(none, [])["optional"] is True
    long_name = forms.room_option(1000001, "x" * 200)["text"]["text"]
    assert len(long_name) <= MAX_OPTION_TEXT and long_name.endswith("(#1000001)")


def test_digest_changes_with_the_parameters() -> None:
    a = Command(key="K", requires_parameters=[p("a", "string")])
    b = Command(key="K", requires_parameters=[p("a", "Int32")])
    assert forms.form_digest(a) != forms.form_digest(b)
    assert forms.form_digest(a) == forms.form_digest(a.model_copy())


def test_run_context_stays_small_and_refuses_forgeries() -> None:
    command = Command(
        key="K" * 64,
        name="N" * 300,
        requires_parameters=[p("x" * 500, "Nullable<System.DateTimeOffset>")] * forms.MAX_FORM_PARAMETERS,
    )
    meta = context_for(command, pick=True, response_url="https://hooks.slack.com/" + "a" * 450, channel_id="C1")
    text = meta.dump()
    assert len(text) <= MAX_PRIVATE_METADATA
    assert RunContext.load(text) == meta
    for forged in ['{"kinds": ["DROP TABLE"]}', '{"digest": "zz"}', '{"key": ""}', '{"admin": true}']:
        with pytest.raises(BadMetadata):
            RunContext.load(forged)
    with pytest.raises(BadMetadata):
        kinds_of(RunContext.load(json.dumps({"kinds": ["bogus"]})))


def test_submission_checks_need_no_nexudus() -> None:
    command = Command(
        key="RENAME", name="Rename", applies_only_to_one_entity=True, requires_parameters=[p("N", "Int32")]
    )
    meta = context_for(command, pick=False, response_url=None, channel_id=None)
    bid = forms.block_id_for(0, meta.digest)
    state = {bid: {bid: {"type": "number_input", "value": "x"}}}
    errors = check_submission(meta, state, UTC)
    assert set(errors) == {bid, ids.RUN_ROOMS}
    assert "exactly one chatroom" in errors[ids.RUN_ROOMS]
    assert check_submission(RunContext(pick=True), {}, UTC) == {ids.RUN_PICK: "Choose a command."}
    too_big = Command(key="BIG", requires_parameters=[p("x", "string")] * 150)
    refused = check_submission(context_for(too_big, pick=True, response_url=None, channel_id=None), {}, UTC)
    assert "run it in Nexudus" in refused[ids.RUN_PICK]


# ------------------------------------------------------------------ the table of parameter types

# One value Nexudus would accept for each kind, as it is sent (the form shows it and gives it back).
WIRE_SAMPLES = {
    Kind.TEXT: " as typed ",
    Kind.BOOLEAN: "true",
    Kind.INTEGER: "-2147483648",
    Kind.LONG: "9223372036854775807",
    Kind.DECIMAL: "12.50",
    Kind.DATETIME: "2026-07-01T09:05:00Z",
    Kind.EMAIL: "desk@example.com",
    Kind.URL: "https://example.com/a?b=c",
    Kind.GUID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    Kind.OTHER: "#ff0000",
}


def test_every_kind_has_one_row_and_every_type_name_one_kind() -> None:
    assert set(forms.PARAMETER_TYPES) == set(Kind) == set(WIRE_SAMPLES)
    names = [name for spec in forms.PARAMETER_TYPES.values() for name in spec.names]
    assert len(names) == len(set(names)) == len(forms.TYPE_ALIASES)
    for kind, spec in forms.PARAMETER_TYPES.items():
        for name in spec.names:
            assert name == name.lower().strip() and not name.startswith("system.")
            assert forms.kind_of(f"System.{name.capitalize()}?") is kind


@pytest.mark.parametrize("kind", list(Kind))
def test_each_row_renders_reads_and_shows_back_its_values(kind: Kind) -> None:
    type_name = forms.PARAMETER_TYPES[kind].names[0] if forms.PARAMETER_TYPES[kind].names else "Colour"
    parameter = p("x", type_name)
    zone = ZoneInfo("Asia/Kolkata")
    block = forms.parameter_block(0, parameter, scope="t", initial=WIRE_SAMPLES[kind], zone=zone)
    assert forms.PARAMETER_TYPES[kind].description.lower() in block["hint"]["text"].lower()
    pairs, errors = forms.parse_parameters([parameter], state_of([block]), scope="t", zone=zone)
    assert errors == {}
    assert pairs == [(parameter, WIRE_SAMPLES[kind])]
    empty = forms.parameter_block(0, parameter, scope="t", zone=zone)
    assert not any(key.startswith("initial_") for key in empty["element"])
    assert forms.parse_parameters([parameter], state_of([empty]), scope="t", zone=zone)[1].keys() == {"p.t.0"}
