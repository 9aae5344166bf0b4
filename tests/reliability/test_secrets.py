"""A whole session at DEBUG leaves the Nexudus password nowhere: not in the store file, any log record, any
call to Slack, or any error text."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from conftest import ADMIN, RunningApp
from reliability_helpers import prefilled_state, text_input, wait_quiet
from slack_sdk import WebClient

from bot.alerts import AlertWorker
from bot.nexudus.client import NexudusClient
from bot.nexudus.credentials import Credentials
from bot.nexudus.errors import NexudusError
from bot.slack import ids
from bot.slack.errors import describe
from bot.slack.publisher import SlackPublisher

LOGGERS = ("", "slack_bolt", "slack_sdk", "urllib3", "bot", "requests")
ROOM = 1_000_007


def _secrets(email: str, password: str) -> dict[str, str]:
    basic = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"password": password, "Authorization value": basic, "Authorization header": f"Basic {basic}"}


@pytest.mark.integration
def test_no_secret_anywhere_after_a_full_session_at_debug(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    app = running_app
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    email, password = ADMIN
    wrong = "wrong-Pa55word!"
    error_texts: list[str] = []

    def login(pw: str) -> None:
        app.fake.clear()
        app.slack.command("login")
        form = app.fake.wait_for("views.open")[0].response["view"]
        app.slack.submit(
            form,
            {
                ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": email}},
                ids.F_PASSWORD: {ids.F_PASSWORD: text_input(pw)},
            },
        )
        app.fake.wait_for("views.update")
        wait_quiet(app.fake, idle=0.3)

    login(wrong)  # refused: its error text is scanned too
    assert app.deps.store.whoami(app.slack.team_id, app.slack.user_id) is None
    login(password)
    assert app.deps.store.whoami(app.slack.team_id, app.slack.user_id) == email
    first_tokens = app.deps.store.load_credentials(app.slack.team_id, app.slack.user_id)
    assert first_tokens is not None and first_tokens.access_token and first_tokens.refresh_token
    calls = [*app.fake.calls()]

    def step(text: str, waiting: str = "response_url") -> None:
        app.fake.clear()
        app.slack.command(text)
        app.fake.wait_for(waiting)
        wait_quiet(app.fake, idle=0.3)
        calls.extend(app.fake.calls())

    step("list")
    step(f"show {ROOM}")
    # Edit through the modal.
    app.fake.clear()
    app.slack.command(f"edit {ROOM}")
    app.fake.wait_for("views.update")
    form = app.fake.last("views.update").response["view"]
    values = prefilled_state(form)
    values[ids.F_NAME] = {ids.F_NAME: text_input("Renamed at DEBUG")}
    app.slack.submit(form, values)
    app.fake.wait_for("views.update", count=2)
    wait_quiet(app.fake, idle=0.3)
    calls.extend(app.fake.calls())
    # Delete through the confirmation modal.
    app.fake.clear()
    app.slack.command(f"delete {ROOM}")
    app.fake.wait_for("views.update")
    confirm = app.fake.last("views.update").response["view"]
    app.slack.submit(confirm, {})
    app.fake.wait_for("views.update", count=2)
    wait_quiet(app.fake, idle=0.3)
    calls.extend(app.fake.calls())
    assert app.sandbox.db.get(ROOM) is None
    # Alerts: subscribe, one cycle posting a digest, list.
    step("alerts subscribe after:1h")
    app.fake.clear()
    report = AlertWorker(app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url))).run_cycle()
    assert report.errors == 0 and report.digests_posted == 1, report.summary()
    calls.extend(app.fake.calls())
    step("alerts list")
    step("whoami")

    # Errors a user or a log could see: a refused login, a missing role, Nexudus down.
    client = NexudusClient(app.sandbox.url, Credentials(email, wrong), retries=0)
    for action in (client.probe, lambda: client.get(ROOM), lambda: client.delete(1_000_008)):
        try:
            action()
        except NexudusError as exc:
            error_texts += [str(exc), repr(exc), describe(exc).text]
    down = NexudusClient("http://127.0.0.1:9/api", Credentials(email, password), retries=0, timeout=(0.5, 0.5))
    try:
        down.get(ROOM)
    except NexudusError as exc:
        error_texts += [str(exc), repr(exc), describe(exc).text]
    assert len(error_texts) >= 6

    app.deps.store.close()
    store_files = [p for p in app.deps.settings.store_path.parent.iterdir() if p.is_file()]
    assert store_files
    records = caplog.records
    assert len(records) > 50, "DEBUG logging was not captured"
    log_texts = [caplog.text, *(r.getMessage() for r in records), *(str(r.args) for r in records)]
    call_texts = [json.dumps([c.method, c.args, c.response, c.target], default=str) for c in calls]
    assert any("Renamed at DEBUG" in t for t in call_texts)

    found: list[str] = []
    tokens = {
        "access token": first_tokens.access_token,
        "refresh token": first_tokens.refresh_token,
        "Bearer header": f"Bearer {first_tokens.access_token}",
    }
    for pw, label in ((password, "right"), (wrong, "wrong"), ("", "token")):
        for what, secret in (_secrets(email, pw) if pw else tokens).items():
            for path in store_files:
                if secret.encode() in path.read_bytes():
                    found.append(f"{label} {what} in {path.name}")
            for i, text in enumerate(log_texts):
                if secret in text:
                    found.append(f"{label} {what} in log text #{i}: {text[:300]!r}")
            for text in call_texts:
                if secret in text:
                    found.append(f"{label} {what} in a Slack call: {text[:300]!r}")
            for text in error_texts:
                if secret in text:
                    found.append(f"{label} {what} in an error: {text!r}")
    assert not found, "\n".join(found[:10])
