"""Four processes (as on four hosts) sharing one Nexudus account through the Redis pacer (issue 14.3).

Each process is built like the app with `REDIS_URL` (`build_deps`-style `PacerRegistry(redis=…)`) and runs two
threads that send reads and writes (1 in 5) as fast as their pacer lets them, with `NEXUDUS_RETRIES=0`, against
a sandbox (own process) enforcing Nexudus' real limits (100 ms, 120/min, 60 writes/min). Counts the requests
Nexudus refused as throttled (target 0) and the effective rate as a fraction of the fastest schedule the limits
allow for the same requests (target >= 0.9). For comparison, the same four processes with a pacer per host
(each its own data directory: what four hosts without Redis have).

    .venv/bin/python bench/redis_pacing.py [--requests 360] [--modes redis,per-host]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, header, sandbox_process, table

from bot.nexudus.pacing import Limits, Pacer
from tests.helpers.servers import RedisServer

PROCESSES = 4
THREADS = 2
WRITE_EVERY = 5

WORKER = """
import json, sys, threading, time
from pathlib import Path
import redis
from bot.nexudus.client import ClientFactory
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError, RateLimited
from bot.nexudus.client import NewChatRoom
from bot.nexudus.pacing import PacerRegistry
from bot.settings import Settings

url, data, redis_url, n, threads, every, start_at = sys.argv[1:8]
n, threads, every, start_at = int(n), int(threads), int(every), float(start_at)
settings = Settings(nexudus_base_url=url, store_path=Path(data) / "store.sqlite", nexudus_retries=0, _env_file=None)
pacers = PacerRegistry(redis=redis.Redis.from_url(redis_url)) if redis_url != "-" else None
client = ClientFactory.from_settings(settings, pacers)(Credentials("admin@sandbox.local", "sandbox-admin"))
counts = {"refused": 0, "other": 0, "done": 0, "first": None, "last": 0.0}
lock = threading.Lock()

def run(t):
    for i in range(t, n, threads):
        write = i % every == 0
        started = time.time()
        outcome = "done"
        try:
            if write:
                client.create(NewChatRoom(business_id=9001, name=f"bench {i}"))
            else:
                client.find(page=1, size=1)
        except RateLimited:
            outcome = "refused"
        except NexudusError:
            outcome = "other"
        with lock:
            counts[outcome] += 1
            counts["first"] = started if counts["first"] is None else min(counts["first"], started)
            counts["last"] = max(counts["last"], time.time())

time.sleep(max(0.0, start_at - time.time()))
workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(json.dumps(counts))
"""


def fastest_schedule(total: int, writes: int) -> float:
    """Seconds from the first to the last of `total` requests (`writes` of them writes) when sent exactly at
    Nexudus' limits, with no margin: the rate a perfect pacer would reach."""
    now = [0.0]
    pacer = Pacer(Limits(margin=0.0, window_margin=0.0, max_wait=1e9), clock=lambda: now[0], sleep=lambda s: None)
    every = max(1, round(total / writes)) if writes else total + 1
    last = 0.0
    for i in range(total):
        last = now[0] + pacer.reserve(i % every == 0)
    return last


def run(mode: str, requests: int, sandbox_url: str, redis_url: str) -> dict[str, float]:
    per_process = requests // PROCESSES
    start_at = time.time() + 3.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as data:
        procs = []
        for n in range(PROCESSES):
            own = Path(data) / f"host{n}"  # a data directory per host: no machine-level sharing between them
            own.mkdir()
            args = [sandbox_url, str(own), redis_url if mode == "redis" else "-", str(per_process), str(THREADS)]
            args += [str(WRITE_EVERY), str(start_at)]
            procs.append(
                subprocess.Popen([sys.executable, "-c", WORKER, *args], stdout=subprocess.PIPE, text=True, env=env)
            )
        outs = [json.loads(p.communicate(timeout=1800)[0].strip().splitlines()[-1]) for p in procs]
    total = per_process * PROCESSES
    writes = PROCESSES * len(range(0, per_process, WRITE_EVERY))
    first = min(o["first"] for o in outs)
    last = max(o["last"] for o in outs)
    refused = sum(o["refused"] for o in outs)
    return {
        "total": total,
        "writes": writes,
        "refused": refused,
        "other": sum(o["other"] for o in outs),
        "wall": last - first,
        "ideal": fastest_schedule(total, writes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=360, help="requests in all (spread over 4 processes)")
    parser.add_argument("--modes", default="redis,per-host", help="redis, per-host or both (comma-separated)")
    args = parser.parse_args(argv)
    results = {}
    redis_server = RedisServer().start()
    try:
        for mode in args.modes.split(","):
            with sandbox_process() as sb:  # a fresh sandbox: its throttle windows start empty
                results[mode] = run(mode, args.requests, sb.url, redis_server.url)
    finally:
        redis_server.stop()
    header("Four processes, one Nexudus account, real limits")
    print(
        f"{PROCESSES} processes × {THREADS} threads, {args.requests} requests (1 in {WRITE_EVERY} a write), "
        "NEXUDUS_RETRIES=0, sandbox throttling at 100 ms / 120 a minute / 60 writes a minute\n"
    )
    rows = []
    for mode, r in results.items():
        sent = r["total"] - r["refused"]
        rate = (sent - 1) / r["wall"] if r["wall"] else 0.0
        allowed = (r["total"] - 1) / r["ideal"] if r["ideal"] else 0.0
        label = "Redis pacer (REDIS_URL)" if mode == "redis" else "a pacer per host"
        rows.append(
            [
                label,
                r["total"],
                f"{r['refused']} ({r['refused'] / r['total']:.0%})",
                r["other"],
                f"{r['wall']:.1f} s",
                f"{r['ideal']:.1f} s",
                f"{rate / allowed:.2f}" if allowed and not r["refused"] else "n/a (refused)",
            ]
        )
    table(
        rows,
        ["pacing", "requests", "refused as throttled", "other failures", "wall time", "fastest allowed", "rate"],
    )
    print("\nrate: requests per second ÷ that of the fastest schedule the limits allow (only without refusals)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
