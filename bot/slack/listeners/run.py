"""Nexudus commands from Slack: `/chatrooms commands`, `/chatrooms run [KEY] [ID …]`, the card's
"Run command" button, and the run modal (command select, chatroom picker, generated form, submission).

Visibility rule: a command is *visible* when Nexudus shows it anywhere — `DisplayInDropdown`,
`DisplayInDropdownV2` or `DisplayInGrid` (`Command.visible`). Only visible commands are listed and
offered in the select, in `Order`. A hidden command is internal to Nexudus (e.g. a reindex), so it is
refused even when its key is typed (`run HIDDEN_KEY`) or forged into a form: it has to be run in
Nexudus. This keeps Slack from exposing anything Nexudus itself does not offer to operators.

Flow of a run: the modal opens as a loading view at once, then becomes the form. The submission's ack
checks everything it can without Nexudus (values convert, entity rule) from the form's metadata and
answers `errors`, or switches to a "Running…" view without a submit button. The lazy part re-checks
against the (cached) command, runs it once (`deps.once` per view id and hash; never retried), shows the
outcome in the modal and posts the result with refreshed cards. A Nexudus refusal comes back in the
form with the user's values kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from bot.deps import Deps
from bot.nexudus.errors import CommandFailed, NexudusError, ValidationFailed
from bot.nexudus.models import Command
from bot.nexudus.query import ChatRoomFilters
from bot.rules import id_problem
from bot.services import EDIT_ROLE, UserSession
from bot.slack import forms, ids
from bot.slack.context import Ctx, guarded
from bot.slack.errors import describe
from bot.slack.grammar import CommandsIntent, RunIntent
from bot.slack.handlers import Click, Handlers
from bot.slack.limits import MAX_SELECT_OPTIONS
from bot.slack.metadata import BadMetadata, OutOfDate, RunContext
from bot.slack.submissions import StateValues, entry
from bot.slack.views.chatrooms import MAX_CARDS_PER_MESSAGE, render_cards, render_notice
from bot.slack.views.commands import (
    CONFIRM_VALUE,
    RUN_TITLE,
    render_commands,
    render_run_result,
    result_modal,
    run_modal,
    running_modal,
    runs_without_chatrooms,
    too_many_text,
    visible_commands,
)
from bot.slack.views.common import escape
from bot.slack.views.modals import info_modal, loading_modal

log = logging.getLogger(__name__)

MAX_SEARCH_RESULTS = 20
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")


class HiddenCommand(NexudusError):
    """The key names a command Nexudus hides from its menus (see the module docstring)."""

    def __init__(self, command: Command) -> None:
        self.command = command
        super().__init__(
            f"`{command.key}` is not offered by Nexudus for manual runs, so it cannot be run "
            "from Slack. Run it in Nexudus if you need it."
        )


# ------------------------------------------------------------------------------------------ helpers
def context_for(command: Command | None, *, pick: bool, response_url: str | None, channel_id: str | None) -> RunContext:
    """The modal's private_metadata for a form built for `command` (or none chosen yet)."""
    if command is None:
        return RunContext(response_url=response_url, channel_id=channel_id, pick=pick)
    parameters = command.requires_parameters
    runnable = not forms.too_many_parameters(parameters)
    kinds = [forms.kind_of(p.type).value for p in parameters] if runnable else []
    return RunContext(
        response_url=response_url,
        channel_id=channel_id,
        key=command.key[:100],
        name=command.display_name[:100],
        pick=pick,
        one=command.applies_only_to_one_entity,
        two=command.applies_only_to_two_entities,
        many=command.applies_only_to_multiple_entities,
        needs=command.needs_entities_to_run,
        kinds=kinds,
        runnable=runnable,
        digest=forms.form_digest(command),
    )


def rule_of(meta: RunContext) -> Command:
    """A stand-in command carrying only the entity rule, to check counts in the ack."""
    return Command(
        key=meta.key or "?",
        name=meta.name,
        applies_only_to_one_entity=meta.one,
        applies_only_to_two_entities=meta.two,
        applies_only_to_multiple_entities=meta.many,
        needs_entities_to_run=meta.needs,
    )


def kinds_of(meta: RunContext) -> list[forms.Kind]:
    try:
        return [forms.Kind(k) for k in meta.kinds]
    except ValueError:
        raise BadMetadata() from None


def visible_command(session: UserSession, key: str) -> Command:
    command = session.command(key)
    if not command.visible:
        raise HiddenCommand(command)
    return command


def room_labels(session: UserSession, chatroom_ids: Sequence[int]) -> list[tuple[int, str]]:
    """Names for the chatroom picker's initial options; an unknown id stays, marked, for the user to remove."""
    if not chatroom_ids:
        return []
    found = {r.id: r.display_name for r in session.show(list(chatroom_ids))}
    return [(i, found.get(i, f"#{i} (not found)")) for i in chatroom_ids]


