"""Hostile requests and a hostile store against `python -m bot run` in its own process, logging at DEBUG.

1. A 100 MB unsigned POST: the answer, how long it took, the app's peak memory and how much it logged.
2. A login submission whose password holds `"`, `\\` and `%`, failing its signature: does any piece of the
   password reach the app's log?
3. Signed requests of shapes Slack never sends (`actions` an object, `view` null, `event` a list…): how many
   got a 500.
4. Start-up with a valid but wrong STORE_KEY, and with a damaged store file: does the app start anyway, and
   what does it say?

    .venv/bin/python bench/hostile_requests.py [--mb 100]
    PYTHONPATH=/path/to/old/checkout .venv/bin/python bench/hostile_requests.py   # measure another version
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import quote

from _common import SIGNING_SECRET, header, table
from cryptography.fernet import Fernet

from bot.console import signing
from bot.console.fake_slack import FakeSlack

PASSWORD = 'Pw-"Kq9\\Vb3"-Zq7%22x'
PIECES = ["Pw-", "Kq9", "Vb3", "Zq7"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(fake: FakeSlack, workdir: Path, key: str, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "NEXUDUS_BASE_URL": "http://127.0.0.1:9/api",
        "STORE_PATH": str(workdir / "store.sqlite"),
        "STORE_KEY": key,
        "LOG_LEVEL": "DEBUG",
        "PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    return env


def start(env: dict[str, str], workdir: Path, log: Path, wait: float = 30.0) -> tuple[subprocess.Popen[bytes], bool]:
    """Start the app; (process, listening?) — False when it exited or never listened."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    port = int(env["PORT"])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc, False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, True
        except OSError:
            time.sleep(0.1)
    return proc, False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def peak_mib(proc: subprocess.Popen[bytes]) -> float:
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, body: bytes, headers: dict[str, str], timeout: float = 120.0) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/slack/events", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return str(response.status)
    except Exception as exc:
        return type(exc).__name__
    finally:
        conn.close()


def upload(port: int, megabytes: int) -> str:
    """Stream an unsigned body of this size, watching for an answer while sending (as a browser would)."""
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {megabytes * 1024 * 1024}\r\n\r\n"
    )
    chunk = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode())
        sent = 0
        try:
            for _ in range(megabytes):
                sock.sendall(chunk)
                sent += 1
        except OSError:
            pass  # the server stopped reading: its answer is waiting
        sock.settimeout(10)
        try:
            answer = sock.recv(200)
        except OSError as exc:
            return f"{type(exc).__name__} after {sent} MiB sent"
    status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "no answer"
    return f"{status} after {sent} of {megabytes} MiB sent"


def hostile_shapes(fake: FakeSlack) -> list[tuple[str, Any]]:
    user = {"id": "U0001", "team_id": "T0001"}
    base = {"type": "block_actions", "user": user, "team": {"id": "T0001"}, "api_app_id": "A0001", "token": "t"}
    help_click = [{"action_id": "chatrooms.help", "block_id": "b"}]
    submit = {**base, "type": "view_submission"}
    return [
        ("actions is an object", {**base, "actions": {"action_id": "chatrooms.show"}}),
        ("an action is a string", {**base, "actions": ["chatrooms.show"]}),
        ("action_id is a number", {**base, "actions": [{"action_id": 7, "block_id": "b"}]}),
        ("view is null", {**submit, "view": None}),
        ("view is a list", {**submit, "view": [1]}),
        ("state.values is a list", {**submit, "view": {"callback_id": "x", "state": {"values": []}}}),
        ("private_metadata is an object", {**submit, "view": {"callback_id": "x", "private_metadata": {"a": 1}}}),
        ("user is a string", {**base, "user": "U0001", "actions": help_click}),
        ("team is a list", {**base, "team": ["T0001"], "actions": help_click}),
        ("event is a list", {"type": "event_callback", "team_id": "T0001", "api_app_id": "A0001", "event": [1]}),
        ("payload is a list", [base]),
        ("container is a string", {**base, "container": "x", "actions": help_click}),
    ]


