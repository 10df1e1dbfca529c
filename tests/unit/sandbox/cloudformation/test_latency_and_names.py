"""The latency model (figures from latency.csv) and CloudFormation's generated names."""

from __future__ import annotations

import re

import pytest

from lambdas.stage.latency import DEFAULT, LatencyModel
from sandbox.cloudformation.names import generated_name


@pytest.fixture(scope="module")
def model() -> LatencyModel:
    return LatencyModel.load()


def test_rows_of_the_csv_give_each_operation_its_seconds(model: LatencyModel) -> None:
    assert model.resource("AWS::RDS::DBCluster", "create") == 120
    assert model.resource("AWS::RDS::DBCluster", "update") == 75
    assert model.resource("AWS::RDS::DBCluster", "delete") == 180


def test_a_lambda_function_in_a_vpc_takes_its_own_row(model: LatencyModel) -> None:
    in_vpc = {"VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": []}}

    assert model.resource("AWS::Lambda::Function", "create") == 3
    assert model.resource("AWS::Lambda::Function", "delete", in_vpc) == 1800


def test_a_type_without_a_row_takes_the_default(model: LatencyModel) -> None:
    assert model.resource("AWS::Glue::Database", "create") == DEFAULT.create


def test_stack_overhead_and_change_set_creation_come_from_their_rows(model: LatencyModel) -> None:
    assert model.stack_overhead("create") == 25
    assert model.stack_overhead("update") == 10
    assert model.change_set_create() == 10


def test_generated_names_have_aws_format() -> None:
    name = generated_name("AWS::SQS::Queue", "dataall-test-sqs", "WorkerQueue")

    assert re.fullmatch(r"dataall-test-sqs-WorkerQueue-[A-Z0-9]{13}", name)


@pytest.mark.parametrize(
    ("resource_type", "limit"),
    [("AWS::S3::Bucket", 63), ("AWS::IAM::Role", 64), ("AWS::ElasticLoadBalancingV2::TargetGroup", 32)],
)
def test_generated_names_respect_the_types_length_limit(resource_type: str, limit: int) -> None:
    name = generated_name(resource_type, "a-rather-long-stack-name-for-a-platform", "AVeryLongLogicalIdIndeed")

    assert len(name) <= limit


def test_a_trail_in_a_nested_stack_gets_a_name_cloudtrail_takes() -> None:
    """A nested stack's name (`<parent>-<LogicalId>-<random>`) is long: the trail's generated name
    is cut to CloudTrail's 128 characters, as data.all's S3Resources and CloudFront trails need."""
    nested = (
        "dataall-dev-backend-stage-backend-stack-"
        "S3ResourcesNestedStackS3ResourcesNestedStackResourceEF3D2964-ZHXF5KK8CN6T"
    )

    assert len(generated_name("AWS::CloudTrail::Trail", nested, "S3CloudTrail9B4C955D")) <= 128


def test_bucket_names_are_lower_case() -> None:
    name = generated_name("AWS::S3::Bucket", "Stack", "Assets")

    assert re.fullmatch(r"stack-assets-[a-z0-9]{12}", name)


def test_ssm_parameters_get_cloudformations_cfn_prefix() -> None:
    assert re.fullmatch(r"CFN-Param-[A-Z0-9]{12}", generated_name("AWS::SSM::Parameter", "s", "Param"))
