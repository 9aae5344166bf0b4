"""`/chatrooms alerts …` (subscribe, list, unsubscribe) and the buttons of digests and the Home tab."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import subscribing
from bot.deps import Deps
from bot.digests import digest_page, resolve_by_user, snooze
from bot.nexudus.query import ChatRoomFilters
from bot.services import EDIT_ROLE, NotLoggedIn, UserSession
from bot.slack import ids
from bot.slack.context import Ctx
from bot.slack.grammar import (
    AlertsChangeIntent,
    AlertsListIntent,
    AlertsSubscribeIntent,
    AlertsUnsubscribeIntent,
    RunIntent,
    ShowIntent,
)
from bot.slack.handlers import Click, Handlers
from bot.slack.listeners.chatrooms import show_chatrooms
from bot.slack.listeners.run import open_run
from bot.slack.metadata import OutOfDate
from bot.slack.publisher import SlackPublisher
from bot.slack.views.alerts import (
    business_text,
    changed_notice,
    changes_text,
    duration_text,
    option_words,
    render_more,
    render_subscriptions,
    schedule_text,
    subscribed_notice,
    subscription_line,
    unsubscribed_notice,
)
from bot.slack.views.chatrooms import cannot_post_notice, render_notice
from bot.slack.views.common import escape
from bot.store import Subscription
from bot.subscriptions import Change, NoSuchSubscription, apply_change, changed_options

log = logging.getLogger(__name__)

_ROW_VALUE = re.compile(r"([A-Za-z0-9_-]{1,64}|-):([0-9]{1,12})")
_SUB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MORE_VALUE = re.compile(r"([A-Za-z0-9_-]{1,64}):([0-9]{1,12}\.[0-9]{1,12}|):([0-9]{1,6})")
UNREACHABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})


def interval_text(deps: Deps) -> str:
    return duration_text(max(1, round(deps.settings.alert_interval_seconds / 60)))


handlers = Handlers()


# ------------------------------------------------------------------------------------- subcommands
@handlers.subcommand(AlertsSubscribeIntent)
def subscribe(intent: AlertsSubscribeIntent, ctx: Ctx) -> None:
    """Subscribe a channel, checked first: a working login, and a channel the app can post in."""
    deps = ctx.deps
    channel = intent.channel_id or ctx.channel_id
    if not channel or channel.startswith("D"):
        ctx.reply(
            render_notice(
                "Alerts go to a channel. Run `/chatrooms alerts subscribe` in that channel, or name it: "
                "`/chatrooms alerts subscribe #support` (pick it from Slack's autocomplete)."
            )
        )
        return
    threshold = intent.threshold_minutes or deps.settings.alert_default_threshold_minutes
    if intent.escalate_after_minutes is not None and intent.escalate_after_minutes <= threshold:
        ctx.reply(
            render_notice(
                f":warning: `escalate-after:` must be longer than the alert threshold ({duration_text(threshold)}"
                f"{'' if intent.threshold_minutes else ', the default'}): escalation is a second, later reminder. "
                "Nothing was set up."
            )
        )
        return
    wanted = Subscription(
        team_id=ctx.team_id,
        enterprise_id=ctx.enterprise_id,
        channel_id=channel,
        created_by=ctx.user_id,
        threshold_minutes=threshold,
        business_id=intent.business,
        created_at=ctx.now(),
        escalate_after_minutes=intent.escalate_after_minutes,
        escalate_to=intent.escalate_to,
        open_hours=intent.hours,
        open_days=intent.days,
        zone=intent.zone,
        summary_minute=intent.summary_minute,
    )
    for existing in deps.store.channel_subscriptions(ctx.team_id, channel):
        if existing.same_filter(wanted):
            ctx.reply(already_subscribed(existing, intent))
            return
    # The scan will use this login: it must work now (NotLoggedIn / CredentialsRejected point to login).
    probe = ctx.session().find(ChatRoomFilters(business=intent.business), size=1)

    # Checked again atomically: two identical subscribes at the same moment make one subscription.
    def announce(new: Subscription) -> None:
        ctx.client.chat_postMessage(channel=channel, **subscribed_notice(new, interval_text(deps)))

    try:
        sub, created = subscribing.subscribe(deps, ctx.actor, wanted, announce)
    except SlackApiError as exc:  # the subscription was removed again: nothing was set up
        error = str(exc.response.get("error") or "")
        if error in UNREACHABLE:
            ctx.reply(cannot_post_notice(channel, error, "subscribe again"))
            return
        raise
    if not created:
        ctx.reply(already_subscribed(sub, intent))
        return
    schedule = f"\n{schedule_text(sub)}" if schedule_text(sub) else ""
    note = ""
    if intent.business is not None and probe.total_items == 0:
        note = f"\n:warning: Nexudus has no chatroom in business {intent.business} yet; is the ID right?"
    ctx.reply(
        render_notice(
            f"🔔 <#{channel}> will hear about chatrooms of {business_text(intent.business)} with no agent visit "
            f"for *{duration_text(threshold)}*, checked every {interval_text(deps)} with your Nexudus login. "
            f"ID `{escape(sub.id)}`; stop with `/chatrooms alerts unsubscribe {escape(sub.id)}`."
            f"{schedule}{note}"
        )
    )


def already_subscribed(existing: Subscription, intent: AlertsSubscribeIntent) -> dict[str, Any]:
    """The channel has alerts with this threshold and business: for the options typed, the `alerts change`
    that gives them (the others are kept, as GitHub's `/github subscribe` adds to a subscription)."""
    text = f"<#{existing.channel_id}> already has these alerts (`{escape(existing.id)}`, by <@{existing.created_by}>)."
    typed = {k: v for k, v in intent.given().items() if k not in ("threshold_minutes", "business_id")}
    words = option_words(existing, existing.model_copy(update=typed))
    if words:
        text += (
            " To change their options in place (what was already alerted is not alerted again), run:\n"
            f"`/chatrooms alerts change {escape(existing.id)} {' '.join(words)}`"
        )
    else:
        text += f" `/chatrooms alerts` in <#{existing.channel_id}> lists them."
    return render_notice(text)


@handlers.subcommand(AlertsChangeIntent)
def change(intent: AlertsChangeIntent, ctx: Ctx) -> None:
    """Change a subscription's options in place: checked and written in one store transaction; the
    channel is told what changed, before → after; its alert records and digests are kept."""
    wanted = Change(values=intent.changes(), by=ctx.user_id, channel_id=ctx.channel_id)
    now = ctx.now()
    result = subscribing.change(
        ctx.deps,
        ctx.actor,
        intent.subscription_id,
        lambda current, siblings: apply_change(current, siblings, wanted, now),
    )
    if result is None:
        raise NoSuchSubscription(intent.subscription_id)
    before, after = result
    if not changed_options(before, after):
        ctx.reply(
            render_notice(
                f"Alerts `{escape(after.id)}` in <#{after.channel_id}> already work that way; nothing changed.\n"
                f"{subscription_line(after)}"
            )
        )
        return
    untold = ""
    try:
        ctx.client.chat_postMessage(channel=after.channel_id, **changed_notice(before, after, ctx.user_id))
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        log.info("alerts %s: could not announce the change in %s (%s)", after.id, after.channel_id, error)
        untold = f"\n:warning: I couldn't tell <#{after.channel_id}> ({escape(error)}); alerts need me there too."
    ctx.reply(
        render_notice(
            f"✏️ Changed alerts `{escape(after.id)}` in <#{after.channel_id}>: {changes_text(before, after)}. "
            f"They take effect from the next check; chatrooms already alerted are not alerted again.{untold}"
        )
    )


@handlers.subcommand(AlertsListIntent)
def list_subscriptions(_: AlertsListIntent, ctx: Ctx, *, note: str | None = None, replace: bool = False) -> None:
    subs = ctx.deps.store.channel_subscriptions(ctx.team_id, ctx.channel_id or "")
    ctx.reply(render_subscriptions(subs, ctx.channel_id, note=note), replace_original=replace)


def remove(subscription_id: str, ctx: Ctx) -> str:
    """Remove one of the team's subscriptions; the sentence says what happened."""
    sub = ctx.deps.store.get_subscription(subscription_id)
    if sub is None or sub.team_id != ctx.team_id:
        return (
            f"There are no alerts `{escape(subscription_id)}` in this workspace. "
            "`/chatrooms alerts` in a channel lists that channel's."
        )
    if ctx.user_id != sub.created_by and ctx.channel_id != sub.channel_id:
        # Alerts of a channel are managed by whoever set them up, or from that channel itself.
        return (
            f"Alerts `{escape(sub.id)}` belong to <#{sub.channel_id}>: unsubscribe from that channel, "
            f"or ask <@{sub.created_by}>, who set them up."
        )
    if not subscribing.unsubscribe(ctx.deps, ctx.actor, sub):
        return (
            f"There are no alerts `{escape(subscription_id)}` in this workspace. "
            "`/chatrooms alerts` in a channel lists that channel's."
        )
    # The channel was told when these alerts started; it is told when they stop, too.
    try:
        ctx.client.chat_postMessage(channel=sub.channel_id, **unsubscribed_notice(sub, ctx.user_id))
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.info("alerts %s: could not announce the removal in %s (%s)", sub.id, sub.channel_id, error)
    return f"🔕 Removed alerts `{escape(sub.id)}` from <#{sub.channel_id}>."


@handlers.subcommand(AlertsUnsubscribeIntent)
def unsubscribe(intent: AlertsUnsubscribeIntent, ctx: Ctx) -> None:
    ctx.reply(render_notice(remove(intent.subscription_id, ctx)))


def parse_row_value(raw: object) -> tuple[str | None, int] | None:
    """`SUB:ID` (or `-:ID`) from a row button; None when forged or out of shape."""
    match = _ROW_VALUE.fullmatch(str(raw or ""))
    if match is None or not 0 < int(match.group(2)) < 2**31:
        return None
    sub_id = match.group(1)
    return (None if sub_id == "-" else sub_id), int(match.group(2))


def _session_or_none(ctx: Ctx) -> UserSession | None:
    try:
        return ctx.session()
    except NotLoggedIn:
        return None


# ------------------------------------------------------------------------------------------ buttons
def refresh_home(ctx: Ctx) -> None:
    if ctx.deps.refresh_home is not None:
        ctx.deps.refresh_home(ctx.client, ctx.team_id, ctx.user_id)


def row_of(click: Click) -> tuple[str | None, int]:
    """A digest or Home row button's subscription and chatroom; a forged or stale value is refused."""
    parsed = parse_row_value(click.action.get("value"))
    if parsed is None:
        raise OutOfDate("That button is out of date; run the command again.")
    return parsed


@handlers.action(ids.ALERT_VISITED)
def mark_visited(ctx: Ctx, click: Click) -> None:
    sub_id, chatroom_id = row_of(click)
    session = ctx.session()
    session.require(EDIT_ROLE, "mark chatrooms visited")
    room, redrawn = resolve_by_user(
        ctx.deps,
        SlackPublisher(ctx.client),
        session,
        team_id=ctx.team_id,
        subscription_id=sub_id,
        chatroom_id=chatroom_id,
        user_id=ctx.user_id,
    )
    if not redrawn and not click.from_home:
        ctx.reply(render_notice(f"✅ *{escape(room.display_name)}* (`#{room.id}`) marked visited just now."))
    if click.from_home:
        refresh_home(ctx)


@handlers.action(ids.ALERT_SNOOZE)
def snooze_room(ctx: Ctx, click: Click) -> None:
    sub_id, chatroom_id = row_of(click)
    until, redrawn = snooze(
        ctx.deps,
        SlackPublisher(ctx.client),
        _session_or_none(ctx),
        team_id=ctx.team_id,
        subscription_id=sub_id,
        chatroom_id=chatroom_id,
        actor=ctx.actor,
    )
    if not redrawn and not click.from_home:
        stamp = f"<!date^{int(until.timestamp())}^{{time}}|{until:%H:%M} UTC>"
        ctx.reply(render_notice(f"💤 Chatroom `#{chatroom_id}` won't be alerted here again before {stamp}."))
    if click.from_home:
        refresh_home(ctx)


@handlers.action(ids.ALERT_SHOW)
def show_row(ctx: Ctx, click: Click) -> None:
    _, chatroom_id = row_of(click)
    show_chatrooms(ShowIntent(ids=[chatroom_id]), ctx)
    if click.from_home:
        refresh_home(ctx)


@handlers.action(ids.ALERT_RUN, opens_modal=True)
def run_on_row(ctx: Ctx, click: Click) -> None:
    _, chatroom_id = row_of(click)
    open_run(RunIntent(key=None, ids=[chatroom_id]), ctx)
    if click.from_home:
        refresh_home(ctx)


@handlers.action(ids.ALERT_MORE)
def more_clicked(ctx: Ctx, click: Click) -> None:
    """A digest's "Show the other N" (and its Next page): privately, to the clicking user."""
    match = _MORE_VALUE.fullmatch(click.value)
    if match is None or not (match.group(2) or click.message_ts):
        raise OutOfDate("That button is out of date; wait for the next alert.")
    sub_id, message_ts, offset = match.group(1), match.group(2) or str(click.message_ts), int(match.group(3))
    sub, rows, start, total = digest_page(
        ctx.deps, ctx.session(), team_id=ctx.team_id, subscription_id=sub_id, message_ts=message_ts, offset=offset
    )
    msg = render_more(sub, rows, message_ts=message_ts, offset=start, total=total, now=ctx.now())
    ctx.reply(msg, replace_original=bool(match.group(2)))  # Next replaces the page it is on


@handlers.action(ids.ALERT_UNSUBSCRIBE)
def unsubscribe_clicked(ctx: Ctx, click: Click) -> None:
    if not _SUB_ID.fullmatch(click.value):
        raise OutOfDate("That button is out of date; run `/chatrooms alerts` again.")
    note = remove(click.value, ctx)
    if click.from_home:
        refresh_home(ctx)
        return
    list_subscriptions(AlertsListIntent(), ctx, note=note, replace=True)
