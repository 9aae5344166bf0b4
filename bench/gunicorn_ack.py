"""Ack latency of the distributed app under gunicorn (4 workers, PostgreSQL + Redis) vs a bare Bolt app under the
same gunicorn settings, both hit by bursts of 200 concurrent signed requests of mixed kinds.

- **app**: `gunicorn -c python:bot.gunicorn_conf bot.web:app` with `DATABASE_URL` (a migrated PostgreSQL) and
  `REDIS_URL` (pacing, chatroom locks, once-only keys), `WEB_CONCURRENCY=4`; logged-in users;
- **bare**: the same command and config file (4 workers × 8 threads, gthread, same env) serving a Bolt app with the
  real app's `App` options whose listeners only `ack()` (`bench/gunicorn_ack.py:bare_wsgi()`).

Each round sends 200 requests at once (a barrier), each on its own connection: a third `/chatrooms list` (one
user each: one user's 11th pending command is refused in the ack), a third "Next page" buttons, a third edit
submissions (each a distinct view hash, so none is a once-only duplicate). Rounds alternate app/bare and wait
until the app's work after the acks is done (the fake Slack is quiet) before the next. The real PostgreSQL and
Redis come from tests/helpers/servers.py (temporary, loopback, removed at the end); the sandbox Nexudus runs in
its own process with no delay and no throttling, and pacing is off, so the work after the acks competes with
them for the CPU at once (the worst case for the app; with pacing on it would be spread out over seconds).

The clients run in their own process (forked before anything else starts): the fake Slack, which validates
every payload the app sends, lives in this one, and sharing its GIL slowed the clients' reading of the acks
— counted as the app's latency. With `--remote-standins`, the fake Slack and the sandbox run at the lowest CPU
priority (nice 19): in production Slack and Nexudus are not on the app's host, so their CPU is not the app's
cost; without it, they compete with the app as equals (both figures are in bench/RESULTS.md).

    .venv/bin/python bench/gunicorn_ack.py [--rounds 20] [--burst 200] [--workers 4] [--remote-standins]

20 rounds by default: on 2 cores a single round's ratio moves between ~0.7× and ~1.8×, and a 5-round pooled p99 by
±0.15 from run to run — more than the differences it is meant to show.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from _common import (
    ADMIN,
    ROOT,
    SIGNING_SECRET,
    bare_bolt_app,
    header,
    percentile,
    sandbox_process,
    table,
    wait_quiet,
)
from cryptography.fernet import Fernet

from bot.console import signing
from bot.console.driver import SlackDriver
from bot.console.fake_slack import FakeSlack
from bot.console.render import initial_state, render_modal
from bot.slack import ids

ROOM = 1_000_001
TEAM, CHANNEL, USER = "T0001", "C0001", "U0001"
KINDS = ("slash `list`", "button Next page", "edit form submit")


def bare_wsgi() -> Callable[..., Iterable[bytes]]:
    """gunicorn's factory for the bare app: Bolt's own WSGI handler over an app with the real app's options
    (bot/slack/app.py) whose every listener only acks."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = bare_bolt_app(client, os.environ["SLACK_SIGNING_SECRET"], process_before_response=True)
    return SlackRequestHandler(app)  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(target: str, env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:bot.gunicorn_conf", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--pythonpath", str(ROOT / "bench"), "--log-level", "warning", target]
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        # Each its own metrics directory: gunicorn_conf empties it at start.
        env={**env, "PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{port}")},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_normal_priority,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn {target} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    stop_gunicorn(proc)
    raise RuntimeError(f"gunicorn {target} did not start")


def _normal_priority() -> None:
    """The app under test runs at the normal priority, whatever this process's (see --remote-standins)."""
    os.setpriority(os.PRIO_PROCESS, 0, 0)


