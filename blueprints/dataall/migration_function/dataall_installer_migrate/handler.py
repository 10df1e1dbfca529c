"""The migration function of a data.all release: one command per invocation.

    {"command": "status"}
        -> {"revision": <database's revision or null>, "head": <release's head>,
            "known": <the release knows the database's revision>,
            "pending_permissions": <rows data.all's permissions step would add, at head; else null>}
    {"command": "upgrade", "lock_timeout_ms": 5000, "statement_timeout_ms": 300000}
        -> {"previous": ..., "revision": ..., "applied": [...], "permissions": {<table>: rows added}}
    {"command": "downgrade", "revision": <revision, or null for base>, "lock_timeout_ms": ..., ...}
        -> {"previous": ..., "revision": ..., "applied": [...]}

The same protocol as the project's own migration function, so the installer's `migrate` step
(`lambdas/migration/step.py`) drives either. The database is the one data.all's settings name
for `envname` (the function's environment, as data.all's trigger functions have it).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dataall_installer_migrate.errors import BadRequest, MigrationError
from dataall_installer_migrate.runner import (
    DATAALL_VERSIONS,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    Chain,
    Timeouts,
    load_dataall,
    prepare,
)

LOG = logging.getLogger("dataall_installer_migrate")
LOG.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
COMMANDS = ("status", "upgrade", "downgrade")
LOCK_TIMEOUT_RANGE = (100, 600_000)
STATEMENT_TIMEOUT_RANGE = (1_000, 900_000)
#: Kept back from the function's own timeout to roll back and answer.
SAFETY_MARGIN_S = 15


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


def run(
    event: Mapping[str, Any], context: Any, version_locations: Sequence[Path] = (DATAALL_VERSIONS,)
) -> dict[str, Any]:
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
    if event.get("database"):
        raise BadRequest("data.all's migration function reads the database from data.all's settings, not the event")
    limits = timeouts(event, context)
    prepare()
    load_dataall()
    envname = os.environ.get("envname", "local")  # noqa: SIM112 - data.all's own variable
    chain = Chain(envname, version_locations)
    if name == "status":
        return chain.status(limits)
    if name == "upgrade":
        return chain.upgrade(limits)
    return chain.downgrade(target, limits)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = run(event, context)
    except MigrationError as error:
        LOG.error(
            json.dumps({"message": "migration command failed", "error": type(error).__name__, "reason": str(error)})
        )
        raise
    LOG.info(
        json.dumps(
            {"message": "migration command done", "result": result, "seconds": round(time.monotonic() - started, 3)}
        )
    )
    return result
