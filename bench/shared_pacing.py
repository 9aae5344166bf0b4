"""The web process and the alert worker pacing the same Nexudus account (issue 12.14).

Two processes, each built like the app (`ClientFactory.from_settings`, one data directory), read as fast as
their pacer lets them with `NEXUDUS_RETRIES=0`, against a sandbox (own process) enforcing Nexudus' real
limits. Counts the requests Nexudus refused as throttled (409): with a pacer per process the two together
break the 100 ms spacing; with the shared pacer they queue together.

    .venv/bin/python bench/shared_pacing.py [--requests 60] [--app-root DIR]
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

READS = """
import json, sys, time
from pathlib import Path
from bot.nexudus.client import ClientFactory
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError, RateLimited
from bot.settings import Settings

url, data, n, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
settings = Settings(nexudus_base_url=url, store_path=Path(data) / "store.sqlite", nexudus_retries=0,
                    _env_file=None)
client = ClientFactory.from_settings(settings)(Credentials("admin@sandbox.local", "sandbox-admin"))
time.sleep(max(0.0, start_at - time.time()))
refused = other = 0
for i in range(n):
    try:
        client.find(page=1, size=1)
    except RateLimited:
        refused += 1
    except NexudusError:
        other += 1
print(json.dumps({"refused": refused, "other": other, "end": time.time()}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="reads per process")
    parser.add_argument("--app-root", type=Path, default=None, help="import `bot` from this checkout instead")
    args = parser.parse_args(argv)
    app_root = (args.app_root or ROOT).resolve()
    with sandbox_process() as sb, tempfile.TemporaryDirectory() as data:
        start_at = time.time() + 2.0
        env = {**os.environ, "PYTHONPATH": str(app_root)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", READS, sb.url, data, str(args.requests), str(start_at)],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                cwd=app_root,
            )
            for _ in ("web", "alerts")
        ]
        outs = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    refused = sum(o["refused"] for o in outs)
    other = sum(o["other"] for o in outs)
    wall = max(o["end"] for o in outs) - start_at
    total = 2 * args.requests
    header("Two processes, one Nexudus account, real limits")
    print(f"code: {app_root}; 2 processes × {args.requests} reads, NEXUDUS_RETRIES=0\n")
    table(
        [
            ["requests", total],
            ["refused as throttled (409)", f"{refused} ({refused / total:.0%})"],
            ["other failures", other],
            ["wall time", f"{wall:.1f} s"],
        ],
        ["measure", "value"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
