"""Cost of one alert cycle (`AlertWorker.run_cycle`) versus a naive client-side scan of every chatroom.

The sandbox (in this process, so `sandbox.stats` counts every Nexudus request) holds N chatrooms of which
exactly 1% are stale (active, last agent visit 3 days ago; every other room was visited 5 minutes ago).
Each measurement runs in a fresh child process with tracemalloc, so its peak memory is the scan's own and
not the sandbox's. Requests a cycle needs: ⌈stale / 1000⌉ + 1 (see `bot/alerts.py`).

    .venv/bin/python bench/stale_scan.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from _common import ADMIN, header, run_child, table
from cryptography.fernet import Fernet

from bot.console.fake_slack import FakeSlack
from bot.nexudus.credentials import Credentials
from bot.sandbox.db import to_db
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.store import Store, Subscription, fernet_from_setting

THRESHOLD_MINUTES = 240
PAGE = 1000

CHILD = r"""
import json, sys, time, tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from slack_sdk import WebClient
from bot.alerts import AlertWorker
from bot.stale import is_stale
from bot.slack.publisher import SlackPublisher
from bot.nexudus.client import ClientFactory
from bot.nexudus.credentials import Credentials
from bot.nexudus.pacing import PacerRegistry
from bot.settings import Settings
from bot.wiring import build_deps

mode, sandbox_url, slack_url, store, key, cycles = sys.argv[1:7]
settings = Settings(nexudus_base_url=sandbox_url, slack_api_url=slack_url, slack_bot_token="xoxb-bench",
                    store_path=Path(store), store_key=key, nexudus_pacing=False, _env_file=None)
deps = build_deps(settings, clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False)))
out = []
tracemalloc.start()
for _ in range(int(cycles)):
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    if mode == "cycle":
        report = AlertWorker(deps, SlackPublisher(WebClient(token="xoxb-bench", base_url=slack_url))).run_cycle()
        found = report.chatrooms_alerted
        assert report.errors == 0, report.details
    else:
        client = deps.services.clients(Credentials("admin@sandbox.local", "sandbox-admin"))
        cutoff = datetime.now(UTC) - timedelta(minutes=240)
        found = sum(1 for room in client.iter_chatrooms(size=1000) if is_stale(room, cutoff))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - base
    out.append({"found": found, "seconds": elapsed, "peak": peak})
deps.store.close()
print(json.dumps(out))
"""


def prepare(sandbox: SandboxServer, n: int, now: datetime) -> int:
    """Make exactly every 100th chatroom stale; every other one was visited 5 minutes ago."""
    recent, old, created = (to_db(now - timedelta(minutes=m)) for m in (5, 3 * 24 * 60, 30 * 24 * 60))
    with sandbox.db.transaction() as conn:
        conn.execute("UPDATE chatrooms SET last_agent_visit = ?, created_on = ?", (recent, created))
        conn.execute("UPDATE chatrooms SET active = 1, last_agent_visit = ? WHERE id % 100 = 0", (old,))
        (stale,) = conn.execute("SELECT COUNT(*) FROM chatrooms WHERE id % 100 = 0").fetchone()
    return int(stale)


def measure(mode: str, sandbox: SandboxServer, fake: FakeSlack, store: Path, key: str, cycles: int) -> list[dict]:
    before = sandbox.stats.total
    results: list[dict] = run_child(CHILD, mode, sandbox.url, fake.api_url, str(store), key, str(cycles))
    results[0]["requests"] = sandbox.stats.total - before  # all cycles together; split below
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="chatroom counts to compare (default 10000,100000)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    checks = []
    for n in sizes:
        with TemporaryDirectory() as tmp, FakeSlack() as fake:
            now = datetime.now(UTC)
            t0 = time.perf_counter()
            sandbox = SandboxServer(config=SandboxConfig(throttle=False), chatrooms=n).start()
            seeded = time.perf_counter() - t0
            try:
                stale = prepare(sandbox, n, now)
                key = Fernet.generate_key().decode()
                store_path = Path(tmp) / "store.sqlite"
                with Store(store_path, fernet_from_setting(key)) as store:
                    store.save_credentials("T1", "U1", Credentials(*ADMIN), now)
                    store.add_subscription(
                        Subscription(
                            team_id="T1",
                            channel_id="C1",
                            created_by="U1",
                            threshold_minutes=THRESHOLD_MINUTES,
                            created_at=now,
                        )
                    )
                stats_before = sandbox.stats.total
                first = measure("cycle", sandbox, fake, store_path, key, 1)[0]
                after_first = sandbox.stats.total
                second = measure("cycle", sandbox, fake, store_path, key, 1)[0]
                naive = measure("naive", sandbox, fake, store_path, key, 1)[0]
                posted = len(fake.calls("chat.postMessage"))
            finally:
                sandbox.stop()
        expected = math.ceil(stale / PAGE) + 1
        checks.append((n, stale, after_first - stats_before, expected, first["found"], naive["found"], posted))
        for label, r in (("alert cycle (first)", first), ("alert cycle (again)", second), ("naive full scan", naive)):
            rows.append(
                [
                    f"{n:,}",
                    f"{stale:,}",
                    label,
                    r["requests"],
                    f"{r['seconds']:.2f}",
                    f"{r['peak'] / 1024 / 1024:.2f}",
                    r["found"],
                ]
            )
        print(f"(seeded {n:,} chatrooms in {seeded:.1f} s)", file=sys.stderr)

    header("Stale scan cost: one alert cycle vs a naive scan")
    print(f"1% stale, threshold {THRESHOLD_MINUTES} min, page size {PAGE}; one subscription\n")
    table(rows, ["chatrooms", "stale", "scan", "Nexudus requests", "wall s", "peak MiB", "rooms found/alerted"])
    print()
    for n, stale, requests, expected, alerted, naive_found, posted in checks:
        print(
            f"{n:,} chatrooms: first cycle made {requests} requests (⌈{stale}/{PAGE}⌉ + 1 = {expected}); "
            f"alerted {alerted}, naive found {naive_found}, digests posted {posted}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
