"""FairExecutor: lanes per user, served in turn, at most `per_lane` running per lane (issue 12.12)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, wait

import pytest

from bot.slack.errors import describe
from bot.slack.lanes import LANE, PENDING, PROMPT, FairExecutor, TooManyPending, choose_lane


def _submit(executor: FairExecutor, lane: str, fn, *args):  # type: ignore[no-untyped-def]
    executor.enter({LANE: lane})
    return executor.submit(fn, *args)


def test_another_lane_runs_while_one_lane_is_stuck() -> None:
    executor = FairExecutor(max_workers=4, per_lane=2)
    release = threading.Event()
    try:
        stuck = [_submit(executor, "T:burst", release.wait, 10) for _ in range(50)]
        other: Future[str] = _submit(executor, "T:other", lambda: "answered")
        assert other.result(timeout=5) == "answered", "the other user's work waited behind the burst"
        assert executor.pending("T:burst") == 50
        assert sum(f.running() for f in stuck) == 2, "a lane never takes more than per_lane threads"
    finally:
        release.set()
        executor.shutdown(wait=True)
    assert all(f.done() for f in stuck)


def test_lanes_are_served_in_turn_and_each_in_order() -> None:
    executor = FairExecutor(max_workers=1, per_lane=1)
    gate = threading.Event()
    order: list[str] = []
    try:
        first = _submit(executor, "gate", gate.wait, 10)  # holds the only thread while the queue fills
        futures = [_submit(executor, "a", order.append, f"a{i}") for i in range(3)]
        futures += [_submit(executor, "b", order.append, f"b{i}") for i in range(3)]
        gate.set()
        wait([first, *futures], timeout=10)
    finally:
        executor.shutdown()
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_a_failing_job_fails_its_future_and_frees_the_lane() -> None:
    executor = FairExecutor(max_workers=2, per_lane=1)
    try:

        def boom() -> None:
            raise ValueError("no")

        failed = _submit(executor, "a", boom)
        with pytest.raises(ValueError):
            failed.result(timeout=5)
        assert _submit(executor, "a", lambda: 1).result(timeout=5) == 1
        assert executor.pending("a") == 0
    finally:
        executor.shutdown()


def test_no_new_work_after_shutdown() -> None:
    executor = FairExecutor(max_workers=1)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(lambda: None)


def test_threads_are_bounded() -> None:
    executor = FairExecutor(max_workers=3, per_lane=3)
    release = threading.Event()
    try:
        for i in range(20):
            _submit(executor, f"lane{i}", release.wait, 10)
        assert len(executor._threads) == 3
    finally:
        release.set()
        executor.shutdown()


def test_the_refusal_is_worded_with_the_count() -> None:
    text = describe(TooManyPending(10)).text
    assert "10 requests waiting" in text and "not started" in text


def test_a_command_chooses_the_lookup_or_the_prompt_lane() -> None:
    context: dict = {LANE: "T:U", PENDING: {"T:U": 7, "T:U" + PROMPT: 1}}
    assert choose_lane(context, lookup=False) == 1 and context[LANE] == "T:U" + PROMPT
    assert choose_lane(context, lookup=True) == 7 and context[LANE] == "T:U"


def test_the_lane_is_read_when_work_is_submitted_so_the_ack_can_change_it() -> None:
    executor = FairExecutor(max_workers=1)
    context = {LANE: "T:U"}
    try:
        executor.enter(context)
        context[LANE] = "T:U" + PROMPT  # what choose_lane does in the ack, before Bolt submits lazy work
        release = __import__("threading").Event()
        executor.submit(release.wait, 5)
        assert executor.pending("T:U" + PROMPT) == 1 and executor.pending("T:U") == 0
        release.set()
    finally:
        executor.shutdown()


def test_jobs_submitted_together_each_find_a_thread() -> None:
    """Two jobs submitted before an idle thread wakes: the second must not wait for the first to finish."""
    executor = FairExecutor(max_workers=4, per_lane=4)
    try:
        _submit(executor, "warm", lambda: None).result(timeout=5)  # one thread, now idle
        both = threading.Barrier(2, timeout=5)
        first = _submit(executor, "a", both.wait)
        second = _submit(executor, "b", both.wait)  # deadlocks (BrokenBarrierError) if it waited for `first`
        first.result(timeout=10)
        second.result(timeout=10)
    finally:
        executor.shutdown()


def test_a_drain_that_gives_up_starts_no_more_work_so_never_started_stays_true() -> None:
    from types import SimpleNamespace

    from bot.runner import stop_gracefully

    executor = FairExecutor(max_workers=2, per_lane=1)
    release = threading.Event()
    ran: list[str] = []
    closed: list[bool] = []
    executor.enter({LANE: "T:U"})
    running = executor.submit(lambda: (release.wait(10), ran.append("slow lookup")))
    waiting = executor.submit(lambda: ran.append("edit"))  # behind it in the same lane
    app = SimpleNamespace(listener_runner=SimpleNamespace(listener_executor=executor))
    deps = SimpleNamespace(journal=None, store=SimpleNamespace(close=lambda: closed.append(True)))
    try:
        stop_gracefully(app, deps, timeout=0.2)  # type: ignore[arg-type]
    finally:
        release.set()
    running.result(timeout=10)
    assert waiting.cancelled() and ran == ["slow lookup"] and closed == [True]
    executor.shutdown(wait=True)
    assert ran == ["slow lookup"], "the job journalled as never started started after all"


def test_a_job_taken_but_held_behind_acks_does_not_start_after_a_cancelling_shutdown() -> None:
    from bot.acks import AcksFirst
    from bot.slack.handoff import Urgent

    acks = AcksFirst(burst=1, window=60.0, max_defer=1.0)
    with acks.acking():  # one arrival is a burst, for a minute: a job taken now is held 1 s
        pass
    executor = FairExecutor(max_workers=1, per_lane=1, acks=acks)
    executor.enter({LANE: "T:U"})
    release = threading.Event()
    ran: list[int] = []
    opener = executor.submit(Urgent(lambda: release.wait(10)))  # a modal opener: it starts at once
    job = executor.submit(lambda: ran.append(1))  # behind it in its lane
    release.set()
    opener.result(timeout=5)
    deadline = time.monotonic() + 5
    while not (executor._running and not executor._queued) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the thread, free again, has taken it (and waits for the acks)
    assert executor._running and not executor._queued, "the job was not taken"
    executor.shutdown(wait=True, cancel_futures=True)
    assert job.cancelled() and ran == []


class _HeldByReleaser:
    """Acks whose burst holds only the releaser (the thread calling threads for deferred work) until `go`."""

    def __init__(self) -> None:
        self.go = threading.Event()

    def now(self) -> float:
        return time.monotonic()

    def yield_to_acks(self, queued_at: float) -> float:
        if threading.current_thread().name.endswith("-release"):
            self.go.wait(10)
        return 0.0


def test_a_drain_during_a_burst_returns_only_once_the_work_it_let_through_has_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shutdown while the releaser waits for a burst's acks calls threads for the deferred work; the releaser,
    let go afterwards, must not call more (threads the drain would not join, running work it calls finished)."""
    import bot.slack.lanes as lanes

    slow = {"first": True}

    def slow_first_start(nice: int) -> bool:  # the first thread is slow to run (niced on a busy host)
        if threading.current_thread().name == "drain-race-0" and slow["first"]:
            slow["first"] = False
            time.sleep(0.5)
        return False

    monkeypatch.setattr(lanes, "lower_priority", slow_first_start)
    acks = _HeldByReleaser()
    executor = FairExecutor(max_workers=4, acks=acks, thread_name_prefix="drain-race")  # type: ignore[arg-type]
    executor.enter({LANE: "T:U"})
    finish = threading.Event()
    job = executor.submit(lambda: finish.wait(5))
    time.sleep(0.1)  # deferred, the releaser waiting for the acks
    drain = threading.Thread(target=executor.shutdown, kwargs={"wait": True})
    drain.start()
    time.sleep(0.1)  # the shutdown has called its thread (still asleep)
    acks.go.set()  # the burst ends: the releaser wakes
    time.sleep(0.7)  # the job has started on some thread
    assert drain.is_alive() or job.done(), "the drain said finished while the work was still running"
    finish.set()
    drain.join(10)
    assert job.result(timeout=5) is True and not drain.is_alive()


