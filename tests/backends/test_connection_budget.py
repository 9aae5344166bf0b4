"""The PostgreSQL connection budget (issue 14, "Past one machine"): one bounded pool per process that the OAuth
stores share, a wait bounded by DATABASE_POOL_TIMEOUT and told as such, a full PostgreSQL told as full (never
"check DATABASE_URL and that PostgreSQL is running") wherever database errors become words, and the start of a
host's web processes warning when they alone could pass the server's max_connections.

Against real PostgreSQL servers: the session's, and one of its own with a small `max_connections` filled for real."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from conftest import start_or_skip
from cryptography.fernet import Fernet
from helpers.processes import ROOT, app_env
from helpers.servers import PostgresServer, free_port, stop_process

from bot.database import PoolBudget, check_web_budget
from bot.health import database_check, run_checks
from bot.nexudus.credentials import Credentials
from bot.settings import load_settings
from bot.slack.errors import describe
from bot.store import DatabaseFull, PoolExhausted, Store, fernet_from_setting
from bot.store.postgres import migrate
from bot.wiring import build_deps, open_store
from bot.worker import run_forever

pytestmark = pytest.mark.postgres

SMALL = 10
"""The small server's max_connections (3 of them for superusers only, PostgreSQL's default)."""
PASSWORD = "pw-never-shown"  # the servers trust loopback, so any password is accepted: it must never be printed
UNTRUE = "Check DATABASE_URL and that PostgreSQL is running"


@pytest.fixture(scope="module")
def small_server() -> Iterator[PostgresServer]:
    server = start_or_skip("PostgreSQL", lambda: PostgresServer(max_connections=SMALL))
    assert isinstance(server, PostgresServer)
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE ROLE app LOGIN")  # not a superuser: refused earlier, by the reserved slots
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def small_url(small_server: PostgresServer) -> str:
    """DATABASE_URL of a migrated database on the small server, with a password in it."""
    url = small_server.create_database("budget")
    migrate(url)
    return url.replace("postgres@", f"postgres:{PASSWORD}@")


def fill(server: PostgresServer, user: str = "postgres", most: int = SMALL + 5) -> tuple[list[psycopg.Connection], str]:
    """Connections opened as `user` until PostgreSQL refuses one: (those held, what it said)."""
    held: list[psycopg.Connection] = []
    for _ in range(most):
        try:
            held.append(psycopg.connect(f"host=127.0.0.1 port={server.port} user={user} dbname=postgres"))
        except psycopg.OperationalError as exc:
            return held, str(exc)
    for conn in held:
        conn.close()
    raise AssertionError(f"PostgreSQL accepted {most} connections as {user}: max_connections is not {SMALL}")


def release(held: list[psycopg.Connection]) -> None:
    for conn in held:
        conn.close()


def test_a_full_postgresql_is_told_as_full_by_the_store_the_health_check_migrate_and_the_alert_worker(
    small_server: PostgresServer, small_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = fernet_from_setting(Fernet.generate_key().decode())
    running = Store(small_url, key)  # opened before PostgreSQL fills up, as a live process's store is
    held: list[psycopg.Connection] = []
    try:
        running.tables.engine.dispose()  # type: ignore[attr-defined]  # its next operation needs a new connection
        held, said = fill(small_server)
        assert "too many clients" in said  # PostgreSQL's own words (SQLSTATE 53300), for real

        with pytest.raises(DatabaseFull) as opening:
            Store(small_url, key)
        text = str(opening.value)
        assert "is running but refused another connection: it has reached its max_connections" in text, text
        assert "DATABASE_POOL_SIZE=4 + DATABASE_MAX_OVERFLOW=4" in text and "PgBouncer" in text, text
        assert UNTRUE not in text and PASSWORD not in text

        with pytest.raises(DatabaseFull) as working:  # a live store's operation: the same words
            running.load_credentials("T1", "U1")
        assert "max_connections" in str(working.value)
        words = describe(working.value).text
        assert "has as many connections as it accepts" in words and "cannot reach" not in words, words

        status, body = run_checks({"database": database_check(small_url)}, (small_url,))
        assert status == 503 and "database: FAILED: DatabaseFull: PostgreSQL is running but refused" in body, body
        assert PASSWORD not in body and "postgresql+psycopg://" not in body

        with pytest.raises(DatabaseFull, match="max_connections"):
            migrate(small_url)

        # The alert worker's loop: a full database skips the cycle and says why, then tries the next one (before,
        # it stopped the worker as if the store could never be read).
        stop, cycles = threading.Event(), []
        deps = SimpleNamespace(store=running, clock=lambda: __import__("datetime").datetime.now(), journal=None)
        worker: Any = SimpleNamespace(deps=deps, run_cycle=lambda: cycles.append(1), interval=0.0)
        caplog.set_level(logging.ERROR, logger="bot.worker")
        loop = threading.Thread(target=run_forever, args=(worker, stop, 0.2), daemon=True)
        loop.start()
        deadline = time.monotonic() + 20
        while sum("alert cycle skipped" in r.getMessage() for r in caplog.records) < 2:
            assert loop.is_alive(), "the worker's loop ended on a full database"
            assert time.monotonic() < deadline, "no cycle was skipped"
            time.sleep(0.05)
        stop.set()
        loop.join(timeout=10)
        skipped = next(r.getMessage() for r in caplog.records if "alert cycle skipped" in r.getMessage())
        assert "max_connections" in skipped and PASSWORD not in skipped and cycles == []
    finally:
        release(held)
        running.close()
    with Store(small_url, key) as store:  # room again: the same store works
        assert store.load_credentials("T1", "U1") is None


def test_the_reserved_slots_and_a_role_s_limit_are_told_as_full_too(small_server: PostgresServer) -> None:
    from bot.store.postgres import database_error

    held, said = fill(small_server, user="app")  # not a superuser: the last 3 slots are not its to take
    try:
        assert "remaining connection slots are reserved" in said
        assert len(held) == SMALL - 3
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(f"host=127.0.0.1 port={small_server.port} user=app dbname=postgres")
        told = database_error(refused.value, small_server.url(), PoolBudget())
        assert isinstance(told, DatabaseFull) and "its max_connections" in str(told), told
    finally:
        release(held)
    with psycopg.connect(small_server.dsn(), autocommit=True) as conn:
        conn.execute("ALTER ROLE app CONNECTION LIMIT 1")
    try:
        dsn = f"host=127.0.0.1 port={small_server.port} user=app dbname=postgres"
        with psycopg.connect(dsn), pytest.raises(psycopg.OperationalError) as limited:
            psycopg.connect(dsn)
        told = database_error(limited.value, small_server.url(), PoolBudget())
        assert isinstance(told, DatabaseFull) and "connection limit set on the app's role" in str(told), told
        assert "ALTER ROLE" in str(told)
    finally:
        with psycopg.connect(small_server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER ROLE app CONNECTION LIMIT -1")


def _backends(url: str) -> int:
    """The app's connections to the database of `url` now, as PostgreSQL counts them."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(f"host={parsed.host} port={parsed.port} user=postgres dbname=postgres") as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'chatrooms-bot'",
            (parsed.database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_process_holds_at_most_its_pool_and_threads_wait_their_turn(migrated_database_url: str) -> None:
    settings = load_settings(
        database_url=migrated_database_url,
        store_key=Fernet.generate_key().decode(),
        database_pool_size=2,
        database_max_overflow=1,
        _env_file=None,
    )
    with open_store(settings, local=False) as store:
        engine = store.tables.engine  # type: ignore[attr-defined]
        seen: list[int] = []
        done: list[int] = []

        def busy(n: int) -> None:
            with engine.connect() as conn:
                conn.execute(__import__("sqlalchemy").text("SELECT pg_sleep(0.15)"))
            store.save_credentials("T1", f"U{n}", Credentials(f"u{n}@example.com", "pw"), store_now())
            done.append(n)

        threads = [threading.Thread(target=busy, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            seen.append(_backends(migrated_database_url))
            time.sleep(0.02)
        for thread in threads:
            thread.join()
        assert sorted(done) == list(range(12)), "every thread waited for a connection and got one"
        assert max(seen) <= 3 and max(seen) >= 2, seen  # DATABASE_POOL_SIZE=2 + DATABASE_MAX_OVERFLOW=1


def store_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_pool_that_stays_busy_is_told_as_such_after_its_timeout(migrated_database_url: str) -> None:
    key = fernet_from_setting(Fernet.generate_key().decode())
    with Store(migrated_database_url, key, pool=PoolBudget(1, 1, timeout=1.0)) as store:
        engine = store.tables.engine  # type: ignore[attr-defined]
        with engine.connect(), engine.connect():  # every connection of the process in use
            started = time.monotonic()
            with pytest.raises(PoolExhausted) as waited:
                store.load_credentials("T1", "U1")
            assert 0.9 <= time.monotonic() - started < 5
        text = str(waited.value)
        assert "all 2 database connections of this process (DATABASE_POOL_SIZE=1 + DATABASE_MAX_OVERFLOW=1)" in text
        assert "DATABASE_POOL_TIMEOUT" in text and "PostgreSQL was not asked for more" in text, text
        assert UNTRUE not in text
        assert "handling too much at once" in describe(waited.value).text
        assert store.load_credentials("T1", "U1") is None  # free again: it works


def test_the_oauth_installation_and_state_stores_use_the_store_s_pool(
    tmp_path: Path, migrated_database_url: str
) -> None:
    settings = load_settings(
        slack_client_id="1111.2222",
        slack_client_secret="shh",
        slack_signing_secret="signing",
        database_url=migrated_database_url,
        store_key=Fernet.generate_key().decode(),
        store_path=tmp_path / "store.sqlite",
        database_pool_size=1,
        database_max_overflow=1,
        database_pool_timeout=1,
        _env_file=None,
    )
    deps = build_deps(settings)
    try:
        assert deps.installations is not None
        engine = deps.store.tables.engine  # type: ignore[attr-defined]
        assert deps.installations.store.inner.engine is engine  # type: ignore[attr-defined]
        assert deps.installations.states.engine is engine  # type: ignore[attr-defined]
        assert deps.installations.bot_token("T1") is None
        # The process's 2 connections in use: the installations wait for one too, then say so.
        with engine.connect(), engine.connect(), pytest.raises(PoolExhausted, match="DATABASE_POOL_SIZE=1"):
            deps.installations.bot_token("T1")
    finally:
        deps.store.close()


# ------------------------------------------------------------------------------- told at start
def _read_until(proc: subprocess.Popen[str], text: str, timeout: float = 60.0) -> str:
    """`proc`'s stderr up to the first line holding `text` (fails after `timeout` s, or if it exits first)."""
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if text in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    out = "".join(lines)
    assert text in out, f"no {text!r} within {timeout:.0f} s:\n{out[-3000:]}"
    return out


@pytest.mark.redis
@pytest.mark.parametrize("command", ["gunicorn", "bot run --workers"])
def test_a_host_whose_web_processes_could_pass_max_connections_is_warned_at_start(
    tmp_path: Path, small_url: str, redis_url: str, command: str
) -> None:
    port = free_port()
    env = app_env(tmp_path, DATABASE_URL=small_url, REDIS_URL=redis_url, PORT=str(port), TMPDIR=str(tmp_path))
    if command == "gunicorn":
        args = [sys.executable, "-m", "gunicorn", "-c", "python:bot.gunicorn_conf", "--workers", "2", "bot.web:app"]
    else:
        args = [sys.executable, "-m", "bot", "run", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        out = _read_until(proc, "PostgreSQL connection budget")
    finally:
        stop_process(proc)  # type: ignore[arg-type]
    line = next(line for line in out.splitlines() if "PostgreSQL connection budget" in line)
    assert "WARNING" in line, line
    assert (
        "2 web processes × up to 9 connections (DATABASE_POOL_SIZE=4 + DATABASE_MAX_OVERFLOW=4 + 1 for /healthz)"
        in line
    )
    assert "= 18, but PostgreSQL at postgresql+psycopg://postgres:***@127.0.0.1:" in line, line
    assert f"accepts {SMALL} (max_connections={SMALL})" in line and "PgBouncer" in line, line
    assert PASSWORD not in out


def test_the_start_time_look_says_nothing_when_the_database_cannot_be_reached_and_is_bounded() -> None:
    started = time.monotonic()
    assert check_web_budget(f"postgresql+psycopg://u:p@127.0.0.1:{free_port()}/x", 4, PoolBudget()) is None
    assert time.monotonic() - started < 5


def test_host_processes_that_fit_are_said_at_info_level(small_url: str) -> None:
    found = check_web_budget(small_url, 1, PoolBudget())
    assert found is not None
    fits, words = found
    assert fits and "1 web process × up to 9 connections" in words and f"of the {SMALL} (max_connections" in words
