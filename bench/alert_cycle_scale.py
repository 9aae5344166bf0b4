"""One alert cycle at scale: 1,000 subscriptions in 100 workspaces over 100,000 chatrooms, scans shared or not.

The sandbox (in this process, so `sandbox.stats` counts every Nexudus request) holds N chatrooms in 20
businesses. 10 Nexudus accounts each see 2 businesses (as Nexudus users with access to some locations only).
Workspace w belongs to the operator of account w % 10; two staff members of each workspace log in to that
account (two token pairs of one account). Each workspace has 10 subscriptions, each in its own channel,
with thresholds 30 min, 1 h, 4 h or 8 h; half the accounts also have business-less subscriptions (one scan
then serves all of the account's), the other half only business-filtered ones (one scan per business).

Stale rooms: every room is active and was visited a minute ago, except a fixed pattern by id: 2 % visited
35 min ago, 2 % 3 h ago, 2 % 10 h ago, 2 % 2 days ago, 0.5 % never visited (opened 6 h ago), and 5 % closed.
The dates are set again, relative to the clock, before each mode, so both see the same waits.

Each mode (shared scans, then one scan per subscription) starts from a copy of the same store and runs two
cycles in a fresh child process with tracemalloc (so its peak is the cycle's own memory, not the sandbox's);
the second cycle finds nothing new. Digests go to the strict fake Slack, which records every post.

    .venv/bin/python bench/alert_cycle_scale.py [--chatrooms 100000] [--workspaces 100] [--per-workspace 10]
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from _common import header, run_child, table
from cryptography.fernet import Fernet

from bot.console.fake_slack import FakeSlack
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.sandbox.db import to_db
from bot.sandbox.seed import ALL_ROLES, DemoUser
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.store import Subscription
from bot.wiring import build_deps

ACCOUNTS = 10
BUSINESSES = [9001 + n for n in range(2 * ACCOUNTS)]
THRESHOLDS = (30, 60, 240, 480)
STAFF = ("U1", "U2")

CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
from slack_sdk import WebClient
from bot.alerts import AlertWorker
from bot.slack.publisher import SlackPublisher
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.settings import Settings
from bot.wiring import build_deps

share, sandbox_url, slack_url, store, key, cycles, trace = sys.argv[1:8]
settings = Settings(nexudus_base_url=sandbox_url, slack_api_url=slack_url, slack_bot_token="xoxb-bench",
                    store_path=Path(store), store_key=key, nexudus_pacing=False, redis_url=None, database_url=None,
                    _env_file=None)
deps = build_deps(settings, clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False)))
worker = AlertWorker(deps, SlackPublisher(WebClient(token="xoxb-bench", base_url=slack_url), sleep=lambda s: None),
                     share_scans=share == "share")
out = []
def high_water():
    # This process image's peak resident set in KiB (VmHWM; ru_maxrss may carry the parent's across exec).
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rss_before = high_water()
if trace == "trace":
    tracemalloc.start()
for _ in range(int(cycles)):
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    report = worker.run_cycle()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert report.errors == 0, report.details
    peak = tracemalloc.get_traced_memory()[1] - base if tracemalloc.is_tracing() else None
    out.append({"requests": report.nexudus_requests, "seconds": elapsed, "cpu": cpu, "peak": peak,
                "digests": report.digests_posted,
                "alerted": report.chatrooms_alerted, "scanned": report.subscriptions,
                "rss": high_water(), "rss_before": rss_before})
deps.store.close()
print(json.dumps(out))
"""


def account_email(n: int) -> str:
    return f"ops{n}@bench.local"


def account_users() -> dict[str, DemoUser]:
    return {
        account_email(n): DemoUser(
            account_email(n), f"bench-{n}", ALL_ROLES, businesses=frozenset(BUSINESSES[2 * n : 2 * n + 2])
        )
        for n in range(ACCOUNTS)
    }


