"""The installer's options, installed in the sandbox: every stage and every conditional branch.

Three installs and one refused run cover the options of the bootstrap stack between them
(the default install is `test_install.py`'s):

* internal: `InternetFacing=false` with a custom domain and `ProdSizing` -> albfront on the
  domain, a private API, a second NAT gateway, an aurora reader, a zone-aware domain;
* monitored: canaries, RUM, OpenSearch Serverless, `ProdSizing`, a custom domain on
  CloudFront and an alarm e-mail;
* imported: an existing VPC and subnets, an OIDC provider, RUM without a custom domain,
  `LogRetentionDays`;
* refused: an impossible combination is refused in Plan with `InvalidOptions`, creating nothing.

Each install runs the real bootstrap template, ASL, Lambda packages and blueprints through
the same `deploy` the CLI runs; the assertions read the services' own APIs.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from installer.aws import Aws
from lambdas.run.refusals import refused
from sandbox.cloudformation.providers.registry import UnsupportedProvider
from tests.conftest import cached_synthetic_release
from tests.fixtures.synthetic.common import WITHOUT_CONTEXT
from tests.sandbox.certificates import issued_certificate
from tests.sandbox.conftest import INSTALLATION, Outcome, deploy, run

pytestmark = pytest.mark.sandbox

DOMAIN = "dataall.example.com"
#: Stages that exist only under some options; every other stage is always installed.
OPTIONAL_STAGES = frozenset({"cloudfront", "albfront", "canaries", "rum"})
#: The zone of every CloudFront alias target (fixed by AWS).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
#: `{prefix}-{env}`: the name of the load balancer, search collection ...
SCOPE = f"{INSTALLATION.prefix}-{INSTALLATION.env}"


# --------------------------------------------------------------------------- what an operator brings
def hosted_zone(aws: Aws, name: str = "example.com") -> str:
    """A Route 53 hosted zone; its id as the bootstrap stack's `HostedZoneId` takes it."""
    zone = aws.client("route53").create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))["HostedZone"]
    return str(zone["Id"]).rsplit("/", 1)[-1]


def custom_domain(aws: Aws) -> dict[str, str]:
    return {
        "CustomDomainName": DOMAIN,
        "HostedZoneId": hosted_zone(aws),
        "CertificateArn": issued_certificate(aws.client("acm"), DOMAIN),
    }


