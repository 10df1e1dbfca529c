"""Custom resources: CloudFormation's request and response protocol with a real Lambda."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle

HANDLER = """
import json, time, urllib.request
import boto3


def handler(event, context):
    props = event["ResourceProperties"]
    boto3.client("s3").put_object(
        Bucket="requests", Key=f"{time.time_ns()}-{event['RequestType']}", Body=json.dumps(event)
    )
    if props.get("Silent") == "yes":
        return
    time.sleep(float(props.get("SleepSeconds", "0")))
    failing = props.get("FailOn", "").split(",")
    status = "FAILED" if event["RequestType"] in failing else "SUCCESS"
    physical = event.get("PhysicalResourceId") or f"thing-{props['Name']}"
    if event["RequestType"] == "Update" and props["Name"] != event["OldResourceProperties"]["Name"]:
        physical = f"thing-{props['Name']}"
    answer = {
        "Status": status,
        "Reason": f"{event['RequestType']} refused" if status == "FAILED" else "",
        "PhysicalResourceId": physical,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Greeting": f"hello {props['Name']}"},
    }
    request = urllib.request.Request(
        event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT", headers={"Content-Type": ""}
    )
    urllib.request.urlopen(request)
"""


@pytest.fixture
def function_code(clients: Clients) -> dict[str, str]:
    s3 = clients("s3")
    for bucket in ("code", "requests"):
        s3.create_bucket(Bucket=bucket)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("index.py", HANDLER)
    s3.put_object(Bucket="code", Key="handler.zip", Body=archive.getvalue())
    return {"S3Bucket": "code", "S3Key": "handler.zip"}


@pytest.fixture
def short_timeout(sandbox: Any) -> Iterator[None]:
    """CloudFormation waits an hour for an answer; a test waits a modelled ten minutes."""
    provider = sandbox.cloudformation.custom_resources
    saved = provider.timeout, provider.wall_floor
    provider.timeout, provider.wall_floor = 600, 0.0
    yield
    provider.timeout, provider.wall_floor = saved


def template(code: dict[str, str], thing: dict[str, Any], **extra: Any) -> str:
    return body(
        {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                            }
                        ]
                    }
                },
            },
            "Handler": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": code,
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Timeout": 30,
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
            "Thing": {
                "Type": "Custom::Thing",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]}, **thing},
            },
            **extra,
        },
        Outputs={"Greeting": {"Value": {"Fn::GetAtt": ["Thing", "Greeting"]}}, "Id": {"Value": {"Ref": "Thing"}}},
    )


def requests(clients: Clients) -> list[dict[str, Any]]:
    """The requests the function received, in order."""
    s3 = clients("s3")
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="requests").get("Contents", []))
    return [json.loads(s3.get_object(Bucket="requests", Key=key)["Body"].read()) for key in keys]


def apply(cfn: Any, template_body: str, *, create: bool = False) -> dict[str, Any]:
    if create:
        cfn.create_stack(StackName="app", TemplateBody=template_body, Capabilities=["CAPABILITY_IAM"])
    else:
        cfn.update_stack(StackName="app", TemplateBody=template_body, Capabilities=["CAPABILITY_IAM"])
    return settle(cfn, "app")


def outputs(described: dict[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def test_create_update_delete_follow_cloudformations_protocol(
    cfn: Any, clients: Clients, function_code: dict[str, str], sandbox: Any
) -> None:
    """Create; Update with OldResourceProperties; Delete on stack delete; Data answers
    GetAtt; properties arrive as strings."""
    described = apply(cfn, template(function_code, {"Name": "one", "Count": 3, "On": True}), create=True)

    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(described) == {"Greeting": "hello one", "Id": "thing-one"}
    create = requests(clients)[0]
    assert create["RequestType"] == "Create"
    assert create["ResourceType"] == "Custom::Thing"
    assert create["LogicalResourceId"] == "Thing"
    assert create["StackId"] == described["StackId"]
    assert create["ResponseURL"].startswith(f"{sandbox.endpoint}/_sandbox/cfn-response/")
    assert {key: value for key, value in create["ResourceProperties"].items() if key != "ServiceToken"} == {
        "Name": "one",
        "Count": "3",
        "On": "true",
    }
    assert "PhysicalResourceId" not in create

    apply(cfn, template(function_code, {"Name": "one", "Count": 4, "On": True}))
    update = requests(clients)[1]
    assert update["RequestType"] == "Update"
    assert update["PhysicalResourceId"] == "thing-one"
    assert update["OldResourceProperties"]["Count"] == "3"
    assert update["ResourceProperties"]["Count"] == "4"

    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    delete = requests(clients)[-1]
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", "thing-one")


def test_a_failed_answer_fails_the_resource_with_its_reason_and_rolls_back(
    cfn: Any, clients: Clients, function_code: dict[str, str]
) -> None:
    """AWS: "Received response status [FAILED] from custom resource. Message returned: ..."; the
    rollback sends Delete naming the physical id the failed answer gave."""
    described = apply(cfn, template(function_code, {"Name": "one", "FailOn": "Create"}), create=True)

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, "app") if lid == "Thing" and status == "CREATE_FAILED")
    assert str(reason).startswith(
        "Received response status [FAILED] from custom resource. Message returned: Create refused"
    )
    sent = [(r["RequestType"], r.get("PhysicalResourceId")) for r in requests(clients)]
    assert sent == [("Create", None), ("Delete", "thing-one")]


def test_an_update_rollback_sends_the_old_properties_as_the_new_ones(
    cfn: Any, clients: Clients, function_code: dict[str, str], sandbox: Any
) -> None:
    """AWS: during UPDATE_ROLLBACK, the custom resource gets an Update whose ResourceProperties
    are the previous ones and OldResourceProperties the failed update's."""
    apply(cfn, template(function_code, {"Name": "one", "Size": "small"}), create=True)
    failing = {"Breaks": {"Type": "AWS::Imaginary::Thing", "DependsOn": "Thing"}}

    described = apply(cfn, template(function_code, {"Name": "one", "Size": "large"}, **failing))

    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    updates = [r for r in requests(clients) if r["RequestType"] == "Update"]
    assert [(u["OldResourceProperties"]["Size"], u["ResourceProperties"]["Size"]) for u in updates] == [
        ("small", "large"),
        ("large", "small"),
    ]


