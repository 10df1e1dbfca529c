"""The pivot role's custom resources as AWS calls.

`Custom::PivotRoleExternalId` keeps the external id in an SSM SecureString (CloudFormation
cannot create those). `Custom::PivotRole` converges the role, its trust policy and its
managed policies in IAM on what the properties say, and rolls the same role out to the
environment accounts through a self-managed StackSet. Every request converges, so a
retried request, the Update of a CloudFormation rollback (the old properties again) and a
Delete of something already gone all end where the properties say.

Ownership is a tag naming the stack: a role, policy, parameter or StackSet that exists
without it is never adopted on Create nor removed on Delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from botocore.exceptions import ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from lambdas.core.cfn_response import Deadline, Outcome
from lambdas.core.observability import logger
from lambdas.data import aws
from lambdas.pivot_role.policies import (
    MAX_MANAGED_POLICIES,
    MAX_TEMPLATE_BODY_BYTES,
    PolicyError,
    characters,
    check_placeholders,
    environment_template,
    fingerprint,
    minified,
    policy_name,
    policy_number,
    resolver,
    split,
    statements_of,
    substitute,
    trust_policy,
)

EXTERNAL_ID_TYPE = "Custom::PivotRoleExternalId"
PIVOT_ROLE_TYPE = "Custom::PivotRole"

OWNER_TAG = "dataall-installer:stack-id"
ROLE_TAG = "dataall-installer:pivot-role"
REVISION_TAG = "dataall-installer:revision"

DEFAULT_ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
#: StackSet waits give up this long before Lambda's timeout: the failure then names the
#: operation, and still comes before the watchdog's (cfn_response.WATCHDOG_MARGIN_SECONDS).
STACK_SET_MARGIN_SECONDS = 25.0
POLL_SECONDS = (2.0, 3.0, 5.0, 8.0, 10.0)

_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PARAMETER_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1010}$")
_RUNNING = ("RUNNING", "QUEUED", "STOPPING")
_FINISHED = ("SUCCEEDED", "FAILED", "STOPPED")


class ProviderError(Exception):
    """A request the provider refuses or cannot complete; the message is the reason."""


class ForeignResource(ProviderError):
    """Something of that name exists and belongs to someone else."""


class StackSetOperationFailed(ProviderError):
    """A StackSet operation ended FAILED or STOPPED."""


class OutOfTime(ProviderError):
    """The work would outlive the Lambda; the reason says what is still running."""


# ---------------------------------------------------------------------- clients
@dataclass(frozen=True)
class Services:
    iam: Any
    ssm: Any
    cloudformation: Any
    s3: Any
    partition: str
    account_id: str
    region: str
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_context(cls, context: Any) -> Services:
        arn = str(getattr(context, "invoked_function_arn", "") or "")
        parts = arn.split(":")
        if len(parts) > 4 and parts[4]:
            partition, region, account_id = parts[1], parts[3], parts[4]
        else:
            identity = aws.client("sts").get_caller_identity()
            partition, account_id = identity["Arn"].split(":")[1], identity["Account"]
            region = os.environ.get("AWS_REGION", "")
        return cls(
            iam=aws.client("iam"),
            ssm=aws.client("ssm"),
            cloudformation=aws.client("cloudformation"),
            s3=aws.client("s3"),
            partition=partition,
            account_id=account_id,
            region=os.environ.get("AWS_REGION") or region,
        )

    def arn(self, service: str, resource: str, *, region: str = "", account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account_id if account is None else account}:{resource}"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _tags(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


# ---------------------------------------------------------------------- properties
def _names(value: Any) -> list[str]:
    """A list property: CloudFormation gives a list, a parameter often a comma-separated text."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


Names = Annotated[list[str], BeforeValidator(_names)]


class _Properties(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def parse(cls, properties: Any, what: str) -> Self:
        try:
            return cls.model_validate(properties or {})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc']) or '(properties)'}: {e['msg']}" for e in error.errors()
            )
            raise ProviderError(f"{what} properties: {problems}") from None


class ExternalIdProperties(_Properties):
    parameter_name: str = Field(alias="ParameterName", pattern=_PARAMETER_NAME.pattern)
    key_id: str = Field("", alias="KeyId")
    retain: bool = Field(False, alias="Retain")
    description: str = Field("External id of the data platform's pivot role", alias="Description", max_length=1024)


