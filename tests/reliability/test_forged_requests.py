"""Requests not signed by Slack with our secret, or signed too long ago, are refused before any handler runs."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from conftest import SIGNING_SECRET, RunningApp
from reliability_helpers import prefilled_state, text_input, wait_quiet

from bot.console import signing
from bot.slack import ids

ROOM = 1_000_005

Forgery = Callable[[str], dict[str, str]]


def _now() -> int:
    return int(time.time())


FORGERIES: dict[str, Forgery] = {
    "wrong secret": lambda body: signing.signed_headers(body, "not-the-secret"),
    "no signature headers": lambda body: {"Content-Type": signing.FORM_CONTENT_TYPE},
    "timestamp but no signature": lambda body: {
        "Content-Type": signing.FORM_CONTENT_TYPE,
        "X-Slack-Request-Timestamp": str(_now()),
    },
    "signature but no timestamp": lambda body: {
        "Content-Type": signing.FORM_CONTENT_TYPE,
        "X-Slack-Signature": signing.sign(body, SIGNING_SECRET)["X-Slack-Signature"],
    },
    "signed 6 minutes ago": lambda body: signing.signed_headers(body, SIGNING_SECRET, _now() - 360),
    "signed 6 minutes in the future": lambda body: signing.signed_headers(body, SIGNING_SECRET, _now() + 360),
    "replayed: old signature, fresh timestamp": lambda body: {
        **signing.signed_headers(body, SIGNING_SECRET, _now() - 400),
        "X-Slack-Request-Timestamp": str(_now()),
    },
    "malformed signature": lambda body: {
        **signing.signed_headers(body, SIGNING_SECRET),
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
    "non-numeric timestamp": lambda body: {
        **signing.signed_headers(body, SIGNING_SECRET),
        "X-Slack-Request-Timestamp": "yesterday",
    },
}


def _bodies(app: RunningApp) -> dict[str, str]:
    """One of each kind of request, each of which would reach Nexudus or Slack if a handler ran."""
    slack = app.slack
    app.slack.command(f"edit {ROOM}")
    app.fake.wait_for("views.update")
    form = app.fake.last("views.update").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: text_input("Forged rename")}
    app.fake.clear()
    app.slack.command(f"delete {ROOM}")
    app.fake.wait_for("views.update")
    confirm = app.fake.last("views.update").response["view"]
    wait_quiet(app.fake, idle=0.2)
    return {
        "slash list": signing.slash_command_body(
            "/chatrooms", "list", slack.user_id, slack.team_id, slack.channel_id, app.fake.response_url(), "1.2.3"
        ),
        "slash delete": signing.slash_command_body(
            "/chatrooms", f"delete {ROOM}", slack.user_id, slack.team_id, slack.channel_id, app.fake.response_url(), "1"
        ),
        "edit button": signing.block_actions_body(
            {"action_id": ids.EDIT, "block_id": "b", "type": "button", "value": str(ROOM)},
            user_id=slack.user_id,
            team_id=slack.team_id,
            trigger_id="1.2.3",
            channel_id=slack.channel_id,
            response_url=app.fake.response_url(),
        ),
        "edit submission": signing.view_submission_body(
            form, values, user_id=slack.user_id, team_id=slack.team_id, trigger_id="1.2.3"
        ),
        "delete submission": signing.view_submission_body(
            confirm, {}, user_id=slack.user_id, team_id=slack.team_id, trigger_id="1.2.3"
        ),
        "login submission": signing.view_submission_body(
            {"id": "V1", "callback_id": ids.LOGIN_MODAL, "private_metadata": "{}"},
            {
                ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": "admin@sandbox.local"}},
                ids.F_PASSWORD: {ids.F_PASSWORD: text_input("sandbox-admin")},
            },
            user_id="U0666",
            team_id=slack.team_id,
            trigger_id="1.2.3",
        ),
    }


@pytest.mark.integration
def test_forged_and_stale_requests_are_refused_and_run_nothing(logged_in: RunningApp) -> None:
    app = logged_in
    bodies = _bodies(app)
    app.fake.clear()
    app.sandbox.stats.reset()

    refused = 0
    for kind, body in bodies.items():
        for name, forge in FORGERIES.items():
            ack = app.slack.post(body, headers=forge(body))
            assert ack.status == 401, f"{name} / {kind}: HTTP {ack.status} {ack.body!r}"
            refused += 1
    # A genuine request for nothing in Nexudus: once its answer is in, any handler a forgery started would be too.
    assert app.slack.command("whoami").status == 200
    app.fake.wait_for("response_url")
    wait_quiet(app.fake, idle=0.5)

    assert refused == len(bodies) * len(FORGERIES) == 54
    assert [c.method for c in app.fake.calls()] == ["response_url"], "a forged request reached a handler"
    assert app.sandbox.stats.total == 0, app.sandbox.stats.snapshot()
    room = app.sandbox.db.get(ROOM)
    assert room is not None and room.name != "Forged rename"
    assert app.deps.store.whoami(app.slack.team_id, "U0666") is None


@pytest.mark.integration
def test_genuine_requests_with_the_same_bodies_still_work(logged_in: RunningApp) -> None:
    """The control: the forgeries above fail for their signatures, not because the bodies were bad."""
    app = logged_in
    bodies = _bodies(app)
    app.fake.clear()
    ack = app.slack.post(bodies["slash list"])
    assert ack.status == 200
    app.fake.wait_for("response_url")
    ack = app.slack.post(bodies["delete submission"])
    assert ack.status == 200 and ack.json.get("response_action") == "update"
    app.fake.wait_for("views.update")
    wait_quiet(app.fake, idle=0.3)
    assert app.sandbox.db.get(ROOM) is None
