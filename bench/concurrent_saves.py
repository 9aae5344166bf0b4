"""Two users save the same chatroom at the same moment (issue 12.2): how often do both see "Saved" while one
change is lost?

Both opened the edit form on the same version; user 1 renames it, user 2 flips Active; both press Save at
the same instant. Nexudus (the sandbox, own process) takes `--delay` s an answer, so the two read → check →
PUT sequences overlap. Run with two threads of one app process, and with two processes built like the web
process and the alert worker (`build_deps` each, one data directory).

    .venv/bin/python bench/concurrent_saves.py [--tries 5] [--delay 0.2] [--app-root DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import ADMIN, ROOT, header, sandbox_process, table

SAVE = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from bot.nexudus.client import ChatRoomChanges
from bot.nexudus.errors import Conflict, NexudusError
from bot.settings import Settings
from bot.wiring import build_deps

url, data, key, user, room, field, start_at = sys.argv[1:8]
settings = Settings(nexudus_base_url=url, store_path=Path(data) / "store.sqlite", store_key=key,
                    nexudus_pacing=False, _env_file=None)
deps = build_deps(settings)
session = deps.services.session("T1", user)
seen = session.get(int(room))
value = "Renamed by " + user if field == "name" else (not seen.active)
time.sleep(max(0.0, float(start_at) - time.time()))
try:
    session.edit(int(room), ChatRoomChanges(**{field: value}), expected_updated_on=seen.updated_on,
                 expected_fingerprint=seen.fingerprint())
    print(json.dumps("saved"))
except Conflict:
    print(json.dumps("conflict"))
except NexudusError as exc:
    print(json.dumps(type(exc).__name__))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--app-root", type=Path, default=None, help="import `bot` from this checkout instead")
    args = parser.parse_args(argv)
    app_root = (args.app_root or ROOT).resolve()
    sys.path.insert(0, str(app_root))
    logging.basicConfig(level=logging.CRITICAL)

    from cryptography.fernet import Fernet

    from bot.nexudus.client import NexudusClient
    from bot.nexudus.credentials import Credentials
    from bot.settings import Settings
    from bot.wiring import build_deps

    results: dict[str, dict[str, int]] = {"threads": {}, "processes": {}}
    with sandbox_process("--delay", str(args.delay), "--no-throttle") as sb, tempfile.TemporaryDirectory() as data:
        key = Fernet.generate_key().decode()
        settings = Settings(
            nexudus_base_url=sb.url,
            store_path=Path(data) / "store.sqlite",
            store_key=key,
            nexudus_pacing=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        deps = build_deps(settings)
        for user in ("U1", "U2"):
            deps.services.login("T1", user, *ADMIN)
        deps.store.close()
        checker = NexudusClient(sb.url, Credentials(*ADMIN), pacer=None)

        def in_threads(room: int) -> list[str]:
            local = build_deps(settings)
            outcomes: list[str] = []
            barrier = threading.Barrier(2)

            def save(user: str, field: str) -> None:
                session = local.services.session("T1", user)
                seen = session.get(room)
                value: Any = f"Renamed by {user}" if field == "name" else not seen.active
                barrier.wait()
                try:
                    session.edit(
                        room,
                        __import__("bot.nexudus.client", fromlist=["x"]).ChatRoomChanges(**{field: value}),
                        expected_updated_on=seen.updated_on,
                        expected_fingerprint=seen.fingerprint(),
                    )
                    outcomes.append("saved")
                except Exception as exc:
                    outcomes.append("conflict" if type(exc).__name__ == "Conflict" else type(exc).__name__)

            threads = [threading.Thread(target=save, args=a) for a in (("U1", "name"), ("U2", "active"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            local.store.close()
            return outcomes

        def in_processes(room: int) -> list[str]:
            start_at = time.time() + 2.5
            env = {**os.environ, "PYTHONPATH": str(app_root)}
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", SAVE, sb.url, data, key, user, str(room), field, str(start_at)],
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                    cwd=app_root,
                )
                for user, field in (("U1", "name"), ("U2", "active"))
            ]
            return [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]

        room = 1_000_001
        for mode, run in (("threads", in_threads), ("processes", in_processes)):
            for _ in range(args.tries):
                before = checker.get(room)
                outcomes = run(room)
                after = checker.get(room)
                renamed = after.name != before.name
                flipped = after.active != before.active
                if outcomes.count("saved") == 2 and not (renamed and flipped):
                    verdict = "both told Saved, one change lost"
                elif outcomes.count("saved") == 1 and outcomes.count("conflict") == 1:
                    verdict = "one saved, the other told of the change"
                else:
                    verdict = "other: " + "+".join(sorted(outcomes))
                results[mode][verdict] = results[mode].get(verdict, 0) + 1
                room += 1

    header("Concurrent saves of one chatroom: two users press Save at the same moment")
    print(f"code: {app_root}; sandbox round trip {args.delay * 1000:.0f} ms; {args.tries} tries each\n")
    verdicts = sorted({v for r in results.values() for v in r})
    table(
        [[v, results["threads"].get(v, 0), results["processes"].get(v, 0)] for v in verdicts],
        ["outcome", "two threads", "two processes"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
