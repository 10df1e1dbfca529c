"""How long CloudFormation typically takes: seconds per resource type and operation.

The figures live in `latency.csv` beside this module, each row with the source it comes
from. A type with no row takes `DEFAULT` (the middle of the measured small resources), and
a custom resource takes `CUSTOM_RESOURCE_DISPATCH` on top of its Lambda's own run time.

The deploy step times its polls with it (`expected_seconds`: when a stack operation should
be done, from the change set's changes); the project's local CloudFormation models its
latency with the same table, so one table is both what we expect and what we measure against.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Operation = Literal["create", "update", "delete"]
LATENCY_CSV = Path(__file__).with_name("latency.csv")
STACK_OVERHEAD = "(stack overhead)"
CHANGE_SET_CREATE = "(change set create)"
DRIFT_DETECTION = "(DetectStackDrift)"
IN_A_VPC = " (in a VPC)"
_SUB_NAME = re.compile(r"\$\{(?!!)([^}]+)\}")


@dataclass(frozen=True)
class Durations:
    create: float
    update: float
    delete: float

    def of(self, operation: Operation) -> float:
        return float(getattr(self, operation))


DEFAULT = Durations(create=5, update=5, delete=3)
CUSTOM_RESOURCE_DISPATCH = Durations(create=1, update=1, delete=1)


class LatencyModel:
    """Typical seconds for each resource type, from `latency.csv`."""

    def __init__(self, rows: Mapping[str, Durations]) -> None:
        self._rows = dict(rows)

    @classmethod
    def load(cls, path: Path = LATENCY_CSV) -> LatencyModel:
        with path.open(newline="") as handle:
            lines = [line for line in handle if not line.startswith("#")]
        rows = {
            row["type"]: Durations(float(row["create_s"]), float(row["update_s"]), float(row["delete_s"]))
            for row in csv.DictReader(lines)
        }
        return cls(rows)

    def resource(self, resource_type: str, operation: Operation, properties: Mapping[str, Any] | None = None) -> float:
        """Seconds to create, update or delete one resource.

        A Lambda function attached to a VPC has its own row (its network interfaces make
        create slow and delete very slow).
        """
        if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
            return CUSTOM_RESOURCE_DISPATCH.of(operation)
        vpc_row = resource_type + IN_A_VPC
        if vpc_row in self._rows and _in_a_vpc(properties or {}):
            resource_type = vpc_row
        return self._rows.get(resource_type, DEFAULT).of(operation)

    def stack_overhead(self, operation: Operation) -> float:
        """CloudFormation's own time for a stack operation, on top of its resources."""
        return self._special(STACK_OVERHEAD, operation)

    def change_set_create(self) -> float:
        return self._special(CHANGE_SET_CREATE, "create")

    def drift_detection(self) -> float:
        """How long a DetectStackDrift takes from the call to DETECTION_COMPLETE."""
        return self._special(DRIFT_DETECTION, "create")

    def _special(self, row: str, operation: Operation) -> float:
        durations = self._rows.get(row)
        return durations.of(operation) if durations else 0.0


def _in_a_vpc(properties: Mapping[str, Any]) -> bool:
    vpc_config = properties.get("VpcConfig")
    return isinstance(vpc_config, dict) and bool(vpc_config.get("SubnetIds"))


# --------------------------------------------------------------------------- expectations
#: what a change set's `Action` does to its resource
_ACTIONS: dict[str, Operation] = {"Add": "create", "Modify": "update", "Import": "update", "Dynamic": "update"}


