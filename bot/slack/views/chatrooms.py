"""Chatroom lists and cards as Block Kit messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from bot.nexudus.models import ChatRoom, Page
from bot.services import DELETE_ROLE, EDIT_ROLE
from bot.slack import ids
from bot.slack.limits import MAX_MESSAGE_BLOCKS
from bot.slack.views.common import (
    Block,
    absolute_time,
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    fields_section,
    mrkdwn,
    paging,
    refused_note,
    relative_time,
    section,
)

if TYPE_CHECKING:
    from bot.services import Saved

MAX_LIST_ROWS = 40  # one block a row, leaving room for the header, count and paging under 50 blocks
MAX_CARDS_PER_MESSAGE = 10  # a card is up to 4 blocks


@dataclass(frozen=True)
class DeletedCard:
    chatroom_id: int
    name: str
    by: str
    """The Slack user who deleted it."""


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    """A message payload; `text` is the notification fallback."""
    assert len(blocks) <= MAX_MESSAGE_BLOCKS, "views must page before Slack's 50-block limit"
    return {"text": clip(text, 3000), "blocks": blocks}


def status_badge(room: ChatRoom) -> str:
    if room.active is None:
        return "⚪ Unknown"
    return "🟢 Active" if room.active else "⚫ Inactive"


def business_label(room: ChatRoom, *, labelled: bool = False) -> str:
    """`Harbour Works (9001)`, or `Business 9001` in running text; just `9001` where a label
    already says "Business" (a card field)."""
    if room.business_name:
        return f"{escape(room.business_name)} ({room.business})"
    if room.business is None:
        return "none" if labelled else "No business"
    return str(room.business) if labelled else f"Business {room.business}"


def row_menu(room: ChatRoom, refused: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An overflow menu per list row: the same actions as a card, without the card's height."""
    options = [("Show", "show")]
    if EDIT_ROLE not in refused:
        options += [("Edit", "edit"), ("Run command", "run")]
    if DELETE_ROLE not in refused:
        options.append(("Delete", "delete"))
    return {
        "type": "overflow",
        "action_id": ids.ROW_MENU,
        "options": [
            {"text": {"type": "plain_text", "text": label}, "value": f"{verb}:{room.id}"} for label, verb in options
        ],
    }


def row_block_id(chatroom_id: int, page_text: str | None) -> str:
    """A list row's block id: `row.ID`, with the page's command text after `|` when it fits (255)."""
    plain_id = f"row.{int(chatroom_id)}"
    with_page = f"{plain_id}|{page_text}" if page_text else plain_id
    return with_page if len(with_page) <= 255 else plain_id


def page_of_row(block_id: object) -> str | None:
    """The command text of the list page a row menu was on (see `row_block_id`), if it carries it."""
    text = str(block_id or "")
    return text.partition("|")[2] or None if text.startswith("row.") else None


