"""Plan's check that every name a stage of the run gives a resource fits AWS's limits for its type.

data.all's names are the installation's (`ResourcePrefix`, up to 20 characters, and `EnvName`, up to
10: the bootstrap stack's): `${ResourcePrefix}-${EnvName}-domain` for its OpenSearch domain,
`${ResourcePrefix}-${EnvName}-${AWS::AccountId}-${AWS::Region}-resources` for a bucket, and so on.
With long ones some of those names are longer than AWS takes for their type (an OpenSearch domain's
name is 3 to 28 characters), and CloudFormation would refuse the resource only once its stage is
changing: halfway through the install. So Plan evaluates, before anything changes, every name a
stage of the run gives (a literal, or built from the stage's parameters and pseudo parameters, as
`lambdas.run.collisions` reads them; a name with a condition, or with a part known only once stacks
exist, is left out) against `NAME_LIMITS`, and refuses the run (`InvalidInput`, naming the stage,
resource, name, its length and the limit) when one does not fit. No AWS call: it runs on every run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.errors import InvalidInput
from lambdas.run.collisions import NamedResource, named_resources

#: The stage parameters the installation's names are made of (`installation_values`' and the bootstrap stack's).
INSTALLATION_NAMES = ("ResourcePrefix", "EnvName", "ResourcePrefixFirst6")


@dataclass(frozen=True)
class NameLimit:
    """What AWS takes as the name of a resource type: its property, length bounds, and pattern (matched whole)."""

    prop: str
    maximum: int
    minimum: int = 1
    pattern: str | None = None
    doc: str = ""


#: resource type -> the property naming it and AWS's limits: the types whose names data.all builds from the
#: installation's ResourcePrefix/EnvName (its 2.9.0 templates, every variant), and the few the brief names beside.
NAME_LIMITS: dict[str, NameLimit] = {
    # "Length Constraints: Minimum length of 3. Maximum length of 28. Pattern: [a-z][a-z0-9\-]+"
    "AWS::OpenSearchService::Domain": NameLimit(
        "DomainName",
        28,
        3,
        r"[a-z][a-z0-9\-]+",
        "https://docs.aws.amazon.com/opensearch-service/latest/APIReference/API_DomainInfo.html",
    ),
    # 3 to 64 (CloudFormation's schema `^[a-z][a-z0-9-]{2,63}$`, the API's model in botocore 1.44: a copy of the
    # API page from before says 32, CDK's doc 28; data.all's collection is not the first of its names to break)
    "AWS::OpenSearchServerless::Collection": NameLimit(
        "Name",
        64,
        3,
        r"[a-z][a-z0-9_-]+",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-opensearchserverless-collection.html",
    ),
    # "Pattern: ^[a-z][a-z0-9-]{2,31}$ Minimum: 3 Maximum: 32"
    "AWS::OpenSearchServerless::SecurityPolicy": NameLimit(
        "Name",
        32,
        3,
        r"[a-z][a-z0-9-]{2,31}",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-securitypolicy.html",
    ),
    "AWS::OpenSearchServerless::AccessPolicy": NameLimit(
        "Name",
        32,
        3,
        r"[a-z][a-z0-9-]{2,31}",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-accesspolicy.html",
    ),
    "AWS::OpenSearchServerless::VpcEndpoint": NameLimit(
        "Name",
        32,
        3,
        r"[a-z][a-z0-9-]{2,31}",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-opensearchserverless-vpcendpoint.html",
    ),
    # "Bucket names must be between 3 (min) and 63 (max) characters long", lowercase letters, numbers, dots, hyphens
    "AWS::S3::Bucket": NameLimit(
        "BucketName",
        63,
        3,
        r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    # "Maximum: 32" ... "can have a maximum of 32 characters, must contain only alphanumeric characters or hyphens"
    "AWS::ElasticLoadBalancingV2::LoadBalancer": NameLimit(
        "Name",
        32,
        1,
        None,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": NameLimit(
        "Name",
        32,
        1,
        None,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    ),
    # RoleName "Length Constraints: Minimum length of 1. Maximum length of 64. Pattern: [\w+=,.@-]+"
    "AWS::IAM::Role": NameLimit(
        "RoleName", 64, 1, r"[\w+=,.@-]+", "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
    ),
    # PolicyName 1 to 128, `[\w+=,.@-]+`
    "AWS::IAM::Policy": NameLimit(
        "PolicyName",
        128,
        1,
        r"[\w+=,.@-]+",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
    ),
    # "If you specify only the function name, it is limited to 64 characters in length."
    "AWS::Lambda::Function": NameLimit(
        "FunctionName",
        64,
        1,
        r"[a-zA-Z0-9_-]+",
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    ),
    # "A queue name can have up to 80 characters. Valid values: alphanumeric characters, hyphens (-), and underscores"
    # (a FIFO queue's name ends with .fifo)
    "AWS::SQS::Queue": NameLimit(
        "QueueName",
        80,
        1,
        r"[A-Za-z0-9_-]+(\.fifo)?",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    # Rule Name "Minimum length of 1. Maximum length of 64. Pattern: [\.\-_A-Za-z0-9]+"
    "AWS::Events::Rule": NameLimit(
        "Name", 64, 1, r"[\.\-_A-Za-z0-9]+", "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Rule.html"
    ),
    # Domain "Pattern: ^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$ Minimum: 1 Maximum: 63"
    "AWS::Cognito::UserPoolDomain": NameLimit(
        "Domain",
        63,
        1,
        r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cognito-userpooldomain.html",
    ),
    "AWS::Cognito::UserPool": NameLimit(
        "UserPoolName",
        128,
        1,
        None,
        "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPool.html",
    ),
    "AWS::Cognito::IdentityPool": NameLimit(
        "IdentityPoolName",
        128,
        1,
        None,
        "https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_CreateIdentityPool.html",
    ),
    # "Must contain from 1 to 63 (for Aurora DB clusters) ... letters, numbers, or hyphens. First character must be a
    # letter. Can't end with a hyphen or contain two consecutive hyphens."
    "AWS::RDS::DBCluster": NameLimit(
        "DBClusterIdentifier",
        63,
        1,
        r"[a-zA-Z](?:-?[a-zA-Z0-9])*",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
    ),
    # "Must contain no more than 255 letters, numbers, periods, underscores, spaces, or hyphens."
    "AWS::RDS::DBSubnetGroup": NameLimit(
        "DBSubnetGroupName",
        255,
        1,
        None,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
    ),
    # "Log group names can be between 1 and 512 characters long." a-z, A-Z, 0-9, '_', '-', '/', '.', '#'
    "AWS::Logs::LogGroup": NameLimit(
        "LogGroupName",
        512,
        1,
        r"[.\-_/#A-Za-z0-9]+",
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    ),
    # "The AliasName value must be string of 1-256 characters."
    "AWS::KMS::Alias": NameLimit(
        "AliasName",
        256,
        1,
        r"alias/[a-zA-Z0-9:/_-]+",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
    ),
    # Name: 1 to 512 characters (CloudFormation's Maximum: 512)
    "AWS::SecretsManager::Secret": NameLimit(
        "Name", 512, 1, None, "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html"
    ),
    # "Topic names must ... be between 1 and 256 characters long."
    "AWS::SNS::Topic": NameLimit(
        "TopicName",
        256,
        1,
        r"[A-Za-z0-9_-]+(\.fifo)?",
        "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    ),
    # AlarmName "Minimum length of 1. Maximum length of 255."
    "AWS::CloudWatch::Alarm": NameLimit(
        "AlarmName",
        255,
        1,
        None,
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    ),
    # "The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_"."
    "AWS::CloudWatch::Dashboard": NameLimit(
        "DashboardName",
        255,
        1,
        r"[A-Za-z0-9_-]+",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
    ),
    # Name "Pattern: ^[0-9a-z_\-]{1,255}$" (the API's CanaryName: 1 to 255; it was 21 once)
    "AWS::Synthetics::Canary": NameLimit(
        "Name",
        255,
        1,
        r"[0-9a-z_\-]+",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-synthetics-canary.html",
    ),
    # RUM app monitor Name: 1 to 255, `[\.\-_/#A-Za-z0-9]+`
    "AWS::RUM::AppMonitor": NameLimit(
        "Name", 255, 1, None, "https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_CreateAppMonitor.html"
    ),
    # IPSet Name "^[\w\-]+$", 1 to 128
    "AWS::WAFv2::IPSet": NameLimit(
        "Name", 128, 1, r"[0-9A-Za-z_-]+", "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateIPSet.html"
    ),
    # "Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
    "AWS::ECS::Cluster": NameLimit(
        "ClusterName", 255, 1, None, "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html"
    ),
    "AWS::ECS::Service": NameLimit(
        "ServiceName", 255, 1, None, "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html"
    ),
    "AWS::ECS::TaskDefinition": NameLimit(
        "Family",
        255,
        1,
        None,
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
    ),
    # "Constraints: Up to 255 characters in length. Can't start with sg-."
    "AWS::EC2::SecurityGroup": NameLimit(
        "GroupName", 255, 1, None, "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
    ),
    # Name: "Maximum length of 2048", but "The maximum length for a parameter name, including the full length of the
    # parameter Amazon Resource Name (ARN), is 1011 characters" (a name alone: at most 1011)
    "AWS::SSM::Parameter": NameLimit(
        "Name", 1011, 1, None, "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html"
    ),
}


@dataclass(frozen=True)
class Misfit:
    """A name a stage gives that AWS will not take: too long (or short), or not of the type's pattern."""

    resource: NamedResource
    limit: NameLimit
    installation: bool  # the name is made of the installation's ResourcePrefix/EnvName

    @property
    def over(self) -> int:
        return len(self.resource.name) - self.limit.maximum

    def sentence(self) -> str:
        r, length = self.resource, len(self.resource.name)
        where = f"stage {r.stage}: {r.logical_id} ({r.resource_type}) {self.limit.prop} {r.name!r}"
        if self.over > 0:
            return f"{where} is {length} characters, {self.over} too long for AWS's {self.limit.maximum}"
        if length < self.limit.minimum:
            return f"{where} is {length} characters, under AWS's {self.limit.minimum}"
        return f"{where} does not match AWS's pattern {self.limit.pattern}"


