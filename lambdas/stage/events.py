"""Waiting for a stack on CloudFormation's own events, with polling as the fallback.

While its stack works, a step parks on a task token (the AwaitStack state,
`.waitForTaskToken`), with the interval the deploy step chose as the task's timeout: when
no event comes, the timeout is the next poll, as before. The token is kept in the ledger
under the stack's name, and CloudFormation's "CloudFormation Stack Status Change" event
(an EventBridge rule on the installation's stacks) for a settled status hands it back at
once, so a step notices its stack within seconds instead of at its next poll.

Both sides write before they read: `park` stores the token and then looks at the stack, so
an event that came before the token was stored is not missed; the token is claimed once (a
conditional delete), so a step is never resumed twice for one wait. Events are delivered
at least once and may come late: a stale one resumes a newer wait early, and the step
polls, sees its stack still working, and parks again.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import StepState
from lambdas.core.phases import WATCHED_PHASES
from lambdas.data.aws import ClientError
from lambdas.data.ledger import now_iso
from lambdas.data.records import StepUpdate
from lambdas.data.stacks import Stacks, error_code, in_progress, region_of_stack

#: A token whose task is gone: the wait timed out (the step polled) or its run ended.
GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def park(deps: Deps, state: StepState, token: str) -> bool:
    """Keep the token of a step waiting on its stack; resume it at once if the stack has
    already settled. False when the step's phase does not wait on the stack's status."""
    if state.phase not in WATCHED_PHASES:
        return False
    stack_name = deps.settings.stack_name(state.step.name)
    deps.ledger.park_on_stack(stack_name, token, state.run, state.step.name)
    stack = _stacks_of(deps, state).describe(stack_name)
    if stack is None or not in_progress(stack.status):
        resume(deps, stack_name, token)
    return True


def _stacks_of(deps: Deps, state: StepState) -> Stacks:
    """CloudFormation in the region of the step's stack. A stack in another region than the
    workflow's sends its events to that region's bus, which the installation's rule does not
    watch: such a step is resumed by its poll (the task's timeout)."""
    record = deps.ledger.step(state.run, state.step.name)
    stage = deps.ledger.stage(state.step.name) if record.stack_id is None else None
    return deps.in_region(region_of_stack(record.stack_id or (stage.stack_id if stage else None))).stacks


def stack_name_of(stack_id: str) -> str:
    """`arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID` -> NAME."""
    resource = stack_id.split(":", 5)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "stack" else ""


def on_status_change(deps: Deps, event: dict[str, Any]) -> str | None:
    """An EventBridge "CloudFormation Stack Status Change" event: resume the step waiting on
    that stack when the status is a settled one. The step's name, or None."""
    detail = event.get("detail") or {}
    status = str((detail.get("status-details") or {}).get("status", ""))
    stack_name = stack_name_of(str(detail.get("stack-id", "")))
    if not stack_name or not status or in_progress(status) or status == "REVIEW_IN_PROGRESS":
        return None
    return resume(deps, stack_name)


def resume(deps: Deps, stack_name: str, token: str | None = None) -> str | None:
    """Hand the waiting step's token back (once); the step's name, or None if none waited."""
    waiter = deps.ledger.claim_stack_waiter(stack_name, token)
    if waiter is None:
        return None
    try:
        deps.sfn.send_task_success(taskToken=waiter.token, output=json.dumps(True))
    except ClientError as error:
        if error_code(error) not in GONE:
            raise
        return None
    deps.ledger.update_step(waiter.run, waiter.step, StepUpdate(resumed_at=now_iso()))
    return waiter.step
