"""One user's burst does not starve everyone (issue 12.12), end to end through the real Bolt app.

User A fires 30 `list` commands at a slow Nexudus (0.4 s an answer) through an app with only 4 lazy threads;
user B then asks `whoami`. Before the fix (one FIFO thread pool) B's answer came after A's queue drained.
Now: A's lazy work takes at most two threads, B is served at once, A sees how many of their requests are
ahead, and beyond the bound A's commands are refused with a clear answer, never silence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from conftest import ADMIN, READER, FakeClock, RunningApp, serving
from reliability_helpers import wait_quiet

import bot.slack.app as slack_app
from bot.console import signing
from bot.console.driver import SlackDriver
from bot.console.fake_slack import Call, FakeSlack
from bot.deps import Deps
from bot.sandbox.server import SandboxServer
from bot.slack import lanes

BURST = 30


@pytest.fixture
def small_pool_app(
    deps: Deps, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningApp]:
    monkeypatch.setattr(slack_app, "LAZY_WORKERS", 4)
    with serving(deps, fake_slack, sandbox, clock) as app:
        yield app


def _command(driver: SlackDriver, text: str, target: str) -> dict:  # type: ignore[type-arg]
    body = signing.slash_command_body(
        "/chatrooms",
        text,
        driver.user_id,
        driver.team_id,
        driver.channel_id,
        driver.fake.response_url(target),
        signing.new_trigger_id(),
    )
    ack = driver.post(body)
    assert ack.status == 200
    return ack.json or {}


def test_another_users_whoami_is_not_starved_by_a_burst(small_pool_app: RunningApp) -> None:
    app = small_pool_app
    a, b = app.slack.as_user("UBURST"), app.slack.as_user("UOTHER")
    app.deps.services.login(a.team_id, a.user_id, *ADMIN)
    app.deps.services.login(b.team_id, b.user_id, *READER)
    app.sandbox.config.delay = 0.4

    acks = [_command(a, "list", f"a{i}") for i in range(BURST)]
    _command(b, "whoami", "b-whoami")
    whoami = _wait_answer(app.fake, "b-whoami", timeout=30)
    # The bursting user's own command that needs no Nexudus call is neither refused nor queued behind the lists.
    own = _command(a, "whoami", "a-whoami")
    assert "requests waiting" not in json.dumps(own)
    own_answer = _wait_answer(app.fake, "a-whoami", timeout=30)
    app.sandbox.config.delay = 0.0
    wait_quiet(app.fake, limit=60)

    a_answers = sorted(
        c.at for c in app.fake.calls("response_url") if (c.target or "").startswith("a") and c.target != "a-whoami"
    )
    ahead = sum(1 for at in a_answers if at < whoami.at)
    assert ahead <= 2, f"B's whoami waited for {ahead} of A's lists"
    own_ahead = sum(1 for at in a_answers if at < own_answer.at)
    assert own_ahead <= 4, f"A's own whoami waited for {own_ahead} of A's lists"
    assert "You act in Nexudus as" in json.dumps(whoami.args)

    accepted = [x for x in acks if "Looking up chatrooms" in json.dumps(x)]
    refused = [x for x in acks if "requests waiting for Nexudus" in json.dumps(x)]
    assert len(accepted) == lanes.LANE_BOUND and len(refused) == BURST - lanes.LANE_BOUND
    assert "3 of your earlier requests ahead" in json.dumps(acks[3])
    assert len(a_answers) == len(accepted), "every accepted command got its answer"


def _wait_answer(fake: FakeSlack, target: str, timeout: float) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in fake.calls("response_url") if c.target == target]
        if found:
            return found[0]
        time.sleep(0.02)
    raise TimeoutError(f"no answer to {target} within {timeout} s")
