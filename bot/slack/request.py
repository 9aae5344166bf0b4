"""Bolt's request for Slack's HTTP requests, with a form-encoded `payload` decoded in C.

Slack posts buttons, menus and modal submissions as `payload=<the JSON, percent-encoded>`. Bolt decodes it with
`urllib.parse.parse_qsl`, whose percent-decoding is a Python loop over every `%`: a modal's submission (its
whole view and state, ~3,000 escapes) spent ~30 % of its ack there, ~1.4 ms for a 14 KB one
(bench/gunicorn_ack.py, bench/RESULTS.md). `binascii.a2b_qp` decodes `=XX` escapes in C: with every `%` turned
into `=`, it decodes the same bytes, as long as the text holds nothing else it would read as an escape or a
line break (`=`, a line end, a `%` not followed by two hex digits, a non-ASCII character). Anything else, and
every other body, is parsed by Bolt itself; either way the signature is checked on the raw body, as received.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context, parse_body

PREFIX = "payload="
_ODD = re.compile(r"[=\r\n]|%(?![0-9A-Fa-f]{2})")  # what a2b_qp would read otherwise than a percent-decoder


def unquote_plus(value: str) -> str | None:
    """`urllib.parse.unquote_plus(value)` (UTF-8, undecodable bytes replaced) for the text it decodes the same
    way in C; None for any other (left to urllib)."""
    if not value.isascii() or _ODD.search(value):
        return None
    return binascii.a2b_qp(value.replace("+", " ").replace("%", "=")).decode("utf-8", "replace")


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


class SlackRequest(BoltRequest):
    """A `BoltRequest` (HTTP mode) whose body, when it is only a form-encoded payload, was decoded in C."""

    def __init__(self, *, body: str, query: Any = None, headers: dict[str, Any] | None = None) -> None:
        super().__init__(body="", query=query, headers=headers)  # headers, query and content type, as Bolt reads them
        self.raw_body = body  # what the signature is computed over
        payload = payload_of(body, self.content_type)
        self.body = payload if payload is not None else parse_body(body, self.content_type)
        self.context = build_context(BoltContext({}), self.body)
