"""Faults in the distributed deployment under a mixed load with writes (issue 14, Measure: faults).

The cluster of `bench/cluster_load.py` (`bench/_cluster.py`: `python -m bot run --workers 4`, two
`python -m bot alerts --interval 10`, real PostgreSQL and redis-server, the sandbox at Nexudus' real limits, the
strict fake Slack). Slack users send list, show, edits (through the form and with `edit ID name:…`), creates and
`run RENAME`, every write carrying a unique value, while the bench in turn:

1. kills -9 one web worker (the supervisor of `python -m bot run` starts another);
2. kills -9 the alert worker that is running a cycle, half a second into it (the other runs the next cycles;
   the killed one is started again 15 s later, as a process manager would);
3. restarts redis-server (stopped and started on the same port; no persistence, so its keys are gone);
4. restarts PostgreSQL (a fast shutdown, then started on the same port and data directory).

Afterwards every write's user-visible outcome is compared with the sandbox's request log (the truth): told done
=> applied; told it failed => not applied; told it may or may not have been applied => either. Counts: lost
writes (told done, not applied), writes applied twice (a command run twice, a chatroom created twice), digests
repeated (from the fake Slack's chat.postMessage calls), and the requests answered with an error in each fault's
window (fine when true).

    .venv/bin/python bench/cluster_faults.py [--duration 180] [--users 10] [--redis-appendonly]
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

from _cluster import (
    THROTTLED,
    Cluster,
    api_entries,
    applied_writes,
    closest_arrivals,
    digest_rows,
    repeated_digests,
    seeded_visits,
    waits_per_room,
)
from _common import header, table

SUBSCRIPTIONS = (("C0FAULTS1", "after:1h"), ("C0FAULTS2", "after:1h business:9001"))
MIX = (("list", 2), ("show", 1), ("edit (form)", 2), ("edit name:", 2), ("run RENAME", 2), ("create", 1))
GRACE = 5.0  # seconds after a fault's recovery still counted in its window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--redis-appendonly", action="store_true", help="Redis with an append-only file: a restart keeps its keys"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    rng = random.Random(args.seed)
    run = f"{rng.randrange(16**6):06x}"
    users = [f"U0FAULT{n:03d}" for n in range(args.users)]
    windows: list[dict[str, object]] = []

    with Cluster(interval=args.interval, redis_appendonly=args.redis_appendonly) as cluster:
        people = cluster.prepare(users, run, SUBSCRIPTIONS)
        seeded = seeded_visits(cluster.sandbox_db)
        started = time.time()

        def fault(name: str, at: float, act: Callable[[], str], recovered: Callable[[], bool]) -> None:
            time.sleep(max(0.0, started + at - time.time()))
            begin = time.time()
            detail = act()
            deadline = time.monotonic() + 120
            while not recovered() and time.monotonic() < deadline:
                time.sleep(0.2)
            back = time.time()
            windows.append({"fault": name, "at": begin - started, "detail": detail, "begin": begin, "back": back})

        def web_back() -> bool:
            return len(cluster.web_pids()) == cluster.web_workers and cluster.healthy()

        def kill_alerts() -> str:
            detail = cluster.kill_alert_worker_mid_cycle()
            dead = cluster.dead_alert_workers()

            def restart_later() -> None:
                time.sleep(15)
                for n in dead:
                    cluster.restart_alert_worker(n)

            threading.Thread(target=restart_later, daemon=True).start()
            return detail

        def restart_redis() -> str:
            assert cluster.redis is not None
            cluster.redis.restart()
            kept = "keys kept by its append-only file" if args.redis_appendonly else "no persistence: keys gone"
            return f"stopped and started on the same port ({kept})"

        def restart_postgres() -> str:
            assert cluster.postgres is not None
            cluster.postgres.restart()
            return "fast shutdown, started on the same port and data directory"

        plan = [
            ("kill -9 a web worker", 0.12, lambda: f"pid {cluster.kill_web_worker()}", web_back),
            ("kill -9 an alert worker mid-cycle", 0.30, kill_alerts, lambda: True),
            ("restart redis-server", 0.52, restart_redis, web_back),
            ("restart PostgreSQL", 0.75, restart_postgres, web_back),
        ]
        with people.load(users, MIX, started + args.duration, args.seed):
            for name, share, act, recovered in plan:
                fault(name, share * args.duration, act, recovered)
        time.sleep(args.interval * 2 + 5)  # the alert cycles after the load
        problems = cluster.log_problems()
        slack = cluster.slack
        cluster.stop()
        entries = cluster.sandbox_entries()
    told = people.told

    # ------------------------------------------------------------------------------------- verdicts
    writes = [t for t in told if t.marker]
    rows: Counter[tuple[str, str]] = Counter()
    lost, false_failed, twice, untrue = [], [], [], []
    for t in writes:
        applied = applied_writes(entries, t.marker or "")
        if applied > 1:
            twice.append(t)
        said = t.outcome
        truth = "applied" if applied else "not applied"
        if said == "done" and not applied:
            lost.append(t)
        if said == "failed" and applied:
            false_failed.append(t)
        rows[(t.kind, f"{said}, {truth}")] += 1
    untrue = lost + false_failed
    posted = digest_rows(slack)
    repeats = repeated_digests(posted, seeded and waits_per_room(entries, seeded))
    all_api = api_entries(entries)
    throttled = sum(1 for e in all_api if e["s"] in THROTTLED)

    header("Faults in the distributed deployment under a mixed load with writes")
    print(
        f"python -m bot run --workers 4 + 2 × python -m bot alerts --interval {args.interval:g}; PostgreSQL + Redis "
        f"on loopback; sandbox at Nexudus' real limits; {args.users} Slack users, {args.duration:.0f} s of load\n"
    )
    fault_rows = []
    counted: set[int] = set()  # each request in one window at most: the first fault it met
    for w in windows:
        begin, back = float(w["begin"]), float(w["back"])  # type: ignore[arg-type]
        inside = [
            t for t in told if id(t) not in counted and t.started <= back + GRACE and (t.ended or t.started) >= begin
        ]
        counted |= {id(t) for t in inside}
        bad = Counter(t.outcome for t in inside if t.outcome not in ("answered", "done"))
        fault_rows.append(
            [
                w["fault"],
                f"{float(w['at']):.0f} s",  # type: ignore[arg-type]
                f"{back - begin:.1f} s",
                len(inside),
                ", ".join(f"{k} {v}" for k, v in sorted(bad.items())) or "none",
            ]
        )
    table(
        fault_rows, ["fault", "at", "back in", "requests in its window", "not answered as asked (what they were told)"]
    )
    for w in windows:
        print(f"  {w['fault']}: {w['detail']}")
    print()
    outcomes = sorted({o for (_, o) in rows})
    kinds = sorted({k for (k, _) in rows})
    table([[k, *[rows.get((k, o), 0) for o in outcomes]] for k in kinds], ["write", *outcomes])
    print()
    table(
        [
            ["writes sent (each with a unique value)", len(writes)],
            ["told done but not applied (lost writes)", f"**{len(lost)}**"],
            ["told it failed but applied", f"**{len(false_failed)}**"],
            ["applied twice (command run twice, chatroom created twice, edit sent twice)", f"**{len(twice)}**"],
            ["digest rows repeated for the same wait", f"**{repeats}**"],
            ["digest rows posted / (subscription, chatroom) pairs", f"{sum(posted.values())} / {len(posted)}"],
            ["Nexudus requests answered as throttled (409/429)", f"{throttled} of {len(all_api)}"],
            ["closest two requests at the sandbox / pairs closer than 100 ms", closest_arrivals(entries)],
            ["acks not 200 within 3 s", f"{sum(1 for a in people.acks if a != 200)} of {len(people.acks)}"],
            ["tracebacks/ERROR lines in the processes' logs", dict(problems) or 0],
        ],
        ["measure", "value"],
    )
    for t in (untrue + twice)[:10]:
        print(f"  UNTRUE/TWICE {t.kind} {t.marker} told {t.outcome}: {t.text[:240]}")
    others = [t for t in told if t.outcome not in ("answered", "done")]
    for t in others[:12]:
        print(f"  {t.kind} at {t.started - started:.0f} s ({t.outcome}): {t.text[:200]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
