"""The PostgreSQL connection budget: how many connections one process may hold, and whether this host's processes
fit in what the server accepts.

Every process that uses ``DATABASE_URL`` (each web worker, each alert worker, Socket Mode) keeps ONE pool
(`PoolBudget`: ``DATABASE_POOL_SIZE`` connections kept open, up to ``DATABASE_MAX_OVERFLOW`` more under load); a
thread that finds them all in use waits up to ``DATABASE_POOL_TIMEOUT`` seconds for one instead of opening more.
A web process also keeps one connection of its own for ``/healthz`` (bot/health.py), so that a busy pool never
makes a live process look dead to the load balancer.

PostgreSQL refuses connections past ``max_connections`` (100 by default, 3 of them kept for superusers) with
"sorry, too many clients already". Where the app knows how many web processes it starts on this host (gunicorn's
master, ``python -m bot run --workers N``) it asks the server for its limit once, on a short connection, and
warns when those processes alone could pass it (`budget_report`); other hosts and the alert workers are not
known there, so it is a warning, never a refusal.

No import of the app here: gunicorn's master reads this before its workers set up their metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "HEALTH_CONNECTIONS",
    "PoolBudget",
    "ServerLimits",
    "budget_report",
    "check_budget",
    "check_web_budget",
    "safe_url",
    "server_limits",
]

HEALTH_CONNECTIONS = 1
"""Connections a web process keeps for `/healthz`, apart from its pool."""

CONNECT_TIMEOUT = 10
"""Seconds a new connection may take (libpq's ``connect_timeout``); without it a host that drops packets would
hold a thread for minutes."""

CHECK_TIMEOUT = 3
"""Seconds the start-time look at the server's limits may take: a start is never held longer than this."""

APPLICATION_NAME = "chatrooms-bot"
"""How the app's connections show in ``pg_stat_activity`` (``SELECT count(*) … WHERE application_name = …``)."""

WHAT_TO_DO = (
    "lower DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW or the number of processes, raise PostgreSQL's "
    "max_connections, or put a pooler such as PgBouncer in front (README: Running at scale)"
)


def safe_url(url: str) -> str:
    """The URL as it may appear in a message or a log: never its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL (not a valid database URL)"


@dataclass(frozen=True)
class PoolBudget:
    """One process's connections to PostgreSQL (the defaults are the settings' defaults)."""

    size: int = 4
    """DATABASE_POOL_SIZE: connections kept open once used."""
    overflow: int = 4
    """DATABASE_MAX_OVERFLOW: more, opened when all of those are busy and closed again when returned."""
    timeout: float = 10.0
    """DATABASE_POOL_TIMEOUT: seconds a thread waits for a free connection before giving up."""

    @property
    def connections(self) -> int:
        """The most this pool ever holds at once."""
        return self.size + self.overflow

    def settings_text(self) -> str:
        return f"DATABASE_POOL_SIZE={self.size} + DATABASE_MAX_OVERFLOW={self.overflow}"


@dataclass(frozen=True)
class ServerLimits:
    """What PostgreSQL accepts: ``max_connections``, of which ``reserved`` are kept for superusers (and, from
    PostgreSQL 16, for roles granted ``pg_use_reserved_connections``) — unless the app's role is a superuser."""

    max_connections: int
    reserved: int
    superuser: bool

    @property
    def available(self) -> int:
        return self.max_connections if self.superuser else max(0, self.max_connections - self.reserved)

    def text(self) -> str:
        if self.superuser or not self.reserved:
            return f"{self.available} (max_connections={self.max_connections})"
        reserved = f"{self.reserved} of them reserved for superusers"
        return f"{self.available} (max_connections={self.max_connections}, {reserved})"


def server_limits(url: str, *, timeout: float = CHECK_TIMEOUT) -> ServerLimits:
    """The server's limits, read on one short connection of its own (closed at once). Raises what SQLAlchemy
    raises when the server cannot be reached in `timeout` seconds."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(
        url,
        poolclass=NullPool,
        connect_args={"connect_timeout": max(2, int(timeout)), "application_name": APPLICATION_NAME},
    )
    query = sa.text(
        "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int, "
        "coalesce(current_setting('reserved_connections', true), '0')::int, current_setting('is_superuser') = 'on'"
    )
    try:
        with engine.connect() as conn:
            row: tuple[Any, ...] = tuple(conn.execute(query).one())
    finally:
        engine.dispose()
    max_connections, superuser_reserved, reserved, superuser = row
    return ServerLimits(int(max_connections), int(superuser_reserved) + int(reserved), bool(superuser))


def budget_report(
    processes: int, per_process: int, pool: PoolBudget, limits: ServerLimits, where: str, kind: str = "web process"
) -> tuple[bool, str]:
    """(whether `processes` × `per_process` connections fit in what the server accepts, the words for the log)."""
    need = processes * per_process
    extra = per_process - pool.connections
    each = pool.settings_text() + (f" + {extra} for /healthz" if extra else "")
    counted = f"{processes} {kind}{'es' if processes != 1 else ''} × up to {per_process} connections ({each}) = {need}"
    if need > limits.available:
        return False, (
            f"PostgreSQL connection budget: {counted}, but PostgreSQL at {where} accepts {limits.text()}. Under load "
            'it would refuse connections ("too many clients"), and alert workers, other hosts and other clients '
            f"need theirs too. To fix: {WHAT_TO_DO}."
        )
    return True, (
        f"PostgreSQL connection budget: {counted} of the {limits.text()} PostgreSQL at {where} accepts; "
        "alert workers, other hosts and other clients need theirs within the rest."
    )


def check_budget(
    url: str,
    processes: int,
    per_process: int,
    pool: PoolBudget,
    *,
    kind: str = "web process",
    timeout: float = CHECK_TIMEOUT,
) -> tuple[bool, str] | None:
    """`budget_report` against the server at `url`, or None when it cannot be asked within `timeout` seconds (not
    reachable, refused): the start then says nothing more than before — the store says what is wrong when it opens."""
    try:
        limits = server_limits(url, timeout=timeout)
    except Exception:
        return None
    return budget_report(processes, per_process, pool, limits, safe_url(url), kind)


def check_web_budget(url: str, processes: int, pool: PoolBudget) -> tuple[bool, str] | None:
    """`check_budget` for `processes` web processes of this host: each holds its pool and its /healthz connection."""
    return check_budget(url, processes, pool.connections + HEALTH_CONNECTIONS, pool)
