"""`audit [ID] [user:@person] [since:7d] [page:N]` and `audit channel #ops|off`: arguments, and the command
text of a page (Previous/Next)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from bot.rules import id_problem
from bot.slack.grammar.commands import _channel, _Option, single_id
from bot.slack.grammar.dates import day_bounds, iso, parse_date
from bot.slack.grammar.help import USAGE
from bot.slack.grammar.intents import MAX_PAGE, AuditChannelIntent, AuditIntent, GrammarError
from bot.slack.grammar.lexer import Keys, Token, clean, q

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>")
_RAW_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_OFF = ("off", "none", "stop")


_USER = _Option("user", "user:@alex")
_SINCE = _Option("since", "since:7d")
_KEYS = Keys(
    {
        "user": _USER,
        "by": _USER,
        "who": _USER,
        "since": _SINCE,
        "after": _SINCE,
        "page": _Option("page", "page:2"),
    },
    "an audit option",
    "user, since, page",
)


def parse_audit(args: Sequence[Token], now: datetime, zone: tzinfo) -> AuditIntent | AuditChannelIntent:
    usage = USAGE["audit"]
    if args and clean(args[0].text).strip().lower() == "channel":
        return _parse_channel(args[1:])
    ids = [t for t in args if t.split()[0] is None]
    pairs = [t for t in args if t.split()[0] is not None]
    chatroom_id = single_id("audit", ids) if ids else None
    values: dict[str, object] = {}
    seen: dict[str, str] = {}
    for token in pairs:
        key, raw = token.split()
        assert key is not None
        spec, value = _KEYS.take(key.lower(), raw, token.source, seen, usage)
        if spec.key == "user":
            values["user_id"] = _user(raw.strip(), token.source, usage)
        elif spec.key == "since":
            values["since"] = _since(value, token.source, now, zone, usage)
        else:
            values["page"] = _page(value, token.source, usage)
    return AuditIntent.model_validate({"chatroom_id": chatroom_id, **values})


def _parse_channel(args: Sequence[Token]) -> AuditChannelIntent:
    usage = USAGE["audit"]
    if not args:
        return AuditChannelIntent()
    if len(args) > 1:
        raise GrammarError(f"Give one channel (or `off`); remove {q(args[1].source)}.", usage)
    if clean(args[0].text).strip().lower() in _OFF:
        return AuditChannelIntent(off=True)
    return AuditChannelIntent(channel_id=_channel(args[0], usage))


def _user(value: str, source: str, usage: str) -> str:
    """A Slack user id from the mention Slack sends for `@name` (or a raw `U…` id)."""
    found = _USER_MENTION.fullmatch(value)
    if found is not None:
        return found.group(1)
    if _RAW_USER.fullmatch(value):
        return value
    if value.startswith("<#"):
        raise GrammarError(f"{q(source)} is a channel; `user:` takes a person.", usage)
    if value.startswith("<!"):
        raise GrammarError(f"{q(source)} is a group or a special mention; `user:` takes one person.", usage)
    raise GrammarError(
        f"{q(source)} is not a person I can find: type `@` and pick them from Slack's autocomplete, e.g. `user:@alex`.",
        usage,
    )


def _since(value: str, source: str, now: datetime, zone: tzinfo, usage: str) -> datetime:
    bounds = day_bounds(value, source, now, zone, usage)
    when = bounds[0] if bounds is not None else parse_date(value, source, now, zone, usage)
    if when > now:
        raise GrammarError(f"{q(source)} is in the future; the audit trail only holds what already happened.", usage)
    return when


def _page(value: str, source: str, usage: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise GrammarError(f"{q(source)} is not a page number; use page:1, page:2, …", usage)
    return int(value)


def audit_text(intent: AuditIntent, page: int) -> str:
    """Command text that parses back to `intent` on `page` (Previous/Next). `since` is written as the exact
    time it stood for, so every page of one listing covers the same period."""
    parts = ["audit"]
    if intent.chatroom_id is not None and id_problem(str(intent.chatroom_id)) is None:
        parts.append(str(intent.chatroom_id))
    if intent.user_id is not None:
        parts.append(f"user:<@{intent.user_id}>")
    if intent.since is not None:
        parts.append(f"since:{iso(intent.since)}")
    if page != 1:
        parts.append(f"page:{page}")
    return " ".join(parts)
