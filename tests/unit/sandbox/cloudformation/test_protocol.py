"""The query protocol: what botocore sends decodes to boto3's request, and what the sandbox
answers parses in botocore to boto3's response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer

from sandbox.cloudformation import protocol
from sandbox.cloudformation.errors import InvalidActionError, ThrottlingError, ValidationError


def sent_by_botocore(action: str, params: dict[str, Any]) -> dict[str, str]:
    request = QuerySerializer().serialize_to_request(params, protocol.operation_model(action))
    return {key: str(value) for key, value in request["body"].items()}


def read_by_botocore(action: str, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = protocol.operation_model(action).output_shape
    parsed: dict[str, Any] = QueryParser().parse({"body": body, "headers": {}, "status_code": status}, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_a_create_stack_request_decodes_to_what_boto3_was_given() -> None:
    params = {
        "StackName": "demo",
        "TemplateBody": '{"Resources": {}}',
        "Parameters": [
            {"ParameterKey": "Env", "ParameterValue": "prod"},
            {"ParameterKey": "Old", "UsePreviousValue": True},
        ],
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "team", "Value": "data"}],
        "DisableRollback": False,
        "TimeoutInMinutes": 30,
    }

    assert protocol.decode_request("CreateStack", sent_by_botocore("CreateStack", params)) == params


def test_an_empty_list_decodes_as_an_empty_list() -> None:
    params = {"StackName": "demo", "RetainResources": []}

    assert protocol.decode_request("DeleteStack", sent_by_botocore("DeleteStack", params)) == params


def test_a_response_reads_in_botocore_as_the_operations_dict() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    result = {
        "Stacks": [
            {
                "StackId": "arn:aws:cloudformation:us-east-1:1:stack/demo/x",
                "StackName": "demo",
                "CreationTime": created,
                "StackStatus": "CREATE_COMPLETE",
                "DisableRollback": True,
                "TimeoutInMinutes": 5,
                "Outputs": [{"OutputKey": "Url", "OutputValue": "https://x?a=1&b=<2>", "ExportName": "url"}],
                "Capabilities": ["CAPABILITY_IAM"],
                "Tags": [],
            }
        ]
    }

    body = protocol.encode_response("DescribeStacks", result, "req-1")

    assert read_by_botocore("DescribeStacks", body) == result
    assert ElementTree.fromstring(body).tag == f"{{{protocol.XML_NAMESPACE}}}DescribeStacksResponse"


def test_an_operation_without_output_answers_only_its_request_id() -> None:
    body = protocol.encode_response("DeleteStack", {}, "req-2")

    assert b"<RequestId>req-2</RequestId>" in body
    assert read_by_botocore("DeleteStack", body) == {}


def test_timestamps_are_iso_8601_in_utc_with_milliseconds() -> None:
    body = protocol.encode_response(
        "DescribeStackEvents",
        {
            "StackEvents": [
                {"StackId": "s", "EventId": "e", "StackName": "n", "Timestamp": datetime(2026, 5, 6, tzinfo=UTC)}
            ]
        },
        "r",
    )

    assert b"<Timestamp>2026-05-06T00:00:00.000Z</Timestamp>" in body


def test_errors_are_query_protocol_error_responses_botocore_reads() -> None:
    body = protocol.encode_error(ValidationError("Stack with id x does not exist"), "req-3")

    error = QueryParser().parse({"body": body, "headers": {}, "status_code": 400}, None)["Error"]

    assert error == {"Type": "Sender", "Code": "ValidationError", "Message": "Stack with id x does not exist"}


def test_throttling_is_aws_code_and_message() -> None:
    error = ThrottlingError("Rate exceeded")

    assert (error.code, error.status) == ("Throttling", 400)
    assert b"<Code>Throttling</Code><Message>Rate exceeded</Message>" in protocol.encode_error(error, "r")


def test_an_unknown_action_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidActionError, match=r"^The action Frobnicate is not valid for this web service\.$"):
        protocol.decode_request("Frobnicate", {})
