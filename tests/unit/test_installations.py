"""Installations of the distributed app: tokens sealed at rest, found per team, and the settings that switch it on."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from slack_sdk.oauth.installation_store import Installation

from bot.installations import INSTALLATIONS_FILE, SealedInstallationStore, client_for_team, open_installations
from bot.settings import Settings, SettingsError, load_settings
from bot.slack.app import build_app
from bot.web import wsgi_for
from bot.wiring import build_deps

BOT = "xoxb-1234-5678-abcdefghijklmnopqrstuvwx"
USER = "xoxp-1234-5678-9999-abcdefghijklmnopqrstuvwxyz0123456789abcd"


def settings_for(tmp_path: Path, key: str, **more: object) -> Settings:
    return Settings(
        slack_client_id="1111.2222",
        slack_client_secret="shh",  # type: ignore[arg-type]
        slack_signing_secret="signing",
        store_path=tmp_path / "store.sqlite",
        store_key=key,
        _env_file=None,  # type: ignore[call-arg]
        **more,  # type: ignore[arg-type]
    )


def installation(team: str = "T1", bot: str = BOT, user: str | None = USER) -> Installation:
    return Installation(
        app_id="A1",
        enterprise_id=None,
        team_id=team,
        team_name="One",
        bot_token=bot,
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes="commands,chat:write",
        bot_refresh_token="xoxe-1-refresh-secret",
        user_id="U1",
        user_token=user,
        user_refresh_token="xoxe-1-user-refresh-secret",
        installed_at=datetime.now(UTC).timestamp(),
    )


def test_tokens_are_sealed_on_disk_and_opened_on_the_way_out(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    installations = open_installations(settings_for(tmp_path, key), Fernet(key))
    installations.store.save(installation())
    raw = (tmp_path / INSTALLATIONS_FILE).read_bytes()
    for secret in (BOT, USER, "xoxe-1-refresh-secret", "xoxe-1-user-refresh-secret"):
        assert secret.encode() not in raw
    assert b"fernet:" in raw
    found = installations.store.find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert found is not None and (found.bot_token, found.user_token) == (BOT, USER)
    assert installations.bot_token("T1") == BOT
    assert installations.bot_token("T2") is None
    assert oct((tmp_path / INSTALLATIONS_FILE).stat().st_mode & 0o777) == oct(0o600)


def test_another_key_makes_a_token_absent_not_garbage(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = Fernet.generate_key().decode()
    open_installations(settings_for(tmp_path, key), Fernet(key)).store.save(installation())
    other = Fernet.generate_key().decode()
    stranger = open_installations(settings_for(tmp_path, other), Fernet(other))
    assert stranger.bot_token("T1") is None
    assert BOT not in caplog.text and "cannot be decrypted" in caplog.text


def test_a_rotated_key_list_still_reads_tokens_sealed_with_the_old_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    open_installations(settings_for(tmp_path, old.decode()), Fernet(old)).store.save(installation())
    rotated = open_installations(
        settings_for(tmp_path, f"{new.decode()},{old.decode()}"), MultiFernet([Fernet(new), Fernet(old)])
    )
    assert rotated.bot_token("T1") == BOT
    # Re-encrypted with NEW at that start: OLD can be dropped without the workspace looking uninstalled.
    only_new = open_installations(settings_for(tmp_path, new.decode()), Fernet(new))
    assert only_new.bot_token("T1") == BOT
    found = only_new.store.find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert found is not None and found.user_token == USER and found.user_refresh_token == "xoxe-1-user-refresh-secret"


def test_a_token_written_in_clear_is_not_used(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    installations = open_installations(settings_for(tmp_path, key.decode()), Fernet(key))
    inner = installations.store.inner
    inner.save(installation(team="TCLEAR"))  # bypassing the seal, as a hand edit or an old version would
    assert installations.bot_token("TCLEAR") is None


def test_client_for_team_uses_that_team_bot_token(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    installations = open_installations(settings_for(tmp_path, key.decode()), Fernet(key))
    installations.store.save(installation(team="T1", bot="xoxb-one"))
    installations.store.save(installation(team="T2", bot="xoxb-two"))
    client = client_for_team(installations, lambda token: __import__("slack_sdk").WebClient(token=token))
    one, two, none = client("T1", None), client("T2", None), client("T3", None)
    assert one is not None and one.token == "xoxb-one"
    assert two is not None and two.token == "xoxb-two"
    assert none is None


def test_sqlalchemy_store_on_database_url_seals_tokens_too(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("greenlet")  # slack_sdk's SQLAlchemy stores import sqlalchemy.ext.asyncio
    key = Fernet.generate_key()
    db = tmp_path / "app.db"
    settings = settings_for(tmp_path, key.decode(), database_url=f"sqlite:///{db}")
    engine = __import__("sqlalchemy").create_engine(f"sqlite:///{db}")  # the store's, in the app (one pool)
    with pytest.raises(ValueError, match="the store's engine"):
        open_installations(settings, Fernet(key))  # never an engine (a pool) of its own
    installations = open_installations(settings, Fernet(key), engine)
    bots = installations.store.inner.bots  # type: ignore[attr-defined]
    assert type(bots.c.bot_token.type).__name__ == "Text"  # PostgreSQL enforces VARCHAR(200); TEXT has no limit
    long_token = "xoxe.xoxb-1-" + "x" * 150  # a sealed token outgrows slack_sdk's VARCHAR(200)
    installations.store.save(installation(bot=long_token))
    assert installations.bot_token("T1") == long_token
    raw = db.read_bytes()
    assert long_token.encode() not in raw and USER.encode() not in raw
    assert not (tmp_path / INSTALLATIONS_FILE).exists()  # DATABASE_URL: nothing beside the store file
    new = Fernet.generate_key()
    rotated = settings_for(tmp_path, f"{new.decode()},{key.decode()}", database_url=f"sqlite:///{db}")
    open_installations(rotated, MultiFernet([Fernet(new), Fernet(key)]), engine)
    only_new = settings_for(tmp_path, new.decode(), database_url=f"sqlite:///{db}")
    assert open_installations(only_new, Fernet(new), engine).bot_token("T1") == long_token
    engine.dispose()
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
    assert {"slack_installations", "slack_bots", "slack_oauth_states"} <= tables


def test_client_id_and_secret_go_together() -> None:
    with pytest.raises(SettingsError, match="SLACK_CLIENT_SECRET is not set"):
        load_settings(slack_client_id="1111.2222", _env_file=None)
    with pytest.raises(SettingsError, match="SLACK_CLIENT_ID is not set"):
        load_settings(slack_client_secret="shh", _env_file=None)


def test_single_workspace_mode_serves_no_install_page(tmp_path: Path) -> None:
    settings = Settings(
        slack_bot_token="xoxb-one",
        slack_signing_secret="signing",
        store_path=tmp_path / "store.sqlite",
        store_key=Fernet.generate_key().decode(),
        _env_file=None,  # type: ignore[call-arg]
    )
    deps = build_deps(settings)
    try:
        assert deps.installations is None
        app = wsgi_for(build_app(deps))
        statuses: list[str] = []
        for path in ("/slack/install", "/slack/oauth_redirect"):
            app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, lambda status, headers, *_: statuses.append(status))
        assert statuses == ["404 Not Found", "404 Not Found"]
        assert not (tmp_path / INSTALLATIONS_FILE).exists()
    finally:
        deps.store.close()


def test_socket_mode_stays_single_workspace(tmp_path: Path) -> None:
    deps = build_deps(settings_for(tmp_path, Fernet.generate_key().decode()))
    try:
        assert deps.installations is not None
        with pytest.raises(ValueError, match="Socket Mode serves one workspace"):
            build_app(deps, socket_mode=True)
    finally:
        deps.store.close()


def test_sealed_store_is_an_installation_store() -> None:
    assert issubclass(SealedInstallationStore, __import__("slack_sdk").oauth.installation_store.InstallationStore)


def test_distributed_manifest_matches_what_the_app_serves() -> None:
    yaml = pytest.importorskip("yaml")
    from bot.installations import BOT_SCOPES
    from bot.slack.app import INSTALL_PATH, REDIRECT_PATH

    root = Path(__file__).resolve().parents[2]
    manifest = yaml.safe_load((root / "manifest.distributed.yml").read_text())
    single = yaml.safe_load((root / "manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert manifest["oauth_config"]["scopes"] == single["oauth_config"]["scopes"]
    assert manifest["oauth_config"]["redirect_urls"] == [f"https://YOUR-HOST{REDIRECT_PATH}"]
    assert INSTALL_PATH == "/slack/install"
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False and settings["token_rotation_enabled"] is False
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
    }
    for url in (
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
        manifest["features"]["slash_commands"][0]["url"],
    ):
        assert url == "https://YOUR-HOST/slack/events"


def test_enterprise_workspaces_are_found_with_their_organisation(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    installations = open_installations(settings_for(tmp_path, key.decode()), Fernet(key))
    grid = installation(team="TGRID", bot="xoxb-grid")
    grid.enterprise_id = "E1"
    installations.store.save(grid)
    org = installation(team="", bot="xoxb-org-wide")
    org.enterprise_id, org.team_id, org.is_enterprise_install = "E2", None, True
    installations.store.save(org)
    assert installations.bot_token("TGRID", "E1") == "xoxb-grid"
    assert installations.bot_token("TGRID") is None  # the same team id outside its organisation is not it
    assert installations.bot_token("TGRID", "E9") is None
    assert installations.bot_token("TANY", "E2") == "xoxb-org-wide"  # an org-wide install serves its teams


def test_a_redirect_uri_must_be_a_url() -> None:
    with pytest.raises(SettingsError, match=r"SLACK_REDIRECT_URI: .*http"):
        load_settings(slack_redirect_uri="myhost/slack/oauth_redirect", _env_file=None)
    assert load_settings(slack_redirect_uri="https://h/slack/oauth_redirect", _env_file=None).slack_redirect_uri


def test_the_doctor_says_why_it_checks_no_slack_token_in_the_distributed_app() -> None:
    from bot.doctor import Doctor

    settings = load_settings(slack_client_id="1111.2222", slack_client_secret="shh", _env_file=None)
    doctor = Doctor(settings, base_url="http://127.0.0.1:9/api", email="a@b.c", password="x")
    doctor.slack()
    (line,) = doctor.lines
    assert "/slack/install" in line.detail and "SLACK_BOT_TOKEN is not set" not in line.detail
