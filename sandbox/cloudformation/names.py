"""Physical names CloudFormation makes up for resources whose template gives none.

AWS's format is `{stack name}-{logical id}-{random suffix}`, cut to the type's length
limit, lower case where the service wants it (S3, RDS, OpenSearch). Code under test
sees the same shapes it sees in AWS, so a name-length or case bug shows here first.
"""

from __future__ import annotations

import secrets
import string

_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits
#: (maximum length, lower case) per type; others take 255, mixed case
_LIMITS: dict[str, tuple[int, bool]] = {
    "AWS::S3::Bucket": (63, True),
    "AWS::IAM::Role": (64, False),
    "AWS::IAM::User": (64, False),
    "AWS::IAM::InstanceProfile": (128, False),
    "AWS::IAM::ManagedPolicy": (128, False),
    "AWS::Lambda::Function": (64, False),
    "AWS::SQS::Queue": (80, False),
    "AWS::StepFunctions::StateMachine": (80, False),
    "AWS::Events::Rule": (64, False),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (32, False),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (32, False),
    "AWS::RDS::DBCluster": (63, True),
    "AWS::RDS::DBInstance": (63, True),
    "AWS::RDS::DBSubnetGroup": (255, True),
    "AWS::RDS::DBClusterParameterGroup": (255, True),
    "AWS::OpenSearchService::Domain": (28, True),
    "AWS::OpenSearchServerless::Collection": (32, True),
    "AWS::ECR::Repository": (256, True),
    "AWS::Cognito::UserPoolDomain": (63, True),
    "AWS::Synthetics::Canary": (21, True),
    "AWS::Scheduler::Schedule": (64, False),
    "AWS::CloudWatch::Alarm": (255, False),
    "AWS::CloudTrail::Trail": (128, False),
}


def random_suffix(length: int = 13, alphabet: str = _SUFFIX_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def generated_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """A name in CloudFormation's format for a resource of `resource_type`."""
    limit, lower = _LIMITS.get(resource_type, (255, False))
    if resource_type == "AWS::SSM::Parameter":
        return f"CFN-{logical_id}-{random_suffix(12)}"
    suffix = random_suffix(12 if limit < 64 else 13)
    if limit <= 32:
        suffix = suffix[:8]
    prefix = f"{stack_name}-{logical_id}"[: max(1, limit - len(suffix) - 1)].rstrip("-")
    name = f"{prefix}-{suffix}"
    return name.lower() if lower else name
