"""The CloudFormation service role's grants, derived from a release's templates (`installer.grants`).

AWS: each resource type's schema lists, per handler, "the permissions required to perform this
handler" (`handlers.<create|read|update|delete|list>.permissions`,
https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html);
CloudFormation calls them with the stack's service role.
"""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap_stack import StageGrants
from installer.build import BuildError
from installer.grants import WITHOUT_HANDLERS, handler_permissions, iam_defines, stage_grants, type_permissions


def template(*resources: tuple[str, dict[str, Any]], transform: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Resources": {
            f"R{n}": {"Type": kind, "Properties": properties} for n, (kind, properties) in enumerate(resources)
        }
    }
    if transform:
        document["Transform"] = transform
    return document


def every_action(grants: StageGrants) -> set[str]:
    return {
        *grants.regional,
        *grants.global_actions,
        *grants.iam,
        *grants.service_linked_roles,
        *grants.unscoped_iam,
    }


def test_cfn_lint_s_schema_manager_gives_a_type_s_handler_permissions() -> None:
    """Pins the cfn-lint API the derivation reads (cfnlint.schema.PROVIDER_SCHEMA_MANAGER, pinned 1.58.0)."""
    rum = handler_permissions("AWS::RUM::AppMonitor")
    table = handler_permissions("AWS::DynamoDB::Table")

    assert rum is not None and {"rum:CreateAppMonitor", "rum:DeleteAppMonitor", "rum:GetAppMonitor"} <= rum
    assert table is not None and {"dynamodb:CreateTable", "dynamodb:DeleteTable"} <= table
    assert handler_permissions("AWS::CDK::Metadata") is None
    assert handler_permissions("AWS::Made::Up") is None


def test_the_grants_are_the_union_of_the_templates_types_handler_permissions_and_nothing_else() -> None:
    grants = stage_grants(
        {
            "a.template.json": template(("AWS::SQS::Queue", {})),
            "a.variant.template.json": template(("AWS::SNS::Topic", {})),
        }
    )

    assert every_action(grants) == type_permissions("AWS::SQS::Queue") | type_permissions("AWS::SNS::Topic")
    assert "sqs:CreateQueue" in grants.regional and "sns:CreateTopic" in grants.regional
    assert not [a for a in every_action(grants) if a.startswith(("dynamodb:", "rum:", "states:"))]


def test_a_type_without_handler_permissions_or_a_row_fails_the_build_naming_it() -> None:
    with pytest.raises(BuildError, match=r"b\.template\.json Hook: resource type AWS::CloudFormation::Macro"):
        stage_grants({"b.template.json": {"Resources": {"Hook": {"Type": "AWS::CloudFormation::Macro"}}}})
    with pytest.raises(BuildError, match="AWS::Made::Up"):
        stage_grants({"b.template.json": template(("AWS::Made::Up", {}))})


def test_types_without_handlers_take_their_row() -> None:
    grants = stage_grants(
        {
            "c.template.json": template(("AWS::CDK::Metadata", {}), ("Custom::Anything", {"ServiceToken": "arn"})),
        }
    )

    assert set(WITHOUT_HANDLERS["AWS::CDK::Metadata"].actions) == set()
    assert every_action(grants) == {"lambda:InvokeFunction"}
    application = type_permissions("AWS::Serverless::Application")
    assert {"serverlessrepo:GetApplication", "cloudformation:CreateStack", "lambda:CreateFunction"} <= application


def test_an_unknown_transform_fails_the_build() -> None:
    stage_grants({"d.template.json": template(("AWS::SQS::Queue", {}), transform="AWS::Serverless-2016-10-31")})
    with pytest.raises(BuildError, match="transform AWS::Include"):
        stage_grants({"d.template.json": template(("AWS::SQS::Queue", {}), transform="AWS::Include")})
    # A hosted rotation: the Serverless Application Repository's rotation application, a nested stack.
    hosted = stage_grants(
        {"d.template.json": template(("AWS::SQS::Queue", {}), transform="AWS::SecretsManager-2020-07-23")}
    )
    assert {"serverlessrepo:CreateCloudFormationTemplate", "cloudformation:CreateStack"} <= set(hosted.regional)


