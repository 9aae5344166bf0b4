"""`list` and `search` filters: ONE table, a row per filter, from which the parser, the help, the
"did you mean", the list header and the Previous/Next command text are all derived.

To add a filter: add its field to `ChatRoomFilters` (bot/nexudus/query.py names it for Nexudus), then
one `FilterSpec` row here. A sort field is one `SortSpec` row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import Enum

from bot.nexudus.query import MAX_PAGE_SIZE, ChatRoomFilters, Direction
from bot.slack.grammar.dates import day_bounds, parse_date
from bot.slack.grammar.intents import COMMAND, MAX_PAGE, GrammarError, ListIntent
from bot.slack.grammar.lexer import QUOTE_LIMIT, Keys, Token, clean, did_you_mean, escape, q
from bot.slack.grammar.values import bounded, check_name, flag, key_id, name_from_words, positive_id
from bot.slack.views.chatrooms import MAX_LIST_ROWS


class Reads(Enum):
    """How a filter's value is read (and written back, and described)."""

    ID = "a positive whole number"
    FLAG = "true or false"
    TEXT = "text"
    DAY_OR_TIME = "a day (the whole day) or a minute"
    DAY = "a day"
    AFTER = "a date (after a whole day ends)"
    BEFORE = "a date (before a whole day starts)"
    WHOLE = "a whole number"
    SORT = "a sort field"
    ORDER = "asc or desc"


@dataclass(frozen=True)
class FilterSpec:
    """One `key:value` filter of `list`/`search`."""

    key: str  # as typed and shown; `-` may also be typed `_`
    reads: Reads
    field: str | None  # the ChatRoomFilters field it sets (or ListIntent's page, size, order_by, direction)
    example: str  # shown in the help and in every message about this key
    help: str  # what it finds, for the help (mrkdwn)
    aliases: tuple[str, ...] = ()
    day: tuple[str, str] | None = None  # DAY / DAY_OR_TIME: the (from, to) fields a whole day sets
    high: int = 0  # WHOLE: the largest value


_DAY = "on that day (space time)"
FILTERS: tuple[FilterSpec, ...] = (
    FilterSpec("id", Reads.ID, "id", "id:1000001", "one chatroom, by id"),
    FilterSpec(
        "active", Reads.FLAG, "active", "active:true", "members can write in it (true/false, yes/no, on/off, 1/0)"
    ),
    FilterSpec("business", Reads.ID, "business", "business:9001", "the chatrooms of one business"),
    FilterSpec("name", Reads.TEXT, "name", 'name:"desk booking"', "the name contains this text (`name:printer` too)"),
    FilterSpec("user", Reads.ID, "users", "user:7000237", "the chatrooms this user is a member of", ("users",)),
    FilterSpec(
        "visited",
        Reads.DAY_OR_TIME,
        "last_agent_visit",
        "visited:2026-11-01",
        "last agent visit on that day (space time; `visited:yesterday` too), or at that minute when D has a time",
        day=("visited_from", "visited_to"),
    ),
    FilterSpec(
        "visited-after",
        Reads.AFTER,
        "visited_from",
        "visited-after:2026-11-01T10:30",
        "last agent visit after D",
        ("after",),
    ),
    FilterSpec(
        "visited-before", Reads.BEFORE, "visited_to", "visited-before:2d", "last agent visit before D", ("before",)
    ),
    FilterSpec("created", Reads.DAY, None, "created:2026-11-01", f"created {_DAY}", day=("created_from", "created_to")),
    FilterSpec("created-after", Reads.AFTER, "created_from", "created-after:1w", "created after D"),
    FilterSpec("created-before", Reads.BEFORE, "created_to", "created-before:2026-11-01", "created before D"),
    FilterSpec(
        "updated", Reads.DAY, None, "updated:yesterday", f"last changed {_DAY}", day=("updated_from", "updated_to")
    ),
    FilterSpec("updated-after", Reads.AFTER, "updated_from", "updated-after:2026-11-01T10:30", "last changed after D"),
    FilterSpec("updated-before", Reads.BEFORE, "updated_to", "updated-before:yesterday", "last changed before D"),
    FilterSpec("page", Reads.WHOLE, "page", "page:2", "which page of the results", high=MAX_PAGE),
    FilterSpec(
        "size",
        Reads.WHOLE,
        "size",
        "size:20",
        f"rows per page; Slack shows at most {MAX_LIST_ROWS}, so a larger size shows {MAX_LIST_ROWS} and says so",
        high=MAX_PAGE_SIZE,
    ),
    FilterSpec(
        "sort", Reads.SORT, "order_by", "sort:-visited", "`sort:FIELD`, or `sort:-FIELD` descending", ("orderby",)
    ),
    FilterSpec("order", Reads.ORDER, "direction", "order:desc", "`order:asc` or `order:desc`", ("dir",)),
)

