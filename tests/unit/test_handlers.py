"""Handlers are plain functions: called here with a `Ctx` over fakes, no Bolt app, no HTTP.

The registration helpers (bot/slack/handlers.py) are tested the same way: the ack and lazy functions they
install are called with what Bolt would pass.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.deps import Deps
from bot.nexudus.errors import Conflict
from bot.nexudus.models import ChatRoom
from bot.services import Saved
from bot.slack import ids
from bot.slack.context import Ctx, Once
from bot.slack.handlers import Click, Handlers
from bot.slack.listeners import chatrooms, run
from bot.slack.listeners.router import Router
from bot.slack.metadata import EditContext, OutOfDate
from bot.slack.submissions import field_digests
from bot.slack.views.modals import room_values, shown_values

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROOM = ChatRoom.model_validate(
    {"Id": 1000001, "BusinessId": 9004, "Name": "Front desk", "Active": True, "UpdatedOn": "2026-11-25T10:00:00Z"}
)


class FakeClient:
    """The Slack Web API calls a handler makes, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def views_update(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("views.update", kwargs))
        return {"ok": True}

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("chat.postMessage", kwargs))
        return {"ok": True}

    def texts(self) -> str:
        return repr(self.calls)


class FakeSession:
    def __init__(self, edit_raises: Exception | None = None) -> None:
        self.edits: list[tuple[int, Any]] = []
        self.edit_raises = edit_raises

    def edit(self, chatroom_id: int, changes: Any, **_: Any) -> Saved:
        self.edits.append((chatroom_id, changes))
        if self.edit_raises is not None:
            raise self.edit_raises
        return Saved(room=ROOM.model_copy(update={"name": changes.name or ROOM.name}))


def make_ctx(session: FakeSession | None = None) -> tuple[Ctx, FakeClient]:
    services = SimpleNamespace(
        session=lambda team, user, **_: session or FakeSession(), refused_roles=lambda team, user: frozenset()
    )
    deps: Any = SimpleNamespace(
        services=services, clock=lambda: NOW, zone=UTC, settings=None, refresh_home=None, journal=None
    )
    client = FakeClient()
    ctx = Ctx(deps=deps, client=client, team_id="T1", user_id="U1", view_id="V1")  # type: ignore[arg-type]
    return ctx, client


def edit_meta() -> EditContext:
    return EditContext(
        chatroom_id=ROOM.id,
        updated_on=ROOM.updated_on,
        fingerprint=ROOM.fingerprint(),
        initial=field_digests(shown_values(room_values(ROOM))),
    )


# ------------------------------------------------------------------------------------ handlers alone
def test_save_edit_with_nothing_changed_saves_nothing_and_says_so() -> None:
    session = FakeSession()
    ctx, client = make_ctx(session)
    chatrooms.save_edit(ctx, edit_meta(), shown_values(room_values(ROOM)))
    assert session.edits == []
    assert client.calls[0][0] == "views.update" and "Nothing changed" in client.texts()


def test_save_edit_saves_only_the_changed_field_and_reports_it() -> None:
    session = FakeSession()
    ctx, client = make_ctx(session)
    chatrooms.save_edit(ctx, edit_meta(), {**shown_values(room_values(ROOM)), ids.F_NAME: "Back office"})
    assert [(i, c.model_fields_set) for i, c in session.edits] == [(ROOM.id, {"name"})]
    assert "saved (name)" in client.texts() and "chat.postMessage" in client.texts()  # modal and privately


def test_save_edit_on_a_changed_record_shows_the_form_again_with_the_users_change() -> None:
    current = ROOM.model_copy(update={"name": "Renamed elsewhere", "updated_by": "Ana"})
    session = FakeSession(edit_raises=Conflict(current))
    ctx, client = make_ctx(session)
    chatrooms.save_edit(ctx, edit_meta(), {**shown_values(room_values(ROOM)), ids.F_ACTIVE: False})
    name, update = client.calls[0]
    assert name == "views.update" and update["view"]["callback_id"] == ids.EDIT_MODAL
    assert "Ana changed this chatroom after you opened it" in repr(update["view"])


@pytest.mark.parametrize(
    ("handler", "action", "words"),
    [
        (chatrooms.delete_clicked, {"value": "1000001; DROP TABLE"}, "no valid chatroom id"),
        (chatrooms.show_clicked, {"value": "3000000000"}, "no valid chatroom id"),
        (chatrooms.row_menu_chosen, {"selected_option": {"value": "explode:1000001"}}, "not one this app knows"),
        (chatrooms.page_clicked, {"value": "delete 1000001"}, "out of date"),
        (run.run_command_clicked, {"value": "not a key!"}, "no valid command key"),
    ],
)
def test_a_forged_button_is_refused_in_words(handler: Any, action: dict[str, Any], words: str) -> None:
    ctx, client = make_ctx()
    with pytest.raises(OutOfDate, match=words):
        handler(ctx, Click(action))
    assert client.calls == []


# ------------------------------------------------------------------------------- the helpers
class FakeApp:
    """Captures what `Handlers.install` registers, as Bolt's App would."""

    def __init__(self) -> None:
        self.views: list[tuple[re.Pattern[str], Any]] = []

    def view(self, callback_ids: re.Pattern[str]) -> Any:
        def register(listener: Any) -> None:
            self.views.append((callback_ids, listener))

        return register


class Later:
    """The hand-off after the ack (bot/slack/handoff.py), kept to be run when the test says."""

    def __init__(self) -> None:
        self.work: list[tuple[str, Any]] = []

    def __call__(self, what: str, work: Any) -> None:
        self.work.append((what, work))

    def run(self) -> None:
        while self.work:
            self.work.pop(0)[1]()


