"""Response-time stats (issue 15 item 5): the pure figures, the `stats` grammar and the views."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.schedule import daily_summary
from bot.slack import payload_check
from bot.slack.grammar import GrammarError, StatsIntent, help_text, parse_command
from bot.slack.limits import MAX_HOME_BLOCKS, MAX_SECTION_TEXT
from bot.slack.views.alerts import HomeSection, render_home
from bot.slack.views.stats import BARS, home_stats_blocks, render_stats, sparkline
from bot.stats import MAX_COLUMNS, compute_stats, fold_waits, last_days, percentile
from bot.store import HistoryEvent, Subscription

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")


def event(kind: str, chatroom_id: int, at: datetime, **kw: object) -> HistoryEvent:
    fields: dict[str, object] = {
        "kind": kind,
        "at": at,
        "team_id": "T1",
        "subscription_id": "s1",
        "channel_id": "C1",
        "chatroom_id": chatroom_id,
        "business_id": 9001,
        "last_agent_visit": NOW - timedelta(days=3),
        "stale_at": None,
    }
    fields.update(kw)
    return HistoryEvent.model_validate(fields)


def wait(chatroom_id: int, alerted: datetime, visited_after: timedelta | None, **kw: object) -> list[HistoryEvent]:
    """A wait stale at its alert, visited `visited_after` later (None: still waiting)."""
    events = [event("alerted", chatroom_id, alerted, stale_at=alerted, **kw)]
    if visited_after is not None:
        events.append(event("resolved", chatroom_id, alerted + visited_after, stale_at=alerted, **kw))
    return events


def stats_of(events: list[HistoryEvent], days: int = 30, **kw: object):  # type: ignore[no-untyped-def]
    start, end = last_days(NOW, days, UTC)
    return compute_stats(events, start=start, end=end, zone=UTC, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- figures


def test_no_history_is_said_to_be_none() -> None:
    stats = stats_of([])
    assert (stats.alerted, stats.visited, stats.waiting, stats.median_minutes, stats.p90_minutes) == (
        0,
        0,
        0,
        None,
        None,
    )
    assert len(stats.columns) == 30 and all(c.alerted == 0 and c.median_minutes is None for c in stats.columns)


def test_one_sample_is_its_own_median_and_percentile() -> None:
    stats = stats_of(wait(1, NOW - timedelta(hours=2), timedelta(minutes=42)))
    assert (stats.alerted, stats.visited, stats.median_minutes, stats.p90_minutes) == (1, 1, 42.0, 42.0)


def test_median_p90_counts_and_days() -> None:
    minutes = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    events = [
        e
        for i, m in enumerate(minutes)
        for e in wait(i + 1, NOW - timedelta(days=i % 3, hours=1), timedelta(minutes=m))
    ]
    events += wait(99, NOW - timedelta(hours=3), None)
    events.append(event("escalated", 99, NOW - timedelta(hours=1)))
    events.append(event("snoozed", 1, NOW - timedelta(minutes=30), until=NOW))
    stats = stats_of(events, days=7)
    assert (stats.alerted, stats.visited, stats.waiting, stats.escalated, stats.snoozed) == (11, 10, 1, 1, 1)
    assert stats.median_minutes == 55.0 and stats.p90_minutes == 90.0  # nearest rank: 9th of 10
    assert [c.alerted for c in stats.columns][-3:] == [3, 3, 5]  # by the day first alerted
    assert [c.median_minutes for c in stats.columns][-3:] == [60.0, 50.0, 55.0]  # today: 10, 40, 70, 100


def test_a_wait_seen_by_two_subscriptions_counts_once_from_its_earliest_stale_time() -> None:
    visit = NOW - timedelta(hours=6)
    first = event("alerted", 1, NOW - timedelta(hours=2), stale_at=visit + timedelta(hours=4), last_agent_visit=visit)
    sibling = event(
        "alerted",
        1,
        NOW - timedelta(hours=1),
        subscription_id="s2",
        stale_at=visit + timedelta(hours=1),
        last_agent_visit=visit,
    )
    resolved = event("resolved", 1, NOW, subscription_id="s2", last_agent_visit=visit, by="U7")
    again = event("alerted", 1, NOW - timedelta(minutes=5), last_agent_visit=NOW - timedelta(hours=5))  # a new wait
    [one, other] = fold_waits([resolved, sibling, first, again])
    assert one.alerted_at == NOW - timedelta(hours=2) and one.stale_at == visit + timedelta(hours=1)
    assert one.minutes_to_visit == 300 and one.resolved_by == "U7" and not one.watched
    assert other.watched and other.resolved_at is None
    assert stats_of([resolved, sibling, first, again]).alerted == 2


def test_an_unwatched_wait_is_not_waiting_unless_another_subscription_still_watches_it() -> None:
    alone = [event("alerted", 1, NOW - timedelta(hours=2)), event("unwatched", 1, NOW - timedelta(hours=1))]
    shared = [
        event("alerted", 2, NOW - timedelta(hours=2)),
        event("alerted", 2, NOW - timedelta(hours=2), subscription_id="s2"),
        event("unwatched", 2, NOW - timedelta(hours=1)),
    ]
    waits = {w.chatroom_id: w for w in fold_waits(alone + shared)}
    assert (waits[1].watched, waits[2].watched) == (False, True)


def test_a_refused_escalation_is_not_counted() -> None:
    at = NOW - timedelta(hours=1)
    events = [event("alerted", 1, NOW - timedelta(hours=2)), event("escalated", 1, at), event("unescalated", 1, at)]
    assert stats_of(events).escalated == 0
    assert stats_of([*events, event("escalated", 1, NOW)]).escalated == 1  # tried again, and posted


def test_never_alerted_waits_and_other_businesses_are_left_out() -> None:
    snoozed_only = [event("snoozed", 1, NOW - timedelta(hours=1), until=NOW)]
    other = wait(2, NOW - timedelta(hours=1), timedelta(minutes=5), business_id=9002)
    mine = wait(3, NOW - timedelta(hours=1), timedelta(minutes=15))
    assert stats_of(snoozed_only + other + mine).alerted == 2
    assert stats_of(snoozed_only + other + mine, business=9001).median_minutes == 15.0


def test_the_window_is_whole_days_of_the_zone() -> None:
    start, end = last_days(NOW, 2, MADRID)  # 12:00 UTC = 13:00 in Madrid: yesterday 00:00 Madrid until now
    assert start == datetime(2026, 11, 24, 0, 0, tzinfo=MADRID) and end == datetime(2026, 11, 26, tzinfo=MADRID)
    before = wait(1, start - timedelta(minutes=1), timedelta(minutes=5))
    inside = wait(2, start, timedelta(minutes=5))
    stats = compute_stats(before + inside, start=start, end=end, zone=MADRID)
    assert stats.alerted == 1 and [c.alerted for c in stats.columns] == [1, 0]


def test_a_year_fits_a_sparkline_of_a_few_days_a_mark() -> None:
    start, end = last_days(NOW, 365, UTC)
    stats = compute_stats(wait(1, start, timedelta(minutes=5)), start=start, end=end, zone=UTC)
    assert len(stats.columns) <= MAX_COLUMNS and stats.days_per_column == 6
    assert stats.columns[0].first == start.date() and stats.columns[-1].last == NOW.date()
    assert sum(c.alerted for c in stats.columns) == 1


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_the_90th_percentile_is_the_nearest_rank(values: list[float]) -> None:
    p90 = percentile(values, 0.9)
    assert p90 in values
    assert sum(v <= p90 for v in values) >= math.ceil(0.9 * len(values))  # at least 90 % take no longer
    assert sum(v < p90 for v in values) < math.ceil(0.9 * len(values))  # and it is the smallest such value


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=0, max_size=40))
def test_the_summary_and_the_stats_agree_on_any_history(minutes: list[int]) -> None:
    yesterday = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    events = [e for i, m in enumerate(minutes) for e in wait(i + 1, yesterday, timedelta(minutes=m))]
    summary = daily_summary(events, "s1", NOW.date(), UTC, waiting=0, oldest_since=None)
    start = datetime(2026, 11, 24, tzinfo=UTC)
    stats = compute_stats(events, start=start, end=start + timedelta(days=1), zone=UTC)
    assert summary.alerted_yesterday == stats.alerted == len(minutes)
    expected = None if stats.median_minutes is None else round(stats.median_minutes)
    assert summary.median_minutes_to_visit == expected
    assert daily_summary(events, "other", NOW.date(), UTC, 0, None).alerted_yesterday == 0  # one subscription's


# ----------------------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("stats", StatsIntent()),
        ("stats since:7d", StatsIntent(days=7)),
        ("stats since:2w business:9001", StatsIntent(days=14, business=9001)),
        ("statistics since:365", StatsIntent(days=365)),
        ("stats since:1d", StatsIntent(days=1)),
    ],
)
def test_stats_grammar(text: str, intent: StatsIntent) -> None:
    assert parse_command(text, now=NOW, zone=UTC) == intent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stats since:0d", "`since:0d` is no time at all; give at least `since:1d`"),
        ("stats since:abc", "`since:abc` is not a number of days; use e.g. `since:30d`"),
        ("stats since:12h", "Stats count whole days"),
        ("stats since:366d", "`since:366d` is too far back; stats go back at most 365 days"),
        ("stats since:99999999999d", "too far back"),
        ("stats business:x", "`business:x`: business must be a positive whole number"),
        ("stats business:0", "business must be a positive whole number"),
        ("stats since:7d since:2d", "`since` given twice"),
        ("stats 9001", "`9001` is not something `stats` takes"),
        ("stats sinse:7d", "Did you mean"),
    ],
)
def test_stats_bad_input_is_said_precisely(text: str, message: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command(text, now=NOW, zone=UTC)
    assert message in caught.value.message and "stats [business:ID] [since:30d]" in caught.value.usage


def test_help_stats_says_what_is_measured() -> None:
    text = help_text("stats")
    assert "since:30d" in text and "going stale" in text and "counts once" in text
    assert "stats" in help_text(None)


# ------------------------------------------------------------------------------------------- views


def test_sparkline_marks() -> None:
    assert sparkline([0, 1, 2, 4, 8]) == "▁▃▄▅█"  # zero is the floor; the rest ▂…█ on one linear scale
    assert sparkline([0, 1, 100]) == "▁▂█"
    assert sparkline([None, 0, None]) == "·▁·"
    assert sparkline([]) == ""
    assert set(sparkline([float(i) for i in range(100)])) <= set(BARS)


def test_the_stats_message_says_the_true_figures_and_passes_the_strict_checks() -> None:
    events = [e for i, m in enumerate([5, 42, 120]) for e in wait(i + 1, NOW - timedelta(days=i), timedelta(minutes=m))]
    stats = stats_of(events, business=9001)
    msg = render_stats(stats, zone=MADRID, days=30, subscriptions=1, interval_minutes=5)
    assert [str(p) for p in payload_check.message_problems(msg)] == []
    text = json.dumps(msg, ensure_ascii=False)
    assert "*3* rooms alerted" in text and "median *42 min*" in text and "90th percentile *2 h*" in text
    assert "business 9001" in text and "Europe/Madrid" in text and "going stale" in text
    chart = next(b for b in msg["blocks"] if b.get("block_id") == "stats.chart")["text"]["text"]
    assert chart.startswith("```") and len(chart) <= MAX_SECTION_TEXT
    assert "▁" in chart and "█" in chart


def test_a_year_of_stats_fits_slack() -> None:
    start, end = last_days(NOW, 365, UTC)
    events = [e for d in range(365) for e in wait(d, start + timedelta(days=d, hours=3), timedelta(minutes=d))]
    stats = compute_stats(events, start=start, end=end, zone=UTC)
    msg = render_stats(stats, zone=UTC, days=365, subscriptions=1, interval_minutes=5)
    assert [str(p) for p in payload_check.message_problems(msg)] == []
    assert "A mark every 6 days" in json.dumps(msg, ensure_ascii=False)


@pytest.mark.parametrize("subscriptions", [0, 2])
def test_empty_stats_say_so_truthfully(subscriptions: int) -> None:
    msg = render_stats(stats_of([]), zone=UTC, days=30, subscriptions=subscriptions, interval_minutes=5)
    assert [str(p) for p in payload_check.message_problems(msg)] == []
    text = json.dumps(msg, ensure_ascii=False)
    assert "No room was alerted in this workspace since Tue 27 Oct" in text
    assert ("No channel has alerts set up" in text) is (subscriptions == 0)
    assert "median" not in text


def test_the_home_tab_shows_the_last_7_days_within_its_block_limit() -> None:
    events = wait(1, NOW - timedelta(hours=2), timedelta(minutes=42)) + wait(2, NOW - timedelta(days=2), None)
    week = home_stats_blocks(stats_of(events, days=7))
    text = json.dumps(week, ensure_ascii=False)
    assert "*Last 7 days*: 2 rooms alerted" in text and "median *42 min*" in text and "1 still waiting" in text
    subs = [
        Subscription(team_id="T1", channel_id="C1", created_by="U1", threshold_minutes=60 + i, created_at=NOW)
        for i in range(12)
    ]
    from bot.digests import StaleRow

    rows = [StaleRow(1000 + i, f"Room {i}", NOW - timedelta(hours=5)) for i in range(40)]
    sections = [HomeSection(f"Section {n}", subs[n].id, rows, 40) for n in range(5)]
    view = render_home(email="ops@example.com", subscriptions=subs, sections=sections, now=NOW, note="n", week=week)
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    assert [str(p) for p in payload_check.view_problems(view)] == []
    assert "Last 7 days" in json.dumps(view, ensure_ascii=False)
    assert "no room alerted" in json.dumps(home_stats_blocks(stats_of([], days=7)))


@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.integers(0, 72), st.one_of(st.none(), st.integers(0, 600))),
        max_size=15,
    ),
    st.randoms(use_true_random=False),
)
def test_a_wait_seen_by_more_subscriptions_or_in_another_order_gives_the_same_figures(
    waits: list[tuple[int, int, int | None]], rnd: random.Random
) -> None:
    """Each (room, hours ago it was alerted, minutes to its visit); a room alerted again is a new wait."""
    events: list[HistoryEvent] = []
    for room, hours, visit in waits:
        since = NOW - timedelta(hours=hours, minutes=room)  # its own visit: one wait per (room, hours)
        after = None if visit is None else timedelta(minutes=visit)
        events += wait(room, NOW - timedelta(hours=hours), after, last_agent_visit=since)
    seen_twice = events + [e.model_copy(update={"subscription_id": "s2"}) for e in events]
    rnd.shuffle(seen_twice)
    once, twice = stats_of(events, days=7), stats_of(seen_twice, days=7)
    assert (once.alerted, once.visited, once.waiting, once.median_minutes, once.p90_minutes) == (
        twice.alerted,
        twice.visited,
        twice.waiting,
        twice.median_minutes,
        twice.p90_minutes,
    )
    assert once.alerted == len({(room, hours) for room, hours, _ in waits})
