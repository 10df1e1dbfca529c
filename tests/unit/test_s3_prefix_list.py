"""S3's prefix list, per installation region: data.all's ECS task security groups get the egress rule
(tcp/443 to `com.amazonaws.<region>.s3`) its online synthesis gives them, from the `S3PrefixListId`
parameter, which Plan fills from DescribePrefixLists in the stage's region."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from blueprints.dataall.stages import ImportedStage
from cloud_assembly.reader import CloudAssembly
from installer.dataall import stage_document
from lambdas.core.deps import Deps
from lambdas.core.errors import RegionUnsupported
from lambdas.release.manifest import resolve_parameters
from lambdas.run import region_values
from lambdas.run.planning import plan
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_planning import request

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
BACKEND = "dataall-dev-backend-stage-backend-stack"
ECS_PATH = "dataall-main-cicd-stack/dataall-dev-backend-stage/backend-stack/ECS"
NO_SYNTHESIS = rules.Synthesis(account="", region="", asset_buckets=frozenset(), asset_keys={})
ARTIFACTS = "dataall-test-artifacts"
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")


def data_alls_ecs_stack(version: str) -> dict[str, Any]:
    backend = CloudAssembly.load(UPSTREAM / version / "cdk.out").stack(BACKEND)
    (ecs,) = [nested for nested in backend.nested().values() if nested.construct_name == "ECS"]
    return ecs.template


def egress_rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if "DestinationPrefixListId" in resource.get("Properties", {})
    }


# ---------------------------------------------------------------------- the import's rule
@needs_upstream
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_data_alls_ecs_task_groups_get_the_s3_egress_rule_its_online_synthesis_gives_them(version: str) -> None:
    upstream = data_alls_ecs_stack(version)
    assert egress_rules(upstream) == {}  # the offline synthesis left it out

    template = rules.apply(upstream, NO_SYNTHESIS)

    # deploy/stacks/container.py create_ecs_security_groups: for each group,
    # sg_connection.allow_to(ec2.Connections(peer=ec2.Peer.prefix_list(s3_prefix_list)), Port.tcp(443), ...),
    # as CDK synthesizes it for a prefix list given as a token (its peer: `{IndirectPeer}`).
    assert egress_rules(template) == {
        f"{group}toIndirectPeer443{digest}": {
            "Type": "AWS::EC2::SecurityGroupEgress",
            "Properties": {
                "Description": "Allow ECS Task to S3 Prefix List",
                "DestinationPrefixListId": {"Ref": "S3PrefixListId"},
                "FromPort": 443,
                "GroupId": {"Fn::GetAtt": [group_id, "GroupId"]},
                "IpProtocol": "tcp",
                "ToPort": 443,
            },
            "Metadata": {"aws:cdk:path": f"{ECS_PATH}/{group}/to {{IndirectPeer}}:443"},
        }
        for group, group_id, digest in [
            ("ScheduledTasksSGdev", "ScheduledTasksSGdev5F5C6519", "14E96232"),
            ("ShareManagerSGdev", "ShareManagerSGdevE0EEE3CD", "0AE61275"),
        ]
    }
    assert template["Parameters"]["S3PrefixListId"]["AllowedPattern"] == rules.PREFIX_LIST_ID
    assert len(template["Resources"]) == len(upstream["Resources"]) + 2


@needs_upstream
def test_the_rules_logical_ids_are_cdks_for_every_construct_of_data_alls_ecs_stack() -> None:
    template = data_alls_ecs_stack("2.9.0")
    paths = {
        logical_id: resource["Metadata"]["aws:cdk:path"].removeprefix(ECS_PATH + "/").split("/")
        for logical_id, resource in template["Resources"].items()
        if resource.get("Metadata", {}).get("aws:cdk:path", "").startswith(ECS_PATH + "/")
    }

    assert len(paths) == 97
    assert [logical_id for logical_id, path in paths.items() if rules.cdk_logical_id(path) != logical_id] == []


def ecs_stack(*groups: str, egress: dict[str, Any] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}}}
    for group in groups:
        resources[rules.cdk_logical_id([group, "Resource"])] = {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": group},
            "Metadata": {"aws:cdk:path": f"{ECS_PATH}/{group}/Resource"},
        }
    return {"Resources": {**resources, **(egress or {})}}


def test_an_ecs_stack_without_data_alls_two_task_groups_stops_the_import_naming_them() -> None:
    with pytest.raises(rules.RuleError, match=r"ScheduledTasksSG<env>, ShareManagerSG<env>.*found: none"):
        rules.apply(ecs_stack(), NO_SYNTHESIS)
    with pytest.raises(rules.RuleError, match=r"found: \['ScheduledTasksSGprod"):
        rules.apply(ecs_stack("ScheduledTasksSGprod"), NO_SYNTHESIS)


def test_a_group_whose_logical_id_is_not_cdks_for_its_path_stops_the_import() -> None:
    template = ecs_stack("ScheduledTasksSGprod", "ShareManagerSGprod")
    template["Resources"]["Renamed"] = template["Resources"].pop(
        rules.cdk_logical_id(["ShareManagerSGprod", "Resource"])
    )

    with pytest.raises(rules.RuleError, match="security group Renamed"):
        rules.apply(template, NO_SYNTHESIS)


def test_an_online_synthesis_rule_takes_the_parameter_in_place_of_its_regions_literal_id() -> None:
    group_id = rules.cdk_logical_id(["ShareManagerSGprod", "Resource"])
    online = {
        "Type": "AWS::EC2::SecurityGroupEgress",
        "Properties": {"DestinationPrefixListId": "pl-6da54004", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp",
                       "GroupId": {"Fn::GetAtt": [group_id, "GroupId"]}},
    }  # fmt: skip
    template = ecs_stack("ScheduledTasksSGprod", "ShareManagerSGprod", egress={"Online": online})

    result = rules.apply(template, NO_SYNTHESIS)

    rules_now = egress_rules(result)
    assert rules_now["Online"]["Properties"]["DestinationPrefixListId"] == {"Ref": "S3PrefixListId"}
    assert len(rules_now) == 2 and "pl-6da54004" not in json.dumps(result)


def test_a_template_without_data_alls_ecs_cluster_is_left_as_it_is() -> None:
    template = ecs_stack("ScheduledTasksSGprod", "ShareManagerSGprod")
    del template["Resources"]["Cluster"]

    assert rules.apply(template, NO_SYNTHESIS) == template


def test_the_stage_reading_the_prefix_list_takes_it_from_the_installer() -> None:
    template = rules.apply(ecs_stack("ScheduledTasksSGprod", "ShareManagerSGprod"), NO_SYNTHESIS)
    imported = ImportedStage("ecs", "backend/ECS", None, template, parameters={}, depends_on=(), stateful=False)

    assert stage_document(imported)["parameters"] == {"S3PrefixListId": "${param:S3PrefixListId}"}


# ---------------------------------------------------------------------- Plan's value
def prefix_list_release(region: str | None = None) -> SmallRelease:
    ecs = stage("ecs", parameters={"S3PrefixListId": "${param:S3PrefixListId}"})
    if region:
        ecs["region"] = region
    return small_release(stage("vpc"), ecs)


@pytest.fixture
def deps(aws: None) -> Deps:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    return moto_deps(ARTIFACTS)


def s3_list(region: str) -> str:
    lists = boto3.client("ec2", region_name=region).describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}]
    )
    return str(lists["PrefixLists"][0]["PrefixListId"])


def test_plan_fills_the_prefix_list_of_the_stages_region_and_records_it_with_the_runs_parameters(
    deps: Deps,
) -> None:
    release = prefix_list_release()
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)

    plan(deps, request({"action": "install", "version": release.version}))

    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.params["S3PrefixListId"] == s3_list(REGION)
    step = release.manifest.steps["ecs"]
    assert resolve_parameters(step, deps.stage_context(run.params), lambda s, o: "") == {
        "S3PrefixListId": s3_list(REGION)
    }


def test_a_stage_of_another_region_reads_the_prefix_list_of_its_own_region(deps: Deps) -> None:
    release = prefix_list_release(region="eu-west-1")
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)

    plan(deps, request({"action": "install", "version": release.version}))

    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.params["S3PrefixListId@eu-west-1"] == s3_list("eu-west-1")
    assert "S3PrefixListId" not in run.params and s3_list("eu-west-1") != s3_list(REGION)
    there = deps.in_region("eu-west-1")
    step = release.manifest.steps["ecs"]
    assert resolve_parameters(step, there.stage_context(run.params), lambda s, o: "") == {
        "S3PrefixListId": s3_list("eu-west-1")
    }


def test_a_release_whose_stages_read_no_prefix_list_asks_ec2_nothing() -> None:
    def no_client(service: str, region: str) -> Any:
        raise AssertionError(f"asked {service} in {region}")

    assert region_values.make(small_release(stage("vpc")).manifest.steps, REGION, no_client) == {}


class NoPrefixLists:
    def describe_prefix_lists(self, **_: Any) -> dict[str, Any]:
        return {"PrefixLists": []}


def test_plan_refuses_a_region_without_s3s_prefix_list_naming_the_region_and_changes_nothing(deps: Deps) -> None:
    release = prefix_list_release()
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    answers = copy.copy(deps)
    answers.regional_client = lambda service, region: (
        NoPrefixLists() if service == "ec2" else deps.regional_client(service, region)
    )

    with pytest.raises(RegionUnsupported, match=f"region {REGION} has no AWS-managed prefix list") as refused:
        plan(answers, request({"action": "install", "version": release.version}))

    assert refused.value.field == "stages.ecs.parameters.S3PrefixListId"
    assert deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []
