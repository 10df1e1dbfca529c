"""The reaches into moto's internals that the sandbox's CloudFormation makes (the
`cloudformation resource models` section of installer/sandbox/moto_internals.py), each
pinned, so a move of the moto pin shows at once what changed."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from installer.sandbox import moto_internals

REGION = "us-east-1"
CONTEXT = {"account_id": moto_internals.ACCOUNT_ID, "region": REGION}


def create(resource_type: str, name: str, properties: dict[str, Any]) -> Any:
    return moto_internals.cfn_create(
        resource_type, name, properties, logical_id="Logical", stack_id="arn:stack", **CONTEXT
    )


def test_the_model_map_lists_the_types_moto_can_create_except_those_the_sandbox_makes_itself() -> None:
    types = moto_internals.cfn_model_types()

    assert {"AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::EC2::VPC"} <= types
    assert "AWS::StepFunctions::StateMachine" not in types  # made in the executing backend instead
    assert "AWS::CloudFormation::Stack" not in types  # would land in moto's own CloudFormation
    assert moto_internals.cfn_name_property("AWS::SQS::Queue") == "QueueName"
    assert moto_internals.cfn_name_property("AWS::EC2::VPC") is None


def test_a_model_is_created_updated_and_deleted_in_its_service_backend(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue = create("AWS::SQS::Queue", "stack-Queue-ABC", {"VisibilityTimeout": 30})
    url = moto_internals.cfn_physical_id(queue)

    assert moto_internals.cfn_attribute(queue, "QueueName") == "stack-Queue-ABC"
    assert moto_internals.cfn_supports_update("AWS::SQS::Queue")
    moto_internals.cfn_update("AWS::SQS::Queue", queue, "stack-Queue-ABC", {"VisibilityTimeout": 60}, **CONTEXT)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert moto_internals.cfn_delete("AWS::SQS::Queue", queue, {}, **CONTEXT)
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_an_attribute_the_model_lacks_is_a_lookup_error(aws: None) -> None:
    topic = create("AWS::SNS::Topic", "stack-Topic-ABC", {})

    with pytest.raises(LookupError):
        moto_internals.cfn_attribute(topic, "Nope")


def test_a_type_moto_cannot_delete_says_so(aws: None) -> None:
    gateway = create("AWS::EC2::InternetGateway", "gw", {})

    assert moto_internals.cfn_delete("AWS::EC2::InternetGateway", gateway, {}, **CONTEXT) is False


def test_service_errors_give_code_message_and_status(aws: None) -> None:
    with pytest.raises(Exception) as raised:
        create("AWS::SQS::Queue", "not-fifo", {"FifoQueue": True})

    assert moto_internals.service_error(raised.value) == (
        "InvalidParameterValue",
        "Queue name must end in .fifo for FIFO queues",
        400,
    )
    assert moto_internals.service_error(ValueError("x")) is None


def test_lookups_for_parameters_templates_and_zones(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/p", Value="v", Type="String")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="a/b.json", Body=b"{}")
    vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    assert moto_internals.ssm_parameter_value("/p", REGION) == "v"
    with pytest.raises(KeyError):
        moto_internals.ssm_parameter_value("/missing", REGION)
    assert moto_internals.s3_object("templates", "a/b.json") == b"{}"
    with pytest.raises(KeyError):
        moto_internals.s3_object("templates", "missing")
    assert moto_internals.ec2_resource_exists("vpc", vpc, REGION)
    assert not moto_internals.ec2_resource_exists("subnet", "subnet-0", REGION)
    assert moto_internals.availability_zones(REGION)[:2] == ["us-east-1a", "us-east-1b"]


def test_state_machines_land_in_the_backend_that_executes(aws: None) -> None:
    """AWS: a state machine CloudFormation makes is one the Step Functions API lists and runs."""
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    role = "arn:aws:iam::123456789012:role/r"

    arn = moto_internals.state_machine_create(
        REGION,
        name="machine",
        definition=definition,
        role_arn=role,
        tags=[{"Key": "team", "Value": "data"}],
        logging_configuration=None,
        tracing_configuration={"enabled": True},
    )

    assert moto_internals.stepfunctions_backend(REGION).describe_state_machine(arn).name == "machine"
    moto_internals.state_machine_update(
        REGION, arn, definition=definition, role_arn=role, logging_configuration=None, tracing_configuration=None
    )
    moto_internals.state_machine_delete(REGION, arn)
    machines, _ = moto_internals.stepfunctions_backend(REGION).list_state_machines()
    assert machines == []
