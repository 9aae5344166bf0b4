"""The real servers the distributed mode's tests run against: started on loopback, empty, and cleaned up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import sqlalchemy as sa
from helpers.servers import PostgresServer, RedisServer, processes_with

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
def test_redis_fixture_is_an_empty_loopback_server(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    assert parts.hostname == "127.0.0.1"
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.dbsize() == 0
        client.set("probe", "1")
        assert client.get("probe") == b"1"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        client.close()


@pytest.mark.redis
def test_redis_fixture_starts_each_test_empty(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get("probe") is None  # written by the test above, flushed since
    finally:
        client.close()


@pytest.mark.postgres
def test_database_url_is_an_empty_postgres_database(database_url: str) -> None:
    assert database_url.startswith("postgresql+psycopg://")
    assert urlsplit(database_url).hostname == "127.0.0.1"
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            tables = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            ).scalar()
            assert tables == 0
            conn.execute(sa.text("CREATE TABLE probe (id int)"))  # each test gets its own database
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_each_test_gets_a_new_database(database_url: str, postgres_server: PostgresServer) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.redis
def test_a_stopped_redis_server_leaves_no_process_nor_directory(redis_server: RedisServer) -> None:
    own = RedisServer().start()
    process, directory = own.process, own.dir
    assert process is not None and _listening(own.port)
    own.stop()
    assert process.poll() is not None
    assert not directory.exists()
    assert not _listening(own.port)


@pytest.mark.postgres
def test_a_stopped_postgres_server_leaves_no_process_nor_directory(postgres_server: PostgresServer) -> None:
    own = PostgresServer().start()
    process, directory = own.process, own.dir
    assert process is not None and _listening(own.port)
    own.stop()
    assert process.poll() is not None
    assert not directory.exists()
    assert processes_with(f"-p {own.port}") == []


NO_SERVERS_PLUGIN = """
import helpers.servers as servers


def _missing(what):
    def find(*args, **kwargs):
        raise servers.Unavailable(f"{what} is not installed: {servers.ENABLE_HINT}")

    return find


servers.find_redis_server = _missing("redis-server")
servers.find_postgres_bin = _missing("PostgreSQL server binaries (initdb, postgres)")
"""


def test_without_the_servers_the_slack_suites_shared_variant_is_skipped_saying_how_to_enable_it(
    tmp_path: Path,
) -> None:
    """A machine without redis-server or PostgreSQL still runs the Slack end-to-end suite on the embedded
    backends; its `postgres-redis` variants are skipped with the reason and the way to enable them."""
    (tmp_path / "no_servers.py").write_text(NO_SERVERS_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != "REQUIRE_BACKENDS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/integration/test_quota_message.py",
            "-p",
            "no_servers",
            "-o",
            "addopts=-rs",
            "-v",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:]
    assert "1 passed, 1 skipped" in out, out[-3000:]
    assert "[embedded] PASSED" in out and "[postgres-redis] SKIPPED" in out, out[-3000:]
    assert "PostgreSQL backend tests SKIPPED (1)" in out and "apt-get install -y redis-server postgresql" in out
    assert "Set REQUIRE_BACKENDS=1 to make a missing server fail instead" in out
