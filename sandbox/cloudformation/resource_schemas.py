"""Which property changes make CloudFormation replace a resource: the resource type's schema.

CloudFormation replaces a resource when an update changes one of its type's
`createOnlyProperties` (JSON pointers into the resource model, nested ones included: a change
below `/properties/A/B` replaces only when `B` of `A` differs), and a change set says so with
`Replacement` and `RequiresRecreation: Always`
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html#schema-properties-createonlyproperties,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
The schemas are the registry's own, as cfn-lint ships them (pinned); a type without one
(`Custom::*`, a third-party type) falls back to its provider's `replacement_properties`.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from importlib import resources
from typing import Any

#: The schemas of one Region stand for all: create-only properties do not vary by Region.
_REGION = "us-east-1"
#: A property the resource does not have (None is a value a template can give).
ABSENT: Any = object()

Path = tuple[str, ...]


#: The schemas are read once: a stack's resources start in many threads at once, and each
#: reading them itself (`functools.cache` does not hold back the others) cost seconds of CPU.
_READING = threading.Lock()


@cache
def _index() -> dict[str, str]:
    providers = resources.files("cfnlint.data.schemas.providers").joinpath(f"{_REGION}.json")
    return dict(json.loads(providers.read_text()))


def schema(resource_type: str) -> dict[str, Any] | None:
    """The registry's schema of the type, or None (a custom or unknown type)."""
    with _READING:
        return _schema(resource_type)


@cache
def _schema(resource_type: str) -> dict[str, Any] | None:
    digest = _index().get(resource_type)
    if digest is None:
        return None
    document = resources.files("cfnlint.data.schemas.resources").joinpath(f"{digest}.json")
    return dict(json.loads(document.read_text()))


@cache
def create_only_paths(resource_type: str) -> tuple[Path, ...] | None:
    """The type's create-only properties as paths below `Properties` (`*`: every item), or
    None when the type has no schema."""
    found = schema(resource_type)
    if found is None:
        return None
    paths = []
    for pointer in found.get("createOnlyProperties") or []:
        parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in str(pointer).split("/")[1:])
        if parts and parts[0] == "properties" and len(parts) > 1:
            paths.append(parts[1:])
    return tuple(paths)


def _at(value: Any, path: Path) -> Any:
    """The values at `path` below `value` (a list for `*`), `ABSENT` where there is none."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "*":
        return [_at(item, rest) for item in value] if isinstance(value, list) else ABSENT
    if isinstance(value, dict):
        return _at(value[head], rest) if head in value else ABSENT
    if isinstance(value, list) and head.isdigit() and int(head) < len(value):
        return _at(value[int(head)], rest)
    return ABSENT


class CreateOnly:
    """The create-only properties of one type: the schema's, else its provider's names."""

    def __init__(self, resource_type: str, fallback: frozenset[str]) -> None:
        paths = create_only_paths(resource_type)
        self.paths: tuple[Path, ...] = paths if paths is not None else tuple((name,) for name in sorted(fallback))

    def names(self) -> frozenset[str]:
        """Top-level properties that are, or hold, a create-only property."""
        return frozenset(path[0] for path in self.paths)

    def forces(self, name: str, old: Any, new: Any) -> bool:
        """Whether changing property `name` from `old` to `new` replaces the resource."""
        return any(path[0] == name and _at(old, path[1:]) != _at(new, path[1:]) for path in self.paths)

    def forcing(self, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        """The properties whose change from `old` to `new` replaces the resource."""
        return sorted(name for name in self.names() if self.forces(name, old.get(name, ABSENT), new.get(name, ABSENT)))
