"""Helpers shared by the benchmark scripts (imported as `_common`; running it on its own does nothing).

Every helper starts something and hands back a way to stop it, so each script exits promptly.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIGNING_SECRET = "bench-signing-secret"
ADMIN = ("admin@sandbox.local", "sandbox-admin")


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def machine() -> str:
    return f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, {platform.system()}"


def header(title: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {title}\n{stamp} · {machine()}")


def table(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> None:
    """A Markdown table, so the output pastes straight into RESULTS.md."""
    cells = [[str(c) for c in head], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))


@contextmanager
def migrated_database(url: str | None, name: str) -> Iterator[str]:
    """`url` (migrated first), or a database `name` on a throwaway PostgreSQL server started on loopback (the
    tests' `PostgresServer`) and removed afterwards."""
    sys.path.insert(0, str(ROOT / "tests"))
    from bot.store.postgres import migrate

    server = None
    if url is None:
        from helpers.servers import PostgresServer

        server = PostgresServer().start()
        url = server.create_database(name)
    try:
        migrate(url)
        yield url
    finally:
        if server is not None:
            server.stop()


@dataclass
class SandboxProcess:
    """`python -m bot sandbox` in its own process, so it does not share the benchmark's GIL."""

    proc: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def sandbox_process(*args: str) -> Iterator[SandboxProcess]:
    cmd = [sys.executable, "-m", "bot", "sandbox", "--memory", "--port", "0", "--quiet", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"NEXUDUS_BASE_URL=(\S+)", line)
        if found:
            url = found.group(1)
    running = SandboxProcess(proc, url or "")
    try:
        if url is None:
            raise RuntimeError("the sandbox did not start")
        # Keep reading its output so the pipe never fills.
        threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
        yield running
    finally:
        running.stop()


def run_child(code: str, *args: str, timeout: float = 300) -> Any:
    """Run `code` in a fresh Python (`python -c`) from the repository root: its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_quiet(fake: Any, idle: float, limit: float) -> None:
    """Until the fake Slack has seen no call for `idle` seconds (lazy listeners have finished), at most `limit`."""
    deadline = time.monotonic() + limit
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(fake.calls())
        if n != seen:
            seen, since = n, time.monotonic()
        elif time.monotonic() - since >= idle:
            return
        time.sleep(0.05)


def bare_bolt_app(client: Any, signing_secret: str, *, process_before_response: bool) -> Any:
    """A Bolt app with the real app's options (bot/slack/app.py) whose every listener only acks."""
    import logging

    from slack_bolt import Ack, App

    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=True,
        token_verification_enabled=False,
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("bench.bare"),
    )

    def just_ack(ack: Ack) -> None:
        ack()

    app.command("/chatrooms")(just_ack)
    app.action(re.compile(".*"))(just_ack)
    app.view(re.compile(".*"))(just_ack)
    return app


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)


if __name__ == "__main__":
    # `make bench` runs every bench/*.py; this one is a library.
    pass
