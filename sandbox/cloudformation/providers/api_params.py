"""Resource properties as API parameters, the way CloudFormation's handlers pass them.

A resource's properties mostly carry the names of its service's API parameters, but
CloudFormation accepts `"5432"` for a port and `"true"` for a flag, and a policy as an
object where the API wants JSON text. The API operation's input shape (botocore's model)
says what each parameter is, so one function converts any properties for any operation,
and drops what the operation does not take. Names match without regard to case
(`AcmCertificateArn` is the API's `ACMCertificateArn`), and a list given where the API
wants CloudFront's `{Quantity, Items}` wrapper is wrapped. Tags fit either way: a list of
Key/Value pairs where the API takes a map, a map where it takes a list of pairs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def api_params(client: Any, operation: str, properties: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
    """`properties` fitted to `operation`'s input; `fixed` parameters win (None: left out)."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    params = _structure(shape, properties) if shape is not None else {}
    params.update({key: value for key, value in fixed.items() if value is not None})
    return params


def _structure(shape: StructureShape, value: Any) -> dict[str, Any]:
    if isinstance(value, list) and {"Quantity", "Items"} <= set(shape.members):
        return {"Quantity": len(value), "Items": _coerce(shape.members["Items"], value)}
    if not isinstance(value, Mapping):
        return {}
    given = {str(key).lower(): item for key, item in value.items() if item is not None}
    return {
        name: _coerce(member, given[name.lower()]) for name, member in shape.members.items() if name.lower() in given
    }


def _coerce(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        return _structure(shape, value)
    if isinstance(shape, ListShape):
        if isinstance(value, Mapping) and _is_pair(shape.member):
            # tags given as CloudFormation's map where the API wants a list of pairs
            key_name, value_name = _pair_names(shape.member)
            value = [{key_name: key, value_name: item} for key, item in value.items()]
        items = value if isinstance(value, list) else [value]
        return [_coerce(shape.member, item) for item in items]
    if isinstance(shape, MapShape):
        if isinstance(value, list):
            # tags given as CloudFormation's list of Key/Value pairs where the API wants a map
            value = {entry["Key"]: entry.get("Value", "") for entry in value if isinstance(entry, Mapping)}
        return {str(key): _coerce(shape.value, item) for key, item in dict(value).items()}
    return _SCALARS.get(shape.type_name, lambda value: value)(value)


def _pair_names(shape: Shape) -> tuple[str, str]:
    members = list(getattr(shape, "members", {}))
    for key_name, value_name in (("Key", "Value"), ("TagKey", "TagValue"), ("key", "value")):
        if key_name in members and value_name in members:
            return key_name, value_name
    return "", ""


def _is_pair(shape: Shape) -> bool:
    return isinstance(shape, StructureShape) and _pair_names(shape) != ("", "")


def _string(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "boolean": lambda value: value if isinstance(value, bool) else str(value).lower() == "true",
    "string": _string,
}
