"""`python -m bot run`: the Slack app for real — Socket Mode, or HTTP on a port."""

from __future__ import annotations

import argparse
import logging

from bot.logs import configure_logging
from bot.settings import SettingsError, load_settings
from bot.slack.app import build_app
from bot.wiring import build_deps

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot run", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="HTTP mode port (default: PORT or 3000)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if not settings.slack_bot_token:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set, so there is no Slack workspace to connect to.\n"
                "To try the app locally, run `make demo` (a console in place of Slack). "
                "To connect Slack, see the README's 'Connect a real Slack workspace'."
            )
        deps = build_deps(settings)
    except SettingsError as exc:
        print(exc)
        return 2
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        app = build_app(deps, socket_mode=True)
        log.info("Socket Mode: connecting to Slack")
        SocketModeHandler(app, settings.slack_app_token).start()
        return 0
    from bot.web import serve

    port = args.port or settings.port
    server = serve(build_app(deps), host="0.0.0.0", port=port)
    log.info(
        "HTTP mode on port %s: Slack sends requests to /slack/events (use gunicorn bot.web:app in production)", port
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        deps.store.close()
    return 0
