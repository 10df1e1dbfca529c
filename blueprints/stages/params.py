"""The platform's wiring in SSM Parameter Store (data.all's ParamStoreStack).

The platform's code and the operator's tools find the installation's resources under
`/{prefix}/{env}/...` instead of reading stack outputs.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import ssm_path, stage_parameter

#: (SSM path under /{prefix}/{env}, stack parameter, stage output, description)
PUBLISHED = (
    ("vpc/id", "VpcId", "vpc.VpcId", "VPC of the platform"),
    (
        "vpc/private-subnet-ids",
        "PrivateSubnetIds",
        "vpc.PrivateSubnetIds",
        "Private subnets of the platform, comma-separated",
    ),
    (
        "vpc/platform-security-group-id",
        "PlatformSecurityGroupId",
        "vpc.PlatformSecurityGroupId",
        "Security group of the platform's functions and tasks",
    ),
    ("sqs/queue-url", "QueueUrl", "sqs.QueueUrl", "URL of the worker queue"),
    ("sqs/queue-arn", "QueueArn", "sqs.QueueArn", "ARN of the worker queue"),
    ("s3/resources-bucket-name", "ResourcesBucketName", "s3.ResourcesBucketName", "The platform's resources bucket"),
    ("s3/access-logs-bucket-name", "AccessLogsBucketName", "s3.AccessLogsBucketName", "The access-logs bucket"),
    ("s3/bucket-key-arn", "BucketKeyArn", "s3.BucketKeyArn", "KMS key of the resources bucket"),
)


class ParamsStage(StageStack):
    SPEC = StageSpec(
        name="params",
        description="SSM parameters that publish the platform's wiring",
        timeout=600,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        for path, name, source, description in PUBLISHED:
            value = stage_parameter(self, name, source, description)
            ssm.CfnParameter(
                self,
                f"{name}Parameter",
                name=ssm_path(self, *path.split("/")),
                type="String",
                value=value,
                description=description,
                tier="Standard",
            )
        self.output(
            "ParameterPath",
            ssm_path(self),
            "SSM path under which the platform's wiring is published",
        )
