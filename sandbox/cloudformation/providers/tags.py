"""Resource tags in every shape CloudFormation documents, applied through each service's tag API.

The resource reference gives `Tags` in several shapes: most types take a list of
`{"Key": ..., "Value": ...}` (AWS::KMS::Key too, though KMS's own API says
`TagKey`/`TagValue`); `AWS::SSM::Parameter`, `AWS::Serverless::Application`,
`AWS::Batch::*` and others take a JSON map of string to string; an Auto Scaling group's
entries add `PropagateAtLaunch`. moto's models read only some of these, each its own way
(its SSM parameter and KMS key models failed on CloudFormation's shapes). So, as
CloudFormation's handlers do, the sandbox makes the resource without them and then tags it
through the service's own API (TagResource, AddTagsToResource, CreateTags ...): the tags
are what that service's list-tags call answers, and an update tags and untags the
difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import moto_internals
from sandbox.cloudformation.providers.base import ResourceFailed, handler_message


def tag_map(value: Any, resource_type: str, property_name: str = "Tags") -> dict[str, str]:
    """The tags as a map, from any documented shape; a shape none documents fails the
    resource naming its type and property (nothing is dropped silently)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(key): _text(item) for key, item in value.items()}
    if isinstance(value, list):
        tags: dict[str, str] = {}
        for entry in value:
            pair = _pair(entry)
            if pair is None:
                break
            tags[pair[0]] = pair[1]
        else:
            return tags
    raise ResourceFailed(
        handler_message(
            f"Property {property_name} of {resource_type}: expected a list of Key/Value pairs or a map of "
            f"string to string, got {value!r}"
        )
    )


def tag_list(value: Any, resource_type: str, property_name: str = "Tags") -> list[dict[str, str]]:
    """The tags as CloudFormation's list of Key/Value pairs."""
    return [{"Key": key, "Value": item} for key, item in tag_map(value, resource_type, property_name).items()]


def _pair(entry: Any) -> tuple[str, str] | None:
    if not isinstance(entry, Mapping):
        return None
    for key_name, value_name in (("Key", "Value"), ("TagKey", "TagValue"), ("key", "value")):
        if key_name in entry:
            return str(entry[key_name]), _text(entry.get(value_name, ""))
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- taggers
@dataclass(frozen=True)
class TagTarget:
    """The resource to tag: its physical id, and its `Fn::GetAtt` (an ARN the API may need)."""

    physical_id: str
    region: str
    account_id: str
    partition: str
    attribute: Callable[[str], Any]


@dataclass(frozen=True)
class Tagger:
    """How a service's API tags and untags one resource type."""

    service: str
    tag: Callable[[Any, str, dict[str, str]], Any]
    untag: Callable[[Any, str, list[str]], Any]
    #: the id the tag API takes (the physical id unless said otherwise)
    resource: Callable[[TagTarget], str] = lambda target: target.physical_id


def apply_tags(
    clients: Any, tagger: Tagger, target: TagTarget, tags: Mapping[str, str], before: Mapping[str, str]
) -> None:
    """Tag the resource with `tags`, untagging the keys of `before` it no longer has."""
    client = clients(tagger.service, target.region)
    resource = tagger.resource(target)
    dropped = sorted(set(before) - set(tags))
    if dropped:
        tagger.untag(client, resource, dropped)
    if tags:
        tagger.tag(client, resource, dict(tags))


def _pairs(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: name, value: item} for name, item in tags.items()]


def _arn(target: TagTarget) -> str:
    return str(target.attribute("Arn"))


_EC2 = Tagger(
    "ec2",
    lambda ec2, resource, tags: ec2.create_tags(Resources=[resource], Tags=_pairs(tags)),
    lambda ec2, resource, keys: ec2.delete_tags(Resources=[resource], Tags=[{"Key": key} for key in keys]),
)
_EIP = Tagger(  # Ref is the public address; CreateTags takes the allocation
    "ec2", _EC2.tag, _EC2.untag, lambda target: str(target.attribute("AllocationId"))
)
_KMS = Tagger(
    "kms",
    lambda kms, key, tags: kms.tag_resource(KeyId=key, Tags=_pairs(tags, "TagKey", "TagValue")),
    lambda kms, key, keys: kms.untag_resource(KeyId=key, TagKeys=keys),
)


