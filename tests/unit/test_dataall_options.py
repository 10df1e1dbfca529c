"""data.all's options (README: "Options"): the value rules that make a context key's literal a
template parameter, the variants a release holds per stage, and the stage Plan takes for the
resolved options."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from blueprints.dataall.stages import DATA_TYPES, ImportedStage
from installer.build import BuildError
from installer.dataall import (
    VARIANT_OPTIONS,
    ImportReport,
    VariantOption,
    _composed_document,
    combinations,
    compose_stages,
    import_stages,
    option_rules,
    release_options,
    stage_document,
    variant_options,
)
from lambdas.core.errors import InvalidOptions, ReleaseInvalid
from lambdas.release.manifest import Manifest, ManifestError, sha256_bytes
from lambdas.run.planning import plan
from tests.unit.conftest import REGION
from tests.unit.releases import SmallRelease, stage, template
from tests.unit.test_planning import ARTIFACTS, request

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
PROD_SIZING = next(o for o in VARIANT_OPTIONS if o.option == "ProdSizing")
SYNTHESIS = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})


def client(minutes: Any = 43200, units: str = "minutes") -> dict[str, Any]:
    return {
        "Type": "AWS::Cognito::UserPoolClient",
        "Properties": {"RefreshTokenValidity": minutes, "TokenValidityUnits": {"RefreshToken": units}},
    }


def log_group(days: int) -> dict[str, Any]:
    return {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": days}}


def task(retention: str) -> dict[str, Any]:
    environment = [{"Name": "envname", "Value": "dev"}, {"Name": "LOG_RETENTION", "Value": retention}]
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ContainerDefinitions": [{"Environment": environment}]}}


# ---------------------------------------------------------------------- value rules
def test_the_app_clients_refresh_token_validity_becomes_the_session_timeout_parameter() -> None:
    template = {"Resources": {"AppClient": client(), "Other": client(minutes=43200, units="days")}}

    rules.session_timeout_from_the_option(template, SYNTHESIS)

    assert template["Resources"]["AppClient"]["Properties"]["RefreshTokenValidity"] == {"Ref": "SessionTimeoutMinutes"}
    assert template["Resources"]["Other"]["Properties"]["RefreshTokenValidity"] == 43200  # days: not data.all's key
    assert template["Parameters"]["SessionTimeoutMinutes"] | {"Description": ""} == {
        "Type": "Number", "MinValue": 60, "MaxValue": 5256000, "Description": "",
    }  # fmt: skip


def test_log_groups_of_the_synthesized_retention_and_the_ecs_tasks_name_take_the_log_retention_parameter() -> None:
    template = {"Resources": {"Flow": log_group(731), "SlowLogs": log_group(30), "Tasks": task("TWO_YEARS")}}

    rules.log_retention_from_the_option(template, SYNTHESIS)

    resources = template["Resources"]
    assert resources["Flow"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert resources["SlowLogs"]["Properties"]["RetentionInDays"] == 30  # data.all's own fixed value: kept
    environment = resources["Tasks"]["Properties"]["ContainerDefinitions"][0]["Environment"]
    assert environment[1]["Value"] == {
        "Fn::FindInMap": ["DataallLogRetentionNames", "Days", {"Ref": "LogRetentionDays"}]
    }
    assert template["Mappings"]["DataallLogRetentionNames"]["Days"]["731"] == "TWO_YEARS"
    assert template["Parameters"]["LogRetentionDays"]["AllowedValues"][:3] == ["1", "3", "5"]


def test_a_value_rule_takes_the_value_the_synthesis_was_given_not_data_alls_default() -> None:
    synthesis = rules.Synthesis(
        account="", region="", asset_buckets=frozenset(), asset_keys={},
        settings={"log_retention_duration": "ONE_YEAR", "cognito_user_session_timeout_inmins": 120},
    )  # fmt: skip
    template = {"Resources": {"Year": log_group(365), "TwoYears": log_group(731), "AppClient": client(120)}}

    changed = rules.apply(
        template, synthesis, (rules.log_retention_from_the_option, rules.session_timeout_from_the_option)
    )

    assert changed["Resources"]["Year"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert changed["Resources"]["TwoYears"]["Properties"]["RetentionInDays"] == 731
    assert changed["Resources"]["AppClient"]["Properties"]["RefreshTokenValidity"] == {"Ref": "SessionTimeoutMinutes"}
    assert rules.value_option("LogRetentionDays", synthesis)["default"] == 365
    assert rules.value_option("SessionTimeoutMinutes", synthesis)["default"] == 120


def test_a_template_without_the_literal_gains_no_parameter() -> None:
    template: dict[str, Any] = {"Resources": {"SlowLogs": log_group(30), "AppClient": client(60)}}
    before = copy.deepcopy(template)

    result = rules.apply(
        template, SYNTHESIS, (rules.log_retention_from_the_option, rules.session_timeout_from_the_option)
    )

    assert result == before


def api_stage(rate: Any = 10000, burst: Any = 5000, path: str = "/*") -> dict[str, Any]:
    setting = {"HttpMethod": "*", "ResourcePath": path, "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
    return {"Type": "AWS::ApiGateway::Stage", "Properties": {"MethodSettings": [setting]}}


def test_the_api_stages_throttling_of_every_method_becomes_the_rate_and_burst_parameters() -> None:
    template = {"Resources": {"Stage": api_stage(), "OneMethod": api_stage(path="/~1graphql~1api")}}

    rules.throttling_from_the_options(template, SYNTHESIS)

    (setting,) = template["Resources"]["Stage"]["Properties"]["MethodSettings"]
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (
        {"Ref": "ApiRateLimit"}, {"Ref": "ApiBurstLimit"},
    )  # fmt: skip
    (other,) = template["Resources"]["OneMethod"]["Properties"]["MethodSettings"]
    assert (other["ThrottlingRateLimit"], other["ThrottlingBurstLimit"]) == (10000, 5000)  # not every method's
    assert {k: v["Type"] for k, v in template["Parameters"].items()} == {
        "ApiBurstLimit": "Number",
        "ApiRateLimit": "Number",
    }


def test_the_throttling_rule_takes_the_values_the_synthesis_had_and_leaves_other_literals() -> None:
    # data.all synthesized with `throttling: {"global_rate_limit": 200}`: the burst stays data.all's default
    synthesis = rules.Synthesis(
        account="1", region="eu-west-1", asset_buckets=frozenset(), asset_keys={},
        settings={rules.THROTTLING_KEY: {"global_rate_limit": 200}},
    )  # fmt: skip
    template = {"Resources": {"Stage": api_stage(rate=200, burst=5000), "Old": api_stage(rate=10000, burst=7)}}

    rules.throttling_from_the_options(template, synthesis)

    (setting,) = template["Resources"]["Stage"]["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"} and setting["ThrottlingBurstLimit"] == {
        "Ref": "ApiBurstLimit"
    }
    (old,) = template["Resources"]["Old"]["Properties"]["MethodSettings"]
    assert (old["ThrottlingRateLimit"], old["ThrottlingBurstLimit"]) == (10000, 7)
    option = rules.value_option("ApiRateLimit", synthesis)
    assert (option["default"], option["minimum"], option["type"]) == (200, 1, "integer")


PARAM_STORE = "app/dataall-dev-backend-stage/backend-stack/ParamStore"


def ssm_parameter(construct: str, name: str, value: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": name, "Tags": {"Application": "dataall-dev"}, "Type": "String", "Value": value},
        "Metadata": {"aws:cdk:path": f"{PARAM_STORE}/{construct}/Resource"},
    }


def param_store(*extra: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    sessions = ssm_parameter(
        "dataallQuicksightConfigurationdev", "/dataall/dev/quicksight/sharedDashboardsSessions", "anonymous"
    )
    return {"Resources": {"dataallQuicksightConfigurationdevA3C117E7": sessions, **dict(extra)}}


def api_function(**variables: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Environment": {"Variables": {"envname": "dev", **variables}}},
    }


def with_settings(**settings: Any) -> rules.Synthesis:
    return rules.Synthesis(account="", region="", asset_buckets=frozenset(), asset_keys={}, settings=settings)


VALUE_RULES = (
    rules.reauth_from_the_options,
    rules.allowed_origins_from_the_option,
    rules.shared_dashboards_from_the_option,
    rules.pivot_role_auto_create_from_the_option,
)


def test_data_alls_reauth_parameter_is_made_as_cdk_makes_it_under_the_condition_that_operations_are_given() -> None:
    # Given data.all's parameter stack synthesized without reauth_apis (its default: no SSM parameter)
    default = rules.apply(param_store(), SYNTHESIS, VALUE_RULES)
    # and synthesized with two operations (data.all then makes `ReAuthAPIs<env>`)
    made = ssm_parameter("ReAuthAPIsdev", "/dataall/dev/reauth/apis", "deleteDataset,createDataset")
    given = rules.apply(
        param_store((rules.cdk_logical_id(["ReAuthAPIsdev", "Resource"]), made)),
        with_settings(reauth_config={"reauth_apis": ["deleteDataset", "createDataset"]}),
        VALUE_RULES,
    )

    # Then both become the same template: the parameter, under the condition, its value the option
    assert default == given
    parameter = default["Resources"][rules.cdk_logical_id(["ReAuthAPIsdev", "Resource"])]
    assert parameter["Condition"] == "DataallReauthApisGiven" and parameter["Properties"]["Value"] == {
        "Ref": "ReauthApis"
    }
    assert parameter["Metadata"]["aws:cdk:path"] == f"{PARAM_STORE}/ReAuthAPIsdev/Resource"
    assert parameter["Properties"]["Tags"] == {"Application": "dataall-dev"}
    assert default["Conditions"]["DataallReauthApisGiven"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReauthApis"}, ""]}]}
    sessions = default["Resources"]["dataallQuicksightConfigurationdevA3C117E7"]["Properties"]["Value"]
    assert sessions == {"Ref": "SharedDashboardsSessions"}
    assert sorted(default["Parameters"]) == ["ReauthApis", "SharedDashboardsSessions"]
    assert default["Parameters"]["SharedDashboardsSessions"]["AllowedValues"] == ["anonymous", "reader"]


def test_a_reauth_parameter_other_than_the_synthesis_had_stops_the_import_naming_it() -> None:
    made = ssm_parameter("ReAuthAPIsdev", "/dataall/dev/reauth/apis", "deleteDataset")
    elsewhere = param_store(("Moved", made))
    right_place = param_store((rules.cdk_logical_id(["ReAuthAPIsdev", "Resource"]), made))

    with pytest.raises(rules.RuleError, match=r"/dataall/dev/reauth/apis is \['Moved'\], not where CDK puts it"):
        rules.apply(elsewhere, with_settings(reauth_config={"reauth_apis": ["deleteDataset"]}), VALUE_RULES)
    with pytest.raises(rules.RuleError, match=r"is \['ReAuthAPIsdev.{8}'\], not where .* reauth_apis None"):
        rules.apply(right_place, SYNTHESIS, VALUE_RULES)  # the settings say data.all had none
    with pytest.raises(rules.RuleError, match="holds not the synthesis' reauth_apis 'createDataset'"):
        rules.apply(right_place, with_settings(reauth_config={"reauth_apis": ["createDataset"]}), VALUE_RULES)


def test_the_api_functions_reauth_ttl_and_allowed_origins_become_parameters_and_other_values_stay() -> None:
    template = {
        "Resources": {
            "Api": api_function(REAUTH_TTL="5", ALLOWED_ORIGINS="*"),
            "Search": api_function(ALLOWED_ORIGINS="*"),
            "Other": api_function(REAUTH_TTL="7", ALLOWED_ORIGINS="https://elsewhere.example.com"),
        }
    }

    result = rules.apply(template, SYNTHESIS, VALUE_RULES)

    variables = {k: r["Properties"]["Environment"]["Variables"] for k, r in result["Resources"].items()}
    assert variables["Api"] == {"envname": "dev", "REAUTH_TTL": {"Ref": "ReauthTtlMinutes"},
                                "ALLOWED_ORIGINS": {"Ref": "AllowedOrigins"}}  # fmt: skip
    assert variables["Search"]["ALLOWED_ORIGINS"] == {"Ref": "AllowedOrigins"}
    assert variables["Other"] == template["Resources"]["Other"]["Properties"]["Environment"]["Variables"]
    assert sorted(result["Parameters"]) == ["AllowedOrigins", "ReauthTtlMinutes"]
    assert "Conditions" not in result  # no parameter stack here: no reauth SSM parameter


@pytest.mark.parametrize(
    ("option", "good", "bad"),
    [
        ("ReauthApis", ["", "deleteDataset", "deleteDataset,createDataset,_x1"],
         ["delete Dataset", "a,,b", "a,", "1abc"]),
        ("AllowedOrigins", ["*", "https://dataall.example.com", "http://localhost:3000"],
         ["**", "dataall.example.com", "https://a.example.com/path", "https://a.com,https://b.com"]),
        ("SharedDashboardsSessions", ["anonymous", "reader"], ["Reader", "author"]),
        ("ReauthTtlMinutes", [1, "30"], [0, -5, "five"]),
        ("WafAllowedIpRanges", ["", "10.0.0.0/8", "203.0.113.0/24,198.51.100.7/32"],
         ["10.0.0.0", "10.0.0.0/0", "10.0.0.0/33", "256.0.0.0/8", "10.0.0.0/8,", "10.0.0.0/8 ,1.2.3.4/32",
          "2001:db8::/32"]),
        ("WafAllowedCountries", ["", "DE", "DE,FR,US"], ["de", "DEU", "D", "DE,", "ZZ", "DE FR"]),
        ("WafRateLimit", [10, "1000", 2000000000], [9, 0, -1000, 2000000001, "many", "1e3"]),
        ("WafRateLimitWindow", [60, "120", 300, 600], [0, 30, 180, 900, "five"]),
    ],
)  # fmt: skip
def test_the_new_value_options_take_what_data_all_takes_and_refuse_the_rest_naming_the_option(
    option: str, good: list[Any], bad: list[Any]
) -> None:
    document = copy.deepcopy(variant_release(variant_parameters={}).document)
    document["options"][option] = rules.value_option(option, SYNTHESIS)
    manifest = Manifest.from_document(document)

    for value in good:
        assert manifest.resolve_options({option: value})[option] in (
            value,
            int(value) if document["options"][option]["type"] == "integer" else value,
        )
    for value in bad:
        with pytest.raises(ManifestError, match=f"option {option}: "):
            manifest.resolve_options({option: value})


def pivot_role_templates(auto_create: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """data.all's parameter stack and a function's policy as its synthesis writes them."""
    name = "dataallPivotRole-cdk" if auto_create else "dataallPivotRole"
    params = param_store(
        ("Create", ssm_parameter("dataallCreationPivotRoledev", "/dataall/dev/pivotRole/enablePivotRoleAutoCreate",
                                 str(auto_create))),
        ("Name", ssm_parameter("dataallPivotRoleNamedev", "/dataall/dev/pivotRole/pivotRoleName", name)),
    )  # fmt: skip
    statement = {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": [f"arn:aws:iam::*:role/{name}*", "x"]}
    policy = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [statement]}}}
    return params, {"Resources": {"Policy": policy, "Api": api_function(envname="dev")}}


def test_the_pivot_role_auto_create_option_takes_data_alls_names_and_arns_by_a_condition_either_way() -> None:
    # Given data.all synthesized with enable_pivot_role_auto_create off (its default) and on
    off = [rules.apply(t, SYNTHESIS, VALUE_RULES) for t in pivot_role_templates(False)]
    on_synthesis = with_settings(enable_pivot_role_auto_create=True)
    on = [rules.apply(t, on_synthesis, VALUE_RULES) for t in pivot_role_templates(True)]

    # Then the rule makes both the same templates, each value chosen by the option's condition
    assert off == on
    params, policy = off
    assert params["Resources"]["Name"]["Properties"]["Value"] == {
        "Fn::If": ["DataallPivotRoleAutoCreate", "dataallPivotRole-cdk", "dataallPivotRole"]
    }
    assert params["Resources"]["Create"]["Properties"]["Value"] == {
        "Fn::If": ["DataallPivotRoleAutoCreate", "True", "False"]
    }
    (statement,) = policy["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [
        {"Fn::If": ["DataallPivotRoleAutoCreate", "arn:aws:iam::*:role/dataallPivotRole-cdk*",
                    "arn:aws:iam::*:role/dataallPivotRole*"]},
        "x",
    ]  # fmt: skip
    for made in off:
        assert made["Conditions"]["DataallPivotRoleAutoCreate"] == {
            "Fn::Equals": [{"Ref": "EnablePivotRoleAutoCreate"}, "true"]
        }
        assert made["Parameters"]["EnablePivotRoleAutoCreate"]["AllowedValues"] == ["true", "false"]
    option = rules.value_option("EnablePivotRoleAutoCreate", SYNTHESIS)
    assert (option["type"], option["default"]) == ("boolean", False)


def test_the_site_takes_the_reauth_window_of_the_option_where_the_release_offers_it() -> None:
    from blueprints.dataall.site import _reauth_ttl

    with_option = imported("lambdas", {}, outputs=())
    with_option.template["Parameters"] = {"ReauthTtlMinutes": {"Type": "Number"}}

    assert _reauth_ttl([imported("vpc", {}), with_option]) == "${param:ReauthTtlMinutes}"
    assert _reauth_ttl([imported("vpc", {})]) == "5"


@needs_upstream
def test_data_alls_stages_take_the_value_options_where_its_keys_landed_and_no_literal_is_left() -> None:
    from cloud_assembly.reader import CloudAssembly

    report = import_stages(CloudAssembly.load(UPSTREAM / "2.9.0" / "cdk.out"))

    declared = {s.name: rules.value_parameters(s.template) for s in report.stages if rules.value_parameters(s.template)}
    assert declared == {
        "vpc": ["LogRetentionDays", "VpcRestrictedNacl", "VpcId", "VpcEndpointsSecurityGroupId"],
        "cognito": [
            "SessionTimeoutMinutes",
            "WafAllowedIpRanges",
            "WafAllowedCountries",
            "WafRateLimit",
            "WafRateLimitWindow",
        ],
        "params": ["ReauthApis", "SharedDashboardsSessions", "EnablePivotRoleAutoCreate"],
        "lambdas": [
            "LogRetentionDays",
            "ApiRateLimit",
            "ApiBurstLimit",
            "ReauthTtlMinutes",
            "AllowedOrigins",
            "EnablePivotRoleAutoCreate",
            "WafAllowedIpRanges",
            "WafAllowedCountries",
            "WafRateLimit",
            "WafRateLimitWindow",
            "VpcEndpointsSecurityGroupId",
            "ApiCustomDomainName",
            "ApiCustomDomainHostedZoneId",
            "ApiCustomDomainCertificateArn",
        ],
        "ecs": ["LogRetentionDays", "EnablePivotRoleAutoCreate", "VpcEndpointsSecurityGroupId"],
        "opensearch": ["LogRetentionDays"],
        "cloudfront": ["WafAllowedIpRanges", "WafAllowedCountries"],
    }
    text = json.dumps([s.template["Resources"] for s in report.stages])
    assert '"RetentionInDays": 731' not in text and '"TWO_YEARS"' not in text
    assert '"RefreshTokenValidity": 43200' not in text
    assert '"Limit": 1000' not in text and '"RateBasedStatement"' in text  # the API's and Cognito's WebACLs
    assert '"ThrottlingRateLimit": 10000' not in text and '"ThrottlingBurstLimit": 5000' not in text
    assert "role/dataallPivotRole*" not in text.replace('"arn:aws:iam::*:role/dataallPivotRole*"]', "")
    assert '"REAUTH_TTL": "5"' not in text and '"ALLOWED_ORIGINS": "*"' not in text and '"anonymous"' not in text
    options = release_options([], report.stages, VARIANT_OPTIONS)
    assert {name: spec["default"] for name, spec in options.items()} == {
        "AllowedOrigins": "*", "ApiBurstLimit": 5000, "ApiRateLimit": 10000, "LogRetentionDays": 731,
        "ReauthApis": "", "ReauthTtlMinutes": 5, "SessionTimeoutMinutes": 43200,
        "SharedDashboardsSessions": "anonymous", "EnablePivotRoleAutoCreate": False,
        "WafAllowedIpRanges": "", "WafAllowedCountries": "", "WafRateLimit": 1000, "WafRateLimitWindow": 300,
        "ProdSizing": True, "EnableCloudWatchRum": False, "EnableCloudWatchCanaries": False,
        "EnableOpenSearchServerless": False, "EnableCustomDomain": False, "VpcRestrictedNacl": False, "VpcId": "",
            "VpcEndpointsSecurityGroupId": "",
        "ApiCustomDomainName": "", "ApiCustomDomainHostedZoneId": "", "ApiCustomDomainCertificateArn": "",
        # offered with EnableCustomAuth (those of the web UI alone are in no template), empty without it
        "EnableCustomAuth": False, **{name: "" for name in rules.CUSTOM_AUTH_PARAMETERS.values()},
        "InternetFacing": True,
    }  # fmt: skip


# ---------------------------------------------------------------------- variants of a stage
def imported(name: str, resources: dict[str, Any], outputs: tuple[str, ...] = ("Id",)) -> ImportedStage:
    body = {"Resources": resources, "Outputs": {o: {"Value": "x"} for o in outputs}}
    return ImportedStage(name, f"stack/{name}", None, body, {}, (), False)


def report(*stages: ImportedStage) -> ImportReport:
    return ImportReport(stages=list(stages))


def test_only_the_stages_whose_template_differs_get_a_variant_with_the_options_condition() -> None:
    handle = {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
    timestamp = {"F": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {}}}}}
    default = report(
        imported("vpc", handle),
        imported("aurora", {"C": {"Type": "AWS::RDS::DBCluster", "Properties": {"MinCapacity": 4}}}),
        imported("front", {**timestamp, "T": {"Properties": {"timestamp": "2025-10-20T10:00:00.1"}}}),
    )
    other = report(
        imported("vpc", handle),
        imported("aurora", {"C": {"Type": "AWS::RDS::DBCluster", "Properties": {"MinCapacity": 2}}}),
        imported("front", {**timestamp, "T": {"Properties": {"timestamp": "2026-12-05T21:00:00.7"}}}),
    )

    composed = compose_stages([PROD_SIZING], [({"ProdSizing": True}, default), ({"ProdSizing": False}, other)])

    assert {c.stage.name: len(c.variants) for c in composed} == {"vpc": 0, "aurora": 1, "front": 0}
    (variant,) = composed[1].variants
    assert variant.when == {"option": "ProdSizing", "equals": False}
    assert variant.template == "blueprints/aurora.prodsizing-false.template.json"
    assert all(c.when is None for c in composed)


def test_a_variant_that_changes_outputs_no_stage_of_its_combination_reads_is_refused_naming_the_stage() -> None:
    default = report(imported("aurora", {"C": {"Type": "X"}}, outputs=("Id",)))
    other = report(imported("aurora", {"C": {"Type": "Y"}}, outputs=("Id", "More")))

    with pytest.raises(BuildError, match=r"ProdSizing=False: stage aurora changes its outputs \['More'\]"):
        compose_stages([PROD_SIZING], [({"ProdSizing": True}, default), ({"ProdSizing": False}, other)])


def test_variants_whose_first_synthesis_is_not_the_defaults_are_refused_naming_both() -> None:
    default = report(imported("vpc", {}))

    with pytest.raises(BuildError, match=re.escape("defaults' {'ProdSizing': True}, not {'ProdSizing': False}")):
        compose_stages([PROD_SIZING], [({"ProdSizing": False}, default), ({"ProdSizing": True}, default)])
    with pytest.raises(BuildError, match=re.escape("defaults' {'ProdSizing': True}, not none")):
        compose_stages([PROD_SIZING], [])


def test_a_variant_that_changes_a_stages_dependencies_is_refused() -> None:
    default = report(imported("vpc", {}), imported("db", {"C": {"Type": "X"}}))
    moved = replace(imported("db", {"C": {"Type": "Y"}}), depends_on=("vpc",))

    with pytest.raises(BuildError, match="stage db depends on other stages in other combinations"):
        compose_stages(
            [PROD_SIZING],
            [({"ProdSizing": True}, default), ({"ProdSizing": False}, report(imported("vpc", {}), moved))],
        )


# Two options, as data.all's prod_sizing and enable_cw_rum: `db` changes with both, `pool` with
# RUM alone and only in its outputs, which the stage RUM adds (`rum`) reads.
SIZE = VariantOption("Size", "size", True, (False,), "", "")
RUM = VariantOption("Rum", "rum", False, (True,), "", "")


def synthesized(size: bool, rum: bool) -> ImportReport:
    pool = imported("pool", {"P": {"Type": "AWS::Cognito::UserPool"}}, outputs=("Id", "Identity") if rum else ("Id",))
    db = imported("db", {"C": {"Type": "AWS::RDS::DBCluster", "Properties": {"Size": size, "Rum": rum}}})
    stages = [pool, db]
    if rum:
        monitor = {"M": {"Type": "AWS::RUM::AppMonitor", "Properties": {"Small": not size}}}
        stages.append(
            replace(imported("rum", monitor), parameters={"Pool": "${stage:pool.Identity}"}, depends_on=("pool",))
        )
    return report(*stages)


def every_combination() -> list[tuple[dict[str, bool], ImportReport]]:
    return [(c, synthesized(c["Size"], c["Rum"])) for c in combinations([SIZE, RUM])]


def test_every_combination_of_the_variant_options_is_synthesized_the_defaults_first() -> None:
    assert combinations([SIZE, RUM]) == [
        {"Size": True, "Rum": False}, {"Size": False, "Rum": False},
        {"Size": True, "Rum": True}, {"Size": False, "Rum": True},
    ]  # fmt: skip


def test_a_stage_changed_by_two_options_has_a_variant_per_combination_each_an_all_of_both_values() -> None:
    composed = {c.stage.name: c for c in compose_stages([SIZE, RUM], every_combination())}

    assert [(v.when, v.template) for v in composed["db"].variants] == [
        ({"all": [{"option": "Size", "equals": False}, {"option": "Rum", "equals": False}]},
         "blueprints/db.size-false.template.json"),
        ({"all": [{"option": "Size", "equals": True}, {"option": "Rum", "equals": True}]},
         "blueprints/db.rum-true.template.json"),
        ({"all": [{"option": "Size", "equals": False}, {"option": "Rum", "equals": True}]},
         "blueprints/db.size-false.rum-true.template.json"),
    ]  # fmt: skip
    # pool changes with Rum alone: one condition, Size left out
    assert [v.when for v in composed["pool"].variants] == [{"option": "Rum", "equals": True}]


def test_a_stage_an_option_adds_exists_under_that_condition_and_its_producer_declares_the_outputs_it_reads() -> None:
    composed = {c.stage.name: c for c in compose_stages([SIZE, RUM], every_combination())}

    rum = composed["rum"]
    assert rum.when == {"option": "Rum", "equals": True}
    assert rum.stage.template["Resources"]["M"]["Properties"] == {"Small": False}  # Size's default
    assert [v.when for v in rum.variants] == [{"option": "Size", "equals": False}]
    assert composed["pool"].when is None and composed["pool"].outputs == ("Id", "Identity")
    assert composed["pool"].stage.outputs == ("Id",)


def test_the_release_chooses_for_every_combination_the_stages_and_templates_of_its_own_synthesis() -> None:
    document, files = composed_release(compose_stages([SIZE, RUM], every_combination()))
    manifest = Manifest.from_document(document)

    for combination, made in every_combination():
        active = manifest.active_steps(combination)
        assert sorted(active) == sorted(s.name for s in made.stages), combination
        for stage_made in made.stages:
            chosen = active[stage_made.name].template or ""
            assert json.loads(files[chosen]) == stage_made.template, (combination, stage_made.name)


def composed_release(composed: list[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A manifest of the composed stages, and each template's text by its release file."""
    files: dict[str, str] = {}
    stages = []
    for c in composed:
        files[f"blueprints/{c.stage.name}.template.json"] = json.dumps(c.stage.template)
        entry = stage(c.stage.name, parameters=c.stage.parameters, depends_on=c.stage.depends_on, outputs=c.outputs)
        if c.when is not None:
            entry["when"] = c.when
        if c.variants:
            entry["variants"] = [{"when": v.when, "template": v.template} for v in c.variants]
            files.update({v.template: json.dumps(v.stage.template) for v in c.variants})
        stages.append(entry)
    options = {"Size": {"type": "boolean", "default": True}, "Rum": {"type": "boolean", "default": False}}
    document = {
        "format": 1, "name": "dataall", "version": "2.9.0", "options": options, "rules": [], "stages": stages,
        "actions": [], "files": {name: sha256_bytes(text.encode()) for name, text in files.items()},
    }  # fmt: skip
    return document, files


