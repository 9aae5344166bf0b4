"""Alembic's environment for the store's schema: run by `python -m bot migrate` (bot/store/postgres.py:migrate),
which passes its connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations with `python -m bot migrate` (it supplies the connection)")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
