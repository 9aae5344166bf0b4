"""Builds the app's dependencies from settings: the one place that decides local or real."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.acks import AcksFirst, open_board
from bot.deps import Deps, utc_now
from bot.health import Check, database_check, redis_check
from bot.inflight import BEAT_EVERY, SWEEP_EVERY, Journal
from bot.installations import Installations, open_installations
from bot.locks import FileLocks, Locks, RedisLocks
from bot.nexudus.client import ClientFactory
from bot.nexudus.pacing import PacerRegistry
from bot.once import MemoryOnce, OnceKeys, RedisOnce
from bot.services import Services
from bot.settings import Settings, SettingsError
from bot.store import Cipher, Store, StoreError, fernet_from_setting, local_key_file

if TYPE_CHECKING:
    import redis

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
        return Store(
            settings.store_location,
            cipher,
            history_retention=timedelta(days=settings.history_retention_days),
            pool=settings.database_pool,
        )
    except StoreError as exc:  # a wrong key, a damaged file, an old schema: what is wrong and what to do
        raise SettingsError(str(exc)) from None


def connect_redis(settings: Settings) -> redis.Redis | None:
    """The Redis client shared by pacing, locks and once-only keys (`REDIS_URL`), or None without one.

    Connecting is lazy: an unreachable Redis shows on /healthz and in the requests that need it."""
    if not settings.redis_url:
        return None
    import redis

    return redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30, retry_on_timeout=True
    )


def build_deps(
    settings: Settings,
    *,
    local: bool = False,
    clock: Callable[[], datetime] = utc_now,
    store: Store | None = None,
    clients: ClientFactory | None = None,
    redis_client: redis.Redis | None = None,
    installations: Installations | None = None,
) -> Deps:
    store = store or open_store(settings, local=local)
    if installations is None and settings.oauth:
        # Bot tokens sealed with the same STORE_KEY as the logins (checked by the store just above).
        # On PostgreSQL they use the store's engine: one pool per process, within DATABASE_POOL_SIZE/_MAX_OVERFLOW.
        installations = _installations(settings, store_cipher(settings, local=local), store)
    shared = redis_client if redis_client is not None else connect_redis(settings)
    locks: Locks
    once: OnceKeys
    checks: dict[str, Check] = {}
    if shared is not None:
        # Every process on every host: pacing of each Nexudus account, chatroom locks, once-only keys.
        pacers = PacerRegistry(enabled=settings.nexudus_pacing, redis=shared)
        clients = clients or ClientFactory.from_settings(settings, pacers)
        locks, once = RedisLocks(shared), RedisOnce(shared)
        checks["redis"] = redis_check(shared)
    else:
        clients = clients or ClientFactory.from_settings(settings)
        # Beside the store: every process of this machine that edits chatrooms (web, Socket Mode, alert worker)
        # uses the same data directory, so they serialise each chatroom's read → check → PUT together.
        locks, once = FileLocks(settings.store_path.parent / CHATROOM_LOCK_FILE), MemoryOnce()
    if settings.database_url:
        # A connection of its own (one per web process, counted in the README's budget): a busy pool never makes
        # a live process look dead to the load balancer.
        checks["database"] = database_check(settings.database_url.get_secret_value())
    # The adapter's codec reads Nexudus' stamps in `settings.zone`; people read and type in `display_zone`.
    services = Services(store, clients, clock, locks)
    return Deps(
        settings=settings,
        store=store,
        services=services,
        clock=clock,
        zone=settings.display_zone,
        installations=installations,
        once=once,
        checks=checks,
        journal=journal_for(store, clock, settings.inflight_orphan_seconds),
        # Several web processes on this host (gunicorn's workers): the work after acks waits for all their acks.
        acks=AcksFirst(board=open_board(settings.acks_board)),
    )


def journal_for(store: Store, clock: Callable[[], datetime], orphan_seconds: int) -> Journal:
    """The journal of writes in flight: a beat every 10 s and a sweep every 15 s, or more often when
    INFLIGHT_ORPHAN_SECONDS is short (three beats fit in it, and two sweeps)."""
    return Journal(
        store,
        clock,
        orphan_after=timedelta(seconds=orphan_seconds),
        beat_every=min(BEAT_EVERY, orphan_seconds / 3),
        sweep_every=min(SWEEP_EVERY, orphan_seconds / 2),
    )


def _installations(settings: Settings, cipher: Cipher, store: Store) -> Installations:
    """The OAuth installation store, or a start refused with what to do (never the URL: it holds a password)."""
    try:
        return open_installations(settings, cipher, getattr(store.tables, "engine", None))
    except ImportError:
        raise SettingsError(
            "DATABASE_URL is set but SQLAlchemy (with greenlet, which slack_sdk's SQLAlchemy stores import) or "
            "psycopg is not installed: `pip install 'sqlalchemy[asyncio]' psycopg`."
        ) from None
    except Exception as exc:
        if settings.database_url is not None:
            from bot.store.postgres import DATABASE_ERRORS, database_error

            if isinstance(exc, DATABASE_ERRORS):  # what PostgreSQL said, in true words (it may be full, or down)
                told = database_error(exc, settings.database_url.get_secret_value(), settings.database_pool)
                raise SettingsError(f"cannot open the Slack installation store: {told}") from None
        where = (
            "DATABASE_URL"
            if settings.database_url is not None
            else f"the directory of STORE_PATH ({settings.store_path.parent})"
        )
        raise SettingsError(
            f"cannot open the Slack installation store in {where} ({type(exc).__name__}). Check the setting."
        ) from None
