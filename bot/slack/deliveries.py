"""Slack delivers an event again when it did not see our 200 in time (`X-Slack-Retry-Num: 1`, `2`, `3`, same
`event_id`); with several workers or hosts the retry can reach another process than the first delivery. Each
event is claimed once in the shared once-only guard (`Deps.once`: Redis when configured), and a delivery whose
event was already claimed is answered 200 without running again.

Slash commands and interactions are not retried by Slack; a modal submission has its own guard (its view id and
hash, in the listeners).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.once import OnceKeys

log = logging.getLogger(__name__)


def delivery_id(body: Any) -> str | None:
    """The id Slack keeps across retries of one delivery (Events API: `event_id`)."""
    if isinstance(body, dict) and body.get("type") == "event_callback":
        event_id = body.get("event_id")
        if isinstance(event_id, str) and event_id:
            return f"event:{event_id[:100]}"
    return None


class OncePerDelivery(Middleware):
    """Bolt global middleware: a retried delivery of an event already handled is acknowledged, not run.

    A `Middleware` subclass, called as it is: a plain function would have Bolt build its arguments by inspection
    on every request (bot/slack/app.py)."""

    def __init__(self, once: OnceKeys) -> None:
        self.once = once

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        key = delivery_id(req.body)
        if key is not None and not self.once.first(key):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            reason = (req.headers.get("x-slack-retry-reason") or ["?"])[0]
            log.info("Slack delivered %s again (retry %s, %s): already handled, not run twice", key, retry, reason)
            return BoltResponse(status=200, body="")
        return next()