def test_a_new_physical_id_replaces_and_the_old_one_is_deleted_in_cleanup(
    cfn: Any, clients: Clients, function_code: dict[str, str]
) -> None:
    """AWS: an Update answer with a new PhysicalResourceId is a replacement; CloudFormation
    sends Delete for the old id in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS."""
    apply(cfn, template(function_code, {"Name": "one"}), create=True)

    described = apply(cfn, template(function_code, {"Name": "two"}))

    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(described) == {"Greeting": "hello two", "Id": "thing-two"}
    sent = [(r["RequestType"], r.get("PhysicalResourceId")) for r in requests(clients)]
    assert sent == [("Create", None), ("Update", "thing-one"), ("Delete", "thing-one")]


def test_no_answer_times_out_with_aws_reason(cfn: Any, function_code: dict[str, str], short_timeout: None) -> None:
    described = apply(cfn, template(function_code, {"Name": "one", "Silent": "yes"}), create=True)

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, "app") if lid == "Thing" and status == "CREATE_FAILED")
    assert str(reason).startswith("CloudFormation did not receive a response from your Custom Resource.")


def test_a_missing_data_key_fails_the_getatt(cfn: Any, function_code: dict[str, str]) -> None:
    wanting = template(function_code, {"Name": "one"})
    document = json.loads(wanting)
    document["Outputs"]["Missing"] = {"Value": {"Fn::GetAtt": ["Thing", "Nope"]}}

    described = apply(cfn, json.dumps(document), create=True)

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "CustomResource attribute error: Vendor response doesn't contain Nope key" in str(
        next(r for lid, status, r in events(cfn, "app") if lid == "app" and status == "ROLLBACK_IN_PROGRESS")
    )


def test_a_functions_real_run_time_does_not_count_against_the_creation_timeout(
    cfn: Any, clients: Clients, function_code: dict[str, str], sandbox: Any, exact_creation_timeout: None
) -> None:
    """The sandbox's creation deadline runs on modelled time: the real seconds of a custom
    resource's function (hours at the tests' time scale) stand for the modelled dispatch."""
    budget = sandbox.cloudformation.engine.env.clock.wall(3 * 60)
    began = time.monotonic()

    cfn.create_stack(
        StackName="app",
        # The function itself outlasts the scaled timeout, however fast the machine.
        TemplateBody=template(function_code, {"Name": "a", "SleepSeconds": str(round(2 * budget, 3))}),
        Capabilities=["CAPABILITY_IAM"],
        TimeoutInMinutes=3,
    )

    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"
    assert time.monotonic() - began > budget, "the create took longer in real time than the scaled timeout"
