"""Client-side pacing, so one account rarely meets Nexudus' throttling (HTTP 409).

Nexudus documents about 1 request per 100 ms, 120 requests per minute and 60 writes per minute per
account. A `Pacer` reserves a slot under those limits before each request and sleeps until it; every
client of the same account shares one pacer through a `PacerRegistry`. Clock and sleep are passed in.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    min_interval: float = 0.1
    per_minute: int = 120
    writes_per_minute: int = 60
    window: float = 60.0
    # Slack for the time between booking a slot and the request reaching Nexudus (threads, connection
    # set-up): without it two requests booked 60 s apart can arrive 59.9 s apart and trip the limit.
    margin: float = 0.03
    window_margin: float = 0.5


class Pacer:
    """Reserves request slots for one account under `Limits`."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._all: deque[float] = deque(maxlen=limits.per_minute)
        self._writes: deque[float] = deque(maxlen=limits.writes_per_minute)
        self.waited = 0.0
        self.refusals = 0

    def reserve(self, write: bool) -> float:
        """Book the earliest allowed slot and return how long to wait for it."""
        lim = self.limits
        with self._lock:
            now = self._clock()
            slot = now
            if self._all:
                slot = max(slot, self._all[-1] + lim.min_interval + lim.margin)
            if len(self._all) == lim.per_minute:
                slot = max(slot, self._all[0] + lim.window + lim.window_margin)
            if write and len(self._writes) == lim.writes_per_minute:
                slot = max(slot, self._writes[0] + lim.window + lim.window_margin)
            self._all.append(slot)
            if write:
                self._writes.append(slot)
            return max(0.0, slot - now)

    def throttled(self, wait: float, write: bool) -> None:
        """Nexudus refused a request and it will be retried in `wait` s: book that retry, so every
        other request of the account waits behind it instead of being refused too."""
        with self._lock:
            self.refusals += 1
            retry_at = self._clock() + wait
            if self._all:
                retry_at = max(retry_at, self._all[-1])
            self._all.append(retry_at)
            if write:
                self._writes.append(retry_at)

    def acquire(self, write: bool) -> None:
        """Wait, if need be, until a request may go out."""
        wait = self.reserve(write)
        if wait > 0:
            self.waited += wait
            self._sleep(wait)


class PacerRegistry:
    """One `Pacer` per account (by e-mail), shared by every client acting as it."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        enabled: bool = True,
    ) -> None:
        self.limits = limits
        self.enabled = enabled
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pacers: dict[str, Pacer] = {}

    def for_account(self, email: str) -> Pacer | None:
        if not self.enabled:
            return None
        key = email.strip().lower()
        with self._lock:
            pacer = self._pacers.get(key)
            if pacer is None:
                pacer = self._pacers[key] = Pacer(self.limits, self._clock, self._sleep)
            return pacer
