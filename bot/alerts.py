"""Stale-visit alerts: find chatrooms waiting too long for an agent and tell the subscribed channels.

`python -m bot alerts` runs the worker loop, one cycle every `ALERT_INTERVAL_SECONDS` (default 300 s);
`python -m bot alerts --once` runs one cycle and exits (cron, Heroku Scheduler). The console's `:alerts`
runs `AlertWorker(deps, client).run_cycle()`.

*Stale.* A chatroom is stale for a subscription when it is active, in the subscription's business (if
one is set), and its `LastAgentVisit` is older than the threshold — or, never visited, it was created
longer ago than the threshold (a member has been waiting since it was opened).

*Cost of a scan* (per subscription and cycle, page size 1000, the API's maximum):
1. Visited stale chatrooms: `ChatRoom_Active=true`, `To_ChatRoom_LastAgentVisit=now−threshold`
   (minute resolution, so a room turns stale up to a minute late), `ChatRoom_Business`, ordered by
   LastAgentVisit ascending. Every record matches, so this costs one request per page of stale rooms.
2. Never-visited stale chatrooms: a range filter never matches a null LastAgentVisit and the API has no
   "is null" filter, so: `ChatRoom_Active=true`, `To_ChatRoom_CreatedOn=now−threshold`, ordered by
   LastAgentVisit ascending, which puts nulls first (SQL Server's and SQLite's order). We read until
   the first visited record: one request while fewer than 1000 rooms were never visited.
So a cycle costs ⌈stale visited / 1000⌉ (at least 1) + 1 list requests, plus one find-by-ids request per
digest whose shown rows changed (to redraw it with current names). Only one page is held at a time;
what is kept across pages is the ids seen and the oldest `MAX_DIGEST_ROWS` new rooms.

*No repeats.* Each alerted chatroom has an `AlertRecord` (the LastAgentVisit it was alerted on and the
digest it appeared in). A room still stale with the same LastAgentVisit is not posted again; a snoozed
one waits for its snooze to end. A room another subscription of the same channel already posted for
this wait is recorded against that digest, not posted again. A room no longer stale (visited, closed,
deleted) — or stale again after a newer visit — is resolved: its digest is redrawn (`chat.update`) to
show it. Rooms beyond what a digest shows are counted ("…and 37 more", with a button listing them) and
recorded too, so they are not posted again either.

*Post, then stamp.* A digest and its rows are recorded first with a pending ts (`Store.begin_digest`),
the post carries that intent in its message metadata, then `Store.stamp_digest` swaps in Slack's ts.
A worker killed in between leaves the intent; the next cycle (`_reconcile`) finds the message in the
channel's history and stamps it, or drops the intent if Slack never got the post (after `DROP_GRACE`).
In the same spirit, a digest whose rows change is flagged (`Store.mark_digest`) before the change is
recorded and unflagged once redrawn; the next cycle redraws any digest still flagged (`_redraw_flagged`).

*Credentials.* A scan uses the login of the subscription's creator. If it is removed or rejected, the
subscription pauses (`paused_reason`) and the channel is told once. It resumes on the first cycle after
the creator has a login that works: a removed login is retried as soon as one is saved again; a rejected
login is retried at once when it changes (the creator logged in again) and otherwise at most once every
`REJECTED_RETRY` (an hour), so a wrong password is not sent to Nexudus every cycle, yet a role granted
back is noticed without a new login. (The worker remembers the refused login in memory; a restarted
worker tries it once more.)

*Failures.* Any other failure (Nexudus down, throttled, Slack refusing) is logged and reported to the
channel once (`last_error`, `last_error_reported`); the next cycle runs normally and, when it succeeds,
says so. One subscription failing never stops the others.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.installations import client_for_team
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError, RateLimited, Unavailable
from bot.nexudus.models import ChatRoom
from bot.nexudus.query import MAX_PAGE_SIZE, ChatRoomFilters, Direction
from bot.services import CredentialsRejected, DigestGone, LoginExpired, NotLoggedIn, SubscriptionGone, UserSession
from bot.slack.deps import Deps
from bot.slack.errors import describe
from bot.slack.views.alerts import (
    MAX_DIGEST_ROWS,
    MORE_PAGE,
    StaleRow,
    duration_text,
    error_notice,
    paused_notice,
    recovered_notice,
    render_digest,
    resumed_notice,
)
from bot.store import AlertRecord, Digest, StoreError, Subscription, new_pending_ts

log = logging.getLogger(__name__)

MAX_SCAN_PAGES = 20
"""At most 20 000 stale rooms a scan; beyond, nothing is resolved that cycle (we did not see it all)."""
SLACK_POST_SPACING = 1.0
"""Slack allows about one message per second per channel."""
SNOOZE = timedelta(hours=1)
REJECTED_RETRY = timedelta(hours=1)
FORGET_RESOLVED_AFTER = timedelta(days=7)
"""Resolved alert records are kept a week (a digest redrawn meanwhile still knows them), then deleted."""
DIGEST_EVENT = "chatrooms_digest"
"""Message metadata event type of a digest; its payload names the intent, so a lost ts can be found again."""
DROP_GRACE = timedelta(minutes=2)
"""An unstamped digest not found in Slack is dropped (and its rooms posted again) only once it is this old."""
HISTORY_PAGES = 3
HISTORY_PAGE_SIZE = 200
"""An interrupted cycle's digest is looked for among the channel's 600 latest messages."""
LOGGED_OUT = "<@{user}>'s Nexudus login was removed from this app."
UNREADABLE = "<@{user}>'s saved Nexudus login can no longer be read by this app; they need to log in again."
REJECTED = "Nexudus no longer accepts <@{user}>'s saved login (or the account lacks the ChatRoom-List role)."
EXPIRED = "<@{user}>'s Nexudus login expired and could not be renewed."


# ------------------------------------------------------------------------------------------- scan


@dataclass
class ScanStats:
    """What a scan cost, and whether it saw every stale room (only then may unseen ones count as resolved)."""

    requests: int = 0
    complete: bool = True


def stale_filters(cutoff: datetime, business_id: int | None) -> tuple[ChatRoomFilters, ChatRoomFilters]:
    """(never-visited query, visited query) for rooms waiting since before `cutoff`."""
    never = ChatRoomFilters(active=True, business=business_id, created_to=cutoff)
    visited = ChatRoomFilters(active=True, business=business_id, visited_to=cutoff)
    return never, visited


def is_stale(room: ChatRoom, cutoff: datetime) -> bool:
    """The module's definition, re-checked on every record the filters return."""
    if room.active is False:
        return False
    if room.last_agent_visit is not None:
        return room.last_agent_visit <= cutoff
    return room.created_on is not None and room.created_on <= cutoff


