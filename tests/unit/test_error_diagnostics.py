"""Adapter errors keep the HTTP status and a short, redacted excerpt of Nexudus' answer for the log (as
stripe-python's errors keep `http_status` and `http_body`), never credentials, and never a token answer's body."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests
import responses

from bot.nexudus import Credentials, NexudusClient, Unavailable, UnexpectedResponse, ValidationFailed
from bot.nexudus.auth import exchange_password
from bot.nexudus.errors import MAX_EXCERPT, excerpt
from bot.slack.errors import describe

BASE = "https://nexudus.test/api"
ROOT = BASE + "/support/chatrooms"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client():
    c = NexudusClient(BASE, Credentials("ops@example.com", "s3cret-pass"), retries=0, backoff=0)
    yield c
    c.close()


def test_a_5xx_keeps_its_status_and_body_excerpt(client) -> None:
    with responses.RequestsMock() as mock:
        mock.get(ROOT + "/1", status=502, body="upstream gateway broke: backend pool 7 down")
        with pytest.raises(Unavailable) as info:
            client.get(1)
    assert info.value.http_status == 502
    assert info.value.body_excerpt == "upstream gateway broke: backend pool 7 down"
    assert info.value.diagnostics() == "HTTP 502, body: 'upstream gateway broke: backend pool 7 down'"
    assert "upstream" not in str(info.value)  # the user's words stay as they were


def test_an_unreadable_answer_keeps_what_came_back(client) -> None:
    with responses.RequestsMock() as mock:
        mock.get(ROOT + "/1", json={"Id": "one", "Name": "x"})
        with pytest.raises(UnexpectedResponse) as info:
            client.get(1)
    assert info.value.http_status == 200 and '"Id": "one"' in (info.value.body_excerpt or "")


def test_a_refusal_keeps_its_body_with_secret_fields_redacted(client) -> None:
    body = {"Message": "bad", "Password": "hunter2-secret", "access_token": "tok-abc", "Errors": []}
    with responses.RequestsMock() as mock:
        mock.get(ROOT + "/1", status=400, json=body)
        with pytest.raises(ValidationFailed) as info:
            client.get(1)
    kept = info.value.body_excerpt or ""
    assert info.value.http_status == 400 and '"Message": "bad"' in kept
    assert "hunter2" not in kept and "tok-abc" not in kept


def test_the_excerpt_is_short_and_one_line() -> None:
    text = excerpt("line one\nline two " + "x" * 5000)
    assert len(text) == MAX_EXCERPT and "\n" not in text and text.startswith("line one line two")
    assert "eyJabc" not in excerpt("Authorization: Bearer eyJabc.def")


def test_a_token_answer_keeps_its_status_but_never_its_body() -> None:
    with responses.RequestsMock() as mock:
        mock.post(BASE + "/token", status=503, json={"access_token": "LEAKED-A", "refresh_token": "LEAKED-R"})
        with pytest.raises(Unavailable) as info:
            exchange_password(requests.Session(), BASE, "a@b.co", "pw", now=NOW)
    assert info.value.http_status == 503 and info.value.body_excerpt is None
    assert info.value.diagnostics() == "HTTP 503"


def test_the_log_line_of_an_unexpected_answer_shows_status_and_excerpt(client, caplog) -> None:
    with responses.RequestsMock() as mock:
        mock.get(ROOT + "/1", status=418, json={"Message": "I am a teapot"})
        with pytest.raises(UnexpectedResponse) as info:
            client.get(1)
    with caplog.at_level(logging.WARNING, logger="bot.slack.errors"):
        message = describe(info.value)
    assert "teapot" not in message.text  # for the log, not the user
    assert "HTTP 418" in caplog.text and "I am a teapot" in caplog.text


def test_the_log_line_of_an_unexpected_error_names_the_answer_it_came_from(caplog) -> None:
    cause = Unavailable("HTTP 500").with_answer(500, "stack overflow in ChatRoomController")
    try:
        try:
            raise cause
        except Unavailable as exc:
            raise RuntimeError("a bug while handling it") from exc
    except RuntimeError as bug:
        with caplog.at_level(logging.ERROR, logger="bot.slack.errors"):
            message = describe(bug)
    assert message.reference and f"[ref {message.reference}]" in caplog.text
    assert "(Nexudus: HTTP 500, body: 'stack overflow in ChatRoomController')" in caplog.text