def test_iam_follows_the_names_the_templates_give() -> None:
    prefixed = {"Fn::Join": ["-", [{"Ref": "ResourcePrefix"}, {"Ref": "EnvName"}, "site"]]}
    grants = stage_grants(
        {
            "e.template.json": template(
                ("AWS::IAM::Role", {"RoleName": "dataall-rds-enhanced-monitoring-role-dev"}),
                ("AWS::IAM::Role", {"RoleName": prefixed}),
                ("AWS::IAM::Role", {"RoleName": {"Fn::Sub": "${ResourcePrefix}-${EnvName}-sub"}}),
                ("AWS::IAM::Role", {}),
                ("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "named-policy"}),
                ("AWS::IAM::ServiceLinkedRole", {"AWSServiceName": "opensearchservice.amazonaws.com"}),
            )
        }
    )

    assert grants.iam_names == ("policy/named-policy", "role/dataall-rds-enhanced-monitoring-role-dev")
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:CreatePolicy"} <= set(grants.iam)
    assert {"iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:GetRole"} <= set(
        grants.service_linked_roles
    )
    assert "iam:CreateServiceLinkedRole" not in grants.iam
    # IAM's actions without a resource type go on "*", and only those.
    assert "iam:ListRoles" in grants.unscoped_iam and "iam:ListRoles" not in grants.iam
    assert not set(grants.unscoped_iam) & {"iam:CreateRole", "iam:PassRole", "iam:DeleteRole"}


@pytest.mark.parametrize(
    ("properties", "refused"),
    [
        ({"RoleName": {"Fn::Join": ["-", ["other", "name"]]}}, "RoleName is computed"),
        ({"RoleName": "named", "Path": "/service/"}, "Path '/service/'"),
    ],
)
def test_an_iam_name_the_grants_cannot_follow_fails_the_build(properties: dict[str, Any], refused: str) -> None:
    with pytest.raises(BuildError, match=refused):
        stage_grants({"f.template.json": template(("AWS::IAM::Role", properties))})


def test_what_no_policy_can_grant_is_left_out_and_one_spelling_kept() -> None:
    log_group = type_permissions("AWS::Logs::LogGroup")
    grants = stage_grants({"g.template.json": template(("AWS::CloudFront::Distribution", {}))})

    # The registry lists S3's REST operation `s3:REST.PUT.OBJECT` for log groups: not an IAM action.
    assert "logs:CreateLogGroup" in log_group and not [a for a in log_group if "." in a]
    assert [a.lower() for a in grants.global_actions].count("cloudfront:updatedistribution") == 1
    # An API operation another action authorizes is no IAM action (S3's DeleteBucketCors: s3:PutBucketCORS).
    bucket = type_permissions("AWS::S3::Bucket")
    assert "s3:PutBucketCORS" in bucket and "s3:DeleteBucketCors" not in bucket
    assert not iam_defines("cloudfront:CreateDistributionWithTags") and iam_defines("CLOUDFRONT:createdistribution")
    assert not [a for a in grants.regional if a.startswith("cloudfront:")]


def test_the_regional_actions_split_into_policies_under_iam_s_size_limit() -> None:
    grants = StageGrants(regional=tuple(f"service:Action{n:04d}" for n in range(1000)))

    chunks = grants.chunks(5000)

    assert [a for chunk in chunks for a in chunk] == list(grants.regional)
    assert all(sum(len(a) + 3 for a in chunk) <= 5000 for chunk in chunks) and len(chunks) == 5


def test_the_serverless_search_stage_s_types_are_granted_what_their_handlers_document() -> None:
    """data.all's opensearch-serverless stage (EnableOpenSearchServerless): the registry documents the handler
    permissions of its four types (the collection's handlers create OpenSearch Serverless's service-linked role;
    the VPC endpoint's make EC2 endpoints and a Route 53 private zone)."""
    types = [
        f"AWS::OpenSearchServerless::{name}" for name in ("Collection", "SecurityPolicy", "AccessPolicy", "VpcEndpoint")
    ]
    grants = stage_grants({"blueprints/opensearch-serverless.template.json": template(*((t, {}) for t in types))})

    for kind in types:
        assert handler_permissions(kind), kind
    assert {"aoss:CreateCollection", "aoss:BatchGetCollection", "aoss:DeleteCollection", "aoss:CreateSecurityPolicy",
            "aoss:DeleteSecurityPolicy", "aoss:CreateAccessPolicy", "aoss:DeleteAccessPolicy",
            "aoss:CreateVpcEndpoint", "aoss:DeleteVpcEndpoint", "ec2:CreateVpcEndpoint"} <= set(
                grants.regional)  # fmt: skip
    assert "route53:CreateHostedZone" in every_action(grants) and grants.service_linked_roles
