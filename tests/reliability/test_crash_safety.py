"""Real processes: the alert worker killed mid-cycle and restarted, and the web process and the worker
writing the one store file at once."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SIGNING_SECRET
from helpers.processes import app_world
from reliability_helpers import text_input

from bot.console.driver import SlackDriver
from bot.console.fake_slack import FakeSlack
from bot.nexudus.credentials import Credentials
from bot.sandbox.server import SandboxServer
from bot.slack import ids
from bot.store import Store, Subscription, fernet_from_setting

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Credentials("admin@sandbox.local", "sandbox-admin")
CHANNELS = ["C0A", "C0B", "C0C", "C0D"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SandboxServer, FakeSlack, dict[str, str]]]:
    with app_world(tmp_path, LOG_LEVEL="WARNING") as world:
        yield world


def _store(env: dict[str, str]) -> Store:
    return Store(Path(env["STORE_PATH"]), fernet_from_setting(env["STORE_KEY"]))


def _alerts(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "alerts", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _digest_rooms(fake: FakeSlack) -> Counter[tuple[str, str]]:
    """(channel, chatroom id) for every chatroom listed in a digest posted so far."""
    seen: Counter[tuple[str, str]] = Counter()
    for call in fake.calls("chat.postMessage"):
        channel = str(call.args.get("channel"))
        rooms: set[str] = set()  # a room has several buttons in one digest: count it once per message
        for block in call.args.get("blocks") or []:
            for element in [block.get("accessory"), *(block.get("elements") or [])]:
                value = element.get("value") if isinstance(element, dict) else None
                if isinstance(value, str) and value.count(":") == 1 and value.split(":")[1].isdigit():
                    rooms.add(value.split(":")[1])
        for room in rooms:
            seen[(channel, room)] += 1
    return seen


@pytest.mark.integration
def test_worker_killed_mid_cycle_then_restarted_repeats_no_alert_and_keeps_subscriptions(
    world: tuple[SandboxServer, FakeSlack, dict[str, str]], tmp_path: Path
) -> None:
    sandbox, fake, env = world
    now = datetime.now(UTC)
    with _store(env) as store:
        store.save_credentials("T1", "U1", ADMIN, now)
        subs = [
            store.add_subscription(
                Subscription(team_id="T1", channel_id=c, created_by="U1", threshold_minutes=240, created_at=now)
            )
            for c in CHANNELS
        ]
    sandbox.config.delay = 0.4  # a cycle takes seconds: room to kill it in the middle
    worker = _alerts(env, tmp_path, "--once")
    try:
        fake.wait_for("chat.postMessage", count=1, timeout=60)  # the first digest is out, the rest are not
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    assert len(fake.calls("chat.postMessage")) < len(CHANNELS), "the cycle finished before the kill"

    sandbox.config.delay = 0
    outputs = []
    for _ in range(2):  # restart, and one more cycle after that
        done = _alerts(env, tmp_path, "--once")
        out, _ = done.communicate(timeout=120)
        assert done.returncode == 0, out
        outputs.append(out)
    print("after the kill:", *outputs, sep="\n")  # "… recovered" when the kill fell between post and stamp

    repeats = {k: n for k, n in _digest_rooms(fake).items() if n > 1}
    listed = _digest_rooms(fake)
    posted = {
        (str(c.args["channel"]), str(c.response["ts"]))
        for c in fake.calls("chat.postMessage")
        if c.error is None and c.response and c.args.get("metadata")
    }
    with _store(env) as store:
        assert {s.id for s in store.subscriptions()} == {s.id for s in subs}
        recorded = {(s.channel_id, str(r.chatroom_id)) for s in subs for r in store.alerts_for(s.id)}
        digests = [d for s in subs for d in store.digests_for(s.id)]
        stamps = {r.message_ts for s in subs for r in store.alerts_for(s.id)}
    # Every digest posted, the one cut off by the kill included, is known by its ts, so it is redrawn later.
    assert posted and posted <= {(d.channel_id, d.message_ts) for d in digests}
    assert not [d for d in digests if d.pending] and stamps <= {ts for _, ts in posted}
    assert {c for c, _ in listed} == set(CHANNELS), "every channel got its digest"
    assert recorded and set(listed) <= recorded
    assert not repeats, f"alerted twice after the crash: {sorted(repeats)[:10]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_web_process_and_worker_writing_at_once_lose_no_login_or_subscription(
    world: tuple[SandboxServer, FakeSlack, dict[str, str]], tmp_path: Path
) -> None:
    _, fake, env = world
    users = [f"U{i:03d}" for i in range(24)]
    now = datetime.now(UTC)
    with _store(env) as store:  # the worker has subscriptions to chew on from the start
        store.save_credentials("T1", "UW", ADMIN, now)
        for c in CHANNELS:
            store.add_subscription(
                Subscription(team_id="T1", channel_id=c, created_by="UW", threshold_minutes=1, created_at=now)
            )
    port = _free_port()
    log_file = (tmp_path / "web.log").open("w")
    web = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers: list[subprocess.Popen[str]] = []
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert web.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                time.sleep(0.1)
        driver = SlackDriver(url, SIGNING_SECRET, fake)  # the fake workspace, T0001, which its views are installed in
        for i, user in enumerate(users):
            if i % 6 == 0:  # an alert cycle writing the store while the web process writes too
                workers.append(_alerts(env, tmp_path, "--once"))
            me = driver.as_user(user)
            opened = len(fake.calls("views.open"))
            assert me.command("login").status == 200
            form = fake.wait_for("views.open", count=opened + 1, timeout=20)[opened].response["view"]
            ack = me.submit(
                form,
                {
                    ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": ADMIN.email}},
                    ids.F_PASSWORD: {ids.F_PASSWORD: text_input(ADMIN.password)},
                },
            )
            assert ack.status == 200, ack
            fake.wait_for("response_url", count=2 * i + 1, timeout=20)  # "Logged in as …"
            ack = me.command(f"alerts subscribe <#C{i:08d}|c{i}> after:{i + 5}m")
            assert ack.status == 200 and ack.body is None, ack  # accepted: no usage text in the ack
            fake.wait_for("response_url", count=2 * i + 2, timeout=20)  # "🔔 <#C…> will hear about …"
        for w in workers:
            out, _ = w.communicate(timeout=120)
            assert w.returncode == 0, out
    finally:
        web.send_signal(signal.SIGTERM)
        try:
            web.wait(timeout=10)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait(timeout=10)
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
    replies = [json.dumps(c.args) for c in fake.calls("response_url")]
    assert sum("Logged in as" in r for r in replies) == len(users), replies[:2]
    assert sum("will hear about" in r for r in replies) == len(users), replies[:2]
    with _store(env) as store:
        for i, user in enumerate(users):
            saved = store.load_credentials(driver.team_id, user)
            assert saved is not None and saved.email == ADMIN.email and saved.bearer, user
            assert saved.password == "", "a token login keeps no password"
            mine = store.subscriptions_by_user(driver.team_id, user)
            assert [(s.channel_id, s.threshold_minutes) for s in mine] == [(f"C{i:08d}", i + 5)], (user, mine)
        assert len(store.subscriptions(driver.team_id)) == len(users)
        assert len(store.subscriptions("T1")) == len(CHANNELS)
