"""Emulated types made real in the service moto has, through that service's public API.

Each binding does what the type's CloudFormation handler does in AWS: create, update and
delete calls on the service, and it records the ids and endpoints the service chose, from
which the type's physical id and `Fn::GetAtt` attributes are read.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from botocore.exceptions import ClientError

from sandbox import moto_internals
from sandbox.cloudformation.providers.api_params import api_params
from sandbox.cloudformation.providers.base import ResourceFailed, handler_message
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.emulated import Emulation
from sandbox.cloudformation.providers.tags import tag_map


def _json(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


# --------------------------------------------------------------------------- policies
class BucketPolicy:
    """AWS::S3::BucketPolicy: the bucket's policy, enforced by moto's S3."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        clients("s3", resource.region).put_bucket_policy(
            Bucket=resource.prop("Bucket"), Policy=_json(resource.prop("PolicyDocument"))
        )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("s3", resource.region).delete_bucket_policy(Bucket=resource.prop("Bucket"))


class QueuePolicy:
    """AWS::SQS::QueuePolicy: the `Policy` attribute of each queue in `Queues` (URLs)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        policy = _json(resource.prop("PolicyDocument"))
        for url in resource.prop("Queues", []):
            clients("sqs", resource.region).set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        dropped = set(previous.prop("Queues", [])) - set(resource.prop("Queues", []))
        self._clear(clients, resource.region, dropped)
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        self._clear(clients, resource.region, resource.prop("Queues", []))

    @staticmethod
    def _clear(clients: ServiceClients, region: str, urls: Any) -> None:
        for url in urls:
            clients("sqs", region).set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})


# --------------------------------------------------------------------------- messaging
class Subscription:
    """AWS::SNS::Subscription: a subscription ListSubscriptions shows; Ref is its ARN."""

    ATTRIBUTES = (
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "DeliveryPolicy",
        "SubscriptionRoleArn",
    )

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        answer = clients("sns", resource.region).subscribe(
            TopicArn=resource.prop("TopicArn"),
            Protocol=resource.prop("Protocol"),
            Endpoint=resource.prop("Endpoint"),
            Attributes=self._attributes(resource),
            ReturnSubscriptionArn=True,
        )
        resource.data["arn"] = answer["SubscriptionArn"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        for name, value in self._attributes(resource).items():
            clients("sns", resource.region).set_subscription_attributes(
                SubscriptionArn=resource.data["arn"], AttributeName=name, AttributeValue=value
            )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("sns", resource.region).unsubscribe(SubscriptionArn=resource.data["arn"])

    def _attributes(self, resource: Emulation) -> dict[str, str]:
        attributes = {}
        for name in self.ATTRIBUTES:
            value = resource.prop(name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            attributes[name] = _json(value) if isinstance(value, dict | list) else str(value)
        return attributes


class Schedule:
    """AWS::Scheduler::Schedule: a schedule in EventBridge Scheduler."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("scheduler", resource.region)
        answer = client.create_schedule(**api_params(client, "CreateSchedule", resource.properties, Name=resource.name))
        resource.data["arn"] = answer["ScheduleArn"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("scheduler", resource.region)
        client.update_schedule(**api_params(client, "UpdateSchedule", resource.properties, Name=resource.name))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("scheduler", resource.region).delete_schedule(
            Name=resource.name, GroupName=resource.prop("GroupName", "default")
        )


class Alarm:
    """AWS::CloudWatch::Alarm: PutMetricAlarm, as the handler calls it for create and update."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cloudwatch", resource.region)
        client.put_metric_alarm(**api_params(client, "PutMetricAlarm", resource.properties, AlarmName=resource.name))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cloudwatch", resource.region).delete_alarms(AlarmNames=[resource.name])


# --------------------------------------------------------------------------- secrets
class Secret:
    """AWS::SecretsManager::Secret, with `GenerateSecretString` generated as AWS does: a
    random password, alone or under `GenerateStringKey` in `SecretStringTemplate`."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("secretsmanager", resource.region)
        answer = client.create_secret(
            **api_params(
                client,
                "CreateSecret",
                resource.properties,
                Name=resource.name,
                SecretString=self._secret_string(client, resource),
            )
        )
        resource.data["arn"] = answer["ARN"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("secretsmanager", resource.region)
        changed_value = any(
            resource.prop(name) != previous.prop(name) for name in ("SecretString", "GenerateSecretString")
        )
        client.update_secret(
            **api_params(
                client,
                "UpdateSecret",
                resource.properties,
                SecretId=resource.data["arn"],
                SecretString=self._secret_string(client, resource) if changed_value else None,
            )
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("secretsmanager", resource.region).delete_secret(
            SecretId=resource.data["arn"], ForceDeleteWithoutRecovery=True
        )

    @staticmethod
    def _secret_string(client: Any, resource: Emulation) -> str | None:
        generate = resource.prop("GenerateSecretString")
        if generate is None:
            value = resource.prop("SecretString")
            return None if value is None else str(value)
        password = client.get_random_password(**api_params(client, "GetRandomPassword", generate))["RandomPassword"]
        template = generate.get("SecretStringTemplate")
        if template is None:
            return str(password)
        document = json.loads(template)
        document[generate.get("GenerateStringKey", "password")] = password
        return json.dumps(document)


class SecretTargetAttachment:
    """AWS::SecretsManager::SecretTargetAttachment: AWS adds the database's connection
    fields (engine, host, port, identifier) to the secret's JSON; detaching leaves them."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        target_type = str(resource.prop("TargetType", ""))
        target_id = str(resource.prop("TargetId"))
        rds = clients("rds", resource.region)
        if target_type == "AWS::RDS::DBCluster":
            cluster = rds.describe_db_clusters(DBClusterIdentifier=target_id)["DBClusters"][0]
            fields = {
                "engine": cluster["Engine"],
                "host": cluster["Endpoint"],
                "port": cluster["Port"],
                "dbClusterIdentifier": target_id,
            }
        else:
            instance = rds.describe_db_instances(DBInstanceIdentifier=target_id)["DBInstances"][0]
            fields = {
                "engine": instance["Engine"],
                "host": instance["Endpoint"]["Address"],
                "port": instance["Endpoint"]["Port"],
                "dbInstanceIdentifier": target_id,
            }
        secrets = clients("secretsmanager", resource.region)
        secret_id = resource.prop("SecretId")
        document = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
        document.update(fields)
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(document))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """Nothing to undo: AWS leaves the connection fields in the secret."""


# --------------------------------------------------------------------------- databases
class DBCluster:
    """AWS::RDS::DBCluster in RDS; DeletionPolicy Snapshot takes a final snapshot.

    A PostgreSQL cluster's master user and database are made in the sandbox's database server
    (`sandbox.databases`), reached at the cluster's endpoint; the master secret RDS manages
    also says where that is (or the embedded SQLite file, or the PostgreSQL of `--database-url`).
    """

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        rds = clients("rds", resource.region)
        cluster = rds.create_db_cluster(
            **api_params(rds, "CreateDBCluster", resource.properties, DBClusterIdentifier=resource.name)
        )["DBCluster"]
        resource.data["cluster"] = cluster
        self._locate(clients, resource, cluster)

    @staticmethod
    def _locate(clients: ServiceClients, resource: Emulation, cluster: dict[str, Any]) -> None:
        """Make the cluster's master user and database in the sandbox's server, and point the
        master secret RDS manages at where its database really is."""
        secret_arn = cluster.get("MasterUserSecret", {}).get("SecretArn")
        secrets = clients("secretsmanager", resource.region)
        current = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"]) if secret_arn else {}
        clients.databases.provision(
            cluster["DBClusterIdentifier"],
            str(resource.prop("Engine", "")),
            resource.prop("DatabaseName"),
            str(current.get("username") or resource.prop("MasterUsername", "")),
            str(current.get("password") or resource.prop("MasterUserPassword", "")),
        )
        if not secret_arn:
            return
        located = clients.databases.secret_for(
            cluster["DBClusterIdentifier"], current.get("username", resource.prop("MasterUsername", "postgres")),
            current.get("password", ""),
        )  # fmt: skip
        if {**current, **located} != current:
            secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps({**current, **located}))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        rds = clients("rds", resource.region)
        params = api_params(
            rds, "ModifyDBCluster", resource.properties, DBClusterIdentifier=resource.name, ApplyImmediately=True
        )
        if previous.data.get("cluster", {}).get("MasterUserSecret") and params.get("ManageMasterUserPassword"):
            # Already managed: AWS keeps the secret. moto would make a new one (a new ARN,
            # without what the sandbox wrote into the old one), so the flag is not sent again.
            params.pop("ManageMasterUserPassword")
            params.pop("MasterUserSecretKmsKeyId", None)
        cluster = rds.modify_db_cluster(**params)["DBCluster"]
        resource.data["cluster"] = cluster
        self._locate(clients, resource, cluster)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        final = f"{resource.name}-final-{uuid.uuid4().hex[:8]}" if snapshot else None
        clients("rds", resource.region).delete_db_cluster(
            **api_params(
                clients("rds", resource.region),
                "DeleteDBCluster",
                {},
                DBClusterIdentifier=resource.name,
                SkipFinalSnapshot=not snapshot,
                FinalDBSnapshotIdentifier=final,
            )
        )
        self._delete_automated_backups(clients("rds", resource.region), resource.name)
        clients.databases.drop(resource.data.get("cluster", {}).get("DBClusterIdentifier", resource.name))

    @staticmethod
    def _delete_automated_backups(rds: Any, cluster: str) -> None:
        """AWS: DeleteDBCluster removes the cluster's automated backups (DeleteAutomatedBackups
        defaults to true). moto keeps its automated snapshot, named `rds:ID-YYYY-MM-DD-HH-MM`,
        and a cluster of the same name created within that minute then fails on it."""
        pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(DBClusterIdentifier=cluster)
        for page in pages:
            for snapshot in page["DBClusterSnapshots"]:
                if snapshot.get("SnapshotType") == "automated" or snapshot["DBClusterSnapshotIdentifier"].startswith(
                    "rds:"
                ):
                    rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"])


class DBInstance:
    """AWS::RDS::DBInstance through RDS's API rather than moto's model: the model cannot make
    a cluster member (it looks for a default version of `aurora-postgresql`) and says 3306
    for every engine's port; the API takes the cluster's engine version and the engine's port."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        rds = clients("rds", resource.region)
        instance = rds.create_db_instance(
            **api_params(
                rds,
                "CreateDBInstance",
                resource.properties,
                DBInstanceIdentifier=resource.name,
                VpcSecurityGroupIds=resource.prop("VPCSecurityGroups"),
            )
        )["DBInstance"]
        resource.data["instance"] = instance

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        rds = clients("rds", resource.region)
        instance = rds.modify_db_instance(
            **api_params(
                rds,
                "ModifyDBInstance",
                resource.properties,
                DBInstanceIdentifier=resource.name,
                VpcSecurityGroupIds=resource.prop("VPCSecurityGroups"),
                ApplyImmediately=True,
            )
        )["DBInstance"]
        resource.data["instance"] = instance

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A cluster member has no snapshot of its own: the cluster's DeletionPolicy takes it."""
        final = snapshot and not resource.prop("DBClusterIdentifier")
        clients("rds", resource.region).delete_db_instance(
            DBInstanceIdentifier=resource.name,
            SkipFinalSnapshot=not final,
            **({"FinalDBSnapshotIdentifier": f"{resource.name}-final-{uuid.uuid4().hex[:8]}"} if final else {}),
        )


class Domain:
    """AWS::OpenSearchService::Domain in OpenSearch."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("opensearch", resource.region)
        status = client.create_domain(
            **api_params(
                client,
                "CreateDomain",
                resource.properties,
                DomainName=resource.name,
                TagList=resource.prop("Tags"),
            )
        )["DomainStatus"]
        resource.data["domain"] = status

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("opensearch", resource.region)
        client.update_domain_config(
            **api_params(client, "UpdateDomainConfig", resource.properties, DomainName=resource.name)
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("opensearch", resource.region).delete_domain(DomainName=resource.name)


# --------------------------------------------------------------------------- cognito
class UserPool:
    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        pool = client.create_user_pool(
            **api_params(
                client,
                "CreateUserPool",
                resource.properties,
                PoolName=resource.prop("UserPoolName") or resource.name,
            )
        )["UserPool"]
        resource.data.update(id=pool["Id"], arn=pool["Arn"])

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.update_user_pool(
            **api_params(client, "UpdateUserPool", resource.properties, UserPoolId=resource.data["id"])
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cognito-idp", resource.region).delete_user_pool(UserPoolId=resource.data["id"])


class UserPoolClient:
    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        created = client.create_user_pool_client(
            **api_params(
                client,
                "CreateUserPoolClient",
                resource.properties,
                ClientName=resource.prop("ClientName") or resource.name,
            )
        )["UserPoolClient"]
        resource.data.update(id=created["ClientId"], secret=created.get("ClientSecret"))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.update_user_pool_client(
            **api_params(client, "UpdateUserPoolClient", resource.properties, ClientId=resource.data["id"])
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cognito-idp", resource.region).delete_user_pool_client(
            UserPoolId=resource.prop("UserPoolId"), ClientId=resource.data["id"]
        )


class UserPoolDomain:
    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        answer = client.create_user_pool_domain(**api_params(client, "CreateUserPoolDomain", resource.properties))
        resource.data["cloudfront"] = answer.get("CloudFrontDomain")

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.update_user_pool_domain(**api_params(client, "UpdateUserPoolDomain", resource.properties))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cognito-idp", resource.region).delete_user_pool_domain(
            Domain=resource.prop("Domain"), UserPoolId=resource.prop("UserPoolId")
        )


class UserPoolGroup:
    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.create_group(**api_params(client, "CreateGroup", resource.properties, GroupName=resource.name))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.update_group(**api_params(client, "UpdateGroup", resource.properties, GroupName=resource.name))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cognito-idp", resource.region).delete_group(
            GroupName=resource.name, UserPoolId=resource.prop("UserPoolId")
        )


class UserPoolIdentityProvider:
    """AWS::Cognito::UserPoolIdentityProvider: a federated provider of the pool (Ref: its name)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.create_identity_provider(**api_params(client, "CreateIdentityProvider", resource.properties))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cognito-idp", resource.region)
        client.update_identity_provider(**api_params(client, "UpdateIdentityProvider", resource.properties))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cognito-idp", resource.region).delete_identity_provider(
            UserPoolId=resource.prop("UserPoolId"), ProviderName=resource.prop("ProviderName")
        )


class IdentityPool:
    """AWS::Cognito::IdentityPool in Cognito identity (Ref: the pool's id)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cognito-identity", resource.region)
        pool = client.create_identity_pool(
            **api_params(client, "CreateIdentityPool", resource.properties, IdentityPoolName=self.pool_name(resource))
        )
        resource.data["id"] = pool["IdentityPoolId"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cognito-identity", resource.region)
        client.update_identity_pool(
            **api_params(
                client,
                "UpdateIdentityPool",
                resource.properties,
                IdentityPoolId=resource.data["id"],
                IdentityPoolName=self.pool_name(resource),
                AllowUnauthenticatedIdentities=bool(resource.prop("AllowUnauthenticatedIdentities", False)),
            )
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cognito-identity", resource.region).delete_identity_pool(IdentityPoolId=resource.data["id"])

    @staticmethod
    def pool_name(resource: Emulation) -> str:
        """The given name, else the generated one in the characters a pool name allows."""
        return str(resource.prop("IdentityPoolName") or re.sub(r"[^\w ]", "_", resource.name))


class IdentityPoolRoleAttachment:
    """AWS::Cognito::IdentityPoolRoleAttachment: the pool's roles set with SetIdentityPoolRoles
    (moto lacks it: `moto_internals.fix_cognito_identity_pool_roles`), taken off when it is deleted.
    CloudFormation's `RoleMappings` is a map of any key to a mapping naming its `IdentityProvider`; the
    API's is keyed by the provider
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cognito-identitypoolroleattachment.html)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        mappings = {
            str(mapping["IdentityProvider"]): {k: v for k, v in mapping.items() if k != "IdentityProvider"}
            for mapping in (resource.prop("RoleMappings") or {}).values()
        }
        client = clients("cognito-identity", resource.region)
        client.set_identity_pool_roles(
            **api_params(
                client,
                "SetIdentityPoolRoles",
                {"Roles": resource.prop("Roles") or {}, "RoleMappings": mappings},
                IdentityPoolId=resource.prop("IdentityPoolId"),
            )
        )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        try:
            clients("cognito-identity", resource.region).set_identity_pool_roles(
                IdentityPoolId=resource.prop("IdentityPoolId"), Roles={}
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise


# --------------------------------------------------------------------------- synthetics
class Canary:
    """AWS::Synthetics::Canary in CloudWatch Synthetics; `StartCanaryAfterCreation` starts it.

    moto has CreateCanary but no UpdateCanary, StartCanary or DeleteCanary: an update makes
    the canary again under its name and id, and the delete removes it from moto's backend.
    """

    #: CloudFormation's names of the properties whose API parameters are named otherwise
    RENAMED = {
        "SuccessRetentionPeriod": "SuccessRetentionPeriodInDays",
        "FailureRetentionPeriod": "FailureRetentionPeriodInDays",
    }

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("synthetics", resource.region)
        # Tags: CloudFormation's list of Key/Value, the API's map
        properties = {self.RENAMED.get(key, key): value for key, value in resource.properties.items() if key != "Tags"}
        properties["Tags"] = {tag["Key"]: tag["Value"] for tag in resource.prop("Tags", [])}
        canary = client.create_canary(**api_params(client, "CreateCanary", properties, Name=resource.name))["Canary"]
        resource.data.setdefault("id", canary["Id"])
        state = "RUNNING" if resource.prop("StartCanaryAfterCreation") in (True, "true") else "READY"
        resource.data["state"] = state
        moto_internals.synthetics_keep_canary(
            resource.region, resource.name, canary_id=resource.data["id"], state=state, account_id=resource.account
        )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        moto_internals.synthetics_delete_canary(resource.region, resource.name, account_id=resource.account)
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A canary already gone is deleted: CloudFormation takes "not found" as done."""
        moto_internals.synthetics_delete_canary(resource.region, resource.name, account_id=resource.account)


# --------------------------------------------------------------------------- rum
class AppMonitor:
    """AWS::RUM::AppMonitor in CloudWatch RUM (the sandbox's own, `sandbox.rum`: moto has no RUM).
    Ref: its name; Fn::GetAtt Id: the id CreateAppMonitor answers
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rum-appmonitor.html)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("rum", resource.region)
        created = client.create_app_monitor(
            **api_params(client, "CreateAppMonitor", resource.properties, Name=resource.name)
        )
        resource.data["id"] = created["Id"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """UpdateAppMonitor: every property it takes; one it is not given goes back to the API's default."""
        client = clients("rum", resource.region)
        client.update_app_monitor(**api_params(client, "UpdateAppMonitor", resource.properties, Name=resource.name))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """An app monitor already gone is deleted: CloudFormation takes "not found" as done."""
        try:
            clients("rum", resource.region).delete_app_monitor(Name=resource.name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise


# --------------------------------------------------------------------------- opensearch serverless
def _not_found(message: str) -> ResourceFailed:
    return ResourceFailed(handler_message(message, service="OpenSearchServerless", status=404))


class ServerlessSecurityPolicy:
    """AWS::OpenSearchServerless::SecurityPolicy (encryption, network) in OpenSearch Serverless.

    moto has no DeleteSecurityPolicy: the delete removes the policy from moto's backend, so
    a policy of the same name and type can be created again, as in AWS.
    """

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("opensearchserverless", resource.region)
        client.create_security_policy(**api_params(client, "CreateSecurityPolicy", resource.properties))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("opensearchserverless", resource.region)
        current = client.get_security_policy(name=resource.prop("Name"), type=resource.prop("Type"))
        client.update_security_policy(
            **api_params(
                client,
                "UpdateSecurityPolicy",
                resource.properties,
                policyVersion=current["securityPolicyDetail"]["policyVersion"],
            )
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A policy already gone is deleted: CloudFormation takes "not found" as done."""
        moto_internals.aoss_delete_security_policy(
            resource.region, resource.name, str(resource.prop("Type")), account_id=resource.account
        )


class ServerlessCollection:
    """AWS::OpenSearchServerless::Collection; its encryption policy must exist first, as in AWS."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("opensearchserverless", resource.region)
        created = client.create_collection(
            **api_params(client, "CreateCollection", resource.properties, name=resource.name)
        )["createCollectionDetail"]
        found = client.batch_get_collection(ids=[created["id"]])["collectionDetails"][0]
        resource.data["collection"] = {
            key: found[key] for key in ("id", "arn", "collectionEndpoint", "dashboardEndpoint")
        }

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """Only the description changes in place (the rest replaces the collection)."""
        collection_id = resource.data["collection"]["id"]
        description = str(resource.prop("Description", ""))
        if not moto_internals.aoss_update_collection(
            resource.region, collection_id, description=description, account_id=resource.account
        ):
            raise _not_found(f"Collection with ID {collection_id} cannot be found.")

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A collection already gone is deleted: CloudFormation takes "not found" as done."""
        try:
            clients("opensearchserverless", resource.region).delete_collection(id=resource.data["collection"]["id"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise


# --------------------------------------------------------------------------- cloudfront
#: The region of every certificate CloudFront uses (its global endpoint's home).
CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
_MISSING_CERTIFICATE = (
    "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, "
    "or doesn't include a valid certificate chain."
)
_UNCOVERED_ALIAS = (
    "The certificate that is attached to your distribution doesn't cover the alternate domain "
    "name (CNAME) that you're trying to add. For more details, see: "
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html#alternate-domain-names-requirements"
)


def _invalid_certificate(message: str) -> ResourceFailed:
    return ResourceFailed(handler_message(f"InvalidViewerCertificate: {message}", service="CloudFront"))


def _covers(pattern: str, host: str) -> bool:
    """A certificate name covers a host: the same name, or `*.` standing for one label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        first, _, rest = host.partition(".")
        return bool(first) and rest == pattern[2:]
    return pattern == host


class Distribution:
    """AWS::CloudFront::Distribution. Delete disables first, as the handler must.

    An ACM certificate is checked as CloudFront checks it (moto does not): it exists in
    us-east-1, is issued, and names every alias (InvalidViewerCertificate otherwise).
    """

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cloudfront", resource.region)
        config = self._config(client, resource, caller_reference=str(uuid.uuid4()))
        self._check_certificate(clients, config)
        tags = tag_map(resource.prop("Tags"), resource.resource_type)
        if tags:  # as the handler does: CreateDistributionWithTags
            distribution = client.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": [{"Key": key, "Value": value} for key, value in tags.items()]},
                }
            )["Distribution"]
        else:
            distribution = client.create_distribution(DistributionConfig=config)["Distribution"]
        resource.data.update(
            id=distribution["Id"],
            domain=distribution["DomainName"],
            caller_reference=config["CallerReference"],
        )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cloudfront", resource.region)
        current = client.get_distribution_config(Id=resource.data["id"])
        config = self._config(client, resource, caller_reference=resource.data["caller_reference"])
        self._check_certificate(clients, config)
        client.update_distribution(Id=resource.data["id"], IfMatch=current["ETag"], DistributionConfig=config)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("cloudfront", resource.region)
        current = client.get_distribution_config(Id=resource.data["id"])
        etag = current["ETag"]
        if current["DistributionConfig"].get("Enabled"):
            config = dict(current["DistributionConfig"], Enabled=False)
            etag = client.update_distribution(Id=resource.data["id"], IfMatch=etag, DistributionConfig=config)["ETag"]
        client.delete_distribution(Id=resource.data["id"], IfMatch=etag)

    @staticmethod
    def _check_certificate(clients: ServiceClients, config: dict[str, Any]) -> None:
        arn = config.get("ViewerCertificate", {}).get("ACMCertificateArn")
        if not arn:
            return
        refused = _invalid_certificate(_MISSING_CERTIFICATE)
        if arn.split(":")[3:4] != [CLOUDFRONT_CERTIFICATE_REGION]:
            raise refused
        try:
            certificate = clients("acm", CLOUDFRONT_CERTIFICATE_REGION).describe_certificate(CertificateArn=arn)
        except ClientError as error:
            raise refused from error
        described = certificate["Certificate"]
        if described.get("Status") != "ISSUED":
            raise refused
        names = [described.get("DomainName", ""), *described.get("SubjectAlternativeNames", [])]
        for alias in config.get("Aliases", {}).get("Items", []):
            if not any(_covers(name, alias) for name in names if name):
                raise _invalid_certificate(_UNCOVERED_ALIAS)

    @staticmethod
    def _config(client: Any, resource: Emulation, *, caller_reference: str) -> dict[str, Any]:
        given = dict(resource.prop("DistributionConfig", {}))
        given.setdefault("Comment", "")
        for origin in given.get("Origins", []):
            if "S3OriginConfig" in origin:  # optional in CloudFormation, required by the API
                origin["S3OriginConfig"] = {"OriginAccessIdentity": "", **origin["S3OriginConfig"]}
        config = api_params(client, "CreateDistribution", {"DistributionConfig": given})
        distribution_config: dict[str, Any] = config["DistributionConfig"]
        distribution_config["CallerReference"] = caller_reference
        return distribution_config


# --------------------------------------------------------------------------- certificates
#: The TTL of the validation records CloudFormation writes (ACM's console writes 300 too).
VALIDATION_RECORD_TTL = 300


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


class Certificate:
    """AWS::CertificateManager::Certificate: RequestCertificate, then DNS validation in Route 53.

    As CloudFormation's handler does: for each of `DomainValidationOptions` naming a
    `HostedZoneId`, the name's validation CNAME (DescribeCertificate's `ResourceRecord`) is
    written into that zone (ChangeResourceRecordSets UPSERT; `*.zone` and `zone` share one
    record), and the resource completes once ACM has issued the certificate, that is once every
    name's record is in the public hosted zone for that name. In AWS a name without one makes
    the stack wait, up to days; the sandbox fails the resource naming it instead. A zone id that
    does not exist fails it with Route 53's NoSuchHostedZone. A delete leaves the validation
    records in the zone, as CloudFormation does (another certificate for the same names shares
    them, and would not renew without them; aws-cloudformation/cloudformation-coverage-roadmap#837,
    #1603)
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-certificatemanager-certificate-domainvalidationoption.html).
    """

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        acm = clients("acm", resource.region)
        method = str(resource.prop("ValidationMethod") or "EMAIL").upper()
        properties = {key: value for key, value in resource.properties.items() if key != "DomainValidationOptions"}
        if method == "EMAIL":  # the API takes the options only for email validation (ValidationDomain)
            properties["DomainValidationOptions"] = [
                option for option in resource.prop("DomainValidationOptions") or [] if option.get("ValidationDomain")
            ] or None
        preference = resource.prop("CertificateTransparencyLoggingPreference")
        arn = acm.request_certificate(
            **api_params(
                acm,
                "RequestCertificate",
                properties,
                Options={"CertificateTransparencyLoggingPreference": preference} if preference else None,
            )
        )["CertificateArn"]
        resource.data["arn"] = arn
        try:
            self._validate(clients, resource, acm, arn)
        except (ResourceFailed, ClientError):
            # nothing the rollback would delete: a request left behind would be a stray certificate
            acm.delete_certificate(CertificateArn=arn)
            raise

    def _validate(self, clients: ServiceClients, resource: Emulation, acm: Any, arn: str) -> None:
        described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        if described.get("Status") == "ISSUED":  # a private CA's certificate needs no validation
            return
        records = {
            str(option["DomainName"]).lower(): option["ResourceRecord"]
            for option in described.get("DomainValidationOptions", [])
            if option.get("ResourceRecord")
        }
        route53 = clients("route53", resource.region)
        if str(resource.prop("ValidationMethod") or "").upper() == "DNS":
            for option in resource.prop("DomainValidationOptions") or []:
                record = records.get(str(option.get("DomainName", "")).lower())
                if option.get("HostedZoneId") and record:
                    self._write(route53, str(option["HostedZoneId"]), record)
        missing = [name for name, record in records.items() if not self._published(route53, record)]
        if missing:
            raise ResourceFailed(
                handler_message(
                    f"Certificate {arn} is not validated: no DNS validation record in a Route 53 hosted zone for "
                    f"{', '.join(sorted(missing))} (give its HostedZoneId in DomainValidationOptions; in AWS the "
                    "stack would wait for the record, the sandbox does not)"
                )
            )
        moto_internals.acm_issue_certificate(resource.region, arn, account_id=resource.account)

    @staticmethod
    def _write(route53: Any, zone_id: str, record: dict[str, str]) -> None:
        change = {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": record["Name"],
                "Type": record["Type"],
                "TTL": VALIDATION_RECORD_TTL,
                "ResourceRecords": [{"Value": record["Value"]}],
            },
        }
        try:
            route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})
        except ClientError as error:
            details = error.response.get("Error", {})
            if details.get("Code") != "NoSuchHostedZone":
                raise
            raise ResourceFailed(
                handler_message(
                    f"NoSuchHostedZone: {details.get('Message') or f'No hosted zone found with ID: {zone_id}'}",
                    service="Route53",
                    status=404,
                )
            ) from error

    @staticmethod
    def _published(route53: Any, record: dict[str, str]) -> bool:
        """Whether the record is in the public hosted zone for its name (the zone with the
        longest name the record's name ends in), as DNS would answer it."""
        name = _fqdn(record["Name"])
        zones = [
            zone
            for page in route53.get_paginator("list_hosted_zones").paginate()
            for zone in page["HostedZones"]
            if not zone.get("Config", {}).get("PrivateZone")
            and (name == _fqdn(zone["Name"]) or name.endswith("." + _fqdn(zone["Name"])))
        ]
        if not zones:
            return False
        zone = max(zones, key=lambda found: len(found["Name"]))
        for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"]):
            for found in page["ResourceRecordSets"]:
                values = {_fqdn(value["Value"]) for value in found.get("ResourceRecords", [])}
                if (
                    _fqdn(found["Name"]) == name
                    and found["Type"] == record["Type"]
                    and _fqdn(record["Value"]) in values
                ):
                    return True
        return False

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """In place: `CertificateTransparencyLoggingPreference` (UpdateCertificateOptions; moto lacks
        it) and `Tags` (the tagger); every other property replaces the certificate."""
        preference = resource.prop("CertificateTransparencyLoggingPreference")
        if preference and preference != previous.prop("CertificateTransparencyLoggingPreference"):
            moto_internals.acm_update_certificate_options(
                resource.region,
                resource.data["arn"],
                {"CertificateTransparencyLoggingPreference": str(preference)},
                account_id=resource.account,
            )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """DeleteCertificate, refused while a CloudFront distribution uses it, as ACM refuses it
        (ResourceInUseException; in a stack the distribution that refers to it goes first)."""
        arn = resource.data["arn"]
        cloudfront = clients("cloudfront", CLOUDFRONT_CERTIFICATE_REGION)
        for page in cloudfront.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []):
                config = cloudfront.get_distribution_config(Id=item["Id"])["DistributionConfig"]
                if config.get("ViewerCertificate", {}).get("ACMCertificateArn") == arn:
                    raise ResourceFailed(
                        handler_message(
                            f"ResourceInUseException: Certificate {arn} in account {resource.account} is in use.",
                            service="Acm",
                        )
                    )
        _ignore_missing(lambda: clients("acm", resource.region).delete_certificate(CertificateArn=arn))


