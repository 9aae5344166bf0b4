"""The PostgreSQL schema, as SQLAlchemy Core metadata (Alembic's revisions in bot/store/migrations create it).

Other parts of the app that keep state in the same database (for example slack_sdk's SQLAlchemy
installation and state stores) use the store's own engine (`PostgresTables.engine`: one pool per process) and add
their own tables to their own metadata.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from bot.store.base import TABLES

metadata = MetaData()


def _records(name: str) -> Table:
    """One table of the store: JSON records under a text key compared byte by byte (``COLLATE "C"``), so the
    key-range reads (``sub:`` … ``sub;``) find exactly one subscription's rows; ``seq`` keeps insertion order."""
    return Table(
        f"store_{name}",
        metadata,
        Column("key", Text(collation="C"), primary_key=True),
        Column("value", JSONB, nullable=False),
        Column("seq", BigInteger, Identity(always=False), nullable=False),
    )


TABLE_OBJECTS: dict[str, Table] = {name: _records(name) for name in TABLES}
