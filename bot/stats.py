"""Response-time statistics from the alert history (`Store.history`): pure functions of entries and the time.

What the figures mean (the views say it in words too):

* A **wait** is one chatroom waiting since one last agent visit (or since it was created, never visited).
  Several subscriptions of a team that saw the same wait wrote an entry each; it counts **once** (the entries
  are grouped by chatroom and the visit it waits since).
* A window counts the waits **first alerted** in it; what happened to them later (escalated, visited) counts
  whenever it happened, up to now.
* **Time to visit** runs from the moment the wait went *stale* (its start + the alert threshold, or when the
  alerts were set up if it was stale already; the earliest among the subscriptions that saw it; from its first
  alert when its start is unknown) to the moment
  the app saw it resolved: at once for a "Mark visited" click, at the alert worker's next check for a visit
  (or the room closing) in Nexudus.
* **Still waiting**: alerted, not seen resolved, and still watched by a subscription (a removed subscription
  stops watching its rooms).
* The 90th percentile is the nearest-rank one: the smallest time at least 90 % of the visits took.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.store import HistoryEvent

MAX_DAYS = 365
"""The longest window `/chatrooms stats` shows."""
DEFAULT_DAYS = 30
MAX_COLUMNS = 61
"""At most this many marks in a sparkline: a day each up to 61 days, else several days a mark."""
LOOKBACK = timedelta(days=1)
"""History read before a window, so a wait first alerted just before it (by another subscription) is known
to be older, not counted as new."""


@dataclass(frozen=True)
class Wait:
    """One wait, folded from every entry about it."""

    chatroom_id: int
    last_agent_visit: datetime | None
    business_id: int | None
    stale_at: datetime
    alerted_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    snoozes: int
    watched: bool
    """Not resolved, and some subscription that alerted it still exists."""

    @property
    def minutes_to_visit(self) -> float | None:
        if self.resolved_at is None:
            return None
        return max(0.0, (self.resolved_at - self.stale_at).total_seconds() / 60)


def fold_waits(events: Iterable[HistoryEvent]) -> list[Wait]:
    """Every alerted wait in `events`, once each, by when it was first alerted."""
    grouped: dict[tuple[int, datetime | None], list[HistoryEvent]] = {}
    for event in events:
        grouped.setdefault(event.wait, []).append(event)
    waits = [wait for entries in grouped.values() if (wait := _fold(entries)) is not None]
    return sorted(waits, key=lambda w: (w.alerted_at, w.chatroom_id))


def _fold(entries: list[HistoryEvent]) -> Wait | None:
    entries = sorted(entries, key=lambda e: (e.at, e.kind))
    alerted = [e for e in entries if e.kind == "alerted"]
    if not alerted:
        return None  # snoozed from the Home tab, or resolved, before any alert: never alerted
    escalations: dict[str, datetime] = {}
    watching: set[str] = set()
    for event in entries:
        if event.kind == "escalated":
            escalations.setdefault(event.subscription_id, event.at)
        elif event.kind == "unescalated":
            escalations.pop(event.subscription_id, None)
        elif event.kind == "alerted":
            watching.add(event.subscription_id)
        elif event.kind == "unwatched":
            watching.discard(event.subscription_id)
    resolved = [e for e in entries if e.kind == "resolved"]
    first_alert = alerted[0].at
    stale = [e.stale_at for e in entries if e.stale_at is not None]
    business = next((e.business_id for e in entries if e.business_id is not None), None)
    return Wait(
        chatroom_id=alerted[0].chatroom_id,
        last_agent_visit=alerted[0].last_agent_visit,
        business_id=business,
        stale_at=min(stale) if stale else first_alert,
        alerted_at=first_alert,
        escalated_at=min(escalations.values()) if escalations else None,
        resolved_at=resolved[0].at if resolved else None,
        resolved_by=next((e.by for e in resolved if e.by), None),
        snoozes=sum(1 for e in entries if e.kind == "snoozed"),
        watched=not resolved and bool(watching),
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value at least `fraction` of `values` do not exceed (values not empty)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Column:
    """One mark of a sparkline: the waits first alerted on these days (`first` to `last`, local dates)."""

    first: date
    last: date
    alerted: int
    median_minutes: float | None
    """Median time to visit of those waits visited so far; None when none was."""


@dataclass(frozen=True)
class Stats:
    start: datetime
    end: datetime
    business: int | None
    alerted: int
    escalated: int
    visited: int
    waiting: int
    """Alerted in the window, and still waiting as far as the app knows."""
    snoozed: int
    """Waits snoozed at least once."""
    median_minutes: float | None
    p90_minutes: float | None
    columns: tuple[Column, ...]
    days_per_column: int


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), zone)


def last_days(now: datetime, days: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """Today and the `days - 1` local days before it, whole: from that first midnight to tonight's (the zone's)."""
    today = now.astimezone(zone).date()
    return day_start(today - timedelta(days=days - 1), zone), day_start(today + timedelta(days=1), zone)


def compute_stats(
    events: Iterable[HistoryEvent],
    *,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    business: int | None = None,
    subscription_id: str | None = None,
    max_columns: int = MAX_COLUMNS,
) -> Stats:
    """The figures for the waits first alerted in [`start`, `end`), optionally of one business or one
    subscription only; `columns` split the window's local days into at most `max_columns` marks."""
    if subscription_id is not None:
        events = [e for e in events if e.subscription_id == subscription_id]
    waits = [
        w for w in fold_waits(events) if start <= w.alerted_at < end and (business is None or w.business_id == business)
    ]
    minutes = [m for w in waits if (m := w.minutes_to_visit) is not None]
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date() if end > start else first_day
    days = (last_day - first_day).days + 1
    per = max(1, math.ceil(days / max(1, max_columns)))
    alerted: list[int] = [0] * math.ceil(days / per)
    visits: list[list[float]] = [[] for _ in alerted]
    for w in waits:  # one pass: each wait into the column of the local day it was first alerted
        index = min(len(alerted) - 1, max(0, (w.alerted_at.astimezone(zone).date() - first_day).days // per))
        alerted[index] += 1
        if (m := w.minutes_to_visit) is not None:
            visits[index].append(m)
    columns = [
        Column(
            first := first_day + timedelta(days=index * per),
            min(last_day, first + timedelta(days=per - 1)),
            count,
            statistics.median(visits[index]) if visits[index] else None,
        )
        for index, count in enumerate(alerted)
    ]
    return Stats(
        start=start,
        end=end,
        business=business,
        alerted=len(waits),
        escalated=sum(1 for w in waits if w.escalated_at is not None),
        visited=len(minutes),
        waiting=sum(1 for w in waits if w.watched),
        snoozed=sum(1 for w in waits if w.snoozes),
        median_minutes=statistics.median(minutes) if minutes else None,
        p90_minutes=percentile(minutes, 0.9) if minutes else None,
        columns=tuple(columns),
        days_per_column=per,
    )
