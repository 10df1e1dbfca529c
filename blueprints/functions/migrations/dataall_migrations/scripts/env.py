"""Alembic's environment: always online, on the connection and transaction the runner opened.

The runner (`dataall_migrations.runner`) owns the transaction, so every revision of one
command commits or rolls back together; this file only hands its connection to alembic.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the migrations run through dataall_migrations.runner, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=None,
    on_version_apply=config.attributes.get("on_version_apply", ()),
)
with context.begin_transaction():
    context.run_migrations()