def check_submission(meta: RunContext, state: dict[str, Any], zone: tzinfo) -> dict[str, str]:
    """Everything checkable without Nexudus: a command chosen, values that convert, the entity rule."""
    chosen = forms.selected_command_key(state)
    if meta.key is None and not meta.pick:
        raise BadMetadata()  # a form without a command select is always built for a command
    if meta.key is None:
        return {ids.RUN_PICK: "Choose a command."}
    if meta.pick and chosen is not None and chosen != meta.key:
        return {ids.RUN_PICK: "The form is still loading that command: wait a moment, then press Run."}
    if not meta.runnable:
        return {
            ids.RUN_PICK if meta.pick else ids.RUN_ROOMS: "This command cannot be run from Slack: run it in Nexudus."
        }
    _, errors = forms.parse_values(kinds_of(meta), state, scope=meta.digest, zone=zone)
    chatroom_ids, _, ids_error = forms.parse_chatroom_ids(state)
    problem = ids_error or rule_of(meta).entity_rule_error(len(chatroom_ids))
    if problem:
        errors[ids.RUN_ROOMS] = problem
    elif not chatroom_ids and not confirmed(state):
        errors[ids.RUN_CONFIRM] = (
            "No chatroom is chosen, so Nexudus decides what this changes, in every business: tick this to "
            "run it anyway, or choose the chatrooms it should run on."
        )
    return errors


def confirmed(state: dict[str, Any]) -> bool:
    """Whether the "run it with no chatroom chosen" box is ticked."""
    chosen = entry(state, ids.RUN_CONFIRM).get("selected_options")
    return isinstance(chosen, list) and any(isinstance(o, dict) and o.get("value") == CONFIRM_VALUE for o in chosen)


def reach_of(session: UserSession, command: Command | None) -> int | None:
    """How many chatrooms the user's login reaches, for a command that may run on none chosen (best effort)."""
    if command is None or not runs_without_chatrooms(command):
        return None
    try:
        return session.find(ChatRoomFilters(), size=1).total_items
    except NexudusError:
        return None


handlers = Handlers()


# ------------------------------------------------------------------------------------- subcommands
@handlers.subcommand(CommandsIntent)
def list_commands(intent: CommandsIntent, ctx: Ctx) -> None:
    commands = ctx.session().commands()
    shown = visible_commands(commands)
    ctx.reply(render_commands(shown, hidden=len(commands) - len(shown), refused=ctx.refused_roles()))


@handlers.subcommand(RunIntent)
def open_run(intent: RunIntent, ctx: Ctx) -> None:
    """Open the run modal at once (loading), then build it: for the named command, or with a select."""
    session = ctx.session()
    session.require(EDIT_ROLE, "run commands")  # refused lately: said at once, not after the form
    opened = ctx.client.views_open(trigger_id=ctx.trigger_id, view=loading_modal(RUN_TITLE, "Loading the commands"))
    view_id = opened["view"]["id"]

    def build() -> None:
        choices = visible_commands(session.commands())
        command: Command | None = None
        if intent.key:
            command = visible_command(session, intent.key)
        if command is None and not choices:
            ctx.show(view_id, info_modal(RUN_TITLE, "Nexudus offers no commands for chatrooms to you."))
            return
        rooms = room_labels(session, intent.ids)
        note = None
        if command is not None and intent.ids:
            problem = command.entity_rule_error(len(intent.ids))
            if problem:
                note = f":warning: {escape(problem)} Fix the chatrooms below before running it."
        pick = intent.key is None
        meta = context_for(command, pick=pick, response_url=ctx.response_url, channel_id=ctx.channel_id)
        view = run_modal(
            choices=choices,
            command=command,
            pick=pick,
            rooms=rooms,
            private_metadata=meta.dump(),
            note=note,
            zone=ctx.deps.zone,
            reach=reach_of(session, command),
        )
        ctx.show(view_id, view)  # closed meanwhile: the person no longer wants the form

    guarded(ctx, build, view_id=view_id)


# ------------------------------------------------------------------------------------------ buttons
@handlers.action(ids.RUN, opens_modal=True)
def run_clicked(ctx: Ctx, click: Click) -> None:
    """The chatroom card's "Run command": value = chatroom id (or empty for none)."""
    raw = click.value.strip()
    if raw and not (raw.isdigit() and id_problem(raw) is None):
        raise OutOfDate("That button carries no valid chatroom id.")
    open_run(RunIntent(key=None, ids=[int(raw)] if raw else []), ctx)


@handlers.action(ids.RUN_COMMAND, opens_modal=True)
def run_command_clicked(ctx: Ctx, click: Click) -> None:
    """ "Run…" in the commands list: value = command key."""
    key = click.value.strip()
    if not _KEY.fullmatch(key):
        raise OutOfDate("That button carries no valid command key.")
    open_run(RunIntent(key=key, ids=[]), ctx)


