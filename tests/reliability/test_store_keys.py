"""A wrong, rotated or damaged store key/file: the app says what is wrong and what to do, and never says
something untrue to a user or a channel (a login that exists is never reported as removed)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import ADMIN, RunningApp
from cryptography.fernet import Fernet
from reliability_helpers import all_text, wait_quiet
from slack_sdk import WebClient

from bot import runner
from bot.alerts import AlertWorker
from bot.nexudus.credentials import Credentials
from bot.settings import Settings
from bot.slack.publisher import SlackPublisher
from bot.store import Store, StoreKeyMismatch, Subscription, fernet_from_setting
from bot.worker import main as alerts_main


def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings, key: str) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "NEXUDUS_BASE_URL": settings.nexudus_base_url,
        "SLACK_API_URL": settings.slack_api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "s",
        "STORE_PATH": str(settings.store_path),
        "STORE_KEY": key,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)

    def started_anyway(*args: object, **kwargs: object) -> None:
        raise AssertionError("the app started serving with this store")

    monkeypatch.setattr("bot.web.serve", started_anyway)


def _seed(settings: Settings) -> None:
    with Store(settings.store_path, fernet_from_setting(settings.store_key or "")) as store:
        store.save_credentials("T1", "U1", Credentials(*ADMIN), store_now())
        store.add_subscription(
            Subscription(team_id="T1", channel_id="C1", created_by="U1", threshold_minutes=60, created_at=store_now())
        )


def store_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize("entry", ["run", "alerts"])
def test_a_valid_but_wrong_store_key_stops_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    _seed(settings)
    before = settings.store_path.read_bytes()
    wrong = Fernet.generate_key().decode()
    _environment(monkeypatch, tmp_path, settings, wrong)
    code = runner.main(["--port", "1"]) if entry == "run" else alerts_main(["--once"])
    out = capsys.readouterr()
    assert code == 2
    assert "STORE_KEY does not decrypt the store" in out.out
    assert wrong not in out.out + out.err and (settings.store_key or "") not in out.out + out.err
    assert "Traceback" not in out.out + out.err
    assert settings.store_path.read_bytes() == before


@pytest.mark.parametrize("entry", ["run", "alerts"])
def test_a_damaged_store_stops_start_with_what_to_do_and_is_not_overwritten(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    settings.store_path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    before = settings.store_path.read_bytes()
    _environment(monkeypatch, tmp_path, settings, settings.store_key or "")
    code = runner.main(["--port", "1"]) if entry == "run" else alerts_main(["--once"])
    out = capsys.readouterr()
    assert code == 2
    assert "is damaged" in out.out and "backup" in out.out and str(settings.store_path) in out.out
    assert "Traceback" not in out.out + out.err
    assert settings.store_path.read_bytes() == before


@pytest.mark.integration
def test_a_process_left_with_the_old_key_says_so_instead_of_logged_out(logged_in: RunningApp) -> None:
    app = logged_in
    old = app.deps.settings.store_key or ""
    # Another process starts with the rotated key list: the store is re-encrypted with the new key.
    new = Fernet.generate_key().decode()
    saved = app.deps.store.load_credentials(app.slack.team_id, app.slack.user_id)
    assert saved is not None and saved.email == ADMIN[0]
    with Store(app.deps.settings.store_path, fernet_from_setting(f"{new},{old}")) as other:
        assert other.load_credentials(app.slack.team_id, app.slack.user_id) == saved
    app.fake.clear()
    assert app.slack.command("list").status == 200
    reply = all_text(app.fake.wait_for("response_url")[-1].args)
    wait_quiet(app.fake, idle=0.3)
    assert "re-encrypted with a newer key" in reply and "STORE_KEY" in reply, reply
    assert "log in" not in reply.lower(), reply
    # The alert worker in the same situation stops; it does not tell the channel the login was removed.
    app.deps.store.add_subscription(
        Subscription(
            team_id=app.slack.team_id,
            channel_id=app.slack.channel_id,
            created_by=app.slack.user_id,
            threshold_minutes=60,
            created_at=app.clock(),
        )
    )
    app.fake.clear()
    worker = AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    )
    with pytest.raises(StoreKeyMismatch):
        worker.run_cycle()
    assert not app.fake.calls("chat.postMessage")


@pytest.mark.integration
def test_a_damaged_saved_login_is_not_reported_to_the_channel_as_removed(logged_in: RunningApp) -> None:
    app = logged_in
    store = app.deps.store
    sub = store.add_subscription(
        Subscription(
            team_id=app.slack.team_id,
            channel_id=app.slack.channel_id,
            created_by=app.slack.user_id,
            threshold_minutes=60,
            created_at=app.clock(),
        )
    )
    with sqlite3.connect(app.deps.settings.store_path) as conn:
        (value,) = conn.execute("SELECT value FROM credentials").fetchone()
        record = json.loads(value)
        record["token"] = record["token"][:-8] + "AAAAAAA="
        conn.execute("UPDATE credentials SET value = ?", (json.dumps(record),))
    app.fake.clear()
    AlertWorker(
        app.deps, SlackPublisher(WebClient(token="xoxb-test", base_url=app.fake.api_url), sleep=lambda s: None)
    ).run_cycle()
    told = [c.args["text"] for c in app.fake.calls("chat.postMessage")]
    assert told and "can no longer be read" in told[0] and "removed" not in told[0], told
    assert store.get_subscription(sub.id).paused_reason  # type: ignore[union-attr]


@pytest.mark.integration
def test_a_store_damaged_under_the_running_app_is_named_not_a_generic_error(logged_in: RunningApp) -> None:
    app = logged_in
    store, path = app.deps.store, app.deps.settings.store_path
    for i in range(200):
        store.save_credentials(app.slack.team_id, f"UFILL{i:03d}", Credentials(*ADMIN), app.clock())
    data = bytearray(path.read_bytes())
    data[24:28] = (int.from_bytes(data[24:28], "big") + 7).to_bytes(4, "big")  # other readers drop their cache
    data[4096:] = b"\xa5" * (len(data) - 4096)
    with open(path, "r+b") as f:
        f.write(bytes(data))
    app.fake.clear()
    assert app.slack.command("list").status == 200
    reply = all_text(app.fake.wait_for("response_url")[-1].args)
    assert "store is damaged" in reply and "Something went wrong" not in reply, reply
    assert str(path) not in reply  # the file and what to do with it are for the administrator's log


@pytest.mark.integration
def test_a_damaged_saved_login_is_not_called_not_logged_in(logged_in: RunningApp) -> None:
    app = logged_in
    with sqlite3.connect(app.deps.settings.store_path) as conn:
        (value,) = conn.execute("SELECT value FROM credentials").fetchone()
        record = json.loads(value)
        record["token"] = record["token"][:-8] + "AAAAAAA="
        conn.execute("UPDATE credentials SET value = ?", (json.dumps(record),))
    app.fake.clear()
    assert app.slack.command("list").status == 200
    reply = all_text(app.fake.wait_for("response_url")[-1].args)
    assert "can no longer be read" in reply and "not logged in" not in reply, reply
