"""The store's tables: credentials, subscriptions, alerts, digests, meta (JSON records under a text key).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("credentials", "subscriptions", "alerts", "digests", "meta")


def upgrade() -> None:
    for name in TABLES:
        op.create_table(
            f"store_{name}",
            sa.Column("key", sa.Text(collation="C"), primary_key=True),
            sa.Column("value", JSONB, nullable=False),
            sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False),
        )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(f"store_{name}")
