"""What the benchmarks (`bench/`) rely on in the sandbox's CloudFormation."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import body, settle, settle_change_set

TOPIC = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}
TOUCH = {"Type": "AWS::CloudFormation::WaitConditionHandle"}


def test_the_service_counts_every_call_by_action_refused_or_not(cfn: Any, sandbox: Any) -> None:
    before = sandbox.cloudformation.calls.snapshot()

    cfn.create_change_set(
        StackName="app", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body({"Topic": TOPIC})
    )
    cfn.describe_stacks(StackName="app")
    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName="missing")

    assert sandbox.cloudformation.calls.since(before) == {"CreateChangeSet": 1, "DescribeStacks": 2}


def test_an_added_wait_condition_handle_is_a_change(cfn: Any) -> None:
    """The build's touch hook adds a WaitConditionHandle so that exactly one stage changes."""
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC}))
    settle(cfn, "app")

    cfn.create_change_set(StackName="app", ChangeSetName="touch", TemplateBody=body({"Topic": TOPIC, "Touch": TOUCH}))
    touched = settle_change_set(cfn, "app", "touch")

    assert touched["Status"] == "CREATE_COMPLETE"
    assert [(c["ResourceChange"]["LogicalResourceId"], c["ResourceChange"]["Action"]) for c in touched["Changes"]] == [
        ("Touch", "Add")
    ]
