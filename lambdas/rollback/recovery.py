"""Rollback: undo, in reverse order, every step this run changed — one move per call.

Each call looks at the ledger and at CloudFormation, makes at most one change (or waits
for one to finish), and returns; the state machine calls again until `done`. A retried
or re-run rollback converges, because every decision is made from the actual state:
- a stack this run created is deleted (a stateful one is kept: data may live there);
- a stack this run updated goes back to its rollback point (template, parameters, tags);
  when CloudFormation's own rollback already put it back, there is nothing to do;
- a stack still in progress (a timed-out stage, a sibling stopped mid-way) is cancelled
  or waited for;
- change sets created but never executed are deleted.
"""

from __future__ import annotations

import time
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed
from lambdas.core.messages import RollbackState
from lambdas.data.aws import ClientError
from lambdas.data.ledger import now_iso
from lambdas.data.records import RecordInvalid, RollbackPoint, RunUpdate, StepRecord, StepUpdate
from lambdas.data.stacks import (
    FAILED_CREATE,
    STABLE,
    StackInfo,
    error_code,
    in_progress,
    normalized_sha256,
    region_of_stack,
)
from lambdas.images import step as images
from lambdas.migration import step as migration
from lambdas.release.manifest import NO_ECHO_MASK
from lambdas.site import step as site

POLL = 10
MAX_ROLLBACK_ATTEMPTS = 2
#: A step marked acting longer than this died mid-call (the longest step Lambda runs 900 s).
ACTING_GRACE = 960
SETTLE_POLL = 5
MAX_POLL = 60
#: Polls a rollback waits for a stateful stage still being created without a creation
#: timeout (about an hour, with the back-off) before it deletes it anyway.
MAX_CREATE_WAITS = 70
#: Calls a rollback waits for a busy migration function before it reports the snapshot.
MAX_MIGRATION_WAITS = 20
#: Actions undone before any stage, in this order.
FIRST_UNDONE = {"migrate": 0, "site": 1}


def restored_parameters(parameters: dict[str, str]) -> list[dict[str, Any]]:
    """A rollback point's parameters for UpdateStack. DescribeStacks shows a NoEcho parameter as
    NO_ECHO_MASK, so the point never held its value: it keeps the value the stack has
    (`UsePreviousValue`), which an installation value never changes
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html)."""
    return [
        {"ParameterKey": key, "UsePreviousValue": True}
        if value == NO_ECHO_MASK
        else {"ParameterKey": key, "ParameterValue": value}
        for key, value in sorted(parameters.items())
    ]


