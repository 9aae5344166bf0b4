"""Acks first (bot/acks.py): under a burst, the work after acks waits for the acks; out of one, nothing waits.

Bounds on waiting are checked from below (it did wait at least this long) and by what was still true when the
wait ended, never by how fast a loaded machine ran.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers.threads import held_elsewhere

from bot.acks import AcksFirst, HostBoard, open_board
from bot.slack.lanes import LANE, FairExecutor, lower_priority


def _threads(prefix: str) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(prefix + "-"))


def ack_in_progress(acks: AcksFirst) -> AbstractContextManager[threading.Event]:
    """A request being acknowledged (in another thread) until the block ends or the event it yields is set."""
    return held_elsewhere(acks.acking)


def test_one_request_at_a_time_never_delays_the_work_after_it() -> None:
    acks = AcksFirst(burst=3, window=5.0, max_defer=5.0)
    for _ in range(2):  # fewer than a burst, however close together
        with acks.acking():
            queued = time.monotonic()
        assert acks.yield_to_acks(queued) < 0.5  # returns at once: 5 s would mean it waited for a burst


def test_the_work_waits_for_an_ack_in_progress() -> None:
    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    seen: list[int] = []
    with ack_in_progress(acks) as release:
        threading.Timer(0.3, release.set).start()
        waited = acks.yield_to_acks(time.monotonic())
        seen.append(acks.in_progress)
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


def test_under_a_burst_one_thread_waits_for_the_acks_and_the_other_jobs_wait_unwoken() -> None:
    """Waking a thread per request only to make it wait for the acks took the interpreter's lock from them."""
    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    executor = FairExecutor(max_workers=8, per_lane=8, acks=acks, thread_name_prefix="burst-held")
    done: list[int] = []
    try:
        with ack_in_progress(acks):
            for i in range(20):  # acks of a burst, each handing its work over
                executor.enter({LANE: f"T:U{i}"})
                executor.submit(done.append, i)
            time.sleep(0.2)
            assert not done, "work started while a request was being acknowledged"
            assert _threads("burst-held") == ["burst-held-release"], "threads were called for jobs, only to wait"
        deadline = time.monotonic() + 10
        while len(done) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(done) == list(range(20)), "the jobs held while the acks went on never ran"
        assert len(_threads("burst-held")) <= 8 + 1
    finally:
        executor.shutdown()


def test_a_modal_opener_submitted_behind_held_work_starts_at_once() -> None:
    from bot.slack.handoff import Handoff

    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    executor = FairExecutor(max_workers=4, per_lane=2, acks=acks)
    later = Handoff(type("Runner", (), {"listener_executor": executor})())
    opened = threading.Event()
    held: list[int] = []
    try:
        with ack_in_progress(acks):
            executor.enter({LANE: "T:U"})  # the same lane: the modal opener is queued behind them
            for i in range(5):
                later("list", lambda i=i: held.append(i))
            later("open edit", opened.set, urgent=True)
            assert opened.wait(5), "a modal opener waited behind held work (its trigger_id lives 3 s)"
            assert not held
    finally:
        executor.shutdown(wait=True)
    assert sorted(held) == list(range(5))


def test_jobs_held_unwoken_still_start_within_max_defer_of_their_queueing() -> None:
    acks = AcksFirst(burst=100, window=0.0, max_defer=0.3)
    executor = FairExecutor(max_workers=4, per_lane=4, acks=acks)
    started: list[float] = []
    try:
        with ack_in_progress(acks):  # a flood that never pauses
            executor.enter({LANE: "T:U"})
            queued = time.monotonic()
            jobs = [executor.submit(lambda: started.append(time.monotonic())) for _ in range(6)]
            for job in jobs:
                job.result(timeout=10)
            assert acks.in_progress == 1, "the acks were still going on"
        assert min(started) >= queued + 0.3
    finally:
        executor.shutdown()


# -- the host board: every web process of the host (gunicorn's workers) ----------------------------------
def _other_process(path: Path, hold: float, arrivals: int, started: Any, done: Any) -> None:
    """Another web process of this host: `arrivals` quick acks, then one held for `hold` seconds."""
    acks = AcksFirst(board=HostBoard(path), burst=100)
    for _ in range(arrivals):
        with acks.acking():
            pass
    with acks.acking():
        started.set()
        time.sleep(hold)
    done.set()
    time.sleep(30)  # stays alive (its slot stays claimed) until the test ends it


