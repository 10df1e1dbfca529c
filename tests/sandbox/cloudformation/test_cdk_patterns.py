"""What real CDK output needs from the sandbox's CloudFormation, each as AWS does it.

Shapes and types found in data.all's synthesized cloud assembly
(`../shared/upstream/dataall/*/cdk.out`): tags in every documented shape, security group
rules AWS accepts twice, CloudTrail trails, CORS `OPTIONS` methods on a `MOCK` integration,
and the SAM transform's `AWS::Serverless::Application`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle
from tests.sandbox.cloudformation.test_providers import deploy, outputs

REFERENCE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference"
TAGS = [{"Key": "Application", "Value": "dataall-dev"}, {"Key": "team", "Value": "data"}]
WANTED = {"Application": "dataall-dev", "team": "data"}
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
ROLE: dict[str, Any] = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    },
}


def _pairs(found: list[dict[str, str]], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {pair[key]: pair[value] for pair in found if not pair[key].startswith("aws:")}


def _physical(cfn: Any, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName="app", LogicalResourceId=logical_id)["StackResourceDetail"]
    return str(detail["PhysicalResourceId"])


Reader = Callable[[Clients, Any], dict[str, str]]


def _ssm(clients: Clients, cfn: Any) -> dict[str, str]:
    found = clients("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=_physical(cfn, "Tagged"))
    return _pairs(found["TagList"])


def _kms(clients: Clients, cfn: Any) -> dict[str, str]:
    found = clients("kms").list_resource_tags(KeyId=_physical(cfn, "Tagged"))["Tags"]
    return _pairs(found, "TagKey", "TagValue")


def _ec2(clients: Clients, cfn: Any) -> dict[str, str]:
    found = clients("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [_physical(cfn, "Tagged")]}])
    return _pairs(found["Tags"])


def _s3(clients: Clients, cfn: Any) -> dict[str, str]:
    return _pairs(clients("s3").get_bucket_tagging(Bucket=_physical(cfn, "Tagged"))["TagSet"])


def _sqs(clients: Clients, cfn: Any) -> dict[str, str]:
    return dict(clients("sqs").list_queue_tags(QueueUrl=_physical(cfn, "Tagged")).get("Tags", {}))


def _sns(clients: Clients, cfn: Any) -> dict[str, str]:
    return _pairs(clients("sns").list_tags_for_resource(ResourceArn=_physical(cfn, "Tagged"))["Tags"])


def _role(clients: Clients, cfn: Any) -> dict[str, str]:
    return _pairs(clients("iam").list_role_tags(RoleName=_physical(cfn, "Tagged"))["Tags"])


def _logs(clients: Clients, cfn: Any) -> dict[str, str]:
    return dict(clients("logs").list_tags_log_group(logGroupName=_physical(cfn, "Tagged"))["tags"])


def _by_arn(service: str, read: Callable[[Any, str], Any]) -> Reader:
    def reader(clients: Clients, cfn: Any) -> dict[str, str]:
        arn = outputs(cfn.describe_stacks(StackName="app")["Stacks"][0])["Arn"]
        found = read(clients(service), arn)
        return found if isinstance(found, dict) else _pairs(found)

    reader.by_arn = True  # type: ignore[attr-defined]
    return reader


#: (resource type, its properties, other resources it needs, how its service lists its tags,
#: the documentation page)
TAGGED: list[tuple[str, dict[str, Any], dict[str, Any], Reader, str]] = [
    # a JSON map of string to string
    ("AWS::SSM::Parameter", {"Type": "String", "Value": "v", "Tags": WANTED}, {}, _ssm, "aws-resource-ssm-parameter"),
    # Key/Value, though KMS's own API says TagKey/TagValue
    ("AWS::KMS::Key", {"Tags": TAGS}, {}, _kms, "aws-resource-kms-key"),
    ("AWS::EC2::VPC", {"CidrBlock": "10.1.0.0/16", "Tags": TAGS}, {}, _ec2, "aws-resource-ec2-vpc"),
    (
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": "tagged", "VpcId": {"Ref": "Vpc"}, "Tags": TAGS},
        {"Vpc": VPC},
        _ec2,
        "aws-resource-ec2-securitygroup",
    ),
    (
        "AWS::EC2::Subnet",
        {"CidrBlock": "10.0.1.0/24", "VpcId": {"Ref": "Vpc"}, "Tags": TAGS},
        {"Vpc": VPC},
        _ec2,
        "aws-resource-ec2-subnet",
    ),
    (
        "AWS::EC2::NetworkAcl",
        {"VpcId": {"Ref": "Vpc"}, "Tags": TAGS},
        {"Vpc": VPC},
        _ec2,
        "aws-resource-ec2-networkacl",
    ),
    ("AWS::S3::Bucket", {"Tags": TAGS}, {}, _s3, "aws-resource-s3-bucket"),
    ("AWS::SQS::Queue", {"Tags": TAGS}, {}, _sqs, "aws-resource-sqs-queue"),
    ("AWS::SNS::Topic", {"Tags": TAGS}, {}, _sns, "aws-resource-sns-topic"),
    ("AWS::IAM::Role", {**ROLE["Properties"], "Tags": TAGS}, {}, _role, "aws-resource-iam-role"),
    ("AWS::Logs::LogGroup", {"Tags": TAGS}, {}, _logs, "aws-resource-logs-loggroup"),
    (
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "Tags": TAGS,
        },
        {},
        _by_arn("dynamodb", lambda client, arn: client.list_tags_of_resource(ResourceArn=arn)["Tags"]),
        "aws-resource-dynamodb-table",
    ),
    (
        "AWS::ECS::Cluster",
        {"Tags": TAGS},
        {},
        _by_arn(
            "ecs",
            lambda client, arn: {t["key"]: t["value"] for t in client.list_tags_for_resource(resourceArn=arn)["tags"]},
        ),
        "aws-resource-ecs-cluster",
    ),
    (
        "AWS::Events::Rule",
        {"ScheduleExpression": "rate(1 day)", "Tags": TAGS},
        {},
        _by_arn("events", lambda client, arn: client.list_tags_for_resource(ResourceARN=arn)["Tags"]),
        "aws-resource-events-rule",
    ),
    (
        "AWS::CloudTrail::Trail",
        {"IsLogging": True, "S3BucketName": {"Ref": "Logs"}, "Tags": TAGS},
        {"Logs": {"Type": "AWS::S3::Bucket"}},
        _by_arn(
            "cloudtrail",
            lambda client, arn: client.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"],
        ),
        "aws-resource-cloudtrail-trail",
    ),
    (
        "AWS::ApiGateway::RestApi",
        {"Name": "api", "Tags": TAGS},
        {},
        lambda clients, cfn: dict(clients("apigateway").get_rest_api(restApiId=_physical(cfn, "Tagged"))["tags"]),
        "aws-resource-apigateway-restapi",
    ),
    (
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Tags": TAGS,
        },
        {},
        _by_arn("cloudwatch", lambda client, arn: client.list_tags_for_resource(ResourceARN=arn)["Tags"]),
        "aws-resource-cloudwatch-alarm",
    ),
    (
        # a JSON map, under its own name
        "AWS::Cognito::UserPool",
        {"UserPoolTags": WANTED},
        {},
        # moto 5.2.5's Cognito has no ListTagsForResource; DescribeUserPool answers the tags too
        lambda clients, cfn: dict(
            clients("cognito-idp").describe_user_pool(UserPoolId=_physical(cfn, "Tagged"))["UserPool"]["UserPoolTags"]
        ),
        "aws-resource-cognito-userpool",
    ),
    (
        # Key/Value pairs under its own name, where Cognito's API takes a map
        "AWS::Cognito::IdentityPool",
        {"AllowUnauthenticatedIdentities": False, "IdentityPoolTags": TAGS},
        {},
        lambda clients, cfn: dict(
            clients("cognito-identity").describe_identity_pool(IdentityPoolId=_physical(cfn, "Tagged"))[
                "IdentityPoolTags"
            ]
        ),
        "aws-resource-cognito-identitypool",
    ),
    (
        "AWS::OpenSearchService::Domain",
        {"EngineVersion": "OpenSearch_2.11", "Tags": TAGS},
        {},
        _by_arn("opensearch", lambda client, arn: client.list_tags(ARN=arn)["TagList"]),
        "aws-resource-opensearchservice-domain",
    ),
    (
        "AWS::StepFunctions::StateMachine",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/machine",
            "DefinitionString": '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
            "Tags": TAGS,
        },
        {},
        lambda clients, cfn: _pairs(
            clients("stepfunctions").list_tags_for_resource(resourceArn=_physical(cfn, "Tagged"))["tags"],
            "key",
            "value",
        ),
        "aws-resource-stepfunctions-statemachine",
    ),
    (
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": {
                "Enabled": True,
                "Origins": [{"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {}}],
                "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
            },
            "Tags": TAGS,
        },
        {},
        lambda clients, cfn: _pairs(
            clients("cloudfront").list_tags_for_resource(
                Resource=f"arn:aws:cloudfront::123456789012:distribution/{_physical(cfn, 'Tagged')}"
            )["Tags"]["Items"]
        ),
        "aws-resource-cloudfront-distribution",
    ),
    (
        "AWS::WAFv2::WebACL",
        {
            "Scope": "REGIONAL",
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"},
            "Tags": TAGS,
        },
        {},
        _by_arn(
            "wafv2", lambda client, arn: client.list_tags_for_resource(ResourceARN=arn)["TagInfoForResource"]["TagList"]
        ),
        "aws-resource-wafv2-webacl",
    ),
    (
        "AWS::SecretsManager::Secret",
        {"SecretString": "s", "Tags": TAGS},
        {},
        lambda clients, cfn: _pairs(
            clients("secretsmanager").describe_secret(SecretId=_physical(cfn, "Tagged"))["Tags"]
        ),
        "aws-resource-secretsmanager-secret",
    ),
]


@pytest.mark.parametrize(
    ("resource_type", "properties", "needs", "read", "page"), TAGGED, ids=[case[0] for case in TAGGED]
)
def test_tags_in_the_documented_shape_are_read_back_through_the_service(
    cfn: Any,
    clients: Clients,
    resource_type: str,
    properties: dict[str, Any],
    needs: dict[str, Any],
    read: Reader,
    page: str,
) -> None:
    """AWS: the type's `Tags` (in the shape its reference page documents, `{REFERENCE}/<page>.html`)
    are on the resource, as the service's own tag API lists them."""
    arn = {"Arn": {"Value": {"Fn::GetAtt": ["Tagged", "Arn"]}}} if getattr(read, "by_arn", False) else {}

    deploy(cfn, {**needs, "Tagged": {"Type": resource_type, "Properties": properties}}, arn)

    assert read(clients, cfn) == WANTED, f"{REFERENCE}/{page}.html"


