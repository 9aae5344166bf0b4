"""gunicorn settings for the `web` process: `gunicorn -c python:bot.gunicorn_conf bot.web:app`.

Workers: without `REDIS_URL`, exactly one (with threads). Several worker processes would each keep their own
once-only keys (a double-clicked Save could run twice, once in each) and their own fair lanes, so more than one
is refused at start, whether asked by `--workers`, `WEB_CONCURRENCY` or this file. With Redis, pacing, chatroom
locks and once-only keys are shared by every process, and the default is `WEB_CONCURRENCY` or 4.

Metrics: every worker writes its Prometheus values into one directory (`PROMETHEUS_MULTIPROC_DIR`, made here
when unset and emptied at start), and `/metrics` adds them up whichever worker answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.acks import ACKS_BOARD_FILE, HostBoard
from bot.settings import THREADS, default_workers, load_settings, worker_refusal

_settings = load_settings()
_made: list[Path] = []  # a metrics directory this master made, removed when it exits
_mark_dead: Callable[..., None] | None = None  # prometheus' mark_process_dead, imported in on_starting
_board: HostBoard | None = None  # where the workers see each other's acks in progress (bot/acks.py)

bind = f"0.0.0.0:{_settings.port}"
workers = default_workers(_settings)
threads = THREADS
worker_class = "gthread"
timeout = 30
graceful_timeout = 20


def on_starting(server: Any) -> None:
    problem = worker_refusal(int(server.cfg.workers), _settings)
    if server.cfg.preload_app:
        # The app would be built here, in the master, before the fork: its threads (the journal's heartbeat and
        # sweep, the work after acks) would not exist in the workers, nor would their acks board.
        problem = "--preload is not supported: each worker builds its own app (its threads and connections)."
    if problem:
        raise RuntimeError(problem)  # gunicorn prints "Error: …" and exits 1 before starting any worker
    check_database_budget(server, int(server.cfg.workers))
    directory = _settings.prometheus_multiproc_dir
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="chatrooms-metrics-"))
        _made.append(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # values of a previous run's workers
        stale.unlink()
    # Set before any worker imports prometheus_client (each worker loads the app after the fork).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    # Imported here, once, by the master: importing it inside `child_exit`, which gunicorn may enter again for
    # another worker while the first import is under way, raised "partially initialized module" at shutdown.
    from prometheus_client import multiprocess

    global _mark_dead, _board
    _mark_dead = multiprocess.mark_process_dead
    # Each worker's work after acks waits for every worker's acks, not only its own (bot/acks.py).
    _board = HostBoard.create(directory / ACKS_BOARD_FILE)
    os.environ["ACKS_BOARD"] = str(_board.path)


def check_database_budget(server: Any, workers: int) -> None:
    """With DATABASE_URL: whether `workers` processes, each with its pool and /healthz connection, fit in the
    server's max_connections — said in gunicorn's log (a warning when they do not), from one short connection.
    An unreachable database is left to the workers' own start, which says what is wrong."""
    if _settings.database_url is None:
        return
    from bot.database import check_web_budget

    found = check_web_budget(_settings.database_url.get_secret_value(), workers, _settings.database_pool)
    if found is not None:
        fits, words = found
        (server.log.info if fits else server.log.warning)(words)


def child_exit(server: Any, worker: Any) -> None:
    if _mark_dead is not None:
        _mark_dead(worker.pid, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if _board is not None:  # a killed worker could not say it stopped acknowledging
        _board.clear(worker.pid)


def on_exit(server: Any) -> None:
    for directory in _made:
        for _ in range(10):  # a worker still exiting may write its last values while the tree is removed
            shutil.rmtree(directory, ignore_errors=True)
            if not directory.exists():
                break
            time.sleep(0.2)