def scan_stale(
    session: UserSession,
    cutoff: datetime,
    business_id: int | None,
    stats: ScanStats,
    *,
    page_size: int = MAX_PAGE_SIZE,
    max_pages: int = MAX_SCAN_PAGES,
) -> Iterator[ChatRoom]:
    """Every stale chatroom: the never-visited ones, then the visited ones oldest first (see module doc)."""
    never, visited = stale_filters(cutoff, business_id)
    pages = 0
    for number in range(1, max_pages + 1):
        page = session.find(
            never, page=number, size=page_size, order_by="LastAgentVisit", direction=Direction.ASCENDING
        )
        stats.requests += 1
        pages += 1
        reached_visited = False
        for room in page.records:
            if room.last_agent_visit is not None:
                reached_visited = True
                break
            if is_stale(room, cutoff):
                yield room
        if reached_visited or not page.has_next_page or not page.records:
            break
    else:
        stats.complete = False
    for number in range(1, max_pages - pages + 1):
        page = session.find(
            visited, page=number, size=page_size, order_by="LastAgentVisit", direction=Direction.ASCENDING
        )
        stats.requests += 1
        for room in page.records:
            if is_stale(room, cutoff):
                yield room
        if not page.has_next_page or not page.records:
            return
    stats.complete = False


def oldest_stale(
    session: UserSession, cutoff: datetime, business_id: int | None, limit: int
) -> tuple[list[ChatRoom], int]:
    """The `limit` longest-waiting stale rooms and how many are stale in all: two requests (the Home tab)."""
    never, visited = stale_filters(cutoff, business_id)
    size = max(1, min(limit, MAX_PAGE_SIZE))
    first = session.find(never, size=size, order_by="LastAgentVisit", direction=Direction.ASCENDING)
    unvisited = [r for r in first.records if r.last_agent_visit is None and is_stale(r, cutoff)]
    page = session.find(visited, size=size, order_by="LastAgentVisit", direction=Direction.ASCENDING)
    rooms = sorted(unvisited + [r for r in page.records if is_stale(r, cutoff)], key=_waiting_key)[:limit]
    # The never-visited count is exact unless a whole page of them came back.
    return rooms, page.total_items + len(unvisited)


def _waiting_key(room: ChatRoom) -> tuple[float, int]:
    since = room.last_agent_visit or room.created_on
    return (since.timestamp() if since else 0.0, room.id)


