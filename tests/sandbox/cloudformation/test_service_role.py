"""A stack's service role, checked before each resource handler (`sandbox.cloudformation.service_role`).

AWS: "If a service role is defined for the stack, then CloudFormation assumes this role ... The
operation fails when the role doesn't have the permissions to create, delete, or update a resource",
with "User: [IAM Role] is not authorized to perform: ec2:RunInstances on resource: [Resource Id]
because no identity-based policy allows the ec2:RunInstances action"
(https://repost.aws/knowledge-center/cfn-resolve-missing-permissions).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sandbox import moto_internals
from sandbox.cloudformation.service_role import handler_actions
from tests.sandbox.cloudformation.conftest import Clients, body, events, settle

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def role(clients: Clients, *statements: dict[str, Any]) -> str:
    """A service role with these statements (an inline policy and, for the first, a managed one)."""
    iam = clients("iam")
    name = f"stack-role-{uuid.uuid4().hex[:8]}"
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])
    first, *rest = statements
    policy = iam.create_policy(
        PolicyName=f"{name}-managed", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [first]})
    )
    iam.attach_role_policy(RoleName=name, PolicyArn=policy["Policy"]["Arn"])
    if rest:
        document = json.dumps({"Version": "2012-10-17", "Statement": rest})
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=document)
    return arn


def handlers(resource_type: str) -> list[str]:
    actions = {*(handler_actions(resource_type, "create") or ()), *(handler_actions(resource_type, "delete") or ())}
    return sorted(actions)


def test_the_role_s_policy_documents_are_read_from_moto(clients: Clients) -> None:
    """Pins `moto_internals.role_policy_documents`: inline and attached managed policies, None for no role."""
    arn = role(clients, {"Effect": "Allow", "Action": "sqs:CreateQueue", "Resource": "*"},
               {"Effect": "Allow", "Action": "sns:CreateTopic", "Resource": "*"})  # fmt: skip

    documents = moto_internals.role_policy_documents(arn)

    assert documents is not None and len(documents) == 2
    assert {"sqs:CreateQueue", "sns:CreateTopic"} == {json.loads(d)["Statement"][0]["Action"] for d in documents}
    assert moto_internals.role_policy_documents(arn.replace("stack-role-", "no-such-role-")) is None


def test_a_role_without_a_handler_s_action_fails_the_resource_as_aws_does(clients: Clients, cfn: Any) -> None:
    region = cfn.meta.region_name
    queue_only = {
        "Effect": "Allow",
        "Action": handlers("AWS::SQS::Queue"),
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": [region]}},
    }
    arn = role(clients, queue_only)

    cfn.create_stack(StackName="role-queue", TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue"}}), RoleARN=arn)
    assert settle(cfn, "role-queue")["StackStatus"] == "CREATE_COMPLETE"
    cfn.create_stack(
        StackName="role-topic",
        TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue"}, "Topic": {"Type": "AWS::SNS::Topic"}}),
        RoleARN=arn,
    )

    assert settle(cfn, "role-topic")["StackStatus"] == "ROLLBACK_COMPLETE"
    (reason,) = [
        str(r) for logical, status, r in events(cfn, "role-topic") if logical == "Topic" and status == "CREATE_FAILED"
    ]
    name = arn.rpartition("/")[2]
    assert f"assumed-role/{name}/AWSCloudFormation is not authorized to perform: sns:" in reason
    assert "because no identity-based policy allows the sns:" in reason and "HandlerErrorCode: AccessDenied" in reason


def test_the_region_condition_and_iam_s_resources_are_evaluated(clients: Clients, cfn: Any) -> None:
    elsewhere = {
        "Effect": "Allow",
        "Action": handlers("AWS::SQS::Queue"),
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": ["ap-south-2"]}},
    }
    roles = {
        "Effect": "Allow",
        "Action": handlers("AWS::IAM::Role"),
        "Resource": "arn:aws:iam::*:role/app-*",
    }
    arn = role(clients, elsewhere, roles)
    trust = json.dumps(TRUST)

    cfn.create_stack(StackName="role-region", TemplateBody=body({"Queue": {"Type": "AWS::SQS::Queue"}}), RoleARN=arn)
    cfn.create_stack(
        StackName="role-iam",
        TemplateBody=body(
            {
                "Mine": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"RoleName": "app-mine", "AssumeRolePolicyDocument": trust},
                },
                "Other": {
                    "Type": "AWS::IAM::Role",
                    "DependsOn": "Mine",
                    "Properties": {"RoleName": "other-role", "AssumeRolePolicyDocument": trust},
                },
            }
        ),
        RoleARN=arn,
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )

    assert settle(cfn, "role-region")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert settle(cfn, "role-iam")["StackStatus"] == "ROLLBACK_COMPLETE"
    statuses = {(logical, status): reason for logical, status, reason in events(cfn, "role-iam")}
    assert ("Mine", "CREATE_COMPLETE") in statuses
    assert ":role/other-role because no identity-based policy" in str(statuses[("Other", "CREATE_FAILED")])
