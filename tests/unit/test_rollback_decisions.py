"""The rollback's decisions: for each state the stage's stack can be in, and each thing the run
did to the stage, the one undo a rollback call makes (or the wait, or the mark it leaves).

The run's records are written the way the workflow's steps write them, through the ledger's
and the release store's own writers (moto's DynamoDB and S3); CloudFormation is a stand-in
that holds the stack in any state, most of which moto cannot reach, and records the calls
the rollback makes instead of carrying them out: each case looks at one decision. The last
test runs a whole rollback on moto's own CloudFormation, for the states moto reaches.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdas.core.deps import Deps
from lambdas.core.messages import RollbackState
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger, epoch, now_iso
from lambdas.data.records import RollbackPoint, RunRecord, StageRecord, StepRecord, StepUpdate, ValueRecord
from lambdas.data.releases import ReleaseStore
from lambdas.data.stacks import Stacks, normalized_sha256
from lambdas.migration.step import IN_PROGRESS_POLL, MigrationClients
from lambdas.release.manifest import NO_ECHO_MASK
from lambdas.rollback.recovery import (
    MAX_CREATE_WAITS,
    MAX_MIGRATION_WAITS,
    MAX_POLL,
    MAX_ROLLBACK_ATTEMPTS,
    POLL,
    SETTLE_POLL,
    Rollback,
)
from tests.database.installer import LocalLambda
from tests.unit.conftest import REGION, ledger_table, moto_aws
from tests.unit.releases import platform, small_release, stage

ACCOUNT = "123456789012"
ARTIFACTS = "dataall-test-artifacts"
RUN = "upgrade-2-9-0-abc123"
VERSION = "2.9.0"
#: What a stage ran before the run, and what the run deployed (valid for moto's CloudFormation too).
SIZE = {"Size": {"Type": "String"}}
QUEUE = {"Type": "AWS::SQS::Queue"}
OLD = json.dumps({"Parameters": SIZE, "Resources": {"Queue": QUEUE}})
NEW = json.dumps({"Parameters": SIZE, "Resources": {"Queue": QUEUE, "Topic": {"Type": "AWS::SNS::Topic"}}})
OLD_PARAMETERS = {"Size": "small"}
NEW_PARAMETERS = {"Size": "large"}
TAGS = {"dataall-installer:stage": "params"}
BLOCKED = "The bucket you tried to delete is not empty"


def stack_name(stage: str) -> str:
    return f"dataall-test-{stage}"


def stack_id(stage: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name(stage)}/0f1e2d3c"


# ---------------------------------------------------------------------- CloudFormation
@dataclass
class FakeStack:
    stage: str
    status: str
    template: str = NEW
    parameters: dict[str, str] = field(default_factory=lambda: dict(NEW_PARAMETERS))
    termination_protection: bool = False
    timeout_in_minutes: int | None = None
    reason: str = ""

    def described(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "StackName": stack_name(self.stage),
            "StackId": stack_id(self.stage),
            "StackStatus": self.status,
            "StackStatusReason": self.reason,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()],
            "EnableTerminationProtection": self.termination_protection,
        }
        if self.timeout_in_minutes is not None:
            found["TimeoutInMinutes"] = self.timeout_in_minutes
        return found

    def events(self) -> list[dict[str, Any]]:
        """Newest first: the latest operation, started by a user; a bucket that blocked it."""
        name = stack_name(self.stage)
        operation = {"StackName": name, "LogicalResourceId": name, "ResourceType": "AWS::CloudFormation::Stack"}
        events = [{**operation, "ResourceStatus": self.status, "ResourceStatusReason": self.reason}]
        if self.status.endswith("_FAILED"):
            events.append(
                {
                    "StackName": name,
                    "LogicalResourceId": "Bucket",
                    "ResourceType": "AWS::S3::Bucket",
                    "ResourceStatus": self.status,
                    "ResourceStatusReason": BLOCKED,
                }
            )
        events.append({**operation, "ResourceStatus": "DELETE_IN_PROGRESS", "ResourceStatusReason": "User Initiated"})
        return events


class FakeCloudFormation:
    """CloudFormation's reads answered from the stacks a test puts in it; every change the
    rollback asks for is recorded, not carried out. A call it does not know fails the test."""

    CHANGES = frozenset(
        {
            "delete_stack",
            "update_stack",
            "cancel_update_stack",
            "continue_update_rollback",
            "update_termination_protection",
            "delete_change_set",
            "create_stack",
        }
    )

    def __init__(self, *stacks: FakeStack) -> None:
        self.stacks = {stack_name(s.stage): s for s in stacks}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _stack(self, name_or_id: str) -> FakeStack:
        for name, stack in self.stacks.items():
            if name_or_id in (name, stack_id(stack.stage)):
                return stack
        raise ClientError(
            {"Error": {"Code": "ValidationError", "Message": f"Stack with id {name_or_id} does not exist"}},
            "DescribeStacks",
        )

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        return {"Stacks": [self._stack(StackName).described()]}

    def get_template(self, StackName: str, TemplateStage: str) -> dict[str, Any]:
        return {"TemplateBody": self._stack(StackName).template}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": self._stack(StackName).events()}

    def __getattr__(self, operation: str) -> Any:
        if operation not in self.CHANGES:
            raise AttributeError(operation)

        def change(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((operation, kwargs))
            return {}

        return change

    def called(self) -> tuple[str, ...]:
        return tuple(operation for operation, _ in self.calls)


# ---------------------------------------------------------------------- the run's records
class Workflow:
    """Writes a run's records as the workflow's steps do (plan, deploy_stage, migrate), through
    the ledger's and the release store's own writers. `at` orders the steps' executions."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.ledger = deps.ledger
        #: the stacks' ids, where CloudFormation gave them (else made up from the name)
        self.ids: dict[str, str] = {}
        self.ledger.put_run(RunRecord(run=RUN, action="upgrade", version=VERSION, status="RUNNING", started=now_iso()))

    def id(self, stage: str) -> str:
        return self.ids.get(stage) or stack_id(stage)

    def deployed_before(self, stage: str) -> StageRecord:
        """The stage as the previous run left it in the ledger."""
        record = StageRecord(
            stage=stage,
            stack_name=stack_name(stage),
            stack_id=self.id(stage),
            version="2.8.0",
            template_sha256=normalized_sha256(OLD),
            parameters=OLD_PARAMETERS,
            outputs={},
            status="UPDATE_COMPLETE",
            stateful=False,
            run="install-2-8-0-before",
        )
        self.ledger.put_stage(record)
        return record

    def _existing_point(self, stage: str, parameters: dict[str, str] | None = None) -> RollbackPoint:
        """The rollback point of a stage the previous run left deployed (`deployed_before`)."""
        return RollbackPoint(
            absent=False,
            stack_id=self.id(stage),
            status="UPDATE_COMPLETE",
            template=OLD,
            parameters=OLD_PARAMETERS if parameters is None else parameters,
            tags=TAGS,
            ledger=self.deployed_before(stage),
        )

    def _rollback_point(self, stage: str, point: RollbackPoint) -> None:
        key = self.deps.store.save_rollback_point(RUN, stage, point)
        update = StepUpdate(rollback_key=key, started=now_iso(), started_epoch=epoch(), existed=not point.absent)
        self.ledger.update_step(RUN, stage, update)

    def created(self, stage: str, at: int = 1) -> None:
        """A new stage: its rollback point says absent, then CreateStack."""
        self._rollback_point(stage, RollbackPoint(absent=True, ledger=self.ledger.stage(stage)))
        self.ledger.update_step(
            RUN,
            stage,
            StepUpdate(
                change_type="CREATE",
                protect_after=False,
                given=NEW_PARAMETERS,
                template_sha256=normalized_sha256(NEW),
                parameters=NEW_PARAMETERS,
                stack_name=stack_name(stage),
                executed=True,
                executed_at=_at(at),
                phase="executing",
            ),
        )
        self.ledger.update_step(RUN, stage, StepUpdate(stack_id=self.id(stage), expected_seconds=60))

    def prepared(self, stage: str, change_type: str = "UPDATE") -> None:
        """An existing stage: its rollback point, then a change set (not executed yet)."""
        if change_type == "CREATE":
            self._rollback_point(stage, RollbackPoint(absent=True))
        else:
            self._rollback_point(stage, self._existing_point(stage))
        self.ledger.update_step(
            RUN,
            stage,
            StepUpdate(
                change_type=change_type,
                change_set_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/{RUN}-{stage}/1",
                template_sha256=normalized_sha256(NEW),
                parameters=NEW_PARAMETERS,
                stack_name=stack_name(stage),
                phase="changeset",
            ),
        )

    def updated(self, stage: str, at: int = 1) -> None:
        """An existing stage: its rollback point, a change set, executed."""
        self.prepared(stage)
        self.ledger.update_step(
            RUN, stage, StepUpdate(executed=True, executed_at=_at(at), stack_id=self.id(stage), phase="executing")
        )

    def unchanged(self, stage: str) -> None:
        self.deployed_before(stage)
        self.ledger.update_step(RUN, stage, StepUpdate(result="UNCHANGED", finished=now_iso()))

    def uninstalled(self, stage: str, at: int = 1) -> None:
        """The uninstall's DeleteStack."""
        self.ledger.update_step(
            RUN,
            stage,
            StepUpdate(
                op="delete",
                executed=True,
                executed_at=_at(at),
                started=now_iso(),
                started_epoch=epoch(),
                stack_id=self.id(stage),
                stack_name=stack_name(stage),
                phase="executing",
            ),
        )

    def retired(self, stage: str, at: int = 1, parameters: dict[str, str] | None = None) -> None:
        """A stage whose condition the run's options turned off: its rollback point, then DeleteStack
        (the stack gone, its ledger record with it)."""
        self._rollback_point(stage, self._existing_point(stage, parameters))
        self.ledger.update_step(
            RUN,
            stage,
            StepUpdate(
                op="delete",
                executed=True,
                executed_at=_at(at),
                stack_id=self.id(stage),
                stack_name=stack_name(stage),
                phase="executing",
            ),
        )
        self.ledger.delete_stage(stage)

    def migrated(self, stage: str = "migrate", at: int = 1) -> None:
        """The migrate action: snapshot taken, the function called with the upgrade."""
        self.ledger.update_step(RUN, stage, StepUpdate(kind="migrate", started=now_iso(), started_epoch=epoch()))
        self.ledger.update_step(
            RUN,
            stage,
            StepUpdate(
                migration_function="dataall-test-migrations",
                cluster_identifier="dataall-test-aurora",
                previous_revision="0006",
                head="0007",
                snapshot_id=f"dataall-test-{RUN}",
            ),
        )
        self.ledger.update_step(RUN, stage, StepUpdate(executed=True, executed_at=_at(at)))

    def attempted(self, stage: str, attempts: int = 0, waits: int = 0) -> None:
        """What earlier rollback calls counted on this step."""
        if attempts:
            self.ledger.update_step(RUN, stage, StepUpdate(rollback_attempts=attempts))
        if waits:
            self.ledger.update_step(RUN, stage, StepUpdate(rollback_waits=waits))


