"""An account that used its hourly allowance is told so, with when it resets — not a generic failure (11.4)."""

from __future__ import annotations

import json

import pytest
from conftest import SLACK_E2E, RunningApp

from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import Limits, PacerRegistry
from bot.nexudus.redis_pacing import KEY_PREFIX as PACE_PREFIX

pytestmark = [pytest.mark.integration, SLACK_E2E]


def test_list_after_the_hour_is_used_names_the_limit_and_the_reset(logged_in: RunningApp) -> None:
    app = logged_in
    limits = Limits(per_hour=2, min_interval=0.0, margin=0.0)
    if app.redis is not None:  # the login's request is booked in Redis already: start the account's hour afresh
        app.redis.delete(*app.redis.scan_iter(match=f"{PACE_PREFIX}:*"))
    app.deps.services.clients = ClientFactory.from_settings(app.deps.settings, PacerRegistry(limits, redis=app.redis))
    before = app.sandbox.app.stats.total
    for _ in range(2):
        app.slack.command("list")
        assert "Chatrooms" in json.dumps(app.next("response_url").args)
    app.slack.command("list")
    refused = json.dumps(app.next("response_url").args, ensure_ascii=False)
    assert "used all 2 requests Nexudus allows per hour" in refused, refused
    assert "<!date^" in refused and "Something went wrong" not in refused
    assert app.sandbox.app.stats.total - before == 2, "the refused request was never sent"
