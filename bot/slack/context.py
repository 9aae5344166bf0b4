"""Who is acting, where to answer, and the one guarded path every slow handler runs through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot import metrics
from bot.audit import Actor
from bot.deps import Deps
from bot.inflight import Ticket, Tracker
from bot.once import MemoryOnce
from bot.services import UserSession
from bot.slack.errors import describe
from bot.slack.views.chatrooms import render_notice
from bot.slack.views.modals import info_modal
from bot.store.inflight import InFlight

log = logging.getLogger(__name__)


@dataclass
class Ctx:
    """A request's actor and its ways to answer, built from Bolt's body and context."""

    deps: Deps
    client: WebClient
    team_id: str
    user_id: str
    channel_id: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    view_id: str | None = None
    enterprise_id: str | None = None  # the Enterprise Grid organisation, if any
    placeholder: bool = False  # the ack showed a "looking up…" message that the first reply replaces
    progress_view: str | None = None  # the modal showing this request's "Saving…" view (set by `guarded`)
    waiting: str | None = None  # what the person waits on (a slash command, a form): journalled by `guarded`
    tracker: Tracker | None = None  # this request's writes in flight, journalled in the store (bot/inflight.py)
    ticket: Ticket | None = None  # this request's work, acknowledged and waiting its turn (`queue`)

    @classmethod
    def from_bolt(cls, deps: Deps, body: dict[str, Any], client: WebClient, context: Any) -> Ctx:
        user, team, channel, view = (_dict(body.get(key)) for key in ("user", "team", "channel", "view"))
        team_id = context.get("team_id") or body.get("team_id") or team.get("id") or user.get("team_id") or ""
        user_id = context.get("user_id") or body.get("user_id") or user.get("id") or ""
        response_url = body.get("response_url")
        if not response_url:
            urls = body.get("response_urls")
            if isinstance(urls, list) and urls and isinstance(urls[0], dict):
                response_url = urls[0].get("response_url")
        enterprise_id = (
            context.get("enterprise_id") or body.get("enterprise_id") or _dict(body.get("enterprise")).get("id")
        )
        return cls(
            deps=deps,
            client=client,
            team_id=str(team_id),
            enterprise_id=str(enterprise_id) if enterprise_id else None,
            user_id=str(user_id),
            channel_id=context.get("channel_id") or body.get("channel_id") or channel.get("id"),
            trigger_id=body.get("trigger_id"),
            response_url=response_url if _is_url(response_url) else None,
            view_id=view.get("id") if isinstance(view.get("id"), str) else None,
        )

    def now(self) -> datetime:
        return self.deps.clock()

    def session(self) -> UserSession:
        return self.deps.services.session(
            self.team_id, self.user_id, enterprise_id=self.enterprise_id, tracker=self.tracking()
        )

    def tracking(self) -> Tracker | None:
        """This request's journal of writes in flight (None when the app keeps none)."""
        if self.tracker is None and self.deps.journal is not None:
            self.tracker = Tracker(self.deps.journal, self.team_id, self.user_id, self.enterprise_id, self.answer_to)
        return self.tracker

    def queue(self, what: str, again: str, *, view_id: str | None = None, command: str | None = None) -> None:
        """In the ack, once its work is handed over: journalled as acknowledged but not started, should it wait
        its turn a while — without a store write here (bot/inflight.py: `Journal.queue`). If this process dies
        before the work starts, another tells the person `what` never started and how to do it `again` (a slash
        command's `command` text: with a button running it again)."""
        journal = self.deps.journal
        if journal is None:
            return
        answer = {**self.answer_to(), "view_id": view_id}
        team_id, user_id, enterprise_id = self.team_id, self.user_id, self.enterprise_id

        def make() -> InFlight:
            return InFlight(
                owner="",
                started_at=journal.clock(),
                team_id=team_id,
                enterprise_id=enterprise_id,
                user_id=user_id,
                kind="queued",
                what=what,
                again=again,
                command=command,
                answer=answer,
            )

        self.ticket = journal.queue(make)

    def started(self) -> str | None:
        """The work of this request starts: the key of its `queued` entry if one was written (None: none was,
        and none will be)."""
        ticket, self.ticket = self.ticket, None
        journal = self.deps.journal
        return journal.unqueue(ticket) if journal is not None and ticket is not None else None

    def not_run(self) -> None:
        """The work handed over turned out to have nothing to do (a repeated submission): no `queued` entry."""
        key = self.started()
        if key is not None and self.deps.journal is not None:
            self.deps.journal.end(key)

    def answer_to(self) -> dict[str, Any]:
        """Where this request's outcome goes, as kept with its work in flight (bot/slack/recovery.py reads it)."""
        return {
            "response_url": self.response_url,
            "view_id": self.progress_view,
            "channel_id": self.channel_id,
            "placeholder": self.placeholder,
        }

    @property
    def actor(self) -> Actor:
        """Who the audit trail names for what this request changes."""
        return Actor(self.team_id, self.user_id, self.enterprise_id)

    def refused_roles(self) -> frozenset[str]:
        """Roles Nexudus refused this user lately: views leave out what needs them, and say why."""
        return self.deps.services.refused_roles(self.team_id, self.user_id)

    def reply(self, msg: dict[str, Any], *, replace_original: bool = False, response_url: str | None = None) -> None:
        """Answer the user privately: through response_url when there is one, else in a DM from the app."""
        url = response_url or self.response_url
        if url and url == self.response_url and self.placeholder:
            replace_original, self.placeholder = True, False
        if url:
            payload = {"response_type": "ephemeral", "replace_original": replace_original, **msg}
            result = WebhookClient(url).send_dict(payload)
            if result.status_code < 300:
                return
            log.warning("response_url answered %s; falling back to a direct message", result.status_code)
        self.client.chat_postMessage(channel=self.user_id, **msg)

    def show(self, view_id: str | None, view: dict[str, Any]) -> bool:
        """Replace the open modal with `view`. False when that did not happen — most often the person
        closed the modal while we worked (Slack answers `not_found`) — so the caller tells them privately
        instead: an outcome never depends on the modal still being open."""
        if not view_id:
            return False
        try:
            self.client.views_update(view_id=view_id, view=view)
            return True
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error == "not_found":
                log.info("modal %s was closed before its outcome; telling the user privately", view_id)
            else:
                log.error("Slack refused a modal update (%s); telling the user privately", error)
            return False

    def show_or_tell(self, view_id: str | None, view: dict[str, Any], msg: dict[str, Any]) -> None:
        """Show `view` in the modal (a form again, with what went wrong); if the modal is gone, say `msg`."""
        if not self.show(view_id, view):
            self.reply(msg)

    def outcome(self, view_id: str | None, view: dict[str, Any], msg: dict[str, Any]) -> None:
        """How a submission ended, in the modal and privately (response_url, else a DM), whatever happened
        to the modal. A private message that fails only matters when the modal could not say it either."""
        shown = self.show(view_id, view)
        try:
            self.reply(msg)
        except Exception:
            if not shown:
                raise
            log.exception("could not send the outcome privately; the modal shows it")

    def fail(self, exc: BaseException, *, view_id: str | None = None) -> None:
        """Show an error: in the open modal when there is one (and still open), else as a private message."""
        metrics.count_failure(exc)
        message = describe(exc)
        if view_id and self.show(view_id, info_modal("Something's wrong", message.text)):
            return
        self.reply(render_notice(message.text, login_button=message.login_button))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# A double click or a Slack retry runs a submission once: the guard in `Deps.once` (bot/once.py) is shared by