class PivotRoleProperties(_Properties):
    role_name: str = Field(alias="RoleName", pattern=_ROLE_NAME.pattern)
    external_id_parameter: str = Field(alias="ExternalIdParameter", pattern=_PARAMETER_NAME.pattern)
    resource_prefix: str = Field("", alias="ResourcePrefix")
    env_name: str = Field("", alias="EnvName")
    trusted_account_id: str = Field("", alias="TrustedAccountId", pattern=r"^(\d{12})?$")
    trusted_role_patterns: Names = Field(alias="TrustedRolePatterns", min_length=1)
    trusted_services: Names = Field(default_factory=list, alias="TrustedServices")
    policy_documents: list[dict[str, Any]] = Field(alias="PolicyDocuments", min_length=1)
    max_session_duration: int = Field(3600, alias="MaxSessionDuration", ge=3600, le=43200)
    description: str = Field("The data platform's pivot role", alias="Description", max_length=1000)
    environment_accounts: Names = Field(default_factory=list, alias="EnvironmentAccounts")
    environment_regions: Names = Field(default_factory=list, alias="EnvironmentRegions")
    stack_set_name: str = Field("", alias="StackSetName", pattern=r"^([A-Za-z][A-Za-z0-9-]{0,127})?$")
    administration_role_arn: str = Field("", alias="AdministrationRoleARN")
    execution_role_name: str = Field(DEFAULT_EXECUTION_ROLE, alias="ExecutionRoleName", pattern=_ROLE_NAME.pattern)
    template_bucket: str = Field("", alias="TemplateBucket")

    @field_validator("trusted_role_patterns")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not re.fullmatch(r"[\w+=,.@*?/-]{1,64}", pattern):
                raise ValueError(f"{pattern!r} is not a role-name pattern")
        return patterns

    @field_validator("trusted_services")
    @classmethod
    def _services(cls, services: list[str]) -> list[str]:
        for service in services:
            if not re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", service):
                raise ValueError(f"{service!r} is not a service principal")
        return services

    @field_validator("environment_accounts")
    @classmethod
    def _accounts(cls, accounts: list[str]) -> list[str]:
        for account in accounts:
            if not re.fullmatch(r"\d{12}", account):
                raise ValueError(f"{account!r} is not an AWS account id")
        return sorted(set(accounts))

    @field_validator("environment_regions")
    @classmethod
    def _regions(cls, regions: list[str]) -> list[str]:
        if len(regions) > 1:
            raise ValueError(
                "IAM roles are global to an account, so the pivot role's StackSet instances live in one region: "
                "list one"
            )
        for region in regions:
            if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                raise ValueError(f"{region!r} is not an AWS region")
        return regions


# ---------------------------------------------------------------------- dispatch
def handle(event: Mapping[str, Any], services: Services, deadline: Deadline) -> Outcome:
    """Serve one CloudFormation request for either resource type."""
    kind = event.get("ResourceType")
    if kind == EXTERNAL_ID_TYPE:
        return ExternalIds(services).handle(event)
    if kind == PIVOT_ROLE_TYPE:
        return PivotRoles(services, deadline, str(event.get("RequestId", ""))).handle(event)
    raise ProviderError(f"this provider serves {EXTERNAL_ID_TYPE} and {PIVOT_ROLE_TYPE}, not {kind}")


def failed_physical_id(event: Mapping[str, Any]) -> str:
    """What a FAILED answer names. A failed Create names what it may have created, so that
    the rollback's Delete removes it (Delete removes only what carries this stack's tag)."""
    if event.get("PhysicalResourceId"):
        return str(event["PhysicalResourceId"])
    properties = event.get("ResourceProperties") or {}
    kind = event.get("ResourceType")
    role, parameter = str(properties.get("RoleName", "")), str(properties.get("ParameterName", ""))
    if kind == PIVOT_ROLE_TYPE and _ROLE_NAME.match(role):
        return role
    if kind == EXTERNAL_ID_TYPE and _PARAMETER_NAME.match(parameter):
        return parameter
    return f"{event.get('LogicalResourceId', 'Resource')}-failed-{str(event.get('RequestId', ''))[:8]}"