class Rollback:
    def __init__(self, deps: Deps, state: RollbackState) -> None:
        self.deps = deps
        self.state = state
        self.run_id = state.run
        self.role = {"RoleARN": deps.settings.cloudformation_role_arn} if deps.settings.cloudformation_role_arn else {}

    def step(self) -> RollbackState:
        meta = self.deps.ledger.run(self.run_id)
        if meta is not None and meta.status == "RUNNING":
            # From now on no step of this run may change anything (see Ledger.acting).
            self.deps.ledger.update_run(self.run_id, RunUpdate(status="ROLLING_BACK", rollback_started=now_iso()))
        steps = self.deps.ledger.steps(self.run_id)
        now = int(time.time())
        if any(s.acting and now - (s.acting_epoch or 0) < ACTING_GRACE for s in steps.values()):
            # A step that was going when the run failed is still finishing its call.
            return self.state.model_copy(update={"done": False, "wait": SETTLE_POLL})
        pending = [s for s in steps.values() if s.executed and not s.rolled_back]
        # Newest first, but the database before any stage: its downgrade runs with the new
        # release's scripts (the migrations stage not yet put back), and no stage's old code
        # runs on the new schema (data.all #1500), whenever the stage finished.
        # The site goes back next, while its bucket and the stages whose outputs it was configured
        # with are still there (an install's site is taken out, so its bucket can go).
        pending.sort(key=lambda s: s.executed_at or "", reverse=True)
        pending.sort(key=lambda s: FIRST_UNDONE.get(s.kind or "", len(FIRST_UNDONE)))
        for record in pending:
            wait = self._undo(record)
            if wait is not None:
                return self.state.model_copy(update={"done": False, "wait": wait})
        for record in steps.values():
            prepared = record.change_set_id or record.rollback_key
            if prepared and not record.executed and not record.rolled_back:
                self._there(record)._discard_change_set(record)
        self.deps.ledger.update_run(self.run_id, RunUpdate(rollback_finished=now_iso()))
        return self.state.model_copy(update={"done": True, "wait": 0})

    # ------------------------------------------------------------------ one stage
    def _mark(self, record: StepRecord, outcome: str, **extra: Any) -> None:
        self.deps.ledger.update_step(
            self.run_id, record.name, StepUpdate(rolled_back=outcome, rolled_back_at=now_iso(), **extra)
        )

    def _undo(self, record: StepRecord) -> int | None:
        """None when this stage is settled; else seconds to wait before the next call."""
        if record.op == "delete" and record.kind != "site" and record.rollback_key:
            return self._there(record)._undo_delete(record)
        if record.op == "delete":
            emptied = record.kind == "site"
            self._mark(
                record,
                "IRREVERSIBLE",
                reason="the uninstall emptied the site bucket"
                if emptied
                else "the uninstall deleted this stage's stack",
                action="run a redeploy to publish the site again"
                if emptied
                else "run an install to create the stage again",
            )
            return None
        if record.kind == "migrate":
            return self._undo_migration(record)
        if record.kind == "site":
            self._undo_site(record)
            return None
        if record.kind == "images":
            self._mark(record, "KEPT", reason=images.KEPT_REASON)
            return None
        return self._there(record)._undo_stage(record)

    def _there(self, record: StepRecord) -> Rollback:
        """This rollback with the deps of the stage's region (its stack's, else its release's)."""
        region = region_of_stack(record.stack_id)
        if region is None:
            step = self._manifest().steps.get(record.name)
            region = step.region if step is not None else None
        there = self.deps.in_region(region)
        if there is self.deps:
            return self
        return Rollback(there, self.state)

    def _undo_stage(self, record: StepRecord) -> int | None:
        point = self.deps.store.rollback_point(_required(record.rollback_key, record, "rollback_key"))
        stack = self.deps.stacks.describe(record.stack_id or _required(record.stack_name, record, "stack_name"))
        if stack is not None and in_progress(stack.status):
            return self._stop(stack, record)
        if point.absent:
            return self._undo_create(record, stack, point)
        return self._undo_update(record, stack, point)

    def _stop(self, stack: StackInfo, record: StepRecord) -> int:
        """A stack still working: cancel what can be cancelled, then wait for it."""
        if stack.status == "UPDATE_IN_PROGRESS" and not record.rollback_cancelled:
            self._ignore_validation(lambda: self.deps.stacks.call("cancel_update_stack", StackName=stack.stack_id))
            self.deps.ledger.update_step(self.run_id, record.name, StepUpdate(rollback_cancelled=True))
        elif stack.status == "CREATE_IN_PROGRESS" and not record.rollback_cancelled:
            # A create is left to end: deleting a stack mid-create keeps the resources it
            # retains on deletion (RetainExceptOnCreate: named buckets, user pools...), and
            # they would block the next create; a failed create's own rollback deletes them.
            # CloudFormation's creation timeout ends it. A stack created without one (by
            # hand, or by an older installer) is waited for a while if stateful, then deleted.
            waits = record.rollback_waits or 0
            if stack.timeout_in_minutes or (self._stateful(record) and waits < MAX_CREATE_WAITS):
                self.deps.ledger.update_step(self.run_id, record.name, StepUpdate(rollback_waits=waits + 1))
                return min(MAX_POLL, POLL * (waits + 1))
            self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self.role)
            self.deps.ledger.update_step(self.run_id, record.name, StepUpdate(rollback_cancelled=True))
        return POLL

    def _undo_create(self, record: StepRecord, stack: StackInfo | None, point: RollbackPoint) -> int | None:
        manifest_step = self._stateful(record)
        if stack is None:
            self._restore_ledger(record, point)
            self._mark(record, "DELETED")
            return None
        if manifest_step and stack.status not in FAILED_CREATE:
            self._restore_ledger(record, point)
            self._mark(record, "RETAINED", reason="stateful stage: kept, it may hold data")
            return None
        needed_by = self._retained_dependant(record.name)
        if needed_by and stack.status not in FAILED_CREATE:
            self._restore_ledger(record, point)
            self._mark(record, "RETAINED", reason=f"kept: retained stage {needed_by} runs on it")
            return None
        if stack.status == "DELETE_FAILED" and (record.rollback_attempts or 0) >= MAX_ROLLBACK_ATTEMPTS:
            failure = self.deps.stacks.failure(stack.stack_id)
            self._mark(
                record,
                "FAILED",
                reason=failure["reason"],
                resource=failure["resource"],
                action=f"delete stack {stack.name} by hand (CloudFormation console), then run again",
            )
            return None
        if stack.termination_protection:
            self.deps.stacks.call(
                "update_termination_protection", StackName=stack.stack_id, EnableTerminationProtection=False
            )
        self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self.role)
        self._count_attempt(record)
        return POLL

    def _undo_update(self, record: StepRecord, stack: StackInfo | None, point: RollbackPoint) -> int | None:
        if stack is None:
            self._mark(
                record,
                "FAILED",
                reason="the stack was deleted during the run",
                action="run a redeploy: it creates the stage again",
            )
            return None
        if stack.status == "UPDATE_ROLLBACK_FAILED":
            if (record.rollback_attempts or 0) >= MAX_ROLLBACK_ATTEMPTS:
                self._mark(
                    record,
                    "FAILED",
                    reason=stack.reason,
                    action=f"continue the rollback of {stack.name} in the CloudFormation console "
                    "(skip the resources that block it), then run again",
                )
                return None
            self.deps.stacks.call("continue_update_rollback", StackName=stack.stack_id, **self.role)
            self._count_attempt(record)
            return POLL
        if self._matches(stack, point):
            self._restore_ledger(record, point)
            self._mark(record, "RESTORED")
            return None
        if stack.status not in STABLE or (record.rollback_attempts or 0) >= MAX_ROLLBACK_ATTEMPTS:
            failure = self.deps.stacks.failure(stack.stack_id)
            self._mark(
                record,
                "FAILED",
                reason=failure["reason"] or stack.status,
                resource=failure["resource"],
                action=f"stack {stack.name} is {stack.status}: update it back by hand or run again",
            )
            return None
        key = self.deps.store.save_template(self.run_id, record.name, _required(point.template, record, "template"))
        self.deps.stacks.call(
            "update_stack",
            StackName=stack.stack_id,
            TemplateURL=self.deps.store.url_for_key(self.deps.region, key),
            Parameters=restored_parameters(point.parameters),
            Tags=[{"Key": k, "Value": v} for k, v in sorted(point.tags.items())],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            **self.role,
        )
        self._count_attempt(record)
        return POLL

    def _undo_delete(self, record: StepRecord) -> int | None:
        """A stage the run deleted because it did not want it (its condition turned off, or the run's
        release has it no more): created again from its rollback point (template, parameters, tags),
        then its ledger record put back with the new stack's id."""
        point = self.deps.store.rollback_point(_required(record.rollback_key, record, "rollback_key"))
        stack = self.deps.stacks.describe(_required(record.stack_name, record, "stack_name"))
        if stack is not None and in_progress(stack.status):
            return POLL  # its delete (or its creation again) is still going
        if stack is not None and stack.status in STABLE and self._matches(stack, point):
            if point.ledger is not None:
                self.deps.ledger.put_stage(
                    point.ledger.model_copy(
                        update={"stage": record.name, "stack_id": stack.stack_id, "outputs": stack.outputs}
                    )
                )
            self._mark(record, "RESTORED")
            return None
        if stack is not None and (
            (record.rollback_attempts or 0) >= MAX_ROLLBACK_ATTEMPTS or stack.status in FAILED_CREATE
        ):
            failure = self.deps.stacks.failure(stack.stack_id)
            self._mark(
                record,
                "FAILED",
                reason=failure["reason"] or stack.status,
                resource=failure["resource"],
                action=f"stack {stack.name} is {stack.status}: run a redeploy with the options before this run",
            )
            return None
        if stack is not None:  # still there (its delete failed): the next call sees it settle or not
            self._count_attempt(record)
            return POLL
        key = self.deps.store.save_template(self.run_id, record.name, _required(point.template, record, "template"))
        step, _ = self._step_before(record.name)
        # A stateful stage's stack is termination-protected, as the stage step leaves it.
        protected = {"EnableTerminationProtection": True} if step is not None and step.stateful else {}
        self.deps.stacks.call(
            "create_stack",
            StackName=record.stack_name,
            TemplateURL=self.deps.store.url_for_key(self.deps.region, key),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(self._filled(record, point).items())
            ],
            Tags=[{"Key": k, "Value": v} for k, v in sorted(point.tags.items())],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            OnFailure="ROLLBACK",
            **({"TimeoutInMinutes": max(1, -(-step.timeout // 60))} if step is not None else {}),
            **protected,
            **self.role,
        )
        self._count_attempt(record)
        return POLL

    def _filled(self, record: StepRecord, point: RollbackPoint) -> dict[str, str]:
        """The point's parameters for CreateStack: an installation value (recorded as its NoEcho mask)
        read from the ledger, as the stage step gives it."""
        filled = dict(point.parameters)
        step, manifest = self._step_before(record.name)
        names = manifest.value_parameters(step) if step is not None else {}
        for key, value in point.parameters.items():
            if value == NO_ECHO_MASK:
                kept = self.deps.ledger.value(names[key]) if key in names else None
                if kept is None:
                    raise RecordInvalid(f"stage {record.name} parameter {key}: its installation value is not kept")
                filled[key] = kept.value
        return filled

    def _undo_migration(self, record: StepRecord) -> int | None:
        """Downgrade the database to the revision it had before this run (or name the snapshot)."""
        result = migration.downgrade(self.deps, record)
        outcome = result.pop("outcome")
        if outcome == "WAIT":
            if (record.rollback_attempts or 0) >= MAX_MIGRATION_WAITS:
                report = migration.restore_report(self.deps, record, "the downgrade never started")
                self._mark(record, str(report.pop("outcome")), **report)
                return None
            self._count_attempt(record)
            return int(result.get("wait", POLL))
        self._mark(record, outcome, **result)
        return None

    def _undo_site(self, record: StepRecord) -> None:
        """The site of the release before this run back in its bucket (none before: this run's taken out)."""
        meta = self.deps.ledger.run(self.run_id)
        if meta is None:
            raise RecordInvalid(f"run {self.run_id} has no record in the ledger: its release is unknown")
        try:
            done = site.restore(self.deps, meta, record)
        except (StageFailed, RecordInvalid, ClientError) as error:
            # The stages still go back; the site is left for a person (or the next run).
            reason = error.report["reason"] if isinstance(error, StageFailed) else str(error)
            self._mark(
                record,
                "FAILED",
                reason=f"the site could not be put back: {reason}",
                action="run a redeploy of the installed release: it publishes its site again",
            )
            return
        self._mark(record, str(done.pop("outcome")), **done)

    # ------------------------------------------------------------------ helpers
    def _matches(self, stack: StackInfo, point: RollbackPoint) -> bool:
        current = normalized_sha256(self.deps.stacks.template(stack.stack_id))
        return current == normalized_sha256(point.template or "") and stack.parameters == point.parameters

    def _retained_dependant(self, name: str) -> str | None:
        """A stage this run kept that needs `name` (its network, its key ...): then `name` stays
        too. AWS would refuse the delete anyway (a VPC with a database's interfaces in it)."""
        manifest = self._manifest()
        for other, record in sorted(self.deps.ledger.steps(self.run_id).items()):
            step = manifest.steps.get(other)
            if record.rolled_back == "RETAINED" and step is not None and name in step.dependencies():
                return other
        return None

    def _manifest(self) -> Any:
        meta = self.deps.ledger.run(self.run_id)
        if meta is None:
            raise RecordInvalid(f"run {self.run_id} has no record in the ledger: its release is unknown")
        return self.deps.store.manifest(meta.version)

    def _step_before(self, name: str) -> tuple[Any, Any]:
        """A deleted stage's step and its manifest: the run's release's, else (a stage that release
        dropped) the release installed before the run, which made it."""
        manifest = self._manifest()
        step = manifest.steps.get(name)
        meta = self.deps.ledger.run(self.run_id)
        before = (meta.previous or {}).get("version") if meta is not None else None
        if step is None and before and before != manifest.version:
            try:
                manifest = self.deps.store.manifest(str(before))
            except ClientError:
                return None, manifest
            step = manifest.steps.get(name)
        return step, manifest

    def _stateful(self, record: StepRecord) -> bool:
        step = self._manifest().steps.get(record.name)
        return bool(step and step.stateful)

    def _restore_ledger(self, record: StepRecord, point: RollbackPoint) -> None:
        if point.ledger is not None:
            self.deps.ledger.put_stage(point.ledger.model_copy(update={"stage": record.name}))
        elif point.absent:
            self.deps.ledger.delete_stage(record.name)

    def _count_attempt(self, record: StepRecord) -> None:
        attempts = (record.rollback_attempts or 0) + 1
        self.deps.ledger.update_step(self.run_id, record.name, StepUpdate(rollback_attempts=attempts))

    def _discard_change_set(self, record: StepRecord) -> None:
        """A change set made but never executed: delete it, and the empty stack a CREATE one made."""
        stack_name = record.stack_name or self.deps.settings.stack_name(record.name)
        change_set = record.change_set_id or f"{self.run_id}-{record.name}"[:128]
        self._ignore_validation(
            lambda: self.deps.stacks.call("delete_change_set", ChangeSetName=change_set, StackName=stack_name)
        )
        stack = self.deps.stacks.describe(stack_name)
        if stack is not None and stack.status == "REVIEW_IN_PROGRESS":
            self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self.role)
        self._mark(record, "DISCARDED")

    @staticmethod
    def _ignore_validation(call: Any) -> None:
        try:
            call()
        except ClientError as error:
            if error_code(error) not in ("ValidationError", "ChangeSetNotFound", "ChangeSetNotFoundException"):
                raise


def _required(value: str | None, record: StepRecord, key: str) -> str:
    """A key the step's record must hold by now (it executed): its absence fails loudly."""
    if value is None:
        raise RecordInvalid(f"step {record.name} executed but its record has no {key}")
    return value
