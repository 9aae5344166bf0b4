"""Builds the app's dependencies from settings: the one place that decides local or real."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.deps import Deps, utc_now
from bot.installations import Installations, open_installations
from bot.locks import FileLocks
from bot.nexudus.client import ClientFactory
from bot.services import Services
from bot.settings import Settings, SettingsError
from bot.store import Cipher, Store, StoreError, fernet_from_setting, local_key_file

LOCAL_KEY_FILE = Path("var/local-store.key")
CHATROOM_LOCK_FILE = "chatrooms.lock"


def store_cipher(settings: Settings, *, local: bool) -> Cipher:
    """STORE_KEY's cipher (the local console's key file in local mode); no key outside it means no start."""
    key = settings.store_key
    if not key:
        if not local:
            raise SettingsError(
                "STORE_KEY is not set. Generate one with\n"
                "  python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'\n"
                "and set it in the environment: the app will not store passwords unencrypted."
            )
        key = local_key_file(settings.store_path.parent / LOCAL_KEY_FILE.name)
    try:
        return fernet_from_setting(key)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def open_store(settings: Settings, *, local: bool) -> Store:
    """The credentials store, encrypted: PostgreSQL with DATABASE_URL, else the STORE_PATH file.

    Outside local mode, no STORE_KEY means no start.

    A wrong STORE_KEY or a damaged store file stops the start with a message saying what to do.
    """
    cipher = store_cipher(settings, local=local)
    try:
        return Store(settings.store_location, cipher)
    except StoreError as exc:  # a wrong key, a damaged file, an old schema: what is wrong and what to do
        raise SettingsError(str(exc)) from None


def build_deps(
    settings: Settings,
    *,
    local: bool = False,
    clock: Callable[[], datetime] = utc_now,
    store: Store | None = None,
    clients: ClientFactory | None = None,
    installations: Installations | None = None,
) -> Deps:
    store = store or open_store(settings, local=local)
    if installations is None and settings.oauth:
        # Bot tokens sealed with the same STORE_KEY as the logins (checked by the store just above).
        installations = _installations(settings, store_cipher(settings, local=local))
    clients = clients or ClientFactory.from_settings(settings)
    # Beside the store: every process of this machine that edits chatrooms (web, Socket Mode, alert worker)
    # uses the same data directory, so they serialise each chatroom's read → check → PUT together.
    locks = FileLocks(settings.store_path.parent / CHATROOM_LOCK_FILE)
    # The adapter's codec reads Nexudus' stamps in `settings.zone`; people read and type in `display_zone`.
    services = Services(store, clients, clock, locks)
    return Deps(
        settings=settings,
        store=store,
        services=services,
        clock=clock,
        zone=settings.display_zone,
        installations=installations,
    )


def _installations(settings: Settings, cipher: Cipher) -> Installations:
    """The OAuth installation store, or a start refused with what to do (never the URL: it holds a password)."""
    try:
        return open_installations(settings, cipher)
    except ImportError:
        raise SettingsError(
            "DATABASE_URL is set but SQLAlchemy (with greenlet, which slack_sdk's SQLAlchemy stores import) or "
            "psycopg is not installed: `pip install 'sqlalchemy[asyncio]' psycopg`."
        ) from None
    except Exception as exc:
        where = (
            "DATABASE_URL"
            if settings.database_url is not None
            else f"the directory of STORE_PATH ({settings.store_path.parent})"
        )
        raise SettingsError(
            f"cannot open the Slack installation store in {where} ({type(exc).__name__}). Check the setting."
        ) from None
