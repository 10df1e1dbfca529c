"""The KMS key of the platform's secrets (data.all's SecretsManagerStack).

Stateful: a secret encrypted with a deleted key is lost, so the key is retained. The
database's master-user secret (managed and rotated by RDS) is encrypted with it.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack


class SecretsStage(StageStack):
    SPEC = StageSpec(
        name="secrets",
        description="KMS key of the platform's secrets",
        stateful=True,
        timeout=600,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        key = kms.Key(
            self,
            "SecretsKey",
            description="Encrypts the platform's secrets",
            alias=cdk.Fn.join("", ["alias/", self.resource_name("secrets")]),
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        # Secrets Manager and RDS use the key on behalf of principals of this account only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SecretsManagerInThisAccount",
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:CallerAccount": cdk.Aws.ACCOUNT_ID,
                        "kms:ViaService": f"secretsmanager.{cdk.Aws.REGION}.amazonaws.com",
                    }
                },
            )
        )
        self.output("SecretsKeyArn", key.key_arn, "KMS key of the platform's secrets")
