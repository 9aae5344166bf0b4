"""Fair work after the ack: one user's burst never starves everyone else.

The work each ack hands over (bot/slack/handoff.py) runs on the app's `listener_executor`. With a plain
thread pool, one user's 200 `list` commands (each waiting on their account's pacer) filled every thread, and
another user's `whoami` waited 70 s behind them. `FairExecutor` gives each lane a FIFO: at most `per_lane` of
a lane's jobs run at once, and free threads take the next job from the lanes in turn (round robin), so other
users' work starts at once.

Each Slack user has two lanes: their *lookups* (slash commands answered by a Nexudus query: list, show,
commands — what a burst is made of) and their *prompt* work (buttons, form submissions, modal openers whose
`trigger_id` lives 3 s, and commands that need no Nexudus call such as `whoami`), so a user's own queue of
lookups never delays their own clicks either. `FairLanes` tells the executor whose request it is
(Bolt runs middleware and ack on one thread, where the ack hands its work over); the slash command's ack
picks the lane with `choose_lane`, shows how many of the user's requests are ahead, and beyond `LANE_BOUND`
pending refuses with a clear answer (never silence).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, MutableMapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.acks import AcksFirst

log = logging.getLogger(__name__)

LANE_WORKERS = 2  # threads one lane may hold at once
LANE_BOUND = 10  # pending jobs in a lane beyond which a slash command is refused
RETRY_START = 1.0  # seconds between tries to start a thread for the work after acks when none could be
# Bolt context keys.
LANE = "lane"  # the lane this request's lazy work joins
PENDING = "lane_pending"  # {lane: jobs queued or running} for the user's two lanes, when the request came
PROMPT = "/prompt"


class TooManyPending(Exception):
    """The user already has `pending` requests waiting or running; this one was not started."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        super().__init__(f"{pending} requests already pending")


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: Future[Any]
    queued_at: float = 0.0
    urgent: bool = False  # it opens a modal (a trigger_id that lives 3 s): it never waits for acks


