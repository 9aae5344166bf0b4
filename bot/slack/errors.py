"""The one place an exception becomes words for a Slack user. No listener formats an error by hand.

Exception messages are plain sentences that may carry Nexudus' or the user's text, so the words are
escaped for mrkdwn here (field errors stay plain: Slack shows them as plain text under the field). A
Slack refusal (`SlackApiError`) gets its own words; anything unexpected gets a short reference id that
is in the log line too, so the person can quote it and an operator can find it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.alerts import CycleFailed
from bot.digests import PublishRefused
from bot.locks import LockTimeout, SharedStateUnavailable
from bot.nexudus.errors import (
    CommandFailed,
    Conflict,
    NexudusError,
    NotFound,
    QuotaExhausted,
    RateLimited,
    Unavailable,
    UnexpectedResponse,
    ValidationFailed,
)
from bot.services import (
    ChatroomBusy,
    CredentialsRejected,
    DigestGone,
    InvalidLogin,
    LoginExpired,
    MissingRole,
    NotLoggedIn,
    SubscriptionGone,
    UnknownCommand,
)
from bot.slack import ids
from bot.slack.grammar import GrammarError
from bot.slack.lanes import TooManyPending
from bot.slack.metadata import BadMetadata, OutOfDate
from bot.slack.views.alerts import duration_text
from bot.slack.views.common import escape
from bot.store import DatabaseFull, PoolExhausted, StoreDamaged, StoreError, StoreUnavailable
from bot.subscriptions import EscalationIncomplete, EscalationNotLater, NoSuchSubscription, NotTheirs, SameAlertsExist

log = logging.getLogger(__name__)

SubscriptionRefusal = NoSuchSubscription | NotTheirs | EscalationIncomplete | EscalationNotLater | SameAlertsExist


LONG_THROTTLE = 90.0  # seconds: a Retry-After longer than the per-minute window means an hourly/daily limit


_RESET_AT = "RESET_AT_PLACEHOLDER"  # replaced by a Slack date token once the words are escaped


def _slack_time(when: datetime) -> str:
    """A time Slack shows in each reader's own zone, with a UTC fallback."""
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{when:%Y-%m-%d %H:%M} UTC>"


@dataclass(frozen=True)
class UserMessage:
    text: str
    login_button: bool = False
    field_errors: dict[str, str] = field(default_factory=dict)
    reference: str | None = None  # set for unexpected errors: also in the log line


# Slack's refusals a person can act on; anything else is ours to fix, with a reference.
_SLACK_WORDS = {
    "ratelimited": "Slack is rate-limiting this app right now; try again in a minute.",
    "not_in_channel": "I'm not a member of that channel: `/invite` me there first.",
    "channel_not_found": "Slack can't find that channel, or I can't see it: `/invite` me there first.",
    "is_archived": "That channel is archived, so I can't post there.",
    "restricted_action": "This workspace doesn't let me post there.",
    "expired_trigger_id": "Slack took too long to open the form; please try again.",
    "not_found": "That form was closed before I could update it.",
    "message_not_found": "That message no longer exists in Slack.",
}


def describe(exc: BaseException) -> UserMessage:
    """Translate any exception into a clear sentence (and field errors where Nexudus named fields)."""
    if isinstance(exc, CycleFailed):
        return UserMessage(_cycle_failure(exc.cause, exc.subscription.channel_id, exc.subscription.id))
    if isinstance(exc, SubscriptionRefusal):
        return UserMessage(_change_refused(exc))
    message = _words(exc)
    text = _escape_data(message.text)
    if isinstance(exc, QuotaExhausted):  # Slack's date token is markup, inserted after escaping the data
        text = text.replace(_RESET_AT, _slack_time(exc.resets_at))
    return UserMessage(
        text,
        message.login_button,
        message.field_errors,
        message.reference,
    )