def _at(order: int) -> str:
    return f"2026-12-04T10:00:{order:02d}.000Z"


# ---------------------------------------------------------------------- fixtures
@dataclass(frozen=True)
class Moto:
    s3: Any
    dynamodb: Any
    rds: Any


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    """One moto for the module, with the release published: each test gets its own ledger
    table, and writes every rollback point it reads (making the clients costs the most)."""
    with moto_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        platform(VERSION).publish(s3, ARTIFACTS)
        yield Moto(s3, boto3.resource("dynamodb", region_name=REGION), boto3.client("rds", region_name=REGION))


@pytest.fixture
def deps(moto: Moto) -> Deps:
    table = f"dataall-test-ledger-{uuid.uuid4().hex[:12]}"
    return Deps(
        settings=Settings(ledger_table=table, artifacts_bucket=ARTIFACTS, resource_prefix="dataall", env_name="test"),
        ledger=Ledger(ledger_table(table, moto.dynamodb)),
        store=ReleaseStore(moto.s3, ARTIFACTS),
        stacks=Stacks(FakeCloudFormation()),
        sfn=None,
        sns=None,
        region=REGION,
        account_id=ACCOUNT,
    )


def with_stacks(deps: Deps, *stacks: FakeStack) -> FakeCloudFormation:
    cloudformation = FakeCloudFormation(*stacks)
    deps.stacks = Stacks(cloudformation)
    return cloudformation


