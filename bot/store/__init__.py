"""The app's small persistent store: Nexudus logins (encrypted), alert subscriptions and alert state.

`Store` (bot/store/base.py) holds every operation and the encryption; it keeps its records in a backend
behind the small `Tables` interface: the embedded SQLite file (bot/store/sqlite.py, the default) or
PostgreSQL with SQLAlchemy Core (bot/store/postgres.py, when ``DATABASE_URL`` is set; schema by Alembic,
bot/store/migrations).
"""

from bot.store.audit import AuditAction, AuditChannel, AuditEntry, FieldChange, Outcome
from bot.store.base import HISTORY_RETENTION, TABLES, Store, Tables, Tx, open_tables
from bot.store.errors import (
    DatabaseFull,
    PoolExhausted,
    StoreDamaged,
    StoreError,
    StoreKeyMismatch,
    StoreSchemaBehind,
    StoreUnavailable,
)
from bot.store.keys import BAD_KEY_MESSAGE, Cipher, StoreKey, fernet_from_setting, local_key_file
from bot.store.models import (
    OPTION_FIELDS,
    PENDING_PREFIX,
    AlertRecord,
    Digest,
    HistoryEvent,
    Scope,
    Subscription,
    new_pending_ts,
    new_subscription_id,
)

__all__ = [
    "BAD_KEY_MESSAGE",
    "HISTORY_RETENTION",
    "OPTION_FIELDS",
    "PENDING_PREFIX",
    "TABLES",
    "AlertRecord",
    "AuditAction",
    "AuditChannel",
    "AuditEntry",
    "Cipher",
    "DatabaseFull",
    "Digest",
    "FieldChange",
    "HistoryEvent",
    "Outcome",
    "PoolExhausted",
    "Scope",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreKey",
    "StoreKeyMismatch",
    "StoreSchemaBehind",
    "StoreUnavailable",
    "Subscription",
    "Tables",
    "Tx",
    "fernet_from_setting",
    "local_key_file",
    "new_pending_ts",
    "new_subscription_id",
    "open_tables",
]
