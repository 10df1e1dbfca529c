"""A CDK-shaped stack through its whole life, with boto3 against the sandbox endpoint only:
created through a change set, updated, failed by a fault and rolled back, deleted."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.sandbox.cloudformation.conftest import Clients, settle, settle_change_set, stack_statuses

STACK = "dataall-test-worker"
FUNCTION_CODE = """
import os
import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=event.get("body", "ping"))
    return {"level": os.environ["LEVEL"]}
"""


def cdk_template(level: str, *, retention: int = 345600) -> dict[str, Any]:
    """What `cdk synth` emits for a queue, a function that writes to it, and a parameter."""
    path = {"aws:cdk:path": f"{STACK}/Resource"}
    return {
        "Parameters": {"AssetBucket": {"Type": "String"}, "AssetKey": {"Type": "String"}},
        "Resources": {
            "WorkerQueue1A2B3C4D": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"MessageRetentionPeriod": retention},
                "UpdateReplacePolicy": "Delete",
                "DeletionPolicy": "Delete",
                "Metadata": path,
            },
            "WorkerQueuePolicy5E6F7A8B": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Resource": {"Fn::GetAtt": ["WorkerQueue1A2B3C4D", "Arn"]},
                            }
                        ],
                    },
                    "Queues": [{"Ref": "WorkerQueue1A2B3C4D"}],
                },
                "Metadata": path,
            },
            "HandlerServiceRole9C0D1E2F": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Action": "sts:AssumeRole",
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                            }
                        ],
                    },
                    "ManagedPolicyArns": [
                        {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                                ],
                            ]
                        }
                    ],
                },
                "Metadata": path,
            },
            "HandlerServiceRoleDefaultPolicy3A4B5C6D": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Action": "sqs:SendMessage",
                                "Effect": "Allow",
                                "Resource": {"Fn::GetAtt": ["WorkerQueue1A2B3C4D", "Arn"]},
                            }
                        ],
                    },
                    "PolicyName": "HandlerServiceRoleDefaultPolicy3A4B5C6D",
                    "Roles": [{"Ref": "HandlerServiceRole9C0D1E2F"}],
                },
                "Metadata": path,
            },
            "Handler886CB40B": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": {"Ref": "AssetBucket"}, "S3Key": {"Ref": "AssetKey"}},
                    "Role": {"Fn::GetAtt": ["HandlerServiceRole9C0D1E2F", "Arn"]},
                    "Environment": {"Variables": {"QUEUE_URL": {"Ref": "WorkerQueue1A2B3C4D"}, "LEVEL": level}},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                    "Timeout": 30,
                },
                "DependsOn": ["HandlerServiceRoleDefaultPolicy3A4B5C6D", "HandlerServiceRole9C0D1E2F"],
                "Metadata": {**path, "aws:asset:property": "Code"},
            },
            "QueueArnParameter7F8E9D0C": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Type": "String",
                    "Name": f"/{STACK}/queue-arn",
                    "Value": {"Fn::GetAtt": ["WorkerQueue1A2B3C4D", "Arn"]},
                },
                "Metadata": path,
            },
            "CDKMetadata": {
                "Type": "AWS::CDK::Metadata",
                "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA/zPSMzQ="},
                "Metadata": {"aws:cdk:path": f"{STACK}/CDKMetadata/Default"},
            },
        },
        "Outputs": {
            "ExportsOutputFnGetAttWorkerQueueArn": {
                "Value": {"Fn::GetAtt": ["WorkerQueue1A2B3C4D", "Arn"]},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}:WorkerQueueArn"}},
            },
            "HandlerName": {"Value": {"Ref": "Handler886CB40B"}},
        },
    }


def upload_asset(clients: Clients) -> list[dict[str, str]]:
    s3 = clients("s3")
    s3.create_bucket(Bucket="cdk-assets")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("index.py", FUNCTION_CODE)
    s3.put_object(Bucket="cdk-assets", Key="asset.zip", Body=archive.getvalue())
    return [
        {"ParameterKey": "AssetBucket", "ParameterValue": "cdk-assets"},
        {"ParameterKey": "AssetKey", "ParameterValue": "asset.zip"},
    ]


def change_set(cfn: Any, name: str, template: dict[str, Any], parameters: list[dict[str, str]], kind: str) -> None:
    cfn.create_change_set(
        StackName=STACK, ChangeSetName=name, ChangeSetType=kind, TemplateBody=json.dumps(template),
        Parameters=parameters, Capabilities=["CAPABILITY_IAM"],
    )  # fmt: skip
    described = settle_change_set(cfn, STACK, name)
    assert described["Status"] == "CREATE_COMPLETE", described.get("StatusReason")
    cfn.execute_change_set(StackName=STACK, ChangeSetName=name)


def invoke(clients: Clients, function: str) -> dict[str, Any]:
    answer = clients("lambda").invoke(FunctionName=function, Payload=json.dumps({"body": "hello"}))
    assert "FunctionError" not in answer, answer["Payload"].read()
    return dict(json.loads(answer["Payload"].read()))


def test_a_cdk_stack_lives_its_whole_life_in_the_sandbox(cfn: Any, clients: Clients, sandbox: Any) -> None:
    parameters = upload_asset(clients)
    ssm, sqs = clients("ssm"), clients("sqs")

    # created through a change set
    change_set(cfn, "create", cdk_template("info"), parameters, "CREATE")
    created = settle(cfn, STACK)
    assert created["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o for o in created["Outputs"]}
    queue_arn = outputs["ExportsOutputFnGetAttWorkerQueueArn"]["OutputValue"]
    assert ssm.get_parameter(Name=f"/{STACK}/queue-arn")["Parameter"]["Value"] == queue_arn
    assert cfn.list_exports()["Exports"] == [
        {"ExportingStackId": created["StackId"], "Name": f"{STACK}:WorkerQueueArn", "Value": queue_arn}
    ]
    queue_url = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="WorkerQueue1A2B3C4D")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    assert "Policy" in sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"]
    function = outputs["HandlerName"]["OutputValue"]
    assert invoke(clients, function) == {"level": "info"}
    assert sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"] == "hello"

    # updated: the function's environment changes in place, the queue keeps its URL
    change_set(cfn, "update", cdk_template("debug"), parameters, "UPDATE")
    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_COMPLETE"
    assert invoke(clients, function) == {"level": "debug"}

    # failed by a fault and rolled back: the previous level and retention come back
    sandbox.faults.add("worker:update")
    change_set(cfn, "broken", cdk_template("error", retention=86400), parameters, "UPDATE")
    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert invoke(clients, function) == {"level": "debug"}
    retention = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert retention["MessageRetentionPeriod"] == "345600"
    assert ssm.get_parameter(Name=f"/{STACK}/queue-arn")["Parameter"]["Value"] == queue_arn

    # deleted: nothing of it is left
    cfn.delete_stack(StackName=STACK)
    assert settle(cfn, created["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert stack_statuses(cfn, created["StackId"]) == [
        "REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE",
        "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "DELETE_IN_PROGRESS", "DELETE_COMPLETE",
    ]  # fmt: skip
    assert clients("lambda").list_functions()["Functions"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert ssm.describe_parameters()["Parameters"] == []
    assert cfn.list_exports()["Exports"] == []
    roles = [r["RoleName"] for r in clients("iam").list_roles()["Roles"]]
    assert not [name for name in roles if name.startswith(STACK)]
