"""A ListIntent back to words: the list header ("active · visited until 1 Nov 2026 10:30") and command
text that parses back to the same intent (for Previous/Next), both from the filter table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.nexudus.query import Direction
from bot.slack.grammar.dates import human_date, is_whole_day, iso
from bot.slack.grammar.filters import FILTERS, SORTS_BY_FIELD, FilterSpec, Reads
from bot.slack.grammar.intents import ListIntent
from bot.slack.grammar.lexer import QUOTE_LIMIT, QUOTES, escape

_DATE_KINDS = (Reads.DAY_OR_TIME, Reads.AFTER, Reads.BEFORE)


def _clip(text: str) -> str:
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


_DESCRIBE: dict[Reads, Callable[[FilterSpec, object], str]] = {
    Reads.ID: lambda spec, value: f"{spec.key} {value}",
    Reads.FLAG: lambda spec, value: spec.key if value else f"in{spec.key}",
    Reads.TEXT: lambda spec, value: f"{spec.key} contains “{_clip(str(value))}”",
}


def _date_label(spec: FilterSpec) -> str:
    subject = spec.key.split("-")[0]
    return {Reads.AFTER: f"{subject} since", Reads.BEFORE: f"{subject} until"}.get(spec.reads, subject)


def _get(model: object, field: str | None) -> object:
    """A filter's value, None when the row sets no field of `model` (created:, page:, sort: …)."""
    return getattr(model, field, None) if field else None


def describe_filters(intent: ListIntent) -> str:
    """A short plain-text summary for list headers (escape it for mrkdwn), e.g.
    "active · name contains “lobby” · visited until 1 Nov 2026 10:30 · sorted by name, A→Z"."""
    f = intent.filters
    parts = [
        _DESCRIBE[spec.reads](spec, _get(f, spec.field))
        for spec in FILTERS
        if spec.reads in _DESCRIBE and _get(f, spec.field) is not None
    ]
    days = [spec for spec in FILTERS if spec.day and is_whole_day(_get(f, spec.day[0]), _get(f, spec.day[1]))]
    parts.extend(f"{spec.key} on {human_date(getattr(f, spec.day[0]))}" for spec in days if spec.day)
    parts.extend(_dates(f, whole={field for spec in days for field in spec.day or ()}))
    if intent.order_by != "Id" or intent.direction != Direction.ASCENDING:
        parts.append(_sort_words(intent.order_by, intent.direction))
    return " · ".join(parts) if parts else "all chatrooms"


def _dates(filters: object, *, whole: set[str]) -> list[str]:
    """`visited since 2 Jun 2026`, `created until 31 Oct 2026 23:59`: the dates not part of a whole day."""
    parts = []
    for spec in FILTERS:
        value = _get(filters, spec.field)
        if spec.reads in _DATE_KINDS and isinstance(value, datetime) and spec.field not in whole:
            parts.append(f"{_date_label(spec)} {human_date(value, with_time=spec.reads is Reads.BEFORE)}")
    return parts


def _sort_words(order_by: str, direction: Direction) -> str:
    sort = SORTS_BY_FIELD.get(order_by)
    words = sort.directions if sort else ("ascending", "descending")
    field = sort.label if sort else order_by
    return f"sorted by {field}, {words[0 if direction == Direction.ASCENDING else 1]}"


def _quoted(value: str) -> str:
    escaped = escape(value).replace("\\", "\\\\")
    for mark in QUOTES:
        escaped = escaped.replace(mark, "\\" + mark)
    return f'"{escaped}"'


_WRITE: dict[Reads, Callable[[object], str]] = {
    Reads.ID: str,
    Reads.FLAG: lambda value: "true" if value else "false",
    Reads.TEXT: lambda value: _quoted(str(value)),
    **dict.fromkeys(_DATE_KINDS, lambda value: iso(value) if isinstance(value, datetime) else str(value)),
}


def to_text(intent: ListIntent, page: int) -> str:
    """Command text that parses back to `intent` on `page` (for Previous/Next buttons)."""
    parts = ["list"]
    for spec in FILTERS:
        value = _get(intent.filters, spec.field)
        if spec.reads in _WRITE and value is not None:
            parts.append(f"{spec.key}:{_WRITE[spec.reads](value)}")
    if page != 1:
        parts.append(f"page:{page}")
    if intent.size is not None:
        parts.append(f"size:{intent.size}")
    if intent.order_by != "Id" or intent.direction != Direction.ASCENDING:
        sign = "-" if intent.direction == Direction.DESCENDING else ""
        parts.append(f"sort:{sign}{intent.order_by}")
    return " ".join(parts)
