"""Operations (issue 14.5): /healthz checks Redis and the database when configured, /metrics in Prometheus'
format (also summed over gunicorn workers), JSON logs that stay redacted, and the one-worker rule without Redis."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import RunningApp
from helpers.processes import app_env, send_helps, wait_healthy, wait_until
from helpers.servers import child_pids, free_port
from prometheus_client import REGISTRY
from pydantic import SecretStr
from slack_sdk import WebClient

from bot import metrics
from bot.acks import ACKS_BOARD_FILE, HostBoard
from bot.alerts import AlertWorker
from bot.console import signing
from bot.console.fake_slack import FakeSlack
from bot.logs import configure_logging
from bot.nexudus.client import NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NotFound
from bot.nexudus.pacing import Limits, Pacer
from bot.sandbox.server import SandboxServer
from bot.settings import Settings, load_settings, worker_refusal
from bot.slack.context import Ctx
from bot.slack.publisher import SlackPublisher
from bot.store import StoreDamaged
from bot.web import wsgi_for
from bot.wiring import build_deps, open_store

ROOT = Path(__file__).resolve().parents[2]


def _get(app: Any, path: str) -> tuple[str, str]:
    """Call a WSGI app once; (status line, body)."""
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return seen["status"], body.decode()


def _healthz(settings: Settings) -> tuple[str, str]:
    # The store stays on the SQLite file (a DATABASE_URL store would refuse to open on an unreachable or
    # unmigrated database, before /healthz could say anything): here only the health check uses the URL.
    store = open_store(settings.model_copy(update={"database_url": None}), local=False)
    deps = build_deps(settings, store=store)
    try:
        secrets = tuple(s for s in (settings.redis_url, settings.store_location) if isinstance(s, str))
        return _get(wsgi_for(_bolt(deps), checks=deps.checks, secrets=secrets), "/healthz")
    finally:
        deps.store.close()


def _bolt(deps: Any) -> Any:
    from bot.slack.app import build_app

    return build_app(deps)


# ------------------------------------------------------------------------------------------- /healthz
def test_healthz_without_redis_or_database_is_as_before(settings: Settings) -> None:
    assert _healthz(settings) == ("200 OK", "ok")


@pytest.mark.redis
def test_healthz_checks_redis(settings: Settings, redis_url: str) -> None:
    status, body = _healthz(settings.model_copy(update={"redis_url": redis_url}))
    assert status == "200 OK" and body.startswith("ok\nredis: ok")


def test_healthz_names_an_unreachable_redis_with_503_and_no_password(settings: Settings) -> None:
    url = f"redis://:pa55word-not-shown@127.0.0.1:{free_port()}/0"
    status, body = _healthz(settings.model_copy(update={"redis_url": url}))
    assert status == "503 Service Unavailable"
    assert body.startswith("unavailable\nredis: FAILED: ConnectionError"), body
    assert "pa55word" not in body


@pytest.mark.postgres
def test_healthz_checks_the_database(settings: Settings, database_url: str) -> None:
    status, body = _healthz(settings.model_copy(update={"database_url": SecretStr(database_url)}))
    assert status == "200 OK" and "database: ok" in body


@pytest.mark.redis
def test_healthz_names_the_database_that_fails_and_keeps_redis_ok(settings: Settings, redis_url: str) -> None:
    url = f"postgresql+psycopg://bot:pa55word-not-shown@127.0.0.1:{free_port()}/chatrooms"
    status, body = _healthz(settings.model_copy(update={"redis_url": redis_url, "database_url": SecretStr(url)}))
    assert status == "503 Service Unavailable"
    assert "redis: ok" in body and "database: FAILED: StoreUnavailable: cannot reach the database:" in body, body
    assert "running and accepts connections" in body and "postgresql+psycopg://" not in body, body
    assert "pa55word" not in body


# -------------------------------------------------------------------------------------------- /metrics
def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_acks_by_kind_with_their_latency(running_app: RunningApp) -> None:
    before = _value("chatrooms_slack_acks_total", kind="command")
    observed = _value("chatrooms_slack_ack_seconds_count", kind="command")
    assert running_app.slack.command("help").status == 200
    assert _value("chatrooms_slack_acks_total", kind="command") == before + 1
    assert _value("chatrooms_slack_ack_seconds_count", kind="command") == observed + 1
    text = requests.get(running_app.url.replace("/slack/events", "/metrics"), timeout=5).text
    assert re.search(r'^chatrooms_slack_acks_total\{kind="command"\} \d', text, re.M)
    assert 'chatrooms_slack_ack_seconds_bucket{kind="command",le="3.0"}' in text


def test_a_forged_request_is_not_counted_as_an_ack(running_app: RunningApp) -> None:
    before = _value("chatrooms_slack_acks_total", kind="command")
    body = signing.slash_command_body("/chatrooms", "help", "U1", "T1", "C1", "http://127.0.0.1:9/x", "t")
    forged = signing.signed_headers(body, "not-the-secret")
    assert running_app.slack.post(body, headers=forged).status == 401
    assert _value("chatrooms_slack_acks_total", kind="command") == before


def test_metrics_count_nexudus_requests_by_status(sandbox: SandboxServer) -> None:
    client = NexudusClient(sandbox.url, Credentials("admin@sandbox.local", "sandbox-admin"), retries=0, pacer=None)
    ok, missing = (
        _value("chatrooms_nexudus_requests_total", status="200"),
        _value("chatrooms_nexudus_requests_total", status="404"),
    )
    client.get(1_000_001)
    with pytest.raises(NotFound):
        client.get(9_999_999)
    assert _value("chatrooms_nexudus_requests_total", status="200") == ok + 1
    assert _value("chatrooms_nexudus_requests_total", status="404") == missing + 1
    down = NexudusClient(f"http://127.0.0.1:{free_port()}/api", client.credentials, retries=0, pacer=None)
    failed = _value("chatrooms_nexudus_requests_total", status="connection")
    with pytest.raises(Exception):  # noqa: B017 (Unavailable; the metric is what this test is about)
        down.get(1)
    assert _value("chatrooms_nexudus_requests_total", status="connection") == failed + 1


def test_metrics_observe_pacing_waits() -> None:
    now = [100.0]
    pacer = Pacer(Limits(), clock=lambda: now[0], sleep=lambda s: None)
    count = _value("chatrooms_nexudus_pacing_wait_seconds_count")
    pacer.acquire(False)  # no wait: not observed
    pacer.acquire(False)  # waits 130 ms behind the first
    assert _value("chatrooms_nexudus_pacing_wait_seconds_count") == count + 1


def test_metrics_count_alert_cycles_and_digests(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("alerts subscribe after:4h")
    app.fake.wait_for("response_url", count=1, timeout=10)
    cycles, digests = _value("chatrooms_alert_cycles_total", outcome="ok"), _value("chatrooms_alert_digests_total")
    report = AlertWorker(app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url))).run_cycle()
    assert report.digests_posted >= 1 and not report.errors
    assert _value("chatrooms_alert_cycles_total", outcome="ok") == cycles + 1
    assert _value("chatrooms_alert_digests_total") == digests + report.digests_posted


def test_metrics_count_store_errors_that_reach_a_user(running_app: RunningApp) -> None:
    ctx = Ctx(running_app.deps, WebClient(token="xoxb-test", base_url=running_app.fake.api_url), "T1", "U1")
    before = _value("chatrooms_store_errors_total")
    ctx.fail(sqlite3.OperationalError("database is locked"))
    ctx.fail(StoreDamaged(Path("var/store.sqlite"), "file is not a database"))
    ctx.fail(ValueError("not the store's"))
    assert _value("chatrooms_store_errors_total") == before + 2


def test_metric_labels_come_from_fixed_lists() -> None:
    assert metrics.ack_kind({"type": "evil\n}"}) == "other"
    assert metrics.ack_kind({"command": "/chatrooms"}) == "command"
    assert metrics.nexudus_status(999) == "other" and metrics.nexudus_status(409) == "409"


# --------------------------------------------------------------------------------------------- logs
@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _configure(stream: io.StringIO, log_format: str) -> None:
    configure_logging("INFO", log_format)
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]


def _log_secrets() -> None:
    log = logging.getLogger("bot.test")
    log.info("sent Authorization: Basic c2VjcmV0OnNlY3JldA== to Nexudus for %s", "ops")
    try:
        raise RuntimeError('state {"password": {"type": "plain_text_input", "value": "hunter2-secret"}}')
    except RuntimeError:
        log.exception("login failed with xoxb-1234-abcd-secret")


def test_json_logs_are_one_object_a_line_and_redacted(captured_logs: io.StringIO) -> None:
    _configure(captured_logs, "json")
    _log_secrets()
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    assert [e["level"] for e in lines] == ["INFO", "ERROR"]
    assert lines[0]["logger"] == "bot.test" and lines[0]["message"].startswith("sent Authorization: Basic ***")
    assert lines[0]["time"].endswith("+00:00") and lines[0]["process"] == os.getpid()
    assert "RuntimeError" in lines[1]["exception"]
    output = captured_logs.getvalue()
    for secret in ("c2VjcmV0OnNlY3JldA", "hunter2-secret", "xoxb-1234"):
        assert secret not in output


def test_text_logs_redact_tracebacks_too(captured_logs: io.StringIO) -> None:
    _configure(captured_logs, "text")
    _log_secrets()
    output = captured_logs.getvalue()
    assert "Traceback" in output and "RuntimeError" in output
    for secret in ("c2VjcmV0OnNlY3JldA", "hunter2-secret", "xoxb-1234"):
        assert secret not in output


def test_log_format_is_a_checked_setting() -> None:
    assert load_settings(log_format="JSON", _env_file=None).log_format == "json"
    with pytest.raises(SystemExit) as caught:
        load_settings(log_format="yaml", _env_file=None)
    assert "LOG_FORMAT" in str(caught.value)


# ------------------------------------------------------------------------------------ gunicorn workers
def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return app_env(tmp_path, PORT=str(free_port()), **extra)


def _gunicorn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "gunicorn", "-c", "python:bot.gunicorn_conf", *args, "bot.web:app"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("args", "extra"), [(("--workers", "2"), {}), ((), {"WEB_CONCURRENCY": "3"})])
def test_more_than_one_worker_without_redis_is_refused_saying_why(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str]
) -> None:
    proc = _gunicorn(_env(tmp_path, TMPDIR=str(tmp_path), **extra), *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "REDIS_URL is not set" in err and "could run twice" in err, err
    assert "Traceback" not in err
    assert list(tmp_path.glob("chatrooms-metrics-*")) == [], "nothing left behind"


def test_preloading_the_app_in_gunicorn_s_master_is_refused_saying_why(tmp_path: Path) -> None:
    proc = _gunicorn(_env(tmp_path, TMPDIR=str(tmp_path)), "--preload")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "--preload is not supported" in err, err


def test_the_refusal_also_holds_without_the_gunicorn_config() -> None:
    settings = Settings(web_concurrency=2, _env_file=None)  # type: ignore[call-arg]
    assert worker_refusal(2, settings) is not None
    assert worker_refusal(1, settings) is None
    assert worker_refusal(4, settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})) is None


@pytest.mark.redis
def test_with_redis_gunicorn_runs_four_workers_whose_metrics_add_up(
    tmp_path: Path, redis_url: str, fake_slack: FakeSlack
) -> None:
    env = _env(tmp_path, REDIS_URL=redis_url, SLACK_API_URL=fake_slack.api_url, TMPDIR=str(tmp_path))
    proc = _gunicorn(env)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        assert "redis: ok" in wait_healthy(base, proc)
        workers = child_pids(proc.pid)
        assert len(workers) == 4
        counted, text = send_helps(base, fake_slack, 24)  # gunicorn's workers take them in turn
        assert counted == 24, text[:2000]
        pids = set(re.findall(r'chatrooms_slack_acks_total\{kind="command",pid="(\d+)"\}', text))
        assert not pids, "summed over the workers, not one series per pid"
        assert len(list(tmp_path.glob("chatrooms-metrics-*/*.db"))) >= 4, "each worker's values, in one directory"
        # Each worker's work after acks waits for all the workers' acks (bot/acks.py): they share one board.
        board = HostBoard(next(tmp_path.glob(f"chatrooms-metrics-*/{ACKS_BOARD_FILE}")))
        wait_until(lambda: board.processes() == {int(pid) for pid in workers}, what="the 4 workers on the board")
        killed = int(workers[0])
        os.kill(killed, signal.SIGKILL)  # killed mid-anything: its slot stops counting, its successor joins
        wait_until(lambda: killed not in board.processes() and len(board.processes()) == 4, what="its slot cleared")
        assert board.processes() == {int(pid) for pid in child_pids(proc.pid)}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_alert_worker_serves_its_own_metrics_when_asked(tmp_path: Path) -> None:
    """The alert worker is not behind the web app's /metrics: with METRICS_PORT it serves its cycles."""
    port = free_port()
    env = _env(tmp_path, METRICS_PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "alerts", "--interval", "10"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while 'chatrooms_alert_cycles_total{outcome="ok"} 1.0' not in text:
            assert proc.poll() is None and time.monotonic() < deadline, text[-800:]
            time.sleep(0.3)
            with contextlib.suppress(requests.RequestException):
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=3).text
        assert "chatrooms_alert_digests_total 0.0" in text
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_socket_mode_serves_its_metrics_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack
) -> None:
    """Socket Mode has no web app either: with METRICS_PORT its process serves /metrics while connected."""
    import slack_bolt.adapter.socket_mode as socket_mode

    from bot import runner

    port = free_port()
    for name, value in _env(tmp_path, METRICS_PORT=str(port), SLACK_APP_TOKEN="xapp-test").items():
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}

    class Connected:  # stands in for the Socket Mode connection to Slack, which needs the internet
        def __init__(self, app: Any, token: str) -> None:
            seen["token"] = token

        def connect(self) -> None:
            seen["metrics"] = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            os.kill(os.getpid(), signal.SIGTERM)  # the platform stops the process: it closes, then drains

        def close(self) -> None:
            seen["closed"] = True

    root = logging.getLogger()  # runner.main sets up logging: give the other tests theirs back
    monkeypatch.setattr(root, "handlers", root.handlers[:])
    monkeypatch.setattr(root, "level", root.level)
    servers: list[Any] = []
    serve = metrics.serve_metrics
    monkeypatch.setattr(socket_mode, "SocketModeHandler", Connected)
    monkeypatch.setattr(metrics, "serve_metrics", lambda p: servers.append(serve(p, "127.0.0.1")) or servers[-1])
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert runner.main([]) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for server in servers:
            server.shutdown()
            server.server_close()
    assert seen["token"] == "xapp-test" and seen["closed"], "SIGTERM closed the connection, then it stopped"
    assert "chatrooms_nexudus_requests_total" in seen["metrics"]