# every name a filter may be typed as (`visited_before` too) → its row
FILTER_KEYS: dict[str, FilterSpec] = {name: spec for spec in FILTERS for name in (spec.key, *spec.aliases)}
FILTER_KEYS.update({name.replace("-", "_"): spec for name, spec in list(FILTER_KEYS.items()) if "-" in name})
KNOWN_FILTER_KEYS = (
    f"{', '.join(spec.key for spec in FILTERS)} (also {', '.join(a for spec in FILTERS for a in spec.aliases)})"
)
_KEYS = Keys(FILTER_KEYS, "a filter key", KNOWN_FILTER_KEYS)


@dataclass(frozen=True)
class SortSpec:
    """A field `sort:` orders by."""

    word: str  # as typed and shown
    field: str  # the Nexudus property (one of query.ORDERABLE)
    label: str  # in the list header: "sorted by last agent visit, newest first"
    directions: tuple[str, str]  # ascending, descending, in words
    aliases: tuple[str, ...] = ()


SORTS: tuple[SortSpec, ...] = (
    SortSpec("id", "Id", "id", ("lowest first", "highest first")),
    SortSpec("name", "Name", "name", ("A→Z", "Z→A")),
    SortSpec("active", "Active", "active", ("inactive first", "active first")),
    SortSpec(
        "visited",
        "LastAgentVisit",
        "last agent visit",
        ("oldest first", "newest first"),
        ("last-agent-visit", "last_agent_visit", "lastvisit"),
    ),
    SortSpec("created", "CreatedOn", "creation date", ("oldest first", "newest first"), ("created-on", "created_on")),
    SortSpec("updated", "UpdatedOn", "last change", ("oldest first", "newest first"), ("updated-on", "updated_on")),
    SortSpec("business", "BusinessId", "business", ("lowest first", "highest first"), ("business-id", "business_id")),
)
# every name a sort field may be typed as (its Nexudus name too, any case) → its row
SORT_KEYS: dict[str, SortSpec] = {
    name: spec for spec in SORTS for name in (spec.field.lower(), spec.word, *spec.aliases)
}
SORTS_BY_FIELD: dict[str, SortSpec] = {spec.field: spec for spec in SORTS}
SORT_FIELDS_HELP = f"{', '.join(f'`{s.word}`' for s in SORTS)} — prefix `-` for descending"

DIRECTIONS = {
    "asc": Direction.ASCENDING,
    "ascending": Direction.ASCENDING,
    "up": Direction.ASCENDING,
    "desc": Direction.DESCENDING,
    "descending": Direction.DESCENDING,
    "down": Direction.DESCENDING,
}


# ------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Reading:
    now: datetime
    zone: tzinfo
    usage: str


Reader = Callable[[FilterSpec, str, str, _Reading], dict[str, object]]


