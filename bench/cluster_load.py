"""Four web workers and two alert workers sharing ONE Nexudus account at its real limits (issue 14, Measure).

The deployment of README "Running at scale" on one machine (`bench/_cluster.py`): `python -m bot run --workers 4`
and two `python -m bot alerts --interval 10`, on one real PostgreSQL (DATABASE_URL) and one real redis-server
(REDIS_URL), against the sandbox Nexudus in its own process enforcing 100 ms / 120 a minute / 60 writes a minute,
with the strict fake Slack. Slack users (all logged in with the same Nexudus account) send signed requests for
`--duration` seconds, each waiting for its answer before the next: list, show, edits through the form, edits
with `edit ID key:value` (some making a chatroom stale anew, so the alert cycles keep finding new waits) and
`run RENAME`. Three channels are subscribed to stale-visit alerts (1 h, 1 h on business 9001, 2 h on 9002).

Prints: Nexudus requests answered as throttled (409/429, target 0); the effective rate, as a fraction of the
fastest schedule Nexudus' limits allow for the same requests (target >= 0.9: demand exceeds the limit all
along); digests posted per (subscription, chatroom wait) — counted from the fake Slack's chat.postMessage calls
(target: no repeat); acks that were not 200 within Slack's 3 s; what users were told.

    .venv/bin/python bench/cluster_load.py [--duration 150] [--users 12] [--interval 10]
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from _cluster import (
    FIRST_ID,
    THROTTLED,
    Cluster,
    Told,
    api_entries,
    applied_writes,
    closest_arrivals,
    digest_rows,
    repeated_digests,
    seeded_visits,
    waits_per_room,
)
from _common import header, percentile, table
from redis_pacing import fastest_schedule

SUBSCRIPTIONS = (
    ("C0ALERTS1", "after:1h"),
    ("C0ALERTS2", "after:1h business:9001"),
    ("C0ALERTS3", "after:2h business:9002"),
)
MIX = (("list", 3), ("show", 2), ("edit (form)", 2), ("edit visited:", 2), ("run RENAME", 1), ("edit name:", 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=150.0, help="seconds of load (default 150)")
    parser.add_argument("--users", type=int, default=12, help="Slack users, each one request at a time")
    parser.add_argument("--interval", type=float, default=10.0, help="alert cycle interval (>= 10 s)")
    parser.add_argument("--chatrooms", type=int, default=200)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    rng = random.Random(args.seed)
    run = f"{rng.randrange(16**6):06x}"
    users = [f"U0LOAD{n:03d}" for n in range(args.users)]

    with Cluster(interval=args.interval, chatrooms=args.chatrooms) as cluster:
        people = cluster.prepare(users, run, SUBSCRIPTIONS)
        seeded = seeded_visits(cluster.sandbox_db)
        now = time.time()
        # Rooms made stale anew by `edit ID visited:…`: each once, among the open rooms (a closed one waits for
        # nobody), those not already an hour stale first.
        open_rooms = seeded_visits(cluster.sandbox_db, active=True)
        fresh = [room for room, seen in open_rooms.items() if seen is not None and now - seen < 55 * 60]
        later = [room for room, seen in open_rooms.items() if seen is not None and now - seen > 80 * 60]
        pool = fresh + rng.sample(later, len(later))
        pool_lock = threading.Lock()
        started = time.time()

        def make_stale(user: str, kind: str, mine: random.Random) -> Told | None:
            if kind != "edit visited:":
                return None
            with pool_lock:
                room = pool.pop(0) if pool else FIRST_ID + mine.randrange(args.chatrooms)
            visit = f"{datetime.now(UTC) - timedelta(minutes=62):%Y-%m-%dT%H:%M}"
            return people.slash(user, f"edit {room} visited:{visit}", kind, write=True, marker=visit, room=room)

        with people.load(users, MIX, started + args.duration, args.seed, make_stale):
            pass
        ended = time.time()
        time.sleep(args.interval * 2 + 5)  # the alert cycles after the load post what it made stale
        problems = cluster.log_problems()
        records = cluster.alert_records()
        slack = cluster.slack
        cluster.stop()
        entries = cluster.sandbox_entries()
    told = people.told

    during = api_entries(entries, started, ended)
    throttled = [e for e in during if e["s"] in THROTTLED]
    accepted = [e for e in during if e["s"] not in THROTTLED]
    writes = sum(1 for e in accepted if e["m"] != "GET")
    span = accepted[-1]["t"] - accepted[0]["t"] if len(accepted) > 1 else 0.0
    allowed = fastest_schedule(len(accepted), writes)
    all_api = api_entries(entries)
    throttled_all = sum(1 for e in all_api if e["s"] in THROTTLED)

    posted = digest_rows(slack)
    waits = waits_per_room(entries, seeded)
    repeats = repeated_digests(posted, waits)
    made_stale = [t for t in told if t.kind == "edit visited:" and t.outcome == "done"]
    alerted, shown = _alerted(made_stale, records, posted)
    acks = people.acks
    lost = [
        t
        for t in told
        if t.marker and t.kind != "edit visited:" and t.outcome == "done" and not applied_writes(entries, t.marker)
    ]

    header("Four web workers + two alert workers, one Nexudus account, real limits")
    print(
        f"python -m bot run --workers 4 + 2 × python -m bot alerts --interval {args.interval:g}; PostgreSQL + Redis on "
        f"loopback; sandbox throttling at 100 ms / 120 a minute / 60 writes a minute; {args.users} Slack users, "
        f"{args.duration:.0f} s of load, 3 subscriptions\n"
    )
    rate = (allowed / span) if span else 0.0
    table(
        [
            ["Nexudus requests during the load (accepted + throttled)", f"{len(accepted)} + {len(throttled)}"],
            ["answered as throttled (409/429), during the load / whole run", f"**{len(throttled)}** / {throttled_all}"],
            ["of which writes", writes],
            ["first → last accepted request", f"{span:.1f} s"],
            ["fastest schedule the limits allow for them", f"{allowed:.1f} s"],
            ["effective rate (fraction of the allowed rate)", f"**{rate:.2f}**"],
            [
                "acks (all signed requests) / not 200 within 3 s",
                f"{len(acks)} / **{sum(1 for a in acks if a != 200)}**",
            ],
            [
                "digest rows posted (chat.postMessage) / (subscription, chatroom) pairs",
                f"{sum(posted.values())} / {len(posted)}",
            ],
            ["digest rows repeated for the same wait", f"**{repeats}**"],
            ["waits made by the load (edit visited:, told done)", len(made_stale)],
            ["… alerted in the all-businesses channel (recorded on that wait)", alerted],
            ["… of them shown as a row (others counted in '…and N more')", shown],
            ["writes told done but not applied", f"**{len(lost)}**"],
            ["closest two requests at the sandbox / pairs closer than 100 ms", closest_arrivals(entries)],
            ["tracebacks/ERROR lines in the processes' logs", dict(problems) or 0],
        ],
        ["measure", "value"],
    )
    print()
    kinds = sorted({t.kind for t in told})
    outcomes = sorted({t.outcome for t in told})
    rows = []
    for kind in kinds:
        mine = [t for t in told if t.kind == kind]
        counts = Counter(t.outcome for t in mine)
        times = [t.ended - t.started for t in mine]
        rows.append(
            [
                kind,
                len(mine),
                *[counts.get(o, 0) for o in outcomes],
                f"{percentile(times, 50):.1f} / {percentile(times, 95):.1f} s",
            ]
        )
    table(rows, ["request", "sent", *outcomes, "answer time p50 / p95"])
    errors = [t for t in told if t.outcome not in ("answered", "done")]
    for t in errors[:8]:
        print(f"  {t.kind} ({t.outcome}): {t.text[:200]}")
    return 0


def _alerted(
    made: list[Told], records: dict[tuple[str, str, int], int | None], posted: Counter[tuple[str, int]]
) -> tuple[int, int]:
    """Of the waits the load made, how many the all-businesses subscription recorded as alerted on that very
    visit, and how many of those a digest showed as a row."""
    channel = SUBSCRIPTIONS[0][0]
    alerted = shown = 0
    for t in made:
        visit = int(datetime.strptime(t.marker or "", "%Y-%m-%dT%H:%M").replace(tzinfo=UTC).timestamp())
        hits = [sub for (ch, sub, room), seen in records.items() if ch == channel and room == t.room and seen == visit]
        if hits:
            alerted += 1
            shown += any(posted[(sub, t.room or 0)] for sub in hits)
    return alerted, shown


if __name__ == "__main__":
    raise SystemExit(main())
