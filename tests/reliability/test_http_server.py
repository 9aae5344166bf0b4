"""The HTTP server `python -m bot run` uses: a burst is answered, not reset; idle and half-sent connections
hold no thread and are closed; SIGTERM stops it after finishing work already acknowledged."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SIGNING_SECRET, RunningApp
from cryptography.fernet import Fernet

from bot.console import signing
from bot.console.fake_slack import FakeSlack
from bot.deps import Deps
from bot.sandbox.server import SandboxServer
from bot.slack.app import build_app
from bot.web import SoundWSGIServer, serve


def _whoami(fake: FakeSlack, user: str) -> str:
    return signing.slash_command_body(
        "/chatrooms", "whoami", user, "T0001", "C0001", fake.response_url(user), signing.new_trigger_id()
    )


def _post(port: int, body: str, timeout: float = 20.0) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers=signing.signed_headers(body, SIGNING_SECRET))
        response = conn.getresponse()
        response.read()
        return str(response.status)
    except Exception as exc:
        return type(exc).__name__
    finally:
        conn.close()


@pytest.fixture
def quick_server(deps: Deps) -> Iterator[SoundWSGIServer]:
    """The app on a server with a 1 s request timeout, so the test can watch connections being closed."""
    server = serve(build_app(deps), port=0, request_timeout=1.0, workers=8)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.integration
def test_a_burst_of_200_signed_commands_is_answered_not_reset(running_app: RunningApp) -> None:
    port = int(running_app.url.split(":")[2].split("/")[0])
    bodies = [_whoami(running_app.fake, f"UB{i:03d}") for i in range(200)]
    results: list[str] = [""] * len(bodies)
    gate = threading.Barrier(len(bodies))

    def send(i: int) -> None:
        gate.wait()
        results[i] = _post(port, bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    outcomes = {r: results.count(r) for r in set(results)}
    assert outcomes == {"200": 200}, outcomes
    assert SoundWSGIServer.request_queue_size >= 1024


@pytest.mark.integration
def test_idle_and_half_sent_connections_hold_no_thread_and_are_closed(
    quick_server: SoundWSGIServer, fake_slack: FakeSlack
) -> None:
    port = quick_server.server_port
    assert _post(port, _whoami(fake_slack, "UWARM")) == "200"
    time.sleep(0.3)
    threads_before = threading.active_count()
    held: list[socket.socket] = []
    try:
        for i in range(120):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 3 == 1:
                s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Ty")
            elif i % 3 == 2:
                s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\npayload=%7B")
            held.append(s)
        time.sleep(0.3)
        assert threading.active_count() - threads_before <= 2, "held connections took threads"
        started = time.monotonic()
        assert _post(port, _whoami(fake_slack, "UDURING"), timeout=5) == "200"
        assert time.monotonic() - started < 0.9, "a genuine request waited behind the held connections"
        time.sleep(2.0)  # past the 1 s request timeout
        closed = 0
        for s in held:
            s.settimeout(0.5)
            try:
                closed += s.recv(100) == b""
            except OSError:
                closed += 1
        assert closed == len(held)
    finally:
        for s in held:
            s.close()


SERVERS = {
    "python -m bot run": lambda port: [sys.executable, "-m", "bot", "run", "--port", str(port)],
    # gunicorn's worker leaves with sys.exit once its HTTP answers are sent: the app drains at exit.
    "gunicorn": lambda port: [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:bot.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "bot.web:app",
    ],
}


@pytest.mark.integration
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_sigterm_finishes_acknowledged_work_then_exits(
    sandbox: SandboxServer, fake_slack: FakeSlack, tmp_path: Path, server: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WEB_CONCURRENCY")},
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "NEXUDUS_BASE_URL": sandbox.url,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "STORE_PATH": str(tmp_path / "store.sqlite"),
        "STORE_KEY": Fernet.generate_key().decode(),
    }
    env.pop("SLACK_APP_TOKEN", None)
    app = subprocess.Popen(
        SERVERS[server](port),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert app.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        sandbox.config.delay = 1.5  # the lazy work (a Nexudus login check) is still running at SIGTERM
        body = signing.view_submission_body(
            {"id": "V1", "callback_id": "chatrooms.login.modal", "private_metadata": "{}"},
            {
                "email": {"email": {"type": "email_text_input", "value": "admin@sandbox.local"}},
                "password": {"password": {"type": "plain_text_input", "value": "sandbox-admin"}},
            },
            user_id="U0001",
            team_id="T0001",
            trigger_id="1.2.3",
        )
        assert _post(port, body) == "200"
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0
        shown = [c for c in fake_slack.calls() if "admin@sandbox.local" in str(c.args)]
        assert shown, [c.method for c in fake_slack.calls()]
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=10)
        if app.stdout:
            app.stdout.close()


@pytest.mark.integration
def test_a_request_arriving_in_pieces_is_answered_and_a_flood_of_silent_ones_evicts_the_oldest(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    server = serve(build_app(deps), port=0, request_timeout=5.0, max_waiting=8)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    silent: list[socket.socket] = []
    try:
        port = server.server_port
        body = _whoami(fake_slack, "UPIECES")
        headers = signing.signed_headers(body, SIGNING_SECRET)
        head = "POST /slack/events HTTP/1.1\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for piece in (head[:20], head[20:], body[:10], body[10:]):
                sock.sendall(piece.encode())
                time.sleep(0.2)
            assert sock.recv(100).startswith(b"HTTP/1.0 200"), "a request sent in pieces was not answered"
        silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        time.sleep(0.5)
        assert _post(port, _whoami(fake_slack, "UAFTER"), timeout=5) == "200"
        evicted = 0
        for s in silent[:10]:  # the oldest were closed to make room
            s.settimeout(0.5)
            try:
                evicted += s.recv(10) == b""
            except OSError:
                evicted += 1
        assert evicted == 10
    finally:
        for s in silent:
            s.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
