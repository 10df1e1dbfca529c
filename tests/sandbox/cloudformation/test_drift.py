"""Drift detection through the sandbox endpoint, each behaviour pinned to what AWS does.

Resources are changed out of band with their services' own APIs, as an operator would
in the console, then DetectStackDrift / DetectStackResourceDrift report it.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import Clients, body, settle

PARAMETER = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "blue"}}
QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30, "MessageRetentionPeriod": "345600"}}
LOG_GROUP = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}
#: a type without a drift reader in the sandbox
HANDLE = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
TAGS = [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}]
BUCKET = {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}, "Tags": TAGS}}


def deploy(cfn: Any, resources: dict[str, Any], name: str = "app") -> dict[str, str]:
    """Create the stack and answer its physical ids by logical id."""
    cfn.create_stack(StackName=name, TemplateBody=body(resources), Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    return {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }


def detect(cfn: Any, name: str = "app", timeout: float = 30, **arguments: Any) -> dict[str, Any]:
    """DetectStackDrift, then DescribeStackDriftDetectionStatus polled until it ends."""
    detection_id = cfn.detect_stack_drift(StackName=name, **arguments)["StackDriftDetectionId"]
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"drift detection {detection_id} still in progress after {timeout} s")
        time.sleep(0.02)


def resource_drifts(cfn: Any, name: str = "app", **arguments: Any) -> dict[str, dict[str, Any]]:
    drifts = cfn.describe_stack_resource_drifts(StackName=name, **arguments)["StackResourceDrifts"]
    return {drift["LogicalResourceId"]: drift for drift in drifts}


def differences(drift: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (d["PropertyPath"], d["ExpectedValue"], d["ActualValue"], d["DifferenceType"])
        for d in drift.get("PropertyDifferences", [])
    )


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


# --------------------------------------------------------------------------- DetectStackDrift
def test_out_of_band_changes_and_deletions_drift_the_stack(cfn: Any, clients: Clients) -> None:
    """AWS: a parameter's value and a queue's visibility timeout changed with the services' APIs
    are MODIFIED with their property differences, a log group deleted out of band is DELETED,
    and the stack is DRIFTED with three drifted resources."""
    physical = deploy(cfn, {"Parameter": PARAMETER, "Queue": QUEUE, "Logs": LOG_GROUP})
    clients("ssm").put_parameter(Name=physical["Parameter"], Value="green", Overwrite=True)
    clients("sqs").set_queue_attributes(QueueUrl=physical["Queue"], Attributes={"VisibilityTimeout": "90"})
    clients("logs").delete_log_group(logGroupName=physical["Logs"])

    status = detect(cfn)

    assert status["DetectionStatus"] == "DETECTION_COMPLETE"
    assert status["StackDriftStatus"] == "DRIFTED"
    assert status["DriftedStackResourceCount"] == 3
    drifts = resource_drifts(cfn)
    assert {name: drift["StackResourceDriftStatus"] for name, drift in drifts.items()} == {
        "Parameter": "MODIFIED",
        "Queue": "MODIFIED",
        "Logs": "DELETED",
    }
    assert differences(drifts["Parameter"]) == [("/Value", "blue", "green", "NOT_EQUAL")]
    assert differences(drifts["Queue"]) == [("/VisibilityTimeout", "30", "90", "NOT_EQUAL")]
    assert differences(drifts["Logs"]) == []
    queue = drifts["Queue"]
    assert queue["PhysicalResourceId"] == physical["Queue"]
    assert queue["ResourceType"] == "AWS::SQS::Queue"
    assert queue["StackId"] == status["StackId"]
    # AWS: the template's properties, typed as the resource type's schema types them
    assert json.loads(queue["ExpectedProperties"]) == {"VisibilityTimeout": 30, "MessageRetentionPeriod": 345600}
    assert json.loads(queue["ActualProperties"]) == {"VisibilityTimeout": 90, "MessageRetentionPeriod": 345600}
    assert json.loads(drifts["Logs"]["ExpectedProperties"]) == {"RetentionInDays": 7}
    assert "ActualProperties" not in drifts["Logs"]


def test_the_stack_and_its_resources_show_their_drift_information(cfn: Any, clients: Clients) -> None:
    """AWS: DescribeStacks' DriftInformation has the detection's result and the time it began;
    DescribeStackResources, DescribeStackResource and ListStackResources show each resource's."""
    physical = deploy(cfn, {"Parameter": PARAMETER, "Queue": QUEUE})
    before = cfn.describe_stacks(StackName="app")["Stacks"][0]["DriftInformation"]
    clients("ssm").put_parameter(Name=physical["Parameter"], Value="green", Overwrite=True)

    status = detect(cfn)

    assert before == {"StackDriftStatus": "NOT_CHECKED"}
    stack = cfn.describe_stacks(StackName="app")["Stacks"][0]
    assert stack["DriftInformation"] == {"StackDriftStatus": "DRIFTED", "LastCheckTimestamp": status["Timestamp"]}
    summary = next(s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "app")
    assert summary["DriftInformation"]["StackDriftStatus"] == "DRIFTED"
    described = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="app")["StackResources"]}
    listed = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName="app")["StackResourceSummaries"]}
    detail = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Queue")["StackResourceDetail"]
    for view in (described, listed):
        assert view["Parameter"]["DriftInformation"]["StackResourceDriftStatus"] == "MODIFIED"
        assert view["Queue"]["DriftInformation"]["StackResourceDriftStatus"] == "IN_SYNC"
        assert view["Queue"]["DriftInformation"]["LastCheckTimestamp"] >= status["Timestamp"]
    assert detail["DriftInformation"]["StackResourceDriftStatus"] == "IN_SYNC"


