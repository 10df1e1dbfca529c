"""boto3 clients for the installer Lambdas: created once per cold start.

CloudFormation's throttling is retried only briefly inside a Lambda (a Lambda that sleeps
is billed for it); past that, the step raises Throttled and the state machine retries it
with a longer back-off, in Wait time that costs nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="dataall-installer")
_BRIEF = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="dataall-installer")
#: Services whose throttling the state machine handles (see `lambdas.core.errors.Throttled`).
BRIEF_RETRIES = frozenset({"cloudformation"})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_BRIEF if service in BRIEF_RETRIES else _CONFIG)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)
