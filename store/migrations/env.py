"""Alembic's environment for the store: migrations run on the connection :mod:`store.migrate` hands in."""

from alembic import context

from store.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
