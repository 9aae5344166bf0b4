"""What the services record is the true outcome: an entry for what Nexudus applied (or ran and said failed),
`unknown` for a write sent without a usable answer, nothing for a write Nexudus refused — and no secret."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.audit import Actor, Audit
from bot.nexudus.client import ChatRoomChanges, Edited, NewChatRoom
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import (
    CommandFailed,
    NexudusError,
    NotAuthorised,
    Unavailable,
    UnexpectedResponse,
    ValidationFailed,
)
from bot.nexudus.models import ActionResult, ChatRoom, Command, CommandParameter
from bot.nexudus.timecodec import UTC_CODEC
from bot.services import Services, UserSession
from bot.store import AuditEntry, Store, fernet_from_setting

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ACTOR = Actor("T1", "U1", "E1")
ROOM = ChatRoom.model_validate({"Id": 1000001, "Name": "Desk", "Active": True, "BusinessId": 9001, "Users": [7]})


class StubClient:
    """Nexudus answering as told: `fail` maps a method name to the exception it raises."""

    codec = UTC_CODEC

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.fail = fail or {}

    def _maybe_fail(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def get(self, chatroom_id: int) -> ChatRoom:
        self._maybe_fail("get")
        return ROOM

    def create(self, draft: NewChatRoom) -> int:
        self._maybe_fail("create")
        return 1000099

    def edit_record(self, chatroom_id: int, changes: ChatRoomChanges, **_: Any) -> Edited:
        self._maybe_fail("edit")
        return Edited(ROOM, ROOM.model_copy(update={n: getattr(changes, n) for n in changes.model_fields_set}))

    def delete(self, chatroom_id: int) -> ActionResult:
        self._maybe_fail("delete")
        return ActionResult(was_successful=True)

    def run_command(self, key: str, ids: list[int], values: Any) -> ActionResult:
        self._maybe_fail("run")
        return ActionResult(was_successful=True, message="Done.")

    def probe(self) -> bool:
        return True


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite", fernet_from_setting(Fernet.generate_key().decode())) as st:
        yield st


def session(store: Store, client: StubClient, actor: Actor | None = ACTOR) -> UserSession:
    services = Services(store, clients=None, clock=lambda: NOW)  # type: ignore[arg-type]
    return UserSession(services, client, Credentials(email="a@b.c", password="pw"), owner=("T1", "U1"), actor=actor)  # type: ignore[arg-type]


def recorded(store: Store) -> list[AuditEntry]:
    return store.audit_entries("T1")[0]


def test_an_applied_edit_is_recorded_with_who_when_where_and_only_the_changed_fields(store: Store) -> None:
    session(store, StubClient()).edit(
        1000001, ChatRoomChanges(name="Front", active=True), expected_updated_on=None, expected_fingerprint=None
    )
    [entry] = recorded(store)
    assert (entry.action, entry.user_id, entry.team_id, entry.enterprise_id, entry.at) == (
        "edit",
        "U1",
        "T1",
        "E1",
        NOW,
    )
    assert [(c.field, c.before, c.after) for c in entry.changes] == [("name", "Desk", "Front")]


@pytest.mark.parametrize(
    "method,call",
    [
        ("create", lambda s: s.create(NewChatRoom(business_id=9001, name="New"))),
        (
            "edit",
            lambda s: s.edit(1000001, ChatRoomChanges(name="X"), expected_updated_on=None, expected_fingerprint=None),
        ),
        ("delete", lambda s: s.delete(1000001)),
    ],
)
def test_a_write_sent_without_a_usable_answer_is_recorded_as_unknown(store: Store, method: str, call: Any) -> None:
    with pytest.raises(Unavailable):
        call(session(store, StubClient({method: Unavailable("no answer", maybe_applied=True)})))
    [entry] = recorded(store)
    assert entry.action == method and entry.outcome == "unknown"


@pytest.mark.parametrize(
    "error",
    [
        ValidationFailed("Name is required", []),
        Unavailable("the connection failed", maybe_applied=False),
        NotAuthorised("ChatRoom-Edit", "edit a chatroom"),
    ],
)
def test_a_write_nexudus_refused_or_never_got_leaves_no_entry(store: Store, error: Exception) -> None:
    with pytest.raises(NexudusError):
        session(store, StubClient({"edit": error})).edit(
            1000001, ChatRoomChanges(name="X"), expected_updated_on=None, expected_fingerprint=None
        )
    assert recorded(store) == []


def test_a_command_is_recorded_with_its_outcome_and_no_secret_parameter(store: Store) -> None:
    command = Command(key="SEND", requires_parameters=[])
    values = [(CommandParameter(name="Api key"), "k-123"), (CommandParameter(name="Priority"), "3")]
    session(store, StubClient()).run(command, [1000001], values)
    with pytest.raises(CommandFailed):
        session(store, StubClient({"run": CommandFailed("Priority must be between 1 and 5")})).run(command, [1], values)
    with pytest.raises(UnexpectedResponse):
        session(store, StubClient({"run": UnexpectedResponse(200, "?", maybe_applied=True)})).run(command, [2], values)
    unknown, failed, ok = recorded(store)
    assert (ok.outcome, ok.chatroom_ids, ok.parameters) == (
        "ok",
        [1000001],
        [("Api key", "[redacted]"), ("Priority", "3")],
    )
    assert (failed.outcome, failed.message) == ("failed", "Priority must be between 1 and 5")
    assert unknown.outcome == "unknown" and unknown.chatroom_ids == [2]
    assert "k-123" not in str(store.audit_entries("T1"))


def test_a_session_without_an_actor_records_nothing(store: Store) -> None:
    session(store, StubClient(), actor=None).delete(1000001)
    assert recorded(store) == []


def test_a_failing_store_never_turns_an_applied_change_into_an_error(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entry: AuditEntry) -> AuditEntry:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "append_audit", broken)
    saved = session(store, StubClient()).edit(
        1000001, ChatRoomChanges(name="Front"), expected_updated_on=None, expected_fingerprint=None
    )
    assert saved.confirmed, "reported as saved, as it was"


def test_a_mirror_that_raises_does_not_fail_the_action(store: Store) -> None:
    audit = Audit(store, lambda: NOW)

    def mirror(entry: AuditEntry) -> None:
        raise RuntimeError("slack down")

    audit.mirror = mirror
    assert audit.record(ACTOR, "logout", email="a@b.c") is not None
    assert [e.action for e in recorded(store)] == ["logout"]
