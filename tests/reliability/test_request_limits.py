"""Oversized and unverified requests: refused before they are read, and never written to a log."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from conftest import RunningApp
from cryptography.fernet import Fernet
from reliability_helpers import capture_logs, text_input

from bot.console import signing
from bot.slack import ids
from bot.web import MAX_BODY_BYTES

PASSWORD = 'Pw-"quoted"\\back%22slash+plus&amp=Zq9'


def _raw_request(url: str, head: str, body: bytes = b"") -> bytes:
    """Send a request by hand (headers the http clients would correct), then read what comes back."""
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR) if not body else None
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.integration
def test_a_body_over_the_limit_is_refused_413_before_it_is_read(running_app: RunningApp) -> None:
    url = urlparse(running_app.url)
    announced = 100 * 1024 * 1024
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {announced}\r\n"
    )
    with capture_logs(logging.DEBUG) as records:
        # Only 64 KiB of the announced 100 MB are sent: the answer must come without waiting for the rest.
        answer = _raw_request(running_app.url, head, b"payload=" + b"x" * 65536)
    assert answer.startswith(b"HTTP/1.0 413") or answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert not any("xxxxxxxx" in text for text in records.texts())
    # Exactly at the limit is still read (and refused only for its missing signature).
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("POST", url.path, body=b"x" * MAX_BODY_BYTES, headers={"Content-Type": "text/plain"})
        assert conn.getresponse().status == 401
    finally:
        conn.close()


@pytest.mark.integration
def test_a_chunked_body_is_not_read_unbounded(running_app: RunningApp) -> None:
    url = urlparse(running_app.url)
    head = f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nTransfer-Encoding: chunked\r\n"
    answer = _raw_request(running_app.url, head, b"10000\r\n" + b"y" * 65536 + b"\r\n")
    # The built-in server cannot decode chunks: it asks for a length instead of reading on.
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] in (b"411", b"413"), answer[:200]


def test_a_chunked_body_over_the_limit_under_a_decoding_server_is_413() -> None:
    """gunicorn decodes chunks and sets wsgi.input_terminated: at most limit + 1 bytes are read."""
    import io

    from bot.web import _bound_body

    class Counting(io.BytesIO):
        asked: list[int] = []

        def read(self, size: int | None = -1) -> bytes:
            self.asked.append(-1 if size is None else size)
            return super().read(size)

    big = Counting(b"z" * (MAX_BODY_BYTES + 10))
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True, "wsgi.input": big}
    assert _bound_body(environ) == ("413 Content Too Large", "request body too large")
    assert big.asked == [MAX_BODY_BYTES + 1]
    small = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True, "wsgi.input": io.BytesIO(b"abc")}
    assert _bound_body(small) is None
    assert small["CONTENT_LENGTH"] == "3" and small["wsgi.input"].read() == b"abc"


@pytest.mark.integration
def test_a_login_failing_its_signature_leaves_no_part_of_the_password_in_any_log(running_app: RunningApp) -> None:
    app = running_app
    body = signing.view_submission_body(
        {"id": "V1", "callback_id": ids.LOGIN_MODAL, "private_metadata": "{}"},
        {
            ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": "admin@sandbox.local"}},
            ids.F_PASSWORD: {ids.F_PASSWORD: text_input(PASSWORD)},
        },
        user_id=app.slack.user_id,
        team_id=app.slack.team_id,
        trigger_id="1.2.3",
    )
    # Every logger that could see the body, at DEBUG (Bolt's copies its level from the app's when the app is built).
    loggers = ("", "slack_bolt", "slack_bolt.RequestVerification", "bot", "bot.bolt", "slack_sdk")
    with capture_logs(logging.DEBUG, loggers=loggers) as records:
        ack = app.slack.post(body, headers=signing.signed_headers(body, "not-the-secret"))
    assert ack.status == 401
    texts = records.texts()
    assert any("signature" in t for t in texts), texts  # the refusal itself is logged...
    pieces = ["Pw-", "quoted", "slash", "Zq9", quote(json.dumps(PASSWORD))[3:12]]
    leaks = [t for t in texts for piece in pieces if piece in t]
    assert not leaks, leaks[:3]  # ...but nothing of the body


@pytest.mark.integration
def test_gunicorn_decodes_chunks_and_a_chunked_body_over_the_limit_is_413(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "STORE_PATH": str(tmp_path / "store.sqlite"),
        "STORE_KEY": Fernet.generate_key().decode(),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bot.web:app", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/slack/events"
    head = "POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"

    def chunked(total: int) -> bytes:
        chunk = b"z" * 65536
        out = b"".join(b"10000\r\n" + chunk + b"\r\n" for _ in range(total // 65536))
        return out + b"0\r\n\r\n"

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        big = _raw_request(url, head, chunked(MAX_BODY_BYTES + 65536))
        assert big.split(b"\r\n", 1)[0].split(b" ")[1] == b"413", big[:200]
        small = _raw_request(url, head, chunked(65536))
        assert small.split(b"\r\n", 1)[0].split(b" ")[1] == b"401", small[:200]  # read, then refused unsigned
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
