"""Acks first: under a burst of requests, the work after acks yields the CPU to the acks still to come."""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

BURST = 8  # requests arriving within BURST_WINDOW make a burst
BURST_WINDOW = 0.4  # seconds
MAX_DEFER = 1.0  # the longest a job waits for the acks (a steady flood of requests never starves the work)
POLL = 0.01  # how often a waiting process looks at the other processes' acks (they cannot wake it)
ACKS_BOARD_FILE = "acks.board"  # its name in the workers' shared metrics directory
SLOTS = 64  # processes a host board has room for (gunicorn's workers, including those replacing dead ones)


class HostBoard:
    """The acks in progress and the latest arrivals of every web process of this host, in a small shared file
    (gunicorn's workers): one process's work then waits for the whole host's burst, not only its own part.

    gunicorn's workers accept a burst's connections in turns, so each sees its share in lumps: a worker between
    two lumps, or one whose share was small, started its work while the others were still acknowledging — the
    CPU its work took was the other workers' acks' (bench/gunicorn_ack.py). Each process writes only its own
    slot (acks in progress, its last `BURST` arrival times on the host's monotonic clock, which every process
    shares on Linux) and reads the others'; no lock is held across processes, so a process killed mid-write
    blocks nobody, and gunicorn's master clears a dead worker's slot (`clear`). Claiming a slot takes an
    exclusive `flock` on the file for a moment.
    """

    def __init__(self, path: Path, slots: int = SLOTS, ring: int = BURST, *, fresh: bool = False) -> None:
        self.path = path
        self.slots = slots
        self.ring = ring
        self.fields = 3 + ring  # pid, acks in progress, next ring index, then the ring of arrival times
        size = slots * self.fields * 8
        # Never through a symbolic link (the directory may be shared); a fresh board is a new file of ours.
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if fresh else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)  # new bytes read as zeros: free slots
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._cells = memoryview(self._map).cast("d")
        self._slot = -1

    @classmethod
    def create(cls, path: Path, slots: int = SLOTS) -> HostBoard:
        """A new, empty board at `path` (a previous run's, with the slots of its dead processes, is replaced)."""
        path.unlink(missing_ok=True)
        return cls(path, slots, fresh=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive use of the slots' owners between processes (claiming, clearing), for a moment."""
        with open(self.path, "rb+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- this process -------------------------------------------------------------------------------------
    def claim(self, pid: int | None = None) -> int:
        """Take a free slot (or the slot of a process that no longer exists) for `pid` (this process)."""
        pid = os.getpid() if pid is None else pid
        with self._locked():
            for slot in range(self.slots):
                base = slot * self.fields
                owner = int(self._cells[base])
                if owner == pid or owner == 0 or not _alive(owner):
                    self._cells[base : base + self.fields] = memoryview(bytes(self.fields * 8)).cast("d")
                    self._cells[base] = float(pid)
                    self._slot = slot
                    return slot
        raise RuntimeError(f"no free slot on the acks board {self.path} ({self.slots} processes)")

    def publish(self, acking: int, arrived: float | None = None) -> None:
        """This process's acks in progress, and an arrival when `arrived` is given (called under its own lock)."""
        if self._slot < 0:
            return
        base = self._slot * self.fields
        cells = self._cells
        cells[base + 1] = float(acking)
        if arrived is not None:
            ring = int(cells[base + 2])
            cells[base + 3 + ring] = arrived
            cells[base + 2] = float((ring + 1) % self.ring)

    def release(self) -> None:
        """This process leaves the board (its slot is free again)."""
        if self._slot >= 0:
            base = self._slot * self.fields
            self._cells[base + 1] = 0.0
            self._cells[base] = 0.0
            self._slot = -1

    # -- the host ------------------------------------------------------------------------------------------
    def busy(self, now: float, window: float, burst: int) -> bool:
        """Whether another process is acknowledging a request, or `burst` requests reached this host's processes
        (this one included) within the last `window` seconds."""
        cells = self._cells.tolist()
        arrivals = 0
        since = now - window
        for slot in range(self.slots):
            base = slot * self.fields
            if not cells[base]:
                continue
            if slot != self._slot and cells[base + 1] > 0:
                return True
            arrivals += sum(1 for t in cells[base + 3 : base + self.fields] if t > since)
        return arrivals >= burst

    def processes(self) -> set[int]:
        """The processes holding a slot."""
        cells = self._cells.tolist()
        return {int(cells[s * self.fields]) for s in range(self.slots) if cells[s * self.fields]}

    def clear(self, pid: int) -> None:
        """gunicorn's master, when worker `pid` has exited: its slot no longer counts (a killed worker could
        not say so itself)."""
        try:
            with self._locked():  # not a slot a new process is claiming at this moment
                for slot in range(self.slots):
                    base = slot * self.fields
                    if int(self._cells[base]) == pid:
                        self._cells[base + 1] = 0.0
                        self._cells[base] = 0.0
        except FileNotFoundError:  # the board's directory went first (the run is over): nobody to hold
            pass

    def close(self) -> None:
        self.release()
        self._cells.release()
        self._map.close()


def open_board(path: Path | None) -> HostBoard | None:
    """The host's acks board at `path` (`ACKS_BOARD`, set by gunicorn's master), or None without one or when it
    cannot be opened (say, a worker running as another user than the master that made it): the process then
    gates its own requests only, and says so."""
    if path is None:
        return None
    try:
        return HostBoard(path)
    except OSError as exc:
        log.warning("cannot open the acks board %s (%s): the work after acks waits for this process's only", path, exc)
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


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
    which a worker accepts them. With a `board` (several web processes on one host: gunicorn's workers, `bot run
    --workers N`), the work also waits while any of them is acknowledging or the host's arrivals make a burst.
    """

    def __init__(
        self,
        *,
        burst: int = BURST,
        window: float = BURST_WINDOW,
        max_defer: float = MAX_DEFER,
        clock: Callable[[], float] = time.monotonic,
        board: HostBoard | None = None,
        poll: float = POLL,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.burst = burst
        self.window = window
        self.max_defer = max_defer
        self._clock = clock
        self._cond = threading.Condition()
        self._acking = 0
        self._arrivals: deque[float] = deque(maxlen=burst)  # the latest `burst` arrivals
        self.board = board  # with it, the work also waits for the other processes' acks (gunicorn's workers)
        self.poll = poll
        self._gate = threading.Lock()  # held by the one job waiting for the acks; the others wait for it
        if board is not None:
            try:
                board.claim()
            except RuntimeError as exc:  # more processes than slots: this one gates its own requests only
                log.warning("%s: the work after this process's acks waits for its own acks only", exc)
                self.board = None

    @contextmanager
    def acking(self) -> Iterator[None]:
        """Around one request, from its arrival to its ack."""
        with self._cond:
            self._change(+1, arrived=self._clock())
        try:
            yield
        finally:
            with self._cond:
                self._change(-1)

    @contextmanager
    def idle(self) -> Iterator[None]:
        """Inside `acking()`, while the request waits on something else than the CPU (an options answer waiting up
        to 2 s on Nexudus): it holds nobody's work meanwhile."""
        with self._cond:
            counted = self._acking > 0  # not inside `acking()` (Socket Mode, no web handler): nothing to leave
            if counted:
                self._change(-1)
        try:
            yield
        finally:
            if counted:
                with self._cond:
                    self._change(+1)

    def now(self) -> float:
        """This gate's clock (monotonic seconds): the time `yield_to_acks` takes."""
        return self._clock()

    def _change(self, by: int, arrived: float | None = None) -> None:
        """Holding the lock: the acks in progress change `by` one (and a request arrived), the board is told, and
        the waiting work looks again when none is left."""
        self._acking += by
        if arrived is not None:
            self._arrivals.append(arrived)
        if self.board is not None:
            self.board.publish(self._acking, arrived)
        if not self._acking:
            self._cond.notify_all()

    @property
    def in_progress(self) -> int:
        """Requests being acknowledged now."""
        with self._cond:
            return self._acking

    def _burst_ends(self) -> float:
        """When the current burst stops counting as one (in the past when there is none); holding the lock."""
        if len(self._arrivals) < self.burst:
            return float("-inf")
        return self._arrivals[0] + self.window

    def yield_to_acks(self, queued_at: float) -> float:
        """Wait while acks are in progress or a burst is arriving, until `max_defer` after `queued_at` at most;
        returns the seconds waited."""
        started = self._clock()
        deadline = queued_at + self.max_defer
        with self._cond:
            if started >= deadline or not self._held(started):
                return 0.0
        # One waiting job at a time: the others sleep on the gate and are let through one by one, rather than all
        # woken (each wanting the interpreter's lock the acks need) whenever this process's acks pause.
        if not self._gate.acquire(timeout=max(0.0, deadline - started)):
            return self._clock() - started
        try:
            with self._cond:
                while True:
                    now = self._clock()
                    if now >= deadline or not self._held(now):
                        break
                    ends = self._burst_ends()
                    if self._acking:
                        wait = deadline - now
                    elif ends > now:
                        wait = min(ends, deadline) - now
                    else:  # the other processes' acks: they cannot wake this one
                        wait = min(self.poll, deadline - now)
                    self._cond.wait(wait)
        finally:
            self._gate.release()
        return self._clock() - started

    def _held(self, now: float) -> bool:
        """Whether work must wait now (holding the lock): acks in progress or a burst, here or on the host."""
        if self._acking or self._burst_ends() > now:
            return True
        return self.board is not None and self.board.busy(now, self.window, self.burst)
