"""The PostgreSQL store's own duties: Alembic schema (refused clearly when behind), `python -m bot migrate`,
`python -m bot rotate-keys` on both backends, and database errors that never show the password."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.nexudus.credentials import Credentials
from bot.settings import SettingsError, load_settings
from bot.store import Store, StoreError, StoreSchemaBehind, fernet_from_setting
from bot.store.postgres import engine_for, schema_status
from bot.wiring import open_store

NOW = datetime(2024, 5, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def run_bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "STORE_KEY", "STORE_PATH")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


@pytest.mark.postgres
def test_a_database_without_the_schema_is_refused_naming_the_migrate_command(database_url: str) -> None:
    key = Fernet.generate_key().decode()
    with pytest.raises(StoreSchemaBehind) as info:
        Store(database_url, fernet_from_setting(key))
    assert "python -m bot migrate" in str(info.value) and "no schema yet" in str(info.value)
    # The app's start says the same (a SettingsError stops the process with the text).
    settings = load_settings(database_url=database_url, store_key=key)
    with pytest.raises(SettingsError, match="python -m bot migrate"):
        open_store(settings, local=False)

    first = run_bot("migrate", env={"DATABASE_URL": database_url})
    assert first.returncode == 0, first.stderr
    assert "upgraded from revision (empty) to 0003" in first.stdout
    again = run_bot("migrate", env={"DATABASE_URL": database_url})
    assert again.returncode == 0 and "already at revision 0003; nothing to do" in again.stdout
    engine = engine_for(database_url)
    try:
        assert schema_status(engine) == ("0003", "0003")
    finally:
        engine.dispose()
    with open_store(settings, local=False) as store:
        store.save_credentials("T1", "U1", Credentials("ops@example.com", "pw"), NOW)
        assert store.load_credentials("T1", "U1") == Credentials("ops@example.com", "pw")


@pytest.mark.postgres
def test_a_database_of_the_previous_version_is_refused_then_migrated_to_keep_work_in_flight(database_url: str) -> None:
    from alembic import command

    from bot.store.inflight import InFlight
    from bot.store.postgres import _alembic_config

    engine = engine_for(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0002")  # the schema the previous version left
    finally:
        engine.dispose()
    key = fernet_from_setting(Fernet.generate_key().decode())
    with pytest.raises(StoreSchemaBehind, match="revision 0002; this version of the app needs revision 0003"):
        Store(database_url, key)
    done = run_bot("migrate", env={"DATABASE_URL": database_url})
    assert done.returncode == 0 and "upgraded from revision 0002 to 0003" in done.stdout, done.stdout + done.stderr
    with Store(database_url, key) as store:
        store.begin_work(InFlight(key="k1", owner="A", started_at=NOW, team_id="T1", user_id="U1", kind="delete"))
        store.heartbeat("A", NOW)
        assert [w.key for w in store.inflight()] == ["k1"]


def test_migrate_without_database_url_says_there_is_nothing_to_migrate(tmp_path: Path) -> None:
    done = run_bot("migrate", env={"STORE_PATH": str(tmp_path / "s.sqlite")})
    assert done.returncode == 0 and "DATABASE_URL is not set" in done.stdout


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    url = "postgresql+psycopg://ops:hunter2-secret@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as info:
        Store(url, fernet_from_setting(Fernet.generate_key().decode()))
    text = str(info.value)
    assert "cannot reach the database" in text and "DATABASE_URL" in text and "hunter2-secret" not in text
    with pytest.raises(StoreError, match="must be a PostgreSQL URL"):
        Store("mysql://u:p@127.0.0.1/x", fernet_from_setting(Fernet.generate_key().decode()))


def test_rotate_keys_reencrypts_rows_written_with_the_old_key_after_the_rotation_began(
    store_where: Path | str,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    laggard = Store(store_where, fernet_from_setting(old))  # a process still running with the old key
    try:
        rotating = Store(store_where, fernet_from_setting(f"{new},{old}"))  # rotates what exists at its start
        try:
            laggard.save_credentials("T1", "U9", Credentials("late@example.com", "pw-late"), NOW)  # old key again
            with Store(store_where, fernet_from_setting(new)) as new_only:
                assert new_only.load_credentials("T1", "U9") is None  # not readable under the new key yet
            assert rotating.rotate_keys() == 1
        finally:
            rotating.close()
    finally:
        laggard.close()
    with Store(store_where, fernet_from_setting(new)) as new_only:
        assert new_only.load_credentials("T1", "U9") == Credentials("late@example.com", "pw-late")


def test_the_rotate_keys_command_reencrypts_every_login_under_the_first_key(store_where: Path | str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with Store(store_where, fernet_from_setting(old)) as st:
        for i in range(3):
            st.save_credentials("T1", f"U{i}", Credentials(f"u{i}@example.com", f"pw{i}"), NOW)
    where = {"DATABASE_URL": store_where} if isinstance(store_where, str) else {"STORE_PATH": str(store_where)}
    refused = run_bot("rotate-keys", env=where)
    assert refused.returncode == 2 and "STORE_KEY is not set" in refused.stdout
    done = run_bot("rotate-keys", env={**where, "STORE_KEY": f"{new},{old}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 saved login(s) re-encrypted" in done.stdout
    assert old not in done.stdout + done.stderr and new not in done.stdout + done.stderr
    with Store(store_where, fernet_from_setting(new)) as st:  # the old key can now be dropped
        assert [st.load_credentials("T1", f"U{i}") for i in range(3)] == [
            Credentials(f"u{i}@example.com", f"pw{i}") for i in range(3)
        ]
