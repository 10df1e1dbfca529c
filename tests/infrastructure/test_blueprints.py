"""The stage blueprints as synthesized: wiring, option conditions, stateful data, scoped names.

Options act at install time through CloudFormation Conditions, so the tests evaluate a
template's conditions for given parameter values (`Deployment`) and read what would be
created and which values the outputs and properties take.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest

from lambdas.release.manifest import ManifestError

pytestmark = pytest.mark.infrastructure

STATEFUL = {"aurora", "cognito", "opensearch", "s3", "secrets"}
DOMAIN = {
    "CustomDomainName": "dataall.example.com",
    "HostedZoneId": "Z0123456789ABCDEFGHIJ",
    "CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0123abcd-0123-4567-89ab-0123456789ab",
}
CONTEXT = {"ResourcePrefix": "acme", "EnvName": "test", "AssetsBucket": "acme-artifacts", "DeletionProtection": "true"}


# ---------------------------------------------------------------------- condition evaluation
@dataclass
class Deployment:
    """A template with its parameters given: which resources exist, what values resolve to."""

    template: Mapping[str, Any]
    parameters: Mapping[str, Any]

    @cached_property
    def conditions(self) -> dict[str, bool]:
        return {name: self.condition(name) for name in self.template.get("Conditions", {})}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def created(self, kind: str | None = None) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if (kind is None or resource["Type"] == kind)
            and ("Condition" not in resource or self.conditions[resource["Condition"]])
        }

    def output(self, name: str) -> Any:
        return self.resolve(self.template["Outputs"][name]["Value"])

    def text(self, value: Any) -> str:
        """A name built with `Fn::Join` from parameters and literals, as CloudFormation makes it."""
        resolved = self.resolve(value)
        if isinstance(resolved, dict):
            separator, parts = resolved["Fn::Join"]
            return str(separator).join(self.text(part) for part in parts)
        return str(resolved)

    def resolve(self, value: Any) -> Any:
        """Conditions, `Fn::If` and `Ref`s to parameters resolved; other intrinsics kept."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg in self.parameters:
                return self.parameters[arg]
            if key in CONDITION_FUNCTIONS:
                return CONDITION_FUNCTIONS[key](self, arg)
        return {k: self.resolve(v) for k, v in value.items()}


def _if(deployment: Deployment, arg: list[Any]) -> Any:
    name, then, otherwise = arg
    return deployment.resolve(then if deployment.condition(name) else otherwise)


CONDITION_FUNCTIONS: dict[str, Callable[[Deployment, Any], Any]] = {
    "Condition": lambda d, name: d.condition(name),
    "Fn::If": _if,
    "Fn::Equals": lambda d, arg: d.resolve(arg[0]) == d.resolve(arg[1]),
    "Fn::Not": lambda d, arg: not d.resolve(arg[0]),
    "Fn::And": lambda d, arg: all(d.resolve(v) for v in arg),
    "Fn::Or": lambda d, arg: any(d.resolve(v) for v in arg),
}


def deployment(release: Any, stage: str, **options: Any) -> Deployment:
    """The stage as the workflow would deploy it with these options (and default others)."""
    from lambdas.release.manifest import render_value

    manifest = release.manifest
    resolved = manifest.resolve_options(options)
    values = {**CONTEXT, **{name: render_value(value) for name, value in resolved.items()}}
    parameters = {
        name: re.sub(r"\$\{param:([^}]*)\}", lambda m: values[m.group(1)], source)
        for name, source in manifest.steps[stage].parameters.items()
    }
    return Deployment(release.template(stage), parameters)


