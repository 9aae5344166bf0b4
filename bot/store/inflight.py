"""Acknowledged work in flight, kept outside the process (``inflight``), and each process's heartbeat
(``processes``): what lets a surviving process tell a user the outcome of a write whose process died.

An entry (`InFlight`) is written when the lazy half of a write starts — before anything is sent to Nexudus —
(or, for work still waiting its turn, soon after its ack: kind ``queued``) and deleted once its outcome has
reached the user. It names the owner (`process_id`: host, pid and a nonce
drawn at start, so a restarted process with the same pid is another owner), when the work started, what it
is (a kind, chatrooms, the fields an edit sets, a create's name and business, a command key) and where to
answer (`answer`: opaque here). Everything but the owner, the time and the attempts is encrypted in the
store, like the logins: a ``response_url`` is a bearer URL.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.store.audit import time_key

WorkKind = Literal["queued", "request", "edit", "visited", "create", "delete", "run", "snooze"]
"""`queued`: acknowledged but not started yet (waiting its turn in its user's lane, or behind a burst's acks):
nothing of it has run, so nothing was sent to Nexudus for it — when it starts, its entry becomes its `request`.
`request`: any other request a person is waiting on (a lookup's placeholder, a form's loading view) — until a
write begins in it, when its entry becomes that write's."""

SEALED_FIELDS = (
    "team_id",
    "enterprise_id",
    "user_id",
    "kind",
    "chatroom_ids",
    "changes",
    "name",
    "business_id",
    "command",
    "subscription_id",
    "what",
    "again",
    "answer",
)
"""What is encrypted in an entry's row (the rest — key, owner, times, attempts — the sweep reads in clear)."""


class InFlight(BaseModel):
    """One acknowledged write whose outcome has not reached its user yet."""

    # A field this version does not know was written by a newer one (during a rolling deploy): ignored.
    model_config = ConfigDict(extra="ignore")

    key: str = ""
    owner: str
    started_at: datetime
    attempts: int = 0
    """How many times a sweep claimed it (it gives up after `MAX_ATTEMPTS`)."""
    team_id: str
    enterprise_id: str | None = None
    user_id: str
    kind: WorkKind
    chatroom_ids: list[int] = Field(default_factory=list)
    changes: dict[str, Any] = Field(default_factory=dict)
    """An edit's fields as written (JSON), a create's draft: what a later read checks."""
    name: str | None = None
    business_id: int | None = None
    command: str | None = None
    """A `run`'s command key; a `queued` slash command's text (after ``/chatrooms``), for its "Run it again"."""
    subscription_id: str | None = None
    """A snooze's alert subscription (its alert record holds the snooze)."""
    what: str | None = None
    """What a `request` is, in the person's words (the slash command typed, the form's title)."""
    again: str | None = None
    """How to do it again, in the person's words (a `queued` entry's: it never started)."""
    answer: dict[str, Any] = Field(default_factory=dict)
    """Where to answer (the Slack side's: modal, response_url, placeholder); opaque to the store."""


MAX_ATTEMPTS = 3
"""Claims of one entry before the sweep gives up on it (Slack or Nexudus kept failing while telling)."""


def new_process_id() -> str:
    """This process's owner id: host, pid and a start nonce (a restart with the same pid is another owner)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def inflight_key(started_at: datetime) -> str:
    """``time:random``: the oldest work first in key order."""
    return f"{time_key(started_at)}:{secrets.token_hex(6)}"
