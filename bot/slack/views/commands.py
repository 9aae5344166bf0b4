"""Nexudus commands as Block Kit: the commands list, the run modal, and the result. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Any

from bot.nexudus.models import ActionResult, Command
from bot.services import EDIT_ROLE
from bot.slack import forms, ids
from bot.slack.limits import MAX_MESSAGE_BLOCKS, MAX_OPTION_TEXT, MAX_SELECT_OPTIONS
from bot.slack.views.chatrooms import message
from bot.slack.views.common import (
    Block,
    button,
    clip,
    context,
    escape,
    plain,
    refused_note,
    section,
)
from bot.slack.views.modals import View, info_modal, modal

MAX_LISTED_COMMANDS = MAX_MESSAGE_BLOCKS - 3  # one section each, plus the heading and the footer
MAX_LISTED_PARAMETERS = 8
RUN_TITLE = "Run a command"


def visible_commands(commands: Sequence[Command]) -> list[Command]:
    """What users are offered: commands Nexudus shows anywhere (`Command.visible`), in `Order`."""
    return sorted((c for c in commands if c.visible), key=lambda c: (c.order, c.key))


def describe_parameters(command: Command, limit: int = MAX_LISTED_PARAMETERS) -> str:
    """`*New name* (text), *Active* (yes or no)` — or `nothing`."""
    parameters = command.requires_parameters
    if not parameters:
        return "nothing"
    shown = [
        f"*{escape(clip(forms.parameter_label(p, i), 60))}* ({forms.describe_type(p).lower()})"
        for i, p in enumerate(parameters[:limit])
    ]
    more = len(parameters) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def command_summary(command: Command) -> str:
    return (
        f"*{escape(clip(command.display_name, 200))}*  `{escape(clip(command.key, 100))}`\n"
        f"Runs on {command.entity_rule} · asks for {describe_parameters(command)}"
    )


def render_commands(
    commands: Sequence[Command], *, hidden: int = 0, refused: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The `/chatrooms commands` answer: each visible command with a "Run…" button, in `Order`
    (without buttons, and saying why, once Nexudus refused this user the ChatRoom-Edit role runs need)."""
    if not commands:
        text = "Nexudus offers no commands for chatrooms to this account."
        return message(text, [section(text)])
    blocks: list[Block] = [section(f"*Commands you can run on chatrooms* ({len(commands)})")]
    can_run = EDIT_ROLE not in refused
    for command in commands[:MAX_LISTED_COMMANDS]:
        run = button("Run…", ids.RUN_COMMAND, command.key) if can_run else None
        blocks.append(section(command_summary(command), accessory=run))
    notes = ["Run one with its button, or type `/chatrooms run KEY ID …`."] if can_run else []
    if (why := refused_note(refused)) and not can_run:
        notes.append(why)
    if len(commands) > MAX_LISTED_COMMANDS:
        notes.append(f"{len(commands) - MAX_LISTED_COMMANDS} more are in the list of `/chatrooms run`.")
    if hidden:
        notes.append(f"{hidden} command{'s' if hidden != 1 else ''} that Nexudus hides from its menus not shown.")
    if notes:
        blocks.append(context(" ".join(notes)))
    return message(f"{len(commands)} commands", blocks)


def command_option(command: Command) -> dict[str, Any]:
    return {"text": plain(command.display_name, MAX_OPTION_TEXT), "value": clip(command.key, 150)}


