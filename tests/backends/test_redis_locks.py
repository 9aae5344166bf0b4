"""The per-chatroom edit lock across hosts: `RedisLocks` on a real redis-server (issue 14.3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.locks import LockTimeout, RedisLocks
from bot.sandbox.server import SandboxServer

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "reliability" / "edit_worker.py"
ROOM = 1_000_007


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def client(redis_url: str):  # type: ignore[no-untyped-def]
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_one_key_admits_one_thread_at_a_time(client: redis.Redis) -> None:
    locks = RedisLocks(client)
    inside: list[int] = []
    overlaps: list[int] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        for _ in range(5):
            with locks.hold("chatroom:1"):
                inside.append(n)
                if len(inside) > 1:
                    overlaps.append(n)
                time.sleep(0.002)
                inside.remove(n)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not overlaps
    assert client.keys("chatrooms:lock:*") == [], "released, not left to expire"


HOLDER = """
import sys, time
import redis
from bot.locks import RedisLocks
locks = RedisLocks(redis.Redis.from_url(sys.argv[1]), lease=float(sys.argv[3]))
with locks.hold("chatroom:42"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(url: str, hold: float, lease: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(hold), str(lease)], stdout=subprocess.PIPE, text=True, env=_env()
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_lock_held_by_another_host_is_waited_for(client: redis.Redis, redis_url: str) -> None:
    child = _holder(redis_url, 1.0, 15)
    try:
        locks = RedisLocks(client)
        with pytest.raises(LockTimeout), locks.hold("chatroom:42", timeout=0.2):
            pass
        with locks.hold("chatroom:43", timeout=0.2):
            pass  # another chatroom is free
        started = time.monotonic()
        with locks.hold("chatroom:42", timeout=10):
            waited = time.monotonic() - started
        assert waited > 0.3, "the other process still held it"
    finally:
        child.wait(timeout=10)


def test_a_holder_that_keeps_working_past_its_lease_keeps_the_lock(client: redis.Redis, redis_url: str) -> None:
    """The lease is renewed while the block runs: a slow Nexudus does not let a second edit in."""
    child = _holder(redis_url, 2.5, 0.6)
    try:
        with pytest.raises(LockTimeout), RedisLocks(client).hold("chatroom:42", timeout=1.5):
            pass
    finally:
        child.wait(timeout=10)


def test_a_killed_holder_frees_the_lock_within_one_lease(client: redis.Redis, redis_url: str) -> None:
    child = _holder(redis_url, 60, 1.0)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    started = time.monotonic()
    with RedisLocks(client).hold("chatroom:42", timeout=5):
        waited = time.monotonic() - started
    assert 0 < waited <= 1.5


def _run_workers(url: str, lock: str, *extra: str) -> list[dict[str, Any]]:
    """Both hosts read the chatroom, then save when both have read (not at a set time: under load one process's
    start can take longer than any head start, and it would then read the other's saved version)."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, lock, str(ROOM), field, value, "stdin", *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for field, value in (("name", "Renamed on host A"), ("active", "false"))
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def slow_sandbox(sandbox: SandboxServer) -> SandboxServer:
    sandbox.config.delay = 0.2  # two saves started together overlap read → PUT
    return sandbox


def test_two_hosts_saving_one_chatroom_never_both_see_saved(slow_sandbox: SandboxServer, redis_url: str) -> None:
    results = _run_workers(slow_sandbox.url, redis_url)
    assert sorted(r["outcome"] for r in results) == ["conflict", "saved"], results
