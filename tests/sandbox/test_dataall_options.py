"""data.all's options on an installed data.all (README: "Options"): a value option changes the one
stage whose template takes it, the ProdSizing variant the stages whose template differs; every
other stage is left as it is (UNCHANGED), and each changed stage is updated in place."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from blueprints.dataall import rules
from installer.aws import Aws
from installer.images import register_sandbox_images
from installer.upstream import shared_upstream
from lambdas.release.manifest import resolve_parameters
from lambdas.run.refusals import refused
from tests.conftest import cached_dataall_release
from tests.sandbox.certificates import issued_certificate
from tests.sandbox.conftest import INSTALLATION, deploy, installed_name, run
from tests.sandbox.test_dataall import CLOUDFRONT_REGION, HOME, _callback_urls
from tests.sandbox.test_ways_in import settle
from tests.unit.test_dataall_custom_auth import OKTA_OPTIONS

pytestmark = [
    pytest.mark.skipif(not shared_upstream("2.9.0").is_dir(), reason="../shared/upstream/dataall is not here"),
    pytest.mark.xdist_group("dataall"),
    pytest.mark.slow,
]


#: A release offering the custom-domain variant alone: one synthesis of data.all besides its default one
#: (`installer.dataall.variant_options`), not the 31 of every variant option.
CUSTOM_DOMAIN_ONLY = (rules.CUSTOM_DOMAIN_ENABLED,)


def _changed(outcome: Any, result: dict[str, Any], release: Any) -> set[str]:
    """The stages a run deployed (not left UNCHANGED)."""
    steps = outcome.reader.ledger.steps(result["execution_arn"].rsplit(":", 1)[1])
    stages = {stage.name for stage in release.manifest.stages()}
    return {name for name, step in steps.items() if name in stages and step.result != "UNCHANGED"}


def _stack_ids(aws: Aws, release: Any, options: dict[str, Any] | None = None) -> dict[str, str]:
    """The stack id of every stage the options turn on (the defaults: the stages without a condition)."""
    manifest = release.manifest
    ids = {}
    for name, stage in manifest.active_steps(manifest.resolve_options(options)).items():
        if not stage.is_stage:
            continue
        cfn = Aws(region=stage.region or aws.region, endpoint_url=aws.endpoint_url).client("cloudformation")
        (stack,) = cfn.describe_stacks(StackName=INSTALLATION.stage_stack(name))["Stacks"]
        ids[name] = stack["StackId"]
    return ids


def _varying(release: Any, option: str) -> set[str]:
    """The stages with a variant for `option`."""
    return {s.name for s in release.manifest.stages() if any(option in json.dumps(v.when) for v in s.variants)}


def test_an_installed_data_all_takes_a_value_option_and_prod_sizing_changing_only_their_stages(
    sandbox: Any, data_all_pace: None
) -> None:
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", variants=True)
    # the stages with a ProdSizing variant that this installation has (not opensearch-serverless, which
    # EnableOpenSearchServerless adds)
    varying = _varying(release, "ProdSizing") - {"opensearch-serverless"}
    assert varying == {"params", "lambdas", "ecs", "aurora", "opensearch"}
    register_sandbox_images(aws, release, lambda _: None)
    installed = deploy(aws, release, {"OnDelete": "Destroy"})
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    cognito, rds = aws.client("cognito-idp"), aws.client("rds")
    (pool,) = cognito.list_user_pools(MaxResults=10)["UserPools"]
    (client,) = cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=10)["UserPoolClients"]
    stacks = _stack_ids(aws, release)

    def refresh_validity() -> int:
        described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])
        return int(described["UserPoolClient"]["RefreshTokenValidity"])

    def capacity() -> dict[str, Any]:
        (cluster,) = rds.describe_db_clusters()["DBClusters"]
        return dict(cluster["ServerlessV2ScalingConfiguration"])

    assert refresh_validity() == 43200 and capacity() == {"MinCapacity": 4, "MaxCapacity": 16}

    # a value option: data.all's cognito_user_session_timeout_inmins, in the cognito stage alone
    timeout = run(aws, installed, {"action": "redeploy", "options": {"SessionTimeoutMinutes": 120}})
    assert timeout["status"] == "SUCCEEDED", timeout["error"]
    assert _changed(installed, timeout, release) == {"cognito"}
    assert refresh_validity() == 120

    # data.all's throttling: the API stage's method settings, in the lambdas stage alone
    throttled = run(aws, installed, {"action": "redeploy", "options": {"ApiRateLimit": 200}})
    assert throttled["status"] == "SUCCEEDED", throttled["error"]
    assert _changed(installed, throttled, release) == {"lambdas"}
    apigateway = aws.client("apigateway")
    (api,) = apigateway.get_rest_apis()["items"]
    (stage,) = apigateway.get_stages(restApiId=api["id"])["item"]
    every = stage["methodSettings"]["*/*"]
    assert (every["throttlingRateLimit"], every["throttlingBurstLimit"]) == (200.0, 5000)

    # data.all's reauth_config, allowed_origins and shared_dashboard_sessions: params and lambdas alone;
    # the reauth SSM parameter data.all makes only when operations are given comes, then goes
    ssm, functions = aws.client("ssm"), aws.client("lambda")
    reauth = "/dataall/test/reauth/apis"
    assert ssm.get_parameters(Names=[reauth])["InvalidParameters"] == [reauth]
    values = {
        "ReauthApis": "deleteDataset,createDataset",
        "ReauthTtlMinutes": 15,
        "AllowedOrigins": "https://dataall.example.com",
        "SharedDashboardsSessions": "reader",
        "EnablePivotRoleAutoCreate": True,
    }
    valued = run(aws, installed, {"action": "redeploy", "options": values})
    assert valued["status"] == "SUCCEEDED", valued["error"]
    assert _changed(installed, valued, release) == {"params", "lambdas", "ecs"}
    pivot_role = "/dataall/test/pivotRole/"
    assert ssm.get_parameter(Name=pivot_role + "pivotRoleName")["Parameter"]["Value"] == "dataallPivotRole-cdk"
    assert ssm.get_parameter(Name=pivot_role + "enablePivotRoleAutoCreate")["Parameter"]["Value"] == "True"
    assert ssm.get_parameter(Name=reauth)["Parameter"]["Value"] == "deleteDataset,createDataset"
    sessions = ssm.get_parameter(Name="/dataall/test/quicksight/sharedDashboardsSessions")["Parameter"]["Value"]
    assert sessions == "reader"
    environments = [
        functions.get_function_configuration(FunctionName=f["FunctionName"]).get("Environment", {}).get("Variables", {})
        for f in functions.list_functions()["Functions"]
    ]
    api = [e for e in environments if "REAUTH_TTL" in e]
    assert [e["REAUTH_TTL"] for e in api] == ["15"] and api[0]["ALLOWED_ORIGINS"] == "https://dataall.example.com"
    assert (
        sorted(e["ALLOWED_ORIGINS"] for e in environments if "ALLOWED_ORIGINS" in e)
        == ["https://dataall.example.com"] * 2
    )  # the API and its search proxy
    none = run(aws, installed, {"action": "redeploy", "options": {"ReauthApis": ""}})
    assert none["status"] == "SUCCEEDED", none["error"]
    assert _changed(installed, none, release) == {"params"}
    assert ssm.get_parameters(Names=[reauth])["InvalidParameters"] == [reauth]

    # data.all's custom_waf_rules: the stages of its three WebACLs alone; each WebACL blocks other countries
    # and addresses first, by an IPSet in WAFv2 holding them (CloudFront's in us-east-1)
    waf = {"WafAllowedIpRanges": "203.0.113.0/24,198.51.100.7/32", "WafAllowedCountries": "DE,FR"}
    walled = run(aws, installed, {"action": "redeploy", "options": waf})
    assert walled["status"] == "SUCCEEDED", walled["error"]
    assert _changed(installed, walled, release) == {"lambdas", "cognito", "cloudfront"}
    for scope, wafv2 in (
        ("REGIONAL", aws.client("wafv2")),
        ("CLOUDFRONT", aws.in_region("us-east-1").client("wafv2")),
    ):
        sets = wafv2.list_ip_sets(Scope=scope)["IPSets"]
        assert len(sets) == (2 if scope == "REGIONAL" else 1), sets
        for found in sets:
            ip_set = wafv2.get_ip_set(Name=found["Name"], Scope=scope, Id=found["Id"])["IPSet"]
            assert ip_set["Addresses"] == ["203.0.113.0/24", "198.51.100.7/32"]
        for summary in wafv2.list_web_acls(Scope=scope)["WebACLs"]:
            acl = wafv2.get_web_acl(Name=summary["Name"], Scope=scope, Id=summary["Id"])["WebACL"]
            first = [(r["Name"], r["Priority"]) for r in acl["Rules"][:3]]
            assert first == [("GeoMatch", 0), ("IPMatch", 1), ("AWS-AWSManagedRulesAdminProtectionRuleSet", 2)]
            geo = acl["Rules"][0]["Statement"]["NotStatement"]["Statement"]["GeoMatchStatement"]["CountryCodes"]
            assert geo == ["DE", "FR"]

    # data.all's rate_limit and rate_limit_window: the rate-based rule ending the API's and Cognito's WebACLs, in
    # their two stages alone (CloudFront's WebACL has none); WAF's default window, 300, is left out as data.all does
    def rate_rules() -> dict[str, tuple[int, dict[str, Any]]]:
        wafv2 = aws.client("wafv2")
        found = {}
        for summary in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]:
            acl = wafv2.get_web_acl(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])["WebACL"]
            last = acl["Rules"][-1]
            found[last["Name"]] = (last["Priority"], last["Statement"]["RateBasedStatement"])
        return found

    assert rate_rules() == {
        "APIGatewayRateLimit": (8, {"AggregateKeyType": "IP", "Limit": 1000}),
        "CognitoRateLimit": (5, {"AggregateKeyType": "IP", "Limit": 1000}),
    }
    limited = run(aws, installed, {"action": "redeploy", "options": {"WafRateLimit": 500, "WafRateLimitWindow": 120}})
    assert limited["status"] == "SUCCEEDED", limited["error"]
    assert _changed(installed, limited, release) == {"lambdas", "cognito"}
    statement = {"AggregateKeyType": "IP", "Limit": 500, "EvaluationWindowSec": 120}
    assert rate_rules() == {"APIGatewayRateLimit": (8, statement), "CognitoRateLimit": (5, statement)}
    # out of WAF's bounds: refused by name before anything changes
    for bad in ({"WafRateLimit": 5}, {"WafRateLimitWindow": 90}):
        refused_run = run(aws, installed, {"action": "redeploy", "options": bad})
        execution = aws.client("stepfunctions").describe_execution(executionArn=refused_run["execution_arn"])
        refusal = refused(execution)
        assert refusal is not None and refusal["code"] == "InvalidOptions", refusal
        assert refusal["field"] == f"options.{next(iter(bad))}", refusal
        assert _changed(installed, refused_run, release) == set()
    assert rate_rules() == {"APIGatewayRateLimit": (8, statement), "CognitoRateLimit": (5, statement)}

    # a key of data.all's that no release serves (its aurora_migration_enabled): refused by name, nothing changed
    unserved = run(aws, installed, {"action": "redeploy", "options": {"AuroraMigrationEnabled": True}})
    execution = aws.client("stepfunctions").describe_execution(executionArn=unserved["execution_arn"])
    refusal = refused(execution)
    assert refusal is not None and refusal["code"] == "InvalidOptions", refusal
    assert refusal["field"] == "options.AuroraMigrationEnabled" and "this release accepts" in refusal["reason"]

    # the variant: data.all's prod_sizing off, in the stages whose template differs
    smaller = run(aws, installed, {"action": "redeploy", "options": {"ProdSizing": False}})
    assert smaller["status"] == "SUCCEEDED", smaller["error"]
    assert _changed(installed, smaller, release) == varying
    assert capacity() == {"MinCapacity": 2, "MaxCapacity": 8}
    assert refresh_validity() == 120  # the option set before stays
    assert _stack_ids(aws, release) == stacks  # every stage updated in place, none replaced
    options = installed.reader.options(installed.reader.ledger.current_release())
    assert options["ProdSizing"]["value"] is False and options["SessionTimeoutMinutes"]["value"] == 120
    assert options["ProdSizing"]["source"].endswith("run " + smaller["execution_arn"].rsplit(":", 1)[1])
    assert options["SessionTimeoutMinutes"]["source"].endswith("run " + timeout["execution_arn"].rsplit(":", 1)[1])
    # the bootstrap stack gave every option of its form (defaults included) to the install
    assert options["LogRetentionDays"]["value"] == 731
    assert options["LogRetentionDays"]["source"] == "trigger run " + installed.result["execution_arn"].rsplit(":", 1)[1]

    again = run(aws, installed, {"action": "redeploy"})
    assert again["status"] == "SUCCEEDED", again["error"]
    assert _changed(installed, again, release) == set()


def _resources(aws: Aws, stage: str) -> dict[str, tuple[str, str]]:
    """The stage stack's resources: logical id -> (type, status)."""
    cfn = aws.client("cloudformation")
    listed = cfn.describe_stack_resources(StackName=INSTALLATION.stage_stack(stage))["StackResources"]
    return {r["LogicalResourceId"]: (r["ResourceType"], r["ResourceStatus"]) for r in listed}