# ---------------------------------------------------------------------- the manifest's variants
def variant_release(variant_parameters: dict[str, str] | None = None, variant_declares: tuple[str, ...] = ()) -> Any:
    """Two stages; `db` has a variant for ProdSizing=false whose template declares `variant_declares`."""
    db = stage("db", parameters={"Size": "${param:ProdSizing}"}, outputs=("Id",))
    variant: dict[str, Any] = {
        "when": {"option": "ProdSizing", "equals": False},
        "template": "blueprints/db.prodsizing-false.template.json",
    }
    if variant_parameters is not None:
        variant["parameters"] = variant_parameters
    db["variants"] = [variant]
    files = {
        "blueprints/db.template.json": template(("Id",), ("Size",)),
        "blueprints/db.prodsizing-false.template.json": template(("Id",), variant_declares),
        "blueprints/api.template.json": template((), ("Db",)),
    }
    document = {
        "format": 1,
        "name": "dataall",
        "version": "2.9.0",
        "options": {"ProdSizing": {"type": "boolean", "default": True}},
        "rules": [],
        "stages": [db, stage("api", parameters={"Db": "${stage:db.Id}"})],
        "actions": [],
        "files": {name: sha256_bytes(body) for name, body in sorted(files.items())},
    }
    return SmallRelease(version="2.9.0", document=document, files=files)