# --------------------------------------------------------------------------- security group rules
class SecurityGroupRule:
    """AWS::EC2::SecurityGroupIngress / SecurityGroupEgress: one rule of a security group,
    authorized through EC2's API (moto's model left out IPv6 ranges and prefix lists, and
    never revoked the rule).

    A rule EC2 already has (the same protocol, ports and peer, whatever its description;
    e.g. given twice, or also inline in the group's `SecurityGroupIngress`) is not an
    error: CloudFormation's handler takes EC2's `InvalidPermission.Duplicate` as created,
    and the rule exists once. Deleting either resource revokes that one rule, as in AWS
    (aws-cloudformation/cloudformation-coverage-roadmap#612, #1534).
    """

    def __init__(self, direction: str) -> None:
        self.direction = direction  # "ingress" or "egress"

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        ec2 = clients("ec2", resource.region)
        authorize = getattr(ec2, f"authorize_security_group_{self.direction}")
        try:
            answer = authorize(**self._group(resource), IpPermissions=[self._permission(resource)])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "InvalidPermission.Duplicate":
                raise
            resource.data["duplicate"] = True
            return
        rules = answer.get("SecurityGroupRules") or []
        if rules:
            resource.data["id"] = rules[0]["SecurityGroupRuleId"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """Only `Description` changes in place (every other property replaces the rule)."""
        ec2 = clients("ec2", resource.region)
        update = getattr(ec2, f"update_security_group_rule_descriptions_{self.direction}")
        update(**self._group(resource), IpPermissions=[self._permission(resource)])

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A rule already gone is deleted: CloudFormation takes "not found" as done."""
        ec2 = clients("ec2", resource.region)
        revoke = getattr(ec2, f"revoke_security_group_{self.direction}")
        # By its id when it has one: moto's revoke by permission misses IPv6 egress rules.
        rule = {"SecurityGroupRuleIds": [resource.data["id"]]} if resource.data.get("id") else {}
        try:
            revoke(**self._group(resource), **(rule or {"IpPermissions": [self._permission(resource)]}))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code not in ("InvalidPermission.NotFound", "InvalidGroup.NotFound"):
                raise

    @staticmethod
    def _group(resource: Emulation) -> dict[str, Any]:
        if resource.prop("GroupId"):
            return {"GroupId": str(resource.prop("GroupId"))}
        return {"GroupName": str(resource.prop("GroupName"))}

    def _permission(self, resource: Emulation) -> dict[str, Any]:
        protocol = str(resource.prop("IpProtocol"))
        permission: dict[str, Any] = {"IpProtocol": protocol}
        for name in ("FromPort", "ToPort"):
            if resource.prop(name) is not None:
                permission[name] = int(resource.prop(name))
        described = {"Description": str(resource.prop("Description"))} if resource.prop("Description") else {}
        peer = "Source" if self.direction == "ingress" else "Destination"
        if resource.prop("CidrIp"):
            permission["IpRanges"] = [{"CidrIp": str(resource.prop("CidrIp")), **described}]
        elif resource.prop("CidrIpv6"):
            permission["Ipv6Ranges"] = [{"CidrIpv6": str(resource.prop("CidrIpv6")), **described}]
        elif resource.prop(f"{peer}PrefixListId"):
            permission["PrefixListIds"] = [{"PrefixListId": str(resource.prop(f"{peer}PrefixListId")), **described}]
        else:
            pair = {
                key: str(resource.prop(f"{peer}SecurityGroup{field}"))
                for key, field in (("GroupId", "Id"), ("GroupName", "Name"), ("UserId", "OwnerId"))
                if resource.prop(f"{peer}SecurityGroup{field}")
            }
            if not pair:
                raise ResourceFailed(
                    handler_message(
                        f"{resource.resource_type} needs one of CidrIp, CidrIpv6, {peer}PrefixListId or "
                        f"{peer}SecurityGroupId"
                    )
                )
            permission["UserIdGroupPairs"] = [{**pair, **described}]
        return permission


# --------------------------------------------------------------------------- network ACLs
class NetworkAcl:
    """AWS::EC2::NetworkAcl: CreateNetworkAcl in its VPC, its `Tags` as the call's TagSpecifications (an
    update retags it: the type's tagger); Ref is its id. EC2 refuses to delete one a subnet is still
    associated with (DependencyViolation), as CloudFormation's handler then fails."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        tags = [{"Key": k, "Value": v} for k, v in tag_map(resource.prop("Tags"), resource.resource_type).items()]
        answer = clients("ec2", resource.region).create_network_acl(
            VpcId=str(resource.prop("VpcId")),
            TagSpecifications=[{"ResourceType": "network-acl", "Tags": tags}] if tags else [],
        )
        resource.data["id"] = answer["NetworkAcl"]["NetworkAclId"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """`Tags` alone changes in place (`VpcId` replaces the ACL), through the type's tagger."""

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        ec2 = clients("ec2", resource.region)
        _ignore_missing(
            lambda: ec2.delete_network_acl(NetworkAclId=resource.data["id"]), "InvalidNetworkAclID.NotFound"
        )


class NetworkAclEntry:
    """AWS::EC2::NetworkAclEntry: CreateNetworkAclEntry (the type's `Icmp` is the API's `IcmpTypeCode`, its
    integer `Protocol` the API's string); an update is ReplaceNetworkAclEntry (`NetworkAclId`, `Egress` and
    `RuleNumber` replace the entry); a delete of an entry whose ACL is gone is done."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        clients("ec2", resource.region).create_network_acl_entry(**self._entry(resource))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        clients("ec2", resource.region).replace_network_acl_entry(**self._entry(resource))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        ec2 = clients("ec2", resource.region)
        entry = self._entry(resource)
        _ignore_missing(
            lambda: ec2.delete_network_acl_entry(
                NetworkAclId=entry["NetworkAclId"], RuleNumber=entry["RuleNumber"], Egress=entry["Egress"]
            ),
            "InvalidNetworkAclID.NotFound",
            "InvalidNetworkAclEntry.NotFound",
        )

    @staticmethod
    def _entry(resource: Emulation) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "NetworkAclId": str(resource.prop("NetworkAclId")),
            "RuleNumber": int(resource.prop("RuleNumber")),
            "Protocol": str(resource.prop("Protocol")),
            "RuleAction": str(resource.prop("RuleAction")),
            "Egress": str(resource.prop("Egress", False)).lower() == "true",
        }
        for name in ("CidrBlock", "Ipv6CidrBlock"):
            if resource.prop(name) is not None:
                entry[name] = str(resource.prop(name))
        if resource.prop("PortRange") is not None:
            entry["PortRange"] = {k: int(v) for k, v in resource.prop("PortRange").items()}
        if resource.prop("Icmp") is not None:
            entry["IcmpTypeCode"] = {k: int(v) for k, v in resource.prop("Icmp").items()}
        return entry


class SubnetNetworkAclAssociation:
    """AWS::EC2::SubnetNetworkAclAssociation: a subnet is always associated with one network ACL (its VPC's
    default one until told otherwise), so the handler replaces the subnet's association
    (ReplaceNetworkAclAssociation) and a delete gives the subnet back to its VPC's default network ACL
    (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html: "each subnet ... must be
    associated with a network ACL. If you don't explicitly associate a subnet with a network ACL, the subnet is
    automatically associated with the default network ACL"); Ref is the new association's id."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        ec2, subnet = clients("ec2", resource.region), str(resource.prop("SubnetId"))
        current = self._associations(ec2, "association.subnet-id", subnet, lambda a: a.get("SubnetId") == subnet)
        if not current:
            raise ResourceFailed(handler_message(f"The subnet ID '{subnet}' does not exist", service="EC2", status=400))
        (association_id, _), *_ = current
        answer = ec2.replace_network_acl_association(
            AssociationId=association_id, NetworkAclId=str(resource.prop("NetworkAclId"))
        )
        resource.data["id"] = answer["NewAssociationId"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """Both properties replace the association: nothing changes in place."""

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """Back to the VPC's default network ACL; an association already gone (its subnet deleted, or
        associated elsewhere since) is done."""
        ec2, association = clients("ec2", resource.region), str(resource.data["id"])
        found = self._associations(
            ec2, "association.association-id", association, lambda a: a.get("NetworkAclAssociationId") == association
        )
        if not found:
            return
        (_, vpc_id), *_ = found
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}]
        (default,) = ec2.describe_network_acls(Filters=filters)["NetworkAcls"]
        ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=default["NetworkAclId"])

    @staticmethod
    def _associations(ec2: Any, name: str, value: str, matches: Any) -> list[tuple[str, str]]:
        """The associations `matches` picks, of the network ACLs the filter finds: each one's id and VPC."""
        acls = ec2.describe_network_acls(Filters=[{"Name": name, "Values": [value]}])["NetworkAcls"]
        return [
            (str(a["NetworkAclAssociationId"]), str(acl["VpcId"]))
            for acl in acls
            for a in acl.get("Associations") or []
            if matches(a)
        ]


# --------------------------------------------------------------------------- cloudtrail
class Trail:
    """AWS::CloudTrail::Trail: CreateTrail (its `Tags` as the API's `TagsList`), then what the
    handler applies with other calls: `EventSelectors` / `InsightSelectors`, and `IsLogging`
    (StartLogging / StopLogging)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("cloudtrail", resource.region)
        trail = client.create_trail(
            **api_params(client, "CreateTrail", resource.properties, Name=resource.name, TagsList=resource.prop("Tags"))
        )
        resource.data["arn"] = trail["TrailARN"]
        resource.data["topic"] = trail.get("SnsTopicARN")
        self._apply(client, resource)

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("cloudtrail", resource.region)
        trail = client.update_trail(**api_params(client, "UpdateTrail", resource.properties, Name=resource.name))
        resource.data["topic"] = trail.get("SnsTopicARN")
        self._apply(client, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        clients("cloudtrail", resource.region).delete_trail(Name=resource.name)

    @staticmethod
    def _apply(client: Any, resource: Emulation) -> None:
        if resource.prop("EventSelectors"):
            client.put_event_selectors(
                **api_params(client, "PutEventSelectors", resource.properties, TrailName=resource.name)
            )
        if resource.prop("InsightSelectors"):
            client.put_insight_selectors(
                **api_params(client, "PutInsightSelectors", resource.properties, TrailName=resource.name)
            )
        logging = resource.prop("IsLogging")
        if logging in (True, "true", "True"):
            client.start_logging(Name=resource.name)
        else:
            client.stop_logging(Name=resource.name)


# --------------------------------------------------------------------------- api gateway
class RestApiMethod:
    """AWS::ApiGateway::Method through API Gateway's API: PutMethod, PutIntegration, and a
    PutMethodResponse / PutIntegrationResponse for each of `MethodResponses` and the
    integration's `IntegrationResponses`, as the handler does. A `MOCK` integration (CORS's
    `OPTIONS` methods) has no `IntegrationHttpMethod` and no `Uri` (moto's model required
    both, and dropped authorizers and responses). An update puts the method again."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("apigateway", resource.region)
        where = self._where(resource)
        client.put_method(**api_params(client, "PutMethod", resource.properties, **where))
        for response in resource.prop("MethodResponses") or []:
            client.put_method_response(**api_params(client, "PutMethodResponse", response, **where))
        integration = resource.prop("Integration")
        if not integration:
            return
        client.put_integration(**api_params(client, "PutIntegration", integration, **where))
        for response in integration.get("IntegrationResponses") or []:
            client.put_integration_response(**api_params(client, "PutIntegrationResponse", response, **where))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.delete(clients, previous, snapshot=False)
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A method already gone (its API deleted first) is deleted."""
        try:
            clients("apigateway", resource.region).delete_method(**self._where(resource))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise

    @staticmethod
    def _where(resource: Emulation) -> dict[str, str]:
        return {
            "restApiId": str(resource.prop("RestApiId")),
            "resourceId": str(resource.prop("ResourceId")),
            "httpMethod": str(resource.prop("HttpMethod")),
        }


class RestApiAuthorizer:
    """AWS::ApiGateway::Authorizer: CreateAuthorizer (Ref: the authorizer's id)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("apigateway", resource.region)
        created = client.create_authorizer(
            **api_params(client, "CreateAuthorizer", resource.properties, name=resource.prop("Name") or resource.name)
        )
        resource.data["id"] = created["id"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("apigateway", resource.region)
        operations = [
            {"op": "replace", "path": f"/{path}", "value": str(resource.prop(name))}
            for name, path in (
                ("AuthorizerUri", "authorizerUri"),
                ("IdentitySource", "identitySource"),
                ("AuthorizerResultTtlInSeconds", "authorizerResultTtlInSeconds"),
                ("AuthorizerCredentials", "authorizerCredentials"),
            )
            if resource.prop(name) is not None and resource.prop(name) != previous.prop(name)
        ]
        if operations:
            client.update_authorizer(
                restApiId=resource.prop("RestApiId"), authorizerId=resource.data["id"], patchOperations=operations
            )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        try:
            clients("apigateway", resource.region).delete_authorizer(
                restApiId=resource.prop("RestApiId"), authorizerId=resource.data["id"]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise


#: The hosted zone of every edge-optimized custom domain name's CloudFront distribution, its alias target's zone
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigateway-domainname.html#aws-resource-apigateway-domainname-return-values).
EDGE_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
#: The region an edge-optimized custom domain name takes its ACM certificate from
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html).
EDGE_CERTIFICATE_REGION = "us-east-1"


def _bad_domain_request(message: str) -> ResourceFailed:
    return ResourceFailed(handler_message(message, service="ApiGateway"))


class RestApiDomainName:
    """AWS::ApiGateway::DomainName through API Gateway's CreateDomainName (`Ref`: the name; `Fn::GetAtt`
    `DistributionDomainName`, `DistributionHostedZoneId` (CloudFront's, `Z2FDTNDATAQYW2`, for an edge-optimized
    name), `RegionalDomainName` and `RegionalHostedZoneId`: what GetDomainName answers). Its certificate is
    checked as API Gateway checks it (moto does not): an edge-optimized name (EDGE, the default endpoint type)
    takes `CertificateArn`, an ACM certificate of the account in us-east-1; a regional one
    `RegionalCertificateArn`, of the stack's region; either issued and covering the name
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains.html). An update changes the
    certificates and the TLS policy in place (UpdateDomainName); the name itself replaces the resource."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        self._check_certificate(clients, resource)
        client = clients("apigateway", resource.region)
        client.create_domain_name(**api_params(client, "CreateDomainName", resource.properties))
        self._read(client, resource)

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self._check_certificate(clients, resource)
        name = str(resource.prop("DomainName"))
        if not moto_internals.apigateway_update_domain_name(
            resource.region,
            name,
            certificate_arn=resource.prop("CertificateArn"),
            regional_certificate_arn=resource.prop("RegionalCertificateArn"),
            security_policy=resource.prop("SecurityPolicy"),
            account_id=resource.account,
        ):
            raise ResourceFailed(handler_message("Invalid domain name identifier specified", service="ApiGateway",
                                                 status=404))  # fmt: skip
        self._read(clients("apigateway", resource.region), resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """A name already gone is deleted: CloudFormation takes "not found" as done."""
        try:
            clients("apigateway", resource.region).delete_domain_name(domainName=str(resource.prop("DomainName")))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise

    @staticmethod
    def _read(client: Any, resource: Emulation) -> None:
        found = client.get_domain_name(domainName=str(resource.prop("DomainName")))
        resource.data["domain"] = {
            key: found.get(key)
            for key in ("distributionDomainName", "distributionHostedZoneId", "regionalDomainName",
                        "regionalHostedZoneId")
        }  # fmt: skip

    @staticmethod
    def _check_certificate(clients: ServiceClients, resource: Emulation) -> None:
        types = (resource.prop("EndpointConfiguration") or {}).get("Types") or ["EDGE"]
        kind = str(types[0])
        if kind not in ("EDGE", "REGIONAL"):
            return
        edge = kind == "EDGE"
        arn = str(resource.prop("CertificateArn" if edge else "RegionalCertificateArn") or "")
        region = EDGE_CERTIFICATE_REGION if edge else resource.region
        if not arn:
            raise _bad_domain_request(f"A certificate was not provided for the endpoint type {kind}.")
        parts = arn.split(":")
        if parts[3:4] != [region]:
            raise _bad_domain_request(f"Invalid certificate ARN: {arn}. Certificate must be in '{region}'.")
        if parts[4:5] != [resource.account]:
            raise _bad_domain_request("The certificate provided must be owned by the account creating the domain.")
        try:
            described = clients("acm", region).describe_certificate(CertificateArn=arn)["Certificate"]
        except ClientError as error:
            raise _bad_domain_request(f"Invalid certificate ARN: {arn}. Certificate not found.") from error
        if described.get("Status") != "ISSUED":
            raise _bad_domain_request(f"Invalid certificate ARN: {arn}. Certificate is {described.get('Status')}, "
                                      "not ISSUED.")  # fmt: skip
        name = str(resource.prop("DomainName"))
        names = [described.get("DomainName", ""), *described.get("SubjectAlternativeNames", [])]
        if not any(_covers(pattern, name) for pattern in names if pattern):
            raise _bad_domain_request(f"The certificate {arn} does not cover the domain name {name}.")


class RestApiBasePathMapping:
    """AWS::ApiGateway::BasePathMapping through API Gateway's CreateBasePathMapping (the domain name, API and
    stage must exist, as in AWS); an update points it at its new API or stage (UpdateBasePathMapping); a delete
    of a mapping whose name is already gone is done."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("apigateway", resource.region)
        client.create_base_path_mapping(**api_params(client, "CreateBasePathMapping", resource.properties))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        operations = [
            {"op": "replace", "path": path, "value": str(resource.prop(name))}
            for name, path in (("RestApiId", "/restapiId"), ("Stage", "/stage"))
            if resource.prop(name) != previous.prop(name)
        ]
        if operations:
            clients("apigateway", resource.region).update_base_path_mapping(
                **self._where(previous), patchOperations=operations
            )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        try:
            clients("apigateway", resource.region).delete_base_path_mapping(**self._where(resource))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise

    @staticmethod
    def _where(resource: Emulation) -> dict[str, str]:
        return {"domainName": str(resource.prop("DomainName")), "basePath": str(resource.prop("BasePath") or "(none)")}


# --------------------------------------------------------------------------- lambda versions
class FunctionVersion:
    """AWS::Lambda::Version: PublishVersion (Ref and `Fn::GetAtt FunctionArn`: the version's ARN,
    `Version`: its number; moto's model kept only the number, so `Ref` answered a made-up name
    and a CDK Trigger's `HandlerArn` named no function). Every property replaces the version;
    deleting it deletes that version only."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("lambda", resource.region)
        published = client.publish_version(**api_params(client, "PublishVersion", resource.properties))
        resource.data.update(arn=published["FunctionArn"], version=published["Version"])

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """Nothing changes in place (`ProvisionedConcurrencyConfig` is not modelled)."""

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        try:
            clients("lambda", resource.region).delete_function(FunctionName=resource.data["arn"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise


#: A `MethodSetting` property of CloudFormation's and the setting's path in UpdateStage's patch
#: operations (`/{resource path}/{http method}/{setting}`):
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html,
#: https://docs.aws.amazon.com/apigateway/latest/api/patch-operations.html#UpdateStage-Patch
METHOD_SETTING_PATHS = {
    "ThrottlingRateLimit": "throttling/rateLimit",
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "LoggingLevel": "logging/loglevel",
    "DataTraceEnabled": "logging/dataTrace",
    "MetricsEnabled": "metrics/enabled",
    "CachingEnabled": "caching/enabled",
    "CacheTtlInSeconds": "caching/ttlInSeconds",
    "CacheDataEncrypted": "caching/dataEncrypted",
}


def method_setting_operations(settings: Any) -> list[dict[str, str]]:
    """UpdateStage's `replace` operations that give a stage CloudFormation's `MethodSettings`. The
    setting's `ResourcePath` is already `~1`-encoded, its leading slash that of the patch path
    (`/*` with `*` is every resource and method, `/` the root resource)."""
    operations = []
    for setting in settings or []:
        resource_path = str(setting.get("ResourcePath", "/*"))[1:] or "~1"
        where = f"/{resource_path}/{setting.get('HttpMethod', '*')}"
        for name, path in METHOD_SETTING_PATHS.items():
            if name in setting:
                value = setting[name]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                operations.append({"op": "replace", "path": f"{where}/{path}", "value": text})
    return operations


class RestApiStage:
    """AWS::ApiGateway::Stage: CreateStage (`Tags`, CloudFormation's list, as the API's map), then
    its `MethodSettings` as UpdateStage's patch operations (the stage's `methodSettings`, as
    GetStage reads them back); an update points the stage at its new deployment and description,
    puts the settings again and retags it. A method setting the update drops is left on the stage;
    `AccessLogSetting` is kept as a property, not applied."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("apigateway", resource.region)
        client.create_stage(**api_params(client, "CreateStage", resource.properties))
        settings = method_setting_operations(resource.prop("MethodSettings"))
        if settings:
            client.update_stage(
                restApiId=str(resource.prop("RestApiId")),
                stageName=str(resource.prop("StageName")),
                patchOperations=settings,
            )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("apigateway", resource.region)
        operations = [
            {"op": "replace", "path": f"/{path}", "value": str(resource.prop(name, ""))}
            for name, path in (("DeploymentId", "deploymentId"), ("Description", "description"))
            if resource.prop(name) != previous.prop(name)
        ]
        if resource.prop("MethodSettings") != previous.prop("MethodSettings"):
            operations += method_setting_operations(resource.prop("MethodSettings"))
        where = {"restApiId": str(resource.prop("RestApiId")), "stageName": str(resource.prop("StageName"))}
        if operations:
            client.update_stage(**where, patchOperations=operations)
        stage = f"/restapis/{where['restApiId']}/stages/{where['stageName']}"
        arn = f"arn:{resource.stack.partition}:apigateway:{resource.region}::{stage}"
        tags = tag_map(resource.prop("Tags"), resource.resource_type)
        dropped = sorted(set(tag_map(previous.prop("Tags"), resource.resource_type)) - set(tags))
        if dropped:
            client.untag_resource(resourceArn=arn, tagKeys=dropped)
        if tags:
            client.tag_resource(resourceArn=arn, tags=tags)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        try:
            clients("apigateway", resource.region).delete_stage(
                restApiId=str(resource.prop("RestApiId")), stageName=str(resource.prop("StageName"))
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise


# --------------------------------------------------------------------------- waf
class _WafEntity:
    """A WAFv2 entity made by its Create call (its `Tags` with it): the id WAF draws is the one `Ref`
    (`name|id|scope`) and `Fn::GetAtt Arn` carry. An update puts it again under its lock token and
    retags it; a delete takes its lock token first. `kind` names the API's calls (`WebACL`, `IPSet`)."""

    kind = ""
    #: boto3's method name ending of each kind (`create_web_acl`, `get_ip_set`)
    _METHODS = {"WebACL": "_web_acl", "IPSet": "_ip_set"}

    def _call(self, client: Any, verb: str, **params: Any) -> Any:
        return getattr(client, verb.lower() + self._METHODS[self.kind])(**params)

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("wafv2", resource.region)
        made = self._call(
            client, "Create", **api_params(client, f"Create{self.kind}", resource.properties, Name=resource.name)
        )
        resource.data["uuid"] = made["Summary"]["Id"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("wafv2", resource.region)
        where = self._where(resource)
        lock = self._call(client, "Get", **where)["LockToken"]
        self._call(
            client, "Update", **api_params(client, f"Update{self.kind}", resource.properties, **where, LockToken=lock)
        )
        arn = self._call(client, "Get", **where)[self.kind]["ARN"]
        tags = tag_map(resource.prop("Tags"), resource.resource_type)
        dropped = sorted(set(tag_map(previous.prop("Tags"), resource.resource_type)) - set(tags))
        if dropped:
            client.untag_resource(ResourceARN=arn, TagKeys=dropped)
        if tags:
            client.tag_resource(ResourceARN=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()])

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("wafv2", resource.region)
        where = self._where(resource)
        try:
            lock = self._call(client, "Get", **where)["LockToken"]
            self._call(client, "Delete", **where, LockToken=lock)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "WAFNonexistentItemException":
                raise

    @staticmethod
    def _where(resource: Emulation) -> dict[str, str]:
        return {"Name": resource.name, "Scope": str(resource.prop("Scope")), "Id": resource.uuid()}


class WebAcl(_WafEntity):
    """AWS::WAFv2::WebACL in WAFv2 (CreateWebACL, UpdateWebACL, DeleteWebACL)."""

    kind = "WebACL"


class IpSet(_WafEntity):
    """AWS::WAFv2::IPSet in WAFv2 (CreateIPSet; UpdateIPSet puts the addresses and description under
    its lock token, https://docs.aws.amazon.com/waf/latest/APIReference/API_UpdateIPSet.html), so a
    WebACL's IPSetReferenceStatement names the set GetIPSet answers."""

    kind = "IPSet"


class WebAclAssociation:
    """AWS::WAFv2::WebACLAssociation: AssociateWebACL (an API Gateway stage, a user pool, a load
    balancer ...); GetWebACLForResource then answers the ACL. Both properties replace it."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        clients("wafv2", resource.region).associate_web_acl(
            WebACLArn=str(resource.prop("WebACLArn")), ResourceArn=str(resource.prop("ResourceArn"))
        )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """Nothing changes in place."""

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        try:
            clients("wafv2", resource.region).disassociate_web_acl(ResourceArn=str(resource.prop("ResourceArn")))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "WAFNonexistentItemException":
                raise


# --------------------------------------------------------------------------- small bindings
def _ignore_missing(call: Any, *codes: str) -> None:
    """A delete of what is already gone is done, as CloudFormation's handlers take it."""
    try:
        call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"ResourceNotFoundException", *codes}:
            raise