def _read_id(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    return {str(spec.field): key_id(value, source, spec.key, spec.example, r.usage)}


def _read_flag(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    return {str(spec.field): flag(value, source, spec.key, r.usage)}


def _read_text(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    return {str(spec.field): check_name(value, source, r.usage)}


def _read_date(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    bounds = day_bounds(value, source, r.now, r.zone, r.usage)
    if bounds is not None:
        if spec.day is not None:  # a bare day means the whole day
            return dict(zip(spec.day, bounds, strict=True))
        if spec.reads is Reads.BEFORE:  # before the day starts
            return {str(spec.field): bounds[0] - timedelta(minutes=1)}
        if spec.reads is Reads.AFTER:  # after the day ends
            return {str(spec.field): bounds[1] + timedelta(minutes=1)}
    if spec.field is None:
        raise GrammarError(
            f"{q(source)}: `{spec.key}:` takes a day, e.g. {spec.example}; for a time, "
            f"use `{spec.key}-after:` and `{spec.key}-before:`.",
            r.usage,
        )
    return {spec.field: parse_date(value, source, r.now, r.zone, r.usage)}


def _read_whole(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    return {str(spec.field): bounded(value, source, spec.key, 1, spec.high, r.usage)}


def _read_sort(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    sign = value[0]
    name = value[1:] if sign in "+-" else value
    found = SORT_KEYS.get(name.strip().lower())
    if found is None:
        raise GrammarError(
            f"{q(source)}: can't sort by {q(name)}.{did_you_mean(name, list(SORT_KEYS))} Sort by {SORT_FIELDS_HELP}.",
            r.usage,
        )
    if sign not in "+-":
        return {"order_by": found.field}
    return {"order_by": found.field, "sort_direction": Direction.DESCENDING if sign == "-" else Direction.ASCENDING}


def _read_order(spec: FilterSpec, value: str, source: str, r: _Reading) -> dict[str, object]:
    direction = DIRECTIONS.get(value.lower())
    if direction is None:
        raise GrammarError(f"{q(source)}: the order is asc or desc.", r.usage)
    return {"order_direction": direction}


_READERS: dict[Reads, Reader] = {
    Reads.ID: _read_id,
    Reads.FLAG: _read_flag,
    Reads.TEXT: _read_text,
    Reads.DAY_OR_TIME: _read_date,
    Reads.DAY: _read_date,
    Reads.AFTER: _read_date,
    Reads.BEFORE: _read_date,
    Reads.WHOLE: _read_whole,
    Reads.SORT: _read_sort,
    Reads.ORDER: _read_order,
}


def parse_list(tokens: Sequence[Token], now: datetime, zone: tzinfo, *, search: bool, usage: str) -> ListIntent:
    """`list`/`search` arguments → a ListIntent; `search` takes bare words as the name."""
    reading = _Reading(now, zone, usage)
    seen: dict[str, str] = {}  # filter key → the token that gave it
    setters: dict[str, str] = {}  # field → the token that set it
    values: dict[str, object] = {}
    words: list[str] = []
    for token in tokens:
        key, raw = token.split()
        if key is None:
            if not search:
                raise GrammarError(_bare_word_message(token, "name" in seen), usage)
            word = clean(raw).strip()
            if word:
                words.append(word)
            continue
        spec, value = _KEYS.take(key, raw, token.source, seen, usage)
        for field, result in _READERS[spec.reads](spec, value, token.source, reading).items():
            if field in setters:
                raise GrammarError(f"{q(setters[field])} and {q(token.source)} both say when; keep one of them.", usage)
            setters[field] = token.source
            values[field] = result
    if search:
        if words:
            values["name"] = name_from_words(words, seen.get("name"), usage)
        if not tokens:
            raise GrammarError("Search for what? Give some words of the name.", usage)
    return _intent(values, seen, usage)


def _intent(values: dict[str, object], seen: dict[str, str], usage: str) -> ListIntent:
    sort_direction, order_direction = values.pop("sort_direction", None), values.pop("order_direction", None)
    if sort_direction is not None and order_direction is not None and sort_direction != order_direction:
        raise GrammarError(f"{q(seen['sort'])} and {q(seen['order'])} ask for opposite directions; keep one.", usage)
    _check_ranges(values, usage)
    paging = {name: values.pop(name) for name in ("page", "size", "order_by") if name in values}
    return ListIntent.model_validate(
        {
            "filters": ChatRoomFilters.model_validate(values),
            "direction": sort_direction or order_direction or Direction.ASCENDING,
            **paging,
        }
    )


_RANGES = tuple((spec.key, spec.day) for spec in FILTERS if spec.day)
"""The filters that make a (from, to) range: `visited`, `created`, `updated`."""


def _check_ranges(values: dict[str, object], usage: str) -> None:
    """A range whose start is after its end matches nothing: say so rather than list nothing."""
    for key, (low, high) in _RANGES:
        start, end = values.get(low), values.get(high)
        if isinstance(start, datetime) and isinstance(end, datetime) and start > end:
            raise GrammarError(f"{key}-after is later than {key}-before, so nothing can match.", usage)


def _bare_word_message(token: Token, after_name: bool) -> str:
    word = clean(token.text)
    spec = FILTER_KEYS.get(word.lower())
    if spec is not None:
        return f"{q(token.source)} needs a value: filters look like key:value, e.g. {spec.example}."
    message = f"{q(token.source)} is not a filter; filters look like key:value, e.g. active:true."
    if positive_id(word) is not None:
        message += f" To open chatroom {word.lstrip('#')}, use `{COMMAND} show {word.lstrip('#')}`."
    elif after_name:
        message += ' Quote a name with spaces: name:"desk booking".'
    else:
        message += f" To find by name, use `{COMMAND} search {escape(word[:QUOTE_LIMIT])}`."
    return message