def test_a_stage_runs_the_template_of_the_variant_its_options_meet_else_its_own() -> None:
    manifest = variant_release(variant_parameters={}).manifest

    small = manifest.chosen(manifest.resolve_options({"ProdSizing": "false"}))
    default = manifest.chosen(manifest.resolve_options())

    assert small.steps["db"].template == "blueprints/db.prodsizing-false.template.json"
    assert small.steps["db"].parameters == {} and small.steps["db"].variants == ()
    assert default.steps["db"].template == "blueprints/db.template.json"
    assert default.steps["db"].parameters == {"Size": "${param:ProdSizing}"}
    assert manifest.active_steps({"ProdSizing": False})["db"].template.endswith("prodsizing-false.template.json")
    assert manifest.steps["db"].templates() == ["blueprints/db.template.json", small.steps["db"].template]


def test_a_variant_whose_template_is_missing_or_whose_condition_reads_an_unknown_option_is_refused() -> None:
    document = copy.deepcopy(variant_release().document)
    document["stages"][0]["variants"][0]["when"] = {"option": "Tiny"}
    del document["files"]["blueprints/db.prodsizing-false.template.json"]

    with pytest.raises(ManifestError) as refused:
        Manifest.from_document(document)

    assert "template blueprints/db.prodsizing-false.template.json is not in files" in str(refused.value)
    assert "reads unknown option 'Tiny'" in str(refused.value)


def test_a_variant_may_not_read_a_stage_output_its_stage_does_not() -> None:
    document = copy.deepcopy(variant_release().document)
    parameters = {"X": "${stage:db.Id}", "Y": "${stage:api.Z}"}
    document["stages"][1]["variants"] = [
        {"when": {"option": "ProdSizing"}, "template": "blueprints/api.template.json", "parameters": parameters}
    ]

    with pytest.raises(ManifestError, match="a variant may not change the graph"):
        Manifest.from_document(document)


@pytest.fixture
def publish(aws: None) -> Any:
    def published(release: SmallRelease) -> None:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        release.publish(s3, ARTIFACTS)

    return published


def _deps() -> Any:
    from tests.unit.conftest import moto_deps

    return moto_deps(ARTIFACTS)


def test_plan_checks_the_template_of_the_variant_the_options_choose(publish: Any) -> None:
    # Given a variant whose template does not declare the parameter its stage passes
    release = variant_release(variant_declares=())
    publish(release)
    deps = _deps()

    # When ProdSizing is off, Plan checks the variant's template and refuses it, naming it
    with pytest.raises(ReleaseInvalid, match=r"template blueprints/db\.prodsizing-false\.template\.json declares no"):
        plan(deps, request({"action": "install", "version": "2.9.0", "options": {"ProdSizing": False}}, "small-1"))

    # Then with the default (on), the stage's own template passes
    result = plan(deps, request({"action": "install", "version": "2.9.0"}, "default-1"))
    assert [s["name"] for s in result["steps"]] == ["db", "api"]


def test_plan_passes_a_variant_its_own_parameters(publish: Any) -> None:
    release = variant_release(variant_parameters={}, variant_declares=())
    publish(release)

    result = plan(_deps(), request({"action": "install", "version": "2.9.0", "options": {"ProdSizing": False}}, "s-1"))

    assert [s["name"] for s in result["steps"]] == ["db", "api"]


def test_an_option_the_release_does_not_serve_is_refused_by_name(publish: Any) -> None:
    publish(variant_release(variant_parameters={}))

    with pytest.raises(
        InvalidOptions, match=r"options\.InternetFacing: unknown option; this release accepts ProdSizing"
    ):
        plan(_deps(), request({"action": "install", "version": "2.9.0", "options": {"InternetFacing": False}}, "r-1"))


def test_an_integer_option_outside_its_bounds_is_refused_naming_them() -> None:
    document = copy.deepcopy(variant_release(variant_parameters={}).document)
    document["options"]["SessionTimeoutMinutes"] = {"type": "integer", "default": 43200, "minimum": 60, "maximum": 99}
    manifest = Manifest.from_document(document)

    with pytest.raises(ManifestError, match="SessionTimeoutMinutes: 30 is below its minimum 60"):
        manifest.resolve_options({"SessionTimeoutMinutes": "30"})
    with pytest.raises(ManifestError, match="100 is above its maximum 99"):
        manifest.resolve_options({"SessionTimeoutMinutes": 100})


def test_a_variant_data_all_cannot_synthesize_fails_the_build_naming_the_option_and_the_way_around(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from installer import dataall
    from installer.upstream import Upstream, UpstreamError

    def offline(*_: Any, **__: Any) -> Path:
        raise UpstreamError("pip install ... failed (1): no network")

    monkeypatch.setattr(dataall, "upstream_source", lambda _: tmp_path)
    monkeypatch.setattr(dataall, "upstream_synthesize", offline)
    upstream = Upstream(version="2.9.0", assembly=None, origin=f"--upstream: {tmp_path}")  # type: ignore[arg-type]

    with pytest.raises(
        BuildError, match=r"prod_sizing=False \(option ProdSizing\): .*no network; DATAALL_INSTALLER_VARIANTS=0"
    ):
        dataall.import_variants(upstream, report(), None)


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_the_variants_are_synthesized_jobs_at_a_time_and_imported_in_the_combinations_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jobs: str
) -> None:
    import threading
    import time

    from installer import dataall
    from installer.upstream import Upstream

    running, most, lock = 0, 0, threading.Lock()

    def synthesize(_: Path, __: str, *, environment: dict[str, Any]) -> Path:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return Path(json.dumps(environment, sort_keys=True))

    monkeypatch.setenv("DATAALL_INSTALLER_SYNTH_JOBS", jobs)
    monkeypatch.setattr(dataall, "upstream_source", lambda _: tmp_path)
    monkeypatch.setattr(dataall, "upstream_synthesize", synthesize)
    monkeypatch.setattr(dataall.CloudAssembly, "load", staticmethod(str))
    monkeypatch.setattr(dataall, "import_stages", lambda assembly, *_, **__: assembly)
    upstream = Upstream(version="2.9.0", assembly=None, origin=f"--upstream: {tmp_path}")  # type: ignore[arg-type]

    told: list[str] = []

    imported = dataall.import_variants(upstream, report(), None, [SIZE, RUM], told.append)

    assert imported == [
        ({"Size": False, "Rum": False}, '{"size": false}'),
        ({"Size": True, "Rum": True}, '{"rum": true}'),
        ({"Size": False, "Rum": True}, '{"rum": true, "size": false}'),
    ]
    assert most == min(int(jobs), 3)
    # each synthesis told as it ends, counted across the threads, with the options it changes
    assert sorted(m.split(" (")[0] for m in told) == [f"data.all's variant {n}/3" for n in (1, 2, 3)]
    assert sorted(m.split(" (", 1)[1] for m in told) == [
        "Rum=true): cached", "Size=false): cached", "Size=false, Rum=true): cached"
    ]  # fmt: skip


@pytest.mark.parametrize("given", ["0", "two", "-1", ""])
def test_a_synthesis_job_count_that_is_not_a_positive_integer_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    from installer import dataall

    monkeypatch.setenv("DATAALL_INSTALLER_SYNTH_JOBS", given)

    with pytest.raises(BuildError, match=f"DATAALL_INSTALLER_SYNTH_JOBS={given!r}: give the number"):
        dataall.synth_jobs()


def test_a_stage_waits_for_a_stage_an_option_adds_where_it_exists_and_for_no_other_new_one() -> None:
    def front(rum: bool) -> ImportedStage:
        return replace(imported("front", {}), depends_on=("pool", "rum") if rum else ("pool",))

    reports = [
        (c, report(*synthesized(c["Size"], c["Rum"]).stages, front(c["Rum"]))) for c in combinations([SIZE, RUM])
    ]

    composed = {c.stage.name: c for c in compose_stages([SIZE, RUM], reports)}

    assert composed["front"].stage.depends_on == ("pool", "rum") and not composed["front"].variants
    moved = [(c, report(*r.stages[:-1], replace(r.stages[-1], depends_on=("db",) if c["Size"] is False else ())))
             for c, r in reports]  # fmt: skip
    with pytest.raises(
        BuildError,
        match=re.escape(
            "stage front depends on other stages in other combinations: it waits for ['db'] in "
            "[{'Size': False, 'Rum': False}, {'Size': False, 'Rum': True}], not in {'Size': True, 'Rum': False}"
        ),
    ):
        compose_stages([SIZE, RUM], moved)


def test_rum_without_canaries_is_refused_naming_data_alls_reason_and_only_where_both_options_are_offered() -> None:
    rules_offered = option_rules(VARIANT_OPTIONS)
    manifest = Manifest.from_document(
        {
            "format": 1, "name": "dataall", "version": "2.9.0", "rules": rules_offered, "actions": [],
            "options": release_options([], [], VARIANT_OPTIONS), "stages": [stage("vpc")],
            "files": {"blueprints/vpc.template.json": "0" * 64},
        }
    )  # fmt: skip

    with pytest.raises(ManifestError, match=r"EnableCloudWatchRum needs EnableCloudWatchCanaries: data\.all.s Cognito"):
        manifest.resolve_options({"EnableCloudWatchRum": True})
    assert manifest.resolve_options({"EnableCloudWatchRum": True, "EnableCloudWatchCanaries": True})
    assert option_rules([PROD_SIZING]) == []


# An option that swaps one stage for another, as data.all's enable_opensearch_serverless: `search` (a
# domain) without it, `collection` (a serverless collection) with it; `alarms` reads the one its
# combination has, and `roles` declares the outputs `collection` reads only where it exists.
SWAP = VariantOption("Swap", "swap", False, (True,), "", "")


