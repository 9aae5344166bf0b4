"""Client-side pacing, so one account rarely meets Nexudus' throttling (HTTP 409) or uses up its allowance.

Nexudus documents about 1 request per 100 ms, 120 requests per minute and 60 writes per minute per account,
and beyond those 5000 requests per hour and 5000 writes per day. A pacer books the earliest slot under all
of them before each request and sleeps until it; when the hour's or the day's allowance is used up and the
next slot is further away than `Limits.max_wait`, it refuses with `QuotaExhausted` (naming when it resets)
instead of sleeping for an hour. A throttled retry books its own slot by the same rule, not before the
`Retry-After` Nexudus asked for, and leaves at that slot: after every slot already booked, so it neither
jumps the queue (and meets the requests booked around `Retry-After`, to be refused again) nor lets the
account's other requests past it.

Two implementations of the same `AccountPacer` interface:
- `Pacer`: in memory, for one process;
- `SharedPacer`: the slots in a small SQLite file (one `BEGIN IMMEDIATE` transaction per slot), so the web
  process and the alert worker of one machine pace the same account together;
- `RedisPacer` (bot/nexudus/redis_pacing.py): the slots in Redis, for every process on every host (`REDIS_URL`).

Times are wall-clock seconds (`time.time`, passed in): shared between processes and turned into the reset
time a user is told.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot import metrics
from bot.nexudus.errors import QuotaExhausted

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True)
class Limits:
    min_interval: float = 0.1
    per_minute: int = 120
    writes_per_minute: int = 60
    window: float = 60.0
    per_hour: int = 5000
    hour: float = 3600.0
    writes_per_day: int = 5000
    day: float = 86400.0
    # Slack for the time between booking a slot and the request reaching Nexudus (threads, connection
    # set-up): without it two requests booked 60 s apart can arrive 59.9 s apart and trip the limit.
    # Spacing: 4 web workers and 2 alert workers on a busy 2-core host delivered requests up to 91 ms after
    # their slot (bench/cluster_faults.py): with 30 ms, 5 in 400 met the one before within 100 ms and were
    # refused. 100 ms costs nothing sustained (120 a minute binds first: one every 0.5 s on average), only
    # a quiet account's burst: its first 120 requests take 24 s instead of 16 s.
    margin: float = 0.1
    window_margin: float = 0.5
    # An hourly/daily allowance that frees up later than this is refused (QuotaExhausted), not waited for.
    max_wait: float = 60.0


@dataclass(frozen=True)
class Booked:
    """The N-th most recent slots an account booked, N being each window's limit (None: fewer booked)."""

    last: float | None
    minute: float | None
    minute_writes: float | None
    hour: float | None
    day_writes: float | None


def earliest_slot(now: float, write: bool, limits: Limits, booked: Booked) -> float:
    """The earliest time the next request may go out; `QuotaExhausted` when the hour's or day's allowance
    is used up for longer than `limits.max_wait`."""
    lim = limits
    slot = now
    if booked.last is not None:
        slot = max(slot, booked.last + lim.min_interval + lim.margin)
    if booked.minute is not None:
        slot = max(slot, booked.minute + lim.window + lim.window_margin)
    if write and booked.minute_writes is not None:
        slot = max(slot, booked.minute_writes + lim.window + lim.window_margin)
    if booked.hour is not None and booked.hour + lim.hour + lim.window_margin > slot:
        reset = booked.hour + lim.hour + lim.window_margin
        if reset - now > lim.max_wait:
            raise QuotaExhausted("hour", lim.per_hour, _utc(reset), writes=False)
        slot = reset
    if write and booked.day_writes is not None and booked.day_writes + lim.day + lim.window_margin > slot:
        reset = booked.day_writes + lim.day + lim.window_margin
        if reset - now > lim.max_wait:
            raise QuotaExhausted("day", lim.writes_per_day, _utc(reset), writes=True)
        slot = reset
    return slot


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class AccountPacer(Protocol):
    """What the client asks of a pacer (one account)."""

    def acquire(self, write: bool) -> None:
        """Wait, if need be, until a request may go out; `QuotaExhausted` when it may not for long."""
        ...

    def throttled(self, wait: float, write: bool) -> None:
        """Nexudus refused a request that may be retried in `wait` s: book the retry's own slot and wait for it."""
        ...


class _Paced:
    """`acquire` and `throttled` in terms of `reserve`, with the figures benches read."""

    _clock: Callable[[], float]
    _sleep: Callable[[float], None]
    waited: float
    refusals: int

    def reserve(self, write: bool, not_before: float = 0.0) -> float:
        """Book the earliest slot the limits allow, at least `not_before` s from now; the seconds until it."""
        raise NotImplementedError

    def retry_slot(self, wait: float, write: bool) -> float:
        """Nexudus refused a request and asks for `wait` s: book the retry's slot like any other request's —
        after every slot already booked by any process, spaced and counted in the windows — but not before
        `wait` s from now. Returns the seconds until it: the retry must not leave earlier (at `wait`, it would
        meet the requests booked around that time and be refused again)."""
        self.refusals += 1
        return self.reserve(write, not_before=max(0.0, wait))

    def throttled(self, wait: float, write: bool) -> None:
        """Book the retry of a refused request (`retry_slot`) and sleep until its slot."""
        delay = self.retry_slot(wait, write)
        if delay > 0:
            self.waited += delay
            self._sleep(delay)

    def acquire(self, write: bool) -> None:
        wait = self.reserve(write)
        if wait > 0:
            metrics.THROTTLE_WAITS.observe(wait)
            self.waited += wait
            self._sleep(wait)