def test_an_update_tags_and_untags_the_difference(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-ssm-parameter`): a stack update adds, changes and removes the
    parameter's tags (AddTagsToResource / RemoveTagsFromResource)."""
    parameter: dict[str, Any] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Type": "String", "Value": "v", "Tags": WANTED},
    }
    deploy(cfn, {"Tagged": parameter})

    parameter["Properties"]["Tags"] = {"team": "platform", "cost": "42"}
    cfn.update_stack(StackName="app", TemplateBody=body({"Tagged": parameter}))

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    assert _ssm(clients, cfn) == {"team": "platform", "cost": "42"}


def test_tags_in_a_shape_no_type_documents_fail_naming_the_type_and_property(cfn: Any) -> None:
    """AWS: a property of the wrong type fails the resource (the sandbox never drops it)."""
    cfn.create_stack(
        StackName="app",
        TemplateBody=body({"Tagged": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": ["team"]}}}),
    )

    assert settle(cfn, "app")["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [reason or "" for logical_id, status, reason in events(cfn, "app") if status == "CREATE_FAILED"]
    assert any("Property Tags of AWS::SQS::Queue" in reason for reason in reasons), reasons


# --------------------------------------------------------------------------- security group rules
def _rule(group: str, description: str) -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": [group, "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "CidrIp": {"Fn::GetAtt": ["Vpc", "CidrBlock"]},
            "Description": description,
        },
    }


def test_a_rule_ec2_already_has_is_created_once(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-ec2-securitygroupingress`; aws-cloudformation/
    cloudformation-coverage-roadmap#612, #1532): the handler takes EC2's
    InvalidPermission.Duplicate as done, so the same rule given by several resources, differing
    only by description, or also inline in the group, creates; EC2 has it once. data.all's Vpc
    stack gives one rule 28 times."""
    inline = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}
    resources = {
        "Vpc": VPC,
        "Group": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "rules", "VpcId": {"Ref": "Vpc"}, "SecurityGroupIngress": [inline]},
        },
        "Same": _rule("Group", "from the VPC"),
        "SameAgain": _rule("Group", "from the VPC"),
        "OtherWords": _rule("Group", "another description"),
    }

    deploy(cfn, resources, {"Group": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}})

    group_id = outputs(cfn.describe_stacks(StackName="app")["Stacks"][0])["Group"]
    group = clients("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    https = [rule for rule in group["IpPermissions"] if rule.get("FromPort") == 443]
    assert [[r["CidrIp"] for r in rule["IpRanges"]] for rule in https] == [["10.0.0.0/16"]]
    assert all(_physical(cfn, name).startswith("sgr-") for name in ("Same", "SameAgain", "OtherWords"))


def test_rules_are_revoked_with_their_stack(cfn: Any, clients: Clients) -> None:
    """AWS: deleting an ingress or egress resource revokes its rule (moto's model never did)."""
    group = clients("ec2").create_security_group(GroupName="kept", Description="outside the stack")["GroupId"]
    egress = {
        "Type": "AWS::EC2::SecurityGroupEgress",
        "Properties": {"GroupId": group, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIpv6": "::/0"},
    }
    ingress = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {"GroupId": group, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.9.0.0/16"},
    }
    stack_id = deploy(cfn, {"Out": egress, "In": ingress})["StackId"]
    described = clients("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert [rule["Ipv6Ranges"] for rule in described["IpPermissionsEgress"] if rule.get("FromPort") == 5432] == [
        [{"CidrIpv6": "::/0"}]
    ]

    cfn.delete_stack(StackName="app")
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"

    described = clients("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert [rule for rule in described["IpPermissions"] if rule.get("FromPort") == 22] == []
    assert [rule for rule in described["IpPermissionsEgress"] if rule.get("FromPort") == 5432] == []


# --------------------------------------------------------------------------- cloudtrail
def test_a_trail_logs_with_its_event_selectors(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-cloudtrail-trail`): Ref is the trail's name, `Fn::GetAtt Arn` its
    ARN; `IsLogging` starts it and `EventSelectors` are put."""
    selectors = [
        {
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::assets/"]}],
            "IncludeManagementEvents": True,
            "ReadWriteType": "All",
        }
    ]
    trail = {
        "Type": "AWS::CloudTrail::Trail",
        "Properties": {
            "IsLogging": True,
            "IsMultiRegionTrail": True,
            "EnableLogFileValidation": True,
            "S3BucketName": {"Ref": "Logs"},
            "EventSelectors": selectors,
        },
    }
    described = deploy(
        cfn,
        {"Logs": {"Type": "AWS::S3::Bucket"}, "Trail": trail},
        {"Name": {"Value": {"Ref": "Trail"}}, "Arn": {"Value": {"Fn::GetAtt": ["Trail", "Arn"]}}},
    )
    found = outputs(described)
    cloudtrail = clients("cloudtrail")

    assert found["Arn"] == f"arn:aws:cloudtrail:us-east-1:123456789012:trail/{found['Name']}"
    assert cloudtrail.get_trail_status(Name=found["Name"])["IsLogging"] is True
    put = cloudtrail.get_event_selectors(TrailName=found["Name"])["EventSelectors"]
    assert put[0]["DataResources"] == selectors[0]["DataResources"]


# --------------------------------------------------------------------------- api gateway
def test_an_options_method_on_a_mock_integration_answers_cors(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-apigateway-method`, `aws-properties-apigateway-method-integration`):
    `IntegrationHttpMethod` and `Uri` are for HTTP and Lambda integrations only; a `MOCK`
    integration (CDK's CORS preflight) has neither. Its method and integration responses are put."""
    headers = "method.response.header.Access-Control-Allow-Origin"
    resources = {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Proxy": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "PathPart": "{proxy+}",
            },
        },
        "Options": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "ApiKeyRequired": False,
                "AuthorizationType": "NONE",
                "HttpMethod": "OPTIONS",
                "ResourceId": {"Ref": "Proxy"},
                "RestApiId": {"Ref": "Api"},
                "Integration": {
                    "Type": "MOCK",
                    "RequestTemplates": {"application/json": "{ statusCode: 200 }"},
                    "IntegrationResponses": [{"StatusCode": "204", "ResponseParameters": {headers: "'*'"}}],
                },
                "MethodResponses": [{"StatusCode": "204", "ResponseParameters": {headers: True}}],
            },
        },
    }
    described = deploy(cfn, resources, {"Api": {"Value": {"Ref": "Api"}}, "Proxy": {"Value": {"Ref": "Proxy"}}})
    found = outputs(described)

    method = clients("apigateway").get_method(restApiId=found["Api"], resourceId=found["Proxy"], httpMethod="OPTIONS")
    assert method["methodIntegration"]["type"] == "MOCK"
    assert method["methodResponses"]["204"]["responseParameters"] == {headers: True}
    assert method["methodIntegration"]["integrationResponses"]["204"]["responseParameters"] == {headers: "'*'"}


# --------------------------------------------------------------------------- SAM
ROTATION = "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser"


def _application(application_id: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Application",
        "Properties": {
            "Location": {"ApplicationId": application_id, "SemanticVersion": "1.1.367"},
            "Parameters": {"functionName": "rotate-db", "endpoint": "https://secretsmanager.us-east-1.amazonaws.com"},
            "Tags": {"Application": "dataall-dev"},
        },
    }


def test_a_secret_rotation_application_answers_its_output(cfn: Any) -> None:
    """AWS (`transform-aws-serverless`, SAM's `AWS::Serverless::Application`): the SAM
    transform makes the application a nested stack; the rotation applications output
    `RotationLambdaARN`. The sandbox makes none of the application's resources (see
    `emulated_types._serverless_application`) and answers that output."""
    template = body(
        {"Rotation": _application(ROTATION)},
        Transform="AWS::Serverless-2016-10-31",
        Outputs={
            "Stack": {"Value": {"Ref": "Rotation"}},
            "Function": {"Value": {"Fn::GetAtt": ["Rotation", "Outputs.RotationLambdaARN"]}},
        },
    )

    cfn.create_stack(StackName="app", TemplateBody=template, Capabilities=["CAPABILITY_AUTO_EXPAND"])

    found = outputs(settle(cfn, "app"))
    assert found["Function"] == "arn:aws:lambda:us-east-1:123456789012:function:rotate-db"
    assert found["Stack"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/app-Rotation-")


def test_an_application_the_sandbox_cannot_answer_for_fails_naming_it(cfn: Any) -> None:
    template = body(
        {"App": _application("arn:aws:serverlessrepo:us-east-1:1:applications/Other")},
        Transform="AWS::Serverless-2016-10-31",
    )

    cfn.create_stack(StackName="app", TemplateBody=template, Capabilities=["CAPABILITY_AUTO_EXPAND"])

    assert settle(cfn, "app")["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [reason or "" for logical_id, status, reason in events(cfn, "app") if status == "CREATE_FAILED"]
    assert any("AWS::Serverless::Application property Location" in reason for reason in reasons), reasons


# --------------------------------------------------------------------------- lambda versions
def _function(clients: Clients) -> dict[str, Any]:
    """A role and a Python function whose package is in S3 (as CDK's assets are)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("app.py", "def handler(event, context):\n    return 1\n")
    clients("s3").create_bucket(Bucket="code")
    clients("s3").put_object(Bucket="code", Key="code.zip", Body=archive.getvalue())
    return {
        "Role": ROLE,
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "app.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"S3Bucket": "code", "S3Key": "code.zip"},
            },
        },
    }


def test_a_version_refs_its_arn_which_names_the_published_version(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-lambda-version`): Ref and `Fn::GetAtt FunctionArn` are the version's
    ARN, `Version` its number; the ARN names a function (a CDK Trigger's `HandlerArn`)."""
    resources = {
        **_function(clients),
        "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Function"}}},
    }
    found = outputs(
        deploy(
            cfn,
            resources,
            {
                "Ref": {"Value": {"Ref": "Version"}},
                "Arn": {"Value": {"Fn::GetAtt": ["Version", "FunctionArn"]}},
                "Number": {"Value": {"Fn::GetAtt": ["Version", "Version"]}},
            },
        )
    )

    assert found["Ref"] == found["Arn"]
    assert found["Number"] == "1"
    assert found["Ref"].endswith(":1")
    assert clients("lambda").get_function(FunctionName=found["Ref"])["Configuration"]["Version"] == "1"


