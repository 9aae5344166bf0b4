"""The audit trail's cost: appending an entry, reading a page of one workspace among many, and retention.

A store holding `--entries` entries spread over `--teams` workspaces (a year of them) on the SQLite file and
on PostgreSQL (a throwaway server started on loopback, or `--database-url`). A page read must cost what it
shows and skips, not what the table holds (keys `TEAM:TIME:N`, read from the range's newest end); pruning a
year's oldest month is one key-range delete per workspace.

    .venv/bin/python bench/audit_trail.py [--entries 20000] [--teams 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, header, migrated_database, table

sys.path.insert(0, str(ROOT / "tests"))

from cryptography.fernet import Fernet

from bot.store import AuditEntry, FieldChange, Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def fill(store: Store, entries: int, teams: int) -> float:
    """Append `entries` over a year and `teams` workspaces; appends per second."""
    step = timedelta(days=365) / entries
    start = time.perf_counter()
    for i in range(entries):
        store.append_audit(
            AuditEntry(
                at=NOW - timedelta(days=365) + step * i,
                team_id=f"T{i % teams:04d}",
                user_id=f"U{i % 7}",
                action="edit",
                chatroom_ids=[1_000_000 + i % 60],
                name="Front desk",
                changes=[FieldChange(field="name", before="Desk", after="Front desk")],
            )
        )
    return entries / (time.perf_counter() - start)


def ms(run: object) -> float:
    start = time.perf_counter()
    for _ in range(20):
        run()  # type: ignore[operator]
    return (time.perf_counter() - start) / 20 * 1000


def measure(name: str, store: Store, entries: int, teams: int) -> list[list[object]]:
    rate = fill(store, entries, teams)
    team = "T0001"
    rows: list[list[object]] = [[name, f"append ({entries} entries, {teams} workspaces)", f"{rate:,.0f}/s", ""]]
    rows.append([name, "newest page of 20 (one workspace)", "", f"{ms(lambda: store.audit_entries(team)):.2f}"])
    rows.append([name, "page 5 of 20", "", f"{ms(lambda: store.audit_entries(team, offset=80, limit=20)):.2f}"])
    rows.append(
        [
            name,
            "page of one user's entries (1 in 7)",
            "",
            f"{ms(lambda: store.audit_entries(team, match=lambda e: e.user_id == 'U3')):.2f}",
        ]
    )
    start = time.perf_counter()
    removed = store.prune_audit(NOW - timedelta(days=335))
    rows.append(
        [name, f"prune the oldest month ({removed} entries)", "", f"{(time.perf_counter() - start) * 1000:.1f}"]
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    header("Audit trail: append, a page of one workspace, retention")
    cipher = Fernet(Fernet.generate_key())
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store.sqlite", cipher) as store:
        rows += measure("SQLite file", store, args.entries, args.teams)
    with migrated_database(args.database_url, "bench_audit") as url, Store(url, cipher) as store:
        rows += measure("PostgreSQL", store, args.entries, args.teams)
    table(rows, ["backend", "operation", "rate", "ms"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
