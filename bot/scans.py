"""Shared stale scans: within one alert cycle, one scan per Nexudus account and business filter.

Subscriptions whose creators log in to the same Nexudus account (same base URL and login e-mail: the same
visible data and roles) and ask about the same business need the same list requests; only their thresholds
differ. So the cycle first plans (`SharedScans.expect`), then each (account, business) is scanned once with
the smallest threshold planned for it — the latest cutoff, which finds the most rooms — and each
subscription keeps the rooms stale by its own cutoff (`is_stale`). An account's business-less scan also
serves its business-filtered subscriptions, because list records carry their business (`ChatRoom.business`);
when one does not, or the scan stopped early, those subscriptions scan on their own.

*Completeness.* A scan stops after `MAX_SCAN_PAGES`. A subscription may resolve the rooms it did not see
only when the scan saw every room stale by its cutoff: the scan was complete, or the visited rooms (read
oldest visit first) were past that cutoff when it stopped. Otherwise a subscription with a larger threshold
scans on its own, exactly as it would have without sharing.

*Memory.* Only stale rooms are held, each as the few fields an alert needs (`StaleRoom`), and an account's
scans are dropped as soon as the last subscription planned for that account has used them.

*Failures.* A failed scan is remembered with the login that ran it: the account's other subscriptions with
that same login get the same error without asking Nexudus again (a refused login pauses each, and each
channel is told once); a subscription using another login of the account tries its own scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.nexudus.credentials import Credentials
from bot.nexudus.models import ChatRoom
from bot.nexudus.query import MAX_PAGE_SIZE
from bot.services import UserSession
from bot.stale import MAX_SCAN_PAGES, ScanStats, is_stale, scan_stale
from bot.store import Subscription

Account = tuple[str, str]
"""(base URL, login e-mail case-folded): logins of one account see the same chatrooms with the same roles."""


def account_of(base_url: str, email: str) -> Account:
    return base_url.rstrip("/"), email.strip().casefold()


@dataclass(frozen=True, slots=True)
class StaleRoom:
    """What an alert needs of a stale chatroom, and nothing else (a shared scan may hold thousands)."""

    id: int
    business: int | None
    name: str | None
    last_agent_visit: datetime | None
    created_on: datetime | None
    active: bool = True

    @classmethod
    def of(cls, room: ChatRoom) -> StaleRoom:
        return cls(room.id, room.business, room.name, room.last_agent_visit, room.created_on, room.active is not False)

    def chatroom(self) -> ChatRoom:
        return ChatRoom.model_construct(
            id=self.id,
            active=self.active,
            business_id=self.business,
            name=self.name,
            last_agent_visit=self.last_agent_visit,
            created_on=self.created_on,
        )


@dataclass
class Scan:
    """The stale rooms of one account (and business, if any) at `threshold` minutes, as of `taken_at`."""

    business_id: int | None
    threshold: int
    taken_at: datetime
    rooms: list[StaleRoom]
    complete: bool
    visited_through: datetime | None
    """The newest visit read (visits are read oldest first): every room visited before it was seen."""
    businesses_known: bool = True
    """Every room carries its business, so a business-less scan can serve a business-filtered subscription."""

    def complete_for(self, threshold: int) -> bool:
        """Whether it saw every room stale by `threshold` minutes (as of when it ran)."""
        cutoff = self.taken_at - timedelta(minutes=threshold)
        return self.complete or (self.visited_through is not None and cutoff < self.visited_through)

    def serves(self, threshold: int, business_id: int | None) -> bool:
        if threshold < self.threshold or self.business_id not in (None, business_id):
            return False
        if self.business_id == business_id:
            # Stopped early and not past this threshold: a scan of its own might see it all (and resolve).
            return self.complete_for(threshold) or threshold == self.threshold
        return self.complete_for(threshold) and self.businesses_known


@dataclass
class _AccountScans:
    thresholds: dict[int | None, int] = field(default_factory=dict)
    """The smallest threshold planned per business filter (None: every business)."""
    expected: set[str] = field(default_factory=set)
    """Subscriptions planned for the account that have not had their rooms yet: once none, its scans are freed."""
    scans: list[Scan] = field(default_factory=list)
    failed: dict[tuple[int | None, Credentials], Exception] = field(default_factory=dict)


class SharedScans:
    """One cycle's scans. `enabled=False` scans once per subscription, as before sharing (to measure it)."""

    def __init__(
        self, *, enabled: bool = True, page_size: int = MAX_PAGE_SIZE, max_pages: int = MAX_SCAN_PAGES
    ) -> None:
        self.enabled = enabled
        self.page_size = page_size
        self.max_pages = max_pages
        self._accounts: dict[Account, _AccountScans] = {}

    def expect(self, sub: Subscription, account: Account) -> None:
        """Plan a subscription that scans this cycle, before any scan runs."""
        planned = self._accounts.setdefault(account, _AccountScans())
        planned.expected.add(sub.id)
        smallest = planned.thresholds.get(sub.business_id, sub.threshold_minutes)
        planned.thresholds[sub.business_id] = min(smallest, sub.threshold_minutes)

    def stale_rooms(
        self, sub: Subscription, session: UserSession, now: datetime, stats: ScanStats
    ) -> Iterator[ChatRoom]:
        """The rooms stale for `sub`; `stats` gets the requests made for it and whether it may resolve."""
        cutoff = now - timedelta(minutes=sub.threshold_minutes)
        if not self.enabled:
            yield from scan_stale(
                session, cutoff, sub.business_id, stats, page_size=self.page_size, max_pages=self.max_pages
            )
            return
        account = account_of(session.client.base_url, session.email)
        planned = self._accounts.setdefault(account, _AccountScans())
        scan = self._scan_for(planned, sub, session, now, stats)
        stats.complete = scan.complete_for(sub.threshold_minutes)
        rooms = scan.rooms
        planned.expected.discard(sub.id)
        if not planned.expected:
            planned.scans.clear()  # every subscription planned for the account has its rooms
        for room in rooms:
            if (sub.business_id is None or room.business == sub.business_id) and is_stale(room, cutoff):
                yield room.chatroom()

    def _scan_for(
        self, planned: _AccountScans, sub: Subscription, session: UserSession, now: datetime, stats: ScanStats
    ) -> Scan:
        threshold, business_id = sub.threshold_minutes, sub.business_id
        for scan in planned.scans:
            if scan.serves(threshold, business_id):
                return scan
        # The account's business-less scan, else this business' scan, at the smallest threshold planned; when
        # that one already ran and cannot serve (stopped early, a record without its business), its own.
        candidates: list[tuple[int | None, int]] = []
        if None in planned.thresholds:
            candidates.append((None, min(planned.thresholds.values())))
        candidates.append((business_id, planned.thresholds.get(business_id, threshold)))
        for key, smallest in candidates:
            smallest = min(smallest, threshold)
            if any(s.business_id == key and s.threshold == smallest for s in planned.scans):
                continue
            scan = self._run(planned, session, key, smallest, now, stats)
            if scan.serves(threshold, business_id):
                return scan
        return self._run(planned, session, business_id, threshold, now, stats)

    def _run(
        self,
        planned: _AccountScans,
        session: UserSession,
        business_id: int | None,
        threshold: int,
        now: datetime,
        stats: ScanStats,
    ) -> Scan:
        login = (business_id, session.client.credentials)
        failure = planned.failed.get(login)
        if failure is not None:
            raise failure  # the same login failed this cycle: the same answer, without asking Nexudus again
        try:
            scan = run_scan(session, business_id, threshold, now, stats, self.page_size, self.max_pages)
        except Exception as exc:
            planned.failed[login] = exc
            raise
        planned.scans.append(scan)
        return scan


def run_scan(
    session: UserSession,
    business_id: int | None,
    threshold: int,
    now: datetime,
    stats: ScanStats,
    page_size: int = MAX_PAGE_SIZE,
    max_pages: int = MAX_SCAN_PAGES,
) -> Scan:
    """Scan once and keep the stale rooms' alert fields; `stats.requests` counts its requests."""
    own = ScanStats()
    rooms: list[StaleRoom] = []
    through: datetime | None = None
    try:
        cutoff = now - timedelta(minutes=threshold)
        for room in scan_stale(session, cutoff, business_id, own, page_size=page_size, max_pages=max_pages):
            rooms.append(StaleRoom.of(room))
            if room.last_agent_visit is not None and (through is None or room.last_agent_visit > through):
                through = room.last_agent_visit
    finally:
        stats.requests += own.requests
    known = all(room.business is not None for room in rooms)
    return Scan(business_id, threshold, now, rooms, own.complete, None if own.complete else through, known)
