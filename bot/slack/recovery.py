"""Telling a person the outcome of a write whose process stopped (`Journal.recover`, bot/inflight.py).

The entry says where the outcome was to go: the modal showing "Saving…" (updated in place; `not_found` when
they closed it, which is fine), the slash command's ``response_url`` (it replaces the "Saving…" placeholder;
Slack honours it 30 minutes), else a direct message — through `Ctx`, as every other outcome. Only an outcome
read back from Nexudus (or work that never started) replaces what the person sees: when it cannot be checked
(a lookup, a command run), the process may have posted its answer just before dying, so the telling is a new
message and the modal is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient

from bot.deps import Deps
from bot.inflight import settle
from bot.slack.context import Ctx
from bot.slack.views.recovery import render_recovered
from bot.store.inflight import InFlight

log = logging.getLogger(__name__)

ClientFor = Callable[[str, str | None], WebClient | None]


class Recovery:
    """Checks interrupted work with the person's Nexudus login, then tells them (one claimed entry a call)."""

    def __init__(self, deps: Deps, client_for: ClientFor) -> None:
        self.deps = deps
        self.client_for = client_for

    def __call__(self, work: InFlight) -> None:
        client = self.client_for(work.team_id, work.enterprise_id)
        if client is None:
            log.info("in-flight work %s: workspace %s has no Slack client any more; not told", work.key, work.team_id)
            return
        finding = settle(self.deps.services, work)
        certain = finding.state != "unknown"
        answer = work.answer
        response_url = answer.get("response_url")
        view_id = answer.get("view_id")
        channel_id = answer.get("channel_id")
        ctx = Ctx(
            deps=self.deps,
            client=client,
            team_id=work.team_id,
            user_id=work.user_id,
            enterprise_id=work.enterprise_id,
            channel_id=channel_id if isinstance(channel_id, str) else None,
            response_url=response_url if isinstance(response_url, str) else None,
            # A checked outcome (or work that never started) may replace what the person sees; an unchecked one
            # is a new message: the answer may have been given just before the process died, never overwritten.
            placeholder=answer.get("placeholder") is True and certain,
        )
        view, msg = render_recovered(work, finding, now=ctx.now(), zone=self.deps.zone, refused=ctx.refused_roles())
        if isinstance(view_id, str) and view_id and certain:
            ctx.outcome(view_id, view, msg)
        else:
            ctx.reply(msg)
        log.info("in-flight work %s (%s): its user was told (%s)", work.key, work.kind, finding.state)
