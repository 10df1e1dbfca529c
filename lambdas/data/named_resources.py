"""Whether a resource a template names already exists: the data-access half of Plan's check that
a stage it creates will not collide with what an earlier installation kept (a retained bucket,
log group, secret, table, database cluster or search domain keeps its name after its stack goes;
CloudFormation's create then fails on it halfway through the run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdas.data.aws import ClientError

#: resource type -> (the property that names it, the service whose API says whether it exists)
NAME_PROPERTIES: dict[str, tuple[str, str]] = {
    "AWS::S3::Bucket": ("BucketName", "s3"),
    "AWS::Logs::LogGroup": ("LogGroupName", "logs"),
    "AWS::SecretsManager::Secret": ("Name", "secretsmanager"),
    "AWS::DynamoDB::Table": ("TableName", "dynamodb"),
    "AWS::RDS::DBCluster": ("DBClusterIdentifier", "rds"),
    "AWS::OpenSearchService::Domain": ("DomainName", "opensearch"),
}

_MISSING = frozenset({"404", "NoSuchBucket", "NotFound", "ResourceNotFoundException", "DBClusterNotFoundFault"})


def exists(client: Callable[[str], Any], resource_type: str, name: str) -> bool:
    """True when a resource of `resource_type` named `name` exists in the client's account and
    region (a bucket: anywhere in S3's one namespace, whoever owns it)."""
    service = NAME_PROPERTIES[resource_type][1]
    api = client(service)
    try:
        if resource_type == "AWS::S3::Bucket":
            api.head_bucket(Bucket=name)
        elif resource_type == "AWS::Logs::LogGroup":
            groups = api.describe_log_groups(logGroupNamePrefix=name, limit=50)["logGroups"]
            return any(group["logGroupName"] == name for group in groups)
        elif resource_type == "AWS::SecretsManager::Secret":
            api.describe_secret(SecretId=name)
        elif resource_type == "AWS::DynamoDB::Table":
            api.describe_table(TableName=name)
        elif resource_type == "AWS::RDS::DBCluster":
            api.describe_db_clusters(DBClusterIdentifier=name)
        else:
            api.describe_domain(DomainName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            return False
        if resource_type == "AWS::S3::Bucket" and error.response.get("Error", {}).get("Code") == "403":
            return True  # the name is another account's bucket: taken all the same
        raise
    return True
