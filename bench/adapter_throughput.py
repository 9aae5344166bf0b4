"""Reads through the adapter (`NexudusClient.find` / `get`) versus a plain `requests.Session` doing the same
HTTP requests (same URLs, same query strings, same Basic auth, JSON decoded), against the sandbox with
throttling and client pacing off. The sandbox runs in its own process so the two share no GIL.

    .venv/bin/python bench/adapter_throughput.py [--requests 1500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import requests
from _common import ADMIN, header, sandbox_process, table

from bot.nexudus.client import NexudusClient
from bot.nexudus.credentials import Credentials

FIRST_ID = 1_000_001
ROOMS = 60


def workload(n: int) -> list[tuple[str, int]]:
    """Alternating list pages (size 25) and single-record reads, the app's two common reads."""
    ops: list[tuple[str, int]] = []
    for i in range(n):
        ops.append(("find", 1 + i % 3) if i % 2 == 0 else ("get", FIRST_ID + i % ROOMS))
    return ops


def run_adapter(client: NexudusClient, ops: list[tuple[str, int]]) -> float:
    started = time.perf_counter()
    for kind, arg in ops:
        if kind == "find":
            page = client.find(page=arg, size=25)
            assert page.records
        else:
            assert client.get(arg).id == arg
    return time.perf_counter() - started


def run_plain(session: requests.Session, url: str, ops: list[tuple[str, int]]) -> float:
    started = time.perf_counter()
    for kind, arg in ops:
        if kind == "find":
            params = {"page": str(arg), "size": "25", "orderby": "Id", "dir": "Ascending"}
            response = session.get(url, params=params, timeout=(5, 20))
            response.raise_for_status()
            assert response.json()["Records"]
        else:
            response = session.get(f"{url}/{arg}", timeout=(5, 20))
            response.raise_for_status()
            assert response.json()["Id"] == arg
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1500, help="requests per side per round (default 1500)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each side counts")
    args = parser.parse_args(argv)
    ops = workload(args.requests)

    with sandbox_process("--no-throttle") as sandbox:
        client = NexudusClient(sandbox.url, Credentials(*ADMIN), pacer=None)
        plain = requests.Session()
        plain.auth = ADMIN
        plain.headers.update({"Accept": "application/json", "User-Agent": "bench/0.1"})
        url = sandbox.url.rstrip("/") + "/support/chatrooms"
        sides: dict[str, Callable[[], float]] = {
            "adapter": lambda: run_adapter(client, ops),
            "plain requests.Session": lambda: run_plain(plain, url, ops),
        }
        run_adapter(client, workload(50))  # warm both connections and caches
        run_plain(plain, url, workload(50))
        times: dict[str, list[float]] = {name: [] for name in sides}
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for name in order:
                times[name].append(sides[name]())
        client.close()
        plain.close()

    header("Adapter overhead (reads, sandbox throttle off, pacing off)")
    print(
        f"{args.requests} requests per side per round (half list pages of 25, half single reads), "
        f"{args.rounds} rounds\n"
    )
    best = {name: args.requests / min(t) for name, t in times.items()}
    rows = [[name, f"{best[name]:.0f}", ", ".join(f"{args.requests / t:.0f}" for t in times[name])] for name in sides]
    table(rows, ["client", "req/s (best round)", "req/s per round"])
    ratio = best["adapter"] / best["plain requests.Session"]
    print(f"\nadapter / plain = {ratio:.2f}× (target ≥ 0.90×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
