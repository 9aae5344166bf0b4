"""The PostgreSQL connection budget's settings and arithmetic (bot/database.py), and the words each kind of
database trouble gets (bot/store/postgres.py:database_error). Against real servers:
tests/backends/test_connection_budget.py."""

from __future__ import annotations

import psycopg
import pytest

from bot.database import HEALTH_CONNECTIONS, PoolBudget, ServerLimits, budget_report
from bot.settings import SettingsError, load_settings
from bot.store import DatabaseFull, PoolExhausted, StoreUnavailable
from bot.store.postgres import database_error, engine_for

URL = "postgresql+psycopg://app:pw-never-shown@db.internal:5432/chatrooms"


def test_the_pool_settings_have_defaults_and_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW", "DATABASE_POOL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(_env_file=None).database_pool == PoolBudget(4, 4, 10.0)
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "0")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "2.5")
    pool = load_settings(_env_file=None).database_pool
    assert pool == PoolBudget(3, 0, 2.5) and pool.connections == 3
    engine = engine_for(URL, pool)  # nothing connects until used
    try:
        assert (engine.pool.size(), engine.pool.timeout()) == (3, 2.5)  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE"),
        ({"DATABASE_POOL_SIZE": "many"}, "DATABASE_POOL_SIZE"),
        ({"DATABASE_MAX_OVERFLOW": "-1"}, "DATABASE_MAX_OVERFLOW"),
        ({"DATABASE_MAX_OVERFLOW": "1000"}, "DATABASE_MAX_OVERFLOW"),
        ({"DATABASE_POOL_TIMEOUT": "0"}, "DATABASE_POOL_TIMEOUT"),
        ({"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0"}, "alert worker holds one connection"),
    ],
)
def test_bad_pool_settings_stop_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, str], named: str
) -> None:
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings(_env_file=None)


def test_the_defaults_fit_the_readme_s_processes_in_postgresql_s_default_max_connections() -> None:
    """README, "Running at scale": a host of 4 web workers (pool + /healthz each) and 2 alert workers, against
    PostgreSQL's defaults (max_connections=100, 3 reserved for superusers), with room for a deploy's `migrate`,
    psql and monitoring; a second host of 4 web workers still fits."""
    pool, server = PoolBudget(), ServerLimits(100, 3, superuser=False)
    web, alerts = pool.connections + HEALTH_CONNECTIONS, pool.connections
    one_host = 4 * web + 2 * alerts
    assert (web, alerts, one_host, server.available) == (9, 8, 52, 97)
    assert server.available - one_host >= 40
    assert one_host + 4 * web <= server.available


def test_the_budget_report_names_the_numbers() -> None:
    pool = PoolBudget(5, 10)  # the pool each process used to have
    fits, words = budget_report(8, 16, pool, ServerLimits(100, 3, superuser=False), "PostgreSQL-URL")
    assert not fits
    assert "8 web processes × up to 16 connections (DATABASE_POOL_SIZE=5 + DATABASE_MAX_OVERFLOW=10 + 1 for " in words
    assert "= 128, but PostgreSQL at PostgreSQL-URL accepts 97 (max_connections=100, 3 of them" in words
    assert "PgBouncer" in words and "DATABASE_MAX_OVERFLOW" in words
    fits, words = budget_report(4, 16, pool, ServerLimits(100, 3, superuser=False), "PostgreSQL-URL")
    assert fits and "= 64 of the 97" in words
    assert budget_report(2, 50, pool, ServerLimits(100, 3, superuser=True), "U")[0]  # a superuser may use all 100


def _error(text: str, sqlstate: str | None = None) -> Exception:
    """What SQLAlchemy raises around what psycopg raised (libpq reports a refused connection as text only)."""
    from sqlalchemy.exc import OperationalError

    orig = psycopg.OperationalError(text)
    orig.sqlstate = sqlstate
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("said", "sqlstate", "kind", "words"),
    [
        ('connection to server at "db", port 5432 failed: FATAL:  sorry, too many clients already', None,
         DatabaseFull, "is running but refused another connection: it has reached its max_connections"),
        ("FATAL: remaining connection slots are reserved for roles with the SUPERUSER attribute", None,
         DatabaseFull, "its max_connections"),
        ('FATAL: too many connections for database "chatrooms"', "53300", DatabaseFull,
         "connection limit set on the app's database"),
        ('FATAL:  password authentication failed for user "app"', None, StoreUnavailable,
         "refused the app's login"),
        ('FATAL:  database "chatrooms" does not exist', None, StoreUnavailable, "has no such database"),
        ("FATAL:  the database system is starting up", None, StoreUnavailable, "not accepting connections yet"),
        ("server closed the connection unexpectedly", None, StoreUnavailable, "was cut"),
        ("could not write to file: No space left on device", "53100", StoreUnavailable, "short of resources"),
        ("deadlock detected", "40P01", StoreUnavailable, "refused a statement"),
        ('connection to server at "db", port 5432 failed: Connection refused', None, StoreUnavailable,
         "cannot reach the database postgresql+psycopg://app:***@db.internal:5432/chatrooms"),
    ],
)  # fmt: skip
def test_each_database_trouble_is_told_as_what_it_is(
    said: str, sqlstate: str | None, kind: type[StoreUnavailable], words: str
) -> None:
    told = database_error(_error(said, sqlstate), URL, PoolBudget())
    assert type(told) is kind and words in str(told), told
    assert "pw-never-shown" not in str(told)
    if "Connection refused" not in said:
        assert "Check DATABASE_URL (host and port)" not in str(told)  # only when it cannot be reached


def test_a_pool_timeout_names_the_pool_and_no_check_names_a_url() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    told = database_error(PoolTimeout("QueuePool limit of size 4 overflow 4 reached"), URL, PoolBudget())
    assert isinstance(told, PoolExhausted) and "all 8 database connections of this process" in str(told)
    bare = database_error(_error("FATAL:  sorry, too many clients already"), None)
    assert isinstance(bare, DatabaseFull) and "db.internal" not in str(bare) and str(bare).startswith("PostgreSQL is")