class MetricFilter:
    """AWS::Logs::MetricFilter: PutMetricFilter on its log group (an update puts it again)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("logs", resource.region)
        client.put_metric_filter(**api_params(client, "PutMetricFilter", resource.properties, filterName=resource.name))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("logs", resource.region)
        _ignore_missing(
            lambda: client.delete_metric_filter(logGroupName=resource.prop("LogGroupName"), filterName=resource.name)
        )


class EventInvokeConfig:
    """AWS::Lambda::EventInvokeConfig: PutFunctionEventInvokeConfig (an update puts it again)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("lambda", resource.region)
        client.put_function_event_invoke_config(
            **api_params(client, "PutFunctionEventInvokeConfig", resource.properties)
        )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("lambda", resource.region)
        _ignore_missing(
            lambda: client.delete_function_event_invoke_config(
                FunctionName=resource.prop("FunctionName"), Qualifier=resource.prop("Qualifier")
            )
        )


class SecretResourcePolicy:
    """AWS::SecretsManager::ResourcePolicy: PutResourcePolicy on the secret (its document as JSON
    text); deleting it removes the policy."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("secretsmanager", resource.region)
        client.put_resource_policy(**api_params(client, "PutResourcePolicy", resource.properties))

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("secretsmanager", resource.region)
        _ignore_missing(lambda: client.delete_resource_policy(SecretId=resource.prop("SecretId")))


class ServiceLinkedRole:
    """AWS::IAM::ServiceLinkedRole: CreateServiceLinkedRole (Ref: the role's name, as IAM names
    it for the service); deleting it deletes the role."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("iam", resource.region)
        role = client.create_service_linked_role(**api_params(client, "CreateServiceLinkedRole", resource.properties))
        resource.data["role"] = role["Role"]["RoleName"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        if resource.prop("Description") != previous.prop("Description"):
            clients("iam", resource.region).update_role_description(
                RoleName=resource.data["role"], Description=str(resource.prop("Description") or "")
            )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("iam", resource.region)
        _ignore_missing(lambda: client.delete_service_linked_role(RoleName=resource.data["role"]), "NoSuchEntity")