def existing_network(aws: Aws) -> tuple[str, list[str]]:
    """The operator's VPC with two private subnets in two zones."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{aws.region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    return vpc, subnets


# --------------------------------------------------------------------------- reading an installation
def outputs(aws: Aws, stage: str) -> dict[str, str]:
    stack = aws.client("cloudformation").describe_stacks(StackName=INSTALLATION.stage_stack(stage))["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stage_stacks(aws: Aws, release: Any) -> list[str]:
    """The names of the stage stacks that exist (deleted ones aside)."""
    wanted = {INSTALLATION.stage_stack(stage.name) for stage in release.manifest.stages()}
    found = []
    for page in aws.client("cloudformation").get_paginator("describe_stacks").paginate():
        found += [s["StackName"] for s in page["Stacks"] if s["StackName"] in wanted]
    return sorted(found)


def assert_installed(outcome: Outcome, release: Any, optional: set[str]) -> None:
    """The run SUCCEEDED: every stage CREATE_COMPLETE (UPDATE_COMPLETE when it has deletion
    protection, turned on by an update once the stack exists) but the optional ones not
    chosen, SKIPPED; the database migrated; the lock released."""
    result = outcome.result
    assert result["status"] == "SUCCEEDED", result["error"]

    def created(name: str) -> str:
        protected = "DeletionProtection" in release.template(name).get("Parameters", {})
        return "UPDATE_COMPLETE" if protected else "CREATE_COMPLETE"

    expected = {
        stage.name: "SKIPPED" if stage.name in OPTIONAL_STAGES - optional else created(stage.name)
        for stage in release.manifest.stages()
    }
    assert {name: stage["status"] for name, stage in result["stages"].items()} == expected
    assert result["actions"]["migrate"]["status"] == "MIGRATED"
    assert outcome.reader.ledger.lock() is None


def alias_record(aws: Aws, zone: str) -> dict[str, Any]:
    records = aws.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    found = [r for r in records if r["Name"].rstrip(".") == DOMAIN and r["Type"] == "A"]
    assert len(found) == 1, records
    target: dict[str, Any] = found[0]["AliasTarget"]
    return target


def nat_gateways(aws: Aws, vpc: str) -> list[dict[str, Any]]:
    gateways = aws.client("ec2").describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]
    return [g for g in gateways if g["State"] != "deleted"]


def function_configuration(aws: Aws, name: str) -> dict[str, Any]:
    configuration: dict[str, Any] = aws.client("lambda").get_function_configuration(FunctionName=name)
    return configuration


# --------------------------------------------------------------------------- the installs
# Each install takes about a minute: `make test` runs one (the existing VPC, which changes the
# graph most); the other combinations are `slow` (`make test-slow`).
@pytest.mark.slow
def test_an_internal_install_serves_the_page_from_an_internal_load_balancer_on_its_domain(
    aws: Aws, release: Any
) -> None:
    """InternetFacing=false + custom domain + ProdSizing: albfront instead of cloudfront, the
    API private behind an execute-api endpoint, production sizing everywhere."""
    domain = custom_domain(aws)

    outcome = deploy(aws, release, {"InternetFacing": "false", "ProdSizing": "true", **domain})

    assert_installed(outcome, release, {"albfront"})
    front, api, network = outputs(aws, "albfront"), outputs(aws, "lambda-api"), outputs(aws, "vpc")
    assert front["Url"] == f"https://{DOMAIN}/"
    elbv2 = aws.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers(Names=[SCOPE])["LoadBalancers"]
    assert (balancer["Scheme"], balancer["DNSName"]) == ("internal", front["LoadBalancerDnsName"])
    assert sorted(zone["SubnetId"] for zone in balancer["AvailabilityZones"]) == sorted(
        network["PrivateSubnetIds"].split(",")
    )
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
    assert [c["CertificateArn"] for c in listener["Certificates"]] == [domain["CertificateArn"]]
    target = alias_record(aws, domain["HostedZoneId"])
    assert target["DNSName"].rstrip(".") == balancer["DNSName"]
    assert target["HostedZoneId"] == balancer["CanonicalHostedZoneId"]
    # The page signs in through its own app client, whose callback is the custom domain.
    client = aws.client("cognito-idp").describe_user_pool_client(
        UserPoolId=outputs(aws, "cognito")["UserPoolId"], ClientId=front["AppClientId"]
    )["UserPoolClient"]
    assert client["CallbackURLs"] == [front["Url"]]
    # The API is private: reached through the VPC endpoint's own host name.
    rest_api = aws.client("apigateway").get_rest_api(restApiId=api["RestApiId"])
    assert rest_api["endpointConfiguration"]["types"] == ["PRIVATE"]
    assert re.fullmatch(
        rf"https://{api['RestApiId']}-vpce-[0-9a-f]+\.execute-api\.{aws.region}\.amazonaws\.com/api/", api["ApiUrl"]
    )
    # ProdSizing: a NAT gateway per zone, an aurora reader, a zone-aware search domain.
    assert len(nat_gateways(aws, network["VpcId"])) == 2
    cluster = outputs(aws, "aurora")["ClusterIdentifier"]
    members = aws.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["DBClusterMembers"]
    assert len(members) == 2
    (domain_name,) = aws.client("opensearch").list_domain_names()["DomainNames"]
    config = aws.client("opensearch").describe_domain(DomainName=domain_name["DomainName"])["DomainStatus"]
    cluster_config = config["ClusterConfig"]
    assert (cluster_config["ZoneAwarenessEnabled"], cluster_config["DedicatedMasterEnabled"]) == (True, True)
    assert cluster_config["InstanceCount"] == 2


@pytest.mark.slow
def test_canaries_rum_serverless_search_production_sizing_and_a_domain_on_cloudfront(aws: Aws, release: Any) -> None:
    """EnableCanaries + EnableRum + OpenSearchServerless + ProdSizing, with a custom domain on
    CloudFront and an alarm e-mail: every optional internet-facing stage."""
    domain = custom_domain(aws)

    outcome = deploy(
        aws,
        release,
        {
            "EnableCanaries": "true",
            "EnableRum": "true",
            "OpenSearchServerless": "true",
            "ProdSizing": "true",
            "AlarmEmail": "ops@example.com",
            **domain,
        },
    )

    assert_installed(outcome, release, {"cloudfront", "canaries", "rum"})
    search, api, network = outputs(aws, "opensearch"), outputs(aws, "lambda-api"), outputs(aws, "vpc")
    # A serverless collection, no domain; the API reads the collection's endpoint.
    (collection,) = aws.client("opensearchserverless").batch_get_collection(names=[SCOPE])["collectionDetails"]
    assert search["SearchService"] == "aoss"
    assert (search["SearchEndpoint"], search["SearchArn"]) == (collection["collectionEndpoint"], collection["arn"])
    assert collection["standbyReplicas"] == "ENABLED"
    assert aws.client("opensearch").list_domain_names()["DomainNames"] == []
    environment = function_configuration(aws, api["ApiFunctionName"])["Environment"]["Variables"]
    assert (environment["SEARCH_ENDPOINT"], environment["SEARCH_SERVICE"]) == (collection["collectionEndpoint"], "aoss")
    # CloudFront answers on the custom domain with the operator's certificate.
    front = outputs(aws, "cloudfront")
    assert front["Url"] == f"https://{DOMAIN}/"
    config = aws.client("cloudfront").get_distribution_config(Id=front["DistributionId"])["DistributionConfig"]
    assert config["Aliases"]["Items"] == [DOMAIN]
    assert config["ViewerCertificate"]["ACMCertificateArn"] == domain["CertificateArn"]
    target = alias_record(aws, domain["HostedZoneId"])
    assert (target["DNSName"].rstrip("."), target["HostedZoneId"]) == (
        front["DistributionDomainName"],
        CLOUDFRONT_ZONE_ID,
    )
    # The canary runs in the platform's private subnets; its alarm goes to the alarm topic.
    topic = outputs(aws, "monitoring")["AlarmTopicArn"]
    canary = aws.client("synthetics").get_canary(Name=outputs(aws, "canaries")["CanaryName"])["Canary"]
    assert canary["Status"]["State"] == "RUNNING"
    assert sorted(canary["VpcConfig"]["SubnetIds"]) == sorted(network["PrivateSubnetIds"].split(","))
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[f"{SCOPE}-api-health"])["MetricAlarms"]
    assert alarm["AlarmActions"] == [topic]
    # RUM's guests come from an identity pool that admits unauthenticated identities only.
    rum = outputs(aws, "rum")
    assert rum["AppMonitorName"] == f"{SCOPE}-web"
    pool = aws.client("cognito-identity").describe_identity_pool(IdentityPoolId=rum["IdentityPoolId"])
    assert pool["AllowUnauthenticatedIdentities"] is True
    # AlarmEmail subscribes the address to the alarm topic.
    subscriptions = aws.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]
    # ProdSizing: a NAT gateway per zone in the VPC the installer created.
    assert len(nat_gateways(aws, network["VpcId"])) == 2


@pytest.mark.slow  # 36-41 s: an install of its own
def test_an_install_into_an_existing_vpc_creates_no_network_and_federates_an_oidc_provider(
    aws: Aws, release: Any
) -> None:
    """ExistingVpcId + ExistingPrivateSubnetIds: the vpc stage imports instead of creating;
    with an OIDC provider, RUM without a custom domain, and a log retention of 90 days."""
    vpc, subnets = existing_network(aws)
    client_secret = aws.client("secretsmanager").create_secret(Name="corporate-oidc", SecretString="s3cret")["ARN"]

    outcome = deploy(
        aws,
        release,
        {
            "ExistingVpcId": vpc,
            "ExistingPrivateSubnetIds": ",".join(subnets),
            "OidcIssuerUrl": "https://login.example.com/",
            "OidcClientId": "dataall",
            "OidcClientSecretArn": client_secret,
            "EnableRum": "true",
            "LogRetentionDays": "90",
        },
    )

    assert_installed(outcome, release, {"cloudfront", "rum"})
    network = outputs(aws, "vpc")
    assert (network["VpcId"], network["PrivateSubnetIds"]) == (vpc, ",".join(subnets))
    ec2 = aws.client("ec2")
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == [vpc]
    assert nat_gateways(aws, vpc) == []
    assert ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"] == []
    platform_group = ec2.describe_security_groups(GroupIds=[network["PlatformSecurityGroupId"]])["SecurityGroups"][0]
    assert platform_group["VpcId"] == vpc
    # The stages put their network interfaces in the operator's subnets.
    api = function_configuration(aws, outputs(aws, "lambda-api")["ApiFunctionName"])
    assert sorted(api["VpcConfig"]["SubnetIds"]) == sorted(subnets)
    search_group = outputs(aws, "opensearch")["SearchSecurityGroupId"]
    assert ec2.describe_security_groups(GroupIds=[search_group])["SecurityGroups"][0]["VpcId"] == vpc
    # The user pool federates the OIDC provider, with the client secret read from its secret.
    cognito = outputs(aws, "cognito")
    provider = aws.client("cognito-idp").describe_identity_provider(
        UserPoolId=cognito["UserPoolId"], ProviderName="Corporate"
    )["IdentityProvider"]
    assert provider["ProviderType"] == "OIDC"
    details = provider["ProviderDetails"]
    assert (details["oidc_issuer"], details["client_id"], details["client_secret"]) == (
        "https://login.example.com/",
        "dataall",
        "s3cret",
    )
    assert cognito["IdentityProviders"] == "COGNITO,Corporate"
    app_client = aws.client("cognito-idp").describe_user_pool_client(
        UserPoolId=cognito["UserPoolId"], ClientId=outputs(aws, "cloudfront")["AppClientId"]
    )["UserPoolClient"]
    assert app_client["SupportedIdentityProviders"] == ["COGNITO", "Corporate"]
    # LogRetentionDays reaches the stages' log groups.
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{SCOPE}-")["logGroups"]
    stage_groups = {g["logGroupName"]: g.get("retentionInDays") for g in groups}
    for name in ("api", "worker", "authorizer", "migrations"):
        assert stage_groups[f"/aws/lambda/{SCOPE}-{name}"] == 90
    assert outputs(aws, "rum")["AppMonitorName"] == f"{SCOPE}-web"


def test_an_impossible_combination_is_refused_in_plan_naming_the_option_and_creates_nothing(
    aws: Aws, release: Any
) -> None:
    """InternetFacing=false without a custom domain: InvalidOptions from the plan step, before
    any stage stack, ledger record or lock is left behind."""
    outcome = deploy(aws, release, {"InternetFacing": "false"})

    result = outcome.result
    execution = aws.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    refusal = refused(execution)  # a refusal, not a failure: the execution SUCCEEDED
    assert refusal is not None and refusal["code"] == "InvalidOptions" and refusal["field"] == "options"
    assert "InternetFacing=false" in refusal["reason"]
    assert "CustomDomainName" in refusal["reason"]
    history = aws.client("stepfunctions").get_execution_history(executionArn=result["execution_arn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["Plan", "Planned", "Refused", "RefusedEnd"]
    assert stage_stacks(aws, release) == []
    assert {stage["status"] for stage in result["stages"].values()} == {"NOT_CREATED"}
    assert outcome.reader.ledger.stages() == {}
    assert outcome.reader.ledger.lock() is None


def test_every_resource_type_of_the_release_has_a_sandbox_provider(sandbox: Any, release: Any) -> None:
    """Nothing of the release is left to the sandbox's "not supported" failure: every type of
    the bootstrap template and of every blueprint, under any option, has a provider."""
    registry = sandbox.cloudformation.engine.env.providers
    templates = {
        "bootstrap": release.bootstrap_template,
        **{stage.name: json.loads((release.path / stage.template).read_text()) for stage in release.manifest.stages()},
    }

    types = {
        (name, resource["Type"]) for name, template in templates.items() for resource in template["Resources"].values()
    }
    unsupported = sorted(
        (name, kind) for name, kind in types if isinstance(registry.provider(kind), UnsupportedProvider)
    )

    assert len(types) > 100
    assert unsupported == []


# --------------------------------------------------------------------------- an option turned off again
@pytest.mark.slow
def test_a_stage_whose_option_a_failed_run_turned_off_is_deleted_then_created_again_by_the_rollback(
    aws: Aws, release: Any, sandbox: Any
) -> None:
    """EnableRum=false on an installation with RUM deletes the rum stage first; when a later stage of
    the same run fails, the rollback creates rum again from its rollback point (template, parameters,
    tags), with a new app monitor, and the installation runs what it ran before."""
    installed = deploy(aws, release, {"EnableRum": "true"})
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    cfn = aws.client("cloudformation")
    (before,) = cfn.describe_stacks(StackName=INSTALLATION.stage_stack("rum"))["Stacks"]
    sandbox.faults.add("container:update")

    failed = run(aws, installed, {"action": "redeploy", "options": {"EnableRum": False, "ContainerImage": "other:1"}})

    assert failed["status"] == "FAILED" and failed["error"]["stage"] == "container", failed["error"]
    steps = installed.reader.ledger.steps(failed["execution_arn"].rsplit(":", 1)[1])
    assert (steps["rum"].op, steps["rum"].result, steps["rum"].rolled_back) == ("delete", "DELETED", "RESTORED")
    (after,) = cfn.describe_stacks(StackName=INSTALLATION.stage_stack("rum"))["Stacks"]
    assert after["StackId"] != before["StackId"] and after["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p.get("ParameterValue") for p in after["Parameters"]} == {
        p["ParameterKey"]: p.get("ParameterValue") for p in before["Parameters"]
    }
    assert [m["Name"] for m in aws.client("rum").list_app_monitors()["AppMonitorSummaries"]] == [f"{SCOPE}-web"]
    record = installed.reader.ledger.stage("rum")
    assert record is not None and record.stack_id == after["StackId"]


# --------------------------------------------------------------------------- a stage a new release drops
@pytest.mark.slow
def test_a_stage_an_upgrade_drops_is_deleted_and_created_again_when_the_upgrade_fails(
    aws: Aws, release: Any, sandbox: Any
) -> None:
    """2.9.0 has no `params` stage (as a data.all version that drops a nested stack): the upgrade to
    it deletes the installed one; when a later stage of that upgrade fails, the rollback creates it
    again from its rollback point (the 2.8.0 template and parameters), the ledger naming the new
    stack; the upgrade run again, it goes for good."""
    newer = cached_synthetic_release(version="2.9.0", overrides={WITHOUT_CONTEXT: "params"})
    assert "params" not in newer.manifest.steps
    installed = deploy(aws, release)
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    cfn = aws.client("cloudformation")
    (before,) = cfn.describe_stacks(StackName=INSTALLATION.stage_stack("params"))["Stacks"]
    fault = sandbox.faults.add("container:update")

    failed = deploy(aws, newer, {"ContainerImage": "other:1"}).result

    assert (failed["action"], failed["status"]) == ("upgrade", "FAILED"), failed
    assert failed["error"]["stage"] == "container", failed["error"]
    steps = installed.reader.ledger.steps(failed["execution_arn"].rsplit(":", 1)[1])
    assert (steps["params"].op, steps["params"].result, steps["params"].rolled_back) == (
        "delete",
        "DELETED",
        "RESTORED",
    )
    (after,) = cfn.describe_stacks(StackName=INSTALLATION.stage_stack("params"))["Stacks"]
    assert after["StackId"] != before["StackId"] and after["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p.get("ParameterValue") for p in after["Parameters"]} == {
        p["ParameterKey"]: p.get("ParameterValue") for p in before["Parameters"]
    }
    record = installed.reader.ledger.stage("params")
    assert record is not None and record.stack_id == after["StackId"] and record.version == release.version
    current = installed.reader.ledger.current_release()
    assert current is not None and current.version == release.version
    sandbox.faults.remove([fault.id])

    done = run(aws, installed, {"action": "upgrade", "version": newer.version})

    assert done["status"] == "SUCCEEDED", done["error"]
    assert INSTALLATION.stage_stack("params") not in stage_stacks(aws, release)
    assert installed.reader.ledger.stage("params") is None
    current = installed.reader.ledger.current_release()
    assert current is not None and current.version == newer.version
