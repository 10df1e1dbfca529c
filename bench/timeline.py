"""Where a run's time and state transitions go, read from its Step Functions history.

Every state a run enters is one billed state transition. The workflow's states carry the
step they work on (`$.step.name`) and, while a step polls, its phase (`$.phase`:
`changeset`, `executing`, `snapshot` ...), so each transition is attributed to a step and
a phase, and each step's time splits into time inside Lambda tasks, time in `Wait`
states, and the rest (the interpreter moving between states).

Times are seconds of wall time since the execution started; divide by the sandbox's
scale for modelled seconds. Lambda tasks run at real speed in the sandbox (they are not
scaled), so their share of a run grows as the scale shrinks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Task states that are waits: a step parked on a task token until its stack's event (or
#: the poll that is its timeout) resumes it
WAIT_TASKS = frozenset({"StepWait"})
#: transitions that belong to no step: the run's own states (Plan, the Maps, Finalize ...)
RUN = "(run)"


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class StepTimeline:
    """One step (a stage or an action) within a run."""

    name: str
    #: when the run reached it (the Steps map starts every step at once)
    start: float = float("inf")
    #: when it began its own work (after any WaitTurn: what it waits for is done)
    began: float = float("inf")
    end: float = 0.0
    #: wall seconds parked in WaitTurn, waiting for the steps it depends on
    parked_seconds: float = 0.0
    #: wall seconds inside Lambda tasks (DeployStage, StageStatus, Migrate)
    lambda_seconds: float = 0.0
    #: wall seconds waiting for its stack: Wait states, and StepWait parked on a task token until
    #: the stack's event or the poll that is its timeout
    wait_seconds: float = 0.0
    #: Lambda tasks called (the first call and every poll)
    calls: int = 0
    #: state transitions per phase (`dispatch`, `start`, `changeset`, `executing`, `done` ...)
    transitions: Counter[str] = field(default_factory=Counter)

    @property
    def seconds(self) -> float:
        """Its own work: from the end of its wait for other steps to its end."""
        return self.end - self.began

    @property
    def other_seconds(self) -> float:
        """The step's own time neither in a Lambda task nor in a Wait state."""
        return self.seconds - self.lambda_seconds - self.wait_seconds


@dataclass
class RunTimeline:
    steps: dict[str, StepTimeline]
    #: the run's own Task states (Plan, Finalize, Rollback ...), by name
    tasks: dict[str, Span]
    #: the Steps map: from its start to its last step's end
    steps_span: Span | None
    #: transitions per state name, over the whole run
    by_state: Counter[str]
    #: transitions of the run's own states, not of any step
    run_transitions: int

    @property
    def transitions(self) -> int:
        return sum(self.by_state.values())

    def by_phase(self) -> Counter[str]:
        """Every step's transitions per phase, added up (`(run)` for the run's own)."""
        total: Counter[str] = Counter({RUN: self.run_transitions} if self.run_transitions else {})
        for step in self.steps.values():
            total.update(step.transitions)
        return total


def _document(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _step_of(document: Mapping[str, Any]) -> str | None:
    step = document.get("step")
    return str(step["name"]) if isinstance(step, dict) and "name" in step else None


def _phase(state: str, document: Mapping[str, Any]) -> str:
    """The phase a step is in when it enters `state` (the first dispatch has none yet)."""
    if state == "StepKind":
        return "dispatch"
    return str(document.get("phase") or "start")


def _exited(step: StepTimeline, state: str, kind: str, began: float, at: float) -> None:
    """Count the time a step spent in `state` (entered at `began`, left at `at`)."""
    step.end = max(step.end, at)
    if state == "WaitTurn":
        step.parked_seconds += at - began
    elif state in WAIT_TASKS or kind == "WaitStateExited":
        step.wait_seconds += at - began
    elif kind == "TaskStateExited":
        step.lambda_seconds += at - began
        step.calls += 1


def timeline(events: Iterable[Mapping[str, Any]], started: datetime) -> RunTimeline:
    """Read a run from its history (`GetExecutionHistory`'s events, oldest first)."""
    steps: dict[str, StepTimeline] = {}
    tasks: dict[str, Span] = {}
    steps_span: list[float] | None = None
    by_state: Counter[str] = Counter()
    run_transitions = 0
    entered: dict[tuple[str | None, str], float] = {}

    for event in events:
        kind = str(event["type"])
        at = (event["timestamp"] - started).total_seconds()
        if kind.startswith("MapIteration"):
            iteration: Mapping[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            if iteration.get("name") == "Steps":
                steps_span = [at, at] if steps_span is None else [steps_span[0], at]
            continue
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            state, document = str(details["name"]), _document(details.get("input"))
            name = _step_of(document)
            by_state[state] += 1
            entered[(name, state)] = at
            if name is None:
                run_transitions += 1
                continue
            step = steps.setdefault(name, StepTimeline(name))
            step.start = min(step.start, at)
            if state == "StepKind":
                step.began = min(step.began, at)
            step.end = max(step.end, at)
            step.transitions[_phase(state, document)] += 1
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            state = str(details["name"])
            name = _step_of(_document(details.get("output")))
            began = entered.pop((name, state), None)
            if began is None:
                continue
            if name is None:
                if kind == "TaskStateExited":
                    tasks[state] = Span(began, at)
                continue
            _exited(steps[name], state, kind, began, at)
    return RunTimeline(
        steps=steps,
        tasks=tasks,
        steps_span=Span(*steps_span) if steps_span else None,
        by_state=by_state,
        run_transitions=run_transitions,
    )
