"""The pivot role: the IAM role the platform assumes in its own account and in the
environment accounts (data.all's PivotRole stack).

Its two custom resources are served by the installer's pivot-role provider (the bootstrap
stack exports the function; `lambdas/handlers/pivot_role.py`): the external id in an SSM
SecureString, and the role with its managed policies and the StackSet that rolls it out
to the environment accounts.

The statements are the JSON documents of `blueprints/pivot_role/policies/`, passed inline
as a property. Inline keeps a rollback self-contained: CloudFormation's rollback Update
carries the previous documents in the request itself, with nothing to fetch that a later
release may have removed. Size is bounded by IAM: more than ten policies of 6,144
characters cannot be attached to a role, so the documents stay near 60 KB at most, within
the template's limit (1 MB from S3) and the request's (256 KB for an Update carrying new
and old properties). The build checks both.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import ssm_path
from lambdas.pivot_role.policies import (
    MAX_MANAGED_POLICIES,
    MAX_POLICY_CHARACTERS,
    characters,
    check_placeholders,
    resolver,
    split,
    statements_of,
)

POLICIES_DIR = Path(__file__).resolve().parents[1] / "pivot_role" / "policies"
#: The services that assume the pivot role themselves: Lake Formation registers locations
#: with it, Glue crawlers run as it (data.all's pivot role trusts the same).
TRUSTED_SERVICES = ("glue.amazonaws.com", "lakeformation.amazonaws.com")
#: data.all's pivot role allows 12-hour sessions: sharing and crawling tasks outlast an hour.
MAX_SESSION_SECONDS = 43200
#: An Update request carries the new and the old documents; Lambda's async payload is 256 KB.
MAX_INLINE_DOCUMENTS_BYTES = 100_000
#: The longest values the placeholders may take (prefix 20, env 10, a role name of both,
#: the longest region and partition names), to prove at build time that every install fits.
WIDEST = {
    "Partition": "aws-us-gov",
    "AccountId": "0" * 12,
    "Region": "ap-southeast-5",
    "ResourcePrefix": "p" * 20,
    "EnvName": "e" * 10,
    "PivotRoleName": f"{'p' * 20}-{'e' * 10}-pivot-role",
    "PlatformAccountId": "0" * 12,
}


@cache
def policy_documents() -> tuple[dict[str, Any], ...]:
    """The release's pivot-role policy documents, checked: they fit any installation."""
    documents = tuple(json.loads(path.read_text()) for path in sorted(POLICIES_DIR.glob("*.json")))
    statements = statements_of(documents)
    check_placeholders(statements)
    split(statements, resolve=resolver(WIDEST), limit=MAX_POLICY_CHARACTERS, max_policies=MAX_MANAGED_POLICIES)
    size = characters(list(documents))
    if size > MAX_INLINE_DOCUMENTS_BYTES:
        raise ValueError(f"the pivot-role policy documents are {size} characters, over {MAX_INLINE_DOCUMENTS_BYTES}")
    return documents


class PivotRoleStage(StageStack):
    SPEC = StageSpec(
        name="pivot-role",
        description="The pivot role the platform assumes, its external id, policies and environment accounts",
        timeout=1800,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        provider = self.parameter(
            "PivotRoleProviderArn",
            "${param:PivotRoleProviderArn}",
            description="The installer's pivot-role provider function (exported by the bootstrap stack)",
            allowed_pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}$",
        ).value_as_string
        accounts = self.parameter(
            "PivotRoleEnvironmentAccounts",
            "${param:PivotRoleEnvironmentAccounts}",
            description="Environment accounts that get the pivot role through a StackSet (comma-separated ids)",
            allowed_pattern=r"^$|^[0-9]{12}(,[0-9]{12})*$",
        ).value_as_string
        external_id = cdk.CustomResource(
            self,
            "ExternalId",
            service_token=provider,
            resource_type="Custom::PivotRoleExternalId",
            properties={"ParameterName": ssm_path(self, "pivot-role", "external-id")},
        )
        role = cdk.CustomResource(
            self,
            "PivotRole",
            service_token=provider,
            resource_type="Custom::PivotRole",
            properties={
                "RoleName": self.resource_name("pivot-role"),
                "ExternalIdParameter": external_id.ref,
                "ResourcePrefix": self.prefix,
                "EnvName": self.env_name,
                "TrustedRolePatterns": [self.resource_name("*")],
                "TrustedServices": list(TRUSTED_SERVICES),
                "MaxSessionDuration": MAX_SESSION_SECONDS,
                "PolicyDocuments": list(policy_documents()),
                "EnvironmentAccounts": accounts,
                "StackSetName": self.resource_name("pivot-role"),
                "TemplateBucket": self.assets_bucket.bucket_name,
            },
        )
        self.output("PivotRoleName", role.get_att_string("RoleName"), "Name of the pivot role")
        self.output("PivotRoleArn", role.get_att_string("RoleArn"), "ARN of the pivot role in the platform's account")
        self.output(
            "ExternalIdParameterName",
            external_id.ref,
            "SSM SecureString that holds the pivot role's external id",
        )
        self.output(
            "PolicyNames", role.get_att_string("PolicyNames"), "The pivot role's managed policies, comma-separated"
        )
