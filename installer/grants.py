"""The CloudFormation service role's grants, derived from the release's templates.

CloudFormation creates, reads, updates, deletes (and lists) each resource of a stage stack with
the stack's service role, and the registry documents what each type's handlers call: the
`handlers.<create|read|update|delete|list>.permissions` of the type's schema
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html).
The role may do the union of them over every resource type of every template the release may
deploy (every stage, every variant), no more. The schemas are the registry's own as cfn-lint
(pinned) ships them, read through its schema manager; a type they give no handlers (CDK's
metadata, custom resources, what a transform expands) needs a row of `WITHOUT_HANDLERS`, and a
type with neither fails the build, named.

IAM is granted by name, as CloudFormation names what it creates: a role, policy or instance
profile the templates name literally by its own name, any other by the installation's prefix
(`<ResourcePrefix>-<EnvName>-*`, the stage stacks' names, which start the names CloudFormation
generates); the service-linked roles under `aws-service-role/`; IAM's actions that take no
resource (a list) on `*`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from blueprints.dataall import rules
from installer.build import BuildError

if TYPE_CHECKING:
    from bootstrap_stack import StageGrants

#: The schemas of one Region stand for all (as `sandbox.cloudformation.resource_schemas`).
SCHEMA_REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")
#: An IAM action: a policy refuses anything else, and a few schemas list S3's REST operations too
#: (AWS::Logs::LogGroup's `s3:REST.PUT.OBJECT`), which no policy can grant: they are left out, as
#: are the API operations a schema lists that IAM defines no action for (`iam_defines`).
ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9]+")
#: Services whose API lives in one Region whatever the stack's (aws:RequestedRegion is us-east-1).
GLOBAL_SERVICES = frozenset({"cloudfront", "organizations", "route53", "waf", "shield"})
#: IAM's actions on service-linked roles (`role/aws-service-role/...`), which no prefix names.
SERVICE_LINKED_ROLE_ACTIONS = frozenset(
    {"iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:GetServiceLinkedRoleDeletionStatus"}
)
#: The IAM types whose names the grants follow, and the name property of each.
IAM_NAMES = {
    "AWS::IAM::Role": ("role", "RoleName"),
    "AWS::IAM::ManagedPolicy": ("policy", "ManagedPolicyName"),
    "AWS::IAM::InstanceProfile": ("instance-profile", "InstanceProfileName"),
}


@dataclass(frozen=True)
class WithoutHandlers:
    """What the service role needs for a type whose schema documents no handler permissions."""

    actions: tuple[str, ...]
    #: the types it deploys in turn (a nested stack's, which the release does not hold)
    deploys: tuple[str, ...]
    why: str


_CUSTOM = WithoutHandlers(
    ("lambda:InvokeFunction",),
    (),
    "CloudFormation invokes the custom resource's ServiceToken (a Lambda function) with the stack's role",
)
#: Types without handler permissions in the registry, and what they need instead.
WITHOUT_HANDLERS: Mapping[str, WithoutHandlers] = {
    "AWS::CDK::Metadata": WithoutHandlers((), (), "CDK's analytics metadata: CloudFormation only records it"),
    "AWS::CloudFormation::WaitConditionHandle": WithoutHandlers((), (), "CloudFormation's own presigned URL"),
    "AWS::CloudFormation::WaitCondition": WithoutHandlers((), (), "CloudFormation's own wait"),
    "AWS::CloudFormation::CustomResource": _CUSTOM,
    # The SAM transform makes it a nested stack of the application's template, from the Serverless
    # Application Repository; CDK's SecretRotation (data.all's Aurora secret) deploys AWS's rotation
    # application, a Lambda function with its role and its invoke permission.
    "AWS::Serverless::Application": WithoutHandlers(
        (
            "serverlessrepo:CreateCloudFormationTemplate",
            "serverlessrepo:GetApplication",
            "serverlessrepo:GetCloudFormationTemplate",
        ),
        ("AWS::CloudFormation::Stack", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Lambda::Permission"),
        "the SAM transform's nested application (AWS's secret rotation function)",
    ),
}
#: `Custom::<name>` types are custom resources (AWS::CloudFormation::CustomResource).
CUSTOM_PREFIX = "Custom::"
#: The transforms a stage may declare, and the types they add to the template: CloudFormation runs them.
#: SAM's types are in the template already; the Secrets Manager transform makes a rotation schedule's
#: `HostedRotationLambda` a rotation application of the Serverless Application Repository
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-secretsmanager.html).
TRANSFORMS: Mapping[str, tuple[str, ...]] = {
    "AWS::Serverless-2016-10-31": (),
    "AWS::SecretsManager-2020-07-23": ("AWS::Serverless::Application",),
}


@cache
def handler_permissions(resource_type: str) -> frozenset[str] | None:
    """The permissions the registry documents for the type's handlers, or None (no schema, or
    a schema without handlers). Service prefixes lower case (`CloudTrail:` is `cloudtrail:`)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    except ResourceNotFoundError:
        return None
    handlers = schema.get("handlers") or {}
    found = {
        _normal(permission)
        for name in HANDLERS
        for permission in (handlers.get(name) or {}).get("permissions", [])
        if ACTION.fullmatch(permission) and iam_defines(permission)
    }
    return frozenset(found) if handlers else None