def swapped(size: bool, swap: bool) -> ImportReport:
    roles = imported("roles", {"R": {"Type": "AWS::IAM::Role"}}, outputs=("Api", "Worker") if swap else ("Api",))
    if swap:
        searched = imported("collection", {"C": {"Type": "AWS::OpenSearchServerless::Collection"}})
        searched = replace(searched, parameters={"Role": "${stage:roles.Worker}"}, depends_on=("roles",), stateful=True)
        reads = {"Search": "${stage:collection.Id}"}
    else:
        searched = imported("search", {"D": {"Type": "AWS::OpenSearchService::Domain", "Properties": {"Big": size}}})
        searched = replace(searched, parameters={"Role": "${stage:roles.Api}"}, depends_on=("roles",), stateful=True)
        reads = {"Search": "${stage:search.Id}"}
    alarms = imported("alarms", {"A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Serverless": swap}}})
    alarms = replace(alarms, parameters={"Topic": "${stage:roles.Api}", **reads}, depends_on=(searched.name, "roles"))
    return report(roles, searched, alarms)


def every_swap() -> list[tuple[dict[str, bool], ImportReport]]:
    return [(c, swapped(c["Size"], c["Swap"])) for c in combinations([SIZE, SWAP])]


def test_a_stage_an_option_swaps_for_another_exists_only_under_its_value_and_its_readers_read_the_one_there() -> None:
    """data.all's enable_opensearch_serverless: the `opensearch` stage only when off, `opensearch-serverless`
    only when on; `dashboards` has a variant reading the collection's stage, and waits for either."""
    composed = {c.stage.name: c for c in compose_stages([SIZE, SWAP], every_swap())}

    assert list(composed) == ["roles", "collection", "search", "alarms"]
    assert composed["search"].when == {"option": "Swap", "equals": False}
    assert composed["collection"].when == {"option": "Swap", "equals": True}
    assert composed["collection"].stage.stateful and composed["search"].stage.stateful
    assert composed["alarms"].stage.depends_on == ("collection", "roles", "search")
    (variant,) = composed["alarms"].variants
    assert variant.when == {"option": "Swap", "equals": True}
    assert variant.stage.parameters == {"Topic": "${stage:roles.Api}", "Search": "${stage:collection.Id}"}
    assert composed["roles"].outputs == ("Api", "Worker")  # the collection reads Worker where it exists


def test_the_release_of_a_swapped_stage_chooses_for_every_combination_its_synthesis_stages_and_parameters() -> None:
    composed = compose_stages([SIZE, SWAP], every_swap())
    stages = [_composed_document(stage_document(c.stage), c) for c in composed]
    files = {f"blueprints/{c.stage.name}.template.json": json.dumps(c.stage.template) for c in composed}
    files.update({v.template: json.dumps(v.stage.template) for c in composed for v in c.variants})
    options = {"Size": {"type": "boolean", "default": True}, "Swap": {"type": "boolean", "default": False}}
    manifest = Manifest.from_document(
        {
            "format": 1, "name": "dataall", "version": "2.9.0", "options": options, "rules": [], "stages": stages,
            "actions": [], "files": {name: sha256_bytes(text.encode()) for name, text in files.items()},
        }
    )  # fmt: skip

    for combination, made in every_swap():
        active = manifest.active_steps(combination)
        assert sorted(active) == sorted(s.name for s in made.stages), combination
        for stage_made in made.stages:
            step = active[stage_made.name]
            assert json.loads(files[step.template or ""]) == stage_made.template, (combination, stage_made.name)
            assert step.parameters == stage_made.parameters, (combination, stage_made.name)
    on = manifest.chosen({"Size": True, "Swap": True})
    assert on.steps["alarms"].dependencies() == {"collection", "roles", "search"}  # `search` is off: not waited for
    assert manifest.waves({"Size": True, "Swap": True}) == [["roles"], ["collection"], ["alarms"]]


def test_a_variant_reading_a_stage_its_stage_does_not_wait_for_or_an_undeclared_output_is_refused() -> None:
    composed = compose_stages([SIZE, SWAP], every_swap())
    stages = [_composed_document(stage_document(c.stage), c) for c in composed]
    alarms = next(s for s in stages if s["name"] == "alarms")
    files = {s["template"]: "{}" for s in stages} | {v["template"]: "{}" for s in stages for v in s.get("variants", ())}
    document = {
        "format": 1, "name": "dataall", "version": "2.9.0", "rules": [], "stages": stages, "actions": [],
        "options": {"Size": {"type": "boolean", "default": True}, "Swap": {"type": "boolean", "default": False}},
        "files": {name: "0" * 64 for name in files},
    }  # fmt: skip
    Manifest.from_document(document)

    alarms["variants"][0]["parameters"]["Search"] = "${stage:collection.Endpoint}"
    with pytest.raises(ManifestError, match="reads output 'Endpoint' that stage 'collection' does not declare"):
        Manifest.from_document(document)
    alarms["depends_on"] = ["roles", "search"]
    alarms["variants"][0]["parameters"]["Search"] = "${stage:collection.Id}"
    with pytest.raises(ManifestError, match="a variant may not change the graph"):
        Manifest.from_document(document)


def test_a_variant_may_read_other_outputs_of_the_stages_its_stage_reads_and_its_parameters_carry_them() -> None:
    """data.all's private API reads the VPC's CIDR block, which its public one does not: the graph is the same."""
    moved = []
    for combination, made in every_swap():
        alarms = made.stages[-1]
        if combination["Swap"]:
            alarms = replace(alarms, parameters={**alarms.parameters, "Topic": "${stage:roles.Worker}"})
        moved.append((combination, report(*made.stages[:-1], alarms)))

    composed = {c.stage.name: c for c in compose_stages([SIZE, SWAP], moved)}

    (variant,) = composed["alarms"].variants
    assert variant.stage.parameters["Topic"] == "${stage:roles.Worker}"
    assert composed["alarms"].stage.parameters["Topic"] == "${stage:roles.Api}"
    document = _composed_document(stage_document(composed["alarms"].stage), composed["alarms"])
    assert document["variants"][0]["parameters"]["Topic"] == "${stage:roles.Worker}"


def test_a_variant_may_read_in_its_place_only_a_stage_some_combinations_lack() -> None:
    """A variant reading an always-there stage its stage does not read is refused: it would change the graph."""
    moved = []
    for combination, made in every_swap():
        alarms = made.stages[-1]
        others = {k: v for k, v in alarms.parameters.items() if k != "Topic"}
        alarms = replace(
            alarms, parameters={**others, "Topic": "${stage:roles.Worker}"} if combination["Swap"] else others
        )
        moved.append((combination, report(*made.stages[:-1], alarms)))

    with pytest.raises(BuildError, match="stage alarms changes the stages it reads"):
        compose_stages([SIZE, SWAP], moved)


def test_a_serverless_collection_makes_its_stage_hold_data() -> None:
    """A collection holds the search index (CloudFormation deletes it with its stack), as a domain does."""
    assert {"AWS::OpenSearchServerless::Collection", "AWS::OpenSearchService::Domain"} <= DATA_TYPES


# ---------------------------------------------------------------------- custom_waf_rules
CLOUDFRONT_STACK = "dataall-main-cicd-stack/dataall-dev-cloudfront-stage/cloudfront-stack/CloudFront"


def waf_template(ip_list: list[str], geo_list: list[str]) -> dict[str, Any]:
    """data.all's CloudFront WebACL (two of its managed rules) as `get_waf_rules` synthesizes it."""

    def visibility(name: str) -> dict[str, Any]:
        return {"CloudWatchMetricsEnabled": True, "MetricName": name, "SampledRequestsEnabled": True}

    def block(name: str, statement: dict[str, Any], priority: int) -> dict[str, Any]:
        return {
            "Action": {"Block": {}},
            "Name": name,
            "Priority": priority,
            "Statement": {"NotStatement": {"Statement": statement}},
            "VisibilityConfig": visibility(name),
        }

    tags = [{"Key": "Application", "Value": "dataall-dev"}]
    made: list[dict[str, Any]] = []
    resources: dict[str, Any] = {}
    if geo_list:
        made.append(block("GeoMatch", {"GeoMatchStatement": {"CountryCodes": geo_list}}, len(made)))
    if ip_list:
        arn = {"Fn::GetAtt": ["DataallCloudfrontIPSet", "Arn"]}
        made.append(block("IPMatch", {"IPSetReferenceStatement": {"Arn": arn}}, len(made)))
        resources["DataallCloudfrontIPSet"] = {
            "Type": "AWS::WAFv2::IPSet",
            "Properties": {"Addresses": ip_list, "Description": "IP addresses to allow for Dataall dev",
                           "IPAddressVersion": "IPV4", "Name": "dataall-dev-ipset-cloudfront", "Scope": "CLOUDFRONT",
                           "Tags": tags},
            "Metadata": {"aws:cdk:path": f"{CLOUDFRONT_STACK}/DataallCloudfrontIPSet"},
        }  # fmt: skip
    for name in ("AWSManagedRulesAdminProtectionRuleSet", "AWSManagedRulesAmazonIpReputationList"):
        made.append(
            {"Name": f"AWS-{name}", "OverrideAction": {"None": {}}, "Priority": len(made),
             "Statement": {"ManagedRuleGroupStatement": {"Name": name, "VendorName": "AWS"}},
             "VisibilityConfig": visibility(f"AWS-{name}")}
        )  # fmt: skip
    resources["ACLCloudfront"] = {
        "Type": "AWS::WAFv2::WebACL",
        "Properties": {
            "DefaultAction": {"Allow": {}},
            "Rules": made,
            "Scope": "CLOUDFRONT",
            "Tags": tags,
            "VisibilityConfig": visibility("waf-cloudfront"),
        },
        "Metadata": {"aws:cdk:path": f"{CLOUDFRONT_STACK}/ACL-Cloudfront"},
    }
    return {"Resources": resources}