# ---------------------------------------------------------------------- external id
class ExternalIds:
    """The external id: generated once, kept in an SSM SecureString, stable across updates."""

    def __init__(self, services: Services) -> None:
        self.ssm = services.ssm
        self.services = services

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        request, owner = event["RequestType"], str(event["StackId"])
        if request == "Delete":
            physical = str(event.get("PhysicalResourceId", ""))
            retain = str((event.get("ResourceProperties") or {}).get("Retain", "")).lower() == "true"
            self.delete(physical, owner, retain=retain)
            return Outcome(physical)
        props = ExternalIdProperties.parse(event.get("ResourceProperties"), EXTERNAL_ID_TYPE)
        previous = str(event.get("PhysicalResourceId", "")) if request == "Update" else ""
        old_key = str((event.get("OldResourceProperties") or {}).get("KeyId", ""))
        self.ensure(props, owner, copy_from=previous, rekey=request == "Update" and old_key != props.key_id)
        name = props.parameter_name
        arn = self.services.arn("ssm", f"parameter{name}", region=self.services.region)
        return Outcome(name, {"ParameterName": name, "ParameterArn": arn})

    def ensure(self, props: ExternalIdProperties, owner: str, *, copy_from: str = "", rekey: bool = False) -> None:
        name = props.parameter_name
        current = self.value(name)
        # A renamed parameter keeps the id: the roles in the environment accounts trust it.
        source = self.value(copy_from) if copy_from and copy_from != name else None
        value = source or current or secrets.token_urlsafe(32)
        if current is None or value != current or rekey:
            arguments: dict[str, Any] = {
                "Name": name,
                "Value": value,
                "Type": "SecureString",
                "Description": props.description,
                "Tier": "Standard",
                "Overwrite": current is not None,
            }
            if props.key_id:
                arguments["KeyId"] = props.key_id
            self.ssm.put_parameter(**arguments)
            logger.info("stored the external id", extra={"parameter": name, "new": current is None})
        self.ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=name, Tags=[{"Key": OWNER_TAG, "Value": owner}]
        )

    def value(self, name: str) -> str | None:
        try:
            return str(self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as error:
            if _code(error) == "ParameterNotFound":
                return None
            raise

    def delete(self, name: str, owner: str, *, retain: bool) -> None:
        if retain:
            logger.info("the external id is retained (Retain=true)", extra={"parameter": name})
            return
        if not _PARAMETER_NAME.match(name):
            return
        try:
            tags = _tags(self.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"])
        except ClientError as error:
            if _code(error) in ("InvalidResourceId", "ParameterNotFound"):
                return
            raise
        if tags.get(OWNER_TAG) != owner:
            logger.warning("the parameter belongs to another stack; kept", extra={"parameter": name})
            return
        try:
            self.ssm.delete_parameter(Name=name)
        except ClientError as error:
            if _code(error) != "ParameterNotFound":
                raise
        logger.info("deleted the external id", extra={"parameter": name})


# ---------------------------------------------------------------------- pivot role
@dataclass(frozen=True)
class Environments:
    """The StackSet that rolls the pivot role out to the environment accounts."""

    name: str
    accounts: tuple[str, ...]
    region: str
    template: dict[str, Any]
    external_id: str
    administration_role_arn: str
    execution_role_name: str
    template_bucket: str

    @property
    def body(self) -> str:
        return minified(self.template)

    @property
    def revision(self) -> str:
        return fingerprint(self.body, self.external_id, self.administration_role_arn, self.execution_role_name)


@dataclass(frozen=True)
class RolePlan:
    """Everything a Create or Update will make, computed and checked before any change."""

    props: PivotRoleProperties
    trust: dict[str, Any]
    documents: list[dict[str, Any]]
    environments: Environments | None


@dataclass
class Journal:
    """What this request created, for the cleanup of a failed replacement."""

    created_role: bool = False


class PivotRoles:
    def __init__(self, services: Services, deadline: Deadline, request_id: str = "") -> None:
        self.services = services
        self.iam = services.iam
        self.stack_sets = StackSets(services, deadline, request_id)

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        request, owner = event["RequestType"], str(event["StackId"])
        if request == "Delete":
            physical = str(event.get("PhysicalResourceId", ""))
            stack_set = _stack_set_of(event.get("ResourceProperties"))
            if stack_set:
                self.stack_sets.remove(stack_set, owner, role_name=physical)
            self.delete_role(physical, owner)
            return Outcome(physical)
        props = PivotRoleProperties.parse(event.get("ResourceProperties"), PIVOT_ROLE_TYPE)
        plan = self.plan(props)
        previous = str(event.get("PhysicalResourceId", "")) if request == "Update" else ""
        journal = Journal()
        try:
            return self.converge(plan, owner, journal, _stack_set_of(event.get("OldResourceProperties")))
        except Exception:
            if previous and previous != props.role_name and journal.created_role:
                # A failed replacement: CloudFormation keeps the old role and will not
                # delete the new one, which no physical id names.
                self._discard(props.role_name, owner)
            raise

    # ------------------------------------------------------------------ plan
    def plan(self, props: PivotRoleProperties) -> RolePlan:
        services = self.services
        trusted_account = props.trusted_account_id or services.account_id
        external_id = self._external_id(props.external_id_parameter)
        try:
            statements = statements_of(props.policy_documents)
            check_placeholders(statements)
            static = {
                "ResourcePrefix": props.resource_prefix,
                "EnvName": props.env_name,
                "PivotRoleName": props.role_name,
                "PlatformAccountId": trusted_account,
            }
            here = resolver(
                {**static, "Partition": services.partition, "AccountId": services.account_id, "Region": services.region}
            )
            documents = [
                here({"Version": "2012-10-17", "Statement": group}) for group in split(statements, resolve=here)
            ]
            environments = self._environments(props, statements, static, trusted_account, external_id)
        except PolicyError as error:
            raise ProviderError(f"role {props.role_name}: {error}") from None
        trust = trust_policy(
            partition=services.partition,
            trusted_account_id=trusted_account,
            role_patterns=props.trusted_role_patterns,
            external_id=external_id,
            services=props.trusted_services,
        )
        return RolePlan(props=props, trust=trust, documents=documents, environments=environments)

    def _environments(
        self,
        props: PivotRoleProperties,
        statements: list[dict[str, Any]],
        static: dict[str, str],
        trusted_account: str,
        external_id: str,
    ) -> Environments | None:
        if not props.environment_accounts:
            return None
        if not props.stack_set_name:
            raise ProviderError("StackSetName is required when EnvironmentAccounts are listed")
        if trusted_account in props.environment_accounts or self.services.account_id in props.environment_accounts:
            raise ProviderError(
                f"the platform's account {self.services.account_id} has its pivot role already: "
                "list only other accounts in EnvironmentAccounts"
            )
        region = (props.environment_regions or [self.services.region])[0]
        # One template serves every account: sized with the longest account id and region.
        widest = resolver({**static, "Partition": self.services.partition, "AccountId": "0" * 12, "Region": region})
        groups = split([substitute(s, static) for s in statements], resolve=widest)
        template = environment_template(
            role_name=props.role_name,
            policies=groups,
            platform_account_id=trusted_account,
            role_patterns=props.trusted_role_patterns,
            services=props.trusted_services,
            max_session_duration=props.max_session_duration,
        )
        admin = props.administration_role_arn or self.services.arn("iam", f"role/{DEFAULT_ADMINISTRATION_ROLE}")
        return Environments(
            name=props.stack_set_name,
            accounts=tuple(props.environment_accounts),
            region=region,
            template=template,
            external_id=external_id,
            administration_role_arn=admin,
            execution_role_name=props.execution_role_name,
            template_bucket=props.template_bucket,
        )

    def _external_id(self, parameter: str) -> str:
        try:
            value = self.services.ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as error:
            if _code(error) == "ParameterNotFound":
                raise ProviderError(
                    f"the external id parameter {parameter} does not exist: the {EXTERNAL_ID_TYPE} resource "
                    "creates it, and the pivot role should name that resource (Ref) in ExternalIdParameter"
                ) from None
            raise
        return str(value)

    # ------------------------------------------------------------------ converge
    def converge(self, plan: RolePlan, owner: str, journal: Journal, old_stack_set: str = "") -> Outcome:
        """Make the role match the plan; `old_stack_set` is the StackSet the previous
        properties rolled out, removed unless the plan still uses it."""
        props = plan.props
        role_arn = self._ensure_role(plan, owner, journal)
        policies = self._converge_policies(props.role_name, plan.documents, owner)
        if old_stack_set and (plan.environments is None or plan.environments.name != old_stack_set):
            # First: a renamed StackSet's instances create roles of the same names.
            self.stack_sets.remove(old_stack_set, owner)
        if plan.environments is not None:
            self.stack_sets.converge(plan.environments, owner, props.role_name)
        data = {
            "RoleName": props.role_name,
            "RoleArn": role_arn,
            "PolicyNames": ",".join(name for name, _ in policies),
            "PolicyArns": ",".join(arn for _, arn in policies),
            "PolicyCount": str(len(policies)),
            "StackSetName": plan.environments.name if plan.environments else "",
            "EnvironmentAccounts": ",".join(props.environment_accounts),
        }
        logger.info("the pivot role matches its properties", extra={"pivot_role": data})
        return Outcome(props.role_name, data)

    def _ensure_role(self, plan: RolePlan, owner: str, journal: Journal) -> str:
        props = plan.props
        role = self._role(props.role_name)
        if role is None:
            created = self.iam.create_role(
                RoleName=props.role_name,
                AssumeRolePolicyDocument=minified(plan.trust),
                Description=props.description,
                MaxSessionDuration=props.max_session_duration,
                Tags=[{"Key": OWNER_TAG, "Value": owner}],
            )
            journal.created_role = True
            logger.info("created the role", extra={"role": props.role_name})
            return str(created["Role"]["Arn"])
        _require_owner(f"role {props.role_name}", role.get("Tags"), owner)
        if _decoded(role["AssumeRolePolicyDocument"]) != plan.trust:
            self.iam.update_assume_role_policy(RoleName=props.role_name, PolicyDocument=minified(plan.trust))
            logger.info("updated the role's trust policy", extra={"role": props.role_name})
        settings = (role.get("Description", ""), role.get("MaxSessionDuration"))
        if settings != (props.description, props.max_session_duration):
            self.iam.update_role(
                RoleName=props.role_name,
                Description=props.description,
                MaxSessionDuration=props.max_session_duration,
            )
        return str(role["Arn"])

    def _converge_policies(self, role_name: str, documents: list[dict[str, Any]], owner: str) -> list[tuple[str, str]]:
        attached = self._attached(role_name)
        wanted: list[tuple[str, str]] = []
        for number, doc in enumerate(documents, 1):
            name = policy_name(role_name, number)
            arn = self._policy_arn(name)
            policy = self._policy(arn)
            if policy is None:
                self.iam.create_policy(
                    PolicyName=name,
                    PolicyDocument=minified(doc),
                    Description=f"Pivot role {role_name}: managed policy {number}",
                    Tags=[{"Key": OWNER_TAG, "Value": owner}],
                )
                logger.info("created a policy", extra={"policy": name, "characters": characters(doc)})
            else:
                _require_owner(f"policy {name}", policy.get("Tags"), owner)
                if self._document(arn, str(policy["DefaultVersionId"])) != doc:
                    self._new_version(arn, doc)
                    logger.info("updated a policy", extra={"policy": name, "characters": characters(doc)})
            if name not in attached:
                self.iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
            wanted.append((name, arn))
        names = {name for name, _ in wanted}
        stale = {name for name in attached if policy_number(role_name, name) and name not in names}
        stale |= {policy_name(role_name, n) for n in range(len(documents) + 1, MAX_MANAGED_POLICIES + 1)}
        for name in sorted(stale, key=lambda n: policy_number(role_name, n) or 0):
            self._delete_policy(role_name, name, owner)
        return wanted

    # ------------------------------------------------------------------ delete
    def delete_role(self, role_name: str, owner: str) -> None:
        """The role and its own policies, if they carry this stack's tag; gone is fine."""
        if not _ROLE_NAME.match(role_name):
            return
        role = self._role(role_name)
        if role is None:
            logger.info("the role is gone already", extra={"role": role_name})
            return
        if _tags(role.get("Tags")).get(OWNER_TAG) != owner:
            logger.warning("the role belongs to another stack; kept", extra={"role": role_name})
            return
        for arn in self._attached(role_name).values():
            self._ignore_missing(self.iam.detach_role_policy, RoleName=role_name, PolicyArn=arn)
        for number in range(1, MAX_MANAGED_POLICIES + 1):
            self._delete_policy(role_name, policy_name(role_name, number), owner)
        for inline in self._pages(self.iam.list_role_policies, "PolicyNames", RoleName=role_name):
            self._ignore_missing(self.iam.delete_role_policy, RoleName=role_name, PolicyName=inline)
        for profile in self._pages(self.iam.list_instance_profiles_for_role, "InstanceProfiles", RoleName=role_name):
            self._ignore_missing(
                self.iam.remove_role_from_instance_profile,
                InstanceProfileName=profile["InstanceProfileName"],
                RoleName=role_name,
            )
        self._ignore_missing(self.iam.delete_role, RoleName=role_name)
        logger.info("deleted the role", extra={"role": role_name})

    def _discard(self, role_name: str, owner: str) -> None:
        try:
            self.delete_role(role_name, owner)
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            logger.exception("could not remove the role of a failed replacement", extra={"role": role_name})

    def _delete_policy(self, role_name: str, name: str, owner: str) -> None:
        arn = self._policy_arn(name)
        policy = self._policy(arn)
        if policy is None:
            return
        if _tags(policy.get("Tags")).get(OWNER_TAG) != owner:
            logger.warning("a policy named like the role's belongs to another stack; kept", extra={"policy": name})
            return
        entities = self.iam.list_entities_for_policy(PolicyArn=arn)
        for entity in entities.get("PolicyRoles", []):
            self._ignore_missing(self.iam.detach_role_policy, RoleName=entity["RoleName"], PolicyArn=arn)
        for entity in entities.get("PolicyUsers", []):
            self._ignore_missing(self.iam.detach_user_policy, UserName=entity["UserName"], PolicyArn=arn)
        for entity in entities.get("PolicyGroups", []):
            self._ignore_missing(self.iam.detach_group_policy, GroupName=entity["GroupName"], PolicyArn=arn)
        for version in self.iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                self._ignore_missing(self.iam.delete_policy_version, PolicyArn=arn, VersionId=version["VersionId"])
        self._ignore_missing(self.iam.delete_policy, PolicyArn=arn)
        logger.info("deleted a policy", extra={"policy": name, "role": role_name})

    # ------------------------------------------------------------------ IAM reads
    def _role(self, name: str) -> dict[str, Any] | None:
        try:
            role: dict[str, Any] = self.iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if _code(error) == "NoSuchEntity":
                return None
            raise
        return role

    def _policy(self, arn: str) -> dict[str, Any] | None:
        try:
            policy: dict[str, Any] = self.iam.get_policy(PolicyArn=arn)["Policy"]
        except ClientError as error:
            if _code(error) == "NoSuchEntity":
                return None
            raise
        return policy

    def _policy_arn(self, name: str) -> str:
        return self.services.arn("iam", f"policy/{name}")

    def _attached(self, role_name: str) -> dict[str, str]:
        return {
            p["PolicyName"]: p["PolicyArn"]
            for p in self._pages(self.iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name)
        }

    def _document(self, arn: str, version: str) -> Any:
        return _decoded(self.iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])

    def _new_version(self, arn: str, doc: dict[str, Any]) -> None:
        versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= 5:  # IAM keeps at most five versions of a policy
            oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
            self.iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=minified(doc), SetAsDefault=True)

    @staticmethod
    def _pages(operation: Any, key: str, **arguments: Any) -> list[Any]:
        items: list[Any] = []
        while True:
            page = operation(**arguments)
            items.extend(page.get(key, []))
            if not page.get("IsTruncated"):
                return items
            arguments["Marker"] = page["Marker"]

    @staticmethod
    def _ignore_missing(operation: Any, **arguments: Any) -> None:
        try:
            operation(**arguments)
        except ClientError as error:
            if _code(error) != "NoSuchEntity":
                raise


