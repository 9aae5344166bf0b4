"""Fair lazy work: one user's burst never starves everyone else.

Bolt runs every lazy listener on its `listener_executor`. With a plain thread pool, one user's 200 `list`
commands (each waiting on their account's pacer) filled every thread, and another user's `whoami` waited
70 s behind them. `FairExecutor` gives each Slack user a lane: at most `per_lane` of a user's jobs run at
once, and free threads take the next job from the lanes in turn (round robin), so other users' work — and
above all work that needs no Nexudus call — starts at once. `lane_middleware` tells the executor whose
request it is (Bolt runs middleware, ack and the lazy submit on the same thread), tells a user how many of
their requests are ahead, and refuses a slash command beyond `bound` pending ones with a clear answer.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltResponse

log = logging.getLogger(__name__)

QUEUED_AHEAD = "queued_ahead"  # the context key: how many of this user's requests are ahead of this one


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


class FairExecutor(Executor):
    """A thread pool whose queue is one FIFO per lane, served round robin, with `per_lane` running at most."""

    def __init__(self, max_workers: int = 32, per_lane: int = 2, thread_name_prefix: str = "lazy") -> None:
        if max_workers < 1 or per_lane < 1:
            raise ValueError("max_workers and per_lane must be at least 1")
        self.max_workers = max_workers
        self.per_lane = per_lane
        self._prefix = thread_name_prefix
        self._cond = threading.Condition()
        self._lanes: OrderedDict[str, deque[_Job]] = OrderedDict()  # lanes with queued jobs, in turn order
        self._running: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._shutdown = False
        self._local = threading.local()

    # -- whose work: set on the request thread before Bolt submits its lazy listeners ----------------
    def enter(self, lane: str) -> None:
        self._local.lane = lane

    def current_lane(self) -> str:
        return str(getattr(self._local, "lane", ""))

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
            self._lanes.setdefault(lane, deque()).append(_Job(fn, args, kwargs, future))
            if self._idle == 0 and len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._work, name=f"{self._prefix}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._cond.notify()
        return future

    def _next(self) -> tuple[str, _Job] | None:
        """The first job, in turn order, of a lane below its running limit (called holding the lock)."""
        for lane, jobs in self._lanes.items():
            if self._running.get(lane, 0) < self.per_lane:
                job = jobs.popleft()
                if jobs:
                    self._lanes.move_to_end(lane)  # its turn is over: the other lanes go first
                else:
                    del self._lanes[lane]
                self._running[lane] = self._running.get(lane, 0) + 1
                return lane, job
        return None

    def _work(self) -> None:
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
            try:
                if job.future.set_running_or_notify_cancel():
                    try:
                        job.future.set_result(job.fn(*job.args, **job.kwargs))
                    except BaseException as exc:  # the future carries it; Bolt's wrapper already logs
                        job.future.set_exception(exc)
            finally:
                with self._cond:
                    self._running[lane] -= 1
                    if not self._running[lane]:
                        del self._running[lane]
                    self._cond.notify_all()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cond:
            self._shutdown = True
            if cancel_futures:
                for jobs in self._lanes.values():
                    for job in jobs:
                        job.future.cancel()
                self._lanes.clear()
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()


def lane_of(context: Any, body: dict[str, Any]) -> str:
    """A Slack user's lane: team and user (requests without a user share one lane)."""
    user = context.get("user_id") or body.get("user_id") or ""
    team = context.get("team_id") or body.get("team_id") or ""
    return f"{team}:{user}" if user else ""


def lane_middleware(
    executor: FairExecutor, bound: int, refuse: Callable[[TooManyPending], dict[str, Any]]
) -> Callable[..., BoltResponse | None]:
    """Bolt global middleware: route this request's lazy work to its user's lane; refuse a slash command
    when the user already has `bound` requests pending (`refuse` words the ephemeral answer)."""

    def fair_lanes(body: dict[str, Any], context: Any, ack: Ack, next: Callable[[], None]) -> BoltResponse | None:
        lane = lane_of(context, body)
        executor.enter(lane)
        pending = executor.pending(lane) if lane else 0
        if pending >= bound and body.get("command"):
            log.info("lane %s: %d pending, a slash command was refused", lane, pending)
            return ack(response_type="ephemeral", **refuse(TooManyPending(pending)))
        context[QUEUED_AHEAD] = pending
        next()
        return None

    return fair_lanes
