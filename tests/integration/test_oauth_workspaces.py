"""The distributed app: two workspaces install it through Slack's OAuth flow and never see each other.

Real Bolt app over signed HTTP, its OAuth pages over HTTP, the sandbox Nexudus, and the fake Slack
answering `oauth.v2.access` per code and `auth.test` per token.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ADMIN, READER, SIGNING_SECRET, FakeClock, RunningApp, serving
from cryptography.fernet import Fernet

from bot.alerts import AlertWorker
from bot.console import signing
from bot.console.driver import SlackDriver, find_action
from bot.console.fake_slack import Call, FakeSlack, Workspace
from bot.deps import Deps
from bot.installations import INSTALLATIONS_FILE, UNINSTALLED
from bot.logs import RedactingFilter
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.sandbox.db import NewChatRoom
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.settings import Settings
from bot.slack import ids
from bot.slack.publisher import SlackPublisher
from bot.wiring import build_deps
from bot.worker import slack_client, use_workspace_tokens

pytestmark = pytest.mark.integration

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret"
NORTH = Workspace(
    team_id="TNORTH", team_name="North", code="code-north", bot_token="xoxb-north-1-secret", installer_id="UNA"
)
SOUTH = Workspace(
    team_id="TSOUTH",
    team_name="South",
    code="code-south",
    bot_token="xoxb-south-2-secret",
    installer_id="USA",
    user_token="xoxp-south-user-secret",
)


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    server = SandboxServer(config=SandboxConfig(throttle=False), now=clock, chatrooms=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(sandbox: SandboxServer, fake_slack: FakeSlack, tmp_path: Path) -> Settings:
    fake_slack.oauth_client = (CLIENT_ID, CLIENT_SECRET)
    return Settings(
        nexudus_base_url=sandbox.url,
        slack_api_url=fake_slack.api_url,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,
        store_path=tmp_path / "store.sqlite",
        store_key=Fernet.generate_key().decode(),
        nexudus_pacing=False,
        nexudus_retries=1,
        nexudus_backoff=0,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def deps(settings: Settings, clock: FakeClock) -> Iterator[Deps]:
    built = build_deps(
        settings, clock=clock, clients=ClientFactory.from_settings(settings, PacerRegistry(enabled=False))
    )
    try:
        yield built
    finally:
        built.store.close()


@pytest.fixture
def app(deps: Deps, fake_slack: FakeSlack, sandbox: SandboxServer, clock: FakeClock) -> Iterator[RunningApp]:
    with serving(deps, fake_slack, sandbox, clock) as running:
        yield running


def base(app: RunningApp) -> str:
    return app.url.removesuffix("/slack/events")


def install(app: RunningApp, workspace: Workspace) -> requests.Response:
    """What an installer's browser does: open the install link, allow, come back to the redirect URL."""
    app.fake.add_workspace(workspace)
    page = requests.get(f"{base(app)}/slack/install", timeout=10, allow_redirects=False)
    assert page.status_code == 200, page.text
    state = re.search(r"state=([\w-]+)", page.text)
    assert state is not None and "oauth/v2/authorize" in page.text and f"client_id={CLIENT_ID}" in page.text
    cookie = page.headers["Set-Cookie"].split(";")[0]  # Secure: a browser sends it back over https only
    return requests.get(
        f"{base(app)}/slack/oauth_redirect",
        params={"code": workspace.code, "state": state.group(1)},
        headers={"Cookie": cookie},
        timeout=10,
        allow_redirects=False,
    )


def driver(app: RunningApp, workspace: Workspace, user: str = "U0001", channel: str = "C0001") -> SlackDriver:
    return dataclasses.replace(app.slack, team_id=workspace.team_id, user_id=user, channel_id=channel)


def add_stale_room(app: RunningApp, business: int, name: str) -> int:
    now = app.clock()
    return app.sandbox.db.insert(
        NewChatRoom(
            business_id=business,
            name=name,
            active=True,
            last_agent_visit=now - timedelta(hours=6),
            created_on=now - timedelta(days=3),
            updated_on=now - timedelta(hours=6),
            updated_by="System",
            unique_id=str(uuid.uuid4()),
            system_id="{}",
            users=[7000001],
        )
    )


def reply_to(app: RunningApp, count: int = 1) -> str:
    """The private answers so far (after `app.fake.clear()`), once there are `count` of them."""
    return json.dumps([c.args for c in app.fake.wait_for("response_url", count=count, timeout=10)], ensure_ascii=False)


def posts(app: RunningApp, channel: str) -> list[Call]:
    return [c for c in app.fake.calls("chat.postMessage") if c.args.get("channel") == channel and c.error is None]


