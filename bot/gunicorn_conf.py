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
from pathlib import Path
from typing import Any

from bot.settings import THREADS, default_workers, load_settings, worker_refusal

_settings = load_settings()
_metrics_dir = _settings.prometheus_multiproc_dir or Path(tempfile.mkdtemp(prefix="chatrooms-metrics-"))
# Set before any worker imports prometheus_client (the app is loaded in each worker, after the fork).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

bind = f"0.0.0.0:{_settings.port}"
workers = default_workers(_settings)
threads = THREADS
worker_class = "gthread"
timeout = 30
graceful_timeout = 20


def on_starting(server: Any) -> None:
    problem = worker_refusal(int(server.cfg.workers), _settings)
    if problem:
        raise RuntimeError(problem)  # gunicorn prints "Error: …" and exits 1 before starting any worker
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):  # values of a previous run's workers
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, path=str(_metrics_dir))


def on_exit(server: Any) -> None:
    if _settings.prometheus_multiproc_dir is None:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
