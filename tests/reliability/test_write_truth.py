"""A write Nexudus accepted is reported as done, even when Nexudus fails right after it (issue 12.1).

The sandbox answers the write, then fails every request that follows (503 for "a few seconds"): the re-read
after the write fails. Before the fix the user was told "Nexudus is unavailable… Nothing was changed; try
again", and a retry created a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import RunningApp
from reliability_helpers import prefilled_state, wait_quiet

from bot.nexudus.client import ChatRoomChanges, NewChatRoom
from bot.nexudus.errors import UnexpectedResponse
from bot.nexudus.query import ChatRoomFilters
from bot.sandbox.db import SearchQuery
from bot.sandbox.server import Request, Response, SandboxServer, failure
from bot.slack import ids
from bot.slack.errors import describe
from bot.slack.views.chatrooms import saved_note


class FailAfterWrite:
    """Once a write was answered 2xx, every later request answers 503 until `healed`."""

    def __init__(self, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.broken = False
        self.failed = 0
        handle = sandbox.app.handle

        def handling(request: Request) -> Response:
            if self.broken:
                self.failed += 1
                return failure("Service unavailable", http_status=503)
            response = handle(request)
            if request.method in ("POST", "PUT", "DELETE") and 200 <= response.status < 300:
                self.broken = True
            return response

        monkeypatch.setattr(sandbox.app, "handle", handling)

    def heal(self) -> None:
        self.broken = False


@pytest.fixture
def outage(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FailAfterWrite]:
    yield FailAfterWrite(sandbox, monkeypatch)


def _text(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def _count_named(sandbox: SandboxServer, name: str) -> int:
    _, total = sandbox.app.db.search(SearchQuery(name=name))
    return total


def test_create_then_outage_is_reported_created_not_nothing_changed(
    logged_in: RunningApp, outage: FailAfterWrite
) -> None:
    app = logged_in
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Made during an outage"}}
    app.slack.submit(form, values)
    done = app.next("views.update").args["view"]
    wait_quiet(app.fake)
    assert outage.failed >= 1, "the re-read after the POST met the outage"
    assert done["title"]["text"] == "Chatroom created", _text(done)
    assert "Nothing was changed" not in _text(done)
    assert "do not submit it again" in _text(done)
    told = [c.args for c in app.fake.calls("response_url")]
    assert told and "Chatroom created" in _text(told[-1])
    outage.heal()
    assert _count_named(app.sandbox, "Made during an outage") == 1


def test_edit_then_outage_is_reported_saved(logged_in: RunningApp, outage: FailAfterWrite) -> None:
    app = logged_in
    app.slack.command("edit 1000003")
    form = app.next("views.update").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Renamed during an outage"}}
    app.slack.submit(form, values)
    saved = app.next("views.update").args["view"]
    assert outage.failed >= 1
    assert saved["title"]["text"] == "Saved", _text(saved)
    assert "Nothing was changed" not in _text(saved)
    outage.heal()
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    assert session.get(1_000_003).name == "Renamed during an outage"


def test_service_writes_return_saved_when_the_read_back_fails(logged_in: RunningApp, outage: FailAfterWrite) -> None:
    """Every write path of the services: create, edit, mark visited (delete and run re-read nothing)."""
    app = logged_in
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    created = session.create(NewChatRoom(business_id=9001, name="Service create"))
    assert not created.confirmed and created.room.id > 0
    assert created.room.name == "Service create"
    outage.heal()
    edited = session.edit(
        1_000_004, ChatRoomChanges(name="Service edit"), expected_updated_on=None, expected_fingerprint=None
    )
    assert not edited.confirmed and edited.room.name == "Service edit"
    outage.heal()
    when = app.clock() - timedelta(minutes=5)
    visited = session.mark_visited(1_000_005, when)
    assert visited.last_agent_visit == when
    outage.heal()
    assert session.get(1_000_005).last_agent_visit == when
    assert session.find(ChatRoomFilters(name="Service create")).total_items == 1


def test_a_confirmed_write_that_reads_back_otherwise_names_the_fields(
    logged_in: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify after the write: when the record does not hold what was written, say so."""
    app = logged_in
    handle = app.sandbox.app.handle

    def someone_else_right_after(request: Request) -> Response:
        response = handle(request)
        if request.method == "PUT":
            app.sandbox.app.db.update_fields([1_000_006], app.clock(), "someone@else", name="Their name")
        return response

    monkeypatch.setattr(app.sandbox.app, "handle", someone_else_right_after)
    session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
    saved = session.edit(
        1_000_006, ChatRoomChanges(name="My name"), expected_updated_on=None, expected_fingerprint=None
    )
    assert saved.confirmed and saved.differs == ("name",)
    assert saved.room.name == "Their name"
    note = saved_note(saved) or ""
    assert "now shows other values for: name" in note and "Someone changed it" in note


def test_a_2xx_write_answer_that_cannot_be_read_may_have_been_applied() -> None:
    exc = UnexpectedResponse(200, "no Id for the new chatroom", maybe_applied=True)
    text = describe(exc).text
    assert "may or may not have been applied" in text and "Nothing was changed" not in text


def test_inline_edit_then_outage_is_reported_saved(logged_in: RunningApp, outage: FailAfterWrite) -> None:
    app = logged_in
    app.slack.command('edit 1000008 name:"Inline during an outage"')
    reply = app.next("response_url").args
    assert outage.failed >= 1
    assert "✅ Saved name" in _text(reply) and "do not submit it again" in _text(reply), _text(reply)
    assert "Nothing was changed" not in _text(reply)
    outage.heal()
    assert app.sandbox.app.db.get(1_000_008).name == "Inline during an outage"


def test_a_create_whose_modal_was_closed_is_still_reported(logged_in: RunningApp) -> None:
    """Every outcome reaches the user even if they closed the modal: Slack answers views.update not_found."""
    app = logged_in
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Made, modal closed"}}
    for _ in range(3):
        app.fake.fail_next("views.update", "not_found")  # closed: every update of it fails
    app.slack.submit(form, values)
    wait_quiet(app.fake)
    told = _text([c.args for c in app.fake.calls("response_url")])
    assert "Chatroom created" in told and "Made, modal closed" in told, told
    assert "Something went wrong" not in told
    assert _count_named(app.sandbox, "Made, modal closed") == 1
