"""The grammar's tables agree with the parser: every filter row parses its own example, is in the help
and is suggested when mistyped; every subcommand has a parser, a usage line and its aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.nexudus.query import ORDERABLE, ChatRoomFilters
from bot.slack.grammar import HELP_TOPICS, USAGE, GrammarError, ListIntent, help_text, parse_command, to_text
from bot.slack.grammar.filters import FILTERS, SORTS, FilterSpec
from bot.slack.grammar.help import ALIASES

NOW = datetime(2026, 11, 5, 12, 34, 56, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def parse(text: str) -> object:
    return parse_command(text, now=NOW, zone=LONDON)


@pytest.mark.parametrize("spec", FILTERS, ids=lambda s: s.key)
def test_each_filter_row_parses_its_example_and_its_aliases_mean_the_same(spec: FilterSpec) -> None:
    intent = parse(f"list {spec.example}")
    assert isinstance(intent, ListIntent)
    assert intent != ListIntent()
    assert parse(to_text(intent, intent.page)) == intent
    value = spec.example.split(":", 1)[1]
    for alias in spec.aliases:
        assert parse(f"list {alias}:{value}") == intent
    if "-" in spec.key:
        assert parse(f"list {spec.key.replace('-', '_')}:{value}") == intent


@pytest.mark.parametrize("spec", FILTERS, ids=lambda s: s.key)
def test_each_filter_row_is_in_the_help_and_suggested_when_mistyped(spec: FilterSpec) -> None:
    for topic in ("list", "search"):
        assert f"`{spec.example}`" in help_text(topic)
        assert f"`{spec.key}:`" in help_text(None)
    typo = spec.key + spec.key[-1]  # one letter too many
    with pytest.raises(GrammarError) as caught:
        parse(f"list {typo}:x")
    assert f"Did you mean `{spec.key}`?" in caught.value.message
    assert spec.key in caught.value.message.split("Known keys:")[1]


def test_filter_rows_set_fields_that_exist() -> None:
    fields = set(ChatRoomFilters.model_fields) | set(ListIntent.model_fields)
    for spec in FILTERS:
        assert spec.field is None or spec.field in fields, spec.key
        assert spec.day is None or set(spec.day) <= fields, spec.key


def test_sort_rows_cover_every_orderable_nexudus_field() -> None:
    assert sorted(s.field for s in SORTS) == sorted(ORDERABLE)
    for sort in SORTS:
        intent = parse(f"list sort:-{sort.word}")
        assert isinstance(intent, ListIntent)
        assert intent.order_by == sort.field
        assert f"`{sort.word}`" in help_text("list")


@pytest.mark.parametrize("topic", HELP_TOPICS)
def test_every_subcommand_has_a_parser_and_a_usage_line(topic: str) -> None:
    try:
        parse(topic)
    except GrammarError as err:
        assert "is not a `/chatrooms` command" not in err.message
        assert err.usage == USAGE[topic]
    assert help_text(topic).startswith(f"*/chatrooms {topic}*")


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_one_alias_table_serves_the_parser_and_the_help(alias: str, name: str) -> None:
    assert help_text(alias) == help_text(name)
    assert parse(f"help {alias}") == parse(f"help {name}")
    for text in ("", " lobby", " list"):
        try:
            same = parse(name + text)
        except GrammarError as err:
            with pytest.raises(GrammarError) as caught:
                parse(alias + text)
            assert caught.value.message == err.message
        else:
            assert parse(alias + text) == same
