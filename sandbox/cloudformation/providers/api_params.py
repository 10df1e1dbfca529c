"""Resource properties as API parameters, the way CloudFormation's handlers pass them.

A resource's properties mostly carry the names of its service's API parameters, but
CloudFormation accepts `"5432"` for a port and `"true"` for a flag, and a policy as an
object where the API wants JSON text. The API operation's input shape (botocore's model)
says what each parameter is, so one function converts any properties for any operation,
and drops what the operation does not take. Names match without regard to case
(`AcmCertificateArn` is the API's `ACMCertificateArn`), and a list given where the API
wants CloudFront's `{Quantity, Items}` wrapper is wrapped.
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
        items = value if isinstance(value, list) else [value]
        return [_coerce(shape.member, item) for item in items]
    if isinstance(shape, MapShape):
        return {str(key): _coerce(shape.value, item) for key, item in dict(value).items()}
    return _SCALARS.get(shape.type_name, lambda value: value)(value)


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
