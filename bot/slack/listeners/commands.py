"""The `/chatrooms` slash command: parse in the ack (pure and fast), do the work after it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.slack.context import Ctx, guarded
from bot.slack.errors import describe
from bot.slack.grammar import (
    CommandsIntent,
    EditNowIntent,
    GrammarError,
    HelpIntent,
    ListIntent,
    ShowIntent,
    help_text,
    parse_command,
)
from bot.slack.handoff import Later
from bot.slack.lanes import LANE_BOUND, TooManyPending, choose_lane
from bot.slack.listeners.router import Router
from bot.slack.views.chatrooms import queued_note, render_help, render_notice
from bot.slack.views.common import clip

log = logging.getLogger(__name__)

COMMAND = "/chatrooms"

# Answers that take a Nexudus round trip get a placeholder in the ack, replaced by the answer.
PLACEHOLDERS: dict[type, str] = {
    ListIntent: ":hourglass_flowing_sand: Looking up chatrooms in Nexudus…",
    ShowIntent: ":hourglass_flowing_sand: Opening the chatrooms…",
    CommandsIntent: ":hourglass_flowing_sand: Fetching the commands Nexudus offers…",
    EditNowIntent: ":hourglass_flowing_sand: Saving your changes in Nexudus…",
}


def register(app: App, deps: Deps, router: Router, later: Later) -> None:
    """The command's ack parses it (a grammar error or help is answered right there), chooses the lane and
    hands the work to `later` (bot/slack/handoff.py), with the intent already parsed."""

    def on_command(ack: Ack, body: dict[str, Any], client: WebClient, context: Any, command: dict[str, Any]) -> None:
        text = command.get("text")
        try:
            intent = parse_command(text if isinstance(text, str) else "", now=deps.clock(), zone=deps.zone)
        except GrammarError as exc:
            ack(response_type="ephemeral", **render_notice(f"{exc.message}\n\n{exc.usage}", help_button=True))
            return
        if isinstance(intent, HelpIntent):
            ack(response_type="ephemeral", **render_help(help_text(intent.topic)))
            return
        # Lookups (a placeholder, then a Nexudus query) queue in the user's lookup lane; the rest (modal
        # openers, whose trigger_id lives 3 s, and commands needing no Nexudus call) in their prompt lane.
        placeholder = PLACEHOLDERS.get(type(intent))
        ahead = choose_lane(context, lookup=placeholder is not None)
        if ahead >= LANE_BOUND:
            ack(response_type="ephemeral", **render_notice(describe(TooManyPending(ahead)).text))
            return
        if placeholder:
            ack(response_type="ephemeral", text=placeholder + queued_note(ahead))
        else:
            ack()
        ctx = Ctx.from_bolt(deps, body, client, context)
        ctx.placeholder = placeholder is not None
        typed = f"`{COMMAND} {clip(text if isinstance(text, str) else '', 200)}`"
        # Told if this process dies before it starts, with a button running it again (no store write here).
        ctx.queue(typed, f"Run {typed} again.", command=text if isinstance(text, str) else None)

        def run() -> None:
            ctx.waiting = typed  # told if this process dies while it runs
            guarded(ctx, lambda: router.dispatch(intent, ctx))

        later(COMMAND, run, urgent=placeholder is None)  # modal openers: their trigger_id lives 3 s

    app.command(COMMAND)(on_command)

    def run_text(text: str, ctx: Ctx) -> None:
        """A `/chatrooms` text run after a click ("Run it again"), as the slash command runs it after its ack."""
        try:
            intent = parse_command(text, now=deps.clock(), zone=deps.zone)
        except GrammarError as exc:
            ctx.reply(render_notice(f"{exc.message}\n\n{exc.usage}", help_button=True))
            return
        if isinstance(intent, HelpIntent):
            ctx.reply(render_help(help_text(intent.topic)))
            return
        router.dispatch(intent, ctx)

    deps.run_command = run_text