def _index(aws: Aws, installed: Any) -> str:
    """The web UI's index.html, as the install's site step wrote it to the site bucket."""
    step = installed.reader.ledger.steps(installed.result["execution_arn"].rsplit(":", 1)[1])["site"]
    s3 = Aws(region=step.site_region or aws.region, endpoint_url=aws.endpoint_url).client("s3")
    return str(s3.get_object(Bucket=step.site_bucket, Key="index.html")["Body"].read().decode())


def test_data_all_with_cloudwatch_rum_and_small_sizing_installs_the_rum_stage_and_a_redeploy_without_deletes_it(
    sandbox: Any, data_all_pace: None
) -> None:
    """EnableCloudWatchRum=true with ProdSizing=false (data.all's enable_cw_rum and prod_sizing together: the
    variants of their combination; with EnableCloudWatchCanaries, which data.all's RUM needs): the rum,
    canaries and secrets stages with every resource of their templates, the app monitor wired to the identity
    pool the cognito stage adds; RUM turned off again, the run deletes the rum stage, puts cognito back and
    leaves every other stage as it is."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", variants=True, site=True)
    # dashboards outputs its alarms topic for RUM and for the canaries alike: among the combinations Plan accepts
    # (RUM only with the canaries), it varies with EnableCloudWatchCanaries alone
    assert _varying(release, "EnableCloudWatchRum") == {"cognito"}
    assert "dashboards" in _varying(release, "EnableCloudWatchCanaries")
    register_sandbox_images(aws, release, lambda _: None)
    options = {"EnableCloudWatchRum": "true", "EnableCloudWatchCanaries": "true", "ProdSizing": "false"}

    installed = deploy(aws, release, {"OnDelete": "Destroy", **options})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    for added in ("rum", "canaries", "secrets"):
        template = release.template(added)
        assert _resources(aws, added) == {
            lid: (r["Type"], "CREATE_COMPLETE") for lid, r in template["Resources"].items()
        }, added
    template = release.template("rum")
    cognito = {o["OutputKey"]: o["OutputValue"] for o in aws.client("cloudformation").describe_stacks(
        StackName=INSTALLATION.stage_stack("cognito"))["Stacks"][0]["Outputs"]}  # fmt: skip
    pool_id = next(v for k, v in cognito.items() if "IdentityPooldev" in k)
    guest_role = next(v for k, v in cognito.items() if "IdentityPoolRoledev" in k)
    (monitor,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RUM::AppMonitor"]
    described = aws.client("rum").get_app_monitor(Name=installed_name(monitor["Properties"]["Name"]))["AppMonitor"]
    assert described["AppMonitorConfiguration"]["IdentityPoolId"] == pool_id
    assert described["AppMonitorConfiguration"]["GuestRoleArn"] == guest_role
    assert described["Tags"] == {tag["Key"]: installed_name(tag["Value"]) for tag in monitor["Properties"]["Tags"]}
    # the site step did what data.all's rum_config.py and frontend_config.py do after its frontend deploy
    (distribution,) = aws.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert (installed_name(monitor["Properties"]["Domain"]), described["Domain"]) == (
        "dataall.test.change.me", "*." + distribution["DomainName"]
    )  # fmt: skip
    index = _index(aws, installed)
    assert f"('cwr','{described['Id']}','1.0.0','{HOME}'," in index and f'identityPoolId:"{pool_id}"' in index
    roles = aws.client("cognito-identity").get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"]
    assert roles == {"unauthenticated": guest_role}
    (alarm_spec,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    alarm_name = installed_name(alarm_spec["Properties"]["AlarmName"])
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/RUM", "JsErrorCount") and alarm["AlarmActions"]
    (parameter,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    role_name = aws.client("ssm").get_parameter(Name=installed_name(parameter["Properties"]["Name"]))["Parameter"][
        "Value"
    ]
    assert aws.client("iam").get_role(RoleName=role_name)["Role"]["RoleName"] == role_name
    (cluster,) = aws.client("rds").describe_db_clusters()["DBClusters"]
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 2, "MaxCapacity": 8}  # ProdSizing=false
    stacks = _stack_ids(aws, release, {"EnableCloudWatchRum": True, "EnableCloudWatchCanaries": True})
    installed_at = time.monotonic()

    off = run(aws, installed, {"action": "redeploy", "options": {"EnableCloudWatchRum": False}})

    assert off["status"] == "SUCCEEDED", off["error"]
    steps = installed.reader.ledger.steps(off["execution_arn"].rsplit(":", 1)[1])
    assert steps["rum"].result == "DELETED"
    assert _changed(installed, off, release) == {"rum", "cognito"}  # dashboards' topic output: canaries reads it
    assert aws.client("rum").list_app_monitors()["AppMonitorSummaries"] == []
    assert aws.client("cognito-identity").list_identity_pools(MaxResults=10)["IdentityPools"] == []
    assert installed.reader.ledger.stage("rum") is None
    assert "AwsRumClient" not in _index(aws, installed)  # the site published again without RUM's snippet
    remaining = _stack_ids(aws, release, {"EnableCloudWatchCanaries": True})
    assert remaining == {name: stack for name, stack in stacks.items() if name != "rum"}  # none replaced
    (cluster,) = aws.client("rds").describe_db_clusters()["DBClusters"]
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 2, "MaxCapacity": 8}  # kept
    print(f"install {installed_at - started:.0f} s, redeploy without RUM {time.monotonic() - installed_at:.0f} s")


def test_data_all_with_opensearch_serverless_installs_the_collection_stage_and_turning_it_off_needs_its_data_allowed(
    sandbox: Any, data_all_pace: None
) -> None:
    """EnableOpenSearchServerless=true (data.all's enable_opensearch_serverless): the opensearch-serverless stage
    with every resource of its template (its collection, encryption, network and data access policies, VPC endpoint
    and key), no opensearch stage nor domain, data.all's search parameters naming the collection. Turned off, the
    collection's stage goes: it holds data (the search index), so the data-loss guard refuses the run (DataAtRisk)
    until allow_replacement names it; then the run deletes it and creates the domain's stage in its place. Turned
    on again, the same the other way round; data.all's domain is kept (its DeletionPolicy Retain)."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", variants=True)
    steps = release.manifest.steps
    assert steps["opensearch-serverless"].when == {"option": "EnableOpenSearchServerless", "equals": True}
    assert steps["opensearch"].when == {"option": "EnableOpenSearchServerless", "equals": False}
    assert steps["opensearch-serverless"].stateful
    register_sandbox_images(aws, release, lambda _: None)

    installed = deploy(aws, release, {"OnDelete": "Destroy", "EnableOpenSearchServerless": "true"})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    template = release.template("opensearch-serverless")
    assert _resources(aws, "opensearch-serverless") == {
        lid: (r["Type"], "CREATE_COMPLETE") for lid, r in template["Resources"].items()
    }
    types = {r["Type"] for r in template["Resources"].values()}
    assert {
        f"AWS::OpenSearchServerless::{t}" for t in ("Collection", "SecurityPolicy", "AccessPolicy", "VpcEndpoint")
    } <= types
    cfn = aws.client("cloudformation")
    live = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert INSTALLATION.stage_stack("opensearch") not in live
    assert aws.client("opensearch").list_domain_names()["DomainNames"] == []
    (spec,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::OpenSearchServerless::Collection"]
    aoss = aws.client("opensearchserverless")
    (collection,) = aoss.batch_get_collection(names=[installed_name(spec["Properties"]["Name"])])["collectionDetails"]
    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name="/dataall/test/elasticsearch/service")["Parameter"]["Value"] == "aoss"
    endpoint = ssm.get_parameter(Name="/dataall/test/elasticsearch/endpoint")["Parameter"]["Value"]
    assert endpoint == f"{collection['id']}.{HOME}.aoss.amazonaws.com"
    # the encryption policy gave the collection the stage's own key
    (key_spec,) = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    stack = INSTALLATION.stage_stack("opensearch-serverless")
    key = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=key_spec)["StackResourceDetail"]
    key = key["PhysicalResourceId"]
    assert collection["kmsKeyArn"].endswith(f":key/{key}")
    # dashboards took the collection's alarms (its variant reads the collection's id)
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNamePrefix="dataall-test-opensearch-serverless-alarm")
    assert len(alarms["MetricAlarms"]) == 3
    assert all({"Name": "CollectionId", "Value": collection["id"]} in a["Dimensions"] for a in alarms["MetricAlarms"])
    stacks = _stack_ids(aws, release, {"EnableOpenSearchServerless": True})
    installed_at = time.monotonic()

    # turned off without allow_replacement: refused, naming the collection; nothing changed
    guarded = run(aws, installed, {"action": "redeploy", "options": {"EnableOpenSearchServerless": False}})

    execution = aws.client("stepfunctions").describe_execution(executionArn=guarded["execution_arn"])
    refusal = refused(execution)
    assert guarded["status"] == "REFUSED" and refusal is not None and refusal["code"] == "DataAtRisk", refusal
    named = sorted(set(re.findall(r'"(opensearch-serverless/[A-Za-z0-9]+)"', refusal["reason"])))
    (collection_id,) = [lid for lid, r in template["Resources"].items() if r["Type"] == spec["Type"]]
    assert f"opensearch-serverless/{collection_id}" in named, refusal["reason"]
    assert _stack_ids(aws, release, {"EnableOpenSearchServerless": True}) == stacks
    assert [c["id"] for c in aoss.list_collections()["collectionSummaries"]] == [collection["id"]]

    off = run(
        aws,
        installed,
        {"action": "redeploy", "options": {"EnableOpenSearchServerless": False}, "allow_replacement": named},
    )

    assert off["status"] == "SUCCEEDED", off["error"]
    ran = installed.reader.ledger.steps(off["execution_arn"].rsplit(":", 1)[1])
    assert (
        ran["opensearch-serverless"].result == "DELETED"
        and installed.reader.ledger.stage("opensearch-serverless") is None
    )
    assert aoss.list_collections()["collectionSummaries"] == []
    (domain,) = aws.client("opensearch").list_domain_names()["DomainNames"]
    # the domain's stage names its endpoint, and no search service (data.all then takes `es`)
    assert ssm.get_parameter(Name="/dataall/test/elasticsearch/endpoint")["Parameter"]["Value"] != endpoint
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/dataall/test/elasticsearch/service")
    assert _resources(aws, "opensearch") == {
        lid: (r["Type"], "CREATE_COMPLETE") for lid, r in release.template("opensearch")["Resources"].items()
    }
    # the domain's stage in place of the collection's; dashboards back to the domain's alarms, lambdas and ecs
    # without the role outputs the collection's access policy read; the others as they were
    assert _changed(installed, off, release) == {"opensearch-serverless", "opensearch", "dashboards", "lambdas", "ecs"}
    remaining = _stack_ids(aws, release)
    assert {n: s for n, s in remaining.items() if n != "opensearch"} == {
        n: s for n, s in stacks.items() if n != "opensearch-serverless"
    }  # none replaced
    off_at = time.monotonic()

    # and on again: the domain's stage holds data too (the guard names its domain), so it goes only when allowed;
    # data.all's DeletionPolicy Retain keeps its domain, and the collection's stage comes back
    again = {"action": "redeploy", "options": {"EnableOpenSearchServerless": True}}
    guarded = run(aws, installed, again)
    refusal = refused(aws.client("stepfunctions").describe_execution(executionArn=guarded["execution_arn"]))
    assert refusal is not None and refusal["code"] == "DataAtRisk", refusal
    (domain_id,) = [lid for lid, r in release.template("opensearch")["Resources"].items()
                    if r["Type"] == "AWS::OpenSearchService::Domain"]  # fmt: skip
    named = sorted(set(re.findall(r'"(opensearch/[A-Za-z0-9]+)"', refusal["reason"])))
    assert f"opensearch/{domain_id}" in named, refusal["reason"]
    on = run(aws, installed, {**again, "allow_replacement": named})

    assert on["status"] == "SUCCEEDED", on["error"]
    assert installed.reader.ledger.steps(on["execution_arn"].rsplit(":", 1)[1])["opensearch"].result == "DELETED"
    assert aws.client("opensearch").list_domain_names()["DomainNames"] == [domain]  # retained
    (back,) = aoss.list_collections()["collectionSummaries"]
    assert ssm.get_parameter(Name="/dataall/test/elasticsearch/service")["Parameter"]["Value"] == "aoss"
    assert ssm.get_parameter(Name="/dataall/test/elasticsearch/endpoint")["Parameter"]["Value"] == (
        f"{back['id']}.{HOME}.aoss.amazonaws.com"
    )
    print(
        f"install {installed_at - started:.0f} s, off {off_at - installed_at:.0f} s, "
        f"on {time.monotonic() - off_at:.0f} s ({domain})"
    )