@contextmanager
def another_process(path: Path, *, hold: float = 0.0, arrivals: int = 0) -> Iterator[tuple[Any, Any, Any]]:
    context = multiprocessing.get_context("fork")
    started, done = context.Event(), context.Event()
    child = context.Process(target=_other_process, args=(path, hold, arrivals, started, done), daemon=True)
    child.start()
    try:
        assert started.wait(10), "the other process did not start"
        yield child, started, done
    finally:
        child.kill()
        child.join(10)


def test_the_work_waits_for_another_process_s_ack_in_progress(tmp_path: Path) -> None:
    board = HostBoard.create(tmp_path / "acks.board")
    acks = AcksFirst(board=board, burst=100, window=0.0, max_defer=30.0)
    with another_process(board.path, hold=0.4) as (child, _, done):
        queued = time.monotonic()
        waited = acks.yield_to_acks(queued)
        finished_first = done.is_set()
        assert board.processes() == {os.getpid(), child.pid}
    assert finished_first and waited >= 0.2, "the work started while another worker was still acknowledging"


def test_a_burst_spread_over_the_host_s_processes_holds_the_work(tmp_path: Path) -> None:
    board = HostBoard.create(tmp_path / "acks.board")
    acks = AcksFirst(board=board, burst=6, window=0.5, max_defer=30.0)
    with acks.acking():  # this process saw 1 of them, the other 5
        pass
    with another_process(board.path, arrivals=4) as (_, _, done):
        done.wait(10)
        arrived = time.monotonic()
        waited = acks.yield_to_acks(arrived)
    assert waited >= 0.2, "5 + 1 arrivals on the host within 0.5 s are a burst, though neither process saw 6"


def test_without_a_board_other_processes_are_not_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "acks.board"
    HostBoard.create(path)
    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    with another_process(path, hold=5.0):
        assert acks.yield_to_acks(time.monotonic()) < 1.0


def test_a_killed_process_holds_nobody_once_its_parent_clears_its_slot(tmp_path: Path) -> None:
    board = HostBoard.create(tmp_path / "acks.board")
    board.claim()
    with another_process(board.path, hold=60.0) as (child, _, _):
        assert board.busy(time.monotonic(), 0.0, 100), "its ack is in progress"
        child.kill()
        child.join(10)
        assert board.busy(time.monotonic(), 0.0, 100), "killed mid-ack, it could not say it stopped"
        board.clear(child.pid)  # what gunicorn's master does in child_exit
        assert not board.busy(time.monotonic(), 0.0, 100)
        assert board.processes() == {os.getpid()}


def test_a_dead_process_s_slot_is_taken_again_and_a_new_board_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "acks.board"
    board = HostBoard(path, slots=2)
    board.claim()
    with another_process(path, hold=60.0) as (child, _, _):
        child.kill()
        child.join(10)
        assert board.processes() == {os.getpid(), child.pid}
        assert HostBoard(path, slots=2).claim(os.getppid()) in (0, 1), "the dead process's slot"
        assert board.processes() == {os.getpid(), os.getppid()}
        with pytest.raises(RuntimeError, match="no free slot"):
            HostBoard(path, slots=2).claim(1)
    assert HostBoard.create(path, slots=2).processes() == set(), "a previous run's slots are gone"


def test_one_waiting_thread_watches_the_other_processes_for_all(tmp_path: Path) -> None:
    class Counting(HostBoard):
        looks = 0

        def busy(self, now: float, window: float, burst: int) -> bool:
            Counting.looks += 1
            return super().busy(now, window, burst)

    board = Counting.create(tmp_path / "acks.board")
    acks = AcksFirst(board=board, burst=100, window=0.0, max_defer=30.0, poll=0.01)
    with another_process(board.path, hold=0.5) as (_, _, done):
        waiters = [threading.Thread(target=acks.yield_to_acks, args=(time.monotonic(),)) for _ in range(20)]
        for thread in waiters:
            thread.start()
        for thread in waiters:
            thread.join(10)
        assert done.is_set()
    # 20 threads each looking every 10 ms for 0.5 s would be ~1000 looks; one watcher makes ~50, plus a look
    # by each thread when it starts and when the watcher leaves.
    assert Counting.looks < 200, Counting.looks


