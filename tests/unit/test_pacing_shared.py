"""Hourly and daily allowances (issue 11.4) and one pacer shared by the processes of a machine (issue 12.14)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from bot.nexudus.errors import QuotaExhausted, RateLimited
from bot.nexudus.pacing import Limits, Pacer, PacerRegistry, SharedPacer, SlotFile
from bot.nexudus.redis_pacing import RedisPacer
from bot.slack.errors import describe

ROOT = Path(__file__).resolve().parents[2]
OPEN = {"min_interval": 0.0, "margin": 0.0, "window_margin": 0.0, "per_minute": 100_000, "writes_per_minute": 100_000}


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "shared", pytest.param("redis", marks=pytest.mark.redis)])
def make(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    def build(limits: Limits) -> Pacer | SharedPacer | RedisPacer:
        if request.param == "memory":
            return Pacer(limits, clock=clock, sleep=clock.sleep)
        if request.param == "redis":  # the same rules, decided in Redis transactions (a fake clock here)
            client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
            request.addfinalizer(client.close)
            return RedisPacer(client, "ops@example.com", limits, clock=clock, sleep=clock.sleep)
        return SharedPacer(SlotFile(tmp_path / "pacing.sqlite"), "ops@example.com", limits, clock, clock.sleep)

    return build


def test_the_hour_used_up_is_refused_naming_when_it_resets(make, clock: FakeClock) -> None:
    pacer = make(Limits(per_hour=10, **OPEN))
    first = clock.now
    for _ in range(10):
        pacer.acquire(write=False)
        clock.now += 1
    with pytest.raises(QuotaExhausted) as caught:
        pacer.acquire(write=False)
    exc = caught.value
    assert exc.period == "hour" and exc.limit == 10 and not exc.writes
    assert exc.resets_at == datetime.fromtimestamp(first + 3600, UTC)
    clock.now = first + 3600
    assert pacer.reserve(False) == 0, "the oldest request left the hour: allowed again"


def test_the_day_of_writes_used_up_refuses_writes_but_not_reads(make, clock: FakeClock) -> None:
    pacer = make(Limits(writes_per_day=5, **OPEN))
    first = clock.now
    for _ in range(5):
        pacer.acquire(write=True)
        clock.now += 60
    pacer.acquire(write=False)
    with pytest.raises(QuotaExhausted) as caught:
        pacer.acquire(write=True)
    assert caught.value.period == "day" and caught.value.writes
    assert caught.value.resets_at == datetime.fromtimestamp(first + 86400, UTC)


def test_an_allowance_freeing_up_within_max_wait_is_waited_for(make, clock: FakeClock) -> None:
    pacer = make(Limits(per_hour=3, max_wait=60, **OPEN))
    for _ in range(3):
        pacer.acquire(write=False)
    clock.now += 3600 - 30  # the oldest leaves the hour in 30 s
    pacer.acquire(write=False)
    assert clock.sleeps == [pytest.approx(30)]


def test_a_refused_request_books_no_slot(make, clock: FakeClock) -> None:
    pacer = make(Limits(per_hour=2, **OPEN))
    pacer.acquire(False)
    pacer.acquire(False)
    for _ in range(5):
        with pytest.raises(QuotaExhausted):
            pacer.acquire(False)
    clock.now += 3600
    assert pacer.reserve(False) == 0


def test_describe_names_the_limit_and_the_reset_time() -> None:
    resets = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
    text = describe(QuotaExhausted("day", 5000, resets, writes=True)).text
    assert "5,000 writes" in text and "per day" in text
    assert f"<!date^{int(resets.timestamp())}^" in text and "2026-12-01 14:05 UTC" in text
    assert "Nothing was sent or changed" in text
    hourly = describe(QuotaExhausted("hour", 5000, resets, writes=False)).text
    assert "5,000 requests" in hourly and "per hour" in hourly


def test_a_long_throttle_from_nexudus_is_worded_as_a_used_allowance() -> None:
    """Another app sharing the account can use its hour: Nexudus then answers with a long Retry-After."""
    text = describe(RateLimited(1800)).text
    assert "hourly or daily allowance" in text and "about 30 min" in text
    assert "allowance" not in describe(RateLimited(1)).text


# ------------------------------------------------------------------------------ shared between processes
def test_two_slot_files_on_one_path_share_the_slots(tmp_path: Path, clock: FakeClock) -> None:
    """Two SlotFiles are what two processes hold: a slot booked by one is seen by the other."""
    limits = Limits()
    web = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "Ops@Example.com", limits, clock, clock.sleep)
    worker = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "ops@example.com ", limits, clock, clock.sleep)
    other = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "someone@else.com", limits, clock, clock.sleep)
    assert web.reserve(False) == 0
    assert worker.reserve(False) == pytest.approx(limits.min_interval + limits.margin)
    assert other.reserve(False) == 0, "another account has its own slots"


def test_a_throttled_retry_in_one_process_holds_the_others_back(tmp_path: Path, clock: FakeClock) -> None:
    limits = Limits()
    web = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "ops@example.com", limits, clock, clock.sleep)
    worker = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "ops@example.com", limits, clock, clock.sleep)
    web.reserve(False)
    web.retry_slot(2.0, write=True)
    assert worker.reserve(False) == pytest.approx(2.0 + limits.min_interval + limits.margin)


def test_a_throttled_retry_is_booked_behind_the_other_process_s_slots(tmp_path: Path, clock: FakeClock) -> None:
    limits = Limits()
    web = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "ops@example.com", limits, clock, clock.sleep)
    worker = SharedPacer(SlotFile(tmp_path / "p.sqlite"), "ops@example.com", limits, clock, clock.sleep)
    for _ in range(20):
        worker.reserve(False)
    step = limits.min_interval + limits.margin
    assert web.retry_slot(1.0, write=False) == pytest.approx(20 * step), "after them, spaced, not at +1 s"


def test_the_file_keeps_no_e_mail_and_is_private(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "p.sqlite"
    SharedPacer(SlotFile(path), "ops@example.com", Limits(), clock, clock.sleep).reserve(False)
    assert b"ops@example.com" not in path.read_bytes()
    assert (path.stat().st_mode & 0o777) == 0o600


def test_registry_with_a_path_gives_shared_pacers(tmp_path: Path) -> None:
    registry = PacerRegistry(path=tmp_path / "p.sqlite")
    a, b = registry.for_account("a@b.c"), registry.for_account("A@B.C")
    assert isinstance(a, SharedPacer) and a is b


BOOKER = """
import json, sys, time
from pathlib import Path
from bot.nexudus.pacing import Limits, PacerRegistry
limits = Limits(min_interval=0.02, margin=0.0)
path = Path(sys.argv[1]) if sys.argv[1] != "-" else None
now = [0.0]  # the clock the pacer reads, set just before each booking, so slot = now + wait exactly
pacer = PacerRegistry(limits, clock=lambda: now[0], sleep=lambda s: None, path=path).for_account("ops@example.com")
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
slots = []
for _ in range(40):
    now[0] = time.time()
    slots.append(now[0] + pacer.reserve(False))
