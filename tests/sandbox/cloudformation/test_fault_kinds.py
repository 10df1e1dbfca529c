"""Each CloudFormation fault kind does what its name says on every kind of change: a stack's
create, an update that modifies a resource, one that only adds resources, one that only removes.

What each imitates: a resource failing on create (ROLLBACK_COMPLETE) and on update
(UPDATE_ROLLBACK_COMPLETE), a rollback that fails (UPDATE_ROLLBACK_FAILED, ended by
ContinueUpdateRollback), an operation that never ends (cancelled by DeleteStack or
CancelUpdateStack), and `Throttling: Rate exceeded`
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html and
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html).
The `crash` kind is the Lambda runtime's (tests/sandbox/test_fault_matrix.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle

STACK = "dataall-test-kinds"
INJECTED = "(injected by the sandbox)"
BASE: dict[str, Any] = {
    "Setting": {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": "/kinds/setting", "Type": "String", "Value": "one"},
    },
    "Queue": {"Type": "AWS::SQS::Queue"},
}


def modified() -> str:
    resources = json.loads(json.dumps(BASE))
    resources["Setting"]["Properties"]["Value"] = "two"
    return body(resources)


def added() -> str:
    return body({**BASE, "Added": {"Type": "AWS::SNS::Topic", "DependsOn": "Setting"}})


def removed() -> str:
    return body({"Setting": BASE["Setting"]})


#: change -> the template it deploys (None: the stack's create)
CHANGES: dict[str, Callable[[], str] | None] = {
    "create": None,
    "update-modifies": modified,
    "update-only-adds": added,
    "update-only-removes": removed,
}


def _change(cfn: Any, change: str) -> None:
    template = CHANGES[change]
    if template is None:
        cfn.create_stack(StackName=STACK, TemplateBody=body(BASE))
    else:
        cfn.update_stack(StackName=STACK, TemplateBody=template())


def _arm(cfn: Any, sandbox: Any, kind: str, change: str) -> None:
    if change != "create":
        cfn.create_stack(StackName=STACK, TemplateBody=body(BASE))
        assert settle(cfn, STACK)["StackStatus"] == "CREATE_COMPLETE"
    sandbox.faults.add(f"kinds:{kind}@1")


def _fired(sandbox: Any) -> int:
    return sum(fault.fired for fault in sandbox.faults.list())


def _injected_reasons(cfn: Any) -> list[str]:
    return [str(reason) for _, status, reason in events(cfn, STACK) if reason and INJECTED in str(reason)]


def _setting(clients: Clients) -> str:
    return str(clients("ssm").get_parameter(Name="/kinds/setting")["Parameter"]["Value"])


def _resources(cfn: Any) -> set[str]:
    summaries = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {summary["LogicalResourceId"] for summary in summaries}


@pytest.mark.parametrize("change", list(CHANGES))
def test_create_fault_fails_a_stack_create_only(cfn: Any, sandbox: Any, change: str) -> None:
    """`create`: a resource of the stack fails on the stack's create, which rolls back
    (ROLLBACK_COMPLETE); an update is not a create, and leaves the fault armed."""
    _arm(cfn, sandbox, "create", change)

    _change(cfn, change)

    described = settle(cfn, STACK)
    if change == "create":
        assert described["StackStatus"] == "ROLLBACK_COMPLETE"
        assert [reason for reason in _injected_reasons(cfn) if "Fault 'create' armed" in reason]
        assert _fired(sandbox) == 1
    else:
        assert described["StackStatus"] == "UPDATE_COMPLETE"
        assert _injected_reasons(cfn) == []
        assert _fired(sandbox) == 0


@pytest.mark.parametrize("change", list(CHANGES))
def test_update_fault_fails_every_kind_of_update_and_rolls_it_back(
    cfn: Any, clients: Clients, sandbox: Any, change: str
) -> None:
    """`update`: the update fails on a resource, and is rolled back (UPDATE_ROLLBACK_COMPLETE) to
    the stack as it was; the failure names the `update` fault, whatever the update changes."""
    _arm(cfn, sandbox, "update", change)

    _change(cfn, change)

    described = settle(cfn, STACK)
    if change == "create":
        assert described["StackStatus"] == "CREATE_COMPLETE"
        assert _fired(sandbox) == 0
        return
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = _injected_reasons(cfn)
    assert reasons and all("Fault 'update' armed" in reason for reason in reasons), reasons
    assert _setting(clients) == "one"
    assert _resources(cfn) == {"Setting", "Queue"}
    assert clients("sns").list_topics()["Topics"] == []


@pytest.mark.parametrize("change", list(CHANGES))
def test_rollback_fault_fails_the_rollback_of_every_kind_of_update(
    cfn: Any, clients: Clients, sandbox: Any, change: str
) -> None:
    """`rollback`: the update fails and so does its rollback (UPDATE_ROLLBACK_FAILED);
    ContinueUpdateRollback then finishes it (UPDATE_ROLLBACK_COMPLETE), the stack as it was."""
    _arm(cfn, sandbox, "rollback", change)

    _change(cfn, change)

    described = settle(cfn, STACK)
    if change == "create":
        assert described["StackStatus"] == "CREATE_COMPLETE"
        assert _fired(sandbox) == 0
        return
    assert described["StackStatus"] == "UPDATE_ROLLBACK_FAILED", described.get("StackStatusReason")
    reasons = [*_injected_reasons(cfn), str(described.get("StackStatusReason"))]
    assert any("Fault 'rollback' armed" in reason for reason in reasons), reasons
    assert not any("Fault 'create' armed" in reason or "Fault 'update' armed" in reason for reason in reasons)
    cfn.continue_update_rollback(StackName=STACK)
    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert _setting(clients) == "one"
    assert _resources(cfn) == {"Setting", "Queue"}


@pytest.mark.parametrize("change", list(CHANGES))
def test_timeout_fault_keeps_every_kind_of_change_in_progress_until_cancelled(
    cfn: Any, clients: Clients, sandbox: Any, change: str
) -> None:
    """`timeout`: the operation never ends by itself; DeleteStack cancels a create,
    CancelUpdateStack rolls an update back."""
    _arm(cfn, sandbox, "timeout", change)

    _change(cfn, change)

    time.sleep(0.5)
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert _fired(sandbox) == 1
    if change == "create":
        assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
        cfn.delete_stack(StackName=STACK)
        assert (
            settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
        )  # by id: a deleted stack's name is free
        return
    status = stack["StackStatus"]
    assert status == "UPDATE_IN_PROGRESS"
    cfn.cancel_update_stack(StackName=STACK)
    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert _setting(clients) == "one"
    assert _resources(cfn) == {"Setting", "Queue"}


@pytest.mark.parametrize("change", list(CHANGES))
def test_throttle_fault_refuses_the_call_of_every_kind_of_change_then_lets_it_through(
    cfn: Any, sandbox: Any, change: str
) -> None:
    """`throttle`: the call about the stack answers `Throttling: Rate exceeded` (changing
    nothing), `count` times; the call made again goes through."""
    _arm(cfn, sandbox, "throttle", change)
    once = boto3.client(
        "cloudformation",
        endpoint_url=sandbox.endpoint,
        region_name=sandbox.region,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(retries={"total_max_attempts": 1}),  # botocore would retry Throttling
    )

    with pytest.raises(ClientError) as raised:
        _change(once, change)
    assert raised.value.response["Error"]["Code"] == "Throttling"
    assert [s["StackStatus"] for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == STACK] == (
        [] if change == "create" else ["CREATE_COMPLETE"]
    )

    _change(once, change)
    assert settle(cfn, STACK)["StackStatus"] == ("CREATE_COMPLETE" if change == "create" else "UPDATE_COMPLETE")