def _ssm(resource_type: str) -> Tagger:
    return Tagger(
        "ssm",
        lambda ssm, name, tags: ssm.add_tags_to_resource(
            ResourceType=resource_type, ResourceId=name, Tags=_pairs(tags)
        ),
        lambda ssm, name, keys: ssm.remove_tags_from_resource(
            ResourceType=resource_type, ResourceId=name, TagKeys=keys
        ),
    )


def _s3_tag(s3: Any, bucket: str, tags: dict[str, str]) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _pairs(tags)})


def _s3_untag(s3: Any, bucket: str, keys: list[str]) -> None:
    """S3 replaces the whole tag set: keep those not dropped (apply_tags then puts the new set)."""
    try:
        current = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except Exception:  # noqa: BLE001 - NoSuchTagSet: nothing to remove
        return
    kept = {pair["Key"]: pair["Value"] for pair in current if pair["Key"] not in keys}
    if kept:
        _s3_tag(s3, bucket, kept)
    else:
        s3.delete_bucket_tagging(Bucket=bucket)


def _arn_tagger(
    service: str,
    tag: Callable[[Any, str, dict[str, str]], Any],
    untag: Callable[[Any, str, list[str]], Any],
    resource: Callable[[TagTarget], str] = _arn,
) -> Tagger:
    return Tagger(service, tag, untag, resource)


_LAMBDA = _arn_tagger(
    "lambda",
    lambda client, arn, tags: client.tag_resource(Resource=arn, Tags=tags),
    lambda client, arn, keys: client.untag_resource(Resource=arn, TagKeys=keys),
)
_SNS = _arn_tagger(
    "sns",
    lambda sns, arn, tags: sns.tag_resource(ResourceArn=arn, Tags=_pairs(tags)),
    lambda sns, arn, keys: sns.untag_resource(ResourceArn=arn, TagKeys=keys),
    lambda target: target.physical_id,
)
_ECS = _arn_tagger(
    "ecs",
    lambda ecs, arn, tags: ecs.tag_resource(resourceArn=arn, tags=_pairs(tags, "key", "value")),
    lambda ecs, arn, keys: ecs.untag_resource(resourceArn=arn, tagKeys=keys),
)
_ELBV2 = _arn_tagger(
    "elbv2",
    lambda elb, arn, tags: elb.add_tags(ResourceArns=[arn], Tags=_pairs(tags)),
    lambda elb, arn, keys: elb.remove_tags(ResourceArns=[arn], TagKeys=keys),
    lambda target: target.physical_id,
)
_EVENTS = _arn_tagger(
    "events",
    lambda events, arn, tags: events.tag_resource(ResourceARN=arn, Tags=_pairs(tags)),
    lambda events, arn, keys: events.untag_resource(ResourceARN=arn, TagKeys=keys),
)


def _rds(kind: str) -> Tagger:
    return _arn_tagger(
        "rds",
        lambda rds, arn, tags: rds.add_tags_to_resource(ResourceName=arn, Tags=_pairs(tags)),
        lambda rds, arn, keys: rds.remove_tags_from_resource(ResourceName=arn, TagKeys=keys),
        lambda target: (
            f"arn:{target.partition}:rds:{target.region}:{target.account_id}:{kind}:{target.physical_id.lower()}"
        ),
    )