def test_a_task_definition_answers_its_arn_as_an_attribute_too(cfn: Any) -> None:
    """AWS (`aws-resource-ecs-taskdefinition`): Ref and `Fn::GetAtt TaskDefinitionArn` are both
    the task definition's ARN (data.all's ECS stack keeps it in an SSM parameter)."""
    task = {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Family": "cdkproxy",
            "ContainerDefinitions": [
                {"Name": "app", "Image": "public.ecr.aws/docker/library/python:3.12", "Memory": 512}
            ],
        },
    }

    found = outputs(
        deploy(
            cfn,
            {"Task": task},
            {"Ref": {"Value": {"Ref": "Task"}}, "Arn": {"Value": {"Fn::GetAtt": ["Task", "TaskDefinitionArn"]}}},
        )
    )

    assert found["Arn"] == found["Ref"]
    assert found["Arn"].startswith("arn:aws:ecs:us-east-1:123456789012:task-definition/cdkproxy:")


def _api_with_stage(stage_properties: dict[str, Any]) -> dict[str, Any]:
    """A REST API with one mock GET method, its deployment, and its stage `prod` with these properties too."""
    return {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Get": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "HttpMethod": "GET",
                "AuthorizationType": "NONE",
                "Integration": {"Type": "MOCK"},
            },
        },
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {"RestApiId": {"Ref": "Api"}},
            "DependsOn": ["Get"],
        },
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "DeploymentId": {"Ref": "Deployment"},
                "StageName": "prod",
                **stage_properties,
            },
        },
    }


