"""Whether a name a template gives is held already in the account and region: the data-access half
of Plan's check that a stage it creates will not collide with what exists (CloudFormation's create
then fails on it halfway through the run). Two kinds of holder:

- what an earlier installation kept: a retained bucket, log group, secret, table, database cluster
  or search domain keeps its name after its stack goes;
- another data.all installation in the same account and region, or a leftover of one: data.all
  names its KMS aliases by `ResourcePrefix` alone, and its SSM parameters, its RDS monitoring role
  and its stacks' exports by `EnvName` alone, so an installation sharing either would collide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdas.data.aws import ClientError

#: What `named_resources` calls a stage's CloudFormation export (an output's `Export.Name`), which is
#: no resource type: export names are unique per account and region.
EXPORT = "Export"

#: resource type -> (the property that names it, the service whose API says whether it exists)
NAME_PROPERTIES: dict[str, tuple[str, str]] = {
    "AWS::S3::Bucket": ("BucketName", "s3"),
    "AWS::Logs::LogGroup": ("LogGroupName", "logs"),
    "AWS::SecretsManager::Secret": ("Name", "secretsmanager"),
    "AWS::DynamoDB::Table": ("TableName", "dynamodb"),
    "AWS::RDS::DBCluster": ("DBClusterIdentifier", "rds"),
    "AWS::OpenSearchService::Domain": ("DomainName", "opensearch"),
    "AWS::KMS::Alias": ("AliasName", "kms"),
    "AWS::SSM::Parameter": ("Name", "ssm"),
    "AWS::IAM::Role": ("RoleName", "iam"),
    EXPORT: ("Export.Name", "cloudformation"),
}

#: The types whose names one paginated listing per region answers (`listed_names`): the caller may
#: list once and look every name up in it.
LISTED = frozenset({"AWS::KMS::Alias", EXPORT})

_MISSING = frozenset(
    {"404", "NoSuchBucket", "NotFound", "ResourceNotFoundException", "DBClusterNotFoundFault", "NoSuchEntity"}
)


def listed_names(client: Callable[[str], Any], resource_type: str) -> frozenset[str]:
    """Every name of a `LISTED` type in the client's account and region: the KMS aliases (AWS's own
    `alias/aws/…` among them), or the CloudFormation exports (every stack's, whoever made it)."""
    api = client(NAME_PROPERTIES[resource_type][1])
    if resource_type == "AWS::KMS::Alias":
        pages = api.get_paginator("list_aliases").paginate()
        return frozenset(str(alias["AliasName"]) for page in pages for alias in page.get("Aliases", []))
    pages = api.get_paginator("list_exports").paginate()
    return frozenset(str(export["Name"]) for page in pages for export in page.get("Exports", []))


def exists(client: Callable[[str], Any], resource_type: str, name: str) -> bool:
    """True when a resource of `resource_type` named `name` exists in the client's account and
    region (a bucket: anywhere in S3's one namespace, whoever owns it; a role: in the account, IAM
    being global)."""
    if resource_type in LISTED:
        return name in listed_names(client, resource_type)
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
        elif resource_type == "AWS::SSM::Parameter":
            # The parameter's metadata, never its value (GetParameter would read it): whatever SSM's
            # own `Equals` matches is what a create of the name collides with.
            found = api.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
            return bool(found.get("Parameters"))
        elif resource_type == "AWS::IAM::Role":
            api.get_role(RoleName=name)
        else:
            api.describe_domain(DomainName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            return False
        if resource_type == "AWS::S3::Bucket" and error.response.get("Error", {}).get("Code") == "403":
            return True  # the name is another account's bucket: taken all the same
        raise
    return True