def policy_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource id, resource type, statement) of every policy document in the template."""

    def documents(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            if "Statement" in value and isinstance(value["Statement"], list):
                yield value
            for inner in value.values():
                yield from documents(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from documents(inner)

    for logical_id, resource in template["Resources"].items():
        for document in documents(resource.get("Properties", {})):
            for statement in document["Statement"]:
                yield logical_id, resource["Type"], statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def templates(release: Any) -> dict[str, dict[str, Any]]:
    return {step.name: release.template(step.name) for step in release.manifest.stages()}


# ---------------------------------------------------------------------- graph and wiring
@pytest.mark.parametrize(
    ("stage", "parameter", "source"),
    [
        ("params", "VpcId", "${stage:vpc.VpcId}"),
        ("params", "PrivateSubnetIds", "${stage:vpc.PrivateSubnetIds}"),
        ("params", "QueueUrl", "${stage:sqs.QueueUrl}"),
        ("params", "ResourcesBucketName", "${stage:s3.ResourcesBucketName}"),
        ("monitoring", "DeadLetterQueueName", "${stage:sqs.DeadLetterQueueName}"),
        ("aurora", "PrivateSubnetIds", "${stage:vpc.PrivateSubnetIds}"),
        ("aurora", "SecretsKeyArn", "${stage:secrets.SecretsKeyArn}"),
        ("lambda-api", "DatabaseSecretArn", "${stage:aurora.DatabaseSecretArn}"),
        ("lambda-api", "UserPoolId", "${stage:cognito.UserPoolId}"),
        ("lambda-api", "SearchEndpoint", "${stage:opensearch.SearchEndpoint}"),
        ("lambda-api", "QueueArn", "${stage:sqs.QueueArn}"),
        ("container", "DatabaseSecretArn", "${stage:aurora.DatabaseSecretArn}"),
        ("cloudfront", "ApiUrl", "${stage:lambda-api.ApiUrl}"),
        ("albfront", "ApiUrl", "${stage:lambda-api.ApiUrl}"),
        ("canaries", "ApiUrl", "${stage:lambda-api.ApiUrl}"),
        ("vpc", "ExistingVpcId", "${param:ExistingVpcId}"),
        ("aurora", "ProdSizing", "${param:ProdSizing}"),
    ],
)
def test_a_stage_reads_its_inputs_from_the_stage_that_outputs_them(
    release: Any, stage: str, parameter: str, source: str
) -> None:
    assert release.manifest.steps[stage].parameters[parameter] == source


def test_every_template_parameter_is_filled_by_the_manifest(templates: dict[str, Any], release: Any) -> None:
    for stage, template in templates.items():
        declared = set(template.get("Parameters", {}))
        assert declared == set(release.manifest.steps[stage].parameters), stage


def test_the_default_install_deploys_independent_stages_in_parallel_waves(release: Any) -> None:
    manifest = release.manifest

    waves = manifest.waves(manifest.resolve_options())

    assert waves == [
        ["cognito", "pivot-role", "s3", "secrets", "sqs", "vpc"],
        ["aurora", "monitoring", "opensearch", "params"],
        ["migrate"],
        ["container", "lambda-api"],
        ["cloudfront"],
    ]


def test_options_choose_the_frontend_and_the_optional_stages(release: Any) -> None:
    manifest = release.manifest
    options = manifest.resolve_options({"InternetFacing": False, "EnableCanaries": True, "EnableRum": True, **DOMAIN})

    waves = manifest.waves(options)

    assert waves[0] == ["cognito", "pivot-role", "rum", "s3", "secrets", "sqs", "vpc"]
    assert waves[-1] == ["albfront", "canaries"]
    assert "cloudfront" not in {stage for wave in waves for stage in wave}


def test_the_stateful_stages_are_the_ones_that_hold_data(release: Any) -> None:
    assert {s.name for s in release.manifest.stages() if s.stateful} == STATEFUL


# ---------------------------------------------------------------------- options and rules
@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"ExistingVpcId": "vpc-0123456789abcdef0"}, "ExistingPrivateSubnetIds"),
        ({"ExistingPrivateSubnetIds": "subnet-01234567,subnet-89abcdef"}, "ExistingVpcId"),
        ({"CustomDomainName": "dataall.example.com"}, "HostedZoneId"),
        ({"CustomDomainName": "dataall.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}, "CertificateArn"),
        ({"InternetFacing": False}, "CustomDomainName"),
        ({"OidcIssuerUrl": "https://login.example.com"}, "OidcClientId"),
    ],
)
def test_an_impossible_option_combination_is_refused_naming_the_option(
    release: Any, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ManifestError, match=named):
        release.manifest.resolve_options(options)


def test_a_complete_option_combination_is_accepted(release: Any) -> None:
    options = release.manifest.resolve_options(
        {
            "InternetFacing": False,
            "ExistingVpcId": "vpc-0123456789abcdef0",
            "ExistingPrivateSubnetIds": "subnet-01234567,subnet-89abcdef",
            "OidcIssuerUrl": "https://login.example.com",
            "OidcClientId": "dataall",
            "OidcClientSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:idp-AbCdEf",
            **DOMAIN,
        }
    )

    assert options["InternetFacing"] is False


def test_a_boolean_option_reaches_a_template_as_the_text_the_workflow_renders(templates: dict[str, Any]) -> None:
    flags = [
        (stage, name, spec)
        for stage, template in templates.items()
        for name, spec in template.get("Parameters", {}).items()
        if name in {"ProdSizing", "InternetFacing", "OpenSearchServerless"}
    ]

    assert len(flags) >= 5
    for stage, name, spec in flags:
        assert spec["AllowedValues"] == ["true", "false"], (stage, name)


# ---------------------------------------------------------------------- vpc
def test_the_vpc_stage_creates_a_vpc_with_one_nat_gateway_by_default(release: Any) -> None:
    vpc = deployment(release, "vpc")

    assert len(vpc.created("AWS::EC2::VPC")) == 1
    assert len(vpc.created("AWS::EC2::Subnet")) == 4
    assert len(vpc.created("AWS::EC2::NatGateway")) == 1
    assert len(vpc.created("AWS::EC2::FlowLog")) == 1
    assert len(vpc.created("AWS::EC2::VPCEndpoint")) >= 10
    nat = next(iter(vpc.created("AWS::EC2::NatGateway")))
    routes = [r["Properties"] for r in vpc.created("AWS::EC2::Route").values() if "NatGatewayId" in r["Properties"]]
    assert [vpc.resolve(r["NatGatewayId"]) for r in routes] == [{"Ref": nat}, {"Ref": nat}]


def test_prod_sizing_gives_each_zone_its_own_nat_gateway(release: Any) -> None:
    vpc = deployment(release, "vpc", ProdSizing=True)

    nats = vpc.created("AWS::EC2::NatGateway")
    routes = [r["Properties"] for r in vpc.created("AWS::EC2::Route").values() if "NatGatewayId" in r["Properties"]]

    assert len(nats) == 2
    assert sorted(vpc.resolve(r["NatGatewayId"])["Ref"] for r in routes) == sorted(nats)


def test_an_existing_vpc_is_used_instead_and_the_outputs_keep_their_shape(release: Any) -> None:
    existing = {
        "ExistingVpcId": "vpc-0123456789abcdef0",
        "ExistingPrivateSubnetIds": "subnet-01234567,subnet-89abcdef",
    }
    created = deployment(release, "vpc")
    imported = deployment(release, "vpc", ProdSizing=True, **existing)

    assert set(imported.created()) == {"PlatformSecurityGroup"}
    assert imported.output("VpcId") == existing["ExistingVpcId"]
    assert imported.output("PrivateSubnetIds") == existing["ExistingPrivateSubnetIds"]
    assert (
        imported.resolve(imported.created()["PlatformSecurityGroup"]["Properties"]["VpcId"])
        == existing["ExistingVpcId"]
    )
    assert created.output("VpcId") == {"Ref": next(iter(created.created("AWS::EC2::VPC")))}
    assert set(created.template["Outputs"]) == set(imported.template["Outputs"])


# ---------------------------------------------------------------------- aurora and opensearch
def test_prod_sizing_adds_a_database_reader_and_capacity(release: Any) -> None:
    small, large = deployment(release, "aurora"), deployment(release, "aurora", ProdSizing=True)

    def cluster(d: Deployment) -> dict[str, Any]:
        (resource,) = d.created("AWS::RDS::DBCluster").values()
        return dict(d.resolve(resource["Properties"]))

    assert len(small.created("AWS::RDS::DBInstance")) == 1
    assert len(large.created("AWS::RDS::DBInstance")) == 2
    assert cluster(small)["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4}
    assert cluster(large)["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 2, "MaxCapacity": 16}
    assert cluster(large)["BackupRetentionPeriod"] == 30


def test_the_database_secret_is_managed_by_rds_and_published_to_the_api(release: Any) -> None:
    aurora = deployment(release, "aurora")
    ((cluster_id, cluster),) = aurora.created("AWS::RDS::DBCluster").items()

    assert cluster["Properties"]["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in cluster["Properties"]
    assert aurora.output("DatabaseSecretArn") == {"Fn::GetAtt": [cluster_id, "MasterUserSecret.SecretArn"]}


def test_opensearch_is_a_domain_by_default_and_a_collection_when_serverless(release: Any) -> None:
    domain = deployment(release, "opensearch")
    serverless = deployment(release, "opensearch", OpenSearchServerless=True)

    assert set(map(lambda r: r["Type"], domain.created().values())) & {
        "AWS::OpenSearchService::Domain",
        "AWS::OpenSearchServerless::Collection",
    } == {"AWS::OpenSearchService::Domain"}
    assert not serverless.created("AWS::OpenSearchService::Domain")
    (collection_id,) = serverless.created("AWS::OpenSearchServerless::Collection")
    assert len(serverless.created("AWS::OpenSearchServerless::SecurityPolicy")) == 2
    assert serverless.output("SearchEndpoint") == {"Fn::GetAtt": [collection_id, "CollectionEndpoint"]}
    assert serverless.output("SearchService") == "aoss"
    assert domain.output("SearchService") == "es"


def test_a_production_search_domain_spreads_over_two_zones(release: Any) -> None:
    def cluster_config(d: Deployment) -> dict[str, Any]:
        (resource,) = d.created("AWS::OpenSearchService::Domain").values()
        return dict(d.resolve(resource["Properties"]["ClusterConfig"]))

    small = cluster_config(deployment(release, "opensearch"))
    large = cluster_config(deployment(release, "opensearch", ProdSizing=True))

    assert (small["InstanceCount"], small["ZoneAwarenessEnabled"], small["DedicatedMasterEnabled"]) == (1, False, False)
    assert (large["InstanceCount"], large["ZoneAwarenessEnabled"], large["DedicatedMasterCount"]) == (2, True, 3)


# ---------------------------------------------------------------------- api, identity, frontends
def test_an_internal_platform_gets_a_private_api_behind_its_own_endpoint(release: Any) -> None:
    public = deployment(release, "lambda-api")
    private = deployment(release, "lambda-api", InternetFacing=False, **DOMAIN)

    def endpoint_types(d: Deployment) -> list[str]:
        (api,) = d.created("AWS::ApiGateway::RestApi").values()
        return list(d.resolve(api["Properties"]["EndpointConfiguration"]["Types"]))

    assert endpoint_types(public) == ["REGIONAL"]
    assert endpoint_types(private) == ["PRIVATE"]
    assert not public.created("AWS::EC2::VPCEndpoint")
    (endpoint,) = private.created("AWS::EC2::VPCEndpoint")
    assert {"Ref": endpoint} in private.output("ApiUrl")["Fn::Join"][1]


def test_only_the_health_route_is_open_and_the_api_is_behind_waf(templates: dict[str, Any]) -> None:
    api = templates["lambda-api"]["Resources"]
    methods = {
        r["Properties"]["HttpMethod"]: r["Properties"] for r in api.values() if r["Type"] == "AWS::ApiGateway::Method"
    }

    assert methods["GET"]["AuthorizationType"] == "NONE"
    assert methods["POST"]["AuthorizationType"] == "CUSTOM"
    assert any(r["Type"] == "AWS::WAFv2::WebACLAssociation" for r in api.values())


def test_the_oidc_provider_exists_only_when_its_issuer_is_given(release: Any) -> None:
    oidc = {
        "OidcIssuerUrl": "https://login.example.com",
        "OidcClientId": "dataall",
        "OidcClientSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:idp-AbCdEf",
    }
    plain, federated = deployment(release, "cognito"), deployment(release, "cognito", **oidc)

    assert not plain.created("AWS::Cognito::UserPoolIdentityProvider")
    assert len(federated.created("AWS::Cognito::UserPoolIdentityProvider")) == 1
    assert (plain.output("IdentityProviders"), federated.output("IdentityProviders")) == (
        "COGNITO",
        "COGNITO,Corporate",
    )


def test_each_frontend_registers_its_app_client_where_the_authorizer_looks(release: Any) -> None:
    api = deployment(release, "lambda-api")
    (authorizer,) = [
        r
        for r in api.created("AWS::Lambda::Function").values()
        if "CLIENTS_PATH" in r["Properties"]["Environment"]["Variables"]
    ]
    path = api.text(authorizer["Properties"]["Environment"]["Variables"]["CLIENTS_PATH"])

    for stage in ("cloudfront", "albfront"):
        frontend = deployment(release, stage, InternetFacing=stage == "cloudfront", **DOMAIN)
        (registration,) = frontend.created("AWS::SSM::Parameter").values()
        assert frontend.text(registration["Properties"]["Name"]) == f"{path}/{stage}"
    assert path == "/acme/test/cognito/clients"


def test_the_cloudfront_page_is_published_by_the_release_s_own_function(templates: dict[str, Any]) -> None:
    resources = templates["cloudfront"]["Resources"]
    (publisher,) = [r for r in resources.values() if r["Type"] == "Custom::SitePublisher"]
    (distribution,) = [r for r in resources.values() if r["Type"] == "AWS::CloudFront::Distribution"]

    function_id = publisher["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    assert resources[function_id]["Type"] == "AWS::Lambda::Function"
    assert set(publisher["Properties"]["Config"]) == {
        "apiUrl",
        "region",
        "userPoolId",
        "clientId",
        "authDomain",
        "redirectUri",
    }
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert "OriginAccessControlId" in origin


# ---------------------------------------------------------------------- stateful stages
#: DeletionPolicy and UpdateReplacePolicy of every resource that holds data. Retained on
#: delete and on replacement, except when its own create is rolled back (it is new and empty
#: then, and a retained copy would block the next create with its name).
DATA_TYPES = {
    "AWS::RDS::DBCluster": ("Snapshot", "Snapshot"),
    "AWS::S3::Bucket": ("RetainExceptOnCreate", "Retain"),
    "AWS::KMS::Key": ("RetainExceptOnCreate", "Retain"),
    "AWS::Cognito::UserPool": ("RetainExceptOnCreate", "Retain"),
    "AWS::OpenSearchService::Domain": ("RetainExceptOnCreate", "Retain"),
    "AWS::OpenSearchServerless::Collection": ("RetainExceptOnCreate", "Retain"),
    "AWS::SecretsManager::Secret": ("RetainExceptOnCreate", "Retain"),
}


def test_stateful_stages_keep_their_data_when_deleted_or_replaced(templates: dict[str, Any]) -> None:
    checked = 0
    for stage in STATEFUL:
        for logical_id, resource in templates[stage]["Resources"].items():
            expected = DATA_TYPES.get(resource["Type"])
            if expected is None:
                continue
            checked += 1
            policies = (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
            assert policies == expected, (stage, logical_id)
    assert checked >= 10


def test_the_database_is_encrypted(templates: dict[str, Any]) -> None:
    (cluster,) = [r for r in templates["aurora"]["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster"]

    assert cluster["Properties"]["StorageEncrypted"] is True


# ---------------------------------------------------------------------- bars on every template
NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::Cognito::UserPool": "UserPoolName",
    "AWS::Cognito::UserPoolClient": "ClientName",
    "AWS::SSM::Parameter": "Name",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::OpenSearchServerless::Collection": "Name",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::Synthetics::Canary": "Name",
    "AWS::RUM::AppMonitor": "Name",
    "AWS::ApiGateway::RestApi": "Name",
}


def test_every_named_resource_is_scoped_to_the_installation_prefix(templates: dict[str, Any]) -> None:
    named = 0
    for stage, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            prop = NAME_PROPERTIES.get(resource["Type"])
            if prop is None:
                continue
            name = resource["Properties"][prop]
            named += 1
            assert {"Ref": "ResourcePrefix"} in _refs(name), (stage, logical_id, name)
    assert named >= 60


def _refs(value: Any) -> list[dict[str, str]]:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return [value]
        return [ref for inner in value.values() for ref in _refs(inner)]
    if isinstance(value, list):
        return [ref for inner in value for ref in _refs(inner)]
    return []


def test_no_policy_grants_every_action_and_service_wildcards_stay_with_key_admins(
    templates: dict[str, Any],
) -> None:
    for stage, template in templates.items():
        for logical_id, kind, statement in policy_statements(template):
            actions = as_list(statement.get("Action", []))
            assert "*" not in actions, (stage, logical_id)
            wildcards = [a for a in actions if isinstance(a, str) and a.endswith(":*")]
            if wildcards and statement["Effect"] == "Allow":
                # CDK's default key policy: the account administers its own key.
                assert kind == "AWS::KMS::Key" and wildcards == ["kms:*"], (stage, logical_id, statement)


def test_templates_name_no_account_and_no_region_of_their_own(templates: dict[str, Any]) -> None:
    for stage, template in templates.items():
        text = json.dumps(template)
        assert not re.search(r"(?<![0-9a-f-])\d{12}(?![0-9a-f-])", text), stage
        regions = re.findall(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text)
        if stage == "cloudfront":
            # A CLOUDFRONT web ACL can only exist in us-east-1: the stage tests for it.
            assert regions == ["us-east-1"]
            assert "us-east-1" in json.dumps(template["Conditions"])
        else:
            assert regions == [], stage


def test_templates_need_no_cdk_bootstrap_and_no_cdk_assets(templates: dict[str, Any]) -> None:
    for stage, template in templates.items():
        text = json.dumps(template)
        for trace in ("cdk-hnb659fds", "AssetParameters", "AWS::CDK::Metadata", "BootstrapVersion"):
            assert trace not in text, (stage, trace)


def test_every_function_and_layer_comes_from_the_release_s_own_assets(templates: dict[str, Any], release: Any) -> None:
    packages = 0
    for stage, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            code = {
                "AWS::Lambda::Function": lambda p: p["Code"],
                "AWS::Lambda::LayerVersion": lambda p: p["Content"],
                "AWS::Synthetics::Canary": lambda p: p["Code"],
            }.get(resource["Type"])
            if code is None:
                continue
            packages += 1
            location = code(resource["Properties"])
            assert location["S3Bucket"] == {"Ref": "AssetsBucket"}, (stage, logical_id)
            assert location["S3Key"] in release.manifest.files, (stage, logical_id)
    assert packages >= 9


def test_deletion_protection_is_on_unless_an_uninstall_turns_it_off(release: Any) -> None:
    def protections(protection: str) -> list[Any]:
        found = []
        for stage, kind in (("aurora", "AWS::RDS::DBCluster"), ("cognito", "AWS::Cognito::UserPool")):
            d = deployment(release, stage)
            d = Deployment(d.template, {**d.parameters, "DeletionProtection": protection})
            (resource,) = d.created(kind).values()
            found.append(d.resolve(resource["Properties"])["DeletionProtection"])
        return found

    assert protections("true") == [True, "ACTIVE"]
    assert protections("false") == [False, "INACTIVE"]
