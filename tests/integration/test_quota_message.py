"""An account that used its hourly allowance is told so, with when it resets — not a generic failure (11.4)."""

from __future__ import annotations

import json

from conftest import RunningApp

from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import Limits, PacerRegistry


def test_list_after_the_hour_is_used_names_the_limit_and_the_reset(logged_in: RunningApp) -> None:
    app = logged_in
    limits = Limits(per_hour=2, min_interval=0.0, margin=0.0)
    app.deps.services.clients = ClientFactory.from_settings(app.deps.settings, PacerRegistry(limits))
    before = app.sandbox.app.stats.total
    for _ in range(2):
        app.slack.command("list")
        assert "Chatrooms" in json.dumps(app.next("response_url").args)
    app.slack.command("list")
    refused = json.dumps(app.next("response_url").args, ensure_ascii=False)
    assert "used all 2 requests Nexudus allows per hour" in refused, refused
    assert "<!date^" in refused and "Something went wrong" not in refused
    assert app.sandbox.app.stats.total - before == 2, "the refused request was never sent"