def test_a_process_finding_the_board_full_still_starts_and_waits_for_its_own_acks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "acks.board"
    HostBoard.create(path, slots=1).claim(os.getppid())  # the only slot, held by a live process
    acks = AcksFirst(board=HostBoard(path, slots=1), burst=2, window=0.3)
    assert acks.board is None and "no free slot" in caplog.text
    for _ in range(2):
        with acks.acking():
            pass
    assert acks.yield_to_acks(time.monotonic()) >= 0.2, "its own burst still holds its work"


def test_a_jobs_queue_time_is_taken_on_the_acks_clock_so_an_injected_clock_bounds_its_wait() -> None:
    """The executor dates each job with the clock `AcksFirst` compares it with (time is a parameter): on another
    clock, a job queued during an endless ack would wait as long as the two clocks are apart."""
    ticks = iter(range(10_000))
    acks = AcksFirst(burst=100, window=0.0, max_defer=1.0, clock=lambda: -1e6 + 0.5 * next(ticks))
    executor = FairExecutor(max_workers=1, per_lane=1, acks=acks)
    try:
        with acks.acking():  # an ack that never ends: only max_defer lets the job go
            assert executor.submit(lambda: "ran").result(timeout=10) == "ran"
    finally:
        executor.shutdown(wait=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_journals_writer_waits_for_an_ack_in_progress_below_the_acks_cpu_priority() -> None:
    """The writer of work waiting its turn (bot/inflight.py) paces itself like the executor's jobs: lowered once
    per thread, then waiting while an ack is in progress."""
    from bot.slack.handoff import after_acks

    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    pace = after_acks(acks, 5)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}
    in_ack, paced = threading.Event(), threading.Event()

    def writer() -> None:
        pace()
        seen["first"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        in_ack.wait(5)
        pace()  # an ack is in progress now: waits for it
        seen["second"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        paced.set()

    thread = threading.Thread(target=writer)
    with acks.acking():
        thread.start()
        in_ack.set()
        assert not paced.wait(0.3), "the writer went ahead during an ack"
    assert paced.wait(5), "the writer never went on after the ack"
    thread.join(5)
    assert seen == {"first": min(19, mine + 5), "second": min(19, mine + 5)}, "lowered once, not at each step"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine, "only the writer's thread"


def test_a_board_that_cannot_be_opened_leaves_the_process_gating_its_own_requests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    link = tmp_path / "acks.board"
    link.symlink_to(target)  # never followed: the directory may be shared
    assert open_board(link) is None and "cannot open the acks board" in caplog.text
    assert target.read_bytes() == b"", "nothing written through the link"
    assert open_board(None) is None
    board = HostBoard.create(link)  # a fresh board replaces the link with a file of its own
    assert not link.is_symlink() and board.processes() == set()


def test_the_master_clearing_a_dead_worker_waits_for_a_claim_in_progress(tmp_path: Path) -> None:
    board = HostBoard.create(tmp_path / "acks.board")
    cleared = threading.Event()
    with board._locked():  # another process claiming a slot
        thread = threading.Thread(target=lambda: (board.clear(12345), cleared.set()))
        thread.start()
        assert not cleared.wait(0.3), "cleared a slot while the board was being claimed"
    thread.join(5)
    assert cleared.is_set()


def test_clearing_a_worker_after_the_board_s_file_was_removed_is_quiet(tmp_path: Path) -> None:
    board = HostBoard.create(tmp_path / "acks.board")
    board.path.unlink()  # the metrics directory removed while the master reaps its last workers
    board.clear(12345)


def test_work_deferred_for_the_acks_still_runs_when_looking_at_them_fails(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(AcksFirst):
        def yield_to_acks(self, queued_at: float) -> float:
            raise OSError("the board's file is gone")

    executor = FairExecutor(max_workers=2, acks=Broken(), thread_name_prefix="broken-acks")
    try:
        executor.enter({LANE: "T:U"})
        assert executor.submit(lambda: "ran").result(timeout=5) == "ran"
        assert executor.submit(lambda: "again").result(timeout=5) == "again", "the releaser died with the error"
    finally:
        executor.shutdown()
    assert "could not wait for the acks" in caplog.text