def resolved(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """`template`'s resources as CloudFormation makes them for `parameters` (the rule's intrinsics only)."""
    conditions: dict[str, bool] = {}
    refs: dict[str, Any] = {**parameters, "AWS::NoValue": None}

    def value(node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in map(value, node) if v is not None]
        if not isinstance(node, dict):
            return node
        if "Ref" in node:
            return refs.get(node["Ref"], node)
        return call(node)

    functions: dict[str, Callable[[Any], Any]] = {
        "Fn::Sub": lambda text: (
            re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: str(refs[m[1]]), text)
            if all(name in refs for name in re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
            else {"Fn::Sub": text}
        ),
        "Fn::Split": lambda args: value(args[1]).split(args[0]),
        "Fn::If": lambda args: value(args[1] if conditions[args[0]] else args[2]),
        "Fn::Not": lambda args: not value(args[0]),
        "Fn::Equals": lambda args: str(value(args[0])) == str(value(args[1])),  # as CloudFormation: text
        "Fn::And": lambda args: all(map(value, args)),
        "Fn::Or": lambda args: any(map(value, args)),
        "Condition": lambda name: conditions[name],
    }

    def call(node: dict[str, Any]) -> Any:
        if len(node) == 1 and (name := next(iter(node))) in functions:
            return functions[name](node[name])
        return {k: v for k, v in ((k, value(v)) for k, v in node.items()) if v is not None}  # AWS::NoValue

    for name, condition in template.get("Conditions", {}).items():
        conditions[name] = value(condition)
    return {
        key: value({k: v for k, v in r.items() if k != "Condition"})
        for key, r in template["Resources"].items()
        if conditions.get(r.get("Condition", ""), True)
    }


WAF_SETTINGS = [([], []), (["10.0.0.0/8", "192.168.1.0/24"], ["DE", "FR"]), (["10.0.0.0/8"], []), ([], ["DE"])]


@pytest.mark.parametrize(("ip_list", "geo_list"), WAF_SETTINGS[1:], ids=["both", "ip ranges", "countries"])
def test_the_waf_options_make_data_alls_synthesis_with_custom_waf_rules_and_without_the_same_template(
    ip_list: list[str], geo_list: list[str]
) -> None:
    # Given data.all's WebACL synthesized without custom_waf_rules and with them
    waf = {"allowed_ip_list": ip_list, "allowed_geo_list": geo_list}
    default = rules.apply(waf_template([], []), SYNTHESIS, (rules.waf_allowed_ranges_from_the_options,))
    given = rules.apply(
        waf_template(ip_list, geo_list),
        with_settings(custom_waf_rules=waf),
        (rules.waf_allowed_ranges_from_the_options,),
    )

    # Then the rule makes both the same template
    assert given == default
    assert default["Parameters"]["WafAllowedIpRanges"]["AllowedPattern"] == rules.WAF_IP_RANGES_PATTERN
    assert default["Resources"]["DataallCloudfrontIPSet"]["Condition"] == "DataallWafIpRangesGiven"
    option = rules.value_option("WafAllowedIpRanges", with_settings(custom_waf_rules=waf))
    assert (option["type"], option["default"]) == ("string", ",".join(ip_list))
    assert rules.value_option("WafAllowedCountries", SYNTHESIS)["default"] == ""


@pytest.mark.parametrize(("ip_list", "geo_list"), WAF_SETTINGS, ids=["none", "both", "ip ranges", "countries"])
def test_the_waf_options_make_what_data_all_synthesizes_for_each_combination(
    ip_list: list[str], geo_list: list[str]
) -> None:
    made = rules.apply(waf_template([], []), SYNTHESIS, (rules.waf_allowed_ranges_from_the_options,))

    deployed = resolved(made, {"WafAllowedIpRanges": ",".join(ip_list), "WafAllowedCountries": ",".join(geo_list)})

    assert deployed == waf_template(ip_list, geo_list)["Resources"]


def test_a_waf_synthesis_the_settings_do_not_describe_is_refused() -> None:
    waf = {"allowed_ip_list": ["10.0.0.0/8"], "allowed_geo_list": ["DE"]}
    only = (rules.waf_allowed_ranges_from_the_options,)
    with pytest.raises(rules.RuleError, match=r"begins with rules \['GeoMatch', 'IPMatch'\], not those"):
        rules.apply(waf_template(["10.0.0.0/8"], ["DE"]), SYNTHESIS, only)
    with pytest.raises(rules.RuleError, match="GeoMatch rule not of allowed_geo_list"):
        rules.apply(waf_template(["10.0.0.0/8"], ["FR"]), with_settings(custom_waf_rules=waf), only)
    with pytest.raises(rules.RuleError, match="IPSet DataallCloudfrontIPSet is not as CDK synthesizes it"):
        rules.apply(waf_template(["10.1.0.0/16"], ["DE"]), with_settings(custom_waf_rules=waf), only)


COGNITO_STACK = "dataall-main-cicd-stack/dataall-dev-backend-stage/backend-stack/Cognito"
WAF_RULES = (rules.waf_allowed_ranges_from_the_options, rules.waf_rate_limit_from_the_options)


def rate_limited_template(limit: int = 1000, window: int | None = None) -> dict[str, Any]:
    """data.all's Cognito WebACL (its managed rules, then its rate-based rule) as `get_waf_rules`
    synthesizes it for `rate_limit` and `rate_limit_window` (None: not given)."""

    def visibility(name: str) -> dict[str, Any]:
        return {"CloudWatchMetricsEnabled": True, "MetricName": name, "SampledRequestsEnabled": True}

    managed = ["AWSManagedRulesAdminProtectionRuleSet", "AWSManagedRulesAmazonIpReputationList",
               "AWSManagedRulesKnownBadInputsRuleSet"]  # fmt: skip
    made: list[dict[str, Any]] = [
        {"Name": f"AWS-{name}", "OverrideAction": {"None": {}}, "Priority": priority,
         "Statement": {"ManagedRuleGroupStatement": {"Name": name, "VendorName": "AWS"}},
         "VisibilityConfig": visibility(f"AWS-{name}")}
        for priority, name in enumerate(managed)
    ]  # fmt: skip
    statement = {
        "AggregateKeyType": "IP",
        "Limit": limit,
        **({} if window is None else {"EvaluationWindowSec": window}),
    }
    made.append(
        {"Action": {"Block": {}}, "Name": "CognitoRateLimit", "Priority": len(made),
         "Statement": {"RateBasedStatement": statement}, "VisibilityConfig": visibility("WAFCognitoRateLimitdev")}
    )  # fmt: skip
    acl = {
        "Type": "AWS::WAFv2::WebACL",
        "Properties": {
            "DefaultAction": {"Allow": {}},
            "Rules": made,
            "Scope": "REGIONAL",
            "Tags": [{"Key": "Application", "Value": "dataall-dev"}],
            "VisibilityConfig": visibility("waf-cognito"),
        },
        "Metadata": {"aws:cdk:path": f"{COGNITO_STACK}/ACL-Cognito"},
    }
    return {"Resources": {"ACLCognito": acl}}


def _rate_statement(resources: dict[str, Any]) -> dict[str, Any]:
    (rule,) = [r for r in resources["ACLCognito"]["Properties"]["Rules"] if r.get("Name") == "CognitoRateLimit"]
    return dict(rule["Statement"]["RateBasedStatement"])


@pytest.mark.parametrize(("limit", "window"), [(500, 120), (1000, 600), (20000, None), (1000, 300)])
def test_the_waf_rate_limit_options_make_data_alls_synthesis_with_rate_limit_and_without_the_same_template(
    limit: int, window: int | None
) -> None:
    # Given data.all's WebACL synthesized without custom_waf_rules and with rate_limit (and rate_limit_window)
    waf: dict[str, Any] = {"rate_limit": limit, **({} if window is None else {"rate_limit_window": window})}
    default = rules.apply(rate_limited_template(), SYNTHESIS, WAF_RULES)
    given = rules.apply(rate_limited_template(limit, window), with_settings(custom_waf_rules=waf), WAF_RULES)

    # Then the rules make both the same template, the limit and the window by the parameters
    assert given == default
    assert _rate_statement(default["Resources"]) == {
        "AggregateKeyType": "IP",
        "Limit": {"Ref": "WafRateLimit"},
        "EvaluationWindowSec": {"Fn::If": ["DataallWafRateLimitWindowGiven", {"Ref": "WafRateLimitWindow"},
                                           {"Ref": "AWS::NoValue"}]},
    }  # fmt: skip
    parameters = default["Parameters"]
    assert (parameters["WafRateLimit"]["MinValue"], parameters["WafRateLimit"]["MaxValue"]) == (10, 2000000000)
    assert parameters["WafRateLimitWindow"]["AllowedValues"] == ["60", "120", "300", "600"]
    assert rules.value_parameters(default) == ["WafAllowedIpRanges", "WafAllowedCountries", "WafRateLimit",
                                               "WafRateLimitWindow"]  # fmt: skip
    # and each option defaults to the value its synthesis had (data.all's 1000, WAF's 300 when not given)
    settings = with_settings(custom_waf_rules=waf)
    limit_option, window_option = (rules.value_option(p, settings) for p in ("WafRateLimit", "WafRateLimitWindow"))
    assert (limit_option["type"], limit_option["default"], limit_option["minimum"], limit_option["maximum"]) == (
        "integer", limit, 10, 2000000000,
    )  # fmt: skip
    assert (window_option["type"], window_option["default"], window_option["allowed"]) == (
        "integer", window or 300, [60, 120, 300, 600],
    )  # fmt: skip
    assert (rules.value_option("WafRateLimit", SYNTHESIS)["default"],
            rules.value_option("WafRateLimitWindow", SYNTHESIS)["default"]) == (1000, 300)  # fmt: skip


@pytest.mark.parametrize(("limit", "window"), [(1000, None), (500, 120), (2000000000, 60), (10, 600)])
def test_the_waf_rate_limit_options_make_what_data_all_synthesizes_for_them(limit: int, window: int | None) -> None:
    made = rules.apply(rate_limited_template(), SYNTHESIS, WAF_RULES)

    deployed = resolved(
        made,
        {
            "WafAllowedIpRanges": "",
            "WafAllowedCountries": "",
            "WafRateLimit": limit,
            "WafRateLimitWindow": window or 300,
        },
    )

    assert deployed == rate_limited_template(limit, window)["Resources"]


def test_the_default_window_leaves_the_window_out_as_data_alls_synthesis_does() -> None:
    """data.all gives no EvaluationWindowSec unless rate_limit_window is set: WAF then counts over 300 s. Given
    300 (the option's default), the rule's template leaves it out too; data.all synthesized with
    rate_limit_window 300 writes it, which WAF takes as the same window."""
    made = rules.apply(rate_limited_template(), SYNTHESIS, WAF_RULES)
    options: dict[str, Any] = {"WafAllowedIpRanges": "", "WafAllowedCountries": "", "WafRateLimit": 1000}

    assert "EvaluationWindowSec" not in _rate_statement(resolved(made, {**options, "WafRateLimitWindow": 300}))
    assert _rate_statement(resolved(made, {**options, "WafRateLimitWindow": 60}))["EvaluationWindowSec"] == 60


def test_a_rate_limit_synthesis_the_settings_do_not_describe_is_refused() -> None:
    only = (rules.waf_rate_limit_from_the_options,)
    with pytest.raises(rules.RuleError, match="CognitoRateLimit rule not of the synthesis' custom_waf_rules"):
        rules.apply(rate_limited_template(500), SYNTHESIS, only)
    with pytest.raises(rules.RuleError, match="rate_limit 500 and rate_limit_window None"):
        rules.apply(rate_limited_template(500, 120), with_settings(custom_waf_rules={"rate_limit": 500}), only)
    with pytest.raises(rules.RuleError, match="rate_limit 1000 and rate_limit_window 120"):
        rules.apply(rate_limited_template(), with_settings(custom_waf_rules={"rate_limit_window": 120}), only)
    without = rate_limited_template()
    without["Resources"]["ACLCognito"]["Properties"]["Rules"].pop()
    with pytest.raises(rules.RuleError, match="has 0 rules CognitoRateLimit, not one"):
        rules.apply(without, SYNTHESIS, only)


def test_cloudfronts_web_acl_has_no_rate_limit_and_gains_no_rate_limit_parameter() -> None:
    made = rules.apply(waf_template([], []), SYNTHESIS, (rules.waf_rate_limit_from_the_options,))

    assert made == waf_template([], [])


# ---------------------------------------------------------------------- custom domain
CUSTOM_DOMAIN = next(o for o in VARIANT_OPTIONS if o.option == rules.CUSTOM_DOMAIN_ENABLED)
ZONE = rules.CUSTOM_DOMAIN_PLACEHOLDER


def custom_domain_template(name: str, zone: str) -> dict[str, Any]:
    """Where data.all 2.9.0 puts its custom_domain (deploy/stacks/cloudfront.py, lambda_api.py, container.py)."""
    return {
        "Resources": {
            "Certificate": {
                "Type": "AWS::CertificateManager::Certificate",
                "Properties": {
                    "DomainName": name,
                    "SubjectAlternativeNames": [f"*.{name}"],
                    "DomainValidationOptions": [{"DomainName": name, "HostedZoneId": zone}],
                    "ValidationMethod": "DNS",
                },
            },
            "Alias": {
                "Type": "AWS::Route53::RecordSet",
                "Properties": {"Name": f"{name}.", "HostedZoneId": zone, "Type": "A"},
            },
            "Api": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": {"frontend_domain_url": f"https://{name}"}}},
            },
            "Sender": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {"ContainerDefinitions": [{"Environment": [{"Name": "x", "Value": f"noreply@{name}"}]}]},
            },
        }
    }


def test_the_custom_domain_variants_zone_becomes_the_two_parameters_wherever_data_all_put_it() -> None:
    # Given a template of the variant synthesized with the placeholder zone
    name, zone = ZONE["hosted_zone_name"], ZONE["hosted_zone_id"]
    synthesis = replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: dict(ZONE)})

    # When the rules apply
    result = rules.apply(custom_domain_template(name, zone), synthesis)

    # Then no literal of the zone is left, and each place reads the parameters
    text = json.dumps(result)
    assert name not in text and zone not in text
    resources = result["Resources"]
    certificate = resources["Certificate"]["Properties"]
    assert certificate["DomainName"] == {"Ref": "CustomDomainName"}
    assert certificate["SubjectAlternativeNames"] == [{"Fn::Sub": "*.${CustomDomainName}"}]
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": {"Ref": "CustomDomainName"}, "HostedZoneId": {"Ref": "CustomDomainHostedZoneId"}}
    ]
    assert resources["Alias"]["Properties"]["Name"] == {"Fn::Sub": "${CustomDomainName}."}
    assert resources["Api"]["Properties"]["Environment"]["Variables"]["frontend_domain_url"] == {
        "Fn::Sub": "https://${CustomDomainName}"
    }
    assert resources["Sender"]["Properties"]["ContainerDefinitions"][0]["Environment"][0]["Value"] == {
        "Fn::Sub": "${CustomDomainEmailSenderId}@${CustomDomainName}"
    }
    assert rules.value_parameters(result) == [
        "CustomDomainName", "CustomDomainHostedZoneId", "CustomDomainEmailSenderId"
    ]  # fmt: skip
    pattern = result["Parameters"]["CustomDomainName"]["AllowedPattern"]
    assert re.fullmatch(pattern, "dataall.example.com") and not re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, "Data All.example.com") and not re.fullmatch(pattern, "localhost")
    zone_pattern = result["Parameters"]["CustomDomainHostedZoneId"]["AllowedPattern"]
    assert re.fullmatch(zone_pattern, "Z0429479X5OZXTXD0OTE") and not re.fullmatch(zone_pattern, "zone-1")


def test_a_synthesis_without_custom_domain_is_left_as_it_is_and_a_zone_the_rule_cannot_reach_is_refused() -> None:
    # A synthesis without custom_domain: the same names are data.all's own, not the option's
    untouched = custom_domain_template(ZONE["hosted_zone_name"], ZONE["hosted_zone_id"])
    assert rules.apply(untouched, SYNTHESIS) == untouched | {}
    # The zone in a place the rules never rewrite (Mappings): refused, naming what is left
    synthesis = replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: dict(ZONE)})
    mapped = {**untouched, "Mappings": {"M": {"k": {"v": ZONE["hosted_zone_name"]}}}}
    with pytest.raises(rules.RuleError, match=r"custom_domain: \['custom-domain\.dataall-installer\.invalid'\]"):
        rules.custom_domain_from_the_options(copy.deepcopy(mapped), synthesis)


