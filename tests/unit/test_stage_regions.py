"""A stage in another region than the workflow's (data.all's CloudFront stage, in us-east-1).

The manifest names the region; the workflow's steps reach that stage's stack with CloudFormation of
that region, and what the stack reads — its template and its Lambda code, which Lambda takes only
from a bucket of the function's own region (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html)
— is copied first into the installation's bucket there, which its `AssetsBucket` names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from lambdas.core.deps import Deps
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger
from lambdas.data.releases import RegionalStore, ReleaseStore
from lambdas.data.stacks import Stacks, region_of_stack
from lambdas.release.manifest import ManifestError
from sandbox import moto_internals
from tests.unit.releases import small_release, stage

HOME = "eu-west-1"
AWAY = "us-east-1"
ACCOUNT = "000000000000"
ARTIFACTS = "dataall-test-artifacts"
ASSET = "assets/" + "ab" * 32 + ".zip"
UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
SETTINGS = Settings(ledger_table="ledger", artifacts_bucket=ARTIFACTS, resource_prefix="dataall", env_name="test")


def _deps(s3: Any) -> Deps:
    return Deps(
        settings=SETTINGS,
        ledger=Ledger(boto3.resource("dynamodb", region_name=HOME).Table("ledger")),
        store=ReleaseStore(s3, ARTIFACTS),
        stacks=Stacks(boto3.client("cloudformation", region_name=HOME)),
        sfn=None,
        sns=None,
        region=HOME,
        account_id=ACCOUNT,
        regional_client=lambda service, region: boto3.client(service, region_name=region),
    )


@pytest.fixture
def home_s3(aws: None) -> Any:
    moto_internals.fix_policy_conditions()  # the sandbox's S3 reads aws:SecureTransport as AWS's endpoint does
    s3 = boto3.client("s3", region_name=HOME)
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": HOME})
    template = {"Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {
        "S3Bucket": {"Ref": "AssetsBucket"}, "S3Key": ASSET}}}}}  # fmt: skip
    s3.put_object(Bucket=ARTIFACTS, Key="releases/2.9.0/blueprints/edge.template.json", Body=json.dumps(template))
    s3.put_object(Bucket=ARTIFACTS, Key=ASSET, Body=b"code")
    s3.put_object(Bucket=ARTIFACTS, Key="assets/" + "cd" * 32 + ".zip", Body=b"not named by the template")
    return s3


def test_the_stack_id_names_the_region_of_a_stage() -> None:
    assert region_of_stack("arn:aws:cloudformation:us-east-1:000000000000:stack/dataall-test-cloudfront/1") == AWAY
    assert region_of_stack(None) is None and region_of_stack("dataall-test-cloudfront") is None


def test_deps_of_the_workflows_own_region_are_the_deps_themselves(home_s3: Any) -> None:
    deps = _deps(home_s3)

    assert deps.in_region(None) is deps and deps.in_region(HOME) is deps
    context = {"AssetsBucket": ARTIFACTS, "Region": HOME}
    assert deps.stage_context(context) == context


def test_a_stage_elsewhere_gets_that_regions_cloudformation_and_bucket(home_s3: Any) -> None:
    there = _deps(home_s3).in_region(AWAY)

    assert there.region == AWAY and there.home_region == HOME and there.away
    assert there.stacks.cfn.meta.region_name == AWAY
    bucket = f"dataall-test-{ACCOUNT}-{AWAY}"
    # the installation's region stays the one the stage reads back with (HomeRegion is `Region`)
    assert there.stage_context({"AssetsBucket": ARTIFACTS, "Region": HOME}) == {"AssetsBucket": bucket, "Region": HOME}
    # the release's reads stay the workflow's
    assert there.store.bucket == ARTIFACTS


def test_a_stage_elsewhere_reads_its_template_and_code_from_a_private_bucket_of_its_region(home_s3: Any) -> None:
    store = _deps(home_s3).in_region(AWAY).store
    assert isinstance(store, RegionalStore)

    url = store.template_url(AWAY, "2.9.0", "blueprints/edge.template.json")

    bucket = f"dataall-test-{ACCOUNT}-{AWAY}"
    assert url == f"https://{bucket}.s3.{AWAY}.amazonaws.com/releases/2.9.0/blueprints/edge.template.json"
    away = boto3.client("s3", region_name=AWAY)
    assert away.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (None, AWAY)
    keys = sorted(o["Key"] for o in away.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [ASSET, "releases/2.9.0/blueprints/edge.template.json"]  # only what the template names
    assert away.get_object(Bucket=bucket, Key=ASSET)["Body"].read() == b"code"
    blocked = away.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values())
    (statement,) = json.loads(away.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # again (a retried call, the next stage there): the same URL, nothing made twice
    assert store.template_url(AWAY, "2.9.0", "blueprints/edge.template.json") == url
    again = _deps(home_s3).in_region(AWAY).store
    assert again.template_url(AWAY, "2.9.0", "blueprints/edge.template.json") == url


def test_the_manifest_takes_a_stages_region_and_refuses_one_that_is_not_a_region() -> None:
    edge = {**stage("edge"), "region": AWAY}
    release = small_release(stage("core"), edge)

    assert release.manifest.steps["edge"].region_in(HOME) == AWAY
    assert release.manifest.steps["core"].region_in(HOME) == HOME
    with pytest.raises(ManifestError, match=r"stages\.1\.region: 'the moon' does not match"):
        small_release(stage("core"), {**edge, "region": "the moon"})


# ---------------------------------------------------------------------------- the import's rule
SYNTHESIS_AWAY = rules.Synthesis(
    account="111111111111",
    region="us-east-1",
    asset_buckets=frozenset({"cdk-hnb659fds-assets-111111111111-us-east-1"}),
    asset_keys={},
    home_region="eu-west-1",
)


def test_the_home_region_a_stack_of_another_region_names_becomes_the_installers_home_region() -> None:
    template = {"Resources": {"R": {"Type": "T", "Properties": {
        "Env": {"deployment_region": "eu-west-1"},
        "Pool": "arn:aws:cognito-idp:eu-west-1:111111111111:userpool/*",
        "Key": "arn:aws:kms:us-east-1:111111111111:key/*",
    }}}}  # fmt: skip

    result = rules.apply(template, SYNTHESIS_AWAY)

    properties = result["Resources"]["R"]["Properties"]
    assert properties["Env"] == {"deployment_region": {"Ref": "HomeRegion"}}
    assert properties["Pool"] == {"Fn::Sub": "arn:aws:cognito-idp:${HomeRegion}:${AWS::AccountId}:userpool/*"}
    assert properties["Key"] == {"Fn::Sub": "arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/*"}
    assert result["Parameters"]["HomeRegion"]["Type"] == "String"


def test_a_stack_of_the_home_region_gets_no_home_region_parameter() -> None:
    template = {"Resources": {"R": {"Type": "T", "Properties": {"Region": "eu-west-1"}}}}
    home = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={},
                           home_region="")  # fmt: skip

    result = rules.apply(template, home)

    assert result["Resources"]["R"]["Properties"]["Region"] == {"Ref": "AWS::Region"}
    assert "Parameters" not in result


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_datalls_cloudfront_stage_is_imported_into_us_east_1_after_the_backend(version: str) -> None:
    from cloud_assembly.reader import CloudAssembly
    from installer.dataall import import_stages, stage_document

    report = import_stages(CloudAssembly.load(UPSTREAM / version / "cdk.out"))

    documents = {stage.name: stage_document(stage) for stage in report.stages}
    away = {name: d for name, d in documents.items() if "region" in d}
    counts = {s.name: (away[s.name]["region"], s.resource_count) for s in report.stages if s.name in away}
    # cloudfront: data.all's 19 and the IPSet of its WebACL (under the WafAllowedIpRanges condition)
    assert counts == {"cloudfront": (AWAY, 20), "frontend-cognito-config": (AWAY, 11)}
    assert not any(what.endswith("-cloudfront-stack") for what, _ in report.dropped)
    config = away["frontend-cognito-config"]
    assert config["parameters"] == {
        "AssetsBucket": "${param:AssetsBucket}",
        "HomeRegion": "${param:Region}",
        # the installation's names (the names rule's)
        "ResourcePrefix": "${param:ResourcePrefix}",
        "EnvName": "${param:EnvName}",
    }
    backend = {name for name in documents if name not in away}
    assert set(config["depends_on"]) == backend | {"cloudfront"}
    assert away["cloudfront"]["depends_on"] == [] and "HomeRegion" not in away["cloudfront"]["parameters"]
    for imported in report.stages:
        if imported.name in away:
            text = json.dumps(imported.template)
            assert "eu-west-1" not in text and "us-east-1" not in text and "111111111111" not in text, imported.name
