"""Nested stacks (`AWS::CloudFormation::Stack`), each behaviour pinned to AWS's documentation:
"AWS::CloudFormation::Stack" (CloudFormation Template Reference) and "Embed stacks within other
stacks using nested stacks" (CloudFormation User Guide), with small templates whose nested
template is published to one of the sandbox's buckets, as `cdk deploy` publishes CDK's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.sandbox.cloudformation.conftest import Clients, events, settle

PARENT = "parent"
BUCKET = "cdk-hnb659fds-assets-000000000000-us-east-1"
NESTED_ID = "Child"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def child_template(value: str = "one", *, broken: bool = False, output: str = "Out") -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Setting": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": {"Fn::Join": ["-", [{"Ref": "Prefix"}, value]]}},
        }
    }
    if broken:
        resources["Broken"] = {"Type": "AWS::Sandbox::Nothing", "DependsOn": "Setting"}
    return {
        "Parameters": {"Prefix": {"Type": "String"}},
        "Resources": resources,
        "Outputs": {output: {"Value": {"Fn::GetAtt": ["Setting", "Value"]}}},
    }


@pytest.fixture
def publish(clients: Clients) -> Any:
    s3 = clients("s3")
    s3.create_bucket(Bucket=BUCKET)

    def put(key: str, template: dict[str, Any]) -> str:
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(template).encode())
        return key

    return put


def cdk_url(key: str) -> dict[str, Any]:
    """The form CDK writes: `https://s3.<region>.<URLSuffix>/<bucket>/<key>`, joined."""
    return {"Fn::Join": ["", ["https://s3.us-east-1.", {"Ref": "AWS::URLSuffix"}, f"/{BUCKET}/{key}"]]}


def parent_template(url: Any, prefix: str = "p", **properties: Any) -> str:
    return json.dumps(
        {
            "Resources": {
                NESTED_ID: {
                    "Type": "AWS::CloudFormation::Stack",
                    "Properties": {"TemplateURL": url, "Parameters": {"Prefix": prefix}, **properties},
                },
                "Reader": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {"Type": "String", "Value": {"Fn::GetAtt": [NESTED_ID, "Outputs.Out"]}},
                },
            },
            "Outputs": {
                "ChildId": {"Value": {"Ref": NESTED_ID}},
                "Read": {"Value": {"Fn::GetAtt": ["Reader", "Value"]}},
            },
        }
    )


def nested_stacks(cfn: Any) -> list[dict[str, Any]]:
    return [stack for stack in cfn.describe_stacks()["Stacks"] if stack.get("ParentId")]


def child_of(cfn: Any, parent: str = PARENT) -> dict[str, Any]:
    physical = cfn.describe_stack_resource(StackName=parent, LogicalResourceId=NESTED_ID)["StackResourceDetail"]
    described: dict[str, Any] = cfn.describe_stacks(StackName=physical["PhysicalResourceId"])["Stacks"][0]
    return described


def create(cfn: Any, template: str, name: str = PARENT, **arguments: Any) -> dict[str, Any]:
    cfn.create_stack(StackName=name, TemplateBody=template, Capabilities=CAPABILITIES, **arguments)
    return settle(cfn, name)


def test_a_nested_stack_is_a_stack_of_its_own_named_after_its_parent(cfn: Any, publish: Any) -> None:
    """AWS::CloudFormation::Stack: `Ref` returns the nested stack's id; the User Guide: a nested
    stack is named `<parent>-<LogicalId>-<random>`, and DescribeStacks shows its ParentId and
    RootId (for the first level, the root stack is also the parent)."""
    key = publish("child.json", child_template())

    parent = create(cfn, parent_template(cdk_url(key)))

    assert parent["StackStatus"] == "CREATE_COMPLETE"
    child = child_of(cfn)
    assert re.fullmatch(rf"{PARENT}-{NESTED_ID}-[A-Z0-9]{{12}}", child["StackName"])
    assert child["StackStatus"] == "CREATE_COMPLETE"
    assert child["ParentId"] == parent["StackId"]
    assert child["RootId"] == parent["StackId"]
    assert "ParentId" not in parent
    assert {o["OutputKey"]: o["OutputValue"] for o in parent["Outputs"]}["ChildId"] == child["StackId"]
    assert [stack["StackId"] for stack in nested_stacks(cfn)] == [child["StackId"]]


def test_get_att_outputs_reads_the_nested_stacks_output(cfn: Any, clients: Clients, publish: Any) -> None:
    """AWS::CloudFormation::Stack: `Fn::GetAtt Nested.Outputs.NestedStackOutputName` returns
    the output value; the nested stack takes the `Parameters` the parent passes."""
    key = publish("child.json", child_template("one"))

    parent = create(cfn, parent_template(cdk_url(key), prefix="given"))

    assert {o["OutputKey"]: o["OutputValue"] for o in parent["Outputs"]}["Read"] == "given-one"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in child_of(cfn)["Parameters"]} == {"Prefix": "given"}


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"https://s3.us-east-1.amazonaws.com/{BUCKET}/child.json", id="path-style"),
        pytest.param(f"https://{BUCKET}.s3.us-east-1.amazonaws.com/child.json", id="virtual-hosted"),
        pytest.param(f"https://{BUCKET}.s3.amazonaws.com/child.json", id="virtual-hosted-global"),
        pytest.param(cdk_url("child.json"), id="cdk-join"),
    ],
)
def test_the_template_url_may_take_each_form_of_an_s3_url(cfn: Any, publish: Any, url: Any) -> None:
    """AWS::CloudFormation::Stack: `TemplateURL` is the URL of a template in an S3 bucket."""
    publish("child.json", child_template())

    assert create(cfn, parent_template(url))["StackStatus"] == "CREATE_COMPLETE"


def test_tags_notifications_timeout_and_capabilities_pass_to_the_nested_stack(
    cfn: Any, clients: Clients, publish: Any
) -> None:
    """AWS::CloudFormation::Stack: `Tags`, `NotificationARNs` and `TimeoutInMinutes` are the
    nested stack's; the User Guide: stack-level tags of the parent propagate to nested stacks."""
    topic = clients("sns").create_topic(Name="events")["TopicArn"]
    key = publish("child.json", child_template())
    template = parent_template(
        cdk_url(key),
        Tags=[{"Key": "Application", "Value": "dataall-dev"}],
        NotificationARNs=[topic],
        TimeoutInMinutes=5,
    )

    create(cfn, template, Tags=[{"Key": "Owner", "Value": "ops"}])

    child = child_of(cfn)
    assert {t["Key"]: t["Value"] for t in child["Tags"]} == {"Owner": "ops", "Application": "dataall-dev"}
    assert child["NotificationARNs"] == [topic]
    assert child["TimeoutInMinutes"] == 5
    assert child["Capabilities"] == CAPABILITIES