def test_the_custom_domain_variant_is_synthesized_with_the_placeholder_zone_and_its_options_default_empty() -> None:
    assert CUSTOM_DOMAIN.key == "custom_domain" and CUSTOM_DOMAIN.default is False
    assert CUSTOM_DOMAIN.key_value(True) == ZONE and CUSTOM_DOMAIN.key_value(False) is False
    assert PROD_SIZING.key_value(False) is False
    made = rules.apply(
        custom_domain_template(ZONE["hosted_zone_name"], ZONE["hosted_zone_id"]),
        replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: dict(ZONE)}),
    )
    options = release_options([], [ImportedStage("cloudfront", "s", None, made, {}, (), False)], [CUSTOM_DOMAIN])
    assert {n: (o["type"], o["default"]) for n, o in options.items()} == {
        "CustomDomainName": ("string", ""), "CustomDomainHostedZoneId": ("string", ""),
        "CustomDomainEmailSenderId": ("string", "noreply"), "EnableCustomDomain": ("boolean", False),
    }  # fmt: skip
    assert re.fullmatch(options["CustomDomainName"]["pattern"], "")


@pytest.mark.parametrize("sender", ["alerts", "data.all-notifications"])
def test_custom_domains_sender_id_becomes_its_parameter_and_the_synthesized_one_its_default(sender: str) -> None:
    # data.all synthesized with another sender id (custom_domain.email_notification_sender_email_id):
    # the same template after the rule as the variant's, synthesized without it (data.all's noreply)
    name, zone = ZONE["hosted_zone_name"], ZONE["hosted_zone_id"]
    given = rules.apply(
        custom_domain_template(name, zone) | {},
        replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: {**ZONE, "email_notification_sender_email_id": sender}}),
    )
    template = custom_domain_template(name, zone)
    for container in template["Resources"]["Sender"]["Properties"]["ContainerDefinitions"]:
        container["Environment"][0]["Value"] = f"{sender}@{name}"
    other = rules.apply(
        template,
        replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: {**ZONE, "email_notification_sender_email_id": sender}}),
    )
    variant = rules.apply(
        custom_domain_template(name, zone), replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: dict(ZONE)})
    )
    assert other == variant
    # the template synthesized with noreply but read as sender's: the sender is not found, its parameter not made
    assert "CustomDomainEmailSenderId" not in given["Parameters"]
    # the option's default is the synthesis' sender, and its pattern a dot-atom of at most 64 characters
    option = rules.value_option(
        "CustomDomainEmailSenderId",
        replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: {**ZONE, "email_notification_sender_email_id": sender}}),
    )
    assert option["default"] == sender
    assert rules.value_option("CustomDomainEmailSenderId", SYNTHESIS)["default"] == "noreply"
    pattern = variant["Parameters"]["CustomDomainEmailSenderId"]["AllowedPattern"]
    assert pattern == option["pattern"]
    for good in ("noreply", "data.all-notifications", "a+b_c%d", "x" * 64):
        assert re.fullmatch(pattern, good), good
    for bad in ("", "x" * 65, "no reply", ".noreply", "noreply.", "a..b", "noreply@example.com", "é"):
        assert not re.fullmatch(pattern, bad), bad


# ---------------------------------------------------------------------- custom domain's own certificate
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
CERTIFICATE_PATH = f"{CLOUDFRONT_STACK}/CustomDomainCertificate/Resource"


def certificate_template(arn: str = "") -> dict[str, Any]:
    """data.all's CloudFront stack with its custom_domain (deploy/stacks/cloudfront.py): the certificate it
    requests and the distribution's `Ref` of it, or, with `certificate_arn`, that ARN and no certificate."""
    name, zone = ZONE["hosted_zone_name"], ZONE["hosted_zone_id"]
    requested = custom_domain_template(name, zone)["Resources"]["Certificate"]
    viewer = {"AcmCertificateArn": arn or {"Ref": "CustomDomainCertificate9BDD02ED"}, "SslSupportMethod": "sni-only"}
    resources: dict[str, Any] = {
        "Distribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {"DistributionConfig": {"Aliases": [name], "ViewerCertificate": viewer}},
        },
        "Output": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::GetAtt": ["Distribution", "Id"]}}},
    }
    if not arn:
        resources["CustomDomainCertificate9BDD02ED"] = {**requested, "Metadata": {"aws:cdk:path": CERTIFICATE_PATH}}
    return {"Resources": resources}


def domain_settings(arn: str = "") -> rules.Synthesis:
    domain = {**ZONE, **({"certificate_arn": arn} if arn else {})}
    return replace(SYNTHESIS, settings={rules.CUSTOM_DOMAIN_KEY: domain})


CERTIFICATE_RULES = (rules.custom_domain_from_the_options, rules.custom_domain_certificate_from_the_option)


def test_the_variants_certificate_is_made_only_without_the_certificate_arn_option_which_the_distribution_takes() -> (
    None
):
    # Given the custom-domain variant's CloudFront template, synthesized without certificate_arn
    made = rules.apply(certificate_template(), domain_settings(), CERTIFICATE_RULES)

    # Then the certificate is made under a condition, the distribution takes it or the option's ARN
    certificate = made["Resources"]["CustomDomainCertificate9BDD02ED"]
    assert certificate["Condition"] == "DataallCustomDomainCertificateRequested"
    assert made["Conditions"] == {
        "DataallCustomDomainCertificateRequested": {"Fn::Equals": [{"Ref": "CustomDomainCertificateArn"}, ""]}
    }
    viewer = made["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["ViewerCertificate"]
    assert viewer["AcmCertificateArn"] == {
        "Fn::If": [
            "DataallCustomDomainCertificateRequested",
            {"Ref": "CustomDomainCertificate9BDD02ED"},
            {"Ref": "CustomDomainCertificateArn"},
        ]
    }
    parameter = made["Parameters"]["CustomDomainCertificateArn"]
    assert parameter["Default"] == "" and rules.value_parameters(made)[-1] == "CustomDomainCertificateArn"
    assert re.fullmatch(parameter["AllowedPattern"], CERTIFICATE_ARN) and re.fullmatch(parameter["AllowedPattern"], "")
    # any region's: CloudFront's (us-east-1) or a private data.all's load balancer's (Plan checks which)
    assert re.fullmatch(parameter["AllowedPattern"], "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e")
    for wrong in ("arn:aws:acm:eu-west:123456789012:certificate/0f1e", "arn:aws:iam::123456789012:role/x"):
        assert not re.fullmatch(parameter["AllowedPattern"], wrong)
    assert re.fullmatch(parameter["AllowedPattern"], "arn:aws-cn:acm:us-east-1:123456789012:certificate/ab-12")
    # And each value of the option makes what data.all synthesizes for it
    assert resolved(made, {"CustomDomainCertificateArn": ""}) == resolved(
        rules.apply(certificate_template(), domain_settings(), (rules.custom_domain_from_the_options,)), {}
    )
    with_arn = rules.apply(certificate_template(CERTIFICATE_ARN), domain_settings(CERTIFICATE_ARN), CERTIFICATE_RULES)
    assert resolved(made, {"CustomDomainCertificateArn": CERTIFICATE_ARN}) == resolved(
        with_arn, {"CustomDomainCertificateArn": CERTIFICATE_ARN}
    )
    assert with_arn["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["ViewerCertificate"][
        "AcmCertificateArn"
    ] == {"Ref": "CustomDomainCertificateArn"}  # the synthesis' ARN, checked to be where data.all puts it


def test_the_certificate_rule_leaves_other_templates_and_refuses_references_its_condition_cannot_follow() -> None:
    # Without custom_domain, or a template without the certificate: nothing changes
    plain = certificate_template()
    assert rules.apply(plain, SYNTHESIS, (rules.custom_domain_certificate_from_the_option,)) == plain
    other = {"Resources": {"Api": custom_domain_template("a.b", "Z1")["Resources"]["Api"]}}
    assert rules.apply(other, domain_settings(), (rules.custom_domain_certificate_from_the_option,)) == other
    # A reference that would dangle when the certificate is not made
    for reference, expected in (
        ({"Fn::GetAtt": ["CustomDomainCertificate9BDD02ED", "Arn"]}, "Fn::GetAtt of certificate"),
        ({"Fn::Sub": "${CustomDomainCertificate9BDD02ED}"}, "an Fn::Sub reads certificate"),
    ):
        template = certificate_template()
        template["Resources"]["Output"]["Properties"]["Value"] = reference
        with pytest.raises(rules.RuleError, match=expected):
            rules.custom_domain_certificate_from_the_option(template, domain_settings())
    template = certificate_template()
    template["Resources"]["Output"]["DependsOn"] = ["CustomDomainCertificate9BDD02ED"]
    with pytest.raises(rules.RuleError, match="Output depends on certificate"):
        rules.custom_domain_certificate_from_the_option(template, domain_settings())
    # A synthesis with certificate_arn that made a certificate all the same
    with pytest.raises(rules.RuleError, match="made though the synthesis' certificate_arn is set"):
        rules.custom_domain_certificate_from_the_option(certificate_template(), domain_settings(CERTIFICATE_ARN))


def test_the_certificate_option_defaults_empty_and_is_offered_where_the_variant_declares_it() -> None:
    option = rules.value_option("CustomDomainCertificateArn", SYNTHESIS)
    assert (option["type"], option["default"]) == ("string", "")
    assert "custom_domain.certificate_arn" in option["description"]
    assert re.fullmatch(option["pattern"], CERTIFICATE_ARN) and re.fullmatch(option["pattern"], "")
    made = rules.apply(certificate_template(), domain_settings(), CERTIFICATE_RULES)
    options = release_options([], [ImportedStage("cloudfront", "s", None, made, {}, (), False)], [CUSTOM_DOMAIN])
    assert options["CustomDomainCertificateArn"]["default"] == ""
    assert (
        stage_document(ImportedStage("cloudfront", "s", None, made, {}, (), False))["parameters"][
            "CustomDomainCertificateArn"
        ]
        == "${param:CustomDomainCertificateArn}"
    )


def custom_domain_manifest() -> Manifest:
    offered = ["EnableCustomDomain", "CustomDomainName", "CustomDomainHostedZoneId", "CustomDomainCertificateArn",
               "CustomDomainEmailSenderId", "ProdSizing"]  # fmt: skip
    document = {
        "format": 1, "name": "dataall", "version": "2.9.0", "rules": option_rules(offered), "actions": [],
        "options": {
            "EnableCustomDomain": {"type": "boolean", "default": False},
            "CustomDomainName": {"type": "string", "default": ""},
            "CustomDomainHostedZoneId": {"type": "string", "default": ""},
            "CustomDomainCertificateArn": {"type": "string", "default": ""},
            "CustomDomainEmailSenderId": {"type": "string", "default": "noreply"},
        },
        "stages": [stage("vpc")], "files": {"blueprints/vpc.template.json": "0" * 64},
    }  # fmt: skip
    return Manifest.from_document(document)


@pytest.mark.parametrize(
    "given",
    [
        {"EnableCustomDomain": True},
        {"EnableCustomDomain": True, "CustomDomainName": "dataall.example.com"},
        {"EnableCustomDomain": True, "CustomDomainHostedZoneId": "Z0429479X5OZXTXD0OTE"},
    ],
    ids=["neither", "no zone id", "no name"],
)
def test_a_custom_domain_without_its_zone_is_refused_naming_both_options(given: dict[str, Any]) -> None:
    with pytest.raises(ManifestError, match=r"EnableCustomDomain needs CustomDomainName \(the name of a public"):
        custom_domain_manifest().resolve_options(given)


def test_a_zone_given_without_the_custom_domain_is_refused_not_ignored() -> None:
    manifest = custom_domain_manifest()
    for given in (
        {"CustomDomainName": "dataall.example.com"},
        {"CustomDomainHostedZoneId": "Z0429479X5OZXTXD0OTE"},
        {"CustomDomainCertificateArn": CERTIFICATE_ARN},
        {"CustomDomainEmailSenderId": "data-all"},
    ):
        with pytest.raises(ManifestError, match=r"CustomDomainEmailSenderId take effect with EnableCustomDomain=true"):
            manifest.resolve_options(given)
    assert manifest.resolve_options({"CustomDomainEmailSenderId": "noreply"})["EnableCustomDomain"] is False
    both = {"CustomDomainName": "dataall.example.com", "CustomDomainHostedZoneId": "Z0429479X5OZXTXD0OTE"}
    assert manifest.resolve_options({"EnableCustomDomain": True, **both})["CustomDomainName"] == "dataall.example.com"
    certified: dict[str, Any] = {"EnableCustomDomain": True, **both, "CustomDomainCertificateArn": CERTIFICATE_ARN}
    assert manifest.resolve_options(certified)["CustomDomainCertificateArn"] == CERTIFICATE_ARN
    sender: dict[str, Any] = {"EnableCustomDomain": True, **both, "CustomDomainEmailSenderId": "data-all"}
    assert manifest.resolve_options(sender)["CustomDomainEmailSenderId"] == "data-all"
    assert manifest.resolve_options({})["EnableCustomDomain"] is False


def test_combinations_plan_refuses_are_not_synthesized() -> None:
    by_name = {o.option: o for o in VARIANT_OPTIONS}
    rum, canaries = by_name["EnableCloudWatchRum"], by_name["EnableCloudWatchCanaries"]
    assert combinations([rum, canaries]) == [
        {"EnableCloudWatchRum": False, "EnableCloudWatchCanaries": False},
        {"EnableCloudWatchRum": False, "EnableCloudWatchCanaries": True},
        {"EnableCloudWatchRum": True, "EnableCloudWatchCanaries": True},
    ]
    # every variant option: of the 2^5 combinations without custom auth, the 24 without RUM-and-no-canaries;
    # with it, the 2^3 of the options it allows (neither RUM nor the canaries); InternetFacing=false, the 2^2 of
    # the options it allows (the custom domain on; no RUM, canaries, custom auth): 35 syntheses besides the defaults
    every = combinations(VARIANT_OPTIONS)
    assert len(every) == 24 + 8 + 4
    private = [c for c in every if not c["InternetFacing"]]
    assert len(private) == 4
    assert {(c["EnableCustomDomain"], c["EnableCloudWatchRum"], c["EnableCloudWatchCanaries"],
             c["EnableCustomAuth"]) for c in private} == {(True, False, False, False)}  # fmt: skip


def test_a_build_offers_the_variant_options_it_is_given_and_refuses_a_selection_it_could_not_offer_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [o.option for o in VARIANT_OPTIONS]
    assert [o.option for o in variant_options(True)] == names and variant_options(False) == ()
    # named: in the release's order, and their combinations alone are synthesized
    chosen = variant_options(["EnableCustomDomain", "ProdSizing"])
    assert [o.option for o in chosen] == ["ProdSizing", "EnableCustomDomain"]
    assert len(combinations(chosen)) == 4
    # from the environment: 1, 0, unset, or names
    for given, expected in (("1", names), ("0", []), ("", names), (" EnableCustomDomain ,", ["EnableCustomDomain"])):
        monkeypatch.setenv("DATAALL_INSTALLER_VARIANTS", given)
        assert [o.option for o in variant_options()] == expected, given
    monkeypatch.delenv("DATAALL_INSTALLER_VARIANTS")
    assert [o.option for o in variant_options()] == names
    # a name that is no variant option: refused naming it and the ones there are
    with pytest.raises(BuildError, match=r"DATAALL_INSTALLER_VARIANTS: CustomDomainName is not a variant option"):
        variant_options(["EnableCustomDomain", "CustomDomainName"])
    # RUM without the canaries an OPTION_RULES entry ties it to: the release could not offer it
    with pytest.raises(BuildError, match=r"EnableCloudWatchRum without EnableCloudWatchCanaries: EnableCloudWatchRum"):
        variant_options(["EnableCloudWatchRum"])
    assert len(combinations(variant_options(["EnableCloudWatchRum", "EnableCloudWatchCanaries"]))) == 3


def test_a_web_acl_tagged_for_another_envname_than_the_synthesis_stops_the_import_naming_it() -> None:
    # the IPSet's description carries the synthesis' envname, which the WebACL's Application tag must end with
    template = waf_template([], [])
    assert rules.apply(template, SYNTHESIS)["Resources"]["DataallCloudfrontIPSet"]["Properties"]["Description"] == {
        "Fn::Sub": "IP addresses to allow for Dataall ${EnvName}"  # the names rule's, after the WAF rule's
    }
    with pytest.raises(rules.RuleError, match=r"WebACL ACLCloudfront has no Application tag <resource_prefix>-prod"):
        rules.waf_allowed_ranges_from_the_options(copy.deepcopy(template), replace(SYNTHESIS, envname="prod"))


# ---------------------------------------------------------------------- vpc_restricted_nacl
VPC_STACK = "dataall-main-cicd-stack/dataall-dev-backend-stage/backend-stack/Vpc"
#: data.all's subnets as CDK names them (logical id, construct), the end of the logical id of the restricted NACL's
#: association with each (`DefaultAssociation` and the subnet's unique id) and their CIDRs, from data.all 2.9.0's
#: synthesis
SUBNETS = {
    "VPCPrivateSubnet1Subnet8BCA10E0": ("PrivateSubnet1", "94E178A89D21933A", "172.31.32.0/24"),
    "VPCPrivateSubnet2SubnetCFCDAA7A": ("PrivateSubnet2", "615F7B02F44AD615", "172.31.33.0/24"),
    "VPCPublicSubnet1SubnetB4246D30": ("PublicSubnet1", "2B0958A0CDA7785D", "172.31.0.0/20"),
    "VPCPublicSubnet2Subnet74179F39": ("PublicSubnet2", "8126ADFB87AC8C93", "172.31.16.0/20"),
}
NACL_ENTRIES = {
    "RestrictedNACLentryOutbound689B5161": ("entryOutbound", True, 100, -1, None, "0.0.0.0/0"),
    "RestrictedNACLentryInboundHTTPS3FF3CD6F": ("entryInboundHTTPS", False, 100, 6, 443, "0.0.0.0/0"),
    "RestrictedNACLentryInboundHTTPAF12D5DC": ("entryInboundHTTP", False, 101, 6, 80, "0.0.0.0/0"),
    "RestrictedNACLentryInboundCustomTCPA7BDA106": ("entryInboundCustomTCP", False, 102, 6, 1024, "0.0.0.0/0"),
    "RestrictedNACLentryInboundAllInVPCAE60C914": ("entryInboundAllInVPC", False, 103, -1, None, None),
}


def vpc_template(restricted_nacl: bool) -> dict[str, Any]:
    """data.all's Vpc nested stack (its VPC, subnets, and with `vpc_restricted_nacl` its network ACL) as
    data.all 2.9.0's synthesis writes it."""
    tags = [{"Key": "Application", "Value": "dataall-dev"}]
    resources: dict[str, Any] = {
        "VPCB9E5F0B4": {
            "Type": "AWS::EC2::VPC",
            "Properties": {"CidrBlock": "172.31.0.0/16", "Tags": [*tags, {"Key": "Name", "Value": f"{VPC_STACK}/VPC"}]},
            "Metadata": {"aws:cdk:path": f"{VPC_STACK}/VPC/Resource"},
        }
    }
    for logical_id, (construct, _, block) in SUBNETS.items():
        resources[logical_id] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"CidrBlock": block, "Tags": tags, "VpcId": {"Ref": "VPCB9E5F0B4"}},
            "Metadata": {"aws:cdk:path": f"{VPC_STACK}/VPC/{construct}/Subnet"},
        }
    if not restricted_nacl:
        return {"Resources": resources}
    nacl = {"Ref": "RestrictedNACL83C09979"}
    resources["RestrictedNACL83C09979"] = {
        "Type": "AWS::EC2::NetworkAcl",
        "Properties": {
            "Tags": [*tags, {"Key": "Name", "Value": "dataall-dev-restrictedNACL"}],
            "VpcId": {"Ref": "VPCB9E5F0B4"},
        },
        "Metadata": {"aws:cdk:path": f"{VPC_STACK}/RestrictedNACL/Resource"},
    }
    for subnet, (construct, digest, _) in SUBNETS.items():
        unique = f"dataallmaincicdstackdataalldevbackendstagebackendstackVpcVPC{construct}{digest[:8]}"
        resources[f"RestrictedNACLDefaultAssociation{unique}{digest[8:]}"] = {
            "Type": "AWS::EC2::SubnetNetworkAclAssociation",
            "Properties": {"NetworkAclId": nacl, "SubnetId": {"Ref": subnet}},
            "Metadata": {"aws:cdk:path": f"{VPC_STACK}/RestrictedNACL/DefaultAssociation{unique}/Resource"},
        }
    for logical_id, (construct, egress, number, protocol, port, cidr) in NACL_ENTRIES.items():
        ports = {"PortRange": {"From": port, "To": 65535 if port == 1024 else port}} if port else {}
        resources[logical_id] = {
            "Type": "AWS::EC2::NetworkAclEntry",
            "Properties": {
                "CidrBlock": cidr or {"Fn::GetAtt": ["VPCB9E5F0B4", "CidrBlock"]},
                "Egress": egress,
                "NetworkAclId": nacl,
                **ports,
                "Protocol": protocol,
                "RuleAction": "allow",
                "RuleNumber": number,
            },
            "Metadata": {"aws:cdk:path": f"{VPC_STACK}/RestrictedNACL/{construct}/Resource"},
        }
    return {"Resources": resources}


