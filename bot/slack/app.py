"""`build_app(deps)`: the Bolt app with every feature's listeners. No App is created at import time."""

from __future__ import annotations

import logging
from typing import Any, get_args

from slack_bolt import App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.logs import quiet_unverified_bodies
from bot.slack.context import Once
from bot.slack.errors import describe
from bot.slack.grammar import HelpIntent, Intent
from bot.slack.handlers import Handlers
from bot.slack.lanes import LANE_WORKERS, FairExecutor, lane_middleware
from bot.slack.listeners import alerts, auth, chatrooms, commands, home, run
from bot.slack.listeners.router import Router
from bot.slack.shape import ShapeCheck

log = logging.getLogger(__name__)

LAZY_WORKERS = 32

# Each feature module's `handlers` (bot/slack/handlers.py): its slash subcommands, buttons, modals and events.
FEATURES: list[Handlers] = [auth.handlers, chatrooms.handlers, run.handlers, alerts.handlers, home.handlers]
# Every subcommand the grammar parses is served by a feature (help is answered in the command's ack).
SUBCOMMANDS = [t for t in get_args(Intent) if t is not HelpIntent]


def build_app(deps: Deps, *, socket_mode: bool = False) -> App:
    """The real Bolt app. HTTP mode verifies Slack's signature on every request; Socket Mode needs none."""
    settings = deps.settings
    token = settings.slack_bot_token or "xoxb-local"
    client = WebClient(token=token, base_url=settings.slack_api_url)
    secret = settings.slack_signing_secret
    if not socket_mode and not secret:
        raise ValueError("SLACK_SIGNING_SECRET is required in HTTP mode: it is how the app knows a request is Slack's.")
    executor = FairExecutor(max_workers=LAZY_WORKERS, per_lane=LANE_WORKERS, thread_name_prefix="lazy")
    app = App(
        client=client,
        signing_secret=secret or "socket-mode",
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,
        # Acks run inline on the request thread; only lazy work goes to the listener executor. With False,
        # acks queue behind slow lazy work in that same executor and miss Slack's 3 s (bench/ack_latency.py).
        process_before_response=True,
        # Lazy work waits on Nexudus (seconds when it is slow): Bolt's default 5 threads would queue users,
        # and a plain pool lets one user's burst take every thread. Lanes per user, served in turn.
        listener_executor=executor,
        raise_error_for_unhandled_request=False,
        # Right after the signature check, before Bolt's own code indexes into the body: Slack's shapes only.
        before_authorize=ShapeCheck(),
        logger=logging.getLogger("bot.bolt"),
    )
    quiet_unverified_bodies()  # Bolt would log a refused request's whole body at INFO
    # Fairness (bot/slack/lanes.py): whose lane each request's lazy work joins.
    app.use(lane_middleware(executor))
    router = Router()
    once = Once()  # a double click or a Slack retry runs a submission once
    for feature in FEATURES:
        feature.install(app, deps, router, once)
    router.require(SUBCOMMANDS)
    commands.register(app, deps, router)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Exceptions in an ack function: Bolt answers 500 to Slack; we log without the body (it may hold input).
        message = describe(error)
        log.error("listener failed: %s (%s)", type(error).__name__, message.text)

    return app
