"""Digests and what people do with them: resolve (mark visited), snooze, page through — knowing nothing of Slack.

A digest is the one message a subscription posts for the rooms found waiting in a cycle. These use
cases read and write the store and redraw digests through a `DigestPublisher`, the small interface the
Slack side implements (`bot/slack/publisher.py`: post, update, find in history, tell a channel or DM).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from bot.audit import Actor
from bot.deps import Deps
from bot.nexudus.errors import NexudusError
from bot.nexudus.models import ChatRoom
from bot.schedule import DailySummary
from bot.services import DigestGone, NotLoggedIn, SubscriptionGone, UserSession
from bot.store import AlertRecord, Digest, Subscription

log = logging.getLogger(__name__)

# Header, "…and N more" and the footer leave room for 23 rows under 50 blocks; 20 keeps it readable.
MAX_DIGEST_ROWS = 20
MORE_PAGE = 40  # rows a page of a digest's "Show the other N", one line each
SNOOZE = timedelta(hours=1)

RowState = Literal["open", "snoozed", "reposted", "resolved", "unfollowed", "gone", "escalated"]


@dataclass(frozen=True)
class StaleRow:
    """One chatroom waiting for an agent, as a digest or the Home tab shows it."""

    chatroom_id: int
    name: str
    last_visit: datetime | None
    created_on: datetime | None = None
    state: RowState = "open"
    by: str | None = None
    """Slack user who resolved or snoozed it (None: resolved in Nexudus itself)."""
    until: datetime | None = None
    """End of the snooze."""
    escalated_at: datetime | None = None

    @property
    def waiting_since(self) -> datetime | None:
        """A never-visited chatroom has waited since it was created."""
        return self.last_visit or self.created_on


def stale_row(room: ChatRoom, **extra: Any) -> StaleRow:
    return StaleRow(
        chatroom_id=room.id,
        name=room.display_name,
        last_visit=room.last_agent_visit,
        created_on=room.created_on,
        **extra,
    )


@dataclass(frozen=True)
class DigestMessage:
    """What a digest message says, posted or redrawn: its rows, how many more it counts, and (the first digest
    after quiet hours) since when the channel was quiet. The threshold and business are its subscription's."""

    rows: list[StaleRow]
    more: int
    now: datetime
    quiet_since: datetime | None = None


# ------------------------------------------------------------------------------ the publisher port


