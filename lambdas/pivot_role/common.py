"""What the pivot role's custom resources share: their properties, the AWS clients they use,
their errors, and the ownership tag that keeps them from touching what is not theirs.

Ownership is a tag naming the stack: a role, policy, parameter or StackSet that exists
without it is never adopted on Create nor removed on Delete.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from lambdas.data import aws
from lambdas.data.aws import ClientError

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

ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
PARAMETER_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1010}$")
RUNNING = ("RUNNING", "QUEUED", "STOPPING")
FINISHED = ("SUCCEEDED", "FAILED", "STOPPED")


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
        partition, region, account_id = aws.own_identity(context)
        return cls(
            iam=aws.client("iam"),
            ssm=aws.client("ssm"),
            cloudformation=aws.client("cloudformation"),
            s3=aws.client("s3"),
            partition=partition,
            account_id=account_id,
            region=region,
        )

    def arn(self, service: str, resource: str, *, region: str = "", account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account_id if account is None else account}:{resource}"


def code_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def tags_of(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


# ---------------------------------------------------------------------- properties
def names_of(value: Any) -> list[str]:
    """A list property: CloudFormation gives a list, a parameter often a comma-separated text."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


Names = Annotated[list[str], BeforeValidator(names_of)]


class Properties(BaseModel):
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


class ExternalIdProperties(Properties):
    parameter_name: str = Field(alias="ParameterName", pattern=PARAMETER_NAME.pattern)
    key_id: str = Field("", alias="KeyId")
    retain: bool = Field(False, alias="Retain")
    description: str = Field("External id of the data platform's pivot role", alias="Description", max_length=1024)


class PivotRoleProperties(Properties):
    role_name: str = Field(alias="RoleName", pattern=ROLE_NAME.pattern)
    external_id_parameter: str = Field(alias="ExternalIdParameter", pattern=PARAMETER_NAME.pattern)
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
    execution_role_name: str = Field(DEFAULT_EXECUTION_ROLE, alias="ExecutionRoleName", pattern=ROLE_NAME.pattern)
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


def stack_set_of(properties: Any) -> str:
    """The StackSet that properties roll the role out with, "" when they list no account.

    Only properties that list accounts lead to StackSet calls: an installation without
    environment accounts needs neither the StackSet permissions nor the API.
    """
    properties = properties if isinstance(properties, Mapping) else {}
    name = properties.get("StackSetName")
    if isinstance(name, str) and name and names_of(properties.get("EnvironmentAccounts")):
        return name
    return ""


def decoded(document: Any) -> Any:
    """IAM's document: boto3 decodes it; a raw API answer is URL-encoded JSON."""
    if isinstance(document, str):
        return json.loads(urllib.parse.unquote(document))
    return document


def require_owner(what: str, tags: Iterable[Mapping[str, str]] | None, owner: str) -> None:
    holder = tags_of(tags).get(OWNER_TAG)
    if holder != owner:
        raise ForeignResource(
            f"{what} exists and is not managed by this stack ({'tagged for ' + holder if holder else 'no owner tag'}): "
            "remove it or choose another name"
        )
