"""The sandbox's CloudFormation, driven with boto3 through the sandbox endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.conftest import Clients


@pytest.fixture
def exact_creation_timeout(sandbox: Any) -> Iterator[None]:
    """Creation timeouts exactly on time (the sandbox gives a busy machine a few seconds)."""
    engine = sandbox.cloudformation.engine
    saved, engine.creation_timeout_grace = engine.creation_timeout_grace, 0.0
    yield
    engine.creation_timeout_grace = saved


@pytest.fixture
def cfn(clients: Clients) -> Any:
    return clients("cloudformation")


def body(resources: dict[str, Any], **sections: Any) -> str:
    return json.dumps({"Resources": resources, **sections})


def settle(cfn: Any, stack: str, timeout: float = 60) -> dict[str, Any]:
    """The stack once no operation is in progress (DescribeStacks polled, as a client does)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = described["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {stack} still {status} after {timeout} s")
        time.sleep(0.02)


def settle_change_set(cfn: Any, stack: str, name: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        if described["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"change set {name} still {described['Status']}")
        time.sleep(0.02)


def events(cfn: Any, stack: str) -> list[tuple[str, str, str | None]]:
    """(logical id, status, reason) of every event, oldest first."""
    found = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(found)]


def stack_statuses(cfn: Any, stack: str) -> list[str]:
    """The stack's own statuses (name or id), oldest first."""
    found = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [e["ResourceStatus"] for e in reversed(found) if e["ResourceType"] == "AWS::CloudFormation::Stack"]
