"""The audit trail's views: each entry in words (edits before → after), pages with Previous/Next, and a mirrored
entry — every payload one Slack takes, whatever people or Nexudus wrote (checked by the strict fake's rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack import ids
from bot.slack.payload_check import message_problems
from bot.slack.views.audit import audit_filters_text, entry_line, render_audit, render_mirror
from bot.store import AuditAction, AuditEntry, FieldChange

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
hostile = st.lists(
    st.sampled_from([*"ab <>&|@#!*_~`\n:;'\"é🙂", "&amp;", "<@U1>", "<!here>", "<https://x.y|z>"]), max_size=200
).map("".join)
ACTIONS = get_args(AuditAction)


def entry(action: str = "edit", **kw: object) -> AuditEntry:
    fields: dict[str, object] = {"at": NOW, "team_id": "T1", "user_id": "U1", "action": action}
    fields.update(kw)
    return AuditEntry.model_validate(fields)


def taken(msg: dict) -> None:
    assert [str(p) for p in message_problems(msg)] == []


def test_an_edit_shows_each_changed_field_before_and_after() -> None:
    line = entry_line(
        entry(
            chatroom_ids=[1000001],
            name="Front desk",
            changes=[
                FieldChange(field="name", before="Desk", after="Front desk"),
                FieldChange(field="active", before=True, after=False),
                FieldChange(field="users", before=[7000001], after=[]),
                FieldChange(field="last_agent_visit", before=None, after=NOW.isoformat()),
            ],
        )
    )
    assert line.startswith(f"<!date^{int(NOW.timestamp())}^")
    assert "<@U1> edited *Front desk* `#1000001`: Name “Desk” → “Front desk”; Active yes → no" in line
    assert "Members 7000001 → _empty_" in line and "Last agent visit never → <!date^" in line


def test_runs_say_their_outcome_and_an_unknown_one_says_so() -> None:
    ok = entry_line(entry("run", command="SET_ACTIVE", chatroom_ids=[1, 2], parameters=[("Active", "false")]))
    assert "ran `SET_ACTIVE` on `#1`, `#2` with Active=false" in ok and "❌" not in ok and "unknown" not in ok
    failed = entry_line(entry("run", command="X", outcome="failed", message="Priority must be between 1 and 5"))
    assert "❌" in failed and "with no chatroom chosen" in failed and "Nexudus said it did not succeed" in failed
    unknown = entry_line(entry("create", outcome="unknown", chatroom_ids=[], name="New"))
    assert "outcome unknown" in unknown and "may or may not have been applied" in unknown
    sent = entry_line(entry(outcome="unknown", changes=[FieldChange(field="name", after="X")], chatroom_ids=[1]))
    assert "edited `#1`: Name → “X”" in sent, "the value before is not known: not shown as empty"


def test_who_is_the_app_when_no_person_acted() -> None:
    assert "the app paused alerts `ab12`: login expired" in entry_line(
        entry("pause", user_id=None, subscription_id="ab12", detail="login expired")
    )


def test_a_page_has_previous_and_next_with_distinct_action_ids() -> None:
    msg = render_audit(
        [entry(), entry("delete")],
        summary="this workspace",
        offset=20,
        previous_value="audit",
        next_value="audit page:3",
    )
    taken(msg)
    paging = msg["blocks"][-1]
    assert [e["action_id"] for e in paging["elements"]] == [ids.AUDIT_PREVIOUS, ids.AUDIT_NEXT]
    assert "21–22, newest first" in str(msg)
    empty = render_audit([], summary="x", offset=0, previous_value=None, next_value=None)
    taken(empty)
    assert "Nothing recorded matches" in empty["text"]


def test_the_header_names_the_filters() -> None:
    assert audit_filters_text(None, None, None) == "this workspace"
    text = audit_filters_text(1000001, "U2", NOW - timedelta(days=7))
    assert "chatroom `#1000001`" in text and "by <@U2>" in text and "since <!date^" in text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=hostile, other=hostile, action=st.sampled_from(ACTIONS), outcome=st.sampled_from(["ok", "failed", "unknown"])
)
def test_every_entry_is_a_payload_slack_takes_whatever_the_text(
    name: str, other: str, action: str, outcome: str
) -> None:
    hostile_entry = entry(
        action,
        outcome=outcome,
        name=name,
        chatroom_ids=[1000001],
        changes=[FieldChange(field="name", before=other, after=name), FieldChange(field=other, before=1, after=name)],
        command=other,
        parameters=[(name, other)],
        message=other,
        email=name,
        subscription_id=other,
        channel_id="C0SUPPORT",
        detail=name,
        until=NOW,
    )
    taken(
        render_audit(
            [hostile_entry] * 20,
            summary=audit_filters_text(1, "U1", NOW),
            offset=0,
            previous_value="audit",
            next_value="audit page:2",
        )
    )
    taken(render_mirror(hostile_entry))
