"""data.all's `apig_vpce` (the release's `ApiVpcEndpointId`): the rule that holds the `execute-api` endpoint data.all
makes for its private API, and that endpoint's security group, under the condition `DataallApiVpcEndpointMade` and
gives the API the operator's endpoint by `Fn::If` (`blueprints.dataall.rules.api_vpc_endpoint_from_the_option`;
against data.all's own synthesis with the key: tests/infrastructure/test_dataall_options.py), the option's rule, and
Plan's check of the endpoint (`lambdas/run/api_vpc_endpoint.py`: DescribeVpcEndpoints), which refuses an endpoint
that cannot serve the API, or a change of it on an installed data.all, by name before anything changes."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from installer.dataall import OPTION_RULES
from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidOptions
from lambdas.data.records import ReleaseRecord
from lambdas.release.manifest import evaluate
from lambdas.run.planning import plan
from tests import existing_vpc as operators
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_planning import request

SYNTHESIS = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})
STACK = "dataall-main-cicd-stack/dataall-dev-backend-stage/backend-stack/Lambdas"
ENDPOINT, GROUP, API = "APIVpcEndpointdevD01FD260", "APIVpcEndpointdevSecurityGroup2A7124FF", "dataalldevapiF167349C"
VPC_REF, CIDR_REF = "referencetoVpcRef", "referencetoVpcCidrBlock"
SUBNETS = ["referencetoVpcPrivateSubnet1Ref", "referencetoVpcPrivateSubnet2Ref"]
OPERATORS = "vpce-0da7a1100000000a1"
ARTIFACTS = "dataall-test-artifacts"


def _api_policy(endpoint: Any) -> dict[str, Any]:
    """data.all's private API's resource policy (`set_up_graphql_api_gateway`): any source but the endpoint denied."""
    return {
        "Statement": [
            {"Action": "execute-api:Invoke", "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoint}},
             "Effect": "Deny", "Principal": {"AWS": "*"}, "Resource": "execute-api:/*"},
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Resource": "execute-api:/*"},
        ],
        "Version": "2012-10-17",
    }  # fmt: skip


def _rest_api(endpoint: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::RestApi",
        "Properties": {
            "DisableExecuteApiEndpoint": False,
            "EndpointConfiguration": {"Types": ["PRIVATE"], "VpcEndpointIds": [endpoint]},
            "Name": "dataall-dev-api",
            "Policy": _api_policy(endpoint),
        },
        "Metadata": {"aws:cdk:path": f"{STACK}/dataall-dev-api/Resource"},
    }


def private_api(endpoint_made: bool = True) -> dict[str, Any]:
    """data.all's Lambdas stack with `internet_facing=false` as CDK synthesizes it (2.9.0's, the parts the rule
    reads): the endpoint `InterfaceVpcEndpoint(self, f'APIVpcEndpoint{envname}', ...)` and its group (https from the
    VPC's CIDR), the API naming it; with `apig_vpce` (`endpoint_made` false) neither, the API naming the literal id."""
    tags = [{"Key": "Application", "Value": "dataall-dev"}]
    made = {
        GROUP: {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"{STACK}/APIVpcEndpointdev/SecurityGroup",
                "SecurityGroupEgress": [{"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound traffic by default",
                                         "IpProtocol": "-1"}],
                "SecurityGroupIngress": [{"CidrIp": {"Ref": CIDR_REF}, "Description": {"Fn::Join": [
                    "", ["from ", {"Ref": CIDR_REF}, ":443"]]}, "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}],
                "Tags": tags,
                "VpcId": {"Ref": VPC_REF},
            },
            "Metadata": {"aws:cdk:path": f"{STACK}/APIVpcEndpointdev/SecurityGroup/Resource"},
        },
        ENDPOINT: {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {
                "PrivateDnsEnabled": True,
                "SecurityGroupIds": [{"Fn::GetAtt": [GROUP, "GroupId"]}],
                "ServiceName": "com.amazonaws.eu-west-1.execute-api",
                "SubnetIds": [{"Ref": s} for s in SUBNETS],
                "Tags": tags,
                "VpcEndpointType": "Interface",
                "VpcId": {"Ref": VPC_REF},
            },
            "Metadata": {"aws:cdk:path": f"{STACK}/APIVpcEndpointdev/Resource"},
        },
    }  # fmt: skip
    references = [VPC_REF, *SUBNETS, *([CIDR_REF] if endpoint_made else [])]
    return {
        "Parameters": {name: {"Type": "String"} for name in references},
        "Resources": {
            **(made if endpoint_made else {}),
            API: _rest_api({"Ref": ENDPOINT} if endpoint_made else OPERATORS),
        },
    }


def _only(rule: rules.Rule, template: dict[str, Any], synthesis: rules.Synthesis = SYNTHESIS) -> dict[str, Any]:
    return rules.apply(template, synthesis, (rule,))


RULE = rules.api_vpc_endpoint_from_the_option


# ---------------------------------------------------------------------- the import's rule
def test_without_the_option_the_api_has_the_endpoint_data_all_makes_as_it_was() -> None:
    template = _only(RULE, private_api())

    assert template["Parameters"][rules.API_VPC_ENDPOINT]["Default"] == ""
    made = operators.resolved(template, {rules.API_VPC_ENDPOINT: ""})
    assert made == private_api()
    conditioned = sorted(k for k, r in template["Resources"].items() if r.get("Condition"))
    assert conditioned == sorted([ENDPOINT, GROUP])
    either = {"Fn::If": [rules.API_VPC_ENDPOINT_MADE, {"Ref": ENDPOINT}, {"Ref": rules.API_VPC_ENDPOINT}]}
    assert template["Resources"][API] == _rest_api(either)


def test_with_the_operators_endpoint_the_api_is_data_alls_synthesis_with_apig_vpce() -> None:
    template = _only(RULE, private_api())

    given = operators.resolved(template, {rules.API_VPC_ENDPOINT: OPERATORS})

    expected = private_api(endpoint_made=False)
    assert given["Resources"] == expected["Resources"]  # no endpoint nor group, the API naming the operator's
    # the VPC's CIDR, which only the group read, is left declared (its stage output read by nothing then)
    assert set(given["Parameters"]) == {*expected["Parameters"], CIDR_REF}


def test_an_internet_facing_api_or_a_synthesis_with_apig_vpce_is_left_as_it_is() -> None:
    public = {"Resources": {API: {**_rest_api("x"), "Properties": {"Name": "dataall-dev-api"}}}}
    operators_endpoint = private_api(endpoint_made=False)
    given = replace(SYNTHESIS, settings={rules.API_VPC_ENDPOINT_KEY: OPERATORS})

    assert _only(RULE, public) == public
    assert _only(RULE, operators_endpoint, given) == operators_endpoint


def test_a_synthesis_that_made_the_endpoint_though_given_one_stops_the_import() -> None:
    given = replace(SYNTHESIS, settings={rules.API_VPC_ENDPOINT_KEY: OPERATORS})

    with pytest.raises(rules.RuleError, match="API endpoint is there though the synthesis' apig_vpce is set"):
        _only(RULE, private_api(), given)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::GetAtt": [GROUP, "GroupId"]}}}, GROUP),
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Sub": "${" + ENDPOINT + "}"}}}, ENDPOINT),
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": "x"}, "DependsOn": [ENDPOINT]}, ENDPOINT),
    ],
    ids=["the group's id", "an Fn::Sub", "a DependsOn"],
)
def test_anything_else_reading_the_endpoint_or_its_group_stops_the_import_naming_it(
    body: dict[str, Any], named: str
) -> None:
    template = private_api()
    template["Resources"]["Reader"] = body

    with pytest.raises(rules.RuleError, match=f"Reader reads .*{named}.*only without apig_vpce"):
        _only(RULE, template)


