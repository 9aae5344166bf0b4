"""The store's errors: each text says what is wrong and what to do, and never holds a secret."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """The store cannot be used as it is. The text says what is wrong and what to do; it never holds a secret."""


class StoreDamaged(StoreError):
    """The store file is not a sound SQLite database. Nothing was written to it."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"The store file {path} is damaged (SQLite says: {detail}). The app has not changed it.\n"
            f"Restore it from a backup; or keep it aside (`mv {path} {path}.damaged`) and start again with an "
            "empty store: everyone then logs in again with `/chatrooms login` and channels subscribe again."
        )


class StoreKeyMismatch(StoreError):
    """``STORE_KEY`` does not decrypt the store's data (the wrong key, or the store was re-keyed since)."""


class StoreSchemaBehind(StoreError):
    """The database's schema is older than this version of the app: `python -m bot migrate` brings it up."""


class StoreUnavailable(StoreError):
    """The database (DATABASE_URL) cannot be reached right now. The text is for the log; users get words
    from ``describe`` that do not name the database."""


class DatabaseFull(StoreUnavailable):
    """PostgreSQL is running but refused another connection: it reached ``max_connections`` (SQLSTATE 53300, "sorry,
    too many clients already"), or a connection limit set on the app's role or database."""


class PoolExhausted(StoreUnavailable):
    """Every connection of this process's pool stayed in use for ``DATABASE_POOL_TIMEOUT`` seconds, so an operation
    got none (PostgreSQL was not asked for more: the pool is this process's share of it)."""