NACL_RULE = (rules.restricted_nacl_from_the_option,)


@pytest.mark.parametrize("on", [True, False], ids=["true", "false"])
def test_the_restricted_nacl_option_makes_what_data_all_synthesizes_with_vpc_restricted_nacl_and_without(
    on: bool,
) -> None:
    made = rules.apply(vpc_template(False), SYNTHESIS, NACL_RULE)

    deployed = resolved(made, {"VpcRestrictedNacl": "true" if on else "false"})

    assert deployed == vpc_template(on)["Resources"]
    assert made["Parameters"]["VpcRestrictedNacl"] | {"Description": ""} == {
        "Type": "String", "AllowedValues": ["true", "false"], "Default": "false", "Description": "",
    }  # fmt: skip
    assert made["Conditions"]["DataallVpcRestrictedNacl"] == {"Fn::Equals": [{"Ref": "VpcRestrictedNacl"}, "true"]}


def test_a_synthesis_with_vpc_restricted_nacl_gets_the_same_template_and_the_option_defaults_to_false() -> None:
    default = rules.apply(vpc_template(False), SYNTHESIS, NACL_RULE)

    on = rules.apply(vpc_template(True), with_settings(vpc_restricted_nacl=True), NACL_RULE)

    assert on == default
    conditioned = sorted(k for k, r in on["Resources"].items() if r.get("Condition") == "DataallVpcRestrictedNacl")
    assert len(conditioned) == 10 and "RestrictedNACL83C09979" in conditioned
    option = rules.value_option("VpcRestrictedNacl", SYNTHESIS)
    assert (option["type"], option["default"], option["group"]) == ("boolean", False, "data.all")
    assert "vpc_restricted_nacl" in option["description"]
    assert rules.value_option("VpcRestrictedNacl", with_settings(vpc_restricted_nacl=True))["default"] is True


