"""`describe`: Slack's refusals in words, a reference id for the unexpected, and user data escaped."""

from __future__ import annotations

import logging
import re

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.nexudus.errors import CommandFailed, Conflict, ValidationFailed
from bot.nexudus.models import ChatRoom, FieldError
from bot.slack.errors import describe
from bot.slack.payload_check import mrkdwn_problems


def slack_error(error: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError("The request to the Slack API failed.", response)


def test_a_slack_refusal_a_person_can_act_on_is_said_in_words() -> None:
    text = describe(slack_error("not_in_channel")).text
    assert "/invite" in text and "Something went wrong" not in text


def test_any_other_slack_refusal_names_the_error_and_a_reference_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.slack.errors"):
        message = describe(slack_error("invalid_blocks"))
    assert "`invalid_blocks`" in message.text and message.reference
    assert message.reference in message.text and message.reference in caplog.text


def test_an_unexpected_error_shows_a_short_reference_that_is_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.slack.errors"):
        first, second = describe(KeyError("secret-detail")), describe(KeyError("secret-detail"))
    assert first.reference and re.fullmatch(r"[0-9a-f]{8}", first.reference)
    assert f"`{first.reference}`" in first.text and first.reference != second.reference
    assert f"[ref {first.reference}]" in caplog.text, "the person can quote it and an operator find it"
    assert "secret-detail" not in first.text


def test_text_from_nexudus_is_escaped_for_mrkdwn_but_field_errors_stay_plain() -> None:
    refused = ValidationFailed("bad", [FieldError.model_validate({"PropertyName": "Name", "Message": "no <b> & co"})])
    message = describe(refused)
    assert mrkdwn_problems(message.text, "/t") == [] and "&lt;b&gt; &amp; co" in message.text
    assert message.field_errors == {"name": "no <b> & co"}, "Slack shows field errors as plain text"
    assert mrkdwn_problems(describe(CommandFailed("Failed: A & B")).text, "/t") == []
    room = ChatRoom.model_validate({"Id": 1, "Name": "x", "UpdatedBy": "<Ops & Co>"})
    assert mrkdwn_problems(describe(Conflict(room)).text, "/t") == []
