"""The platform's metadata database (data.all's AuroraServerlessStack).

Aurora Serverless v2 PostgreSQL in the private subnets. RDS manages the master user's
secret (created, encrypted with the secrets stage's key, rotated) so no rotation function
is deployed. Stateful: snapshot on delete and on replacement, deletion protection on.

The migration function lives here, next to the cluster: the installer's own Lambdas run
outside the VPC and cannot reach the database, so its `migrate` step invokes this one
(`blueprints/functions/migrations`), which runs the release's alembic revisions.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import (
    PlatformFunction,
    VpcPlacement,
    accept_arn_parameters,
    flag,
    if_,
    stage_parameter,
    when,
)

ENGINE = "aurora-postgresql"
ENGINE_VERSION = "16.9"
PARAMETER_GROUP_FAMILY = "aurora-postgresql16"
DATABASE_NAME = "dataall"
MASTER_USERNAME = "dataall_admin"
PORT = 5432
#: Lambda's limit is 900 s; the installer's migrate step waits for the answer up to 870 s.
MIGRATION_TIMEOUT_SECONDS = 840


class AuroraStage(StageStack):
    SPEC = StageSpec(
        name="aurora",
        description="Aurora Serverless v2 PostgreSQL cluster of the platform's metadata",
        stateful=True,
        timeout=3600,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        placement = VpcPlacement(self)
        secrets_key = stage_parameter(
            self, "SecretsKeyArn", "secrets.SecretsKeyArn", "KMS key of the platform's secrets"
        )
        prod = flag(self, "ProdSizing", "Production sizing: more capacity, a reader, 30-day backups")
        accept_arn_parameters(self)

        key = kms.Key(
            self,
            "StorageKey",
            description="Encrypts the metadata database's storage and snapshots",
            alias=cdk.Fn.join("", ["alias/", self.resource_name("aurora")]),
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        security_group = ec2.CfnSecurityGroup(
            self,
            "DatabaseSecurityGroup",
            group_name=self.resource_name("aurora"),
            group_description="Metadata database of the platform",
            vpc_id=placement.vpc_id,
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    source_security_group_id=placement.security_group_id,
                    description="PostgreSQL from the platform's functions and tasks",
                )
            ],
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="-1", cidr_ip="127.0.0.1/32", description="No outbound traffic"
                )
            ],
        )
        subnets = rds.CfnDBSubnetGroup(
            self,
            "SubnetGroup",
            db_subnet_group_name=self.resource_name("aurora"),
            db_subnet_group_description="Private subnets of the metadata database",
            subnet_ids=placement.subnet_ids,
        )
        parameters = rds.CfnDBClusterParameterGroup(
            self,
            "ClusterParameters",
            db_cluster_parameter_group_name=self.resource_name("aurora"),
            description="TLS only, and statement logging for the audit trail",
            family=PARAMETER_GROUP_FAMILY,
            parameters={"rds.force_ssl": "1", "log_statement": "ddl", "log_min_duration_statement": "5000"},
        )
        cluster = rds.CfnDBCluster(
            self,
            "Cluster",
            db_cluster_identifier=self.resource_name("aurora"),
            engine=ENGINE,
            engine_version=ENGINE_VERSION,
            database_name=DATABASE_NAME,
            port=PORT,
            master_username=MASTER_USERNAME,
            manage_master_user_password=True,
            master_user_secret=rds.CfnDBCluster.MasterUserSecretProperty(kms_key_id=secrets_key),
            db_subnet_group_name=subnets.ref,
            db_cluster_parameter_group_name=parameters.ref,
            vpc_security_group_ids=[security_group.attr_group_id],
            storage_encrypted=True,
            kms_key_id=key.key_arn,
            deletion_protection=cdk.Fn.condition_if(self.protected.logical_id, True, False),
            enable_iam_database_authentication=True,
            enable_cloudwatch_logs_exports=["postgresql"],
            copy_tags_to_snapshot=True,
            backup_retention_period=cdk.Token.as_number(if_(prod, 30, 7)),
            preferred_backup_window="02:00-03:00",
            preferred_maintenance_window="sun:04:00-sun:05:00",
            serverless_v2_scaling_configuration=rds.CfnDBCluster.ServerlessV2ScalingConfigurationProperty(
                min_capacity=cdk.Token.as_number(if_(prod, 2, 0.5)),
                max_capacity=cdk.Token.as_number(if_(prod, 16, 4)),
            ),
        )
        cluster.cfn_options.deletion_policy = cdk.CfnDeletionPolicy.SNAPSHOT
        cluster.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.SNAPSHOT
        self.acknowledge(
            "AwsSolutions-RDS10",
            "Deletion protection is on for every deploy (DeletionProtection is 'true'); only an "
            "uninstall turns it off, just before it deletes the stack with a final snapshot. cdk-nag "
            "cannot evaluate the Fn::If on that parameter.",
            cluster,
        )
        self.acknowledge(
            "AwsSolutions-RDS11",
            "PostgreSQL's default port: the cluster is reachable only from the platform's "
            "security group in private subnets, where another port would hide nothing.",
            cluster,
        )

        writer = self._instance("Writer", "aurora-writer", cluster, key)
        reader = self._instance("Reader", "aurora-reader", cluster, key)
        reader.node.add_dependency(writer)
        when(reader, prod)

        migrations = self._migration_function(placement, cluster, secrets_key)

        self.output("ClusterEndpoint", cluster.attr_endpoint_address, "Writer endpoint of the cluster")
        self.output("ReaderEndpoint", cluster.attr_read_endpoint_address, "Reader endpoint of the cluster")
        self.output("ClusterPort", cluster.attr_endpoint_port, "Port of the cluster")
        self.output("ClusterIdentifier", cluster.ref, "Identifier of the cluster (for snapshots)")
        self.output(
            "DatabaseSecretArn",
            cluster.attr_master_user_secret_secret_arn,
            "Secret with the master user's username and password (managed by RDS)",
        )
        self.output("DatabaseName", DATABASE_NAME, "Name of the platform's database")
        self.output("DatabaseSecurityGroupId", security_group.attr_group_id, "Security group of the cluster")
        self.output("StorageKeyArn", key.key_arn, "KMS key of the cluster's storage")
        self.output(
            "MigrationFunctionName",
            migrations.function.function_name,
            "Function that migrates the database's schema (invoked by the installer's migrate step)",
        )

    def _migration_function(
        self, placement: VpcPlacement, cluster: rds.CfnDBCluster, secrets_key: str
    ) -> PlatformFunction:
        function = PlatformFunction(
            self,
            "MigrationFunction",
            code="migrations",
            handler="dataall_migrations.handler.handler",
            name="migrations",
            description="the metadata database's schema migrations",
            environment={
                "DB_HOST": cluster.attr_endpoint_address,
                "DB_PORT": cluster.attr_endpoint_port,
                "DB_NAME": DATABASE_NAME,
                "DB_SECRET_ARN": cluster.attr_master_user_secret_secret_arn,
                # TLS is enforced (rds.force_ssl); the RDS certificate authority is not in
                # the runtime's trust store and the package does not ship it yet.
                "DB_SSLMODE": "require",
            },
            timeout_seconds=MIGRATION_TIMEOUT_SECONDS,
            memory_size=512,
            placement=placement,
            layer=self.dependency_layer(),
        )
        function.allow(["secretsmanager:GetSecretValue"], [cluster.attr_master_user_secret_secret_arn])
        function.allow(["kms:Decrypt"], [secrets_key])
        return function

    def _instance(self, construct_id: str, name: str, cluster: rds.CfnDBCluster, key: kms.Key) -> rds.CfnDBInstance:
        instance = rds.CfnDBInstance(
            self,
            construct_id,
            db_instance_identifier=self.resource_name(name),
            db_cluster_identifier=cluster.ref,
            db_instance_class="db.serverless",
            engine=ENGINE,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            enable_performance_insights=True,
            performance_insights_kms_key_id=key.key_arn,
            performance_insights_retention_period=7,
        )
        # The data lives in the cluster's storage, which the cluster's snapshot keeps.
        instance.cfn_options.deletion_policy = cdk.CfnDeletionPolicy.DELETE
        instance.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.DELETE
        return instance
