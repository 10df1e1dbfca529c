"""The metadata database, reached with the credentials of the aurora stage's secret."""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pg8000.native


class Connection(Protocol):
    def run(self, sql: str, **params: Any) -> list[list[Any]] | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    database: str
    secret_arn: str

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            host=os.environ["DB_HOST"],
            port=int(os.environ.get("DB_PORT", "5432")),
            database=os.environ["DB_NAME"],
            secret_arn=os.environ["DB_SECRET_ARN"],
        )


def credentials(secrets: Any, secret_arn: str) -> tuple[str, str]:
    """(username, password) from the cluster's master-user secret."""
    value = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
    return value["username"], value["password"]


def connect(settings: Settings, secrets: Any) -> Connection:
    user, password = credentials(secrets, settings.secret_arn)
    return pg8000.native.Connection(
        user=user,
        password=password,
        host=settings.host,
        port=settings.port,
        database=settings.database,
        ssl_context=ssl.create_default_context(),
        timeout=5,
    )


@dataclass(frozen=True)
class Health:
    status: str
    database: str
    revision: str | None
    latency_ms: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "status": self.status,
            "database": self.database,
            "revision": self.revision,
            "latencyMs": round(self.latency_ms, 1),
        }
        if self.error is not None:
            document["error"] = self.error
        return document


def check(open_connection: Callable[[], Connection], clock: Callable[[], float] = time.perf_counter) -> Health:
    """Reach the database and read its schema revision (None before the first migration)."""
    started = clock()
    try:
        connection = open_connection()
    except Exception as error:  # noqa: BLE001 - any failure to connect is "unreachable"
        return Health("degraded", "unreachable", None, (clock() - started) * 1000, type(error).__name__)
    try:
        exists = connection.run("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        rows = connection.run("SELECT version_num FROM alembic_version") if exists and exists[0][0] else []
        revision = str(rows[0][0]) if rows else None
        return Health("ok", "reachable", revision, (clock() - started) * 1000)
    except Exception as error:  # noqa: BLE001 - a failed query is reported, not raised
        return Health("degraded", "error", None, (clock() - started) * 1000, type(error).__name__)
    finally:
        connection.close()
