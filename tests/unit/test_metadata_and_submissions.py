"""private_metadata and modal state are user-controlled: bad ones are refused with a clear message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slack import ids
from bot.slack.metadata import BadMetadata, DeleteContext, EditContext
from bot.slack.submissions import parse_chatroom_form, parse_login, parse_user_ids, state_values


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
    values, errors = parse_chatroom_form(state)
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
    _, errors = parse_chatroom_form(state)
    assert errors[ids.F_BUSINESS] == "The business ID is a whole number, like 12345678."
    assert errors[ids.F_NAME] == "Give the chatroom a name."
    assert "“bob” is not a user id" in errors[ids.F_USERS]
    assert errors[ids.F_VISIT] == "Pick a date and a time."


@pytest.mark.parametrize("state", [None, "x", [], {"name": "x"}, {"name": {"name": "x"}}, {"name": {"name": None}}])
def test_malformed_state_never_raises(state: object) -> None:
    _, errors = parse_chatroom_form(state)  # type: ignore[arg-type]
    assert ids.F_NAME in errors


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
