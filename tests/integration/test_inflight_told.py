"""Work in flight end to end: every kind of write is journalled while it runs and forgotten once its outcome
is told; and the work a dead process left is told by a live one — in the modal still open, else through the
response_url or a direct message — with what Nexudus shows, through the strict fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import SLACK_E2E, RunningApp
from test_alerts_flow import subscribe, worker
from test_slack_run import open_form, state_for

from bot.console.driver import find_action
from bot.inflight import Journal, Tracker
from bot.nexudus.client import ChatRoomChanges, NewChatRoom
from bot.slack import ids
from bot.store.inflight import InFlight

pytestmark = [pytest.mark.integration, SLACK_E2E]

ROOM = 1_000_001


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
def app(logged_in: RunningApp) -> Iterator[RunningApp]:
    journal = logged_in.deps.journal
    assert journal is not None
    journal.start(thread=False)  # beats by hand below, with the test's clock
    yield logged_in
    journal.stop()


def _until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def journalled_while_running(app: RunningApp, start: Callable[[], None], kind: str | None = None) -> InFlight:
    """Start a request with Nexudus slowed; its entry (of `kind`: a write's, by default) seen in the store while
    it runs — one entry a request, however it goes. It is gone once told."""
    # The request that opened the form ends its own entry just after the form shows: not to be counted here.
    _until(lambda: app.deps.store.inflight() == [], "the earlier requests' entries to be forgotten")
    app.sandbox.config.delay = 0.4
    start()
    seen: list[InFlight] = []

    def found() -> bool:
        now = app.deps.store.inflight()
        assert len(now) <= 1, now
        seen.extend(w for w in now if (w.kind == kind if kind else w.kind != "request"))
        return bool(seen)

    _until(found, "the request to be journalled")
    app.sandbox.config.delay = 0
    _until(lambda: app.deps.store.inflight() == [], "the entry to be forgotten once told")
    return seen[0]


def test_a_lookup_is_journalled_as_the_command_typed_and_told_to_run_it_again_if_its_process_dies(
    app: RunningApp,
) -> None:
    entry = journalled_while_running(app, lambda: app.slack.command("list active:true"), kind="request")
    assert (entry.what, entry.answer["placeholder"]) == ("`/chatrooms list active:true`", True)
    app.next("response_url")  # the page of chatrooms
    url = app.fake.response_url("list-command")
    left_by_a_dead_process(app, "request", {"response_url": url, "placeholder": True}, what="`/chatrooms list`")
    assert sweep_after_the_orphan_delay(app) == 1
    told = app.next("response_url").args
    # Its answer may have been posted just before the process died: never overwritten, a new message instead.
    assert told["replace_original"] is False
    assert (
        "The app restarted while answering `/chatrooms list`.\nIf its answer did not reach you, please run it "
        "again: nothing was changed in Nexudus by it." in told["text"]
    )
    actions = [e.action for e in app.deps.store.audit_entries(app.slack.team_id)[0]]
    assert actions == ["login"], "the fixture's login, and nothing for a lookup"


def test_a_command_waiting_behind_its_users_others_is_journalled_as_queued_then_as_itself(app: RunningApp) -> None:
    journal = app.deps.journal
    assert journal is not None
    app.sandbox.config.delay = 1.0  # Nexudus slow: the user's two lookups running hold their lane
    for text in ("list active:true", "list active:false", "show 1000002"):
        assert app.slack.command(text).status == 200
    _until(lambda: [w.kind for w in app.deps.store.inflight()] == ["request", "request"], "two lookups running")
    assert journal.write_queued() == 1  # the writer thread's step: the third waits its turn
    (queued,) = [w for w in app.deps.store.inflight() if w.kind == "queued"]
    assert (queued.what, queued.again) == ("`/chatrooms show 1000002`", "Run `/chatrooms show 1000002` again.")
    assert queued.answer["placeholder"] is True and queued.answer["response_url"]
    _until(
        lambda: [w.kind for w in app.deps.store.inflight() if w.key == queued.key] == ["request"],
        "the queued entry to become the request's own when it starts",
    )
    app.sandbox.config.delay = 0
    _until(lambda: app.deps.store.inflight() == [], "every entry forgotten once told")
    for _ in range(3):
        app.next("response_url")
    assert journal.write_queued() == 0


def test_a_repeated_submission_leaves_no_queued_entry_behind(app: RunningApp) -> None:
    journal = app.deps.journal
    assert journal is not None
    app.slack.command("delete 1000003")
    confirm = app.next("views.update").response["view"]
    app.sandbox.config.delay = 0.3
    for _ in range(2):  # a double click: the same view id and hash, run once
        assert app.slack.submit(confirm, {}).status == 200
    assert app.next("views.update").args["view_id"] == confirm["id"]

    def settled() -> bool:
        with journal._qcond:
            return all(ticket.state != "pending" for ticket in journal._queued)

    _until(settled, "both submissions' work to have started (the second doing nothing)")
    app.sandbox.config.delay = 0
    assert journal.write_queued() == 0
    _until(lambda: app.deps.store.inflight() == [], "nothing left in flight, to be told 'never started' later")


def queued_by_a_dead_process(
    app: RunningApp, answer: dict[str, Any], what: str, again: str, command: str | None = None
) -> Journal:
    """What a process that died before starting acknowledged work leaves: a `queued` entry, its heartbeat silent."""
    dead = Journal(app.deps.store, app.deps.clock, process_id="web-7:4243:dead")
    dead.start(thread=False)
    team, user = app.slack.team_id, app.slack.user_id
    entry = InFlight(owner="", started_at=app.clock(), team_id=team, user_id=user, kind="queued", what=what)
    dead.queue(lambda: entry.model_copy(update={"again": again, "answer": answer, "command": command}))
    assert dead.write_queued() == 1
    silent(app, dead)
    return dead


def test_a_command_that_never_started_is_told_so_in_place_of_its_placeholder(app: RunningApp) -> None:
    url = app.fake.response_url("queued-command")
    typed = 'edit 1000001 name:"Lobby"'
    what = f"`/chatrooms {typed}`"
    queued_by_a_dead_process(app, {"response_url": url, "placeholder": True}, what, f"Run {what} again.", typed)
    assert sweep_after_the_orphan_delay(app) == 1
    told = app.next("response_url").args
    assert told["replace_original"] is True, "it never started: no answer was given, the placeholder goes"
    assert (
        f"The app restarted before it could start {what}.\nIt never started, so nothing was sent to Nexudus for it: "
        f"nothing changed. Run {what} again." in told["text"]
    )
    assert app.deps.store.inflight() == [] and sweep_after_the_orphan_delay(app) == 0, "told once"
    actions = [e.action for e in app.deps.store.audit_entries(app.slack.team_id)[0]]
    assert actions == ["login"], "nothing ran: nothing in the audit trail"
    again = find_action(told["blocks"], ids.AGAIN)
    assert again is not None and again["text"]["text"] == "Run it again" and again["value"] == typed
    assert app.slack.click(ids.AGAIN, again["value"]).status == 200  # the same command, now
    running = app.next("response_url").args
    assert running["replace_original"] is True and f"Running `/chatrooms {typed}` again" in running["text"]
    answered = app.next("response_url").args
    assert answered["replace_original"] is True and "Saved name" in text(answered), "the answer replaces that line"
    assert app.sandbox.app.db.get(ROOM).name == "Lobby"  # type: ignore[union-attr]
    assert app.slack.click(ids.AGAIN, again["value"]).status == 200  # a double click: its second press
    with pytest.raises(TimeoutError):
        app.next("response_url", timeout=2.0)  # the first answered within the same time
    edits = [e for e in app.deps.store.audit_entries(app.slack.team_id)[0] if e.action != "login"]
    assert len(edits) == 1, "a second press runs nothing"


def test_a_form_that_never_started_is_told_in_its_modal(app: RunningApp) -> None:
    form = open_edit_form(app)
    url = app.fake.response_url("queued-form")
    again = "Open the form again and submit it: what you had entered was not kept."
    answer = {"response_url": url, "view_id": form["id"], "placeholder": False}
    queued_by_a_dead_process(app, answer, "your form *Edit chatroom*", again)
    assert sweep_after_the_orphan_delay(app) == 1
    modal = app.next("views.update").args
    assert modal["view_id"] == form["id"] and modal["view"]["title"]["text"] == "Not started"
    assert "before it could start your form *Edit chatroom*" in text(modal) and again in text(modal)
    assert "nothing was sent to Nexudus" in text(app.next("response_url").args)


def prefilled(view: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") if block.get("type") == "input" else None
        if element and "initial_value" in element:
            state[block["block_id"]] = {
                element["action_id"]: {"type": element["type"], "value": element["initial_value"]}
            }
    return state


def test_a_slash_command_edit_is_journalled_with_its_placeholder_and_forgotten_once_answered(app: RunningApp) -> None:
    entry = journalled_while_running(app, lambda: app.slack.command(f'edit {ROOM} name:"Journalled"'))
    assert (entry.kind, entry.chatroom_ids, entry.changes) == ("edit", [ROOM], {"name": "Journalled"})
    assert entry.owner == app.deps.journal.process_id if app.deps.journal else False
    assert entry.answer["placeholder"] is True and entry.answer["response_url"]
    assert "Saved name" in text(app.next("response_url").args)


def test_a_create_form_is_journalled_with_its_modal_and_forgotten_once_answered(app: RunningApp) -> None:
    app.slack.command("create business:9001")
    form = app.next("views.open").response["view"]
    values = prefilled(form)
    values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Journalled create"}}
    entry = journalled_while_running(app, lambda: app.slack.submit(form, values).json)
    assert (entry.kind, entry.name, entry.business_id) == ("create", "Journalled create", 9001)
    assert entry.answer["view_id"] == form["id"]
    assert app.next("views.update").args["view"]["title"]["text"] == "Chatroom created"


def test_a_delete_and_a_command_run_are_journalled_too(app: RunningApp) -> None:
    app.slack.command("delete 1000003")
    confirm = app.next("views.update").response["view"]
    entry = journalled_while_running(app, lambda: app.slack.submit(confirm, {}).json)
    assert (entry.kind, entry.chatroom_ids, entry.answer["view_id"]) == ("delete", [1_000_003], confirm["id"])
    form = open_form(app, "run SET_ACTIVE 1000002")
    entry = journalled_while_running(app, lambda: app.slack.submit(form, state_for(form, {"Active": "false"})).json)
    assert (entry.kind, entry.command, entry.chatroom_ids) == ("run", "SET_ACTIVE", [1_000_002])


def test_mark_visited_and_snooze_from_a_digest_are_journalled_too(app: RunningApp) -> None:
    subscribe(app)
    worker(app).run_cycle()
    ts = app.fake.calls("chat.postMessage")[-1].response["ts"]
    digest = app.fake.message(app.slack.channel_id, ts)
    assert digest is not None
    buttons = {
        (b["action_id"], b["value"])
        for block in digest["blocks"]
        for b in [block.get("accessory"), *(block.get("elements") or [])]
        if isinstance(b, dict) and "action_id" in b
    }
    visited = min(v for a, v in buttons if a == ids.ALERT_VISITED)
    room = int(visited.split(":")[1])
    entry = journalled_while_running(app, lambda: app.slack.click(ids.ALERT_VISITED, visited, message=digest))
    assert (entry.kind, entry.chatroom_ids, list(entry.changes)) == ("visited", [room], ["last_agent_visit"])
    assert find_action(digest["blocks"], ids.ALERT_SNOOZE) is not None
    value = max(v for a, v in buttons if a == ids.ALERT_SNOOZE)
    other = int(value.split(":")[1])
    assert other != room
    entry = journalled_while_running(app, lambda: app.slack.click(ids.ALERT_SNOOZE, value, message=digest))
    assert (entry.kind, entry.chatroom_ids, entry.subscription_id) == ("snooze", [other], value.split(":")[0])


# ------------------------------------------------------------------- a dead process's work, told by this one


def left_by_a_dead_process(app: RunningApp, kind: str, answer: dict[str, Any], **what: Any) -> Journal:
    """An entry exactly as a process that died mid-write leaves it: begun, its heartbeat then silent."""
    dead = Journal(app.deps.store, app.deps.clock, process_id="web-7:4242:dead")
    dead.start(thread=False)
    Tracker(dead, app.slack.team_id, app.slack.user_id, None, lambda: answer).begin(kind, **what)  # type: ignore[arg-type]
    silent(app, dead)
    return dead


def silent(app: RunningApp, dead: Journal) -> None:
    """Its heartbeat last written minutes ago by the test's clock and by the real one (PostgreSQL compares
    heartbeats with its own clock, shared by every host), the process silent since."""
    at = min(app.clock(), datetime.now(UTC)) - timedelta(minutes=5)
    with app.deps.store.tables.write() as tx:
        tx.put("processes", dead.process_id, {"beat": at.isoformat()})


def sweep_after_the_orphan_delay(app: RunningApp) -> int:
    journal = app.deps.journal
    assert journal is not None
    app.clock.advance(seconds=31)
    journal.beat()
    return journal.sweep()


def open_edit_form(app: RunningApp) -> dict[str, Any]:
    app.slack.command(f"edit {ROOM}")
    return dict(app.next("views.update").response["view"])


@pytest.mark.parametrize("applied", [True, False])
def test_an_interrupted_edit_is_told_in_its_open_modal_and_privately_as_nexudus_shows_it(
    app: RunningApp, applied: bool
) -> None:
    form = open_edit_form(app)
    url = app.fake.response_url("edit-command")
    left_by_a_dead_process(
        app,
        "edit",
        {"response_url": url, "view_id": form["id"], "placeholder": False},
        chatroom_ids=[ROOM],
        changes={"name": "Reached Nexudus"},
    )
    if applied:  # the PUT had left before the process died
        session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
        session.edit(ROOM, ChatRoomChanges(name="Reached Nexudus"), expected_updated_on=None, expected_fingerprint=None)
    assert sweep_after_the_orphan_delay(app) == 1
    modal = app.next("views.update").args
    message = app.next("response_url").args
    assert modal["view_id"] == form["id"]
    assert "The app restarted while saving your edit of chatroom" in text(modal)
    if applied:
        assert modal["view"]["title"]["text"] == "Saved"
        assert "✅ Nexudus has it: the chatroom holds your changes (name)" in text(message)
    else:
        assert modal["view"]["title"]["text"] == "Not saved"
        assert "Nothing was saved" in text(message) and "✅" not in text(message)
        assert ids.EDIT in text(message), "the chatroom's card, with its Edit button, to try again"
    assert app.deps.store.inflight() == []
    assert sweep_after_the_orphan_delay(app) == 0, "told once"
    edits = [e for e in app.deps.store.audit_entries(app.slack.team_id)[0] if e.action == "edit"]
    assert len(edits) == (1 if applied else 0), "recorded once when applied (here by the write itself), else not"


def test_an_interrupted_edit_whose_modal_was_closed_is_told_by_direct_message(app: RunningApp) -> None:
    form = open_edit_form(app)
    assert app.fake.close_view(form["id"])
    left_by_a_dead_process(
        app, "edit", {"view_id": form["id"], "placeholder": False}, chatroom_ids=[ROOM], changes={"active": False}
    )
    assert sweep_after_the_orphan_delay(app) == 1
    dm = app.next("chat.postMessage").args
    assert dm["channel"] == app.slack.user_id and "Nothing was saved" in text(dm)
    assert [c for c in app.fake.calls("views.update") if c.error == "not_found"], "the closed modal was tried first"


@pytest.mark.parametrize("applied", [True, False])
def test_an_interrupted_create_is_looked_up_by_name_and_business(app: RunningApp, applied: bool) -> None:
    url = app.fake.response_url("create")
    left_by_a_dead_process(
        app,
        "create",
        {"response_url": url, "view_id": None, "placeholder": False},
        name="Created before the crash",
        business_id=9001,
        changes={"business_id": 9001, "name": "Created before the crash"},
    )
    new_id = None
    if applied:
        session = app.deps.services.session(app.slack.team_id, app.slack.user_id)
        new_id = session.create(NewChatRoom(business_id=9001, name="Created before the crash")).room.id
    assert sweep_after_the_orphan_delay(app) == 1
    message = text(app.next("response_url").args)
    assert "The app restarted while creating the chatroom *Created before the crash* in business 9001" in message
    if applied:
        assert f"the chatroom was created as `#{new_id}`. Do not create it again" in message
    else:
        assert "Nothing was saved: Nexudus has no such chatroom" in message


def test_an_interrupted_command_is_never_claimed_to_have_run_nor_replaces_what_it_may_have_answered(
    app: RunningApp,
) -> None:
    form = open_form(app, "run SET_ACTIVE 1000002")
    url = app.fake.response_url("run-command")
    left_by_a_dead_process(
        app,
        "run",
        {"response_url": url, "view_id": form["id"], "placeholder": True},
        chatroom_ids=[ROOM, 1_000_002],
        command="RENAME",
    )
    updates = len(app.fake.calls("views.update"))
    assert sweep_after_the_orphan_delay(app) == 1
    message = app.next("response_url").args
    # Its outcome may have been shown just before the process died: a new message, the modal left as it is.
    assert message["replace_original"] is False
    assert len(app.fake.calls("views.update")) == updates
    assert "running `RENAME` on 2 chatrooms" in text(message) and "may or may not have run" in text(message)
    assert "✅" not in text(message)
    entry, _login = app.deps.store.audit_entries(app.slack.team_id)[0]  # the audit trail has it, as unknown
    assert (entry.action, entry.outcome, entry.command, entry.chatroom_ids) == (
        "run",
        "unknown",
        "RENAME",
        [ROOM, 1_000_002],
    )


def test_an_interrupted_delete_is_checked_and_a_user_logged_out_since_is_told_it_is_unknown(app: RunningApp) -> None:
    url = app.fake.response_url("delete")
    left_by_a_dead_process(app, "delete", {"response_url": url}, chatroom_ids=[1_000_004])
    app.deps.services.session(app.slack.team_id, app.slack.user_id).delete(1_000_004)
    assert sweep_after_the_orphan_delay(app) == 1
    assert "✅ Nexudus no longer has that chatroom: it is deleted" in text(app.next("response_url").args)
    app.deps.services.logout(app.slack.team_id, app.slack.user_id)
    left_by_a_dead_process(app, "visited", {}, chatroom_ids=[ROOM], changes={"last_agent_visit": None})
    assert sweep_after_the_orphan_delay(app) == 1
    dm = text(app.next("chat.postMessage").args)
    assert "marking chatroom `#1000001` visited" in dm and "may or may not have been saved" in dm
    assert "login can no longer be used" in dm


def test_a_live_process_s_work_is_left_to_it(app: RunningApp) -> None:
    journal = app.deps.journal
    assert journal is not None
    Tracker(journal, app.slack.team_id, app.slack.user_id, None, dict).begin("delete", chatroom_ids=[ROOM])
    assert sweep_after_the_orphan_delay(app) == 0 and len(app.deps.store.inflight()) == 1
    assert not app.fake.calls("response_url") and not app.fake.calls("chat.postMessage")


@pytest.mark.parametrize("applied", [True, False])
def test_an_interrupted_snooze_is_checked_in_the_store(app: RunningApp, applied: bool) -> None:
    from bot.store import AlertRecord

    now = app.clock()
    store = app.deps.store
    store.put_alert(
        AlertRecord(
            subscription_id="S1",
            chatroom_id=ROOM,
            last_agent_visit=None,
            channel_id="C1",
            message_ts="1.2",
            alerted_at=now,
        )
    )
    until = now + timedelta(hours=1)
    url = app.fake.response_url("snooze")
    left_by_a_dead_process(
        app,
        "snooze",
        {"response_url": url},
        chatroom_ids=[ROOM],
        changes={"snoozed_until": until.isoformat()},
        subscription_id="S1",
    )
    if applied:
        store.snooze("S1", ROOM, until, now=now)
    assert sweep_after_the_orphan_delay(app) == 1
    message = text(app.next("response_url").args)
    assert "The app restarted while snoozing the alerts about chatroom" in message
    assert ("✅ It is snoozed" in message) is applied and ("its alerts are not snoozed" in message) is not applied
