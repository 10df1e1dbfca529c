"""The platform's containers (data.all's ContainerStack): ECS Fargate and scheduled tasks.

The scheduled task runs nightly in the private subnets: database maintenance
(`VACUUM (ANALYZE)`) with the credentials of the aurora stage's secret, injected by ECS.
The image is the `ContainerImage` option; the default is the public PostgreSQL image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import VpcPlacement, accept_arn_parameters, log_group, stage_parameter

DEFAULT_IMAGE = "public.ecr.aws/docker/library/postgres:16-alpine"


@dataclass(frozen=True)
class ScheduledTask:
    name: str
    schedule: str
    command: tuple[str, ...]
    description: str


SCHEDULED_TASKS = (
    ScheduledTask(
        name="db-maintenance",
        schedule="cron(0 3 * * ? *)",
        command=("psql", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--command",
                 "VACUUM (ANALYZE);"),
        description="Nightly VACUUM (ANALYZE) of the metadata database",
    ),
)  # fmt: skip


class ContainerStage(StageStack):
    SPEC = StageSpec(
        name="container",
        description="ECS Fargate cluster and the platform's scheduled tasks",
        timeout=1800,
        # Its code reads the metadata database: the schema must be at the release's head first.
        depends_on=("migrate",),
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        placement = VpcPlacement(self)
        accept_arn_parameters(self)
        image = self.parameter(
            "ContainerImage",
            "${param:ContainerImage}",
            description="Image of the scheduled tasks (it must provide psql)",
            allowed_pattern=r"^[a-z0-9][a-z0-9./_:@-]*$",
        ).value_as_string
        host = stage_parameter(self, "ClusterEndpoint", "aurora.ClusterEndpoint", "Database host")
        port = stage_parameter(self, "ClusterPort", "aurora.ClusterPort", "Database port")
        database = stage_parameter(self, "DatabaseName", "aurora.DatabaseName", "Database name")
        secret_arn = stage_parameter(self, "DatabaseSecretArn", "aurora.DatabaseSecretArn", "Master-user secret")
        secrets_key = stage_parameter(
            self, "SecretsKeyArn", "secrets.SecretsKeyArn", "KMS key of the platform's secrets"
        )

        cluster = ecs.CfnCluster(
            self,
            "Cluster",
            cluster_name=self.resource_name("platform"),
            cluster_settings=[ecs.CfnCluster.ClusterSettingsProperty(name="containerInsights", value="enhanced")],
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
        )
        logs = log_group(self, "TaskLogs", cdk.Fn.join("", ["/ecs/", self.resource_name("tasks")]))
        execution_role = iam.Role(
            self,
            "ExecutionRole",
            role_name=self.resource_name("ecs-execution"),
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Starts the platform's tasks: logs and the database secret",
        )
        execution_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[logs.log_group_arn],
            )
        )
        execution_role.add_to_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret_arn])
        )
        execution_role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[secrets_key]))
        task_role = iam.Role(
            self,
            "TaskRole",
            role_name=self.resource_name("ecs-task"),
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Identity of the platform's tasks (they call no AWS API)",
        )
        events_role = iam.Role(
            self,
            "SchedulerRole",
            role_name=self.resource_name("ecs-schedule"),
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="Lets EventBridge start the platform's scheduled tasks",
        )
        events_role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[execution_role.role_arn, task_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )

        for task in SCHEDULED_TASKS:
            definition = ecs.CfnTaskDefinition(
                self,
                f"{_camel(task.name)}Task",
                family=self.resource_name(task.name),
                requires_compatibilities=["FARGATE"],
                network_mode="awsvpc",
                cpu="256",
                memory="512",
                execution_role_arn=execution_role.role_arn,
                task_role_arn=task_role.role_arn,
                runtime_platform=ecs.CfnTaskDefinition.RuntimePlatformProperty(
                    cpu_architecture="X86_64", operating_system_family="LINUX"
                ),
                container_definitions=[
                    ecs.CfnTaskDefinition.ContainerDefinitionProperty(
                        name=task.name,
                        image=image,
                        essential=True,
                        command=list(task.command),
                        readonly_root_filesystem=True,
                        environment=[
                            ecs.CfnTaskDefinition.KeyValuePairProperty(name=name, value=value)
                            for name, value in (
                                ("PGHOST", host),
                                ("PGPORT", port),
                                ("PGDATABASE", database),
                                ("PGSSLMODE", "require"),
                                ("PGCONNECT_TIMEOUT", "10"),
                            )
                        ],
                        secrets=[
                            ecs.CfnTaskDefinition.SecretProperty(
                                name=name, value_from=cdk.Fn.join("", [secret_arn, f":{key}::"])
                            )
                            for name, key in (("PGUSER", "username"), ("PGPASSWORD", "password"))
                        ],
                        log_configuration=ecs.CfnTaskDefinition.LogConfigurationProperty(
                            log_driver="awslogs",
                            options={
                                "awslogs-group": logs.log_group_name,
                                "awslogs-region": cdk.Aws.REGION,
                                "awslogs-stream-prefix": task.name,
                            },
                        ),
                    )
                ],
            )
            self.acknowledge(
                "AwsSolutions-ECS2",
                "The environment holds only the database's host, port, name and TLS mode; the "
                "credentials come from Secrets Manager through the task's secrets.",
                definition,
            )
            events_role.add_to_policy(
                iam.PolicyStatement(
                    actions=["ecs:RunTask"],
                    resources=[definition.ref],
                    conditions={"ArnEquals": {"ecs:cluster": cluster.attr_arn}},
                )
            )
            events.CfnRule(
                self,
                f"{_camel(task.name)}Schedule",
                name=self.resource_name(task.name),
                description=task.description,
                schedule_expression=task.schedule,
                state="ENABLED",
                targets=[
                    events.CfnRule.TargetProperty(
                        id=task.name,
                        arn=cluster.attr_arn,
                        role_arn=events_role.role_arn,
                        ecs_parameters=events.CfnRule.EcsParametersProperty(
                            task_definition_arn=definition.ref,
                            task_count=1,
                            launch_type="FARGATE",
                            platform_version="LATEST",
                            network_configuration=events.CfnRule.NetworkConfigurationProperty(
                                aws_vpc_configuration=events.CfnRule.AwsVpcConfigurationProperty(
                                    subnets=placement.subnet_ids,
                                    security_groups=[placement.security_group_id],
                                    assign_public_ip="DISABLED",
                                )
                            ),
                        ),
                        retry_policy=events.CfnRule.RetryPolicyProperty(
                            maximum_retry_attempts=2, maximum_event_age_in_seconds=3600
                        ),
                    )
                ],
            )

        self.output("ClusterName", cluster.ref, "ECS cluster of the platform")
        self.output("ClusterArn", cluster.attr_arn, "ARN of the ECS cluster")
        self.output("TaskLogGroup", logs.log_group_name, "Log group of the platform's tasks")


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("-"))