@handlers.action(ids.RUN_PICK, in_modal=True)
def command_picked(ctx: Ctx, click: Click) -> None:
    """The command select in the modal: rebuild the form for the chosen command, keeping the chatrooms."""
    meta = RunContext.load(click.view.get("private_metadata"))
    key = click.selected
    if not key:
        return
    session = ctx.session()
    command = visible_command(session, key)
    rooms = forms.rooms_in_view(click.view)
    problem = command.entity_rule_error(len(rooms)) if rooms else None
    fresh = context_for(command, pick=True, response_url=meta.response_url, channel_id=meta.channel_id)
    ctx.show(
        ctx.view_id,
        run_modal(
            choices=visible_commands(session.commands()),
            command=command,
            pick=True,
            rooms=rooms,
            private_metadata=fresh.dump(),
            note=f":warning: {escape(problem)}" if problem else None,
            zone=ctx.deps.zone,
            reach=reach_of(session, command),
        ),
    )


@handlers.options(ids.RUN_ROOMS)
def search_rooms(ctx: Ctx, query: str) -> list[dict[str, Any]]:
    """The chatroom picker's search, by id and by name (Slack wants the options in the ack itself)."""
    session = ctx.session()
    found: dict[int, str] = {}
    digits = query.lstrip("#")
    if digits.isdigit() and id_problem(digits) is None:
        for room in session.find(ChatRoomFilters(id=int(digits)), size=1).records:
            found[room.id] = room.display_name
    if query:
        for room in session.find(ChatRoomFilters(name=query), size=MAX_SEARCH_RESULTS).records:
            found.setdefault(room.id, room.display_name)
    return [forms.room_option(i, name) for i, name in list(found.items())[:MAX_SELECT_OPTIONS]]


# ------------------------------------------------------------------------------------ the submission
def parse_run(state: StateValues, meta: RunContext, deps: Deps) -> tuple[StateValues, dict[str, str]]:
    return state, check_submission(meta, state, deps.zone)


@handlers.submission(
    ids.RUN_MODAL,
    meta=RunContext,
    parse=parse_run,
    title=RUN_TITLE,
    loading=lambda meta: running_modal(meta.name or meta.key or "the command"),
    key="run",
)
def run_command(ctx: Ctx, meta: RunContext, state: StateValues) -> None:
    """Run the command once, on the chatrooms chosen; a refusal comes back in the form with the values kept."""
    assert meta.key is not None  # check_submission refuses a form without a command
    zone = ctx.deps.zone
    session = ctx.session()
    command = visible_command(session, meta.key)
    chatroom_ids, rooms, _ = forms.parse_chatroom_ids(state)

    def form_again(note: str, values: Sequence[str | None] | None = None) -> None:
        fresh = context_for(command, pick=meta.pick, response_url=meta.response_url, channel_id=meta.channel_id)
        again = run_modal(
            choices=visible_commands(session.commands()) if meta.pick else [],
            command=command,
            pick=meta.pick,
            rooms=rooms,
            private_metadata=fresh.dump(),
            values=values,
            note=note,
            zone=zone,
        )
        again_text = f"`/chatrooms run {escape(command.key)}`"
        told = f"{note}\nThe command was not run; {again_text} opens the form again."
        ctx.show_or_tell(ctx.view_id, again, render_notice(told))

    if forms.too_many_parameters(command.requires_parameters):
        form_again(too_many_text(command))
        return
    if forms.form_digest(command) != meta.digest:
        form_again(
            ":arrows_counterclockwise: This command changed in Nexudus since the form opened. "
            "Check the values below and press Run again."
        )
        return
    pairs, errors = forms.parse_parameters(command.requires_parameters, state, scope=meta.digest, zone=zone)
    problem = command.entity_rule_error(len(chatroom_ids))
    if errors or problem:  # the ack checked the same: only a changed command gets here
        form_again(f":warning: {escape(problem or 'Some values are not valid; check them below.')}")
        return
    values = [v for _, v in pairs]
    try:
        result = session.run(command, chatroom_ids, pairs)
    except (CommandFailed, ValidationFailed) as exc:
        why = (
            "Nexudus refused these values, so the command did not run: fix them and run again."
            if isinstance(exc, ValidationFailed)
            else "Nexudus says the command did not succeed: check the values below and run again."
        )
        form_again(f"{describe(exc).text}\n{why}", values)
        return
    ctx.outcome(
        ctx.view_id, result_modal(command, result, len(chatroom_ids)), render_run_result(command, result, chatroom_ids)
    )
    if chatroom_ids:
        shown = chatroom_ids[:MAX_CARDS_PER_MESSAGE]
        try:
            refreshed = session.cards(shown)
        except NexudusError as exc:  # the command ran and the modal says so: never turn that into a failure
            where = " ".join(str(i) for i in shown)
            note = f"The command ran, but the refreshed cards could not be loaded: {escape(str(exc))}"
            ctx.reply(render_notice(f"{note} See them with `/chatrooms show {where}`."))
            return
        for msg in render_cards(refreshed, [], ctx.now(), zone, ctx.refused_roles()):
            ctx.reply(msg)
