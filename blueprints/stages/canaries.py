"""Synthetic monitoring of the platform (data.all's CloudWatchCanariesStack), optional.

A CloudWatch Synthetics canary calls the API's health route every 15 minutes from the
platform's private subnets (so a private API is reachable too) and alarms when it fails.
Its artifacts go to the resources bucket under `canaries/`.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import VpcPlacement, stage_parameter

RUNTIME = "syn-python-selenium-7.0"
CODE = "canary"


class CanariesStage(StageStack):
    SPEC = StageSpec(
        name="canaries",
        description="CloudWatch Synthetics canary on the API's health route",
        when={"option": "EnableCanaries", "equals": True},
        timeout=1800,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        placement = VpcPlacement(self)
        api_url = stage_parameter(self, "ApiUrl", "lambda-api.ApiUrl", "Base URL of the API")
        bucket = stage_parameter(self, "ResourcesBucketName", "s3.ResourcesBucketName", "The resources bucket")
        bucket_key = stage_parameter(self, "BucketKeyArn", "s3.BucketKeyArn", "KMS key of the resources bucket")
        topic = stage_parameter(self, "AlarmTopicArn", "monitoring.AlarmTopicArn", "SNS topic of the alarms")
        name = self.resource_name("api-health")
        bucket_arn = cdk.Fn.join("", ["arn:", cdk.Aws.PARTITION, ":s3:::", bucket])
        role = iam.Role(
            self,
            "CanaryRole",
            role_name=self.resource_name("canary"),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the platform's canary",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            ],
        )
        statements = (
            (["s3:PutObject"], [cdk.Fn.join("", [bucket_arn, "/canaries/*"])]),
            (["s3:GetBucketLocation"], [bucket_arn]),
            (["kms:GenerateDataKey", "kms:Decrypt"], [bucket_key]),
            (
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                [
                    cdk.Fn.join(
                        "",
                        ["arn:", cdk.Aws.PARTITION, ":logs:", cdk.Aws.REGION, ":",
                         cdk.Aws.ACCOUNT_ID, ":log-group:/aws/lambda/cwsyn-", name, "-*"],
                    )
                ],
            ),
        )  # fmt: skip
        for actions, resources in statements:
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}},
            )
        )
        for rule, reason in (
            ("AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
             "AWSLambdaVPCAccessExecutionRole]",
             "AWSLambdaVPCAccessExecutionRole is AWS's own minimal policy for the network "
             "interfaces of a canary in a VPC."),
            ("AwsSolutions-IAM5[Resource::*]",
             "cloudwatch:PutMetricData has no resource-level permissions; the statement is "
             "limited to the CloudWatchSynthetics namespace by condition."),
            ("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<ResourcesBucketName>/canaries/*]",
             "The canary writes its run artifacts (logs, reports) under canaries/ only."),
            ("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
             "log-group:/aws/lambda/cwsyn-<ResourcePrefix>-<EnvName>-api-health-*]",
             "Synthetics names the canary's log group cwsyn-<canary>-<generated id>."),
        ):  # fmt: skip
            self.acknowledge(rule, reason, role)

        canary = synthetics.CfnCanary(
            self,
            "ApiHealth",
            name=name,
            runtime_version=RUNTIME,
            execution_role_arn=role.role_arn,
            artifact_s3_location=cdk.Fn.join("", ["s3://", bucket, "/canaries"]),
            artifact_config=synthetics.CfnCanary.ArtifactConfigProperty(
                s3_encryption=synthetics.CfnCanary.S3EncryptionProperty(
                    encryption_mode="SSE_KMS", kms_key_arn=bucket_key
                )
            ),
            code=synthetics.CfnCanary.CodeProperty(
                handler="api_canary.handler",
                s3_bucket=self.assets_bucket.bucket_name,
                s3_key=self.code_asset(CODE).key,
            ),
            schedule=synthetics.CfnCanary.ScheduleProperty(expression="rate(15 minutes)"),
            run_config=synthetics.CfnCanary.RunConfigProperty(
                timeout_in_seconds=60,
                memory_in_mb=960,
                active_tracing=False,
                environment_variables={"HEALTH_URL": cdk.Fn.join("", [api_url, "health"])},
            ),
            vpc_config=synthetics.CfnCanary.VPCConfigProperty(
                subnet_ids=placement.subnet_ids,
                security_group_ids=[placement.security_group_id],
            ),
            success_retention_period=7,
            failure_retention_period=31,
            start_canary_after_creation=True,
            provisioned_resource_cleanup="AUTOMATIC",
        )
        alarm = cloudwatch.CfnAlarm(
            self,
            "ApiHealthAlarm",
            alarm_name=self.resource_name("api-health"),
            alarm_description="The canary could not get an ok from the API's health route",
            namespace="CloudWatchSynthetics",
            metric_name="SuccessPercent",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="CanaryName", value=name)],
            statistic="Average",
            period=900,
            evaluation_periods=2,
            threshold=100,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=[topic],
            ok_actions=[topic],
        )
        alarm.node.add_dependency(canary)
        self.output("CanaryName", canary.ref, "The API health canary")