def _change_refused(exc: SubscriptionRefusal) -> str:
    """Why `alerts change` changed nothing, as markup: its data are ids the app checked (channel and user
    mentions must stay mentions), and durations."""
    if isinstance(exc, NoSuchSubscription):
        return (
            f":mag: There are no alerts `{escape(exc.sub_id)}` in this workspace. `/chatrooms alerts` in a "
            "channel lists that channel's, with their IDs."
        )
    if isinstance(exc, NotTheirs):
        return (
            f":no_entry: Alerts `{exc.sub_id}` belong to <#{exc.channel_id}>: change them from that channel, "
            f"or ask <@{exc.created_by}>, who set them up. Nothing was changed."
        )
    if isinstance(exc, EscalationIncomplete):
        what = (
            "someone to escalate to: add `escalate-to:@person` or `escalate-to:@group` (pick them from Slack's "
            "autocomplete)"
            if exc.missing == "escalate-to"
            else "to know when: add `escalate-after:8h` (longer than the alert threshold)"
        )
        return f":warning: These alerts have no escalation yet, so it needs {what}. Nothing was changed."
    if isinstance(exc, EscalationNotLater):
        return (
            f":warning: Escalation after {duration_text(exc.escalate_after_minutes)} would not come after the "
            f"alert itself ({duration_text(exc.threshold_minutes)}): escalation is a second, later reminder. "
            "Make `escalate-after:` longer than `after:`, or turn escalation off with `escalate-after:off`. "
            "Nothing was changed."
        )
    if isinstance(exc, SameAlertsExist):
        return (
            f":twisted_rightwards_arrows: <#{exc.channel_id}> already has alerts `{exc.existing_id}` with that "
            "threshold and business, so nothing was changed. Change those instead, or unsubscribe one of them."
        )
    raise TypeError(f"unknown refusal {exc!r}")


def _invalid_login_words(exc: InvalidLogin) -> str:
    if exc.reason == "code":
        return exc.detail or "Nexudus did not accept that 2FA code."
    if exc.reason == "no_token_endpoint":
        return (
            "This Nexudus server offers no token login (/api/token). Ask the app's admin to set "
            "NEXUDUS_AUTH=auto or basic."
        )
    return (
        "Nexudus did not accept that e-mail and password (or the account lacks the ChatRoom-List role, "
        "which this app needs to do anything)."
    )


def sentence(exc: BaseException) -> str:
    """`describe`'s words before mrkdwn escaping, for a view that escapes what it shows itself."""
    return _words(exc).text


def _escape_data(text: str) -> str:
    """Our sentences hold no `&`, `<` or `>`, so escaping the whole text escapes only the data in it."""
    return escape(text)


