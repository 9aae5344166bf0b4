"""Acks first: under a burst of requests, the work after acks yields the CPU to the acks still to come."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BURST = 8  # requests arriving within BURST_WINDOW make a burst
BURST_WINDOW = 0.4  # seconds
MAX_DEFER = 1.0  # the longest a job waits for the acks (a steady flood of requests never starves the work)


class AcksFirst:
    """The requests this process is acknowledging, so that under a burst the work handed over after acks waits
    for them.

    Slack drops a request not acked within 3 s, and the ack is what its user sees first; the work after the ack
    (Nexudus calls, rendering, posting to Slack) has no such deadline and costs ~10× the CPU of an ack. Under a
    burst of 200 requests on 2 cores that work took the CPU from the acks still coming: they were ~3× slower than
    a bare Bolt app's, and 0.94× with the work left out (bench/gunicorn_ack.py). So the web handler brackets each
    request with `acking()`, and the executor starts a job only when this process is acknowledging nothing and
    fewer than `burst` requests arrived in the last `window` seconds — or `max_defer` after the job was queued, at
    the latest. Out of a burst (one person clicking, a few at once) nothing waits. Work already running is not
    paused. Requests wait in the socket's queue unseen, so the window also covers the gaps between the lumps in
    which a worker accepts them; each process gates its own requests.
    """

    def __init__(
        self,
        *,
        burst: int = BURST,
        window: float = BURST_WINDOW,
        max_defer: float = MAX_DEFER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.window = window
        self.max_defer = max_defer
        self._clock = clock
        self._cond = threading.Condition()
        self._acking = 0
        self._arrivals: deque[float] = deque(maxlen=burst)  # the latest `burst` arrivals

    @contextmanager
    def acking(self) -> Iterator[None]:
        """Around one request, from its arrival to its ack."""
        with self._cond:
            self._acking += 1
            self._arrivals.append(self._clock())
        try:
            yield
        finally:
            with self._cond:
                self._acking -= 1
                if not self._acking:  # waiters only care when none is left
                    self._cond.notify_all()

    @contextmanager
    def idle(self) -> Iterator[None]:
        """Inside `acking()`, while the request waits on something else than the CPU (an options answer waiting up
        to 2 s on Nexudus): it holds nobody's work meanwhile."""
        with self._cond:
            counted = self._acking > 0  # not inside `acking()` (Socket Mode, no web handler): nothing to leave
            if counted:
                self._acking -= 1
                if not self._acking:
                    self._cond.notify_all()
        try:
            yield
        finally:
            if counted:
                with self._cond:
                    self._acking += 1

    @property
    def in_progress(self) -> int:
        """Requests being acknowledged now."""
        with self._cond:
            return self._acking

    def _burst_ends(self) -> float:
        """When the current burst stops counting as one (in the past when there is none); holding the lock."""
        if len(self._arrivals) < (self._arrivals.maxlen or 0):
            return float("-inf")
        return self._arrivals[0] + self.window

    def yield_to_acks(self, queued_at: float) -> float:
        """Wait while acks are in progress or a burst is arriving, until `max_defer` after `queued_at` at most;
        returns the seconds waited."""
        started = self._clock()
        deadline = queued_at + self.max_defer
        with self._cond:
            while True:
                now = self._clock()
                if now >= deadline:
                    break
                if self._acking:
                    wait = deadline - now
                else:
                    ends = self._burst_ends()
                    if ends <= now:
                        break
                    wait = min(ends, deadline) - now
                self._cond.wait(wait)
        return self._clock() - started
