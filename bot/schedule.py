"""When a subscription may post (quiet hours and days) and when its daily summary is due: pure rules.

Times are read in the subscription's zone (default the space's). Hours may span midnight
(`hours:22:00-06:00`); a night belongs to the day it started on, so `days:mon-fri hours:22:00-06:00` is
open from Monday 22:00 to Saturday 06:00.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.store import AlertRecord, Subscription


def zone_of(sub: Subscription, default: tzinfo) -> tzinfo:
    return ZoneInfo(sub.zone) if sub.zone else default


def is_open(sub: Subscription, now: datetime, zone: tzinfo) -> bool:
    """May `sub` post at `now`? Always, unless it has hours or days and `now` is outside them."""
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    if sub.open_hours is not None:
        opens, closes = sub.open_hours
        if opens < closes:
            if not opens <= minute < closes:
                return False
        elif minute < closes:
            day = (day - 1) % 7  # the small hours belong to the night that started the day before
        elif minute < opens:
            return False
    return sub.open_days is None or day in sub.open_days


@dataclass(frozen=True)
class DailySummary:
    """`summary:09:00`: what waits now, and how yesterday went (from the alert records in the store)."""

    waiting: int
    oldest_since: datetime | None
    alerted_yesterday: int
    median_minutes_to_visit: int | None
    """Median time from an alert to the visit that resolved it, for rooms resolved yesterday."""
    escalated_yesterday: int


def summary_day(sub: Subscription, now: datetime, zone: tzinfo) -> date | None:
    """The local date whose summary is due at `now` (once a day, at or after `summary_minute`), else None."""
    if sub.summary_minute is None:
        return None
    local = now.astimezone(zone)
    if local.hour * 60 + local.minute < sub.summary_minute:
        return None
    today = local.date()
    return None if sub.last_summary_on == today.isoformat() else today


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0, 0), zone)


def daily_summary(
    records: Iterable[AlertRecord], today: date, zone: tzinfo, waiting: int, oldest_since: datetime | None
) -> DailySummary:
    """Yesterday's figures from the store's alert records (alerted in a digest; resolved after an alert)."""
    start, end = day_bounds(today - timedelta(days=1), zone)
    alerted = escalated = 0
    to_visit: list[float] = []
    for rec in records:
        if not rec.message_ts:
            continue  # snoozed from the Home tab before any alert: never alerted
        if start <= rec.alerted_at < end:
            alerted += 1
        if rec.escalated_at is not None and start <= rec.escalated_at < end:
            escalated += 1
        if rec.resolved_at is not None and start <= rec.resolved_at < end:
            to_visit.append((rec.resolved_at - rec.alerted_at).total_seconds() / 60)
    median = round(statistics.median(to_visit)) if to_visit else None
    return DailySummary(waiting, oldest_since, alerted, median, escalated)