def test_data_all_with_a_custom_domain_serves_its_web_ui_at_the_zones_name_with_a_certificate_validated_there(
    sandbox: Any, data_all_pace: None
) -> None:
    """EnableCustomDomain (data.all's custom_domain) with a public hosted zone of the account: Plan refuses a zone
    of another name before anything changes; with the right one, data.all's CloudFront stage gets an ACM
    certificate (us-east-1) of the name and `*.` the name, validated by DNS in the zone (its CNAME there), the
    distribution answers at the name with it, the zone's A record is an alias of the distribution, and data.all's
    own code takes the name: its SSM parameter, the API's `frontend_domain_url`, and the Cognito callbacks its
    URL trigger sets (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html,
    https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html)."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", variants=CUSTOM_DOMAIN_ONLY)
    assert _varying(release, "EnableCustomDomain") >= {"params", "lambdas", "ecs", "cloudfront"}
    register_sandbox_images(aws, release, lambda _: None)
    route53 = aws.client("route53")
    name = "dataall.example.com"

    def zone(zone_name: str) -> str:
        made = route53.create_hosted_zone(Name=zone_name, CallerReference=zone_name)
        return str(made["HostedZone"]["Id"]).rsplit("/", 1)[-1]

    right, other = zone(name), zone("other.example.com")
    options = {"OnDelete": "Destroy", "EnableCustomDomain": "true", "CustomDomainName": name}

    refused_run = deploy(aws, release, {**options, "CustomDomainHostedZoneId": other})

    assert refused_run.result["status"] == "REFUSED", refused_run.result
    execution = aws.client("stepfunctions").describe_execution(executionArn=refused_run.result["execution_arn"])
    refusal = refused(execution)
    assert refusal is not None and refusal["field"] == "options.CustomDomainHostedZoneId", refusal
    assert "is other.example.com, not CustomDomainName dataall.example.com" in refusal["reason"]
    assert refused_run.reader.ledger.stages() == {}

    installed = deploy(aws, release, {**options, "CustomDomainHostedZoneId": right})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    east = Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint)
    resolved = release.manifest.resolve_options({"EnableCustomDomain": True, "CustomDomainName": name,
                                                 "CustomDomainHostedZoneId": right})  # fmt: skip
    chosen = release.manifest.chosen(resolved).steps["cloudfront"].template
    template = json.loads((release.path / str(chosen)).read_text())
    assert "AWS::CertificateManager::Certificate" in {r["Type"] for r in template["Resources"].values()}
    listed = east.client("cloudformation").describe_stack_resources(StackName=INSTALLATION.stage_stack("cloudfront"))
    # every resource but WAF's IPSet (no WafAllowedIpRanges given); the certificate's condition holds (none given)
    made = [
        lid
        for lid, r in template["Resources"].items()
        if r.get("Condition") in (None, rules.CUSTOM_DOMAIN_CERTIFICATE_REQUESTED)
    ]
    assert {r["LogicalResourceId"]: r["ResourceStatus"] for r in listed["StackResources"]} == dict.fromkeys(
        made, "CREATE_COMPLETE"
    )
    (distribution,) = east.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert distribution["Aliases"]["Items"] == [name]
    arn = distribution["ViewerCertificate"]["ACMCertificateArn"]
    certificate = east.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert arn.split(":")[3] == CLOUDFRONT_REGION and certificate["Status"] == "ISSUED"
    assert certificate["DomainName"] == name and sorted(certificate["SubjectAlternativeNames"]) == [f"*.{name}", name]
    records = route53.list_resource_record_sets(HostedZoneId=right)["ResourceRecordSets"]
    (alias,) = [r for r in records if r["Type"] == "A"]
    assert alias["Name"] == f"{name}." and alias["AliasTarget"]["DNSName"].rstrip(".") == distribution["DomainName"]
    validation = {o["ResourceRecord"]["Name"] for o in certificate["DomainValidationOptions"]}
    assert len(validation) == 1 and validation <= {r["Name"] for r in records if r["Type"] == "CNAME"}
    other_records = route53.list_resource_record_sets(HostedZoneId=other)["ResourceRecordSets"]
    assert {r["Type"] for r in other_records} == {"NS", "SOA"}  # nothing written in the other zone
    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name="/dataall/test/frontend/custom_domain_name")["Parameter"]["Value"] == name
    functions = aws.client("lambda").list_functions()["Functions"]
    (api,) = [f for f in functions if f["FunctionName"].endswith("graphql")]
    assert api["Environment"]["Variables"]["frontend_domain_url"] == f"https://{name}"
    assert _callback_urls(aws) == [f"https://{name}"]


def test_data_all_on_a_custom_domain_with_the_operators_certificate_requests_none_and_refuses_one_not_covering_it(
    sandbox: Any, data_all_pace: None
) -> None:
    """EnableCustomDomain with CustomDomainCertificateArn (data.all's custom_domain.certificate_arn), the account's
    ISSUED certificate (us-east-1) of the name: data.all's CloudFront stage requests none (its certificate's
    condition is false), and the distribution answers at the name with the one given. A redeploy with a
    certificate that does not cover the name is refused by Plan (InvalidOptions, naming the option) before
    anything changes (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html)."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    east = Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", variants=CUSTOM_DOMAIN_ONLY)
    assert release.manifest.options["CustomDomainCertificateArn"].default == ""
    register_sandbox_images(aws, release, lambda _: None)
    name = "dataall.example.com"
    zone = str(aws.client("route53").create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"])
    acm = east.client("acm")
    certificate = issued_certificate(acm, name, f"*.{name}")
    options: dict[str, Any] = {
        "EnableCustomDomain": True,
        "CustomDomainName": name,
        "CustomDomainHostedZoneId": zone.rsplit("/", 1)[-1],
        "CustomDomainCertificateArn": certificate,
    }

    installed = deploy(aws, release, {"OnDelete": "Destroy", **options, "EnableCustomDomain": "true"})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    front = release.manifest.chosen(release.manifest.resolve_options(options)).steps["cloudfront"].template
    assert front is not None and front != release.manifest.steps["cloudfront"].template  # the variant's
    variant = json.loads((release.path / front).read_text())
    requested = [lid for lid, r in variant["Resources"].items() if r["Type"] == "AWS::CertificateManager::Certificate"]
    assert [variant["Resources"][lid]["Condition"] for lid in requested] == [rules.CUSTOM_DOMAIN_CERTIFICATE_REQUESTED]
    made = _resources(east, "cloudfront")
    assert requested and not set(requested) & set(made) and set(made) < set(variant["Resources"])
    assert {status for _, status in made.values()} == {"CREATE_COMPLETE"}
    assert [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]] == [certificate]
    (distribution,) = east.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert distribution["Aliases"]["Items"] == [name]
    assert distribution["ViewerCertificate"]["ACMCertificateArn"] == certificate
    stacks = _stack_ids(aws, release, options)
    installed_at = time.monotonic()
    elsewhere = issued_certificate(acm, "other.example.com")

    refused_run = run(aws, installed, {"action": "redeploy", "options": {"CustomDomainCertificateArn": elsewhere}})

    refusal = refused(aws.client("stepfunctions").describe_execution(executionArn=refused_run["execution_arn"]))
    assert refused_run["status"] == "REFUSED" and refusal is not None, refused_run
    assert (refusal["code"], refusal["field"]) == ("InvalidOptions", "options.CustomDomainCertificateArn"), refusal
    assert "for other.example.com, none of which covers CustomDomainName dataall.example.com" in refusal["reason"]
    assert _changed(installed, refused_run, release) == set() and installed.reader.ledger.lock() is None
    assert _stack_ids(aws, release, options) == stacks
    (distribution,) = east.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert distribution["ViewerCertificate"]["ACMCertificateArn"] == certificate
    print(f"install {installed_at - started:.0f} s, refused redeploy {time.monotonic() - installed_at:.0f} s")


