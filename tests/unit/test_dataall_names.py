"""The import's names rule (`rules.names_of_the_installation`): what data.all's source builds from its
`resource_prefix` and `envname` takes the installation's `ResourcePrefix` and `EnvName` (the bootstrap
stack's, which the installer gives every stage), so that data.all's names are the installation's and two
installations (dev, prod) may live in one account and region. Its proof against data.all synthesized with
other names is tests/infrastructure/test_dataall_names.py (slow)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from blueprints.dataall import rules
from cloud_assembly.reader import CloudAssembly
from installer.dataall import import_stages
from lambdas.core.settings import Settings

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
SYNTHESIS = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})


def _resource(kind: str, **properties: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": properties}


def _template() -> dict[str, Any]:
    """One of each form data.all's source gives its names (`deploy/stacks`), as its default synthesis has them."""
    return {
        "Resources": {
            "Queue": _resource("AWS::SQS::Queue", QueueName="dataall-dev-queue.fifo"),
            "Param": _resource(
                "AWS::SSM::Parameter",
                Name="/dataall/dev/aurora/db",
                Value="devdb",
                Description="Stores dataall external id for environment dev",
            ),
            "Prefix": _resource("AWS::SSM::Parameter", Name="/dataall/dev/resourcePrefix", Value="dataall"),
            "EcsLogs": _resource("AWS::Logs::LogGroup", LogGroupName="/dataall/dev/ecs/share-manager"),
            "FlowLogs": _resource("AWS::Logs::LogGroup", LogGroupName="dataall/dev/flowlogs"),
            "Db": _resource("AWS::RDS::DBCluster", DatabaseName="devdb", DBClusterIdentifier="dataall-dev-db-v2"),
            "Monitoring": _resource("AWS::IAM::Role", RoleName="dataall-rds-enhanced-monitoring-role-dev"),
            "Function": _resource(
                "AWS::Lambda::Function",
                Environment={"Variables": {"envname": "dev", "resource_prefix": "dataall", "other": "devices"}},
            ),
            "Alias": _resource("AWS::KMS::Alias", AliasName="alias/dataall-lambda-env-var-key"),
            "Domain": _resource("AWS::Cognito::UserPoolDomain", Domain="dataalldeveuwest1111111111111"),
            "Canary": _resource("AWS::Synthetics::Canary", Name="dataal-dev-canary"),
            "Monitor": _resource("AWS::RUM::AppMonitor", Name="dataall-dev-monitor", Domain="dataall.dev.change.me"),
            "Acl": _resource("AWS::WAFv2::WebACL", MetricName="WAFCognitoRateLimitdev"),
            "Dashboard": _resource(
                "AWS::CloudWatch::Alarm",
                Namespace="dataall",
                MetricName="x",
                Dimensions=[{"Name": "ApiName", "Value": {"Fn::ImportValue": "dataall-dev-api-webacl"}}],
            ),
            "Sub": _resource("AWS::SSM::Parameter", Name={"Fn::Sub": "/dataall/dev/x/${AWS::Region}"}, Value="v"),
            "Policy": _resource(
                "AWS::IAM::Policy",
                PolicyName="ECSTaskRoledevDefaultPolicy5B2CEBBE",  # CDK's, from a construct id: kept
                PolicyDocument={
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "ssm:GetParameter",
                            "Resource": "arn:aws:ssm:*:111111111111:parameter/*dataall*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": "rds:*",
                            "Resource": [
                                "arn:aws:rds:*:111111111111:cluster:dataall*",
                                "arn:aws:logs:eu-west-1:111111111111:log-group:/dataall/dev/ecs/*",
                                "arn:aws:ssm:eu-west-1:111111111111:parameter/dataall/dev/*",
                                "arn:aws:s3:::dataall-docs/*",
                            ],
                        },
                    ]
                },
            ),
        },
        "Outputs": {
            "UserPool": {"Value": {"Ref": "Pool"}, "Export": {"Name": "CognitoUserPoolIddev"}},
            "Cidr": {"Description": "dataall-dev-cidrBlock", "Value": "x", "Export": {"Name": "dataall-dev-cidrBlock"}},
        },
    }


def _properties(template: dict[str, Any], key: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][key]["Properties"]
    return properties


