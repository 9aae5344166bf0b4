"""A web process puts its startup objects out of the garbage collector's way before its first request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.processes import app_env

PROBE = "import gc, bot.web; bot.web.create_wsgi_app(); print(gc.get_freeze_count())"


@pytest.mark.integration
def test_a_gunicorn_worker_freezes_its_startup_heap(tmp_path: Path) -> None:
    """Otherwise each full collection walks the ~120,000 objects of the modules and the app (~90 ms holding the
    interpreter lock, while every request of that worker waits), whenever a burst leaves enough objects behind."""
    env = app_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frozen = int(done.stdout.strip().splitlines()[-1])
    assert frozen > 10_000, frozen  # the app and its libraries: tens of thousands of objects