# every process when Redis is configured; `Once` is the in-process one, kept for callers building their own.
Once = MemoryOnce


def guarded(ctx: Ctx, work: Callable[[], object], *, view_id: str | None = None) -> None:
    """Run slow work after the ack; any exception becomes a clear message, never a silent failure.

    The writes the work journalled (bot/inflight.py) are forgotten once their outcome has been told here: if
    this process dies before that, another one tells the user what became of them."""
    if view_id and ctx.progress_view is None:
        ctx.progress_view = view_id
    queued = ctx.started()  # its `queued` entry, if the work waited long enough to have one
    tracker = ctx.tracking() if ctx.waiting else ctx.tracker
    mark = tracker.mark() if tracker is not None else 0
    if tracker is not None and ctx.waiting:
        waiting, ctx.waiting = ctx.waiting, None
        try:
            tracker.begin("request", what=waiting, key=queued)  # replaces the `queued` entry
            if queued in tracker.keys:
                queued = None
        except Exception as exc:  # the store is down a moment: the request still runs (its writes say if they fail)
            log.warning("could not journal a request in flight (%s); running it anyway", type(exc).__name__)
    if queued is not None and ctx.deps.journal is not None:  # started: no longer to be told "never started"
        ctx.deps.journal.end(queued)  # (a click's writes are journalled each as it begins)
    told = True
    try:
        work()
    except Exception as exc:
        try:
            ctx.fail(exc, view_id=view_id)
        except Exception:
            told = False  # neither the modal nor a private message took it
            log.exception("could not tell the user about an error")
    finally:
        if ctx.tracker is not None:
            if told:
                ctx.tracker.end_since(mark)
            else:  # not forgotten: a sweep checks what became of the writes and tells the user
                ctx.tracker.release_since(mark)


def _is_url(value: object) -> bool:
    """A response_url worth posting to (a forged or broken one falls back to a direct message)."""
    return isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2000
