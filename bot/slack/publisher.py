"""The Slack side of alerts: `SlackPublisher` implements `bot/digests.py:DigestPublisher` with a WebClient.

Digests are rendered here (`views/alerts.py`), posted at most one message a second per channel (Slack's
limit), found again in a channel's history by their message metadata, and Slack's refusals become
`PublishRefused` (its error code), which `bot/slack/errors.py:describe` words.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digests import Failing, Notice, Paused, PublishRefused, Recovered, Resumed, StaleRow
from bot.slack.errors import describe
from bot.slack.views.alerts import (
    duration_text,
    error_notice,
    paused_notice,
    recovered_notice,
    render_digest,
    resumed_notice,
)
from bot.store import Digest, Subscription

log = logging.getLogger(__name__)

SLACK_POST_SPACING = 1.0
"""Slack allows about one message per second per channel."""
DIGEST_EVENT = "chatrooms_digest"
"""Message metadata event type of a digest; its payload names the intent, so a lost ts can be found again."""
HISTORY_PAGES = 3
HISTORY_PAGE_SIZE = 200
"""An interrupted cycle's digest is looked for among the channel's 600 latest messages."""
GONE = ("message_not_found", "channel_not_found", "cant_update_message")


def digest_metadata(subscription_id: str, intent: str) -> dict[str, Any]:
    """Slack message metadata that lets the worker recognise the digest of an interrupted cycle."""
    return {"event_type": DIGEST_EVENT, "event_payload": {"subscription": subscription_id, "intent": intent}}


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "unknown_error") if exc.response is not None else "unknown_error"


class SlackPublisher:
    """Digests and notices through one Slack WebClient (one workspace's bot token)."""

    def __init__(
        self,
        client: WebClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_post: dict[str, float] = {}

    def post_digest(
        self, sub: Subscription, rows: list[StaleRow], *, more: int, cutoff: datetime, now: datetime, intent: str
    ) -> str:
        message = render_digest(sub, rows, more=more, cutoff=cutoff, now=now)
        try:
            return self._post(sub.channel_id, {**message, "metadata": digest_metadata(sub.id, intent)})
        except SlackApiError as exc:
            raise PublishRefused(_error(exc), sub.channel_id) from exc

    def update_digest(
        self, sub: Subscription, digest: Digest, rows: list[StaleRow], *, more: int, cutoff: datetime, now: datetime
    ) -> bool:
        message = render_digest(sub, rows, more=more, cutoff=cutoff, now=now)
        try:
            self.client.chat_update(channel=digest.channel_id, ts=digest.message_ts, **message)
        except SlackApiError as exc:
            error = _error(exc)
            if error in GONE:
                log.info("alerts %s: digest %s cannot be updated (%s)", sub.id, digest.message_ts, error)
                return False
            raise PublishRefused(error, digest.channel_id) from exc
        return True

    def find_digest(self, digest: Digest) -> str | None:
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                page = self.client.conversations_history(
                    channel=digest.channel_id, limit=HISTORY_PAGE_SIZE, cursor=cursor, include_all_metadata=True
                )
            except SlackApiError as exc:
                raise PublishRefused(_error(exc), digest.channel_id) from exc
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == DIGEST_EVENT and payload.get("intent") == digest.message_ts:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        return None

    def tell(self, sub: Subscription, notice: Notice) -> bool:
        """Tell the channel; if Slack refuses (the app was removed from it), tell the creator directly."""
        message = render_notice(sub, notice)
        for target in (sub.channel_id, sub.created_by):
            try:
                self._post(target, message)
                return True
            except SlackApiError as exc:
                log.warning("alerts %s: could not post to %s (%s)", sub.id, target, _error(exc))
        return False

    def words(self, exc: BaseException) -> str:
        return describe(exc).text

    def _post(self, channel: str, message: dict[str, Any]) -> str:
        """Post, at most one message a second per channel (Slack's limit)."""
        last = self._last_post.get(channel)
        if last is not None:
            wait = SLACK_POST_SPACING - (self._monotonic() - last)
            if wait > 0:
                self._sleep(wait)
        try:
            response = self.client.chat_postMessage(channel=channel, **message)
        finally:
            self._last_post[channel] = self._monotonic()
        return str(response["ts"])


def render_notice(sub: Subscription, notice: Notice) -> dict[str, Any]:
    """A worker notice as a Slack message."""
    match notice:
        case Paused(reason):
            return paused_notice(sub, reason)
        case Resumed():
            return resumed_notice(sub)
        case Failing(detail, minutes):
            return error_notice(sub, detail, duration_text(minutes))
        case Recovered():
            return recovered_notice(sub)
    raise TypeError(f"unknown notice {notice!r}")
