"""The audit trail's records (pure data, no storage): one `AuditEntry` per change made through the app, and
the workspace's `AuditChannel` (where new entries are mirrored).

Entries live in the store's append-only ``audit`` table under ``TEAM:TIME:NNNNNN`` keys — the team first,
then the UTC time with a fixed width (so byte order is time order), then a number counting the entries of
that microsecond (so they keep the order they were recorded in, and never collide) — so one workspace's
entries of a period are one key-range read, newest first from the end of the range, and never another
workspace's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AuditAction = Literal[
    "create",
    "edit",
    "delete",
    "run",
    "visited",
    "login",
    "logout",
    "subscribe",
    "change",
    "unsubscribe",
    "snooze",
    "pause",
    "resume",
    "audit_channel",
]
Outcome = Literal["ok", "failed", "unknown"]
"""`ok`: Nexudus applied it. `failed`: a command Nexudus ran and answered `WasSuccessful: false`.
`unknown`: the write was sent but no usable answer came back: it may or may not have been applied."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class FieldChange(BaseModel):
    """One field of a chatroom: its value before and after (JSON values: text, number, bool, list, ISO time)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    field: str
    before: Any = None
    after: Any = None


class AuditEntry(BaseModel):
    """Who (a Slack user; None: the app itself) did what, when, in which workspace — never a secret."""

    model_config = ConfigDict(extra="ignore")

    key: str = ""
    """Set by the store when the entry is appended."""
    at: datetime
    team_id: str
    enterprise_id: str | None = None
    user_id: str | None = None
    action: AuditAction
    outcome: Outcome = "ok"
    message: str | None = None
    """Nexudus' words for a failed command, or why the outcome is unknown."""
    chatroom_ids: list[int] = Field(default_factory=list)
    name: str | None = None
    """The chatroom's name at the time (create, edit, delete, visited)."""
    changes: list[FieldChange] = Field(default_factory=list)
    """Edit and mark visited: only the fields that changed, before → after. Create: what it was created
    with (before None). Delete: what was deleted (after None)."""
    command: str | None = None
    parameters: list[tuple[str, str]] = Field(default_factory=list)
    """A command's parameters, name and value as sent (a secret-named one is never kept)."""
    email: str | None = None
    """Login and logout: the Nexudus account (an e-mail, never a password, token or code)."""
    subscription_id: str | None = None
    channel_id: str | None = None
    until: datetime | None = None
    """Snooze: until when."""
    detail: str | None = None
    """Subscriptions: their options in words (threshold, business…); pauses: why."""


class AuditChannel(BaseModel):
    """Where a workspace's new audit entries are mirrored, and who set it."""

    model_config = ConfigDict(extra="ignore")

    team_id: str
    enterprise_id: str | None = None
    channel_id: str
    set_by: str
    set_at: datetime
    failing: str | None = None
    """Slack's error while the channel refuses the mirror (the person who set it was told once)."""


def time_key(at: datetime) -> str:
    """The time part of a key: UTC, fixed width, so that byte order is time order."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime(_TIME_FORMAT)


def audit_channel_key(team_id: str) -> str:
    """The ``meta`` record holding a workspace's audit channel."""
    return f"audit_channel:{team_id}"
