"""Alembic's environment for data.all's revisions: the runner's connection and transaction.

data.all's own `migrations/env.py` opens a connection of its own with `get_engine`; the
runner opens it instead (the same way, through data.all's `get_engine`), sets the timeouts
and takes the migration lock in its transaction, and hands it over here, so every revision
and the permissions commit together or not at all.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("data.all's migrations run through dataall_installer_migrate.runner, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=None,
    on_version_apply=config.attributes.get("on_version_apply", ()),
)
with context.begin_transaction():
    context.run_migrations()
