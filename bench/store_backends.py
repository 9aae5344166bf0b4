"""Store operations per second: the embedded SQLite file vs PostgreSQL (issue 14, "Measure").

Two workloads the app runs most: *login lookups* (`Store.load_credentials`: a read and a Fernet decrypt, on
every slash command) and *alert-state writes* (`Store.put_alert`, one committed transaction each, and
`Store.snooze`, a locked read-modify-write), from 1 thread and from 4 threads of one process. PostgreSQL is a
throwaway server this script starts on loopback (the tests' `PostgresServer`), or `--database-url` (migrated
first). Both commit durably (SQLite `synchronous=FULL`; PostgreSQL's default `fsync`/`synchronous_commit`).

    .venv/bin/python bench/store_backends.py [--ops 2000] [--threads 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, header, migrated_database, table

sys.path.insert(0, str(ROOT / "tests"))

from cryptography.fernet import Fernet

from bot.nexudus.credentials import Credentials
from bot.store import AlertRecord, Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
USERS = 200


def timed(ops: int, threads: int, op: Callable[[int], object]) -> float:
    """Operations per second of ``op(i)`` for i in range(ops), split over ``threads`` threads."""
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(start: int) -> None:
        barrier.wait()
        try:
            for i in range(start, ops, threads):
                op(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return ops / elapsed


def measure(name: str, store: Store, ops: int, threads: int) -> list[list[object]]:
    for u in range(USERS):
        store.save_credentials("T1", f"U{u}", Credentials(f"u{u}@example.com", f"pw-{u}"), NOW)

    def lookup(i: int) -> None:
        assert store.load_credentials("T1", f"U{i % USERS}") is not None

    def put(i: int) -> None:
        store.put_alert(
            AlertRecord(
                subscription_id=f"s{i % 20}",
                chatroom_id=i,
                last_agent_visit=NOW - timedelta(hours=5),
                channel_id="C1",
                message_ts="1.0",
                alerted_at=NOW,
            )
        )

    def snooze(i: int) -> None:
        store.snooze(f"s{i % 20}", i, NOW + timedelta(hours=1))

    rows: list[list[object]] = []
    for label, op in (
        ("login lookup", lookup),
        ("alert write (put_alert)", put),
        ("alert snooze (locked RMW)", snooze),
    ):
        for n in (1, threads):
            rate = timed(ops, n, op)
            rows.append([name, label, n, f"{rate:,.0f}", f"{1000 / rate * n:.2f}"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    header("Store operations per second: SQLite file vs PostgreSQL")
    cipher = Fernet(Fernet.generate_key())
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store.sqlite", cipher) as store:
        rows += measure("SQLite file", store, args.ops, args.threads)
    with migrated_database(args.database_url, "bench_store") as url, Store(url, cipher) as store:
        rows += measure("PostgreSQL", store, args.ops, args.threads)
    table(rows, ["backend", "operation", "threads", "ops/s", "ms/op (per thread)"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
