"""The migration function: one command per invocation.

    {"command": "status"}
        -> {"revision": <database's revision or null>, "head": <release's head>,
            "known": <the release knows the database's revision>,
            "pending_permissions": <rows the permissions sync would change, at head; else null>}
    {"command": "upgrade", "lock_timeout_ms": 5000, "statement_timeout_ms": 300000}
        -> {"previous": ..., "revision": ..., "applied": [...], "permissions": {added, updated, removed, total}}
    {"command": "downgrade", "revision": <revision, or null for base>, "lock_timeout_ms": ..., ...}
        -> {"previous": ..., "revision": ..., "applied": [...]}

Any command may carry `database` ({host, port, dbname, secret_arn, sslmode, ssl_root_cert})
to override the function's environment. A failure raises a `dataall_migrations.errors`
class: Lambda reports its name as `errorType` and its message as `errorMessage`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from dataall_migrations.database import create_engine, locate
from dataall_migrations.errors import MigrationError
from dataall_migrations.protocol import command, timeouts
from dataall_migrations.runner import Migrations

logger = Logger()


@cache
def _secrets() -> Any:
    return boto3.client("secretsmanager")


def run(event: Mapping[str, Any], context: Any, secrets: Any) -> dict[str, Any]:
    name, target = command(event)
    limits = timeouts(event, context)
    location = locate(event.get("database"), secrets)
    logger.append_keys(command=name, database=location.describe())
    engine = create_engine(location, limits)
    try:
        migrations = Migrations(engine)
        if name == "status":
            return migrations.status(limits)
        if name == "upgrade":
            return migrations.upgrade(limits)
        return migrations.downgrade(target, limits)
    finally:
        engine.dispose()


@logger.inject_lambda_context(log_event=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = run(event, context, _secrets())
    except MigrationError as error:
        logger.error("migration command failed", extra={"error": type(error).__name__, "reason": str(error)})
        raise
    logger.info("migration command done", extra={"result": result, "seconds": round(time.monotonic() - started, 3)})
    return result
