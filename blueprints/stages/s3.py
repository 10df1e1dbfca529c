"""The platform's buckets (data.all's S3ResourcesStack): resources and access logs.

Stateful: both buckets and the key are retained when the stack goes, and a rollback of
the installer never deletes this stage.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import bucket_name


class S3Stage(StageStack):
    SPEC = StageSpec(
        name="s3",
        description="Resources bucket and access-logs bucket, KMS-encrypted and versioned",
        stateful=True,
        timeout=900,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        key = kms.Key(
            self,
            "BucketKey",
            description="Encrypts the platform's resources bucket",
            alias=cdk.Fn.join("", ["alias/", self.resource_name("resources")]),
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(self, "logs"),
            # Server access logs and CloudFront standard logs cannot be written with SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logging writes with an ACL grant.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(365),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        self.acknowledge(
            "AwsSolutions-S1",
            "This is the access-logs bucket: logging its own accesses into itself would loop.",
            access_logs,
        )
        resources = s3.Bucket(
            self,
            "Resources",
            bucket_name=bucket_name(self, "res"),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        # Set on the resource itself: CDK's own wiring would grant the log delivery with a
        # legacy ACL on the logs bucket instead of the bucket policy below.
        cfn = resources.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=access_logs.bucket_name, log_file_prefix="s3/resources/"
        )
        installation_buckets = cdk.Fn.join("", ["arn:", cdk.Aws.PARTITION, ":s3:::", self.resource_name("*")])
        access_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServerAccessLogs",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[access_logs.arn_for_objects("s3/*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": installation_buckets},
                },
            )
        )
        access_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="LoadBalancerAccessLogs",
                principals=[iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[access_logs.arn_for_objects("alb/*")],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.output("ResourcesBucketName", resources.bucket_name, "The platform's resources bucket")
        self.output("ResourcesBucketArn", resources.bucket_arn, "ARN of the resources bucket")
        self.output("AccessLogsBucketName", access_logs.bucket_name, "The access-logs bucket")
        self.output("BucketKeyArn", key.key_arn, "KMS key of the resources bucket")