def prepare(sandbox: SandboxServer, now: datetime) -> dict[str, int]:
    """Spread the rooms over 20 businesses and make the fixed pattern of rooms stale; counts by kind."""
    sandbox.db.add_businesses([(b, f"Space {b}") for b in BUSINESSES])
    at = {m: to_db(now - timedelta(minutes=m)) for m in (1, 35, 180, 600, 2 * 24 * 60, 6 * 60, 30 * 24 * 60)}
    with sandbox.db.transaction() as conn:
        first, count = conn.execute("SELECT MIN(id), COUNT(*) FROM chatrooms").fetchone()
        conn.execute(  # contiguous blocks of ids, so the stale pattern below falls evenly on every business
            "UPDATE chatrooms SET business_id = ? + (id - ?) * ? / ?, active = 1, last_agent_visit = ?, created_on = ?",
            (BUSINESSES[0], first, len(BUSINESSES), count, at[1], at[30 * 24 * 60]),
        )
        for rest, minutes in ((0, 35), (1, 180), (2, 600), (3, 2 * 24 * 60)):
            conn.execute("UPDATE chatrooms SET last_agent_visit = ? WHERE id % 50 = ?", (at[minutes], rest))
        conn.execute("UPDATE chatrooms SET last_agent_visit = NULL, created_on = ? WHERE id % 200 = 4", (at[6 * 60],))
        conn.execute("UPDATE chatrooms SET active = 0 WHERE id % 20 = 5")
        counts = {
            f"stale past {t} min": int(
                conn.execute(
                    "SELECT COUNT(*) FROM chatrooms WHERE active = 1 AND COALESCE(last_agent_visit, created_on) <= ?",
                    (to_db(now - timedelta(minutes=t)),),
                ).fetchone()[0]
            )
            for t in THRESHOLDS
        }
    return counts


