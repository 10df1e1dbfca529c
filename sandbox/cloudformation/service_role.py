"""A stack's service role, checked before each resource handler runs, as AWS's handlers call with it.

AWS: "If a service role is defined for the stack, then CloudFormation assumes this role"; a role
that lacks an action fails the resource with "User: [IAM Role] is not authorized to perform:
ec2:RunInstances on resource: [Resource Id] because no identity-based policy allows the
ec2:RunInstances action" (https://repost.aws/knowledge-center/cfn-resolve-missing-permissions).
What each handler calls is the registry's schema of the type: `handlers.<create|update|delete>.
permissions` (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html).

The sandbox asks the role for every permission the handler lists (AWS's handlers may call fewer,
by the properties given: the check is the stricter), on `*` for every service but IAM, whose actions
it asks on the IAM resource the request names (the role, policy or instance profile it makes, the
roles an inline policy goes to or a resource is given, the service-linked role), and with the
request's Region (`aws:RequestedRegion`, us-east-1 for the global services). A custom resource's
handler is its ServiceToken: `lambda:InvokeFunction` on it. Other types without handler permissions
are not checked; nor is a stack without a role, or with a role the account does not have.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sandbox import moto_internals
from sandbox.cloudformation.resource_schemas import schema

#: An IAM action (a few schemas list S3's REST operations too, which no policy grants).
ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9]+")
#: Services whose requests name us-east-1 whatever the stack's Region.
GLOBAL_SERVICES = frozenset({"iam", "cloudfront", "organizations", "route53", "waf", "shield"})
SERVICE_LINKED = frozenset({"iam:createservicelinkedrole", "iam:deleteservicelinkedrole"})
#: IAM's types whose ARN a request names: the kind and the name property (else the generated name).
IAM_KINDS = {
    "AWS::IAM::Role": ("role", "RoleName"),
    "AWS::IAM::ManagedPolicy": ("policy", "ManagedPolicyName"),
    "AWS::IAM::InstanceProfile": ("instance-profile", "InstanceProfileName"),
}
ROLE_ARN = re.compile(r"arn:[a-z-]+:iam::\d{12}:role/[\w+=,.@/-]+")
CUSTOM_TYPES = ("Custom::", "AWS::CloudFormation::CustomResource")


def handler_actions(resource_type: str, handler: str) -> tuple[str, ...] | None:
    """The permissions the registry lists for one handler of the type (None: no schema or handler)."""
    found = schema(resource_type)
    handlers = (found or {}).get("handlers") or {}
    if handler not in handlers:
        return None
    permissions = handlers[handler].get("permissions", [])
    return tuple(dict.fromkeys(p for p in permissions if ACTION.fullmatch(p) and _defined(p)))


@lru_cache(maxsize=1)
def _defined_actions() -> frozenset[str]:
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    services = load_resource(AdditionalSpecs, "Policies.json")
    return frozenset(f"{service}:{name}".lower() for service, spec in services.items() for name in spec["Actions"])


def _defined(action: str) -> bool:
    """Whether IAM defines the action (the Service Authorization Reference, as cfn-lint ships it): a
    schema's API operation that another action authorizes (`s3:DeleteBucketCors`) is not asked for."""
    return action.lower() in _defined_actions()


class _Statement:
    """One statement of the role's policies, its exact actions apart (a set) from its patterns."""

    def __init__(self, statement: Mapping[str, Any]) -> None:
        self.allow = statement.get("Effect") == "Allow"
        self.not_actions = "NotAction" in statement
        actions = [a.lower() for a in _listed(statement.get("NotAction" if self.not_actions else "Action", []))]
        self.exact = frozenset(a for a in actions if "*" not in a and "?" not in a)
        self.patterns = tuple(a for a in actions if a not in self.exact)
        self.not_resources = "NotResource" in statement
        self.resources = _listed(statement.get("NotResource" if self.not_resources else "Resource", []))
        self.condition = dict(statement.get("Condition") or {})

    def applies(self, action: str, resource: str, context: dict[str, str]) -> bool:
        matched = action in self.exact or any(fnmatch.fnmatchcase(action, p) for p in self.patterns)
        if matched == self.not_actions:
            return False
        matched = any(fnmatch.fnmatchcase(resource, pattern) for pattern in self.resources)
        if matched == self.not_resources:
            return False
        return not self.condition or moto_internals.conditions_match(self.condition, context)


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


