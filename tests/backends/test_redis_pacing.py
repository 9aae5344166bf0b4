"""One Nexudus account paced across processes and hosts through a real redis-server (issue 14.3)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from helpers.edits import start_together

from bot.nexudus.pacing import Limits, PacerRegistry
from bot.nexudus.redis_pacing import RedisPacer

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(redis_url: str):  # type: ignore[no-untyped-def]
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def _slots(client: redis.Redis, pacer: RedisPacer, key: str | None = None) -> list[float]:
    return [score for _, score in client.zrange(key or pacer.all_key, 0, -1, withscores=True)]


def test_two_hosts_pacers_share_one_account(client: redis.Redis, redis_url: str) -> None:
    limits = Limits()
    other_host = redis.Redis.from_url(redis_url)
    try:
        web = RedisPacer(client, "Ops@Example.com", limits)
        worker = RedisPacer(other_host, " ops@example.com", limits)
        someone = RedisPacer(other_host, "someone@else.com", limits)
        assert web.reserve(False) == 0
        waited = worker.reserve(False)
        # The second host's slot is booked one spacing after the first's; its wait is that, less the time that
        # passed between the two bookings (a loaded machine can take tens of ms there).
        first, second = _slots(client, web)
        assert second - first == pytest.approx(limits.min_interval + limits.margin, abs=1e-5)
        assert 0 < waited <= limits.min_interval + limits.margin
        assert someone.reserve(False) == 0, "another account has its own slots"
    finally:
        other_host.close()


def test_slots_are_in_redis_time_not_this_hosts_clock(client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host whose clock is an hour ahead books where every other host does: at Redis' time."""
    pacer = RedisPacer(client, "ops@example.com")
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0 + 3600 * 24 * 365 * 30)
    pacer.reserve(False)
    monkeypatch.undo()
    seconds, micros = client.time()
    (slot,) = _slots(client, pacer)
    assert abs(slot - (seconds + micros / 1e6)) < 1.0


def test_a_throttled_retry_in_one_process_holds_the_others_back(client: redis.Redis) -> None:
    limits = Limits()
    web = RedisPacer(client, "ops@example.com", limits)
    worker = RedisPacer(client, "ops@example.com", limits)
    web.reserve(False)
    web.retry_slot(2.0, write=True)
    assert worker.reserve(False) == pytest.approx(2.0 + limits.min_interval + limits.margin, abs=0.05)
    assert web.refusals == 1
    assert len(_slots(client, web, web.writes_key)) == 1, "the retried write counts among the writes"


def test_a_throttled_retry_is_booked_behind_every_process_s_slots(client: redis.Redis) -> None:
    """Not at Retry-After among the slots other processes booked (it would be refused again), but after them."""
    limits = Limits()
    web = RedisPacer(client, "ops@example.com", limits)
    worker = RedisPacer(client, "ops@example.com", limits)
    for _ in range(20):
        worker.reserve(False)
    last = max(_slots(client, worker))
    web.retry_slot(1.0, write=False)
    slots = sorted(_slots(client, web))
    assert len(slots) == 21
    assert slots[-1] == pytest.approx(last + limits.min_interval + limits.margin), "after them, spaced"


def test_redis_holds_no_e_mail_and_idle_accounts_expire(client: redis.Redis) -> None:
    pacer = RedisPacer(client, "ops@example.com")
    pacer.reserve(True)
    keys = [k.decode() for k in client.keys("*")]
    assert keys and all("ops@example.com" not in k for k in keys)
    assert all(0 < client.ttl(k) <= 86400 + 120 for k in keys), "an idle account's slots do not stay forever"


def test_registry_with_redis_gives_redis_pacers(client: redis.Redis, tmp_path: Path) -> None:
    registry = PacerRegistry(redis=client, path=tmp_path / "pacing.sqlite")
    pacer = registry.for_account("a@b.c")
    assert isinstance(pacer, RedisPacer) and pacer is registry.for_account("A@B.C")
    assert not (tmp_path / "pacing.sqlite").exists(), "Redis, not the machine's slot file"


CONTENDER = """
import json, sys, threading, time
import redis
from bot.nexudus.pacing import Limits
from bot.nexudus.redis_pacing import RedisPacer
limits = Limits(min_interval=0.01, margin=0.0, window=1.0, window_margin=0.0, per_minute=30, writes_per_minute=10)
client = redis.Redis.from_url(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # both processes start together once both are ready (a set time failed under load)
started = time.time()
conflicts = []
def run(n):
    pacer = RedisPacer(client, "ops@example.com", limits)   # real Redis time, real sleeps
    for i in range(10):
        pacer.acquire(write=(i % 3 == 0))
    conflicts.append(pacer.conflicts)
threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
for t in threads: t.start()
for t in threads: t.join(60)
print(json.dumps({"started": started, "ended": time.time(), "conflicts": sum(conflicts)}))
"""


def test_two_processes_contending_keep_every_limit_between_them(client: redis.Redis, redis_url: str) -> None:
    """Two processes of three threads each acquire 30 slots apiece, 1/3 writes, at once; the limits (scaled
    down: 10 ms apart, 30 a 1-s window, 10 writes a window) hold over the union of their slots."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, redis_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    start_together(procs)
    runs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0
        runs.append(json.loads(out))
    pacer = RedisPacer(client, "ops@example.com")
    slots = sorted(_slots(client, pacer))
    writes = sorted(_slots(client, pacer, pacer.writes_key))
    assert len(slots) == 60 and len(writes) == 2 * 3 * 4
    assert min(b - a for a, b in itertools.pairwise(slots)) >= 0.01 - 1e-6
    assert max(sum(1 for s in slots if t <= s < t + 1.0) for t in slots) <= 30
    assert max(sum(1 for s in writes if t <= s < t + 1.0) for t in writes) <= 10
    # They did contend: both ran at once, and the window limit made them wait (60 slots at 30 a second).
    assert max(r["started"] for r in runs) < min(r["ended"] for r in runs)
    assert slots[-1] - slots[0] >= 1.0
