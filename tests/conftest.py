"""Shared fixtures: a sandbox Nexudus, a fake Slack, the real Bolt app over HTTP, and a movable clock."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.fernet import Fernet
from helpers.dialect_plan import FEATURES, Watch, runs_in
from helpers.servers import PostgresServer, RedisServer, Unavailable

from bot.console import fake_slack as fake_slack_module
from bot.console.driver import SlackDriver
from bot.console.fake_slack import Call, FakeSlack
from bot.deps import Deps
from bot.nexudus.client import PACING_FILE, ClientFactory
from bot.nexudus.dialect import KNOWN
from bot.nexudus.pacing import Limits, PacerRegistry
from bot.runner import drain
from bot.sandbox.dialects import DIALECT_NAMES, LOCAL_ZONE, dialect
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack.app import build_app
from bot.store import Store, fernet_from_setting
from bot.web import serve
from bot.wiring import CHATROOM_LOCK_FILE, LOCAL_KEY_FILE, build_deps

if TYPE_CHECKING:
    import redis

SIGNING_SECRET = "test-signing-secret"
ADMIN = ("admin@sandbox.local", "sandbox-admin")
READER = ("reader@sandbox.local", "sandbox-reader")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVERY_DIALECT = pytest.mark.every_dialect
"""Put on an end-to-end module (`pytestmark`): its tests that use the sandbox run in every dialect that changes what
they touch (`@pytest.mark.dialect_sensitive(...)`), and in the full dialects: see tests/helpers/dialect_plan.py."""
SLACK_E2E = pytest.mark.slack_e2e
"""Put on a module of the Slack end-to-end suite (`pytestmark`): its tests that build the app run on the embedded
backends (SQLite store, in-process pacing, file locks, once-only keys in memory) AND once more, in the seed
dialect only, on the shared ones: a PostgreSQL store (DATABASE_URL, migrated) and Redis (REDIS_URL: pacing,
chatroom locks, once-only keys). Test ids say which: `embedded`, `postgres-redis`."""

EMBEDDED, SHARED = "embedded", "postgres-redis"
_SHARED_MARKS = [pytest.mark.postgres, pytest.mark.redis]


def declared_features(node: pytest.Function | pytest.FunctionDefinition) -> frozenset[str]:
    """What a test says it touches of what dialects change (`@pytest.mark.dialect_sensitive(...)`)."""
    named = frozenset(f for mark in node.iter_markers("dialect_sensitive") for f in mark.args)
    unknown = named - set(FEATURES)
    if unknown:
        raise pytest.UsageError(f"{node.nodeid}: dialect_sensitive names no dialect feature {sorted(unknown)}")
    return named


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    one = metafunc.definition.get_closest_marker("one_dialect") is not None  # process wiring, not Nexudus
    every = (
        not one
        and metafunc.definition.get_closest_marker("every_dialect") is not None
        and "sandbox_dialect" in metafunc.fixturenames
    )
    both = metafunc.definition.get_closest_marker("slack_e2e") is not None and "backend" in metafunc.fixturenames
    # The full suite in the full dialects; in the others, the tests touching what they change (tests/helpers/
    # dialect_plan.py says why, and how the markers are kept true).
    touched = declared_features(metafunc.definition)
    names = [name for name in DIALECT_NAMES if runs_in(name, touched)] if every else []
    if every and both:
        # The embedded backends in those dialects; the shared backends once, in the seed dialect (the backends are
        # what varies there, not Nexudus).
        cases = [pytest.param(name, EMBEDDED, id=f"{name}-{EMBEDDED}") for name in names]
        cases.append(pytest.param("seed", SHARED, id=f"seed-{SHARED}", marks=_SHARED_MARKS))
        metafunc.parametrize(("sandbox_dialect", "backend"), cases)
    elif every:
        metafunc.parametrize("sandbox_dialect", names)
    elif both:
        metafunc.parametrize("backend", [EMBEDDED, pytest.param(SHARED, marks=_SHARED_MARKS)])


def collected_plan(items: list[pytest.Item]) -> list[dict[str, object]]:
    """What was collected, for tests/integration/test_dialect_plan.py: each test's function, parameters, declared
    dialect features and end-to-end markers."""
    return [
        {
            "nodeid": item.nodeid,
            "function": item.originalname,
            "params": {k: str(v) for k, v in getattr(getattr(item, "callspec", None), "params", {}).items()},
            "features": sorted(declared_features(item)),
            "every_dialect": item.get_closest_marker("every_dialect") is not None,
            "slack_e2e": item.get_closest_marker("slack_e2e") is not None,
        }
        for item in items
        if isinstance(item, pytest.Function)
    ]


DESELECTED: list[str] = []  # node ids -k/-m left out of this session


def pytest_deselected(items: list[pytest.Item]) -> None:
    DESELECTED.extend(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """With DIALECT_PLAN_OUT set, write down what was collected (test_dialect_plan.py's view of another session)."""
    out = os.environ.get("DIALECT_PLAN_OUT")
    if out:
        Path(out).write_text(json.dumps(collected_plan(session.items)))


@pytest.fixture(autouse=True)
def dialect_watch(request: pytest.FixtureRequest) -> Iterator[None]:
    """In the seed dialect, a test of an `every_dialect` module must declare what it touches that a partial dialect
    changes (it runs in that dialect only then): its requests to the sandbox are watched, and a touch it does not
    declare fails it, saying which marker to add."""
    node = request.node
    params = getattr(getattr(node, "callspec", None), "params", {})
    if params.get("sandbox_dialect") != "seed" or node.get_closest_marker("every_dialect") is None:
        yield
        return
    watch = Watch(request.getfixturevalue("sandbox"))
    yield
    missing = watch.undeclared(declared_features(node))
    if missing:
        lines = [f"{feature} ({FEATURES[feature]}), e.g. {first}" for feature, first in sorted(missing.items())]
        marker = ", ".join(f'"{f}"' for f in sorted(missing))
        pytest.fail(
            "this test touched what a dialect changes without saying so, so it would not run in that dialect:\n"
            + "\n".join(lines)
            + f"\nadd @pytest.mark.dialect_sensitive({marker}) (tests/helpers/dialect_plan.py)",
            pytrace=False,
        )


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
    """The dialect the sandbox speaks; end-to-end modules parametrize it (over which: tests/helpers/dialect_plan.py)."""
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
def backend() -> str:
    """Where the app keeps and shares its state: `embedded` (the default), or `postgres-redis` (DATABASE_URL
    and REDIS_URL, for the modules of the Slack end-to-end suite: see SLACK_E2E)."""
    return EMBEDDED


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    fake_slack: FakeSlack,
    tmp_path: Path,
    sandbox_dialect: str,
    backend: str,
) -> Settings:
    database_url = redis_url = None
    if backend == SHARED:  # a fresh migrated database and an empty Redis, or the test is skipped (or failed)
        database_url = request.getfixturevalue("migrated_database_url")
        redis_url = request.getfixturevalue("redis_url")
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
        # The embedded mode whatever this machine's environment says, unless the test runs on the shared backends.
        redis_url=redis_url,
        database_url=database_url,
        _env_file=None,  # type: ignore[call-arg]
    )


