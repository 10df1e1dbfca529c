"""Each step starts as soon as the steps it waits for are done.

A step that waits (its `after` list in the run record is not empty) parks on a task token
(`.waitForTaskToken`): `wait_turn` records the token, and whichever comes last — the token
being recorded, or the last step it waits for finishing — hands the token back to Step
Functions. Both sides write before they read, and a conditional write lets exactly one of
them send it, so no step starts twice or is forgotten. No step polls while it waits.
"""

from __future__ import annotations

import json

from lambdas.core.deps import Deps
from lambdas.data.aws import ClientError
from lambdas.data.ledger import now_iso
from lambdas.data.records import StepRecord, StepUpdate


def _done(step: StepRecord | None) -> bool:
    return step is not None and bool(step.result) and step.result != "FAILED"


def _after(deps: Deps, run: str) -> dict[str, list[str]]:
    meta = deps.ledger.run(run)
    return meta.after if meta is not None else {}


def wait_turn(deps: Deps, run: str, name: str, token: str) -> None:
    """Park a step: keep its token; release it at once if what it waits for is done."""
    deps.ledger.update_step(run, name, StepUpdate(turn_token=token, waiting_since=now_iso()))
    after = _after(deps, run)
    steps = deps.ledger.steps(run)
    if all(_done(steps.get(other)) for other in after.get(name, [])):
        release(deps, run, name)


def finished(deps: Deps, run: str, name: str) -> list[str]:
    """A step is done: release every step that was waiting only for it (and others done)."""
    after = _after(deps, run)
    dependants = [other for other, waits in after.items() if name in waits]
    if not dependants:
        return []
    steps = deps.ledger.steps(run)
    released = []
    for other in dependants:
        record = steps.get(other)
        if (
            record is not None
            and record.turn_token
            and all(_done(steps.get(w)) for w in after[other])
            and release(deps, run, other)
        ):
            released.append(other)
    return released


def release(deps: Deps, run: str, name: str) -> bool:
    """Hand a parked step's token back (once); True if this call did."""
    token = deps.ledger.claim_turn(run, name)
    if token is None:
        return False
    try:
        deps.sfn.send_task_success(taskToken=token, output=json.dumps({"released": now_iso()}))
    except ClientError as error:
        # The execution ended (failed, aborted) while the step was parked: nothing to start.
        if error.response.get("Error", {}).get("Code") not in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise
    return True
