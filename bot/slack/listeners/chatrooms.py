"""List, show, create, edit and delete chatrooms: the slash subcommands, buttons and modals."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from bot.deps import Deps
from bot.nexudus.client import ChatRoomChanges, NewChatRoom
from bot.nexudus.errors import Conflict, NexudusError, ValidationFailed
from bot.nexudus.models import ChatRoom
from bot.rules import id_problem
from bot.services import CREATE_ROLE, DELETE_ROLE, EDIT_ROLE
from bot.slack import ids
from bot.slack.context import Ctx, guarded
from bot.slack.errors import describe
from bot.slack.grammar import (
    CreateIntent,
    DeleteIntent,
    EditIntent,
    EditNowIntent,
    GrammarError,
    Intent,
    ListIntent,
    RunIntent,
    ShowIntent,
    describe_filters,
    parse_command,
    to_text,
)
from bot.slack.handlers import Click, Handlers
from bot.slack.listeners.run import open_run
from bot.slack.metadata import CreateContext, DeleteContext, EditContext, OutOfDate
from bot.slack.submissions import StateValues, changed_since, field_digests, parse_chatroom_form
from bot.slack.views.chatrooms import (
    MAX_CARDS_PER_MESSAGE,
    MAX_LIST_ROWS,
    DeletedCard,
    page_of_row,
    render_after_delete,
    render_cards,
    render_compact,
    render_list,
    render_notice,
    render_result,
    saved_note,
)
from bot.slack.views.common import clip, escape
from bot.slack.views.modals import chatroom_form, delete_modal, info_modal, loading_modal, room_values, shown_values

log = logging.getLogger(__name__)

_DELETE_VALUE = re.compile(r"([0-9]{1,12})(?::([0-9]{1,12}(?:,[0-9]{1,12}){0,9}))?")


handlers = Handlers()
IntentT = TypeVar("IntentT", bound=Intent)


# ------------------------------------------------------------------------------------- subcommands
@handlers.subcommand(ListIntent)
def list_chatrooms(
    intent: ListIntent,
    ctx: Ctx,
    *,
    replace_original: bool = False,
    response_url: str | None = None,
    note: str | None = None,
) -> None:
    size = min(intent.size or ctx.deps.settings.nexudus_page_size, MAX_LIST_ROWS)
    shown = intent.model_copy(update={"size": size})
    page = ctx.session().find(
        shown.filters, page=shown.page, size=size, order_by=shown.order_by, direction=shown.direction
    )
    summary = describe_filters(shown)
    if intent.size and intent.size > MAX_LIST_ROWS:
        summary += f" · {MAX_LIST_ROWS} per page (Slack's limit)"
    msg = render_list(
        page,
        summary=summary,
        previous_value=to_text(shown, shown.page - 1) if page.has_previous_page and shown.page > 1 else None,
        next_value=to_text(shown, shown.page + 1) if page.has_next_page else None,
        now=ctx.now(),
        refused=ctx.refused_roles(),
        current_value=to_text(shown, shown.page),
        note=note,
    )
    ctx.reply(msg, replace_original=replace_original, response_url=response_url)


@handlers.subcommand(ShowIntent)
def show_chatrooms(intent: ShowIntent, ctx: Ctx) -> None:
    rooms = ctx.session().cards(intent.ids)
    found = {r.id for r in rooms}
    missing = [i for i in intent.ids if i not in found]
    messages = render_cards(rooms[:MAX_CARDS_PER_MESSAGE], missing, ctx.now(), ctx.deps.zone, ctx.refused_roles())
    if len(rooms) > MAX_CARDS_PER_MESSAGE:
        messages.insert(1, render_compact(rooms[MAX_CARDS_PER_MESSAGE:], ctx.now()))
    for msg in messages:
        ctx.reply(msg)


@handlers.subcommand(CreateIntent)
def open_create(intent: CreateIntent, ctx: Ctx) -> None:
    # Not logged in, or a role Nexudus just refused → told at once, before a form they cannot submit.
    ctx.session().require(CREATE_ROLE, "create chatrooms")
    meta = CreateContext(response_url=ctx.response_url, channel_id=ctx.channel_id).dump()
    values = {ids.F_NAME: intent.name, ids.F_BUSINESS: intent.business, ids.F_ACTIVE: True}
    view = chatroom_form(
        callback_id=ids.CREATE_MODAL, title="New chatroom", submit="Create", private_metadata=meta, values=values
    )
    ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)


def open_modal_then(ctx: Ctx, title: str, what: str, build: Any, *, role: tuple[str, str] | None = None) -> None:
    """Open a loading modal at once (trigger_id lives 3 s), then replace it with what `build` returns.

    `role` (role, operation): refused at once, with no modal, if Nexudus refused it to this user lately.
    """
    session = ctx.session()
    if role is not None:
        session.require(*role)
    opened = ctx.client.views_open(trigger_id=ctx.trigger_id, view=loading_modal(title, what))
    view_id = opened["view"]["id"]
    # If the person closed the loading modal, they no longer want the form: `show` just returns False.
    guarded(ctx, lambda: ctx.show(view_id, build(session)), view_id=view_id)


@handlers.subcommand(EditIntent)
def open_edit(intent: EditIntent, ctx: Ctx) -> None:
    def build(session: Any) -> dict[str, Any]:
        room = session.get(intent.id)
        meta = edit_context(room, response_url=ctx.response_url, channel_id=ctx.channel_id)
        return edit_form(meta, room_values(room))

    open_modal_then(ctx, "Edit chatroom", f"Loading chatroom {intent.id}", build, role=(EDIT_ROLE, "edit chatrooms"))


@handlers.subcommand(EditNowIntent)
def save_edit_now(intent: EditNowIntent, ctx: Ctx) -> None:
    """`edit ID key:value …`: the form's safe edit without the form (only these fields change)."""
    changes = ChatRoomChanges(**intent.changes())
    session = ctx.session()
    session.require(EDIT_ROLE, "edit chatrooms")
    saved = session.edit(intent.id, changes, expected_updated_on=None, expected_fingerprint=None)
    changed = ", ".join(sorted(changes.model_fields_set)).replace("_", " ")
    refused = ctx.refused_roles()
    ctx.reply(
        render_result(
            f"✅ Saved {changed}",
            saved_note(saved) or "",
            room=saved.room,
            now=ctx.now(),
            zone=ctx.deps.zone,
            refused=refused,
        )
    )