def test_an_untouched_stack_is_in_sync(cfn: Any, clients: Clients) -> None:
    """AWS: a stack nobody changed is IN_SYNC, each resource IN_SYNC, none drifted. The stack
    sets the properties every reader compares, so a property the sandbox does not apply as
    the template says (or reads back differently) fails here."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("app.py", "def handler(event, context):\n    return 1\n")
    clients("s3").create_bucket(Bucket="drift-code")
    clients("s3").put_object(Bucket="drift-code", Key="code.zip", Body=archive.getvalue())
    code = {"S3Bucket": "drift-code", "S3Key": "code.zip"}
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    resources = {
        "Parameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": "/app/colour", "Type": "String", "Value": "blue", "Description": "the colour",
                "AllowedPattern": "^[a-z]+$", "Tier": "Standard",
            },
        },
        "DeadLetters": {"Type": "AWS::SQS::Queue"},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": "45", "DelaySeconds": 5, "MessageRetentionPeriod": 86400,
                "ReceiveMessageWaitTimeSeconds": "10", "MaximumMessageSize": 262144, "Tags": TAGS,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": "4",
                },
            },
        },
        "Fifo": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": "orders.fifo", "FifoQueue": "true", "ContentBasedDeduplication": True},
        },
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "DisplayName": "Alerts", "Subscription": [{"Endpoint": "ops@example.com", "Protocol": "email"}],
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/app/logs", "RetentionInDays": "14", "Tags": TAGS},
        },
        "Bucket": BUCKET,
        "OnDemand": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST", "KeySchema": key_schema, "AttributeDefinitions": attributes,
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}, "DeletionProtectionEnabled": False,
                "Tags": TAGS,
            },
        },
        "Provisioned": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": key_schema, "AttributeDefinitions": attributes,
                "ProvisionedThroughput": {"ReadCapacityUnits": "2", "WriteCapacityUnits": 1},
            },
        },
        "Boundary": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": document}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": json.dumps(trust), "Path": "/service/", "Description": "runs the app",
                "MaxSessionDuration": "7200", "PermissionsBoundary": {"Ref": "Boundary"}, "Tags": TAGS,
                "Policies": [{"PolicyName": "read", "PolicyDocument": document}],
            },
        },
        "Layer": {"Type": "AWS::Lambda::LayerVersion", "Properties": {"Content": code}},
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12", "Handler": "app.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": code, "Timeout": "20", "MemorySize": 256, "Description": "the app",
                "Environment": {"Variables": {"COLOUR": "blue", "SIZE": "3"}}, "Layers": [{"Ref": "Layer"}],
                "ReservedConcurrentExecutions": 2,
            },
        },
        "Handle": HANDLE,
    }  # fmt: skip
    deploy(cfn, resources)

    status = detect(cfn)

    drifts = resource_drifts(cfn)
    assert {name: differences(drift) for name, drift in drifts.items() if differences(drift)} == {}
    assert (status["DetectionStatus"], status["StackDriftStatus"], status["DriftedStackResourceCount"]) == (
        "DETECTION_COMPLETE",
        "IN_SYNC",
        0,
    )
    checked = set(resources) - {"Boundary", "Layer", "Handle"}  # types without a reader
    assert {name: drift["StackResourceDriftStatus"] for name, drift in drifts.items()} == dict.fromkeys(
        checked, "IN_SYNC"
    )
    assert json.loads(drifts["Role"]["ExpectedProperties"])["AssumeRolePolicyDocument"] == trust


def test_every_type_with_a_reader_reports_changes_made_in_its_service(cfn: Any, clients: Clients) -> None:
    """AWS: each type's own properties drift: a topic's display name, a function's timeout and
    environment, a bucket's versioning and tags, a table's billing mode, a role's trust
    policy, session duration and description, a log group's retention. A removed value is
    REMOVE, a value added inside a property the template set is ADD."""
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "Alerts"}},
        "Bucket": BUCKET,
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": trust, "MaxSessionDuration": 3600, "Description": "runs the app",
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12", "Handler": "app.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}, "Timeout": 10,
                "Environment": {"Variables": {"COLOUR": "blue"}},
            },
        },
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
        "Kept": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
    }  # fmt: skip
    physical = deploy(cfn, resources)
    clients("sns").set_topic_attributes(TopicArn=physical["Topic"], AttributeName="DisplayName", AttributeValue="Pager")
    clients("s3").put_bucket_versioning(Bucket=physical["Bucket"], VersioningConfiguration={"Status": "Suspended"})
    clients("s3").put_bucket_tagging(Bucket=physical["Bucket"], Tagging={"TagSet": [TAGS[1]]})
    clients("dynamodb").update_table(
        TableName=physical["Table"],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    other = {**trust, "Statement": [{**statement, "Principal": {"Service": "ec2.amazonaws.com"}}]}
    iam = clients("iam")
    iam.update_assume_role_policy(RoleName=physical["Role"], PolicyDocument=json.dumps(other))
    iam.update_role(RoleName=physical["Role"], Description="changed by hand", MaxSessionDuration=7200)
    clients("lambda").update_function_configuration(
        FunctionName=physical["Function"], Timeout=30, Environment={"Variables": {"COLOUR": "blue", "DEBUG": "1"}}
    )
    clients("logs").delete_retention_policy(logGroupName=physical["Logs"])
    clients("logs").put_retention_policy(logGroupName=physical["Kept"], retentionInDays=90)

    status = detect(cfn)

    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 7)
    drifts = resource_drifts(cfn)
    assert {name: differences(drift) for name, drift in drifts.items()} == {
        "Topic": [("/DisplayName", "Alerts", "Pager", "NOT_EQUAL")],
        "Bucket": [
            ("/Tags/0", '{"Key":"team","Value":"data"}', "null", "REMOVE"),
            ("/VersioningConfiguration/Status", "Enabled", "Suspended", "NOT_EQUAL"),
        ],
        "Table": [("/BillingMode", "PAY_PER_REQUEST", "PROVISIONED", "NOT_EQUAL")],
        "Role": [
            (
                "/AssumeRolePolicyDocument/Statement/0/Principal/Service",
                "lambda.amazonaws.com", "ec2.amazonaws.com", "NOT_EQUAL",
            ),
            ("/Description", "runs the app", "changed by hand", "NOT_EQUAL"),
            ("/MaxSessionDuration", "3600", "7200", "NOT_EQUAL"),
        ],
        "Function": [
            ("/Environment/Variables/DEBUG", "null", "1", "ADD"),
            ("/Timeout", "10", "30", "NOT_EQUAL"),
        ],
        "Logs": [("/RetentionInDays", "7", "null", "REMOVE")],
        "Kept": [("/RetentionInDays", "30", "90", "NOT_EQUAL")],
    }  # fmt: skip


def test_a_type_without_drift_detection_is_not_checked_and_leaves_the_stack_in_sync(cfn: Any, clients: Clients) -> None:
    """AWS: resources whose type does not support drift detection stay NOT_CHECKED, are left out
    of DescribeStackResourceDrifts, and do not make the stack drift; DetectStackResourceDrift
    refuses them."""
    deploy(cfn, {"Handle": HANDLE, "Queue": QUEUE})

    status = detect(cfn)

    assert status["StackDriftStatus"] == "IN_SYNC"
    assert set(resource_drifts(cfn)) == {"Queue"}
    listed = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName="app")["StackResourceSummaries"]}
    assert listed["Handle"]["DriftInformation"] == {"StackResourceDriftStatus": "NOT_CHECKED"}
    with pytest.raises(ClientError) as raised:
        cfn.detect_stack_resource_drift(StackName="app", LogicalResourceId="Handle")
    assert error_of(raised) == (
        "ValidationError",
        "Drift detection is not supported for resource type AWS::CloudFormation::WaitConditionHandle",
    )


def test_detection_runs_in_the_background_for_its_modelled_time(
    cfn: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS: DetectStackDrift answers an id at once; the detection is DETECTION_IN_PROGRESS
    ("User Initiated", no drift status or count yet) and ends DETECTION_COMPLETE after the
    latency model's (DetectStackDrift) time."""
    deploy(cfn, {"Queue": QUEUE})
    monkeypatch.setattr(sandbox.clock, "scale", 0.01)
    modelled = sandbox.cloudformation.engine.env.latency.drift_detection()
    started = time.monotonic()

    detection_id = cfn.detect_stack_drift(StackName="app")["StackDriftDetectionId"]
    early = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    final = detect_status_until_done(cfn, detection_id)
    elapsed = time.monotonic() - started

    assert modelled == 60
    assert early["DetectionStatus"] == "DETECTION_IN_PROGRESS"
    assert early["DetectionStatusReason"] == "User Initiated"
    assert "StackDriftStatus" not in early
    assert "DriftedStackResourceCount" not in early
    assert (final["DetectionStatus"], final["StackDriftStatus"]) == ("DETECTION_COMPLETE", "IN_SYNC")
    assert final["Timestamp"] == early["Timestamp"]
    assert elapsed >= sandbox.clock.wall(modelled)


