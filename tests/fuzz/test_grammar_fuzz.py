"""Properties of the `/chatrooms` grammar: any text gives an intent or a GrammarError, and list
intents survive the trip through `to_text` (what the Previous/Next buttons rely on)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nexudus.query import MAX_PAGE_SIZE, ORDERABLE, ChatRoomFilters, Direction
from bot.rules import MAX_ID, MAX_NAME
from bot.slack.grammar import (
    HELP_TOPICS,
    INTERNAL_MESSAGE,
    GrammarError,
    ListIntent,
    parse_command,
    to_text,
)

NOW = datetime(2026, 11, 5, 12, 34, 56, tzinfo=UTC)
ZONES: list[tzinfo] = [
    UTC,
    ZoneInfo("Europe/London"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Pacific/Kiritimati"),
]

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str, zone: tzinfo = UTC, now: datetime = NOW) -> None:
    """The one promise: an intent, or a GrammarError with a short, real message and a usage."""
    try:
        intent = parse_command(text, now=now, zone=zone)
    except GrammarError as err:
        assert err.message, text
        assert len(err.message) <= 500
        assert err.message != INTERNAL_MESSAGE, f"grammar bug on {text!r}"
        assert err.usage
        return
    assert intent is not None
    assert hash(type(intent))


# ---------------------------------------------------------------------------------- arbitrary text

any_text = st.text(max_size=300)
repeated = st.tuples(st.text(max_size=40), st.integers(min_value=1, max_value=150)).map(lambda p: p[0] * p[1])
prefixed = st.tuples(
    st.sampled_from(
        [*HELP_TOPICS, "ls", "search", "alerts subscribe", "alerts unsubscribe", "alerts change 3f9a2c01", ""]
    ),
    st.text(max_size=200),
).map(lambda p: f"{p[0]} {p[1]}")
controls = st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=200)
slack_bits = st.lists(
    st.sampled_from(
        [
            '"',
            "“",
            "”",
            "„",
            "\\",
            "<",
            ">",
            "<#C0123ABC|x>",
            "&amp;",
            "&lt;",
            "&gt;",
            "&",
            ":",
            ",",
            "#",
            "`",
            "*",
            "_",
            " ",
            "\t",
            "\n",
            "-",
            "+",
            "Z",
            "T",
            "0",
            "9",
            "2026-11-01",
            "list",
            "name:",
            "\u200b",
        ]
    ),
    max_size=80,
).map("".join)


@FUZZ
@given(text=st.one_of(any_text, repeated, prefixed, controls, slack_bits), zone=st.sampled_from(ZONES))
def test_any_text_gives_an_intent_or_a_grammar_error(text: str, zone: tzinfo) -> None:
    check(text, zone)


# -------------------------------------------------------------------------------- list round trip

OFFSETS = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8)), timezone(timedelta(hours=13))]
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2900, 12, 31), timezones=st.sampled_from(OFFSETS)
).map(lambda d: d.replace(second=0, microsecond=0))
maybe_moment = st.none() | moments

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u200b\u2060\ufeff"),
    min_size=1,
    max_size=MAX_NAME,
).filter(lambda s: s == s.strip() and s != "")
ids = st.none() | st.integers(min_value=1, max_value=MAX_ID)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime | None, datetime | None]:
    low, high = draw(maybe_moment), draw(maybe_moment)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return low, high


@st.composite
def list_intents(draw: st.DrawFn) -> ListIntent:
    visited_from, visited_to = draw(ranges())
    created_from, created_to = draw(ranges())
    updated_from, updated_to = draw(ranges())
    filters = ChatRoomFilters(
        id=draw(ids),
        active=draw(st.none() | st.booleans()),
        business=draw(ids),
        last_agent_visit=draw(maybe_moment),
        name=draw(st.none() | names),
        users=draw(ids),
        created_from=created_from,
        created_to=created_to,
        updated_from=updated_from,
        updated_to=updated_to,
        visited_from=visited_from,
        visited_to=visited_to,
    )
    return ListIntent(
        filters=filters,
        page=draw(st.integers(min_value=1, max_value=100_000)),
        size=draw(st.none() | st.integers(min_value=1, max_value=MAX_PAGE_SIZE)),
        order_by=draw(st.sampled_from(ORDERABLE)),
        direction=draw(st.sampled_from(list(Direction))),
    )


@FUZZ
@given(intent=list_intents(), page=st.integers(min_value=1, max_value=100_000), zone=st.sampled_from(ZONES))
def test_to_text_parses_back_to_the_same_intent(intent: ListIntent, page: int, zone: tzinfo) -> None:
    text = to_text(intent, page)
    again = parse_command(text, now=NOW, zone=zone)
    assert again == intent.model_copy(update={"page": page}), text


# ----------------------------------------------------------------------------------- token soup

KEYS = [
    "id",
    "active",
    "business",
    "name",
    "user",
    "users",
    "visited",
    "visited-before",
    "visited_before",
    "visited-after",
    "before",
    "after",
    "created-before",
    "created-after",
    "updated-before",
    "updated-after",
    "page",
    "size",
    "sort",
    "order",
    "dir",
    "orderby",
    "threshold",
    "escalate-after",
    "escalate-to",
    "hours",
    "days",
    "zone",
    "summary",
    "channel",
    "colour",
    "ID",
    "Name",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "true",
            "no",
            "0",
            "1",
            "-1",
            "12",
            "#12",
            "99999999999",
            "2026-11-01",
            "2026-11-01T10:30",
            "2026-11-01T10:30:00",
            "2026-11-01T10:30Z",
            "2026-11-01T10:30+05:45",
            "2026-13-45",
            "0001-01-01",
            "9999-12-31T23:59-12:00",
            "today",
            "yesterday",
            "30m",
            "4h",
            "2d",
            "1w",
            "1h30m",
            "off",
            "OFF",
            "all",
            "09:00-18:00",
            "22:00-06:00",
            "mon-fri",
            "Europe/Paris",
            "<@U0LEAD|lead>",
            "<!subteam^S0LEADS|@leads>",
            "999999w",
            "soon",
            "-visited",
            "+name",
            "Id",
            "lastagentvisit",
            "desc",
            "asc",
            '"front desk"',
            "“lobby”",
            "&amp;",
            "<#C0123ABC|x>",
            "<@U1>",
            "1000",
            "1001",
            "100000",
        ]
    ),
    st.text(max_size=12),
)
token = st.one_of(
    st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: f"{kv[0]}:{kv[1]}"),
    VALUES,
    st.sampled_from(["<#C0123ABC|general>", "#general", "C0123ABC", "12,13", "MARK_VISITED", "list", "sub"]),
)
soups = st.tuples(
    st.sampled_from(
        [
            "list",
            "ls",
            "search",
            "show",
            "create",
            "edit",
            "delete",
            "run",
            "help",
            "alerts",
            "alerts subscribe",
            "alerts unsubscribe",
            "alerts change",
            "alerts change 3f9a2c01",
            "alerts list",
            "login",
            "LIST",
            "lsit",
        ]
    ),
    st.lists(token, max_size=12),
).map(lambda p: " ".join([p[0], *p[1]]))


@FUZZ
@given(text=soups, zone=st.sampled_from(ZONES))
def test_token_soup_never_raises_anything_but_grammar_errors(text: str, zone: tzinfo) -> None:
    check(text, zone)