def edit_context(room: ChatRoom, *, response_url: str | None, channel_id: str | None) -> EditContext:
    """What the edit form must remember: the record's version, and each field as the form shows it."""
    return EditContext(
        response_url=response_url,
        channel_id=channel_id,
        chatroom_id=room.id,
        updated_on=room.updated_on,
        fingerprint=room.fingerprint(),
        initial=field_digests(shown_values(room_values(room))),
    )


def edit_form(
    meta: EditContext, values: dict[str, Any], errors: dict[str, str] | None = None, note: str | None = None
) -> dict[str, Any]:
    return chatroom_form(
        callback_id=ids.EDIT_MODAL,
        title=f"Edit #{meta.chatroom_id}",
        submit="Save",
        private_metadata=meta.dump(),
        values=values,
        errors=errors,
        note=note,
    )


@handlers.subcommand(DeleteIntent)
def open_delete(intent: DeleteIntent, ctx: Ctx, *, card_ids: Sequence[int] = (), list_page: str | None = None) -> None:
    """The confirmation modal; `card_ids` (a card message) or `list_page` (a list page's command text) name
    the message it was opened from, which is redrawn after the deletion."""

    def build(session: Any) -> dict[str, Any]:
        room = session.get(intent.id)
        meta = DeleteContext(
            response_url=ctx.response_url,
            channel_id=ctx.channel_id,
            chatroom_id=room.id,
            name=room.display_name[:300],
            card_ids=list(card_ids),
            list_page=list_page if list_page and len(list_page) <= 250 else None,
        ).dump()
        return delete_modal(room, meta)

    open_modal_then(
        ctx, "Delete chatroom", f"Loading chatroom {intent.id}", build, role=(DELETE_ROLE, "delete chatrooms")
    )


