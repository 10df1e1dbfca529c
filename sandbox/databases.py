"""Where the sandbox's database clusters really live.

An Aurora PostgreSQL cluster in AWS is a PostgreSQL server reached at the cluster's endpoint
(`<cluster>.cluster-<id>.<region>.rds.amazonaws.com:5432`) with the master user and password the
cluster was created with, holding the database `DatabaseName` names ("Creating an Amazon Aurora
DB cluster", Aurora user guide). The sandbox keeps the clusters' data in one of three places:

- **server** (the default when PostgreSQL's server binaries are installed): one real PostgreSQL
  server the sandbox starts when the first PostgreSQL cluster is created. Each cluster's master
  user is a role with the cluster's password, `LOGIN CREATEDB CREATEROLE` like Aurora's master
  user (who is not a superuser either: "Master user account privileges", Aurora user guide), and
  owns the database the cluster names. Code reaches it at the cluster's endpoint, as in AWS: the
  sandbox's network sends every libpq connection there (`client_environment`: libpq's
  `PGHOSTADDR` skips the name lookup, `PGPORT` serves a URL without a port, as data.all's is),
  and the master secret RDS manages gets the address too (`secret_for`), for drivers that are
  not libpq.
- **url**: the operator's own PostgreSQL (`--database-url`), never dropped.
- **sqlite**: an embedded SQLite file per cluster, when no PostgreSQL is installed; only code
  that reads the secret's `engine` can use it (the project's own migration function).

A deleted cluster's database goes with it (a final snapshot is RDS's record, not a copy); a
cluster made again under the same name starts empty, as in AWS.
"""

from __future__ import annotations

import logging
import shutil
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sandbox.postgres import PostgresMissing, PostgresServer, find_binaries, quote_identifier, quote_literal

LOG = logging.getLogger("dataall_installer.sandbox.databases")

Mode = Literal["server", "url", "sqlite"]
#: RDS engines whose clusters are PostgreSQL ("Supported DB engines", RDS API reference).
POSTGRES_ENGINES = frozenset({"aurora-postgresql", "postgres"})
#: What Aurora's master user may do (it is not a superuser).
MASTER_PRIVILEGES = "LOGIN CREATEDB CREATEROLE"


class DatabaseError(RuntimeError):
    """The sandbox could not make what a cluster needs in its database server."""


@dataclass(frozen=True)
class ClusterDatabase:
    """A cluster's master user and database in the server."""

    username: str
    database: str


def default_mode(url: str | None) -> Mode:
    if url:
        return "url"
    try:
        find_binaries()
    except PostgresMissing:
        return "sqlite"
    return "server"