def run_modal(
    *,
    choices: Sequence[Command],
    command: Command | None,
    pick: bool,
    rooms: Sequence[tuple[int, str]],
    private_metadata: str,
    values: Sequence[str | None] | None = None,
    note: str | None = None,
    zone: tzinfo = UTC,
    reach: int | None = None,
) -> View:
    """The run form: an optional command select, the chatroom picker and one input per parameter.

    A command that may run with no chatroom chosen (Nexudus then picks what it changes) also gets a
    checkbox to confirm that; `reach` is how many chatrooms the user's login can reach, when known.

    A command with more parameters than a modal can hold gets an explanation instead of inputs (its
    submission is refused under the command select or as a note: it has to be run in Nexudus).
    """
    blocks: list[Block] = []
    if note:
        blocks.append(section(note))
    if pick:
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": ids.RUN_PICK,
            "placeholder": plain("Choose a command"),
            "options": [command_option(c) for c in choices[:MAX_SELECT_OPTIONS]],
        }
        if command is not None:
            select["initial_option"] = command_option(command)
            if select["initial_option"] not in select["options"]:
                # Slack takes an initial option only if it is one of the options (at most 100 of them).
                select["options"] = [*select["options"][: MAX_SELECT_OPTIONS - 1], select["initial_option"]]
        if not select["options"]:
            select["options"] = [command_option(command)] if command else [{"text": plain("—"), "value": "-"}]
        blocks.append(
            {
                "type": "input",
                "block_id": ids.RUN_PICK,
                "dispatch_action": True,
                "label": plain("Command"),
                "element": select,
            }
        )
    if command is None:
        blocks.append(forms.chatrooms_block(None, rooms))
        blocks.append(context("Choose a command to see what it asks for."))
    else:
        blocks.append(section(command_summary(command)))
        blocks.append(forms.chatrooms_block(command, rooms))
        if runs_without_chatrooms(command):
            blocks.extend(confirm_blocks(command, reach))
        parameters = command.requires_parameters
        if forms.too_many_parameters(parameters):
            blocks.append(section(too_many_text(command)))
        else:
            blocks.extend(
                forms.parameter_blocks(parameters, scope=forms.form_digest(command), values=values, zone=zone)
            )
    return modal(
        RUN_TITLE,
        blocks,
        callback_id=ids.RUN_MODAL,
        submit="Run",
        close="Cancel",
        private_metadata=private_metadata,
    )


def runs_without_chatrooms(command: Command) -> bool:
    """Whether Nexudus accepts the command with no chatroom: it then decides itself what it changes."""
    return command.entity_rule_error(0) is None


CONFIRM_VALUE = "run-without-chatrooms"


def confirm_blocks(command: Command, reach: int | None) -> list[Block]:
    """What a run with no chatroom chosen may touch, and the checkbox that confirms it."""
    name = escape(clip(command.display_name, 200))
    scope = f"any of the *{reach}* chatrooms" if reach is not None else "any chatroom"
    warning = (
        f":warning: With no chatroom chosen, *{name}* runs on whatever Nexudus applies it to: it may change "
        f"{scope} your Nexudus login can reach, in every business. Choose chatrooms to limit it to them."
    )
    option = {"text": plain("Yes, run it with no chatroom chosen"), "value": CONFIRM_VALUE}
    return [
        section(warning),
        {
            "type": "input",
            "block_id": ids.RUN_CONFIRM,
            "optional": True,
            "label": plain("Confirm"),
            "element": {"type": "checkboxes", "action_id": ids.RUN_CONFIRM, "options": [option]},
            "hint": plain("Needed only when no chatroom is chosen."),
        },
    ]


def too_many_text(command: Command) -> str:
    count = len(command.requires_parameters)
    return (
        f":no_entry: *{escape(clip(command.display_name, 200))}* asks for {count} parameters, more than a Slack "
        f"form can hold ({forms.MAX_FORM_PARAMETERS}). Run it in Nexudus."
    )


def running_modal(command_name: str) -> View:
    """The view while Nexudus runs the command: no submit button, so it cannot be sent twice."""
    return modal(RUN_TITLE, [section(f":hourglass_flowing_sand: Running *{escape(clip(command_name, 200))}*…")])


def result_text(command: Command, result: ActionResult, count: int) -> str:
    icon = "✅" if result.was_successful else ":x:"
    where = f" on {count} chatroom{'s' if count != 1 else ''}" if count else ""
    said = escape(clip(result.message or "Done.", 2500))
    return f"{icon} *{escape(clip(command.display_name, 200))}* (`{escape(clip(command.key, 100))}`){where}\n{said}"


def result_modal(command: Command, result: ActionResult, count: int) -> View:
    return info_modal("Command run", result_text(command, result, count))


def render_run_result(command: Command, result: ActionResult, chatroom_ids: Sequence[int]) -> dict[str, Any]:
    """The message posted back after a run; refreshed cards follow in their own messages."""
    blocks: list[Block] = [section(result_text(command, result, len(chatroom_ids)))]
    if chatroom_ids:
        shown = ", ".join(f"`#{i}`" for i in chatroom_ids[:20])
        more = f" and {len(chatroom_ids) - 20} more" if len(chatroom_ids) > 20 else ""
        blocks.append(context(f"Chatrooms: {shown}{more}"))
    return message(escape(clip(f"{command.display_name}: {result.message or 'done'}", 2000)), blocks)