class PublishRefused(Exception):
    """The chat platform refused a call (`error` is its code, e.g. `not_in_channel`): nothing was posted."""

    def __init__(self, error: str, channel_id: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.channel_id = channel_id


@dataclass(frozen=True)
class Paused:
    reason: str


@dataclass(frozen=True)
class Resumed:
    pass


@dataclass(frozen=True)
class Failing:
    detail: str
    interval_minutes: int


@dataclass(frozen=True)
class Recovered:
    pass


@dataclass(frozen=True)
class Opened:
    """The first cycle after quiet hours, with nothing new to post: what waited meanwhile."""

    quiet_since: datetime
    waiting: int
    oldest_since: datetime | None


Notice = Paused | Resumed | Failing | Recovered | Opened
"""What the worker tells a subscription's channel about itself."""


class DigestPublisher(Protocol):
    """Where digests go. Every method raises `PublishRefused` when the platform refuses."""

    def post_digest(self, sub: Subscription, message: DigestMessage, *, intent: str) -> str:
        """Post a new digest carrying `intent` (so `find_digest` can find it); returns its message ts."""
        ...

    def post_escalation(self, sub: Subscription, thread_ts: str, row: StaleRow, *, now: datetime) -> str:
        """Post a room's escalation (mentioning `sub.escalate_to`) in its digest's thread; returns its ts."""
        ...

    def resolve_escalation(self, sub: Subscription, rec: AlertRecord, by: str | None) -> bool:
        """Update a posted escalation to say the room no longer waits; False if it is gone."""
        ...

    def post_summary(self, sub: Subscription, summary: DailySummary, *, now: datetime) -> str:
        """Post the daily summary (`summary:HH:MM`)."""
        ...

    def update_digest(self, sub: Subscription, digest: Digest, message: DigestMessage) -> bool:
        """Redraw a posted digest; False when the message is gone (deleted): nothing left to redraw."""
        ...

    def find_digest(self, digest: Digest) -> str | None:
        """The ts of the message posted for an unstamped `digest` (by its intent), None if not posted."""
        ...

    def tell(self, sub: Subscription, notice: Notice) -> bool:
        """Tell the channel, or the subscription's creator directly if the channel refuses; False if neither."""
        ...

    def words(self, exc: BaseException) -> str:
        """A failure in words for the channel, the log and the store."""
        ...


# ------------------------------------------------------------------------------------- digests


def digest_rows(
    digest: Digest,
    alerts: dict[int, AlertRecord],
    rooms: dict[int, ChatRoom],
    now: datetime,
    chatroom_ids: Sequence[int] | None = None,
    *,
    unfollowed: bool = False,
) -> list[StaleRow]:
    """Rows of a posted digest in their current state: the shown ones, or `chatroom_ids` of it.

    `unfollowed`: the subscription follows another business since the digest was posted, so a room the
    scan stopped finding may have left its business rather than been visited (see `unfollowed`)."""
    rows: list[StaleRow] = []
    for chatroom_id in digest.chatroom_ids[:MAX_DIGEST_ROWS] if chatroom_ids is None else chatroom_ids:
        room = rooms.get(chatroom_id)
        rec = alerts.get(chatroom_id)
        if room is None:
            rows.append(StaleRow(chatroom_id, f"Chatroom {chatroom_id}", None, state="gone"))
            continue
        by = digest.resolved_ids.get(chatroom_id)
        if by is not None or rec is None or rec.resolved_at is not None:
            who = by or (rec.resolved_by if rec else None) or None
            rows.append(stale_row(room, state="unfollowed" if unfollowed and who is None else "resolved", by=who))
        elif rec.message_ts != digest.message_ts:
            # Still waiting, listed again in a newer alert (its snooze ended): it keeps its buttons here too.
            rows.append(stale_row(room, state="reposted"))
        elif rec is not None and rec.snoozed_until is not None and rec.snoozed_until > now:
            rows.append(stale_row(room, state="snoozed", until=rec.snoozed_until))
        elif rec.escalated_at is not None:
            rows.append(stale_row(room, state="escalated", escalated_at=rec.escalated_at))
        else:
            rows.append(stale_row(room))
    return rows


def unfollowed(digest: Digest, sub: Subscription) -> bool:
    """Was `digest` posted for rooms the subscription no longer follows (its business was changed since)?"""
    scope = digest.scope
    return scope is not None and sub.business_id is not None and scope.business_id != sub.business_id


def as_posted(sub: Subscription, digest: Digest) -> Subscription:
    """`sub` with the threshold and business `digest` was posted under, so a redraw says what it said."""
    if digest.scope is None:
        return sub
    return sub.model_copy(update=digest.scope.model_dump())


def escalation_due(sub: Subscription, rec: AlertRecord, since: datetime | None, now: datetime) -> bool:
    """An alerted wait, not snoozed, not yet escalated, waiting past `escalate-after`: escalate it (once)."""
    if sub.escalate_after_minutes is None or sub.escalate_to is None or since is None:
        return False
    if rec.resolved_at is not None or rec.escalated_at is not None or not rec.message_ts:
        return False
    if rec.snoozed_until is not None and rec.snoozed_until > now:
        return False
    return since <= now - timedelta(minutes=sub.escalate_after_minutes)


def update_escalation(publisher: DigestPublisher, sub: Subscription, rec: AlertRecord, by: str | None) -> None:
    """Best effort: the digest already shows the room resolved; the thread's escalation says so too."""
    try:
        publisher.resolve_escalation(sub, rec, by)
    except PublishRefused as exc:
        log.warning("alerts %s: escalation %s not updated (%s)", sub.id, rec.escalation_ts, exc.error)


def redraw_digest(
    deps: Deps, publisher: DigestPublisher, session: UserSession, sub: Subscription, digest: Digest
) -> bool:
    """Redraw a posted digest from the store and the rooms' current names (one Nexudus request).

    False when the message is gone from Slack (deleted by someone): there is nothing to redraw.
    """
    now = deps.clock()
    shown = digest.chatroom_ids[:MAX_DIGEST_ROWS]
    rooms = {room.id: room for room in session.show(shown)} if shown else {}
    alerts = {i: rec for i in shown if (rec := deps.store.get_alert(sub.id, i)) is not None}
    rows = digest_rows(digest, alerts, rooms, now, unfollowed=unfollowed(digest, sub))
    message = DigestMessage(rows, more=len(digest.chatroom_ids) - len(shown), now=now)
    updated = publisher.update_digest(as_posted(sub, digest), digest, message)
    if not updated:
        log.info("alerts %s: digest %s cannot be updated any more", sub.id, digest.message_ts)
    deps.store.digest_redrawn(digest)  # redrawn, or nothing left to redraw
    return updated


def digest_page(
    deps: Deps, session: UserSession, *, team_id: str, subscription_id: str, message_ts: str, offset: int
) -> tuple[Subscription, list[StaleRow], int, int]:
    """A page of the rows a digest counted but did not show ("Show the other N"), in their current state.

    Returns the subscription, the rows (at most `MORE_PAGE`), the offset they start at (never inside the
    shown rows) and how many rows the digest holds.
    """
    sub = usable_subscription(deps, subscription_id, team_id)
    if sub is None:
        raise SubscriptionGone("list")
    digest = deps.store.get_digest(sub.id, message_ts)
    if digest is None:
        raise DigestGone()
    offset = max(MAX_DIGEST_ROWS, min(offset, len(digest.chatroom_ids)))
    page = digest.chatroom_ids[offset : offset + MORE_PAGE]
    rooms = {room.id: room for room in session.show(page)} if page else {}
    alerts = {i: rec for i in page if (rec := deps.store.get_alert(sub.id, i)) is not None}
    rows = digest_rows(digest, alerts, rooms, deps.clock(), page, unfollowed=unfollowed(digest, sub))
    return as_posted(sub, digest), rows, offset, len(digest.chatroom_ids)


def usable_subscription(deps: Deps, subscription_id: str | None, team_id: str) -> Subscription | None:
    """The subscription a button names, if it still exists in this team (another team's is "unknown")."""
    if not subscription_id:
        return None
    sub = deps.store.get_subscription(subscription_id)
    return sub if sub is not None and sub.team_id == team_id else None


# ---------------------------------------------------------------------------------- user actions


def resolve_by_user(
    deps: Deps,
    publisher: DigestPublisher,
    session: UserSession,
    *,
    team_id: str,
    subscription_id: str | None,
    chatroom_id: int,
    user_id: str,
) -> tuple[ChatRoom, bool]:
    """Mark visited with the clicking user's login, then record it and redraw the digest naming them.

    Returns the chatroom as saved and whether a digest was redrawn (else the caller confirms privately).
    """
    now = deps.clock()
    room = session.mark_visited(chatroom_id, now)
    sub = usable_subscription(deps, subscription_id, team_id)
    rec = deps.store.get_alert(sub.id, chatroom_id) if sub is not None else None
    if sub is None or rec is None:
        return room, False
    # The digest first (flagged for a redraw), then the row: a crash or a Slack error anywhere after this
    # leaves the flag, and the worker's next cycle redraws the digest naming this user.
    digest = None
    if rec.resolved_at is None and rec.message_ts:
        digest = deps.store.mark_digest(sub.id, rec.message_ts, {chatroom_id: user_id})
    deps.store.put_alert(rec.model_copy(update={"resolved_at": now, "resolved_by": user_id}))
    if rec.escalation_ts and rec.resolved_at is None:
        update_escalation(publisher, sub, rec, user_id)
    if digest is None:
        return room, False
    try:
        return room, redraw_digest(deps, publisher, session, sub, digest)
    except NexudusError as exc:
        # The visit is saved: a failed redraw must not be told as a failed save (the caller confirms
        # privately), and the digest stays flagged, so the next cycle redraws it.
        log.warning("alerts %s: digest redraw after a visit failed: %s", sub.id, type(exc).__name__)
        return room, False


def snooze(
    deps: Deps,
    publisher: DigestPublisher,
    session: UserSession | None,
    *,
    team_id: str,
    subscription_id: str | None,
    chatroom_id: int,
    actor: Actor | None = None,
) -> tuple[datetime, bool]:
    """Silence one chatroom of one subscription for `SNOOZE`; the digest is redrawn to say until when.

    `session` (the clicking user's, None when they are not logged in) only reads names for the redraw;
    without it the subscriber's login is used, as for the digest itself. `actor` (who clicked) is named in
    the audit trail. Returns (until, redrawn).
    """
    sub = usable_subscription(deps, subscription_id, team_id)
    if sub is None:
        raise SubscriptionGone("snooze")
    tracker = session.tracker if session is not None else None  # the clicking user's request (bot/inflight.py)
    if session is None:
        with contextlib.suppress(NotLoggedIn):
            session = deps.services.session(sub.team_id, sub.created_by)
    now = deps.clock()
    until = now + SNOOZE
    if tracker is not None:
        changes = {"snoozed_until": until.isoformat()}
        tracker.begin("snooze", chatroom_ids=[chatroom_id], changes=changes, subscription_id=sub.id)
    rec = deps.store.snooze(sub.id, chatroom_id, until, now=now)
    if rec is not None:
        snoozed(deps, actor, sub, chatroom_id, until)
    else:
        # Not alerted yet (snoozed from the Home tab): record its current wait, so the snooze holds.
        if session is None:
            raise NotLoggedIn()
        rooms = session.show([chatroom_id])
        visit = rooms[0].last_agent_visit if rooms else None
        deps.store.put_alert(
            AlertRecord(
                subscription_id=sub.id,
                chatroom_id=chatroom_id,
                last_agent_visit=visit,
                channel_id=sub.channel_id,
                message_ts="",
                alerted_at=now,
                snoozed_until=until,
            )
        )
        snoozed(deps, actor, sub, chatroom_id, until)
        return until, False
    digest = deps.store.mark_digest(sub.id, rec.message_ts) if rec.message_ts else None
    if digest is None or session is None:
        return until, False  # a flagged digest is redrawn by the worker's next cycle
    return until, redraw_digest(deps, publisher, session, sub, digest)


def snoozed(deps: Deps, actor: Actor | None, sub: Subscription, chatroom_id: int, until: datetime) -> None:
    deps.services.audit.record(
        actor,
        "snooze",
        chatroom_ids=[chatroom_id],
        subscription_id=sub.id,
        channel_id=sub.channel_id,
        until=until,
    )
