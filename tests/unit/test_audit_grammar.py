"""`/chatrooms audit …` parses to an intent (pure), every mistake gets a specific message, and a page's
command text parses back to the same listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.grammar import AuditChannelIntent, AuditIntent, GrammarError, audit_text, help_text, parse_command

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def parse(text: str) -> object:
    return parse_command(text, now=NOW, zone=UTC)


def test_filters_a_chatroom_a_person_and_a_period() -> None:
    assert parse("audit") == AuditIntent()
    intent = parse("audit #1000001 user:<@U0ALEX|alex> since:7d page:2")
    assert intent == AuditIntent(chatroom_id=1000001, user_id="U0ALEX", since=NOW - timedelta(days=7), page=2)
    assert parse("audit since:2026-11-01") == AuditIntent(since=datetime(2026, 11, 1, tzinfo=UTC))
    assert parse("history by:U0ALEX") == AuditIntent(user_id="U0ALEX")


def test_channel_set_off_and_where() -> None:
    assert parse("audit channel <#C0OPSROOM|ops>") == AuditChannelIntent(channel_id="C0OPSROOM")
    assert parse("audit channel off") == AuditChannelIntent(off=True)
    assert parse("audit channel") == AuditChannelIntent()


@pytest.mark.parametrize(
    "text,words",
    [
        ("audit since:abc", "`since:abc` is not a date I understand"),
        ("audit since:2027-01-01", "is in the future"),
        ("audit user:nobody", "`user:nobody` is not a person I can find"),
        ("audit user:<#C0OPSROOM|ops>", "is a channel; `user:` takes a person"),
        ("audit user:<!here>", "takes one person"),
        ("audit 0", "not a chatroom id"),
        ("audit abc", "not a chatroom id"),
        ("audit 1000001 1000002", "`audit` takes one chatroom id"),
        ("audit colour:red", "`colour` is not an audit option"),
        ("audit sinse:7d", "Did you mean"),
        ("audit page:0", "not a page number"),
        ("audit since:1d since:2d", "given twice"),
        ("audit channel #ops", "pick the channel from Slack's autocomplete"),
        ("audit channel <#C0OPSROOM|ops> <#C0OTHERROOM|x>", "Give one channel"),
        ("audit channel <@U0ALEX>", "is a person, not a channel"),
    ],
)
def test_bad_input_gets_a_specific_message_and_the_usage(text: str, words: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse(text)
    assert words in caught.value.message
    assert "/chatrooms audit" in caught.value.usage


def test_a_page_s_text_parses_back_to_the_same_listing() -> None:
    intent = parse("audit 1000001 user:<@U0ALEX|alex> since:7d")
    assert isinstance(intent, AuditIntent)
    later = parse_command(audit_text(intent, 3), now=NOW + timedelta(hours=5), zone=UTC)
    assert later == intent.model_copy(update={"page": 3}), "the same period, even read hours later"
    assert audit_text(AuditIntent(), 1) == "audit"


def test_help_audit_says_who_may_set_the_channel_and_what_is_recorded() -> None:
    text = help_text("audit")
    assert "anyone who can use this app can set or change it" in text
    assert "never a password or token" in text
    assert "audit" in help_text(None)
