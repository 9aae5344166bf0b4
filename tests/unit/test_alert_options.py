"""The new `alerts subscribe` options (escalation, quiet hours, daily summary): parsed, or refused clearly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.schedule import is_open
from bot.slack.grammar import AlertsSubscribeIntent, GrammarError, parse_command
from bot.store import Subscription

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
LEADS = "<!subteam^S0LEADS|@support-leads>"


def test_every_option_parsed() -> None:
    intent = parse_command(
        f"alerts subscribe after:4h escalate-after:8h escalate-to:{LEADS} hours:08:00-20:00 days:mon-fri "
        "zone:Europe/Paris summary:09:00",
        now=NOW,
        zone=UTC,
    )
    assert intent == AlertsSubscribeIntent(
        threshold_minutes=240,
        escalate_after_minutes=480,
        escalate_to="S0LEADS",
        hours=(480, 1200),
        days=(0, 1, 2, 3, 4),
        zone="Europe/Paris",
        summary_minute=540,
    )


@pytest.mark.parametrize(
    "days,expected",
    [("fri-mon", (0, 4, 5, 6)), ("mon,wed,FRIDAY", (0, 2, 4)), ("weekends", (5, 6)), ("tues-thurs", (1, 2, 3))],
)
def test_days_ranges_lists_and_words(days: str, expected: tuple[int, ...]) -> None:
    intent = parse_command(f"alerts subscribe days:{days}", now=NOW, zone=UTC)
    assert isinstance(intent, AlertsSubscribeIntent) and intent.days == expected


def test_a_user_mention_escalates_to_that_user() -> None:
    intent = parse_command("alerts subscribe escalate-after:8h escalate-to:<@U0LEAD|lead>", now=NOW, zone=UTC)
    assert isinstance(intent, AlertsSubscribeIntent) and intent.escalate_to == "U0LEAD"


def _sub(**options: object) -> Subscription:
    return Subscription(
        team_id="T", channel_id="C0ALERTS", created_by="U1", threshold_minutes=60, created_at=NOW, **options
    )


@pytest.mark.parametrize(
    "hour,weekday_offset,open_",
    [(7, 0, False), (8, 0, True), (19, 0, True), (20, 0, False), (23, 0, False)],
)
def test_quiet_hours(hour: int, weekday_offset: int, open_: bool) -> None:
    when = NOW.replace(hour=hour)
    assert is_open(_sub(open_hours=(480, 1200)), when, UTC) is open_


def test_night_hours_belong_to_the_day_they_started() -> None:
    night = _sub(open_hours=(22 * 60, 6 * 60), open_days=(0, 1, 2, 3, 4))  # Mon 22:00 → Sat 06:00
    saturday_early = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    saturday_late = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    monday_early = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert is_open(night, saturday_early, UTC)  # Friday's night
    assert not is_open(night, saturday_late, UTC)
    assert not is_open(night, monday_early, UTC)  # Sunday's night
    assert not is_open(night, NOW, UTC)  # Wednesday noon


def test_hours_are_read_in_the_subscription_zone() -> None:
    from zoneinfo import ZoneInfo

    sub = _sub(open_hours=(480, 1200))
    assert is_open(sub, NOW.replace(hour=7, minute=30), ZoneInfo("Europe/Paris"))  # 08:30 in Paris
    assert not is_open(sub, NOW.replace(hour=19, minute=30), ZoneInfo("Europe/Paris"))  # 20:30 in Paris


@pytest.mark.parametrize(
    "option,words",
    [
        ("escalate-after:8h", "needs someone to escalate to"),
        (f"escalate-to:{LEADS}", "needs to know when"),
        ("escalate-after:soon escalate-to:<@U0LEAD>", "is not a duration"),
        ("escalate-after:8h escalate-to:@leads", "pick one from Slack's autocomplete"),
        ("escalate-after:8h escalate-to:<#C0SUPPORT|support>", "is a channel"),
        ("escalate-after:8h escalate-to:<!here>", "would notify everyone"),
        ("after:8h escalate-after:4h escalate-to:<@U0LEAD>", "must be longer than"),
        ("hours:8-20", "is not a time of day"),
        ("hours:08:00", "is not a range of hours"),
        ("hours:09:00-09:00", "opens and closes at the same time"),
        ("days:funday", "is not a day"),
        ("days:mon-", "is not a day"),
        ("zone:Mars/Olympus", "is not a time zone I know"),
        ("summary:9am", "is not a time of day"),
        ("summary:24:00", "is not a time of day"),
        ("escalte:8h", "Did you mean"),
    ],
)
def test_bad_input_to_every_new_option_is_answered_clearly(option: str, words: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command(f"alerts subscribe {option}", now=NOW, zone=UTC)
    assert words in caught.value.message
    assert "alerts subscribe" in caught.value.usage  # with the usage, as every grammar mistake
