"""`python -m bot migrate` and `python -m bot rotate-keys`: the store's two maintenance commands."""

from __future__ import annotations

import argparse

from bot.store.errors import StoreError


def migrate_main(argv: list[str] | None = None) -> int:
    """`python -m bot migrate`: bring the PostgreSQL schema (DATABASE_URL) to this version's head."""
    from bot.settings import SettingsError, load_settings
    from bot.store.postgres import migrate, safe_url

    argparse.ArgumentParser(
        prog="python -m bot migrate",
        description="Create or upgrade the store's tables in PostgreSQL (DATABASE_URL). Safe to run again.",
    ).parse_args(argv)
    try:
        settings = load_settings()
        if settings.database_url is None:
            print(
                "DATABASE_URL is not set: the embedded store (STORE_PATH) needs no migration. "
                "Set DATABASE_URL to migrate a PostgreSQL database."
            )
            return 0
        url = settings.database_url.get_secret_value()
        before, after = migrate(url)
    except (SettingsError, StoreError) as exc:
        print(exc)
        return 2
    if before == after:
        print(f"migrate: {safe_url(url)} is already at revision {after}; nothing to do.")
    else:
        print(f"migrate: {safe_url(url)} upgraded from revision {before or '(empty)'} to {after}.")
    return 0


def rotate_keys_main(argv: list[str] | None = None) -> int:
    """`python -m bot rotate-keys`: re-encrypt every saved login under the first key of STORE_KEY."""
    from bot.settings import SettingsError, load_settings
    from bot.wiring import open_store

    argparse.ArgumentParser(
        prog="python -m bot rotate-keys",
        description="Re-encrypt every saved login under the FIRST key of STORE_KEY (new key first, old key "
        "after it, comma-separated). Afterwards the old key can be removed from STORE_KEY everywhere.",
    ).parse_args(argv)
    try:
        settings = load_settings()
        if not settings.store_key:
            raise SettingsError("STORE_KEY is not set: set it to the new key, a comma, then the old key.")
        with open_store(settings, local=False) as store:
            count = store.rotate_keys()
    except (SettingsError, StoreError) as exc:
        print(exc)
        return 2
    print(
        f"rotate-keys: {count} saved login(s) re-encrypted under the first key of STORE_KEY. "
        "Restart every app process with the new STORE_KEY, then the old key can be dropped from it."
    )
    return 0
