"""The `/chatrooms` grammar: what users type → intents, and precise errors when it's wrong."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.nexudus.query import ChatRoomFilters, Direction
from bot.slack.grammar import (
    HELP_TOPICS,
    USAGE,
    AlertsListIntent,
    AlertsSubscribeIntent,
    AlertsUnsubscribeIntent,
    CommandsIntent,
    CreateIntent,
    DeleteIntent,
    EditIntent,
    GrammarError,
    HelpIntent,
    Intent,
    ListIntent,
    LoginIntent,
    LogoutIntent,
    RunIntent,
    ShowIntent,
    WhoamiIntent,
    describe_filters,
    help_text,
    parse_command,
    to_text,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# 5 Nov 2026 is after the clocks change: London is on GMT (UTC+0), New York on EST (UTC-5).
NOW = datetime(2026, 11, 5, 12, 34, 56, tzinfo=UTC)
SUMMER_NOW = datetime(2026, 7, 15, 12, 34, 56, tzinfo=UTC)  # London on BST (UTC+1)


def parse(text: str, *, now: datetime = NOW, zone: ZoneInfo = LONDON) -> Intent:
    return parse_command(text, now=now, zone=zone)


def error(text: str, *, now: datetime = NOW, zone: ZoneInfo = LONDON) -> GrammarError:
    with pytest.raises(GrammarError) as caught:
        parse_command(text, now=now, zone=zone)
    return caught.value


def listing(**filters: object) -> ListIntent:
    return ListIntent(filters=ChatRoomFilters.model_validate(filters))


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------------------- simple commands


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("", HelpIntent(topic=None)),
        ("   ", HelpIntent(topic=None)),
        ("help", HelpIntent(topic=None)),
        ("HELP", HelpIntent(topic=None)),
        ("help list", HelpIntent(topic="list")),
        ("help LS", HelpIntent(topic="list")),
        ("help alerts subscribe", HelpIntent(topic="alerts")),
        ("help nonsense", HelpIntent(topic="nonsense")),
        ("?", HelpIntent(topic=None)),
        ("login", LoginIntent()),
        ("Login", LoginIntent()),
        ("logout", LogoutIntent()),
        ("whoami", WhoamiIntent()),
        ("commands", CommandsIntent()),
        ("show 12", ShowIntent(ids=[12])),
        ("show 12 13 14", ShowIntent(ids=[12, 13, 14])),
        ("show 12,13", ShowIntent(ids=[12, 13])),
        ("show 12, 13 ,14,", ShowIntent(ids=[12, 13, 14])),
        ("show #12 #13", ShowIntent(ids=[12, 13])),
        ("show 13 12 13 12", ShowIntent(ids=[13, 12])),
        ("SHOW   7", ShowIntent(ids=[7])),
        ("create", CreateIntent()),
        ('create business:12 name:"Front desk"', CreateIntent(name="Front desk", business=12)),
        ("create Business:12 NAME:Lobby", CreateIntent(name="Lobby", business=12)),
        ("create Front desk", CreateIntent(name="Front desk")),
        ("edit 12", EditIntent(id=12)),
        ("edit #12", EditIntent(id=12)),
        ("delete 9", DeleteIntent(id=9)),
        ("run", RunIntent(key=None, ids=[])),
        ("run MARK_VISITED", RunIntent(key="MARK_VISITED", ids=[])),
        ("run MARK_VISITED 12 13", RunIntent(key="MARK_VISITED", ids=[12, 13])),
        ("run mark.visited-2 12,13,12", RunIntent(key="mark.visited-2", ids=[12, 13])),
        ("run 12 13", RunIntent(key=None, ids=[12, 13])),
        ("alerts", AlertsListIntent()),
        ("alerts list", AlertsListIntent()),
        ("ALERTS LIST", AlertsListIntent()),
        ("alerts unsubscribe 3f9a2c", AlertsUnsubscribeIntent(subscription_id="3f9a2c")),
        ("alerts unsubscribe AbC123", AlertsUnsubscribeIntent(subscription_id="AbC123")),
    ],
)
def test_simple_commands(text: str, intent: Intent) -> None:
    assert parse(text) == intent


def test_show_takes_up_to_a_hundred_ids() -> None:
    ids = list(range(1, 101))
    assert parse("show " + " ".join(map(str, ids))) == ShowIntent(ids=ids)
    assert parse("show " + ",".join(map(str, ids + ids))) == ShowIntent(ids=ids)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("show", "Which chatroom? Give one or more ids, e.g. 1000001 or 1000001 1000002."),
        ("show abc", "`abc` is not a chatroom id; ids are positive whole numbers, e.g. 1000001."),
        ("show 12 0", "`0` is not a chatroom id; ids are positive whole numbers, e.g. 1000001."),
        ("show -3", "`-3` is not a chatroom id; ids are positive whole numbers, e.g. 1000001."),
        ("show 2147483648", "`2147483648` is too large for a chatroom id (at most 2147483647)."),
        ("show 99999999999999999999", "`99999999999999999999` is too large for a chatroom id (at most 2147483647)."),
        ("list business:99999999999999999999", "business is too large for an id (at most 2147483647)."),
        ("create business:2147483648", "`business:2147483648`: business is too large for an id"),
        ("alerts subscribe business:2147483648", "`business:2147483648`: business is too large for an id"),
        ("show " + " ".join(str(i) for i in range(1, 102)), "That is 101 ids; give at most 100 at once."),
        ("edit", "Which chatroom? `edit` needs a chatroom id, e.g. `/chatrooms edit 1000001`."),
        ("delete 12 13", "`delete` takes one chatroom id; got 2 (`12 13`)."),
        ("edit twelve", "`twelve` is not a chatroom id; ids are positive whole numbers, e.g. 1000001."),
        ("login now", "`login` takes nothing after it; remove `now`."),
        ("commands all", "`commands` takes nothing after it; remove `all`."),
        ("run 💥", "`💥` is not a command key; keys look like MARK_VISITED"),
        ("run MARK x", "`x` is not a chatroom id; ids are positive whole numbers, e.g. 1000001."),
        ("create colour:red", "`colour` is not something `create` can prefill. Known keys: name, business."),
        ("create nme:x", "`nme` is not something `create` can prefill. Did you mean `name`?"),
        ("create business:x", "`business:x`: business must be a positive whole number, e.g. business:9001."),
        ("create name:a name:b", "`name` given twice (`name:a` and `name:b`)."),
        ('create Lobby name:"Front desk"', "Give the name once: either as words (`Lobby`) or as"),
        ("create name:", '`name:` needs a value, e.g. name:"desk booking".'),
        ("alerts unsubscribe", "Which subscription? Give its ID from `alerts list`"),
        ("alerts unsubscribe a b", "Give one subscription ID; remove `b`."),
        ("alerts unsubscribe ab!cd", "`ab!cd` is not a subscription ID; copy the ID shown by `alerts list`."),
        ("alerts list 3", "`alerts list` takes nothing after it; remove `3`."),
        ("alerts subscrib", "`subscrib` is not an alerts action. Did you mean `subscribe`?"),
    ],
)
def test_command_errors_say_what_is_wrong(text: str, message: str) -> None:
    assert message in error(text).message


def test_errors_carry_the_usage_of_their_subcommand() -> None:
    assert error("show x").usage == USAGE["show"]
    assert error("list foo").usage == USAGE["list"]
    assert error("search name:a name:b").usage == USAGE["search"]
    assert error("alerts subscribe #general").usage == USAGE["alerts"]
    assert error('list name:"open').usage == USAGE["list"]
    for usage in USAGE.values():
        assert "e.g." in usage or "`/chatrooms" in usage


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lst", "`lst` is not a `/chatrooms` command. Did you mean `list`?"),
        ("serch lobby", "`serch` is not a `/chatrooms` command. Did you mean `search`?"),
        ("delet 12", "`delete`"),
        ("frobnicate", "`frobnicate` is not a `/chatrooms` command."),
    ],
)
def test_unknown_subcommand_suggests_and_lists_commands(text: str, message: str) -> None:
    err = error(text)
    assert message in err.message
    assert "`list`" in err.usage and "`alerts`" in err.usage
    if text == "frobnicate":
        assert "Did you mean" not in err.message


# -------------------------------------------------------------------------------------------- list


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("list", ListIntent(filters=ChatRoomFilters())),
        ("ls", ListIntent(filters=ChatRoomFilters())),
        ("list id:12", listing(id=12)),
        ("list id:#12", listing(id=12)),
        ("list business:34", listing(business=34)),
        ("list user:56", listing(users=56)),
        ("list users:56", listing(users=56)),
        ("list name:lobby", listing(name="lobby")),
        ('list name:"front desk"', listing(name="front desk")),
        ("list NAME:Lobby", listing(name="Lobby")),
        ("list active:true", listing(active=True)),
        ("list active:YES", listing(active=True)),
        ("list active:on", listing(active=True)),
        ("list active:1", listing(active=True)),
        ("list active:false", listing(active=False)),
        ("list Active:No", listing(active=False)),
        ("list active:off", listing(active=False)),
        ("list active:0", listing(active=False)),
        ("list page:3", ListIntent(page=3)),
        ("list size:50", ListIntent(size=50)),
        ("list size:1000", ListIntent(size=1000)),
        ("list sort:name", ListIntent(order_by="Name")),
        ("list sort:-visited", ListIntent(order_by="LastAgentVisit", direction=Direction.DESCENDING)),
        ("list sort:LastAgentVisit", ListIntent(order_by="LastAgentVisit")),
        ("list sort:last-agent-visit", ListIntent(order_by="LastAgentVisit")),
        ("list sort:created", ListIntent(order_by="CreatedOn")),
        ("list sort:CREATEDON", ListIntent(order_by="CreatedOn")),
        ("list sort:updated", ListIntent(order_by="UpdatedOn")),
        ("list sort:updatedon", ListIntent(order_by="UpdatedOn")),
        ("list sort:business", ListIntent(order_by="BusinessId")),
        ("list sort:active", ListIntent(order_by="Active")),
        ("list sort:-id", ListIntent(direction=Direction.DESCENDING)),
        ("list sort:+name", ListIntent(order_by="Name")),
        ("list order:desc", ListIntent(direction=Direction.DESCENDING)),
        ("list dir:desc sort:name", ListIntent(order_by="Name", direction=Direction.DESCENDING)),
        ("list sort:-name order:desc", ListIntent(order_by="Name", direction=Direction.DESCENDING)),
        ("list order:asc", ListIntent()),
        (
            "list   active:true    business:3  size:10 page:2",
            ListIntent(filters=ChatRoomFilters(active=True, business=3), size=10, page=2),
        ),
    ],
)
def test_list_filters(text: str, intent: ListIntent) -> None:
    assert parse(text) == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("search front desk", listing(name="front desk")),
        ("search Front   Desk", listing(name="Front Desk")),
        ("search lobby active:true", listing(name="lobby", active=True)),
        ("search active:true lobby", listing(name="lobby", active=True)),
        ("search name:lobby", listing(name="lobby")),
        ('search "a:b"', listing(name="a:b")),
        ("search o'brien", listing(name="o'brien")),
        ("find lobby", listing(name="lobby")),
    ],
)
def test_search_words_become_the_name(text: str, intent: ListIntent) -> None:
    assert parse(text) == intent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("list foo", "`foo` is not a filter; filters look like key:value, e.g. active:true."),
        ("list active", "`active` needs a value: filters look like key:value, e.g. active:true."),
        ("list 12", "To open chatroom 12, use `/chatrooms show 12`."),
        ("list name:front desk", 'Quote a name with spaces: name:"desk booking".'),
        ("list actve:true", "`actve` is not a filter key. Did you mean `active`? Known keys: id, active,"),
        ("list colour:red", "`colour` is not a filter key. Known keys: id, active, business, name, user,"),
        ("list active:true active:false", "`active` given twice (`active:true` and `active:false`)."),
        ("list before:2d visited-before:3d", "`visited-before` given twice (`before:2d` and `visited-before:3d`)."),
        ("list active:maybe", "`active:maybe`: active must be true or false (yes/no, on/off, 1/0)."),
        ("list active:", "`active:` needs a value, e.g. active:true."),
        ("list id:abc", "`id:abc`: id must be a positive whole number, e.g. id:1000001."),
        ("list id:0", "`id:0`: id must be a positive whole number, e.g. id:1000001."),
        ("list business:-1", "`business:-1`: business must be a positive whole number, e.g. business:9001."),
        ("list user:<@U123|bob>", "user must be a positive whole number, e.g. user:7000237."),
        ("list page:0", "`page:0`: page must be a whole number from 1 to 100000."),
        ("list page:100001", "`page:100001`: page must be a whole number from 1 to 100000."),
        ("list size:1001", "`size:1001`: size must be a whole number from 1 to 1000."),
        ("list size:ten", "`size:ten`: size must be a whole number from 1 to 1000."),
        ("list sort:colour", "`sort:colour`: can't sort by `colour`. Sort by `id`, `name`,"),
        ("list sort:nme", "can't sort by `nme`. Did you mean `name`?"),
        ("list order:sideways", "`order:sideways`: the order is asc or desc."),
        ("list sort:-name order:asc", "`sort:-name` and `order:asc` ask for opposite directions; keep one."),
        ('list name:"front desk', 'Unbalanced quote: `name:"front desk` has no closing quote.'),
        ("list name:“front desk", "Unbalanced quote: `name:“front desk` has no closing quote."),
        ("search", "Search for what? Give some words of the name."),
        ("search lobby name:hall", "Give the name once: either as words (`lobby`) or as `name:hall`."),
        ("list name:" + "x" * 201, "the name is too long (at most 200 characters)."),
    ],
)
def test_list_errors(text: str, message: str) -> None:
    assert message in error(text).message


def test_error_messages_quote_at_most_forty_characters() -> None:
    err = error("list " + "y" * 300)
    assert "`" + "y" * 39 + "…`" in err.message
    assert "y" * 41 not in err.message


def test_error_messages_cannot_ping_or_link() -> None:
    err = error("list <!channel>")
    assert "<!channel>" not in err.message
    assert "&lt;!channel&gt;" in err.message


# --------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # a bare day: before:DAY is before that day starts (in the space's zone), to the minute
        ("2026-11-01", at(2026, 10, 31, 23, 59)),
        ("2026-07-01", at(2026, 6, 30, 22, 59)),  # BST: local midnight is 23:00 UTC the day before
        ("2026-11-01T10:30", at(2026, 11, 1, 10, 30)),
        ("2026-07-01T10:30", at(2026, 7, 1, 9, 30)),
        ("2026-07-01T10:30:45", at(2026, 7, 1, 9, 30)),  # seconds are dropped
        ("2026-07-01T10:30Z", at(2026, 7, 1, 10, 30)),
        ("2026-07-01t10:30z", at(2026, 7, 1, 10, 30)),
        ("2026-07-01T10:30+02:00", at(2026, 7, 1, 8, 30)),
        ("2026-07-01T10:30-0500", at(2026, 7, 1, 15, 30)),
        ('"2026-07-01 10:30"', at(2026, 7, 1, 9, 30)),
        ("today", at(2026, 11, 4, 23, 59)),
        ("Today", at(2026, 11, 4, 23, 59)),
        ("yesterday", at(2026, 11, 3, 23, 59)),
        ("30m", at(2026, 11, 5, 12, 4)),
        ("4h", at(2026, 11, 5, 8, 34)),
        ("2d", at(2026, 11, 3, 12, 34)),
        ("1w", at(2026, 10, 29, 12, 34)),
        ("1h30m", at(2026, 11, 5, 11, 4)),
    ],
)
def test_date_forms(value: str, expected: datetime) -> None:
    intent = parse(f"list visited-before:{value}")
    assert isinstance(intent, ListIntent)
    got = intent.filters.visited_to
    assert got == expected
    assert got is not None and got.tzinfo is not None
    assert got.second == 0 and got.microsecond == 0


def test_dates_are_read_in_the_space_zone() -> None:
    intent = parse("list visited:2026-11-01T10:30", zone=NEW_YORK)
    assert isinstance(intent, ListIntent)
    assert intent.filters.last_agent_visit == at(2026, 11, 1, 15, 30)
    today = parse("list created-after:today", zone=NEW_YORK, now=at(2026, 11, 5, 3, 0))
    assert isinstance(today, ListIntent)
    assert today.filters.created_from == at(2026, 11, 5, 5, 0)  # still the 4th in New York: after it ends


def test_dates_carry_the_local_offset_for_display() -> None:
    intent = parse("list visited-before:2026-07-01T10:30", now=SUMMER_NOW)
    assert isinstance(intent, ListIntent)
    value = intent.filters.visited_to
    assert value is not None
    assert (value.hour, value.minute, value.utcoffset()) == (10, 30, timedelta(hours=1))


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("visited", "last_agent_visit"),
        ("visited-before", "visited_to"),
        ("created", "created_from"),
        ("updated", "updated_from"),
        ("visited_before", "visited_to"),
        ("before", "visited_to"),
        ("visited-after", "visited_from"),
        ("visited_after", "visited_from"),
        ("after", "visited_from"),
        ("created-before", "created_to"),
        ("created_after", "created_from"),
        ("updated-before", "updated_to"),
        ("UPDATED-AFTER", "updated_from"),
    ],
)
def test_date_keys(key: str, field: str) -> None:
    if key in ("created", "updated"):  # created:/updated: take a day, not a minute
        assert "takes a day" in error(f"list {key}:2026-11-01T00:00").message
        intent = parse(f"list {key}:2026-11-01")
    else:
        intent = parse(f"list {key}:2026-11-01T00:00")
    assert isinstance(intent, ListIntent)
    assert getattr(intent.filters, field) == at(2026, 11, 1, 0, 0)


@pytest.mark.parametrize("key", ["visited", "created", "updated"])
@pytest.mark.parametrize("day", ["2026-11-01", "today", "yesterday"])
def test_a_bare_day_means_the_whole_day(key: str, day: str) -> None:
    intent = parse(f"list {key}:{day}", now=at(2026, 11, 2, 12, 0))
    assert isinstance(intent, ListIntent)
    low = getattr(intent.filters, f"{key}_from")
    high = getattr(intent.filters, f"{key}_to")
    start = at(2026, 11, 2 if day == "today" else 1, 0, 0)
    assert (low, high) == (start, start + timedelta(days=1, minutes=-1))
    assert intent.filters.last_agent_visit is None
    assert describe_filters(intent) == f"{key} on {start.day} Nov 2026"


def test_a_bare_day_in_a_zone_with_summer_time_spans_its_local_day() -> None:
    intent = parse("list visited:2026-10-25", zone=LONDON)  # clocks go back: a 25-hour day
    assert isinstance(intent, ListIntent)
    assert intent.filters.visited_from == at(2026, 10, 24, 23, 0)
    assert intent.filters.visited_to == at(2026, 10, 25, 23, 59)


def test_before_a_day_is_before_it_starts_and_after_a_day_is_after_it_ends() -> None:
    intent = parse("list after:2026-11-01 before:2026-11-05 created-after:2026-10-01T10:30")
    assert isinstance(intent, ListIntent)
    assert intent.filters.visited_from == at(2026, 11, 2, 0, 0)
    assert intent.filters.visited_to == at(2026, 11, 4, 23, 59)
    assert intent.filters.created_from == at(2026, 10, 1, 9, 30)  # with a time, that minute (BST)
    assert "before:2026-11-01` is before that day starts" in help_text("list")
    assert "after:2026-11-01` after it ends" in help_text("list")


def test_a_day_and_a_range_on_the_same_date_are_refused() -> None:
    assert "both say when" in error("list visited:2026-11-01 after:2026-10-01").message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("list visited:soon", "`visited:soon` is not a date I understand; use 2026-11-01, 2026-11-01T10:30,"),
        ("list visited:2026-13-45", "`visited:2026-13-45` is not a real date (month must be in 1..12)"),
        ("list before:2026-02-30", "`before:2026-02-30` is not a real date (day is out of range for month)"),
        ("list before:2026-11-01T25:00", "`before:2026-11-01T25:00` is not a real date"),
        ("list before:0001-01-01", "`before:0001-01-01`: the year must be between 1900 and 2999."),
        ("list before:9999w", "`before:9999w` reaches back too far; keep ages under 10 years."),
        ("list before:2026", "`before:2026` is not a date I understand"),
        ("list before:2026-11-01T10:30+25:00", "`before:2026-11-01T10:30+25:00`: a UTC offset runs from -18:00"),
        ("list after:2d before:3d", "visited-after is later than visited-before, so nothing can match."),
        (
            "list created-after:2026-11-02 created-before:2026-11-01",
            "created-after is later than created-before",
        ),
        ("list updated-after:today updated-before:yesterday", "updated-after is later than updated-before"),
    ],
)
def test_date_errors(text: str, message: str) -> None:
    err = error(text)
    assert message in err.message
    assert err.usage == USAGE["list"]


def test_equal_range_bounds_are_fine() -> None:
    intent = parse("list after:2026-11-01T10:00 before:2026-11-01T10:00")
    assert isinstance(intent, ListIntent)
    assert intent.filters.visited_from == intent.filters.visited_to


# --------------------------------------------------------------------------------- quotes and escapes


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("list name:“front desk”", "front desk"),
        ("list name:”front desk”", "front desk"),
        ("list name:„front desk“", "front desk"),
        ('list name:"say \\"hi\\""', 'say "hi"'),
        ('list name:"back\\\\slash"', "back\\slash"),
        ("list name:Tom&amp;Jerry", "Tom&Jerry"),
        ("list name:a&lt;b&gt;c", "a<b>c"),
        ("list name:&amp;lt;", "&lt;"),
        ("search <https://example.com|example.com>", "example.com"),
        ("list name:\u200blobby", "lobby"),
        ("list name:lob\x00by", "lobby"),
    ],
)
def test_quotes_and_slack_escapes(text: str, name: str) -> None:
    assert parse(text) == listing(name=name)


@pytest.mark.parametrize(
    "text",
    ["`list active:true`", "```list active:true```", "*list active:true*", "/chatrooms list active:true"],
)
def test_slack_formatting_around_the_whole_text_is_ignored(text: str) -> None:
    assert parse(text) == listing(active=True)


def test_a_lone_empty_quote_is_ignored() -> None:
    assert parse('list "" active:true') == listing(active=True)


# -------------------------------------------------------------------------------------------- alerts


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("alerts subscribe", AlertsSubscribeIntent(channel_id=None, threshold_minutes=None, business=None)),
        (
            "alerts subscribe <#C0123ABC|general>",
            AlertsSubscribeIntent(channel_id="C0123ABC", threshold_minutes=None, business=None),
        ),
        (
            "alerts subscribe <#C0123ABC>",
            AlertsSubscribeIntent(channel_id="C0123ABC", threshold_minutes=None, business=None),
        ),
        (
            "alerts subscribe C0123ABC after:4h",
            AlertsSubscribeIntent(channel_id="C0123ABC", threshold_minutes=240, business=None),
        ),
        (
            "alerts sub G0123ABCD after:90 business:7",
            AlertsSubscribeIntent(channel_id="G0123ABCD", threshold_minutes=90, business=7),
        ),
        (
            "alerts subscribe after:30m",
            AlertsSubscribeIntent(channel_id=None, threshold_minutes=30, business=None),
        ),
        (
            "alerts subscribe after:2d",
            AlertsSubscribeIntent(channel_id=None, threshold_minutes=2880, business=None),
        ),
        (
            "alerts subscribe after:1h30m <#C0123ABC|support>",
            AlertsSubscribeIntent(channel_id="C0123ABC", threshold_minutes=90, business=None),
        ),
        ("alerts subscribe after:5m", AlertsSubscribeIntent(channel_id=None, threshold_minutes=5, business=None)),
        (
            "alerts subscribe after:30d",
            AlertsSubscribeIntent(channel_id=None, threshold_minutes=43200, business=None),
        ),
    ],
)
def test_alerts_subscribe(text: str, intent: AlertsSubscribeIntent) -> None:
    assert parse(text) == intent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alerts subscribe #general", "I can't tell which channel `#general` is. Type `#` and pick the channel"),
        ("alerts subscribe general", "`general` is not a channel; pick one from Slack's autocomplete"),
        ("alerts subscribe 4h", "For a threshold, write after:4h."),
        ("alerts subscribe <@U0123ABC|bob>", "is a person, not a channel."),
        ("alerts subscribe <#C0123ABC> <#C0999XYZ>", "`channel` given twice"),
        ("alerts subscribe after:4m", "`after:4m` is too short; alert after at least 5 minutes."),
        ("alerts subscribe after:31d", "`after:31d` is too long; alert after at most 30 days."),
        ("alerts subscribe after:soon", "`after:soon` is not a duration; use 30m, 4h, 2d, 1h30m or 90 (minutes)."),
        ("alerts subscribe after:4h after:5h", "`after` given twice"),
        ("alerts subscribe business:x", "`business:x`: business must be a positive whole number"),
        ("alerts subscribe afterr:4h", "`afterr` is not an alerts option. Did you mean `after`?"),
    ],
)
def test_alerts_errors(text: str, message: str) -> None:
    err = error(text)
    assert message in err.message
    assert err.usage == USAGE["alerts"]


# ---------------------------------------------------------------------------------------------- help


def test_full_help_mentions_every_subcommand_with_an_example() -> None:
    text = help_text(None)
    for topic in HELP_TOPICS:
        assert f"*{topic}*" in text
        assert f"/chatrooms {topic}" in text
    assert set(HELP_TOPICS) == set(USAGE)


@pytest.mark.parametrize("topic", ["list", "search"])
def test_list_help_details_every_filter_key_and_date_form(topic: str) -> None:
    text = help_text(topic)
    for key in (
        "id:",
        "active:",
        "business:",
        "name:",
        "user:",
        "visited:",
        "visited-before:",
        "visited-after:",
        "created-before:",
        "created-after:",
        "updated-before:",
        "updated-after:",
        "before:",
        "after:",
        "page:",
        "size:",
        "sort:",
        "order:",
    ):
        assert key in text
    for form in ("2026-11-01", "2026-11-01T10:30", "2026-11-01T10:30Z", "today", "yesterday", "30m", "1w"):
        assert f"`{form}`" in text


def test_topic_help_and_unknown_topics() -> None:
    assert help_text("show").startswith("*/chatrooms show*")
    assert USAGE["show"] in help_text("show")
    assert help_text("LS") == help_text("list")
    unknown = help_text("bogus")
    assert unknown.startswith("There is no help topic `bogus`")
    assert help_text(None) in unknown
    assert "&lt;!here&gt;" in help_text("<!here>")


# -------------------------------------------------------------------------------- describe, to_text


def test_describe_filters() -> None:
    intent = parse('list active:true name:"lobby" visited-before:2026-11-01T10:30 sort:-visited')
    assert isinstance(intent, ListIntent)
    assert describe_filters(intent) == (
        "active · name contains “lobby” · visited until 1 Nov 2026 10:30 · sorted by last agent visit, newest first"
    )


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("list", "all chatrooms"),
        ("list page:3 size:10", "all chatrooms"),
        ("list active:false business:3 user:9 id:4", "id 4 · inactive · business 3 · user 9"),
        ("list sort:name", "sorted by name, A→Z"),
        ("list order:desc", "sorted by id, highest first"),
        ("list sort:-updated", "sorted by last change, newest first"),
        (
            "list created-after:2026-07-01 updated-before:2026-11-01",
            "created since 2 Jul 2026 · updated until 31 Oct 2026 23:59",
        ),
        ("list visited:2026-07-01T09:05 after:2026-06-01", "visited 1 Jul 2026 09:05 · visited since 2 Jun 2026"),
        ("search " + "n" * 60, "name contains “" + "n" * 39 + "…”"),
    ],
)
def test_describe_filters_forms(text: str, summary: str) -> None:
    intent = parse(text)
    assert isinstance(intent, ListIntent)
    assert describe_filters(intent) == summary


@pytest.mark.parametrize(
    "text",
    [
        "list",
        "list active:true",
        "search front desk business:3 sort:-name size:10",
        'list name:"say \\"hi\\" & <bye>" user:5 id:9',
        "list name:“smart” active:no",
        "list visited:2026-11-01T10:30 after:2026-10-01 before:today",
        "list created-after:3d created-before:1h updated-after:1w updated-before:30m",
        "list sort:-id",
        "list order:desc sort:visited",
        "list visited-before:2026-07-01T10:30+02:00",
    ],
)
@pytest.mark.parametrize("zone", [LONDON, NEW_YORK, ZoneInfo("Asia/Kolkata")])
@pytest.mark.parametrize("page", [1, 2, 57])
def test_to_text_round_trips(text: str, zone: ZoneInfo, page: int) -> None:
    intent = parse(text, zone=zone)
    assert isinstance(intent, ListIntent)
    again = parse(to_text(intent, page), zone=zone)
    assert again == intent.model_copy(update={"page": page})


def test_to_text_round_trips_the_repeated_hour_when_clocks_go_back() -> None:
    # 01:30 happens twice in New York on 1 Nov 2026; the second one is 06:30 UTC.
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    intent = ListIntent(filters=ChatRoomFilters(visited_to=second))
    again = parse(to_text(intent, 1), zone=NEW_YORK)
    assert isinstance(again, ListIntent)
    assert again.filters.visited_to == second
    assert again == intent


def test_to_text_is_readable() -> None:
    intent = parse('list active:true name:"front desk" before:2026-11-01T10:30 sort:-visited size:10')
    assert isinstance(intent, ListIntent)
    assert to_text(intent, 2) == (
        'list active:true name:"front desk" visited-before:2026-11-01T10:30Z page:2 size:10 sort:-LastAgentVisit'
    )


# ------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "text",
    [
        "list " + "a" * 4000,
        "search " + "word " * 800,
        "show " + "1," * 2000,
        "show " + "9" * 4000,
        "list " + "<" * 4000,
        "list " + "<a" * 2000,
        'list "' + "x" * 4000,
        "alerts subscribe " + "<#C1234567> " * 300,
        "list name:" + "&amp;" * 800,
        "run " + "A" * 4000,
        "x" * 4000,
    ],
)
def test_long_input_is_fast_and_only_raises_grammar_errors(text: str) -> None:
    started = clock.perf_counter()
    try:
        parse(text)
    except GrammarError as err:
        assert 0 < len(err.message) <= 500
    assert clock.perf_counter() - started < 0.5


def test_naive_now_is_taken_as_utc() -> None:
    intent = parse_command("list after:1h", now=datetime(2026, 11, 5, 12, 0), zone=LONDON)
    assert isinstance(intent, ListIntent)
    assert intent.filters.visited_from == at(2026, 11, 5, 11, 0)


def test_intents_are_frozen() -> None:
    intent = parse("list active:true")
    assert isinstance(intent, ListIntent)
    with pytest.raises(ValidationError):
        intent.page = 2  # type: ignore[misc]


# ------------------------------------------------------------------- what a new user hit (issue 10)


def test_a_mistyped_help_topic_suggests_the_right_one() -> None:
    text = help_text("lsit")
    assert text.startswith("There is no help topic `lsit`. Did you mean `list`?")
    assert help_text("list") in text
    assert "Did you mean" not in help_text("bogus")


def test_help_alerts_says_the_list_is_this_channels() -> None:
    text = help_text("alerts")
    assert "workspace" not in text
    assert "the subscriptions of the channel you type it in" in text


def test_help_create_describes_the_form() -> None:
    text = help_text("create")
    fields = ("*Business ID* (required)", "*Name* (required)", "*Active*", "*Last agent visit*", "*Member user IDs*")
    for field in fields:
        assert field in text
    assert "at most 200 characters" in text


def test_help_says_that_a_size_above_slacks_40_rows_is_capped() -> None:
    assert "Slack shows at most 40, so a larger size shows 40 and says so" in help_text("list")
    assert "size:50" not in help_text(None)


def _examples() -> list[str]:
    import re

    texts = [help_text(None)] + [help_text(t) for t in HELP_TOPICS]
    found = {m for text in texts for m in re.findall(r"`/chatrooms ([^`]+)`", text)}
    # usage patterns ("show ID [ID …]") are not examples; everything else must run as shown
    return sorted(e for e in found if not re.search(r"\[|…|\bID\b|\bKEY\b|WORDS|#channel", e))


def test_every_help_example_parses_and_names_real_sandbox_records() -> None:
    from bot.sandbox.db import SandboxDB
    from bot.sandbox.seed import BUSINESSES, seed

    sandbox = SandboxDB(":memory:")
    try:
        seed(sandbox, NOW)
        rooms = [sandbox.get(i) for i in range(1_000_001, 1_000_061)]
        room_ids = {r.id for r in rooms if r is not None}
        names = [(r.name or "").casefold() for r in rooms if r is not None]
        users = {u for r in rooms if r is not None for u in r.users}
    finally:
        sandbox.close()
    examples = _examples()
    assert len(examples) >= 10
    for example in examples:
        # Slack's autocomplete turns a typed #channel into a mention: the example works as Slack sends it.
        intent = parse(example.replace("#support", "<#C0SUPPORT|support>"))
        for chatroom_id in [*getattr(intent, "ids", []), getattr(intent, "id", None)]:
            assert chatroom_id is None or chatroom_id in room_ids, example
        business = getattr(intent, "business", None) or getattr(intent, "business_id", None)
        if isinstance(intent, ListIntent):
            business = intent.filters.business
            assert intent.filters.users is None or intent.filters.users in users, example
            assert intent.filters.id is None or intent.filters.id in room_ids, example
            wanted = (intent.filters.name or "").casefold()
            assert any(wanted in name for name in names), f"{example}: finds nothing in the sandbox"
        assert business is None or business in dict(BUSINESSES), example
    for key in ("id", "business", "user"):
        from bot.slack.grammar.filters import FILTER_KEYS

        value = int(FILTER_KEYS[key].example.split(":")[1])
        assert value in {"id": room_ids, "business": set(dict(BUSINESSES)), "user": users}[key]


def test_sort_fields_are_described_in_words_not_api_names() -> None:
    for field in ("visited", "created", "updated", "business", "id", "name", "active"):
        summary = describe_filters(parse(f"list sort:-{field}"))  # type: ignore[arg-type]
        assert not any(api in summary for api in ("LastAgentVisit", "CreatedOn", "UpdatedOn", "BusinessId", "Id,"))
    assert describe_filters(parse("list sort:-visited")) == "sorted by last agent visit, newest first"  # type: ignore[arg-type]


def test_inline_edit_parses_the_changes_and_only_those() -> None:
    from bot.slack.grammar import EditNowIntent

    intent = parse('edit 1000001 name:"Front desk" active:false')
    assert isinstance(intent, EditNowIntent)
    assert intent.changes() == {"name": "Front desk", "active": False}
    intent = parse("edit #1000001 visited:never users:none business:9002")
    assert isinstance(intent, EditNowIntent)
    assert intent.changes() == {"last_agent_visit": None, "users": [], "business_id": 9002}
    intent = parse("edit 1000001 visited:2h users:7000001,7000002,7000001")
    assert isinstance(intent, EditNowIntent)
    assert intent.changes() == {"last_agent_visit": at(2026, 11, 5, 10, 34), "users": [7000001, 7000002]}
    assert parse("edit 1000001") == EditIntent(id=1000001)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("edit 1000001 nme:x", "`nme` is not something `edit` can change. Did you mean `name`?"),
        ("edit 1000001 name:", '`name:` needs a value, e.g. name:"Front desk".'),
        ("edit 1000001 name:" + "x" * 201, "the name is too long (at most 200 characters)."),
        ("edit 1000001 active:maybe", "active must be true or false"),
        ("edit 1000001 business:2147483648", "business is too large for an id"),
        ("edit 1000001 visited:2026-11-06T10:00", "A last agent visit cannot be in the future"),
        ("edit 1000001 visited:tomorrow", "give the time of the visit too"),
        ("edit 1000001 users:7000001,bob", "`bob` is not a user id"),
        ("edit 1000001 users:99999999999", "`99999999999` is too large for a user id"),
        ("edit 1000001 name:a name:b", "both change the same field"),
        ("edit name:x", "Which chatroom?"),
        ("edit 1 2 name:x", "`edit` takes one chatroom id"),
    ],
)
def test_inline_edit_errors(text: str, message: str) -> None:
    err = error(text)
    assert message in err.message
    assert err.usage == USAGE["edit"]


def test_a_visit_in_the_future_is_refused_by_one_rule_everywhere() -> None:
    from bot.rules import visit_problem

    assert visit_problem(NOW + timedelta(minutes=4), NOW) is None  # a clock a little ahead
    assert visit_problem(NOW + timedelta(hours=1), NOW) is not None
    assert visit_problem(None, NOW) is None


# Every kind of quote and of whitespace (Unicode's too), mentions, escapes and Slack formatting.
TOKEN_CHARS = ' \t\n\r\x0b\x1c\x85\u00a0\u2003\u2028ab:#-_.,1é"\u201c\u201d\u201e\u201f<>|@&;\\`*'


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=TOKEN_CHARS, max_size=40))
def test_plain_words_split_in_c_tokenize_as_the_character_scan_does(text: str) -> None:
    from bot.slack.grammar.lexer import _scan, tokenize

    try:
        expected = _scan(text, "usage")
    except GrammarError as slow:
        with pytest.raises(GrammarError) as fast:
            tokenize(text, "usage")
        assert fast.value.message == slow.message
        return
    assert tokenize(text, "usage") == expected