@pytest.mark.parametrize("failing", ["no-thread-release", "no-thread-0"])
def test_work_is_not_lost_when_a_thread_cannot_be_started_for_a_moment(
    monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """The releaser cannot start (the job gets a thread of its own), or the releaser cannot start a thread for
    the work (it tries again): either way the work runs, and later work still finds its way."""
    import bot.slack.lanes as lanes

    monkeypatch.setattr(lanes, "RETRY_START", 0.1)
    real_start = threading.Thread.start
    failures = {"left": 1}

    def start(self: threading.Thread) -> None:
        if self.name == failing and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("can't start new thread")  # a process limit, for a moment
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    acks = _HeldByReleaser()
    acks.go.set()
    executor = FairExecutor(max_workers=2, acks=acks, thread_name_prefix="no-thread")  # type: ignore[arg-type]
    try:
        executor.enter({LANE: "T:U"})
        assert executor.submit(lambda: "first").result(timeout=5) == "first"
        assert failures["left"] == 0, "the failure was not met"
        assert executor.submit(lambda: "second").result(timeout=5) == "second"
    finally:
        executor.shutdown()


def test_a_modal_opener_starts_even_when_its_lane_runs_its_limit_of_held_work() -> None:
    from bot.acks import AcksFirst
    from bot.slack.handoff import Urgent

    acks = AcksFirst(burst=100, window=0.0, max_defer=30.0)
    executor = FairExecutor(max_workers=4, per_lane=2, acks=acks)
    release = threading.Event()
    try:
        executor.enter({LANE: "T:U"})
        busy = [executor.submit(Urgent(lambda: release.wait(10))) for _ in range(2)]  # the lane's two running
        deadline = time.monotonic() + 5
        while executor._running.get("T:U", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        opener = executor.submit(Urgent(lambda: "opened"))
        assert opener.result(timeout=5) == "opened", "a modal opener waited for its lane (its trigger_id lives 3 s)"
    finally:
        release.set()
        for future in busy:
            future.result(timeout=5)
        executor.shutdown()


def test_a_shutdown_waiting_for_a_lane_s_queue_returns_once_its_last_job_ends() -> None:
    """Threads with nothing to take (the lane at its limit) wait; once its last job ends they must leave too."""
    executor = FairExecutor(max_workers=6, per_lane=1)
    for i in range(4):  # four threads, idle again
        _submit(executor, f"T:V{i}", time.sleep, 0.2)
    time.sleep(0.5)
    release = threading.Event()
    executor.enter({LANE: "T:U"})
    jobs = [executor.submit(release.wait, 10) for _ in range(2)]  # one runs, one waits its turn
    time.sleep(0.2)  # the two other threads found the lane at its limit and wait
    drain = threading.Thread(target=executor.shutdown, kwargs={"wait": True})
    drain.start()
    time.sleep(0.2)  # woken by the shutdown, they found the lane at its limit again and wait again
    release.set()
    drain.join(10)
    assert all(job.done() for job in jobs)
    assert not drain.is_alive(), "the shutdown never returned: idle threads were not told the queue was empty"
