"""Named locks that serialise a read → check → write across threads and across processes of one machine.

The edit of a chatroom reads it, checks it is the version the user saw and PUTs every property back. Nexudus
has no conditional PUT, so two of our own writers interleaving there would lose one change: the web process
and the alert worker both edit, so an in-process lock is not enough. `FileLocks` holds one POSIX byte-range
lock per key on a single file (no file per chatroom), plus a thread lock per key, because POSIX record
locks belong to a process and would let two of its threads in at once. `RedisLocks` is the same interface for
every process on every host (`REDIS_URL`): redis-py's `Lock` (`SET key token NX PX`, released only by its
holder's token) with a lease renewed while the block runs, so a holder that dies frees the lock within one lease
while a slow but alive holder keeps it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

DEFAULT_TIMEOUT = 30.0
POLL = 0.01
LEASE = 15.0  # a Redis lock outlives a dead holder by at most this; a live one renews it every LEASE / 3
REDIS_PREFIX = "chatrooms:lock:"

log = logging.getLogger(__name__)


class LockTimeout(Exception):
    """Someone else held the lock for longer than we were willing to wait; nothing was done."""

    def __init__(self, key: str, waited: float) -> None:
        self.key = key
        self.waited = waited
        super().__init__(f"{key} stayed locked for {waited:.0f} s")


class SharedStateUnavailable(Exception):
    """Redis, which the processes coordinate through (`REDIS_URL`: locks, pacing), could not be used; nothing was
    sent to Nexudus. Data only (`describe` words it): `what` was being coordinated, `cause` names the error's
    type (never its text, which may hold the URL)."""

    def __init__(self, what: str, cause: BaseException | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.cause = type(cause).__name__ if cause is not None else None


class Locks(Protocol):
    def hold(self, key: str, timeout: float = DEFAULT_TIMEOUT) -> contextlib.AbstractContextManager[None]:
        """Hold the lock named `key` for the `with` block, waiting at most `timeout` s for it."""
        ...


class _KeyedThreadLocks:
    """One `threading.Lock` per key, created on demand and dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: str, deadline: float) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise LockTimeout(key, 0.0)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class ThreadLocks:
    """Locks for one process only (tests, the local console); see `FileLocks` for several processes."""

    def __init__(self) -> None:
        self._locks = _KeyedThreadLocks()

    @contextlib.contextmanager
    def hold(self, key: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
        start = time.monotonic()
        try:
            with self._locks.hold(key, start + timeout):
                yield
        except LockTimeout:
            raise LockTimeout(key, time.monotonic() - start) from None


class _LockFile:
    """One open descriptor per lock file and process: closing any descriptor of a file would drop every
    POSIX lock the process holds on it, so all `FileLocks` of a process share this one."""

    _open: dict[Path, _LockFile] = {}
    _guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.threads = _KeyedThreadLocks()
        self.pid = os.getpid()

    @classmethod
    def of(cls, path: Path) -> _LockFile:
        path = path.resolve()
        with cls._guard:
            found = cls._open.get(path)
            if found is None or found.pid != os.getpid():  # a forked child needs its own descriptor
                found = cls._open[path] = cls(path)
            return found


class FileLocks:
    """Cross-process locks: a byte-range lock per key (at offset crc32(key)) on one file."""

    def __init__(self, path: Path, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.path = path
        self._sleep = sleep

    @contextlib.contextmanager
    def hold(self, key: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
        file = _LockFile.of(self.path)
        start = time.monotonic()
        deadline = start + timeout
        offset = zlib.crc32(key.encode("utf-8"))  # a collision only serialises two keys: harmless
        try:
            with file.threads.hold(key, deadline):
                while True:
                    try:
                        fcntl.lockf(file.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset, os.SEEK_SET)
                        break
                    except OSError:  # EAGAIN / EACCES: another process holds it
                        if time.monotonic() >= deadline:
                            raise LockTimeout(key, 0.0) from None
                        self._sleep(POLL)
                try:
                    yield
                finally:
                    fcntl.lockf(file.fd, fcntl.LOCK_UN, 1, offset, os.SEEK_SET)
        except LockTimeout:
            raise LockTimeout(key, time.monotonic() - start) from None


class RedisLocks:
    """Locks for every process on every host sharing one Redis (`REDIS_URL`)."""

    def __init__(self, client: redis.Redis, *, lease: float = LEASE, poll: float = POLL, prefix: str = REDIS_PREFIX):
        self.redis = client
        self.lease = lease
        self.poll = poll
        self.prefix = prefix

    @contextlib.contextmanager
    def hold(self, key: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
        from redis.exceptions import LockError, RedisError

        start = time.monotonic()
        # thread_local=False: the renewing thread must see the token; each hold has its own Lock object.
        lock = self.redis.lock(
            self.prefix + key, timeout=self.lease, sleep=self.poll, blocking_timeout=timeout, thread_local=False
        )
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise SharedStateUnavailable(f"lock {key} against other processes", exc) from None
        if not acquired:
            raise LockTimeout(key, time.monotonic() - start)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease / 3):
                try:
                    lock.reacquire()
                except LockError:
                    log.warning("the lock on %s expired while held: another host may now hold it", key)
                    return
                except Exception:
                    log.warning("could not renew the lock on %s (Redis unreachable?)", key)

        renewer = threading.Thread(target=renew, name=f"lock-renew-{key}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)
            try:
                lock.release()
            except LockError:
                log.warning("the lock on %s had expired before it was released", key)
            except RedisError as exc:  # it expires by itself within one lease
                log.warning("could not release the lock on %s (%s): it expires by itself", key, type(exc).__name__)
