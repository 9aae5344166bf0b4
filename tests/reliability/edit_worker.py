"""A separate process that edits one chatroom through the services, as the web process or the alert worker
would (used by test_concurrent_edits.py). Args: base_url lock_file chatroom_id field value start_at|stdin [nolock].
A lock_file that is a redis:// URL means the hosts' shared Redis locks (test_redis_locks.py)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bot.locks import FileLocks, Locks, RedisLocks, ThreadLocks
from bot.nexudus.client import ChatRoomChanges, NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import Conflict
from bot.services import Services, UserSession

ADMIN = Credentials("admin@sandbox.local", "sandbox-admin")


def main(argv: list[str]) -> int:
    base_url, lock_file, chatroom_id, field, value, start_at = argv[:6]
    locks: Locks = ThreadLocks() if "nolock" in argv[6:] else FileLocks(Path(lock_file))
    if lock_file.startswith("redis://") and "nolock" not in argv[6:]:
        locks = RedisLocks(redis.Redis.from_url(lock_file))
    client = NexudusClient(base_url, ADMIN, retries=0, pacer=None)
    services = Services(store=None, clients=lambda c: client, clock=lambda: datetime.now(UTC), locks=locks)  # type: ignore[arg-type]
    session = UserSession(services, client, ADMIN)
    seen = session.get(int(chatroom_id))
    parsed: Any = value == "true" if field == "active" else value
    if start_at == "stdin":  # both read the same version, then save when the parent says go
        print("ready", flush=True)
        sys.stdin.readline()
    else:
        time.sleep(max(0.0, float(start_at) - time.time()))
    try:
        saved = session.edit(
            int(chatroom_id),
            ChatRoomChanges(**{field: parsed}),
            expected_updated_on=seen.updated_on,
            expected_fingerprint=seen.fingerprint(),
        )
    except Conflict:
        print(json.dumps({"outcome": "conflict"}))
        return 0
    print(json.dumps({"outcome": "saved", "differs": list(saved.differs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
