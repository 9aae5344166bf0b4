"""Several web worker processes on one port: `python -m bot run --workers N` (default `WEB_CONCURRENCY`; 4 with
`REDIS_URL`, else 1).

Each worker is a whole `python -m bot run --workers 1 --reuse-port` process with its own server, Bolt app and
connections; they bind the same port with `SO_REUSEPORT`, so the kernel spreads connections over them and no
process hands sockets to another. This supervisor only starts them, replaces one that dies (a worker that keeps
dying within seconds of its start stops the whole group, with its exit code, rather than loop), forwards SIGTERM
and SIGINT so each drains its acknowledged work, and points their metrics at one directory so `/metrics`, from
whichever worker answers, adds them all up.

More than one worker needs `REDIS_URL` (see `bot.settings.worker_refusal`): the caller checks before starting.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

from bot.acks import ACKS_BOARD_FILE, HostBoard

log = logging.getLogger(__name__)

QUICK_DEATH = 10.0  # a worker that exits within this many seconds of its start counts as failing to start
MAX_QUICK_DEATHS = 3  # in a row, for one worker slot: give up and stop the group
STOP_GRACE = 30.0  # after SIGTERM, how long workers get to drain before they are killed


class _Slot:
    def __init__(self, number: int) -> None:
        self.number = number
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.quick_deaths = 0


def run_workers(count: int, port: int, *, metrics_dir: Path | None = None, poll: float = 0.5) -> int:
    """Run `count` workers on `port` until SIGTERM/SIGINT (0) or until one cannot start (its exit code)."""
    own_dir = metrics_dir is None
    directory = metrics_dir or Path(tempfile.mkdtemp(prefix="chatrooms-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # a previous run's values
        stale.unlink()
    board = HostBoard.create(directory / ACKS_BOARD_FILE)  # each worker's work after acks waits for all their acks
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "ACKS_BOARD": str(board.path)}
    command = [sys.executable, "-m", "bot", "run", "--port", str(port), "--workers", "1", "--reuse-port"]
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    slots = [_Slot(n) for n in range(count)]
    status = 0
    try:
        for slot in slots:
            _start(slot, command, env)
        log.info("HTTP mode on port %s: %d worker processes (Slack sends requests to /slack/events)", port, count)
        while not stop.wait(poll):
            for slot in slots:
                assert slot.process is not None
                code = slot.process.poll()
                if code is None:
                    continue
                _forget_metrics(directory, slot.process.pid)
                board.clear(slot.process.pid)
                quick = time.monotonic() - slot.started < QUICK_DEATH
                slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
                if slot.quick_deaths >= MAX_QUICK_DEATHS:
                    log.error("web worker %d keeps exiting at start (code %s): stopping", slot.number, code)
                    status = code or 1
                    stop.set()
                    break
                log.warning(
                    "web worker %d (pid %d) exited with code %s: starting another", slot.number, slot.process.pid, code
                )
                _start(slot, command, env)
    finally:
        _stop_all(slots)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)
    log.info("HTTP mode stopped")
    return status


def _start(slot: _Slot, command: list[str], env: dict[str, str]) -> None:
    slot.process = subprocess.Popen(command, env=env)
    slot.started = time.monotonic()


def _stop_all(slots: list[_Slot]) -> None:
    running = [s.process for s in slots if s.process is not None and s.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("web worker pid %d did not stop within %.0f s: killed", process.pid, STOP_GRACE)
            process.kill()
            process.wait(timeout=10)


def _forget_metrics(directory: Path, pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path=str(directory))
