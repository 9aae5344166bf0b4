"""Stale-visit alerts as Block Kit: the channel digest, the subscription list, the notices, the Home tab.

Pure functions from data to JSON. A digest row and a Home row share one renderer, so a chatroom looks
and acts the same wherever it is shown; every view is cut to Slack's block limits here, not by callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.digests import MAX_DIGEST_ROWS, MORE_PAGE, DigestMessage, StaleRow
from bot.schedule import DailySummary
from bot.services import EDIT_ROLE
from bot.slack import ids
from bot.slack.limits import MAX_HOME_BLOCKS, MAX_MESSAGE_BLOCKS
from bot.slack.views.common import (
    Block,
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    header,
    refused_note,
    relative_time,
    section,
)
from bot.store import Subscription

MAX_HOME_ROWS = 30  # 60 blocks of rows, leaving 40 for login status, subscriptions and headings
MAX_HOME_SUBSCRIPTIONS = 10
MAX_HOME_SECTIONS = 5  # with 10 subscriptions, 30 rows and the last 7 days, the Home tab stays under 100 blocks
MAX_LISTED_SUBSCRIPTIONS = 45  # one block each under the 50-block message limit (with a note, a head, a hint)
MAX_NAME = 150
SNOOZE_LABEL = "Snooze 1 h"
CHANGE_HINT = (
    "Change one in place with `/chatrooms alerts change ID` and any of `after:` `business:` `escalate-after:` "
    "`escalate-to:` `hours:` `days:` `zone:` `summary:` (`off` turns one off)."
)
UNFOLLOWED = "No longer listed: visited or closed in Nexudus, or outside the business these alerts now follow"


@dataclass(frozen=True)
class HomeSection:
    """The stale chatrooms of one watched subscription (or the default threshold when there is none)."""

    title: str
    subscription_id: str | None
    rows: Sequence[StaleRow]
    total: int
    error: str | None = None
    above: int = 0
    """Rooms of this section already listed in an earlier section (each room is listed once)."""


# ------------------------------------------------------------------------------------------- text


def duration_text(minutes: int) -> str:
    """`30 min`, `4 h`, `1 h 30 min`, `2 d`, `1 d 6 h` — how thresholds are typed and read."""
    days, rest = divmod(max(0, int(minutes)), 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if mins:
        parts.append(f"{mins} min")
    return " ".join(parts) or "0 min"


def business_text(business_id: int | None) -> str:
    return f"business {business_id}" if business_id is not None else "all businesses"


def more_value(subscription_id: str, message_ts: str, offset: int) -> str:
    """The value of a digest's "Show the other N" button (and of its Next page): `SUB:TS:OFFSET`."""
    return f"{subscription_id}:{message_ts}:{int(offset)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


# ------------------------------------------------------------------------------------------- rows


def row_value(subscription_id: str | None, chatroom_id: int) -> str:
    """A row button's value: `SUB:ID`, or `-:ID` on the Home tab's default section (no subscription)."""
    return f"{subscription_id or '-'}:{int(chatroom_id)}"


