"""Workspaces that installed the app through Slack's OAuth flow: their tokens, encrypted at rest.

With ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` the app is a *distributed* app: any workspace installs it
at ``/slack/install`` and Bolt keeps each one's bot token (and the installer's user token) in an
``InstallationStore``, plus the one-time ``state`` of each install in an ``OAuthStateStore``. We use
slack_sdk's own stores — SQLite (``installations.sqlite`` beside ``STORE_PATH``) in the embedded mode,
SQLAlchemy on ``DATABASE_URL`` otherwise — wrapped in `SealedInstallationStore`, which encrypts every token
with ``STORE_KEY`` (the same Fernet/MultiFernet as the Nexudus logins) before it reaches the database and
decrypts it on the way out, so what lies on disk is ciphertext.

Everything else the app keeps (logins, subscriptions, alert state) is keyed by the Slack team, so
workspaces never see each other's; `client_for_team` gives the alert worker the Slack client of the
workspace a subscription belongs to.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from logging import Logger
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.fernet import InvalidToken, MultiFernet
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from bot.settings import Settings
from bot.store import Cipher

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.database import PoolBudget

log = logging.getLogger(__name__)

INSTALLATIONS_FILE = "installations.sqlite"
"""The embedded mode's installation and OAuth state tables, beside the store file."""

STATE_EXPIRATION_SECONDS = 600
"""How long an install link (its `state`) stays valid: ten minutes to click Allow."""

SEALED_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url")
"""What an installation holds that grants access: encrypted before it is stored."""

SEALED_PREFIX = "fernet:"
"""Marks a sealed value, so a value written before encryption (or by hand) is never mistaken for one."""

BOT_SCOPES = ("commands", "chat:write", "channels:history", "groups:history")
"""The manifest's bot scopes (manifest.yml says why each one is needed)."""

UNINSTALLED = "the app was uninstalled from this workspace (or its token revoked); reinstall it to resume"
"""The pause reason of a workspace's subscriptions once its bot token is gone."""

T = TypeVar("T", Installation, Bot)


class SealedInstallationStore(InstallationStore):
    """An ``InstallationStore`` that keeps tokens encrypted in ``inner`` and hands them out decrypted.

    A token that cannot be decrypted (another key, tampered data) is treated as absent — the workspace
    looks uninstalled, which Slack users can fix by reinstalling — and logged without the value.
    """

    def __init__(
        self,
        inner: InstallationStore,
        cipher: Cipher,
        words: Callable[[BaseException], BaseException | None] = lambda exc: None,
    ) -> None:
        self.inner = inner
        self._cipher = cipher
        self._words = words  # a database error in true words (bot/store/postgres.py:database_error), or None

    @contextlib.contextmanager
    def _told(self) -> Iterator[None]:
        """The database's errors raised as the store's (`StoreUnavailable`, worded by `describe`), not as a raw
        driver error that would reach a person as "something went wrong"."""
        try:
            yield
        except Exception as exc:
            told = self._words(exc)
            if told is None:
                raise
            raise told from None

    @property
    def logger(self) -> Logger:
        return self.inner.logger

    def _seal(self, item: T) -> T:
        sealed = copy.copy(item)
        for name in SEALED_FIELDS:
            value = getattr(sealed, name, None)
            if isinstance(value, str) and value:
                token = self._cipher.encrypt(value.encode("utf-8")).decode("ascii")
                setattr(sealed, name, SEALED_PREFIX + token)
        return sealed

    def _open(self, item: T | None) -> T | None:
        if item is None:
            return None
        opened = copy.copy(item)
        for name in SEALED_FIELDS:
            value = getattr(opened, name, None)
            if not isinstance(value, str) or not value:
                continue
            if not value.startswith(SEALED_PREFIX):
                log.warning("an installation of team %s holds a %s in clear; ignoring it", item.team_id, name)
                setattr(opened, name, None)
                continue
            try:
                setattr(opened, name, self._cipher.decrypt(value[len(SEALED_PREFIX) :].encode("ascii")).decode())
            except (InvalidToken, UnicodeError, ValueError):
                log.warning(
                    "the %s of team %s cannot be decrypted with STORE_KEY (another key, or tampered data); "
                    "treating it as absent",
                    name,
                    item.team_id,
                )
                setattr(opened, name, None)
        return opened

    def resealed(self, value: Any) -> Any:
        """`value` encrypted again with the first key of a key list (unchanged if not sealed or unreadable)."""
        if not isinstance(self._cipher, MultiFernet) or not isinstance(value, str):
            return value
        if not value.startswith(SEALED_PREFIX):
            return value
        try:
            return SEALED_PREFIX + self._cipher.rotate(value[len(SEALED_PREFIX) :].encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, ValueError):
            return value

    def save(self, installation: Installation) -> None:
        with self._told():
            self.inner.save(self._seal(installation))

    def save_bot(self, bot: Bot) -> None:
        with self._told():
            self.inner.save_bot(self._seal(bot))

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        with self._told():
            bot = self.inner.find_bot(
                enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
            )
        opened = self._open(bot)
        return opened if opened is not None and opened.bot_token else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        with self._told():
            found = self.inner.find_installation(
                enterprise_id=enterprise_id,
                team_id=team_id,
                user_id=user_id,
                is_enterprise_install=is_enterprise_install,
            )
        return self._open(found)

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with self._told():
            self.inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        with self._told():
            self.inner.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with self._told():
            self.inner.delete_all(enterprise_id=enterprise_id, team_id=team_id)


