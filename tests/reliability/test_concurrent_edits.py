"""Two users saving the same chatroom at the same moment (issue 12.2): the read → check → PUT of one chatroom
is serialised across threads and across processes, so the second save sees the first and is refused with a
Conflict instead of silently overwriting it ("both saw Saved, one change lost")."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN
from helpers.edits import assert_waits_for_the_other_holder, overlaps_under_contention, run_two_edits
from helpers.threads import held_elsewhere

from bot.locks import FileLocks, ThreadLocks
from bot.nexudus.client import ChatRoomChanges, NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import Conflict
from bot.sandbox.server import SandboxServer
from bot.services import ChatroomBusy, Services, UserSession
from bot.slack.errors import describe

ROOT = Path(__file__).resolve().parents[2]
ROOM = 1_000_007


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


# ------------------------------------------------------------------------------------------ the lock
@pytest.mark.parametrize("kind", ["file", "thread"])
def test_one_key_admits_one_thread_at_a_time(kind: str, tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "l.lock") if kind == "file" else ThreadLocks()
    assert overlaps_under_contention(locks) == []


def test_different_keys_do_not_wait_for_each_other(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "l.lock")
    both_inside = threading.Barrier(2, timeout=5)

    def worker(key: str) -> None:
        with locks.hold(key, timeout=5):
            both_inside.wait()  # raises BrokenBarrierError if the other key were blocked

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("chatroom:1", "chatroom:2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not both_inside.broken


HOLDER = """
import sys, time
from pathlib import Path
from bot.locks import FileLocks
with FileLocks(Path(sys.argv[1])).hold("chatroom:42"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "chatrooms.lock"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "1.0"], stdout=subprocess.PIPE, text=True, env=_env()
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert_waits_for_the_other_holder(FileLocks(path))
    finally:
        child.wait(timeout=10)


# ------------------------------------------------------------------------- the edit, end to end
@pytest.fixture
def slow_sandbox(sandbox: SandboxServer) -> SandboxServer:
    """Each answer takes 0.2 s, so two saves started together overlap read → PUT, as when Nexudus is slow."""
    sandbox.config.delay = 0.2
    return sandbox


def _session(url: str, services: Services) -> UserSession:
    credentials = Credentials(*ADMIN)
    client = NexudusClient(url, credentials, retries=0, pacer=None)
    return UserSession(services, client, credentials)


def test_two_threads_saving_one_chatroom_one_saves_one_is_told_the_conflict(
    slow_sandbox: SandboxServer, tmp_path: Path
) -> None:
    services = Services(store=None, clients=None, clock=None, locks=FileLocks(tmp_path / "c.lock"))  # type: ignore[arg-type]
    first, second = _session(slow_sandbox.url, services), _session(slow_sandbox.url, services)
    seen = first.get(ROOM)
    outcomes: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def save(session: UserSession, field: str, value: Any) -> None:
        barrier.wait()
        try:
            outcomes[field] = session.edit(
                ROOM,
                ChatRoomChanges(**{field: value}),
                expected_updated_on=seen.updated_on,
                expected_fingerprint=seen.fingerprint(),
            )
        except Conflict as exc:
            outcomes[field] = exc

    threads = [
        threading.Thread(target=save, args=(first, "name", "Renamed by A")),
        threading.Thread(target=save, args=(second, "active", not seen.active)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    conflicts = [f for f, o in outcomes.items() if isinstance(o, Conflict)]
    saved = [f for f, o in outcomes.items() if not isinstance(o, Conflict)]
    assert len(conflicts) == 1 and len(saved) == 1, outcomes
    after = first.get(ROOM)
    if saved == ["name"]:
        assert after.name == "Renamed by A" and after.active == seen.active
    else:
        assert after.active != seen.active and after.name == seen.name
    assert outcomes[saved[0]].confirmed and outcomes[saved[0]].differs == ()


def test_two_processes_saving_one_chatroom_never_both_see_saved(slow_sandbox: SandboxServer, tmp_path: Path) -> None:
    """The web process and the alert worker are separate processes: the lock must span them."""
    results = run_two_edits(slow_sandbox.url, tmp_path / "chatrooms.lock", "Renamed by the web process")
    outcomes = sorted(r["outcome"] for r in results)
    assert outcomes == ["conflict", "saved"], results


def test_waiting_too_long_for_a_chatroom_is_told_truthfully(slow_sandbox: SandboxServer, tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "c.lock")
    services = Services(store=None, clients=None, clock=None, locks=locks)  # type: ignore[arg-type]
    session = _session(slow_sandbox.url, services)
    with held_elsewhere(lambda: locks.hold(f"chatroom:{ROOM}")), pytest.raises(ChatroomBusy) as caught:
        session.edit(
            ROOM, ChatRoomChanges(name="x"), expected_updated_on=None, expected_fingerprint=None, lock_timeout=0.1
        )
    text = describe(caught.value).text
    assert "Nothing was changed" in text and str(ROOM) in text
    assert first_name_unchanged(session)


def first_name_unchanged(session: UserSession) -> bool:
    return session.get(ROOM).name != "x"


@pytest.mark.parametrize("write", ["run", "delete"])
def test_a_command_or_delete_waits_for_an_edit_in_progress(write: str, sandbox: SandboxServer, tmp_path: Path) -> None:
    """A command (which may change the fields an edit merges) or a delete lands before or after an edit's
    read → check → PUT of the same chatroom, never inside it."""
    locks = FileLocks(tmp_path / "c.lock")
    services = Services(store=None, clients=None, clock=lambda: datetime.now(UTC), locks=locks)  # type: ignore[arg-type]
    session = _session(sandbox.url, services)
    room = 1_000_050
    editing = threading.Event()
    released_at: list[float] = []

    def edit_in_progress() -> None:
        with locks.hold(f"chatroom:{room}"):
            editing.set()
            time.sleep(0.5)
            released_at.append(time.monotonic())

    editor = threading.Thread(target=edit_in_progress)
    editor.start()
    assert editing.wait(5)
    if write == "run":
        command = next(c for c in session.commands() if c.key == "MARK_VISITED")
        session.run(command, [room, 1_000_051], [])
    else:
        session.delete(room)
    done_at = time.monotonic()
    editor.join(timeout=10)
    assert released_at and done_at >= released_at[0], "the write went in while the edit held the chatroom"
