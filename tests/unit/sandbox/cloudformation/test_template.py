"""Reading and checking templates as CloudFormation does on submission."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.cloudformation.errors import TemplateError
from sandbox.cloudformation.template import (
    Reference,
    parse_template,
    references,
    resource_dependencies,
    topological_order,
)

YAML = """
AWSTemplateFormatVersion: 2010-09-09
Description: short forms
Parameters:
  Env:
    Type: String
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Value: !GetAtt Queue.Arn
      Name: !Sub "/${Env}/${Queue.QueueName}/${!Literal}"
      Tier: !If [IsProd, Advanced, !Ref AWS::NoValue]
      Description: !Join ["-", [!Select [0, !GetAZs ""], !Base64 x]]
"""


def test_yaml_short_form_tags_read_as_their_long_forms() -> None:
    template = parse_template(YAML)

    properties = template.resources["Param"]["Properties"]
    assert properties["Value"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert properties["Name"] == {"Fn::Sub": "/${Env}/${Queue.QueueName}/${!Literal}"}
    assert properties["Tier"] == {"Fn::If": ["IsProd", "Advanced", {"Ref": "AWS::NoValue"}]}
    assert properties["Description"]["Fn::Join"][1][0] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert template.conditions["IsProd"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}


def test_yaml_dates_stay_text_as_cloudformation_reads_them() -> None:
    assert parse_template(YAML).document["AWSTemplateFormatVersion"] == "2010-09-09"


def test_the_body_is_kept_as_given_for_get_template() -> None:
    assert parse_template(YAML).body == YAML


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"Resources": ', "Template format error: JSON not well-formed. (line 1,  column 15)"),
        ("Resources: [", "Template format error: YAML not well-formed."),
        ('{"Description": "x"}', "Template format error: At least one Resources member must be defined."),
        (
            '{"Resources": {"A": {"Properties": {}}}}',
            "Template format error: [/Resources/A] Every Resources object must contain a Type member.",
        ),
        (
            '{"Resources": {"A": {"Type": "AWS::SQS::Queue"}}, "Outputz": {}}',
            "Template format error: Invalid template property or properties [Outputz]",
        ),
    ],
)
def test_malformed_templates_are_refused_with_aws_messages(body: str, message: str) -> None:
    with pytest.raises(TemplateError) as raised:
        parse_template(body)
    assert raised.value.message.startswith(message)


def _template(resources: dict[str, object], **sections: object) -> str:
    return json.dumps({"Resources": resources, **sections})


def test_a_ref_to_nothing_declared_is_an_unresolved_dependency() -> None:
    body = _template({"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Missing"}}}})

    with pytest.raises(TemplateError, match=r"^Template format error: Unresolved resource dependencies \[Missing\] "
                       r"in the Resources block of the template$"):  # fmt: skip
        parse_template(body)


def test_a_sub_variable_naming_nothing_is_an_unresolved_dependency() -> None:
    body = _template({"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Nope}-q"}}}})

    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[Nope\]"):
        parse_template(body)


def test_an_output_ref_to_nothing_is_unresolved_in_the_outputs_block() -> None:
    body = _template({"A": {"Type": "AWS::SQS::Queue"}}, Outputs={"O": {"Value": {"Ref": "B"}}})

    with pytest.raises(TemplateError, match=r"\[B\] in the Outputs block of the template"):
        parse_template(body)


def test_getatt_of_an_undefined_resource_names_it() -> None:
    body = _template({"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::GetAtt": "Ghost.Arn"}}}})

    with pytest.raises(TemplateError) as raised:
        parse_template(body)
    assert raised.value.message == "Template error: instance of Fn::GetAtt references undefined resource Ghost"


def test_depends_on_an_undeclared_resource_is_unresolved() -> None:
    body = _template({"A": {"Type": "AWS::SQS::Queue", "DependsOn": ["Gone"]}})

    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[Gone\]"):
        parse_template(body)


def test_a_circle_of_dependencies_names_the_resources_in_it() -> None:
    body = _template(
        {
            "A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "B"}}},
            "B": {"Type": "AWS::SQS::Queue", "DependsOn": "A"},
            "C": {"Type": "AWS::SQS::Queue", "DependsOn": "A"},
        }
    )

    with pytest.raises(TemplateError) as raised:
        parse_template(body)
    assert raised.value.message == "Circular dependency between resources: [A, B]"


def test_dependencies_come_from_ref_getatt_sub_and_depends_on() -> None:
    resources: dict[str, dict[str, Any]] = {
        "A": {"Type": "T"},
        "B": {"Type": "T", "Properties": {"X": {"Ref": "A"}}},
        "C": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${B.Arn}"}}, "DependsOn": "A"},
        "D": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["C", "Arn"]}, "Y": {"Ref": "AWS::Region"}}},
    }

    graph = resource_dependencies(resources)

    assert graph == {"A": set(), "B": {"A"}, "C": {"A", "B"}, "D": {"C"}}
    assert topological_order(graph) == ["A", "B", "C", "D"]


def test_with_conditions_only_the_taken_branch_of_fn_if_is_a_dependency() -> None:
    node = {"Fn::If": ["Big", {"Ref": "Large"}, {"Ref": "Small"}]}

    assert list(references(node, {"Big": False})) == [Reference("Small")]
    assert set(references(node)) == {Reference("Large"), Reference("Small")}


@pytest.mark.parametrize(
    ("resource", "capabilities"),
    [
        ({"Type": "AWS::SQS::Queue"}, []),
        ({"Type": "AWS::IAM::Role", "Properties": {}}, ["CAPABILITY_IAM"]),
        ({"Type": "AWS::IAM::Role", "Properties": {"RoleName": "fixed"}}, ["CAPABILITY_NAMED_IAM"]),
    ],
)
def test_iam_resources_require_capabilities_named_ones_named_iam(
    resource: dict[str, object], capabilities: list[str]
) -> None:
    assert parse_template(_template({"R": resource})).required_capabilities() == capabilities
