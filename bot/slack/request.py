"""Bolt's request for Slack's HTTP requests, with form-encoded bodies decoded in C.

Slack posts buttons, menus and modal submissions as `payload=<the JSON, percent-encoded>`, and slash commands as
form fields. Bolt decodes both with `urllib.parse.parse_qsl`, whose percent-decoding is a Python loop over every
`%`: a modal's submission (its whole view and state, ~3,000 escapes) spent ~30 % of its ack there, ~1.4 ms for a
14 KB one (bench/gunicorn_ack.py, bench/RESULTS.md). `binascii.a2b_qp` decodes `=XX` escapes in C: with every `%`
turned into `=`, it decodes the same bytes, as long as the text holds nothing else it would read as an escape or
a line break (`=`, a line end, a `%` not followed by two hex digits, a non-ASCII character). Anything else, and
every other body, is parsed by Bolt itself; either way the signature is checked on the raw body, as received.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context, parse_body

PREFIX = "payload="


def unquote_plus(value: str) -> str | None:
    """`urllib.parse.unquote_plus(value)` (UTF-8, undecodable bytes replaced) for the text it decodes the same
    way in C; None for any other (left to urllib)."""
    if not value.isascii() or "=" in value or "\r" in value or "\n" in value:
        return None  # a2b_qp would read them as escapes or line breaks
    escaped = value.replace("+", " ").replace("%", "=")
    decoded = binascii.a2b_qp(escaped)
    # Each `%XX` shrinks the text by two characters; a `%` without two hex digits after it shrinks it by less (kept,
    # merged with the next `%`, or dropped at the end): the text is then left to urllib. (A regular expression
    # looking for such a `%` took half the time of decoding a modal's submission.)
    if len(decoded) != len(escaped) - 2 * value.count("%"):
        return None
    return decoded.decode("utf-8", "replace")


def payload_of(body: str, content_type: str | None) -> dict[str, Any] | None:
    """The JSON of a body that is only a form-encoded `payload` (what Bolt's `parse_body` would return for it),
    or None when Bolt is to parse the body itself."""
    if not body.startswith(PREFIX) or "&" in body or content_type == "application/json":
        return None
    text = unquote_plus(body[len(PREFIX) :])
    if text is None:
        return None
    try:
        payload = json.loads(text)
    except ValueError:
        return None  # Bolt raises its own error for it
    return payload if isinstance(payload, dict) else None


def form_of(body: str, content_type: str | None) -> dict[str, str] | None:
    """The fields of a form without a `payload` (a slash command) as Bolt's `parse_body` would return them (blank
    values kept, the last of a repeated name), or None when Bolt is to parse the body itself."""
    if not body or content_type == "application/json" or body.startswith("{") or "payload" in body:
        return None  # JSON, or a payload (which Bolt reads its own way even from a field merely named so)
    fields: dict[str, str] = {}
    for field in body.split("&"):
        if not field:
            continue
        raw_name, _, raw_value = field.partition("=")
        name, value = _unquote_field(raw_name), _unquote_field(raw_value)
        if name is None or value is None:
            return None
        fields[name] = value
    return fields


def _unquote_field(text: str) -> str | None:
    """A form field's name or value: most are plain text, which urllib returns as it is."""
    if "%" not in text and "+" not in text:
        return text
    return unquote_plus(text)


class SlackRequest(BoltRequest):
    """A `BoltRequest` (HTTP mode) whose form-encoded body (a payload, or a slash command's fields) was decoded
    in C."""

    def __init__(self, *, body: str, query: Any = None, headers: dict[str, Any] | None = None) -> None:
        super().__init__(body="", query=query, headers=headers)  # headers, query and content type, as Bolt reads them
        self.raw_body = body  # what the signature is computed over
        found: dict[str, Any] | None = payload_of(body, self.content_type)
        if found is None:
            found = form_of(body, self.content_type)
        self.body = found if found is not None else parse_body(body, self.content_type)
        self.context = build_context(BoltContext({}), self.body)
