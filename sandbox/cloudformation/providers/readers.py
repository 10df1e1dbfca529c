"""Reading a resource's live properties, for drift detection.

CloudFormation detects drift by asking each type's handler to read the resource as it is
now and comparing that with the properties the stack applied. Here a reader per type
does the same through the service's public API at the sandbox endpoint, and answers the
properties in the type's CloudFormation shape (`VisibilityTimeout` an integer, an SQS
`RedrivePolicy` an object, `Tags` a list of Key/Value pairs), or None when the resource
no longer exists.

A reader names the properties it can read. A property the template sets that its reader
does not name is not compared: a write-only one (a function's `Code`), or one the
sandbox does not apply when it creates the resource, which would otherwise show as drift
on every untouched stack. Among those: a role's `ManagedPolicyArns` (attached, not read back) and
`Policies` (GetRolePolicy answers the Python text of the document, not JSON), a function's
`Layers`, `Architectures`, `TracingConfig` and `EphemeralStorage`, a table's
`PointInTimeRecoverySpecification` and `TimeToLiveSpecification`, a bucket's
`BucketEncryption` (`BucketKeyEnabled` reads false) and `PublicAccessBlockConfiguration`.

A type without a reader is not checked (NOT_CHECKED), as a type AWS cannot check for
drift is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.moto_models import is_missing


@dataclass(frozen=True)
class ReadRequest:
    """Read one resource: where it is, and which of its properties the comparison needs."""

    region: str
    physical_id: str
    #: the template's properties this reader is asked for (calls only some need are skipped)
    wanted: frozenset[str]

    def wants(self, *names: str) -> bool:
        return any(name in self.wanted for name in names)


#: the resource's properties as the service has them now; None when it no longer exists
ReadFunction = Callable[[ServiceClients, ReadRequest], dict[str, Any] | None]


@dataclass(frozen=True)
class ResourceReader:
    read: ReadFunction
    #: the properties `read` answers
    properties: frozenset[str]
    #: list properties AWS treats as sets: compared whatever their order, their elements
    #: matched by this key (None: by the whole element)
    unordered: Mapping[str, str | None] = field(default_factory=dict)


class ReadFailed(Exception):
    """The service refused the read (not "it does not exist"): the check of this resource fails."""


def missing(error: ClientError) -> bool:
    """The service's answer is "no such resource", in any of the ways AWS services word it."""
    details = error.response.get("Error", {})
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
    codes = [str(details.get("Code") or ""), str(details.get("QueryErrorCode") or "")]
    return any(code and is_missing(code, status) for code in codes)


def _read(call: Callable[[], Any]) -> Any:
    """A read call; None when the resource does not exist, ReadFailed for other refusals."""
    try:
        return call()
    except ClientError as error:
        if missing(error):
            return None
        details = error.response.get("Error", {})
        raise ReadFailed(str(details.get("Message") or details.get("Code") or error)) from error


def _tags(pairs: Mapping[str, str] | list[dict[str, str]] | None) -> list[dict[str, str]]:
    """Key/Value pairs, without the `aws:` tags AWS adds itself (drift detection ignores them)."""
    if pairs is None:
        return []
    items = pairs.items() if isinstance(pairs, Mapping) else ((pair["Key"], pair["Value"]) for pair in pairs)
    return [{"Key": key, "Value": value} for key, value in items if not key.startswith("aws:")]


