"""Fault injection: make a given stage fail the way AWS can fail.

A fault is `STAGE:KIND`. STAGE is a stage name (the stack `{prefix}-{env}-{stage}`) or `*`.
Kinds:
- `create`   a resource fails on the stack's create, which rolls back (ROLLBACK_COMPLETE);
             updates leave it armed
- `update`   an update fails on a resource (UPDATE_ROLLBACK_COMPLETE), whatever it changes: the
             last resource it modifies or adds fails, or, when it only removes, the last one kept
- `timeout`  the stack's create or update never finishes: it stays *_IN_PROGRESS past the stage timeout
- `crash`    the workflow Lambda that works on this stage raises (an unhandled error)
- `throttle` CloudFormation answers Throttling to calls about this stack, `count` times
- `rollback` an update fails as with `update`, and so does CloudFormation's own rollback
             (UPDATE_ROLLBACK_FAILED): on the first resource it restores, or on the stack when
             the update only added resources; ContinueUpdateRollback finishes it
Each failure's reason names the fault that struck (`Fault 'update' armed for stack …`).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("create", "update", "timeout", "crash", "throttle", "rollback")
_SPEC = re.compile(r"^(?P<stage>\*|[a-z][a-z0-9-]*):(?P<kind>[a-z]+)(?:@(?P<count>[0-9]+))?$")


class FaultSpecError(ValueError):
    code = "InvalidFault"


@dataclass
class Fault:
    stage: str
    kind: str
    #: how many times it fires before it is spent; None = every time
    count: int | None = None
    fired: int = 0
    #: who armed it may disarm it (a command's faults last for that command only)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def spent(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches_stack(self, stack_name: str) -> bool:
        return self.stage == "*" or stack_name.endswith(f"-{self.stage}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: str) -> Fault:
    """`vpc:create`, `aurora:throttle@3` (fires three times), `*:crash`."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise FaultSpecError(f"fault {spec!r} is not STAGE:KIND[@COUNT] (KIND one of {', '.join(KINDS)})")
    kind = match.group("kind")
    if kind not in KINDS:
        raise FaultSpecError(f"fault {spec!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    count = match.group("count")
    default_count = 3 if kind == "throttle" else None
    return Fault(stage=match.group("stage"), kind=kind, count=int(count) if count else default_count)


class FaultRegistry:
    """The faults armed in one sandbox. Thread-safe: the engine and the runtime both ask."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault | str) -> Fault:
        if isinstance(fault, str):
            fault = parse_fault(fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def remove(self, ids: Iterable[str]) -> int:
        """Disarm the faults with these ids (spent or not); how many were armed."""
        gone = set(ids)
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id not in gone]
            return before - len(self._faults)

    def list(self) -> list[Fault]:
        with self._lock:
            return [Fault(**f.to_dict()) for f in self._faults]

    def fire(self, kind: str, stack_name: str) -> Fault | None:
        """The armed fault of `kind` for this stack, counted as fired; None if there is none."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and not fault.spent and fault.matches_stack(stack_name):
                    fault.fired += 1
                    return Fault(**fault.to_dict())
        return None

    def armed(self, kind: str, stack_name: str) -> bool:
        with self._lock:
            return any(f.kind == kind and not f.spent and f.matches_stack(stack_name) for f in self._faults)

    def fire_for_stage(self, kind: str, stage: str) -> Fault | None:
        """As `fire`, for callers that know the stage name rather than the stack name."""
        return self.fire(kind, f"-{stage}")
