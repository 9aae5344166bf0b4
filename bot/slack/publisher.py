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

from bot.deps import utc_now
from bot.digests import DigestMessage, Failing, Notice, Opened, Paused, PublishRefused, Recovered, Resumed, StaleRow
from bot.schedule import DailySummary
from bot.slack.errors import describe
from bot.slack.views.alerts import (
    duration_text,
    error_notice,
    opened_notice,
    paused_notice,
    recovered_notice,
    render_digest,
    render_escalation,
    render_escalation_resolved,
    render_summary,
    resumed_notice,
)
from bot.store import AlertRecord, Digest, Subscription

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
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_post: dict[str, float] = {}

    def post_digest(self, sub: Subscription, message: DigestMessage, *, intent: str) -> str:
        try:
            return self._post(
                sub.channel_id, {**render_digest(sub, message), "metadata": digest_metadata(sub.id, intent)}
            )
        except SlackApiError as exc:
            raise PublishRefused(_error(exc), sub.channel_id) from exc

    def update_digest(self, sub: Subscription, digest: Digest, message: DigestMessage) -> bool:
        try:
            self.client.chat_update(channel=digest.channel_id, ts=digest.message_ts, **render_digest(sub, message))
        except SlackApiError as exc:
            error = _error(exc)
            if error in GONE:
                log.info("alerts %s: digest %s cannot be updated (%s)", sub.id, digest.message_ts, error)
                return False
            raise PublishRefused(error, digest.channel_id) from exc
        return True

    def post_escalation(self, sub: Subscription, thread_ts: str, row: StaleRow, *, now: datetime) -> str:
        try:
            return self._post(sub.channel_id, {**render_escalation(sub, row, now), "thread_ts": thread_ts})
        except SlackApiError as exc:
            raise PublishRefused(_error(exc), sub.channel_id) from exc

    def resolve_escalation(self, sub: Subscription, rec: AlertRecord, by: str | None) -> bool:
        if not rec.escalation_ts:
            return False
        try:
            self.client.chat_update(
                channel=rec.channel_id, ts=rec.escalation_ts, **render_escalation_resolved(rec.chatroom_id, by)
            )
        except SlackApiError as exc:
            if _error(exc) in GONE:
                return False
            raise PublishRefused(_error(exc), rec.channel_id) from exc
        return True

    def post_summary(self, sub: Subscription, summary: DailySummary, *, now: datetime) -> str:
        try:
            return self._post(sub.channel_id, render_summary(sub, summary, now))
        except SlackApiError as exc:
            raise PublishRefused(_error(exc), sub.channel_id) from exc

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
        message = render_notice(sub, notice, self._clock())
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


def render_notice(sub: Subscription, notice: Notice, now: datetime) -> dict[str, Any]:
    """A worker notice as a Slack message."""
    match notice:
        case Opened(quiet_since, waiting, oldest_since):
            return opened_notice(sub, quiet_since, waiting, oldest_since, now)
        case Paused(reason):
            return paused_notice(sub, reason)
        case Resumed():
            return resumed_notice(sub)
        case Failing(detail, minutes):
            return error_notice(sub, detail, duration_text(minutes))
        case Recovered():
            return recovered_notice(sub)
    raise TypeError(f"unknown notice {notice!r}")