def test_a_failure_inside_the_nested_stack_fails_the_parent_and_its_rollback_deletes_it(
    cfn: Any, clients: Clients, publish: Any
) -> None:
    """User Guide: a nested stack's failure fails its resource in the parent, with the nested
    stack's reason ("Embedded stack … was not successfully created: …"), and the parent's
    rollback rolls the nested stack back (deletes it)."""
    key = publish("child.json", child_template(broken=True))

    parent = create(cfn, parent_template(cdk_url(key)))

    assert parent["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [reason for logical_id, status, reason in events(cfn, PARENT) if status == "CREATE_FAILED"]
    assert len(failed) == 1
    assert re.fullmatch(
        r"Embedded stack arn:aws:cloudformation:us-east-1:\d+:stack/parent-Child-\w+/[-\w]+ was not "
        r"successfully created: The following resource\(s\) failed to create: \[Broken\]\.",
        str(failed[0]),
    )
    child = [s for s in cfn.list_stacks()["StackSummaries"] if s.get("ParentId") == parent["StackId"]]
    assert [summary["StackStatus"] for summary in child] == ["DELETE_COMPLETE"]
    assert clients("ssm").describe_parameters()["Parameters"] == []


def test_a_parent_created_without_rollback_keeps_its_failed_nested_stack(cfn: Any, publish: Any) -> None:
    """CreateStack's DisableRollback holds for the nested stacks too: the failed nested stack stays
    CREATE_FAILED with what it created, for a person to look at."""
    key = publish("child.json", child_template(broken=True))

    parent = create(cfn, parent_template(cdk_url(key)), DisableRollback=True)

    assert parent["StackStatus"] == "CREATE_FAILED"
    child = child_of(cfn)
    assert child["StackStatus"] == "CREATE_FAILED"
    assert child["DisableRollback"] is True
    resources = cfn.describe_stack_resources(StackName=child["StackId"])["StackResources"]
    assert {r["LogicalResourceId"]: r["ResourceStatus"] for r in resources}["Setting"] == "CREATE_COMPLETE"


def test_the_nested_stack_is_updated_only_when_its_template_or_parameters_change(
    cfn: Any, clients: Clients, publish: Any
) -> None:
    """User Guide: updating the parent initiates an update of its nested stacks; CloudFormation
    updates the resources of modified nested stacks only."""
    first = publish("one.json", child_template("one"))
    create(cfn, parent_template(cdk_url(first)))
    child = child_of(cfn)

    # an unrelated change of the parent: the nested stack is not updated
    unrelated = json.loads(parent_template(cdk_url(first)))
    unrelated["Resources"]["Extra"] = {"Type": "AWS::SQS::Queue"}
    cfn.update_stack(StackName=PARENT, TemplateBody=json.dumps(unrelated), Capabilities=CAPABILITIES)
    assert settle(cfn, PARENT)["StackStatus"] == "UPDATE_COMPLETE"
    assert "LastUpdatedTime" not in child_of(cfn)

    second = publish("two.json", child_template("two"))
    cfn.update_stack(StackName=PARENT, TemplateBody=parent_template(cdk_url(second)), Capabilities=CAPABILITIES)
    parent = settle(cfn, PARENT)

    assert parent["StackStatus"] == "UPDATE_COMPLETE"
    updated = child_of(cfn)
    assert updated["StackId"] == child["StackId"]
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in parent["Outputs"]}["Read"] == "p-two"


