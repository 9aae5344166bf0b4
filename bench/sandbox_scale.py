"""The sandbox at 100,000 chatrooms: seeding, and a deep filtered, sorted page and a name search over HTTP.

Targets (what the tests asserted before speed moved here): seeding 100k in under 30 s, a filtered page and a
name search each under 1 s. The script prints the figures and exits 1 when a target is missed.

    .venv/bin/python bench/sandbox_scale.py [--chatrooms 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

import requests
from _common import ADMIN, header, table

from bot.sandbox.db import SandboxDB, SearchQuery
from bot.sandbox.seed import seed
from bot.sandbox.server import SandboxConfig, SandboxServer

SEED_TARGET_S = 30.0
QUERY_TARGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chatrooms", type=int, default=100_000)
    n = parser.parse_args().chatrooms
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[tuple[str, str, str]] = []
    missed: list[str] = []

    def record(what: str, seconds: float, target: float, detail: str) -> None:
        rows.append((what, f"{seconds:.3f}", detail))
        if seconds >= target:
            missed.append(f"{what}: {seconds:.2f} s (target < {target:g} s)")

    store = SandboxDB(":memory:")
    started = time.perf_counter()
    seed(store, now, chatrooms=n)
    record(f"seed {n:,} (SandboxDB)", time.perf_counter() - started, SEED_TARGET_S, f"{store.count():,} rows")
    started = time.perf_counter()
    found, total = store.search(SearchQuery(active=True, visited_to=now - timedelta(hours=4), page=50, size=25))
    record("filtered page 50 (SandboxDB)", time.perf_counter() - started, QUERY_TARGET_S, f"{len(found)} of {total:,}")
    store.close()

    started = time.perf_counter()
    with SandboxServer(config=SandboxConfig(throttle=False), chatrooms=n) as sandbox:
        record(f"seed {n:,} (sandbox server)", time.perf_counter() - started, SEED_TARGET_S, "")
        params: dict[str, str | int] = {
            "ChatRoom_Active": "true",
            "To_ChatRoom_LastAgentVisit": (now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
            "orderby": "LastAgentVisit",
            "dir": "Ascending",
            "page": 40,
            "size": 25,
        }
        with requests.Session() as session:
            session.get(sandbox.chatrooms_url, auth=ADMIN, params={"size": 1}, timeout=10)
            started = time.perf_counter()
            page = session.get(sandbox.chatrooms_url, auth=ADMIN, params=params, timeout=10).json()
            record(
                "filtered, sorted page 40 over HTTP",
                time.perf_counter() - started,
                QUERY_TARGET_S,
                f"{len(page['Records'])} of {page['TotalItems']:,}",
            )
            started = time.perf_counter()
            named = session.get(sandbox.chatrooms_url, auth=ADMIN, params={"ChatRoom_Name": "ana"}, timeout=10).json()
            record(
                "name contains over HTTP",
                time.perf_counter() - started,
                QUERY_TARGET_S,
                f"{named['TotalItems']:,} matches",
            )

    header(f"Sandbox at {n:,} chatrooms")
    table(rows, ["what", "seconds", "result"])
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