def test_each_form_of_data_alls_names_takes_the_installations_resource_prefix_and_env_name() -> None:
    result = rules.apply(_template(), SYNTHESIS)

    assert _properties(result, "Queue")["QueueName"] == {"Fn::Sub": "${ResourcePrefix}-${EnvName}-queue.fifo"}
    param = _properties(result, "Param")
    assert param["Name"] == {"Fn::Sub": "/dataall/${EnvName}/aurora/db"}  # SSM's root `dataall` is a literal
    assert (param["Value"], param["Description"]) == (
        {"Fn::Sub": "${EnvName}db"},
        {"Fn::Sub": "Stores dataall external id for environment ${EnvName}"},
    )
    assert _properties(result, "Prefix")["Value"] == {"Ref": "ResourcePrefix"}
    # a log group's `/{resource_prefix}/{envname}/`, alike in the synthesis to an SSM path, is the prefix's
    assert _properties(result, "EcsLogs")["LogGroupName"] == {
        "Fn::Sub": "/${ResourcePrefix}/${EnvName}/ecs/share-manager"
    }
    assert _properties(result, "FlowLogs")["LogGroupName"] == {"Fn::Sub": "${ResourcePrefix}/${EnvName}/flowlogs"}
    assert _properties(result, "Db") == {
        "DatabaseName": {"Fn::Sub": "${EnvName}db"},
        "DBClusterIdentifier": {"Fn::Sub": "${ResourcePrefix}-${EnvName}-db-v2"},
    }
    assert _properties(result, "Monitoring")["RoleName"] == {
        "Fn::Sub": "dataall-rds-enhanced-monitoring-role-${EnvName}"
    }
    assert _properties(result, "Function")["Environment"]["Variables"] == {
        "envname": {"Ref": "EnvName"},
        "resource_prefix": {"Ref": "ResourcePrefix"},
        "other": "devices",  # a word that holds `dev` is not the envname
    }
    assert _properties(result, "Alias")["AliasName"] == {"Fn::Sub": "alias/${ResourcePrefix}-lambda-env-var-key"}
    assert _properties(result, "Canary")["Name"] == {"Fn::Sub": "${ResourcePrefixFirst6}-${EnvName}-canary"}
    assert _properties(result, "Monitor") == {
        "Name": {"Fn::Sub": "${ResourcePrefix}-${EnvName}-monitor"},
        "Domain": {"Fn::Sub": "${ResourcePrefix}.${EnvName}.change.me"},
    }
    assert _properties(result, "Acl")["MetricName"] == {"Fn::Sub": "WAFCognitoRateLimit${EnvName}"}
    assert _properties(result, "Dashboard")["Namespace"] == {"Ref": "ResourcePrefix"}
    # an `Fn::Sub` data.all wrote keeps its own variables
    assert _properties(result, "Sub")["Name"] == {"Fn::Sub": "/dataall/${EnvName}/x/${AWS::Region}"}
    # exports, and what imports them, alike
    assert result["Outputs"]["UserPool"]["Export"] == {"Name": {"Fn::Sub": "CognitoUserPoolId${EnvName}"}}
    dimension = _properties(result, "Dashboard")["Dimensions"][0]["Value"]
    assert dimension == {"Fn::ImportValue": {"Fn::Sub": "${ResourcePrefix}-${EnvName}-api-webacl"}}
    # an output's Description is a literal in CloudFormation: left as it is
    assert result["Outputs"]["Cidr"]["Description"] == "dataall-dev-cidrBlock"
    # what CDK derives from construct ids (an inline policy's name) keeps the synthesis' values
    assert _properties(result, "Policy")["PolicyName"] == "ECSTaskRoledevDefaultPolicy5B2CEBBE"
    declared = {name: p["Type"] for name, p in result["Parameters"].items()}
    assert declared == {"ResourcePrefix": "String", "EnvName": "String", "ResourcePrefixFirst6": "String"}


def test_the_cognito_domain_prefix_is_computed_from_the_installations_names_region_and_account() -> None:
    domain = _properties(rules.apply(_template(), SYNTHESIS), "Domain")["Domain"]

    # data.all's `{resource_prefix without -}{envname}{region without -}{account}` (cognito.py)
    no_hyphens = {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": "ResourcePrefix"}]}]}
    region = {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]}
    assert domain == {"Fn::Join": ["", [no_hyphens, {"Ref": "EnvName"}, region, {"Ref": "AWS::AccountId"}]]}


