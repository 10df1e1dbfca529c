"""boto3 clients for the installer Lambdas: created once per cold start.

CloudFormation's throttling is retried only briefly inside a Lambda (a Lambda that sleeps
is billed for it); past that, the step raises Throttled and the state machine retries it
with a longer back-off, in Wait time that costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="dataall-installer")
_BRIEF = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="dataall-installer")
#: Services whose throttling the state machine handles (see `lambdas.core.errors.Throttled`).
BRIEF_RETRIES = frozenset({"cloudformation"})


@cache
def client(service: str, region: str | None = None) -> Any:
    """A client of the function's own region, or of `region` (a stage that lives in another)."""
    return boto3.client(service, region_name=region, config=_BRIEF if service in BRIEF_RETRIES else _CONFIG)


def own_identity(context: Any) -> tuple[str, str, str]:
    """(partition, region, account) of the running function: from its ARN (the invocation's context), else
    (a call outside Lambda) STS's caller identity and `AWS_REGION`; `AWS_REGION` wins when set."""
    parts = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    if len(parts) > 4 and parts[4]:
        partition, region, account = parts[1], parts[3], parts[4]
    else:
        identity = client("sts").get_caller_identity()
        partition, account, region = str(identity["Arn"]).split(":")[1], str(identity["Account"]), ""
    return partition, os.environ.get("AWS_REGION") or region, account


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


#: What the domain rooms catch: an AWS error answer, and a call that got no answer in time.
#: They import these names from here, so this room alone depends on boto3 and botocore.
__all__ = [
    "ClientError",
    "ConnectionError",
    "ReadTimeoutError",
    "client",
    "configured_client",
    "found",
    "own_identity",
    "table",
]

T = TypeVar("T")


def found(call: Callable[[], T], missing: tuple[str, ...]) -> tuple[T | None, str]:
    """`call()`'s answer, or None and the error code when AWS answers one of `missing` (the thing asked for is
    not there); any other error is raised."""
    try:
        return call(), ""
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code not in missing:
            raise
        return None, code


def configured_client(service: str, *, read_timeout: int | None = None, max_attempts: int | None = None) -> Any:
    """A client with its own timeouts and retries (not cached: its caller keeps it)."""
    retries: dict[str, Any] = (
        {"total_max_attempts": max_attempts} if max_attempts is not None else {"mode": "standard", "max_attempts": 8}
    )
    options: dict[str, Any] = {"retries": retries, "user_agent_extra": "dataall-installer"}
    if read_timeout is not None:
        options.update(read_timeout=read_timeout, connect_timeout=10)
    return boto3.client(service, config=Config(**options))