def detect_status_until_done(cfn: Any, detection_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            return status
        time.sleep(0.02)
    raise AssertionError(f"drift detection {detection_id} still in progress after {timeout} s")


def test_only_one_detection_runs_on_a_stack_at_a_time(cfn: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS: "Drift detection is already in progress for stack" while one runs; another stack
    can be checked meanwhile."""
    deploy(cfn, {"Queue": QUEUE})
    deploy(cfn, {"Queue": QUEUE}, name="other")
    monkeypatch.setattr(sandbox.clock, "scale", 0.05)
    stack_id = cfn.describe_stacks(StackName="app")["Stacks"][0]["StackId"]
    cfn.detect_stack_drift(StackName="app")

    with pytest.raises(ClientError) as raised:
        cfn.detect_stack_drift(StackName="app")
    assert error_of(raised) == ("ValidationError", f"Drift detection is already in progress for stack [{stack_id}]")
    assert cfn.detect_stack_drift(StackName="other")["StackDriftDetectionId"]


def test_a_stack_operation_in_progress_refuses_detection(
    cfn: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS: drift detection needs a stack whose last operation completed (or whose rollback
    failed); a stack still being created refuses it."""
    monkeypatch.setattr(sandbox.clock, "scale", 0.05)
    stack_id = cfn.create_stack(StackName="app", TemplateBody=body({"Queue": QUEUE}))["StackId"]

    with pytest.raises(ClientError) as raised:
        cfn.detect_stack_drift(StackName="app")

    code, message = error_of(raised)
    assert code == "ValidationError"
    assert message.startswith(f"Stack [{stack_id}] is in CREATE_IN_PROGRESS state.")


def test_logical_resource_ids_limit_the_detection_to_those_resources(cfn: Any, clients: Clients) -> None:
    """AWS: with LogicalResourceIds only those resources are checked; the others keep what
    their last check found (here: never checked)."""
    physical = deploy(cfn, {"Parameter": PARAMETER, "Queue": QUEUE})
    clients("ssm").put_parameter(Name=physical["Parameter"], Value="green", Overwrite=True)

    status = detect(cfn, LogicalResourceIds=["Queue"])

    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)
    assert set(resource_drifts(cfn)) == {"Queue"}
    listed = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName="app")["StackResourceSummaries"]}
    assert listed["Parameter"]["DriftInformation"]["StackResourceDriftStatus"] == "NOT_CHECKED"
    with pytest.raises(ClientError) as raised:
        cfn.detect_stack_drift(StackName="app", LogicalResourceIds=["Ghost"])
    assert error_of(raised) == ("ValidationError", "Resource Ghost does not exist for stack app")


