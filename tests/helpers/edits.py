"""Two processes editing one chatroom at once through the services (tests/reliability/edit_worker.py): each reads
it, says ready, and both save when both have read — never at a set time, since under load one process's start
can take longer than any head start, and it would then read the other's saved version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.locks import Locks, LockTimeout

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "reliability" / "edit_worker.py"
ROOM = 1_000_007


def start_together(procs: list[subprocess.Popen[str]]) -> None:
    """Once every process has printed "ready" (its set-up done), tell each to go (a line on its stdin)."""
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def run_two_edits(url: str, lock: str | Path, new_name: str, *extra: str) -> list[dict[str, Any]]:
    """One process renames ROOM to `new_name`, the other turns it inactive; `lock` is a lock file or a Redis URL
    (`extra`: "nolock"). Each one's outcome, in that order."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, str(lock), str(ROOM), field, value, "stdin", *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for field, value in (("name", new_name), ("active", "false"))
    ]
    try:
        start_together(procs)
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def overlaps_under_contention(locks: Locks, key: str = "chatroom:1", *, threads: int = 6, rounds: int = 5) -> list[int]:
    """`threads` threads released at once each take `key` `rounds` times, staying inside a moment: the workers
    that found another one inside (none, when the lock admits one thread at a time). Every thread is joined."""
    inside: list[int] = []
    overlaps: list[int] = []
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        barrier.wait()
        for _ in range(rounds):
            with locks.hold(key):
                inside.append(n)
                if len(inside) > 1:
                    overlaps.append(n)
                time.sleep(0.002)
                inside.remove(n)

    running = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in running), "every worker finished"
    return overlaps


def assert_waits_for_the_other_holder(locks: Locks) -> None:
    """With "chatroom:42" held by another process for ~1 s: a short wait for it gives up, another chatroom is free,
    and a long enough wait gets it once the other process lets go."""
    with pytest.raises(LockTimeout), locks.hold("chatroom:42", timeout=0.2):
        pass
    with locks.hold("chatroom:43", timeout=0.2):
        pass  # another chatroom is free
    started = time.monotonic()
    with locks.hold("chatroom:42", timeout=10):
        waited = time.monotonic() - started
    assert waited > 0.3, "the other process still held it"