def test_a_stage_is_created_for_its_deployment_with_its_tags(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-apigateway-stage`): the stage exists for its deployment; its `Tags`
    (Key/Value pairs) are the stage's tags, as GetTags on its ARN lists them; an update retags."""
    resources = _api_with_stage({"Tags": TAGS})
    api_id = outputs(deploy(cfn, resources, {"Api": {"Value": {"Ref": "Api"}}}))["Api"]
    apigateway = clients("apigateway")
    arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/prod"

    assert apigateway.get_stage(restApiId=api_id, stageName="prod")["deploymentId"] == _physical(cfn, "Deployment")
    assert apigateway.get_tags(resourceArn=arn)["tags"] == WANTED

    resources["Stage"]["Properties"]["Tags"] = [{"Key": "team", "Value": "platform"}]
    cfn.update_stack(StackName="app", TemplateBody=body(resources))

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    assert apigateway.get_tags(resourceArn=arn)["tags"] == {"team": "platform"}


def test_a_stages_method_settings_are_the_stages_and_an_update_changes_them(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-properties-apigateway-stage-methodsetting`): `MethodSettings` with `ResourcePath`
    `/*` and `HttpMethod` `*` apply to every method of the stage, as GetStage's `methodSettings`
    (keyed `*/*`) reads them; throttling is a number the stack's parameter may give (data.all's
    `throttling`, the installer's ApiRateLimit/ApiBurstLimit); an update puts the new values."""
    setting = {
        "HttpMethod": "*", "ResourcePath": "/*", "LoggingLevel": "INFO", "MetricsEnabled": True,
        "DataTraceEnabled": False, "ThrottlingRateLimit": {"Ref": "Rate"}, "ThrottlingBurstLimit": 5000,
    }  # fmt: skip
    resources = _api_with_stage({"MethodSettings": [setting]})
    template = body(resources, Parameters={"Rate": {"Type": "Number"}}, Outputs={"Api": {"Value": {"Ref": "Api"}}})
    cfn.create_stack(
        StackName="app", TemplateBody=template, Parameters=[{"ParameterKey": "Rate", "ParameterValue": "10000"}]
    )
    found = settle(cfn, "app")
    assert found["StackStatus"] == "CREATE_COMPLETE"
    api_id = {o["OutputKey"]: o["OutputValue"] for o in found["Outputs"]}["Api"]
    apigateway = clients("apigateway")

    every = apigateway.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]["*/*"]
    assert (every["throttlingRateLimit"], every["throttlingBurstLimit"]) == (10000.0, 5000)
    assert (every["loggingLevel"], every["metricsEnabled"], every["dataTraceEnabled"]) == ("INFO", True, False)

    cfn.update_stack(
        StackName="app", TemplateBody=template, Parameters=[{"ParameterKey": "Rate", "ParameterValue": "200"}]
    )

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    every = apigateway.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]["*/*"]
    assert (every["throttlingRateLimit"], every["throttlingBurstLimit"]) == (200.0, 5000)


