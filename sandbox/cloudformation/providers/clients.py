"""boto3 clients of the sandbox's own endpoint, for providers that act like AWS's handlers.

CloudFormation's resource handlers create what they create by calling the service's
public API. Emulated types whose service moto has (RDS clusters, Cognito user pools,
secrets, alarms, bucket and queue policies ...) do the same against the sandbox endpoint,
so every other API sees the resource, and a service's own validation errors come back
as AWS words them.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from sandbox.databases import Databases


class ServiceClients:
    """One cached client per (service, region), all pointed at the sandbox."""

    def __init__(self, endpoint: str, databases: Databases | None = None) -> None:
        self.databases = databases or Databases(
            root=Path(tempfile.gettempdir()) / "dataall-sandbox-databases", mode="sqlite"
        )
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