def test_data_all_with_a_restricted_nacl_has_it_on_its_four_subnets_and_a_redeploy_without_gives_them_back(
    sandbox: Any, data_all_pace: None
) -> None:
    """VpcRestrictedNacl=true (data.all's vpc_restricted_nacl): data.all's network ACL, with its five entries, is
    associated with the VPC's four subnets; turned off again, the run updates the vpc stage alone, the ACL is
    gone and the subnets are back on the VPC's default network ACL."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0")
    register_sandbox_images(aws, release, lambda _: None)

    installed = deploy(aws, release, {"OnDelete": "Destroy", rules.VPC_RESTRICTED_NACL: "true"})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    template = release.template("vpc")
    assert _resources(aws, "vpc") == {
        lid: (r["Type"], "CREATE_COMPLETE") for lid, r in template["Resources"].items()
    }  # every resource, the conditioned ones too
    ec2 = aws.client("ec2")
    listed = aws.client("cloudformation").describe_stack_resources(StackName=INSTALLATION.stage_stack("vpc"))
    (vpc_id,) = [r["PhysicalResourceId"] for r in listed["StackResources"] if r["ResourceType"] == "AWS::EC2::VPC"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"])
    assert len(subnets) == 4

    def acls() -> dict[str, dict[str, Any]]:
        described = ec2.describe_network_acls(Filters=in_vpc)["NetworkAcls"]
        return {"default" if acl["IsDefault"] else "restricted": acl for acl in described}

    restricted = acls()["restricted"]
    assert {"Key": "Name", "Value": "dataall-test-restrictedNACL"} in restricted["Tags"]
    assert sorted(a["SubnetId"] for a in restricted["Associations"]) == subnets
    entries = sorted(
        (e["Egress"], e["RuleNumber"], e["Protocol"], e["CidrBlock"], str(e.get("PortRange", "")))
        for e in restricted["Entries"]
        if e["RuleNumber"] < 32767
    )
    assert entries == [
        (False, 100, "6", "0.0.0.0/0", "{'From': 443, 'To': 443}"),
        (False, 101, "6", "0.0.0.0/0", "{'From': 80, 'To': 80}"),
        (False, 102, "6", "0.0.0.0/0", "{'From': 1024, 'To': 65535}"),
        (False, 103, "-1", "172.31.0.0/16", ""),
        (True, 100, "-1", "0.0.0.0/0", ""),
    ]
    assert acls()["default"]["Associations"] == []
    stacks = _stack_ids(aws, release)
    installed_at = time.monotonic()

    off = run(aws, installed, {"action": "redeploy", "options": {rules.VPC_RESTRICTED_NACL: False}})

    assert off["status"] == "SUCCEEDED", off["error"]
    assert _changed(installed, off, release) == {"vpc"}
    assert sorted(acls()) == ["default"]
    assert sorted(a["SubnetId"] for a in acls()["default"]["Associations"]) == subnets
    assert not any("NetworkAcl" in kind for kind, _ in _resources(aws, "vpc").values())
    assert _stack_ids(aws, release) == stacks  # updated in place
    print(f"install {installed_at - started:.0f} s, redeploy without the NACL {time.monotonic() - installed_at:.0f} s")


def test_data_all_on_a_custom_domain_upgrades_from_2_8_0_to_2_9_0_keeping_its_name_certificate_and_record(
    sandbox: Any, data_all_pace: None
) -> None:
    """The path an operator of data.all on a custom domain takes (data.all #1947): 2.8.0 installed with
    EnableCustomDomain, then the 2.9.0 release deployed with the same options. Each release's variant is its own
    synthesis of data.all with the placeholder zone; after the upgrade the web UI is at the same name with the same
    ACM certificate (not requested again: CloudFormation replaces a certificate only when its names change), the
    zone holds the one alias record and the one validation record, data.all's code still takes the name, and the
    stages are 2.9.0's."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    older = cached_dataall_release("2.8.0", variants=CUSTOM_DOMAIN_ONLY)
    newer = cached_dataall_release("2.9.0", variants=CUSTOM_DOMAIN_ONLY)
    offered = {"EnableCustomDomain", "CustomDomainName", "CustomDomainHostedZoneId", "CustomDomainEmailSenderId",
               "CustomDomainCertificateArn"}  # fmt: skip
    for release in (older, newer):
        # the custom domain's options, and no other variant option
        assert offered <= set(release.manifest.options), list(release.manifest.options)
        assert not {"ProdSizing", "EnableCloudWatchRum", "EnableOpenSearchServerless"} & set(release.manifest.options)
        register_sandbox_images(aws, release, lambda _: None)
    route53, east = aws.client("route53"), Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint)
    name = "dataall.example.com"
    zone = str(route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    options = {
        "OnDelete": "Destroy", "EnableCustomDomain": "true", "CustomDomainName": name,
        "CustomDomainHostedZoneId": zone, "CustomDomainEmailSenderId": "data-all.alerts",
    }  # fmt: skip

    def served() -> tuple[list[str], str, list[tuple[str, str]], str, list[str]]:
        (distribution,) = east.client("cloudfront").list_distributions()["DistributionList"]["Items"]
        records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        ecs = aws.client("ecs")
        definitions = [
            ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            for arn in ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
        ]
        # every ECS task of data.all sends as the option says (container.py's email_sender_id)
        senders = {e["value"] for d in definitions for c in d["containerDefinitions"] for e in c.get("environment", [])
                   if e["name"] == "email_sender_id"}  # fmt: skip
        return (
            distribution["Aliases"]["Items"],
            distribution["ViewerCertificate"]["ACMCertificateArn"],
            sorted((r["Name"], r["Type"]) for r in records if r["Type"] in ("A", "CNAME")),
            ",".join(sorted(senders)),
            _callback_urls(aws),
        )

    installed = deploy(aws, older, options)
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    before = served()
    assert before[0] == [name] and before[3] == f"data-all.alerts@{name}" and before[4] == [f"https://{name}"]
    assert [n for n, t in before[2] if t == "A"] == [f"{name}."]

    upgraded = deploy(aws, newer, options)

    assert upgraded.result["status"] == "SUCCEEDED", upgraded.result["error"]
    assert served() == before
    (certificate,) = east.client("acm").list_certificates()["CertificateSummaryList"]
    assert certificate["CertificateArn"] == before[1]
    parameter = aws.client("ssm").get_parameter(Name="/dataall/test/frontend/custom_domain_name")["Parameter"]
    assert parameter["Value"] == name
    assert {record.version for record in upgraded.reader.ledger.stages().values()} == {newer.version}


#: A release offering the custom-auth variant alone (one synthesis of data.all besides its default one).
CUSTOM_AUTH_ONLY = (rules.CUSTOM_AUTH_ENABLED,)
#: An operator's OIDC identity provider, as the release's options take it.
IDP = OKTA_OPTIONS


def test_data_all_with_custom_auth_installs_no_user_pool_its_authorizer_takes_the_provider_and_so_does_its_web_ui(
    sandbox: Any, data_all_pace: None
) -> None:
    """EnableCustomAuth (data.all's custom_auth): Plan refuses it without every one of the provider's values before
    anything changes; with them, data.all installs without its Cognito stages (no user pool), its API's custom
    authorizer checks the provider's tokens (its issuer, client and claims in its environment), its API handler
    and search proxy know the provider, and the web UI published is data.all's custom-auth build with the
    provider's values (data.all's frontend_config.py with custom_auth: REACT_APP_CUSTOM_AUTH_*, no Cognito)."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", site=True, variants=CUSTOM_AUTH_ONLY)
    assert _varying(release, "EnableCustomAuth") == {"backend", "lambdas"}
    register_sandbox_images(aws, release, lambda _: None)
    options = {"OnDelete": "Destroy", "EnableCustomAuth": "true", **IDP}

    refused_run = deploy(aws, release, {**options, "CustomAuthScopes": ""})

    assert refused_run.result["status"] == "REFUSED", refused_run.result
    execution = aws.client("stepfunctions").describe_execution(executionArn=refused_run.result["execution_arn"])
    refusal = refused(execution)
    assert refusal is not None and "EnableCustomAuth needs every one of" in refusal["reason"], refusal
    assert refused_run.reader.ledger.stages() == {}

    installed = deploy(aws, release, options)

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    stages = set(installed.reader.ledger.stages())
    assert "lambdas" in stages and not stages & {"cognito", "frontend-cognito-config"}
    assert aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] == []
    functions = aws.client("lambda").list_functions()["Functions"]
    variables = {f["FunctionName"]: f.get("Environment", {}).get("Variables", {}) for f in functions}
    (authorizer,) = [v for v in variables.values() if "custom_auth_url" in v]
    assert {k: authorizer[k] for k in ("custom_auth_provider", "custom_auth_url", "custom_auth_client")} == {
        "custom_auth_provider": "Okta",
        "custom_auth_url": "https://example.okta.com/oauth2/default",
        "custom_auth_client": "0oa1b2c3d4e5f6g7h8i9",
    }
    assert (authorizer["user_id"], authorizer["email"]) == ("sub", "email")
    (api,) = [v for name, v in variables.items() if name.endswith("graphql")]
    assert api["custom_auth"] == "Okta"
    step = installed.reader.ledger.steps(installed.result["execution_arn"].rsplit(":", 1)[1])["site"]
    s3 = Aws(region=step.site_region or aws.region, endpoint_url=aws.endpoint_url).client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=step.site_bucket)["Contents"]]
    (main,) = [k for k in keys if re.fullmatch(r"static/js/main\.[0-9a-f]+\.js", k)]
    script = s3.get_object(Bucket=step.site_bucket, Key=main)["Body"].read().decode()
    assert 'authority:"https://example.okta.com/oauth2/default"' in script
    assert 'client_id:"0oa1b2c3d4e5f6g7h8i9"' in script and 'redirect_uri:"https://dataall.example.com"' in script
    assert 'response_type:"code",scope:"openid email profile"' in script
    assert 'REACT_APP_CUSTOM_AUTH_EMAIL_CLAIM_MAPPING:"email"' in script and "__DATAALL_" not in script
    assert "amazoncognito.com" not in script


def _operators_vpc(aws: Aws) -> dict[str, Any]:
    """A VPC as an operator's network team gives one: two private subnets in two zones routing to a NAT gateway
    (one route table each), a public subnet routing to an internet gateway."""
    ec2 = aws.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.50.100.0/24", AvailabilityZone=f"{HOME}a")["Subnet"]
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    ec2.associate_route_table(RouteTableId=table, SubnetId=public["SubnetId"])
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public["SubnetId"], AllocationId=address)["NatGateway"]["NatGatewayId"]
    private, tables = [], []
    for n, zone in enumerate("ab"):
        made = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.50.{n}.0/24", AvailabilityZone=f"{HOME}{zone}")
        routes = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=routes, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.associate_route_table(RouteTableId=routes, SubnetId=made["Subnet"]["SubnetId"])
        private.append(made["Subnet"]["SubnetId"])
        tables.append(routes)
    return {"vpc": vpc_id, "private": private, "tables": tables, "public": public["SubnetId"]}


def test_data_all_in_the_operators_vpc_makes_no_vpc_puts_its_endpoints_and_functions_there_and_leaves_it(
    sandbox: Any, data_all_pace: None
) -> None:
    """VpcId (data.all's vpc_id): the vpc stage makes no VPC, subnet, NAT gateway nor flow log; data.all's
    endpoints, its functions, its database's subnet group and its search domain are in the operator's VPC and
    private subnets, data.all's SSM parameters name them; VpcRestrictedNacl with it, and a VPC of another shape, are
    refused by name before anything changes; the uninstall leaves the operator's VPC."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0")
    register_sandbox_images(aws, release, lambda _: None)
    operators = _operators_vpc(aws)
    ec2 = aws.client("ec2")

    installed = deploy(aws, release, {"OnDelete": "Destroy", rules.VPC_ID: operators["vpc"]})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    template = release.template("vpc")
    assert _resources(aws, "vpc") == {
        lid: (r["Type"], "CREATE_COMPLETE")
        for lid, r in template["Resources"].items()
        if r.get("Condition") not in (rules.VPC_NEW, rules.VPC_RESTRICTED_NACL_ON, rules.VPC_NEW_ENDPOINTS_MADE)
    }  # no VPC, subnet, route table, NAT gateway, flow log nor NACL
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == [operators["vpc"]]
    endpoints = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    assert len(endpoints) == 29 and {e["VpcId"] for e in endpoints} == {operators["vpc"]}
    interface = [e for e in endpoints if e["VpcEndpointType"] == "Interface"]
    assert all(sorted(e["SubnetIds"]) == sorted(operators["private"]) for e in interface)
    (gateway,) = [e for e in endpoints if e["VpcEndpointType"] == "Gateway"]
    assert sorted(gateway["RouteTableIds"]) == sorted(operators["tables"])
    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name="/dataall/test/vpc/vpc_id")["Parameter"]["Value"] == operators["vpc"]
    assert ssm.get_parameter(Name="/dataall/test/vpc/private_subnets")["Parameter"]["Value"] == ",".join(
        operators["private"]
    )
    assert ssm.get_parameter(Name="/dataall/test/vpc/public_subnets")["Parameter"]["Value"] == operators["public"]
    functions = aws.client("lambda").list_functions()["Functions"]
    in_vpc = [f for f in functions if (f.get("VpcConfig") or {}).get("SubnetIds")]
    assert in_vpc and all(sorted(f["VpcConfig"]["SubnetIds"]) == sorted(operators["private"]) for f in in_vpc)
    # (moto's Lambda answers a fixed VpcConfig.VpcId, vpc-123abc: the subnets and groups say where they are)
    (subnet_group,) = aws.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]
    assert subnet_group["VpcId"] == operators["vpc"]
    assert sorted(s["SubnetIdentifier"] for s in subnet_group["Subnets"]) == sorted(operators["private"])
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["dataall-test-*"]}])
    assert {g["VpcId"] for g in groups["SecurityGroups"]} == {operators["vpc"]}
    installed_at = time.monotonic()

    def refusal_of(document: dict[str, Any]) -> dict[str, Any]:
        refused_run = run(aws, installed, {"action": "redeploy", **document})
        execution = aws.client("stepfunctions").describe_execution(executionArn=refused_run["execution_arn"])
        refusal = refused(execution)
        assert refusal is not None and refusal["code"] == "InvalidOptions", refusal
        assert _changed(installed, refused_run, release) == set()
        return refusal

    with_nacl = refusal_of({"options": {rules.VPC_RESTRICTED_NACL: True}})
    assert "VpcRestrictedNacl" in with_nacl["reason"] and "VpcId" in with_nacl["reason"], with_nacl
    third = ec2.create_subnet(VpcId=operators["vpc"], CidrBlock="10.50.2.0/24", AvailabilityZone=f"{HOME}c")
    ec2.associate_route_table(RouteTableId=operators["tables"][0], SubnetId=third["Subnet"]["SubnetId"])
    reshaped = refusal_of({})
    assert reshaped["field"] == "options.VpcId" and "has 3 private subnets" in reshaped["reason"], reshaped
    assert "the release takes 2" in reshaped["reason"]

    aws.client("cloudformation").delete_stack(StackName=INSTALLATION.stack_name)
    assert settle(aws, INSTALLATION.stack_name, timeout=600) == "DELETE_COMPLETE"
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == [operators["vpc"]]
    # data.all's endpoints went with the vpc stage (EC2 lists a deleted endpoint for a while, as `deleted`)
    assert {e["State"].lower() for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]} == {"deleted"}
    print(f"install {installed_at - started:.0f} s, refusals and uninstall {time.monotonic() - installed_at:.0f} s")


