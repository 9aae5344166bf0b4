"""Modals: login, the chatroom form (create and edit), delete confirmation, loading and result views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.nexudus.models import ChatRoom
from bot.rules import MAX_NAME
from bot.slack import ids
from bot.slack.limits import MAX_DATE_TIME, MAX_INPUT_LENGTH, MAX_MODAL_BLOCKS, MAX_MODAL_TITLE
from bot.slack.views.common import (
    Block,
    clip,
    context,
    escape,
    plain,
    section,
)

View = dict[str, Any]

MAX_NAME_INPUT = MAX_NAME  # the one name rule, also checked on submission (bot/rules.py)
MAX_USERS_TEXT = MAX_INPUT_LENGTH  # Slack's maximum length of a plain-text input
# block id → the words for a Nexudus property the form has no input for (e.g. SystemId)
_FIELD_LABELS = {ids.PROPERTY_TO_BLOCK[p]: label for p, label in ids.PROPERTY_LABELS.items()}


def modal(
    title: str,
    blocks: list[Block],
    *,
    callback_id: str = ids.INFO_MODAL,
    submit: str | None = None,
    close: str = "Close",
    private_metadata: str = "",
    external_id: str | None = None,
    notify_on_close: bool = False,
) -> View:
    """A modal view within Slack's limits (24-character title, 100 blocks)."""
    assert len(blocks) <= MAX_MODAL_BLOCKS, "modals must stay under Slack's 100-block limit"
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MAX_MODAL_TITLE),
        "close": plain(close, MAX_MODAL_TITLE),
        "blocks": blocks,
    }
    if submit:
        view["submit"] = plain(submit, MAX_MODAL_TITLE)
    if private_metadata:
        view["private_metadata"] = private_metadata
    if external_id:
        view["external_id"] = external_id
    if notify_on_close:
        view["notify_on_close"] = True
    return view


def loading_modal(title: str, what: str) -> View:
    """Shown at once, because a trigger_id expires in 3 s and Nexudus may take longer."""
    return modal(title, [section(f":hourglass_flowing_sand: {escape(what)}…")])


def info_modal(title: str, text: str, detail: str | None = None) -> View:
    blocks = [section(text)]
    if detail:
        blocks.append(context(detail))
    return modal(title, blocks)


def login_modal(
    private_metadata: str,
    email: str = "",
    error: str | None = None,
    *,
    tokens: bool = True,
    code_error: str | None = None,
) -> View:
    """The login form. With `tokens` (NEXUDUS_AUTH bearer/auto) the password is traded for tokens, not kept.

    `error` shows above the fields; `code_error` under the 2FA code (Nexudus refused or wanted a code).
    """
    kept = (
        "The password is sent to Nexudus once, for a login token; the app keeps only the token, encrypted."
        if tokens
        else "The password is checked with Nexudus, then stored encrypted."
    )
    blocks: list[Block] = [
        section(
            "Connect your Nexudus account. Every action you take from Slack uses *your* login and "
            f"your Nexudus roles. {kept} It is never posted anywhere."
        ),
        {
            "type": "input",
            "block_id": ids.F_EMAIL,
            "label": plain("Nexudus e-mail"),
            "element": {
                "type": "email_text_input",
                "action_id": ids.F_EMAIL,
                **({"initial_value": email} if email else {}),
                "placeholder": plain("you@yourspace.com"),
            },
        },
        {
            "type": "input",
            "block_id": ids.F_PASSWORD,
            "label": plain("Password"),
            "hint": plain("Slack has no hidden input: make sure nobody is reading over your shoulder.", 150),
            "element": {"type": "plain_text_input", "action_id": ids.F_PASSWORD, "max_length": 256},
        },
    ]
    if tokens:
        blocks.append(
            {
                "type": "input",
                "block_id": ids.F_CODE,
                "optional": True,
                "label": plain("2FA code"),
                "hint": plain("Only if your Nexudus account uses two-factor authentication: the current code."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.F_CODE,
                    "max_length": 10,
                    "placeholder": plain("123456"),
                },
            }
        )
        if code_error:
            blocks.append(context(f":warning: {escape(code_error)}"))
    if error:
        blocks.insert(1, section(f":warning: {escape(error)}"))
    return modal(
        "Log in to Nexudus",
        blocks,
        callback_id=ids.LOGIN_MODAL,
        submit="Log in",
        close="Cancel",
        private_metadata=private_metadata,
    )