def stop_gunicorn(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def warm(port: int, bodies: list[str]) -> None:
    """A few requests per worker first: each worker builds its app lazily on its first request."""
    threads = [threading.Thread(target=send, args=(port, body)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)


def send(port: int, body: str) -> tuple[int, float]:
    """(HTTP status or 0, seconds from connecting to the ack's last byte)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers=signing.signed_headers(body, SIGNING_SECRET))
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except Exception:
        return 0, time.perf_counter() - started
    finally:
        conn.close()


def burst(port: int, bodies: list[tuple[str, str]]) -> list[tuple[str, int, float]]:
    results: list[tuple[str, int, float]] = [("", 0, 0.0)] * len(bodies)
    gate = threading.Barrier(len(bodies))

    def one(i: int) -> None:
        gate.wait()
        kind, body = bodies[i]
        status, seconds = send(port, body)
        results[i] = (kind, status, seconds)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def ack_seconds_inside(port: int) -> float:
    """The mean time the app itself spent per ack (`chatrooms_slack_ack_seconds`, summed over the workers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    total = sum(float(m) for m in re.findall(r"^chatrooms_slack_ack_seconds_sum\{[^}]*\} (\S+)", text, re.M))
    count = sum(float(m) for m in re.findall(r"^chatrooms_slack_ack_seconds_count\{[^}]*\} (\S+)", text, re.M))
    return total / count if count else float("nan")


def cpu_per_ack(settings: Any, env: dict[str, str], rounds: list[list[tuple[str, str]]]) -> dict[str, list[float]]:
    """CPU time of the request thread per ack (`time.thread_time`), each app called in this process one request
    at a time through its WSGI callable (no HTTP, no concurrency): what each ack costs, without any queueing."""
    import io
    import wsgiref.util

    from bot.slack.app import build_app
    from bot.web import wsgi_for
    from bot.wiring import build_deps

    saved = {k: os.environ.get(k) for k in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "SLACK_SIGNING_SECRET")}
    os.environ.update({k: env[k] for k in saved})
    deps = build_deps(settings)
    apps = {"app": wsgi_for(build_app(deps), checks=deps.checks, acks=deps.acks), "bare": bare_wsgi()}
    spent: dict[str, list[float]] = {f"{who} {k}": [] for who in apps for k in KINDS}
    try:
        for bodies in rounds:
            for who, wsgi in apps.items():
                for kind, body in bodies:
                    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "wsgi.input_terminated": True}
                    environ |= {"CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded"}
                    environ["wsgi.input"] = io.BytesIO(body.encode())
                    for name, value in signing.signed_headers(body, SIGNING_SECRET).items():
                        environ["HTTP_" + name.upper().replace("-", "_")] = value
                    wsgiref.util.setup_testing_defaults(environ)
                    statuses: list[str] = []
                    started = time.thread_time()
                    b"".join(wsgi(environ, lambda status, headers, *_, out=statuses: out.append(status)))
                    spent[f"{who} {kind}"].append(time.thread_time() - started)
                    assert statuses == ["200 OK"], statuses
    finally:
        deps.store.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="bursts per app (default 20)")
    parser.add_argument("--burst", type=int, default=200, help="concurrent requests per burst (default 200)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for both apps (default 4)")
    parser.add_argument(
        "--remote-standins",
        action="store_true",
        help="run the fake Slack and the sandbox Nexudus at the lowest CPU priority, as if they were remote",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    # The load generator runs in its own process, forked now while this one has no thread: here the fake Slack
    # validates every payload the app sends, and in the same process its work would hold up the clients' threads
    # (the GIL) and count as the app's latency.
    clients = multiprocessing.get_context("fork").Pool(1)
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.servers import PostgresServer, RedisServer

    from bot.settings import Settings
    from bot.store.postgres import migrate
    from bot.wiring import build_deps

    redis_server = RedisServer().start()
    postgres = PostgresServer().start()
    if args.remote_standins:
        # From here on this thread, the threads it starts (the fake Slack's) and the sandbox run at the lowest
        # priority: Slack and Nexudus are not on the app's host, and their CPU here is not the app's cost.
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (
            TemporaryDirectory() as tmp,
            FakeSlack() as fake,
            sandbox_process("--no-throttle") as sandbox,
        ):
            database_url = postgres.create_database("bench")
            migrate(database_url)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEXUDUS_", "STORE_", "WEB_"))}
            env |= {
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": fake.api_url,
                "NEXUDUS_BASE_URL": sandbox.url,
                "NEXUDUS_PACING": "false",
                "STORE_PATH": str(Path(tmp) / "store.sqlite"),
                "STORE_KEY": Fernet.generate_key().decode(),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_server.url,
                "WEB_CONCURRENCY": str(args.workers),
                "LOG_LEVEL": "WARNING",
            }
            settings = Settings(
                nexudus_base_url=sandbox.url,
                slack_api_url=fake.api_url,
                slack_bot_token="xoxb-bench",
                slack_signing_secret=SIGNING_SECRET,
                store_key=env["STORE_KEY"],
                database_url=database_url,
                redis_url=redis_server.url,
                nexudus_pacing=False,
                _env_file=None,  # type: ignore[call-arg]
            )
            deps = build_deps(settings)
            list_users = [f"UL{i:04d}" for i in range(args.burst)]
            try:
                for user in [USER, *list_users[: args.burst // 3 + 1]]:
                    deps.services.login(TEAM, user, *ADMIN)
            finally:
                deps.store.close()

            app_proc, app_port = start_gunicorn("bot.web:app", env, Path(tmp))
            procs.append(app_proc)
            bare_proc, bare_port = start_gunicorn("gunicorn_ack:bare_wsgi()", env, Path(tmp))
            procs.append(bare_proc)
            driver = SlackDriver(f"http://127.0.0.1:{app_port}/slack/events", SIGNING_SECRET, fake, TEAM, USER)
            driver.command(f"edit {ROOM}")
            form = fake.wait_for("views.update", timeout=30)[-1].response["view"]
            values = {f.block_id: {f.action_id: initial_state(f)} for f in render_modal(form).fields}
            values[ids.F_NAME] = {ids.F_NAME: {"type": "plain_text_input", "value": "Renamed under load"}}

            def bodies(round_no: int) -> list[tuple[str, str]]:
                out = []
                for i in range(args.burst):
                    kind = KINDS[i % 3]
                    if kind == KINDS[0]:
                        body = signing.slash_command_body(
                            "/chatrooms",
                            "list",
                            list_users[i // 3],
                            TEAM,
                            CHANNEL,
                            fake.response_url("bench"),
                            signing.new_trigger_id(),
                        )
                    elif kind == KINDS[1]:
                        body = signing.block_actions_body(
                            {"action_id": ids.LIST_PAGE, "block_id": "b", "type": "button", "value": "list page:2"},
                            user_id=USER,
                            team_id=TEAM,
                            trigger_id=signing.new_trigger_id(),
                            channel_id=CHANNEL,
                            message={"ts": "1700000000.000100", "text": ""},
                            response_url=fake.response_url("bench"),
                        )
                    else:
                        view = form | {"hash": f"r{round_no}-h{i}"}
                        body = signing.view_submission_body(
                            view, values, user_id=USER, team_id=TEAM, trigger_id=signing.new_trigger_id()
                        )
                    out.append((kind, body))
                return out

            warmup = [b for _, b in bodies(-1)[: args.workers * 6]]
            for port in (app_port, bare_port):
                warm(port, warmup)
            wait_quiet(fake, idle=1.0, limit=60.0)

            samples: dict[tuple[str, str], list[float]] = {(who, k): [] for who in ("app", "bare") for k in KINDS}
            failed = {"app": 0, "bare": 0}
            paired: list[float] = []  # each round's app burst p99 / the adjacent bare burst's p99
            started = time.monotonic()
            for r in range(args.rounds):
                order = (("app", app_port), ("bare", bare_port))
                p99: dict[str, float] = {}
                for who, port in order if r % 2 == 0 else order[::-1]:
                    answered = []
                    for kind, status, seconds in clients.apply(burst, (port, bodies(r))):
                        if status == 200:
                            samples[(who, kind)].append(seconds)
                            answered.append(seconds)
                        else:
                            failed[who] += 1
                    p99[who] = percentile(answered, 99)
                    wait_quiet(fake, idle=1.0, limit=60.0)
                paired.append(p99["app"] / p99["bare"])
            elapsed = time.monotonic() - started
            in_app = ack_seconds_inside(app_port)
            wait_quiet(fake, idle=1.0, limit=60.0)
            cpu = cpu_per_ack(settings, env, [bodies(1000 + r) for r in range(3)])
            wait_quiet(fake, idle=1.0, limit=60.0)
            lazy_posts = len(fake.calls("response_url")) + len(fake.calls("views.update"))
    finally:
        clients.terminate()
        clients.join()
        for proc in procs:
            stop_gunicorn(proc)
        postgres.stop()
        redis_server.stop()

    standins = "at the lowest CPU priority" if args.remote_standins else "at the normal CPU priority"
    header(f"Ack latency under gunicorn ({args.workers} workers × 8 threads), PostgreSQL + Redis vs bare Bolt")
    print(f"fake Slack and sandbox Nexudus {standins}")
    print(
        f"{args.rounds} bursts of {args.burst} concurrent signed requests per app (alternating app/bare), "
        f"run took {elapsed:.1f} s; non-200 acks: app {failed['app']}, bare {failed['bare']}; "
        f"lazy replies the fake Slack received: {lazy_posts}\n"
    )

    def ms(values: list[float], pct: float) -> str:
        return f"{percentile(values, pct) * 1000:.0f}"

    rows: list[list[Any]] = []
    for kind in (*KINDS, "all"):
        a = [s for k in KINDS if kind in (k, "all") for s in samples[("app", k)]]
        b = [s for k in KINDS if kind in (k, "all") for s in samples[("bare", k)]]
        ratio = percentile(a, 99) / percentile(b, 99)
        rows.append([kind, len(a), ms(a, 50), ms(a, 99), ms(b, 50), ms(b, 99), f"{ratio:.2f}×"])
    table(rows, ["request", "acks", "app p50 ms", "app p99 ms", "bare p50 ms", "bare p99 ms", "p99 ratio"])
    print(f"\np99 ratio, all kinds: {rows[-1][-1]} (target ≤ 1.2×)")
    ordered = sorted(paired)
    print(
        f"per round (each app burst's p99 / the adjacent bare burst's, less sensitive to the machine's load "
        f"drifting between rounds): median {statistics.median(paired):.2f}×, "
        f"range {ordered[0]:.2f}–{ordered[-1]:.2f}× ({', '.join(f'{x:.2f}' for x in paired)})"
    )
    print(
        f"inside the app (its /metrics: from the request reaching Bolt to the ack): mean {in_app * 1000:.1f} ms per "
        "ack; the rest of an ack's time is waiting for a thread and the CPU"
    )
    print("\nCPU of the request thread per ack, one request at a time in this process (no HTTP, no queueing):\n")
    cpu_rows = []
    for kind in KINDS:
        a, b = cpu[f"app {kind}"], cpu[f"bare {kind}"]
        mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
        cpu_rows.append([kind, len(a), f"{mean_a * 1000:.2f}", f"{mean_b * 1000:.2f}", f"{mean_a / mean_b:.1f}×"])
    table(cpu_rows, ["request", "acks", "app CPU ms", "bare CPU ms", "ratio"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
