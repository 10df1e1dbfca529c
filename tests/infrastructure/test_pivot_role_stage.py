"""The pivot-role stage synthesized on its own (cdk-nag in the synthesis, cfn-lint after),
and the policy documents it carries, as the provider will split them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambdas.pivot_role.policies import MAX_POLICY_CHARACTERS, characters, resolver, split, statements_of

pytestmark = pytest.mark.infrastructure


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Any]:
    import aws_cdk as cdk

    from blueprints.assets import AssetRegistry
    from blueprints.common import BuildContext
    from installer.build import synthesize
    from tests.fixtures.synthetic.stages.pivot_role import PivotRoleStage

    out = tmp_path_factory.mktemp("pivot-role")
    app = cdk.App(outdir=str(out), analytics_reporting=False)
    stage = PivotRoleStage(app, BuildContext(assets=AssetRegistry()))
    synthesize(app, out)  # BuildError on an unacknowledged cdk-nag finding
    path = out / f"{stage.artifact_id}.template.json"
    return path, json.loads(path.read_text()), stage


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_is_clean(synthesized: tuple[Path, dict[str, Any], Any]) -> None:
    path, _, _ = synthesized
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stage_is_wired_by_the_installer_and_its_options(synthesized: tuple[Path, dict[str, Any], Any]) -> None:
    _, template, stage = synthesized

    assert stage.SPEC.name == "pivot-role"
    assert stage.wiring == {
        "ResourcePrefix": "${param:ResourcePrefix}",
        "EnvName": "${param:EnvName}",
        "PivotRoleProviderArn": "${param:PivotRoleProviderArn}",
        "PivotRoleEnvironmentAccounts": "${param:PivotRoleEnvironmentAccounts}",
        "AssetsBucket": "${param:AssetsBucket}",
    }
    assert set(template["Parameters"]) == set(stage.wiring)
    assert re.fullmatch(template["Parameters"]["PivotRoleEnvironmentAccounts"]["AllowedPattern"], "")
    assert re.fullmatch(
        template["Parameters"]["PivotRoleEnvironmentAccounts"]["AllowedPattern"], "111122223333,444455556666"
    )


def test_both_custom_resources_are_served_by_the_provider_parameter(
    synthesized: tuple[Path, dict[str, Any], Any],
) -> None:
    _, template, _ = synthesized
    ((external_id_id, external_id),) = resources(template, "Custom::PivotRoleExternalId").items()
    ((_, role),) = resources(template, "Custom::PivotRole").items()

    for resource in (external_id, role):
        assert resource["Properties"]["ServiceToken"] == {"Ref": "PivotRoleProviderArn"}
    assert external_id["Properties"]["ParameterName"] == {
        "Fn::Join": ["/", ["", {"Ref": "ResourcePrefix"}, {"Ref": "EnvName"}, "pivot-role/external-id"]]
    }
    props = role["Properties"]
    assert props["ExternalIdParameter"] == {"Ref": external_id_id}
    assert props["RoleName"] == {"Fn::Join": ["-", [{"Ref": "ResourcePrefix"}, {"Ref": "EnvName"}, "pivot-role"]]}
    assert props["TrustedRolePatterns"] == [{"Fn::Join": ["-", [{"Ref": "ResourcePrefix"}, {"Ref": "EnvName"}, "*"]]}]
    assert props["EnvironmentAccounts"] == {"Ref": "PivotRoleEnvironmentAccounts"}
    assert set(template["Outputs"]) == {"PivotRoleName", "PivotRoleArn", "ExternalIdParameterName", "PolicyNames"}
    assert template["Outputs"]["PolicyNames"]["Value"] == {"Fn::GetAtt": [role_id(template), "PolicyNames"]}


def role_id(template: dict[str, Any]) -> str:
    return next(iter(resources(template, "Custom::PivotRole")))


def test_the_release_documents_are_passed_whole_and_split_into_a_few_policies(
    synthesized: tuple[Path, dict[str, Any], Any],
) -> None:
    _, template, _ = synthesized
    documents = template["Resources"][role_id(template)]["Properties"]["PolicyDocuments"]
    files = [
        json.loads(p.read_text()) for p in sorted(Path("tests/fixtures/synthetic/pivot_role/policies").glob("*.json"))
    ]
    statements = statements_of(documents)
    values = {
        "Partition": "aws", "AccountId": "111122223333", "Region": "eu-west-1", "ResourcePrefix": "dataall",
        "EnvName": "prod", "PivotRoleName": "dataall-prod-pivot-role", "PlatformAccountId": "111122223333",
    }  # fmt: skip

    policies = split(statements, resolve=resolver(values))

    assert documents == files
    assert characters(documents) > 2 * MAX_POLICY_CHARACTERS  # more than one policy can hold
    assert 2 < len(policies) <= 5
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement["Sid"]


def test_the_template_stays_far_below_cloudformations_limits(synthesized: tuple[Path, dict[str, Any], Any]) -> None:
    path, template, _ = synthesized
    properties = template["Resources"][role_id(template)]["Properties"]

    assert path.stat().st_size < 460_800  # TemplateURL allows 1 MB
    assert 2 * characters(properties) < 200_000  # an Update carries new and old properties


def test_the_environment_accounts_template_is_cfn_lint_clean_and_fits_a_template_body(tmp_path: Path) -> None:
    """The template the provider generates for the StackSet, from the release's documents."""
    from lambdas.pivot_role.policies import MAX_TEMPLATE_BODY_BYTES, environment_template, minified, substitute
    from tests.fixtures.synthetic.stages.pivot_role import TRUSTED_SERVICES, policy_documents

    static = {"ResourcePrefix": "dataall", "EnvName": "prod", "PivotRoleName": "dataall-prod-pivot-role",
              "PlatformAccountId": "111122223333"}  # fmt: skip
    statements = [substitute(s, static) for s in statements_of(policy_documents())]
    groups = split(statements, resolve=resolver({**static, "Partition": "aws", "AccountId": "0" * 12,
                                                 "Region": "ap-southeast-5"}))  # fmt: skip
    template = environment_template(
        role_name="dataall-prod-pivot-role",
        policies=groups,
        platform_account_id="111122223333",
        role_patterns=["dataall-prod-*"],
        services=TRUSTED_SERVICES,
        max_session_duration=43200,
    )
    path = tmp_path / "pivot-role-environment.template.json"
    path.write_text(minified(template))

    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(minified(template).encode()) < MAX_TEMPLATE_BODY_BYTES
