"""HTTP mode: the WSGI app (Slack sends events to /slack/events; `/healthz` for the load balancer, `/metrics` for
Prometheus) and the server `python -m bot run` uses.

`gunicorn -c python:bot.gunicorn_conf bot.web:app` (the Procfile) also works, behind a reverse proxy that buffers
requests (see the README).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import queue
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest

from bot import metrics
from bot.acks import AcksFirst
from bot.health import Check, run_checks
from bot.logs import configure_logging
from bot.runner import settle_heap, stop_gracefully
from bot.settings import SettingsError, load_settings, worker_refusal
from bot.slack.app import build_app
from bot.slack.request import SlackRequest
from bot.wiring import build_deps

WORKER_DRAIN_SECONDS = 15.0  # below gunicorn's graceful_timeout (20 s), after which it kills the worker
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_BODY_BYTES = 1 << 20
"""Slack's payloads are a few KiB (a modal's whole state included); anything over 1 MiB is refused unread."""

log = logging.getLogger("bot.web")


def create_wsgi_app() -> WSGIApp:
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        # gunicorn without bot/gunicorn_conf.py (whose hook says the same before any worker starts).
        problem = worker_refusal(settings.web_concurrency or 1, settings)
        if problem:
            raise SettingsError(problem)
        deps = build_deps(settings)
        app = build_app(deps)
        if deps.journal is not None:  # each gunicorn worker: its own heartbeat, journal and sweep
            deps.journal.start()
        # gunicorn's worker leaves with sys.exit once its HTTP requests are answered: the work acknowledged to
        # Slack gets its chance to finish first, within gunicorn's graceful_timeout (bot/gunicorn_conf.py).
        atexit.register(stop_gracefully, app, deps, WORKER_DRAIN_SECONDS)
        wsgi = wsgi_for(
            app,
            checks=deps.checks,
            secrets=tuple(s for s in (settings.redis_url, settings.store_location) if isinstance(s, str)),
            metrics_dir=settings.prometheus_multiproc_dir,
            acks=deps.acks,
        )
        settle_heap()  # this worker's startup objects out of the garbage collector's way (bot/runner.py)
        return wsgi
    except SettingsError as exc:
        log.critical("%s", exc)  # gunicorn shows the log, not the text of a worker's exit
        raise


class _MeasuredHandler(SlackRequestHandler):
    """Bolt's WSGI handler, timing each request from its arrival to its ack, by kind (bot/metrics.py), and telling
    `acks` (bot/acks.py) which requests are being acknowledged, so that the work after acks yields to them."""

    def __init__(self, app: App, acks: AcksFirst | None = None) -> None:
        super().__init__(app)
        self.acks = acks

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        started = time.perf_counter()
        with self.acks.acking() if self.acks is not None else contextlib.nullcontext():
            body = request.get_body()
            bolt_request = SlackRequest(body=body, query=request.query_string, headers=request.get_headers())
            response = self.app.dispatch(bolt_request)
        if response.status < 400:
            metrics.count_ack(bolt_request.body, time.perf_counter() - started)
        return response


def wsgi_for(
    bolt: App,
    *,
    checks: dict[str, Check] | None = None,
    secrets: tuple[str, ...] = (),
    metrics_dir: Path | None = None,
    acks: AcksFirst | None = None,
) -> WSGIApp:
    """Slack's requests on /slack/events, the health check on /healthz (Redis and the database when configured:
    503 naming what failed), Prometheus metrics on /metrics, the OAuth flow's two pages when the app is
    distributed (/slack/install, /slack/oauth_redirect), 404 elsewhere. With `acks` (the app's `Deps.acks`), the
    work after acks yields to the requests being acknowledged (bot/acks.py)."""
    handler = _MeasuredHandler(bolt, acks)
    flow = bolt.oauth_flow
    oauth_paths = {flow.install_path, flow.redirect_uri_path} if flow is not None else set()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            code, report = run_checks(checks or {}, secrets)
            reason = "200 OK" if code == 200 else "503 Service Unavailable"
            start_response(reason, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
            return [report.encode("utf-8")]
        if path == "/metrics":
            body, content_type = metrics.exposition(metrics_dir)
            start_response("200 OK", [("Content-Type", content_type)])
            return [body]
        if path in oauth_paths and environ.get("REQUEST_METHOD") == "GET":
            # Slack's OAuth flow (the distributed app): the install link and the redirect back from Slack.
            return handler(environ, start_response)
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


MAX_HEADER_BYTES = 64 * 1024


class SoundWSGIServer(WSGIServer):
    """A WSGI server that survives bursts and idle, slow or half-sent clients (`python -m bot run`, the console).

    * a listen backlog of ``BACKLOG`` (the standard library's 5 resets a burst of Slack requests);
    * one watcher thread reads every connection without blocking until its whole request has arrived —
      headers, then ``Content-Length`` bytes (a body over ``MAX_BODY_BYTES`` is not waited for: the app
      answers 413) — and closes it if that takes longer than ``request_timeout`` seconds, so a silent or
      half-sent connection costs a buffer, never a thread (at most ``max_waiting`` wait; the oldest go);
    * only then does a bounded pool of ``workers`` threads run the app on the buffered request, and each
      answer is written with ``write_timeout``.
    """

    request_queue_size = BACKLOG = 1024

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[WSGIRequestHandler],
        *,
        workers: int = 32,
        request_timeout: float = 10.0,
        write_timeout: float = 10.0,
        max_waiting: int = 512,
        reuse_port: bool = False,
    ) -> None:
        # SO_REUSEPORT: the worker processes of `python -m bot run --workers N` each bind the same port.
        self.allow_reuse_port = reuse_port
        super().__init__(address, handler)
        self.request_timeout, self.write_timeout, self.max_waiting = request_timeout, write_timeout, max_waiting
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="http")
        self._arrivals: queue.SimpleQueue[tuple[socket.socket, Any]] = queue.SimpleQueue()
        self._waiting: dict[socket.socket, _Pending] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="http-watch", daemon=True)
        self._watcher.start()

    # socketserver calls this for each accepted connection, on the serve_forever thread.
    def process_request(self, request: Any, client_address: Any) -> None:
        self._arrivals.put((request, client_address))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                self._watch_once()
            except Exception:  # the watcher must outlive any one connection's surprise
                log.exception("HTTP connection watcher: unexpected error (continuing)")

    def _watch_once(self) -> None:
        """One round: read what arrived, take in new connections, close those past their deadline."""
        for key, _ in self._selector.select(timeout=0.5):
            if key.fileobj is self._wake_r:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
                continue
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            self._read(conn)
        now = time.monotonic()
        while True:
            try:
                conn, address = self._arrivals.get_nowait()
            except queue.Empty:
                break
            if len(self._waiting) >= self.max_waiting:
                self._drop(next(iter(self._waiting)))  # the oldest waiting connection makes room
            conn.setblocking(False)
            self._waiting[conn] = _Pending(address, now + self.request_timeout)
            self._selector.register(conn, selectors.EVENT_READ)
        for conn in [c for c, p in self._waiting.items() if p.deadline <= now]:
            self._drop(conn)

    def _read(self, conn: socket.socket) -> None:
        pending = self._waiting[conn]
        try:
            data = conn.recv(256 * 1024)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)  # the client went away before finishing its request
            return
        pending.data += data
        if pending.complete():
            self._selector.unregister(conn)
            del self._waiting[conn]
            self._pool.submit(self._handle, conn, pending)

    def _drop(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn)
        self._waiting.pop(conn, None)
        self.shutdown_request(conn)

    def _handle(self, conn: socket.socket, pending: _Pending) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(self.write_timeout)
            self.finish_request(cast(Any, _Buffered(conn, bytes(pending.data))), pending.address)
        except Exception:
            self.handle_error(conn, pending.address)
        finally:
            self.shutdown_request(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or went away: not worth a traceback on stderr.
        log.debug("connection from %s ended: %s", client_address, type(sys.exc_info()[1]).__name__)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request.sock if isinstance(request, _Buffered) else request)

    def server_close(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        self._watcher.join(timeout=5)
        super().server_close()
        for conn in list(self._waiting):
            self._drop(conn)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Pending:
    """A connection whose request is still arriving."""

    __slots__ = ("address", "data", "deadline")

    def __init__(self, address: Any, deadline: float) -> None:
        self.address, self.deadline, self.data = address, deadline, bytearray()

    def complete(self) -> bool:
        """Headers and the whole body are in (or enough to answer: too large, malformed, no length)."""
        end = self.data.find(b"\r\n\r\n")
        if end < 0:
            return len(self.data) > MAX_HEADER_BYTES
        length = 0
        for line in bytes(self.data[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                if not value.strip().isdigit():
                    return True  # the app answers 400
                length = int(value.strip())
        return length > MAX_BODY_BYTES or len(self.data) - (end + 4) >= length


class _Buffered:
    """What a request handler reads (the buffered request) and writes to (the socket)."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self.sock, self.data = sock, data


class _QuietHandler(WSGIRequestHandler):
    def setup(self) -> None:
        request = self.request
        if isinstance(request, _Buffered):  # from SoundWSGIServer: the whole request is already here
            self.connection = request.sock
            self.rfile = io.BytesIO(request.data)
            self.wfile = self.connection.makefile("wb", buffering=0)
        else:
            super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def serve(
    bolt: App,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    checks: dict[str, Check] | None = None,
    secrets: tuple[str, ...] = (),
    metrics_dir: Path | None = None,
    acks: AcksFirst | None = None,
    **options: Any,
) -> SoundWSGIServer:
    """The app on a `SoundWSGIServer` (tests, the console, `python -m bot run` in HTTP mode).

    Call `serve_forever()` on it (or run it in a thread) and `shutdown()` + `server_close()` to stop.
    ``checks``, ``secrets``, ``metrics_dir`` and ``acks`` go to `wsgi_for`; ``options`` to the server (``workers``,
    ``request_timeout``, ``write_timeout``, ``max_waiting``, ``reuse_port``).
    """
    server = SoundWSGIServer((host, port), _QuietHandler, **options)
    server.set_app(wsgi_for(bolt, checks=checks, secrets=secrets, metrics_dir=metrics_dir, acks=acks))
    return server


def __getattr__(name: str) -> Any:
    # `gunicorn bot.web:app` builds the app on first access, so importing this module has no side effect.
    if name == "app":
        return create_wsgi_app()
    raise AttributeError(name)
