"""Pacer: per-account request slots under Nexudus' documented limits, with a fake clock and sleep."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import deque

import pytest

from bot.nexudus.pacing import Limits, Pacer, PacerRegistry

LIMITS = Limits()
STEP = LIMITS.min_interval + LIMITS.margin  # the spacing the pacer keeps between two slots


class FakeClock:
    """A clock that only moves when the fake sleep sleeps (or a test advances it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, limits: Limits = LIMITS) -> Pacer:
    return Pacer(limits, clock=clock, sleep=clock.sleep)


def test_first_request_goes_at_once(clock) -> None:
    pacer = make(clock)
    pacer.acquire(write=False)
    assert clock.sleeps == []
    assert pacer.waited == 0


def test_min_interval_between_requests(clock) -> None:
    pacer = make(clock)
    assert pacer.reserve(False) == 0
    assert pacer.reserve(False) == pytest.approx(STEP)
    assert pacer.reserve(True) == pytest.approx(2 * STEP)
    clock.advance(10)
    assert pacer.reserve(False) == 0


def test_acquire_sleeps_the_wait_and_counts_it(clock) -> None:
    pacer = make(clock)
    pacer.acquire(False)
    pacer.acquire(False)
    assert clock.sleeps == [pytest.approx(STEP)]
    assert pacer.waited == pytest.approx(STEP)


def test_no_wait_when_the_interval_already_passed(clock) -> None:
    pacer = make(clock)
    pacer.acquire(False)
    clock.advance(0.5)
    pacer.acquire(False)
    assert clock.sleeps == []


def test_120_per_minute_window(clock) -> None:
    pacer = make(clock, Limits(min_interval=0.0, margin=0.0, window_margin=0.0))
    first = clock.now
    for _ in range(120):
        assert pacer.reserve(False) == 0
    # The 121st must wait until the first leaves the 60 s window.
    assert pacer.reserve(False) == pytest.approx(60.0)
    clock.advance(60.0)
    assert pacer.reserve(False) == pytest.approx(0.0)  # the second slot leaves the window at first + 60
    assert clock.now == first + 60.0


def test_120_per_minute_with_default_spacing_never_more_than_120_in_any_minute(clock) -> None:
    pacer = make(clock)
    slots: list[float] = []
    for _ in range(400):
        slots.append(clock.now + pacer.reserve(write=False))
    for i, start in enumerate(slots):
        in_window = [s for s in slots[i:] if s < start + 60.0]
        assert len(in_window) <= 120
    assert all(b - a >= LIMITS.min_interval for a, b in itertools.pairwise(slots))


def test_60_writes_per_minute_window(clock) -> None:
    pacer = make(clock, Limits(min_interval=0.0, margin=0.0, window_margin=0.0))
    for _ in range(60):
        assert pacer.reserve(True) == 0
    assert pacer.reserve(False) == 0, "reads are not held by the writes window"
    assert pacer.reserve(True) == pytest.approx(60.0)


def test_writes_window_with_defaults(clock) -> None:
    pacer = make(clock)
    slots = [clock.now + pacer.reserve(write=True) for _ in range(150)]
    for i, start in enumerate(slots):
        assert len([s for s in slots[i:] if s < start + 60.0]) <= 60
    # The 61st write waits for the first write's window to pass (plus the margin).
    assert slots[60] - slots[0] == pytest.approx(60.0 + LIMITS.window_margin)


class YieldingClock(FakeClock):
    """Hands the GIL over on every reading, so unsynchronised reservations would interleave."""

    def __call__(self) -> float:
        time.sleep(0)
        return self.now


class YieldingDeque(deque[float]):
    """A deque that hands the GIL over on every read, widening any race between reading and booking a slot."""

    def __getitem__(self, index):
        time.sleep(0)
        return super().__getitem__(index)

    def __len__(self) -> int:
        time.sleep(0)
        return super().__len__()


def test_thread_safety_slots_never_closer_than_min_interval() -> None:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        _reserve_from_threads()
    finally:
        sys.setswitchinterval(previous)


def _reserve_from_threads() -> None:
    clock = YieldingClock()
    pacer = make(clock)
    # White-box: slow the pacer's own bookkeeping down so that a missing lock shows.
    pacer._all = YieldingDeque(maxlen=LIMITS.per_minute)
    pacer._writes = YieldingDeque(maxlen=LIMITS.writes_per_minute)
    slots: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(write: bool) -> None:
        barrier.wait()
        for _ in range(40):
            wait = pacer.reserve(write)
            with lock:
                slots.append(clock.now + wait)

    threads = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert len(slots) == 320
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= LIMITS.min_interval
    for i, start in enumerate(slots):
        assert len([s for s in slots[i:] if s < start + 60.0]) <= LIMITS.per_minute


def test_registry_shares_a_pacer_per_account_case_insensitively(clock) -> None:
    registry = PacerRegistry(clock=clock, sleep=clock.sleep)
    a = registry.for_account("Ops@Example.com")
    b = registry.for_account(" ops@example.COM ")
    c = registry.for_account("other@example.com")
    assert a is not None and a is b
    assert c is not None and c is not a
    a.acquire(False)
    b.acquire(False)
    c.acquire(False)
    assert clock.sleeps == [pytest.approx(STEP)], "same account shares slots, another does not"


def test_registry_passes_limits_on(clock) -> None:
    limits = Limits(min_interval=1.0)
    pacer = PacerRegistry(limits, clock=clock, sleep=clock.sleep).for_account("a@b")
    assert pacer is not None and pacer.limits is limits


def test_registry_disabled_gives_none() -> None:
    assert PacerRegistry(enabled=False).for_account("ops@example.com") is None


def test_registry_is_thread_safe(clock) -> None:
    registry = PacerRegistry(clock=clock, sleep=clock.sleep)
    got: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        got.append(registry.for_account("ops@example.com"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(p) for p in got}) == 1


def test_a_throttled_retry_is_booked_so_others_queue_behind_it(clock) -> None:
    pacer = make(clock)
    pacer.reserve(write=False)
    pacer.retry_slot(2.0, write=True)
    assert pacer.refusals == 1
    # The next request waits for the retry (at +2 s) plus the spacing, not just the spacing.
    assert pacer.reserve(write=False) == pytest.approx(2.0 + STEP)