def _pick(source: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named keys of `source` that have a value (an empty text counts as none)."""
    return {name: source[name] for name in names if source.get(name) not in (None, "")}


# --------------------------------------------------------------------------- AWS::SSM::Parameter
def _ssm_parameter(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    ssm = clients("ssm", request.region)
    found = _read(lambda: ssm.get_parameter(Name=request.physical_id))
    if found is None:
        return None
    parameter = found["Parameter"]
    actual = _pick(parameter, ("Name", "Type", "Value"))
    if request.wants("Description", "AllowedPattern", "Tier", "DataType"):
        described = ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [request.physical_id]}]
        )["Parameters"]
        if described:
            actual.update(_pick(described[0], ("Description", "AllowedPattern", "Tier", "DataType")))
    if request.wants("Tags"):  # a map in the type's schema
        found_tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=request.physical_id)["TagList"]
        actual["Tags"] = {pair["Key"]: pair["Value"] for pair in _tags(found_tags)}
    return actual


# --------------------------------------------------------------------------- AWS::SQS::Queue
_SQS_INTEGERS = (
    "DelaySeconds",
    "KmsDataKeyReusePeriodSeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
_SQS_BOOLEANS = ("ContentBasedDeduplication", "FifoQueue", "SqsManagedSseEnabled")
_SQS_TEXTS = ("DeduplicationScope", "FifoThroughputLimit", "KmsMasterKeyId")
_SQS_DOCUMENTS = ("RedrivePolicy", "RedriveAllowPolicy")


def _sqs_queue(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    """Queue attributes are all text in SQS's API; the type's schema has integers, booleans
    and (redrive policies) objects."""
    sqs = clients("sqs", request.region)
    url = request.physical_id
    found = _read(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))
    if found is None:
        return None
    attributes: dict[str, str] = found.get("Attributes", {})
    actual: dict[str, Any] = {"QueueName": url.rstrip("/").rsplit("/", 1)[-1]}
    actual.update({name: int(attributes[name]) for name in _SQS_INTEGERS if attributes.get(name)})
    actual.update({name: attributes[name].lower() == "true" for name in _SQS_BOOLEANS if attributes.get(name)})
    actual.setdefault("FifoQueue", False)  # SQS answers the attribute for FIFO queues only
    actual.update(_pick(attributes, _SQS_TEXTS))
    actual.update({name: json.loads(attributes[name]) for name in _SQS_DOCUMENTS if attributes.get(name)})
    if request.wants("Tags"):
        actual["Tags"] = _tags(sqs.list_queue_tags(QueueUrl=url).get("Tags"))
    return actual


# --------------------------------------------------------------------------- AWS::SNS::Topic
def _sns_topic(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    sns = clients("sns", request.region)
    arn = request.physical_id
    found = _read(lambda: sns.get_topic_attributes(TopicArn=arn))
    if found is None:
        return None
    actual: dict[str, Any] = {"TopicName": arn.rsplit(":", 1)[-1]}
    actual.update(_pick(found.get("Attributes", {}), ("DisplayName", "KmsMasterKeyId")))
    if request.wants("Subscription"):
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        actual["Subscription"] = [
            {"Endpoint": subscription["Endpoint"], "Protocol": subscription["Protocol"]}
            for subscription in subscriptions
        ]
    if request.wants("Tags"):
        actual["Tags"] = _tags(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
    return actual


# --------------------------------------------------------------------------- AWS::Lambda::Function
def _lambda_function(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    """`Code` is write-only (the handler cannot read it back): it is never compared."""
    client = clients("lambda", request.region)
    name = request.physical_id
    configuration = _read(lambda: client.get_function_configuration(FunctionName=name))
    if configuration is None:
        return None
    actual = _pick(
        configuration, ("FunctionName", "Handler", "Runtime", "Timeout", "MemorySize", "Role", "Description")
    )
    variables = (configuration.get("Environment") or {}).get("Variables")
    if variables is not None:
        actual["Environment"] = {"Variables": variables}
    if request.wants("ReservedConcurrentExecutions"):
        concurrency = client.get_function_concurrency(FunctionName=name)
        if concurrency.get("ReservedConcurrentExecutions") is not None:
            actual["ReservedConcurrentExecutions"] = concurrency["ReservedConcurrentExecutions"]
    return actual


# --------------------------------------------------------------------------- AWS::Logs::LogGroup
def _log_group(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    logs = clients("logs", request.region)
    name = request.physical_id
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next((group for group in groups if group["logGroupName"] == name), None)
    if group is None:
        return None
    actual: dict[str, Any] = {"LogGroupName": name}
    if group.get("retentionInDays") is not None:
        actual["RetentionInDays"] = group["retentionInDays"]
    if group.get("kmsKeyId"):
        actual["KmsKeyId"] = group["kmsKeyId"]
    if request.wants("Tags"):
        actual["Tags"] = _tags(logs.list_tags_log_group(logGroupName=name).get("tags"))
    return actual


# --------------------------------------------------------------------------- AWS::S3::Bucket
def _bucket(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    s3 = clients("s3", request.region)
    bucket = request.physical_id
    versioning = _read(lambda: s3.get_bucket_versioning(Bucket=bucket))
    if versioning is None:
        return None
    actual: dict[str, Any] = {"BucketName": bucket}
    if versioning.get("Status"):  # a bucket never versioned has no status
        actual["VersioningConfiguration"] = {"Status": versioning["Status"]}
    if request.wants("Tags"):
        try:
            tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchTagSet":
                raise ReadFailed(str(error.response.get("Error", {}).get("Message") or error)) from error
            tag_set = []
        actual["Tags"] = _tags(tag_set)
    return actual


# --------------------------------------------------------------------------- AWS::DynamoDB::Table
def _table(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    dynamodb = clients("dynamodb", request.region)
    found = _read(lambda: dynamodb.describe_table(TableName=request.physical_id))
    if found is None:
        return None
    table = found["Table"]
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    actual: dict[str, Any] = {
        "TableName": table["TableName"],
        "BillingMode": billing,
        "KeySchema": table.get("KeySchema", []),
        "AttributeDefinitions": table.get("AttributeDefinitions", []),
    }
    throughput = table.get("ProvisionedThroughput") or {}
    if billing == "PROVISIONED":
        actual["ProvisionedThroughput"] = _pick(throughput, ("ReadCapacityUnits", "WriteCapacityUnits"))
    stream = table.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        actual["StreamSpecification"] = {"StreamViewType": stream["StreamViewType"]}
    if table.get("DeletionProtectionEnabled") is not None:
        actual["DeletionProtectionEnabled"] = table["DeletionProtectionEnabled"]
    if request.wants("Tags"):
        actual["Tags"] = _tags(dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))
    return actual


# --------------------------------------------------------------------------- AWS::IAM::Role
def _role(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
    """The trust policy as an object (botocore decodes IAM's URL-encoded JSON)."""
    iam = clients("iam", request.region)
    name = request.physical_id
    found = _read(lambda: iam.get_role(RoleName=name))
    if found is None:
        return None
    role = found["Role"]
    actual = _pick(role, ("RoleName", "Path", "AssumeRolePolicyDocument", "MaxSessionDuration", "Description"))
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if boundary:
        actual["PermissionsBoundary"] = boundary
    actual["Tags"] = _tags(role.get("Tags"))
    return actual


_BY_KEY = {"Tags": "Key"}

READERS: Mapping[str, ResourceReader] = {
    "AWS::SSM::Parameter": ResourceReader(
        _ssm_parameter,
        frozenset({"Name", "Type", "Value", "Description", "AllowedPattern", "Tier", "DataType", "Tags"}),
    ),
    "AWS::SQS::Queue": ResourceReader(
        _sqs_queue,
        frozenset({"QueueName", "Tags", *_SQS_INTEGERS, *_SQS_BOOLEANS, *_SQS_TEXTS, *_SQS_DOCUMENTS}),
        _BY_KEY,
    ),
    "AWS::SNS::Topic": ResourceReader(
        _sns_topic,
        frozenset({"TopicName", "DisplayName", "KmsMasterKeyId", "Subscription", "Tags"}),
        {"Subscription": None, **_BY_KEY},
    ),
    "AWS::Lambda::Function": ResourceReader(
        _lambda_function,
        frozenset(
            {
                "FunctionName",
                "Handler",
                "Runtime",
                "Timeout",
                "MemorySize",
                "Role",
                "Description",
                "Environment",
                "ReservedConcurrentExecutions",
            }
        ),
    ),
    "AWS::Logs::LogGroup": ResourceReader(
        _log_group, frozenset({"LogGroupName", "RetentionInDays", "KmsKeyId", "Tags"}), _BY_KEY
    ),
    "AWS::S3::Bucket": ResourceReader(_bucket, frozenset({"BucketName", "VersioningConfiguration", "Tags"}), _BY_KEY),
    "AWS::DynamoDB::Table": ResourceReader(
        _table,
        frozenset(
            {
                "TableName",
                "BillingMode",
                "ProvisionedThroughput",
                "KeySchema",
                "AttributeDefinitions",
                "StreamSpecification",
                "DeletionProtectionEnabled",
                "Tags",
            }
        ),
        {"AttributeDefinitions": "AttributeName", **_BY_KEY},
    ),
    "AWS::IAM::Role": ResourceReader(
        _role,
        frozenset(
            {
                "RoleName",
                "Path",
                "AssumeRolePolicyDocument",
                "MaxSessionDuration",
                "Description",
                "PermissionsBoundary",
                "Tags",
            }
        ),
        _BY_KEY,
    ),
}
