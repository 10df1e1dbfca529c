"""Plan's check that a stage it creates names nothing that exists already (issue 17, item 5): an
uninstall keeps what holds data with its name, and CloudFormation's create of a resource named like
an existing one fails ("already exists", e.g. S3's BucketAlreadyOwnedByYou,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html#API_CreateBucket_Errors)
halfway through the run."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lambdas.core.errors import NameTaken
from lambdas.run.collisions import NamedResource, named_resources, refuse_collisions
from tests.unit.conftest import REGION

PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": REGION}
TEMPLATE: dict[str, Any] = {
    "Parameters": {"ResourcePrefix": {"Type": "String"}, "EnvName": {"Type": "String", "Default": "prod"}},
    "Resources": {
        "Data": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "RetainExceptOnCreate",
            "Properties": {
                "BucketName": {
                    "Fn::Join": ["-", [{"Ref": "ResourcePrefix"}, {"Ref": "EnvName"}, "res", {"Ref": "AWS::AccountId"}]]
                }
            },
        },
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/dataall/${EnvName}/api"}}},
        "Unnamed": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "FromOtherResource": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Ref": "Data"}}},
        "Optional": {"Type": "AWS::S3::Bucket", "Condition": "Never", "Properties": {"BucketName": "x-optional"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "not-checked"}},
    },
}


def test_names_known_before_deploying_are_read_from_parameters_defaults_and_pseudo_parameters() -> None:
    found = named_resources("s3", TEMPLATE, {"ResourcePrefix": "dataall"}, PSEUDO)

    assert found == [
        NamedResource("s3", "Data", "AWS::S3::Bucket", "dataall-prod-res-123456789012"),
        NamedResource("s3", "Logs", "AWS::Logs::LogGroup", "/dataall/prod/api"),
    ]


def test_a_run_creating_a_stage_whose_bucket_and_log_group_exist_is_refused_naming_both(aws: None) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="dataall-prod-res-123456789012")
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="/dataall/prod/api")
    found = named_resources("s3", TEMPLATE, {"ResourcePrefix": "dataall"}, PSEUDO)

    with pytest.raises(NameTaken) as refused:
        refuse_collisions(found, lambda service, region: boto3.client(service, region_name=region), {"s3": REGION})

    assert refused.value.field == "stages.s3.Data"
    assert "'dataall-prod-res-123456789012'" in str(refused.value)
    assert "'/dataall/prod/api'" in str(refused.value)
    assert "Nothing was changed" in str(refused.value)


def test_names_nobody_holds_pass(aws: None) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="dataall-other-res-123456789012")
    found = named_resources("s3", TEMPLATE, {"ResourcePrefix": "dataall"}, PSEUDO)

    refuse_collisions(found, lambda service, region: boto3.client(service, region_name=region), {"s3": REGION})


class _Release:
    bootstrap_template: dict[str, Any] = {"Parameters": {"AdoptLedger": {"AllowedValues": ["true", "false"]}}}


def test_a_new_bootstrap_stack_adopts_the_ledger_an_uninstall_kept_and_refuses_to_create_it_again(aws: None) -> None:
    from installer.aws import Aws
    from installer.operations import Installation, OperationError, _with_ledger_choice, ledger_table_name

    installation = Installation(prefix="dataall", env="test")
    client = Aws(region=REGION)
    release: Any = _Release()
    assert _with_ledger_choice(client, release, installation, {})["AdoptLedger"] == "false"
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=ledger_table_name(installation),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    assert _with_ledger_choice(client, release, installation, {})["AdoptLedger"] == "true"
    with pytest.raises(OperationError) as refused:
        _with_ledger_choice(client, release, installation, {"AdoptLedger": "false"})
    assert refused.value.code == "LedgerExists"
    assert refused.value.field == "--param AdoptLedger"
    assert "dataall-test-installer-ledger" in str(refused.value)
