"""Plan's check that every name a stage of the run gives fits AWS's limits for its type
(`lambdas.run.name_limits`): data.all's names are made of the installation's ResourcePrefix (up to 20
characters) and EnvName (up to 10), and with long ones some are longer than AWS takes (an OpenSearch
domain's name: 28 characters at most); CloudFormation would refuse one only halfway through the run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloud_assembly.reader import CloudAssembly
from installer.dataall import import_stages
from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidInput
from lambdas.release.manifest import sha256_bytes
from lambdas.run.collisions import named_resources
from lambdas.run.name_limits import NAME_LIMITS, Misfit, misfits
from lambdas.run.planning import plan
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_planning import ARTIFACTS, nothing_changed, request

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": "eu-west-1"}
NAMES = ("ResourcePrefix", "EnvName", "ResourcePrefixFirst6")


def _names(prefix: str, env: str) -> dict[str, str]:
    return {"ResourcePrefix": prefix, "EnvName": env, "ResourcePrefixFirst6": prefix[:6]}


def _resource(kind: str, name: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": {NAME_LIMITS[kind].prop: name}}


def _one(kind: str, name: Any) -> dict[str, Any]:
    return {"Resources": {"Named": _resource(kind, name)}}


def _name_of(kind: str, length: int) -> str:
    """A name of `length` characters of the type's own alphabet."""
    start = "alias/" if kind == "AWS::KMS::Alias" else ""
    return start + "a" * (length - len(start))


# ---------------------------------------------------------------------- the table
@pytest.mark.parametrize("kind", sorted(NAME_LIMITS))
def test_each_type_takes_a_name_at_its_limit_and_refuses_one_character_more(kind: str) -> None:
    limit = NAME_LIMITS[kind]

    assert misfits("stage", _one(kind, _name_of(kind, limit.maximum)), {}, PSEUDO) == []
    [misfit] = misfits("stage", _one(kind, _name_of(kind, limit.maximum + 1)), {}, PSEUDO)
    assert misfit.over == 1
    assert f"{limit.maximum + 1} characters, 1 too long for AWS's {limit.maximum}" in misfit.sentence()
    assert limit.doc.startswith("https://docs.aws.amazon.com/")


def test_a_name_is_evaluated_from_the_stages_parameters_and_pseudo_parameters_or_left_out() -> None:
    template: dict[str, Any] = {
        "Parameters": {name: {"Type": "String"} for name in NAMES},
        "Resources": {
            "Domain": _resource("AWS::OpenSearchService::Domain", {"Fn::Sub": "${ResourcePrefix}-${EnvName}-domain"}),
            "Bucket": _resource(
                "AWS::S3::Bucket",
                {"Fn::Sub": "${ResourcePrefix}-${EnvName}-${AWS::AccountId}-${AWS::Region}-resources"},
            ),
            # data.all's Cognito domain prefix: the prefix and the region without their dashes
            "Cognito": _resource(
                "AWS::Cognito::UserPoolDomain",
                {
                    "Fn::Join": [
                        "",
                        [
                            {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": "ResourcePrefix"}]}]},
                            {"Ref": "EnvName"},
                            {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]},
                            {"Ref": "AWS::AccountId"},
                        ],
                    ]
                },
            ),
            "Optional": {**_resource("AWS::OpenSearchService::Domain", "x" * 40), "Condition": "C"},
            "Later": _resource("AWS::OpenSearchService::Domain", {"Fn::GetAtt": ["Other", "Name"]}),
        },
    }

    assert misfits("search", template, _names("dataall", "prod"), PSEUDO) == []
    found = {m.resource.logical_id: m for m in misfits("search", template, _names("a" * 20, "b" * 10), PSEUDO)}
    assert sorted(found) == ["Bucket", "Domain"]
    assert found["Domain"].resource.name == "a" * 20 + "-" + "b" * 10 + "-domain"
    assert found["Domain"].over == 10 and found["Domain"].installation
    assert found["Bucket"].over == 1
    # the Cognito prefix drops the dashes of the prefix and the region: 11 + 10 + 7 + 12 = 40 of 63
    domain = {"AWS::Cognito::UserPoolDomain": "Domain"}
    [cognito] = named_resources("cognito", template, _names("a-" * 9 + "aa", "b" * 10), PSEUDO, domain)
    assert cognito.name == "a" * 11 + "b" * 10 + "euwest1" + "123456789012"


