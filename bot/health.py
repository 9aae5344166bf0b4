"""`/healthz`: can this process reach what it depends on? Redis and the database when they are configured.

Each check is a callable that raises when its dependency does not answer; `run_checks` turns them into an
HTTP status and a short plain-text body that names what failed and why, without URLs or credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.logs import scrub

if TYPE_CHECKING:
    import redis

Check = Callable[[], object]
TIMEOUT = 3.0  # seconds a check may take (the load balancer's own timeout is usually 5 s)


def redis_check(client: redis.Redis) -> Check:
    def check() -> object:
        return client.ping()

    return check


def database_check(url: str, *, timeout: float = TIMEOUT) -> Check:
    """`SELECT 1` through SQLAlchemy on a small engine of its own (created on first use, then reused): one
    connection (`bot.database.HEALTH_CONNECTIONS`), apart from the process's pool. A failure is raised in the
    store's true words (PostgreSQL full, refusing the login, not running…), naming no URL."""
    engine: list[Any] = []

    def check() -> object:
        import sqlalchemy as sa

        from bot.database import APPLICATION_NAME, HEALTH_CONNECTIONS
        from bot.store.postgres import DATABASE_ERRORS, database_error

        if not engine:
            engine.append(
                sa.create_engine(
                    url,
                    pool_size=HEALTH_CONNECTIONS,
                    max_overflow=0,
                    pool_timeout=timeout,
                    pool_pre_ping=True,
                    connect_args={"connect_timeout": max(2, int(timeout)), "application_name": APPLICATION_NAME},
                )
            )
        try:
            with engine[0].connect() as conn:
                return conn.execute(sa.text("SELECT 1")).scalar()
        except DATABASE_ERRORS as exc:
            raise database_error(exc, None) from None

    return check


def run_checks(checks: dict[str, Check], secrets: tuple[str, ...] = ()) -> tuple[int, str]:
    """(HTTP status, body): 200 and `ok` when every check passed, else 503 naming each failure."""
    if not checks:
        return 200, "ok"
    lines: list[str] = []
    failed = False
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
            lines.append(f"{name}: ok ({(time.perf_counter() - started) * 1000:.0f} ms)")
        except Exception as exc:
            failed = True
            lines.append(f"{name}: FAILED: {_reason(exc, secrets)}")
    return (503 if failed else 200), ("unavailable" if failed else "ok") + "\n" + "\n".join(lines)


def _reason(exc: BaseException, secrets: tuple[str, ...]) -> str:
    text = " ".join(str(exc).split())[:300]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
