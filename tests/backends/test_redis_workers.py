"""Several web workers behind one load balancer, sharing Redis: a submission or an event delivered twice (a double
click, Slack's retry) runs once even when the two deliveries reach different workers (issue 14.3)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import ADMIN, SIGNING_SECRET, FakeClock, RunningApp, serving

from bot.console import signing
from bot.console.fake_slack import FakeSlack
from bot.console.render import initial_state, render_modal
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.once import MemoryOnce, RedisOnce
from bot.sandbox.server import SandboxServer
from bot.settings import Settings
from bot.slack import ids
from bot.wiring import build_deps

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _worker(settings: Settings, fake: FakeSlack, sandbox: SandboxServer, clock: FakeClock) -> Iterator[RunningApp]:
    """One web worker: its own store handle, Redis client, once-only guard and Bolt app, as a process has."""
    clients = ClientFactory.from_settings(settings, PacerRegistry(enabled=False))
    deps = build_deps(settings, clock=clock, clients=clients)
    try:
        with serving(deps, fake, sandbox, clock) as app:
            yield app
    finally:
        deps.store.close()


@contextlib.contextmanager
def _two_workers(
    settings: Settings, fake: FakeSlack, sandbox: SandboxServer, clock: FakeClock
) -> Iterator[tuple[RunningApp, RunningApp]]:
    with _worker(settings, fake, sandbox, clock) as a, _worker(settings, fake, sandbox, clock) as b:
        a.deps.services.login(a.slack.team_id, a.slack.user_id, *ADMIN)
        yield a, b


def _run_form(app: RunningApp) -> dict[str, Any]:
    before = len(app.fake.calls("views.update"))
    app.slack.command("run MARK_VISITED 1000004")
    view = app.fake.wait_for("views.update", count=before + 1, timeout=10)[before].response["view"]
    assert view["callback_id"] == ids.RUN_MODAL
    return dict(view)


def _state(view: dict[str, Any]) -> dict[str, Any]:
    return {f.block_id: {f.action_id: initial_state(f)} for f in render_modal(view).fields}


def _runs(sandbox: SandboxServer) -> int:
    return sandbox.stats.count("POST", "runcommand")


@pytest.mark.redis
def test_a_submission_delivered_to_two_workers_runs_once(
    settings: Settings, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url})
    with _two_workers(shared, fake_slack, sandbox, clock) as (a, b):
        assert isinstance(a.deps.once, RedisOnce)
        form = _run_form(a)
        state = _state(form)
        first, second = a.slack.submit(form, state), b.slack.submit(form, state)
        assert first.status == second.status == 200
        fake_slack.wait_for("response_url", count=2, timeout=10)  # the result and the refreshed card
        time.sleep(0.3)  # a second run, were there one, would have reached the sandbox by now
    assert _runs(sandbox) == 1


def test_without_redis_two_workers_would_each_run_it(
    settings: Settings, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock
) -> None:
    """Why more than one worker needs Redis (and is refused without it): each keeps its own once-only keys."""
    with _two_workers(settings, fake_slack, sandbox, clock) as (a, b):
        assert isinstance(a.deps.once, MemoryOnce)
        form = _run_form(a)
        state = _state(form)
        a.slack.submit(form, state)
        b.slack.submit(form, state)
        deadline = time.monotonic() + 10
        while _runs(sandbox) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _runs(sandbox) == 2


def _home_event(app: RunningApp, event_id: str, retry: int | None) -> int:
    event = {"type": "app_home_opened", "user": app.slack.user_id, "channel": "D0001", "tab": "home"}
    body = signing.event_body(event, app.slack.team_id, event_id=event_id)
    headers = signing.signed_headers(body, SIGNING_SECRET)
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return app.slack.post(body, headers=headers).status


@pytest.mark.redis
def test_a_retried_event_reaching_another_worker_is_not_run_again(
    settings: Settings, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url})
    with _two_workers(shared, fake_slack, sandbox, clock) as (a, b):
        assert _home_event(a, "Ev0RETRIED", None) == 200
        fake_slack.wait_for("views.publish", count=1, timeout=10)
        assert _home_event(b, "Ev0RETRIED", 1) == 200
        assert _home_event(a, "Ev0RETRIED", 2) == 200
        assert _home_event(b, "Ev0ANOTHER", None) == 200  # a new event is handled
        fake_slack.wait_for("views.publish", count=2, timeout=10)
        time.sleep(0.5)
    assert len(fake_slack.calls("views.publish")) == 2


def test_a_retried_event_is_not_run_twice_by_one_worker(running_app: RunningApp) -> None:
    """Without Redis too: the one worker remembers the events it handled."""
    app = running_app
    assert _home_event(app, "Ev0ONEWORKER", None) == 200
    app.fake.wait_for("views.publish", count=1, timeout=10)
    assert _home_event(app, "Ev0ONEWORKER", 1) == 200
    time.sleep(0.5)
    assert len(app.fake.calls("views.publish")) == 1


CLAIMER = """
import json, sys, time
import redis
from bot.once import RedisOnce
once = RedisOnce(redis.Redis.from_url(sys.argv[1]))
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(json.dumps([key for key in (f"run:V{n}:h" for n in range(300)) if once.first(key)]))
"""


@pytest.mark.redis
def test_two_processes_claiming_the_same_keys_each_key_goes_to_one(redis_url: str) -> None:
    start_at = time.time() + 1.0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, redis_url, str(start_at)], stdout=subprocess.PIPE, env=env)
        for _ in range(3)
    ]
    claimed: list[str] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        claimed.extend(json.loads(out))
    assert sorted(claimed) == sorted(f"run:V{n}:h" for n in range(300))


@pytest.mark.redis
def test_once_keys_expire_and_hold_no_ids_in_clear(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        once = RedisOnce(client, ttl=60)
        assert once.first("login:V123:abc") and not once.first("login:V123:abc")
        (key,) = client.keys("*")
        assert b"V123" not in key and 0 < client.ttl(key) <= 60
    finally:
        client.close()


def test_an_unreachable_redis_still_guards_within_the_process(caplog: pytest.LogCaptureFixture) -> None:
    from helpers.servers import nowhere_redis

    once = RedisOnce(nowhere_redis())
    assert once.first("run:V1:h") is True
    assert once.first("run:V1:h") is False
    assert "guarding in this process only" in caplog.text