def rollback_once(deps: Deps) -> RollbackState:
    return Rollback(deps, RollbackState(run=RUN, error={"Error": "StageFailed"})).step()


# ---------------------------------------------------------------------- the decisions
@dataclass(frozen=True)
class Decision:
    """What one rollback call does with a stage."""

    calls: tuple[str, ...] = ()  #: CloudFormation changes asked for, in order
    mark: str | None = None  #: the step's `rolled_back` (None: not settled, called again)
    wait: int = 0  #: seconds before the next call (0: the rollback is done)
    says: str = ""  #: in the mark's reason or action: what is left for a person


@dataclass(frozen=True)
class Case:
    record: str  #: what the run did: created, created stateful, updated ...
    stack: str | None  #: the stack's status (None: there is no stack)
    decision: Decision
    attempts: int = 0  #: undo attempts earlier calls made
    waits: int = 0  #: waits earlier calls made on a stack being created
    template: str = NEW  #: the template the stack runs (an update's rollback point is OLD)
    protected: bool = False  #: termination protection
    timeout: int | None = None  #: the stack's creation timeout (minutes)

    @property
    def id(self) -> str:
        extras = [
            f"{self.attempts} attempts" if self.attempts else "",
            f"{self.waits} waits" if self.waits else "",
            "back at its rollback point" if self.template == OLD else "",
            "termination-protected" if self.protected else "",
            f"creation timeout {self.timeout} min" if self.timeout else "",
        ]
        return " / ".join([self.record, self.stack or "no stack", *filter(None, extras)])


