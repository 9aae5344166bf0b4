"""`/chatrooms audit …`: the workspace's audit trail, paged, and the channel it is mirrored to."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.slack import ids
from bot.slack.context import Ctx
from bot.slack.grammar import AuditChannelIntent, AuditIntent, audit_text
from bot.slack.handlers import Click, Handlers
from bot.slack.listeners.alerts import UNREACHABLE
from bot.slack.listeners.chatrooms import page_intent
from bot.slack.views.audit import audit_filters_text, channel_set_notice, render_audit
from bot.slack.views.chatrooms import cannot_post_notice, render_notice

log = logging.getLogger(__name__)

PAGE_SIZE = 20

handlers = Handlers()


@handlers.subcommand(AuditIntent)
def show_audit(intent: AuditIntent, ctx: Ctx, *, replace_original: bool = False) -> None:
    """A page of this workspace's entries (never another's), newest first."""
    offset = (intent.page - 1) * PAGE_SIZE
    entries, more = ctx.deps.services.audit.entries(
        ctx.team_id,
        chatroom_id=intent.chatroom_id,
        user_id=intent.user_id,
        since=intent.since,
        offset=offset,
        limit=PAGE_SIZE,
    )
    msg = render_audit(
        entries,
        summary=audit_filters_text(intent.chatroom_id, intent.user_id, intent.since),
        offset=offset,
        previous_value=audit_text(intent, intent.page - 1) if intent.page > 1 else None,
        next_value=audit_text(intent, intent.page + 1) if more else None,
    )
    ctx.reply(msg, replace_original=replace_original)


@handlers.action(ids.AUDIT_PREVIOUS, ids.AUDIT_NEXT)
def audit_page_clicked(ctx: Ctx, click: Click) -> None:
    """Previous / Next keep the filters: the button's value is the command text of that page."""
    intent = page_intent(ctx, click, AuditIntent, "audit")
    if intent is not None:
        show_audit(intent, ctx, replace_original=True)


@handlers.subcommand(AuditChannelIntent)
def audit_channel(intent: AuditChannelIntent, ctx: Ctx) -> None:
    """Where new entries are mirrored: set it (the app must be able to post there), stop it, or say where."""
    audit = ctx.deps.services.audit
    if intent.off:
        old = audit.set_channel(ctx.actor, None)
        if old is None:
            ctx.reply(render_notice("The audit trail was not mirrored to any channel; nothing changed."))
        else:
            ctx.reply(render_notice(f"🔕 New audit entries are no longer posted in <#{old.channel_id}>."))
        return
    if intent.channel_id is None:
        current = ctx.deps.store.audit_channel(ctx.team_id)
        if current is None:
            ctx.reply(
                render_notice("The audit trail is not mirrored to a channel. Set one: `/chatrooms audit channel #ops`.")
            )
        else:
            failing = (
                f"\n:warning: Slack refuses the posts there lately ({current.failing})." if current.failing else ""
            )
            ctx.reply(
                render_notice(
                    f"📜 New audit entries are posted in <#{current.channel_id}> (set by <@{current.set_by}>)."
                    f" `/chatrooms audit channel off` stops it.{failing}"
                )
            )
        return
    channel = intent.channel_id

    def announce(channel_id: str) -> None:
        ctx.client.chat_postMessage(channel=channel_id, **channel_set_notice(channel_id, ctx.user_id))

    try:
        audit.set_channel(ctx.actor, channel, announce)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in UNREACHABLE:
            ctx.reply(cannot_post_notice(channel, error, "run `/chatrooms audit channel` again"))
            return
        raise
    ctx.reply(
        render_notice(
            f"📜 Each new audit entry of this workspace will be posted in <#{channel}>. "
            "`/chatrooms audit channel off` stops it."
        )
    )
