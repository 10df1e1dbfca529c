"""What the two frontends share (cloudfront when internet-facing, albfront when internal).

Each registers its own Cognito app client, whose callback is its own URL, under the SSM
path the API's authorizer reads, and serves the same page from the `site` function's
package, configured with the API's URL and the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ssm as ssm

from blueprints.common import StageStack
from blueprints.stages.lambda_api import CLIENTS_PATH
from blueprints.toolkit import PlatformFunction, given, ssm_path, stage_parameter

SITE_CODE = "site"


@dataclass(frozen=True)
class CustomDomain:
    name: str
    hosted_zone_id: str
    certificate_arn: str


class Frontend:
    """The wiring and resources every frontend stage has."""

    def __init__(self, stack: StageStack) -> None:
        self.stack = stack
        self.api_url = stage_parameter(stack, "ApiUrl", "lambda-api.ApiUrl", "Base URL of the API")
        self.user_pool_id = stage_parameter(
            stack, "UserPoolId", "cognito.UserPoolId", "Cognito user pool of the platform"
        )
        self.auth_domain = stage_parameter(
            stack, "AuthDomain", "cognito.AuthDomain", "Host of the hosted sign-in pages"
        )
        self.identity_providers = stack.parameter(
            "IdentityProviders",
            "${stage:cognito.IdentityProviders}",
            description="Identity providers the app client offers",
            type="CommaDelimitedList",
        ).value_as_list
        self.access_logs_bucket = stage_parameter(
            stack, "AccessLogsBucketName", "s3.AccessLogsBucketName", "The access-logs bucket"
        )
        name = stack.parameter(
            "CustomDomainName",
            "${param:CustomDomainName}",
            description="Host name of the platform's page (empty: the service's own name)",
        ).value_as_string
        self.domain = CustomDomain(
            name=name,
            hosted_zone_id=stack.parameter(
                "HostedZoneId",
                "${param:HostedZoneId}",
                description="Route 53 hosted zone of CustomDomainName",
            ).value_as_string,
            certificate_arn=stack.parameter(
                "CertificateArn",
                "${param:CertificateArn}",
                description="ACM certificate of CustomDomainName",
            ).value_as_string,
        )

    @cached_property
    def has_custom_domain(self) -> cdk.CfnCondition:
        """Declared on first use: an unused condition is a cfn-lint finding."""
        return given(self.stack, "HasCustomDomain", self.domain.name)

    def app_client(self, url: str) -> cognito.CfnUserPoolClient:
        """The frontend's public app client (code flow with PKCE), registered for the API."""
        stack = self.stack
        client = cognito.CfnUserPoolClient(
            stack,
            "AppClient",
            user_pool_id=self.user_pool_id,
            client_name=stack.resource_name(stack.SPEC.name),
            generate_secret=False,
            allowed_o_auth_flows_user_pool_client=True,
            allowed_o_auth_flows=["code"],
            allowed_o_auth_scopes=["openid", "email", "profile"],
            callback_ur_ls=[url],
            logout_ur_ls=[url],
            supported_identity_providers=self.identity_providers,
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=12,
            token_validity_units=cognito.CfnUserPoolClient.TokenValidityUnitsProperty(
                access_token="minutes",  # noqa: S106 - a unit, not a credential
                id_token="minutes",  # noqa: S106
                refresh_token="hours",  # noqa: S106
            ),
        )
        ssm.CfnParameter(
            stack,
            "AppClientRegistration",
            name=ssm_path(stack, *CLIENTS_PATH, stack.SPEC.name),
            type="String",
            value=client.ref,
            description="App client of the frontend, accepted by the API's authorizer",
        )
        return client

    def site_config(self, url: str, client: cognito.CfnUserPoolClient) -> dict[str, str]:
        return {
            "apiUrl": self.api_url,
            "region": cdk.Aws.REGION,
            "userPoolId": self.user_pool_id,
            "clientId": client.ref,
            "authDomain": self.auth_domain,
            "redirectUri": url,
        }

    def site_function(self, environment: dict[str, str] | None = None) -> PlatformFunction:
        return PlatformFunction(
            self.stack,
            "SiteFunction",
            code=SITE_CODE,
            handler="dataall_site.handler.handler",
            name=f"{self.stack.SPEC.name}-site",
            description="the platform's web page",
            environment=environment,
            layer=self.stack.dependency_layer(),
        )

    def site_version(self) -> str:
        """The site package's digest: a new page means a new value, so CloudFormation updates."""
        return self.stack.code_asset(SITE_CODE).sha256
