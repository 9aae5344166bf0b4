"""When a subscription may post (quiet hours and days) and when its daily summary is due: pure rules.

Times are read in the subscription's zone (default the space's). Hours may span midnight
(`hours:22:00-06:00`); a night belongs to the day it started on, so `days:mon-fri hours:22:00-06:00` is
open from Monday 22:00 to Saturday 06:00.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.stats import LOOKBACK, compute_stats, day_start
from bot.store import HistoryEvent, Subscription

SUMMARY_LOOKBACK = timedelta(days=2) + LOOKBACK
"""The history a daily summary reads (yesterday, today so far, and the margin before yesterday)."""


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
    """`summary:09:00`: what waits now, and how yesterday went (from the alert history in the store)."""

    waiting: int
    oldest_since: datetime | None
    alerted_yesterday: int
    """Waits this subscription first alerted yesterday (its own digests, and its channel's others')."""
    median_minutes_to_visit: int | None
    """Median time from going stale to an agent visit, for those of them visited since (`bot/stats.py`)."""
    escalated_yesterday: int
    """Those of them escalated."""


def summary_day(sub: Subscription, now: datetime, zone: tzinfo) -> date | None:
    """The local date whose summary is due at `now` (once a day, at or after `summary_minute`), else None."""
    if sub.summary_minute is None:
        return None
    local = now.astimezone(zone)
    if local.hour * 60 + local.minute < sub.summary_minute:
        return None
    today = local.date()
    return None if sub.last_summary_on == today.isoformat() else today


def daily_summary(
    history: Iterable[HistoryEvent],
    subscription_id: str,
    today: date,
    zone: tzinfo,
    waiting: int,
    oldest_since: datetime | None,
) -> DailySummary:
    """Yesterday's figures from the alert history (read from `SUMMARY_LOOKBACK` ago): the same definitions as
    `/chatrooms stats`, for this subscription's entries and yesterday's waits."""
    yesterday = compute_stats(
        history,
        start=day_start(today - timedelta(days=1), zone),
        end=day_start(today, zone),
        zone=zone,
        subscription_id=subscription_id,
    )
    median = round(yesterday.median_minutes) if yesterday.median_minutes is not None else None
    return DailySummary(waiting, oldest_since, yesterday.alerted, median, yesterday.escalated)
