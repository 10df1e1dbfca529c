"""A throwaway PostgreSQL cluster for the database tier: the sandbox's server
(`sandbox.postgres`, initdb and pg_ctl in a temporary folder) with the platform's owner role
and a database per test."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pg8000.native

from sandbox.postgres import ADMIN, PostgresMissing, PostgresServer, find_binaries, free_port

__all__ = ["ADMIN", "OWNER", "PostgresCluster", "PostgresMissing", "find_binaries", "free_port", "running_cluster"]

#: The platform's database user, like Aurora's master user: not a superuser.
OWNER = "dataall_admin"


@dataclass
class PostgresCluster(PostgresServer):
    """One server; each test gets its own database on it (`create_database`)."""

    owner_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def started(self) -> None:
        self._create_owner()

    # ------------------------------------------------------------------ connections
    def connect(self, database: str = "postgres", *, admin: bool = False) -> pg8000.native.Connection:
        if admin:
            return self.connection(ADMIN, self.admin_password, database, "dataall-tests")
        return self.connection(OWNER, self.owner_password, database, "dataall-tests")

    def _create_owner(self) -> None:
        connection = self.connect(admin=True)
        try:
            connection.run(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{self.owner_password}'")
        finally:
            connection.close()

    def create_database(self, template: str | None = None) -> str:
        """A new database; with `template`, a copy of that database (PostgreSQL's file-level copy,
        which no session may be connected to meanwhile): its schemas, rows and functions."""
        name = f"dataall_{uuid.uuid4().hex[:12]}"
        copied = f" TEMPLATE {template}" if template else ""
        connection = self.connect(admin=True)
        try:
            connection.run(f"CREATE DATABASE {name}{copied} OWNER {OWNER}")
        finally:
            connection.close()
        return name

    def drop_database(self, name: str) -> None:
        connection = self.connect(admin=True)
        try:
            connection.run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            connection.close()

    def terminate(self, pid: int) -> None:
        connection = self.connect(admin=True)
        try:
            connection.run("SELECT pg_terminate_backend(:pid)", pid=pid)
        finally:
            connection.close()

    @contextlib.contextmanager
    def terminated_after(self, pid: int, seconds: float) -> Iterator[None]:
        """End session `pid` after `seconds`: code that waits on its locks forever fails the test
        instead of hanging it."""
        timer = threading.Timer(seconds, self.terminate, args=(pid,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def secret(self, database: str) -> dict[str, Any]:
        """The database's credentials in the shape of an RDS secret."""
        return {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": self.port,
            "dbname": database,
            "username": OWNER,
            "password": self.owner_password,
        }


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def wait_until(condition: Any, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
