"""Acks first (bot/acks.py): under a burst, the work after acks waits for the acks; out of one, nothing waits.

Bounds on waiting are checked from below (it did wait at least this long) and by what was still true when the
wait ended, never by how fast a loaded machine ran.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import Future

import pytest

from bot.acks import AcksFirst
from bot.slack.lanes import LANE, FairExecutor, lower_priority


def test_one_request_at_a_time_never_delays_the_work_after_it() -> None:
    acks = AcksFirst(burst=3, window=5.0, max_defer=5.0)
    for _ in range(2):  # fewer than a burst, however close together
        with acks.acking():
            queued = time.monotonic()
        assert acks.yield_to_acks(queued) < 0.5  # returns at once: 5 s would mean it waited for a burst


def test_the_work_waits_for_an_ack_in_progress() -> None:
    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    in_ack, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def request() -> None:
        with acks.acking():
            in_ack.set()
            release.wait(10)

    thread = threading.Thread(target=request)
    thread.start()
    in_ack.wait(5)
    threading.Timer(0.3, release.set).start()
    waited = acks.yield_to_acks(time.monotonic())
    seen.append(acks.in_progress)
    thread.join(5)
    assert waited >= 0.25 and seen == [0], "the work started while the ack was still being made"


def test_a_burst_holds_the_work_until_it_has_passed() -> None:
    acks = AcksFirst(burst=4, window=0.4, max_defer=30.0)
    for _ in range(4):
        with acks.acking():
            pass
    arrived = time.monotonic()
    waited = acks.yield_to_acks(arrived)
    assert waited >= 0.3 and time.monotonic() - arrived >= 0.39


def test_a_flood_of_acks_never_holds_the_work_longer_than_max_defer() -> None:
    acks = AcksFirst(burst=1, window=60.0, max_defer=0.3)
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            with acks.acking():
                time.sleep(0.01)

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        queued = time.monotonic()
        waited = acks.yield_to_acks(queued)
        still_flooding = not stop.is_set()
    finally:
        stop.set()
        thread.join(5)
    assert still_flooding and waited >= 0.25, "the work went ahead only once the acks stopped (or not at all)"


def test_the_executor_starts_a_job_only_after_the_acks_of_its_burst() -> None:
    acks = AcksFirst(burst=2, window=0.3, max_defer=30.0)
    executor = FairExecutor(max_workers=2, per_lane=2, acks=acks)
    release = threading.Event()
    started: list[float] = []

    def request() -> None:
        with acks.acking():
            release.wait(10)

    requests = [threading.Thread(target=request) for _ in range(2)]
    try:
        for thread in requests:
            thread.start()
        while acks.in_progress < 2:
            time.sleep(0.005)
        executor.enter({LANE: "T:U"})
        job: Future[None] = executor.submit(lambda: started.append(time.monotonic()))
        time.sleep(0.2)
        assert not started, "a job started while acks were being made"
        released = time.monotonic()
        release.set()
        job.result(timeout=10)
        assert started[0] >= released
    finally:
        release.set()
        for thread in requests:
            thread.join(5)
        executor.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_work_after_acks_runs_at_a_lower_cpu_priority_than_the_requests() -> None:
    executor = FairExecutor(max_workers=1, nice=5)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    try:
        executor.enter({LANE: "T:U"})
        theirs = executor.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result(10)
    finally:
        executor.shutdown()
    assert theirs == min(19, mine + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine, "only the executor's threads"
    assert lower_priority(0) is False


def test_a_request_waiting_on_something_else_than_the_cpu_holds_no_work() -> None:
    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    with acks.acking(), acks.idle():  # an options answer waiting on Nexudus
        assert acks.yield_to_acks(time.monotonic()) < 0.5 and acks.in_progress == 0
    assert acks.in_progress == 0
    with acks.idle():  # outside any request (Socket Mode): nothing to leave, nothing goes negative
        assert acks.in_progress == 0 and acks.yield_to_acks(time.monotonic()) < 0.5


def test_work_that_opens_a_modal_never_waits_for_a_burst() -> None:
    from bot.slack.handoff import Handoff

    acks = AcksFirst(burst=1, window=60.0, max_defer=2.0)  # one arrival is a burst, for a minute
    executor = FairExecutor(max_workers=2, per_lane=2, acks=acks)
    runner = type("Runner", (), {"listener_executor": executor})()
    later = Handoff(runner)
    done = {"urgent": threading.Event(), "held": threading.Event()}
    try:
        with acks.acking():
            pass
        executor.enter({LANE: "T:U"})
        later("open edit", done["urgent"].set, urgent=True)
        later("list", done["held"].set)
        assert done["urgent"].wait(5), "a modal opener waited for the burst (its trigger_id lives 3 s)"
        assert not done["held"].wait(0.3), "other work yields to the burst's acks"
    finally:
        executor.shutdown(wait=True)  # the held job runs after max_defer
    assert done["held"].is_set()
