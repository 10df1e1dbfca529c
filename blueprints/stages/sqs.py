"""The platform's work queue: a FIFO queue with its dead-letter queue (data.all's SqsStack)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack


class SqsStage(StageStack):
    SPEC = StageSpec(
        name="sqs",
        description="FIFO work queue and its dead-letter queue",
        timeout=900,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        key = kms.Key(
            self,
            "QueueKey",
            description="Encrypts the platform's work queues",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        dead_letters = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{self.resource_name('worker-dlq')}.fifo",
            fifo=True,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        queue = sqs.Queue(
            self,
            "WorkerQueue",
            queue_name=f"{self.resource_name('worker')}.fifo",
            fifo=True,
            content_based_deduplication=True,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.minutes(15),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=3, queue=dead_letters),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                resources=["*"],
            )
        )
        self.acknowledge(
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the worker queue.",
            dead_letters,
        )
        self.output("QueueUrl", queue.queue_url, "URL of the worker queue")
        self.output("QueueArn", queue.queue_arn, "ARN of the worker queue")
        self.output("QueueName", queue.queue_name, "Name of the worker queue")
        self.output("DeadLetterQueueName", dead_letters.queue_name, "Name of the dead-letter queue")
        self.output("QueueKeyArn", key.key_arn, "KMS key of the queues")
