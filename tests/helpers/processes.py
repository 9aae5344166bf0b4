"""The app run as a child process by a test (`python -m bot run`, gunicorn): its environment, and waiting for it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from conftest import SIGNING_SECRET
from cryptography.fernet import Fernet

from bot.console import signing
from bot.console.fake_slack import FakeSlack
from bot.sandbox.server import SandboxConfig, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
NOT_LISTENING = "http://127.0.0.1:9"
"""The discard port on loopback: nothing listens there, so a child that calls out fails at once and clearly."""
MACHINE_SETTINGS = {"REDIS_URL", "DATABASE_URL", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "SLACK_APP_TOKEN"}
APP_PREFIXES = ("SLACK_", "NEXUDUS_", "STORE_", "INFLIGHT_")  # the app's own settings, never the machine's


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an app process: this checkout importable, the embedded mode whatever this machine's
    environment says (none of `MACHINE_SETTINGS` nor of the app's own `APP_PREFIXES` settings), a fresh store under
    `tmp_path`, the test signing secret and bot token, Slack and Nexudus where nothing listens; `extra` adds or
    overrides settings."""
    env = {k: v for k, v in os.environ.items() if k not in MACHINE_SETTINGS and not k.startswith(APP_PREFIXES)}
    return env | {
        "PYTHONPATH": str(ROOT),
        "STORE_PATH": str(tmp_path / "store.sqlite"),
        "STORE_KEY": Fernet.generate_key().decode(),
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_URL": f"{NOT_LISTENING}/api/",
        "NEXUDUS_BASE_URL": f"{NOT_LISTENING}/api",
        **extra,
    }


def wait_until(check: Callable[[], object], timeout: float = 60.0, what: str = "the condition") -> None:
    """Poll `check` every 0.2 s until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def health(base: str) -> str | None:
    """The text of `base`/healthz when it answers 200, else None (not listening yet, or still loading the app)."""
    try:
        answer = requests.get(base + "/healthz", timeout=5)
    except requests.RequestException:
        return None
    return answer.text if answer.status_code == 200 else None


def wait_healthy(base: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """The health text once `proc` serves `base`/healthz; fails at once (with its stderr) if `proc` exits first."""
    found: list[str] = []

    def answered() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else f"exited {proc.returncode}"
        text = health(base)
        if text is not None:
            found.append(text)
        return text is not None

    wait_until(answered, timeout, f"{base}/healthz")
    return found[0]


@contextmanager
def app_world(tmp_path: Path, **extra: str) -> Iterator[tuple[SandboxServer, FakeSlack, dict[str, str]]]:
    """A sandbox Nexudus (no throttling) and a strict fake Slack on loopback, and the environment (`app_env`) of an
    app process using them, pacing off; both servers stopped afterwards."""
    sandbox = SandboxServer(config=SandboxConfig(throttle=False)).start()
    fake = FakeSlack().start()
    try:
        urls = {"NEXUDUS_BASE_URL": sandbox.url, "SLACK_API_URL": fake.api_url, "NEXUDUS_PACING": "false"}
        yield sandbox, fake, app_env(tmp_path, **(urls | extra))
    finally:
        fake.stop()
        sandbox.stop()


def send_helps(base: str, fake_slack: FakeSlack, count: int) -> tuple[float, str]:
    """`count` signed `/chatrooms help` commands, each on a new connection (so the kernel spreads them over the
    workers), each acked 200; returns the command acks the app's /metrics counts (summed over its workers) and
    the /metrics text."""
    for n in range(count):
        url = fake_slack.response_url(f"help {n}")
        body = signing.slash_command_body("/chatrooms", "help", "U1", "T1", "C1", url, f"t{n}")
        headers = signing.signed_headers(body, SIGNING_SECRET) | {"Connection": "close"}
        assert requests.post(base + "/slack/events", data=body, headers=headers, timeout=10).status_code == 200
    text = requests.get(base + "/metrics", timeout=5).text
    found = re.search(r'^chatrooms_slack_acks_total\{kind="command"\} (\S+)', text, re.M)
    assert found, text[:1500]
    return float(found.group(1)), text
