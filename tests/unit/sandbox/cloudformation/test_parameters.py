"""Parameter validation with CloudFormation's rules and messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.cloudformation.errors import ValidationError
from sandbox.cloudformation.parameters import Lookups, ResolvedParameters, resolve
from sandbox.cloudformation.template import Template, parse_template

SSM = {"/platform/vpc": "vpc-1", "/platform/subnets": "subnet-1,subnet-2"}
EXISTING = {("vpc", "vpc-1"), ("subnet", "subnet-1")}


def lookup_ssm(name: str) -> str:
    return SSM[name]


LOOKUPS = Lookups(ssm_parameter=lookup_ssm, ec2_resource_exists=lambda kind, value: (kind, value) in EXISTING)


def template(parameters: dict[str, Any]) -> Template:
    return parse_template(json.dumps({"Parameters": parameters, "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))


def given(**values: str) -> list[dict[str, Any]]:
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def test_defaults_fill_what_is_not_given() -> None:
    resolved = resolve(template({"Env": {"Type": "String", "Default": "dev"}}), [], LOOKUPS)

    assert resolved.values() == {"Env": "dev"}


def test_a_parameter_without_value_or_default_is_refused_with_aws_words() -> None:
    with pytest.raises(ValidationError, match=r"^Parameters: \[A, B\] must have values$"):
        resolve(template({"A": {"Type": "String"}, "B": {"Type": "Number"}}), [], LOOKUPS)


def test_a_parameter_the_template_does_not_declare_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"^Parameters: \[Extra\] do not exist in the template$"):
        resolve(template({}), given(Extra="1"), LOOKUPS)


@pytest.mark.parametrize(
    ("declaration", "value", "message"),
    [
        ({"AllowedPattern": "[a-z]+"}, "ABC", "Parameter 'P' must match pattern [a-z]+"),
        ({"AllowedValues": ["a", "b"]}, "c", "Parameter 'P' must be one of AllowedValues"),
        ({"MinLength": 3}, "ab", "Parameter 'P' must contain at least 3 characters"),
        ({"MaxLength": 2}, "abc", "Parameter 'P' must contain at most 2 characters"),
        ({"Type": "Number"}, "many", "Parameter 'P' must be a number."),
        ({"Type": "Number", "MinValue": 2}, "1", "Parameter 'P' must be a number not less than 2"),
        ({"Type": "Number", "MaxValue": 2.5}, "3", "Parameter 'P' must be a number not greater than 2.5"),
        (
            {"AllowedPattern": "[a-z]+", "ConstraintDescription": "lower case only"},
            "ABC",
            "Parameter 'P' failed to satisfy constraint: lower case only",
        ),
    ],
)
def test_constraints_are_checked_with_aws_messages(declaration: dict[str, Any], value: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        resolve(template({"P": {"Type": "String", **declaration}}), given(P=value), LOOKUPS)
    assert raised.value.message == message


def test_allowed_pattern_must_match_the_whole_value() -> None:
    with pytest.raises(ValidationError, match="must match pattern"):
        resolve(template({"P": {"Type": "String", "AllowedPattern": "[a-z]+"}}), given(P="abc1"), LOOKUPS)


def test_list_types_are_lists_for_ref_and_checked_per_item() -> None:
    declared = template(
        {
            "Names": {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]},
            "Sizes": {"Type": "List<Number>"},
        }
    )

    resolved = resolve(declared, given(Names="a, b", Sizes="1,2"), LOOKUPS)

    assert resolved.values() == {"Names": ["a", "b"], "Sizes": ["1", "2"]}
    with pytest.raises(ValidationError, match="must be a number"):
        resolve(declared, given(Names="a", Sizes="1,x"), LOOKUPS)


def test_no_echo_values_are_masked_in_describe_stacks() -> None:
    resolved = resolve(template({"Secret": {"Type": "String", "NoEcho": True}}), given(Secret="hunter2"), LOOKUPS)

    assert resolved.describe() == [{"ParameterKey": "Secret", "ParameterValue": "****"}]
    assert resolved.values() == {"Secret": "hunter2"}


def test_use_previous_value_takes_the_stacks_previous_value() -> None:
    declared = template({"Env": {"Type": "String"}})
    previous = resolve(declared, given(Env="prod"), LOOKUPS)

    resolved = resolve(declared, [{"ParameterKey": "Env", "UsePreviousValue": True}], LOOKUPS, previous)

    assert resolved.values() == {"Env": "prod"}


def test_use_previous_value_without_a_previous_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="usePreviousValue"):
        resolve(
            template({"Env": {"Type": "String"}}),
            [{"ParameterKey": "Env", "UsePreviousValue": True}],
            LOOKUPS,
            ResolvedParameters(),
        )


def test_ssm_parameter_types_read_parameter_store_at_submission() -> None:
    declared = template(
        {
            "Vpc": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/platform/vpc"},
            "Subnets": {"Type": "AWS::SSM::Parameter::Value<List<String>>", "Default": "/platform/subnets"},
        }
    )

    resolved = resolve(declared, [], LOOKUPS)

    assert resolved.values() == {"Vpc": "vpc-1", "Subnets": ["subnet-1", "subnet-2"]}
    assert resolved.describe()[0] == {
        "ParameterKey": "Vpc",
        "ParameterValue": "/platform/vpc",
        "ResolvedValue": "vpc-1",
    }


def test_a_missing_ssm_parameter_is_refused_with_aws_words() -> None:
    declared = template({"Vpc": {"Type": "AWS::SSM::Parameter::Value<String>"}})

    with pytest.raises(ValidationError) as raised:
        resolve(declared, given(Vpc="/nope"), LOOKUPS)
    assert raised.value.message == "Unable to fetch parameters [/nope] from parameter store for this account."


def test_ec2_id_types_must_name_existing_resources() -> None:
    declared = template({"Vpc": {"Type": "AWS::EC2::VPC::Id"}, "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"}})

    assert resolve(declared, given(Vpc="vpc-1", Subnets="subnet-1"), LOOKUPS).values()["Vpc"] == "vpc-1"
    with pytest.raises(ValidationError) as raised:
        resolve(declared, given(Vpc="vpc-1", Subnets="subnet-1,subnet-9"), LOOKUPS)
    assert raised.value.message == (
        "Parameter validation failed: parameter value subnet-9 for parameter name Subnets does not exist"
    )