def _normal(action: str) -> str:
    service, _, name = action.partition(":")
    return f"{service.lower()}:{name}"


@cache
def _defined_actions() -> frozenset[str]:
    """Every action of the Service Authorization Reference, lower case, as cfn-lint ships it."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    services = load_resource(AdditionalSpecs, "Policies.json")
    return frozenset(f"{service}:{name}".lower() for service, spec in services.items() for name in spec["Actions"])


def iam_defines(action: str) -> bool:
    """Whether IAM defines the action. A few schemas list an API operation that another action
    authorizes (S3::Bucket's `s3:DeleteBucketCors`, which `s3:PutBucketCORS` does): a policy that
    names it grants nothing (and cfn-lint warns, W3037), so it is left out."""
    return action.lower() in _defined_actions()


@cache
def _unscoped_iam_actions() -> frozenset[str]:
    """IAM's actions that take no resource type (the Service Authorization Reference, as cfn-lint
    ships it): a policy may grant them only on `*`."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    actions = load_resource(AdditionalSpecs, "Policies.json")["iam"]["Actions"]
    return frozenset(f"iam:{name}".lower() for name, spec in actions.items() if not spec.get("Resources"))


def type_permissions(resource_type: str) -> frozenset[str]:
    """What the service role needs for one type: its handlers', else its `WITHOUT_HANDLERS` row
    (with the types that row deploys); a type with neither is a BuildError naming it."""
    return _type_permissions(resource_type, ())


def _type_permissions(resource_type: str, seen: tuple[str, ...]) -> frozenset[str]:
    documented = handler_permissions(resource_type)
    if documented is not None:
        return documented
    row = _CUSTOM if resource_type.startswith(CUSTOM_PREFIX) else WITHOUT_HANDLERS.get(resource_type)
    if row is None:
        raise BuildError(
            f"resource type {resource_type}: the CloudFormation registry documents no handler permissions for it "
            "and installer.grants.WITHOUT_HANDLERS has no row for it, so the service role's grants for it are unknown"
        )
    found = set(row.actions)
    for deployed in row.deploys:
        if deployed not in seen:
            found |= _type_permissions(deployed, (*seen, resource_type))
    return frozenset(found)


