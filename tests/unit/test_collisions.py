"""Plan's check that a stage it creates names nothing that exists already (issue 17, item 5): an
uninstall keeps what holds data with its name, and CloudFormation's create of a resource named like
an existing one fails ("already exists", e.g. S3's BucketAlreadyOwnedByYou,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html#API_CreateBucket_Errors)
halfway through the run. Another data.all installation in the same account and region holds names
too: data.all names its KMS aliases by ResourcePrefix alone, and its SSM parameters, RDS monitoring
role and exports by EnvName alone (export names are unique per account and region:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambdas.core.errors import NameTaken
from lambdas.data.named_resources import EXPORT
from lambdas.data.records import ReleaseRecord
from lambdas.run.collisions import NamedResource, named_resources, refuse_collisions
from lambdas.run.planning import plan
from tests.unit.conftest import REGION
from tests.unit.releases import platform, small_release, stage
from tests.unit.test_plan_refusals import make_deps, with_template
from tests.unit.test_planning import installed, nothing_changed, request

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


# ---------------------------------------------------------------------- names another installation holds
#: What data.all names by one of the installation's names alone, as the `params` stage of the unit tier's
#: installation (`dataall`/`test`) names them: logical id -> (its type, its naming property, the name).
HELD_BY_ONE_NAME: dict[str, tuple[str, str, Any]] = {
    "EnvKeyAlias": ("AWS::KMS::Alias", "AliasName", {"Fn::Sub": "alias/${ResourcePrefix}-lambda-env-var-key"}),
    "UserPoolParameter": ("AWS::SSM::Parameter", "Name", {"Fn::Sub": "/dataall/${EnvName}/cognito/userpool"}),
    "MonitoringRole": (
        "AWS::IAM::Role",
        "RoleName",
        {"Fn::Join": ["-", ["dataall-rds-enhanced-monitoring-role", {"Ref": "EnvName"}]]},
    ),
}
EXPORTED = {"Fn::Sub": "CognitoUserPoolId${EnvName}"}


def naming_like_data_all(template: dict[str, Any]) -> None:
    """The `params` stage's template, naming what data.all names by its prefix or its env alone."""
    template.setdefault("Parameters", {}).update(
        {"ResourcePrefix": {"Type": "String", "Default": "dataall"}, "EnvName": {"Type": "String", "Default": "test"}}
    )
    for logical_id, (kind, prop, name) in HELD_BY_ONE_NAME.items():
        template["Resources"][logical_id] = {"Type": kind, "Properties": {prop: name}}
    template["Outputs"]["UserPoolId"] = {"Value": "pool", "Export": {"Name": EXPORTED}}


def key_alias() -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/dataall-lambda-env-var-key", TargetKeyId=key)


def ssm_parameter() -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/dataall/test/cognito/userpool", Value="another installation's", Type="String"
    )


def monitoring_role() -> None:
    # IAM is global: a role made through any region's endpoint is the account's
    boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="dataall-rds-enhanced-monitoring-role-test", AssumeRolePolicyDocument="{}"
    )


def export_of(stack: str) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"UserPoolId": {"Value": "pool", "Export": {"Name": "CognitoUserPoolIdtest"}}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=stack, TemplateBody=json.dumps(template))


def test_exports_named_before_deploying_are_read_from_the_outputs_unless_conditional() -> None:
    template: dict[str, Any] = {"Resources": {}, "Outputs": {}}
    naming_like_data_all(template)
    template["Outputs"]["Maybe"] = {"Value": "x", "Condition": "Never", "Export": {"Name": "MaybeExported"}}
    template["Outputs"]["Plain"] = {"Value": "x"}
    template["Outputs"]["FromAResource"] = {"Value": "x", "Export": {"Name": {"Fn::GetAtt": ["Pool", "Arn"]}}}

    found = named_resources("params", template, {}, PSEUDO)

    assert [(f.logical_id, f.resource_type, f.name) for f in found] == [
        ("EnvKeyAlias", "AWS::KMS::Alias", "alias/dataall-lambda-env-var-key"),
        ("UserPoolParameter", "AWS::SSM::Parameter", "/dataall/test/cognito/userpool"),
        ("MonitoringRole", "AWS::IAM::Role", "dataall-rds-enhanced-monitoring-role-test"),
        ("UserPoolId", EXPORT, "CognitoUserPoolIdtest"),
    ]
    # the types a caller names itself, and no export unless it names EXPORT
    assert named_resources("params", template, {}, PSEUDO, {"AWS::IAM::Role": "RoleName"}) == [found[2]]


@pytest.mark.parametrize(
    ("made", "logical_id", "name", "holder"),
    [
        (key_alias, "EnvKeyAlias", "'alias/dataall-lambda-env-var-key'", "the same ResourcePrefix"),
        (ssm_parameter, "UserPoolParameter", "'/dataall/test/cognito/userpool'", "the same EnvName"),
        (monitoring_role, "MonitoringRole", "'dataall-rds-enhanced-monitoring-role-test'", "the same EnvName"),
        (
            lambda: export_of("another-installation-cognito"),
            "UserPoolId",
            "'CognitoUserPoolIdtest'",
            "the same EnvName",
        ),
    ],
    ids=["kms-alias", "ssm-parameter", "iam-role", "export"],
)
def test_a_run_whose_new_stage_names_what_another_installation_holds_is_refused_and_records_nothing(
    aws: None, made: Any, logical_id: str, name: str, holder: str
) -> None:
    deps = make_deps(with_template(platform(), "params", naming_like_data_all))
    made()

    with pytest.raises(NameTaken) as refused:
        plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert refused.value.field == f"stages.params.{logical_id}"
    reason = str(refused.value)
    assert name in reason
    assert f"another data.all installation with {holder}" in reason
    assert "an earlier uninstall kept" not in reason  # not what holds these names
    assert "Nothing was changed" in reason and "another ResourcePrefix/EnvName" in reason
    assert nothing_changed(deps)


