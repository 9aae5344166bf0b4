"""`build_app(deps)`: the Bolt app with every feature's listeners. No App is created at import time."""

from __future__ import annotations

import logging
from typing import Any, get_args

from slack_bolt import App, BoltContext
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from bot import subscribing
from bot.deps import Deps
from bot.installations import BOT_SCOPES, UNINSTALLED, Installations
from bot.logs import BOLT_LOGGER, quiet_unverified_bodies
from bot.slack.audit_mirror import AuditMirror, audit_clients
from bot.slack.deliveries import OncePerDelivery
from bot.slack.errors import describe
from bot.slack.grammar import HelpIntent, Intent
from bot.slack.handlers import Handlers
from bot.slack.handlers import install as install_handlers
from bot.slack.handoff import Handoff, after_acks
from bot.slack.lanes import LANE_WORKERS, FairExecutor, FairLanes
from bot.slack.listeners import alerts, audit, auth, chatrooms, commands, home, run, stats
from bot.slack.listeners.router import Router
from bot.slack.recovery import Recovery
from bot.slack.shape import ShapeCheck

log = logging.getLogger(__name__)

LAZY_WORKERS = 32
WORK_NICE = 10  # how much lower the work after acks runs than the acks (bench/gunicorn_ack.py)

# Each feature module's `handlers` (bot/slack/handlers.py): its slash subcommands, buttons, modals and events.
FEATURES: list[Handlers] = [
    auth.handlers,
    chatrooms.handlers,
    run.handlers,
    alerts.handlers,
    home.handlers,
    audit.handlers,
    stats.handlers,
]
# Every subcommand the grammar parses is served by a feature (help is answered in the command's ack).
SUBCOMMANDS = [t for t in get_args(Intent) if t is not HelpIntent]


def build_app(deps: Deps, *, socket_mode: bool = False) -> App:
    """The real Bolt app. HTTP mode verifies Slack's signature on every request; Socket Mode needs none.

    With `deps.installations` (SLACK_CLIENT_ID/SECRET, HTTP mode only) it is the distributed app: Slack's
    OAuth flow on /slack/install and /slack/oauth_redirect, and each request authorised with the bot token
    of the workspace it comes from. Otherwise one workspace, with SLACK_BOT_TOKEN.
    """
    settings = deps.settings
    secret = settings.slack_signing_secret
    if not socket_mode and not secret:
        raise ValueError("SLACK_SIGNING_SECRET is required in HTTP mode: it is how the app knows a request is Slack's.")
    installations = deps.installations
    if installations is not None and socket_mode:
        raise ValueError(
            "Socket Mode serves one workspace (SLACK_BOT_TOKEN): unset SLACK_APP_TOKEN to serve the workspaces "
            "installed through SLACK_CLIENT_ID/SLACK_CLIENT_SECRET over HTTP."
        )
    multi: dict[str, Any] = {}
    if installations is None:
        client = WebClient(token=settings.slack_bot_token or "xoxb-local", base_url=settings.slack_api_url)
    else:
        client = WebClient(base_url=settings.slack_api_url)  # no token: each request gets its workspace's
        multi = oauth_options(deps, installations, client)
    # Acks first: the work after acks waits while this process acknowledges requests (bot/acks.py, which the web
    # handler brackets), and its threads run at a lower CPU priority than the request threads of every process.
    executor = FairExecutor(
        max_workers=LAZY_WORKERS, per_lane=LANE_WORKERS, thread_name_prefix="lazy", acks=deps.acks, nice=WORK_NICE
    )
    app = App(
        client=client,
        signing_secret=secret or "socket-mode",
        request_verification_enabled=not socket_mode,
        token_verification_enabled=False,
        # Acks run inline on the request thread; only the work they hand over goes to the listener executor.
        # With False, acks queue behind slow work in that same executor and miss Slack's 3 s (bench/ack_latency.py).
        process_before_response=True,
        # Work after the ack waits on Nexudus (seconds when it is slow): Bolt's default 5 threads would queue users,
        # and a plain pool lets one user's burst take every thread. Lanes per user, served in turn.
        listener_executor=executor,
        raise_error_for_unhandled_request=False,
        # Right after the signature check, before Bolt's own code indexes into the body: Slack's shapes only.
        before_authorize=ShapeCheck(),
        logger=logging.getLogger(BOLT_LOGGER),
        **multi,
    )
    quiet_unverified_bodies()  # Bolt would log a refused request's whole body at INFO
    # A retried delivery of an event already handled (in any process, with Redis) is acked, not run again.
    app.use(OncePerDelivery(deps.once))
    # Fairness (bot/slack/lanes.py): whose lane each request's work after the ack joins.
    app.use(FairLanes(executor))
    router = Router()
    # A double click or a Slack retry runs a submission once: the one guard of this app is `deps.once` (this
    # process's memory, or Redis' SET NX shared by every process with REDIS_URL), the same as for deliveries.
    # Each ack hands its slow work to the lane executor itself (bot/slack/handoff.py), not to Bolt's lazy
    # listeners: those re-parse and deep-copy every request on its way to the ack.
    later = Handoff(app.listener_runner)
    # Bolt tries the listeners in order, building each matcher's arguments: the slash command, the most frequent
    # request, comes first.
    commands.register(app, deps, router, later)
    install_handlers(FEATURES, app, deps, router, deps.once, later)
    router.require(SUBCOMMANDS)
    deps.services.audit.mirror = AuditMirror(deps.store, audit_clients(deps, client))
    if deps.journal is not None:  # a dead process's acknowledged writes: their users told by this one
        deps.journal.recover = Recovery(deps, audit_clients(deps, client))
        # The work still waiting its turn is journalled after the acks in progress, below their CPU priority.
        deps.journal.pace = after_acks(deps.acks, WORK_NICE)
    if installations is not None:
        register_uninstall(app, deps, installations)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Exceptions in an ack function: Bolt answers 500 to Slack; we log without the body (it may hold input).
        message = describe(error)
        log.error("listener failed: %s (%s)", type(error).__name__, message.text)

    return app


INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


def oauth_options(deps: Deps, installations: Installations, client: WebClient) -> dict[str, Any]:
    """Bolt's OAuth flow and per-workspace authorisation, on our (sealed) installation store.

    Token rotation stays off (see the README): nothing here refreshes a token.
    """
    settings = deps.settings
    assert settings.slack_client_id and settings.slack_client_secret
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installations.store,
        state_store=installations.states,
    )
    authorize = InstallationStoreAuthorize(
        installation_store=installations.store,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        logger=logging.getLogger(BOLT_LOGGER),
        # One auth.test per token, not per request: acks stay fast. A token deleted on uninstall is no
        # longer found in the store, so a cached answer is never used for it.
        cache_enabled=True,
        client=client,
    )
    return {"oauth_settings": oauth, "installation_store": installations.store, "authorize": authorize}


def register_uninstall(app: App, deps: Deps, installations: Installations) -> None:
    """`app_uninstalled` / `tokens_revoked`: forget the workspace's tokens and pause its subscriptions.

    Nobody is told in Slack (the app can no longer post there); it is logged. A reinstall resumes them:
    the alert worker's next cycle finds the new bot token and tells each channel its alerts are back.
    """
    store = installations.store

    def pause_team(team_id: str, why: str) -> None:
        paused = subscribing.pause_workspace(deps, team_id, UNINSTALLED, why)
        log.warning("team %s: %s; its tokens were deleted and %d subscriptions paused", team_id, why, paused)

    @app.event("app_uninstalled")
    def uninstalled(context: BoltContext) -> None:
        store.delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)
        pause_team(context.team_id or "", "the app was uninstalled")

    @app.event("tokens_revoked")
    def revoked(event: dict[str, Any], context: BoltContext) -> None:
        raw = event.get("tokens")
        tokens: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for user_id in tokens.get("oauth") or []:
            store.delete_installation(enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id)
        if tokens.get("bot"):
            # Everything: an installation row keeps a copy of the bot token that Bolt would still authorise
            # requests with, and the app has no use for a workspace without its bot.
            store.delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)
            pause_team(context.team_id or "", "the app's bot token was revoked")
        elif tokens.get("oauth"):
            log.info("team %s: %d user tokens revoked and deleted", context.team_id, len(tokens["oauth"]))
