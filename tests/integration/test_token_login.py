"""Token logins end to end: the login modal (with a 2FA code), no password in the store, refresh before
expiry (from a command and from the alert worker), and a refused refresh pausing what depends on it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import ADMIN, SLACK_E2E, RunningApp, database_text
from cryptography.fernet import Fernet, InvalidToken
from slack_sdk import WebClient

from bot.alerts import AlertWorker
from bot.nexudus import ChatRoomFilters
from bot.sandbox.dialects import TOTP_SECRET, totp
from bot.slack import ids
from bot.slack.publisher import SlackPublisher

pytestmark = [pytest.mark.integration, SLACK_E2E]

TWO_FACTOR = ("2fa@sandbox.local", "sandbox-2fa")
FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-=]{40,}")


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def login_form(app: RunningApp) -> dict[str, Any]:
    app.fake.clear()
    app.slack.command("login")
    return app.fake.wait_for("views.open")[0].response["view"]


def submit_login(app: RunningApp, form: dict[str, Any], email: str, password: str, code: str | None = None) -> str:
    values: dict[str, Any] = {
        ids.F_EMAIL: {ids.F_EMAIL: {"type": "email_text_input", "value": email}},
        ids.F_PASSWORD: {ids.F_PASSWORD: {"type": "plain_text_input", "value": password}},
    }
    if code is not None:
        values[ids.F_CODE] = {ids.F_CODE: {"type": "plain_text_input", "value": code}}
    before = len(app.fake.calls("views.update"))
    ack = app.slack.submit(form | {"hash": str(before)}, values)
    if ack.json and ack.json.get("response_action") == "errors":
        return text(ack.json["errors"])
    view = text(app.fake.wait_for("views.update", count=before + 1)[before].args["view"])
    if "Logged in" in view:
        app.fake.wait_for("response_url")  # the confirmation in the conversation, sent right after
    return view


def answer(app: RunningApp, command: str) -> str:
    app.fake.clear()
    app.slack.command(command)
    return text(app.fake.wait_for("response_url")[-1].args)


def decrypted_store(app: RunningApp) -> tuple[bytes, list[str]]:
    """The raw bytes of every store file (or every row of every table of the store's database), and every Fernet
    token in them decrypted with the store key."""
    if app.deps.settings.database_url is not None:
        raw = database_text(app.deps.settings.database_url.get_secret_value()).encode()
    else:
        folder = app.deps.settings.store_path.parent
        raw = b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())
    cipher = Fernet(str(app.deps.settings.store_key).encode())
    plain = []
    for token in FERNET_TOKEN.findall(raw):
        try:
            plain.append(cipher.decrypt(token).decode())
        except InvalidToken:
            continue
    return raw, plain


@pytest.mark.parametrize("mode", ["bearer", "basic"])
def test_no_password_reaches_the_store_in_bearer_mode(running_app: RunningApp, mode: str) -> None:
    app = running_app
    app.deps.services.clients.auth = mode
    assert "Logged in" in submit_login(app, login_form(app), *ADMIN)
    app.deps.store.close()
    raw, plain = decrypted_store(app)
    assert plain, "the login is in the store, encrypted"
    assert ADMIN[1].encode() not in raw
    if mode == "bearer":
        assert not any(ADMIN[1] in p for p in plain), "bearer mode keeps no password, even encrypted"
        assert any('"access_token"' in p and '"refresh_token"' in p for p in plain)
        tokens = [json.loads(p)["access_token"] for p in plain if "access_token" in p]
        assert tokens and all(t.encode() not in raw for t in tokens), "tokens are encrypted too"
    else:
        assert any(ADMIN[1] in p for p in plain), "basic mode must keep the password (the check can fail)"


def test_two_factor_login_through_the_modal(running_app: RunningApp) -> None:
    app = running_app
    form = login_form(app)
    assert ids.F_CODE in text(form) and "2FA code" in text(form)
    refused = json.loads(submit_login(app, form, *TWO_FACTOR))
    blocks = refused["blocks"]
    code_at = next(i for i, b in enumerate(blocks) if b.get("block_id") == ids.F_CODE)
    assert "two-factor" in text(blocks[code_at + 1]) and blocks[code_at + 1]["type"] == "context", "under the field"
    assert "two-factor" not in text(blocks[:code_at])
    assert app.deps.store.whoami(app.slack.team_id, app.slack.user_id) is None
    assert "6-digit code" in submit_login(app, form, *TWO_FACTOR, code="12ab")
    assert "two-factor" in submit_login(app, form, *TWO_FACTOR, code="000000")
    code = totp(TOTP_SECRET, app.clock())
    assert "Logged in as *2fa@sandbox.local*" in submit_login(app, form, *TWO_FACTOR, code=code[:3] + " " + code[3:])
    saved = app.deps.store.load_credentials(app.slack.team_id, app.slack.user_id)
    assert saved is not None and saved.bearer and saved.password == ""
    assert "of 60" in answer(app, "list size:3")
    assert "login token (no password kept" in answer(app, "whoami")


def test_tokens_are_refreshed_before_they_expire(logged_in: RunningApp) -> None:
    app = logged_in
    store, team, user = app.deps.store, app.slack.team_id, app.slack.user_id
    first = store.load_credentials(team, user)
    assert first is not None and first.bearer
    app.clock.advance(days=5)
    app.deps.services.session(team, user)
    assert store.load_credentials(team, user) == first, "not yet due: no refresh"
    assert app.sandbox.stats.count("POST", "token") == 1
    app.clock.advance(days=1, hours=12)  # a day before the week is up
    assert "of 60" in answer(app, "list size:3")
    fresh = store.load_credentials(team, user)
    assert fresh is not None and fresh.access_token != first.access_token
    assert fresh.expires_at is not None and fresh.expires_at > app.clock() + timedelta(days=6)
    assert app.sandbox.stats.count("POST", "token") == 2
    app.clock.advance(days=2)  # past the first token's life: only the refreshed one works
    assert "of 60" in answer(app, "list size:3")


def test_a_refused_refresh_pauses_alerts_and_asks_the_creator_once(logged_in: RunningApp) -> None:
    app = logged_in
    app.slack.command("alerts subscribe after:1h")
    app.fake.wait_for("chat.postMessage")
    worker = AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    )
    app.clock.advance(days=3)
    assert worker.run_cycle().digests_posted == 1
    app.sandbox.app.tokens.revoke()  # e.g. a password change in Nexudus
    app.clock.advance(days=4)
    app.fake.clear()
    first = worker.run_cycle()
    second = worker.run_cycle()
    assert (first.paused, second.paused) == (1, 1)
    notices = [c.args["text"] for c in app.fake.calls("chat.postMessage")]
    assert len(notices) == 1, notices
    assert "expired" in notices[0] and f"<@{app.slack.user_id}>" in notices[0] and "/chatrooms login" in notices[0]

    refused = answer(app, "list")
    assert "login has expired" in refused and "/chatrooms login" in refused

    assert "Logged in" in submit_login(app, login_form(app), *ADMIN)
    app.fake.clear()
    assert worker.run_cycle().resumed == 1


def test_auto_falls_back_to_basic_only_where_no_token_endpoint_exists(running_app: RunningApp) -> None:
    app = running_app
    app.sandbox.config.dialect = app.sandbox.config.dialect.__class__(tokens=False)
    assert "no token login" in submit_login(app, login_form(app), *ADMIN), "bearer mode says what to change"
    app.deps.services.clients.auth = "auto"
    assert "Logged in" in submit_login(app, login_form(app), *ADMIN)
    saved = app.deps.store.load_credentials(app.slack.team_id, app.slack.user_id)
    assert saved is not None and not saved.bearer and saved.password == ADMIN[1]
    assert "with your password (stored encrypted)" in answer(app, "whoami")


def test_concurrent_requests_refresh_once(logged_in: RunningApp) -> None:
    """A refresh token works once: eight threads needing a refresh at the same moment make one refresh."""
    import threading

    app = logged_in
    services, team, user = app.deps.services, app.slack.team_id, app.slack.user_id
    app.clock.advance(days=6, hours=12)
    before = app.sandbox.stats.count("POST", "token")
    results: list[object] = []
    start = threading.Barrier(8)

    def use() -> None:
        start.wait(timeout=10)
        try:
            results.append(services.session(team, user).find(ChatRoomFilters(), size=1).total_items)
        except Exception as exc:  # collected: the assertion below names it
            results.append(exc)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [60] * 8
    assert app.sandbox.stats.count("POST", "token") - before == 1


def test_a_password_saved_before_token_logins_is_traded_for_tokens_on_first_use(running_app: RunningApp) -> None:
    from bot.nexudus.credentials import Credentials

    app = running_app
    store, team, user = app.deps.store, app.slack.team_id, app.slack.user_id
    store.save_credentials(team, user, Credentials(*ADMIN), app.clock())  # as an older version saved it
    assert "of 60" in answer(app, "list size:3")
    saved = store.load_credentials(team, user)
    assert saved is not None and saved.bearer and saved.password == ""
    assert app.sandbox.stats.count("POST", "token") == 1
    assert "of 60" in answer(app, "list size:3")
    assert app.sandbox.stats.count("POST", "token") == 1, "traded once"
    store.close()
    raw, plain = decrypted_store(app)
    assert plain and not any(ADMIN[1] in p for p in plain) and ADMIN[1].encode() not in raw


def test_a_saved_password_is_kept_where_tokens_cannot_work(running_app: RunningApp) -> None:
    from bot.nexudus.credentials import Credentials

    app = running_app
    app.sandbox.config.dialect = app.sandbox.config.dialect.__class__(tokens=False)
    app.deps.services.clients.auth = "auto"
    store, team, user = app.deps.store, app.slack.team_id, app.slack.user_id
    store.save_credentials(team, user, Credentials(*ADMIN), app.clock())
    for _ in range(2):
        assert "of 60" in answer(app, "list size:3")
    saved = store.load_credentials(team, user)
    assert saved == Credentials(*ADMIN)
    assert app.sandbox.stats.count("POST", "other") == 1, "the trade is tried once per process, not per request"


def test_the_alert_worker_refreshes_its_creator_tokens(logged_in: RunningApp) -> None:
    app = logged_in
    store, team, user = app.deps.store, app.slack.team_id, app.slack.user_id
    app.slack.command("alerts subscribe after:1h")
    app.fake.wait_for("chat.postMessage")
    first = store.load_credentials(team, user)
    worker = AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    )
    app.clock.advance(days=6, hours=12)  # nobody used the app this week: only the worker acts for them
    report = worker.run_cycle()
    assert (report.errors, report.paused, report.digests_posted) == (0, 0, 1), report.summary()
    fresh = store.load_credentials(team, user)
    assert first is not None and fresh is not None and fresh.access_token != first.access_token
    app.clock.advance(days=6, hours=12)  # and again: the refreshed refresh token works too
    worker.run_cycle()
    again = store.load_credentials(team, user)
    assert again is not None and again.access_token not in (first.access_token, fresh.access_token)
    assert app.sandbox.stats.count("POST", "token") == 3
