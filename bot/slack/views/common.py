"""The small text and block helpers every view shares. Slack's limits live in `bot.slack.limits`
(imported here for the views that used to find them in this module)."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

from bot.services import DELETE_ROLE, EDIT_ROLE
from bot.slack.limits import (  # noqa: F401 - re-exported for views written before limits.py
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_INPUT_LENGTH,
    MAX_LABEL,
    MAX_MESSAGE_BLOCKS,
    MAX_MODAL_BLOCKS,
    MAX_MODAL_TITLE,
    MAX_OPTION_TEXT,
    MAX_SECTION_TEXT,
    MAX_SELECT_OPTIONS,
)

Block = dict[str, Any]


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis, so a long name never breaks a view (never in the
    middle of an escaped `&amp;`, which would leave a bare `&`)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    return re.sub(r"&[a-z]{0,3}$", "", cut) + "…"


def escape(text: str) -> str:
    """Escape user data for mrkdwn: Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = MAX_BUTTON_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def section(text: str, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id
    return block


def fields_section(pairs: list[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [mrkdwn(f"*{label}*\n{value}", MAX_FIELD_TEXT) for label, value in pairs[:10]],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text, MAX_CONTEXT_TEXT)]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str = "",
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id}
    if value:
        element["value"] = clip(value, MAX_BUTTON_VALUE)
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def paging(previous: tuple[str, str | None], following: tuple[str, str | None]) -> list[Block]:
    """Previous / Next buttons (action id, value — None: no such page), as one block, or none."""
    buttons = [
        button(label, action_id, value)
        for label, (action_id, value) in (("◀ Previous", previous), ("Next ▶", following))
        if value
    ]
    return [actions(*buttons, block_id="paging")] if buttons else []


def relative_time(when: datetime | None, now: datetime) -> str:
    """`3 h ago`, `2 d ago`, `just now`, `never` — how staff think about waiting members."""
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = "just now" if not future else "in under a minute"
        return text
    minutes = int(seconds // 60)
    if minutes < 60:
        amount = f"{minutes} min"
    elif minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        amount = f"{hours} h" + (f" {rest} min" if rest and hours < 6 else "")
    else:
        amount = f"{minutes // 1440} d"
    return f"in {amount}" if future else f"{amount} ago"


def absolute_time(when: datetime | None, zone: tzinfo) -> str:
    if when is None:
        return "—"
    return when.astimezone(zone).strftime("%d %b %Y %H:%M")


ROLE_LABELS = {
    EDIT_ROLE: "Edit, Run command, Mark visited",
    DELETE_ROLE: "Delete",
}
"""Buttons a role covers, for the roles whose buttons views leave out once Nexudus refused them."""


def refused_note(refused: frozenset[str]) -> str | None:
    """Why some buttons are missing: the roles Nexudus refused this user, and how to get them back."""
    roles = sorted(r for r in refused if r in ROLE_LABELS)
    if not roles:
        return None
    what = " and ".join(f"the *{r}* role ({ROLE_LABELS[r]})" for r in roles)
    return (
        f"🔒 What needs {what} is hidden: Nexudus refused {'them' if len(roles) > 1 else 'it'} to your account. "
        "Once an administrator grants it, `/chatrooms login` brings it back (or it returns within an hour)."
    )