def worker(app: RunningApp) -> AlertWorker:
    use_workspace_tokens(app.deps)  # as `python -m bot alerts` does in the distributed app
    single = SlackPublisher(slack_client("", app.fake.api_url))  # never used: each workspace posts with its token
    return AlertWorker(app.deps, single)


def test_install_page_and_redirect_store_each_workspace_with_its_token(app: RunningApp) -> None:
    for workspace in (NORTH, SOUTH):
        done = install(app, workspace)
        assert done.status_code == 200, done.text
    installations = app.deps.installations
    assert installations is not None
    assert installations.bot_token("TNORTH") == NORTH.bot_token
    assert installations.bot_token("TSOUTH") == SOUTH.bot_token
    assert installations.bot_token("TOTHER") is None
    south = installations.store.find_installation(enterprise_id=None, team_id="TSOUTH", user_id="USA")
    assert south is not None and south.user_token == SOUTH.user_token
    exchanged = app.fake.calls("oauth.v2.access")
    assert [c.args.get("code") for c in exchanged] == ["code-north", "code-south"]


def test_a_code_works_once_and_a_forged_state_is_refused(app: RunningApp) -> None:
    assert install(app, NORTH).status_code == 200
    page = requests.get(f"{base(app)}/slack/install", timeout=10)
    state = re.search(r"state=([\w-]+)", page.text)
    assert state is not None
    cookie = page.headers["Set-Cookie"].split(";")[0]
    forged = requests.get(
        f"{base(app)}/slack/oauth_redirect",
        params={"code": "code-south", "state": "forged"},
        headers={"Cookie": cookie},
        timeout=10,
    )
    assert forged.status_code == 400
    replayed = requests.get(
        f"{base(app)}/slack/oauth_redirect",
        params={"code": NORTH.code, "state": state.group(1)},
        headers={"Cookie": cookie},
        timeout=10,
    )
    assert replayed.status_code != 200  # Slack answered invalid_code: nothing stored twice
    assert app.fake.calls("oauth.v2.access")[-1].error == "invalid_code"


def test_tokens_are_ciphertext_on_disk(app: RunningApp, settings: Settings) -> None:
    install(app, NORTH)
    install(app, SOUTH)
    raw = (settings.store_path.parent / INSTALLATIONS_FILE).read_bytes()
    for secret in (NORTH.bot_token, SOUTH.bot_token, SOUTH.user_token or "", CLIENT_SECRET):
        assert secret.encode() not in raw
    with sqlite3.connect(settings.store_path.parent / INSTALLATIONS_FILE) as conn:
        stored = [row[0] for row in conn.execute("select bot_token from slack_bots")]
    assert len(stored) == 2 and all(value.startswith("fernet:") for value in stored)


def test_two_workspaces_stay_isolated_end_to_end(app: RunningApp, caplog: pytest.LogCaptureFixture) -> None:
    install(app, NORTH)
    install(app, SOUTH)
    north = driver(app, NORTH, channel="CNORTH")
    south = driver(app, SOUTH, channel="CSOUTH")  # the same user id in another workspace is someone else
    app.deps.services.login("TNORTH", "U0001", *ADMIN)
    north_room = add_stale_room(app, 9001, "North desk")

    # Logins: North's user is logged in, South's user of the same id is not.
    south.command("whoami")
    assert "admin@sandbox.local" not in reply_to(app)
    app.fake.clear()
    north.command("whoami")
    assert "admin@sandbox.local" in reply_to(app)

    # Lists: South cannot list with North's login.
    app.fake.clear()
    south.command("list")
    south_list = reply_to(app)
    assert "North desk" not in south_list and "log in" in south_list.lower()
    app.fake.clear()
    north.command("list")
    assert "North desk" in reply_to(app)

    # Subscriptions: each confirmation is posted with its own workspace's bot token.
    app.fake.clear()
    north.command("alerts subscribe after:4h")
    reply_to(app)
    app.fake.wait_for("chat.postMessage")
    assert [c.token for c in posts(app, "CNORTH")] == [NORTH.bot_token]
    # South's user logs in through the modal, with South's token, and North's login of the same user id stays.
    app.fake.clear()
    south.command("login")
    opened = app.fake.wait_for("views.open")[0]
    assert opened.token == SOUTH.bot_token
    values: dict[str, Any] = {
        ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": READER[0]}},
        ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": READER[1]}},
    }
    south.submit(opened.response["view"] | {"hash": "0"}, values)
    updated = app.fake.wait_for("views.update")[0]
    assert "Logged in" in json.dumps(updated.args["view"]) and updated.token == SOUTH.bot_token
    assert app.deps.services.whoami("TSOUTH", "U0001") == READER[0]
    assert app.deps.services.whoami("TNORTH", "U0001") == ADMIN[0]
    app.fake.clear()
    south.command("alerts subscribe after:4h business:9001")
    app.fake.wait_for("chat.postMessage")
    (north_sub,) = app.deps.store.subscriptions("TNORTH")
    (south_sub,) = app.deps.store.subscriptions("TSOUTH")
    assert not posts(app, "CNORTH")
    assert [c.token for c in posts(app, "CSOUTH")] == [SOUTH.bot_token]

    # South can neither see nor remove North's subscription.
    app.fake.clear()
    south.command("alerts list")
    assert north_sub.id not in reply_to(app)
    app.fake.clear()
    south.command(f"alerts unsubscribe {north_sub.id}")
    reply_to(app)
    assert app.deps.store.get_subscription(north_sub.id) is not None

    # Alerts: each digest goes to its workspace's channel with that workspace's token.
    app.fake.clear()
    report = worker(app).run_cycle()
    assert report.digests_posted == 2, report.details
    digests = {c.args["channel"]: c.token for c in app.fake.calls("chat.postMessage") if c.error is None}
    assert digests == {"CNORTH": NORTH.bot_token, "CSOUTH": SOUTH.bot_token}
    assert south_sub.team_id == "TSOUTH" and north_sub.team_id == "TNORTH"

    # A button of North's digest replayed from South (same user id, South's login) changes nothing in North.
    north_digest = next(c for c in app.fake.calls("chat.postMessage") if c.args["channel"] == "CNORTH")
    message = app.fake.message("CNORTH", north_digest.response["ts"])
    assert message is not None
    button = find_action(message["blocks"], ids.ALERT_VISITED)
    assert button is not None
    app.fake.clear()
    assert south.click(ids.ALERT_VISITED, button["value"], message=message).status == 200
    reply_to(app)
    room = app.sandbox.db.get(north_room)
    assert room is not None and room.last_agent_visit == app.clock().replace(microsecond=0) - timedelta(hours=6)
    assert not app.fake.calls("chat.update")
    assert all(c.token in (NORTH.bot_token, SOUTH.bot_token) for c in app.fake.calls() if c.method != "response_url")


