"""The store's records: alert subscriptions, what was alerted, and posted digests (pure data, no storage)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def new_subscription_id() -> str:
    """Short random hex: unique enough for a few subscriptions and easy to type in a command."""
    return secrets.token_hex(4)


class Subscription(BaseModel):
    """A channel wants to hear about chatrooms whose last agent visit is older than the threshold."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_subscription_id)
    team_id: str
    enterprise_id: str | None = None
    """The Enterprise Grid organisation of the team, if any: with the team, it finds the workspace's bot token."""
    channel_id: str
    created_by: str
    """Slack user whose Nexudus credentials the scan uses."""
    threshold_minutes: int
    business_id: int | None = None
    created_at: datetime
    paused_reason: str | None = None
    """Set when the creator's credentials were removed or rejected; the channel has been told once."""
    last_error: str | None = None
    last_error_reported: bool = False
    escalate_after_minutes: int | None = None
    """A room still waiting this long is posted once more, in its digest's thread, mentioning `escalate_to`."""
    escalate_to: str | None = None
    """A Slack user (`U…`/`W…`) or user group (`S…`) id."""
    open_hours: tuple[int, int] | None = None
    """Quiet hours: posts only from, until (minutes after midnight in `zone`; until < from spans midnight)."""
    open_days: tuple[int, ...] | None = None
    """Quiet days: posts only on these days (0 = Monday) of `zone`; None: every day."""
    zone: str | None = None
    """IANA zone of `open_hours`, `open_days` and `summary_minute`; None: the space's (`NEXUDUS_TIMEZONE`)."""
    summary_minute: int | None = None
    """A daily summary at this time of day (minutes after midnight in `zone`)."""
    quiet_since: datetime | None = None
    """Set by the first cycle that found it outside its hours; the next opening's summary says since when."""
    last_summary_on: str | None = None
    """The local date (ISO) of the last daily summary posted, so it is posted once a day."""
    raised_threshold_until: datetime | None = None
    """Set when the threshold was raised: until then a never-visited room alerted under the old threshold may
    be missing from the scan only because it has not yet waited the new one, so it is not resolved for that."""

    def same_filter(self, other: Subscription) -> bool:
        """Same channel, threshold and business: the same alerts, whoever set them up."""
        return (self.team_id, self.channel_id, self.threshold_minutes, self.business_id) == (
            other.team_id,
            other.channel_id,
            other.threshold_minutes,
            other.business_id,
        )


OPTION_FIELDS = (
    "threshold_minutes",
    "business_id",
    "escalate_after_minutes",
    "escalate_to",
    "open_hours",
    "open_days",
    "zone",
    "summary_minute",
)
"""The fields of a subscription its users set; `alerts change` changes them in place."""
WORKER_FIELDS = ("paused_reason", "last_error", "last_error_reported", "quiet_since", "last_summary_on")
"""The fields the alert worker keeps on a subscription (`Store.update_subscription` writes only these)."""


class AlertRecord(BaseModel):
    """What was alerted for one chatroom of one subscription, so the same wait is not alerted twice."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    chatroom_id: int
    last_agent_visit: datetime | None
    """The value that was alerted on; a newer visit means a new wait."""
    channel_id: str
    message_ts: str
    """The digest message the chatroom appeared in."""
    alerted_at: datetime
    snoozed_until: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    escalated_at: datetime | None = None
    """When this wait was escalated (recorded before the post: an escalation is posted at most once)."""
    escalation_ts: str | None = None
    """The escalation's message in the digest's thread, updated when the room is resolved."""
    waiting_since: datetime | None = None
    """When the member's wait began: the last agent visit, or the room's creation when never visited (None:
    unknown, e.g. a record written before the alert history existed)."""
    business_id: int | None = None
    """The room's business, when the scan saw it."""


HistoryKind = Literal["alerted", "escalated", "unescalated", "snoozed", "resolved", "unwatched"]


class HistoryEvent(BaseModel):
    """One entry of the append-only alert history: something that happened to one wait of one room, as one
    subscription saw it. Written by the store in the same transaction as the alert record it follows from
    (`Store._record`); never changed afterwards, removed only by the retention (``HISTORY_RETENTION_DAYS``).

    A *wait* is a chatroom and the last agent visit it waits since (None: never visited): several
    subscriptions seeing one wait write one event each, and `bot/stats.py` counts the wait once.
    """

    model_config = ConfigDict(extra="ignore")

    kind: HistoryKind
    """alerted (posted in a digest, or recorded against a sibling's digest in the same channel), escalated,
    unescalated (the escalation post was refused: it did not happen), snoozed, resolved (visited — by a button,
    or seen no longer stale in Nexudus: visited or closed), unwatched (its subscription was removed)."""
    at: datetime
    team_id: str
    subscription_id: str
    channel_id: str
    chatroom_id: int
    business_id: int | None = None
    last_agent_visit: datetime | None = None
    """The visit the member waits since: with the chatroom, it names the wait."""
    waiting_since: datetime | None = None
    stale_at: datetime | None = None
    """When the wait passed the subscription's threshold, or when the subscription was set up if later (a room
    already stale then is the desk's from that moment on); None: unknown, stats then count from the alert."""
    by: str | None = None
    """The Slack user who resolved it from a button (None: Nexudus itself)."""
    until: datetime | None = None
    """The end of a snooze."""

    @property
    def wait(self) -> tuple[int, datetime | None]:
        return self.chatroom_id, self.last_agent_visit


class Scope(BaseModel):
    """Which waits a digest was about: rooms of `business_id` (None: all) waiting over `threshold_minutes`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    threshold_minutes: int
    business_id: int | None = None


class Digest(BaseModel):
    """One posted digest message, so its buttons can find the chatrooms it listed."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    channel_id: str
    message_ts: str
    chatroom_ids: list[int]
    posted_at: datetime
    resolved_ids: dict[int, str] = Field(default_factory=dict)
    """Chatroom id -> Slack user who resolved it from this digest."""

    scope: Scope | None = None
    """The threshold and business it was posted under, kept when the subscription's were changed later
    (None: the subscription's own), so a redraw still says what it said."""

    redraw: str | None = None
    """Set (a fresh token) when rows of this digest changed and its message must be redrawn; cleared once
    it was, so a redraw interrupted by a crash or a Slack error is done by the worker's next cycle."""

    @property
    def pending(self) -> bool:
        """Recorded before posting, and not yet stamped with Slack's message ts (see `Store.begin_digest`)."""
        return self.message_ts.startswith(PENDING_PREFIX)


PENDING_PREFIX = "pending-"


def new_pending_ts() -> str:
    """The stand-in `message_ts` of a digest about to be posted: unique, and never a Slack ts."""
    return f"{PENDING_PREFIX}{secrets.token_hex(8)}"
