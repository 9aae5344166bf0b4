"""The audit trail in Slack: a page of entries (`/chatrooms audit`) and one entry mirrored to a channel.

Pure functions of the entries: every name, e-mail, command key, parameter and Nexudus message is escaped;
times are Slack date tokens, so each reader sees their own time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.slack import ids
from bot.slack.views.common import Block, clip, context, escape, paging, section
from bot.store import AuditEntry, FieldChange

FIELD_LABELS = {
    "name": "Name",
    "business_id": "Business",
    "active": "Active",
    "last_agent_visit": "Last agent visit",
    "users": "Members",
}
MAX_VALUE = 120
"""Characters of one value shown (a long name or member list is cut, the entry keeps it whole)."""


def date_token(when: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: each reader sees it in their own zone; the fallback is UTC."""
    return f"<!date^{int(when.timestamp())}^{style}|{when:%Y-%m-%d %H:%M} UTC>"


def _when_value(raw: str) -> str:
    try:
        return date_token(datetime.fromisoformat(raw))
    except ValueError:
        return f"`{escape(clip(raw, MAX_VALUE))}`"


def value_text(field: str, value: Any) -> str:
    """One field's value in words, escaped."""
    if value is None or value == []:
        return "never" if field == "last_agent_visit" else "_empty_"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "last_agent_visit" and isinstance(value, str):
        return _when_value(value)
    if isinstance(value, list):
        return escape(clip(", ".join(str(v) for v in value), MAX_VALUE))
    if isinstance(value, str):
        return f"“{escape(clip(value, MAX_VALUE))}”"
    return escape(clip(str(value), MAX_VALUE))


def change_text(change: FieldChange, *, before_known: bool = True) -> str:
    """`Name “Desk” → “Front desk”`; `Name → “Front desk”` when the value before is not known (a write
    whose outcome is unknown failed before the record could be read)."""
    label = FIELD_LABELS.get(change.field, escape(change.field))
    before = f" {value_text(change.field, change.before)}" if before_known else ""
    return f"{label}{before} → {value_text(change.field, change.after)}"


def _values(changes: list[FieldChange], side: str) -> str:
    shown = [
        f"{FIELD_LABELS.get(c.field, escape(c.field))} {value_text(c.field, getattr(c, side))}"
        for c in changes
        if c.field != "name"
    ]
    return f" ({'; '.join(shown)})" if shown else ""


def room_text(entry: AuditEntry) -> str:
    """The chatroom(s) an entry is about: `*Name* #id`, or the ids."""
    if not entry.chatroom_ids:
        return ""
    rooms = ", ".join(f"`#{i}`" for i in entry.chatroom_ids[:10])
    if len(entry.chatroom_ids) > 10:
        rooms += f" and {len(entry.chatroom_ids) - 10} more"
    if entry.name and len(entry.chatroom_ids) == 1:
        return f"*{escape(clip(entry.name, MAX_VALUE))}* {rooms}"
    return rooms


def _outcome(entry: AuditEntry) -> str:
    if entry.outcome == "unknown":
        return "❓ *outcome unknown* (no usable answer from Nexudus: it may or may not have been applied) "
    if entry.outcome == "failed":
        return "❌ "
    return ""


def _edit_text(entry: AuditEntry, room: str) -> str:
    known = entry.outcome != "unknown"
    changes = "; ".join(change_text(c, before_known=known) for c in entry.changes)
    return f"edited {room}: {changes or 'nothing changed'}"


def _visited_text(entry: AuditEntry, room: str) -> str:
    visits = [change_text(c, before_known=entry.outcome != "unknown") for c in entry.changes]
    return f"marked {room} visited{f': {visits[0]}' if visits else ''}"


def _login_text(entry: AuditEntry, room: str) -> str:
    if entry.action == "login":
        return f"logged in as *{escape(entry.email)}*" if entry.email else "logged in"
    return f"logged out (*{escape(entry.email)}*)" if entry.email else "logged out"


def _subscription_text(entry: AuditEntry, room: str) -> str:
    where = f"<#{entry.channel_id}>" if entry.channel_id else "a channel"
    sub = f"alerts `{escape(entry.subscription_id or '?')}`"
    options = f" ({escape(entry.detail)})" if entry.detail else ""
    if entry.action == "subscribe":
        return f"subscribed {where} to {sub}{options}"
    return f"unsubscribed {where} from {sub}{options}"


def _change_text(entry: AuditEntry, room: str) -> str:
    where = f" in <#{entry.channel_id}>" if entry.channel_id else ""
    changes = "; ".join(
        f"`{escape(c.field)}:` {escape(str(c.before)) if c.before is not None else 'off'} → "
        f"{escape(str(c.after)) if c.after is not None else 'off'}"
        for c in entry.changes
    )
    return f"changed alerts `{escape(entry.subscription_id or '?')}`{where}: {changes}"