print(json.dumps(slots))
"""


def _book_from_processes(path: str) -> list[float]:
    start_at = time.time() + 1.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BOOKER, path, str(start_at)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(3)
    ]
    slots: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        slots.extend(json.loads(out))
    return sorted(slots)


def test_three_processes_pacing_one_account_keep_the_interval_between_them(tmp_path: Path) -> None:
    slots = _book_from_processes(str(tmp_path / "pacing.sqlite"))
    assert len(slots) == 120
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= 0.02 - 1e-4, f"two processes booked slots {min(gaps) * 1000:.1f} ms apart"


def test_threads_and_files_together_keep_the_interval(tmp_path: Path) -> None:
    """Threads of two 'processes' (two SlotFiles) booking at once on a real clock."""
    limits = Limits(min_interval=0.01, margin=0.0)
    files = [SlotFile(tmp_path / "p.sqlite"), SlotFile(tmp_path / "p.sqlite")]
    slots: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        now = [0.0]
        pacer = SharedPacer(files[n % 2], "ops@example.com", limits, clock=lambda: now[0], sleep=lambda s: None)
        for _ in range(30):
            now[0] = time.time()
            slot = now[0] + pacer.reserve(False)
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    slots.sort()
    assert len(slots) == 120
    assert min(b - a for a, b in itertools.pairwise(slots)) >= 0.01 - 1e-4
