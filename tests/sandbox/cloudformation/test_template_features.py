"""Template features whose effect only a running stack shows: SSM parameter types, Rules,
Metadata, deletion and replacement policies, and the sandbox's reset."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle

CLUSTER = {
    "Type": "AWS::RDS::DBCluster",
    "Properties": {
        "DBClusterIdentifier": "platform",
        "Engine": "aurora-postgresql",
        "MasterUsername": "admin_user",
        "MasterUserPassword": "not-a-real-password",
    },
}


def test_ssm_parameter_types_read_parameter_store_and_describe_the_resolved_value(cfn: Any, clients: Clients) -> None:
    """AWS: AWS::SSM::Parameter::Value<String> is read at submission; DescribeStacks shows the
    parameter's name as the value and the read value as ResolvedValue."""
    clients("ssm").put_parameter(Name="/platform/queue-name", Value="work", Type="String")
    template = body(
        {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}},
        Parameters={"Name": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/platform/queue-name"}},
    )

    cfn.create_stack(StackName="app", TemplateBody=template)

    described = settle(cfn, "app")
    assert described["Parameters"] == [
        {"ParameterKey": "Name", "ParameterValue": "/platform/queue-name", "ResolvedValue": "work"}
    ]
    assert clients("sqs").get_queue_url(QueueName="work")["QueueUrl"]


def test_a_failed_rule_assertion_refuses_the_stack_with_its_description(cfn: Any) -> None:
    template = body(
        {"Queue": {"Type": "AWS::SQS::Queue"}},
        Parameters={"Env": {"Type": "String"}, "Size": {"Type": "String", "Default": "small"}},
        Rules={
            "ProdIsBig": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Assertions": [
                    {"Assert": {"Fn::Equals": [{"Ref": "Size"}, "big"]}, "AssertDescription": "prod must be big"}
                ],
            }
        },
    )

    with pytest.raises(ClientError, match="prod must be big"):
        cfn.create_stack(
            StackName="app", TemplateBody=template, Parameters=[{"ParameterKey": "Env", "ParameterValue": "prod"}]
        )
    cfn.create_stack(
        StackName="app", TemplateBody=template, Parameters=[{"ParameterKey": "Env", "ParameterValue": "dev"}]
    )


def test_describe_stack_resources_shows_metadata_and_finds_the_stack_by_physical_id(cfn: Any) -> None:
    cfn.create_stack(
        StackName="app",
        TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": "app/Queue/Resource"}}}),
    )
    settle(cfn, "app")

    detail = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Queue")["StackResourceDetail"]
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=detail["PhysicalResourceId"])["StackResources"]

    assert detail["Metadata"] == '{"aws:cdk:path": "app/Queue/Resource"}'
    assert [(r["StackName"], r["LogicalResourceId"], r["ResourceStatus"]) for r in by_physical] == [
        ("app", "Queue", "CREATE_COMPLETE")
    ]


def test_deletion_policy_snapshot_takes_a_final_cluster_snapshot(cfn: Any, clients: Clients) -> None:
    stack_id = cfn.create_stack(
        StackName="app", TemplateBody=body({"Cluster": {**CLUSTER, "DeletionPolicy": "Snapshot"}})
    )["StackId"]
    settle(cfn, "app")

    cfn.delete_stack(StackName="app")

    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    rds = clients("rds")
    assert rds.describe_db_clusters()["DBClusters"] == []
    snapshots = rds.describe_db_cluster_snapshots(DBClusterIdentifier="platform", SnapshotType="manual")
    assert [
        s["DBClusterSnapshotIdentifier"].startswith("platform-final-") for s in snapshots["DBClusterSnapshots"]
    ] == [True]


def test_retain_except_on_create_is_deleted_by_a_create_rollback(cfn: Any, clients: Clients) -> None:
    """AWS: RetainExceptOnCreate retains on stack delete but not when a create rolls back."""
    template = body(
        {
            "Topic": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "RetainExceptOnCreate"},
            "Broken": {"Type": "AWS::Imaginary::Thing", "DependsOn": "Topic"},
        }
    )

    cfn.create_stack(StackName="app", TemplateBody=template)

    assert settle(cfn, "app")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert clients("sns").list_topics()["Topics"] == []


def test_update_replace_policy_retain_keeps_the_replaced_resource(cfn: Any, clients: Clients) -> None:
    topic = {"Type": "AWS::SNS::Topic", "UpdateReplacePolicy": "Retain", "Properties": {"TopicName": "first"}}
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": topic}))
    settle(cfn, "app")

    cfn.update_stack(StackName="app", TemplateBody=body({"Topic": {**topic, "Properties": {"TopicName": "second"}}}))

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    names = sorted(t["TopicArn"].rsplit(":", 1)[1] for t in clients("sns").list_topics()["Topics"])
    assert names == ["first", "second"]
    assert ("Topic", "DELETE_SKIPPED", None) in events(cfn, "app")


def test_reset_forgets_every_stack_and_stops_its_operation(cfn: Any, sandbox: Any) -> None:
    sandbox.faults.add("app:timeout")
    cfn.create_stack(StackName="dataall-test-app", TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue"}}))
    time.sleep(0.2)

    sandbox.reset()

    assert cfn.describe_stacks()["Stacks"] == []
    assert sandbox.cloudformation.engine.running_operations() == 0