def installed_submission(handler: Any) -> tuple[Any, Later]:
    handlers = Handlers()
    handlers.submission(
        ids.EDIT_MODAL, meta=EditContext, parse=chatrooms.parse_changes, title="Edit chatroom", loading="Saving"
    )(handler)
    app = FakeApp()
    deps: Any = SimpleNamespace(clock=lambda: NOW, zone=UTC, journal=None)
    later = Later()
    handlers.install(app, deps, Router(), Once(), later)  # type: ignore[arg-type]
    ((pattern, listener),) = app.views  # one listener for every modal, dispatching by callback_id
    assert pattern.search(ids.EDIT_MODAL) and not pattern.search(ids.EDIT_MODAL + "x")
    return listener, later


def edit_view(meta: str, name: str = "Back office", hash_: str = "h1") -> dict[str, Any]:
    state = {
        ids.F_BUSINESS: {ids.F_BUSINESS: {"type": "plain_text_input", "value": "9004"}},
        ids.F_NAME: {ids.F_NAME: {"type": "plain_text_input", "value": name}},
    }
    return {
        "id": "V1",
        "callback_id": ids.EDIT_MODAL,
        "hash": hash_,
        "private_metadata": meta,
        "state": {"values": state},
    }


BODY = {"user": {"id": "U1", "team_id": "T1"}}


def test_the_submission_ack_answers_forged_metadata_field_errors_and_loading() -> None:
    listener, later = installed_submission(lambda ctx, meta, values: None)
    answers: list[dict[str, Any]] = []

    def ack(**kwargs: Any) -> None:
        answers.append(kwargs)

    for view in (edit_view("{forged"), edit_view(edit_meta().dump(), name=""), edit_view(edit_meta().dump())):
        listener(ack=ack, body=BODY, client=FakeClient(), context={}, view=view)
    assert answers[0]["response_action"] == "update" and "out of date or was altered" in repr(answers[0]["view"])
    assert answers[1] == {"response_action": "errors", "errors": {ids.F_NAME: "Give the chatroom a name."}}
    assert answers[2]["response_action"] == "update" and "Saving" in repr(answers[2]["view"])
    assert [what for what, _ in later.work] == [ids.EDIT_MODAL]  # only the valid form has work after its ack


def test_the_submission_runs_once_per_view_and_hash_with_the_values_the_ack_parsed() -> None:
    runs: list[tuple[Any, Any]] = []
    listener, later = installed_submission(lambda ctx, meta, values: runs.append((ctx, meta, values)))
    view = edit_view(edit_meta().dump())
    for _ in range(2):  # a double click
        listener(ack=lambda **_: None, body=BODY, client=FakeClient(), context={}, view=view)
    listener(ack=lambda **_: None, body=BODY, client=FakeClient(), context={}, view=edit_view("{forged"))
    later.run()
    assert len(runs) == 1
    ctx, meta, values = runs[0]
    assert meta == edit_meta() and values[ids.F_NAME] == "Back office"
    assert (ctx.team_id, ctx.user_id, ctx.view_id) == ("T1", "U1", "V1")
    assert ctx.response_url == edit_meta().response_url


def test_an_app_whose_subcommand_has_no_handler_is_refused_at_build() -> None:
    from bot.slack.grammar import ListIntent, ShowIntent

    router = Router()
    router.on(ListIntent, lambda intent, ctx: None)
    with pytest.raises(RuntimeError, match="no handler for ShowIntent"):
        router.require([ListIntent, ShowIntent])


def test_the_app_tries_one_listener_for_every_button_and_one_for_every_modal(deps: Deps) -> None:
    """Bolt tests each listener's matcher in turn for every request (~50 µs each): with one listener per
    action id the ack of a burst queued behind ~1.4 ms of matching per request (bench/gunicorn_ack.py)."""
    from bot.slack.app import FEATURES, build_app

    app = build_app(deps)
    action_ids = [a.action_id for f in FEATURES for a in f.actions]
    callback_ids = [s.callback_id for f in FEATURES for s in f.submissions]
    assert len(action_ids) > 10 and len(callback_ids) > 3
    others = sum(len(f.options_sources) + len(f.events) for f in FEATURES) + 1  # + the /chatrooms command
    assert len(app._listeners) == 1 + 1 + others, "one listener for the buttons, one for the modals"
    from slack_bolt.request import BoltRequest
    from slack_bolt.response import BoltResponse

    from bot.console import signing

    def matching(body: str) -> int:
        request = BoltRequest(body=body)
        return sum(listener.matches(req=request, resp=BoltResponse(status=200)) for listener in app._listeners)

    def click(action_id: str) -> str:
        action = {"action_id": action_id, "block_id": "b", "type": "button", "value": "1"}
        return signing.block_actions_body(action, user_id="U1", team_id="T1", trigger_id="1.2.x", channel_id="C1")

    def submit(callback_id: str) -> str:
        view = {"id": "V1", "type": "modal", "callback_id": callback_id, "blocks": []}
        return signing.view_submission_body(view, {}, user_id="U1", team_id="T1", trigger_id="1.2.x")

    for action_id in action_ids:
        assert matching(click(action_id)) == 1, action_id
    for callback_id in callback_ids:
        assert matching(submit(callback_id)) == 1, callback_id
    assert matching(click(action_ids[0] + "x")) == matching(submit(callback_ids[0] + "x")) == 0
