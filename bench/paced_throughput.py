"""A burst of 500 reads and 100 writes from one account through the real adapter and its pacer, against a
sandbox enforcing Nexudus' limits: how many requests were refused as throttled (409), and was any write lost?

Nexudus documents ~1 request per 100 ms, 120 requests/min and 60 writes/min per account, so the real burst
takes ~5 minutes. By default both sides (the sandbox's throttle AND the client's pacer) are scaled by the same
factor 10: 10 ms minimum interval, 1200 requests/min, 600 writes/min. At that scale the minimum interval is what
binds (600 requests fit in a minute); `--real-limits` runs the true figures, where the per-minute window binds.

    .venv/bin/python bench/paced_throughput.py [--real-limits] [--threads 4]
"""

from __future__ import annotations

import argparse
import logging
import queue
import threading
import time
from dataclasses import dataclass

from _common import ADMIN, header, table

from bot.nexudus.client import ChatRoomChanges, ClientFactory
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError, RateLimited
from bot.nexudus.pacing import Limits, PacerRegistry
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings

FIRST_ID = 1_000_001
READS = 400  # plus one read inside each edit (read → merge → PUT) = 500 reads
EDITS = 100


@dataclass(frozen=True)
class Op:
    kind: str  # find | get | edit
    arg: int


def plan() -> list[Op]:
    ops: list[Op] = []
    edits = 0
    for i in range(READS):
        ops.append(Op("find", 1 + i % 8) if i % 2 else Op("get", FIRST_ID + i % 200))
        if i % 4 == 3 and edits < EDITS:
            ops.append(Op("edit", FIRST_ID + edits))
            edits += 1
    return ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-limits", action="store_true", help="Nexudus' real limits (takes ~5 minutes)")
    parser.add_argument("--threads", type=int, default=4, help="callers sharing the account (default 4)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)

    if args.real_limits:
        limits, config = Limits(), SandboxConfig(throttle=True)
    else:
        limits = Limits(min_interval=0.01, per_minute=1200, writes_per_minute=600, margin=0.01)  # margin ÷ 10 too
        config = SandboxConfig(throttle=True, min_interval=0.01, per_minute=1200, writes_per_minute=600)
    sandbox = SandboxServer(config=config, chatrooms=200).start()
    try:
        settings = Settings(nexudus_base_url=sandbox.url, _env_file=None)  # type: ignore[call-arg]
        factory = ClientFactory.from_settings(settings, PacerRegistry(limits))
        client = factory(Credentials(*ADMIN))
        before = {FIRST_ID + i: sandbox.db.get(FIRST_ID + i) for i in range(EDITS)}
        ops = plan()
        work: queue.Queue[Op] = queue.Queue()
        for op in ops:
            work.put(op)
        failures: list[tuple[Op, str]] = []
        rate_limited = 0
        lock = threading.Lock()

        def worker() -> None:
            nonlocal rate_limited
            while True:
                try:
                    op = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    if op.kind == "find":
                        client.find(page=op.arg, size=25)
                    elif op.kind == "get":
                        client.get(op.arg)
                    else:
                        client.edit(op.arg, ChatRoomChanges(name=f"paced write {op.arg}"))
                except NexudusError as exc:
                    with lock:
                        failures.append((op, str(exc)))
                        rate_limited += isinstance(exc, RateLimited)

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started

        lost, damaged = [], []
        for room_id, old in before.items():
            now = sandbox.db.get(room_id)
            assert old is not None
            if now is None or now.name != f"paced write {room_id}":
                lost.append(room_id)
            elif (now.users, now.active, now.business_id, now.last_agent_visit, now.system_id) != (
                old.users,
                old.active,
                old.business_id,
                old.last_agent_visit,
                old.system_id,
            ):
                damaged.append(room_id)
        stats = sandbox.stats
        sent = stats.total
        refused = stats.statuses.get(409, 0)
        pacer = factory.pacers.for_account(ADMIN[0])
        waited = pacer.waited if pacer else 0.0
    finally:
        sandbox.stop()

    n = len(ops) + EDITS  # each edit is a GET and a PUT
    floor_interval = n * (limits.min_interval + limits.margin)
    windows = max(0, (n - 1) // limits.per_minute) * limits.window
    header("Paced throughput: one account, throttle on")
    scale = "real Nexudus limits" if args.real_limits else "limits scaled ×10 on both sides"
    print(
        f"{scale}: min interval {limits.min_interval * 1000:g} ms, {limits.per_minute}/min, "
        f"{limits.writes_per_minute} writes/min; {args.threads} threads sharing one client\n"
    )
    table(
        [
            ["operations (reads + writes)", f"{n - EDITS} + {EDITS} = {n}"],
            ["requests the sandbox received", sent],
            ["refused as throttled (409)", refused],
            ["RateLimited errors surfaced to callers", rate_limited],
            ["other failures", len(failures) - rate_limited],
            ["writes verified in the sandbox DB", f"{EDITS - len(lost)} / {EDITS}"],
            ["writes that changed another field", len(damaged)],
            ["wall time", f"{elapsed:.1f} s"],
            ["pacing floor (interval + margin, windows)", f"{max(floor_interval, windows):.1f} s"],
            ["effective rate", f"{n / elapsed * 60:.0f} req/min"],
            ["time spent waiting in the pacer (all threads)", f"{waited:.1f} s"],
        ],
        ["measure", "value"],
    )
    for op, text in failures[:5]:
        print(f"  failed {op}: {text}")
    return 0 if not lost and not damaged else 1


if __name__ == "__main__":
    raise SystemExit(main())
