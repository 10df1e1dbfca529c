"""data.all's own release (`dataall-installer build --dataall`), built from its cloud assembly in
`../shared/upstream/dataall` (read, never copied)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from installer.dataall import DROPPED_NESTED, build_dataall_release
from installer.upstream import resolve, shared_upstream
from tests.conftest import cached_dataall_release

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not shared_upstream("2.9.0").is_dir(), reason="../shared/upstream/dataall is not here")


@pytest.fixture(scope="module")
def dataall_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield build_dataall_release(tmp_path_factory.mktemp("dataall"), resolve(None, "2.9.0"), layer=False, migrate=True)


def test_every_nested_stack_of_the_backend_is_a_stage_of_the_release(dataall_release: Any) -> None:
    counts = {
        step.name: len(dataall_release.template(step.name)["Resources"]) for step in dataall_release.manifest.stages()
    }

    assert counts == {
        "backend": 3, "vpc": 96, "params": 13, "s3": 20, "cognito": 33, "sqs": 9, "lambdas": 94, "ecs": 99,
        "aurora": 36, "migrations": 14, "dashboards": 30, "opensearch": 30,
        "cloudfront": 20, "frontend-cognito-config": 11,
    }  # fmt: skip
    regions = {step.name: step.region for step in dataall_release.manifest.stages() if step.region}
    assert regions == {"cloudfront": "us-east-1", "frontend-cognito-config": "us-east-1"}
    assert dataall_release.manifest.steps["aurora"].stateful and not dataall_release.manifest.steps["vpc"].stateful
    assert set(dataall_release.manifest.steps["lambdas"].dependencies()) == {"cognito", "sqs", "vpc", "images"}


def test_every_stage_gives_each_parameter_its_template_requires(dataall_release: Any) -> None:
    """A parameter without a `Default` the stage does not give refuses the run at Plan (CloudFormation would
    refuse the change set): the build gives each (options, context parameters such as the names rule's
    `ResourcePrefix` and `EnvName`, other stages' outputs)."""
    missing = {
        step.name: sorted(
            name
            for name, spec in (dataall_release.template(step.name).get("Parameters") or {}).items()
            if "Default" not in spec and name not in step.parameters
        )
        for step in dataall_release.manifest.stages()
    }
    assert {name: needed for name, needed in missing.items() if needed} == {}
    given = {name for step in dataall_release.manifest.stages() for name in step.parameters}
    assert {"ResourcePrefix", "EnvName"} <= given


def test_the_import_keeps_data_alls_own_cdk_nag_suppressions(dataall_release: Any) -> None:
    upstream = resolve(None, "2.9.0").assembly
    backend = next(s for s in upstream.stacks() if s.stack_name.endswith("-backend-stack"))
    cloudfront = next(s for s in upstream.stacks() if s.stack_name.endswith("-cloudfront-stack"))
    suppressed = {
        nested.construct_name: nested.template["Metadata"]["cdk_nag"]
        for stack in (backend, cloudfront)
        for nested in stack.nested().values()
        if nested.construct_name not in DROPPED_NESTED and "cdk_nag" in nested.template.get("Metadata", {})
    }
    kept = {
        step.description.rpartition("/")[2]: dataall_release.template(step.name)["Metadata"]["cdk_nag"]
        for step in dataall_release.manifest.stages()
        if step.name != "backend" and "cdk_nag" in dataall_release.template(step.name).get("Metadata", {})
    }

    assert len(suppressed) == 13 and kept == suppressed
    assert dataall_release.template("backend")["Metadata"]["cdk_nag"] == backend.template["Metadata"]["cdk_nag"]


def test_cfn_lint_finds_no_error_in_the_imported_templates(dataall_release: Any) -> None:
    templates = sorted((dataall_release.path / "blueprints").glob("*.json"))

    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *map(str, templates)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip

    # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings (data.all's deprecated Aurora
    # engine version is a warning), 8 informational.
    errors = [line for line in result.stdout.splitlines() if re.search(r":\d+:\d+:\d+:\d+:E\d+:", line)]
    assert result.returncode & 2 == 0 and not errors, result.stdout


def test_the_ecs_stage_gives_data_alls_task_groups_s3s_prefix_list_of_the_installations_region(
    dataall_release: Any,
) -> None:
    ecs = dataall_release.template("ecs")
    egress = [
        r["Properties"]
        for r in ecs["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupEgress" and "DestinationPrefixListId" in r["Properties"]
    ]

    assert sorted(e["GroupId"]["Fn::GetAtt"][0] for e in egress) == [
        "ScheduledTasksSGdev5F5C6519", "ShareManagerSGdevE0EEE3CD"
    ]  # fmt: skip
    assert all(e["DestinationPrefixListId"] == {"Ref": "S3PrefixListId"} for e in egress)
    assert dataall_release.manifest.steps["ecs"].parameters["S3PrefixListId"] == "${param:S3PrefixListId}"
    readers = [s.name for s in dataall_release.manifest.stages() if "S3PrefixListId" in s.parameters]
    assert readers == ["ecs"]


def test_the_vpc_stage_takes_the_restricted_nacl_option_which_the_quick_create_form_offers(
    dataall_release: Any,
) -> None:
    vpc = dataall_release.template("vpc")
    conditioned = sorted(
        r["Type"] for r in vpc["Resources"].values() if r.get("Condition") == "DataallVpcRestrictedNacl"
    )

    assert (
        conditioned
        == ["AWS::EC2::NetworkAcl"] + ["AWS::EC2::NetworkAclEntry"] * 5 + ["AWS::EC2::SubnetNetworkAclAssociation"] * 4
    )
    assert dataall_release.manifest.steps["vpc"].parameters["VpcRestrictedNacl"] == "${param:VpcRestrictedNacl}"
    readers = [s.name for s in dataall_release.manifest.stages() if "VpcRestrictedNacl" in s.parameters]
    assert readers == ["vpc"]
    form = dataall_release.bootstrap_template
    parameter = form["Parameters"]["VpcRestrictedNacl"]
    assert (parameter["AllowedValues"], parameter["Default"]) == (["true", "false"], "false")
    groups = form["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert any(g["Label"]["default"] == "data.all" and "VpcRestrictedNacl" in g["Parameters"] for g in groups)


def test_the_vpc_stage_takes_the_existing_vpc_option_which_the_quick_create_form_offers_and_plans_values(
    dataall_release: Any,
) -> None:
    vpc = dataall_release.template("vpc")
    made = sorted({r["Type"] for r in vpc["Resources"].values() if r.get("Condition") == "DataallNewVpc"})

    assert made == [
        "AWS::EC2::EIP", "AWS::EC2::FlowLog", "AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::Route",
        "AWS::EC2::RouteTable", "AWS::EC2::Subnet",
        "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::VPC", "AWS::EC2::VPCGatewayAttachment", "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
    ]  # fmt: skip
    assert vpc["Conditions"]["DataallVpcRestrictedNacl"]["Fn::And"][1] == {"Condition": "DataallNewVpc"}
    parameters = dataall_release.manifest.steps["vpc"].parameters
    options = ("VpcRestrictedNacl", "VpcEndpointsSecurityGroupId")
    assert {k: v for k, v in parameters.items() if k.startswith("Vpc") and k not in options} == {
        name: "${param:" + name + "}"
        for name in ("VpcId", "VpcCidrBlock", "VpcPrivateRouteTableIds", "VpcPublicSubnetIds", "VpcPrivateSubnet1Id",
                     "VpcPrivateSubnet2Id")
    }  # fmt: skip
    readers = [s.name for s in dataall_release.manifest.stages() if "VpcId" in s.parameters]
    assert readers == ["vpc"]
    form = dataall_release.bootstrap_template
    parameter = form["Parameters"]["VpcId"]
    assert (parameter["Default"], parameter["AllowedPattern"]) == ("", "(vpc-[0-9a-f]{8}([0-9a-f]{9})?)?")
    groups = form["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert any(g["Label"]["default"] == "data.all" and "VpcId" in g["Parameters"] for g in groups)
    refusing = [m for _, m in dataall_release.manifest.rules if "VpcId" in m and "VpcRestrictedNacl" in m]
    assert len(refusing) == 1


def test_the_endpoints_group_option_leaves_out_data_alls_endpoints_and_the_rules_on_their_group(
    dataall_release: Any,
) -> None:
    vpc = dataall_release.template("vpc")
    made = sorted(r["Type"] for r in vpc["Resources"].values() if r.get("Condition") == "DataallVpcEndpointsMade")
    both = sorted(r["Type"] for r in vpc["Resources"].values() if r.get("Condition") == "DataallNewVpcEndpointsMade")

    # the 29 endpoints, their group and its one ingress rule; the 27 more CDK gives data.all's own VPC's CIDR
    assert made == ["AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"] + ["AWS::EC2::VPCEndpoint"] * 29
    assert both == ["AWS::EC2::SecurityGroupIngress"] * 27
    readers = [s.name for s in dataall_release.manifest.stages() if "VpcEndpointsSecurityGroupId" in s.parameters]
    assert readers == ["vpc", "lambdas", "ecs", "migrations"]
    for name in readers[1:]:
        template = dataall_release.template(name)
        conditioned = [r for r in template["Resources"].values() if r.get("Condition") == "DataallVpcEndpointsMade"]
        assert conditioned and {r["Type"] for r in conditioned} <= {
            "AWS::EC2::SecurityGroupIngress",
            "AWS::EC2::SecurityGroupEgress",
        }
    form = dataall_release.bootstrap_template
    parameter = form["Parameters"]["VpcEndpointsSecurityGroupId"]
    assert (parameter["Default"], parameter["AllowedPattern"]) == ("", "(sg-[0-9a-f]{8}([0-9a-f]{9})?)?")
    refusing = [m for _, m in dataall_release.manifest.rules if m.startswith("VpcEndpointsSecurityGroupId")]
    assert len(refusing) == 1 and "VpcId" in refusing[0]


def test_the_lambdas_stage_takes_the_api_custom_domain_options_which_the_quick_create_form_offers(
    dataall_release: Any,
) -> None:
    lambdas = dataall_release.template("lambdas")
    conditioned = sorted(
        r["Type"] for r in lambdas["Resources"].values() if r.get("Condition") == "DataallApiCustomDomain"
    )
    names = ("ApiCustomDomainName", "ApiCustomDomainHostedZoneId", "ApiCustomDomainCertificateArn")

    assert conditioned == ["AWS::ApiGateway::BasePathMapping", "AWS::ApiGateway::Deployment",
                           "AWS::ApiGateway::DomainName", "AWS::Route53::RecordSet"]  # fmt: skip
    for name in names:
        assert dataall_release.manifest.steps["lambdas"].reads_param(name)
        assert [s.name for s in dataall_release.manifest.stages() if name in s.parameters] == ["lambdas"]
    site = dataall_release.manifest.steps["site"].parameters
    assert site["REACT_APP_GRAPHQL_API"] == "${stage:lambdas.DataallBackendUrl}graphql/api"
    form = dataall_release.bootstrap_template
    groups = form["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    (group,) = [g for g in groups if g["Label"]["default"] == "data.all"]
    assert set(names) <= set(group["Parameters"])
    assert {form["Parameters"][name]["Default"] for name in names} == {""}
    assert lambdas["Conditions"]["DataallApiCustomDomain"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApiCustomDomainName"}, ""]}]
    }
    messages = [message for _, message in dataall_release.manifest.rules]
    assert any(m.startswith("ApiCustomDomainName needs ApiCustomDomainHostedZoneId") for m in messages)
    assert any(
        m.startswith("ApiCustomDomainHostedZoneId and ApiCustomDomainCertificateArn take effect") for m in messages
    )


def test_the_release_says_nothing_of_the_synthesis_account_or_cdk_bootstrap(dataall_release: Any) -> None:
    for template in (dataall_release.path / "blueprints").glob("*.json"):
        text = template.read_text()
        assert "111111111111" not in text and "cdk-hnb659fds-assets" not in text, template.name
    manifest = json.loads((dataall_release.path / "manifest.json").read_text())
    assert {s["name"] for s in manifest["stages"] if "AssetsBucket" in s["parameters"]} == {
        "params", "s3", "cognito", "lambdas", "opensearch", "migrations", "cloudfront", "frontend-cognito-config",
    }  # fmt: skip
    # the CloudFront stage's templates name no region at all: us-east-1 is its own (AWS::Region), and
    # the backend's is the installer's HomeRegion
    for name in ("cloudfront", "frontend-cognito-config"):
        text = (dataall_release.path / "blueprints" / f"{name}.template.json").read_text()
        assert "us-east-1" not in text and "eu-west-1" not in text, name


def test_the_steps_may_deploy_the_cloudfront_stage_in_us_east_1_and_nowhere_else(dataall_release: Any) -> None:
    statements = {
        statement["Sid"]: statement
        for resource in dataall_release.bootstrap_template["Resources"].values()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid")
        in ("StageStacksElsewhere", "RegionalBuckets", "RegionalObjects", "StageResourceHandlers")
    }
    text = json.dumps(statements["StageStacksElsewhere"]["Resource"])

    assert ":cloudformation:us-east-1:" in text and "*" not in text.replace("-*/*", "")
    assert "us-east-1" in json.dumps(statements["RegionalBuckets"]["Resource"])
    assert set(statements["RegionalBuckets"]["Action"]) == {
        "s3:CreateBucket", "s3:ListBucket", "s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy",
    }  # fmt: skip
    regions = statements["StageResourceHandlers"]["Condition"]["StringEquals"]["aws:RequestedRegion"]
    assert regions[1:] == ["us-east-1"]


def test_data_alls_migration_function_runs_the_release_package_when_the_migrate_action_asks(
    dataall_release: Any,
) -> None:
    """DbMigrations is the `migrations` stage without its trigger (nothing migrates during the
    stack's deploy); its function runs the release's package inside the VPC, with data.all's role,
    security group and envname; the migrate action follows it and the aurora stage."""
    template = dataall_release.template("migrations")
    types = sorted(body["Type"] for body in template["Resources"].values())
    (function,) = [b["Properties"] for b in template["Resources"].values() if b["Type"] == "AWS::Lambda::Function"]
    migrate = dataall_release.manifest.steps["migrate"]

    assert "Custom::Trigger" not in types and types.count("AWS::Lambda::Function") == 1
    assert function["Code"]["S3Key"].startswith("assets/") and "ImageUri" not in function["Code"]
    assert (dataall_release.path / function["Code"]["S3Key"]).is_file()
    assert function["Handler"] == "dataall_installer_migrate.handler.handler"
    assert function["FunctionName"] == {"Fn::Sub": "${ResourcePrefix}-${EnvName}-migrations"}
    assert function["Timeout"] == 840
    assert function["Environment"]["Variables"]["envname"] == {"Ref": "EnvName"} and function["VpcConfig"]["SubnetIds"]
    assert set(migrate.dependencies()) == {"migrations", "aurora"}
    assert migrate.parameters["FunctionName"] == "${stage:migrations.MigrationFunctionName}"
    assert migrate.parameters["ClusterIdentifier"].startswith("${stage:aurora.")


def test_the_migrate_step_may_call_and_snapshot_what_data_alls_templates_name(dataall_release: Any) -> None:
    """data.all names its migration function and its cluster (`<prefix>-<env>-…`, the installation's names by the
    names rule): the bootstrap stack grants the migrate step those, from its own ResourcePrefix and EnvName."""
    statements = [
        statement
        for resource in dataall_release.bootstrap_template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") in ("MigrationFunction", "ClusterSnapshots")
    ]
    text = json.dumps(statements)

    assert {statement["Sid"] for statement in statements} == {"MigrationFunction", "ClusterSnapshots"}
    assert '":function:", {"Fn::Sub": "${ResourcePrefix}-${EnvName}-migrations"}' in text
    assert '":cluster:", {"Fn::Sub": "${ResourcePrefix}-${EnvName}-db-v2"}' in text
    assert "aurora" not in text


def test_the_site_is_published_after_data_alls_whole_cloudfront_stack_and_may_only_empty_its_bucket(
    dataall_release: Any,
) -> None:
    """The site action runs after `frontend-cognito-config` (Cognito's callback URLs pointed at the
    distribution), as data.all's pipeline syncs its site after its CloudFront stack; the function that
    publishes it, and empties its bucket at an uninstall, may list and delete versions only in buckets
    of the site's stage stack, and nothing else of S3; it may read and update RUM app monitors."""
    site = dataall_release.manifest.steps["site"]
    assert set(site.depends_on) == {"cloudfront", "frontend-cognito-config"}
    statements = {
        statement["Sid"]: statement
        for resource in dataall_release.bootstrap_template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid", "").startswith("Site")
    }

    assert set(statements) == {"SiteObjects", "SiteBucket", "SiteInvalidation", "SiteRumMonitor"}
    # data.all's RUM app monitor (EnableCloudWatchRum): read and pointed at the site's domain, nothing more
    assert set(statements["SiteRumMonitor"]["Action"]) == {"rum:GetAppMonitor", "rum:UpdateAppMonitor"}
    assert set(statements["SiteObjects"]["Action"]) == {
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
    }  # fmt: skip
    assert set(statements["SiteBucket"]["Action"]) == {"s3:ListBucket", "s3:ListBucketVersions"}
    for sid, tail in (("SiteObjects", "-cloudfront-*/*"), ("SiteBucket", "-cloudfront-*")):
        assert statements[sid]["Resource"]["Fn::Join"][1][-1] == tail, statements[sid]["Resource"]


def test_data_alls_images_are_pinned_copied_before_the_stages_that_run_them_and_granted_no_further(
    dataall_release: Any,
) -> None:
    """Issue 18 item 5: each image the stages name (repository, tag) is pinned by digest with the
    publisher's registry; the `images` action comes before every stage running one; the copy step may
    pull those repositories from that registry and push their namesakes in the installation's."""
    manifest = dataall_release.manifest
    registry, region = manifest.image_registry
    images = {image.name: image for image in manifest.images}
    statements = {
        statement["Sid"]: statement
        for resource in dataall_release.bootstrap_template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") in ("PullFromPublisher", "PushToInstallation")
    }

    assert set(images) == {"dataall-main-ecr-repository:lambdas-2.9.0", "dataall-main-ecr-repository:cdkproxy-2.9.0"}
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", image.digest or "") for image in images.values())
    assert set(images["dataall-main-ecr-repository:lambdas-2.9.0"].stages) == {"lambdas"}
    assert set(images["dataall-main-ecr-repository:cdkproxy-2.9.0"].stages) == {"ecs"}
    for image in images.values():
        for stage in image.stages:
            assert "images" in manifest.steps[stage].depends_on, stage
    pull = json.dumps(statements["PullFromPublisher"]["Resource"])
    assert f":ecr:{region}:{registry}:repository/dataall-main-ecr-repository" in pull
    assert set(statements["PullFromPublisher"]["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    push = json.dumps(statements["PushToInstallation"]["Resource"])
    assert "repository/dataall-main-ecr-repository" in push and "*" not in push
    assert not any(action.endswith("*") for action in statements["PushToInstallation"]["Action"])


def _service_role_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The CloudFormation service role's statements (its default policy, its managed policies) by Sid."""
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in template["Resources"].values():
        properties = resource["Properties"]
        if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if "CloudFormationServiceRole" not in json.dumps(properties.get("Roles", [])):
            continue
        for statement in properties["PolicyDocument"]["Statement"]:
            found.setdefault(statement["Sid"], []).append(statement)
    return found


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


def _granted_exactly_as_derived(release: Any) -> tuple[set[str], set[str]]:
    """The service role's statements hold exactly what `installer.grants` derives from every template
    file the release holds (its stages, variants and option stages); the actions granted and the types."""
    from installer.grants import stage_grants

    files = sorted((release.path / "blueprints").glob("*.template.json"))
    templates = {path.name: json.loads(path.read_text()) for path in files}
    types = {r["Type"] for t in templates.values() for r in t["Resources"].values()}
    derived = stage_grants(templates)
    statements = _service_role_statements(release.bootstrap_template)

    assert _actions(statements["StageResourceHandlers"]) == set(derived.regional)
    assert _actions(statements["GlobalServices"]) == set(derived.global_actions)
    assert _actions(statements["StageIamUnderPrefix"]) == set(derived.iam)
    assert _actions(statements["ServiceLinkedRoles"]) == set(derived.service_linked_roles)
    assert _actions(statements["IamLists"]) == set(derived.unscoped_iam) == {"iam:ListRoles"}
    for statement in statements["StageResourceHandlers"]:
        assert statement["Resource"] == "*" and "aws:RequestedRegion" in statement["Condition"]["StringEquals"]
    granted = {a for s in statements.values() for a in _actions(s)}
    assert not [a for a in granted if "*" in a]
    return granted, types


def test_the_service_role_may_do_exactly_what_the_release_s_resource_types_handlers_need(dataall_release: Any) -> None:
    """The grants are derived from every template of the release: the registry's handler permissions of
    each resource type, by name, in the stages' regions; nothing of a service no template uses."""
    granted, types = _granted_exactly_as_derived(dataall_release)

    assert {"rds:CreateDBCluster", "es:CreateDomain", "cognito-idp:CreateUserPool"} <= granted
    assert "serverlessrepo:GetApplication" in granted  # Aurora's secret rotation (SAM's nested application)
    assert ("rum:CreateAppMonitor" in granted) == ("AWS::RUM::AppMonitor" in types)
    assert ("synthetics:CreateCanary" in granted) == ("AWS::Synthetics::Canary" in types)
    for service, prefix in (
        ("dynamodb:", "AWS::DynamoDB::"),
        ("states:", "AWS::StepFunctions::"),
        ("scheduler:", "AWS::Scheduler::"),
    ):
        assert bool([a for a in granted if a.startswith(service)]) == any(t.startswith(prefix) for t in types), service


@pytest.mark.slow
@pytest.mark.skipif(not (shared_upstream("2.9.0") / "source").is_dir(), reason="data.all's source is not here")
def test_the_service_role_covers_data_alls_variants_and_option_stages() -> None:
    """With its variants and the stages its options add (RUM's app monitor and identity pool, the
    canaries, their secret's hosted rotation through the Secrets Manager transform, the OpenSearch
    Serverless collection, its policies and VPC endpoint)."""
    from installer.grants import type_permissions

    release = cached_dataall_release("2.9.0", variants=True)

    granted, types = _granted_exactly_as_derived(release)

    assert {"AWS::RUM::AppMonitor", "AWS::Synthetics::Canary", "AWS::Cognito::IdentityPool"} <= types
    assert {"rum:CreateAppMonitor", "synthetics:CreateCanary", "cognito-identity:CreateIdentityPool"} <= granted
    serverless = {
        f"AWS::OpenSearchServerless::{t}" for t in ("Collection", "SecurityPolicy", "AccessPolicy", "VpcEndpoint")
    }
    assert serverless <= types
    assert {"aoss:CreateCollection", "aoss:CreateAccessPolicy", "aoss:CreateVpcEndpoint"} <= granted
    assert "serverlessrepo:CreateCloudFormationTemplate" in granted
    assert not [a for a in granted if a.startswith(("states:", "scheduler:"))]
    # No DynamoDB type: the DynamoDB actions are those the RUM app monitor's handlers list (its items).
    dynamodb = {a for a in granted if a.startswith("dynamodb:")}
    assert dynamodb and dynamodb <= type_permissions("AWS::RUM::AppMonitor") and "dynamodb:CreateTable" not in dynamodb
    assert not [t for t in types if t.startswith("AWS::DynamoDB::")]


def test_the_service_role_names_the_iam_roles_data_all_names_outside_the_installation_prefix(
    dataall_release: Any,
) -> None:
    """data.all names some roles outside the installation's prefix (`dataall-rds-enhanced-monitoring-role-<env>`,
    which no `<prefix>-<env>-*` covers): the service role may manage those by name (of the bootstrap stack's own
    EnvName), and the service-linked role data.all makes for OpenSearch under `aws-service-role/`; its
    `<prefix>-<env>-…` roles are under the prefix."""
    statements = _service_role_statements(dataall_release.bootstrap_template)
    iam_resources = json.dumps(statements["StageIamUnderPrefix"][0]["Resource"])
    linked = json.dumps(statements["ServiceLinkedRoles"][0]["Resource"])

    assert '":role/", {"Fn::Sub": "dataall-rds-enhanced-monitoring-role-${EnvName}"}' in iam_resources
    assert "dataall-dev" not in iam_resources and "ecs-tasks-role" not in iam_resources
    assert '{"Ref": "ResourcePrefix"}' in iam_resources and ":instance-profile/" in iam_resources
    assert linked.endswith(':role/aws-service-role/*"]]}')


def test_each_managed_policy_of_the_service_role_stays_under_iam_s_size_limit(dataall_release: Any) -> None:
    policies = [
        r["Properties"]["PolicyDocument"]
        for r in dataall_release.bootstrap_template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]

    assert 1 < len(policies) <= 10
    # 6,144 characters without whitespace; the template's intrinsics are longer than the values they resolve to.
    assert all(len(json.dumps(p, separators=(",", ":"))) < 6144 for p in policies)
