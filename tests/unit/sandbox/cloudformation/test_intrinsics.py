"""The intrinsic functions, evaluated as CloudFormation evaluates them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sandbox.cloudformation.errors import TemplateError
from sandbox.cloudformation.intrinsics import Evaluator

PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "demo",
    "AWS::StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo/1",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}


class Resources:
    """Two resources, one export, and the zones of any region."""

    def ref(self, logical_id: str) -> Any:
        return {"Queue": "https://sqs/queue", "Bucket": "bucket-1"}[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{logical_id}.{attribute}"

    def import_value(self, export_name: str) -> Any:
        if export_name != "shared-vpc":
            raise TemplateError(f"No export named {export_name} found.")
        return "vpc-123"

    def availability_zones(self, region: str) -> list[str]:
        return [f"{region}a", f"{region}b"]


@pytest.fixture
def evaluator() -> Evaluator:
    return Evaluator(
        parameters={"Env": "prod", "Subnets": ["subnet-1", "subnet-2"], "Size": "3"},
        pseudo=PSEUDO,
        mappings={"Regions": {"eu-west-1": {"Ami": "ami-eu"}}},
        condition_definitions={
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
            "Either": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
            "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        },
        resources=Resources(),
    )


@pytest.mark.parametrize(
    ("node", "value"),
    [
        ({"Ref": "Env"}, "prod"),
        ({"Ref": "Subnets"}, ["subnet-1", "subnet-2"]),
        ({"Ref": "Queue"}, "https://sqs/queue"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "Queue.Arn"),
        ({"Fn::GetAtt": "Queue.Arn"}, "Queue.Arn"),
        ({"Fn::GetAtt": "Db.Endpoint.Address"}, "Db.Endpoint.Address"),
        ({"Fn::Join": ["/", ["a", {"Ref": "Env"}, 3]]}, "a/prod/3"),
        ({"Fn::Select": ["1", {"Ref": "Subnets"}]}, "subnet-2"),
        ({"Fn::Split": [",", "a,b,,c"]}, ["a", "b", "", "c"]),
        ({"Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "Ami"]}, "ami-eu"),
        ({"Fn::FindInMap": ["Regions", "us-east-1", "Ami", {"DefaultValue": "none"}]}, "none"),
        ({"Fn::ImportValue": "shared-vpc"}, "vpc-123"),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b"]),
        ({"Fn::GetAZs": "us-east-2"}, ["us-east-2a", "us-east-2b"]),
        ({"Fn::Base64": "hi"}, base64.b64encode(b"hi").decode()),
        ({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
        ({"Fn::Length": {"Ref": "Subnets"}}, 2),
        ({"Fn::ToJsonString": {"a": [1, {"Ref": "Env"}]}}, '{"a":[1,"prod"]}'),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["IsDev", "big", "small"]}, "small"),
    ],
)
def test_each_function_evaluates_like_cloudformation(evaluator: Evaluator, node: Any, value: Any) -> None:
    assert evaluator.evaluate(node) == value


def test_sub_replaces_parameters_pseudo_parameters_attributes_and_keeps_literals(evaluator: Evaluator) -> None:
    node = {"Fn::Sub": "${AWS::StackName}-${Env}-${Queue}-${Bucket.Arn}-${!NotMe}"}

    assert evaluator.evaluate(node) == "demo-prod-https://sqs/queue-Bucket.Arn-${NotMe}"


def test_sub_with_a_variable_map_prefers_the_map(evaluator: Evaluator) -> None:
    node = {"Fn::Sub": ["${Env}:${Name}", {"Name": {"Fn::Join": ["", ["x", "y"]]}, "Env": "test"}]}

    assert evaluator.evaluate(node) == "test:xy"


def test_no_value_removes_the_property_or_list_item(evaluator: Evaluator) -> None:
    node = {
        "Kept": "yes",
        "Gone": {"Ref": "AWS::NoValue"},
        "Dropped": {"Fn::If": ["IsDev", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsDev", "b", {"Ref": "AWS::NoValue"}]}, "c"],
    }

    assert evaluator.evaluate(node) == {"Kept": "yes", "List": ["a", "c"]}


def test_conditions_compose_with_and_or_not(evaluator: Evaluator) -> None:
    assert evaluator.conditions() == {"IsProd": True, "IsDev": False, "Either": True, "Both": False}


def test_equals_compares_numbers_and_text_as_text(evaluator: Evaluator) -> None:
    assert evaluator.truth({"Fn::Equals": [{"Ref": "Size"}, 3]})
    assert evaluator.truth({"Fn::Equals": [True, "true"]})


def test_an_unknown_condition_is_an_error(evaluator: Evaluator) -> None:
    with pytest.raises(TemplateError, match="unresolved condition dependency Nope"):
        evaluator.evaluate({"Fn::If": ["Nope", 1, 2]})


def test_a_condition_that_refers_to_itself_is_refused() -> None:
    looping = Evaluator({}, PSEUDO, condition_definitions={"A": {"Fn::Not": [{"Condition": "A"}]}})

    with pytest.raises(TemplateError, match="circular condition dependency A"):
        looping.condition("A")


def test_an_unknown_intrinsic_function_is_refused(evaluator: Evaluator) -> None:
    with pytest.raises(TemplateError, match="Unrecognized intrinsic function Fn::Bogus"):
        evaluator.evaluate({"Fn::Bogus": 1})


def test_import_of_a_missing_export_says_so(evaluator: Evaluator) -> None:
    with pytest.raises(TemplateError, match=r"^No export named nope found\.$"):
        evaluator.evaluate({"Fn::ImportValue": "nope"})


def test_select_out_of_range_is_an_error(evaluator: Evaluator) -> None:
    with pytest.raises(TemplateError, match="Fn::Select cannot select nonexistent value at index 5"):
        evaluator.evaluate({"Fn::Select": [5, ["a"]]})


def test_a_missing_mapping_key_names_the_path(evaluator: Evaluator) -> None:
    with pytest.raises(TemplateError, match="Unable to get mapping for Regions::us-east-1::Ami"):
        evaluator.evaluate({"Fn::FindInMap": ["Regions", "us-east-1", "Ami"]})


def test_nested_functions_in_a_policy_document(evaluator: Evaluator) -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"},
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            }
        ]
    }

    evaluated = evaluator.evaluate(document)

    assert json.loads(json.dumps(evaluated))["Statement"][0] == {
        "Effect": "Allow",
        "Resource": "arn:aws:s3:::bucket-1/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    }