def marked(mark: str, says: str = "") -> Decision:
    return Decision(mark=mark, says=says)


DELETE = Decision(("delete_stack",), wait=POLL)
UNPROTECT_AND_DELETE = Decision(("update_termination_protection", "delete_stack"), wait=POLL)
CANCEL = Decision(("cancel_update_stack",), wait=POLL)
UPDATE_BACK = Decision(("update_stack",), wait=POLL)
CONTINUE_ROLLBACK = Decision(("continue_update_rollback",), wait=POLL)
WAIT = Decision(wait=POLL)
NOTHING = Decision()
DISCARD = Decision(("delete_change_set",), mark="DISCARDED")
DISCARD_WITH_EMPTY_STACK = Decision(("delete_change_set", "delete_stack"), mark="DISCARDED")
MAX = MAX_ROLLBACK_ATTEMPTS
TABLE = [
    # A stack the run created is deleted (a failed create too: it holds nothing).
    Case("created", None, marked("DELETED")),
    Case("created", "DELETE_COMPLETE", marked("DELETED")),
    Case("created", "CREATE_COMPLETE", DELETE),
    Case("created", "CREATE_COMPLETE", UNPROTECT_AND_DELETE, protected=True),
    Case("created", "ROLLBACK_COMPLETE", DELETE),
    Case("created", "ROLLBACK_FAILED", DELETE),
    Case("created", "UPDATE_ROLLBACK_COMPLETE", DELETE),  # its protection update failed
    Case("created", "UPDATE_ROLLBACK_FAILED", DELETE),
    Case("created", "DELETE_FAILED", DELETE, attempts=1),
    Case("created", "DELETE_FAILED", marked("FAILED", "delete stack dataall-test-params by hand"), attempts=MAX),
    # ... once CloudFormation is done with it: a create ends by itself (its timeout), an
    # update is cancelled, anything else is waited for.
    Case("created", "CREATE_IN_PROGRESS", WAIT, timeout=10),
    Case("created", "CREATE_IN_PROGRESS", DELETE),
    Case("created", "ROLLBACK_IN_PROGRESS", WAIT),
    Case("created", "DELETE_IN_PROGRESS", WAIT),
    Case("created", "UPDATE_IN_PROGRESS", CANCEL),
    # A stateful stage the run created is kept: data may live there, unless its create failed.
    Case("created stateful", None, marked("DELETED")),
    Case("created stateful", "CREATE_COMPLETE", marked("RETAINED", "stateful stage")),
    Case("created stateful", "UPDATE_COMPLETE", marked("RETAINED", "stateful stage")),
    Case("created stateful", "UPDATE_ROLLBACK_FAILED", marked("RETAINED", "stateful stage")),
    Case("created stateful", "ROLLBACK_COMPLETE", DELETE),
    Case("created stateful", "CREATE_IN_PROGRESS", Decision(wait=MAX_POLL), waits=MAX_CREATE_WAITS - 1),
    Case("created stateful", "CREATE_IN_PROGRESS", DELETE, waits=MAX_CREATE_WAITS),
    # A stack the run updated goes back to its rollback point.
    Case("updated", "UPDATE_COMPLETE", UPDATE_BACK),
    Case("updated", "UPDATE_COMPLETE", marked("RESTORED"), template=OLD),
    Case("updated", "UPDATE_ROLLBACK_COMPLETE", marked("RESTORED"), template=OLD),
    Case("updated", "UPDATE_ROLLBACK_FAILED", CONTINUE_ROLLBACK, attempts=1),
    Case("updated", "UPDATE_ROLLBACK_FAILED", marked("FAILED", "continue the rollback"), attempts=MAX),
    Case("updated", "UPDATE_COMPLETE", marked("FAILED", "update it back by hand"), attempts=MAX),
    Case("updated", "DELETE_FAILED", marked("FAILED", "stack dataall-test-params is DELETE_FAILED")),
    Case("updated", None, marked("FAILED", "run a redeploy")),
    Case("updated", "UPDATE_IN_PROGRESS", CANCEL),
    Case("updated", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", WAIT),
    Case("updated", "UPDATE_ROLLBACK_IN_PROGRESS", WAIT),
    Case("updated", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", WAIT),
    # What the run did not change is left alone; what it prepared and never ran is discarded.
    Case("unchanged", "UPDATE_COMPLETE", NOTHING, template=OLD),
    Case("change set not executed", "UPDATE_COMPLETE", DISCARD, template=OLD),
    Case("create change set not executed", "REVIEW_IN_PROGRESS", DISCARD_WITH_EMPTY_STACK),
    # What cannot be undone says so.
    Case("deleted by the uninstall", None, marked("IRREVERSIBLE", "run an install")),
]


def given(deps: Deps, case: Case) -> tuple[FakeCloudFormation, str]:
    """The run's records for the case, and the stack; the name of the case's step."""
    workflow = Workflow(deps)
    stage = "aurora" if case.record == "created stateful" else "params"
    record = {
        "created": workflow.created,
        "created stateful": workflow.created,
        "updated": workflow.updated,
        "unchanged": workflow.unchanged,
        "change set not executed": workflow.prepared,
        "create change set not executed": lambda name: workflow.prepared(name, "CREATE"),
        "deleted by the uninstall": workflow.uninstalled,
    }[case.record]
    record(stage)
    workflow.attempted(stage, case.attempts, case.waits)
    stacks = []
    if case.stack is not None:
        stacks.append(
            FakeStack(
                stage,
                case.stack,
                template=case.template,
                parameters=dict(OLD_PARAMETERS if case.template == OLD else NEW_PARAMETERS),
                termination_protection=case.protected,
                timeout_in_minutes=case.timeout,
                reason=BLOCKED if case.stack.endswith("_FAILED") else "",
            )
        )
    return with_stacks(deps, *stacks), stage


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in TABLE])
def test_one_rollback_call_makes_the_undo_the_stack_state_and_the_step_record_call_for(deps: Deps, case: Case) -> None:
    cloudformation, stage = given(deps, case)

    state = rollback_once(deps)

    step = deps.ledger.step(RUN, stage)
    assert cloudformation.called() == case.decision.calls
    assert step.rolled_back == case.decision.mark
    assert (state.done, state.wait) == (case.decision.wait == 0, case.decision.wait)
    assert case.decision.says in f"{step.reason} {step.action}"