def test_iam_wildcards_over_the_prefix_keep_the_synthesized_one_and_gain_the_installations() -> None:
    result = rules.apply(_template(), SYNTHESIS)
    first, second = _properties(result, "Policy")["PolicyDocument"]["Statement"]

    # data.all writes `*{resource_prefix}*` in some policies and `*dataall*` in others, which its default
    # synthesis merges alike: a grant of data.all's is never taken away, the installation's prefix's is added
    added = {"Fn::If": ["DataallResourcePrefixAsSynthesized", {"Ref": "AWS::NoValue"},
                        {"Fn::Sub": "arn:aws:ssm:*:${AWS::AccountId}:parameter/*${ResourcePrefix}*"}]}  # fmt: skip
    assert first["Resource"] == ["arn:aws:ssm:*:${AWS::AccountId}:parameter/*dataall*", added] or first["Resource"] == [
        {"Fn::Sub": "arn:aws:ssm:*:${AWS::AccountId}:parameter/*dataall*"},
        added,
    ]
    cluster, logs, ssm, pivot = [r for r in second["Resource"] if not (isinstance(r, dict) and "Fn::If" in r)]
    assert logs == {
        "Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:/${ResourcePrefix}/${EnvName}/ecs/*"
    }
    assert ssm == {"Fn::Sub": "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/dataall/${EnvName}/*"}
    assert pivot == "arn:aws:s3:::dataall-docs/*"  # `dataall` neither beside a wildcard nor the env's: left
    assert len(second["Resource"]) == 5 and cluster == {"Fn::Sub": "arn:aws:rds:*:${AWS::AccountId}:cluster:dataall*"}
    assert result["Conditions"]["DataallResourcePrefixAsSynthesized"] == {
        "Fn::Equals": [{"Ref": "ResourcePrefix"}, "dataall"]
    }


def test_a_string_holding_the_synthesis_envname_in_a_form_the_rule_does_not_know_stops_the_import() -> None:
    template = {"Resources": {"Topic": _resource("AWS::SNS::Topic", TopicName="alarms-dev-topic")}}

    with pytest.raises(rules.RuleError, match=r"resource Topic: 'alarms-dev-topic' holds data.all's envname 'dev'"):
        rules.apply(template, SYNTHESIS)


def test_a_synthesis_of_other_names_is_rewritten_from_its_own() -> None:
    # data.all synthesized with resource_prefix `acme`, envname `qa`: the rule reads them from the synthesis
    other = replace(SYNTHESIS, resource_prefix="acme", envname="qa")
    template = {"Resources": {"Queue": _resource("AWS::SQS::Queue", QueueName="acme-qa-queue.fifo")}}

    assert _properties(rules.apply(template, other), "Queue")["QueueName"] == {
        "Fn::Sub": "${ResourcePrefix}-${EnvName}-queue.fifo"
    }


def test_a_name_template_is_a_literal_or_an_fn_sub_of_the_installations_names_alone() -> None:
    assert rules.name_template("dataallPivotRole") == "dataallPivotRole"
    assert rules.name_template({"Fn::Sub": "${ResourcePrefix}-${EnvName}-x"}) == "${ResourcePrefix}-${EnvName}-x"
    assert (
        rules.name_parameters("${ResourcePrefix}-${EnvName}-monitor")
        == "${param:ResourcePrefix}-${param:EnvName}-monitor"
    )
    for computed in ({"Fn::Sub": "${AWS::Region}-x"}, {"Ref": "Other"}, {"Fn::Join": ["-", ["a", "b"]]}):
        with pytest.raises(rules.RuleError, match="not a literal nor made of the installation's names alone"):
            rules.name_template(computed)
    # the workflow makes the same name CloudFormation's Fn::Sub makes of the stage's parameters
    settings = Settings(ledger_table="ledger", artifacts_bucket="bucket", resource_prefix="acme", env_name="prod")
    assert (
        settings.installation_name("/dataall/${EnvName}/pivotRole/externalId") == "/dataall/prod/pivotRole/externalId"
    )
    assert settings.installation_name("${ResourcePrefix}-${EnvName}-migrations") == "acme-prod-migrations"


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_data_alls_release_keeps_no_name_of_its_synthesis(version: str) -> None:
    stages = import_stages(CloudAssembly.load(UPSTREAM / version / "cdk.out")).stages

    texts = {stage.name: json.dumps(_without_descriptions(stage.template)) for stage in stages}
    left = sorted(name for name, text in texts.items() if "dataall-dev" in text or "/dataall/dev/" in text)
    assert left == []
    rewritten = sum(text.count("${EnvName}") + text.count('"Ref": "EnvName"') for text in texts.values())
    assert rewritten > 500  # the names of nearly every resource (a count, not a fixed figure of data.all's)
    assert all(
        {"ResourcePrefix", "EnvName"} <= set(stage.template["Parameters"])
        for stage in stages
        if "EnvName" in texts[stage.name]
    )


def _without_descriptions(template: dict[str, Any]) -> dict[str, Any]:
    """The template's resources and outputs without `Metadata` (CDK's construct paths) and outputs' `Description`
    (a literal in CloudFormation)."""
    resources = {k: {p: v for p, v in r.items() if p != "Metadata"} for k, r in template.get("Resources", {}).items()}
    outputs = {k: {p: v for p, v in o.items() if p != "Description"} for k, o in template.get("Outputs", {}).items()}
    return {"Resources": resources, "Outputs": outputs}
