"""The typed shapes that travel between the state machine and the step Lambdas.

State payloads stay small (Step Functions caps them at 256 KB): names and phases only;
everything else is in the ledger.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambdas.core.phases import Phase


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepRef(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,23}$")
    kind: str = "stage"
    #: "deploy" brings the step to the release; "delete" removes its stack (uninstall).
    op: Literal["deploy", "delete"] = "deploy"
    #: the step waits for other steps of the run (see `lambdas.run.turns`)
    waits: bool = False


class StepState(Model):
    """One step's progress, passed around the deploy / wait / status loop."""

    run: str
    step: StepRef
    #: where the step is: see `lambdas.core.phases` for what the state machine does next
    phase: Phase = Phase.START
    wait: int = 0
    polls: int = 0
    #: seconds this step has spent in Wait states (state-machine time: a stage's timeout counts it)
    waited: int = 0
    result: str | None = None
    #: the last wait ended early: CloudFormation's event for the stack resumed it (AwaitStack)
    resumed: bool = False


class ExecutionRef(Model):
    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    start_time: str | None = Field(default=None, alias="StartTime")

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PlanRequest(Model):
    """Plan's payload. The state machine sends only the execution: Plan reads its input with
    DescribeExecution, as JSON text whatever its type or size, and checks it. `input` (a parsed
    document) stands in for it when Plan is called from Python."""

    input: Any = None
    execution: ExecutionRef


class AwaitRequest(Model):
    """A step parked until its stack settles (or its poll interval passes)."""

    state: StepState
    token: str


class TurnRequest(Model):
    """A step parked until the steps it waits for are done."""

    run: str
    step: StepRef
    token: str


class ApprovalRequest(Model):
    """A run parked after Plan until a person approves or rejects it (RequireApproval)."""

    run: str
    token: str
    preview: str
    timeout: int


class DriftRequest(Model):
    run: str


class RollbackState(Model):
    run: str
    error: dict[str, Any] = Field(default_factory=dict)
    done: bool = False
    wait: int = 0


class FinalizeRequest(Model):
    run: str
    outcome: Literal["SUCCEEDED", "FAILED", "ROLLBACK_FAILED", "REFUSED"]
    error: dict[str, Any] | None = None
