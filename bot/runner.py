"""`python -m bot run`: the Slack app for real — Socket Mode, or HTTP on a port."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import threading
from concurrent.futures import Executor
from types import FrameType
from typing import TYPE_CHECKING

from bot.deps import Deps
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, default_workers, load_settings, worker_refusal
from bot.slack.app import build_app
from bot.wiring import build_deps

if TYPE_CHECKING:
    from slack_bolt import App

log = logging.getLogger(__name__)

DRAIN_SECONDS = 25.0
"""On SIGTERM, how long acknowledged work may take to finish (platforms such as Heroku kill after 30 s)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot run", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="HTTP mode port (default: PORT or 3000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="HTTP mode worker processes (default: WEB_CONCURRENCY, else 4 with REDIS_URL and 1 without)",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for each of --workers
    args = parser.parse_args(argv)
    if args.workers is not None and not 1 <= args.workers <= 64:
        print("--workers must be between 1 and 64")
        return 2
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if settings.oauth and settings.slack_app_token:
            raise SettingsError(
                "SLACK_APP_TOKEN (Socket Mode) serves one workspace, with SLACK_BOT_TOKEN; the workspaces installed "
                "through SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are served over HTTP: unset SLACK_APP_TOKEN."
            )
        if not settings.slack_bot_token and not settings.oauth:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set, so there is no Slack workspace to connect to.\n"
                "To try the app locally, run `make demo` (a console in place of Slack). "
                "To connect Slack, see the README's 'Connect a real Slack workspace'."
            )
        workers = 1 if settings.slack_app_token else (args.workers or default_workers(settings))
        problem = worker_refusal(workers, settings)
        if problem and args.workers is None:
            # WEB_CONCURRENCY, which platforms such as Heroku set by themselves: one process, as before.
            log.warning("WEB_CONCURRENCY=%s is ignored: without REDIS_URL the app runs one process", workers)
            workers = 1
        elif problem:
            raise SettingsError(problem)
        if not args.reuse_port:  # this host's web processes, counted once by the command that starts them
            check_database_budget(settings, workers, web=not settings.slack_app_token)
        if workers > 1:
            from bot.workers import run_workers

            return run_workers(workers, args.port or settings.port, metrics_dir=settings.prometheus_multiproc_dir)
        deps = build_deps(settings)
    except SettingsError as exc:
        print(exc)
        return 2
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        app = build_app(deps, socket_mode=True)
        start_journal(deps)
        settle_heap()
        if settings.metrics_port:
            from bot import metrics

            metrics.serve_metrics(settings.metrics_port)
            log.info("Socket Mode: Prometheus metrics on port %s (/metrics)", settings.metrics_port)
        log.info("Socket Mode: connecting to Slack")
        handler = SocketModeHandler(app, settings.slack_app_token)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
        signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
        handler.connect()
        stopping.wait()
        handler.close()  # no new requests; the acknowledged ones finish (or are left to the journal)
        stop_gracefully(app, deps)
        log.info("Socket Mode stopped")
        return 0
    from bot.web import serve

    port = args.port or settings.port
    app = build_app(deps)
    start_journal(deps)
    settle_heap()
    secrets = tuple(s for s in (settings.redis_url, settings.store_location) if isinstance(s, str))
    server = serve(
        app,
        host="0.0.0.0",
        port=port,
        checks=deps.checks,
        secrets=secrets,
        metrics_dir=settings.prometheus_multiproc_dir,
        acks=deps.acks,
        reuse_port=args.reuse_port,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # serve_forever() runs on this thread: shutdown() must come from another one.
        threading.Thread(target=server.shutdown, name="http-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("HTTP mode on port %s: Slack sends requests to /slack/events", port)
    if deps.installations is not None:
        log.info("distributed app: workspaces install it from /slack/install (Slack's OAuth flow)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        stop_gracefully(app, deps)
    log.info("HTTP mode stopped")
    return 0


def check_database_budget(settings: Settings, processes: int, *, web: bool = True) -> None:
    """With DATABASE_URL: whether the `processes` this command starts fit in the server's max_connections, said in
    the log (a warning when they do not), from one short connection; nothing more when it cannot be reached."""
    if settings.database_url is None:
        return
    from bot.database import check_budget, check_web_budget

    url, pool = settings.database_url.get_secret_value(), settings.database_pool
    found = (
        check_web_budget(url, processes, pool)
        if web
        else check_budget(url, processes, pool.connections, pool, kind="Socket Mode process")
    )
    if found is not None:
        fits, words = found
        (log.info if fits else log.warning)(words)


def settle_heap() -> None:
    """Once the app is built, before the first request: collect what starting up left behind, then exempt the rest
    (~120,000 objects: modules, the app, pydantic's validators) from every later collection. Otherwise a full
    collection walks them all, ~90 ms holding the interpreter lock, so every request of the process waits; it
    comes once enough new objects have survived, as under a burst of requests."""
    gc.collect()
    gc.freeze()


def start_journal(deps: Deps) -> None:
    """Journal this process's acknowledged writes, beat, and sweep up those of processes that died."""
    if deps.journal is not None:
        deps.journal.start()
        log.info("in-flight writes journalled in the store (process %s)", deps.journal.process_id)


def drain(executor: Executor, timeout: float = DRAIN_SECONDS) -> bool:
    """Let work already acknowledged to Slack finish (its users are waiting for the answer), up to a limit;
    False when some was still running then."""
    done = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, name="drain", daemon=True)
    done.start()
    done.join(timeout)
    if done.is_alive():
        log.warning("stopping with work still running after %.0f s: some users may get no answer", timeout)
        return False
    return True


def stop_gracefully(app: App, deps: Deps, timeout: float = DRAIN_SECONDS) -> None:
    """After the last request: let the acknowledged work finish, then stop journalling and close the store.

    The heartbeat row is removed only when every job finished: with work still running (and about to die with
    this process), it is left to go stale, so that a survivor checks that work after `INFLIGHT_ORPHAN_SECONDS`
    rather than at once, while it may still be reaching Nexudus."""
    executor = app.listener_runner.listener_executor
    finished = drain(executor, timeout)
    if not finished:
        # What has not started by now never will (this process is about to go): the journal writes it as never
        # started just below, which stays true — a job starting after that would make it a lie.
        executor.shutdown(wait=False, cancel_futures=True)
    if deps.journal is not None:
        deps.journal.stop(remove_heartbeat=finished)
    deps.store.close()
