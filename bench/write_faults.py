"""Is what the user is told about a write TRUE when Nexudus fails at random? (issue 12.1)

Creates and edits through the services (what the Slack handlers call) against a sandbox in its own process
answering 30 % of requests with a fault (500, timeout, dropped connection, 409), with `NEXUDUS_RETRIES=0`.
Each outcome — done, or the words `describe` gives the error — is checked against the sandbox's data:
- false "nothing was changed": the user is told nothing changed (or to try again) but the write was applied,
  so a retry makes a duplicate;
- false "done": reported done but not applied.

    .venv/bin/python bench/write_faults.py [--creates 30] [--edits 40] [--fault-rate 0.3] [--app-root DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ADMIN, header, sandbox_process, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=30)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--app-root", type=Path, default=None, help="import `bot` from this checkout instead")
    args = parser.parse_args(argv)
    if args.app_root:
        sys.path.insert(0, str(args.app_root.resolve()))
    logging.basicConfig(level=logging.CRITICAL)

    from cryptography.fernet import Fernet

    import bot
    from bot.nexudus.client import ChatRoomChanges, ClientFactory, NewChatRoom, NexudusClient
    from bot.nexudus.credentials import Credentials
    from bot.nexudus.errors import NexudusError
    from bot.nexudus.pacing import PacerRegistry
    from bot.nexudus.query import ChatRoomFilters
    from bot.settings import Settings
    from bot.slack.errors import describe
    from bot.wiring import build_deps

    code = str(Path(bot.__file__).resolve().parent.parent)
    run = uuid.uuid4().hex[:6]
    rows: dict[str, dict[str, int]] = {"create": {}, "edit": {}}

    def count(op: str, key: str) -> None:
        rows[op][key] = rows[op].get(key, 0) + 1

    with (
        sandbox_process("--fault-rate", str(args.fault_rate), "--no-throttle", "--fault-seed", str(args.seed)) as sb,
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = Settings(
            nexudus_base_url=sb.url,
            store_path=Path(tmp) / "store.sqlite",
            store_key=Fernet.generate_key().decode(),
            nexudus_retries=0,
            nexudus_read_timeout=1,
            nexudus_pacing=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        deps = build_deps(settings, clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False)))
        # Stored directly: the login's own check could meet a fault.
        deps.store.save_credentials("T1", "U1", Credentials(*ADMIN), datetime.now(UTC))
        session = deps.services.session("T1", "U1")
        checker = NexudusClient(sb.url, Credentials(*ADMIN), retries=10, backoff=0, timeout=(5, 5), pacer=None)

        def truth(applied: bool, outcome: str | None) -> str:
            if outcome is None:
                return "told done, applied" if applied else "FALSE done (not applied)"
            if "may or may not" in outcome:
                return "told it may have been applied (true either way)"
            if applied:
                return "FALSE 'nothing changed / try again' (applied)"
            return "told it failed, nothing applied"

        def attempt(call: Any) -> str | None:
            try:
                call()
                return None
            except NexudusError as exc:
                return describe(exc).text

        for i in range(args.creates):
            name = f"bench {run} create {i}"
            outcome = attempt(lambda name=name: session.create(NewChatRoom(business_id=9001, name=name)))
            made = checker.find(ChatRoomFilters(name=name), size=5).total_items
            count("create", truth(made > 0, outcome))
        for i in range(args.edits):
            room = 1_000_001 + i
            name = f"bench {run} edit {i}"
            changes = ChatRoomChanges(name=name)
            outcome = attempt(
                lambda room=room, changes=changes: session.edit(
                    room, changes, expected_updated_on=None, expected_fingerprint=None
                )
            )
            count("edit", truth(checker.get(room).name == name, outcome))

    header("Write truth under faults: what the user is told vs what Nexudus holds")
    print(f"code: {code}; fault rate {args.fault_rate}, NEXUDUS_RETRIES=0, read timeout 1 s\n")
    keys = sorted({k for r in rows.values() for k in r})
    table([[k, rows["create"].get(k, 0), rows["edit"].get(k, 0)] for k in keys], ["outcome", "creates", "edits"])
    false = sum(v for r in rows.values() for k, v in r.items() if k.startswith("FALSE"))
    print(f"\nuntrue outcomes: {false}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
