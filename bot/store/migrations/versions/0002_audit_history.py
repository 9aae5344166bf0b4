"""Two append-only tables: audit (changes made through the app) and alert_history (each wait's times).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("audit", "alert_history")


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