def stage_grants(templates: Mapping[str, Mapping[str, Any]]) -> StageGrants:
    """The service role's grants for every template the release may deploy (`file name -> template`)."""
    from bootstrap_stack import StageGrants

    actions: set[str] = set()
    named: set[str] = set()
    service_linked: set[str] = set()
    for file_name, template in sorted(templates.items()):
        for transform in _transforms(template):
            if transform not in TRANSFORMS:
                raise BuildError(f"{file_name}: transform {transform} is not one the installer knows (TRANSFORMS)")
            for expanded in TRANSFORMS[transform]:
                actions |= type_permissions(expanded)
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            resource_type = str(resource.get("Type", ""))
            try:
                needed = type_permissions(resource_type)
            except BuildError as error:
                raise BuildError(f"{file_name} {logical_id}: {error}") from None
            actions |= needed
            if resource_type == "AWS::IAM::ServiceLinkedRole":
                service_linked |= {a for a in needed if a.startswith("iam:")}
            named |= _iam_name(file_name, logical_id, resource)
    actions = _one_spelling(actions)
    iam = {a for a in actions if a.startswith("iam:")}
    others = actions - iam
    service_linked |= iam & SERVICE_LINKED_ROLE_ACTIONS
    unscoped = {a for a in iam if a.lower() in _unscoped_iam_actions()}
    return StageGrants(
        regional=tuple(sorted(a for a in others if a.partition(":")[0] not in GLOBAL_SERVICES)),
        global_actions=tuple(sorted(a for a in others if a.partition(":")[0] in GLOBAL_SERVICES)),
        iam=tuple(sorted(iam - SERVICE_LINKED_ROLE_ACTIONS - unscoped)),
        iam_names=tuple(sorted(named)),
        service_linked_roles=tuple(sorted(service_linked)),
        unscoped_iam=tuple(sorted(unscoped)),
    )


def _one_spelling(actions: set[str]) -> set[str]:
    """One spelling of each action: IAM's action names ignore case, and the schemas write some twice
    (`cloudfront:UpdateDistribution`, `cloudfront:updateDistribution`); the first in sort order wins."""
    chosen: dict[str, str] = {}
    for action in sorted(actions):
        chosen.setdefault(action.lower(), action)
    return set(chosen.values())


def _transforms(template: Mapping[str, Any]) -> list[str]:
    transform = template.get("Transform")
    if transform is None:
        return []
    items = transform if isinstance(transform, list) else [transform]
    return [item if isinstance(item, str) else str(item.get("Name")) for item in items]


#: The stage parameters that carry the installation's prefix (the bootstrap stack's own).
PREFIX_PARAMETERS = ({"Ref": "ResourcePrefix"}, {"Ref": "EnvName"})


def _under_prefix(name: Any) -> bool:
    """A name the template computes as `<ResourcePrefix>-<EnvName>-...` (Fn::Join or Fn::Sub)."""
    if not isinstance(name, dict) or len(name) != 1:
        return False
    if "Fn::Join" in name:
        separator, parts = name["Fn::Join"]
        head = parts[:2] if separator == "-" else []
        return len(parts) > 2 and tuple(head) == PREFIX_PARAMETERS
    if "Fn::Sub" in name:
        text = name["Fn::Sub"] if isinstance(name["Fn::Sub"], str) else name["Fn::Sub"][0]
        return isinstance(text, str) and text.startswith("${ResourcePrefix}-${EnvName}-")
    return False


def _iam_name(file_name: str, logical_id: str, resource: Mapping[str, Any]) -> set[str]:
    """`{"role/<name>"}` for an IAM resource the template names literally (CloudFormation names the
    others after the stack: under the installation's prefix); a path or a computed name is refused."""
    kind = IAM_NAMES.get(str(resource.get("Type")))
    if kind is None:
        return set()
    properties = resource.get("Properties") or {}
    path = properties.get("Path", "/")
    if path != "/":
        raise BuildError(
            f"{file_name} {logical_id}: {resource['Type']} with Path {path!r}: the service role grants IAM "
            "on names at the root path only"
        )
    name = properties.get(kind[1])
    if name is None:
        return set()
    if _under_prefix(name):
        return set()
    if isinstance(name, dict) and "Fn::Sub" in name:
        # a name of the installation's names that is not under its prefix (`dataall-…-role-${EnvName}`)
        with contextlib.suppress(rules.RuleError):
            name = rules.name_template(name)
    if not isinstance(name, str):
        raise BuildError(
            f"{file_name} {logical_id}: {resource['Type']} {kind[1]} is computed ({name!r}): the service role "
            "grants IAM on literal names and on the installation's prefix only"
        )
    return {f"{kind[0]}/{name}"}
