"""WSGI entry for HTTP mode: `gunicorn bot.web:app` (Slack sends events to /slack/events)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.logs import configure_logging
from bot.settings import SettingsError, load_settings
from bot.slack.app import build_app
from bot.wiring import build_deps

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_BODY_BYTES = 1 << 20
"""Slack's payloads are a few KiB (a modal's whole state included); anything over 1 MiB is refused unread."""

log = logging.getLogger("bot.web")


def create_wsgi_app() -> WSGIApp:
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        return wsgi_for(build_app(build_deps(settings)))
    except SettingsError as exc:
        log.critical("%s", exc)  # gunicorn shows the log, not the text of a worker's exit
        raise


def wsgi_for(bolt: App) -> WSGIApp:
    """Slack's requests on /slack/events, a health check on /healthz, 404 elsewhere."""
    handler = SlackRequestHandler(bolt)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        if path != "/slack/events":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        refusal = _bound_body(environ)
        if refusal is not None:
            status, text = refusal
            start_response(status, [("Content-Type", "text/plain")])
            return [text.encode()]
        if not str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "0")).isdigit():
            # slack_sdk's verifier raises ValueError on a non-numeric timestamp (Bolt would answer 500): refuse it.
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"invalid request"]
        try:
            return handler(environ, start_response)
        except Exception:
            # Bolt parses the body before checking the signature and raises on some shapes (a non-JSON or
            # non-object `payload`, `"view": null`): answer 400, not wsgiref's 500 with a traceback.
            log.warning("refused an unreadable request to /slack/events")
            start_response("400 Bad Request", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"bad request"]

    return wsgi


def _bound_body(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Refuse a body over MAX_BODY_BYTES before reading it; None when the request may go on.

    With a Content-Length the size is known up front. A chunked body has none: a server that decodes
    chunks (gunicorn sets ``wsgi.input_terminated``) lets us read at most one byte past the limit, and the
    body read is handed on as if it had had a length; one that does not (wsgiref) cannot be read safely.
    """
    raw_length = str(environ.get("CONTENT_LENGTH") or "").strip()
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    if raw_length and not chunked:
        if not raw_length.isdigit():
            return "400 Bad Request", "invalid Content-Length"
        if int(raw_length) > MAX_BODY_BYTES:
            log.warning("refused a %s-byte request body (limit %s bytes), unread", raw_length, MAX_BODY_BYTES)
            return "413 Content Too Large", "request body too large"
        return None
    if not chunked:
        return None
    if not environ.get("wsgi.input_terminated"):
        return "411 Length Required", "a Content-Length is required"
    body = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        log.warning("refused a chunked request body over the limit of %s bytes", MAX_BODY_BYTES)
        return "413 Content Too Large", "request body too large"
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return None


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger("bot.web").debug("%s " + format, self.address_string(), *args)


def serve(bolt: App, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """A threaded HTTP server for the app (tests, the console, `python -m bot run` without gunicorn).

    Call `serve_forever()` on it (or run it in a thread) and `shutdown()` + `server_close()` to stop.
    """
    return make_server(host, port, wsgi_for(bolt), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)


def __getattr__(name: str) -> Any:
    # `gunicorn bot.web:app` builds the app on first access, so importing this module has no side effect.
    if name == "app":
        return create_wsgi_app()
    raise AttributeError(name)
