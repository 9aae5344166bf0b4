"""Redis unreachable in the middle of work: nothing is sent to Nexudus unpaced or unlocked, and the user is told
so in words (bot/slack/errors.py), never a stack trace, a reference number or the Redis URL."""

from __future__ import annotations

import json

import pytest
import redis
from conftest import ADMIN, FakeClock, serving
from helpers.servers import free_port, nowhere_redis

from bot.console.fake_slack import FakeSlack
from bot.locks import RedisLocks, SharedStateUnavailable
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.nexudus.redis_pacing import RedisPacer
from bot.sandbox.server import SandboxServer
from bot.settings import Settings
from bot.slack.errors import describe
from bot.wiring import build_deps


def _nowhere() -> redis.Redis:
    return nowhere_redis(password="pa55word")  # type: ignore[no-any-return]


def test_a_pacer_without_redis_refuses_rather_than_send_unpaced() -> None:
    with pytest.raises(SharedStateUnavailable) as caught:
        RedisPacer(_nowhere(), "ops@example.com").acquire(write=False)
    text = describe(caught.value).text
    assert "nothing was sent to Nexudus" in text and "Something went wrong" not in text
    assert "pa55word" not in text and "127.0.0.1" not in text


def test_a_lock_without_redis_refuses_rather_than_edit_unlocked() -> None:
    with pytest.raises(SharedStateUnavailable), RedisLocks(_nowhere()).hold("chatroom:1", timeout=1):
        pytest.fail("ran without the lock")


def test_an_edit_while_redis_is_down_is_refused_in_words(
    settings: Settings, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock
) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://:pa55word@127.0.0.1:{free_port()}/0"})
    deps = build_deps(down, clock=clock, clients=ClientFactory.from_settings(down, PacerRegistry(enabled=False)))
    try:
        with serving(deps, fake_slack, sandbox, clock) as app:
            app.deps.services.login(app.slack.team_id, app.slack.user_id, *ADMIN)
            before = sandbox.db.get(1_000_003)
            assert app.slack.command('edit 1000003 name:"Renamed while Redis is down"').status == 200
            replies = [c.args for c in fake_slack.wait_for("response_url", count=1, timeout=15)]
            text = json.dumps(replies, ensure_ascii=False)
            assert "could not coordinate this with its other processes" in text, text
            assert "pa55word" not in text and "Something went wrong" not in text
            assert sandbox.db.get(1_000_003) == before, "nothing was written"
    finally:
        deps.store.close()
