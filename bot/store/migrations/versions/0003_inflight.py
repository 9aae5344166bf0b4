"""Two tables for acknowledged work: inflight (writes whose outcome has not reached their user) and processes
(each process's heartbeat), so a surviving process tells the users of one that died.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("inflight", "processes")


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
