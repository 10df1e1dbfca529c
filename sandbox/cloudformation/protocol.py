"""CloudFormation's wire format (the AWS `query` protocol), driven by botocore's model.

Requests are form-encoded (`Action=CreateStack&Parameters.member.1.ParameterKey=...`),
responses are XML (`<CreateStackResponse><CreateStackResult>...`). Rather than one
hand-written parser and template per operation, the input and output shapes of
botocore's service model drive one generic decoder and one generic encoder, so an
operation is a function from a boto3-shaped request dict to a boto3-shaped response dict,
and what the sandbox answers is exactly what botocore can read.
"""

from __future__ import annotations

import base64
import functools
import uuid
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from sandbox.cloudformation.errors import CloudFormationError, InvalidActionError

XML_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("cloudformation")


def operation_model(action: str) -> OperationModel:
    if action not in service_model().operation_names:
        raise InvalidActionError(f"The action {action} is not valid for this web service.")
    return service_model().operation_model(action)


def new_request_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- requests
def decode_request(action: str, form: dict[str, str]) -> dict[str, Any]:
    """The operation's input as boto3 would have been given it (`{"StackName": ..., ...}`)."""
    shape = operation_model(action).input_shape
    if shape is None:
        return {}
    decoded = _decode_structure(shape, form, "")
    return decoded if isinstance(decoded, dict) else {}


def _decode(shape: Shape, form: dict[str, str], key: str) -> Any:
    if isinstance(shape, StructureShape):
        return _decode_structure(shape, form, key + ".")
    if isinstance(shape, ListShape):
        return _decode_list(shape, form, key)
    if isinstance(shape, MapShape):
        return _decode_map(shape, form, key)
    if key not in form:
        return None
    return _decode_scalar(shape, form[key])


def _decode_structure(shape: StructureShape, form: dict[str, str], prefix: str) -> Any:
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = _decode(member, form, prefix + member.serialization.get("name", name))
        if value is not None:
            result[name] = value
    return result or None


def _decode_list(shape: ListShape, form: dict[str, str], key: str) -> list[Any] | None:
    if form.get(key) == "":
        return []  # botocore sends an empty list as `Key=`
    if shape.serialization.get("flattened"):
        item_prefix = key
    else:
        item_prefix = f"{key}.{shape.member.serialization.get('name', 'member')}"
    items: list[Any] = []
    while (item := _decode(shape.member, form, f"{item_prefix}.{len(items) + 1}")) is not None:
        items.append(item)
    return items or None


def _decode_map(shape: MapShape, form: dict[str, str], key: str) -> dict[str, Any] | None:
    prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    result: dict[str, Any] = {}
    index = 1
    while f"{prefix}.{index}.{key_name}" in form:
        entry_key = form[f"{prefix}.{index}.{key_name}"]
        result[entry_key] = _decode(shape.value, form, f"{prefix}.{index}.{value_name}")
        index += 1
    return result or None


def _decode_scalar(shape: Shape, text: str) -> Any:
    if shape.type_name == "boolean":
        return text.lower() == "true"
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name in ("float", "double"):
        return float(text)
    if shape.type_name == "timestamp":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    if shape.type_name == "blob":
        return base64.b64decode(text)
    return text


# --------------------------------------------------------------------------- responses
def encode_response(action: str, result: dict[str, Any], request_id: str) -> bytes:
    """The XML body of a successful response to `action` whose output is `result`."""
    shape = operation_model(action).output_shape
    parts = [f'<{action}Response xmlns="{XML_NAMESPACE}">']
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{action}Result")
        parts.append(f"<{wrapper}>")
        parts.extend(_encode_members(shape, result))
        parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{action}Response>")
    return "".join(parts).encode()


def encode_error(error: CloudFormationError, request_id: str) -> bytes:
    kind = "Sender" if error.sender_fault else "Receiver"
    return (
        f'<ErrorResponse xmlns="{XML_NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def _encode_members(shape: StructureShape, value: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for name, member in shape.members.items():
        if value.get(name) is None:
            continue
        tag = member.serialization.get("name", name)
        parts.append(_encode(member, value[name], tag))
    return parts


def _encode(shape: Shape, value: Any, tag: str) -> str:
    if isinstance(shape, StructureShape):
        return f"<{tag}>{''.join(_encode_members(shape, value))}</{tag}>"
    if isinstance(shape, ListShape):
        item_tag = shape.member.serialization.get("name", "member")
        items = "".join(_encode(shape.member, item, item_tag) for item in value)
        if shape.serialization.get("flattened"):
            return items
        return f"<{tag}>{items}</{tag}>"
    if isinstance(shape, MapShape):
        entries = "".join(
            f"<entry>{_encode(shape.key, key, 'key')}{_encode(shape.value, item, 'value')}</entry>"
            for key, item in value.items()
        )
        return f"<{tag}>{entries}</{tag}>"
    return f"<{tag}>{escape(_encode_scalar(shape, value))}</{tag}>"


def _encode_scalar(shape: Shape, value: Any) -> str:
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if shape.type_name == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode()
    return str(value)
