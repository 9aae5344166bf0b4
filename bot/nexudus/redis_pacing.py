"""One Nexudus account's pacing shared by every process on every host, through Redis (`REDIS_URL`).

Same rules as `Pacer` and `SharedPacer` (bot/nexudus/pacing.py, `earliest_slot`): 100 ms apart, 120 a minute,
60 writes a minute, 5000 an hour, 5000 writes a day; a blocking `acquire` that books the earliest allowed slot
and sleeps until it; `QuotaExhausted` when the hour's or day's allowance frees up later than `max_wait`; and a
throttled retry books its own slot (not before `Retry-After`) behind every process's slots and leaves at it.

**Why not pyrate-limiter's Redis bucket** (evaluated, version 4.5): it is a good limiter for "may I go now?",
but it does not fit these rules:
- it admits or refuses *now* and its blocking mode polls until a retry succeeds, with no order between the
  waiters: four processes polling one account race each other and a waiter can starve; we book a slot in
  the future (first come, first served) and each process sleeps exactly until its own slot;
- one bucket counts one kind of item; our writes count in the all-requests limits *and* the write limits,
  so a write would need two buckets acquired one after the other, not atomically (a slot taken in the
  first and refused by the second is lost, or two processes interleave between them);
- it cannot book the retry of a request Nexudus throttled (a slot at now + Retry-After);
- it stamps items with each host's own clock (`time_ns()` in `RedisBucket.now`, by design); hosts whose
  clocks differ by a second would break a 100 ms spacing.

**What this does instead**: two sorted sets per account in Redis (every slot; the write slots), scores being
slot times in Redis' own clock (`TIME`: one clock for every host; each host only sleeps a *duration*). A
booking is one optimistic transaction (`WATCH` both sets, read `TIME` and the N-th most recent slot of each
window, decide with the same pure `earliest_slot` as the other pacers, `MULTI … ZADD … EXEC`; if another
process booked meanwhile, EXEC fails and the booking is decided again). No Lua: the rule lives in one
Python function for all three pacers, and the sets are pruned and expire when an account goes idle.
Accounts are keyed by a hash of the e-mail, so Redis holds no personal data.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from bot.locks import SharedStateUnavailable
from bot.nexudus.pacing import Booked, Limits, _Paced, earliest_slot

KEY_PREFIX = "chatrooms:pace"
MAX_ATTEMPTS = 200  # optimistic retries of one booking; each lost race means another process booked meanwhile


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]


class RedisPacer(_Paced):
    """One account's pacer whose slots live in Redis, shared with every process of every host."""

    def __init__(
        self,
        client: redis.Redis,
        account: str,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.redis = client
        self.account = account_key(account)
        self.limits = limits or Limits()
        # None (always, outside tests): the time is Redis' own, the same for every host.
        self._fixed_clock = clock
        self._clock = clock or time.time
        self._sleep = sleep
        base = f"{prefix}:{{{self.account}}}"  # one hash slot per account, should Redis be a cluster
        self.all_key = f"{base}:all"
        self.writes_key = f"{base}:writes"
        self.waited = 0.0
        self.refusals = 0
        self.conflicts = 0  # bookings decided again because another process booked meanwhile

    def _now(self, pipe: Any) -> float:
        if self._fixed_clock is not None:
            return self._fixed_clock()
        seconds, micros = pipe.time()
        return float(seconds) + micros / 1_000_000

    @staticmethod
    def _nth(pipe: Any, key: str, n: int) -> float | None:
        """The n-th most recent slot in `key` (None when fewer are booked)."""
        found = pipe.zrevrange(key, n - 1, n - 1, withscores=True)
        return float(found[0][1]) if found else None

    def _transaction(self, decide: Callable[[Any], Callable[[Any], float]]) -> float:
        """Run `decide` (reads under WATCH, returns the writes to queue) until EXEC goes through."""
        for attempt in range(MAX_ATTEMPTS):
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(self.all_key, self.writes_key)
                    write = decide(pipe)
                    pipe.multi()
                    result = write(pipe)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    self.conflicts += 1
                    if attempt > 2:
                        time.sleep(random.uniform(0, 0.002 * min(attempt, 20)))
                except redis.RedisError as exc:  # unreachable, or refused: the request is not sent unpaced
                    raise SharedStateUnavailable("pace this Nexudus request with the other processes", exc) from None
        # Lost MAX_ATTEMPTS races in a row (never seen in practice): not sent rather than sent unpaced.
        raise SharedStateUnavailable(f"pace this Nexudus request within {MAX_ATTEMPTS} attempts")

    def _queue_slot(self, pipe: Any, at: float, write: bool, now: float) -> None:
        lim = self.limits
        member = f"{at:.6f}:{uuid.uuid4().hex[:12]}"
        pipe.zadd(self.all_key, {member: at})
        pipe.zremrangebyscore(self.all_key, "-inf", now - max(lim.hour, lim.window) - 60)
        pipe.pexpire(self.all_key, int((max(lim.hour, lim.window) + 120) * 1000))
        if write:
            pipe.zadd(self.writes_key, {member: at})
        pipe.zremrangebyscore(self.writes_key, "-inf", now - max(lim.day, lim.window) - 60)
        pipe.pexpire(self.writes_key, int((max(lim.day, lim.window) + 120) * 1000))

    def reserve(self, write: bool, not_before: float = 0.0) -> float:
        """Book the account's earliest allowed slot (in every process's view), at least `not_before` s from now,
        and return how long to wait."""
        lim = self.limits

        def decide(pipe: Any) -> Callable[[Any], float]:
            now = self._now(pipe)
            booked = Booked(
                last=self._nth(pipe, self.all_key, 1),
                minute=self._nth(pipe, self.all_key, lim.per_minute),
                minute_writes=self._nth(pipe, self.writes_key, lim.writes_per_minute) if write else None,
                hour=self._nth(pipe, self.all_key, lim.per_hour),
                day_writes=self._nth(pipe, self.writes_key, lim.writes_per_day) if write else None,
            )
            slot = earliest_slot(now + not_before, write, lim, booked)  # QuotaExhausted: nothing is booked

            def book(multi: Any) -> float:
                self._queue_slot(multi, slot, write, now)
                return max(0.0, slot - now)

            return book

        return self._transaction(decide)