# ------------------------------------------------------------------------------------------ buttons
def chatroom_id_of(click: Click) -> int:
    """The chatroom id a button (value `ID`) or menu option (`verb:ID`) carries; a forged one is refused."""
    raw = click.action.get("value")
    if raw is None and click.selected is not None:
        raw = click.selected
    text = str(raw or "").split(":")[-1]
    if not (text.isdigit() and id_problem(text) is None):
        raise OutOfDate("That button carries no valid chatroom id.")
    return int(text)


def page_intent(ctx: Ctx, click: Click, kind: type[IntentT], again: str) -> IntentT | None:
    """The intent of a Previous / Next button, whose value is the command text of that page (so it keeps the
    filters); None when that text no longer parses (the person was told why)."""
    try:
        intent = parse_command(click.value, now=ctx.now(), zone=ctx.deps.zone)
    except GrammarError as exc:
        ctx.reply(render_notice(exc.message))
        return None
    if not isinstance(intent, kind):
        raise OutOfDate(f"That button is out of date. Run `/chatrooms {again}` again.")
    return intent


@handlers.action(ids.LIST_PREVIOUS, ids.LIST_NEXT, ids.LIST_PAGE)
def page_clicked(ctx: Ctx, click: Click) -> None:
    """Previous / Next keep the filters: the button's value is the command text of that page."""
    intent = page_intent(ctx, click, ListIntent, "list")
    if intent is not None:
        list_chatrooms(intent, ctx, replace_original=True)


@handlers.action(ids.AGAIN, opens_modal=True)
def again_clicked(ctx: Ctx, click: Click) -> None:
    """ "Run it again" on a slash command that never started (its process died first): the same text, now, once —
    the message with the button becomes the answer (a second press, or a double click, runs nothing)."""
    if ctx.deps.run_command is None or not click.value.strip():
        raise OutOfDate("That button is out of date. Type the command again.")
    container = click.body.get("container")
    message = container.get("message_ts") if isinstance(container, dict) else None
    if not ctx.deps.once.first(f"again:{ctx.team_id}:{ctx.user_id}:{message or ctx.response_url}:{click.value}"):
        return  # already run from this message: its first press replaced it
    ctx.reply(
        render_notice(f":repeat: Running `/chatrooms {escape(clip(click.value, 200))}` again…"), replace_original=True
    )
    ctx.placeholder = True  # the answer replaces that line (a form opened instead leaves it, which stays true)
    ctx.deps.run_command(click.value, ctx)


@handlers.action(ids.SHOW)
def show_clicked(ctx: Ctx, click: Click) -> None:
    show_chatrooms(ShowIntent(ids=[chatroom_id_of(click)]), ctx)


@handlers.action(ids.EDIT, opens_modal=True)
def edit_clicked(ctx: Ctx, click: Click) -> None:
    open_edit(EditIntent(id=chatroom_id_of(click)), ctx)


@handlers.action(ids.DELETE, opens_modal=True)
def delete_clicked(ctx: Ctx, click: Click) -> None:
    """A card's Delete: value `ID:CARD,CARD…` names the cards of its message, redrawn after the deletion."""
    match = _DELETE_VALUE.fullmatch(click.value)
    if match is None or id_problem(match.group(1)) is not None:
        raise OutOfDate("That button carries no valid chatroom id.")
    card_ids = [int(i) for i in (match.group(2) or "").split(",") if i and id_problem(i) is None]
    intent = DeleteIntent(id=int(match.group(1)))
    open_delete(intent, ctx, card_ids=card_ids if intent.id in card_ids else [])