def chatroom_form(
    *,
    callback_id: str,
    title: str,
    submit: str,
    private_metadata: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    note: str | None = None,
) -> View:
    """The create/edit form. `values` are Python values keyed by field name; `errors` by block id.

    Errors that arrive after the submission was acknowledged (Nexudus answers later than Slack's 3 s)
    are shown as a warning line right under the field, with the user's values kept.
    """
    errors = dict(errors or {})
    shown_blocks = {ids.F_BUSINESS, ids.F_NAME, ids.F_ACTIVE, ids.F_VISIT, ids.F_USERS}
    for block_id in [b for b in errors if b and b not in shown_blocks]:
        # A Nexudus error about a property the form has no input for still reaches the user.
        message = errors.pop(block_id)
        label = _FIELD_LABELS.get(block_id, block_id)
        errors[""] = f"{errors[''] + ' ' if errors.get('') else ''}{label}: {message}"
    business = values.get(ids.F_BUSINESS)
    name = values.get(ids.F_NAME)
    visit: datetime | None = values.get(ids.F_VISIT)
    visit_hint = "Leave empty if no agent has visited yet. It cannot be in the future."
    if visit is not None and picker_time(visit) is None:
        visit_hint = (
            f"Nexudus has {visit.isoformat(sep=' ', timespec='minutes')}, which Slack's date picker cannot "
            "show: leave it empty to keep it, or pick a new date."
        )
    users = values.get(ids.F_USERS)
    members = users_text(users)
    users_hint = "Nexudus user ids, separated by commas or spaces. This replaces the list."
    if users and members is None:
        users_hint = f"{len(users)} members, too many to show: leave empty to keep them, or type a new list."
    active = values.get(ids.F_ACTIVE)
    active_option = {"text": plain("Members can write in it"), "value": "active"}
    inputs: list[tuple[str, Block]] = [
        (
            ids.F_BUSINESS,
            {
                "type": "input",
                "block_id": ids.F_BUSINESS,
                "label": plain("Business ID"),
                "hint": plain("The Nexudus business (space) the chatroom belongs to.", 150),
                "element": {
                    "type": "number_input",
                    "action_id": ids.F_BUSINESS,
                    "is_decimal_allowed": False,
                    "min_value": "1",
                    **({"initial_value": str(business)} if business else {}),
                },
            },
        ),
        (
            ids.F_NAME,
            {
                "type": "input",
                "block_id": ids.F_NAME,
                "label": plain("Name"),
                "hint": plain(f"At most {MAX_NAME_INPUT} characters.", 150),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.F_NAME,
                    "max_length": MAX_NAME_INPUT,
                    **({"initial_value": clip(str(name), MAX_NAME_INPUT)} if name else {}),
                },
            },
        ),
        (
            ids.F_ACTIVE,
            {
                "type": "input",
                "block_id": ids.F_ACTIVE,
                "optional": True,
                "label": plain("Active"),
                "element": {
                    "type": "checkboxes",
                    "action_id": ids.F_ACTIVE,
                    "options": [active_option],
                    **({"initial_options": [active_option]} if active else {}),
                },
            },
        ),
        (
            ids.F_VISIT,
            {
                "type": "input",
                "block_id": ids.F_VISIT,
                "optional": True,
                "label": plain("Last agent visit"),
                "hint": plain(visit_hint, 150),
                "element": {
                    "type": "datetimepicker",
                    "action_id": ids.F_VISIT,
                    **({"initial_date_time": picker_time(visit)} if picker_time(visit) is not None else {}),
                },
            },
        ),
        (
            ids.F_USERS,
            {
                "type": "input",
                "block_id": ids.F_USERS,
                "optional": True,
                "label": plain("Member user IDs"),
                "hint": plain(users_hint, 150),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.F_USERS,
                    "max_length": MAX_USERS_TEXT,
                    **({"initial_value": members} if members else {}),
                },
            },
        ),
    ]
    blocks: list[Block] = []
    if note:
        blocks.append(section(note))
    general = errors.get("")
    if general:
        blocks.append(section(f":warning: {escape(general)}"))
    for block_id, block in inputs:
        blocks.append(block)
        if block_id in errors:
            blocks.append(context(f":warning: {escape(errors[block_id])}"))
    return modal(
        title, blocks, callback_id=callback_id, submit=submit, close="Cancel", private_metadata=private_metadata
    )


def room_values(room: ChatRoom) -> dict[str, Any]:
    return {
        ids.F_BUSINESS: room.business,
        ids.F_NAME: room.name,
        ids.F_ACTIVE: bool(room.active),
        ids.F_VISIT: room.last_agent_visit,
        ids.F_USERS: room.users,
    }


def picker_time(when: datetime | None) -> int | None:
    """The UNIX time a datetimepicker starts at, or None when Slack's picker cannot show it (before 1970 or
    after 2286, e.g. Nexudus' `0001-01-01T00:00:00Z`)."""
    if when is None:
        return None
    try:
        stamp = int(when.timestamp())
    except (OverflowError, OSError, ValueError):
        return None
    return stamp if 0 <= stamp <= MAX_DATE_TIME else None


def users_text(users: list[int] | None) -> str | None:
    """The members as the form shows them, or None when the list does not fit Slack's input."""
    text = ", ".join(str(u) for u in users or [])
    return text if len(text) <= MAX_USERS_TEXT else None


def shown_values(values: dict[str, Any]) -> dict[str, Any]:
    """The values as the form can show them (a long name clipped, a huge member list left out):
    what an untouched form hands back, so the edit can tell untouched from changed."""
    shown = dict(values)
    if isinstance(shown.get(ids.F_NAME), str):
        shown[ids.F_NAME] = clip(shown[ids.F_NAME], MAX_NAME_INPUT)
    if users_text(shown.get(ids.F_USERS)) is None:
        shown[ids.F_USERS] = None
    if isinstance(shown.get(ids.F_VISIT), datetime) and picker_time(shown[ids.F_VISIT]) is None:
        shown[ids.F_VISIT] = None  # not shown in the picker: an untouched form hands back nothing
    return shown


def delete_modal(room: ChatRoom, private_metadata: str) -> View:
    text = (
        f"Delete *{escape(clip(room.display_name, 200))}* (`#{room.id}`)?\n"
        "Its conversation goes with it. This cannot be undone."
    )
    return modal(
        "Delete chatroom",
        [section(text)],
        callback_id=ids.DELETE_MODAL,
        submit="Delete",
        close="Keep it",
        private_metadata=private_metadata,
    )
