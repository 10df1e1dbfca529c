"""How properties reach handlers: as API parameters, with dynamic references resolved,
and stringified for custom resources."""

from __future__ import annotations

import json

import boto3
import pytest

from sandbox.cloudformation.dynamic_references import resolve
from sandbox.cloudformation.providers.api_params import api_params
from sandbox.cloudformation.providers.base import ResourceFailed
from sandbox.cloudformation.providers.custom import stringify


def client(service: str) -> object:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_properties_become_typed_api_parameters_and_unknown_ones_are_dropped() -> None:
    properties = {
        "Engine": "aurora-postgresql",
        "Port": "5432",
        "StorageEncrypted": "true",
        "ServerlessV2ScalingConfiguration": {"MinCapacity": "0.5", "MaxCapacity": 2},
        "SnapshotIdentifierThatDoesNotExist": "x",
    }

    params = api_params(client("rds"), "CreateDBCluster", properties, DBClusterIdentifier="db")

    assert params == {
        "DBClusterIdentifier": "db",
        "Engine": "aurora-postgresql",
        "Port": 5432,
        "StorageEncrypted": True,
        "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 2.0},
    }


def test_an_object_where_the_api_wants_text_becomes_json() -> None:
    policy = {"Version": "2012-10-17", "Statement": []}

    params = api_params(client("opensearch"), "CreateDomain", {"AccessPolicies": policy}, DomainName="d")

    assert json.loads(params["AccessPolicies"]) == policy


def test_cloudfront_lists_are_wrapped_and_names_match_without_case() -> None:
    config = {
        "Enabled": True,
        "Comment": "",
        "Aliases": ["a.example.com"],
        "Origins": [{"Id": "o", "DomainName": "b.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "https-only"},
        "ViewerCertificate": {"AcmCertificateArn": "arn:cert", "SslSupportMethod": "sni-only"},
    }

    params = api_params(client("cloudfront"), "CreateDistribution", {"DistributionConfig": config})

    distribution = params["DistributionConfig"]
    assert distribution["Aliases"] == {"Quantity": 1, "Items": ["a.example.com"]}
    assert distribution["Origins"]["Quantity"] == 1
    assert distribution["ViewerCertificate"] == {"ACMCertificateArn": "arn:cert", "SSLSupportMethod": "sni-only"}


def test_dynamic_references_resolve_ssm_and_secrets_manager_json_keys() -> None:
    secrets = {"arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf": json.dumps({"password": "pw"})}

    def parameter(name: str, version: str | None) -> str:
        return {"/app/name": "platform"}[name]

    def secret(secret_id: str, stage: str | None, version: str | None) -> str:
        return secrets[secret_id]

    value = {
        "Name": "{{resolve:ssm:/app/name}}-db",
        "Password": (
            "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf:SecretString:password::}}"
        ),
        "Plain": 5,
    }

    assert resolve(value, parameter, secret) == {"Name": "platform-db", "Password": "pw", "Plain": 5}


def test_an_unresolvable_dynamic_reference_fails_the_resource() -> None:
    def missing(*args: object) -> str:
        raise LookupError("not there")

    with pytest.raises(ResourceFailed, match="Could not resolve the dynamic reference"):
        resolve("{{resolve:ssm:/none}}", missing, missing)


def test_custom_resource_properties_arrive_as_strings_as_cloudformation_sends_them() -> None:
    assert stringify({"Count": 3, "On": True, "List": [1.5, False], "Nested": {"N": 0}}) == {
        "Count": "3",
        "On": "true",
        "List": ["1.5", "false"],
        "Nested": {"N": "0"},
    }