def row_blocks(
    row: StaleRow,
    subscription_id: str | None,
    now: datetime,
    scope: str = "alert",
    refused: frozenset[str] = frozenset(),
) -> list[Block]:
    """A chatroom's section, and its buttons while it still waits; `scope` keeps block ids unique in a view.

    `refused` (one user's view, the Home tab): roles Nexudus refused them, whose buttons are left out.
    """
    name = escape(clip(row.name, MAX_NAME))
    room_id = f"{scope}.room.{row.chatroom_id}"
    if row.state == "gone":
        return [section(f"~{name}~  `#{row.chatroom_id}`\n🗑️ No longer in Nexudus.", block_id=room_id)]
    if row.state == "resolved":
        who = f"Marked visited by <@{row.by}>" if row.by else "No longer waiting: visited or closed in Nexudus"
        return [section(f"~{name}~  `#{row.chatroom_id}`\n✅ {who}.", block_id=room_id)]
    if row.state == "unfollowed":
        return [section(f"~{name}~  `#{row.chatroom_id}`\n➖ {UNFOLLOWED}.", block_id=room_id)]
    if row.last_visit is not None:
        waited = f"Last agent visit *{relative_time(row.last_visit, now)}*"
    else:
        waited = f"*Never visited* · created {relative_time(row.created_on, now)}"
    text = f"*{name}*  `#{row.chatroom_id}`\n{waited}"
    if row.state == "snoozed" and row.until is not None:
        who = f" by <@{row.by}>" if row.by else ""
        text += f"\n💤 Snoozed{who} until {_clock_time(row.until)}."
    elif row.state == "reposted":
        text += "\n↪️ Still waiting: its snooze ended, so a newer alert lists it again."
    elif row.state == "escalated" and row.escalated_at is not None:
        text += f"\n🚨 Escalated {relative_time(row.escalated_at, now)} (see the thread)."
    value = row_value(subscription_id, row.chatroom_id)
    can_edit = EDIT_ROLE not in refused
    buttons = [button("Mark visited", ids.ALERT_VISITED, value, style="primary")] if can_edit else []
    if subscription_id is not None:
        buttons.append(button(SNOOZE_LABEL, ids.ALERT_SNOOZE, value))
    buttons.append(button("Show", ids.ALERT_SHOW, value))
    if can_edit:
        buttons.append(button("Run command", ids.ALERT_RUN, value))
    return [section(text, block_id=room_id), actions(*buttons, block_id=f"{scope}.act.{row.chatroom_id}")]