def test_a_failed_nested_update_rolls_back_the_nested_stack_and_the_parent(cfn: Any, publish: Any) -> None:
    """User Guide: a nested stack's update failure fails the parent's update, and the parent's
    rollback rolls its nested stacks back ("rolling back the parent stack will attempt to roll
    back all the child stacks as well")."""
    first = publish("one.json", child_template("one"))
    create(cfn, parent_template(cdk_url(first)))
    broken = publish("broken.json", child_template("two", broken=True))

    cfn.update_stack(StackName=PARENT, TemplateBody=parent_template(cdk_url(broken)), Capabilities=CAPABILITIES)
    parent = settle(cfn, PARENT)

    assert parent["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [str(reason) for logical_id, status, reason in events(cfn, PARENT) if status == "UPDATE_FAILED"]
    assert len(failed) == 1
    assert "was not successfully updated" in failed[0]
    assert "[Broken]" in failed[0]
    child = child_of(cfn)
    assert child["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in child["Outputs"]} == {"Out": "p-one"}


def test_a_failure_elsewhere_in_the_parents_update_rolls_the_nested_stack_back(cfn: Any, publish: Any) -> None:
    """User Guide: the parent's rollback returns its nested stacks to their previous template
    and parameters, even those whose own update completed."""
    first = publish("one.json", child_template("one"))
    create(cfn, parent_template(cdk_url(first)))
    second = publish("two.json", child_template("two"))
    failing = json.loads(parent_template(cdk_url(second)))
    failing["Resources"]["Broken"] = {"Type": "AWS::Sandbox::Nothing", "DependsOn": NESTED_ID}

    cfn.update_stack(StackName=PARENT, TemplateBody=json.dumps(failing), Capabilities=CAPABILITIES)

    assert settle(cfn, PARENT)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in child_of(cfn)["Outputs"]} == {"Out": "p-one"}


def test_deleting_the_parent_deletes_its_nested_stacks(cfn: Any, clients: Clients, publish: Any) -> None:
    """User Guide: nested stacks are deleted with their parent (DELETE_COMPLETE, resources gone)."""
    key = publish("child.json", child_template())
    parent = create(cfn, parent_template(cdk_url(key)))
    child = child_of(cfn)

    cfn.delete_stack(StackName=PARENT)

    assert settle(cfn, parent["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert cfn.describe_stacks(StackName=child["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert nested_stacks(cfn) == []
    assert clients("ssm").describe_parameters()["Parameters"] == []


def test_a_stack_nested_two_levels_deep_names_its_root(cfn: Any, publish: Any) -> None:
    """User Guide: for a stack nested in a nested stack, ParentId is its direct parent and RootId
    the top-level stack."""
    leaf = publish("leaf.json", child_template())
    middle = {
        "Parameters": {"Prefix": {"Type": "String"}},
        "Resources": {
            NESTED_ID: {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": cdk_url(leaf), "Parameters": {"Prefix": "deep"}},
            }
        },
        "Outputs": {"Out": {"Value": {"Fn::GetAtt": [NESTED_ID, "Outputs.Out"]}}},
    }
    key = publish("middle.json", middle)

    root = create(cfn, parent_template(cdk_url(key)))

    assert root["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in root["Outputs"]}["Read"] == "deep-one"
    middle_stack = child_of(cfn)
    leaf_stack = child_of(cfn, middle_stack["StackId"])
    assert leaf_stack["ParentId"] == middle_stack["StackId"]
    assert leaf_stack["RootId"] == root["StackId"]


def test_a_template_url_the_sandbox_does_not_hold_fails_the_resource(cfn: Any, publish: Any) -> None:
    """AWS::CloudFormation::Stack: the template must be in an S3 bucket the caller can read."""
    publish("child.json", child_template())

    parent = create(cfn, parent_template(cdk_url("missing.json")))

    assert parent["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [str(reason) for _, status, reason in events(cfn, PARENT) if status == "CREATE_FAILED"]
    assert failed == ["TemplateURL must reference a valid S3 object to which you have access."]