@handlers.action(ids.ROW_MENU, opens_modal=True)
def row_menu_chosen(ctx: Ctx, click: Click) -> None:
    """A list row's menu: `show:ID`, `edit:ID`, `delete:ID` or `run:ID`."""
    verb = (click.selected or "").partition(":")[0]
    if verb not in ("show", "edit", "delete", "run"):
        raise OutOfDate("That menu choice is not one this app knows.")
    try:
        chatroom_id = chatroom_id_of(click)
    except OutOfDate:
        raise OutOfDate("That menu choice is not one this app knows.") from None
    if verb == "show":
        show_chatrooms(ShowIntent(ids=[chatroom_id]), ctx)
    elif verb == "edit":
        open_edit(EditIntent(id=chatroom_id), ctx)
    elif verb == "delete":  # redraw the page it was on once the chatroom is deleted
        open_delete(DeleteIntent(id=chatroom_id), ctx, list_page=page_of_row(click.action.get("block_id")))
    else:
        open_run(RunIntent(key=None, ids=[chatroom_id]), ctx)


# ------------------------------------------------------------------------------------------ modals
def parse_new(state: StateValues, meta: CreateContext, deps: Deps) -> tuple[dict[str, Any], dict[str, str]]:
    return parse_chatroom_form(state, now=deps.clock())


def parse_changes(state: StateValues, meta: EditContext, deps: Deps) -> tuple[dict[str, Any], dict[str, str]]:
    return parse_chatroom_form(state, now=deps.clock(), initial=meta.initial)


@handlers.submission(
    ids.CREATE_MODAL, meta=CreateContext, parse=parse_new, title="New chatroom", loading="Creating the chatroom"
)
def create_chatroom(ctx: Ctx, meta: CreateContext, values: dict[str, Any]) -> None:
    try:
        saved = ctx.session().create(NewChatRoom(**values))
    except ValidationFailed as exc:
        again = chatroom_form(
            callback_id=ids.CREATE_MODAL,
            title="New chatroom",
            submit="Create",
            private_metadata=meta.dump(),
            values=values,
            errors=describe(exc).field_errors or {"": str(exc)},
        )
        told = f"{describe(exc).text}\nNo chatroom was created: run `/chatrooms create` to try again."
        ctx.show_or_tell(ctx.view_id, again, render_notice(told))
        return
    room, note = saved.room, saved_note(saved)
    created = f"✅ *{escape(room.display_name)}* (`#{room.id}`)"
    ctx.outcome(
        ctx.view_id,
        info_modal("Chatroom created", created, note),
        render_result(
            "✅ Chatroom created", note or "", room=room, now=ctx.now(), zone=ctx.deps.zone, refused=ctx.refused_roles()
        ),
    )


