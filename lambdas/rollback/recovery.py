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

from botocore.exceptions import ClientError

from lambdas.core.deps import Deps
from lambdas.core.messages import RollbackState
from lambdas.data.ledger import now_iso
from lambdas.data.stacks import FAILED_CREATE, STABLE, StackInfo, error_code, in_progress, normalized_sha256
from lambdas.migration import step as migration

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


class Rollback:
    def __init__(self, deps: Deps, state: RollbackState) -> None:
        self.deps = deps
        self.state = state
        self.run_id = state.run
        self.role = {"RoleARN": deps.settings.cloudformation_role_arn} if deps.settings.cloudformation_role_arn else {}

    def step(self) -> RollbackState:
        meta = self.deps.ledger.run(self.run_id) or {}
        if meta.get("status") == "RUNNING":
            # From now on no step of this run may change anything (see Ledger.acting).
            self.deps.ledger.update_run(self.run_id, {"status": "ROLLING_BACK", "rollback_started": now_iso()})
        steps = self.deps.ledger.steps(self.run_id)
        now = int(time.time())
        if any(s.get("acting") and now - int(s.get("acting_epoch", 0)) < ACTING_GRACE for s in steps.values()):
            # A step that was going when the run failed is still finishing its call.
            return self.state.model_copy(update={"done": False, "wait": SETTLE_POLL})
        pending = [s for s in steps.values() if s.get("executed") and not s.get("rolled_back")]
        pending.sort(key=lambda s: s.get("executed_at", ""), reverse=True)
        for record in pending:
            wait = self._undo(record)
            if wait is not None:
                return self.state.model_copy(update={"done": False, "wait": wait})
        for record in steps.values():
            prepared = record.get("change_set_id") or record.get("rollback_key")
            if prepared and not record.get("executed") and not record.get("rolled_back"):
                self._discard_change_set(record)
        self.deps.ledger.update_run(self.run_id, {"rollback_finished": now_iso()})
        return self.state.model_copy(update={"done": True, "wait": 0})

    # ------------------------------------------------------------------ one stage
    def _mark(self, record: dict[str, Any], outcome: str, **extra: Any) -> None:
        self.deps.ledger.update_step(
            self.run_id, record["name"], {"rolled_back": outcome, "rolled_back_at": now_iso(), **extra}
        )

    def _undo(self, record: dict[str, Any]) -> int | None:
        """None when this stage is settled; else seconds to wait before the next call."""
        if record.get("kind") == "migrate":
            return self._undo_migration(record)
        if record.get("op") == "delete":
            self._mark(
                record,
                "IRREVERSIBLE",
                reason="the uninstall deleted this stage's stack",
                action="run an install to create the stage again",
            )
            return None
        point = self.deps.store.rollback_point(record["rollback_key"])
        stack = self.deps.stacks.describe(record.get("stack_id") or record["stack_name"])
        if stack is not None and in_progress(stack.status):
            return self._stop(stack, record)
        if point["absent"]:
            return self._undo_create(record, stack, point)
        return self._undo_update(record, stack, point)

    def _stop(self, stack: StackInfo, record: dict[str, Any]) -> int:
        """A stack still working: cancel what can be cancelled, then wait for it."""
        if stack.status == "UPDATE_IN_PROGRESS" and not record.get("rollback_cancelled"):
            self._ignore_validation(lambda: self.deps.stacks.call("cancel_update_stack", StackName=stack.stack_id))
            self.deps.ledger.update_step(self.run_id, record["name"], {"rollback_cancelled": True})
        elif stack.status == "CREATE_IN_PROGRESS" and not record.get("rollback_cancelled"):
            # A create is left to end: deleting a stack mid-create keeps the resources it
            # retains on deletion (RetainExceptOnCreate: named buckets, user pools...), and
            # they would block the next create; a failed create's own rollback deletes them.
            # CloudFormation's creation timeout ends it. A stack created without one (by
            # hand, or by an older installer) is waited for a while if stateful, then deleted.
            waits = int(record.get("rollback_waits", 0))
            if stack.timeout_in_minutes or (self._stateful(record) and waits < MAX_CREATE_WAITS):
                self.deps.ledger.update_step(self.run_id, record["name"], {"rollback_waits": waits + 1})
                return min(MAX_POLL, POLL * (waits + 1))
            self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self.role)
            self.deps.ledger.update_step(self.run_id, record["name"], {"rollback_cancelled": True})
        return POLL

    def _undo_create(self, record: dict[str, Any], stack: StackInfo | None, point: dict[str, Any]) -> int | None:
        manifest_step = self._stateful(record)
        if stack is None:
            self._restore_ledger(record, point)
            self._mark(record, "DELETED")
            return None
        if manifest_step and stack.status not in FAILED_CREATE:
            self._restore_ledger(record, point)
            self._mark(record, "RETAINED", reason="stateful stage: kept, it may hold data")
            return None
        needed_by = self._retained_dependant(record["name"])
        if needed_by and stack.status not in FAILED_CREATE:
            self._restore_ledger(record, point)
            self._mark(record, "RETAINED", reason=f"kept: retained stage {needed_by} runs on it")
            return None
        if stack.status == "DELETE_FAILED" and record.get("rollback_attempts", 0) >= MAX_ROLLBACK_ATTEMPTS:
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

    def _undo_update(self, record: dict[str, Any], stack: StackInfo | None, point: dict[str, Any]) -> int | None:
        if stack is None:
            self._mark(
                record,
                "FAILED",
                reason="the stack was deleted during the run",
                action="run a redeploy: it creates the stage again",
            )
            return None
        if stack.status == "UPDATE_ROLLBACK_FAILED":
            if record.get("rollback_attempts", 0) >= MAX_ROLLBACK_ATTEMPTS:
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
        if stack.status not in STABLE or record.get("rollback_attempts", 0) >= MAX_ROLLBACK_ATTEMPTS:
            failure = self.deps.stacks.failure(stack.stack_id)
            self._mark(
                record,
                "FAILED",
                reason=failure["reason"] or stack.status,
                resource=failure["resource"],
                action=f"stack {stack.name} is {stack.status}: update it back by hand or run again",
            )
            return None
        key = self.deps.store.save_template(self.run_id, record["name"], point["template"])
        self.deps.stacks.call(
            "update_stack",
            StackName=stack.stack_id,
            TemplateURL=self.deps.store.url_for_key(self.deps.region, key),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(point["parameters"].items())],
            Tags=[{"Key": k, "Value": v} for k, v in sorted(point["tags"].items())],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            **self.role,
        )
        self._count_attempt(record)
        return POLL

    def _undo_migration(self, record: dict[str, Any]) -> int | None:
        """Downgrade the database to the revision it had before this run (or name the snapshot)."""
        result = migration.downgrade(self.deps, record)
        outcome = result.pop("outcome")
        if outcome == "WAIT":
            if int(record.get("rollback_attempts", 0)) >= MAX_MIGRATION_WAITS:
                self._mark(
                    record, "FAILED", **migration.restore_report(self.deps, record, "the downgrade never started")
                )
                return None
            self._count_attempt(record)
            return int(result.get("wait", POLL))
        self._mark(record, outcome, **result)
        return None

    # ------------------------------------------------------------------ helpers
    def _matches(self, stack: StackInfo, point: dict[str, Any]) -> bool:
        current = normalized_sha256(self.deps.stacks.template(stack.stack_id))
        return current == normalized_sha256(point["template"]) and stack.parameters == point["parameters"]

    def _retained_dependant(self, name: str) -> str | None:
        """A stage this run kept that needs `name` (its network, its key ...): then `name` stays
        too. AWS would refuse the delete anyway (a VPC with a database's interfaces in it)."""
        manifest = self._manifest()
        for other, record in sorted(self.deps.ledger.steps(self.run_id).items()):
            step = manifest.steps.get(other)
            if record.get("rolled_back") == "RETAINED" and step is not None and name in step.dependencies():
                return other
        return None

    def _manifest(self) -> Any:
        meta = self.deps.ledger.run(self.run_id) or {}
        return self.deps.store.manifest(meta["version"])

    def _stateful(self, record: dict[str, Any]) -> bool:
        step = self._manifest().steps.get(record["name"])
        return bool(step and step.stateful)

    def _restore_ledger(self, record: dict[str, Any], point: dict[str, Any]) -> None:
        previous = point.get("ledger")
        if previous:
            self.deps.ledger.put_stage(
                record["name"], {k: v for k, v in previous.items() if k not in ("pk", "sk", "stage", "updated_at")}
            )
        elif point["absent"]:
            self.deps.ledger.delete_stage(record["name"])

    def _count_attempt(self, record: dict[str, Any]) -> None:
        attempts = int(record.get("rollback_attempts", 0)) + 1
        self.deps.ledger.update_step(self.run_id, record["name"], {"rollback_attempts": attempts})

    def _discard_change_set(self, record: dict[str, Any]) -> None:
        """A change set made but never executed: delete it, and the empty stack a CREATE one made."""
        stack_name = record.get("stack_name") or self.deps.settings.stack_name(record["name"])
        change_set = record.get("change_set_id") or f"{self.run_id}-{record['name']}"[:128]
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
