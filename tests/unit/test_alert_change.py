"""`alerts change ID …`: every option changed or turned off, bad values refused clearly, the rules applied
to the subscription as it is, and the words that announce (and reproduce) a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.digests import as_posted, digest_rows, unfollowed
from bot.nexudus.models import ChatRoom
from bot.slack.grammar import AlertsChangeIntent, GrammarError, parse_command
from bot.slack.views.alerts import changed_notice, changes_text, option_words
from bot.stale import unseen_resolved
from bot.store import OPTION_FIELDS, AlertRecord, Digest, Scope, Subscription
from bot.subscribing import days_text, duration, options_text
from bot.subscriptions import (
    Change,
    EscalationIncomplete,
    EscalationNotLater,
    NotTheirs,
    SameAlertsExist,
    apply_change,
    changed_options,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LEADS = "<!subteam^S0LEADS|@support-leads>"


def parse(text: str) -> AlertsChangeIntent:
    intent = parse_command(f"alerts change 3f9a2c01 {text}", now=NOW, zone=UTC)
    assert isinstance(intent, AlertsChangeIntent)
    return intent


def sub(**options: object) -> Subscription:
    fields: dict[str, object] = {
        "id": "3f9a2c01",
        "team_id": "T1",
        "channel_id": "C0ALERTS",
        "created_by": "U1",
        "threshold_minutes": 240,
        "created_at": NOW,
    }
    fields.update(options)
    return Subscription.model_validate(fields)


FULL = sub(
    business_id=9001,
    escalate_after_minutes=480,
    escalate_to="S0LEADS",
    open_hours=(480, 1200),
    open_days=(0, 1, 2, 3, 4),
    zone="Europe/Paris",
    summary_minute=540,
)


# ------------------------------------------------------------------------------------------ grammar


@pytest.mark.parametrize(
    "text,changes",
    [
        ("after:6h", {"threshold_minutes": 360}),
        ("business:9002", {"business_id": 9002}),
        (f"escalate-after:12h escalate-to:{LEADS}", {"escalate_after_minutes": 720, "escalate_to": "S0LEADS"}),
        ("escalate-after:12h", {"escalate_after_minutes": 720}),
        ("escalate-to:<@U0LEAD|lead>", {"escalate_to": "U0LEAD"}),
        ("hours:09:00-18:00", {"open_hours": (540, 1080)}),
        ("days:sat,sun", {"open_days": (5, 6)}),
        ("zone:America/New_York", {"zone": "America/New_York"}),
        ("summary:08:30", {"summary_minute": 510}),
    ],
)
def test_every_option_can_be_changed(text: str, changes: dict[str, object]) -> None:
    assert parse(text).changes() == changes


@pytest.mark.parametrize(
    "text,cleared",
    [
        ("business:off", ("business_id",)),
        ("business:all", ("business_id",)),
        ("escalate-after:off", ("escalate_after_minutes", "escalate_to")),
        ("escalate-to:off", ("escalate_after_minutes", "escalate_to")),
        ("escalate-after:off escalate-to:off", ("escalate_after_minutes", "escalate_to")),
        ("hours:off", ("open_hours",)),
        ("days:OFF", ("open_days",)),
        ("zone:none", ("zone",)),
        ("summary:off", ("summary_minute",)),
    ],
)
def test_every_option_can_be_turned_off(text: str, cleared: tuple[str, ...]) -> None:
    assert parse(text).changes() == dict.fromkeys(cleared)


def test_several_changes_at_once() -> None:
    intent = parse("hours:09:00-18:00 escalate-after:off summary:off after:1h30m")
    assert intent.subscription_id == "3f9a2c01"
    assert intent.changes() == {
        "threshold_minutes": 90,
        "open_hours": (540, 1080),
        "escalate_after_minutes": None,
        "escalate_to": None,
        "summary_minute": None,
    }


@pytest.mark.parametrize("action", ["edit", "update", "set", "modify", "CHANGE"])
def test_change_has_the_usual_synonyms(action: str) -> None:
    intent = parse_command(f"alerts {action} ab12 summary:off", now=NOW, zone=UTC)
    assert isinstance(intent, AlertsChangeIntent)


@pytest.mark.parametrize(
    "text,words",
    [
        ("alerts change", "Which subscription?"),
        ("alerts change hours:off", "is not a subscription ID"),
        ("alerts change ab!cd hours:off", "is not a subscription ID"),
        ("alerts change ab12", "What should change?"),
        ("alerts change ab12 after:off", "alerts always have a threshold"),
        ("alerts change ab12 after:soon", "is not a duration"),
        ("alerts change ab12 after:1m", "too short"),
        ("alerts change ab12 business:nine", "business must be a positive whole number"),
        ("alerts change ab12 escalate-after:never", "is not a duration"),
        ("alerts change ab12 escalate-to:@leads", "pick one from Slack's autocomplete"),
        ("alerts change ab12 escalate-to:<!channel>", "would notify everyone"),
        ("alerts change ab12 escalate-after:off escalate-to:<@U0LEAD>", "contradict each other"),
        ("alerts change ab12 after:8h escalate-after:4h", "must be longer than"),
        ("alerts change ab12 hours:9-5", "is not a time of day"),
        ("alerts change ab12 hours:09:00", "is not a range of hours"),
        ("alerts change ab12 hours:09:00-09:00", "opens and closes at the same time"),
        ("alerts change ab12 days:someday", "is not a day"),
        ("alerts change ab12 zone:Mars/Olympus", "is not a time zone I know"),
        ("alerts change ab12 summary:25:00", "is not a time of day"),
        ("alerts change ab12 summary:off summary:09:00", "given twice"),
        ("alerts change ab12 <#C0OTHER|other> summary:off", "Alerts stay in their channel"),
        ("alerts change ab12 hourz:off", "Did you mean"),
        ("alerts chnage ab12 hours:off", "Did you mean `change`?"),
    ],
)
def test_bad_input_is_answered_clearly(text: str, words: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command(text, now=NOW, zone=UTC)
    assert words in caught.value.message
    assert "alerts change ID" in caught.value.usage


def test_off_when_subscribing_means_leaving_the_option_out() -> None:
    intent = parse_command("alerts subscribe hours:off summary:off after:1h", now=NOW, zone=UTC)
    assert intent.model_dump(exclude_none=True) == {"threshold_minutes": 60}


# ------------------------------------------------------------------------------------ the rules


def change(values: dict[str, object], by: str = "U1", channel: str | None = "C0ALERTS") -> Change:
    return Change(values=values, by=by, channel_id=channel)


def test_a_change_keeps_every_option_it_does_not_name() -> None:
    after = apply_change(FULL, [], change({"open_hours": (540, 1080)}), NOW)
    assert changed_options(FULL, after) == ["open_hours"]
    assert after.model_copy(update={"open_hours": FULL.open_hours}) == FULL


def test_escalation_needs_both_halves_of_the_subscription_as_it_is() -> None:
    with pytest.raises(EscalationIncomplete) as caught:
        apply_change(sub(), [], change({"escalate_after_minutes": 480}), NOW)
    assert caught.value.missing == "escalate-to"
    with pytest.raises(EscalationIncomplete) as caught:
        apply_change(sub(), [], change({"escalate_to": "U0LEAD"}), NOW)
    assert caught.value.missing == "escalate-after"
    assert apply_change(FULL, [], change({"escalate_to": "U0LEAD"}), NOW).escalate_to == "U0LEAD"


def test_a_raised_threshold_must_stay_below_the_escalation() -> None:
    with pytest.raises(EscalationNotLater) as caught:
        apply_change(FULL, [], change({"threshold_minutes": 600}), NOW)
    assert (caught.value.escalate_after_minutes, caught.value.threshold_minutes) == (480, 600)
    off = {"threshold_minutes": 600, "escalate_after_minutes": None, "escalate_to": None}
    assert apply_change(FULL, [], change(off), NOW).threshold_minutes == 600


def test_only_the_creator_or_the_channel_itself_may_change_it() -> None:
    with pytest.raises(NotTheirs):
        apply_change(FULL, [], change({"summary_minute": None}, by="U2", channel="C0ELSE"), NOW)
    assert apply_change(FULL, [], change({"summary_minute": None}, by="U2"), NOW).summary_minute is None
    assert apply_change(FULL, [], change({"summary_minute": None}, channel="C0ELSE"), NOW).summary_minute is None


def test_a_change_may_not_duplicate_another_subscription_of_the_channel() -> None:
    other = sub(id="other", threshold_minutes=360, business_id=9001)
    with pytest.raises(SameAlertsExist) as caught:
        apply_change(FULL, [other], change({"threshold_minutes": 360}), NOW)
    assert caught.value.existing_id == "other"


def test_raising_the_threshold_holds_unseen_rooms_for_the_difference() -> None:
    after = apply_change(sub(), [], change({"threshold_minutes": 360}), NOW)
    assert after.raised_threshold_until == NOW + timedelta(hours=2)
    assert apply_change(sub(), [], change({"threshold_minutes": 60}), NOW).raised_threshold_until is None


def record(visit: datetime | None, **kw: object) -> AlertRecord:
    return AlertRecord(
        subscription_id="3f9a2c01",
        chatroom_id=1,
        last_agent_visit=visit,
        channel_id="C0ALERTS",
        message_ts="1.1",
        alerted_at=NOW,
        **kw,
    )


def test_an_unseen_room_is_resolved_only_when_the_scan_would_have_found_it() -> None:
    cutoff = NOW - timedelta(hours=6)  # the threshold was raised from 4 h to 6 h
    assert unseen_resolved(record(NOW - timedelta(hours=7)), sub(), cutoff, NOW)  # visited since
    assert not unseen_resolved(record(NOW - timedelta(hours=5)), sub(), cutoff, NOW)  # not yet 6 h
    assert not unseen_resolved(record(NOW - timedelta(hours=7), resolved_at=NOW), sub(), cutoff, NOW)
    held = sub(raised_threshold_until=NOW + timedelta(hours=2))
    assert unseen_resolved(record(None), sub(), cutoff, NOW)  # never visited, no change: visited or closed
    assert not unseen_resolved(record(None), held, cutoff, NOW)
    assert unseen_resolved(record(None), held, cutoff, NOW + timedelta(hours=2))


# ------------------------------------------------------------------------------------------ words


def test_the_announcement_says_each_change_before_and_after() -> None:
    after = FULL.model_copy(update={"open_hours": (540, 1080), "escalate_after_minutes": None, "escalate_to": None})
    words = changes_text(FULL, after)
    assert words == "escalation to <!subteam^S0LEADS> after 8 h → *off* · hours 08:00–20:00 → *09:00–18:00*"
    notice = changed_notice(FULL, after, "U2")
    assert "<@U2> changed the stale-visit alerts `3f9a2c01`" in notice["text"]
    assert "not alerted again" in notice["text"]


@pytest.mark.parametrize(
    "before,after",
    [
        (sub(), FULL),
        (FULL, sub()),
        (sub(threshold_minutes=90), sub(threshold_minutes=1800, open_days=(0, 2, 4))),
    ],
)
def test_the_suggested_change_command_does_what_it_says(before: Subscription, after: Subscription) -> None:
    """`alerts subscribe` for alerts a channel already has suggests an `alerts change` that gives them."""
    words = " ".join(option_words(before, after))
    result = apply_change(before, [], change(parse(words).changes()), NOW)
    assert [getattr(result, name) for name in OPTION_FIELDS] == [getattr(after, name) for name in OPTION_FIELDS]


# ------------------------------------------------------------------------------ digests posted before


def test_a_digest_posted_before_a_change_is_redrawn_as_it_was_posted() -> None:
    digest = Digest(
        subscription_id="3f9a2c01",
        channel_id="C0ALERTS",
        message_ts="1.1",
        chatroom_ids=[1],
        posted_at=NOW,
        scope=Scope(threshold_minutes=240, business_id=9001),
    )
    now = sub(threshold_minutes=360, business_id=9002)
    shown = as_posted(now, digest)
    assert (shown.threshold_minutes, shown.business_id) == (240, 9001)
    assert unfollowed(digest, now) and not unfollowed(digest, sub(business_id=None))
    room = ChatRoom.model_validate({"Id": 1, "Name": "Front desk", "UpdatedOn": "2026-11-25T10:00:00Z"})
    resolved = {1: record(NOW - timedelta(hours=5), resolved_at=NOW)}
    [row] = digest_rows(digest, resolved, {1: room}, NOW, unfollowed=True)
    assert row.state == "unfollowed"  # it may have left the business rather than been visited


@pytest.mark.parametrize(
    "minutes,days",
    [(240, (0, 1, 2, 3, 4)), (90, (0, 2, 4)), (2880, (5, 6)), (1440 + 60, (6, 0, 1)), (5, (3,))],
)
def test_the_options_the_audit_trail_records_read_back_as_the_same_options(minutes: int, days: tuple[int, ...]) -> None:
    """The audit trail writes options as people type them (`after:4h days:mon-fri`), and they mean the same."""
    sub = Subscription(
        team_id="T1",
        channel_id="C1",
        created_by="U1",
        threshold_minutes=minutes,
        escalate_after_minutes=minutes * 2,
        escalate_to="S0LEADS",
        open_hours=(480, 1200),
        open_days=days,
        zone="Europe/Paris",
        summary_minute=540,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    text = options_text(sub)
    changes = parse(text).changes()
    assert changes == {
        "threshold_minutes": minutes,
        "escalate_after_minutes": minutes * 2,
        "open_hours": (480, 1200),
        "open_days": tuple(sorted(days)),
        "zone": "Europe/Paris",
        "summary_minute": 540,
    }


def test_whole_hours_and_days_are_written_in_their_unit_and_runs_of_days_as_ranges() -> None:
    assert [duration(m) for m in (240, 2880, 90, 5, 1500)] == ["4h", "2d", "90m", "5m", "25h"]
    assert [days_text(d) for d in ((0, 1, 2, 3, 4), (5, 6), (0, 2, 4), (6, 0, 1))] == [
        "mon-fri",
        "sat,sun",
        "mon,wed,fri",
        "mon,tue,sun",
    ]