@handlers.submission(
    ids.EDIT_MODAL, meta=EditContext, parse=parse_changes, title="Edit chatroom", loading="Saving your changes"
)
def save_edit(ctx: Ctx, meta: EditContext, values: dict[str, Any]) -> None:
    """Save only the fields the user changed, on the version of the record the form was filled from."""
    changed_values = changed_since(meta.initial, values)
    if not changed_values:
        unchanged = f"No field of chatroom `#{meta.chatroom_id}` was changed, so nothing was saved."
        ctx.show_or_tell(ctx.view_id, info_modal("Nothing changed", unchanged), render_notice(unchanged))
        return
    changes = ChatRoomChanges(**changed_values)
    try:
        # The adapter re-reads the record, refuses if it is not the version the form was filled from,
        # and sends every property back with only these fields changed.
        saved = ctx.session().edit(
            meta.chatroom_id, changes, expected_updated_on=meta.updated_on, expected_fingerprint=meta.fingerprint
        )
    except Conflict as exc:
        current = exc.current
        fields = ", ".join(sorted(changed_values)).replace("_", " ")
        note = (
            f":twisted_rightwards_arrows: {escape(current.updated_by or 'Someone')} changed this chatroom "
            f"after you opened it, so nothing was saved. The form now shows the current record with your "
            f"changes ({fields}) on top: Save to apply them, Cancel to keep it as it is."
        )
        fresh = edit_context(current, response_url=meta.response_url, channel_id=meta.channel_id)
        ctx.show_or_tell(
            ctx.view_id,
            edit_form(fresh, {**room_values(current), **changed_values}, note=note),
            render_notice(f"{describe(exc).text} Run `/chatrooms edit {meta.chatroom_id}` to apply yours."),
        )
        return
    except ValidationFailed as exc:
        errors = describe(exc).field_errors or {"": str(exc)}
        told = f"{describe(exc).text}\nNothing was saved: run `/chatrooms edit {meta.chatroom_id}` again."
        ctx.show_or_tell(ctx.view_id, edit_form(meta, values, errors=errors), render_notice(told))
        return
    changed = ", ".join(sorted(changes.model_fields_set)).replace("_", " ")
    room, extra = saved.room, saved_note(saved)
    ctx.outcome(
        ctx.view_id,
        info_modal("Saved", f"✅ *{escape(room.display_name)}* saved ({changed}).", extra),
        render_result(
            f"✅ Saved {changed}",
            extra or "",
            room=room,
            now=ctx.now(),
            zone=ctx.deps.zone,
            refused=ctx.refused_roles(),
        ),
    )


@handlers.submission(
    ids.DELETE_MODAL,
    meta=DeleteContext,
    title="Delete chatroom",
    loading=lambda meta: loading_modal("Delete chatroom", f"Deleting chatroom {meta.chatroom_id}"),
)
def delete_chatroom(ctx: Ctx, meta: DeleteContext, _: None) -> None:
    ctx.session().delete(meta.chatroom_id)
    label = f"*{escape(meta.name)}* (`#{meta.chatroom_id}`)" if meta.name else f"`#{meta.chatroom_id}`"
    done = f"🗑️ Chatroom {label} was deleted."
    ctx.outcome(ctx.view_id, info_modal("Deleted", done), render_notice(done))
    if meta.card_ids and meta.response_url:
        redraw_cards(ctx, meta)
    elif meta.list_page and meta.response_url:
        redraw_list(ctx, meta)


def redraw_cards(ctx: Ctx, meta: DeleteContext) -> None:
    """Redraw the card message a Delete came from: that card a tombstone (no buttons), the others current."""
    others = [i for i in meta.card_ids if i != meta.chatroom_id]
    try:
        rooms = ctx.session().cards(others) if others else []
    except NexudusError:
        rooms = []  # the deletion is what matters: its card still turns into a tombstone
        others = []
    deleted = DeletedCard(meta.chatroom_id, meta.name, ctx.user_id)
    card_ids = [i for i in meta.card_ids if i == meta.chatroom_id or i in others]
    msg = render_after_delete(card_ids, rooms, deleted, ctx.now(), ctx.deps.zone, ctx.refused_roles())
    ctx.reply(msg, replace_original=True, response_url=meta.response_url)


def redraw_list(ctx: Ctx, meta: DeleteContext) -> None:
    """Redraw the list page a row's Delete came from: the chatroom is gone from it, and a note says who."""
    try:
        intent = parse_command(meta.list_page or "", now=ctx.now(), zone=ctx.deps.zone)
    except GrammarError:
        return
    if isinstance(intent, ListIntent):
        label = f"*{escape(meta.name)}* (`#{meta.chatroom_id}`)" if meta.name else f"`#{meta.chatroom_id}`"
        note = f"🗑️ {label} was deleted by <@{ctx.user_id}> just now."
        list_chatrooms(intent, ctx, replace_original=True, response_url=meta.response_url, note=note)
