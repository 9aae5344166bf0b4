"""The per-chatroom edit lock across hosts: `RedisLocks` on a real redis-server (issue 14.3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from helpers.edits import assert_waits_for_the_other_holder, overlaps_under_contention, run_two_edits

from bot.locks import LockTimeout, RedisLocks
from bot.sandbox.server import SandboxServer

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def client(redis_url: str):  # type: ignore[no-untyped-def]
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_one_key_admits_one_thread_at_a_time(client: redis.Redis) -> None:
    assert overlaps_under_contention(RedisLocks(client)) == []
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
        assert_waits_for_the_other_holder(RedisLocks(client))
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


@pytest.fixture
def slow_sandbox(sandbox: SandboxServer) -> SandboxServer:
    sandbox.config.delay = 0.2  # two saves started together overlap read → PUT
    return sandbox


def test_two_hosts_saving_one_chatroom_never_both_see_saved(slow_sandbox: SandboxServer, redis_url: str) -> None:
    results = run_two_edits(slow_sandbox.url, redis_url, "Renamed on host A")
    assert sorted(r["outcome"] for r in results) == ["conflict", "saved"], results
