"""boto3 clients of the sandbox's own endpoint, for providers that act like AWS's handlers.

CloudFormation's resource handlers create what they create by calling the service's
public API. Emulated types whose service moto has (RDS clusters, Cognito user pools,
secrets, alarms, bucket and queue policies ...) do the same against the sandbox endpoint,
so every other API sees the resource, and a service's own validation errors come back
as AWS words them.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class Databases:
    """Where the sandbox's database clusters really live.

    An Aurora cluster in AWS is reached at its endpoint; in the sandbox a cluster is an
    embedded SQLite file under `root` by default, or the PostgreSQL server of `url`. The
    cluster's master secret says which, in AWS's documented secret format (`engine`,
    `host`, `port`, `dbname`, `username`, `password`), so the code that reads it works
    the same in both.
    """

    root: Path
    url: str | None = None

    def forget_all(self) -> None:
        """Remove every embedded database: a reset account has no clusters, and a cluster made
        again under the same name starts empty. The PostgreSQL of `url` is the operator's own
        server, never dropped."""
        if not self.url:
            shutil.rmtree(self.root, ignore_errors=True)

    def drop(self, cluster_id: str) -> None:
        """A deleted cluster's embedded database goes with it (its final snapshot, if any, is
        RDS's record); a cluster made again under the same name starts empty, as in AWS."""
        if not self.url:
            (self.root / f"{cluster_id}.sqlite3").unlink(missing_ok=True)

    def secret_for(self, cluster_id: str, username: str, password: str) -> dict[str, Any]:
        if not self.url:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / f"{cluster_id}.sqlite3"
            return {"engine": "sqlite", "dbname": str(path), "username": username, "password": password}
        parsed = urllib.parse.urlsplit(self.url)
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


class ServiceClients:
    """One cached client per (service, region), all pointed at the sandbox."""

    def __init__(self, endpoint: str, databases: Databases | None = None) -> None:
        self.databases = databases or Databases(root=Path(tempfile.gettempdir()) / "dataall-sandbox-databases")
        self._endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - not a secret: the sandbox accepts any
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint,
                    config=Config(
                        retries={"max_attempts": 1},
                        s3={"addressing_style": "path"},
                    ),
                )
                self._clients[(service, region)] = client
            return client
