"""The audit trail, as the services record it: who changed what through the app, and what Nexudus did.

Every change is recorded here, by the services that make it (`bot/services.py`, `bot/digests.py`,
`bot/subscriptions.py`), never by a Slack listener, so a slash command, a modal, a button, the App Home and
the console all leave the same entry. An entry says the truth: it is written once Nexudus answered, with
`ok`, `failed` (a command Nexudus ran and answered `WasSuccessful: false`) or `unknown` (the write went out
but no usable answer came back); a write Nexudus refused changed nothing and leaves no entry.

Nothing secret is ever recorded: no password, token or 2FA code (the login entry holds the e-mail only),
and a command parameter whose name says it is a secret is kept as ``[redacted]``.

New entries are handed to `Audit.mirror` (set by the Slack side: `bot/slack/audit_mirror.py`), which must
neither block nor fail the action that made them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.nexudus.errors import CommandFailed, NexudusError
from bot.nexudus.models import ChatRoom, CommandParameter
from bot.store import AuditChannel, AuditEntry, FieldChange, Store

log = logging.getLogger(__name__)

ROOM_FIELDS = ("name", "business_id", "active", "last_agent_visit", "users")
"""The chatroom fields the app writes, as an entry names them (those of `ChatRoomChanges`)."""
SECRET_NAME = re.compile(r"password|passwd|secret|token|totp|\botp\b|2fa|api[_ -]?key", re.IGNORECASE)
REDACTED = "[redacted]"
PRUNE_EVERY = timedelta(hours=1)

Clock = Callable[[], datetime]
Mirror = Callable[[AuditEntry], None]


@dataclass(frozen=True)
class Actor:
    """Who acts: a Slack user of a workspace (team, and its Enterprise Grid organisation if any)."""

    team_id: str
    user_id: str | None
    enterprise_id: str | None = None


def json_value(value: Any) -> Any:
    """A field's value as an entry keeps it: JSON (times as ISO text, members sorted)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return sorted(int(v) for v in value)
    return value


def room_fields(room: ChatRoom | dict[str, Any]) -> dict[str, Any]:
    values = room if isinstance(room, dict) else {name: getattr(room, name, None) for name in ROOM_FIELDS}
    return {name: json_value(values.get(name)) for name in ROOM_FIELDS}


def created(room: ChatRoom | dict[str, Any]) -> list[FieldChange]:
    """What a chatroom was created with (fields left empty are not listed)."""
    return [FieldChange(field=k, after=v) for k, v in room_fields(room).items() if v not in (None, [], "")]


def deleted(room: ChatRoom) -> list[FieldChange]:
    """What was deleted: the record as it was."""
    return [FieldChange(field=k, before=v) for k, v in room_fields(room).items() if v not in (None, [], "")]


def changed(before: ChatRoom | None, after: dict[str, Any]) -> list[FieldChange]:
    """The fields of `after` whose value differs from `before` (None: before unknown), before → after."""
    out = []
    for name, value in after.items():
        new = json_value(value)
        old = json_value(getattr(before, name, None)) if before is not None else None
        if before is None or old != new:
            out.append(FieldChange(field=name, before=old, after=new))
    return out


def parameters(values: Sequence[tuple[CommandParameter, str]]) -> list[tuple[str, str]]:
    """A command's parameters as sent, a secret-named one's value left out."""
    return [(p.name, REDACTED if SECRET_NAME.search(p.name) else str(v)[:500]) for p, v in values]


def outcome_of(exc: BaseException) -> tuple[str, str] | None:
    """(outcome, message) of a write that raised: `failed` for a command Nexudus answered as failed,
    `unknown` when the write may have reached Nexudus; None when Nexudus refused it (nothing changed)."""
    if isinstance(exc, CommandFailed):
        return "failed", str(exc)[:500]
    if isinstance(exc, NexudusError) and getattr(exc, "maybe_applied", False):
        return "unknown", "sent, but no usable answer came back: it may or may not have been applied"
    return None


class Audit:
    """Appends entries to the store and hands each new one to the mirror (if any)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.mirror: Mirror | None = None
        """Where new entries also go (the workspace's audit channel); set by the Slack side."""

    def record(self, actor: Actor | None, action: str, *, mirror: bool = True, **fields: Any) -> AuditEntry | None:
        """Append what `actor` did; the entry, or None without an actor (nobody to name) or if the store failed.

        The change itself is done by then: a store failure is logged, never turned into a failed action."""
        if actor is None:
            return None
        try:
            entry = AuditEntry.model_validate(
                {
                    "at": self.clock(),
                    "team_id": actor.team_id,
                    "enterprise_id": actor.enterprise_id,
                    "user_id": actor.user_id,
                    "action": action,
                    **fields,
                }
            )
            entry = self.store.append_audit(entry)
        except Exception:
            log.exception("could not record an audit entry (%s by %s in %s)", action, actor.user_id, actor.team_id)
            return None
        if mirror and self.mirror is not None:
            try:
                self.mirror(entry)
            except Exception:
                log.exception("could not hand audit entry %s to the mirror", entry.key)
        return entry

    def record_failure(self, actor: Actor | None, action: str, exc: BaseException, **fields: Any) -> None:
        """A write that raised: recorded if Nexudus may have applied it (or ran a failing command)."""
        found = outcome_of(exc)
        if found is not None:
            self.record(actor, action, outcome=found[0], message=found[1], **fields)

    def set_channel(
        self, actor: Actor, channel_id: str | None, announce: Callable[[str], None] | None = None
    ) -> AuditChannel | None:
        """Mirror the actor's workspace's new entries to `channel_id` (None: stop); the setting it replaced.

        `announce(channel_id)` posts there first: if it raises (the app cannot post there), nothing is set."""
        if channel_id is not None and announce is not None:
            announce(channel_id)
        setting = None
        if channel_id is not None:
            setting = AuditChannel(
                team_id=actor.team_id,
                enterprise_id=actor.enterprise_id,
                channel_id=channel_id,
                set_by=actor.user_id or "",
                set_at=self.clock(),
            )
        old = self.store.set_audit_channel(actor.team_id, setting)
        if channel_id is not None or old is not None:
            self.record(actor, "audit_channel", channel_id=channel_id, mirror=False)
        return old

    def entries(
        self,
        team_id: str,
        *,
        chatroom_id: int | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[AuditEntry], bool]:
        """A workspace's entries, newest first, filtered (a chatroom, a person, since when), and whether more."""

        def match(entry: AuditEntry) -> bool:
            if chatroom_id is not None and chatroom_id not in entry.chatroom_ids:
                return False
            return user_id is None or entry.user_id == user_id

        return self.store.audit_entries(team_id, since=since, match=match, offset=offset, limit=limit)

    def prune(self, retention_days: int, now: datetime | None = None) -> int:
        """Retention: at most once per `PRUNE_EVERY` (whichever process claims it), delete entries older
        than `retention_days`; how many were deleted (0 when not due)."""
        now = now or self.clock()
        if retention_days <= 0 or not self.store.claim_audit_pruning(now, PRUNE_EVERY):
            return 0
        removed = self.store.prune_audit(now - timedelta(days=retention_days))
        if removed:
            log.info("audit trail: %d entries older than %d days pruned", removed, retention_days)
        return removed


def ids_of(chatroom_ids: Iterable[int]) -> list[int]:
    return [int(i) for i in chatroom_ids]
