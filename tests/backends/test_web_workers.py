"""`python -m bot run` (the Procfile's web line) with several worker processes on one port (issue 14.3/14.7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers.processes import ROOT, app_env, health, send_helps, wait_until
from helpers.servers import child_pids, free_port

from bot.acks import ACKS_BOARD_FILE, HostBoard
from bot.console.fake_slack import FakeSlack


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


def test_workers_without_redis_are_refused_saying_why(tmp_path: Path) -> None:
    proc = _run(app_env(tmp_path), "--port", str(free_port()), "--workers", "2")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "REDIS_URL is not set" in out and "could run twice" in out, out + err


def test_web_concurrency_without_redis_runs_one_process_as_before(tmp_path: Path) -> None:
    """Platforms set WEB_CONCURRENCY by themselves: without Redis it is ignored (one process), and said so."""
    port = free_port()
    proc = _run(app_env(tmp_path, WEB_CONCURRENCY="3"), "--port", str(port))
    try:
        wait_until(lambda: health(f"http://127.0.0.1:{port}") is not None or proc.poll() is not None)
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
    env = app_env(tmp_path, REDIS_URL=redis_url, SLACK_API_URL=fake_slack.api_url, TMPDIR=str(tmp_path), PORT=str(port))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python` is this venv's
    # The Procfile's web line itself, as a platform runs it: with REDIS_URL it starts 4 worker processes.
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    proc = subprocess.Popen(
        ["sh", "-c", f"exec {procfile['web']}"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: len(_children(proc.pid)) == 4 and health(base) is not None)
        assert "redis: ok" in requests.get(base + "/healthz", timeout=5).text
        counted, text = send_helps(base, fake_slack, 24)  # the kernel spreads them over the workers
        assert counted == 24, text[:1500]

        # A worker killed is replaced; the others kept serving.
        victim = _children(proc.pid)[0]
        os.kill(int(victim), signal.SIGKILL)
        wait_until(lambda: len(_children(proc.pid)) == 4 and victim not in _children(proc.pid))
        wait_until(lambda: health(base) is not None)
        workers = _children(proc.pid)
        # They share one acks board (bot/acks.py): the dead worker's slot cleared, its successor's taken.
        board = HostBoard(next(tmp_path.glob(f"chatrooms-metrics-*/{ACKS_BOARD_FILE}")))
        wait_until(lambda: board.processes() == {int(pid) for pid in _children(proc.pid)})
        assert int(victim) not in board.processes()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert list(tmp_path.glob("chatrooms-metrics-*")) == [], "the metrics directory goes with the workers"
    for pid in workers:  # every worker stopped with the supervisor
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
