"""private_metadata and modal state are user-controlled: bad ones are refused with a clear message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.rules import MAX_NAME
from bot.slack import ids
from bot.slack.metadata import BadMetadata, DeleteContext, EditContext
from bot.slack.submissions import field_digests, parse_chatroom_form, parse_login, parse_user_ids, state_values
from bot.slack.views.modals import chatroom_form

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_edit_context_round_trip() -> None:
    ctx = EditContext(chatroom_id=12, updated_on=datetime(2026, 1, 1, tzinfo=UTC), fingerprint="abc")
    assert EditContext.load(ctx.dump()) == ctx


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        '{"chatroom_id": -1, "fingerprint": "x"}',
        '{"chatroom_id": 1}',
        '{"chatroom_id": 1, "fingerprint": "x", "admin": true}',
        '{"chatroom_id": 1, "fingerprint": "x", "response_url": "javascript:alert(1)"}',
        "x" * 4000,
        42,
    ],
)
def test_forged_metadata_is_refused(raw: object) -> None:
    with pytest.raises(BadMetadata, match="out of date or was altered"):
        EditContext.load(raw)


def test_delete_context_requires_an_id() -> None:
    with pytest.raises(BadMetadata):
        DeleteContext.load('{"name": "x"}')


def entry(kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, **fields}


def test_chatroom_form_parses_every_field() -> None:
    state = {
        ids.F_BUSINESS: {ids.F_BUSINESS: entry("number_input", value="9001")},
        ids.F_NAME: {ids.F_NAME: entry("plain_text_input", value="  Lobby  ")},
        ids.F_ACTIVE: {ids.F_ACTIVE: entry("checkboxes", selected_options=[{"value": "active"}])},
        ids.F_VISIT: {ids.F_VISIT: entry("datetimepicker", selected_date_time=1767225600)},
        ids.F_USERS: {ids.F_USERS: entry("plain_text_input", value="7000001, 7000002 7000001")},
    }
    values, errors = parse_chatroom_form(state, now=NOW)
    assert errors == {}
    assert values == {
        ids.F_BUSINESS: 9001,
        ids.F_NAME: "Lobby",
        ids.F_ACTIVE: True,
        ids.F_VISIT: datetime(2026, 1, 1, tzinfo=UTC),
        ids.F_USERS: [7000001, 7000002],
    }


def test_chatroom_form_errors_name_each_field() -> None:
    state = {
        ids.F_BUSINESS: {ids.F_BUSINESS: entry("number_input", value="12a")},
        ids.F_USERS: {ids.F_USERS: entry("plain_text_input", value="1, bob")},
        ids.F_VISIT: {ids.F_VISIT: entry("datetimepicker", selected_date_time="soon")},
    }
    _, errors = parse_chatroom_form(state, now=NOW)
    assert errors[ids.F_BUSINESS] == "Business IDs are positive whole numbers, like 12."
    assert errors[ids.F_NAME] == "Give the chatroom a name."
    assert "“bob” is not a user id" in errors[ids.F_USERS]
    assert errors[ids.F_VISIT] == "Pick a date and a time."


@pytest.mark.parametrize("state", [None, "x", [], {"name": "x"}, {"name": {"name": "x"}}, {"name": {"name": None}}])
def test_malformed_state_never_raises(state: object) -> None:
    _, errors = parse_chatroom_form(state, now=NOW)  # type: ignore[arg-type]
    assert ids.F_NAME in errors


def test_a_business_id_too_large_is_called_too_large_not_a_non_number() -> None:
    state = {ids.F_BUSINESS: {ids.F_BUSINESS: entry("number_input", value="99999999999999999999")}}
    _, errors = parse_chatroom_form(state, now=NOW)
    assert errors[ids.F_BUSINESS] == "That number is too large for a business ID (at most 2147483647)."
    assert "too large for a user id" in (parse_user_ids("7000001, 2147483648")[1] or "")


def test_the_form_checks_the_same_name_limit_as_the_slash_command_and_its_input() -> None:
    form = chatroom_form(callback_id="c", title="t", submit="s", private_metadata="", values={})
    name_input = next(b for b in form["blocks"] if b.get("block_id") == ids.F_NAME)
    assert name_input["element"]["max_length"] == MAX_NAME
    state = {
        ids.F_BUSINESS: {ids.F_BUSINESS: entry("number_input", value="9001")},
        ids.F_NAME: {ids.F_NAME: entry("plain_text_input", value="x" * (MAX_NAME + 1))},
    }
    _, errors = parse_chatroom_form(state, now=NOW)
    assert errors[ids.F_NAME] == f"The name is too long: {MAX_NAME + 1} characters, at most {MAX_NAME}."
    state[ids.F_NAME] = {ids.F_NAME: entry("plain_text_input", value="x" * MAX_NAME)}
    assert parse_chatroom_form(state, now=NOW)[1] == {}


def test_a_last_agent_visit_in_the_future_is_refused_unless_it_was_already_there() -> None:
    future = int(NOW.timestamp()) + 86_400
    state = {
        ids.F_BUSINESS: {ids.F_BUSINESS: entry("number_input", value="9001")},
        ids.F_NAME: {ids.F_NAME: entry("plain_text_input", value="Lobby")},
        ids.F_VISIT: {ids.F_VISIT: entry("datetimepicker", selected_date_time=future)},
    }
    _, errors = parse_chatroom_form(state, now=NOW)
    assert "cannot be in the future" in errors[ids.F_VISIT]
    # A record that already had it (set in Nexudus) can still be saved for other fields.
    initial = field_digests({ids.F_VISIT: datetime.fromtimestamp(future, UTC)})
    assert parse_chatroom_form(state, now=NOW, initial=initial)[1] == {}
    state[ids.F_VISIT] = {ids.F_VISIT: entry("datetimepicker", selected_date_time=int(NOW.timestamp()) + 60)}
    assert parse_chatroom_form(state, now=NOW)[1] == {}, "a clock a minute ahead is still now"


def test_state_values_tolerates_any_view() -> None:
    assert state_values(None) == {}
    assert state_values({"state": "x"}) == {}
    assert state_values({"state": {"values": {"a": {}}}}) == {"a": {}}


def test_user_ids() -> None:
    assert parse_user_ids(None) == ([], None)
    assert parse_user_ids("1;2,,3") == ([1, 2, 3], None)
    assert parse_user_ids("0")[1] is not None


def test_login_form() -> None:
    good = {
        ids.F_EMAIL: {ids.F_EMAIL: entry("email_text_input", value="ops@example.com")},
        ids.F_PASSWORD: {ids.F_PASSWORD: entry("plain_text_input", value="pw")},
    }
    assert parse_login(good) == ("ops@example.com", "pw", {})
    _, _, errors = parse_login({})
    assert set(errors) == {ids.F_EMAIL, ids.F_PASSWORD}