def stale_row(room: ChatRoom, **extra: Any) -> StaleRow:
    return StaleRow(
        chatroom_id=room.id,
        name=room.display_name,
        last_visit=room.last_agent_visit,
        created_on=room.created_on,
        **extra,
    )


# ----------------------------------------------------------------------------------------- digests


def digest_metadata(subscription_id: str, intent: str) -> dict[str, Any]:
    """Slack message metadata that lets `_reconcile` recognise the digest of an interrupted cycle."""
    return {"event_type": DIGEST_EVENT, "event_payload": {"subscription": subscription_id, "intent": intent}}


def digest_rows(
    digest: Digest,
    alerts: dict[int, AlertRecord],
    rooms: dict[int, ChatRoom],
    now: datetime,
    chatroom_ids: Sequence[int] | None = None,
) -> list[StaleRow]:
    """Rows of a posted digest in their current state: the shown ones, or `chatroom_ids` of it."""
    rows: list[StaleRow] = []
    for chatroom_id in digest.chatroom_ids[:MAX_DIGEST_ROWS] if chatroom_ids is None else chatroom_ids:
        room = rooms.get(chatroom_id)
        rec = alerts.get(chatroom_id)
        if room is None:
            rows.append(StaleRow(chatroom_id, f"Chatroom {chatroom_id}", None, state="gone"))
            continue
        by = digest.resolved_ids.get(chatroom_id)
        if by is not None or rec is None or rec.resolved_at is not None:
            rows.append(stale_row(room, state="resolved", by=by or (rec.resolved_by if rec else None) or None))
        elif rec.message_ts != digest.message_ts:
            # Still waiting, listed again in a newer alert (its snooze ended): it keeps its buttons here too.
            rows.append(stale_row(room, state="reposted"))
        elif rec is not None and rec.snoozed_until is not None and rec.snoozed_until > now:
            rows.append(stale_row(room, state="snoozed", until=rec.snoozed_until))
        else:
            rows.append(stale_row(room))
    return rows


def redraw_digest(deps: Deps, slack: WebClient, session: UserSession, sub: Subscription, digest: Digest) -> bool:
    """Redraw a posted digest from the store and the rooms' current names (one Nexudus request).

    False when the message is gone from Slack (deleted by someone): there is nothing to redraw.
    """
    now = deps.clock()
    shown = digest.chatroom_ids[:MAX_DIGEST_ROWS]
    rooms = {room.id: room for room in session.show(shown)} if shown else {}
    alerts = {i: rec for i in shown if (rec := deps.store.get_alert(sub.id, i)) is not None}
    rows = digest_rows(digest, alerts, rooms, now)
    cutoff = digest.posted_at - timedelta(minutes=sub.threshold_minutes)
    message = render_digest(sub, rows, more=len(digest.chatroom_ids) - len(shown), cutoff=cutoff, now=now)
    try:
        slack.chat_update(channel=digest.channel_id, ts=digest.message_ts, **message)
    except SlackApiError as exc:
        if exc.response.get("error") in ("message_not_found", "channel_not_found", "cant_update_message"):
            log.info("alerts %s: digest %s cannot be updated (%s)", sub.id, digest.message_ts, exc.response["error"])
            deps.store.digest_redrawn(digest)  # nothing left to redraw
            return False
        raise
    deps.store.digest_redrawn(digest)
    return True


def digest_page(
    deps: Deps, session: UserSession, *, team_id: str, subscription_id: str, message_ts: str, offset: int
) -> tuple[Subscription, list[StaleRow], int, int]:
    """A page of the rows a digest counted but did not show ("Show the other N"), in their current state.

    Returns the subscription, the rows (at most `MORE_PAGE`), the offset they start at (never inside the
    shown rows) and how many rows the digest holds.
    """
    sub = _usable_sub(deps, subscription_id, team_id)
    if sub is None:
        raise SubscriptionGone("list")
    digest = deps.store.get_digest(sub.id, message_ts)
    if digest is None:
        raise DigestGone()
    offset = max(MAX_DIGEST_ROWS, min(offset, len(digest.chatroom_ids)))
    page = digest.chatroom_ids[offset : offset + MORE_PAGE]
    rooms = {room.id: room for room in session.show(page)} if page else {}
    alerts = {i: rec for i in page if (rec := deps.store.get_alert(sub.id, i)) is not None}
    return sub, digest_rows(digest, alerts, rooms, deps.clock(), page), offset, len(digest.chatroom_ids)