def _stack_set_of(properties: Any) -> str:
    """The StackSet that properties roll the role out with, "" when they list no account.

    Only properties that list accounts lead to StackSet calls: an installation without
    environment accounts needs neither the StackSet permissions nor the API.
    """
    properties = properties if isinstance(properties, Mapping) else {}
    name = properties.get("StackSetName")
    if isinstance(name, str) and name and _names(properties.get("EnvironmentAccounts")):
        return name
    return ""


def _decoded(document: Any) -> Any:
    """IAM's document: boto3 decodes it; a raw API answer is URL-encoded JSON."""
    if isinstance(document, str):
        return json.loads(urllib.parse.unquote(document))
    return document


def _require_owner(what: str, tags: Iterable[Mapping[str, str]] | None, owner: str) -> None:
    holder = _tags(tags).get(OWNER_TAG)
    if holder != owner:
        raise ForeignResource(
            f"{what} exists and is not managed by this stack ({'tagged for ' + holder if holder else 'no owner tag'}): "
            "remove it or choose another name"
        )


# ---------------------------------------------------------------------- StackSet
class StackSets:
    """The environment accounts' pivot roles: a self-managed StackSet, one instance per
    account. IAM is global, so the instances live in one region."""

    def __init__(self, services: Services, deadline: Deadline, request_id: str = "") -> None:
        self.services = services
        self.cfn = services.cloudformation
        self.deadline = deadline
        self.request_id = request_id or uuid.uuid4().hex

    # ------------------------------------------------------------------ converge
    def converge(self, env: Environments, owner: str, role_name: str) -> None:
        tags = {OWNER_TAG: owner, ROLE_TAG: role_name, REVISION_TAG: env.revision}
        existing = self.describe(env.name)
        template = self._template(env)
        if existing is None:
            self.cfn.create_stack_set(
                StackSetName=env.name,
                Description=f"dataall-installer: the pivot role {role_name} in the environment accounts",
                Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": env.external_id}],
                Capabilities=["CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                AdministrationRoleARN=env.administration_role_arn,
                ExecutionRoleName=env.execution_role_name,
                PermissionModel="SELF_MANAGED",
                ClientRequestToken=self._token("create-stack-set"),
                **template,
            )
            logger.info("created the StackSet", extra={"stack_set": env.name})
            current: dict[tuple[str, str], str] = {}
        else:
            _require_owner(f"StackSet {env.name}", existing.get("Tags"), owner)
            self._wait_idle(env.name)
            current = self.instances(env.name)
        desired = {(account, env.region) for account in env.accounts}
        self._delete_instances(env.name, set(current) - desired)
        outdated = any(status != "CURRENT" for key, status in current.items() if key in desired)
        changed = existing is not None and any(_tags(existing.get("Tags")).get(k) != v for k, v in tags.items())
        if changed or outdated:
            operation = self._start(
                "update-stack-set",
                self.cfn.update_stack_set,
                StackSetName=env.name,
                Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": env.external_id}],
                Capabilities=["CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                AdministrationRoleARN=env.administration_role_arn,
                ExecutionRoleName=env.execution_role_name,
                OperationPreferences=_PREFERENCES,
                **template,
            )
            self._wait(env.name, operation, "updating the pivot role in the environment accounts")
        missing = sorted(desired - set(current))
        if missing:
            accounts = [account for account, _ in missing]
            operation = self._start(
                "create-stack-instances",
                self.cfn.create_stack_instances,
                StackSetName=env.name,
                Accounts=accounts,
                Regions=[env.region],
                OperationPreferences=_PREFERENCES,
            )
            self._wait(env.name, operation, f"creating the pivot role in {', '.join(accounts)} ({env.region})")

    def remove(self, name: str, owner: str, role_name: str | None = None) -> None:
        """Delete the StackSet and its instances, if this stack (and this role) owns it."""
        existing = self.describe(name)
        if existing is None:
            return
        tags = _tags(existing.get("Tags"))
        if tags.get(OWNER_TAG) != owner or (role_name is not None and tags.get(ROLE_TAG) != role_name):
            logger.info("the StackSet belongs to another stack or role; kept", extra={"stack_set": name, "tags": tags})
            return
        self._wait_idle(name)
        self._delete_instances(name, set(self.instances(name)))
        try:
            self.cfn.delete_stack_set(StackSetName=name)
        except ClientError as error:
            if _code(error) != "StackSetNotFoundException":
                raise
        logger.info("deleted the StackSet", extra={"stack_set": name})

    # ------------------------------------------------------------------ reads
    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            stack_set: dict[str, Any] = self.cfn.describe_stack_set(StackSetName=name)["StackSet"]
        except ClientError as error:
            if _code(error) == "StackSetNotFoundException":
                return None
            raise
        return None if stack_set.get("Status") == "DELETED" else stack_set

    def instances(self, name: str) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        arguments: dict[str, Any] = {"StackSetName": name}
        while True:
            page = self.cfn.list_stack_instances(**arguments)
            for summary in page.get("Summaries", []):
                found[(summary["Account"], summary["Region"])] = summary.get("Status", "CURRENT")
            if not page.get("NextToken"):
                return found
            arguments["NextToken"] = page["NextToken"]

    # ------------------------------------------------------------------ operations
    def _template(self, env: Environments) -> dict[str, str]:
        body = env.body
        if len(body.encode()) <= MAX_TEMPLATE_BODY_BYTES:
            return {"TemplateBody": body}
        if not env.template_bucket:
            raise ProviderError(
                f"the environment accounts' pivot-role template is {len(body.encode())} bytes, over "
                f"CloudFormation's {MAX_TEMPLATE_BODY_BYTES} for a template body: give TemplateBucket, a bucket "
                "the provider may write pivot-role/ templates to"
            )
        key = f"pivot-role/{hashlib.sha256(body.encode()).hexdigest()}.template.json"
        self.services.s3.put_object(
            Bucket=env.template_bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        suffix = "amazonaws.com.cn" if self.services.partition == "aws-cn" else "amazonaws.com"
        return {"TemplateURL": f"https://{env.template_bucket}.s3.{self.services.region}.{suffix}/{key}"}

    def _delete_instances(self, name: str, instances: set[tuple[str, str]]) -> None:
        for region in sorted({region for _, region in instances}):
            accounts = sorted(account for account, r in instances if r == region)
            operation = self._start(
                f"delete-stack-instances-{region}",
                self.cfn.delete_stack_instances,
                StackSetName=name,
                Accounts=accounts,
                Regions=[region],
                RetainStacks=False,
                OperationPreferences=_PREFERENCES,
            )
            self._wait(name, operation, f"deleting the pivot role from {', '.join(accounts)} ({region})")

    def _start(self, step: str, operation: Any, **arguments: Any) -> str:
        """Start a StackSet operation with an id derived from the request, so a retried
        request waits for the operation it started instead of starting another."""
        operation_id = self._token(step)
        try:
            return str(operation(OperationId=operation_id, **arguments)["OperationId"])
        except ClientError as error:
            if _code(error) == "OperationIdAlreadyExistsException":
                return operation_id
            raise

    def _token(self, step: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dataall-installer/{self.request_id}/{step}"))

    def _wait_idle(self, name: str) -> None:
        arguments: dict[str, Any] = {"StackSetName": name}
        running: list[str] = []
        while True:
            page = self.cfn.list_stack_set_operations(**arguments)
            running += [op["OperationId"] for op in page.get("Summaries", []) if op.get("Status") in _RUNNING]
            if not page.get("NextToken"):
                break
            arguments["NextToken"] = page["NextToken"]
        for operation_id in running:
            self._wait(name, operation_id, f"an earlier operation ({operation_id})", ok=_FINISHED)

    def _wait(self, name: str, operation_id: str, what: str, ok: tuple[str, ...] = ("SUCCEEDED",)) -> None:
        delays = iter(POLL_SECONDS)
        delay = POLL_SECONDS[0]
        while True:
            operation = self.cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)
            status = operation["StackSetOperation"]["Status"]
            if status in ok:
                return
            if status in ("FAILED", "STOPPED"):
                reasons = self._failures(name, operation_id) or operation["StackSetOperation"].get("StatusReason", "")
                raise StackSetOperationFailed(f"StackSet {name}: {what} ended {status}: {reasons}")
            left = self.deadline.remaining() - STACK_SET_MARGIN_SECONDS
            if left <= 0:
                raise OutOfTime(
                    f"StackSet {name}: {what} (operation {operation_id}) is still {status} and the provider must "
                    "answer before its Lambda timeout; the operation goes on in the background, and the next "
                    "request waits for it"
                )
            delay = next(delays, delay)
            self.services.sleep(min(delay, left))

    def _failures(self, name: str, operation_id: str) -> str:
        results = self.cfn.list_stack_set_operation_results(StackSetName=name, OperationId=operation_id)
        return "; ".join(
            f"{r['Account']}/{r['Region']}: {r.get('StatusReason') or r.get('Status')}"
            for r in results.get("Summaries", [])
            if r.get("Status") != "SUCCEEDED"
        )


_PREFERENCES = {
    "FailureToleranceCount": 0,
    "MaxConcurrentPercentage": 100,
    "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
    "RegionConcurrencyType": "PARALLEL",
}


# ---------------------------------------------------------------------- status
def describe_pivot_role(iam: Any, role_name: str) -> dict[str, Any] | None:
    """The pivot role as it is in IAM (for `status --json`), or None if it does not exist.

    {"RoleName", "RoleArn", "MaxSessionDuration", "PolicyNames": [...],
     "Policies": [{"PolicyName", "PolicyArn", "DefaultVersionId", "Characters"}]}
    """
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        if _code(error) == "NoSuchEntity":
            return None
        raise
    attached = PivotRoles._pages(iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name)
    own = sorted(
        (p for p in attached if policy_number(role_name, p["PolicyName"])),
        key=lambda p: policy_number(role_name, p["PolicyName"]) or 0,
    )
    policies = []
    for entry in own:
        version = iam.get_policy(PolicyArn=entry["PolicyArn"])["Policy"]["DefaultVersionId"]
        answer = iam.get_policy_version(PolicyArn=entry["PolicyArn"], VersionId=version)
        doc = _decoded(answer["PolicyVersion"]["Document"])
        policies.append(
            {
                "PolicyName": entry["PolicyName"],
                "PolicyArn": entry["PolicyArn"],
                "DefaultVersionId": version,
                "Characters": characters(doc),
            }
        )
    return {
        "RoleName": role["RoleName"],
        "RoleArn": role["Arn"],
        "MaxSessionDuration": role.get("MaxSessionDuration"),
        "PolicyNames": [p["PolicyName"] for p in policies],
        "Policies": policies,
    }
