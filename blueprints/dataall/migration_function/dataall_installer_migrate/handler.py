"""The migration function of a data.all release: one command per invocation.

    {"command": "status"}
        -> {"revision": <database's revision or null>, "head": <release's head>,
            "known": <the release knows the database's revision>,
            "pending_permissions": <rows data.all's permissions step would add, at head; else null>}
    {"command": "upgrade", "lock_timeout_ms": 5000, "statement_timeout_ms": 300000}
        -> {"previous": ..., "revision": ..., "applied": [...], "permissions": {<table>: rows added}}
    {"command": "downgrade", "revision": <revision, or null for base>, "lock_timeout_ms": ..., ...}
        -> {"previous": ..., "revision": ..., "applied": [...]}

The installer's migration protocol, checked by its code and failing with its errors
(`dataall_migrations.protocol` and `.errors`, shipped in this package), so the installer's
`migrate` step (`lambdas/migration/step.py`) drives it as it drives any migration function. The database is the
one data.all's settings name for `envname` (the function's environment, as data.all's trigger
functions have it).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dataall_migrations.errors import BadRequest, MigrationError
from dataall_migrations.protocol import command, timeouts

from dataall_installer_migrate.runner import DATAALL_VERSIONS, Chain, load_dataall, prepare

LOG = logging.getLogger("dataall_installer_migrate")
LOG.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


def run(
    event: Mapping[str, Any], context: Any, version_locations: Sequence[Path] = (DATAALL_VERSIONS,)
) -> dict[str, Any]:
    name, target = command(event)
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