class Pacer(_Paced):
    """Reserves request slots for one account under `Limits`, in this process's memory."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._all: deque[float] = deque(maxlen=limits.per_minute)
        self._writes: deque[float] = deque(maxlen=limits.writes_per_minute)
        self._hour: deque[float] = deque(maxlen=limits.per_hour)
        self._day_writes: deque[float] = deque(maxlen=limits.writes_per_day)
        self.waited = 0.0
        self.refusals = 0

    def reserve(self, write: bool, not_before: float = 0.0) -> float:
        """Book the earliest allowed slot (at least `not_before` s from now) and return how long to wait for it."""
        with self._lock:
            now = self._clock()
            slot = earliest_slot(now + not_before, write, self.limits, self._booked())
            self._book(slot, write)
            return max(0.0, slot - now)

    def _booked(self) -> Booked:
        def nth(slots: deque[float]) -> float | None:
            return slots[0] if len(slots) == slots.maxlen else None

        return Booked(
            last=self._all[-1] if self._all else None,
            minute=nth(self._all),
            minute_writes=nth(self._writes),
            hour=nth(self._hour),
            day_writes=nth(self._day_writes),
        )

    def _book(self, slot: float, write: bool) -> None:
        self._all.append(slot)
        self._hour.append(slot)
        if write:
            self._writes.append(slot)
            self._day_writes.append(slot)


class SlotFile:
    """The SQLite file holding every account's booked slots, shared by the processes of one machine.

    Accounts are stored as a hash of the e-mail: the file holds no personal data.
    """

    PRUNE_EVERY = 64

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS slots (account TEXT NOT NULL, at REAL NOT NULL, write INTEGER)")
        self._db.execute("CREATE INDEX IF NOT EXISTS slots_at ON slots (account, at)")
        self._db.execute("CREATE INDEX IF NOT EXISTS slots_write_at ON slots (account, write, at)")
        self._count = 0

    def book(self, account: str, now: float, write: bool, limits: Limits) -> float:
        """In one immediate transaction: read the account's slots, book the earliest allowed, return it."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                booked = Booked(
                    last=self._nth(account, 1, False),
                    minute=self._nth(account, limits.per_minute, False),
                    minute_writes=self._nth(account, limits.writes_per_minute, True),
                    hour=self._nth(account, limits.per_hour, False),
                    day_writes=self._nth(account, limits.writes_per_day, True),
                )
                slot = earliest_slot(now, write, limits, booked)
                db.execute("INSERT INTO slots (account, at, write) VALUES (?, ?, ?)", (account, slot, int(write)))
                self._prune(account, now, limits)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return slot

    def _nth(self, account: str, n: int, writes: bool) -> float | None:
        if writes:
            sql = "SELECT at FROM slots WHERE account = ? AND write = 1 ORDER BY at DESC LIMIT 1 OFFSET ?"
        else:
            sql = "SELECT at FROM slots WHERE account = ? ORDER BY at DESC LIMIT 1 OFFSET ?"
        row = self._db.execute(sql, (account, n - 1)).fetchone()
        return float(row[0]) if row else None

    def _prune(self, account: str, now: float, limits: Limits) -> None:
        self._count += 1
        if self._count % self.PRUNE_EVERY:
            return
        keep_reads = now - max(limits.hour, limits.window) - 60
        keep_writes = now - max(limits.day, limits.window) - 60
        self._db.execute("DELETE FROM slots WHERE account = ? AND write = 0 AND at < ?", (account, keep_reads))
        self._db.execute("DELETE FROM slots WHERE account = ? AND at < ?", (account, keep_writes))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SharedPacer(_Paced):
    """One account's pacer whose slots live in a `SlotFile`, shared with the machine's other processes."""

    def __init__(
        self,
        slots: SlotFile,
        account: str,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.slots = slots
        self.account = hashlib.sha256(account.strip().lower().encode("utf-8")).hexdigest()[:32]
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0
        self.refusals = 0

    def reserve(self, write: bool, not_before: float = 0.0) -> float:
        now = self._clock()
        return max(0.0, self.slots.book(self.account, now + not_before, write, self.limits) - now)


class PacerRegistry:
    """One pacer per account (by e-mail), shared by every client acting as it.

    With `redis`, the pacers keep their slots in Redis, shared with every process of every host using it;
    else with `path`, in that SQLite file, shared with the other processes of the machine that use the same
    file (the web process and the alert worker); without either, in memory.
    """

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        enabled: bool = True,
        path: Path | None = None,
        redis: redis.Redis | None = None,
    ) -> None:
        self.limits = limits
        self._redis = redis
        self.enabled = enabled
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pacers: dict[str, _Paced] = {}
        self._path = path
        self._slots: SlotFile | None = None

    def for_account(self, email: str) -> _Paced | None:
        if not self.enabled:
            return None
        key = email.strip().lower()
        with self._lock:
            pacer = self._pacers.get(key)
            if pacer is None:
                if self._redis is not None:
                    from bot.nexudus.redis_pacing import RedisPacer

                    pacer = RedisPacer(self._redis, key, self.limits, sleep=self._sleep)
                elif self._path is not None:
                    if self._slots is None:
                        self._slots = SlotFile(self._path)
                    pacer = SharedPacer(self._slots, key, self.limits, self._clock, self._sleep)
                else:
                    pacer = Pacer(self.limits, self._clock, self._sleep)
                self._pacers[key] = pacer
            return pacer
