"""How long CloudFormation takes: modelled seconds per resource type and operation.

The figures live in `latency.csv` beside this module, each row with the source it comes
from. Two figures are the sandbox's own estimates, kept here: a type with no row takes
`DEFAULT` (the middle of the measured small resources), and a custom resource takes
`CUSTOM_RESOURCE_DISPATCH` on top of its Lambda's own run time, which is real. The
engine converts modelled seconds to wall time through the sandbox's clock, so one scale
sets the pace of a whole run.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Operation = Literal["create", "update", "delete"]
LATENCY_CSV = Path(__file__).with_name("latency.csv")
STACK_OVERHEAD = "(stack overhead)"
CHANGE_SET_CREATE = "(change set create)"
DRIFT_DETECTION = "(DetectStackDrift)"
IN_A_VPC = " (in a VPC)"


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
    """Modelled seconds for each resource type, from `latency.csv`."""

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
