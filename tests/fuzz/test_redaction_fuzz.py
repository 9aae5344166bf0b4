"""Redaction holds for every character a password can contain, in every encoding Slack uses.

Each password is built as MARK1 + fuzz + MARK2 + fuzz + MARK3: the marks are plain letters, unchanged by any
encoding, so a scrub that stops early (at an escaped quote, a %22, a backslash, a +) leaves a mark behind.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.console import signing
from bot.logs import RedactingFilter, scrub
from bot.slack import ids

MARKS = ("Qz1mark", "Qz2mark", "Qz3mark")
# Any character but lone surrogates (which no UTF-8 encoder — Slack's included — can send).
password_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=25)
passwords = st.builds(lambda a, b: MARKS[0] + a + MARKS[1] + b + MARKS[2], password_text, password_text)


def _submission(password: str) -> dict[str, Any]:
    body = signing.view_submission_body(
        {"id": "V1", "callback_id": ids.LOGIN_MODAL, "private_metadata": "{}"},
        {
            ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": "a@b.c"}},
            ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": password}},
        },
        user_id="U1",
        team_id="T1",
        trigger_id="1.2.3",
    )
    payload: dict[str, Any] = json.loads(_unquote(body.removeprefix("payload=")))
    return payload


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


def _encodings(payload: dict[str, Any]) -> dict[str, str]:
    """The payload as it reaches a log: Slack's form encodings, JSON, and the shapes loggers give them."""
    as_json = json.dumps(payload)
    raw_json = json.dumps(payload, ensure_ascii=False)
    form = "payload=" + quote(as_json)
    return {
        "form, quote": form,
        "form, quote_plus (urlencode)": urlencode({"payload": raw_json}),
        "form, unicode left raw": "payload=" + quote(raw_json, safe='{}:," '),
        "json": as_json,
        "json, unicode raw": raw_json,
        "bolt refusal": f"Invalid request signature detected (signature: v0=1, timestamp: 1, body: {form})",
        "bolt body dict repr": f"Request body: {payload}",
        "json in a json string": json.dumps({"body": as_json}),
        "form in a repr": repr({"body": form}),
        "truncated json": as_json[: as_json.index(MARKS[1]) + 3],
        "truncated form": form[: form.index(MARKS[1]) + 3],
        "json, extra field after": as_json[:-1] + ', "zz": 1}',
        "form, quote_plus of compact json": "payload=" + quote_plus(json.dumps(payload, separators=(",", ":"))),
    }


def _leaks(text: str) -> list[str]:
    return [mark for mark in MARKS if mark in text]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(password=passwords)
@example(password=MARKS[0] + '"' + MARKS[1] + '\\"' + MARKS[2])
@example(password=MARKS[0] + "%22" + MARKS[1] + "[redacted]" + MARKS[2])
@example(password=MARKS[0] + "}}}" + MARKS[1] + '", "value": "' + MARKS[2])
def test_no_part_of_a_password_survives_scrubbing_in_any_encoding(password: str) -> None:
    payload = _submission(password)
    for name, text in _encodings(payload).items():
        assert _leaks(text), f"{name}: the test encoding lost the password"
        cleaned = scrub(text)
        assert not _leaks(cleaned), (name, cleaned[:400])


@settings(max_examples=100, deadline=None, derandomize=True)
@given(password=passwords)
def test_the_log_filter_redacts_arguments_too(password: str) -> None:
    form = "payload=" + quote(json.dumps(_submission(password)))
    record = logging.LogRecord("slack_bolt", logging.INFO, __file__, 1, "body: %s (%r)", (form, form), None)
    RedactingFilter().filter(record)
    assert not _leaks(record.getMessage())


def test_scrubbing_keeps_what_is_not_secret() -> None:
    payload = _submission(MARKS[0])
    cleaned = scrub("payload=" + quote(json.dumps(payload)))
    assert "a%40b.c" in cleaned and ids.LOGIN_MODAL in _unquote(cleaned)  # the e-mail and the modal stay readable
    assert scrub("the login modal has a Password field") == "the login modal has a Password field"