# ---------------------------------------------------------------------- a run
def _search_release() -> SmallRelease:
    """A release whose `search` stage names its OpenSearch domain `${ResourcePrefix}-${EnvName}-domain`, as
    data.all's does."""
    names = {name: f"${{param:{name}}}" for name in ("ResourcePrefix", "EnvName")}
    base = small_release(stage("vpc"), stage("search", depends_on=("vpc",), parameters=names), version="2.9.0")
    body = json.dumps(
        {
            "Parameters": {name: {"Type": "String"} for name in names},
            "Resources": {
                "Named": _resource("AWS::OpenSearchService::Domain", {"Fn::Sub": "${ResourcePrefix}-${EnvName}-domain"})
            },
        },
        indent=1,
        sort_keys=True,
    ).encode()
    files = {**base.files, "blueprints/search.template.json": body}
    document = {**base.document, "files": {name: sha256_bytes(data) for name, data in sorted(files.items())}}
    return SmallRelease(version=base.version, document=document, files=files)


def _deps(prefix: str, env: str) -> Deps:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    _search_release().publish(s3, ARTIFACTS)
    deps = moto_deps(ARTIFACTS)
    return replace(deps, settings=deps.settings.model_copy(update={"resource_prefix": prefix, "env_name": env}))


def test_a_run_whose_opensearch_domain_name_is_too_long_is_refused_naming_it_and_changes_nothing(aws: None) -> None:
    deps = _deps("acme-data-platform", "staging")

    with pytest.raises(InvalidInput) as refused:
        plan(deps, request({"action": "install", "version": "2.9.0"}))

    message = str(refused.value)
    assert refused.value.field == "stages.search.Named"
    assert (
        "stage search: Named (AWS::OpenSearchService::Domain) DomainName 'acme-data-platform-staging-domain'" in message
    )
    assert "is 33 characters, 5 too long for AWS's 28" in message
    assert "ResourcePrefix and EnvName together at least 5 character(s) shorter" in message
    assert "Nothing was changed" in message
    assert nothing_changed(deps)
    assert boto3.client("cloudformation", region_name=REGION).list_stacks()["StackSummaries"] == []


def test_a_run_whose_names_fit_passes_the_check(aws: None) -> None:
    deps = _deps("acme-data", "staging")  # acme-data-staging-domain: 24 characters

    result = plan(deps, request({"action": "install", "version": "2.9.0"}))

    assert [step["name"] for step in result["steps"]] == ["vpc", "search"]


# ---------------------------------------------------------------------- data.all's own names
@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
def test_data_alls_default_names_fit_and_its_opensearch_domain_breaks_first_past_20_characters() -> None:
    stages = import_stages(CloudAssembly.load(UPSTREAM / "2.9.0" / "cdk.out")).stages

    def found(prefix: str, env: str) -> list[Misfit]:
        return [m for s in stages for m in misfits(s.name, s.template, _names(prefix, env), PSEUDO)]

    assert found("dataall", "prod") == []
    # every split of ResourcePrefix+EnvName up to 20 characters fits; the first name past it is the domain's
    assert all(found("a" * p, "b" * (20 - p)) == [] for p in range(10, 20))
    breaking = {
        (m.resource.stage, m.resource.resource_type) for p in range(11, 21) for m in found("a" * p, "b" * (21 - p))
    }
    assert breaking == {("opensearch", "AWS::OpenSearchService::Domain")}
    # at the longest the bootstrap stack takes (20 + 10), the resources bucket is one over too (eu-west-1)
    longest = {m.resource.resource_type: m.over for m in found("a" * 20, "b" * 10)}
    assert longest == {"AWS::OpenSearchService::Domain": 10, "AWS::S3::Bucket": 1}
