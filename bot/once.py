"""Once-only keys: a modal submitted twice (a double click, a retried delivery) or an event Slack delivers again
(`X-Slack-Retry-Num`) runs once.

`MemoryOnce` remembers recent keys in this process: enough while one process serves Slack. With several
processes or hosts behind a load balancer the second delivery can land elsewhere, so `RedisOnce` claims each
key with `SET key 1 NX EX ttl` (`REDIS_URL`): the first claimer anywhere runs, every other is told no. Keys are
hashed, so Redis holds neither view ids nor event ids in clear. Should Redis be unreachable, it falls back to
this process's memory (still once per process) and says so in the log, rather than refusing the user's click.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600  # Slack retries within minutes; a view's id and hash never come back after a day
REDIS_PREFIX = "chatrooms:once:"


class OnceKeys(Protocol):
    def first(self, key: str) -> bool:
        """True the first time `key` is claimed (by any process sharing this guard), False afterwards."""
        ...


class MemoryOnce:
    """Remembers the latest `capacity` keys of this process."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True


class RedisOnce:
    """Keys claimed in Redis, shared by every process and host."""

    def __init__(self, client: redis.Redis, *, ttl: int = TTL_SECONDS, prefix: str = REDIS_PREFIX) -> None:
        self.redis = client
        self.ttl = ttl
        self.prefix = prefix
        self._fallback = MemoryOnce()

    def first(self, key: str) -> bool:
        name = self.prefix + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        try:
            return bool(self.redis.set(name, b"1", nx=True, ex=self.ttl))
        except Exception as exc:
            log.warning("Redis unreachable for a once-only key (%s): guarding in this process only", type(exc).__name__)
            return self._fallback.first(key)