def test_data_all_in_the_operators_vpc_with_its_own_endpoints_makes_none_and_its_functions_reach_the_operators_group(
    sandbox: Any, data_all_pace: None
) -> None:
    """VpcEndpointsSecurityGroupId (data.all's vpc_endpoints_sg) with VpcId: data.all makes no VPC endpoint nor
    endpoints' group; its functions' and tasks' groups reach the operator's group (egress tcp 443 to it, ingress tcp
    1024-65535 from it) and add no rule to it; a redeploy giving data.all's own endpoints back is refused by name
    before anything changes; the uninstall leaves the operator's group."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0")
    register_sandbox_images(aws, release, lambda _: None)
    operators = _operators_vpc(aws)
    ec2 = aws.client("ec2")
    group = ec2.create_security_group(
        GroupName="operators-endpoints", Description="the VPC's own endpoints", VpcId=operators["vpc"]
    )["GroupId"]
    options = {rules.VPC_ID: operators["vpc"], rules.VPC_ENDPOINTS_SG: group}

    installed = deploy(aws, release, {"OnDelete": "Destroy", **options})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    left_out = (rules.VPC_NEW, rules.VPC_RESTRICTED_NACL_ON, rules.VPC_ENDPOINTS_MADE, rules.VPC_NEW_ENDPOINTS_MADE)
    assert _resources(aws, "vpc") == {
        lid: (r["Type"], "CREATE_COMPLETE")
        for lid, r in release.template("vpc")["Resources"].items()
        if r.get("Condition") not in left_out
    }  # SSM parameters and CDK's metadata alone
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["dataall-test-*"]}])
    assert "dataall-test-vpce-sg" not in {g["GroupName"] for g in groups["SecurityGroups"]}

    def reaching(permissions: list[dict[str, Any]]) -> set[tuple[int, int]]:
        return {
            (p["FromPort"], p["ToPort"])
            for p in permissions
            if any(pair.get("GroupId") == group for pair in p.get("UserIdGroupPairs") or [])
        }

    reaching_groups = {
        g["GroupName"]: (reaching(g["IpPermissionsEgress"]), reaching(g["IpPermissions"]))
        for g in groups["SecurityGroups"]
        if reaching(g["IpPermissionsEgress"])
    }
    # the API's, worker's and search proxy's, the two ECS tasks', the migration function's
    assert len(reaching_groups) == 6, reaching_groups
    assert all(egress == {(443, 443)} and ingress == {(1024, 65535)} for egress, ingress in reaching_groups.values()), (
        reaching_groups
    )
    (operators_group,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert operators_group["IpPermissions"] == []  # data.all adds no rule to the operator's group
    installed_at = time.monotonic()

    refused_run = run(aws, installed, {"action": "redeploy", "options": {rules.VPC_ENDPOINTS_SG: ""}})
    refusal = refused(aws.client("stepfunctions").describe_execution(executionArn=refused_run["execution_arn"]))
    assert refusal is not None and refusal["code"] == "InvalidOptions", refusal
    assert refusal["field"] == "options.VpcEndpointsSecurityGroupId", refusal
    assert "the VPC's endpoints are chosen at install" in refusal["reason"], refusal
    assert _changed(installed, refused_run, release) == set()

    aws.client("cloudformation").delete_stack(StackName=INSTALLATION.stack_name)
    assert settle(aws, INSTALLATION.stack_name, timeout=600) == "DELETE_COMPLETE"
    assert [g["GroupId"] for g in ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]] == [group]
    print(f"install {installed_at - started:.0f} s, refusal and uninstall {time.monotonic() - installed_at:.0f} s")


def test_data_all_with_an_api_custom_domain_serves_its_api_at_the_name_and_a_redeploy_without_gives_it_back(
    sandbox: Any, data_all_pace: None
) -> None:
    """ApiCustomDomainName, ApiCustomDomainHostedZoneId and ApiCustomDomainCertificateArn (data.all's
    apigw_custom_domain): an incomplete set is refused by name before anything changes; given, the lambdas stage
    makes the API's edge-optimized domain name with the certificate, its base path mapping of the API's stage, and
    the zone's alias A record to its distribution, disables the execute-api endpoint, and data.all's backendUrl
    parameter and the web UI's API URL are https://<name>/
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html);
    emptied again, a redeploy updates the lambdas stage alone, in place, and the execute-api URL is back."""
    started = time.monotonic()
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    east = Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0")
    register_sandbox_images(aws, release, lambda _: None)
    name = "api.dataall.example.com"
    route53, apigateway, ssm = aws.client("route53"), aws.client("apigateway"), aws.client("ssm")
    zone = str(route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    certificate = issued_certificate(east.client("acm"), name)
    options = {
        rules.API_DOMAIN_NAME: name,
        rules.API_DOMAIN_ZONE: zone,
        rules.API_DOMAIN_CERTIFICATE: certificate,
    }

    refused_run = deploy(
        aws, release, {"OnDelete": "Destroy", rules.API_DOMAIN_NAME: name, rules.API_DOMAIN_ZONE: zone}
    )

    assert refused_run.result["status"] == "REFUSED", refused_run.result
    refusal = refused(aws.client("stepfunctions").describe_execution(executionArn=refused_run.result["execution_arn"]))
    assert refusal is not None and refusal["code"] == "InvalidOptions", refusal
    assert "ApiCustomDomainName needs ApiCustomDomainHostedZoneId" in refusal["reason"]
    assert refused_run.reader.ledger.stages() == {}

    installed = deploy(aws, release, {"OnDelete": "Destroy", **options})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    template = release.template("lambdas")
    # (the functions' rules on data.all's endpoints group are made too: no VpcEndpointsSecurityGroupId given)
    made = {lid: (r["Type"], "CREATE_COMPLETE") for lid, r in template["Resources"].items()
            if r.get("Condition") in (None, rules.API_DOMAIN_ON, rules.VPC_ENDPOINTS_MADE)}  # fmt: skip
    assert _resources(aws, "lambdas") == made  # the domain name, mapping, record, the custom domain's deployment
    domain = apigateway.get_domain_name(domainName=name)
    assert (domain["certificateArn"], domain["endpointConfiguration"]["types"]) == (certificate, ["EDGE"])
    (api,) = apigateway.get_rest_apis()["items"]
    assert api["disableExecuteApiEndpoint"] is True
    (mapping,) = apigateway.get_base_path_mappings(domainName=name)["items"]
    assert (mapping["restApiId"], mapping["stage"]) == (api["id"], "prod")
    (record,) = [
        r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"
    ]
    assert (
        record["Name"] == f"{name}."
        and record["AliasTarget"]["DNSName"].rstrip(".") == domain["distributionDomainName"]
    )
    assert record["AliasTarget"]["HostedZoneId"] == "Z2FDTNDATAQYW2"
    backend_url = "/dataall/test/apiGateway/backendUrl"
    assert ssm.get_parameter(Name=backend_url)["Parameter"]["Value"] == f"https://{name}/"

    def site_api_url() -> str:
        """The web UI's API URL, as the site step configures its bundle from the stages' outputs."""
        params = {**release.manifest.resolve_options({**options}), "Region": HOME}
        ledger = installed.reader.ledger

        def output(stage: str, name: str) -> str:
            record = ledger.stage(stage)
            assert record is not None, stage
            return str(record.outputs[name])

        return resolve_parameters(release.manifest.steps["site"], params, output)["REACT_APP_GRAPHQL_API"]

    assert site_api_url() == f"https://{name}/graphql/api"
    stacks = _stack_ids(aws, release)
    installed_at = time.monotonic()

    off = run(aws, installed, {"action": "redeploy", "options": dict.fromkeys(options, "")})

    assert off["status"] == "SUCCEEDED", off["error"]
    assert _changed(installed, off, release) == {"lambdas"}
    assert _stack_ids(aws, release) == stacks  # updated in place
    assert apigateway.get_domain_names()["items"] == []
    assert [
        r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"
    ] == []
    (kept,) = apigateway.get_rest_apis()["items"]
    assert kept["id"] == api["id"] and kept["disableExecuteApiEndpoint"] is False
    url = f"https://{api['id']}.execute-api.{HOME}.amazonaws.com/prod/"
    assert ssm.get_parameter(Name=backend_url)["Parameter"]["Value"] == url
    assert site_api_url() == url + "graphql/api"
    print(f"install {installed_at - started:.0f} s, redeploy without it {time.monotonic() - installed_at:.0f} s")


#: A release offering data.all's private web UI: the custom domain it needs, and InternetFacing (two syntheses).
PRIVATE_ONLY = (rules.CUSTOM_DOMAIN_ENABLED, "InternetFacing")


def _private(aws: Aws) -> tuple[str, str, dict[str, str]]:
    """A public hosted zone of the account and an issued certificate of its name in the installation's region
    (the internal load balancer's HTTPS listener's), and the options installing a private data.all at the name."""
    name = "dataall.corp.example.com"
    made = aws.client("route53").create_hosted_zone(Name=name, CallerReference=name)
    zone = str(made["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    options = {"OnDelete": "Destroy", "EnableCustomDomain": "true", "CustomDomainName": name,
               "CustomDomainHostedZoneId": zone, "InternetFacing": "false",
               "CustomDomainCertificateArn": issued_certificate(aws.client("acm"), name)}  # fmt: skip
    return name, zone, options


def test_a_private_data_all_serves_the_installations_web_ui_from_its_internal_load_balancer_and_a_private_api(
    sandbox: Any, data_all_pace: None
) -> None:
    """InternetFacing=false (data.all's internet_facing): its albfront stage in place of CloudFront: an internal
    Application Load Balancer at the custom domain (the zone's alias record) in front of an ECS service whose task
    runs the installation's frontend image, which the installer's custom resource made from the release's image
    and web UI with the installation's API URL and Cognito ids (data.all's pipeline builds it per installation);
    the API private behind an execute-api endpoint (API Gateway developer guide, "Private REST APIs"). A redeploy
    changes nothing."""
    from lambdas.site.image import RESOURCE_TYPE
    from sandbox.image_files import image_file

    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", site=True, variants=PRIVATE_ONLY)
    register_sandbox_images(aws, release, lambda _: None)
    route53 = aws.client("route53")
    name, zone, options = _private(aws)
    unreachable = deploy(aws, release, {**options, "CustomDomainCertificateArn": ""})
    assert unreachable.result["status"] == "REFUSED", unreachable.result
    why = refused(aws.client("stepfunctions").describe_execution(executionArn=unreachable.result["execution_arn"]))
    assert why is not None and "InternetFacing=false needs CustomDomainCertificateArn" in why["reason"], why
    assert unreachable.reader.ledger.stages() == {}

    installed = deploy(aws, release, options)

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    stages = installed.reader.ledger.stages()
    assert {"albfront", "albfront-cognito-config"} <= set(stages) and not {
        "cloudfront",
        "frontend-cognito-config",
    } & set(stages)
    east = Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint).client("cloudformation")
    assert east.describe_stacks()["Stacks"] == []  # nothing in us-east-1
    elbv2 = aws.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    assert balancer["Scheme"] == "internal" and balancer["Type"] == "application"
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)  # what its security groups open
    assert [c["CertificateArn"] for c in listener["Certificates"]] == [options["CustomDomainCertificateArn"]]
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    (alias,) = [r for r in records if r["Type"] == "A"]
    assert alias["AliasTarget"]["DNSName"].rstrip(".").lower() == f"dualstack.{balancer['DNSName']}".lower()
    ecs = aws.client("ecs")
    (service,) = ecs.describe_services(cluster="dataall-test-cluster", services=["frontend-test"])["services"]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (image,) = [c["image"] for c in task["containerDefinitions"]]
    repository, digest = image.split("/", 1)[1].split("@")
    api = aws.client("apigateway")
    (rest_api,) = api.get_rest_apis()["items"]
    assert rest_api["endpointConfiguration"]["types"] == ["PRIVATE"]
    (endpoint,) = rest_api["endpointConfiguration"]["vpcEndpointIds"]
    (vpce,) = aws.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"]
    assert vpce["ServiceName"] == f"com.amazonaws.{HOME}.execute-api" and vpce["PrivateDnsEnabled"]
    # the task's image holds the web UI with this installation's values, at data.all's nginx root
    files = [f for f in json.loads(json.dumps(release.manifest.files)) if f.startswith("assets/")]
    assert files and RESOURCE_TYPE in (release.path / "blueprints/albfront.template.json").read_text()
    url = aws.client("ssm").get_parameter(Name="/dataall/test/apiGateway/backendUrl")["Parameter"]["Value"]
    index = image_file(HOME, repository, digest, "usr/share/nginx/html/index.html") or b""
    scripts = re.findall(rb'src="/(static/js/main\.[0-9a-f]+\.js)"', index)
    assert scripts, index[:500]
    main = image_file(HOME, repository, digest, "usr/share/nginx/html/" + scripts[0].decode()) or b""
    assert f"{url}graphql/api".encode() in main and b"__DATAALL_" not in main
    assert f"https://{name}".encode() in main
    assert _callback_urls(aws) == [f"https://{name}"]  # data.all's FrontendCognitoConfig of its albfront stack

    again = run(aws, installed, {"action": "redeploy"})
    public = run(aws, installed, {"action": "redeploy", "options": {"InternetFacing": True}})

    assert again["status"] == "SUCCEEDED", again["error"]
    assert _changed(installed, again, release) == set()
    assert public["status"] == "REFUSED", public  # chosen at install: the albfront stages stay, nothing changed
    refusal = refused(aws.client("stepfunctions").describe_execution(executionArn=public["execution_arn"]))
    assert refusal is not None and refusal["field"] == "options.InternetFacing", refusal
    assert set(installed.reader.ledger.stages()) == set(stages)


def test_a_private_data_all_with_the_operators_api_endpoint_and_ip_ranges(sandbox: Any, data_all_pace: None) -> None:
    """ApiVpcEndpointId (data.all's apig_vpce) with InternetFacing=false: the operator's execute-api interface endpoint
    (here in a VPC of its own: data.all's VPC is made by the install) is the private API's, its endpoint configuration
    and resource policy naming it, and data.all makes no endpoint nor its security group. LoadBalancerAllowedIpRanges
    (data.all's ip_ranges): the internal load balancer's group and the web UI service's admit each range on tcp 443
    beside the VPC's CIDR; other ranges update the albfront stage alone, in place. The API's endpoint is chosen at
    install: a redeploy back to data.all's own endpoint is refused, nothing changed."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", site=True, variants=PRIVATE_ONLY)
    register_sandbox_images(aws, release, lambda _: None)
    ec2 = aws.client("ec2")
    network = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    service = f"com.amazonaws.{HOME}.execute-api"
    made = ec2.create_vpc_endpoint(VpcId=network, ServiceName=service, VpcEndpointType="Interface")["VpcEndpoint"]
    endpoint = made["VpcEndpointId"]
    ranges = "10.10.0.0/16,192.168.4.0/24"
    *_, private = _private(aws)
    options = {**private, rules.API_VPC_ENDPOINT: endpoint, rules.LOAD_BALANCER_IP_RANGES: ranges}

    def admitted() -> list[list[str]]:
        """The CIDRs each albfront group (the service's, the load balancer's) admits on tcp 443."""
        groups = ec2.describe_security_groups()["SecurityGroups"]
        albfront = [g for g in groups if g["GroupName"] == "dataall-test-albfront-service-sg"]
        albfront += [g for g in groups if "FrontEndServicedevLB" in g["Description"]]
        return [
            sorted(r["CidrIp"] for p in g["IpPermissions"] if p.get("FromPort") == 443 for r in p["IpRanges"])
            for g in albfront
        ]

    installed = deploy(aws, release, options)

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    executes = ec2.describe_vpc_endpoints(Filters=[{"Name": "service-name", "Values": [service]}])["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in executes if e["State"] != "deleted"] == [endpoint]  # data.all made none
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert not [g for g in groups if "APIVpcEndpoint" in g]
    (rest_api,) = aws.client("apigateway").get_rest_apis()["items"]
    assert rest_api["endpointConfiguration"] == {"types": ["PRIVATE"], "vpcEndpointIds": [endpoint]}
    assert endpoint in rest_api["policy"] and set(re.findall(r"vpce-[0-9a-f]+", rest_api["policy"])) == {endpoint}
    vpc_cidr = aws.client("ssm").get_parameter(Name="/dataall/test/vpc/vpc_id")  # data.all's own VPC's CIDR
    (cidr,) = [v["CidrBlock"] for v in ec2.describe_vpcs(VpcIds=[vpc_cidr["Parameter"]["Value"]])["Vpcs"]]
    assert admitted() == [sorted([*ranges.split(","), cidr])] * 2
    chosen = {key: value for key, value in options.items() if key != "OnDelete"}  # the release's options
    stacks = _stack_ids(aws, release, chosen)

    other = run(aws, installed, {"action": "redeploy", "options": {rules.LOAD_BALANCER_IP_RANGES: "172.20.0.0/16"}})
    own = run(aws, installed, {"action": "redeploy", "options": {rules.API_VPC_ENDPOINT: ""}})

    assert other["status"] == "SUCCEEDED", other["error"]
    assert _changed(installed, other, release) == {"albfront"}
    assert _stack_ids(aws, release, chosen) == stacks  # updated in place
    assert admitted() == [sorted(["172.20.0.0/16", cidr])] * 2
    assert own["status"] == "REFUSED", own  # chosen at install: nothing changed
    refusal = refused(aws.client("stepfunctions").describe_execution(executionArn=own["execution_arn"]))
    assert refusal is not None and refusal["field"] == f"options.{rules.API_VPC_ENDPOINT}", refusal
    (kept,) = aws.client("apigateway").get_rest_apis()["items"]
    assert kept["endpointConfiguration"]["vpcEndpointIds"] == [endpoint]


def test_a_private_data_all_upgrades_its_frontend_image_and_a_failed_upgrade_puts_the_one_before_back(
    sandbox: Any, data_all_pace: None
) -> None:
    """A private data.all (InternetFacing=false) installed at 2.8.0 runs the installation's image of 2.8.0's
    frontend; an upgrade to 2.9.0 failing in its albfront stage rolls every stage back, the service to the image
    before (the rollback's update of the custom resource answers the same image: the same base and files make the
    same digest); the upgrade again runs 2.9.0's; the uninstall leaves no stack. (Releases without their web UI:
    the resource answers the release's image itself; the install test checks the web UI in it.)"""
    from tests.sandbox.test_ways_in import stack_names

    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    older = cached_dataall_release("2.8.0", variants=PRIVATE_ONLY)
    newer = cached_dataall_release("2.9.0", variants=PRIVATE_ONLY)
    for release in (older, newer):
        register_sandbox_images(aws, release, lambda _: None)
    *_, options = _private(aws)
    ecs = aws.client("ecs")

    def frontend() -> tuple[str, str]:
        """The image the web UI's service runs, and the tag ECR holds it under."""
        (service,) = ecs.describe_services(cluster="dataall-test-cluster", services=["frontend-test"])["services"]
        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        (image,) = [c["image"] for c in task["containerDefinitions"]]
        repository, digest = image.split("/", 1)[1].split("@")
        (held,) = aws.client("ecr").describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
            "imageDetails"
        ]
        return image, ",".join(sorted(held.get("imageTags", [])))

    installed = deploy(aws, older, options)
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    before = frontend()
    assert "frontend-2.8.0" in before[1].split(","), before

    sandbox.faults.add("albfront:update")
    failed = deploy(aws, newer, options)
    sandbox.faults.clear()

    assert failed.result["status"] == "FAILED" and failed.result["error"]["stage"] == "albfront", failed.result
    assert frontend() == before
    current = failed.reader.ledger.current_release()
    assert current is not None and current.version == older.version
    assert {record.version for record in failed.reader.ledger.stages().values()} == {older.version}

    upgraded = run(aws, failed, {"action": "upgrade", "version": newer.version})

    assert upgraded["status"] == "SUCCEEDED", upgraded["error"]
    after = frontend()
    assert after[0] != before[0] and "frontend-2.9.0" in after[1].split(","), after
    assert {record.version for record in failed.reader.ledger.stages().values()} == {newer.version}

    aws.client("cloudformation").delete_stack(StackName=INSTALLATION.stack_name)
    assert settle(aws, INSTALLATION.stack_name, timeout=600) == "DELETE_COMPLETE"
    assert stack_names(aws) == set()
