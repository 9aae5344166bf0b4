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
    margin: float = 0.02  # a little slack so clock rounding on either side never trips the limit


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

    def reserve(self, write: bool) -> float:
        """Book the earliest allowed slot and return how long to wait for it."""
        lim = self.limits
        with self._lock:
            now = self._clock()
            slot = now
            if self._all:
                slot = max(slot, self._all[-1] + lim.min_interval + lim.margin)
            if len(self._all) == lim.per_minute:
                slot = max(slot, self._all[0] + lim.window + lim.margin)
            if write and len(self._writes) == lim.writes_per_minute:
                slot = max(slot, self._writes[0] + lim.window + lim.margin)
            self._all.append(slot)
            if write:
                self._writes.append(slot)
            return max(0.0, slot - now)

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