def test_the_table_covers_every_kind_of_record_and_the_states_a_stack_is_found_in() -> None:
    records = {case.record for case in TABLE}
    states = {case.stack for case in TABLE}
    assert {"created", "created stateful", "updated", "unchanged", "deleted by the uninstall"} <= records
    assert {
        None,
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "DELETE_FAILED",
        "CREATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
    } <= states


# ---------------------------------------------------------------------- what an undo carries
def test_an_updated_stage_goes_back_to_its_rollback_points_template_parameters_and_tags(deps: Deps) -> None:
    Workflow(deps).updated("params")
    cloudformation = with_stacks(deps, FakeStack("params", "UPDATE_COMPLETE"))

    rollback_once(deps)

    [(operation, call)] = cloudformation.calls
    assert operation == "update_stack" and call["StackName"] == stack_id("params")
    assert call["Parameters"] == [{"ParameterKey": "Size", "ParameterValue": "small"}]
    assert call["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]
    key = call["TemplateURL"].split(".amazonaws.com/", 1)[1]
    body = deps.store.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read().decode()
    assert normalized_sha256(body) == normalized_sha256(OLD)
    assert deps.ledger.step(RUN, "params").rollback_attempts == 1


def test_a_restored_stage_gets_its_ledger_record_from_before_the_run_back(deps: Deps) -> None:
    workflow = Workflow(deps)
    workflow.updated("params")
    before = deps.ledger.stage("params")
    deps.ledger.put_stage(_ran_this_release("params"))
    with_stacks(deps, FakeStack("params", "UPDATE_ROLLBACK_COMPLETE", template=OLD, parameters=dict(OLD_PARAMETERS)))

    rollback_once(deps)

    restored = deps.ledger.stage("params")
    assert restored is not None and before is not None
    assert restored.model_dump(exclude={"updated_at"}) == before.model_dump(exclude={"updated_at"})


def test_a_created_stage_that_is_gone_leaves_the_ledger_too(deps: Deps) -> None:
    Workflow(deps).created("params")
    deps.ledger.put_stage(_ran_this_release("params"))
    with_stacks(deps)

    rollback_once(deps)

    assert deps.ledger.stage("params") is None
    assert deps.ledger.step(RUN, "params").rolled_back == "DELETED"


def test_a_stack_that_cannot_be_deleted_names_the_resource_and_cloudformations_reason(deps: Deps) -> None:
    workflow = Workflow(deps)
    workflow.created("params")
    workflow.attempted("params", attempts=MAX_ROLLBACK_ATTEMPTS)
    with_stacks(deps, FakeStack("params", "DELETE_FAILED", reason="Resources failed to delete: [Bucket]"))

    rollback_once(deps)

    step = deps.ledger.step(RUN, "params")
    assert (step.rolled_back, step.resource, step.reason) == ("FAILED", "Bucket", BLOCKED)


def _ran_this_release(stage: str) -> StageRecord:
    """The stage's ledger record as this run's deploy left it."""
    return StageRecord(
        stage=stage,
        stack_name=stack_name(stage),
        stack_id=stack_id(stage),
        version=VERSION,
        template_sha256=normalized_sha256(NEW),
        parameters=NEW_PARAMETERS,
        outputs={},
        status="UPDATE_COMPLETE",
        stateful=False,
        run=RUN,
    )


# ---------------------------------------------------------------------- across steps
def test_one_undo_per_call_newest_first(deps: Deps) -> None:
    workflow = Workflow(deps)
    workflow.created("vpc", at=1)
    workflow.created("params", at=2)
    cloudformation = with_stacks(deps, FakeStack("vpc", "CREATE_COMPLETE"), FakeStack("params", "CREATE_COMPLETE"))

    first = rollback_once(deps)

    assert cloudformation.calls == [("delete_stack", {"StackName": stack_id("params")})]
    assert (first.done, first.wait) == (False, POLL)

    del cloudformation.stacks[stack_name("params")]  # the delete went through
    second = rollback_once(deps)

    assert cloudformation.calls[1:] == [("delete_stack", {"StackName": stack_id("vpc")})]
    assert deps.ledger.step(RUN, "params").rolled_back == "DELETED"
    assert not second.done


def test_a_created_stage_that_a_kept_stateful_stage_runs_on_is_kept_too(deps: Deps) -> None:
    # Given the run created the network, then the database on it (stateful)
    workflow = Workflow(deps)
    workflow.created("vpc", at=1)
    workflow.created("aurora", at=2)
    cloudformation = with_stacks(deps, FakeStack("vpc", "CREATE_COMPLETE"), FakeStack("aurora", "CREATE_COMPLETE"))

    # When the rollback runs
    state = rollback_once(deps)

    # Then both stay: the database may hold data, and it needs its network
    assert cloudformation.calls == []
    assert deps.ledger.step(RUN, "aurora").rolled_back == "RETAINED"
    vpc = deps.ledger.step(RUN, "vpc")
    assert (vpc.rolled_back, vpc.reason) == ("RETAINED", "kept: retained stage aurora runs on it")
    assert state.done


def test_a_step_still_acting_is_waited_for_and_the_run_stops_changing_anything(deps: Deps) -> None:
    Workflow(deps).created("params")
    cloudformation = with_stacks(deps, FakeStack("params", "CREATE_COMPLETE"))

    with deps.ledger.acting(RUN, "params"):
        state = rollback_once(deps)

    assert (state.done, state.wait) == (False, SETTLE_POLL)
    assert cloudformation.calls == []
    run = deps.ledger.run(RUN)
    assert run is not None and run.status == "ROLLING_BACK" and run.rollback_started


def test_a_finished_rollback_says_when(deps: Deps) -> None:
    Workflow(deps).unchanged("params")
    with_stacks(deps, FakeStack("params", "UPDATE_COMPLETE", template=OLD))

    state = rollback_once(deps)

    run = deps.ledger.run(RUN)
    assert state.done and run is not None and run.rollback_finished


# ---------------------------------------------------------------------- the migrate action
@dataclass
class Function:
    """The migration function's answer to the downgrade (or the error it raises)."""

    previous: str = "0007"
    revision: str = "0006"
    error: Exception | None = None

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {"previous": self.previous, "revision": self.revision, "applied": [self.previous]}


class MigrationInProgress(Exception):
    """Stands in for the function's error class: only its name travels."""


class DowngradeFailed(Exception):
    pass


MIGRATIONS = [
    pytest.param(Function(), 0, Decision(mark="DOWNGRADED"), id="downgraded to the revision before the run"),
    pytest.param(
        Function(previous="0006"), 0, Decision(mark="UNCHANGED"), id="already there: the upgrade rolled itself back"
    ),
    pytest.param(
        Function(error=MigrationInProgress("busy")), 0, Decision(wait=IN_PROGRESS_POLL), id="the database is busy"
    ),
    pytest.param(
        Function(error=MigrationInProgress("busy")),
        MAX_MIGRATION_WAITS,
        Decision(mark="FAILED", says="restore cluster snapshot dataall-test-upgrade-2-9-0-abc123"),
        id="busy for too long",
    ),
    pytest.param(
        Function(error=DowngradeFailed("no")),
        0,
        Decision(mark="FAILED", says="restore cluster snapshot dataall-test-upgrade-2-9-0-abc123"),
        id="the downgrade failed",
    ),
]


@pytest.mark.parametrize(("function", "attempts", "decision"), MIGRATIONS)
def test_a_migration_the_run_ran_is_downgraded_or_its_snapshot_named(
    deps: Deps, moto: Moto, monkeypatch: pytest.MonkeyPatch, function: Function, attempts: int, decision: Decision
) -> None:
    workflow = Workflow(deps)
    workflow.migrated()
    workflow.attempted("migrate", attempts)
    local = LocalLambda(function)
    clients = MigrationClients(rds=moto.rds, lambda_=local)
    monkeypatch.setattr("lambdas.migration.step.default_clients", lambda: clients)

    state = rollback_once(deps)

    step: StepRecord = deps.ledger.step(RUN, "migrate")
    assert [call["revision"] for call in local.calls] == ["0006"]
    assert step.rolled_back == decision.mark
    assert (state.done, state.wait) == (decision.wait == 0, decision.wait)
    assert decision.says in f"{step.reason} {step.action}"


def test_the_database_is_downgraded_before_any_stage_goes_back_even_one_that_finished_after(
    deps: Deps, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: the downgrade runs before every stage's rollback, so the migrations stage still holds
    the new release's scripts and no stage's old code meets the new schema."""
    workflow = Workflow(deps)
    workflow.migrated(at=1)
    workflow.created("dashboards", at=2)  # finished after the migration
    cloudformation = with_stacks(deps, FakeStack("dashboards", "CREATE_COMPLETE"))
    order: list[str] = []
    function = Function()

    def downgrade(event: dict[str, Any]) -> dict[str, Any]:
        order.append(f"downgrade to {event['revision']}")
        return function(event)

    clients = MigrationClients(rds=moto.rds, lambda_=LocalLambda(downgrade))
    monkeypatch.setattr("lambdas.migration.step.default_clients", lambda: clients)
    asked = cloudformation.delete_stack

    def delete_stack(**kwargs: Any) -> Any:
        order.append(f"delete {kwargs['StackName']}")
        return asked(**kwargs)

    monkeypatch.setattr(cloudformation, "delete_stack", delete_stack)

    rollback_once(deps)

    assert order == ["downgrade to 0006", f"delete {stack_id('dashboards')}"]
    assert deps.ledger.step(RUN, "migrate").rolled_back == "DOWNGRADED"


# ---------------------------------------------------------------------- with moto's CloudFormation
def test_with_motos_cloudformation_a_run_is_undone_call_after_call_to_where_it_started(deps: Deps) -> None:
    # Given params ran OLD before the run; the run updated it to NEW, then created vpc
    cfn = boto3.client("cloudformation", region_name=REGION)
    deps.stacks = Stacks(cfn)
    workflow = Workflow(deps)
    small = [{"ParameterKey": "Size", "ParameterValue": "small"}]
    large = [{"ParameterKey": "Size", "ParameterValue": "large"}]
    tags = [{"Key": k, "Value": v} for k, v in TAGS.items()]
    workflow.ids["params"] = cfn.create_stack(
        StackName=stack_name("params"), TemplateBody=OLD, Parameters=small, Tags=tags
    )["StackId"]
    workflow.updated("params", at=1)
    cfn.update_stack(StackName=workflow.id("params"), TemplateBody=NEW, Parameters=large, Tags=tags)
    workflow.ids["vpc"] = cfn.create_stack(StackName=stack_name("vpc"), TemplateBody=NEW, Parameters=large)["StackId"]
    workflow.created("vpc", at=2)

    # When the state machine calls the rollback until it is done
    states = [rollback_once(deps)]
    while not states[-1].done and len(states) < 6:
        states.append(rollback_once(deps))

    # Then vpc is gone and params runs what it ran before, each undo in its own call
    assert [s.done for s in states] == [False, False, True]
    assert deps.stacks.describe(stack_name("vpc")) is None
    params = deps.stacks.describe(stack_name("params"))
    assert params is not None and params.parameters == OLD_PARAMETERS
    assert normalized_sha256(deps.stacks.template(params.stack_id)) == normalized_sha256(OLD)
    marks = {name: step.rolled_back for name, step in deps.ledger.steps(RUN).items()}
    assert marks == {"vpc": "DELETED", "params": "RESTORED"}


# ---------------------------------------------------------------------- a stage whose condition turned off
def test_a_stage_the_run_deleted_as_its_condition_turned_off_is_created_again_from_its_rollback_point(
    deps: Deps,
) -> None:
    Workflow(deps).retired("params")
    cloudformation = with_stacks(deps)  # the delete went through: no stack

    state = rollback_once(deps)

    [(operation, call)] = cloudformation.calls
    assert operation == "create_stack" and call["StackName"] == stack_name("params")
    assert call["Parameters"] == [{"ParameterKey": "Size", "ParameterValue": "small"}]
    assert call["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]
    key = call["TemplateURL"].split(".amazonaws.com/", 1)[1]
    body = deps.store.s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read().decode()
    assert normalized_sha256(body) == normalized_sha256(OLD)
    assert (state.done, deps.ledger.step(RUN, "params").rolled_back) == (False, None)  # waits for the create


def test_a_stage_created_again_is_restored_with_its_ledger_record_naming_the_new_stack(deps: Deps) -> None:
    workflow = Workflow(deps)
    workflow.retired("params")
    before = workflow.deployed_before("params")
    deps.ledger.delete_stage("params")
    again = FakeStack("params", "CREATE_COMPLETE", template=OLD, parameters=dict(OLD_PARAMETERS))
    cloudformation = with_stacks(deps, again)

    state = rollback_once(deps)

    assert state.done and cloudformation.calls == []
    assert deps.ledger.step(RUN, "params").rolled_back == "RESTORED"
    restored = deps.ledger.stage("params")
    assert restored is not None and restored.stack_id == stack_id("params")
    assert restored.model_dump(exclude={"updated_at"}) == before.model_dump(exclude={"updated_at"})


def upgrading_from(deps: Deps, previous: str) -> None:
    """The ledger's record of the run: an upgrade to VERSION from `previous`, still running."""
    deps.ledger.put_run(
        RunRecord(
            run=RUN,
            action="upgrade",
            version=VERSION,
            status="RUNNING",
            started=now_iso(),
            previous={"version": previous, "options": {}},
        )
    )


def test_a_stage_the_runs_release_has_no_more_is_created_again_as_the_release_before_it_made_it(
    deps: Deps, moto: Moto
) -> None:
    # Given an upgrade from 2.8.5, which has a stage `search` (timeout 1200 s), to 2.9.0, which has
    # none: the run deleted it, then failed
    small_release(stage("vpc"), {**stage("search"), "timeout": 1200}, version="2.8.5").publish(moto.s3, ARTIFACTS)
    workflow = Workflow(deps)
    upgrading_from(deps, "2.8.5")
    workflow.retired("search")
    cloudformation = with_stacks(deps)

    state = rollback_once(deps)

    # Then the rollback creates it again from its rollback point, as the release before the run had it
    [(operation, call)] = cloudformation.calls
    assert operation == "create_stack" and call["StackName"] == stack_name("search")
    assert call["Parameters"] == [{"ParameterKey": "Size", "ParameterValue": "small"}]
    assert call["TimeoutInMinutes"] == 20
    assert "EnableTerminationProtection" not in call  # a stateless stage
    assert (state.done, deps.ledger.step(RUN, "search").rolled_back) == (False, None)


def test_a_stateful_stage_created_again_is_termination_protected_as_the_stage_step_leaves_it(
    deps: Deps, moto: Moto
) -> None:
    # Given 2.8.7, whose stateful `store` stage (a bucket) the upgrade to 2.9.0 dropped and deleted
    small_release(stage("vpc"), {**stage("store"), "stateful": True}, version="2.8.7").publish(moto.s3, ARTIFACTS)
    workflow = Workflow(deps)
    upgrading_from(deps, "2.8.7")
    workflow.retired("store")
    cloudformation = with_stacks(deps)

    rollback_once(deps)

    # Then CreateStack protects it at once, as the stage step protects a stateful stage it creates
    [(operation, call)] = cloudformation.calls
    assert operation == "create_stack" and call["StackName"] == stack_name("store")
    assert call["EnableTerminationProtection"] is True


def test_a_dropped_stage_gets_back_the_installation_value_the_release_before_the_run_gave_it(
    deps: Deps, moto: Moto
) -> None:
    # Given 2.8.6, whose `search` stage reads the installation value Secret (its stack shows the
    # mask), upgraded to 2.9.0, which has no `search`: the run deleted it, then failed
    searched = stage("search", parameters={"Token": "${param:Secret}"})
    values = {"Secret": {"alphabet": "ab", "length": 16}}
    small_release(stage("vpc"), searched, version="2.8.6", values=values).publish(moto.s3, ARTIFACTS)
    deps.ledger.keep_value(ValueRecord(name="Secret", value="ab" * 8, origin="drawn", run="install", created=now_iso()))
    workflow = Workflow(deps)
    upgrading_from(deps, "2.8.6")
    workflow.retired("search", parameters={"Token": NO_ECHO_MASK})
    cloudformation = with_stacks(deps)

    rollback_once(deps)

    # Then CreateStack gets the value itself (the ledger's), not its mask
    [(operation, call)] = cloudformation.calls
    assert operation == "create_stack"
    assert call["Parameters"] == [{"ParameterKey": "Token", "ParameterValue": "ab" * 8}]
