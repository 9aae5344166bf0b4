"""`python -m bot run` (the Procfile's web line) with several worker processes on one port (issue 14.3/14.7)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import SIGNING_SECRET
from cryptography.fernet import Fernet
from helpers.servers import child_pids, free_port

from bot.console import signing
from bot.console.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    drop = {"REDIS_URL", "DATABASE_URL", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "SLACK_APP_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return env | {
        "PYTHONPATH": str(ROOT),
        "STORE_PATH": str(tmp_path / "store.sqlite"),
        "STORE_KEY": Fernet.generate_key().decode(),
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "NEXUDUS_BASE_URL": "http://127.0.0.1:9/api",
        **extra,
    }


def _run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[str]:
    return child_pids(pid)


def _wait_until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_workers_without_redis_are_refused_saying_why(tmp_path: Path) -> None:
    proc = _run(_env(tmp_path), "--port", str(free_port()), "--workers", "2")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "REDIS_URL is not set" in out and "could run twice" in out, out + err


def test_web_concurrency_without_redis_runs_one_process_as_before(tmp_path: Path) -> None:
    """Platforms set WEB_CONCURRENCY by themselves: without Redis it is ignored (one process), and said so."""
    port = free_port()
    proc = _run(_env(tmp_path, WEB_CONCURRENCY="3"), "--port", str(port))
    try:
        _wait_until(lambda: _healthy(f"http://127.0.0.1:{port}") or proc.poll() is not None)
        assert proc.poll() is None and _children(proc.pid) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "WEB_CONCURRENCY=3 is ignored: without REDIS_URL the app runs one process" in err


@pytest.mark.redis
def test_with_redis_the_procfile_web_line_runs_four_workers_sharing_the_port_and_metrics(
    tmp_path: Path, redis_url: str, fake_slack: FakeSlack
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(tmp_path, REDIS_URL=redis_url, SLACK_API_URL=fake_slack.api_url, TMPDIR=str(tmp_path), PORT=str(port))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python` is this venv's
    # The Procfile's web line itself, as a platform runs it: with REDIS_URL it starts 4 worker processes.
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    proc = subprocess.Popen(
        ["sh", "-c", f"exec {procfile['web']}"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_until(lambda: len(_children(proc.pid)) == 4 and _healthy(base))
        assert "redis: ok" in requests.get(base + "/healthz", timeout=5).text
        sent = 24
        for n in range(sent):  # new connections each: the kernel spreads them over the workers
            url = fake_slack.response_url(f"help {n}")
            body = signing.slash_command_body("/chatrooms", "help", "U1", "T1", "C1", url, f"t{n}")
            headers = signing.signed_headers(body, SIGNING_SECRET) | {"Connection": "close"}
            assert requests.post(base + "/slack/events", data=body, headers=headers, timeout=10).status_code == 200
        text = requests.get(base + "/metrics", timeout=5).text
        found = re.search(r'^chatrooms_slack_acks_total\{kind="command"\} (\S+)', text, re.M)
        assert found and float(found.group(1)) == sent, text[:1500]

        # A worker killed is replaced; the others kept serving.
        victim = _children(proc.pid)[0]
        os.kill(int(victim), signal.SIGKILL)
        _wait_until(lambda: len(_children(proc.pid)) == 4 and victim not in _children(proc.pid))
        _wait_until(lambda: _healthy(base))
        workers = _children(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert list(tmp_path.glob("chatrooms-metrics-*")) == [], "the metrics directory goes with the workers"
    for pid in workers:  # every worker stopped with the supervisor
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
