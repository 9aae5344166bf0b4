"""Whatever Nexudus or a person puts in a name, an e-mail, a command or an error, every view is a payload
Slack takes: checked with `slack_sdk.models` and Slack's other rules (bot.slack.payload_check), which
include `&`, `<` and `>` escaped in mrkdwn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digests import DigestMessage
from bot.nexudus.errors import CommandFailed, Conflict, NotFound, ValidationFailed
from bot.nexudus.models import ActionResult, ChatRoom, Command, FieldError, Page
from bot.slack import ids
from bot.slack.errors import describe
from bot.slack.payload_check import message_problems, view_problems
from bot.slack.views.alerts import HomeSection, StaleRow, render_digest, render_home, render_subscriptions
from bot.slack.views.chatrooms import render_cards, render_compact, render_list, render_notice, render_result
from bot.slack.views.commands import render_commands, render_run_result, result_modal, run_modal, too_many_text
from bot.slack.views.modals import chatroom_form, delete_modal, info_modal, login_modal, room_values
from bot.store import Subscription

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# Text as Nexudus or a person may write it, with Slack's control characters well represented.
hostile = st.lists(
    st.sampled_from([*"ab <>&|@#!*_~`\n:;'\"é🙂", "&amp;", "<@U1>", "<!here>", "<https://x.y|z>"]), max_size=120
).map("".join)
visits = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)),
)


def room(i: int, name: str, visit: datetime | None, who: str) -> ChatRoom:
    data = {"Id": i, "Name": name, "Active": True, "BusinessId": 9001, "Users": [7000001], "UpdatedBy": who}
    room = ChatRoom.model_validate(data)
    return room.model_copy(update={"last_agent_visit": visit, "updated_on": NOW})


def assert_taken(payload: dict, *, view: bool = False) -> None:
    problems = view_problems(payload) if view else message_problems(payload)
    assert [str(p) for p in problems] == []


@FUZZ
@given(name=hostile, other=hostile, visit=visits)
def test_chatroom_views_take_any_name(name: str, other: str, visit: datetime | None) -> None:
    rooms = [room(1_000_001, name, visit, other), room(1_000_002, other, None, name)]
    page = Page(records=rooms, current_page=2, page_size=2, total_items=6, total_pages=3, first_item=3)
    assert_taken(render_list(page, summary=name, previous_value="list page:1", next_value="list page:3", now=NOW))
    for msg in render_cards(rooms, [5], NOW, UTC):
        assert_taken(msg)
    assert_taken(render_compact(rooms, NOW))
    assert_taken(render_result("✅ Saved name", room=rooms[0], now=NOW, zone=UTC))
    form = chatroom_form(
        callback_id=ids.EDIT_MODAL,
        title=f"Edit #{rooms[0].id}",
        submit="Save",
        private_metadata="{}",
        values=room_values(rooms[0]),
        errors={ids.F_NAME: name, "": other, "Unknown": name},
        note=describe(Conflict(rooms[0])).text,
    )
    assert_taken(form, view=True)
    assert_taken(delete_modal(rooms[0], "{}"), view=True)
    assert_taken(login_modal("{}", email="", error=name), view=True)


@FUZZ
@given(name=hostile, key=hostile, said=hostile)
def test_command_views_take_any_name_and_nexudus_message(name: str, key: str, said: str) -> None:
    command = Command.model_validate(
        {
            "Key": key or "K",
            "Name": name,
            "AppliesOnlyToOneEntity": True,
            "DisplayInDropdown": True,
            "RequiresParameters": [{"Name": name, "Type": "DateTime"}, {"Name": said, "Type": "Colour"}],
        }
    )
    result = ActionResult.model_validate({"WasSuccessful": bool(said), "Message": said})
    assert_taken(render_commands([command]))
    assert_taken(render_run_result(command, result, [1, 2]))
    assert_taken(result_modal(command, result, 2), view=True)
    rooms = [(1, name), (2, said)]
    note = describe(CommandFailed(said)).text
    assert_taken(
        run_modal(choices=[command], command=command, pick=True, rooms=rooms, private_metadata="{}", note=note),
        view=True,
    )
    assert_taken(render_notice(too_many_text(command)))


@FUZZ
@given(name=hostile, said=hostile, email=hostile)
def test_errors_and_notices_take_any_text(name: str, said: str, email: str) -> None:
    refused = ValidationFailed(said, [FieldError.model_validate({"PropertyName": name, "Message": said})])
    for exc in (refused, CommandFailed(said), NotFound(5), KeyError(said)):
        text = describe(exc).text
        assert_taken(render_notice(text, login_button=True))
        assert_taken(info_modal("Something's wrong", text), view=True)


@FUZZ
@given(name=hostile, other=hostile, email=hostile)
def test_alert_views_take_any_name(name: str, other: str, email: str) -> None:
    sub = Subscription.model_validate(
        {
            "id": "s1",
            "team_id": "T",
            "channel_id": "C1",
            "created_by": "U1",
            "threshold_minutes": 240,
            "created_at": NOW,
        }
    )
    rows = [
        StaleRow(1, name, NOW - timedelta(hours=5)),
        StaleRow(2, other, None, created_on=NOW - timedelta(days=3), state="snoozed", by="U2", until=NOW),
        StaleRow(3, name, None, state="resolved", by="U1"),
        StaleRow(4, other, None, state="gone"),
    ]
    assert_taken(render_digest(sub, DigestMessage(rows, more=3, now=NOW)))
    assert_taken(render_subscriptions([sub], "C1", note="🔕 Removed"))
    section = HomeSection(f"Waiting · {name}", sub.id, rows, 9)
    assert_taken(render_home(email=email, subscriptions=[sub], sections=[section], now=NOW), view=True)