@lru_cache(maxsize=64)
def parse_policies(documents: tuple[str, ...]) -> tuple[_Statement, ...]:
    return tuple(
        _Statement(statement)
        for document in documents
        for statement in _listed_dicts(json.loads(document).get("Statement", []))
    )


def _listed_dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]


def allowed(statements: Iterable[_Statement], action: str, resource: str, context: dict[str, str]) -> bool:
    """IAM's evaluation within one account: an explicit deny wins, else an allow, else denied."""
    action = action.lower()
    applying = [s for s in statements if s.applies(action, resource, context)]
    return any(s.allow for s in applying) and not any(not s.allow for s in applying)


def _iam_resources(
    action: str, resource_type: str, properties: Mapping[str, Any], physical_name: str, account: str, partition: str
) -> list[str]:
    def arn(kind: str, name: str) -> str:
        return f"arn:{partition}:iam::{account}:{kind}/{name}"

    if action.lower() in SERVICE_LINKED or resource_type == "AWS::IAM::ServiceLinkedRole":
        service = properties.get("AWSServiceName") or f"{resource_type.split('::')[1].lower()}.amazonaws.com"
        return [arn("role", f"aws-service-role/{service}/AWSServiceRole")]
    if resource_type in IAM_KINDS:
        kind, name_property = IAM_KINDS[resource_type]
        path = str(properties.get("Path") or "/").strip("/")
        name = str(properties.get(name_property) or physical_name)
        return [arn(kind, f"{path}/{name}" if path else name)]
    if resource_type == "AWS::IAM::Policy":
        return [arn("role", str(name)) for name in properties.get("Roles") or []]
    return sorted(set(ROLE_ARN.findall(json.dumps(properties))))


def denial(
    role_arn: str | None,
    resource_type: str,
    handler: str,
    properties: Mapping[str, Any],
    physical_name: str,
    *,
    region: str,
) -> str | None:
    """The resource's failure reason when the stack's role may not do what the handler calls, else None."""
    if not role_arn:
        return None
    documents = moto_internals.role_policy_documents(role_arn)
    if documents is None:
        return None
    statements = parse_policies(tuple(documents))
    partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
    if resource_type.startswith(CUSTOM_TYPES):
        token = str(properties.get("ServiceToken", ""))
        if ":lambda:" not in token:
            return None
        checks = [("lambda:InvokeFunction", token, token.split(":")[3])]
    else:
        actions = handler_actions(resource_type, handler)
        if actions is None:
            return None
        checks = []
        for action in actions:
            service = action.partition(":")[0].lower()
            requested = "us-east-1" if service in GLOBAL_SERVICES else region
            if service != "iam":
                checks.append((action, "*", requested))
                continue
            for resource in _iam_resources(action, resource_type, properties, physical_name, account, partition):
                checks.append((action, resource, requested))
    for action, resource, requested in checks:
        context = {**moto_internals.REQUEST_CONTEXT, "aws:RequestedRegion": requested}
        if not allowed(statements, action, resource, context):
            return access_denied(role_arn, action, resource)
    return None


def access_denied(role_arn: str, action: str, resource: str) -> str:
    """AWS's words for a handler call the stack's role may not make."""
    partition, account, name = role_arn.split(":")[1], role_arn.split(":")[4], role_arn.rpartition("/")[2]
    message = (
        f"User: arn:{partition}:sts::{account}:assumed-role/{name}/AWSCloudFormation is not authorized to "
        f"perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
    return (
        f'Resource handler returned message: "{message} (Service: {action.partition(":")[0]}, Status Code: 403, '
        f'Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: AccessDenied)'
    )