def test_an_endpoint_at_data_alls_path_that_is_not_execute_apis_or_without_its_group_stops_the_import() -> None:
    other = private_api()
    other["Resources"][ENDPOINT]["Properties"]["ServiceName"] = "com.amazonaws.eu-west-1.sqs"
    grouped = private_api()
    grouped["Resources"][GROUP]["Metadata"]["aws:cdk:path"] = f"{STACK}/Other/Resource"

    with pytest.raises(rules.RuleError, match="is not an Interface endpoint of execute-api"):
        _only(RULE, other)
    with pytest.raises(rules.RuleError, match="has not the one security group CDK makes it"):
        _only(RULE, grouped)


def test_the_rule_runs_after_the_api_custom_domains_and_before_the_region_rules() -> None:
    order = list(rules.RULES)
    assert order.index(rules.api_custom_domain_from_the_options) < order.index(RULE)
    assert order.index(RULE) < order.index(rules.account_and_region_neutral)


def test_the_option_takes_an_endpoint_id_and_is_refused_with_an_internet_facing_data_all() -> None:
    (rule,) = [r for r in OPTION_RULES if rules.API_VPC_ENDPOINT in json.dumps(r["when"])]
    pattern = rules.value_option(rules.API_VPC_ENDPOINT, SYNTHESIS)

    assert evaluate(rule["when"], {"InternetFacing": True, rules.API_VPC_ENDPOINT: OPERATORS})
    assert not evaluate(rule["when"], {"InternetFacing": False, rules.API_VPC_ENDPOINT: OPERATORS})
    assert not evaluate(rule["when"], {"InternetFacing": True, rules.API_VPC_ENDPOINT: ""})
    assert "InternetFacing=false" in rule["message"]
    assert pattern["default"] == "" and pattern["pattern"] == "(vpce-[0-9a-f]{8}([0-9a-f]{9})?)?"


