"""What a person is told about a write whose process stopped before telling them (bot/inflight.py): what it
was, and what a later read of Nexudus says became of it — never success that was not read back."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.inflight import Finding
from bot.nexudus.models import ChatRoom
from bot.slack import ids
from bot.slack.views.chatrooms import message, render_notice, render_result
from bot.slack.views.common import MAX_BUTTON_VALUE, actions, button, escape, section
from bot.slack.views.modals import info_modal
from bot.store.inflight import InFlight

TITLES = {"done": "Saved", "not_done": "Not saved", "gone": "Not saved", "unknown": "Outcome unknown"}
DONE_TITLES = {"create": "Chatroom created", "delete": "Deleted", "visited": "Marked visited", "snooze": "Snoozed"}


def _room_label(work: InFlight, room: ChatRoom | None) -> str:
    chatroom_id = work.chatroom_ids[0] if work.chatroom_ids else None
    if room is not None and room.name:
        return f"chatroom *{escape(room.display_name)}* (`#{room.id}`)"
    return f"chatroom `#{chatroom_id}`" if chatroom_id is not None else "a chatroom"


def _fields(names: Any) -> str:
    return ", ".join(sorted(str(name).replace("_", " ") for name in names))


def subject(work: InFlight, room: ChatRoom | None = None) -> str:
    """The interrupted work in words: "saving your edit of chatroom *Foo* (`#1000001`) (name)"."""
    if work.kind == "request":
        return f"answering {escape(work.what or 'your request')}"
    if work.kind == "create":
        business = f" in business {work.business_id}" if work.business_id is not None else ""
        return f"creating the chatroom *{escape(work.name or 'without a name')}*{business}"
    if work.kind == "delete":
        return f"deleting {_room_label(work, room)}"
    if work.kind == "visited":
        return f"marking {_room_label(work, room)} visited"
    if work.kind == "snooze":
        return f"snoozing the alerts about {_room_label(work, room)}"
    if work.kind == "run":
        count = len(work.chatroom_ids)
        on = (
            f" on {count} chatroom{'s' if count != 1 else ''} ({', '.join(f'`#{i}`' for i in work.chatroom_ids[:10])}"
            f"{'…' if count > 10 else ''})"
            if count
            else ""
        )
        return f"running `{escape(work.command or '?')}`{on}"
    return f"saving your edit of {_room_label(work, room)} ({_fields(work.changes)})"


def _verdict(work: InFlight, finding: Finding) -> str:
    ids_text = " ".join(str(i) for i in work.chatroom_ids)
    first = work.chatroom_ids[0] if work.chatroom_ids else None
    state = finding.state
    if state == "done":
        if work.kind == "create" and finding.room is not None:
            return f"✅ Nexudus has it: the chatroom was created as `#{finding.room.id}`. Do not create it again."
        if work.kind == "delete":
            return "✅ Nexudus no longer has that chatroom: it is deleted."
        if work.kind == "visited":
            return "✅ Nexudus has it: the chatroom is marked visited."
        if work.kind == "snooze":
            return "✅ It is snoozed: no alert about it here for the next hour."
        return f"✅ Nexudus has it: the chatroom holds your changes ({_fields(work.changes)})."
    if state == "gone":
        return f"The chatroom `#{first}` no longer exists in Nexudus, so nothing could be saved to it."
    if state == "not_done":
        if work.kind == "create":
            return "Nothing was saved: Nexudus has no such chatroom. Run `/chatrooms create` to try again."
        if work.kind == "delete":
            return f"Nothing was deleted: the chatroom is still there. Run `/chatrooms delete {first}` to try again."
        if work.kind == "visited":
            return "Nothing was saved: the chatroom is not marked visited. Press Mark visited again to try again."
        if work.kind == "snooze":
            return "Nothing was saved: its alerts are not snoozed. Press Snooze again to try again."
        return (
            f"Nothing was saved: the chatroom does not hold your changes ({_fields(finding.differs)}). "
            f"Edit it again (the Edit button below, or `/chatrooms edit {first}`)."
        )
    if finding.reason == "request":  # its answer may have been posted just before the process died
        return "If its answer did not reach you, please run it again: nothing was changed in Nexudus by it."
    if finding.reason == "command":
        return (
            "Nexudus keeps no record of a command having run, so it may or may not have run. "
            + (f"Check the chatrooms (`/chatrooms show {ids_text}`) before running it again." if ids_text else "")
        ).strip()
    why = (
        "your Nexudus login can no longer be used"
        if finding.reason == "login"
        else "Nexudus could not be read just now"
    )
    check = f"`/chatrooms show {ids_text}`" if ids_text else "`/chatrooms search`"
    return f"It may or may not have been saved: the app could not check, because {why}. Check with {check} first."


def render_recovered(
    work: InFlight, finding: Finding, *, now: datetime, zone: tzinfo, refused: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the modal's view, the private message) telling the outcome of interrupted work."""
    if work.kind == "queued":
        return _never_started(work)
    headline = f":warning: The app restarted while {subject(work, finding.room)}."
    verdict = _verdict(work, finding)
    title = DONE_TITLES.get(work.kind, "Saved") if finding.state == "done" else TITLES[finding.state]
    if work.kind == "request":
        title = "Not finished"
    view = info_modal(title, f"{headline}\n{verdict}")
    room = finding.room if work.kind != "delete" or finding.state != "done" else None
    if room is not None:
        msg = render_result(headline, verdict, room=room, now=now, zone=zone, refused=refused)
    else:
        msg = render_notice(f"{headline}\n{verdict}")
    return view, msg


def _never_started(work: InFlight) -> tuple[dict[str, Any], dict[str, Any]]:
    """Work acknowledged that was still waiting its turn: it never ran, so nothing reached Nexudus."""
    what = escape(work.what or "your request")
    again = escape(work.again or "Please do it again.")
    text = (
        f":warning: The app restarted before it could start {what}.\n"
        f"It never started, so nothing was sent to Nexudus for it: nothing changed. {again}"
    )
    msg = render_notice(text)
    if work.command and len(work.command) <= MAX_BUTTON_VALUE:  # a slash command: run the same text again
        msg = message(text, [section(text), actions(button("Run it again", ids.AGAIN, work.command, "primary"))])
    return info_modal("Not started", text), msg
