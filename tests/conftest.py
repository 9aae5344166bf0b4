"""Shared fixtures: a sandbox Nexudus, a fake Slack, the real Bolt app over HTTP, and a movable clock."""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from helpers.servers import PostgresServer, RedisServer, Unavailable

from bot.console import fake_slack as fake_slack_module
from bot.console.driver import SlackDriver
from bot.console.fake_slack import Call, FakeSlack
from bot.deps import Deps
from bot.nexudus.client import ClientFactory
from bot.nexudus.dialect import KNOWN
from bot.nexudus.pacing import PacerRegistry
from bot.runner import drain
from bot.sandbox.dialects import DIALECT_NAMES, LOCAL_ZONE, dialect
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack.app import build_app
from bot.web import serve
from bot.wiring import build_deps

SIGNING_SECRET = "test-signing-secret"
ADMIN = ("admin@sandbox.local", "sandbox-admin")
READER = ("reader@sandbox.local", "sandbox-reader")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVERY_DIALECT = pytest.mark.every_dialect
"""Put on an end-to-end module (`pytestmark`): its tests that use the sandbox run in every dialect."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("one_dialect"):
        return  # a test of process wiring, not of Nexudus: the default dialect is enough
    if metafunc.definition.get_closest_marker("every_dialect") and "sandbox_dialect" in metafunc.fixturenames:
        metafunc.parametrize("sandbox_dialect", DIALECT_NAMES)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slack_refusals: the test sends payloads the strict fake Slack must refuse (not an app bug)"
    )


UNEXPECTED: list[fake_slack_module.Refusal] = []  # refused while a test not marked slack_refusals ran


@pytest.fixture(autouse=True)
def strict_slack(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every payload the app sends to the fake Slack (or answers in an ack) must be one Slack takes: a test
    during which the fake refused one fails, unless it is marked as sending refused payloads on purpose."""
    before = len(fake_slack_module.TOTALS.refused)
    yield
    refused = fake_slack_module.TOTALS.refused[before:]
    if refused and request.node.get_closest_marker("slack_refusals") is None:
        UNEXPECTED.extend(refused)
        lines = [f"{r.method} → {r.error}: {'; '.join(r.messages)[:600]}" for r in refused[:5]]
        pytest.fail("the strict fake Slack refused payloads the app sent:\n" + "\n".join(lines), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures for the record: backend tests skipped (and how to run them), payloads validated."""
    for backend, reason in BACKEND_SKIPS.items():
        skipped = sum(
            1
            for report in terminalreporter.stats.get("skipped", [])
            if isinstance(report.longrepr, tuple) and reason in str(report.longrepr[2])
        )
        terminalreporter.write_line(
            f"{backend} backend tests SKIPPED ({skipped}): {reason}. "
            "Set REQUIRE_BACKENDS=1 to make a missing server fail instead (CI does).",
            yellow=True,
        )
    totals = fake_slack_module.TOTALS
    if not totals.total:
        return
    by_method = ", ".join(f"{m} {n}" for m, n in sorted(totals.validated.items()))
    by_error = Counter(r.error for r in totals.refused)
    terminalreporter.write_line(
        f"strict fake Slack: {totals.total} payloads validated ({by_method}); {len(totals.refused)} refused "
        f"{dict(by_error) or ''} by tests that send them on purpose or by the app; {len(UNEXPECTED)} by the app"
    )


class FakeClock:
    """A wall clock tests move by hand instead of sleeping."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


@pytest.fixture(autouse=True)
def _fresh_dialects() -> Iterator[None]:
    """Each test learns its server's dialect afresh (the memory is per process, keyed by base URL)."""
    KNOWN.clear()
    yield
    KNOWN.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox_dialect() -> str:
    """The dialect the sandbox speaks; end-to-end modules parametrize it over every dialect."""
    return "seed"


@pytest.fixture
def sandbox(clock: FakeClock, sandbox_dialect: str) -> Iterator[SandboxServer]:
    server = SandboxServer(config=SandboxConfig(throttle=False, dialect=dialect(sandbox_dialect)), now=clock)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def settings(sandbox: SandboxServer, fake_slack: FakeSlack, tmp_path: Path, sandbox_dialect: str) -> Settings:
    return Settings(
        nexudus_base_url=sandbox.url,
        # As an operator would set them after `python -m bot doctor`: a server without /api/token needs
        # auto (or basic); one that writes local times with a Z needs the space's zone.
        nexudus_auth="auto" if sandbox_dialect == "no-token" else "bearer",
        nexudus_time_zone=LOCAL_ZONE if sandbox_dialect == "local-times" else "UTC",
        slack_api_url=fake_slack.api_url,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        store_path=tmp_path / "store.sqlite",
        store_key=Fernet.generate_key().decode(),
        nexudus_pacing=False,
        nexudus_retries=1,
        nexudus_backoff=0,
        redis_url=None,  # the embedded mode, whatever this machine's environment says; backend tests set them
        database_url=None,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def deps(settings: Settings, clock: FakeClock) -> Iterator[Deps]:
    clients = ClientFactory.from_settings(settings, PacerRegistry(enabled=False))
    built = build_deps(settings, clock=clock, clients=clients)
    try:
        yield built
    finally:
        built.store.close()


@dataclass
class RunningApp:
    deps: Deps
    slack: SlackDriver
    fake: FakeSlack
    sandbox: SandboxServer
    clock: FakeClock
    url: str
    seen: dict[str, int] = field(default_factory=dict)

    def next(self, method: str, timeout: float = 10.0) -> Call:
        """The next call of `method` not yet looked at, waiting for it (calls are never cleared)."""
        index = self.seen.get(method, 0)
        call = self.fake.wait_for(method, count=index + 1, timeout=timeout)[index]
        self.seen[method] = index + 1
        return call


@pytest.fixture
def running_app(deps: Deps, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock) -> Iterator[RunningApp]:
    """The real Bolt app served over HTTP on loopback, driven by signed requests."""
    bolt = build_app(deps)
    server = serve(bolt, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    try:
        yield RunningApp(deps, SlackDriver(url, SIGNING_SECRET, fake_slack), fake_slack, sandbox, clock, url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        # Lazy work still running would meet a stopped fake Slack and log errors into the next test.
        drain(bolt.listener_runner.listener_executor, timeout=30)


@pytest.fixture
def logged_in(running_app: RunningApp) -> RunningApp:
    """The default Slack user logged in as the sandbox admin (stored directly, as the login modal would)."""
    running_app.deps.services.login(running_app.slack.team_id, running_app.slack.user_id, *ADMIN)
    return running_app


# ----------------------------------------------------------------------- real Redis and PostgreSQL servers

BACKEND_SKIPS: dict[str, str] = {}  # backend → why its tests were skipped (said again in the summary)


def _start_or_skip(backend: str, start: type[RedisServer] | type[PostgresServer]) -> RedisServer | PostgresServer:
    try:
        return start().start()
    except Unavailable as exc:
        if os.environ.get("REQUIRE_BACKENDS") == "1":
            pytest.fail(f"{backend} is required here (REQUIRE_BACKENDS=1): {exc}", pytrace=False)
        BACKEND_SKIPS[backend] = str(exc)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session, on a free loopback port; stopped at the end."""
    server = _start_or_skip("Redis", RedisServer)
    assert isinstance(server, RedisServer)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """`REDIS_URL` of an empty Redis database (flushed before and after the test)."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
        yield redis_server.url
        client.flushall()
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster for the session (initdb in a temporary directory); removed at the end."""
    server = _start_or_skip("PostgreSQL", PostgresServer)
    assert isinstance(server, PostgresServer)
    try:
        yield server
    finally:
        server.stop()


_DATABASES = itertools.count(1)


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """`DATABASE_URL` (SQLAlchemy form, psycopg 3) of a new, empty database, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_DATABASES)}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store lives, once per backend: the SQLite file (STORE_PATH), or a new PostgreSQL database
    migrated to the current schema (DATABASE_URL). The store's contract tests take this."""
    if request.param == "sqlite":
        return tmp_path / "var" / "store.sqlite"
    from bot.store.postgres import migrate

    url: str = request.getfixturevalue("database_url")
    migrate(url)
    return url