def test_a_template_without_data_alls_vpc_is_left_as_it_is() -> None:
    other = {"Resources": {"Flow": log_group(731), "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {}}}}

    assert rules.apply(other, SYNTHESIS, NACL_RULE) == other


def test_a_data_all_vpc_not_of_the_shape_the_rule_expects_stops_the_import_naming_it() -> None:
    no_subnets = vpc_template(False)
    no_subnets["Resources"] = {k: r for k, r in no_subnets["Resources"].items() if k not in SUBNETS}
    with pytest.raises(rules.RuleError, match=r"VPC VPCB9E5F0B4 has not the private and public subnets .* none"):
        rules.apply(no_subnets, SYNTHESIS, NACL_RULE)
    private_only = vpc_template(False)
    del (
        private_only["Resources"]["VPCPublicSubnet1SubnetB4246D30"],
        private_only["Resources"]["VPCPublicSubnet2Subnet74179F39"],
    )
    with pytest.raises(rules.RuleError, match="has not the private and public subnets"):
        rules.apply(private_only, SYNTHESIS, NACL_RULE)
    elsewhere = vpc_template(False)
    elsewhere["Resources"]["VPCPublicSubnet1SubnetB4246D30"]["Properties"]["VpcId"] = "vpc-0123"
    with pytest.raises(rules.RuleError, match="subnet VPCPublicSubnet1SubnetB4246D30 is not in its VPC"):
        rules.apply(elsewhere, SYNTHESIS, NACL_RULE)
    renamed = vpc_template(False)
    renamed["Resources"]["MyVpc"] = renamed["Resources"].pop("VPCB9E5F0B4")
    with pytest.raises(rules.RuleError, match=r"VPC MyVpc is not where CDK puts data\.all's VPC"):
        rules.apply(renamed, SYNTHESIS, NACL_RULE)
    with pytest.raises(rules.RuleError, match="has no Application tag <resource_prefix>-prod"):
        rules.apply(vpc_template(False), replace(SYNTHESIS, envname="prod"), NACL_RULE)


def test_a_restricted_nacl_synthesis_the_settings_do_not_describe_is_refused() -> None:
    with pytest.raises(rules.RuleError, match=r"NACL \['RestrictedNACL83C09979', .* is there though .* off"):
        rules.apply(vpc_template(True), SYNTHESIS, NACL_RULE)
    other_rule = vpc_template(True)
    other_rule["Resources"]["RestrictedNACLentryInboundHTTPAF12D5DC"]["Properties"]["RuleAction"] = "deny"
    with pytest.raises(rules.RuleError, match="restricted NACL is not as CDK synthesizes it for vpc_restricted_nacl"):
        rules.apply(other_rule, with_settings(vpc_restricted_nacl=True), NACL_RULE)


# ---------------------------------------------------------------------- apigw_custom_domain
LAMBDAS_STACK = "dataall-main-cicd-stack/dataall-dev-backend-stage/backend-stack/Lambdas"
API, STAGE, BACKEND_URL = "dataalldevapiF167349C", "dataalldevapiDeploymentStageprodE0313A5B", "BackendApiED3D8698"
ENDPOINT = "dataalldevapiEndpointA2AFC1F5"
#: the API's deployment as data.all 2.9.0's synthesis names it without apigw_custom_domain and with it (CDK hashes
#: the RestApi's properties into it)
DEPLOYMENT = {False: "dataalldevapiDeployment2B729EF7595670f43c5d503d7a32accf71cd1bf4",
              True: "dataalldevapiDeployment2B729EF768fa76eae31af2dcb10033532e759640"}  # fmt: skip
API_DOMAIN = "dataalldevapiApiGwCustomDomainNameFAE3CA8D"
API_MAPPING = (
    "dataalldevapiApiGwCustomDomainNameMapdataallmaincicdstackdataalldevbackendstagebackendstackLambdasdataalldevapi"
    "90C50956231B1B96"
)
API_RECORD = "ApiGwARecordId61914A25"
API_SETTINGS = {
    "hosted_zone_name": "api.dataall.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFAPI",
    "certificate_arn": CERTIFICATE_ARN,
}
API_RULE = (rules.api_custom_domain_from_the_options,)


def lambdas_template(custom_domain: dict[str, str] | None) -> dict[str, Any]:
    """data.all's Lambdas nested stack (its API, deployment, stage, backend URL parameter, and with
    `apigw_custom_domain` its domain name, base path mapping and alias record) as data.all 2.9.0's synthesis writes
    them."""
    tags = [{"Key": "Application", "Value": "dataall-dev"}]
    deployment = DEPLOYMENT[custom_domain is not None]
    endpoint = {
        "Fn::Join": ["", ["https://", {"Ref": API}, ".execute-api.eu-west-1.", {"Ref": "AWS::URLSuffix"}, "/",
                          {"Ref": STAGE}, "/"]]
    }  # fmt: skip
    url = {"Fn::Join": ["", ["https://", {"Ref": API_DOMAIN}, "/"]]} if custom_domain else endpoint
    resources: dict[str, Any] = {
        API: {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {"DisableExecuteApiEndpoint": custom_domain is not None, "Name": "dataall-dev-api",
                           "Tags": tags},
            "Metadata": {"aws:cdk:path": f"{LAMBDAS_STACK}/dataall-dev-api/Resource"},
        },
        deployment: {
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {"Description": "Automatically created by the RestApi construct", "RestApiId": {"Ref": API}},
            "DependsOn": ["dataalldevapigraphql4B42E066"],
            "Metadata": {"aws:cdk:path": f"{LAMBDAS_STACK}/dataall-dev-api/Deployment/Resource"},
        },
        STAGE: {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"DeploymentId": {"Ref": deployment}, "RestApiId": {"Ref": API}, "StageName": "prod",
                           "Tags": tags},
            "Metadata": {"aws:cdk:path": f"{LAMBDAS_STACK}/dataall-dev-api/DeploymentStage.prod/Resource"},
        },
        BACKEND_URL: {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/dataall/dev/apiGateway/backendUrl", "Tags": {"Application": "dataall-dev"},
                           "Type": "String", "Value": url},
            "Metadata": {"aws:cdk:path": f"{LAMBDAS_STACK}/BackendApi/Resource"},
        },
    }  # fmt: skip
    outputs = {ENDPOINT: {"Value": endpoint}, "Urldev": {"Value": endpoint}}
    if not custom_domain:
        return {"Resources": resources, "Outputs": outputs}
    resources[API_DOMAIN] = {
        "Type": "AWS::ApiGateway::DomainName",
        "Properties": {
            "CertificateArn": custom_domain["certificate_arn"],
            "DomainName": custom_domain["hosted_zone_name"],
            "EndpointConfiguration": {"Types": ["EDGE"]},
            "SecurityPolicy": "TLS_1_2",
            "Tags": tags,
        },
        "Metadata": {"aws:cdk:path": f"{LAMBDAS_STACK}/dataall-dev-api/ApiGwCustomDomainName/Resource"},
    }
    resources[API_MAPPING] = {
        "Type": "AWS::ApiGateway::BasePathMapping",
        "Properties": {"DomainName": {"Ref": API_DOMAIN}, "RestApiId": {"Ref": API}, "Stage": {"Ref": STAGE}},
        "Metadata": {
            "aws:cdk:path": f"{LAMBDAS_STACK}/dataall-dev-api/ApiGwCustomDomainName/Map:--=>"
            "dataallmaincicdstackdataalldevbackendstagebackendstackLambdasdataalldevapi90C50956/Resource"
        },
    }
    resources[API_RECORD] = {
        "Type": "AWS::Route53::RecordSet",
        "Properties": {
            "AliasTarget": {
                "DNSName": {"Fn::GetAtt": [API_DOMAIN, "DistributionDomainName"]},
                "HostedZoneId": {"Fn::GetAtt": [API_DOMAIN, "DistributionHostedZoneId"]},
            },
            "HostedZoneId": custom_domain["hosted_zone_id"],
            "Name": custom_domain["hosted_zone_name"] + ".",
            "Type": "A",
        },
        "Metadata": {"aws:cdk:path": f"{LAMBDAS_STACK}/ApiGwARecordId/Resource"},
    }
    return {"Resources": resources, "Outputs": outputs}


def api_parameters(custom_domain: dict[str, str] | None) -> dict[str, str]:
    given = custom_domain or dict.fromkeys(API_SETTINGS, "")
    return {
        "ApiCustomDomainName": given["hosted_zone_name"],
        "ApiCustomDomainHostedZoneId": given["hosted_zone_id"],
        "ApiCustomDomainCertificateArn": given["certificate_arn"],
    }


def named_deployments(resources: dict[str, Any]) -> dict[str, Any]:
    """`resources` with the API's deployment under the name `Deployment` (its logical id is CDK's hash, which
    differs with and without the key)."""
    (deployment,) = [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Deployment"]
    return json.loads(json.dumps(resources).replace(deployment, "Deployment"))


@pytest.mark.parametrize("on", [True, False], ids=["given", "empty"])
def test_the_api_custom_domain_options_make_what_data_all_synthesizes_with_apigw_custom_domain_and_without(
    on: bool,
) -> None:
    # Given data.all's API template synthesized without apigw_custom_domain, after the rule
    made = rules.apply(lambdas_template(None), SYNTHESIS, API_RULE)

    # When CloudFormation resolves it with the options given (or left empty)
    given = API_SETTINGS if on else None
    deployed = resolved(made, api_parameters(given))

    # Then it is data.all's synthesis with the key (or without), but for the deployment's name
    assert named_deployments(deployed) == named_deployments(lambdas_template(given)["Resources"])
    deployments = [k for k, r in made["Resources"].items() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert len(deployments) == 2 and DEPLOYMENT[False] in deployments  # the default one keeps data.all's name
    assert made["Conditions"]["DataallApiCustomDomain"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiCustomDomainName"},
                                                                                         ""]}]}  # fmt: skip
    assert {made["Parameters"][p]["Default"] for p in api_parameters(None)} == {""}
    output = {"Resources": {"Url": made["Outputs"]["DataallBackendUrl"]}, "Conditions": made["Conditions"]}
    url = resolved(output, api_parameters(given))["Url"]
    assert url["Value"] == deployed[BACKEND_URL]["Properties"]["Value"]


def test_a_new_deployment_is_made_when_the_api_custom_domain_comes_or_goes() -> None:
    made = rules.apply(lambdas_template(None), SYNTHESIS, API_RULE)

    on, off = (resolved(made, api_parameters(given)) for given in (API_SETTINGS, None))

    deployment_on = on[STAGE]["Properties"]["DeploymentId"]["Ref"]
    deployment_off = off[STAGE]["Properties"]["DeploymentId"]["Ref"]
    assert deployment_off == DEPLOYMENT[False] and deployment_on != deployment_off
    assert deployment_on in on and deployment_off not in on and deployment_on not in off
    assert re.fullmatch(r"dataalldevapiDeployment2B729EF7[0-9a-f]{32}", deployment_on)


def deployments_by_condition(template: dict[str, Any]) -> dict[str, Any]:
    """`template` with each of the API's deployments named by its condition (the rule keeps the synthesized one's
    name, CDK's hash of the RestApi, which differs with and without the key, and derives the other's from it)."""
    text = json.dumps(template)
    for key, resource in template["Resources"].items():
        if resource["Type"] == "AWS::ApiGateway::Deployment":
            text = text.replace(key, "Deployment" + resource.get("Condition", ""))
    return dict(json.loads(text))


def test_a_synthesis_with_apigw_custom_domain_is_checked_and_gets_the_same_template_but_for_its_deployments_name() -> (
    None
):
    default = rules.apply(lambdas_template(None), SYNTHESIS, API_RULE)

    on = rules.apply(lambdas_template(API_SETTINGS), with_settings(apigw_custom_domain=API_SETTINGS), API_RULE)

    assert on != default and deployments_by_condition(on) == deployments_by_condition(default)
    resources = default["Resources"].values()
    conditioned = sorted(r["Type"] for r in resources if r.get("Condition") == "DataallApiCustomDomain")
    assert conditioned == ["AWS::ApiGateway::BasePathMapping", "AWS::ApiGateway::Deployment",
                           "AWS::ApiGateway::DomainName", "AWS::Route53::RecordSet"]  # fmt: skip


def test_an_api_custom_domain_synthesis_the_settings_do_not_describe_is_refused() -> None:
    with pytest.raises(rules.RuleError, match=r"API dataalldevapiF167349C is not as CDK synthesizes it without"):
        rules.apply(lambdas_template(API_SETTINGS), SYNTHESIS, API_RULE)
    other_zone = with_settings(apigw_custom_domain={**API_SETTINGS, "hosted_zone_id": "ZOTHER"})
    with pytest.raises(rules.RuleError, match="API custom domain is not as CDK synthesizes it for apigw_custom_domain"):
        rules.apply(lambdas_template(API_SETTINGS), other_zone, API_RULE)
    regional = lambdas_template(API_SETTINGS)
    regional["Resources"][API_DOMAIN]["Properties"]["EndpointConfiguration"] = {"Types": ["REGIONAL"]}
    with pytest.raises(rules.RuleError, match="API custom domain is not as CDK synthesizes it"):
        rules.apply(regional, with_settings(apigw_custom_domain=API_SETTINGS), API_RULE)


def test_an_api_the_rule_cannot_follow_stops_the_import_naming_it() -> None:
    assert rules.apply({"Resources": {"Flow": log_group(731)}}, SYNTHESIS, API_RULE) == {
        "Resources": {"Flow": log_group(731)}
    }
    read = lambdas_template(None)
    read["Outputs"]["Deployed"] = {"Value": {"Ref": DEPLOYMENT[False]}}
    with pytest.raises(rules.RuleError, match=r"Deployed reads data\.all's API deployment"):
        rules.apply(read, SYNTHESIS, API_RULE)
    no_url = lambdas_template(None)
    del no_url["Resources"][BACKEND_URL]
    with pytest.raises(rules.RuleError, match="has not one SSM parameter /dataall/<env>/apiGateway/backendUrl: none"):
        rules.apply(no_url, SYNTHESIS, API_RULE)
    renamed = lambdas_template(None)
    renamed["Resources"]["MyApi"] = renamed["Resources"].pop(API)
    with pytest.raises(rules.RuleError, match=r"RestApi MyApi is not where CDK puts data\.all's API dataall-dev-api"):
        rules.apply(renamed, SYNTHESIS, API_RULE)


def test_the_api_custom_domain_options_default_empty_are_offered_in_the_data_all_group_and_fill_the_stage() -> None:
    made = rules.apply(lambdas_template(None), SYNTHESIS, API_RULE)
    stage_ = ImportedStage("lambdas", "s", None, made, {}, (), False)

    options = release_options([], [stage_])

    for name in api_parameters(None):
        assert (options[name]["type"], options[name]["default"], options[name]["group"]) == ("string", "", "data.all")
        assert "apigw_custom_domain" in options[name]["description"]
        assert stage_document(stage_)["parameters"][name] == "${param:" + name + "}"
    assert re.fullmatch(options["ApiCustomDomainName"]["pattern"], "api.dataall.example.com")
    assert re.fullmatch(options["ApiCustomDomainCertificateArn"]["pattern"], CERTIFICATE_ARN)
    assert not re.fullmatch(
        options["ApiCustomDomainCertificateArn"]["pattern"], CERTIFICATE_ARN.replace("us-east-1", "eu-west-1")
    )


def api_domain_manifest() -> Manifest:
    offered = ["ApiCustomDomainName", "ApiCustomDomainHostedZoneId", "ApiCustomDomainCertificateArn"]
    document = {
        "format": 1, "name": "dataall", "version": "2.9.0", "rules": option_rules(offered), "actions": [],
        "options": {name: {"type": "string", "default": ""} for name in offered},
        "stages": [stage("vpc")], "files": {"blueprints/vpc.template.json": "0" * 64},
    }  # fmt: skip
    return Manifest.from_document(document)


@pytest.mark.parametrize(
    "given",
    [
        {"ApiCustomDomainName": "api.dataall.example.com"},
        {"ApiCustomDomainName": "api.dataall.example.com", "ApiCustomDomainHostedZoneId": "Z0123456789ABCDEFAPI"},
        {"ApiCustomDomainName": "api.dataall.example.com", "ApiCustomDomainCertificateArn": CERTIFICATE_ARN},
    ],
    ids=["name alone", "no certificate", "no zone"],
)
def test_an_api_custom_domain_without_its_zone_or_certificate_is_refused_naming_them(given: dict[str, Any]) -> None:
    with pytest.raises(ManifestError, match=r"ApiCustomDomainName needs ApiCustomDomainHostedZoneId \(the id"):
        api_domain_manifest().resolve_options(given)


def test_an_api_zone_or_certificate_without_the_name_is_refused_not_ignored() -> None:
    manifest = api_domain_manifest()
    for given in ({"ApiCustomDomainHostedZoneId": "Z0123456789ABCDEFAPI"}, {"ApiCustomDomainCertificateArn": "x"}):
        with pytest.raises(ManifestError, match=r"take effect with ApiCustomDomainName only"):
            manifest.resolve_options(given)
    complete = api_parameters(API_SETTINGS)
    assert manifest.resolve_options(complete) == complete
    assert manifest.resolve_options({}) == api_parameters(None)
