"""Which chatrooms wait too long for an agent, and whether a channel was already told: pure rules.

Knows nothing of Slack. *Stale*: a chatroom is stale for a subscription when it is active, in the
subscription's business (if one is set), and its `LastAgentVisit` is older than the threshold — or, never
visited, it was created longer ago than the threshold (a member has been waiting since it was opened).

*Cost of a scan* (one per Nexudus account and business filter a cycle, shared by the subscriptions that
use them — `bot/scans.py`; page size 1000, the API's maximum):
1. Visited stale chatrooms: `ChatRoom_Active=true`, `To_ChatRoom_LastAgentVisit=now−threshold`
   (minute resolution, so a room turns stale up to a minute late), `ChatRoom_Business`, ordered by
   LastAgentVisit ascending. Every record matches, so this costs one request per page of stale rooms.
2. Never-visited stale chatrooms: a range filter never matches a null LastAgentVisit and the API has no
   "is null" filter, so: `ChatRoom_Active=true`, `To_ChatRoom_CreatedOn=now−threshold`, ordered by
   LastAgentVisit ascending, which puts nulls first (SQL Server's and SQLite's order). We read until
   the first visited record: one request while fewer than 1000 rooms were never visited.
So a scan costs ⌈stale visited / 1000⌉ (at least 1) + 1 list requests. `scan_stale` holds one page at a
time; a shared scan keeps its stale rooms' alert fields for the cycle.

*No repeats* (`alert_decision`): a room still stale with the same LastAgentVisit it was alerted on is not
posted again; a snoozed one waits for its snooze to end; a room another subscription of the same channel
already posted for this wait is recorded against that digest, not posted again; a room stale again after
a newer visit is a new wait (the old alert is resolved). An alerted room a complete scan no longer finds
has stopped waiting (`unseen_resolved`) — unless the threshold was raised since (`alerts change`) and it may
only have not waited the new one yet: such a room is neither resolved nor alerted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.nexudus.models import ChatRoom
from bot.nexudus.query import MAX_PAGE_SIZE, ChatRoomFilters, Direction
from bot.services import UserSession
from bot.store import AlertRecord, Subscription

MAX_SCAN_PAGES = 20
"""At most 20 000 stale rooms a scan; beyond, nothing is resolved that cycle (we did not see it all)."""


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


class Waiting(Protocol):
    """What staleness reads of a room: a `ChatRoom`, or the few fields a shared scan keeps (`bot/scans.py`)."""

    @property
    def active(self) -> bool | None: ...
    @property
    def last_agent_visit(self) -> datetime | None: ...
    @property
    def created_on(self) -> datetime | None: ...


def is_stale(room: Waiting, cutoff: datetime) -> bool:
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
    rooms = sorted(unvisited + [r for r in page.records if is_stale(r, cutoff)], key=waiting_key)[:limit]
    # The never-visited count is exact unless a whole page of them came back.
    return rooms, page.total_items + len(unvisited)


def waiting_key(room: ChatRoom) -> tuple[float, int]:
    """Longest waiting first: since the last visit, or since it was opened when never visited."""
    since = room.last_agent_visit or room.created_on
    return (since.timestamp() if since else 0.0, room.id)


# ------------------------------------------------------------------------------------- no repeats


@dataclass(frozen=True)
class Decision:
    """What to do with a stale room this cycle."""

    action: Literal["skip", "covered", "new"]
    """skip: already alerted for this wait (or snoozed); covered: the channel heard of it through another
    subscription (record it against that digest); new: post it."""
    supersedes: bool = False
    """Its previous alert was for an older wait (visited since): resolve that one."""


def heard_in_channel(sibling_alerts: Iterable[AlertRecord]) -> dict[int, AlertRecord]:
    """What a channel already heard through its other subscriptions: told once about one wait."""
    heard: dict[int, AlertRecord] = {}
    for theirs in sibling_alerts:
        if theirs.resolved_at is None and theirs.message_ts:
            heard.setdefault(theirs.chatroom_id, theirs)
    return heard


def alert_decision(room: ChatRoom, rec: AlertRecord | None, told: AlertRecord | None, now: datetime) -> Decision:
    """The no-repeat rule for one stale room, from its own alert record and the channel's (`told`)."""
    supersedes = False
    if rec is not None and rec.resolved_at is None:
        if rec.last_agent_visit == room.last_agent_visit:
            if rec.snoozed_until is None or rec.snoozed_until > now:
                return Decision("skip")
        else:
            supersedes = True  # visited since, and waiting again: a new wait
    if told is not None and told.last_agent_visit == room.last_agent_visit:
        return Decision("covered", supersedes)
    return Decision("new", supersedes)


def unseen_resolved(rec: AlertRecord, sub: Subscription, cutoff: datetime, now: datetime) -> bool:
    """Has an alerted room that a complete scan (up to `cutoff`) did not find stopped waiting?

    Yes if its recorded visit is old enough to be found: it was visited, closed or deleted since. A visit
    newer than `cutoff` (the threshold was raised after the alert) says nothing yet; nor, while the raised
    threshold's wait lasts (`Subscription.raised_threshold_until`), does a never-visited room's absence.
    """
    if rec.resolved_at is not None:
        return False
    if rec.last_agent_visit is not None:
        return rec.last_agent_visit <= cutoff
    return sub.raised_threshold_until is None or now >= sub.raised_threshold_until
