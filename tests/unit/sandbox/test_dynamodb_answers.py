"""A reach into moto's response serializer that only makes the sandbox faster
(`moto_internals.fast_dynamodb_attribute_values`), pinned: DynamoDB's answers are byte for byte
what moto's own serializer writes, for every kind of value, and a round trip through the
sandbox's DynamoDB gives back what was put."""

from __future__ import annotations

import enum
import inspect
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.core.serialize import BaseJSONSerializer, JSONSerializer, XFormedAttributePicker
from moto.core.utils import get_service_model

from sandbox import moto_internals

REGION = "us-east-1"


class Colour(enum.Enum):
    RED = "red"


ITEMS: list[dict[str, Any]] = [
    {"pk": {"S": "RUN#1"}, "n": {"N": "42"}, "empty": {"S": ""}, "flag": {"BOOL": False}, "none": {"NULL": True}},
    {"pk": {"S": "b"}, "bin": {"B": b"\x00\xffdata"}, "bins": {"BS": [b"a", b"\x01"]}, "text_bin": {"B": "abc"}},
    {"pk": {"S": "sets"}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "enum": {"S": Colour.RED}},
    {
        "pk": {"S": "nested"},
        "m": {"M": {"a": {"L": [{"S": "x"}, {"M": {"b": {"N": "1"}}}, None]}, "gone": None, "e": {"M": {}}}},
        "l": {"L": []},
    },
    {"pk": {"S": "odd"}, "two": {"S": "a", "N": "1"}, "unknown": {"X": "y"}, "bare": {"M": {"k": "not a value"}}},
]


def _serializer(operation: str, structure: Any) -> JSONSerializer:
    class Serializer(JSONSerializer):
        _serialize_type_structure = structure

    model = get_service_model("dynamodb").operation_model(operation)
    return Serializer(operation_model=model, pretty_print=False, value_picker=XFormedAttributePicker())


def test_moto_writes_each_attribute_value_as_a_structure_of_the_json_serializer() -> None:
    """What the shortcut relies on (moto 5.2.5): DynamoDB answers in JSON, AttributeValue is a
    structure, and the JSON serializer writes structures in `_serialize_type_structure`."""
    shape = get_service_model("dynamodb").shape_for("AttributeValue")

    assert tuple(shape.members) == moto_internals._ATTRIBUTE_VALUE_MEMBERS
    assert get_service_model("dynamodb").protocol == "json"
    assert "_serialize_type_structure" in inspect.getsource(BaseJSONSerializer)


@pytest.mark.parametrize("operation", ["GetItem", "Query"])
def test_the_answer_is_what_motos_serializer_writes(operation: str) -> None:
    moto_internals.fast_dynamodb_attribute_values()
    fast = BaseJSONSerializer._serialize_type_structure
    slow = fast._sandbox_original  # type: ignore[attr-defined]
    result = {"Item": ITEMS[1]} if operation == "GetItem" else {"Items": ITEMS, "Count": len(ITEMS)}

    written = _serializer(operation, fast).serialize(result)
    expected = _serializer(operation, slow).serialize(result)

    assert written["body"] == expected["body"]
    assert written["headers"] == expected["headers"]


def test_values_the_shortcut_was_not_written_for_go_the_serializers_way() -> None:
    for value in ({"X": "y"}, {"M": {"k": "not a value"}}, {"L": ["not a value"]}, {"BS": [None]}):
        with pytest.raises(moto_internals._NotPlain):
            moto_internals._attribute_value_json(value)


@pytest.mark.usefixtures("aws")
def test_a_round_trip_through_dynamodb_gives_back_what_was_put() -> None:
    moto_internals.fast_dynamodb_attribute_values()
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {
        "pk": {"S": "1"},
        "bin": {"B": b"\x00\xff"},
        "bins": {"BS": [b"a", b"b"]},
        "m": {"M": {"l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}, "s": {"SS": ["a"]}}},
        "ns": {"NS": ["1", "2"]},
    }
    client.put_item(TableName="t", Item=item)

    got = client.get_item(TableName="t", Key={"pk": {"S": "1"}})["Item"]
    resource = boto3.resource("dynamodb", region_name=REGION).Table("t").get_item(Key={"pk": "1"})["Item"]

    assert got == item
    assert resource["m"]["l"] == [Decimal(1), True, None]