def _snooze_text(entry: AuditEntry, room: str) -> str:
    until = f" until {date_token(entry.until, '{time}')}" if entry.until else ""
    where = f" in <#{entry.channel_id}>" if entry.channel_id else ""
    return f"snoozed {room}{where}{until}"


def _pause_text(entry: AuditEntry, room: str) -> str:
    why = f": {escape(entry.detail)}" if entry.detail else ""
    return f"{'paused' if entry.action == 'pause' else 'resumed'} alerts `{escape(entry.subscription_id or '?')}`{why}"


def _channel_text(entry: AuditEntry, room: str) -> str:
    if entry.channel_id:
        return f"set the audit channel to <#{entry.channel_id}>"
    return "stopped mirroring the audit trail to a channel"


_WHAT: dict[str, Callable[[AuditEntry, str], str]] = {
    "create": lambda entry, room: f"created {room}{_values(entry.changes, 'after')}",
    "edit": _edit_text,
    "visited": _visited_text,
    "delete": lambda entry, room: f"deleted {room}{_values(entry.changes, 'before')}",
    "run": lambda entry, room: _run_text(entry, room),
    "login": _login_text,
    "logout": _login_text,
    "subscribe": _subscription_text,
    "unsubscribe": _subscription_text,
    "change": _change_text,
    "snooze": _snooze_text,
    "pause": _pause_text,
    "resume": _pause_text,
    "audit_channel": _channel_text,
}


def what_text(entry: AuditEntry) -> str:
    """What the entry says was done, in words (without who and when); edits as before → after."""
    words = _WHAT.get(entry.action)
    return words(entry, room_text(entry)) if words is not None else escape(entry.action)


def _run_text(entry: AuditEntry, room: str) -> str:
    on = f" on {room}" if room else " with no chatroom chosen"
    params = ", ".join(f"{escape(clip(n, 40))}={escape(clip(v, 60))}" for n, v in entry.parameters[:10])
    text = f"ran `{escape(entry.command or '?')}`{on}{f' with {params}' if params else ''}"
    if entry.outcome == "failed":
        said = f": {escape(clip(entry.message or '', 200))}" if entry.message else ""
        return f"{text} — Nexudus said it did not succeed{said}"
    return text


def who_text(entry: AuditEntry) -> str:
    return f"<@{entry.user_id}>" if entry.user_id else "the app"


def entry_line(entry: AuditEntry) -> str:
    """One line: when · who · what (with the chatroom), edits as before → after."""
    return f"{date_token(entry.at)} · {who_text(entry)} {_outcome(entry)}{what_text(entry)}"


def render_audit(
    entries: list[AuditEntry],
    *,
    summary: str,
    offset: int,
    previous_value: str | None,
    next_value: str | None,
) -> dict[str, Any]:
    """A page of the audit trail, newest first, with Previous/Next that keep the filters."""
    title = f"*Audit trail* · {summary}" if summary else "*Audit trail*"
    blocks: list[Block] = [section(title)]
    if not entries:
        text = "Nothing recorded" + (" on this page." if offset else " matches. Try fewer filters, or `since:30d`.")
        blocks.append(context(text))
        blocks.extend(paging((ids.AUDIT_PREVIOUS, previous_value), (ids.AUDIT_NEXT, None)))
        return {"text": f"Audit trail: {text}", "blocks": blocks}
    blocks.extend(section(entry_line(entry)) for entry in entries)
    count = f"{offset + 1}–{offset + len(entries)}, newest first"
    blocks.append(context(count))
    blocks.extend(paging((ids.AUDIT_PREVIOUS, previous_value), (ids.AUDIT_NEXT, next_value)))
    return {"text": f"Audit trail {count}", "blocks": blocks}


def render_mirror(entry: AuditEntry) -> dict[str, Any]:
    """One new entry, as the audit channel gets it: one short message."""
    line = f"📜 {who_text(entry)} {_outcome(entry)}{what_text(entry)}"
    return {"text": clip(line, 3000), "blocks": [section(line), context(date_token(entry.at))]}


def audit_filters_text(chatroom_id: int | None, user_id: str | None, since: datetime | None) -> str:
    """The header of a listing: what it is limited to."""
    parts = []
    if chatroom_id is not None:
        parts.append(f"chatroom `#{chatroom_id}`")
    if user_id is not None:
        parts.append(f"by <@{user_id}>")
    if since is not None:
        parts.append(f"since {date_token(since)}")
    return " · ".join(parts) or "this workspace"


def channel_set_notice(channel_id: str, user_id: str) -> dict[str, Any]:
    """Posted in the audit channel when it is set: it also proves the app can post there."""
    text = (
        f"📜 <@{user_id}> set this channel to receive this workspace's audit trail: each change made through "
        "the chatrooms app (create, edit, delete, commands, visits, alerts, logins) will be posted here. "
        "`/chatrooms audit channel off` stops it."
    )
    return {"text": text, "blocks": [section(text)]}