def store_startup(fake: FakeSlack, tmp: Path, case: str) -> tuple[str, str]:
    workdir = tmp / case
    workdir.mkdir()
    key = Fernet.generate_key().decode()
    if case == "wrong key":
        from bot.nexudus.credentials import Credentials
        from bot.store import Store, fernet_from_setting

        with Store(workdir / "store.sqlite", fernet_from_setting(key)) as store:
            store.save_credentials("T1", "U1", Credentials("ops@example.com", "pw"), datetime.now(UTC))
        key = Fernet.generate_key().decode()
    else:
        (workdir / "store.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    before = (workdir / "store.sqlite").read_bytes()
    log = workdir / "app.log"
    proc, listening = start(environment(fake, workdir, key, free_port()), workdir, log)
    stop(proc)
    text = log.read_text(errors="replace")
    said = next((line.strip() for line in text.splitlines() if "STORE_KEY" in line or "is damaged" in line), "")
    if "Traceback" in text:
        said = "a traceback: " + (text.strip().splitlines()[-1][:90] if text.strip() else "")
    outcome = "started anyway" if listening else f"refused to start (exit {proc.returncode})"
    unchanged = (workdir / "store.sqlite").read_bytes() == before
    return outcome + ("" if unchanged else "; store file changed"), (said[:110] or "nothing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    header("Hostile requests and store against `python -m bot run` (LOG_LEVEL=DEBUG)")
    print(f"code under test: {os.environ.get('PYTHONPATH') or 'this checkout'}\n")
    rows: list[list[Any]] = []
    with TemporaryDirectory() as tmp_name, FakeSlack() as fake:
        tmp = Path(tmp_name)
        workdir = tmp / "app"
        workdir.mkdir()
        log = workdir / "app.log"
        env = environment(fake, workdir, Fernet.generate_key().decode(), free_port())
        proc, listening = start(env, workdir, log)
        assert listening, log.read_text()
        port = int(env["PORT"])
        try:
            # 1. A huge unsigned body.
            time.sleep(0.5)
            log_before, mem_before = log.stat().st_size, peak_mib(proc)
            started = time.monotonic()
            status = upload(port, args.mb)
            took = time.monotonic() - started
            time.sleep(0.5)
            logged = (log.stat().st_size - log_before) / 1024 / 1024
            rows.append(
                [f"{args.mb} MB unsigned POST", f"HTTP {status} in {took:.2f} s",
                 f"log +{logged:.1f} MiB; peak memory {mem_before:.0f} → {peak_mib(proc):.0f} MiB"]
            )  # fmt: skip
            # 2. A login with a hostile password, failing its signature.
            body = signing.view_submission_body(
                {"id": "V1", "callback_id": "chatrooms.login.modal", "private_metadata": "{}"},
                {
                    "email": {"email": {"type": "email_text_input", "value": "admin@sandbox.local"}},
                    "password": {"password": {"type": "plain_text_input", "value": PASSWORD}},
                },
                user_id="U0001",
                team_id="T0001",
                trigger_id="1.2.3",
            )
            start_at = log.stat().st_size
            status = post(port, body.encode(), signing.signed_headers(body, "not-the-secret"))
            time.sleep(0.5)
            with log.open("rb") as f:
                f.seek(start_at)
                new = f.read().decode(errors="replace")
            leaked = [p for p in PIECES if p in new]
            rows.append(
                ["login with `\"` in the password, bad signature", f"HTTP {status}",
                 f"password pieces in the log: {', '.join(leaked) or 'none'}"]
            )  # fmt: skip
            # 3. Signed requests of impossible shapes.
            outcomes: dict[str, int] = {}
            five_hundreds = []
            for name, payload in hostile_shapes(fake):
                text = "payload=" + quote(json.dumps(payload))
                if name == "event is a list":
                    text = json.dumps(payload)
                status = post(port, text.encode(), signing.signed_headers(text, SIGNING_SECRET))
                outcomes[status] = outcomes.get(status, 0) + 1
                if status.startswith("5"):
                    five_hundreds.append(name)
            rows.append(
                [f"{len(hostile_shapes(fake))} signed requests of impossible shapes",
                 ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())),
                 f"500 for: {'; '.join(five_hundreds) or 'none'}"]
            )  # fmt: skip
        finally:
            stop(proc)
        # 4. The store.
        for case in ("wrong key", "damaged store"):
            outcome, said = store_startup(fake, tmp, case)
            rows.append([f"start with a {case}", outcome, said])
    table(rows, ["probe", "outcome", "detail"])


if __name__ == "__main__":
    main()