#: resource types made through moto's models whose `Tags` the sandbox applies through the API
MOTO_MODEL_TAGGERS: Mapping[str, Tagger] = {
    **dict.fromkeys(
        (
            "AWS::EC2::VPC",
            "AWS::EC2::Subnet",
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::RouteTable",
            "AWS::EC2::InternetGateway",
            "AWS::EC2::NatGateway",
            "AWS::EC2::VPCEndpoint",
            "AWS::EC2::FlowLog",
            "AWS::EC2::Instance",
            "AWS::EC2::Volume",
            "AWS::EC2::NetworkInterface",
            "AWS::EC2::TransitGateway",
            "AWS::EC2::VPNGateway",
            "AWS::EC2::VPCPeeringConnection",
        ),
        _EC2,
    ),
    "AWS::EC2::EIP": _EIP,
    "AWS::KMS::Key": _KMS,
    "AWS::SSM::Parameter": _ssm("Parameter"),
    "AWS::SSM::Document": _ssm("Document"),
    "AWS::S3::Bucket": Tagger("s3", _s3_tag, _s3_untag),
    "AWS::SQS::Queue": Tagger(
        "sqs",
        lambda sqs, url, tags: sqs.tag_queue(QueueUrl=url, Tags=tags),
        lambda sqs, url, keys: sqs.untag_queue(QueueUrl=url, TagKeys=keys),
    ),
    "AWS::SNS::Topic": _SNS,
    "AWS::IAM::Role": Tagger(
        "iam",
        lambda iam, name, tags: iam.tag_role(RoleName=name, Tags=_pairs(tags)),
        lambda iam, name, keys: iam.untag_role(RoleName=name, TagKeys=keys),
    ),
    "AWS::IAM::User": Tagger(
        "iam",
        lambda iam, name, tags: iam.tag_user(UserName=name, Tags=_pairs(tags)),
        lambda iam, name, keys: iam.untag_user(UserName=name, TagKeys=keys),
    ),
    "AWS::IAM::ManagedPolicy": Tagger(
        "iam",
        lambda iam, arn, tags: iam.tag_policy(PolicyArn=arn, Tags=_pairs(tags)),
        lambda iam, arn, keys: iam.untag_policy(PolicyArn=arn, TagKeys=keys),
    ),
    "AWS::Lambda::Function": _LAMBDA,
    "AWS::Lambda::EventSourceMapping": _arn_tagger(
        "lambda",
        _LAMBDA.tag,
        _LAMBDA.untag,
        lambda target: (
            f"arn:{target.partition}:lambda:{target.region}:{target.account_id}:"
            f"event-source-mapping:{target.physical_id}"
        ),
    ),
    "AWS::Logs::LogGroup": Tagger(
        "logs",
        lambda logs, name, tags: logs.tag_log_group(logGroupName=name, tags=tags),
        lambda logs, name, keys: logs.untag_log_group(logGroupName=name, tags=keys),
    ),
    "AWS::DynamoDB::Table": _arn_tagger(
        "dynamodb",
        lambda ddb, arn, tags: ddb.tag_resource(ResourceArn=arn, Tags=_pairs(tags)),
        lambda ddb, arn, keys: ddb.untag_resource(ResourceArn=arn, TagKeys=keys),
    ),
    "AWS::Events::Rule": _EVENTS,
    "AWS::Events::EventBus": _EVENTS,
    "AWS::ECS::Cluster": _ECS,
    "AWS::ECR::Repository": _arn_tagger(
        "ecr",
        lambda ecr, arn, tags: ecr.tag_resource(resourceArn=arn, tags=_pairs(tags)),
        lambda ecr, arn, keys: ecr.untag_resource(resourceArn=arn, tagKeys=keys),
    ),
    "AWS::ElasticLoadBalancing::LoadBalancer": Tagger(
        "elb",
        lambda elb, name, tags: elb.add_tags(LoadBalancerNames=[name], Tags=_pairs(tags)),
        lambda elb, name, keys: elb.remove_tags(LoadBalancerNames=[name], Tags=[{"Key": key} for key in keys]),
    ),
    "AWS::RDS::DBSubnetGroup": _rds("subgrp"),
    "AWS::RDS::DBParameterGroup": _rds("pg"),
    "AWS::Kinesis::Stream": Tagger(
        "kinesis",
        lambda kinesis, name, tags: kinesis.add_tags_to_stream(StreamName=name, Tags=tags),
        lambda kinesis, name, keys: kinesis.remove_tags_from_stream(StreamName=name, TagKeys=keys),
    ),
    "AWS::ApiGateway::RestApi": Tagger(
        "apigateway",
        lambda api, api_id, tags: moto_internals.apigateway_tag_rest_api(
            api.meta.region_name, api_id, tags, removed=[]
        ),
        lambda api, api_id, keys: moto_internals.apigateway_tag_rest_api(
            api.meta.region_name, api_id, {}, removed=keys
        ),
    ),
}

