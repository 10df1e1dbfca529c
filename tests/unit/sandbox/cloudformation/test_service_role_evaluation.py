"""How the sandbox evaluates a stack's service role (`sandbox.cloudformation.service_role.allowed`).

AWS (IAM policy evaluation logic, within one account): "an explicit deny in any policy overrides
any allows"; without an allow the request is implicitly denied; action names are case-insensitive,
resource ARNs are not (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.cloudformation.service_role import allowed, handler_actions, parse_policies

REGION = {"aws:RequestedRegion": "eu-west-1"}


def policy(*statements: dict[str, Any]) -> tuple[Any, ...]:
    return parse_policies((json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),))


def test_an_allow_names_the_action_in_any_case_and_a_deny_wins() -> None:
    statements = policy(
        {"Effect": "Allow", "Action": ["SQS:createQueue", "sns:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "sns:DeleteTopic", "Resource": "*"},
    )

    assert allowed(statements, "sqs:CreateQueue", "*", REGION)
    assert allowed(statements, "sns:CreateTopic", "*", REGION)
    assert not allowed(statements, "sns:DeleteTopic", "*", REGION)
    assert not allowed(statements, "sqs:DeleteQueue", "*", REGION)


def test_resources_conditions_and_not_action_are_evaluated() -> None:
    statements = policy(
        {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "arn:aws:iam::111122223333:role/app-*"},
        {
            "Effect": "Allow",
            "NotAction": ["iam:*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}},
        },
    )

    assert allowed(statements, "iam:CreateRole", "arn:aws:iam::111122223333:role/app-x", REGION)
    assert not allowed(statements, "iam:CreateRole", "arn:aws:iam::111122223333:role/other", REGION)
    assert allowed(statements, "ec2:CreateVpc", "*", REGION)
    assert not allowed(statements, "ec2:CreateVpc", "*", {"aws:RequestedRegion": "us-east-1"})
    assert not allowed(statements, "iam:DeleteRole", "arn:aws:iam::111122223333:role/app-x", REGION)


def test_a_handler_s_actions_are_the_registry_s_minus_what_no_policy_can_grant() -> None:
    create = handler_actions("AWS::Logs::LogGroup", "create")

    assert create is not None and "logs:CreateLogGroup" in create
    assert not [action for action in create if "." in action]
    assert handler_actions("AWS::CDK::Metadata", "create") is None
    bucket = handler_actions("AWS::S3::Bucket", "delete") or ()
    assert "s3:DeleteBucket" in bucket and not [a for a in bucket if a.lower() == "s3:deletebucketcors"]
