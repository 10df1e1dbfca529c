"""The import of a CDK cloud assembly into stages (`blueprints/dataall`), on data.all's own
assemblies in `../shared/upstream/dataall` (read, never copied) and on small templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blueprints.dataall import rules
from blueprints.dataall.stages import Imported, split_stack, stage_name
from cloud_assembly.reader import AssemblyError, CloudAssembly

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
BACKEND = "dataall-dev-backend-stage-backend-stack"
CLOUDFRONT = "dataall-dev-cloudfront-stage-cloudfront-stack"
TRIGGERS = {
    "DbSnapshots": "the migrate action",
    "DbMigrations": "the migrate action",
    "SavePerms": "the migrate action",
}
NO_SYNTHESIS = rules.Synthesis(account="", region="", asset_buckets=frozenset(), asset_keys={})

needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")


def imported(version: str, stack_name: str, root_name: str) -> Imported:
    assembly = CloudAssembly.load(UPSTREAM / version / "cdk.out")
    stack = assembly.stack(stack_name)
    synthesis = rules.Synthesis(
        account=stack.account,
        region=stack.region,
        asset_buckets=frozenset(a.bucket for a in stack.assets),
        asset_keys={a.key: f"assets/{a.id}.zip" for a in stack.assets},
    )
    return split_stack(stack, root_name=root_name, drop=TRIGGERS, synthesis=synthesis)


@pytest.mark.parametrize(
    ("construct", "name"),
    [("Vpc", "vpc"), ("S3Resources", "s3-resources"), ("CWDashboards", "cw-dashboards"), ("ECS", "ecs"),
     ("FrontendCognitoConfig", "frontend-cognito-config"), ("SqsStack", "sqs-stack")],
)  # fmt: skip
def test_a_nested_stack_is_named_after_its_construct(construct: str, name: str) -> None:
    assert stage_name(construct) == name


def test_a_construct_name_too_long_for_a_stage_is_refused_by_name() -> None:
    with pytest.raises(AssemblyError, match="ThisConstructNameIsFarTooLongForAStage"):
        stage_name("ThisConstructNameIsFarTooLongForAStage")


@needs_upstream
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_every_nested_stack_of_the_backend_is_a_stage_with_all_its_resources(version: str) -> None:
    backend = imported(version, BACKEND, "backend")

    counts = {stage.name: stage.resource_count for stage in backend.stages}
    # The counts of ../shared/upstream/dataall/README.md: 508 with the root's nested-stack resources.
    assert counts == {
        "backend": 3, "vpc": 96, "param-store": 13, "s3-resources": 20, "cognito": 33, "sqs-stack": 9,
        "lambdas": 94, "ecs": 99, "aurora": 36, "cw-dashboards": 30, "open-search": 30,
    }  # fmt: skip
    # and the two egress rules of `s3_egress_of_the_installations_region`, the reauth SSM parameter of
    # `reauth_from_the_options` (under its condition: data.all makes it only when operations are given),
    # the IPSets of `waf_allowed_ranges_from_the_options` of the API's and Cognito's WebACLs (likewise), and
    # the network ACL of `restricted_nacl_from_the_option` with its 5 entries and 4 subnet associations (likewise),
    # and the API's domain name, base path mapping, alias record and second deployment of
    # `api_custom_domain_from_the_options` (likewise); `vpc_endpoints_sg_from_the_option` puts the ECS tasks' and
    # the functions' rules on data.all's endpoints group under its condition too; OpenSearch's service-linked role
    # is made under the condition of `service_linked_roles_when_missing`
    assert sum(counts.values()) + 17 * 3 + 13 == 508 + 2 + 1 + 2 + 10 + 4
    conditional = sorted({s.name for s in backend.stages for r in s.template["Resources"].values() if "Condition" in r})
    assert conditional == ["cognito", "ecs", "lambdas", "open-search", "param-store", "vpc"]
    assert sorted(what.split("/")[1] for what, _ in backend.dropped) == sorted(TRIGGERS)


@needs_upstream
def test_a_nested_stacks_parameters_read_the_outputs_of_the_stages_they_came_from() -> None:
    stages = {stage.name: stage for stage in imported("2.9.0", BACKEND, "backend").stages}

    for stage in stages.values():
        for parameter, value in stage.parameters.items():
            assert parameter in stage.template["Parameters"], (stage.name, parameter)
            assert value.startswith("${stage:"), (stage.name, parameter, value)
            producer, output = value.removeprefix("${stage:").removesuffix("}").split(".")
            assert output in stages[producer].outputs, (stage.name, value)
            assert producer in stage.depends_on
    assert stages["cognito"].depends_on == ("vpc",)
    assert {"vpc", "lambdas"} <= set(stages["aurora"].depends_on)


@needs_upstream
@pytest.mark.parametrize(("stack", "root"), [(BACKEND, "backend"), (CLOUDFRONT, "cloudfront-root")])
def test_no_stage_keeps_the_synthesis_account_or_cdk_bootstrap(stack: str, root: str) -> None:
    for stage in imported("2.9.0", stack, root).stages:
        text = json.dumps(stage.template)
        assert "111111111111" not in text, stage.name
        assert "cdk-hnb659fds-assets" not in text and "BootstrapVersion" not in text, stage.name
        if stage.region == "eu-west-1":
            assert "eu-west-1" not in text, stage.name


@needs_upstream
def test_a_stage_with_a_database_bucket_or_user_pool_is_stateful_and_the_network_is_not() -> None:
    stateful = {s.name: s.stateful for s in imported("2.9.0", BACKEND, "backend").stages}

    assert stateful["aurora"] and stateful["open-search"] and stateful["s3-resources"] and stateful["cognito"]
    assert not stateful["vpc"] and not stateful["lambdas"] and not stateful["ecs"]


@needs_upstream
def test_the_cloudfront_roots_only_resource_is_cdk_metadata_so_it_is_no_stage() -> None:
    stages = imported("2.9.0", CLOUDFRONT, "cloudfront-root").stages

    assert [(s.name, s.region) for s in stages] == [
        ("cloud-front", "us-east-1"),
        ("frontend-cognito-config", "us-east-1"),
    ]


def _stack(tmp_path: Path, root: dict[str, Any], nested: dict[str, dict[str, Any]]) -> Any:
    for name, template in nested.items():
        (tmp_path / f"{name}.nested.template.json").write_text(json.dumps(template))
    (tmp_path / "root.template.json").write_text(json.dumps(root))
    (tmp_path / "manifest.json").write_text(
        json.dumps({"version": "45.0.0", "artifacts": {"Root": {
            "type": "aws:cloudformation:stack", "environment": "aws://111111111111/eu-west-1",
            "properties": {"templateFile": "root.template.json", "stackName": "root"}}}})
    )  # fmt: skip
    return CloudAssembly.load(tmp_path).stack("root")


def _nested(name: str, **properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "x", **properties},
            "Metadata": {"aws:cdk:path": f"app/{name}.NestedStack/{name}.NestedStackResource",
                         "aws:asset:path": f"{name}.nested.template.json"}}  # fmt: skip


def test_a_root_resource_a_nested_stack_reads_becomes_an_output_of_the_roots_stage(tmp_path: Path) -> None:
    child_resource = _nested("Child", Parameters={"KeyArn": {"Fn::GetAtt": ["Key", "Arn"]}})
    root = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}, "Child": child_resource}}
    child = {"Parameters": {"KeyArn": {"Type": "String"}}, "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}

    stages = {s.name: s for s in split_stack(_stack(tmp_path, root, {"Child": child}), root_name="root",
                                             synthesis=NO_SYNTHESIS).stages}  # fmt: skip

    assert stages["child"].parameters == {"KeyArn": "${stage:root.KeyArn}"}
    assert stages["child"].depends_on == ("root",)
    assert stages["root"].template["Outputs"] == {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}}
    assert "Child" not in stages["root"].template["Resources"]


def test_a_stage_that_depends_on_a_dropped_nested_stack_is_refused_naming_both(tmp_path: Path) -> None:
    root = {"Resources": {"Trigger": _nested("Trigger"), "Reader": {**_nested("Reader"), "DependsOn": "Trigger"}}}
    empty = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}
    stack = _stack(tmp_path, root, {"Trigger": empty, "Reader": empty})

    with pytest.raises(AssemblyError, match="Reader depends on Trigger"):
        split_stack(stack, root_name="root", drop={"Trigger": "replaced"}, synthesis=NO_SYNTHESIS)


def test_a_parameter_the_import_cannot_map_is_refused_naming_the_stack_and_value(tmp_path: Path) -> None:
    root = {"Resources": {"Child": _nested("Child", Parameters={"X": {"Fn::ImportValue": "elsewhere"}})}}
    stack = _stack(tmp_path, root, {"Child": {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}})

    with pytest.raises(AssemblyError, match="Child takes a parameter the import cannot map"):
        split_stack(stack, root_name="root", synthesis=NO_SYNTHESIS)


SYNTHESIS = rules.Synthesis(
    account="111111111111",
    region="eu-west-1",
    asset_buckets=frozenset({"cdk-hnb659fds-assets-111111111111-eu-west-1"}),
    asset_keys={"abc.zip": "assets/0123.zip"},
)


def test_account_and_region_become_pseudo_parameters_and_a_subs_own_variables_are_kept() -> None:
    template = {"Resources": {"R": {"Type": "T", "Properties": {
        "Plain": "arn:aws:sqs:eu-west-1:111111111111:queue",
        "Braces": "${literal} in eu-west-1",
        "Sub": {"Fn::Sub": "arn:aws:ssm:eu-west-1:111111111111:parameter/${Name}"},
        "Join": {"Fn::Join": ["", ["111111111111.dkr.ecr.eu-west-1.", {"Ref": "AWS::URLSuffix"}]]},
        "Untouched": "us-east-1",
    }, "Metadata": {"path": "eu-west-1"}}}, "Mappings": {"M": {"eu-west-1": {"v": "eu-west-1"}}}}  # fmt: skip

    result = rules.apply(template, SYNTHESIS)

    properties = result["Resources"]["R"]["Properties"]
    assert properties["Plain"] == {"Fn::Sub": "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:queue"}
    assert properties["Braces"] == {"Fn::Sub": "${!literal} in ${AWS::Region}"}
    assert properties["Sub"] == {"Fn::Sub": "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${Name}"}
    assert properties["Join"]["Fn::Join"][1][0] == {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}."}
    assert properties["Untouched"] == "us-east-1"
    assert result["Resources"]["R"]["Metadata"] == {"path": "eu-west-1"}
    assert result["Mappings"] == template["Mappings"]


def test_assets_are_read_from_the_release_bucket_under_the_releases_keys() -> None:
    template = {
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
        "Rules": {"CheckBootstrapVersion": {"Assertions": []}},
        "Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {
            "S3Bucket": "cdk-hnb659fds-assets-111111111111-eu-west-1", "S3Key": "abc.zip"}}}},
    }  # fmt: skip

    result = rules.apply(template, SYNTHESIS)

    assert result["Resources"]["F"]["Properties"]["Code"] == {"S3Bucket": {"Ref": "AssetsBucket"},
                                                             "S3Key": "assets/0123.zip"}  # fmt: skip
    assert list(result["Parameters"]) == ["AssetsBucket"] and "Rules" not in result


def test_the_readme_lists_every_rule_of_the_import_in_order() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()

    positions = [readme.find(f"`{rule.__name__}`") for rule in rules.RULES]

    assert -1 not in positions and positions == sorted(positions)


# ---------------------------------------------------------------------- stacks beside the backend
def _stage(name: str, *, region: str | None = None, depends_on: tuple[str, ...] = (), **template: Any) -> Any:
    from blueprints.dataall.stages import ImportedStage

    return ImportedStage(
        name=name, source=name, region=region, template=template, parameters={}, depends_on=depends_on, stateful=False
    )


EXPORTING: dict[str, Any] = {"Outputs": {"VpcId": {"Value": "vpc-1", "Export": {"Name": "dataall-dev-vpcId"}}}}
IMPORTING: dict[str, Any] = {"Resources": {"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
    "VpcId": {"Fn::ImportValue": "dataall-dev-vpcId"}}}}}  # fmt: skip


def test_a_stage_importing_an_export_must_depend_on_the_stage_that_makes_it() -> None:
    """CloudFormation resolves `Fn::ImportValue` when the importing stack deploys: the exporter comes first."""
    from installer.build import BuildError
    from installer.dataall import _check_imports

    _check_imports([_stage("vpc", **EXPORTING), _stage("albfront", depends_on=("vpc",), **IMPORTING)])
    with pytest.raises(BuildError, match="stage albfront imports 'dataall-dev-vpcId', exported by stage vpc, which"):
        _check_imports([_stage("vpc", **EXPORTING), _stage("albfront", **IMPORTING)])
    with pytest.raises(BuildError, match="stage albfront imports 'dataall-dev-vpcId', exported by no stage in its"):
        _check_imports(
            [_stage("vpc", region="us-east-1", **EXPORTING), _stage("albfront", depends_on=("vpc",), **IMPORTING)]
        )


def test_a_stack_beside_the_backend_in_its_region_waits_for_every_backend_stage() -> None:
    """data.all's pipeline deploys its albfront stage after its backend stage; the albfront service joins the
    ECS cluster by name, which no reference says. Its CloudFront stage (us-east-1) waits only when it reads
    the backend's region (the Cognito URLs trigger)."""
    from installer.dataall import _reaching_home

    backend = ("ecs", "vpc")
    same = _reaching_home(_stage("albfront", region="eu-west-1"), backend, "eu-west-1")
    assert (same.region, same.depends_on) == (None, ("ecs", "vpc"))
    away = _reaching_home(_stage("cloudfront", region="us-east-1"), backend, "eu-west-1")
    assert (away.region, away.depends_on) == ("us-east-1", ())
    reading = _stage("config", region="us-east-1", Parameters={rules.HOME_REGION: {"Type": "String"}})
    assert _reaching_home(reading, backend, "eu-west-1").depends_on == ("ecs", "vpc")
