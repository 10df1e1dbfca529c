"""What replaces a resource on update: the registry schemas' `createOnlyProperties`.

AWS: "createOnlyProperties: a list of JSON pointers to properties that can only be specified
by the customer when creating a resource. Conversely, any property not in the list can be
specified when updating"; updating one replaces the resource
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
"""

from __future__ import annotations

import pytest

from sandbox.cloudformation.resource_schemas import CreateOnly, create_only_paths


@pytest.mark.parametrize(
    ("resource_type", "replacing", "in_place"),
    [
        # Each resource reference page: "Update requires: Replacement" / "No interruption".
        ("AWS::RDS::DBCluster", {"DatabaseName", "DBClusterIdentifier", "StorageEncrypted", "KmsKeyId"}, {"Port"}),
        ("AWS::OpenSearchService::Domain", {"DomainName"}, {"EngineVersion", "ClusterConfig"}),
        ("AWS::Cognito::UserPool", set(), {"UserPoolName", "Policies"}),
        ("AWS::S3::Bucket", {"BucketName"}, {"VersioningConfiguration", "BucketEncryption"}),
        ("AWS::KMS::Key", set(), {"KeyPolicy", "Description", "EnableKeyRotation"}),
        ("AWS::SecretsManager::Secret", {"Name"}, {"Description", "KmsKeyId"}),
        ("AWS::DynamoDB::Table", {"TableName"}, {"BillingMode"}),
    ],
)
def test_the_schema_says_which_properties_replace_a_resource_holding_data(
    resource_type: str, replacing: set[str], in_place: set[str]
) -> None:
    names = CreateOnly(resource_type, frozenset({"UnusedFallback"})).names()

    assert replacing <= names
    assert not (in_place & names)


def test_a_type_without_a_schema_falls_back_to_its_providers_names() -> None:
    assert create_only_paths("Custom::Anything") is None
    assert CreateOnly("Custom::Anything", frozenset({"ServiceToken"})).names() == {"ServiceToken"}


def test_a_nested_create_only_pointer_replaces_only_when_its_own_value_changes() -> None:
    """AWS::Batch::ComputeEnvironment: `/properties/ComputeResources/SpotIamFleetRole` is
    create-only, the rest of `ComputeResources` is not."""
    create_only = CreateOnly("AWS::Batch::ComputeEnvironment", frozenset())
    old = {"ComputeResources": {"SpotIamFleetRole": "a", "MaxvCpus": 4}}

    assert not create_only.forces("ComputeResources", old["ComputeResources"], {"SpotIamFleetRole": "a", "MaxvCpus": 8})
    assert create_only.forces("ComputeResources", old["ComputeResources"], {"SpotIamFleetRole": "b", "MaxvCpus": 4})
    assert create_only.forcing(old, {"ComputeResources": {"MaxvCpus": 4}}) == ["ComputeResources"]


def test_forcing_names_each_changed_create_only_property_once() -> None:
    create_only = CreateOnly("AWS::RDS::DBCluster", frozenset())
    old = {"DatabaseName": "dataall", "Port": 5432, "StorageEncrypted": True}

    forcing = create_only.forcing(old, {"DatabaseName": "other", "Port": 5433})

    assert forcing == ["DatabaseName", "StorageEncrypted"]
