"""Per-installation values (the pivot role's external id): made once per installation by Plan, at
deploy time, never in a release; kept in the ledger across runs; adopted from the account's SSM
parameter where data.all set one; given to CloudFormation alone (a NoEcho parameter), never
recorded in a run."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from blueprints.dataall.stages import split_stack
from cloud_assembly.reader import CloudAssembly
from installer.dataall import installation_values as manifest_values
from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidOptions, ReleaseInvalid
from lambdas.release.manifest import NO_ECHO_MASK, InstallationValue, ManifestError
from lambdas.rollback.recovery import restored_parameters
from lambdas.run.installation_values import draw
from lambdas.run.planning import plan
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_planning import request

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
NO_SYNTHESIS = rules.Synthesis(account="", region="", asset_buckets=frozenset(), asset_keys={})
ARTIFACTS = "dataall-test-artifacts"
#: data.all's SSM parameter of the external id as its synthesis names it, as a release names it (the names
#: rule's: the installation's EnvName), and as the unit tier's installation (`env_name="test"`) has it
SYNTHESIZED = "/dataall/dev/pivotRole/externalId"
ADOPT_TEMPLATE = "/dataall/${EnvName}/pivotRole/externalId"
ADOPT = "/dataall/test/pivotRole/externalId"
ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits
VALUES = {rules.EXTERNAL_ID: {"alphabet": ALPHABET, "length": 32, "adopt_ssm_parameter": ADOPT_TEMPLATE}}


def param_store(value: Any = "owCGJPSOz4Gam17qR64f3qya7IeyDq9L") -> dict[str, Any]:
    return {
        "Resources": {
            "ExternalId": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": SYNTHESIZED, "Type": "String", "Value": value},
            },
            "Other": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/dataall/dev/cognito/userpool", "Type": "String", "Value": "owCGJPSO"},
            },
        }
    }


# ---------------------------------------------------------------------- the import's rule
def test_the_external_id_drawn_at_synthesis_becomes_a_noecho_parameter_of_the_installation() -> None:
    template = rules.apply(param_store(), NO_SYNTHESIS)

    resources = template["Resources"]
    assert resources["ExternalId"]["Properties"]["Value"] == {"Ref": rules.EXTERNAL_ID}
    assert resources["Other"]["Properties"]["Value"] == "owCGJPSO"  # another parameter is data.all's own
    declared = template["Parameters"][rules.EXTERNAL_ID]
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html (NoEcho)
    assert declared["NoEcho"] is True and declared["Type"] == "String"
    assert "owCGJPSOz4Gam17qR64f3qya7IeyDq9L" not in json.dumps(template)
    assert rules.external_id_parameter(template) == ADOPT_TEMPLATE


def test_a_template_without_data_alls_external_id_is_left_as_it_is() -> None:
    template = rules.apply(param_store({"Ref": "Given"}), NO_SYNTHESIS)

    assert rules.EXTERNAL_ID not in template["Parameters"]  # the names rule's EnvName alone
    assert rules.external_id_parameter(template) is None


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
def test_data_alls_release_names_its_external_id_in_data_alls_alphabet_and_length_never_its_value() -> None:
    assembly = CloudAssembly.load(UPSTREAM / "2.9.0" / "cdk.out")
    (stack,) = [s for s in assembly.stacks() if s.stack_name.endswith("-backend-stack")]
    synthesis = rules.Synthesis(account=stack.account, region=stack.region, asset_buckets=frozenset(), asset_keys={})
    nested = next(n for n in stack.nested().values() if n.construct_name == "ParamStore")
    drawn = next(
        r["Properties"]["Value"] for r in nested.template["Resources"].values() if "ExternalId" in json.dumps(r)
    )

    stages = split_stack(stack, root_name="backend", synthesis=synthesis).stages
    values = manifest_values(stages)

    assert values == {
        rules.EXTERNAL_ID: {
            "description": f"the pivot role's external id (data.all's SSM parameter {ADOPT_TEMPLATE})",
            "alphabet": ALPHABET,
            "length": 32,
            "adopt_ssm_parameter": ADOPT_TEMPLATE,
        }
    }
    assert all(drawn not in json.dumps(s.template) for s in stages)


# ---------------------------------------------------------------------- the drawing
def test_a_drawn_value_has_the_values_length_and_alphabet_and_is_never_the_same_twice() -> None:
    spec = InstallationValue(name=rules.EXTERNAL_ID, alphabet=ALPHABET, length=32)

    drawn = {draw(spec) for _ in range(200)}

    assert len(drawn) == 200
    assert all(len(value) == 32 and set(value) <= set(ALPHABET) for value in drawn)


def test_the_drawing_uses_pythons_csprng() -> None:
    chosen: list[str] = []

    def choice(alphabet: str) -> str:
        chosen.append(alphabet)
        return alphabet[0]

    assert draw(InstallationValue(name="X", alphabet="ab", length=16), choice) == "a" * 16
    assert chosen == ["ab"] * 16
    # by default, `secrets.choice`: the operating system's CSPRNG (random.SystemRandom)
    assert draw.__defaults__ is not None and isinstance(draw.__defaults__[0].__self__, random.SystemRandom)


# ---------------------------------------------------------------------- the manifest
def release_with_value(version: str = "2.8.0") -> SmallRelease:
    return small_release(
        stage("vpc", outputs=("VpcId",)),
        stage("params", parameters={"Vpc": "${stage:vpc.VpcId}", rules.EXTERNAL_ID: "${param:PivotRoleExternalId}"}),
        version=version,
        values=VALUES,
    )


def test_a_value_is_given_to_cloudformation_alone_and_is_recorded_as_its_mask() -> None:
    manifest = release_with_value().manifest
    step = manifest.steps["params"]
    recorded = {"Vpc": "vpc-1", rules.EXTERNAL_ID: NO_ECHO_MASK}

    given = manifest.given_to_cloudformation(step, recorded, {rules.EXTERNAL_ID: "s3cr3t" * 6})

    assert given == {"Vpc": "vpc-1", rules.EXTERNAL_ID: "s3cr3t" * 6}
    assert recorded[rules.EXTERNAL_ID] == NO_ECHO_MASK
    with pytest.raises(ManifestError, match=r"PivotRoleExternalId.*not made yet"):
        manifest.given_to_cloudformation(step, recorded, {})


def test_a_value_named_like_an_option_is_refused_by_name() -> None:
    with pytest.raises(ManifestError, match="value 'Flag' is also an option"):
        small_release(
            stage("vpc"),
            options={"Flag": {"type": "boolean", "default": False}},
            values={"Flag": {"alphabet": "ab", "length": 16}},
        )


def test_a_rollback_keeps_a_noecho_value_the_stack_has_since_describe_stacks_shows_only_its_mask() -> None:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html (UsePreviousValue)
    assert restored_parameters({"Vpc": "vpc-1", rules.EXTERNAL_ID: NO_ECHO_MASK}) == [
        {"ParameterKey": rules.EXTERNAL_ID, "UsePreviousValue": True},
        {"ParameterKey": "Vpc", "ParameterValue": "vpc-1"},
    ]


# ---------------------------------------------------------------------- Plan makes and keeps it
@pytest.fixture
def deps(aws: None) -> Deps:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    for version in ("2.8.0", "2.9.0"):
        release_with_value(version).publish(s3, ARTIFACTS)
    return moto_deps(ARTIFACTS)


def ledger_items(deps: Deps) -> list[dict[str, Any]]:
    return list(deps.ledger.table.scan()["Items"])


def test_the_first_plan_draws_the_value_keeps_it_in_the_ledger_and_records_only_its_mask(deps: Deps) -> None:
    result = plan(deps, request({"action": "install", "version": "2.8.0"}))

    kept = deps.ledger.value(rules.EXTERNAL_ID)
    assert kept is not None and kept.origin == "drawn" and kept.run == "install-2-8-0-abc"
    assert len(kept.value) == 32 and set(kept.value) <= set(ALPHABET)
    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.params[rules.EXTERNAL_ID] == NO_ECHO_MASK
    elsewhere = [item for item in ledger_items(deps) if not str(item["pk"]).startswith("VALUE#")]
    assert kept.value not in json.dumps(elsewhere, default=str)
    assert kept.value not in json.dumps(result)


def test_a_second_plan_an_upgrade_keeps_the_installations_value(deps: Deps) -> None:
    plan(deps, request({"action": "install", "version": "2.8.0"}))
    first = deps.ledger.value(rules.EXTERNAL_ID)
    deps.ledger.release_lock(f"arn:aws:states:{REGION}:000000000000:execution:sm:install-2-8-0-abc")

    plan(deps, request({"action": "upgrade", "version": "2.9.0"}, name="upgrade-2-9-0-def"))

    assert deps.ledger.value(rules.EXTERNAL_ID) == first


def test_an_installation_taking_over_data_alls_account_adopts_its_external_id(deps: Deps) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=ADOPT, Value="AlreadyThere0123456789abcdefABCD", Type="String")

    plan(deps, request({"action": "install", "version": "2.8.0"}))

    kept = deps.ledger.value(rules.EXTERNAL_ID)
    assert kept is not None
    assert (kept.value, kept.origin, kept.source) == ("AlreadyThere0123456789abcdefABCD", "adopted", ADOPT)


def test_an_adopted_value_sts_would_refuse_is_refused_by_name_without_showing_it(deps: Deps) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=ADOPT, Value="not an id!", Type="String")

    with pytest.raises(ReleaseInvalid, match=f"{ADOPT} holds a PivotRoleExternalId") as refused:
        plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert "not an id!" not in str(refused.value)
    assert ledger_items(deps) == []  # nothing kept, the lock released


def test_a_plan_only_run_keeps_no_value(deps: Deps) -> None:
    plan(deps, request({"action": "install", "version": "2.8.0", "plan_only": True}))

    assert deps.ledger.value(rules.EXTERNAL_ID) is None


# ---------------------------------------------------------------------- region-specific layers
KLAYERS = "arn:aws:lambda:eu-west-1:770693421928:layer:Klayers-p312-cryptography:1"
LAYER_OPTION = "KlayersP312CryptographyLayerArn"


def lambdas_template() -> dict[str, Any]:
    return {
        "Resources": {
            "Authorizer": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Layers": [KLAYERS, "arn:aws:lambda:eu-west-1:111111111111:layer:own:3", {"Ref": "Local"}]
                },
            }
        }
    }


def test_a_layer_another_account_publishes_per_region_becomes_an_option_defaulting_to_the_synthesized_arn() -> None:
    synthesis = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})

    template = rules.apply(lambdas_template(), synthesis)

    layers = template["Resources"]["Authorizer"]["Properties"]["Layers"]
    assert layers[0] == {"Ref": LAYER_OPTION}
    # the platform's own layer is the installation's account and region (account_and_region_neutral)
    assert layers[1] == {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:layer:own:3"}
    assert layers[2] == {"Ref": "Local"}
    assert rules.layer_parameters(template) == [LAYER_OPTION]
    assert rules.pinned_layers(lambdas_template(), synthesis) == {LAYER_OPTION: KLAYERS}
    assert "eu-west-1" not in json.dumps(template)  # the synthesized ARN is the option's default alone


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
def test_data_alls_klayers_layer_is_an_option_of_its_release_and_no_longer_a_literal() -> None:
    from installer.dataall import release_options, stage_document

    assembly = CloudAssembly.load(UPSTREAM / "2.9.0" / "cdk.out")
    (stack,) = [s for s in assembly.stacks() if s.stack_name.endswith("-backend-stack")]
    synthesis = rules.Synthesis(account=stack.account, region=stack.region, asset_buckets=frozenset(), asset_keys={})
    stages = split_stack(stack, root_name="backend", synthesis=synthesis).stages

    options = release_options([stack])

    assert list(options) == [LAYER_OPTION]
    assert options[LAYER_OPTION]["default"] == KLAYERS and options[LAYER_OPTION]["same_region"] is True
    (reader,) = [s for s in stages if LAYER_OPTION in json.dumps(s.template["Resources"])]
    assert stage_document(reader)["parameters"][LAYER_OPTION] == "${param:" + LAYER_OPTION + "}"
    assert all("770693421928" not in json.dumps(s.template["Resources"]) for s in stages)


def layered_release(region: str | None = None) -> SmallRelease:
    lambdas = stage("lambdas", parameters={LAYER_OPTION: "${param:" + LAYER_OPTION + "}"})
    if region:
        lambdas["region"] = region
    return small_release(
        stage("vpc"),
        lambdas,
        options={LAYER_OPTION: {"type": "string", "default": KLAYERS, "pattern": rules.LAYER_ARN, "same_region": True}},
    )


def test_the_synthesized_layer_is_taken_in_its_own_region() -> None:
    manifest = layered_release().manifest

    assert manifest.region_problems(manifest.resolve_options(), "eu-west-1") == []


def test_another_region_refuses_the_synthesized_layer_naming_the_option_until_given_its_own() -> None:
    manifest = layered_release().manifest

    ((option, reason),) = manifest.region_problems(manifest.resolve_options(), "us-east-2")

    assert option == LAYER_OPTION
    assert "is of eu-west-1, but stage lambdas is in us-east-2" in reason and f"give {LAYER_OPTION}" in reason
    given = manifest.resolve_options({LAYER_OPTION: KLAYERS.replace("eu-west-1", "us-east-2").replace(":1", ":7")})
    assert manifest.region_problems(given, "us-east-2") == []


def test_a_stage_in_another_region_than_the_workflow_needs_the_layer_of_its_own() -> None:
    manifest = layered_release(region="us-east-1").manifest

    assert [o for o, _ in manifest.region_problems(manifest.resolve_options(), "eu-west-1")] == [LAYER_OPTION]


def test_plan_refuses_the_synthesized_layer_in_another_region_naming_the_option_and_changes_nothing(
    deps: Deps,
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    release = layered_release()
    release.publish(s3, ARTIFACTS)

    with pytest.raises(InvalidOptions, match=f"option {LAYER_OPTION}: .* is of eu-west-1") as refused:
        plan(deps, request({"action": "install", "version": release.version}))

    assert refused.value.field == f"options.{LAYER_OPTION}"
    assert ledger_items(deps) == []