def test_resource_drifts_filter_by_status_and_page(cfn: Any, clients: Clients) -> None:
    """AWS: StackResourceDriftStatusFilters selects by status; MaxResults pages with NextToken."""
    physical = deploy(cfn, {"Parameter": PARAMETER, "Queue": QUEUE, "Logs": LOG_GROUP})
    clients("logs").delete_log_group(logGroupName=physical["Logs"])
    detect(cfn)

    assert set(resource_drifts(cfn, StackResourceDriftStatusFilters=["DELETED", "MODIFIED"])) == {"Logs"}
    assert set(resource_drifts(cfn, StackResourceDriftStatusFilters=["IN_SYNC"])) == {"Parameter", "Queue"}
    first = cfn.describe_stack_resource_drifts(StackName="app", MaxResults=2)
    second = cfn.describe_stack_resource_drifts(StackName="app", MaxResults=2, NextToken=first["NextToken"])
    assert len(first["StackResourceDrifts"]) == 2
    assert "NextToken" not in second
    names = [d["LogicalResourceId"] for d in first["StackResourceDrifts"] + second["StackResourceDrifts"]]
    assert sorted(names) == ["Logs", "Parameter", "Queue"]


def test_a_stack_never_checked_has_no_resource_drifts(cfn: Any) -> None:
    deploy(cfn, {"Queue": QUEUE})

    assert cfn.describe_stack_resource_drifts(StackName="app")["StackResourceDrifts"] == []