def misfits(
    stage: str, template: Mapping[str, Any], parameters: Mapping[str, str], pseudo: Mapping[str, str]
) -> list[Misfit]:
    """The names `stage`'s template gives (those known before deploying) that do not fit `NAME_LIMITS`."""
    properties = {kind: limit.prop for kind, limit in NAME_LIMITS.items()}
    found = []
    for resource in named_resources(stage, template, parameters, pseudo, properties):
        limit = NAME_LIMITS[resource.resource_type]
        name = resource.name
        if limit.minimum <= len(name) <= limit.maximum and (limit.pattern is None or re.fullmatch(limit.pattern, name)):
            continue
        declared = (template.get("Resources") or {})[resource.logical_id]["Properties"][limit.prop]
        text = json.dumps(declared)
        made = any(f"${{{p}}}" in text or json.dumps({"Ref": p}) in text for p in INSTALLATION_NAMES)
        found.append(Misfit(resource, limit, made))
    return found


def refuse_misfits(found: Iterable[Misfit], resource_prefix: str, env_name: str) -> None:
    """Refuse the run (InvalidInput, `stages.<stage>.<logical id>`) when any name does not fit: nothing has changed."""
    found = sorted(found, key=lambda misfit: -misfit.over)
    if not found:
        return
    listed = "; ".join(misfit.sentence() for misfit in found[:10])
    worst = found[0]
    if worst.installation and worst.over > 0:
        todo = (
            f"install under a ResourcePrefix and EnvName together at least {worst.over} character(s) shorter than "
            f"{resource_prefix!r} and {env_name!r} ({len(resource_prefix) + len(env_name)} characters now; the "
            "bootstrap stack's parameters)"
        )
    elif worst.installation:
        todo = "install under a ResourcePrefix and EnvName that make names AWS takes (the bootstrap stack's parameters)"
    else:
        todo = "the release names it so: it cannot be installed as it is"
    raise InvalidInput(
        f"the run would give resources names AWS does not take, and CloudFormation would fail halfway through the "
        f"run: {listed}. Nothing was changed; to go on, {todo}",
        field=f"stages.{worst.resource.stage}.{worst.resource.logical_id}",
    )
