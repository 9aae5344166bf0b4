"""The alert worker process: `python -m bot alerts [--once] [--interval S]`.

`python -m bot alerts` runs a cycle every `ALERT_INTERVAL_SECONDS` (default 300 s); `--once` runs one cycle
and exits (cron, Heroku Scheduler). The cycle itself is `bot/alerts.py:AlertWorker`; this module is the
loop, the command line and the wiring of the Slack publisher (a composition root, like `bot/runner.py`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot import metrics
from bot.alerts import AlertWorker
from bot.deps import Deps
from bot.digests import DigestPublisher
from bot.installations import client_for_team
from bot.slack.audit_mirror import AuditMirror, audit_clients
from bot.slack.publisher import SlackPublisher
from bot.slack.recovery import Recovery
from bot.store import StoreError, StoreUnavailable

log = logging.getLogger(__name__)


def run_forever(
    worker: AlertWorker,
    stop: threading.Event,
    interval: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """A cycle every `interval` seconds until `stop` is set; a failed cycle never ends the loop, except
    a store this process cannot read (a wrong or rotated key, a damaged file): that raises `StoreError`. A database
    that does not answer now (`StoreUnavailable`: PostgreSQL full, restarting, unreachable) skips this cycle, saying
    why; the next one tries again."""
    worker.interval = interval
    while not stop.is_set():
        started = monotonic()
        try:
            # Several workers may run: each interval's cycle is run by exactly one (see Store.alert_cycle).
            slot = int(worker.deps.clock().timestamp() // interval) if interval > 0 else None
            with worker.deps.store.alert_cycle(slot) as mine:
                if mine:
                    report = worker.run_cycle()
                    log.info("alert cycle: %s", report.summary())
                else:
                    log.info("alert cycle %s: run by another alert worker", slot)
        except StoreUnavailable as exc:  # for now: the text says what PostgreSQL said and what to do
            log.error("alert cycle skipped: %s The next cycle tries again.", exc)
        except StoreError:
            raise  # a wrong key or a damaged store: no cycle can work; stop and say so (see main)
        except Exception:
            log.exception("alert cycle failed")
        sweep_inflight(worker.deps)
        stop.wait(max(0.0, interval - (monotonic() - started)))


def sweep_inflight(deps: Deps) -> None:
    """Each cycle: claim the writes of web processes that died and tell their users (bot/inflight.py)."""
    journal = deps.journal
    if journal is None or not journal.running:
        return
    try:
        journal.sweep()
    except Exception as exc:  # the store is down a moment: the next cycle (or a web process) tries again
        log.warning("in-flight sweep failed (%s)", type(exc).__name__)


def slack_client(token: str, base_url: str) -> WebClient:
    """The worker's Slack client: retries Slack's 429s (honouring Retry-After) and dropped connections."""
    client = WebClient(token=token, base_url=base_url)
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=2), ConnectionErrorRetryHandler()])
    return client


def use_workspace_tokens(deps: Deps) -> None:
    """The distributed app: `deps.publisher_for_team` posts with each workspace's bot token, from the
    installation store (None for a workspace without the app). One workspace: left unset (SLACK_BOT_TOKEN)."""
    if deps.installations is None:
        return
    url = deps.settings.slack_api_url
    clients = client_for_team(deps.installations, lambda token: slack_client(token, url))

    def publisher(team_id: str, enterprise_id: str | None) -> DigestPublisher | None:
        client = clients(team_id, enterprise_id)
        return SlackPublisher(client, clock=deps.clock) if client is not None else None

    deps.publisher_for_team = publisher


def main(argv: list[str] | None = None) -> int:
    """`python -m bot alerts [--once] [--interval S]`."""
    from bot.logs import configure_logging
    from bot.settings import SettingsError, load_settings
    from bot.wiring import build_deps

    parser = argparse.ArgumentParser(
        prog="python -m bot alerts",
        description="Post stale-visit alerts to subscribed Slack channels.",
    )
    parser.add_argument("--once", action="store_true", help="run one cycle and exit (for cron / Heroku Scheduler)")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between cycles (default: ALERT_INTERVAL_SECONDS, 300)",
    )
    args = parser.parse_args(argv)
    if args.interval is not None and not 10 <= args.interval <= 86400:
        print("--interval must be between 10 and 86400 seconds")
        return 2
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if not settings.slack_bot_token and not settings.oauth:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set, so there is no Slack workspace to post alerts to.\n"
                "Set it (the same bot token the app uses), or try alerts locally with `make demo` and `:alerts`."
            )
        deps = build_deps(settings)
    except SettingsError as exc:
        print(exc)
        return 2
    slack = slack_client(settings.slack_bot_token or "", settings.slack_api_url)
    use_workspace_tokens(deps)  # many workspaces (OAuth): each subscription posts with its workspace's token
    # The worker's own audit entries (pauses, resumes) reach the audit channel like the web app's.
    deps.services.audit.mirror = AuditMirror(deps.store, audit_clients(deps, slack))
    worker = AlertWorker(deps, SlackPublisher(slack, clock=deps.clock))
    if deps.journal is not None:  # web processes that died: their users are told the outcome of their writes
        deps.journal.recover = Recovery(deps, audit_clients(deps, slack))
    try:
        if args.once:
            report = worker.run_cycle()
            print(f"alerts: {report.summary()}")
            return 1 if report.errors else 0
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        interval = args.interval if args.interval is not None else float(settings.alert_interval_seconds)
        if settings.metrics_port:
            metrics.serve_metrics(settings.metrics_port)
            log.info("alert worker: Prometheus metrics on port %s (/metrics)", settings.metrics_port)
        log.info("alert worker: a cycle every %.0f s", interval)
        if deps.journal is not None:
            deps.journal.start()
        run_forever(worker, stop, interval)
        return 0
    except StoreError as exc:  # a store that cannot be read: stop with what to do, rather than mislead channels
        print(f"alert worker stopped: {exc}")
        return 2
    finally:
        if deps.journal is not None:
            deps.journal.stop()
        deps.store.close()
