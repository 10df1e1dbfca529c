"""Lambda reads a function's code only from a bucket in the function's own Region.

AWS, Lambda API reference, FunctionCode (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html):
"S3Bucket — An Amazon S3 bucket in the same AWS Region as your function." A bucket elsewhere fails
CreateFunction with InvalidParameterValueException ("… S3 Error Code: PermanentRedirect …"). moto
5.2.5 read the object wherever the bucket was, so a stage in another region than the installer's
would have run from code Lambda never gives it (`sandbox.moto_internals.fix_lambda_code_bucket_region`).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox import moto_internals


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _function(region: str, bucket: str) -> Any:
    iam = boto3.client("iam", region_name=region)
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    try:
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except ClientError:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    return boto3.client("lambda", region_name=region).create_function(
        FunctionName=f"fn-{region}",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"S3Bucket": bucket, "S3Key": "code.zip"},
    )


def _bucket(name: str, region: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **where)
    s3.put_object(Bucket=name, Key="code.zip", Body=_code())


def test_a_function_takes_code_from_a_bucket_of_its_own_region_only(aws: None) -> None:
    moto_internals.fix_lambda_code_bucket_region()
    _bucket("code-eu", "eu-west-1")
    _bucket("code-us", "us-east-1")

    with pytest.raises(ClientError) as refused:
        _function("us-east-1", "code-eu")

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "PermanentRedirect" in str(refused.value) and "eu-west-1" in str(refused.value)
    assert _function("us-east-1", "code-us")["FunctionName"] == "fn-us-east-1"
    assert _function("eu-west-1", "code-eu")["FunctionName"] == "fn-eu-west-1"
