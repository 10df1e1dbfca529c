"""boto3 clients for the installer Lambdas: created once per cold start, standard retries."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="dataall-installer")


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)
