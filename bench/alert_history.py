"""The alert history's cost (issue 15 item 5): what it adds to the alert writes, and what `/chatrooms stats`
costs over a year of history, on the SQLite file and on PostgreSQL.

1. *Writes*: a digest of `--rows` rooms recorded and stamped (`begin_digest` + `stamp_digest`), then resolved
   (`put_alerts`), for a subscription that exists (its history is written, and the retention's key-range
   delete runs in every transaction) vs one removed meanwhile (the same reads and writes, no history).
2. *Stats*: a year of history for one workspace (`--per-day` rooms waiting again every day, each wait alerted
   and resolved, a tenth escalated: ~2.1 entries a wait) beside another workspace's as large, then
   `Store.history` for 365 days and `bot.stats.compute_stats` on it — what one `/chatrooms stats since:365d`
   does.

    .venv/bin/python bench/alert_history.py [--rows 100] [--per-day 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import header, migrated_database, table
from cryptography.fernet import Fernet

from bot.stats import compute_stats, last_days
from bot.store import AlertRecord, Digest, Store, Subscription, new_pending_ts

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAYS = 365


def subscription(store: Store, team: str) -> str:
    sub = Subscription(
        team_id=team, channel_id="C1", created_by="U1", threshold_minutes=240, created_at=NOW - timedelta(days=400)
    )
    return store.add_subscription(sub).id


def digest_cycle(store: Store, sub_id: str, rooms: range, at: datetime, *, resolve_after: timedelta) -> None:
    """One digest of `rooms` posted at `at`, then every room resolved `resolve_after` later (a tenth escalated)."""
    pending = new_pending_ts()
    digest = Digest(subscription_id=sub_id, channel_id="C1", message_ts=pending, chatroom_ids=list(rooms), posted_at=at)
    visit = at - timedelta(hours=5)
    recs = [
        AlertRecord(
            subscription_id=sub_id,
            chatroom_id=room,
            last_agent_visit=visit,
            channel_id="C1",
            message_ts=pending,
            alerted_at=at,
            waiting_since=visit,
            business_id=9001,
        )
        for room in rooms
    ]
    store.begin_digest(digest, recs)
    ts = f"{at.timestamp():.6f}"
    store.stamp_digest(sub_id, pending, ts)
    stamped = [rec.model_copy(update={"message_ts": ts}) for rec in recs]
    escalated = [rec.model_copy(update={"escalated_at": at + timedelta(hours=1)}) for rec in stamped[::10]]
    if escalated:
        store.put_alerts(escalated)
    done = {rec.chatroom_id: rec for rec in stamped} | {rec.chatroom_id: rec for rec in escalated}
    store.put_alerts([rec.model_copy(update={"resolved_at": at + resolve_after}) for rec in done.values()])


def writes(name: str, store: Store, rows: int, repeats: int = 5) -> list[list[object]]:
    live = subscription(store, "TW")
    gone = subscription(store, "TW")
    store.remove_subscription("TW", gone)
    out: list[list[object]] = []
    for label, sub_id in (("with history", live), ("without (subscription gone)", gone)):
        began = time.perf_counter()
        for n in range(repeats):
            digest_cycle(
                store,
                sub_id,
                range(n * rows, (n + 1) * rows),
                NOW + timedelta(minutes=n),
                resolve_after=timedelta(minutes=30),
            )
        ms = (time.perf_counter() - began) * 1000 / repeats
        out.append([name, f"digest of {rows} rooms: post, stamp, escalate, resolve", label, f"{ms:,.1f}"])
    return out


def year(name: str, store: Store, per_day: int) -> list[list[object]]:
    for team in ("TA", "TB"):
        sub_id = subscription(store, team)
        for day in range(DAYS):
            at = NOW - timedelta(days=day, hours=2)
            digest_cycle(
                store,
                sub_id,
                range(per_day),  # the same rooms wait again each day (a new visit, a new wait)
                at,
                resolve_after=timedelta(minutes=10 + day % 50),
            )
    start, end = last_days(NOW, DAYS, UTC)
    began = time.perf_counter()
    history = store.history("TA", start - timedelta(days=1))
    read = time.perf_counter() - began
    began = time.perf_counter()
    stats = compute_stats(history, start=start, end=end, zone=UTC)
    compute = time.perf_counter() - began
    assert stats.alerted == DAYS * per_day, stats.alerted
    return [
        [name, f"history entries read (one workspace, {DAYS} days)", f"{len(history):,}", f"{read * 1000:,.0f}"],
        [name, "compute_stats on them", f"{stats.alerted:,} waits", f"{compute * 1000:,.0f}"],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--per-day", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    header("Alert history: what it adds to alert writes, and a year of /chatrooms stats")
    cipher = Fernet(Fernet.generate_key())
    write_rows: list[list[object]] = []
    stats_rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store.sqlite", cipher) as store:
        write_rows += writes("SQLite file", store, args.rows)
        stats_rows += year("SQLite file", store, args.per_day)
    with migrated_database(args.database_url, "bench_history") as url, Store(url, cipher) as store:
        write_rows += writes("PostgreSQL", store, args.rows)
        stats_rows += year("PostgreSQL", store, args.per_day)
    table(write_rows, ["backend", "work", "", "ms"])
    table(stats_rows, ["backend", "step", "size", "ms"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