def _words(exc: BaseException) -> UserMessage:
    if isinstance(exc, SubscriptionRefusal):
        return UserMessage(_change_refused(exc))
    if isinstance(exc, InvalidLogin):
        return UserMessage(_invalid_login_words(exc))
    if isinstance(exc, NotLoggedIn | CredentialsRejected):
        return UserMessage(f":key: {_login_words(exc)}", login_button=True)
    if isinstance(exc, MissingRole):
        again = (
            " (Nexudus refused it a moment ago, so I did not ask again: once it is granted, `/chatrooms login` "
            "lets you retry at once.)"
            if exc.remembered
            else ""
        )
        return UserMessage(
            f":no_entry: Your Nexudus account lacks the *{exc.role}* role, which is needed to {exc.operation}.{again} "
            "Ask a Nexudus administrator to grant it."
        )
    if isinstance(exc, UnknownCommand):
        hint = f" Did you mean `{exc.suggestion}`?" if exc.suggestion else ""
        return UserMessage(f":warning: There is no command `{exc.key}`.{hint} Run `/chatrooms commands` to see them.")
    if isinstance(exc, ValidationFailed):
        by_field: dict[str, str] = {}
        for prop, text in exc.by_field().items():
            block = ids.PROPERTY_TO_BLOCK.get(prop, prop)  # an unknown property keeps its name
            by_field[block] = f"{by_field[block]} {text}" if block in by_field else text
        details = "; ".join(f"{ids.PROPERTY_LABELS.get(k, k) or 'record'}: {v}" for k, v in exc.by_field().items())
        return UserMessage(f":warning: Nexudus refused it: {details or exc}", field_errors=by_field)
    if isinstance(exc, CommandFailed):
        return UserMessage(f":x: {exc}")
    if isinstance(exc, Conflict):
        return UserMessage(f":twisted_rightwards_arrows: {exc}")
    if isinstance(exc, NotFound):
        return UserMessage(f":mag: {exc} It may have been deleted.")
    if isinstance(exc, NexudusError) and exc.maybe_applied:
        return UserMessage(
            f":hourglass: {exc} Your change may or may not have been applied: check the chatroom "
            "(`/chatrooms show ID`) before trying again."
        )
    if isinstance(exc, QuotaExhausted):
        kind = "writes (changes)" if exc.writes else "requests"
        return UserMessage(
            f":hourglass: Your Nexudus account has used all {exc.limit:,} {kind} Nexudus allows per {exc.period}. "
            f"Nothing was sent or changed. It can be used again at {_RESET_AT}."
        )
    if isinstance(exc, SharedStateUnavailable):
        log.error("could not %s: Redis did not answer (%s)", exc.what, exc.cause or "no answer in time")
        return UserMessage(
            ":hourglass: The app could not coordinate this with its other processes (its Redis did not answer), "
            "so nothing was sent to Nexudus and nothing was changed. Try again in a minute; if it keeps "
            "happening, tell whoever runs the app."
        )
    if isinstance(exc, LockTimeout):  # the services turn it into ChatroomBusy; worded in case one slips through
        return UserMessage(
            ":lock: Someone else is changing this right now. Nothing was changed; try again in a moment."
        )
    if isinstance(exc, ChatroomBusy):
        return UserMessage(
            f":lock: Chatroom {exc.chatroom_id} is being saved by someone else right now. Nothing was changed; "
            "reopen it in a moment to see their change, then try again."
        )
    if isinstance(exc, RateLimited) and exc.retry_after and exc.retry_after > LONG_THROTTLE:
        # Not the per-minute throttle: the account has likely used Nexudus' hourly or daily allowance
        # (another app may share it, so our own pacer could not see it coming).
        minutes = max(1, round(exc.retry_after / 60))
        return UserMessage(
            ":hourglass: Nexudus refuses more requests from this account for now — it has likely used its "
            f"hourly or daily allowance. Nothing was changed; it can be used again in about {minutes} min."
        )
    if isinstance(exc, RateLimited):
        return UserMessage(f":hourglass: {exc} Nothing was changed.")
    if isinstance(exc, Unavailable):
        return UserMessage(f":hourglass: {exc} Nothing was changed; try again in a moment.")
    if isinstance(exc, SubscriptionGone):
        return UserMessage(
            f":mag: Those stale-visit alerts were removed, so there is nothing to {exc.action} here. "
            "`/chatrooms alerts` lists this channel's subscriptions."
        )
    if isinstance(exc, DigestGone):
        return UserMessage(
            ":mag: I no longer keep the list behind that alert message. The next alert lists what still waits; "
            "`/chatrooms list active:true sort:visited` shows every active chatroom, longest waiting first."
        )
    if isinstance(exc, GrammarError):
        return UserMessage(f":warning: {exc.message}\n{exc.usage}" if exc.usage else f":warning: {exc.message}")
    if isinstance(exc, TooManyPending):
        return UserMessage(
            f":hourglass: You already have {exc.pending} requests waiting for Nexudus, so this one was not "
            "started. Run it again once they have answered."
        )
    if isinstance(exc, BadMetadata):
        return UserMessage(f":warning: {exc}")
    if isinstance(exc, OutOfDate):  # a forged or stale button: its sentence says what to do instead
        return UserMessage(str(exc))
    if isinstance(exc, UnexpectedResponse):
        # Not the user's to fix: the status and a redacted excerpt of Nexudus' answer go to the log.
        log.warning("Nexudus gave an unexpected answer: %s (%s)", exc, exc.diagnostics() or "no answer kept")
        return UserMessage(f":warning: {exc}")
    if isinstance(exc, NexudusError):
        return UserMessage(f":warning: {exc}")
    if isinstance(exc, StoreDamaged):
        log.error("%s", exc)  # the administrator's text: which file, and what to do
        return UserMessage(
            ":warning: The app's own store is damaged, so it cannot read or save anything right now. "
            "Nothing was changed. An administrator has been told what to do (it is in the app's log)."
        )
    if isinstance(exc, DatabaseFull):
        log.error("%s", exc)  # the administrator's text: the limit reached, and what to change
        return UserMessage(
            ":hourglass: The app's database is running but has as many connections as it accepts, so it refused "
            "this one: nothing was read or changed. Try again in a minute; if it keeps happening, tell whoever runs "
            "the app (its log says what to change)."
        )
    if isinstance(exc, PoolExhausted):
        log.error("%s", exc)  # the administrator's text: this process's pool, and what to change
        return UserMessage(
            ":hourglass: The app is handling too much at once: none of its database connections became free in "
            "time, so nothing was read or changed. Try again in a moment; if it keeps happening, tell whoever runs "
            "the app (its log says more)."
        )
    if isinstance(exc, StoreUnavailable):
        log.error("%s", exc)  # names the database (never its password) and what PostgreSQL said: for the administrator
        return UserMessage(
            ":warning: The app cannot use its database right now, so nothing was read or changed. "
            "Try again in a minute; if it persists, tell your Slack admin (the app's log says more)."
        )
    if isinstance(exc, StoreError):
        return UserMessage(f":lock: {exc}")
    if isinstance(exc, SlackApiError | PublishRefused):
        error = _slack_error(exc)
        words = _SLACK_WORDS.get(error)
        if words is not None:
            log.warning("Slack refused a call: %s", error)
            return UserMessage(f":warning: {words}")
        reference = _reference()
        log.error("Slack refused a call: %s [ref %s]", error, reference, exc_info=exc)
        return UserMessage(
            f":warning: Slack refused what this app sent (`{error}`). That is a bug on our side; "
            f"it has been logged with reference `{reference}`.",
            reference=reference,
        )
    reference = _reference()
    answer = _answer_behind(exc)
    log.error(
        "unexpected error in a Slack handler [ref %s]%s",
        reference,
        f" (Nexudus: {answer})" if answer else "",
        exc_info=exc,
    )
    return UserMessage(
        f":boom: Something went wrong on our side. It has been logged with reference `{reference}`: "
        "quote it if you report this. Please try again.",
        reference=reference,
    )