def template_references(value: Any) -> set[str]:
    """The logical ids `value` refers to (Ref, Fn::GetAtt, ${…} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) and item else str(item).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) and item else item
                if isinstance(text, str):
                    found.update(name.split(".")[0] for name in _SUB_NAME.findall(text))
                found.update(template_references(item[1] if isinstance(item, list) and len(item) > 1 else None))
            else:
                found.update(template_references(item))
    elif isinstance(value, list):
        for item in value:
            found.update(template_references(item))
    return found


def expected_seconds(
    model: LatencyModel, template: Mapping[str, Any], changes: Sequence[Mapping[str, Any]], stack_operation: Operation
) -> float:
    """Typical seconds from executing a change set to its stack operation being complete.

    CloudFormation's own time for the operation, plus the longest chain through the changed
    resources (those that depend on each other in the template wait for each other), each
    taking its type's figure for what the change does to it (a replacement is a create),
    plus the deletion of removed resources, which CloudFormation does last.
    """
    resources: Mapping[str, Any] = template.get("Resources") or {}
    seconds: dict[str, float] = {}
    removed = 0.0
    for change in changes:
        detail = change.get("ResourceChange") or {}
        logical_id = str(detail.get("LogicalResourceId", ""))
        resource_type = str(detail.get("ResourceType", ""))
        properties = (resources.get(logical_id) or {}).get("Properties") or {}
        action = str(detail.get("Action", ""))
        if action == "Remove":
            removed = max(removed, model.resource(resource_type, "delete", properties))
            continue
        operation = "create" if detail.get("Replacement") == "True" else _ACTIONS.get(action, "update")
        seconds[logical_id] = model.resource(resource_type, operation, properties)
    finish: dict[str, float] = {}

    def finished(logical_id: str, path: frozenset[str]) -> float:
        if logical_id not in finish:
            resource = resources.get(logical_id) or {}
            depends = resource.get("DependsOn") or []
            needs = template_references(resource.get("Properties") or {}) | set(
                [depends] if isinstance(depends, str) else depends
            )
            before = [finished(n, path | {logical_id}) for n in needs if n in seconds and n not in path]
            finish[logical_id] = max(before, default=0.0) + seconds[logical_id]
        return finish[logical_id]

    chain = max((finished(logical_id, frozenset()) for logical_id in seconds), default=0.0)
    return model.stack_overhead(stack_operation) + chain + removed


def create_changes(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[dict[str, Any]]:
    """The changes of a stack create, as a change set would list them: an `Add` for every
    resource whose `Condition` holds with these parameters (a condition that cannot be
    evaluated here counts as holding: the expectation errs on the long side)."""
    declared = template.get("Parameters") or {}
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items() if isinstance(spec, dict)}
    values.update(parameters)
    conditions: Mapping[str, Any] = template.get("Conditions") or {}
    known: dict[str, bool | None] = {}

    def condition(name: str, path: frozenset[str] = frozenset()) -> bool | None:
        if name not in known:
            known[name] = (
                None if name in path else _holds(conditions.get(name), values, lambda n: condition(n, path | {name}))
            )
        return known[name]

    return [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Add",
                "LogicalResourceId": logical_id,
                "ResourceType": resource.get("Type", ""),
            },
        }
        for logical_id, resource in (template.get("Resources") or {}).items()
        if not resource.get("Condition") or condition(str(resource["Condition"])) is not False
    ]


def _holds(expression: Any, values: Mapping[str, str], condition: Any) -> bool | None:
    """A condition expression's value; None when it needs something unknown here."""
    if not isinstance(expression, dict) or len(expression) != 1:
        return None
    ((function, argument),) = expression.items()
    if function == "Condition":
        return condition(str(argument))
    if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
        left, right = (_scalar(item, values) for item in argument)
        return None if left is None or right is None else left == right
    if function in ("Fn::Not", "Fn::And", "Fn::Or") and isinstance(argument, list):
        parts = [_holds(item, values, condition) for item in argument]
        if function == "Fn::Not":
            return None if len(parts) != 1 or parts[0] is None else not parts[0]
        if function == "Fn::And":
            return False if False in parts else None if None in parts else True
        return True if True in parts else None if None in parts else False
    return None


def _scalar(value: Any, values: Mapping[str, str]) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in values:
        return values[value["Ref"]]
    return None