class Databases:
    """The sandbox's database clusters' data (see the module's docstring for the three modes)."""

    def __init__(self, root: Path, url: str | None = None, mode: Mode | None = None) -> None:
        self.root = root
        self.url = url
        self.mode: Mode = mode or default_mode(url)
        if self.mode == "url" and not url:
            raise ValueError("the database mode 'url' needs a PostgreSQL URL")
        self._server: PostgresServer | None = None
        self._clusters: dict[str, ClusterDatabase] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ the server
    @property
    def server(self) -> PostgresServer | None:
        """The sandbox's PostgreSQL server, once a cluster has started it."""
        return self._server

    def _running_server(self) -> PostgresServer:
        with self._lock:
            if self._server is None:
                # its own temporary folder, not under the sandbox's (which only this user may
                # enter: under root the server runs as another user)
                server = PostgresServer()
                server.start()
                LOG.info("PostgreSQL for the sandbox's clusters on 127.0.0.1:%s", server.port)
                self._server = server
            return self._server

    def client_environment(self) -> dict[str, str]:
        """What the sandbox's network puts in a function's environment: every libpq connection
        goes to the server (nothing while no cluster has started it)."""
        server = self._server
        if server is None or not server.running:
            return {}
        return {"PGHOSTADDR": "127.0.0.1", "PGPORT": str(server.port)}

    # ------------------------------------------------------------------ clusters
    def provision(self, cluster_id: str, engine: str, database: str | None, username: str, password: str) -> None:
        """A created (or modified) cluster's master user with its password, and its database."""
        if self.mode != "server" or engine.lower() not in POSTGRES_ENGINES:
            return
        if not username or not password:
            raise DatabaseError(f"the cluster {cluster_id} has no master username or password")
        database = database or "postgres"
        server = self._running_server()
        with self._lock:
            connection = server.admin()
            try:
                exists = connection.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=username)
                verb = "ALTER" if exists else "CREATE"
                connection.run(
                    f"{verb} ROLE {quote_identifier(username)} {MASTER_PRIVILEGES} PASSWORD {quote_literal(password)}"
                )
                if database != "postgres" and not connection.run(
                    "SELECT 1 FROM pg_database WHERE datname = :name", name=database
                ):
                    connection.run(f"CREATE DATABASE {quote_identifier(database)} OWNER {quote_identifier(username)}")
            finally:
                connection.close()
            self._clusters[cluster_id] = ClusterDatabase(username, database)

    def secret_for(self, cluster_id: str, username: str, password: str) -> dict[str, Any]:
        """Where a cluster's master secret says its database is, in AWS's secret format."""
        if self.mode == "sqlite":
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / f"{cluster_id}.sqlite3"
            return {"engine": "sqlite", "dbname": str(path), "username": username, "password": password}
        if self.mode == "server":
            server = self._running_server()
            known = self._clusters.get(cluster_id)
            return {
                "engine": "postgres",
                "host": "127.0.0.1",
                "port": server.port,
                "dbname": known.database if known else "postgres",
                "username": username,
                "password": password,
                "sslmode": "disable",
            }
        parsed = urllib.parse.urlsplit(self.url or "")
        if parsed.scheme not in ("postgresql", "postgres", "postgresql+pg8000"):
            raise ValueError(f"--database-url {self.url!r}: expected postgresql://user:password@host:port/db")
        return {
            "engine": "postgres",
            "host": parsed.hostname or "127.0.0.1",
            "port": parsed.port or 5432,
            "dbname": parsed.path.lstrip("/") or "postgres",
            "username": urllib.parse.unquote(parsed.username or username),
            "password": urllib.parse.unquote(parsed.password or password),
            "sslmode": "disable",
        }

    def database_of(self, cluster_id: str) -> ClusterDatabase | None:
        return self._clusters.get(cluster_id)

    def drop(self, cluster_id: str) -> None:
        """A deleted cluster's database goes with it; a cluster made again under the same name
        starts empty, as in AWS. The server's own `postgres` database stays."""
        if self.mode == "sqlite":
            (self.root / f"{cluster_id}.sqlite3").unlink(missing_ok=True)
            return
        if self.mode != "server":
            return
        with self._lock:
            known = self._clusters.pop(cluster_id, None)
            if known is None or self._server is None:
                return
            shared = {c.database for c in self._clusters.values()}
            if known.database == "postgres" or known.database in shared:
                return
            connection = self._server.admin()
            try:
                connection.run(f"DROP DATABASE IF EXISTS {quote_identifier(known.database)} WITH (FORCE)")
            finally:
                connection.close()

    def forget_all(self) -> None:
        """Remove every cluster's data: a reset account has no clusters. The PostgreSQL of `url`
        is the operator's own server, never dropped."""
        if self.mode == "sqlite":
            shutil.rmtree(self.root, ignore_errors=True)
        elif self.mode == "server":
            for cluster_id in list(self._clusters):
                self.drop(cluster_id)

    def close(self) -> None:
        """Stop the server with its files (the sandbox's end)."""
        with self._lock:
            server, self._server = self._server, None
            self._clusters.clear()
        if server is not None:
            server.stop()