def _login_words(exc: NotLoggedIn | CredentialsRejected) -> str:
    if isinstance(exc, NotLoggedIn) and exc.unreadable:
        return (
            "Your saved Nexudus login can no longer be read by this app (it was damaged). "
            "Run `/chatrooms login` to connect your account again."
        )
    if isinstance(exc, NotLoggedIn):
        return "You are not logged in to Nexudus yet. Run `/chatrooms login` to connect your account."
    if isinstance(exc, LoginExpired):
        return "Your Nexudus login has expired (it could not be renewed). Run `/chatrooms login` to sign in again."
    also = f" (or your account lacks the *{exc.possible_role}* role)" if exc.possible_role else ""
    return f"Nexudus no longer accepts your saved login{also}. Run `/chatrooms login` to sign in again."


def _slack_error(exc: SlackApiError | PublishRefused) -> str:
    if isinstance(exc, PublishRefused):
        return exc.error
    return str(exc.response.get("error") or "unknown_error") if exc.response is not None else "unknown_error"


def _cycle_failure(exc: BaseException, channel_id: str, subscription_id: str) -> str:
    """An alert cycle's failure, for its channel: Slack's own refusals get specific advice."""
    if isinstance(exc, SlackApiError | PublishRefused):
        error = _slack_error(exc)
        if error in ("not_in_channel", "channel_not_found", "is_archived"):
            return (
                f"Slack refused to post in <#{channel_id}> ({error}). Invite the app to the channel "
                f"(`/invite @chatrooms`) or remove these alerts with `/chatrooms alerts unsubscribe {subscription_id}`."
            )
        return f"Slack refused the message ({error})."
    if isinstance(exc, Unavailable | RateLimited):
        return f":hourglass: {exc} The next check runs as usual; nothing needs doing here."
    return describe(exc).text


def _answer_behind(exc: BaseException) -> str:
    """The HTTP status and body excerpt of the Nexudus answer behind an error (or one it was raised from)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NexudusError) and current.diagnostics():
            return current.diagnostics()
        current = current.__cause__ or current.__context__
    return ""


def _reference() -> str:
    """A short id that finds one log line: 8 hex digits (a collision in a day's log is very unlikely)."""
    return uuid.uuid4().hex[:8]