def _usable_sub(deps: Deps, subscription_id: str | None, team_id: str) -> Subscription | None:
    """The subscription a button names, if it still exists in this team (another team's is "unknown")."""
    if not subscription_id:
        return None
    sub = deps.store.get_subscription(subscription_id)
    return sub if sub is not None and sub.team_id == team_id else None


def resolve_by_user(
    deps: Deps,
    slack: WebClient,
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
    sub = _usable_sub(deps, subscription_id, team_id)
    rec = deps.store.get_alert(sub.id, chatroom_id) if sub is not None else None
    if sub is None or rec is None:
        return room, False
    # The digest first (flagged for a redraw), then the row: a crash or a Slack error anywhere after this
    # leaves the flag, and the worker's next cycle redraws the digest naming this user.
    digest = None
    if rec.resolved_at is None and rec.message_ts:
        digest = deps.store.mark_digest(sub.id, rec.message_ts, {chatroom_id: user_id})
    deps.store.put_alert(rec.model_copy(update={"resolved_at": now, "resolved_by": user_id}))
    if digest is None:
        return room, False
    try:
        return room, redraw_digest(deps, slack, session, sub, digest)
    except NexudusError as exc:
        # The visit is saved: a failed redraw must not be told as a failed save (the caller confirms
        # privately), and the digest stays flagged, so the next cycle redraws it.
        log.warning("alerts %s: digest redraw after a visit failed: %s", sub.id, type(exc).__name__)
        return room, False


def snooze(
    deps: Deps,
    slack: WebClient,
    session: UserSession | None,
    *,
    team_id: str,
    subscription_id: str | None,
    chatroom_id: int,
) -> tuple[datetime, bool]:
    """Silence one chatroom of one subscription for `SNOOZE`; the digest is redrawn to say until when.

    `session` (the clicking user's, None when they are not logged in) only reads names for the redraw;
    without it the subscriber's login is used, as for the digest itself. Returns (until, redrawn).
    """
    sub = _usable_sub(deps, subscription_id, team_id)
    if sub is None:
        raise SubscriptionGone("snooze")
    if session is None:
        with contextlib.suppress(NotLoggedIn):
            session = deps.services.session(sub.team_id, sub.created_by)
    now = deps.clock()
    until = now + SNOOZE
    rec = deps.store.snooze(sub.id, chatroom_id, until)
    if rec is None:
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
        return until, False
    digest = deps.store.mark_digest(sub.id, rec.message_ts) if rec.message_ts else None
    if digest is None or session is None:
        return until, False  # a flagged digest is redrawn by the worker's next cycle
    return until, redraw_digest(deps, slack, session, sub, digest)


# ------------------------------------------------------------------------------------------ worker


@dataclass
class CycleReport:
    """What one cycle did, for logs, the console and tests."""

    subscriptions: int = 0
    """Subscriptions scanned (paused ones skipped are counted in `paused`)."""
    paused: int = 0
    resumed: int = 0
    chatrooms_alerted: int = 0
    resolved: int = 0
    digests_posted: int = 0
    digests_updated: int = 0
    digests_recovered: int = 0
    """Digests posted by an interrupted cycle, found in Slack and stamped."""
    errors: int = 0
    nexudus_requests: int = 0
    """List and find-by-ids requests the scans made (retries not counted)."""
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        recovered = (
            f", {self.digests_recovered} digests of an interrupted cycle recovered" if self.digests_recovered else ""
        )
        return (
            f"{self.subscriptions} subscriptions scanned, {self.paused} paused, {self.chatrooms_alerted} chatrooms "
            f"alerted, {self.resolved} resolved, {self.digests_posted} digests posted, {self.digests_updated} "
            f"updated{recovered}, {self.errors} errors, {self.nexudus_requests} Nexudus requests"
        )


class AlertWorker:
    """Runs alert cycles over every subscription. Time comes from `deps.clock`; Slack through `slack`."""

    def __init__(
        self,
        deps: Deps,
        slack: WebClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        client_for: Callable[[str, str | None], WebClient | None] | None = None,
    ) -> None:
        self.deps = deps
        self.slack = slack
        # Many workspaces (OAuth): the Slack client of a subscription's team, None once it uninstalled the app.
        self._client_for = client_for
        self.interval = float(deps.settings.alert_interval_seconds)
        self._sleep = sleep
        self._monotonic = monotonic
        self._rejected: dict[str, tuple[Credentials, datetime]] = {}
        self._last_post: dict[str, float] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------- the loop
    def run_forever(self, stop: threading.Event, interval: float) -> None:
        """A cycle every `interval` seconds until `stop` is set; a failed cycle never ends the loop, except
        a store this process cannot read (a wrong or rotated key, a damaged file): that raises `StoreError`."""
        self.interval = interval
        while not stop.is_set():
            started = self._monotonic()
            try:
                report = self.run_cycle()
                log.info("alert cycle: %s", report.summary())
            except StoreError:
                raise  # a wrong key or a damaged store: no cycle can work; stop and say so (see main)
            except Exception:
                log.exception("alert cycle failed")
            stop.wait(max(0.0, interval - (self._monotonic() - started)))

    def run_cycle(self) -> CycleReport:
        """One pass over every subscription of every team; one failing never stops the others."""
        report = CycleReport()
        with self._lock:
            for sub in self.deps.store.subscriptions():
                try:
                    if not self._use_workspace(sub, report):
                        continue
                    self._run_subscription(sub, report)
                except StoreError:
                    raise  # the store, not this subscription: telling its channel would be untrue
                except Exception as exc:
                    report.errors += 1
                    self._failed(sub, exc, report)
        return report

    def _use_workspace(self, sub: Subscription, report: CycleReport) -> bool:
        """Post with the bot token of the subscription's workspace; False (skipped) when it has none."""
        if self._client_for is None:
            return True  # one workspace: SLACK_BOT_TOKEN
        client = self._client_for(sub.team_id, sub.enterprise_id)
        if client is None:
            report.paused += 1  # uninstalled: paused when Slack said so; resumes once the app is reinstalled
            log.info("alerts %s: team %s has no installation of the app; skipped", sub.id, sub.team_id)
            return False
        self.slack = client  # cycles run one at a time (self._lock)
        return True

    def _run_subscription(self, sub: Subscription, report: CycleReport) -> None:
        store = self.deps.store
        credentials = store.load_credentials(sub.team_id, sub.created_by)
        if credentials is None:
            report.paused += 1
            if sub.paused_reason is None:
                # Saved but unreadable (damaged) is not "removed": say which it is.
                unreadable = store.has_credentials(sub.team_id, sub.created_by)
                self._pause(sub, (UNREADABLE if unreadable else LOGGED_OUT).format(user=sub.created_by))
            return
        refused = self._rejected.get(sub.id)
        now = self.deps.clock()
        same_refused = refused is not None and refused[0] == credentials and now < refused[1] + REJECTED_RETRY
        if sub.paused_reason is not None and same_refused:
            report.paused += 1  # the login Nexudus refused: wait for a new one, or an hour
            return
        services = self.deps.services
        report.subscriptions += 1
        try:
            # Refreshes the creator's tokens when they are due; a refused refresh pauses the subscription
            # and the channel is told once, naming the creator, who is asked to log in again.
            current = services.credentials(sub.team_id, sub.created_by)
            session = UserSession(services, services.clients(current), current)
            self._scan(sub, session, report)
        except NotLoggedIn:
            report.paused += 1
            if sub.paused_reason is None:
                self._pause(sub, LOGGED_OUT.format(user=sub.created_by))
            return
        except LoginExpired:
            self._rejected[sub.id] = (credentials, now)
            report.paused += 1
            if sub.paused_reason is None:
                self._pause(sub, EXPIRED.format(user=sub.created_by))
            return
        except CredentialsRejected:
            self._rejected[sub.id] = (credentials, now)
            report.paused += 1
            if sub.paused_reason is None:
                self._pause(sub, REJECTED.format(user=sub.created_by))
            return
        self._rejected.pop(sub.id, None)
        self._succeeded(sub, report)

    # ---------------------------------------------------------------------------------- a scan
    def _scan(self, sub: Subscription, session: UserSession, report: CycleReport) -> None:
        store = self.deps.store
        self._reconcile(sub, report)
        self._redraw_flagged(sub, session, report)
        now = self.deps.clock()
        cutoff = now - timedelta(minutes=sub.threshold_minutes)
        alerts = {rec.chatroom_id: rec for rec in store.alerts_for(sub.id)}
        stats = ScanStats()
        seen: set[int] = set()
        new: list[tuple[float, int, datetime | None]] = []  # (waiting since, id, visit) of each new room
        oldest: list[tuple[float, int, ChatRoom]] = []  # a max-heap (negated keys) of the oldest new rooms
        to_resolve: list[AlertRecord] = []
        # What this channel already heard about through its other subscriptions: a channel is told once
        # about one wait, whichever of its subscriptions found it first.
        heard: dict[int, AlertRecord] = {}
        for other in store.channel_subscriptions(sub.team_id, sub.channel_id):
            if other.id != sub.id:
                for theirs in store.alerts_for(other.id):
                    if theirs.resolved_at is None and theirs.message_ts:
                        heard.setdefault(theirs.chatroom_id, theirs)
        covered: list[AlertRecord] = []
        try:
            for room in scan_stale(session, cutoff, sub.business_id, stats):
                if room.id in seen:
                    continue
                seen.add(room.id)
                rec = alerts.get(room.id)
                if rec is not None and rec.resolved_at is None:
                    if rec.last_agent_visit == room.last_agent_visit:
                        if rec.snoozed_until is None or rec.snoozed_until > now:
                            continue  # already alerted for this wait, or snoozed
                    else:
                        to_resolve.append(rec)  # visited since, and waiting again: a new wait
                told = heard.get(room.id)
                if told and told.last_agent_visit == room.last_agent_visit:
                    # Recorded as alerted in the sibling's digest, so it is not posted here later either.
                    covered.append(
                        AlertRecord(
                            subscription_id=sub.id,
                            chatroom_id=room.id,
                            last_agent_visit=room.last_agent_visit,
                            channel_id=sub.channel_id,
                            message_ts=told.message_ts,
                            alerted_at=now,
                        )
                    )
                    continue
                since, room_id = _waiting_key(room)
                new.append((since, room.id, room.last_agent_visit))
                heapq.heappush(oldest, (-since, -room_id, room))
                if len(oldest) > MAX_DIGEST_ROWS:
                    heapq.heappop(oldest)
        finally:
            report.nexudus_requests += stats.requests
        if stats.complete:
            to_resolve += [r for r in alerts.values() if r.resolved_at is None and r.chatroom_id not in seen]
        else:
            log.warning("alerts %s: more than %d pages of stale chatrooms; resolutions wait", sub.id, MAX_SCAN_PAGES)
        self._resolve(sub, session, to_resolve, now, report)
        store.put_alerts(covered)
        if new:
            rows = [stale_row(room) for _, _, room in sorted(oldest, key=lambda item: (-item[0], -item[1]))]
            self._post_digest(sub, rows, new, cutoff, now, report)
        for rec in alerts.values():
            if rec.resolved_at is not None and rec.resolved_at < now - FORGET_RESOLVED_AFTER:
                store.delete_alert(sub.id, rec.chatroom_id)

    def _resolve(
        self, sub: Subscription, session: UserSession, recs: Sequence[AlertRecord], now: datetime, report: CycleReport
    ) -> None:
        """Record rooms that stopped waiting, and redraw the digests that show them.

        Digests are flagged before the rows are recorded, so a crash at any point leaves a flag that the
        next cycle's `_redraw_flagged` acts on: a resolution always reaches the channel.
        """
        store = self.deps.store
        by_digest: dict[str, list[int]] = {}
        for rec in recs:
            report.resolved += 1
            if rec.message_ts:
                by_digest.setdefault(rec.message_ts, []).append(rec.chatroom_id)
        marked = [
            (digest, chatroom_ids)
            for ts, chatroom_ids in by_digest.items()
            if (digest := store.mark_digest(sub.id, ts, dict.fromkeys(chatroom_ids, ""))) is not None
        ]
        store.put_alerts([rec.model_copy(update={"resolved_at": now}) for rec in recs])
        for digest, chatroom_ids in marked:
            if set(chatroom_ids) & set(digest.chatroom_ids[:MAX_DIGEST_ROWS]):
                report.nexudus_requests += 1
                if redraw_digest(self.deps, self.slack, session, sub, digest):
                    report.digests_updated += 1
            else:
                store.digest_redrawn(digest)  # only rows it does not show changed

    def _post_digest(
        self,
        sub: Subscription,
        rows: list[StaleRow],
        new: list[tuple[float, int, datetime | None]],
        cutoff: datetime,
        now: datetime,
        report: CycleReport,
    ) -> None:
        store = self.deps.store
        if store.get_subscription(sub.id) is None:
            return  # unsubscribed while we scanned
        shown = [row.chatroom_id for row in rows]
        shown_set = set(shown)
        # The rest in the digest's order (longest waiting first), for its "Show the other N" button.
        rest = [chatroom_id for _, chatroom_id, _ in sorted(new) if chatroom_id not in shown_set]

        pending = Digest(
            subscription_id=sub.id,
            channel_id=sub.channel_id,
            message_ts=new_pending_ts(),
            chatroom_ids=shown + rest,
            posted_at=now,
        )
        records = [
            AlertRecord(
                subscription_id=sub.id,
                chatroom_id=chatroom_id,
                last_agent_visit=visit,
                channel_id=sub.channel_id,
                message_ts=pending.message_ts,
                alerted_at=now,
            )
            for _, chatroom_id, visit in new
        ]
        # The intent first: the digest and its rows are recorded before the post, so a worker killed at
        # any point repeats nothing, and the next cycle finds the posted message to stamp (`_reconcile`).
        store.begin_digest(pending, records)
        message = render_digest(sub, rows, more=len(rest), cutoff=cutoff, now=now)
        try:
            ts = self._post(sub.channel_id, {**message, "metadata": digest_metadata(sub.id, pending.message_ts)})
        except SlackApiError:
            store.drop_digest(sub.id, pending.message_ts)  # Slack refused it: nothing was posted, try next cycle
            raise
        # Other failures (a timeout…) may have posted it: the intent stays for `_reconcile` to settle.
        store.stamp_digest(sub.id, pending.message_ts, ts)
        report.digests_posted += 1
        report.chatrooms_alerted += len(new)

    def _redraw_flagged(self, sub: Subscription, session: UserSession, report: CycleReport) -> None:
        """Redraw digests whose last redraw was interrupted (a crash, a Slack error) after their rows changed."""
        for digest in self.deps.store.digests_to_redraw(sub.id):
            report.nexudus_requests += 1
            if redraw_digest(self.deps, self.slack, session, sub, digest):
                report.digests_updated += 1

    def _reconcile(self, sub: Subscription, report: CycleReport) -> None:
        """Settle digests recorded but never stamped (the worker died between posting and stamping).

        The posted message is found by its metadata among the channel's recent messages and stamped, so it
        is redrawn like any other; a digest Slack never received is dropped and its rows are posted anew.
        If Slack's history cannot be read, the intent stays (its rows are not repeated) and is retried.
        """
        store = self.deps.store
        for digest in store.pending_digests(sub.id):
            try:
                ts = self._find_posted(digest)
            except SlackApiError as exc:
                log.warning(
                    "alerts %s: cannot look for an unstamped digest in %s (%s); its rooms are not repeated",
                    sub.id,
                    digest.channel_id,
                    exc.response.get("error"),
                )
                return
            if ts is None and self.deps.clock() - digest.posted_at < DROP_GRACE:
                continue  # maybe still being posted by another worker: decide next cycle
            if ts is None:
                dropped = store.drop_digest(sub.id, digest.message_ts)
                log.info("alerts %s: a digest was never posted; its %d rooms will be posted again", sub.id, dropped)
            else:
                store.stamp_digest(sub.id, digest.message_ts, ts)
                report.digests_recovered += 1
                log.info("alerts %s: stamped digest %s found in Slack after an interrupted cycle", sub.id, ts)

    def _find_posted(self, digest: Digest) -> str | None:
        """The ts of the message posted for `digest` (by its metadata), None if the channel has none."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = self.slack.conversations_history(
                channel=digest.channel_id, limit=HISTORY_PAGE_SIZE, cursor=cursor, include_all_metadata=True
            )
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == DIGEST_EVENT and payload.get("intent") == digest.message_ts:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        return None

    # ------------------------------------------------------------------------------ bookkeeping
    def _post(self, channel: str, message: dict[str, Any]) -> str:
        """Post, at most one message a second per channel (Slack's limit)."""
        last = self._last_post.get(channel)
        if last is not None:
            wait = SLACK_POST_SPACING - (self._monotonic() - last)
            if wait > 0:
                self._sleep(wait)
        try:
            response = self.slack.chat_postMessage(channel=channel, **message)
        finally:
            self._last_post[channel] = self._monotonic()
        return str(response["ts"])

    def _tell(self, sub: Subscription, message: dict[str, Any]) -> bool:
        """Tell the channel; if Slack refuses (the app was removed from it), tell the creator directly."""
        for target in (sub.channel_id, sub.created_by):
            try:
                self._post(target, message)
                return True
            except SlackApiError as exc:
                log.warning("alerts %s: could not post to %s (%s)", sub.id, target, exc.response.get("error"))
        return False

    def _pause(self, sub: Subscription, reason: str) -> None:
        fresh = self.deps.store.get_subscription(sub.id)
        if fresh is None or fresh.paused_reason is not None:
            return
        log.info("alerts %s: paused (%s)", sub.id, reason)
        self._tell(fresh, paused_notice(fresh, reason))
        self.deps.store.update_subscription(fresh.model_copy(update={"paused_reason": reason}))

    def _succeeded(self, sub: Subscription, report: CycleReport) -> None:
        fresh = self.deps.store.get_subscription(sub.id)
        if fresh is None:
            return
        changes: dict[str, Any] = {}
        if fresh.paused_reason is not None:
            self._tell(fresh, resumed_notice(fresh))
            changes["paused_reason"] = None
            report.resumed += 1
        if fresh.last_error is not None:
            if fresh.last_error_reported:
                self._tell(fresh, recovered_notice(fresh))
            changes.update(last_error=None, last_error_reported=False)
        if changes:
            self.deps.store.update_subscription(fresh.model_copy(update=changes))

    def _failed(self, sub: Subscription, exc: Exception, report: CycleReport) -> None:
        """Log every failure; tell the channel about the first of a run of failures only."""
        detail = failure_text(exc, sub)
        log.warning("alerts %s: cycle failed: %s", sub.id, detail)
        report.details.append(f"{sub.id}: {detail}")
        try:
            fresh = self.deps.store.get_subscription(sub.id)
            if fresh is None:
                return
            told = fresh.last_error_reported
            if not told:
                told = self._tell(fresh, error_notice(fresh, detail, duration_text(max(1, round(self.interval / 60)))))
            self.deps.store.update_subscription(
                fresh.model_copy(update={"last_error": detail, "last_error_reported": told})
            )
        except Exception:
            log.exception("alerts %s: could not record the failure", sub.id)


def failure_text(exc: BaseException, sub: Subscription) -> str:
    """A plain sentence for the channel: Slack's own refusals get specific advice."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown_error")
        if error in ("not_in_channel", "channel_not_found", "is_archived"):
            return (
                f"Slack refused to post in <#{sub.channel_id}> ({error}). Invite the app to the channel "
                f"(`/invite @chatrooms`) or remove these alerts with `/chatrooms alerts unsubscribe {sub.id}`."
            )
        return f"Slack refused the message ({error})."
    if isinstance(exc, Unavailable | RateLimited):
        return f":hourglass: {exc} The next check runs as usual; nothing needs doing here."
    return describe(exc).text


# -------------------------------------------------------------------------------------------- main


def slack_client(token: str, base_url: str) -> WebClient:
    """The worker's Slack client: retries Slack's 429s (honouring Retry-After) and dropped connections."""
    client = WebClient(token=token, base_url=base_url)
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=2), ConnectionErrorRetryHandler()])
    return client


def workspace_clients(deps: Deps) -> Callable[[str, str | None], WebClient | None] | None:
    """Many workspaces (OAuth): each team's client, from the installation store. None: SLACK_BOT_TOKEN's."""
    if deps.installations is None:
        return None
    url = deps.settings.slack_api_url
    return client_for_team(deps.installations, lambda token: slack_client(token, url))


def main(argv: list[str] | None = None) -> int:
    """`python -m bot alerts [--once] [--interval S]`."""
    from bot.logs import configure_logging
    from bot.settings import SettingsError, load_settings
    from bot.wiring import build_deps

    parser = argparse.ArgumentParser(
        prog="python -m bot alerts",
        description="Post stale-visit alerts to subscribed Slack channels.",
    )
    parser.add_argument("--once", action="store_true", help="run one cycle and exit (for cron / Heroku Scheduler)")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between cycles (default: ALERT_INTERVAL_SECONDS, 300)",
    )
    args = parser.parse_args(argv)
    if args.interval is not None and not 10 <= args.interval <= 86400:
        print("--interval must be between 10 and 86400 seconds")
        return 2
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if not settings.slack_bot_token and not settings.oauth:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set, so there is no Slack workspace to post alerts to.\n"
                "Set it (the same bot token the app uses), or try alerts locally with `make demo` and `:alerts`."
            )
        deps = build_deps(settings)
    except SettingsError as exc:
        print(exc)
        return 2
    worker = AlertWorker(
        deps,
        slack_client(settings.slack_bot_token or "", settings.slack_api_url),
        client_for=workspace_clients(deps),
    )
    try:
        if args.once:
            report = worker.run_cycle()
            print(f"alerts: {report.summary()}")
            return 1 if report.errors else 0
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        interval = args.interval if args.interval is not None else float(settings.alert_interval_seconds)
        log.info("alert worker: a cycle every %.0f s", interval)
        worker.run_forever(stop, interval)
        return 0
    except StoreError as exc:  # a store that cannot be read: stop with what to do, rather than mislead channels
        print(f"alert worker stopped: {exc}")
        return 2
    finally:
        deps.store.close()