#: types made through moto's models whose model applies `Tags` itself, in the shape it reads
MOTO_MODEL_READS_TAGS: Mapping[str, str] = {
    "AWS::AutoScaling::AutoScalingGroup": "as given",  # entries carry PropagateAtLaunch
    "AWS::EMR::Cluster": "list",
    "AWS::SageMaker::Endpoint": "list",
    "AWS::SageMaker::EndpointConfig": "list",
    "AWS::SageMaker::Model": "list",
    "AWS::RDS::DBSecurityGroup": "list",
    "AWS::Batch::JobDefinition": "map",
}


def moto_model_tags(resource_type: str, value: Any) -> Any:
    """`Tags` in the shape moto's model of `resource_type` reads; a type whose model neither
    reads tags nor has a tagger fails, naming the type and the property."""
    shape = MOTO_MODEL_READS_TAGS.get(resource_type)
    if shape is None:
        raise ResourceFailed(
            handler_message(f"Property Tags of {resource_type} is not supported by the sandbox (no tag API for it)")
        )
    if shape == "list":
        return tag_list(value, resource_type)
    if shape == "map":
        return tag_map(value, resource_type)
    return value


#: emulated types whose service binding's update takes no tags: how their service retags them
EMULATED_TAGGERS: Mapping[str, Tagger] = {
    "AWS::EC2::NetworkAcl": _EC2,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _ELBV2,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _ELBV2,
    "AWS::ECS::Service": _arn_tagger("ecs", _ECS.tag, _ECS.untag, lambda target: target.physical_id),
    "AWS::ECS::TaskDefinition": _arn_tagger("ecs", _ECS.tag, _ECS.untag, lambda target: target.physical_id),
    "AWS::SecretsManager::Secret": Tagger(
        "secretsmanager",
        lambda client, arn, tags: client.tag_resource(SecretId=arn, Tags=_pairs(tags)),
        lambda client, arn, keys: client.untag_resource(SecretId=arn, TagKeys=keys),
    ),
    "AWS::CertificateManager::Certificate": Tagger(
        "acm",
        lambda acm, arn, tags: acm.add_tags_to_certificate(CertificateArn=arn, Tags=_pairs(tags)),
        lambda acm, arn, keys: acm.remove_tags_from_certificate(
            CertificateArn=arn, Tags=[{"Key": key} for key in keys]
        ),
    ),
    "AWS::CloudWatch::Alarm": _arn_tagger(
        "cloudwatch",
        lambda client, arn, tags: client.tag_resource(ResourceARN=arn, Tags=_pairs(tags)),
        lambda client, arn, keys: client.untag_resource(ResourceARN=arn, TagKeys=keys),
    ),
    "AWS::CloudTrail::Trail": _arn_tagger(
        "cloudtrail",
        lambda client, arn, tags: client.add_tags(ResourceId=arn, TagsList=_pairs(tags)),
        lambda client, arn, keys: client.remove_tags(ResourceId=arn, TagsList=[{"Key": key} for key in keys]),
    ),
    "AWS::OpenSearchService::Domain": _arn_tagger(
        "opensearch",
        lambda client, arn, tags: client.add_tags(ARN=arn, TagList=_pairs(tags)),
        lambda client, arn, keys: client.remove_tags(ARN=arn, TagKeys=keys),
    ),
    "AWS::RDS::DBCluster": _arn_tagger(
        "rds",
        lambda rds, arn, tags: rds.add_tags_to_resource(ResourceName=arn, Tags=_pairs(tags)),
        lambda rds, arn, keys: rds.remove_tags_from_resource(ResourceName=arn, TagKeys=keys),
        lambda target: str(target.attribute("DBClusterArn")),
    ),
    "AWS::RDS::DBInstance": _arn_tagger(
        "rds",
        lambda rds, arn, tags: rds.add_tags_to_resource(ResourceName=arn, Tags=_pairs(tags)),
        lambda rds, arn, keys: rds.remove_tags_from_resource(ResourceName=arn, TagKeys=keys),
        lambda target: str(target.attribute("DBInstanceArn")),
    ),
}