E2E_LIMITS = Limits(min_interval=0.0, margin=0.0, window_margin=0.0)
"""Pacing on the shared backends: every request books its slot in Redis as in production, without the 100 ms
spacing that would only slow the suite (the rules themselves: tests/backends/test_redis_pacing.py)."""


@pytest.fixture
def deps(settings: Settings, clock: FakeClock, sandbox: SandboxServer) -> Iterator[Deps]:
    if settings.redis_url is None:
        clients = ClientFactory.from_settings(settings, PacerRegistry(enabled=False))
        built = build_deps(settings, clock=clock, clients=clients)
        try:
            yield built
        finally:
            built.store.close()
        return
    import redis

    shared = redis.Redis.from_url(settings.redis_url)
    clients = ClientFactory.from_settings(settings, PacerRegistry(E2E_LIMITS, redis=shared))
    built = build_deps(settings, clock=clock, clients=clients, redis_client=shared)
    try:
        yield built
        assert_on_shared_backends(built, shared, sandbox)
    finally:
        built.store.close()
        shared.close()


def assert_on_shared_backends(deps: Deps, shared: redis.Redis, sandbox: SandboxServer) -> None:
    """After a test on the shared backends: the app kept its state in PostgreSQL, paced, locked and claimed
    once-only keys in Redis, and touched none of the embedded mode's files."""
    from bot.locks import RedisLocks
    from bot.nexudus.redis_pacing import KEY_PREFIX as PACE_PREFIX
    from bot.once import RedisOnce
    from bot.store.postgres import PostgresTables

    assert isinstance(deps.store.tables, PostgresTables), deps.store
    assert isinstance(deps.services.locks, RedisLocks) and deps.services.locks.redis is shared
    assert isinstance(deps.once, RedisOnce) and deps.once.redis is shared
    assert deps.services.clients.pacers.enabled, "pacing is on"
    folder = deps.settings.store_path.parent
    embedded = [deps.settings.store_path.name, CHATROOM_LOCK_FILE, PACING_FILE, LOCAL_KEY_FILE.name]
    written = [p.name for p in folder.glob("*") if any(p.name.startswith(name) for name in embedded)]
    assert not written, f"the embedded mode's files were written: {written}"
    if sandbox.app.stats.total:
        paced = list(shared.scan_iter(match=f"{PACE_PREFIX}:*"))
        assert paced, f"{sandbox.app.stats.total} requests reached Nexudus, none paced through Redis"