def test_uninstall_deletes_the_tokens_pauses_the_subscriptions_and_a_reinstall_resumes(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    install(app, NORTH)
    install(app, SOUTH)
    for workspace in (NORTH, SOUTH):
        app.deps.services.login(workspace.team_id, "U0001", *ADMIN)
    add_stale_room(app, 9001, "Desk")
    north = driver(app, NORTH, channel="CNORTH")
    south = driver(app, SOUTH, channel="CSOUTH")
    north.command("alerts subscribe after:4h")
    south.command("alerts subscribe after:4h")
    app.fake.wait_for("chat.postMessage", count=2)

    app.fake.revoke(SOUTH)
    caplog.set_level(logging.WARNING, logger="bot.slack.app")
    ack = south.event({"type": "app_uninstalled"})
    assert ack.status == 200
    installations = app.deps.installations
    assert installations is not None
    assert installations.bot_token("TSOUTH") is None
    assert installations.store.find_installation(enterprise_id=None, team_id="TSOUTH", user_id="USA") is None
    assert installations.bot_token("TNORTH") == NORTH.bot_token
    (paused,) = app.deps.store.subscriptions("TSOUTH")
    assert paused.paused_reason == UNINSTALLED
    assert app.deps.store.subscriptions("TNORTH")[0].paused_reason is None
    assert "team TSOUTH: the app was uninstalled" in caplog.text
    for secret in (SOUTH.bot_token, NORTH.bot_token):
        assert secret not in caplog.text
    # The audit trail: each workspace's own subscribe, and the pause made by the app itself.
    south_trail = app.deps.store.audit_entries("TSOUTH")[0]
    assert [(e.action, e.user_id) for e in south_trail][:2] == [("pause", None), ("subscribe", "U0001")]
    assert south_trail[0].detail == "the app was uninstalled"
    assert {e.team_id for e in app.deps.store.audit_entries("TNORTH")[0]} == {"TNORTH"}
    assert "pause" not in [e.action for e in app.deps.store.audit_entries("TNORTH")[0]]

    app.fake.clear()
    alerts = worker(app)
    report = alerts.run_cycle()
    assert report.digests_posted == 1 and report.paused == 1
    assert [c.args["channel"] for c in app.fake.calls("chat.postMessage")] == ["CNORTH"]
    assert not any(c.token == SOUTH.bot_token for c in app.fake.calls())  # nothing tried with a dead token

    # Reinstalled (a new token): the next cycle tells the channel its alerts are back and posts the digest.
    again = dataclasses.replace(SOUTH, code="code-south-2", bot_token="xoxb-south-3-secret")
    assert install(app, again).status_code == 200
    app.fake.clear()
    report = alerts.run_cycle()
    assert report.resumed == 1 and report.digests_posted == 1
    south_posts = posts(app, "CSOUTH")
    assert {c.token for c in south_posts} == {again.bot_token}
    assert app.deps.store.subscriptions("TSOUTH")[0].paused_reason is None


def test_tokens_revoked_deletes_what_was_revoked(app: RunningApp) -> None:
    install(app, SOUTH)
    installations = app.deps.installations
    assert installations is not None
    south = driver(app, SOUTH)
    south.event({"type": "tokens_revoked", "tokens": {"oauth": ["USA"], "bot": []}})
    assert installations.store.find_installation(enterprise_id=None, team_id="TSOUTH", user_id="USA") is None
    assert installations.bot_token("TSOUTH") == SOUTH.bot_token  # only the user's token was revoked

    app.deps.services.login("TSOUTH", "U0001", *ADMIN)
    south.command("alerts subscribe after:4h")
    app.fake.wait_for("chat.postMessage")
    south.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}})
    assert installations.bot_token("TSOUTH") is None
    assert installations.store.find_installation(enterprise_id=None, team_id="TSOUTH") is None
    assert app.deps.store.subscriptions("TSOUTH")[0].paused_reason == UNINSTALLED


