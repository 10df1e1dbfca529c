"""Deploying one stage: rollback point, change set, execute, poll — one call at a time.

`start` prepares (and recovers a stack from states that need care); `advance` moves a
step one phase on. Both are idempotent: Step Functions may call either again after a
timeout or a retry, and the ledger's step record says what was already done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache, cached_property
from typing import Any, ClassVar

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed, StageTimedOut
from lambdas.core.messages import StepState
from lambdas.core.phases import STAGE, Phase
from lambdas.data.aws import ClientError
from lambdas.data.ledger import epoch, now_iso
from lambdas.data.records import RollbackPoint, RunRecord, StageRecord, StepUpdate
from lambdas.data.stacks import (
    FAILED_CREATE,
    NO_CHANGES,
    STABLE,
    SUCCESS,
    StackInfo,
    error_code,
    in_progress,
    normalized_sha256,
    region_of_stack,
)
from lambdas.release.manifest import ManifestError, Step, resolve_parameters
from lambdas.stage.latency import LatencyModel, Operation, create_changes, expected_seconds
from lambdas.stage.outputs import outputs_reader

#: Seconds between polls of a change set being created, after the first (which waits the
#: typical creation time).
CHANGE_SET_POLL = 5
#: Seconds between polls of a stack operation: the shortest and the longest.
FIRST_POLL = 10
MAX_POLL = 60
#: A stack operation expected to take E seconds is first looked at around EARLY * E (no
#: single wait longer than MAX_EARLY_WAIT, so a failure is noticed within minutes), then
#: every TAIL * elapsed seconds (within FIRST_POLL..MAX_POLL): a late stack is noticed
#: within a few percent of its time, and an early one costs a few polls.
EARLY = 0.9
MAX_EARLY_WAIT = 300
TAIL = 0.02
#: With CloudFormation's events resuming a waiting step, the least time between two polls.
EVENT_FALLBACK = 120
INSTALLER_TAG = "dataall-installer:stage"
#: The stage parameter that turns the deletion protection of its resources on and off.
PROTECTION = "DeletionProtection"
#: An uninstall waits this long for a stack to be deleted (OpenSearch takes half an hour).
DELETE_TIMEOUT = 7200


@cache
def _latency() -> LatencyModel:
    return LatencyModel.load()


def next_poll(elapsed: float, expected: float | None, previous: int) -> int:
    """Seconds to wait before looking at a stack operation again, `elapsed` seconds after it
    began. With no expectation (deletes, someone else's operation), a back-off from
    FIRST_POLL by half each time, up to MAX_POLL."""
    if expected is None:
        return min(MAX_POLL, max(FIRST_POLL, int(previous * 1.5)))
    target = EARLY * expected
    if elapsed + FIRST_POLL < target:
        return int(min(MAX_EARLY_WAIT, target - elapsed))
    return int(min(MAX_POLL, max(FIRST_POLL, TAIL * elapsed)))


def creation_timeout_minutes(stage_timeout: int) -> int:
    """CloudFormation's creation timeout for a stage (whole minutes, at least the stage's)."""
    return max(1, -(-stage_timeout // 60))


def _parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in sorted(values.items())]


def fallback_wait(poll: int) -> int:
    """The wait of a step whose stack's status-change events are watched (`stack_events`):
    the event resumes it within seconds; the poll is only the fallback (an event lost or
    late), so it comes no sooner than EVENT_FALLBACK. A stack already settled when the step
    parks resumes it at once, so no wait is too long to begin with."""
    return max(poll, EVENT_FALLBACK)


def run_record(deps: Deps, state: StepState) -> RunRecord:
    """The ledger record of the run a step belongs to; a run without one fails the step."""
    meta = deps.ledger.run(state.run)
    if meta is None:
        raise StageFailed(state.step.name, f"run {state.run} has no record in the ledger")
    return meta


class OneCallStep:
    """A step of a run that is done in one call (an action such as `images` or `site`): its
    dependencies, the state it was called with, its run's record, and the state it hands back."""

    #: no phase in which it waits
    ADVANCES: ClassVar[Mapping[Phase, str]] = {}

    def __init__(self, deps: Deps, state: StepState) -> None:
        self.deps = deps
        self.state = state
        self.run_id = state.run
        self.name = state.step.name
        self.meta = run_record(deps, state)

    def _next(self, phase: Phase, result: str) -> StepState:
        return self.state.model_copy(
            update={"phase": phase, "wait": 0, "polls": self.state.polls + 1, "result": result}
        )