def test_a_run_whose_names_are_free_plans(aws: None) -> None:
    deps = make_deps(with_template(platform(), "params", naming_like_data_all))
    # Held by an installation with other names: not these.
    kms = boto3.client("kms", region_name=REGION)
    kms.create_alias(AliasName="alias/other-lambda-env-var-key", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/dataall/prod/cognito/userpool", Value="x", Type="String"
    )
    boto3.client("iam", region_name=REGION).create_role(
        RoleName="dataall-rds-enhanced-monitoring-role-prod", AssumeRolePolicyDocument="{}"
    )

    result = plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert "params" in [step["name"] for step in result["steps"]]


def test_an_export_the_installations_own_stage_makes_is_no_collision(aws: None) -> None:
    deps = make_deps(with_template(platform(), "params", naming_like_data_all))
    export_of(deps.settings.stack_name("params"))  # the stage exists: what it names is its own

    result = plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert "params" in [step["name"] for step in result["steps"]]


def test_one_listing_per_region_answers_every_export_and_alias(aws: None) -> None:
    export_of("another-installation-cognito")
    calls: list[str] = []

    def client(service: str, region: str) -> Any:
        made = boto3.client(service, region_name=region)
        made.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        return made

    free = [NamedResource(stage, "Out", EXPORT, f"Free{stage}") for stage in ("a", "b", "c")]
    aliases = [NamedResource(stage, "Alias", "AWS::KMS::Alias", f"alias/free-{stage}") for stage in ("a", "b")]
    refuse_collisions([*free, *aliases], client, dict.fromkeys(("a", "b", "c"), REGION))

    assert sorted(calls) == ["ListAliases", "ListExports"]


def test_a_refusal_says_what_may_hold_each_kind_of_name(aws: None) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="dataall-prod-res-123456789012")
    key_alias()
    found = [
        *named_resources("s3", TEMPLATE, {"ResourcePrefix": "dataall"}, PSEUDO),
        NamedResource("params", "EnvKeyAlias", "AWS::KMS::Alias", "alias/dataall-lambda-env-var-key"),
    ]

    with pytest.raises(NameTaken) as refused:
        refuse_collisions(found, lambda service, region: boto3.client(service, region_name=region), {
            "s3": REGION, "params": REGION})  # fmt: skip

    reason = str(refused.value)
    assert "what an earlier uninstall kept" in reason
    assert "another data.all installation with the same ResourcePrefix" in reason
    assert "'dataall-prod-res-123456789012'" in reason and "'alias/dataall-lambda-env-var-key'" in reason


# ---------------------------------------------------------------------- what the run frees itself
ENDPOINT = "/dataall/test/elasticsearch/endpoint"


def swapping(template: dict[str, Any]) -> None:
    """data.all's search domain stage and its serverless collection stage both make this parameter."""
    template["Resources"]["Endpoint"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": ENDPOINT, "Type": "String", "Value": "x"},
    }


@pytest.mark.parametrize(
    ("holder", "deletion_policy", "refused"),
    [
        ("dataall-test-collection", None, False),  # the stage the run deletes first
        ("dataall-test-collection", "Retain", True),  # its delete keeps the parameter
        ("another-installation-search", None, True),
    ],
    ids=["the-replaced-stage", "kept-by-its-delete", "another-stack"],
)
def test_a_name_the_stage_an_option_swaps_out_holds_is_freed_by_the_run_itself(
    aws: None, holder: str, deletion_policy: str | None, refused: bool
) -> None:
    release = small_release(
        stage("vpc", outputs=("VpcId",)),
        stage("search", when={"option": "Serverless", "equals": False}),
        stage("collection", when={"option": "Serverless", "equals": True}),
        options={"Serverless": {"type": "boolean", "default": True}},
        version="2.9.0",
    )
    release = with_template(with_template(release, "search", swapping), "collection", swapping)
    deps = make_deps(release)
    collection = json.loads(release.files["blueprints/collection.template.json"])
    if deletion_policy:
        collection["Resources"]["Endpoint"]["DeletionPolicy"] = deletion_policy
    cfn = boto3.client("cloudformation", region_name=REGION)
    held = cfn.create_stack(StackName=holder, TemplateBody=json.dumps(collection))["StackId"]
    installed(deps, "vpc")
    installed(deps, "collection", stack_id=held if holder == "dataall-test-collection" else None)
    assert boto3.client("ssm", region_name=REGION).get_parameter(Name=ENDPOINT)  # moto made it

    deps.ledger.set_current_release(ReleaseRecord(version="2.8.0", options={"Serverless": True}, run="install-1"))

    # An upgrade (a redeploy would start drift detections, which moto does not implement) turning it off
    run = request({"action": "upgrade", "version": "2.9.0", "options": {"Serverless": False}}, "swap-1")
    if not refused:
        result = plan(deps, run)
        assert [s["name"] for s in result["steps"] if s["name"] in ("collection", "search")] == ["collection", "search"]
        return
    with pytest.raises(NameTaken) as refusal:
        plan(deps, run)
    assert refusal.value.field == "stages.search.Endpoint"
    assert f"'{ENDPOINT}'" in str(refusal.value)
    assert nothing_changed(deps)
