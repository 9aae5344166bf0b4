"""A web process killed (SIGKILL) in the middle of a user's write: another web process, sharing the store, tells
that user what became of it — checked in Nexudus, never claimed unchecked — exactly once, through the strict
fake Slack; and nothing is left in flight afterwards."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SIGNING_SECRET
from helpers.processes import app_world
from helpers.servers import stop_process

from bot.console.driver import SlackDriver
from bot.console.fake_slack import FakeSlack
from bot.nexudus.credentials import Credentials
from bot.sandbox.server import SandboxServer
from bot.store import Store, fernet_from_setting

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Credentials("admin@sandbox.local", "sandbox-admin")
ROOM = 1000001


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SandboxServer, FakeSlack, dict[str, str]]]:
    with app_world(
        tmp_path, LOG_LEVEL="INFO", INFLIGHT_ORPHAN_SECONDS="5"
    ) as world:  # a dead process's work is recovered within seconds
        yield world


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _web(env: dict[str, str], cwd: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    log = (cwd / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--port", str(port)], cwd=cwd, env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (cwd / f"{name}.log").read_text()
            time.sleep(0.1)


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _store(env: dict[str, str]) -> Store:
    return Store(Path(env["STORE_PATH"]), fernet_from_setting(env["STORE_KEY"]))


@pytest.mark.integration
@pytest.mark.parametrize("killed", ["before its PUT", "after its PUT reached Nexudus"])
def test_a_write_whose_web_process_is_killed_gets_a_true_outcome_from_the_survivor(
    world: tuple[SandboxServer, FakeSlack, dict[str, str]], tmp_path: Path, killed: str
) -> None:
    sandbox, fake, env = world
    with _store(env) as store:
        store.save_credentials("T0001", "U0001", ADMIN, datetime.now(UTC))
    dying, dying_port = _web(env, tmp_path, "dying")
    survivor, _ = _web(env, tmp_path, "survivor")
    name = f"Told after the crash {killed.split()[0]}"
    try:
        user = SlackDriver(f"http://127.0.0.1:{dying_port}/slack/events", SIGNING_SECRET, fake).as_user(
            "U0001", "T0001"
        )
        sandbox.config.delay = 1.5  # Nexudus slow: the write is still in flight when its process dies
        puts = sandbox.app.stats.count("PUT")
        ack = user.command(f'edit {ROOM} name:"{name}"')
        assert ack.status == 200
        with _store(env) as store:
            # One entry for the request: the command typed, then (before anything is sent) the edit itself.
            _until(lambda: [w.kind for w in store.inflight()] == ["edit"], 30, "the write to be journalled")
            (entry,) = store.inflight()
        assert entry.kind == "edit" and entry.chatroom_ids == [ROOM] and entry.changes == {"name": name}
        if killed.startswith("after"):
            _until(lambda: sandbox.app.stats.count("PUT") > puts, 30, "the PUT to reach Nexudus")
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=10)
        sandbox.config.delay = 0
        assert not [c for c in fake.calls("response_url") if "Saved name" in json.dumps(c.args)], "it finished"

        def told() -> list[str]:
            texts = [json.dumps(c.args, ensure_ascii=False) for c in fake.calls("response_url") if c.error is None]
            return [t for t in texts if "The app restarted while saving your edit" in t]

        _until(lambda: bool(told()), 60, "the survivor to tell the user")
        time.sleep(1.0)  # a second telling would come now (sweeps run every 2.5 s here)
        with _store(env) as store:
            _until(lambda: store.inflight() == [], 10, "the entry to be forgotten once told")
            audited = [(e.action, e.outcome, e.chatroom_ids) for e in store.audit_entries("T0001")[0]]
    finally:
        stop_process(dying)
        stop_process(survivor)
    (message,) = told()
    row = sandbox.app.db.get(ROOM)
    assert row is not None
    if killed.startswith("after"):
        assert row.name == name, "the PUT left before the kill: Nexudus has it"
        assert "✅ Nexudus has it" in message and "holds your changes (name)" in message
        assert audited == [("edit", "ok", [ROOM])], "the audit trail has the write its dead process never recorded"
    else:
        assert row.name != name
        assert "Nothing was saved" in message and "✅" not in message
        assert audited == [], "nothing changed: nothing in the audit trail"
    assert '"replace_original": true' in message, "the Saving… placeholder is replaced, not left behind"
    refused = [c for c in fake.calls() if c.error is not None]
    assert not refused, refused
    survivor_log = (tmp_path / "survivor.log").read_text()
    assert "its user was told" in survivor_log and "s3cr" not in survivor_log
    assert "hooks" not in survivor_log and "/response" not in survivor_log  # no response_url in the log


@pytest.mark.integration
def test_a_command_acknowledged_but_still_queued_when_its_process_is_killed_is_told_it_never_started(
    world: tuple[SandboxServer, FakeSlack, dict[str, str]], tmp_path: Path
) -> None:
    """Two lookups of one user hold their lane (Nexudus slow); their edit waits its turn behind them. The process
    is SIGKILLed then: the survivor tells the edit's user it never started — true: no PUT reached Nexudus — in
    place of its placeholder, and the two lookups' users, in new messages, to run them again if no answer came."""
    sandbox, fake, env = world
    with _store(env) as store:
        store.save_credentials("T0001", "U0001", ADMIN, datetime.now(UTC))
    dying, dying_port = _web(env, tmp_path, "dying")
    survivor, _ = _web(env, tmp_path, "survivor")
    name = "Never started"
    try:
        user = SlackDriver(f"http://127.0.0.1:{dying_port}/slack/events", SIGNING_SECRET, fake).as_user(
            "U0001", "T0001"
        )
        sandbox.config.delay = 6.0  # Nexudus slow: the lookups hold the user's lane until the kill
        puts = sandbox.app.stats.count("PUT")
        for text in ("list active:true", "list active:false", f'edit {ROOM} name:"{name}"'):
            assert user.command(text).status == 200
        with _store(env) as store:
            _until(lambda: "queued" in [w.kind for w in store.inflight()], 30, "the edit waiting its turn journalled")
            (queued,) = [w for w in store.inflight() if w.kind == "queued"]
            assert sorted(w.kind for w in store.inflight()) == ["queued", "request", "request"]
        assert queued.what == f'`/chatrooms edit {ROOM} name:"{name}"`'
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=10)
        sandbox.config.delay = 0

        def told() -> list[dict[str, object]]:
            return [dict(c.args) for c in fake.calls("response_url") if c.error is None and "restarted" in str(c.args)]

        _until(lambda: len(told()) >= 3, 60, "the survivor to tell all three")
        time.sleep(1.0)  # a second telling would come now (sweeps run every 2.5 s here)
        with _store(env) as store:
            _until(lambda: store.inflight() == [], 10, "the entries to be forgotten once told")
    finally:
        stop_process(dying)
        stop_process(survivor)
    messages = told()
    assert len(messages) == 3, messages
    (never,) = [m for m in messages if "before it could start" in str(m["text"])]
    assert f'before it could start `/chatrooms edit {ROOM} name:"{name}"`' in str(never["text"])
    assert "nothing was sent to Nexudus for it" in str(never["text"]) and never["replace_original"] is True
    assert sandbox.app.stats.count("PUT") == puts, "nothing of the edit reached Nexudus: true"
    row = sandbox.app.db.get(ROOM)
    assert row is not None and row.name != name
    lookups = [m for m in messages if "while answering `/chatrooms list" in str(m["text"])]
    assert len(lookups) == 2 and all(m["replace_original"] is False for m in lookups), "answers never overwritten"
    refused = [c for c in fake.calls() if c.error is not None]
    assert not refused, refused
