"""Real Redis and PostgreSQL servers for tests: each on a free loopback port with a temporary data directory,
stopped and removed afterwards.

The binaries come from the machine (`.ci/run` installs `redis-server` and `postgresql`). When one is missing,
`find_*` says so with the way to get it, and the fixtures in conftest.py skip the tests that need it (or fail
them when `REQUIRE_BACKENDS=1`, as in CI, so a missing install step cannot pass unnoticed).

PostgreSQL's `initdb` and `postgres` refuse to run as root: as root they run as the `postgres` user
(`subprocess`'s `user=`, so signals reach the server itself).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
ENABLE_HINT = "install it (`apt-get install -y redis-server postgresql`) or run `bash .ci/run`, which installs both"


class Unavailable(Exception):
    """The server binary is not on this machine; the text says how to get it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nowhere_redis(password: str | None = None) -> Any:
    """A Redis client of a loopback port nothing listens on, that fails at once: redis-py's own retries (about 3.5 s
    of backoff per command) are not what a test of the app's fallback is about."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        host="127.0.0.1", port=free_port(), password=password, socket_connect_timeout=0.3, retry=Retry(NoBackoff(), 0)
    )


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise Unavailable(f"redis-server is not installed: {ENABLE_HINT}")
    return found


def find_postgres_bin() -> Path:
    """The directory holding `initdb`, `pg_ctl` and `postgres` (Debian keeps them off PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "postgres").exists():
            return Path(directory)
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).parent
    raise Unavailable(f"PostgreSQL server binaries (initdb, postgres) are not installed: {ENABLE_HINT}")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal `process` (SIGTERM) and wait for it; killed after 15 s."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class RedisServer:
    """`redis-server` on 127.0.0.1:<free port>, its directory removed on stop. No persistence, unless
    `appendonly` (an append-only file, fsync'd every second: what a restart keeps)."""

    def __init__(self, *, appendonly: bool = False) -> None:
        self.appendonly = appendonly
        self.binary = find_redis_server()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)]
        args += ["--save", "", "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec"]
        args += ["--protected-mode", "yes", "--daemonize", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import redis

        deadline = time.monotonic() + START_TIMEOUT
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited at start with code {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT:.0f} s")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again on the same port (the data is gone, unless `appendonly`)."""
        if self.process is not None:
            stop_process(self.process)
        self.start()


class PostgresServer:
    """A throwaway PostgreSQL cluster: `initdb` in a temporary directory, `postgres` on 127.0.0.1:<free port>
    with trust authentication for the `postgres` role (loopback only), removed on stop. `max_connections`: how many
    clients it accepts (PostgreSQL's own default is 100; 3 of them for superusers only)."""

    def __init__(self, *, max_connections: int = 50) -> None:
        self.max_connections = max_connections
        self.bin = find_postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="test-postgres-"))
        self.data = self.dir / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self._as: dict[str, object] = {}
        if os.geteuid() == 0:
            # initdb refuses root: the cluster belongs to the `postgres` user (the Debian package creates it).
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable(f"running as root and there is no `postgres` user: {ENABLE_HINT}") from None
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = {"user": "postgres", "group": "postgres", "extra_groups": []}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        initdb += ["-E", "UTF8", "--no-sync", "--no-instructions"]
        done = subprocess.run(initdb, capture_output=True, timeout=120, cwd=self.dir, **self._as)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError("initdb failed: " + done.stderr.decode(errors="replace")[-800:])
        self._launch()
        return self

    def _launch(self) -> None:
        log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115 (closed with the process)
        args = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        args += ["-h", "127.0.0.1", "-k", str(self.dir), "-c", "fsync=off", "-c", "full_page_writes=off"]
        args += ["-c", "synchronous_commit=off", "-c", f"max_connections={self.max_connections}"]
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, **self._as)  # type: ignore[call-overload]
        log.close()
        self._wait_ready()

    def restart(self) -> None:
        """Stop the server (a fast shutdown: clients are cut) and start it again on the same port and data
        directory, as `pg_ctl restart -m fast` does; the data is kept."""
        if self.process is not None:
            stop_process(self.process, signal.SIGINT)
            self.process = None
        self._launch()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited at start with code {self.process.returncode}: {self.log_tail()}")
            try:
                with psycopg.connect(self.dsn(), connect_timeout=1) as conn:
                    conn.execute("SELECT 1")
                    return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not answer within {START_TIMEOUT:.0f} s: {self.log_tail()}")
            time.sleep(0.1)

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "postgres.log").read_text(errors="replace")[-800:]
        return ""

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL (the form `DATABASE_URL` takes)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients that are still connected.
            stop_process(self.process, signal.SIGINT)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


def child_pids(pid: int) -> list[str]:
    """The live child processes of `pid`, from /proc (no `pgrep` needed on a bare machine)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid) and fields[0] != "Z":  # state, ppid
            children.append(stat.parent.name)
    return sorted(children, key=int)


def processes_with(text: str) -> list[str]:
    """Pids whose command line contains `text`, from /proc."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found