def subscriptions(workspaces: int, per_workspace: int, now: datetime) -> list[Subscription]:
    subs = []
    for w in range(workspaces):
        account = w % ACCOUNTS
        own = BUSINESSES[2 * account : 2 * account + 2]
        for i in range(per_workspace):
            everywhere = account < ACCOUNTS // 2 and i % 2 == 0
            subs.append(
                Subscription(
                    team_id=f"T{w:04d}",
                    channel_id=f"C{w:04d}{i:02d}",
                    created_by=STAFF[i % len(STAFF)],
                    threshold_minutes=THRESHOLDS[(w + i) % len(THRESHOLDS)],
                    business_id=None if everywhere else own[(i // 2) % 2],
                    created_at=now,
                )
            )
    return subs


def planned_scans(subs: list[Subscription]) -> int:
    """Scans sharing needs: per account, one if it has a business-less subscription, else one per business."""
    by_account: dict[int, set[int | None]] = {}
    for sub in subs:
        by_account.setdefault(int(sub.team_id[1:]) % ACCOUNTS, set()).add(sub.business_id)
    return sum(1 if None in filters else len(filters) for filters in by_account.values())


def run(share: bool, sandbox: SandboxServer, fake: FakeSlack, store: Path, key: str, trace: bool) -> list[dict]:
    before = sandbox.stats.total
    posted = len(fake.calls("chat.postMessage"))
    mode = "share" if share else "each"
    cycles: list[dict] = run_child(
        CHILD, mode, sandbox.url, fake.api_url, str(store), key, "2", "trace" if trace else "no", timeout=3600
    )
    counted = sandbox.stats.total - before
    if counted != sum(c["requests"] for c in cycles):
        raise RuntimeError(f"the sandbox counted {counted} requests, the cycles {[c['requests'] for c in cycles]}")
    if len(fake.calls("chat.postMessage")) - posted != sum(c["digests"] for c in cycles):
        raise RuntimeError("the fake Slack received another number of posts than the digests reported")
    return cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chatrooms", type=int, default=100_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--per-workspace", type=int, default=10, help="subscriptions per workspace")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also the peak of Python allocations (cycles run 2-3× slower)"
    )
    args = parser.parse_args(argv)

    with TemporaryDirectory() as tmp, FakeSlack() as fake:
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        sandbox = SandboxServer(config=SandboxConfig(throttle=False), chatrooms=args.chatrooms, users=account_users())
        sandbox.start()
        try:
            stale = prepare(sandbox, now)
            seeded = time.perf_counter() - t0
            key = Fernet.generate_key().decode()
            store = Path(tmp) / "store.sqlite"
            settings = Settings(
                nexudus_base_url=sandbox.url,
                slack_api_url=fake.api_url,
                slack_bot_token="xoxb-bench",
                store_path=store,
                store_key=key,
                nexudus_pacing=False,
                redis_url=None,
                database_url=None,
                _env_file=None,  # type: ignore[call-arg]
            )
            deps = build_deps(settings, clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False)))
            subs = subscriptions(args.workspaces, args.per_workspace, now)
            for team in sorted({s.team_id for s in subs}):
                for user in STAFF:
                    account = int(team[1:]) % ACCOUNTS
                    deps.services.login(team, user, account_email(account), f"bench-{account}")
            for sub in subs:
                deps.store.add_subscription(sub)
            deps.store.close()
            shutil.copy(store, Path(tmp) / "each.sqlite")
            shared = run(True, sandbox, fake, store, key, args.tracemalloc)
            prepare(sandbox, datetime.now(UTC))  # the same waits for the other mode, however long this one took
            each = run(False, sandbox, fake, Path(tmp) / "each.sqlite", key, args.tracemalloc)
        finally:
            sandbox.stop()

    header("Alert cycle at scale: shared scans vs one scan per subscription")
    thresholds = Counter(s.threshold_minutes for s in subs)
    filters = Counter("business-less" if s.business_id is None else "one business" for s in subs)
    print(
        f"{args.chatrooms:,} chatrooms in {len(BUSINESSES)} businesses (seeded in {seeded:.1f} s); {len(subs):,} "
        f"subscriptions in {args.workspaces} workspaces, {args.per_workspace} each, by {len(STAFF)} staff a "
        f"workspace; {ACCOUNTS} Nexudus accounts, each seeing 2 businesses and used by {args.workspaces // ACCOUNTS} "
        f"workspaces.\nThresholds: {', '.join(f'{t} min × {n}' for t, n in sorted(thresholds.items()))}. Filters: "
        f"{', '.join(f'{k} × {n}' for k, n in sorted(filters.items()))}. Scans sharing plans: {planned_scans(subs)}.\n"
        f"Stale rooms (all accounts together): {', '.join(f'{k}: {v:,}' for k, v in stale.items())}.\n"
        "Max RSS: the worker process' high-water mark (VmHWM) after the cycle (after start-up, before the first cycle: "
        f"{shared[0]['rss_before'] / 1024:.0f} MiB)"
        + (
            "; peak: tracemalloc's peak of Python allocations during the cycle (wall times include its overhead).\n"
            if args.tracemalloc
            else ".\n"
        )
    )
    rows = []
    for label, cycles in (("shared scans", shared), ("one scan per subscription", each)):
        for n, c in enumerate(cycles, 1):
            rows.append(
                [
                    label,
                    "first" if n == 1 else "again (nothing new)",
                    f"{c['requests']:,}",
                    f"{c['seconds']:.1f}",
                    f"{c['cpu']:.1f}",
                    "–" if c["peak"] is None else f"{c['peak'] / 1024 / 1024:.1f}",
                    f"{c['rss'] / 1024:.0f}",
                    c["digests"],
                    f"{c['alerted']:,}",
                ]
            )
    table(
        rows,
        [
            "scans",
            "cycle",
            "Nexudus requests",
            "wall s",
            "worker CPU s",
            "peak MiB",
            "max RSS MiB",
            "digests posted",
            "rooms alerted",
        ],
    )
    same = [(c["digests"], c["alerted"]) for c in shared] == [(c["digests"], c["alerted"]) for c in each]
    print(
        f"\nSharing: {shared[0]['requests']:,} requests instead of {each[0]['requests']:,} "
        f"({each[0]['requests'] / max(1, shared[0]['requests']):.0f}× fewer); same digests and rooms alerted: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