@dataclass
class RunningApp:
    deps: Deps
    slack: SlackDriver
    fake: FakeSlack
    sandbox: SandboxServer
    clock: FakeClock
    url: str
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def redis(self) -> redis.Redis | None:
        """The Redis the app shares its pacing, locks and once-only keys through (None: the embedded mode)."""
        from bot.once import RedisOnce

        return self.deps.once.redis if isinstance(self.deps.once, RedisOnce) else None

    def next(self, method: str, timeout: float = 10.0) -> Call:
        """The next call of `method` not yet looked at, waiting for it (calls are never cleared)."""
        index = self.seen.get(method, 0)
        call = self.fake.wait_for(method, count=index + 1, timeout=timeout)[index]
        self.seen[method] = index + 1
        return call


@contextlib.contextmanager
def serving(deps: Deps, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock) -> Iterator[RunningApp]:
    """The real Bolt app built from `deps`, served over HTTP on loopback and driven by signed requests; stopped,
    and its lazy work drained, on the way out (what every test that serves the app uses)."""
    bolt = build_app(deps)
    server = serve(bolt, port=0, acks=deps.acks)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
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
def running_app(deps: Deps, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock) -> Iterator[RunningApp]:
    """The real Bolt app served over HTTP on loopback, driven by signed requests."""
    with serving(deps, fake_slack, sandbox, clock) as app:
        yield app


@pytest.fixture
def logged_in(running_app: RunningApp) -> RunningApp:
    """The default Slack user logged in as the sandbox admin (stored directly, as the login modal would)."""
    running_app.deps.services.login(running_app.slack.team_id, running_app.slack.user_id, *ADMIN)
    return running_app


# ----------------------------------------------------------------------- real Redis and PostgreSQL servers

BACKEND_SKIPS: dict[str, str] = {}  # backend → why its tests were skipped (said again in the summary)


def start_or_skip(backend: str, start: Callable[[], RedisServer | PostgresServer]) -> RedisServer | PostgresServer:
    """`start()`'s server, started; the test skipped when its binary is missing (failed with REQUIRE_BACKENDS=1)."""
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
    server = start_or_skip("Redis", RedisServer)
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
    server = start_or_skip("PostgreSQL", PostgresServer)
    assert isinstance(server, PostgresServer)
    try:
        yield server
    finally:
        server.stop()


_DATABASES = itertools.count(1)


@pytest.fixture(scope="session")
def migrated_database(postgres_server: PostgresServer) -> Iterator[str]:
    """One database per session migrated to the current schema; each test that takes `migrated_database_url`
    empties it first (much faster than a new database: ~20 ms against ~400 ms)."""
    from bot.store.postgres import migrate

    name = f"e2e_{os.getpid()}"
    migrate(postgres_server.create_database(name))
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def migrated_database_url(postgres_server: PostgresServer, migrated_database: str) -> str:
    """`DATABASE_URL` of a database at the current schema with every table empty (as just migrated)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(postgres_server.dsn(migrated_database), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # a connection the previous test left open fails here, clearly
        tables = [
            sql.Identifier(row[0])
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            if row[0] != "alembic_version"
        ]
        assert tables, "the migrated database has the store's tables"
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(tables)))
    return postgres_server.url(migrated_database)


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """`DATABASE_URL` (SQLAlchemy form, psycopg 3) of a new, empty database, dropped after the test."""
    name = f"test_{os.getpid()}_{next(_DATABASES)}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


def database_text(url: str) -> str:
    """Every row of every table of the database at `url` (SQLAlchemy form), as PostgreSQL writes rows as text:
    what someone reading the database directly would see."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    dsn = f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"
    with psycopg.connect(dsn) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        ]
        assert tables, "the database has tables"
        rows = []
        for table in tables:
            query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
            rows += [f"{table}: {row[0]}" for row in conn.execute(query)]
    return "\n".join(rows)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store lives, once per backend: the SQLite file (STORE_PATH), or a PostgreSQL database at the
    current schema with every table empty (DATABASE_URL: `migrated_database_url`, emptied rather than created
    anew, ~20 ms instead of ~400 ms). The store's contract tests take this."""
    if request.param == "sqlite":
        return tmp_path / "var" / "store.sqlite"
    url: str = request.getfixturevalue("migrated_database_url")
    return url


@pytest.fixture
def key() -> str:
    """A new STORE_KEY."""
    return Fernet.generate_key().decode()


@pytest.fixture
def store(store_where: Path | str, key: str) -> Iterator[Store]:
    """A store on each backend (`store_where`), sealed with `key` (modules needing another store define theirs)."""
    with Store(store_where, fernet_from_setting(key)) as st:
        yield st
