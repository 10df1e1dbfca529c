"""The platform's users (data.all's IdpStack): a Cognito user pool, its domain and groups.

With `OidcIssuerUrl`, `OidcClientId` and `OidcClientSecretArn` the pool also federates an
external OpenID Connect provider. App clients are created by the frontend stages, which
know their own URLs. Stateful: the pool holds the users; it is retained and protected.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import accept_arn_parameters, flag, given, if_, when

ADMIN_GROUP = "DAAdministrators"
OIDC_PROVIDER = "Corporate"
GROUPS = {
    ADMIN_GROUP: "Administrators of the data.all platform",
    "DataTeams": "Members of the organization's data teams",
}


class CognitoStage(StageStack):
    SPEC = StageSpec(
        name="cognito",
        description="Cognito user pool, hosted domain, groups and optional OIDC federation",
        stateful=True,
        timeout=900,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        prod = flag(self, "ProdSizing", "Production sizing: Cognito threat protection enforced")
        issuer = self.parameter(
            "OidcIssuerUrl",
            "${param:OidcIssuerUrl}",
            description="Issuer URL of an external OpenID Connect provider (empty: none)",
            allowed_pattern=r"^$|^https://\S+$",
        ).value_as_string
        client_id = self.parameter(
            "OidcClientId",
            "${param:OidcClientId}",
            description="Client id of the platform at the OpenID Connect provider",
        ).value_as_string
        client_secret_arn = self.parameter(
            "OidcClientSecretArn",
            "${param:OidcClientSecretArn}",
            description="Secrets Manager secret that holds the provider's client secret",
        ).value_as_string
        use_oidc = given(self, "UseOidc", issuer)
        accept_arn_parameters(self)

        pool = cognito.CfnUserPool(
            self,
            "UserPool",
            user_pool_name=self.resource_name("users"),
            deletion_protection=cdk.Fn.condition_if(self.protected.logical_id, "ACTIVE", "INACTIVE").to_string(),
            admin_create_user_config=cognito.CfnUserPool.AdminCreateUserConfigProperty(
                allow_admin_create_user_only=True
            ),
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            username_configuration=cognito.CfnUserPool.UsernameConfigurationProperty(case_sensitive=False),
            account_recovery_setting=cognito.CfnUserPool.AccountRecoverySettingProperty(
                recovery_mechanisms=[cognito.CfnUserPool.RecoveryOptionProperty(name="verified_email", priority=1)]
            ),
            policies=cognito.CfnUserPool.PoliciesProperty(
                password_policy=cognito.CfnUserPool.PasswordPolicyProperty(
                    minimum_length=12,
                    require_lowercase=True,
                    require_uppercase=True,
                    require_numbers=True,
                    require_symbols=True,
                    temporary_password_validity_days=3,
                )
            ),
            # Federated users bring their provider's MFA; the pool's own users need TOTP.
            mfa_configuration="ON",
            enabled_mfas=["SOFTWARE_TOKEN_MFA"],
            user_pool_tier=if_(prod, "PLUS", "ESSENTIALS"),
            user_pool_add_ons=cognito.CfnUserPool.UserPoolAddOnsProperty(
                advanced_security_mode=if_(prod, "ENFORCED", "OFF")
            ),
        )
        pool.apply_removal_policy(cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        self.acknowledge(
            "AwsSolutions-COG3",
            "Threat protection is ENFORCED with ProdSizing (Cognito's Plus plan, charged per "
            "active user); a non-production install keeps the Essentials plan.",
            pool,
        )
        self.acknowledge(
            "AwsSolutions-COG8",
            "The Plus feature plan is chosen by ProdSizing (Fn::If, which cdk-nag cannot "
            "evaluate); a non-production install keeps the Essentials plan.",
            pool,
        )
        domain = cognito.CfnUserPoolDomain(
            self,
            "Domain",
            user_pool_id=pool.ref,
            domain=cdk.Fn.join("-", [self.prefix, self.env_name, cdk.Aws.ACCOUNT_ID]),
        )
        for name, description in GROUPS.items():
            cognito.CfnUserPoolGroup(
                self,
                f"Group{name}",
                user_pool_id=pool.ref,
                group_name=name,
                description=description,
            )
        provider = cognito.CfnUserPoolIdentityProvider(
            self,
            "OidcProvider",
            user_pool_id=pool.ref,
            provider_name=OIDC_PROVIDER,
            provider_type="OIDC",
            provider_details={
                "client_id": client_id,
                "client_secret": cdk.Fn.join("", ["{{resolve:secretsmanager:", client_secret_arn, ":SecretString}}"]),
                "oidc_issuer": issuer,
                "authorize_scopes": "openid email profile",
                "attributes_request_method": "GET",
            },
            attribute_mapping={"email": "email", "email_verified": "email_verified"},
        )
        when(provider, use_oidc)

        self.output("UserPoolId", pool.ref, "Cognito user pool of the platform")
        self.output("UserPoolArn", pool.attr_arn, "ARN of the user pool")
        self.output(
            "AuthDomain",
            cdk.Fn.join("", [domain.domain, ".auth.", cdk.Aws.REGION, ".amazoncognito.com"]),
            "Host name of the pool's hosted sign-in pages",
        )
        self.output(
            "IdentityProviders",
            if_(use_oidc, f"COGNITO,{OIDC_PROVIDER}", "COGNITO"),
            "Identity providers an app client may offer, comma-separated",
        )
        self.output("AdminGroup", ADMIN_GROUP, "Group of the platform's administrators")
