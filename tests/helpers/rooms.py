"""Chatrooms put straight into the sandbox's database, dated relative to a test's clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.sandbox.db import NewChatRoom
from bot.sandbox.server import SandboxServer


def add_room(
    sandbox: SandboxServer,
    clock: Callable[[], datetime],
    *,
    visited_ago: timedelta | None,
    created_ago: timedelta = timedelta(days=3),
    active: bool = True,
    business: int = 9001,
    name: str = "Room",
) -> int:
    """A chatroom last visited `visited_ago` (None: never) and opened `created_ago`; returns its id."""
    now = clock()
    visit = None if visited_ago is None else now - visited_ago
    return sandbox.db.insert(
        NewChatRoom(
            business_id=business,
            name=name,
            active=active,
            last_agent_visit=visit,
            created_on=now - created_ago,
            updated_on=visit or now - created_ago,
            updated_by="System",
            unique_id=str(uuid.uuid4()),
            system_id='{"crm": "T-1"}',
            users=[7000001, 7000002],
        )
    )
