"""Alarms and a dashboard for the platform (data.all's MonitoringStack).

Alarms go to an encrypted SNS topic (optionally mailed to `AlarmEmail`); other stages
publish their own alarms to it through `${stage:monitoring.AlarmTopicArn}`.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import given, stage_parameter, when

EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"


class MonitoringStage(StageStack):
    SPEC = StageSpec(
        name="monitoring",
        description="Alarm topic, queue alarms and the platform dashboard",
        timeout=900,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        queue_name = stage_parameter(self, "QueueName", "sqs.QueueName", "Name of the worker queue")
        dead_letter_queue_name = stage_parameter(
            self, "DeadLetterQueueName", "sqs.DeadLetterQueueName", "Name of the dead-letter queue"
        )
        email = self.parameter(
            "AlarmEmail",
            "${param:AlarmEmail}",
            description="E-mail address that receives the platform's alarms (empty: none)",
            allowed_pattern=EMAIL_PATTERN,
        ).value_as_string

        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the platform's alarm topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic with this key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=self.resource_name("alarms"),
            display_name="data.all platform alarms",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        subscription = sns.CfnSubscription(
            self,
            "AlarmEmailSubscription",
            topic_arn=topic.topic_arn,
            protocol="email",
            endpoint=email,
        )
        when(subscription, given(self, "AlarmEmailGiven", email))

        dead_letters = cloudwatch.Metric(
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions_map={"QueueName": dead_letter_queue_name},
            statistic="Maximum",
            period=cdk.Duration.minutes(5),
            label="Messages in the dead-letter queue",
        )
        oldest = cloudwatch.Metric(
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions_map={"QueueName": queue_name},
            statistic="Maximum",
            period=cdk.Duration.minutes(5),
            label="Age of the oldest work item (s)",
        )
        received = cloudwatch.Metric(
            namespace="AWS/SQS",
            metric_name="NumberOfMessagesReceived",
            dimensions_map={"QueueName": queue_name},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
            label="Work items received",
        )
        dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterQueueAlarm",
            alarm_name=self.resource_name("worker-dead-letters"),
            alarm_description="Work items failed three times and wait in the dead-letter queue",
            metric=dead_letters,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        backlog_alarm = cloudwatch.Alarm(
            self,
            "QueueBacklogAlarm",
            alarm_name=self.resource_name("worker-backlog"),
            alarm_description="The worker has not taken a work item for 30 minutes",
            metric=oldest,
            threshold=1800,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (dead_letter_alarm, backlog_alarm):
            cfn = alarm.node.default_child
            assert isinstance(cfn, cloudwatch.CfnAlarm)
            cfn.alarm_actions = [topic.topic_arn]
            cfn.ok_actions = [topic.topic_arn]

        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=self.resource_name("platform"),
            default_interval=cdk.Duration.hours(24),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=[dead_letter_alarm, backlog_alarm], width=24, height=3),
            cloudwatch.GraphWidget(title="Worker queue", left=[received], right=[oldest], width=12),
            cloudwatch.GraphWidget(title="Dead-letter queue", left=[dead_letters], width=12),
        )

        self.output("AlarmTopicArn", topic.topic_arn, "SNS topic of the platform's alarms")
        self.output("AlarmTopicKeyArn", key.key_arn, "KMS key of the alarm topic")
        self.output("DashboardName", self.resource_name("platform"), "CloudWatch dashboard")