# --------------------------------------------------------------------------- waf
def test_a_web_acl_is_associated_with_a_user_pool(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-wafv2-webaclassociation`): the ACL protects the resource, as
    GetWebACLForResource answers; deleting the stack disassociates and deletes the ACL."""
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"}
    resources = {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "users"}},
        "Acl": {
            "Type": "AWS::WAFv2::WebACL",
            "Properties": {"Scope": "REGIONAL", "DefaultAction": {"Allow": {}}, "VisibilityConfig": visibility},
        },
        "Association": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Properties": {
                "ResourceArn": {"Fn::GetAtt": ["Pool", "Arn"]},
                "WebACLArn": {"Fn::GetAtt": ["Acl", "Arn"]},
            },
        },
    }
    described = deploy(
        cfn,
        resources,
        {"Pool": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}}, "Acl": {"Value": {"Fn::GetAtt": ["Acl", "Arn"]}}},
    )
    found = outputs(described)
    wafv2 = clients("wafv2")

    assert wafv2.get_web_acl_for_resource(ResourceArn=found["Pool"])["WebACL"]["ARN"] == found["Acl"]

    cfn.delete_stack(StackName="app")

    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"] == []


# --------------------------------------------------------------------------- small bindings
def test_filters_policies_invoke_configs_and_service_roles_are_made_in_their_services(
    cfn: Any, clients: Clients
) -> None:
    """AWS: `aws-resource-logs-metricfilter` (DescribeMetricFilters lists it),
    `aws-resource-secretsmanager-resourcepolicy` (GetResourcePolicy), `aws-resource-lambda-
    eventinvokeconfig` (GetFunctionEventInvokeConfig), `aws-resource-iam-servicelinkedrole`
    (Ref: the role IAM names for the service); a stack delete removes all four."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "secretsmanager:DeleteSecret",
                "Resource": "*",
            }
        ],
    }
    resources = {
        **_function(clients),
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/app/worker"}},
        "Errors": {
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "LogGroupName": {"Ref": "Logs"},
                "FilterPattern": "ERROR",
                "MetricTransformations": [{"MetricName": "errors", "MetricNamespace": "app", "MetricValue": "1"}],
            },
        },
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "s"}},
        "SecretPolicy": {
            "Type": "AWS::SecretsManager::ResourcePolicy",
            "Properties": {"SecretId": {"Ref": "Secret"}, "ResourcePolicy": policy},
        },
        "Retries": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": {"Ref": "Function"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0},
        },
        "SearchRole": {
            "Type": "AWS::IAM::ServiceLinkedRole",
            "Properties": {"AWSServiceName": "opensearchservice.amazonaws.com"},
        },
    }
    described = deploy(
        cfn,
        resources,
        {
            "Secret": {"Value": {"Ref": "Secret"}},
            "Function": {"Value": {"Ref": "Function"}},
            "Role": {"Value": {"Ref": "SearchRole"}},
        },
    )
    found = outputs(described)
    logs, secrets, lambdas, iam = clients("logs"), clients("secretsmanager"), clients("lambda"), clients("iam")

    filters = logs.describe_metric_filters(logGroupName="/app/worker")["metricFilters"]
    assert [(f["filterName"], f["filterPattern"]) for f in filters] == [(_physical(cfn, "Errors"), "ERROR")]
    assert json.loads(secrets.get_resource_policy(SecretId=found["Secret"])["ResourcePolicy"]) == policy
    retries = lambdas.get_function_event_invoke_config(FunctionName=found["Function"], Qualifier="$LATEST")
    assert retries["MaximumRetryAttempts"] == 0
    assert iam.get_role(RoleName=found["Role"])["Role"]["Path"] == "/aws-service-role/opensearchservice.amazonaws.com/"

    cfn.delete_stack(StackName="app")

    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert logs.describe_log_groups(logGroupNamePrefix="/app/worker")["logGroups"] == []
    with pytest.raises(ClientError):
        iam.get_role(RoleName=found["Role"])


def test_an_update_retags_resources_whose_service_update_takes_no_tags(cfn: Any, clients: Clients) -> None:
    """AWS: a stack update adds, changes and removes a secret's, an alarm's and a trail's tags
    (UpdateSecret, PutMetricAlarm and UpdateTrail leave tags alone: TagResource / UntagResource,
    AddTags / RemoveTags do it)."""
    alarm = {
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }

    def resources(tags: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "Logs": {"Type": "AWS::S3::Bucket"},
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "s", "Tags": tags}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {**alarm, "Tags": tags}},
            "Trail": {
                "Type": "AWS::CloudTrail::Trail",
                "Properties": {"IsLogging": True, "S3BucketName": {"Ref": "Logs"}, "Tags": tags},
            },
        }

    arns = {
        "Secret": {"Value": {"Ref": "Secret"}},
        "Alarm": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
        "Trail": {"Value": {"Fn::GetAtt": ["Trail", "Arn"]}},
    }
    found = outputs(deploy(cfn, resources(TAGS), arns))

    cfn.update_stack(
        StackName="app",
        TemplateBody=body(resources([{"Key": "team", "Value": "platform"}]), Outputs=arns),
    )

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE", [e for e in events(cfn, "app") if "FAILED" in e[1]]
    wanted = {"team": "platform"}
    assert _pairs(clients("secretsmanager").describe_secret(SecretId=found["Secret"])["Tags"]) == wanted
    assert _pairs(clients("cloudwatch").list_tags_for_resource(ResourceARN=found["Alarm"])["Tags"]) == wanted
    trail_tags = clients("cloudtrail").list_tags(ResourceIdList=[found["Trail"]])["ResourceTagList"][0]["TagsList"]
    assert _pairs(trail_tags) == wanted


def test_tags_changed_outside_the_stack_show_as_drift(cfn: Any, clients: Clients) -> None:
    """AWS (Detecting unmanaged configuration changes, drift detection): the resource's tags
    are compared with the template's, in the type's own shape (a parameter's map, a topic's list)."""
    from tests.sandbox.cloudformation.test_drift import detect, differences, resource_drifts

    deploy(
        cfn,
        {
            "Parameter": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": "v", "Tags": WANTED},
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": TAGS}},
        },
    )
    assert detect(cfn)["StackDriftStatus"] == "IN_SYNC"

    clients("ssm").add_tags_to_resource(
        ResourceType="Parameter", ResourceId=_physical(cfn, "Parameter"), Tags=[{"Key": "team", "Value": "ops"}]
    )
    clients("sns").untag_resource(ResourceArn=_physical(cfn, "Topic"), TagKeys=["team"])

    assert detect(cfn)["StackDriftStatus"] == "DRIFTED"
    drifts = resource_drifts(cfn)
    assert differences(drifts["Parameter"]) == [("/Tags/team", "data", "ops", "NOT_EQUAL")]
    assert [d[3] for d in differences(drifts["Topic"])] == ["REMOVE"]


def test_a_state_machine_is_retagged_by_a_stack_update(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-stepfunctions-statemachine`, Tags: update requires no interruption)."""

    def machine(tags: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/machine",
                    "DefinitionString": '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
                    "Tags": tags,
                },
            }
        }

    deploy(cfn, machine(TAGS))
    cfn.update_stack(StackName="app", TemplateBody=body(machine([{"Key": "team", "Value": "platform"}])))

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    found = clients("stepfunctions").list_tags_for_resource(resourceArn=_physical(cfn, "Machine"))["tags"]
    assert _pairs(found, "key", "value") == {"team": "platform"}


# --------------------------------------------------------------------------- iam
def test_a_roles_managed_policy_arns_are_attached_aws_managed_ones_too(cfn: Any, clients: Clients) -> None:
    """AWS (`aws-resource-iam-role`, `ManagedPolicyArns`): each listed policy is attached to the role,
    an AWS managed one (`arn:aws:iam::aws:policy/...`, as CDK's bootstrap gives its execution role)
    as a customer managed one, as ListAttachedRolePolicies answers."""
    resources: dict[str, Any] = {
        "Reads": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudformation.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess", {"Ref": "Reads"}],
            },
        },
    }
    described = deploy(cfn, resources, {"Reads": {"Value": {"Ref": "Reads"}}, "Role": {"Value": {"Ref": "Role"}}})
    found = outputs(described)
    reads = found["Reads"]

    attached = clients("iam").list_attached_role_policies(RoleName=found["Role"])["AttachedPolicies"]

    assert sorted(p["PolicyArn"] for p in attached) == sorted(["arn:aws:iam::aws:policy/AdministratorAccess", reads])

    # and the stack deletes: the role's policies are detached before DeleteRole, as AWS's handler does
    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
