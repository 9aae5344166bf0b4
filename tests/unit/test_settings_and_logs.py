"""Settings fail at start naming the variable; logs never carry a secret."""

from __future__ import annotations

import logging

import pytest

from bot.logs import RedactingFilter, scrub
from bot.settings import SettingsError, load_settings


def test_invalid_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUDUS_PAGE_SIZE", "5000")
    monkeypatch.setenv("NEXUDUS_TIME_ZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    text = str(info.value)
    assert "NEXUDUS_PAGE_SIZE" in text and "NEXUDUS_TIME_ZONE" in text


def test_defaults_point_at_real_nexudus(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEXUDUS_BASE_URL", "NEXUDUS_PAGE_SIZE", "NEXUDUS_TIME_ZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.nexudus_base_url == "https://spaces.nexudus.com/api"
    assert str(settings.zone) == "UTC"


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("headers {'Authorization': 'Basic YWRtaW46c2VjcmV0'}", "YWRtaW46c2VjcmV0"),
        ("token xoxb-1234-abcd used", "xoxb-1234-abcd"),
        ('{"password":{"password":{"type":"plain_text_input","value":"hunter2"}}}', "hunter2"),
        ("payload=%7B%22password%22%3A%7B%22password%22%3A%7B%22value%22%3A%22hunter2%22%7D", "hunter2"),
    ],
)
def test_scrub_removes_secrets(raw: str, secret: str) -> None:
    assert secret not in scrub(raw)


def test_filter_rewrites_records() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "auth %s", ("Authorization: Basic Zm9vOmJhcg==",), None)
    RedactingFilter().filter(record)
    assert "Zm9vOmJhcg==" not in record.getMessage()


def test_no_store_key_outside_local_mode_refuses_to_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import Settings
    from bot.wiring import open_store

    settings = Settings(store_path=tmp_path / "store.sqlite", store_key=None, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="STORE_KEY is not set"):
        open_store(settings, local=False)
    assert not (tmp_path / "store.sqlite").exists()
    store = open_store(settings, local=True)  # the local demo keeps a generated key file instead
    try:
        assert (tmp_path / "local-store.key").stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


def test_a_bad_store_key_is_named_not_echoed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import Settings
    from bot.wiring import open_store

    settings = Settings(store_path=tmp_path / "s.sqlite", store_key="not-a-key-secret", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SettingsError) as info:
        open_store(settings, local=False)
    assert "STORE_KEY" in str(info.value) and "not-a-key-secret" not in str(info.value)


def test_people_read_times_in_the_space_zone_while_nexudus_stamps_stay_utc(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.wiring import build_deps

    for name in ("NEXUDUS_TIME_ZONE", "SPACE_TIME_ZONE"):
        monkeypatch.delenv(name, raising=False)
    assert str(load_settings(_env_file=None).display_zone) == "UTC", "defaults to NEXUDUS_TIME_ZONE"
    settings = load_settings(
        _env_file=None, space_time_zone="Europe/Madrid", store_path=tmp_path / "s.sqlite", nexudus_pacing=False
    )
    deps = build_deps(settings, local=True)
    try:
        assert str(deps.zone) == "Europe/Madrid"  # cards and typed dates
        assert str(deps.services.clients.codec.zone) == "UTC"  # how records are read and written
    finally:
        deps.store.close()
    monkeypatch.setenv("SPACE_TIME_ZONE", "Atlantis/Nowhere")
    with pytest.raises(SettingsError, match="SPACE_TIME_ZONE"):
        load_settings(_env_file=None)


def test_redis_and_database_urls_are_checked_without_echoing_them() -> None:
    from bot.settings import load_settings

    with pytest.raises(SystemExit) as caught:
        load_settings(redis_url="http://:hunter2@cache:6379", _env_file=None)
    text = str(caught.value)
    assert "REDIS_URL" in text and "hunter2" not in text
    # DATABASE_URL's scheme is checked by the store when it opens (tests/backends/test_store_postgres.py).
    from cryptography.fernet import Fernet

    from bot.store import Store, StoreError, fernet_from_setting

    with pytest.raises(StoreError) as refused:
        Store("mysql://u:hunter3@db/x", fernet_from_setting(Fernet.generate_key().decode()))
    assert "DATABASE_URL" in str(refused.value) and "hunter3" not in str(refused.value)


def test_database_urls_are_taken_in_the_forms_platforms_give() -> None:
    from bot.settings import load_settings

    for given in ("postgres://u:p@db:5432/x", "postgresql://u:p@db:5432/x", "postgresql+psycopg://u:p@db:5432/x"):
        url = load_settings(database_url=given, _env_file=None).database_url
        assert url is not None and url.get_secret_value() == "postgresql+psycopg://u:p@db:5432/x"
    assert load_settings(redis_url="", database_url="", _env_file=None).redis_url is None


def test_bolt_s_logger_gets_the_configured_level_so_bolt_skips_debug_formatting_per_request() -> None:
    import logging

    from slack_bolt import App

    from bot.logs import BOLT_LOGGER, configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger(BOLT_LOGGER).level
    try:
        configure_logging("INFO")
        bolt = App(
            signing_secret="s", token="xoxb-t", token_verification_enabled=False, logger=logging.getLogger(BOLT_LOGGER)
        )
        # Bolt's dispatch formats a debug line per middleware when its logger's own level is DEBUG or unset.
        assert bolt._framework_logger.level > logging.DEBUG
        configure_logging("DEBUG")
        assert logging.getLogger(BOLT_LOGGER).level == logging.DEBUG, "LOG_LEVEL=DEBUG still shows Bolt's debug"
    finally:
        root.handlers[:], level, bolt_level = saved
        root.setLevel(level)
        logging.getLogger(BOLT_LOGGER).setLevel(bolt_level)
