"""`/chatrooms stats` and the Home tab's last 7 days: pure functions from `bot.stats.Stats` to Block Kit.

The sparklines are text (▁▂▃▄▅▆▇█), in a code block or inline code, so they render in any Slack client
without images; a window of more than `bot.stats.MAX_COLUMNS` days puts several days in one mark.
"""

from __future__ import annotations

from datetime import date, tzinfo
from typing import Any

from bot.slack.views.alerts import business_text, duration_text
from bot.slack.views.chatrooms import message
from bot.slack.views.common import Block, clip, context, divider, header, section
from bot.stats import Column, Stats

BARS = "▁▂▃▄▅▆▇█"
NO_DATA = "·"
LABEL_WIDTH = 14


def sparkline(values: list[float | None]) -> str:
    """One mark a value: `▁` for zero, `▂`…`█` scaled to the largest, `·` where there is nothing to show."""
    top = max((v for v in values if v is not None), default=0.0)
    marks = []
    for value in values:
        if value is None:
            marks.append(NO_DATA)
        elif value <= 0 or top <= 0:
            marks.append(BARS[0])
        else:
            marks.append(BARS[1 + round(value / top * (len(BARS) - 2))])
    return "".join(marks)


def minutes_text(minutes: float | None) -> str:
    if minutes is None:
        return "–"
    return "under 1 min" if minutes < 1 else duration_text(round(minutes))


def day_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def _rooms(count: int) -> str:
    return f"{count} room{'s' if count != 1 else ''}"


def _scope(stats: Stats) -> str:
    return business_text(stats.business)


def _mark_span(stats: Stats) -> str:
    return "a day" if stats.days_per_column == 1 else f"every {stats.days_per_column} days"


def _lines(columns: tuple[Column, ...]) -> tuple[str, str]:
    alerts = sparkline([float(c.alerted) for c in columns])
    medians = sparkline([c.median_minutes for c in columns])
    return alerts, medians


def chart(stats: Stats) -> str:
    """The code block: alerts and median time to visit, a mark a day (or a few days), dated under."""
    alerts, medians = _lines(stats.columns)
    busiest = max((c.alerted for c in stats.columns), default=0)
    slowest = max((c.median_minutes for c in stats.columns if c.median_minutes is not None), default=None)
    first, last = stats.columns[0].first, stats.columns[-1].last
    left, right = f"{first.day} {first:%b}", f"{last.day} {last:%b}"
    gap = max(1, len(alerts) - len(left) - len(right))
    rows = [
        f"{'Alerted':<{LABEL_WIDTH}}{alerts}  max {busiest}",
        f"{'Median visit':<{LABEL_WIDTH}}{medians}  max {minutes_text(slowest)}",
        f"{'':<{LABEL_WIDTH}}{left}{' ' * gap}{right}" if len(stats.columns) > 1 else f"{'':<{LABEL_WIDTH}}{left}",
    ]
    return "```\n" + "\n".join(rows) + "\n```"


def render_stats(stats: Stats, *, zone: tzinfo, days: int, subscriptions: int, interval_minutes: int) -> dict[str, Any]:
    """The answer to `/chatrooms stats`: the figures, the definitions, and the sparklines."""
    since = day_text(stats.start.astimezone(zone).date())
    where = f"{_scope(stats)} · last {days} day{'s' if days != 1 else ''} (since {since}, {zone_name(zone)})"
    blocks: list[Block] = [header("Response times"), context(where)]
    if stats.alerted == 0:
        which = "No room" if stats.business is None else f"No room of {_scope(stats)}"
        text = f"{which} was alerted in this workspace since {since}: nothing to measure yet."
        if subscriptions == 0:
            text += " No channel has alerts set up: `/chatrooms alerts subscribe after:4h` in a channel starts them."
        blocks.append(section(text))
        return message(text, blocks)
    waited = (
        f"median *{minutes_text(stats.median_minutes)}*, 90th percentile *{minutes_text(stats.p90_minutes)}* "
        f"({stats.visited} visited)"
        if stats.visited
        else "no alerted room has been visited yet"
    )
    lines = [
        f"*{stats.alerted}* room{'s' if stats.alerted != 1 else ''} alerted",
        f"Time from going stale to an agent visit: {waited}",
        f"🚨 {stats.escalated} escalated · 💤 {stats.snoozed} snoozed · ⏳ {stats.waiting} still waiting",
    ]
    blocks.append(section("\n".join(lines), block_id="stats.figures"))
    blocks.append(divider())
    blocks.append(section(chart(stats), block_id="stats.chart"))
    blocks.append(
        context(
            f"A mark {_mark_span(stats)}, by the day rooms were first alerted; `{NO_DATA}`: no visit to measure. "
            "Stale: the last agent visit (or the room's creation) plus the alert threshold, or when the alerts were "
            "set up for a room stale before. A room seen by several alert subscriptions counts once. A visit in "
            "Nexudus is seen at the next check "
            f"(every {duration_text(interval_minutes)}); *Mark visited* at once."
        )
    )
    fallback = f"{_rooms(stats.alerted)} alerted; median time to visit {minutes_text(stats.median_minutes)}."
    return message(clip(fallback, 3000), blocks)


def home_stats_blocks(stats: Stats) -> list[Block]:
    """The Home tab's last 7 days: one line of figures and the alerts-a-day sparkline."""
    if stats.alerted == 0:
        return [divider(), section("*Last 7 days*: no room alerted.", block_id="home.stats")]
    median = (
        f"median *{minutes_text(stats.median_minutes)}* from going stale to a visit "
        f"(90th percentile {minutes_text(stats.p90_minutes)})"
        if stats.visited
        else "none visited yet"
    )
    text = (
        f"*Last 7 days*: {_rooms(stats.alerted)} alerted · {median} · "
        f"{stats.escalated} escalated · {stats.waiting} still waiting"
    )
    alerts, medians = _lines(stats.columns)
    first, last = stats.columns[0].first, stats.columns[-1].last
    spark = (
        f"`{alerts}` alerted a day · `{medians}` median time to visit · {day_text(first)} – {day_text(last)}. "
        "`/chatrooms stats` for more."
    )
    return [divider(), section(text, block_id="home.stats"), context(spark)]