class FairExecutor(Executor):
    """A thread pool whose queue is one FIFO per lane, served round robin, with `per_lane` running at most."""

    def __init__(
        self,
        max_workers: int = 32,
        per_lane: int = 2,
        thread_name_prefix: str = "lazy",
        acks: AcksFirst | None = None,
        nice: int = 0,
    ) -> None:
        if max_workers < 1 or per_lane < 1:
            raise ValueError("max_workers and per_lane must be at least 1")
        self.max_workers = max_workers
        self.acks = acks  # with it, a job starts once this process has no ack in progress (or waited enough)
        self.nice = nice  # its threads' CPU priority below the request threads' (Linux), see `lower_priority`
        self.per_lane = per_lane
        self._prefix = thread_name_prefix
        lock = threading.RLock()
        self._cond = threading.Condition(lock)
        self._lanes: OrderedDict[str, deque[_Job]] = OrderedDict()  # lanes with queued jobs, in turn order
        self._running: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._starting = 0  # threads started that have not looked at the queue yet
        self._queued = 0
        self._urgent = 0  # urgent jobs queued
        # Jobs queued with no thread called for them yet: the releaser calls threads once the acks let them go.
        self._deferred = 0
        self._deferred_since = 0.0  # when the oldest of them was queued
        self._releaser: threading.Thread | None = None
        self._release = threading.Condition(lock)  # the releaser waits on it for deferred jobs
        self._shutdown = False
        self._cancelled = False  # shut down cancelling: no job starts any more, even one already taken
        self._local = threading.local()

    # -- whose work: set on the request thread before its ack hands work over ---------------------------
    def enter(self, context: MutableMapping[str, Any]) -> None:
        """The request context this thread now serves; its `LANE` (which the ack may change) is read at submit."""
        self._local.context = context

    def current_lane(self) -> str:
        context = getattr(self._local, "context", None)
        return str(context.get(LANE) or "") if context is not None else ""

    def pending(self, lane: str) -> int:
        """Jobs of this lane queued or running."""
        with self._cond:
            return len(self._lanes.get(lane, ())) + self._running.get(lane, 0)

    # -- Executor --------------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        lane = self.current_lane()
        with self._cond:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            queued_at = self.acks.now() if self.acks is not None else time.monotonic()  # the clock acks compare
            urgent = bool(getattr(fn, "urgent", False))
            self._lanes.setdefault(lane, deque()).append(_Job(fn, args, kwargs, future, queued_at, urgent))
            self._queued += 1
            self._urgent += urgent
            if urgent or self.acks is None:
                self._wake(1)
            else:  # see `_release_deferred`
                if not self._deferred:
                    self._deferred_since = queued_at
                self._deferred += 1
                self._ensure_releaser()
        return future

    def _ensure_releaser(self) -> None:
        """The thread that calls threads for the deferred jobs (holding the lock); if none can be started, the job
        gets a thread of its own at once, as if there were no acks to wait for (or the error reaches the ack)."""
        if self._releaser is not None and self._releaser.is_alive():
            if self._deferred == 1:
                self._release.notify()
            return
        releaser = threading.Thread(target=self._release_deferred, name=f"{self._prefix}-release", daemon=True)
        try:
            releaser.start()
        except RuntimeError as exc:  # "can't start new thread": a process or memory limit
            log.warning("cannot start the thread releasing work after acks (%s): the work starts at once", exc)
            self._deferred = 0
            self._wake(self._queued)
            return
        self._releaser = releaser

    def _release_deferred(self) -> None:
        """Work handed over by an ack waits for the acks (`AcksFirst`) before any thread is called for it: under a
        burst one thread (this one) waits for the acks for all the jobs queued meanwhile, instead of a thread woken
        per request only to wait, each taking the interpreter's lock from the acks. Then threads are called for all
        of them; each job still looks at the acks when it starts (a new burst may have begun)."""
        lower_priority(self.nice)
        while True:
            with self._cond:
                while not self._deferred:
                    if self._shutdown:
                        self._releaser = None
                        return
                    self._release.wait()
                since = self._deferred_since
            self._yield_to_acks(since)
            with self._cond:
                if self._shutdown:  # `shutdown` has called threads for everything queued: none more, unjoined
                    self._releaser = None
                    return
                try:
                    self._wake(self._queued)
                except RuntimeError as exc:  # no thread could be started: again in a moment, the jobs stay queued
                    log.warning("cannot start a thread for the work after acks (%s); trying again", exc)
                    self._release.wait(RETRY_START)
                    continue
                self._deferred = 0

    def _yield_to_acks(self, queued_at: float) -> None:
        if self.acks is None:
            return
        try:
            self.acks.yield_to_acks(queued_at)
        except Exception:  # never strand the work: it goes now rather than never
            log.exception("could not wait for the acks in progress; the work waiting for them starts now")

    def _wake(self, jobs: int) -> None:
        """Threads for `jobs` queued jobs: idle ones notified, and new ones (up to `max_workers`) for those no idle
        thread can take (holding the lock)."""
        # A thread notified but not yet awake still counts as idle, and its job as queued: more queued jobs than
        # idle threads means some job has no thread to take it.
        # A thread started but not yet looking at the queue will take one too.
        for _ in range(min(jobs, self._queued - self._idle - self._starting, self.max_workers - len(self._threads))):
            thread = threading.Thread(target=self._work, name=f"{self._prefix}-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)
            self._starting += 1
        if jobs > 0:
            self._cond.notify(jobs)

    def _next(self) -> tuple[str, _Job] | None:
        """The next job to start (called holding the lock): an urgent one first, whatever its lane runs (whatever
        waits before it in its lane would wait for the acks anyway); else the first job, in turn order, of a lane
        below its running limit."""
        picked = self._take(urgent=True) if self._urgent else None
        return picked or self._take(urgent=False)

    def _take(self, *, urgent: bool) -> tuple[str, _Job] | None:
        for lane, jobs in self._lanes.items():
            if self._running.get(lane, 0) >= self.per_lane and not urgent:  # a modal opener is never held back:
                continue  # its lane's running jobs may be waiting for a burst's acks, its trigger_id lives 3 s
            index = next((i for i, job in enumerate(jobs) if job.urgent), None) if urgent else 0
            if index is None:
                continue
            job = jobs[index]
            del jobs[index]
            self._queued -= 1
            self._urgent -= job.urgent
            if jobs:
                self._lanes.move_to_end(lane)  # its turn is over: the other lanes go first
            else:
                del self._lanes[lane]
            self._running[lane] = self._running.get(lane, 0) + 1
            return lane, job
        return None

    def _work(self) -> None:
        lower_priority(self.nice)
        with self._cond:
            self._starting -= 1  # from now on counted as idle or busy
        while True:
            with self._cond:
                picked = self._next()
                while picked is None:
                    if self._shutdown and not self._lanes:
                        return
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                    picked = self._next()
            lane, job = picked
            if not job.urgent:  # a modal to open: no waiting
                self._yield_to_acks(job.queued_at)
            with self._cond:  # a cancelling shutdown and this start do not cross
                if self._cancelled:  # taken before the shutdown, waiting for acks meanwhile: it does not start either
                    job.future.cancel()
                starts = job.future.set_running_or_notify_cancel()
            try:
                if starts:
                    try:
                        job.future.set_result(job.fn(*job.args, **job.kwargs))
                    except BaseException as exc:  # the future carries it; Bolt's wrapper already logs
                        job.future.set_exception(exc)
            finally:
                with self._cond:
                    self._running[lane] -= 1
                    if not self._running[lane]:
                        del self._running[lane]
                    # Its lane's next job may start now: one idle thread takes it (not all of them woken to want
                    # the interpreter lock the acks need).
                    if lane in self._lanes:
                        self._cond.notify()
                    elif self._shutdown and not self._lanes:  # the last job: every idle thread may leave now
                        self._cond.notify_all()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cond:
            self._shutdown = True
            if cancel_futures:
                self._cancelled = True
                for jobs in self._lanes.values():
                    for job in jobs:
                        job.future.cancel()
                self._lanes.clear()
                self._queued = self._urgent = 0
            self._deferred = 0  # the jobs still deferred get threads now (each still waits for the acks)
            try:
                self._wake(self._queued)
            except RuntimeError as exc:  # the threads there are take them in turn
                log.warning("cannot start a thread for the work after acks at shutdown (%s)", exc)
            self._cond.notify_all()
            self._release.notify()
            threads = list(self._threads)
        while wait and threads:  # and any thread started meanwhile (none should be: each is joined anyway)
            for thread in threads:
                thread.join()
            with self._cond:
                threads = [thread for thread in self._threads if thread.is_alive()]


def lane_of(context: Any, body: dict[str, Any]) -> str:
    """A Slack user's lookup lane: team and user (requests without a user share one lane)."""
    user = context.get("user_id") or body.get("user_id") or ""
    team = context.get("team_id") or body.get("team_id") or ""
    return f"{team}:{user}" if user else ""


class FairLanes(Middleware):
    """Bolt global middleware: a slash command starts in its user's lookup lane (its ack may move it with
    `choose_lane`); everything else goes to the user's prompt lane. A `Middleware` subclass, called as it is: a
    plain function would have Bolt build its arguments by inspection on every request."""

    def __init__(self, executor: FairExecutor) -> None:
        self.executor = executor

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        body, context, executor = req.body, req.context, self.executor
        lookups = lane_of(context, body)
        prompt = lookups + PROMPT if lookups else ""
        if body.get("command"):  # only a slash command's ack chooses its lane (`choose_lane` reads PENDING)
            context[PENDING] = {lookups: executor.pending(lookups), prompt: executor.pending(prompt)}
            context[LANE] = lookups
        else:
            context[LANE] = prompt
        executor.enter(context)
        return next()


def choose_lane(context: MutableMapping[str, Any], *, lookup: bool) -> int:
    """Put this slash command in its user's lookup lane or prompt lane; returns how many jobs are ahead."""
    lane = str(context.get(LANE) or "")
    if not lane:
        return 0
    base = lane.removesuffix(PROMPT)
    chosen = base if lookup else base + PROMPT
    context[LANE] = chosen
    return int((context.get(PENDING) or {}).get(chosen, 0))


def lower_priority(nice: int) -> bool:
    """Lower the calling thread's CPU priority by `nice` (Linux: a thread's own nice value), so that on a busy host
    the kernel runs the threads answering Slack's requests — in every process — before the work after acks. True
    when done; elsewhere (where the call would change the whole process) or when refused, nothing changes."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:
        log.info("could not lower the priority of the work after acks: %s", exc)
        return False
    return True
