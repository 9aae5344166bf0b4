"""Mark visited from a digest, then Nexudus fails: the visit is reported, never "nothing was changed" (12.1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import FakeClock, RunningApp
from reliability_helpers import wait_quiet
from slack_sdk import WebClient
from test_write_truth import FailAfterWrite

from bot.alerts import AlertWorker
from bot.console.driver import find_action
from bot.sandbox.db import NewChatRoom
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.slack import ids
from bot.slack.publisher import SlackPublisher


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    """An empty sandbox with one chatroom waiting 5 h for an agent."""
    server = SandboxServer(config=SandboxConfig(throttle=False), now=clock, chatrooms=0)
    server.start()
    now = clock()
    server.db.insert(
        NewChatRoom(
            business_id=9001,
            name="Front desk",
            active=True,
            last_agent_visit=now - timedelta(hours=5),
            created_on=now - timedelta(days=3),
            updated_on=now - timedelta(hours=5),
            updated_by="System",
            unique_id=str(uuid.uuid4()),
            system_id=None,
            users=[7000001],
        )
    )
    try:
        yield server
    finally:
        server.stop()


def test_mark_visited_then_outage_is_reported_visited(logged_in: RunningApp, monkeypatch: pytest.MonkeyPatch) -> None:
    app = logged_in
    app.slack.command("alerts subscribe after:4h")
    app.fake.wait_for("chat.postMessage")
    app.fake.clear()
    AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    ).run_cycle()
    posted = app.fake.wait_for("chat.postMessage")[0]
    digest = app.fake.message(app.slack.channel_id, posted.response["ts"])
    assert digest is not None
    button = find_action(digest["blocks"], ids.ALERT_VISITED)
    assert button is not None
    room = int(button["value"].rsplit(":", 1)[-1])

    outage = FailAfterWrite(app.sandbox, monkeypatch)  # the PUT succeeds, the read-back and the redraw fail
    app.slack.click(ids.ALERT_VISITED, button["value"], message=digest)
    wait_quiet(app.fake)
    assert outage.failed >= 1
    said = json.dumps([c.args for c in app.fake.calls() if c.method in ("response_url", "chat.postMessage")])
    assert "marked visited" in said, said
    assert "Nothing was changed" not in said
    outage.heal()
    record = app.sandbox.db.get(room)
    assert record is not None and record.last_agent_visit == app.clock().replace(microsecond=0)