def render_list(
    page: Page,
    *,
    summary: str,
    previous_value: str | None,
    next_value: str | None,
    now: datetime,
    refused: frozenset[str] = frozenset(),
    current_value: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """A page of chatrooms: a header with the filters, one row each, a count, Previous/Next.

    `refused`: roles Nexudus refused this user; the row menus leave out what needs them, and say why.
    `current_value`: this page's command text, kept in each row's block id so a Delete from a row menu
    can redraw the page afterwards. `note`: what just happened (e.g. a deletion), above the rows.
    """
    rows = page.records[:MAX_LIST_ROWS]
    title = f"*Chatrooms* · {escape(summary)}" if summary else "*Chatrooms*"
    blocks: list[Block] = [section(title)]
    if note:
        blocks.append(context(note))
    if not rows and page.total_items > 0:
        last_page = max(page.total_pages, 1)
        text = f"Page {page.current_page} is past the last page ({last_page}) of {page.total_items} chatrooms."
        blocks.append(context(text))
        if previous_value:
            blocks.append(actions(button("◀ Previous", ids.LIST_PREVIOUS, previous_value), block_id="paging"))
        return message(text, blocks)
    if not rows:
        blocks.append(context("No chatroom matches. Try fewer filters, or `/chatrooms help list`."))
        return message("No chatroom matches.", blocks)
    for room in rows:
        line = (
            f"*{escape(clip(room.display_name, 150))}*  `#{room.id}`\n"
            f"{status_badge(room)} · {business_label(room)} · last agent visit "
            f"{relative_time(room.last_agent_visit, now)}"
        )
        blocks.append(section(line, accessory=row_menu(room, refused), block_id=row_block_id(room.id, current_value)))
    first = page.first_item or ((page.current_page - 1) * page.page_size + 1)
    last = first + len(rows) - 1
    count = f"{first}–{last} of {page.total_items}"
    if page.total_pages > 1:
        count += f" · page {page.current_page} of {page.total_pages}"
    if len(page.records) > len(rows):
        count += f" · showing the first {len(rows)} of this page (Slack shows at most {MAX_LIST_ROWS} rows)"
    note = refused_note(refused)
    blocks.append(context(f"{count}\n{note}" if note else count))
    blocks.extend(paging((ids.LIST_PREVIOUS, previous_value), (ids.LIST_NEXT, next_value)))
    return message(f"Chatrooms {count}", blocks)


def delete_value(chatroom_id: int, card_ids: Sequence[int] = ()) -> str:
    """A card's Delete button: `ID`, or `ID:ID1,ID2…` naming the message's cards, so it can be redrawn after."""
    others = [int(i) for i in card_ids][:MAX_CARDS_PER_MESSAGE]
    return f"{int(chatroom_id)}:{','.join(map(str, others))}" if others else str(int(chatroom_id))


def deleted_card_blocks(chatroom_id: int, name: str, by: str) -> list[Block]:
    """What a card becomes once its chatroom is deleted: struck through, who did it, and no buttons."""
    label = f"~{escape(clip(name, 200))}~  `#{chatroom_id}`" if name else f"~`#{chatroom_id}`~"
    return [section(f"{label}\n🗑️ Deleted by <@{by}> just now. Its buttons are gone with it.")]


def render_after_delete(
    card_ids: Sequence[int],
    rooms: Sequence[ChatRoom],
    deleted: DeletedCard,
    now: datetime,
    zone: tzinfo,
    refused: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A card message redrawn after one of its chatrooms was deleted: the others current, that one a tombstone."""
    found = {room.id: room for room in rooms}
    blocks: list[Block] = []
    for chatroom_id in card_ids:
        if blocks:
            blocks.append(divider())
        if chatroom_id == deleted.chatroom_id:
            blocks.extend(deleted_card_blocks(deleted.chatroom_id, deleted.name, deleted.by))
        elif chatroom_id in found:
            blocks.extend(card_blocks(found[chatroom_id], now, zone, card_ids, refused))
        else:
            blocks.append(section(f"`#{chatroom_id}` is no longer in Nexudus."))
    return message(f"Chatroom {deleted.chatroom_id} was deleted", blocks)


def card_blocks(
    room: ChatRoom, now: datetime, zone: tzinfo, card_ids: Sequence[int] = (), refused: frozenset[str] = frozenset()
) -> list[Block]:
    """One chatroom: its fields and the buttons to act on it (`card_ids`: every card of its message;
    `refused`: roles Nexudus refused this user, whose buttons are left out)."""
    visit = room.last_agent_visit
    users = room.users
    pairs = [
        ("Status", status_badge(room)),
        ("Business", business_label(room, labelled=True)),
        ("Last agent visit", f"{relative_time(visit, now)}\n{absolute_time(visit, zone)}" if visit else "never"),
        ("Members", "—" if users is None else (", ".join(str(u) for u in users[:20]) or "none")),
    ]
    if room.updated_on:
        who = f" by {escape(room.updated_by)}" if room.updated_by else ""
        pairs.append(("Updated", f"{relative_time(room.updated_on, now)}{who}"))
    buttons = []
    if EDIT_ROLE not in refused:
        buttons += [button("Edit", ids.EDIT, str(room.id)), button("Run command", ids.RUN, str(room.id))]
    if DELETE_ROLE not in refused:
        buttons.append(button("Delete", ids.DELETE, delete_value(room.id, card_ids or [room.id]), style="danger"))
    blocks: list[Block] = [section(f"*{escape(clip(room.display_name, 200))}*  `#{room.id}`"), fields_section(pairs)]
    if buttons:
        blocks.append(actions(*buttons, block_id=f"card:{room.id}"))
    return blocks


def render_cards(
    rooms: Sequence[ChatRoom],
    missing: Sequence[int],
    now: datetime,
    zone: tzinfo,
    refused: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One message per ten cards, so any number of ids stays within Slack's block limit."""
    messages: list[dict[str, Any]] = []
    note = refused_note(refused)
    for start in range(0, len(rooms), MAX_CARDS_PER_MESSAGE):
        blocks: list[Block] = []
        batch = rooms[start : start + MAX_CARDS_PER_MESSAGE]
        for room in batch:
            if blocks:
                blocks.append(divider())
            blocks.extend(card_blocks(room, now, zone, [r.id for r in batch], refused))
        if note:
            blocks.append(context(note))
        names = ", ".join(r.display_name for r in rooms[start : start + MAX_CARDS_PER_MESSAGE])
        messages.append(message(escape(clip(names, 300)), blocks))
    if missing:
        text = "No chatroom with id " + ", ".join(f"`{i}`" for i in missing[:50]) + "."
        messages.append(message(text, [section(text)]))
    return messages


def render_compact(rooms: Sequence[ChatRoom], now: datetime) -> dict[str, Any]:
    """Chatrooms beyond the cards, one line each: a response_url takes only five messages."""
    lines = [
        f"`#{room.id}` {escape(clip(room.display_name, 80))} · {status_badge(room)} · visited "
        f"{relative_time(room.last_agent_visit, now)}"
        for room in rooms
    ]
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks = blocks[: MAX_MESSAGE_BLOCKS - 1]
    blocks.append(context(f"{len(rooms)} more · `/chatrooms show ID` opens one as a card."))
    return message(f"{len(rooms)} more chatrooms", blocks)


def render_result(
    title: str,
    detail: str = "",
    room: ChatRoom | None = None,
    *,
    now: datetime,
    zone: tzinfo,
    refused: frozenset[str] = frozenset(),
) -> dict:
    """The outcome of an action, with the refreshed card when there is one."""
    blocks: list[Block] = [section(f"{title}\n{detail}".strip())]
    if room is not None:
        blocks.append(divider())
        blocks.extend(card_blocks(room, now, zone, refused=refused))
        note = refused_note(refused)
        if note:
            blocks.append(context(note))
    return message(title, blocks)


def queued_note(ahead: int) -> str:
    """Added to a "looking up…" placeholder when the user's own earlier requests run first."""
    if ahead <= 0:
        return ""
    return f" ({ahead} of your earlier request{'s' if ahead > 1 else ''} ahead of this one)"


def saved_note(saved: Saved) -> str | None:
    """What the user must know about a write Nexudus accepted, beyond "done"."""
    if not saved.confirmed:
        return (
            ":information_source: Nexudus accepted it, but reading it back failed just now, so it is shown as "
            f"you sent it. Check it later with `/chatrooms show {saved.room.id}`; do not submit it again."
        )
    if saved.differs:
        fields = ", ".join(f.replace("_", " ") for f in saved.differs)
        return (
            f":warning: Nexudus accepted it, but the chatroom now shows other values for: {fields}. Someone "
            "changed it at the same moment, or Nexudus adjusted it: check the card and edit again if needed."
        )
    return None


def render_notice(text: str, *, login_button: bool = False, help_button: bool = False) -> dict[str, Any]:
    """A short ephemeral answer: an error, a confirmation, a pointer to login."""
    elements = []
    if login_button:
        elements.append(button("Log in to Nexudus", ids.LOGIN, style="primary"))
    if help_button:
        elements.append(button("Show help", ids.HELP))
    blocks: list[Block] = [section(text)]
    if elements:
        blocks.append(actions(*elements))
    return message(text, blocks)


def cannot_post_notice(channel_id: str, error: str, then: str) -> dict[str, Any]:
    """The app is not in a channel it was asked to post in (or cannot post there): nothing was set up."""
    return render_notice(
        f"I can't post in <#{channel_id}> ({escape(error)}), so nothing was set up. Invite me there first "
        f"(`/invite @chatrooms` in <#{channel_id}>), then {then}."
    )


def render_help(text: str) -> dict[str, Any]:
    """The grammar's help text, split into sections under Slack's 3000-character limit."""
    blocks: list[Block] = []
    chunk = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{chunk}\n\n{paragraph}" if chunk else paragraph
        if len(candidate) > 2900 and chunk:
            blocks.append({"type": "section", "text": mrkdwn(chunk)})
            chunk = paragraph
        else:
            chunk = candidate
    if chunk:
        blocks.append({"type": "section", "text": mrkdwn(chunk)})
    return message("How to use /chatrooms", blocks[: MAX_MESSAGE_BLOCKS - 1])
