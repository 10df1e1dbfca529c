"""The phases of a workflow step, defined once for the Lambdas and the state machine.

A step's Lambda returns the step's state with a `phase`; the Choice state after it in the
ASL (`StepProgress` for a stage, `MigrateProgress` for the migrate action) routes on that
phase. `STEP_PHASES` says, for each kind of step, which phases its calls return and what
the state machine does next with each; the stage's watched phases (`WATCHED_PHASES`) and
each step's dispatch of its next call (`StageDeployment.ADVANCES`,
`MigrationStep.ADVANCES`) follow from it, and `tests/unit/test_phases.py` checks the ASL's
Choice rules and those dispatches against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    START = "start"
    #: a stage's change set is being created
    CHANGESET = "changeset"
    #: a stage's stack operation (create, update, delete) runs
    EXECUTING = "executing"
    #: someone else's operation holds the stage's stack, or the stack is being readied for this run
    BUSY = "busy"
    #: the migrate step's cluster snapshot is being taken
    SNAPSHOT = "snapshot"
    #: the migrate step's upgrade runs (or waits for another migration to finish)
    UPGRADE = "upgrade"
    DONE = "done"


class Then(StrEnum):
    """What the state machine does with a step whose call returned a phase."""

    #: the step is finished: its Choice goes to a Succeed state
    DONE = "done"
    #: the step's first task again, at once: its Choice goes back to the step's entry task
    START_AGAIN = "start again"
    #: the Choice's default: a wait (ended early by the stack's status-change event when the
    #: phase is watched, else the state's `wait` seconds), then the step's next call
    WAIT = "wait"


@dataclass(frozen=True)
class PhaseRule:
    then: Then
    #: what the step waits for in this phase
    waits_for: str = ""
    #: the wait is on the stack's status, so CloudFormation's event ends it (`lambdas/stage/events.py`)
    watched: bool = False


@dataclass(frozen=True)
class StepPhases:
    """The phases one kind of step (`$.step.kind`) returns, and the state machine's answer to each."""

    kind: str
    rules: Mapping[Phase, PhaseRule]

    def rule(self, phase: Phase) -> PhaseRule:
        if phase not in self.rules:
            raise ValueError(f"a {self.kind} step has no phase {phase!r}")
        return self.rules[phase]

    @property
    def waiting(self) -> frozenset[Phase]:
        """The phases after whose wait the step's next call moves it on (its `ADVANCES`)."""
        return frozenset(phase for phase, rule in self.rules.items() if rule.then is Then.WAIT)


STAGE = StepPhases(
    "stage",
    {
        Phase.START: PhaseRule(Then.START_AGAIN),
        Phase.CHANGESET: PhaseRule(Then.WAIT, "the change set to be created, then executes it"),
        Phase.EXECUTING: PhaseRule(Then.WAIT, "the stack operation to settle", watched=True),
        Phase.BUSY: PhaseRule(Then.WAIT, "an operation on the stack to settle, then starts again", watched=True),
        Phase.DONE: PhaseRule(Then.DONE),
    },
)
MIGRATE = StepPhases(
    "migrate",
    {
        Phase.START: PhaseRule(Then.WAIT, "the migration function's answer or the cluster, then starts again"),
        Phase.SNAPSHOT: PhaseRule(Then.WAIT, "the cluster snapshot, then upgrades"),
        Phase.UPGRADE: PhaseRule(Then.WAIT, "another migration to finish, or none, then upgrades"),
        Phase.DONE: PhaseRule(Then.DONE),
    },
)
#: The site action publishes in one call (`lambdas.site.step`): done, or failed.
SITE = StepPhases("site", {Phase.DONE: PhaseRule(Then.DONE)})
#: The images action copies in one call (`lambdas.images.step`): done, or failed.
IMAGES = StepPhases("images", {Phase.DONE: PhaseRule(Then.DONE)})
#: Every kind of step the state machine runs, by `$.step.kind`.
STEP_PHASES: Mapping[str, StepPhases] = {steps.kind: steps for steps in (STAGE, MIGRATE, SITE, IMAGES)}

#: Phases in which a step waits on its stack's status (not, e.g., on a change set being
#: computed: that changes no stack status, so the wait is a plain poll).
WATCHED_PHASES = frozenset(
    phase for steps in STEP_PHASES.values() for phase, rule in steps.rules.items() if rule.watched
)