class StageDeployment:
    """The deployment of one stage within one run."""

    def __init__(self, deps: Deps, state: StepState) -> None:
        self.deps = deps
        self.state = state
        self.run_id = state.run
        self.name = state.step.name
        self.meta = run_record(deps, state)
        meta = self.meta
        self.version: str = meta.version
        self.stack_name = deps.settings.stack_name(self.name)
        self.record = deps.ledger.step(self.run_id, self.name)
        self.deps = deps.in_region(self._region())

    def _region(self) -> str | None:
        """The stage's region: its stack's, once one exists (a delete needs no release), else the release's."""
        if self.state.step.op == "delete":
            stage = self.deps.ledger.stage(self.name)
            return region_of_stack(self.record.stack_id or (stage.stack_id if stage else None))
        return region_of_stack(self.record.stack_id) or self.spec.region

    @cached_property
    def spec(self) -> Step:
        """The stage as the run's release describes it for the run's options (its variant's
        template, if it has one for them); not needed to delete a stage."""
        return self.deps.store.manifest(self.version).chosen(self.meta.options).steps[self.name]

    # ------------------------------------------------------------------ helpers
    def _next(self, phase: Phase, wait: int = 0, result: str | None = None) -> StepState:
        return self.state.model_copy(
            update={
                "phase": phase,
                "wait": fallback_wait(wait) if STAGE.rule(phase).watched else wait,
                "polls": self.state.polls + 1,
                "waited": self._waited_now(),
                "result": result,
                "resumed": False,
            }
        )

    def _desired(self) -> tuple[str, dict[str, str]]:
        """The release's template (its sha256) and the stage's resolved parameters."""
        body = self._template_body
        params = resolve_parameters(
            self.spec, self.deps.stage_context(self.meta.params), outputs_reader(self.deps, self.name)
        )
        return normalized_sha256(body), params

    def _given_to_cloudformation(self, params: dict[str, str]) -> dict[str, str]:
        """`params` (as recorded: an installation value masked) with the installation's values in."""
        manifest = self.deps.store.manifest(self.version)
        names = set(manifest.value_parameters(self.spec).values())
        values = {name: record.value for name in names if (record := self.deps.ledger.value(name)) is not None}
        try:
            return manifest.given_to_cloudformation(self.spec, params, values)
        except ManifestError as error:
            raise StageFailed(self.name, str(error)) from None

    def _record_stage(self, stack: StackInfo, sha: str, params: dict[str, str]) -> None:
        self.deps.ledger.put_stage(
            StageRecord(
                stage=self.name,
                stack_name=stack.name,
                stack_id=stack.stack_id,
                version=self.version,
                template_sha256=sha,
                parameters=params,
                outputs=stack.outputs,
                status=stack.status,
                stateful=self.spec.stateful,
                run=self.run_id,
            )
        )

    def _deployed(self) -> tuple[str, dict[str, str]]:
        """The template sha256 and parameters this step deployed, as its record keeps them."""
        sha, params = self.record.template_sha256, self.record.parameters
        if sha is None or params is None:
            raise StageFailed(self.name, f"step {self.name} deployed but its record has no template or parameters")
        return sha, params

    def _check_timeout(self) -> None:
        """A stage past its timeout fails. Elapsed is the longer of the wall clock and the time
        the step spent in Wait states (state-machine time, which is what a sandbox scales)."""
        started = self.record.started_epoch or epoch()
        timeout = DELETE_TIMEOUT if self.state.step.op == "delete" else self.spec.timeout
        if max(epoch() - started, self._waited_now()) > timeout:
            raise StageTimedOut(
                self.name,
                f"stage {self.name} did not finish within its timeout of {timeout} s",
                stack=self.stack_name,
            )

    # ------------------------------------------------------------------ entry points
    def start(self) -> StepState:
        with self.deps.ledger.acting(self.run_id, self.name):
            return self._start()

    def advance(self) -> StepState:
        with self.deps.ledger.acting(self.run_id, self.name):
            return self._advance()

    # ------------------------------------------------------------------ start
    def _start(self) -> StepState:
        if self.state.step.op == "delete":
            return self._start_delete()
        if self.record.executed:
            return self._next(Phase.EXECUTING, FIRST_POLL)  # a retried call: the change set already runs
        stack = self.deps.stacks.describe(self.stack_name)
        if stack is not None:
            wait = self._recover(stack)
            if wait is not None:
                return self._next(Phase.BUSY, wait)
        sha, params = self._desired()
        if stack is not None and stack.status in STABLE:
            current_sha = normalized_sha256(self.deps.stacks.template(stack.stack_id))
            current_params = {k: stack.parameters.get(k) for k in params}
            if current_sha == sha and current_params == params and not self._extra_parameters(stack, params):
                self._record_stage(stack, sha, params)
                self.deps.ledger.update_step(self.run_id, self.name, StepUpdate(result="UNCHANGED", finished=now_iso()))
                return self._next(Phase.DONE, result="UNCHANGED")
        change_type = "UPDATE" if stack is not None and stack.status in STABLE else "CREATE"
        self._save_rollback_point(stack if change_type == "UPDATE" else None)
        if change_type == "CREATE":
            return self._start_create(sha, params)
        change_set_id = self.deps.stacks.create_change_set(
            StackName=self.stack_name,
            ChangeSetName=f"{self.run_id}-{self.name}"[:128],
            ChangeSetType=change_type,
            TemplateURL=self._template_url(),
            Parameters=_parameters(self._given_to_cloudformation(params)),
            Capabilities=list(self.spec.capabilities),
            Tags=[{"Key": INSTALLER_TAG, "Value": self.name}],
            Description=f"dataall-installer {self.meta.action} {self.version} ({self.run_id})",
            ClientToken=f"{self.run_id}-{self.name}"[:128],
            **self._role(),
        )
        self.deps.ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(
                change_type=change_type,
                change_set_id=change_set_id,
                template_sha256=sha,
                parameters=params,
                stack_name=self.stack_name,
                phase="changeset",
            ),
        )
        return self._next(Phase.CHANGESET, max(CHANGE_SET_POLL, int(_latency().change_set_create())))

    def _template_url(self) -> str:
        return self.deps.store.template_url(self.deps.region, self.version, self.spec.template or "")

    def _start_create(self, sha: str, params: dict[str, str]) -> StepState:
        """A new stage: CreateStack, with CloudFormation's own creation timeout.

        No change set: every change of a create is an addition. The timeout is the point:
        a create that never finishes is failed and rolled back by CloudFormation, and a
        create's rollback deletes even the resources a deletion keeps (RetainExceptOnCreate),
        so nothing is left to block the next create with its name. (DeleteStack during the
        create would keep them.)
        """
        # A stack is created unprotected and protected once it exists: CloudFormation cannot
        # roll back a failed create through a deletion-protected resource, and the stage
        # would be stuck in ROLLBACK_FAILED with a new, empty database no one can delete.
        protect_after = params.get(PROTECTION) == "true"
        update = StepUpdate(
            change_type="CREATE",
            protect_after=protect_after,
            given={**params, PROTECTION: "false"} if protect_after else params,
            template_sha256=sha,
            parameters=params,
            stack_name=self.stack_name,
            # Recorded before the call: if this Lambda dies right after it, the rollback
            # still knows the stage may exist, and checks it.
            executed=True,
            executed_at=now_iso(),
            phase="executing",
        )
        self.deps.ledger.update_step(self.run_id, self.name, update)
        self.record = self.record.merged(update)
        return self._create_stack()

    def _create_stack(self) -> StepState:
        """Issue the stage's CreateStack (again, after a retried call: the token makes it one)."""
        given = self.record.given
        if given is None:
            raise StageFailed(self.name, f"step {self.name} creates its stack but its record has no given parameters")
        token = f"{self.run_id}-{self.name}"[:128]
        try:
            stack_id = self.deps.stacks.call(
                "create_stack",
                StackName=self.stack_name,
                TemplateURL=self._template_url(),
                Parameters=_parameters(self._given_to_cloudformation(given)),
                Capabilities=list(self.spec.capabilities),
                Tags=[{"Key": INSTALLER_TAG, "Value": self.name}],
                TimeoutInMinutes=creation_timeout_minutes(self.spec.timeout),
                OnFailure="ROLLBACK",
                ClientRequestToken=token,
                **self._role(),
            )["StackId"]
        except ClientError as error:
            existing = self.deps.stacks.describe(self.stack_name)
            if error_code(error) != "AlreadyExistsException" or existing is None:
                raise
            stack_id = existing.stack_id  # the first attempt of a retried call created it
        expected = self._expected("create")
        self.deps.ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(stack_id=stack_id, expected_seconds=expected, executed_waited=self._waited_now()),
        )
        self.record.stack_id = stack_id
        return self._next(Phase.EXECUTING, next_poll(0, expected, 0))

    def _start_delete(self) -> StepState:
        """Delete the stage's stack (stateful resources keep their Retain/Snapshot): an uninstall's
        stage, or one the run does not want: its condition off with the run's options, or absent
        from the run's release (then its rollback point is kept first: the run's rollback creates
        it again)."""
        if self.record.executed:
            return self._next(Phase.EXECUTING, FIRST_POLL)
        stack = self.deps.stacks.describe(self.stack_name)
        if stack is None:
            self.deps.ledger.delete_stage(self.name)
            self.deps.ledger.update_step(self.run_id, self.name, StepUpdate(result="DELETED", finished=now_iso()))
            return self._next(Phase.DONE, result="DELETED")
        if in_progress(stack.status):
            return self._next(Phase.BUSY, FIRST_POLL)
        if self.meta.action != "uninstall" and self.record.rollback_key is None:
            self._save_rollback_point(stack)
        if stack.parameters.get("DeletionProtection") == "true":
            self._unprotect(stack)
            return self._next(Phase.BUSY, FIRST_POLL)
        if stack.termination_protection:
            self.deps.stacks.call(
                "update_termination_protection", StackName=stack.stack_id, EnableTerminationProtection=False
            )
        self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self._role())
        self.deps.ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(
                op="delete",
                executed=True,
                executed_at=now_iso(),
                started=now_iso(),
                started_epoch=epoch(),
                stack_id=stack.stack_id,
                stack_name=stack.name,
                phase="executing",
            ),
        )
        return self._next(Phase.EXECUTING, FIRST_POLL)

    def _delete_keeping(self, stack: StackInfo, protected: list[str]) -> StepState:
        """An uninstall keeps what its owner protected against deletion: DeleteStack again with those
        resources in RetainResources (CloudFormation allows it on a DELETE_FAILED stack), so the stack
        goes and the database (or table, or user pool) stays, as DeletionPolicy Retain keeps data."""
        self.deps.stacks.call("delete_stack", StackName=stack.stack_id, RetainResources=protected, **self._role())
        kept = ", ".join(protected)
        self.deps.ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(recovered=f"kept {kept}: deletion protection is on, the resource and its data stay"),
        )
        return self._next(Phase.EXECUTING, FIRST_POLL)

    def _unprotect(self, stack: StackInfo) -> None:
        """Turn the stage's deletion protection off (same template), so the stack can be deleted."""
        self._set_protection(stack, on=False)
        self.deps.ledger.update_step(self.run_id, self.name, StepUpdate(unprotected=now_iso()))

    def _set_protection(self, stack: StackInfo, *, on: bool) -> None:
        """A stack update that changes only the stage's DeletionProtection parameter."""
        parameters = [{"ParameterKey": key, "UsePreviousValue": True} for key in stack.parameters if key != PROTECTION]
        self.deps.stacks.call(
            "update_stack",
            StackName=stack.stack_id,
            UsePreviousTemplate=True,
            Parameters=[*parameters, {"ParameterKey": PROTECTION, "ParameterValue": "true" if on else "false"}],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            **self._role(),
        )

    @staticmethod
    def _extra_parameters(stack: StackInfo, params: dict[str, str]) -> bool:
        return bool(set(stack.parameters) - set(params))

    def _recover(self, stack: StackInfo) -> int | None:
        """Bring a stack in a state that needs care back to one we can deploy on.

        Returns seconds to wait before starting again, or None when the stack is ready.
        """
        status = stack.status
        if status in STABLE:
            return None
        if status == "REVIEW_IN_PROGRESS":  # a CREATE change set never executed holds the name, nothing else
            self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self._role())
            self.deps.ledger.update_step(self.run_id, self.name, StepUpdate(recovered=f"deleted {status} stack"))
            return FIRST_POLL
        if in_progress(status):  # someone else's operation: wait for it, never collide
            return FIRST_POLL
        if status in FAILED_CREATE:  # a failed create blocks the stage: delete it, create again
            self.deps.stacks.call("delete_stack", StackName=stack.stack_id, **self._role())
            self.deps.ledger.update_step(self.run_id, self.name, StepUpdate(recovered=f"deleted {status} stack"))
            return FIRST_POLL
        if status == "UPDATE_ROLLBACK_FAILED":
            self.deps.stacks.call("continue_update_rollback", StackName=stack.stack_id, **self._role())
            self.deps.ledger.update_step(
                self.run_id, self.name, StepUpdate(recovered="continued UPDATE_ROLLBACK_FAILED rollback")
            )
            return FIRST_POLL
        raise StageFailed(
            self.name,
            f"stack {stack.name} is {status}: {stack.reason}".strip(": "),
            stack=stack.name,
            action="inspect the stack in the CloudFormation console and delete it, then run again",
        )

    def _role(self) -> dict[str, str]:
        role = self.deps.settings.cloudformation_role_arn
        return {"RoleARN": role} if role else {}

    def _save_rollback_point(self, stack: StackInfo | None) -> None:
        previous = self.deps.ledger.stage(self.name)
        if stack is None:
            point = RollbackPoint(absent=True, ledger=previous)
        else:
            point = RollbackPoint(
                absent=False,
                stack_id=stack.stack_id,
                status=stack.status,
                template=self.deps.stacks.template(stack.stack_id),
                parameters=stack.parameters,
                tags=stack.tags,
                ledger=previous,
            )
        key = self.deps.store.save_rollback_point(self.run_id, self.name, point)
        self.deps.ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(rollback_key=key, started=now_iso(), started_epoch=epoch(), existed=stack is not None),
        )
        self.record.started_epoch = epoch()

    # ------------------------------------------------------------------ advance
    def _advance(self) -> StepState:
        advance = self.ADVANCES.get(self.state.phase)
        if advance is None:
            raise StageFailed(self.name, f"a stage does not wait in phase {self.state.phase}")
        return advance(self)

    def _poll_busy(self) -> StepState:
        stack = self.deps.stacks.describe(self.stack_name)
        if stack is not None and in_progress(stack.status):
            return self._next(Phase.BUSY, min(MAX_POLL, max(FIRST_POLL, self.state.wait * 2)))
        return self._next(Phase.START)

    def _poll_change_set(self) -> StepState:
        change_set_id = self.record.change_set_id
        if change_set_id is None:
            raise StageFailed(self.name, f"step {self.name} polls a change set but its record names none")
        change_set = self.deps.stacks.describe_change_set(change_set_id)
        status = change_set["Status"]
        if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return self._next(Phase.CHANGESET, CHANGE_SET_POLL)
        if status == "FAILED":
            reason = change_set.get("StatusReason", "")
            if NO_CHANGES in reason:
                return self._no_changes(change_set_id)
            raise StageFailed(self.name, f"change set failed: {reason}", stack=self.stack_name)
        # Recorded before the call: if this Lambda dies right after it, the rollback still
        # knows the stage may have changed, and checks it.
        self.deps.ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(executed=True, executed_at=now_iso(), stack_id=change_set["StackId"], phase="executing"),
        )
        self.deps.stacks.call(
            "execute_change_set",
            ChangeSetName=change_set_id,
            ClientRequestToken=f"{self.run_id}-{self.name}"[:128],
        )
        expected = self._expected("update", self._change_set_changes(change_set))
        self.deps.ledger.update_step(
            self.run_id, self.name, StepUpdate(expected_seconds=expected, executed_waited=self._waited_now())
        )
        return self._next(Phase.EXECUTING, next_poll(0, expected, 0))

    def _waited_now(self) -> int:
        """State-machine time this step has spent waiting, up to this call. A wait that the
        stack's event ended early counts nothing (its length is unknown here): the stage's
        timeout then rests on the wall clock, which in AWS is the same time."""
        return self.state.waited + (0 if self.state.resumed else self.state.wait)

    def _change_set_changes(self, change_set: dict[str, Any]) -> list[dict[str, Any]]:
        """Every change of a change set (DescribeChangeSet pages them)."""
        changes = list(change_set.get("Changes") or [])
        token = change_set.get("NextToken")
        while token:
            page = self.deps.stacks.call(
                "describe_change_set", ChangeSetName=change_set["ChangeSetId"], NextToken=token
            )
            changes.extend(page.get("Changes") or [])
            token = page.get("NextToken")
        return changes

    @cached_property
    def _template_body(self) -> str:
        """The release's template of this stage, read once per call."""
        assert self.spec.template is not None
        return self.deps.store.template_body(self.version, self.spec.template)

    def _template_document(self) -> dict[str, Any] | None:
        try:
            document = json.loads(self._template_body)
        except (ValueError, ClientError):
            return None
        return document if isinstance(document, dict) else None

    def _expected(self, operation: Operation, changes: list[dict[str, Any]] | None = None) -> int | None:
        """Typical seconds the stack operation takes (None: no estimate). A create's changes
        are the template's resources whose conditions hold."""
        template = self._template_document()
        if template is None:
            return None
        if changes is None:
            changes = create_changes(template, self.record.given or {})
        return round(expected_seconds(_latency(), template, changes, operation))

    def _no_changes(self, change_set_id: str) -> StepState:
        try:
            self.deps.stacks.call("delete_change_set", ChangeSetName=change_set_id)
        except ClientError as error:
            if error_code(error) != "ChangeSetNotFound":
                raise
        stack = self.deps.stacks.describe(self.stack_name)
        assert stack is not None
        self._record_stage(stack, *self._deployed())
        self.deps.ledger.update_step(
            self.run_id, self.name, StepUpdate(result="NO_CHANGES", finished=now_iso(), phase="done")
        )
        return self._next(Phase.DONE, result="NO_CHANGES")

    def _poll_stack(self) -> StepState:
        stack = self.deps.stacks.describe(self.record.stack_id or self.stack_name)
        deleting = self.state.step.op == "delete"
        if stack is None and deleting:
            self.deps.ledger.delete_stage(self.name)
            self.deps.ledger.update_step(
                self.run_id, self.name, StepUpdate(result="DELETED", finished=now_iso(), phase="done")
            )
            return self._next(Phase.DONE, result="DELETED")
        if stack is None and self.record.change_type == "CREATE" and not self.record.stack_id:
            return self._create_stack()  # the call that was to create it died before it could
        if stack is None:
            raise StageFailed(self.name, f"stack {self.stack_name} disappeared while it was deployed")
        if in_progress(stack.status):
            self._check_timeout()
            expected = self.record.expected_seconds
            elapsed = self._waited_now() - (self.record.executed_waited or 0)
            return self._next(
                Phase.EXECUTING, next_poll(elapsed, float(expected) if expected is not None else None, self.state.wait)
            )
        if deleting and stack.status == "DELETE_FAILED":
            protected = self.deps.stacks.deletion_protected(stack.stack_id)
            if protected:
                return self._delete_keeping(stack, protected)
        if stack.status in SUCCESS and not deleting:
            if self.record.protect_after and stack.parameters.get(PROTECTION) != "true":
                self._set_protection(stack, on=True)
                self.deps.ledger.update_step(
                    self.run_id,
                    self.name,
                    StepUpdate(protected=now_iso(), expected_seconds=None, executed_waited=self._waited_now()),
                )
                return self._next(Phase.EXECUTING, FIRST_POLL)
            if self.spec.stateful and not stack.termination_protection:
                self.deps.stacks.call(
                    "update_termination_protection",
                    StackName=stack.stack_id,
                    EnableTerminationProtection=True,
                )
            self._record_stage(stack, *self._deployed())
            result = "CREATED" if self.record.change_type == "CREATE" else "UPDATED"
            self.deps.ledger.update_step(
                self.run_id,
                self.name,
                StepUpdate(result=result, finished=now_iso(), phase="done", status=stack.status),
            )
            return self._next(Phase.DONE, result=result)
        failure = self.deps.stacks.failure(stack.stack_id)
        self.deps.ledger.update_step(
            self.run_id, self.name, StepUpdate(result="FAILED", status=stack.status, failure=failure)
        )
        raise StageFailed(
            self.name,
            failure["reason"],
            resource=failure["resource"],
            resource_type=failure["resource_type"],
            status=stack.status,
            stack=stack.name,
        )

    #: What StageStatus does after the wait of each phase in which a stage waits (`STAGE.waiting`).
    ADVANCES: ClassVar[Mapping[Phase, Callable[[StageDeployment], StepState]]] = {
        Phase.CHANGESET: _poll_change_set,
        Phase.EXECUTING: _poll_stack,
        Phase.BUSY: _poll_busy,
    }