def test_a_workspace_that_did_not_install_the_app_is_told_to_install_it(app: RunningApp) -> None:
    install(app, NORTH)
    stranger = dataclasses.replace(app.slack, team_id="TSTRANGER")
    ack = stranger.command("list")
    assert ack.status == 200
    said: Any = app.fake.wait_for("response_url")[0].args
    assert "install" in json.dumps(said).lower()
    assert not app.fake.calls("chat.postMessage")


def test_a_revoked_bot_token_is_not_used_for_requests_either(app: RunningApp) -> None:
    install(app, NORTH)
    north = driver(app, NORTH)
    north.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}})
    installations = app.deps.installations
    assert installations is not None
    # The installation row held a copy of the bot token, which Bolt would have authorised requests with.
    assert installations.store.find_installation(enterprise_id=None, team_id="TNORTH") is None
    app.fake.clear()
    north.command("whoami")
    assert "install" in reply_to(app).lower()


def test_an_install_logs_no_token_even_at_debug(app: RunningApp) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    # Every logger on the way at DEBUG (other tests may have raised some), put back afterwards.
    loggers = [root, *(logging.getLogger(n) for n in ("slack_sdk", "slack_sdk.web.base_client", "slack_bolt", "bot"))]
    saved = [(logger.level, logger.disabled) for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    try:
        assert install(app, SOUTH).status_code == 200
        driver(app, SOUTH).event({"type": "app_uninstalled"})
    finally:
        root.removeHandler(handler)
        for logger, (level, disabled) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.disabled = disabled
    logged = out.getvalue()
    assert "oauth.v2.access" in logged  # slack_sdk did log the exchange at DEBUG
    for secret in (SOUTH.bot_token, SOUTH.user_token or "", CLIENT_SECRET):
        assert secret not in logged


def test_an_enterprise_grid_workspace_gets_its_alerts_with_its_own_token(app: RunningApp) -> None:
    grid = Workspace(
        team_id="TGRID", team_name="Grid", code="code-grid", bot_token="xoxb-grid-secret", enterprise_id="E1"
    )
    install(app, grid)
    install(app, NORTH)
    app.deps.services.login("TGRID", "U0001", *ADMIN)
    add_stale_room(app, 9001, "Grid desk")
    body = signing.slash_command_body(
        "/chatrooms",
        "alerts subscribe after:4h",
        "U0001",
        "TGRID",
        "CGRID",
        app.fake.response_url("command:subscribe"),
        signing.new_trigger_id(),
    )
    assert app.slack.post(body + "&enterprise_id=E1").status == 200
    app.fake.wait_for("chat.postMessage")
    (sub,) = app.deps.store.subscriptions("TGRID")
    assert sub.enterprise_id == "E1"
    assert [c.token for c in posts(app, "CGRID")] == [grid.bot_token]
    app.fake.clear()
    assert worker(app).run_cycle().digests_posted == 1
    assert [c.token for c in posts(app, "CGRID")] == [grid.bot_token]


def test_the_fake_slack_takes_only_installed_tokens_once_workspaces_install(fake_slack: FakeSlack) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    assert WebClient(token="xoxb-anything", base_url=fake_slack.api_url).auth_test()["team_id"] == "T0001"
    fake_slack.add_workspace(NORTH)
    assert WebClient(token=NORTH.bot_token, base_url=fake_slack.api_url).auth_test()["team_id"] == "TNORTH"
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xoxb-anything", base_url=fake_slack.api_url).auth_test()
    fake_slack.revoke(NORTH)
    with pytest.raises(SlackApiError, match="token_revoked"):
        WebClient(token=NORTH.bot_token, base_url=fake_slack.api_url).chat_postMessage(channel="C1", text="hi")
