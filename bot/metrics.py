"""Prometheus metrics (`/metrics`): what an operator watches — acks, Nexudus, pacing, alerts, store errors.

With several web workers (`python -m bot run --workers N`, bot/workers.py, or gunicorn, bot/gunicorn_conf.py)
every worker is a process: the supervisor sets `PROMETHEUS_MULTIPROC_DIR` before the workers import this module,
so prometheus_client keeps each worker's values in files there and `/metrics` adds them up
(`MultiProcessCollector`), whichever worker answers. Elsewhere (Socket Mode, the console, tests)
the values are this process's.

Label values come from short fixed lists, never from request input, so a forged request cannot add series.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import multiprocess as _multiprocess

ACK_KINDS = frozenset(
    {"command", "block_actions", "view_submission", "view_closed", "block_suggestion", "event", "shortcut"}
)

ACKS = Counter("chatrooms_slack_acks_total", "Slack requests answered (acked), by kind", ["kind"])
ACK_SECONDS = Histogram(
    "chatrooms_slack_ack_seconds",
    "Time from a Slack request reaching the app to its ack (Slack waits 3 s)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
NEXUDUS_REQUESTS = Counter(
    "chatrooms_nexudus_requests_total", "Nexudus requests by outcome (HTTP status, or timeout/connection)", ["status"]
)
NEXUDUS_THROTTLED = Counter(
    "chatrooms_nexudus_throttled_total", "Requests Nexudus refused as throttled (409/429) and that were retried"
)
THROTTLE_WAITS = Histogram(
    "chatrooms_nexudus_pacing_wait_seconds",
    "How long a request waited for its account's pacing slot (only requests that waited)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
ALERT_CYCLES = Counter("chatrooms_alert_cycles_total", "Alert worker cycles, by outcome", ["outcome"])
ALERT_DIGESTS = Counter("chatrooms_alert_digests_total", "Alert digests posted to Slack channels")
STORE_ERRORS = Counter("chatrooms_store_errors_total", "Store database failures that reached a user or a cycle")


def ack_kind(body: object) -> str:
    """The kind of a Slack request, from a fixed list (anything else is `other`)."""
    if not isinstance(body, dict):
        return "other"
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        return "event"
    if kind == "message_action":
        return "shortcut"
    return kind if isinstance(kind, str) and kind in ACK_KINDS else "other"


_ACK_SERIES: dict[str, tuple[Any, Any]] = {}
"""kind → its (counter, histogram) series: `labels()` looks them up under a lock and checks its arguments on every
call, on the request thread of every ack; there are at most `len(ACK_KINDS) + 1` kinds."""


def count_ack(body: object, seconds: float) -> None:
    """One Slack request acked after `seconds`: counted and timed under its kind."""
    kind = ack_kind(body)
    series = _ACK_SERIES.get(kind)
    if series is None:
        series = _ACK_SERIES.setdefault(kind, (ACKS.labels(kind), ACK_SECONDS.labels(kind)))
    counter, histogram = series
    counter.inc()
    histogram.observe(seconds)


def nexudus_status(status: int | str) -> str:
    if isinstance(status, int):
        return str(status) if 100 <= status <= 599 else "other"
    return status if status in {"timeout", "connection", "error"} else "other"


def _store_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [sqlite3.Error]
    try:
        from sqlalchemy.exc import SQLAlchemyError

        types.append(SQLAlchemyError)
    except ImportError:  # pragma: no cover - a dependency, but the metric must not need it
        pass
    return tuple(types)


STORE_ERROR_TYPES = _store_error_types()


def count_failure(exc: BaseException) -> None:
    """Count an exception that reached a user or ended a cycle, when it is the store's."""
    from bot.store import StoreError  # here: the adapter imports this module, and the store is not its concern

    if isinstance(exc, (StoreError, *STORE_ERROR_TYPES)):
        STORE_ERRORS.inc()


def serve_metrics(port: int, host: str = "0.0.0.0") -> Any:
    """This process's metrics on http://host:port/metrics from a daemon thread (processes without the web app);
    returns the server (`shutdown()` stops it)."""
    server, _ = start_http_server(port, addr=host)
    return server


def exposition(multiprocess_dir: Path | None = None) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format: every worker's with `multiprocess_dir` (gunicorn), else this
    process's."""
    if multiprocess_dir is not None:
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