# ---------------------------------------------------------------------- Plan
def endpoint_release() -> SmallRelease:
    lambdas = stage("lambdas", parameters={rules.API_VPC_ENDPOINT: "${param:" + rules.API_VPC_ENDPOINT + "}"})
    options = {
        rules.API_VPC_ENDPOINT: {"type": "string", "default": ""},
        "VpcId": {"type": "string", "default": ""},
    }
    return small_release(lambdas, options=options)


@pytest.fixture
def endpoint_deps(aws: None) -> Deps:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    endpoint_release().publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    return moto_deps(ARTIFACTS)


def an_endpoint(service: str = "execute-api", kind: str = "Interface", vpc_id: str = "") -> tuple[str, str]:
    """An endpoint of a VPC (a new one unless given) and that VPC's id."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = vpc_id or str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])
    made = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.{REGION}.{service}", VpcEndpointType=kind)
    return str(made["VpcEndpoint"]["VpcEndpointId"]), vpc_id


def _install(deps: Deps, options: dict[str, str]) -> None:
    plan(deps, request({"action": "install", "version": endpoint_release().version, "options": options}))


@pytest.mark.parametrize("where", ["own", "same", "other"], ids=["data.all's own VPC", "VpcId's VPC", "another VPC"])
def test_plan_takes_an_interface_endpoint_of_execute_api_of_any_vpc(endpoint_deps: Deps, where: str) -> None:
    """A private API is reached through an endpoint wherever its callers are (a shared-services VPC too)."""
    endpoint, vpc_id = an_endpoint()
    vpc = {"own": {}, "same": {"VpcId": vpc_id}, "other": {"VpcId": an_endpoint()[1]}}[where]

    _install(endpoint_deps, {rules.API_VPC_ENDPOINT: endpoint, **vpc})

    run = endpoint_deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.params[rules.API_VPC_ENDPOINT] == endpoint


@pytest.mark.parametrize(
    ("whose", "expected"),
    [
        ("none", rf"the region {REGION} has no such VPC endpoint \(InvalidVpcEndpointId.NotFound\)"),
        ("sqs", rf"it is a Interface endpoint of com.amazonaws.{REGION}.sqs, not an Interface endpoint of "
                rf"com.amazonaws.{REGION}.execute-api"),
        ("gateway", rf"it is a Gateway endpoint of com.amazonaws.{REGION}.s3, not an Interface endpoint"),
    ],
)  # fmt: skip
def test_plan_refuses_an_endpoint_that_cannot_serve_the_private_api_naming_the_option_and_changes_nothing(
    endpoint_deps: Deps, whose: str, expected: str
) -> None:
    endpoint, _ = {
        "none": ("vpce-0123456789abcdef0", ""),
        "sqs": an_endpoint("sqs"),
        "gateway": an_endpoint("s3", "Gateway"),
    }[whose]
    options = {rules.API_VPC_ENDPOINT: endpoint}

    with pytest.raises(InvalidOptions, match=f"ApiVpcEndpointId {endpoint}: {expected}") as refused:
        _install(endpoint_deps, options)

    assert refused.value.field == "options.ApiVpcEndpointId"
    assert str(refused.value).endswith("nothing was changed")
    assert endpoint_deps.ledger.lock() is None and endpoint_deps.ledger.latest_runs(5) == []


def test_without_the_option_ec2_is_not_asked(endpoint_deps: Deps) -> None:
    asked = []

    def regional_client(service: str, region: str) -> Any:
        asked.append(service)
        return boto3.client(service, region_name=region)

    _install(replace(endpoint_deps, regional_client=regional_client), {})

    assert "ec2" not in asked


@pytest.mark.parametrize(
    ("installed_with", "asked", "refusal"),
    [
        ("first", "second", r"installed behind vpce-\w+, not vpce-\w+; the API's endpoint is chosen at install"),
        ("first", "", r"installed behind vpce-\w+, not data\.all's own endpoint \(none given\)"),
        ("", "second", r"installed behind data\.all's own endpoint, not vpce-\w+"),
        ("first", "first", None),
        ("", "", None),
        (None, "", None),  # installed by a release without the option: data.all's own endpoint
    ],
    ids=["another", "back to its own", "away from its own", "the same", "its own kept", "before the option"],
)
def test_an_installed_data_all_keeps_its_apis_endpoint_a_run_changing_it_is_refused_before_anything_changes(
    endpoint_deps: Deps, installed_with: str | None, asked: str, refusal: str | None
) -> None:
    """The API's resource policy names its endpoint, and API Gateway applies a changed policy only on a new
    deployment; data.all's own endpoint (private DNS) and the operator's cannot serve one VPC: Plan refuses a change,
    naming the option."""
    first, vpc_id = an_endpoint()
    endpoints = {"first": first, "second": an_endpoint(vpc_id=vpc_id)[0], "": ""}
    options = {} if installed_with is None else {rules.API_VPC_ENDPOINT: endpoints[installed_with]}
    release = endpoint_release()
    endpoint_deps.ledger.set_current_release(ReleaseRecord(version=release.version, options=options, run="install-1"))
    document = {"action": "redeploy", "options": {rules.API_VPC_ENDPOINT: endpoints[asked]}}

    if refusal is None:
        plan(endpoint_deps, request(document, name="redeploy-abc"))
        run = endpoint_deps.ledger.run("redeploy-abc")
        assert run is not None and run.params[rules.API_VPC_ENDPOINT] == endpoints[asked]
        return
    with pytest.raises(InvalidOptions, match=f"ApiVpcEndpointId: data\\.all's API is {refusal}") as refused:
        plan(endpoint_deps, request(document, name="redeploy-abc"))
    assert refused.value.field == "options.ApiVpcEndpointId"
    assert endpoint_deps.ledger.lock() is None and endpoint_deps.ledger.latest_runs(5) == []


def test_the_rules_form_is_the_same_for_any_number_of_references_to_the_endpoint() -> None:
    """Every reference to the endpoint's id outside what the condition holds takes the operator's: an output too."""
    template = private_api()
    template["Outputs"] = {"Endpoint": {"Value": {"Fn::GetAtt": [ENDPOINT, "Id"]}}}

    given = operators.resolved(_only(RULE, copy.deepcopy(template)), {rules.API_VPC_ENDPOINT: OPERATORS})

    assert given["Outputs"] == {"Endpoint": {"Value": OPERATORS}}
