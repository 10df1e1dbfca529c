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

from dataall_migrations.database import (
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    Timeouts,
    create_engine,
    locate,
)
from dataall_migrations.errors import BadRequest, MigrationError
from dataall_migrations.runner import Migrations

logger = Logger()

COMMANDS = ("status", "upgrade", "downgrade")
LOCK_TIMEOUT_RANGE = (100, 600_000)
STATEMENT_TIMEOUT_RANGE = (1_000, 900_000)
#: Kept back from the function's own timeout to roll back and answer.
SAFETY_MARGIN_S = 15


@cache
def _secrets() -> Any:
    return boto3.client("secretsmanager")


def _milliseconds(event: Mapping[str, Any], key: str, default: int, bounds: tuple[int, int]) -> int:
    value = event.get(key, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise BadRequest(f"{key} must be an integer from {bounds[0]} to {bounds[1]}, got {value!r}")
    return value


def timeouts(event: Mapping[str, Any], context: Any) -> Timeouts:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    deadline = None
    if callable(remaining_ms):
        deadline = time.monotonic() + max(1.0, remaining_ms() / 1000 - SAFETY_MARGIN_S)
    return Timeouts(
        lock_ms=_milliseconds(event, "lock_timeout_ms", DEFAULT_LOCK_TIMEOUT_MS, LOCK_TIMEOUT_RANGE),
        statement_ms=_milliseconds(
            event, "statement_timeout_ms", DEFAULT_STATEMENT_TIMEOUT_MS, STATEMENT_TIMEOUT_RANGE
        ),
        deadline=deadline,
    )


def run(event: Mapping[str, Any], context: Any, secrets: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise BadRequest("the event must be an object with a `command`")
    name = event.get("command")
    if name not in COMMANDS:
        raise BadRequest(f"command must be one of {list(COMMANDS)}, got {name!r}")
    if name == "downgrade" and "revision" not in event:
        # Explicit, so that a forgotten field never means "downgrade to base, drop every table".
        raise BadRequest("downgrade needs `revision`: a revision, or null for base")
    target = event.get("revision")
    if target is not None and not isinstance(target, str):
        raise BadRequest(f"revision must be a string or null, got {target!r}")
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