def test_an_unknown_detection_id_is_a_validation_error(cfn: Any) -> None:
    with pytest.raises(ClientError) as raised:
        cfn.describe_stack_drift_detection_status(StackDriftDetectionId="00000000-0000-0000-0000-000000000000")
    assert error_of(raised) == (
        "ValidationError",
        "Drift detection [00000000-0000-0000-0000-000000000000] does not exist",
    )


# --------------------------------------------------------------------------- DetectStackResourceDrift
def test_detect_stack_resource_drift_answers_at_once(cfn: Any, clients: Clients) -> None:
    """AWS: DetectStackResourceDrift is synchronous and answers the resource's drift; the
    resource's DriftInformation shows it, the stack's drift status stays what the last
    DetectStackDrift found, its LastCheckTimestamp moves."""
    physical = deploy(cfn, {"Queue": QUEUE})
    clients("sqs").set_queue_attributes(QueueUrl=physical["Queue"], Attributes={"MessageRetentionPeriod": "60"})

    drift = cfn.detect_stack_resource_drift(StackName="app", LogicalResourceId="Queue")["StackResourceDrift"]

    assert drift["StackResourceDriftStatus"] == "MODIFIED"
    assert differences(drift) == [("/MessageRetentionPeriod", "345600", "60", "NOT_EQUAL")]
    listed = cfn.list_stack_resources(StackName="app")["StackResourceSummaries"][0]
    assert listed["DriftInformation"]["StackResourceDriftStatus"] == "MODIFIED"
    stack = cfn.describe_stacks(StackName="app")["Stacks"][0]["DriftInformation"]
    assert stack["StackDriftStatus"] == "NOT_CHECKED"
    assert stack["LastCheckTimestamp"] <= drift["Timestamp"]
    assert set(resource_drifts(cfn)) == {"Queue"}


def test_a_stack_put_back_by_hand_is_in_sync_again(cfn: Any, clients: Clients) -> None:
    """AWS: drift is what the services have now: undoing the change makes the next detection
    IN_SYNC, and DescribeStacks follows."""
    physical = deploy(cfn, {"Parameter": PARAMETER})
    ssm = clients("ssm")
    ssm.put_parameter(Name=physical["Parameter"], Value="green", Overwrite=True)
    assert detect(cfn)["StackDriftStatus"] == "DRIFTED"

    ssm.put_parameter(Name=physical["Parameter"], Value="blue", Overwrite=True)

    assert detect(cfn)["StackDriftStatus"] == "IN_SYNC"
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["DriftInformation"]["StackDriftStatus"] == "IN_SYNC"
    assert resource_drifts(cfn)["Parameter"]["StackResourceDriftStatus"] == "IN_SYNC"


def test_a_versioned_bucket_made_by_a_stack_is_versioned(cfn: Any, clients: Clients) -> None:
    """AWS: a bucket's VersioningConfiguration is applied when the stack creates it (moto's
    model ignored it)."""
    physical = deploy(
        cfn, {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}}
    )

    assert clients("s3").get_bucket_versioning(Bucket=physical["Bucket"])["Status"] == "Enabled"
