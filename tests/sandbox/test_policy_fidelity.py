"""Bucket policies in the sandbox behave as in AWS (sandbox/moto_internals.py:
fix_policy_conditions)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def s3(sandbox: Any) -> Any:
    client = boto3.client(
        "s3", endpoint_url=sandbox.endpoint, region_name=sandbox.region,
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip
    client.create_bucket(Bucket="policy-probe")
    client.put_object(Bucket="policy-probe", Key="object", Body=b"data")
    return client


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_deny_whose_condition_does_not_match_does_not_apply(s3: Any) -> None:
    s3.put_bucket_policy(
        Bucket="policy-probe",
        Policy=policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::policy-probe/*",
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    )  # fmt: skip

    assert s3.get_object(Bucket="policy-probe", Key="object")["Body"].read() == b"data"


def test_an_unconditional_deny_still_denies(s3: Any) -> None:
    s3.put_bucket_policy(
        Bucket="policy-probe",
        Policy=policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::policy-probe/*"}),
    )  # fmt: skip

    with pytest.raises(ClientError, match=r"\(403\)"):
        s3.get_object(Bucket="policy-probe", Key="object")


def test_iam_accepts_the_arns_of_s3_regional_resources(sandbox: Any) -> None:
    """AWS: S3 Access Grants, Batch Operations jobs and Storage Lens have regional ARNs."""
    iam = boto3.client(
        "iam", endpoint_url=sandbox.endpoint, region_name=sandbox.region,
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip
    document = policy(
        {"Effect": "Allow", "Action": "s3:GetAccessGrantsInstance",
         "Resource": f"arn:aws:s3:{sandbox.region}:{sandbox.account_id}:access-grants/default"},
    )  # fmt: skip

    created = iam.create_policy(PolicyName="access-grants-reader", PolicyDocument=document)

    assert created["Policy"]["PolicyName"] == "access-grants-reader"
    with pytest.raises(ClientError, match="MalformedPolicyDocument"):
        iam.create_policy(
            PolicyName="bucket-with-region",
            PolicyDocument=policy({"Effect": "Allow", "Action": "s3:GetObject",
                                   "Resource": f"arn:aws:s3:{sandbox.region}:{sandbox.account_id}:bucket/x"}),
        )  # fmt: skip