def _clock_time(when: datetime) -> str:
    """A time shown in each reader's zone by Slack, with a UTC fallback."""
    fallback = when.astimezone(UTC).strftime("%H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{time}}|{fallback}>"


# ----------------------------------------------------------------------------------------- digest


def render_digest(sub: Subscription, message: DigestMessage) -> dict[str, Any]:
    """One subscription's alert: the oldest rows with buttons, the rest counted with the command to list them."""
    rows, now, quiet_since = message.rows, message.now, message.quiet_since
    shown = list(rows)[:MAX_DIGEST_ROWS]
    more = message.more + len(rows) - len(shown)
    total = len(shown) + more
    title = (
        f"⏰ *{_plural(total, 'chatroom')}* {'has' if total == 1 else 'have'} waited more than "
        f"*{duration_text(sub.threshold_minutes)}* for an agent ({business_text(sub.business_id)})."
    )
    blocks: list[Block] = [section(title, block_id="alert.head")]
    if quiet_since is not None:
        blocks.append(
            context(f"🌅 Posted at the opening of this channel's alert hours: quiet since {_clock_time(quiet_since)}.")
        )
    for row in shown:
        blocks.extend(row_blocks(row, sub.id, now))
    if more:
        blocks.append(
            context(f"…and {more} more that {'has' if more == 1 else 'have'} waited less long (not repeated here)."),
        )
        label = f"Show the other {more}"
        blocks.append(actions(button(label, ids.ALERT_MORE, more_value(sub.id, "", len(shown))), block_id="alert.more"))
    blocks.append(
        context(f"Subscription `{escape(sub.id)}` by <@{sub.created_by}> · `/chatrooms alerts` to manage it."),
    )
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    names = escape(", ".join(r.name for r in shown[:5]))
    return {"text": clip(f"{_plural(total, 'chatroom')} waiting for an agent: {names}", 3000), "blocks": blocks}


def render_more(
    sub: Subscription, rows: Sequence[StaleRow], *, message_ts: str, offset: int, total: int, now: datetime
) -> dict[str, Any]:
    """The chatrooms a digest counted but did not show, a page at a time, each with its current state."""
    last = offset + len(rows)
    head = (
        f"*Chatrooms {offset + 1}–{last} of {total}* in the alert `{escape(sub.id)}` "
        f"({business_text(sub.business_id)}, no agent visit for *{duration_text(sub.threshold_minutes)}*)"
    )
    lines: list[str] = []
    for row in rows:
        name = escape(clip(row.name, 80))
        if row.state == "gone":
            lines.append(f"~{name}~ `#{row.chatroom_id}` · 🗑️ no longer in Nexudus")
        elif row.state == "resolved":
            who = f"marked visited by <@{row.by}>" if row.by else "no longer waiting"
            lines.append(f"~{name}~ `#{row.chatroom_id}` · ✅ {who}")
        elif row.state == "unfollowed":
            lines.append(f"~{name}~ `#{row.chatroom_id}` · ➖ {UNFOLLOWED[0].lower()}{UNFOLLOWED[1:]}")
        else:
            waited = (
                f"last agent visit {relative_time(row.last_visit, now)}"
                if row.last_visit is not None
                else f"never visited · created {relative_time(row.created_on, now)}"
            )
            snoozed = f" · 💤 until {_clock_time(row.until)}" if row.state == "snoozed" and row.until else ""
            snoozed += " · 🚨 escalated" if row.state == "escalated" else ""
            lines.append(f"*{name}* `#{row.chatroom_id}` · {waited}{snoozed}")
    blocks: list[Block] = [section(head, block_id="more.head")]
    chunk: list[str] = []
    for line in lines:
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks.append(context("`/chatrooms show ID` opens one with its buttons."))
    if last < total:
        blocks.append(
            actions(
                button(f"Next {min(MORE_PAGE, total - last)} ▶", ids.ALERT_MORE, more_value(sub.id, message_ts, last)),
                block_id="more.next",
            )
        )
    return {"text": f"Chatrooms {offset + 1}–{last} of {total} waiting for an agent", "blocks": blocks}


# --------------------------------------------------------------------------------- channel notices


def notice(text: str) -> dict[str, Any]:
    """A one-section message the worker posts to a channel (paused, resumed, failing, recovered)."""
    return {"text": clip(text, 3000), "blocks": [section(text)]}


def paused_notice(sub: Subscription, reason: str) -> dict[str, Any]:
    return notice(
        f"⏸️ Stale-visit alerts `{escape(sub.id)}` are paused: {reason} "
        f"<@{sub.created_by}> can run `/chatrooms login` to resume them; nothing is lost meanwhile."
    )


def resumed_notice(sub: Subscription) -> dict[str, Any]:
    return notice(f"▶️ Stale-visit alerts `{escape(sub.id)}` are running again with <@{sub.created_by}>'s login.")


def error_notice(sub: Subscription, detail: str, interval_text: str) -> dict[str, Any]:
    return notice(
        f"⚠️ I couldn't check for waiting chatrooms (alerts `{escape(sub.id)}`). {detail}\n"
        f"I'll keep trying every {interval_text} and won't repeat this message."
    )


def recovered_notice(sub: Subscription) -> dict[str, Any]:
    return notice(f"✅ Checking for waiting chatrooms works again (alerts `{escape(sub.id)}`).")


def subscribed_notice(sub: Subscription, interval_text: str) -> dict[str, Any]:
    return notice(
        f"🔔 <@{sub.created_by}> subscribed this channel to stale-visit alerts: chatrooms of "
        f"{business_text(sub.business_id)} with no agent visit for *{duration_text(sub.threshold_minutes)}*. "
        f"Checked every {interval_text}, with <@{sub.created_by}>'s Nexudus login. ID `{escape(sub.id)}`."
    )


def unsubscribed_notice(sub: Subscription, by: str) -> dict[str, Any]:
    return notice(
        f"🔕 <@{by}> removed the stale-visit alerts `{escape(sub.id)}` from this channel (chatrooms of "
        f"{business_text(sub.business_id)} with no agent visit for *{duration_text(sub.threshold_minutes)}*, "
        f"set up by <@{sub.created_by}>). No more alerts will be posted for them."
    )


# ---------------------------------------------------------------------------------- subscriptions


def mention(target: str) -> str:
    """A Slack user (`U…`/`W…`) or user group (`S…`) as a mention."""
    return f"<!subteam^{target}>" if target.startswith("S") else f"<@{target}>"


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def schedule_text(sub: Subscription) -> str:
    """`escalates to @leads after 8 h · posts 08:00–20:00 Mon–Fri (Europe/Paris) · summary 09:00`, or ""."""
    parts: list[str] = []
    if sub.escalate_after_minutes is not None and sub.escalate_to:
        parts.append(f"escalates to {mention(sub.escalate_to)} after *{duration_text(sub.escalate_after_minutes)}*")
    if sub.open_hours is not None or sub.open_days is not None:
        hours = f"{hhmm(sub.open_hours[0])}–{hhmm(sub.open_hours[1])}" if sub.open_hours else "all day"
        parts.append(f"posts {hours}, {_days_text(sub.open_days)}")
    if sub.summary_minute is not None:
        parts.append(f"daily summary at {hhmm(sub.summary_minute)}")
    if parts:
        parts.append(f"({escape(sub.zone)})" if sub.zone else "(the space's time zone)")
    return " · ".join(parts)


def render_escalation(sub: Subscription, row: StaleRow, now: datetime) -> dict[str, Any]:
    """A room still waiting past `escalate-after`, posted in its digest's thread with the mention."""
    since = row.waiting_since
    waited = relative_time(since, now).removesuffix(" ago") if since else "a long time"
    who = mention(sub.escalate_to or "")
    text = (
        f"🚨 {who} *{escape(clip(row.name, MAX_NAME))}* (`#{row.chatroom_id}`) has waited {waited} for an agent — "
        f"more than {duration_text(sub.escalate_after_minutes or 0)}."
    )
    return {"text": clip(text, 3000), "blocks": [section(text)]}


def render_escalation_resolved(rec_chatroom_id: int, by: str | None) -> dict[str, Any]:
    who = f"marked visited by <@{by}>" if by else "visited or closed in Nexudus"
    text = f"✅ Chatroom `#{rec_chatroom_id}` is no longer waiting: {who}."
    return {"text": text, "blocks": [section(text)]}


def render_summary(sub: Subscription, summary: DailySummary, now: datetime) -> dict[str, Any]:
    """`summary:HH:MM`: "3 rooms waiting, oldest 5 h; yesterday 14 alerted, median time to visit 42 min"."""
    if summary.waiting:
        oldest = relative_time(summary.oldest_since, now).removesuffix(" ago") if summary.oldest_since else "?"
        now_text = f"{_plural(summary.waiting, 'room')} waiting, oldest {oldest}"
    else:
        now_text = "no room waiting"
    median = (
        f", median time to visit {duration_text(summary.median_minutes_to_visit)} after going stale"
        if summary.median_minutes_to_visit is not None
        else ""
    )
    escalated = f", {summary.escalated_yesterday} escalated" if summary.escalated_yesterday else ""
    text = (
        f"📋 Daily summary ({business_text(sub.business_id)}): {now_text}; yesterday "
        f"{summary.alerted_yesterday} alerted{escalated}{median}."
    )
    return {
        "text": clip(text, 3000),
        "blocks": [section(text), context(f"Subscription `{escape(sub.id)}` · `/chatrooms alerts` to manage it.")],
    }


def opened_notice(
    sub: Subscription, quiet_since: datetime, waiting: int, oldest_since: datetime | None, now: datetime
) -> dict[str, Any]:
    if waiting:
        oldest = relative_time(oldest_since, now).removesuffix(" ago") if oldest_since else "?"
        what = f"{_plural(waiting, 'room')} still waiting (already listed above), the longest for {oldest}"
    else:
        what = "no room waited"
    return notice(
        f"🌅 Alerts `{escape(sub.id)}` are open again. Since {_clock_time(quiet_since)}, nothing new started "
        f"waiting; {what}."
    )


def _days_text(days: Sequence[int] | None) -> str:
    if days is None or len(days) == 7:
        return "every day"
    if len(days) > 2 and list(days) == list(range(days[0], days[-1] + 1)):
        return f"{DAY_LABELS[days[0]]}–{DAY_LABELS[days[-1]]}"
    return ", ".join(DAY_LABELS[d] for d in days)


def option_texts(sub: Subscription) -> dict[str, str]:
    """Each option of `sub` in words, by label: what `alerts change` announces before → after."""
    escalation = "off"
    if sub.escalate_after_minutes is not None and sub.escalate_to:
        escalation = f"to {mention(sub.escalate_to)} after {duration_text(sub.escalate_after_minutes)}"
    return {
        "threshold": duration_text(sub.threshold_minutes),
        "business": business_text(sub.business_id),
        "escalation": escalation,
        "hours": f"{hhmm(sub.open_hours[0])}–{hhmm(sub.open_hours[1])}" if sub.open_hours else "any hour",
        "days": _days_text(sub.open_days),
        "time zone": escape(sub.zone) if sub.zone else "the space's",
        "daily summary": f"at {hhmm(sub.summary_minute)}" if sub.summary_minute is not None else "off",
    }


def changes_text(before: Subscription, after: Subscription) -> str:
    """`hours any hour → 09:00–18:00 · escalation to @leads after 8 h → off`: the options that differ."""
    old, new = option_texts(before), option_texts(after)
    return " · ".join(f"{label} {old[label]} → *{new[label]}*" for label in new if old[label] != new[label])


def changed_notice(before: Subscription, after: Subscription, by: str) -> dict[str, Any]:
    """Told in the channel when `alerts change` changed its alerts (as subscribing and unsubscribing are)."""
    return notice(
        f"✏️ <@{by}> changed the stale-visit alerts `{escape(after.id)}` of this channel: "
        f"{changes_text(before, after)}. Chatrooms already alerted here are not alerted again."
    )


def _duration_word(minutes: int) -> str:
    """A duration as typed in a command (`4h`, `1d6h`, `1h30m`)."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n) or "0m"


def option_words(before: Subscription, after: Subscription) -> list[str]:
    """The `key:value` (or `key:off`) words that turn `before`'s options into `after`'s."""
    words: list[str] = []
    if after.threshold_minutes != before.threshold_minutes:
        words.append(f"after:{_duration_word(after.threshold_minutes)}")
    if after.business_id != before.business_id:
        words.append(f"business:{after.business_id if after.business_id is not None else 'off'}")
    escalation = (after.escalate_after_minutes, after.escalate_to)
    if escalation != (before.escalate_after_minutes, before.escalate_to):
        if after.escalate_after_minutes is None or after.escalate_to is None:
            words.append("escalate-after:off")
        else:
            words.append(f"escalate-after:{_duration_word(after.escalate_after_minutes)}")
            words.append(f"escalate-to:{mention(after.escalate_to)}")
    if after.open_hours != before.open_hours:
        hours = after.open_hours
        words.append(f"hours:{hhmm(hours[0])}-{hhmm(hours[1])}" if hours else "hours:off")
    if after.open_days != before.open_days:
        days = after.open_days
        words.append(f"days:{','.join(DAY_LABELS[d].lower() for d in days)}" if days else "days:off")
    if after.zone != before.zone:
        words.append(f"zone:{escape(after.zone) if after.zone else 'off'}")
    if after.summary_minute != before.summary_minute:
        minute = after.summary_minute
        words.append(f"summary:{hhmm(minute)}" if minute is not None else "summary:off")
    return words


def subscription_line(sub: Subscription) -> str:
    text = (
        f"`{escape(sub.id)}` · after *{duration_text(sub.threshold_minutes)}* · {business_text(sub.business_id)}"
        f" · in <#{sub.channel_id}> · by <@{sub.created_by}>"
    )
    extra = schedule_text(sub)
    if extra:
        text += f"\n{extra}"
    if sub.paused_reason:
        text += f"\n⏸️ Paused: {clip(sub.paused_reason, 300)}"  # our own sentence, mentions included
    elif sub.last_error:
        text += f"\n⚠️ Last check failed: {clip(sub.last_error, 300)}"
    else:
        text += "\n▶️ Active"
    return text


def render_subscriptions(
    subs: Sequence[Subscription], channel_id: str | None, note: str | None = None
) -> dict[str, Any]:
    """A channel's subscriptions, each with an Unsubscribe button; `note` says what just happened."""
    where = f"<#{channel_id}>" if channel_id else "this conversation"
    lead: list[Block] = [context(note)] if note else []
    if not subs:
        text = (
            f"No stale-visit alerts in {where}. `/chatrooms alerts subscribe [#channel] [after:4h] "
            "[business:ID]` sets one up."
        )
        return {"text": note or "No alert subscriptions here.", "blocks": [*lead, section(text)]}
    blocks: list[Block] = [*lead, section(f"*Stale-visit alerts in {where}*", block_id="alerts.head")]
    for sub in list(subs)[:MAX_LISTED_SUBSCRIPTIONS]:
        confirm = {
            "title": {"type": "plain_text", "text": "Unsubscribe?"},
            "text": {"type": "mrkdwn", "text": f"Stop alerts `{escape(sub.id)}` in <#{sub.channel_id}>?"},
            "confirm": {"type": "plain_text", "text": "Unsubscribe"},
            "deny": {"type": "plain_text", "text": "Keep"},
        }
        accessory = button("Unsubscribe", ids.ALERT_UNSUBSCRIBE, sub.id, style="danger", confirm=confirm)
        blocks.append(section(subscription_line(sub), accessory=accessory, block_id=f"alerts.sub.{sub.id}"))
    if len(subs) > MAX_LISTED_SUBSCRIPTIONS:
        blocks.append(context(f"…and {len(subs) - MAX_LISTED_SUBSCRIPTIONS} more."))
    blocks.append(context(CHANGE_HINT))
    return {"text": f"{_plural(len(subs), 'alert subscription')} here.", "blocks": blocks}


# --------------------------------------------------------------------------------------- home tab


def home_section_summary(total: int, shown: int, above: int, no_room: int) -> str | None:
    """What a Home section says under its rows, true in every case.

    `total` rooms wait; `shown` are listed here, `above` were listed in an earlier section, and
    `no_room` were left out because the tab's rows were used up.
    """
    total = max(total, shown + above + no_room)
    if total == 0:
        return "Nothing is waiting. 🎉"
    if shown == total:
        return None
    if shown == 0 and above == total:
        if total == 1:
            return "The chatroom waiting here is listed in a section above."
        return f"All {total} chatrooms waiting here are listed in a section above."
    parts = [f"Showing the oldest {shown} of {total}." if shown else f"{_plural(total, 'chatroom')} waiting."]
    if above:
        parts.append(f"{above} {'is' if above == 1 else 'are'} listed in a section above.")
    if no_room:
        parts.append(f"{no_room} more did not fit: the Home tab shows at most {MAX_HOME_ROWS} rows in all.")
    rest = total - shown - above - no_room
    if rest > 0:
        parts.append(f"{rest} more {'has' if rest == 1 else 'have'} waited less long.")
    return " ".join(parts)


def render_home(
    *,
    email: str | None,
    subscriptions: Sequence[Subscription],
    sections: Sequence[HomeSection],
    now: datetime,
    note: str | None = None,
    refused: frozenset[str] = frozenset(),
    week: Sequence[Block] = (),
) -> dict[str, Any]:
    """The Home tab: login status, the user's subscriptions, the last 7 days (`week`: the workspace's response
    times, `bot/slack/views/stats.py`) and what is waiting now, with actions."""
    blocks: list[Block] = [header("Nexudus chatrooms")]
    if email:
        blocks.append(
            section(
                f"✅ Logged in to Nexudus as *{escape(email)}*.",
                accessory=button("Log out", ids.HOME_LOGOUT),
                block_id="home.login",
            )
        )
    else:
        blocks.append(
            section(
                "🔑 You are not logged in to Nexudus. Log in to see and act on chatrooms waiting for an agent.",
                accessory=button("Log in", ids.LOGIN, style="primary"),
                block_id="home.login",
            )
        )
    if note:
        blocks.append(context(note))
    if email and (why := refused_note(refused)):
        blocks.append(context(why))
    blocks.append(divider())
    blocks.append(section("*Your alert subscriptions*", block_id="home.subs"))
    if subscriptions:
        for sub in list(subscriptions)[:MAX_HOME_SUBSCRIPTIONS]:
            blocks.append(context(subscription_line(sub)))
        if len(subscriptions) > MAX_HOME_SUBSCRIPTIONS:
            blocks.append(context(f"…and {len(subscriptions) - MAX_HOME_SUBSCRIPTIONS} more."))
    else:
        blocks.append(
            context("None yet. In a channel, `/chatrooms alerts subscribe after:4h` posts waiting chatrooms there.")
        )
    blocks.extend(week)
    budget = MAX_HOME_ROWS
    for number, part in enumerate(list(sections)[:MAX_HOME_SECTIONS]):
        blocks.append(divider())
        blocks.append(section(f"*{escape(part.title)}*", block_id=f"home.stale.{number}"))
        if part.error:
            blocks.append(context(part.error))
            continue
        shown = list(part.rows)[: max(0, budget)]
        budget -= len(shown)
        for row in shown:
            blocks.extend(row_blocks(row, part.subscription_id, now, scope=f"home.{number}", refused=refused))
        summary = home_section_summary(part.total, len(shown), part.above, len(part.rows) - len(shown))
        if summary:
            blocks.append(context(summary))
    assert len(blocks) <= MAX_HOME_BLOCKS
    return {"type": "home", "blocks": blocks}
