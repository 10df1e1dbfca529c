"""Real-user monitoring of the platform's page (data.all's CloudWatchRumStack), optional.

A CloudWatch RUM app monitor for the page's domain, and the Cognito identity pool whose
unauthenticated (guest) identities may only send RUM events to that monitor.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rum as rum
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import given, if_

#: Without a custom domain the page is served from CloudFront's own domain.
CLOUDFRONT_DOMAINS = "*.cloudfront.net"


class RumStage(StageStack):
    SPEC = StageSpec(
        name="rum",
        description="CloudWatch RUM app monitor of the platform's page",
        when={"option": "EnableRum", "equals": True},
        timeout=900,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        domain = self.parameter(
            "CustomDomainName",
            "${param:CustomDomainName}",
            description="Host name of the platform's page (empty: CloudFront's)",
        ).value_as_string
        monitor_name = self.resource_name("web")
        identities = cognito.CfnIdentityPool(
            self,
            "Identities",
            identity_pool_name=cdk.Fn.join("_", [self.prefix, self.env_name, "rum"]),
            allow_unauthenticated_identities=True,
            allow_classic_flow=False,
        )
        self.acknowledge(
            "AwsSolutions-COG7",
            "RUM's web client sends telemetry as an unauthenticated identity of this pool; "
            "the guest role may do nothing but rum:PutRumEvents on this one app monitor.",
            identities,
        )
        guest = iam.Role(
            self,
            "GuestRole",
            role_name=self.resource_name("rum-guest"),
            description="Unauthenticated page visitors: send RUM events, nothing else",
            assumed_by=iam.FederatedPrincipal(
                "cognito-identity.amazonaws.com",
                conditions={
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": identities.ref},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
                },
                assume_role_action="sts:AssumeRoleWithWebIdentity",
            ),
        )
        guest.add_to_policy(
            iam.PolicyStatement(
                actions=["rum:PutRumEvents"],
                resources=[
                    cdk.Fn.join(
                        "",
                        ["arn:", cdk.Aws.PARTITION, ":rum:", cdk.Aws.REGION, ":",
                         cdk.Aws.ACCOUNT_ID, ":appmonitor/", monitor_name],
                    )
                ],
            )
        )  # fmt: skip
        cognito.CfnIdentityPoolRoleAttachment(
            self,
            "IdentityRoles",
            identity_pool_id=identities.ref,
            roles={"unauthenticated": guest.role_arn},
        )
        monitor = rum.CfnAppMonitor(
            self,
            "AppMonitor",
            name=monitor_name,
            domain=if_(given(self, "HasCustomDomain", domain), domain, CLOUDFRONT_DOMAINS),
            cw_log_enabled=True,
            app_monitor_configuration=rum.CfnAppMonitor.AppMonitorConfigurationProperty(
                identity_pool_id=identities.ref,
                guest_role_arn=guest.role_arn,
                session_sample_rate=0.1,
                telemetries=["errors", "performance", "http"],
                allow_cookies=True,
                enable_x_ray=False,
            ),
        )
        self.output("AppMonitorName", monitor.ref, "CloudWatch RUM app monitor of the page")
        self.output("AppMonitorId", monitor.attr_id, "Id the page's RUM web client needs")
        self.output("IdentityPoolId", identities.ref, "Identity pool of the RUM web client")
        self.output("GuestRoleArn", guest.role_arn, "Role of the RUM web client")