@dataclass(frozen=True)
class Installations:
    """Where the OAuth flow keeps installations (tokens sealed) and its one-time states."""

    store: SealedInstallationStore
    states: OAuthStateStore

    def bot_token(self, team_id: str, enterprise_id: str | None = None) -> str | None:
        """The bot token of the workspace (or of its organisation's org-wide install); None if not installed."""
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        return bot.bot_token if bot is not None else None


def open_installations(settings: Settings, cipher: Cipher, engine: Engine | None = None) -> Installations:
    """The installation and state stores: SQLAlchemy on DATABASE_URL, through `engine` — the store's own, so that a
    process keeps one pool of connections (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW) — else SQLite beside the
    store file."""
    client_id = settings.slack_client_id or ""
    if settings.database_url is not None:
        if engine is None:
            raise ValueError("DATABASE_URL is set: the installations need the store's engine (one pool per process)")
        url, pool = settings.database_url.get_secret_value(), settings.database_pool
        return _sqlalchemy_installations(engine, client_id, cipher, lambda exc: _database_words(exc, url, pool))
    path: Path = settings.store_path.parent / INSTALLATIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    inner = SQLite3InstallationStore(database=str(path), client_id=client_id)
    states = SQLite3OAuthStateStore(database=str(path), expiration_seconds=STATE_EXPIRATION_SECONDS)
    inner.init()
    states.init()
    path.chmod(0o600)  # tokens are sealed, but the file holds who installed what: private, like the store
    sealed = SealedInstallationStore(inner, cipher)
    if isinstance(cipher, MultiFernet):
        _reseal_sqlite(sealed, str(path))
    return Installations(sealed, states)


def _reseal_sqlite(sealed: SealedInstallationStore, database: str) -> None:
    """STORE_KEY=NEW,OLD: every token re-encrypted with NEW at start, like the logins, so OLD can go."""
    changed = 0
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as conn, conn:
        for table in ("slack_installations", "slack_bots"):
            columns = [row[1] for row in conn.execute(f"pragma table_info({table})") if row[1] in SEALED_FIELDS]
            for row in conn.execute(f"select id, {', '.join(columns)} from {table}").fetchall():
                new = [sealed.resealed(value) for value in row[1:]]
                if new != list(row[1:]):
                    sets = ", ".join(f"{column} = ?" for column in columns)
                    conn.execute(f"update {table} set {sets} where id = ?", [*new, row[0]])
                    changed += 1
    if changed:
        log.info("re-encrypted the tokens of %d installation rows with the first STORE_KEY", changed)


def _database_words(exc: BaseException, url: str, pool: PoolBudget) -> BaseException | None:
    from bot.store.postgres import DATABASE_ERRORS, database_error

    return database_error(exc, url, pool) if isinstance(exc, DATABASE_ERRORS) else None


def _sqlalchemy_installations(
    engine: Engine, client_id: str, cipher: Cipher, words: Callable[[BaseException], BaseException | None]
) -> Installations:
    import sqlalchemy
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    class WideTokenInstallationStore(SQLAlchemyInstallationStore):
        """slack_sdk's tables with the token columns as TEXT: a sealed token outgrows its VARCHAR(200)."""

        @classmethod
        def build_installations_table(cls, metadata: Any, table_name: str) -> Any:
            return _widen(super().build_installations_table(metadata, table_name))

        @classmethod
        def build_bots_table(cls, metadata: Any, table_name: str) -> Any:
            return _widen(super().build_bots_table(metadata, table_name))

    inner = WideTokenInstallationStore(client_id=client_id, engine=engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine)
    inner.metadata.create_all(engine)  # CREATE TABLE IF NOT EXISTS, in the same database as the store
    states.metadata.create_all(engine)
    sealed = SealedInstallationStore(inner, cipher, words)
    if isinstance(cipher, MultiFernet):
        with engine.begin() as conn:  # STORE_KEY=NEW,OLD: every token re-encrypted with NEW, so OLD can go
            for table in (inner.installations, inner.bots):
                columns = [table.c[name] for name in SEALED_FIELDS if name in table.c]
                for row in conn.execute(sqlalchemy.select(table.c.id, *columns)).mappings().all():
                    changes = {c.name: sealed.resealed(row[c.name]) for c in columns}
                    changes = {name: value for name, value in changes.items() if value != row[name]}
                    if changes:
                        conn.execute(table.update().where(table.c.id == row["id"]).values(**changes))
    return Installations(sealed, states)


def _widen(table: Any) -> Any:
    import sqlalchemy

    for name in SEALED_FIELDS:
        if name in table.c:
            table.c[name].type = sqlalchemy.Text()
    return table


def client_for_team(
    installations: Installations, make_client: Callable[[str], WebClient]
) -> Callable[[str, str | None], WebClient | None]:
    """The alert worker's "Slack client of team X": its bot token from the installation store, or None."""

    def client(team_id: str, enterprise_id: str | None = None) -> WebClient | None:
        token = installations.bot_token(team_id, enterprise_id)
        return make_client(token) if token else None

    return client
