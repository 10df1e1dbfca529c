"""The installer's migrate step, phase by phase (moto for RDS, S3, DynamoDB; the migration
function scripted), and the rollback's downgrade with its restore report."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed, StageTimedOut, Throttled
from lambdas.core.messages import StepState
from lambdas.data.records import StepUpdate
from lambdas.handlers import migrate as migrate_handler
from lambdas.migration.step import (
    MigrationClients,
    MigrationRunner,
    MigrationStep,
    RunnerFailed,
    RunnerUnanswered,
    downgrade,
    snapshot_identifier,
)
from tests.database.installer import (
    CLUSTER,
    FUNCTION,
    MIGRATE_PARAMETERS,
    REGION,
    LocalLambda,
    clients,
    drive,
    lambda_answer,
    make_deps,
    manifest_document,
    snapshots,
    start_run,
)

RUN = "upgrade-2-8-0-abc123"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:dataall-test-aurora-AbCdEf"
SNAPSHOT = "dataall-test-upgrade-2-8-0-abc123"


class MigrationLockTimeout(Exception):
    """Stands in for the function's error class: only its name travels."""


class MigrationInProgress(Exception):
    pass


@pytest.fixture
def deps(aws: None) -> Deps:
    return make_deps()


@pytest.fixture
def lambda_context() -> Any:
    return SimpleNamespace(
        function_name="dataall-test-migrate",
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:dataall-test-migrate",
        aws_request_id="req-1",
    )


class Function:
    """The migration function's answers: the database's revision moves as it would."""

    def __init__(self, revision: str | None = "0001", head: str = "0003", pending: int | None = None) -> None:
        self.revision = revision
        self.head = head
        self.pending = pending
        self.upgrade_error: Exception | None = None
        self.downgrade_error: Exception | None = None

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["command"] == "status":
            return {"revision": self.revision, "head": self.head, "known": True, "pending_permissions": self.pending}
        if event["command"] == "upgrade":
            if self.upgrade_error is not None:
                raise self.upgrade_error
            previous, self.revision = self.revision, self.head
            return {"previous": previous, "revision": self.head, "applied": ["0002", "0003"], "permissions": {}}
        if self.downgrade_error is not None:
            raise self.downgrade_error
        previous, self.revision = self.revision, event["revision"]
        return {"previous": previous, "revision": event["revision"], "applied": ["0003", "0002"]}


def migrate(deps: Deps, state: StepState, migration_clients: MigrationClients) -> StepState:
    step = MigrationStep(deps, state, migration_clients)
    return step.start() if state.phase == "start" else step.advance()


# ---------------------------------------------------------------------- the phases
def test_a_database_at_head_is_unchanged_and_no_snapshot_is_taken(deps: Deps) -> None:
    migration_clients, function = clients(Function(revision="0003"))
    state = start_run(deps, RUN)

    done = migrate(deps, state, migration_clients)

    assert (done.phase, done.result, done.wait) == ("done", "UNCHANGED", 0)
    assert function.commands() == ["status"]
    assert snapshots() == []
    record = deps.ledger.step(RUN, "migrate")
    assert record.previous_revision == "0003" and record.result == "UNCHANGED"
    assert record.executed is None and record.snapshot_id is None


def test_an_older_database_is_snapshotted_then_migrated(deps: Deps) -> None:
    function_answers = Function(revision="0001")
    migration_clients, function = clients(function_answers)
    state = start_run(deps, RUN)

    states = drive(lambda s: MigrationStep(deps, s, migration_clients), state)

    assert [s.phase for s in states] == ["start", "snapshot", "upgrade", "done"]
    assert states[1].wait == 30 and states[2].wait == 0
    assert states[-1].result == "MIGRATED"
    assert function.commands() == ["status", "upgrade"]
    assert function.calls[1] == {"command": "upgrade", "lock_timeout_ms": 5000, "statement_timeout_ms": 300000}
    [snapshot] = snapshots()
    assert snapshot["DBClusterSnapshotIdentifier"] == SNAPSHOT
    tags = boto3.client("rds", region_name=REGION).list_tags_for_resource(ResourceName=snapshot["DBClusterSnapshotArn"])
    assert {t["Key"]: t["Value"] for t in tags["TagList"]}.items() >= {
        "dataall-installer:run": RUN,
        "dataall-installer:revision": "0001",
    }.items()
    record = deps.ledger.step(RUN, "migrate")
    assert record.previous_revision == "0001"
    assert record.snapshot_id == SNAPSHOT
    assert record.executed is True and record.executed_at
    assert record.migration_function == FUNCTION
    assert record.cluster_identifier == CLUSTER
    assert record.revision == "0003" and record.result == "MIGRATED"


def test_only_a_permissions_change_is_synced_after_a_snapshot(deps: Deps) -> None:
    migration_clients, function = clients(Function(revision="0003", pending=2))

    states = drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, RUN))

    assert states[-1].result == "SYNCED"
    assert function.commands() == ["status", "upgrade"]
    assert len(snapshots()) == 1


def test_the_first_install_migrates_an_empty_database_without_a_snapshot(deps: Deps) -> None:
    """An empty database holds nothing a snapshot would keep; the snapshot would cost minutes."""
    migration_clients, _ = clients(Function(revision=None))

    states = drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, RUN))

    assert states[-1].result == "MIGRATED"
    record = deps.ledger.step(RUN, "migrate")
    assert record.previous_revision is None and record.snapshot_skipped
    assert record.snapshot_id is None
    assert snapshots() == []


class SlowSnapshots:
    """RDS whose snapshot stays `creating` (moto's is available at once)."""

    def __init__(self, status: str = "creating") -> None:
        self.status = status
        self.real = boto3.client("rds", region_name=REGION)

    def create_db_cluster_snapshot(self, **kwargs: Any) -> Any:
        return self.real.create_db_cluster_snapshot(**kwargs)

    def describe_db_cluster_snapshots(self, **kwargs: Any) -> Any:
        answer = self.real.describe_db_cluster_snapshots(**kwargs)
        for snapshot in answer["DBClusterSnapshots"]:
            snapshot["Status"] = self.status
        return answer


def test_the_step_polls_a_snapshot_until_it_is_available_and_backs_off(deps: Deps) -> None:
    rds = SlowSnapshots()
    migration_clients = MigrationClients(rds=rds, lambda_=clients(Function())[1])
    state = migrate(deps, start_run(deps, RUN), migration_clients)

    first = migrate(deps, state, migration_clients)
    second = migrate(deps, first.model_copy(update={"wait": 50}), migration_clients)
    rds.status = "available"
    ready = migrate(deps, second, migration_clients)

    assert (state.phase, state.wait) == ("snapshot", 30)
    assert (first.phase, first.wait) == ("snapshot", 45)
    assert (second.phase, second.wait) == ("snapshot", 60)
    assert (ready.phase, ready.wait) == ("upgrade", 0)
    assert deps.ledger.step(RUN, "migrate").executed is None


def test_a_snapshot_that_takes_longer_than_the_step_timeout_fails_it(aws: None) -> None:
    deps = make_deps(manifest_document(timeout=60))
    rds = SlowSnapshots()
    migration_clients = MigrationClients(rds=rds, lambda_=clients(Function())[1])
    state = migrate(deps, start_run(deps, RUN), migration_clients)
    deps.ledger.update_step(RUN, "migrate", StepUpdate(started_epoch=1))

    with pytest.raises(StageTimedOut) as failure:
        migrate(deps, state, migration_clients)

    assert failure.value.report["stage"] == "migrate"
    assert failure.value.report["snapshot"] == SNAPSHOT


def test_a_failed_snapshot_fails_the_step_before_the_database_is_touched(deps: Deps) -> None:
    migration_clients, function = clients(Function())
    rds = SlowSnapshots(status="failed")
    migration_clients = MigrationClients(rds=rds, lambda_=function)
    state = migrate(deps, start_run(deps, RUN), migration_clients)

    with pytest.raises(StageFailed, match=f"snapshot {SNAPSHOT} of cluster {CLUSTER} is failed"):
        migrate(deps, state, migration_clients)
    assert function.commands() == ["status"]
    assert deps.ledger.step(RUN, "migrate").result == "FAILED"


def test_a_busy_cluster_is_snapshotted_when_it_is_available_again(deps: Deps) -> None:
    class BusyOnce(SlowSnapshots):
        busy = True

        def create_db_cluster_snapshot(self, **kwargs: Any) -> Any:
            if self.busy:
                self.busy = False
                raise ClientError(
                    {"Error": {"Code": "InvalidDBClusterStateFault", "Message": "backing-up"}},
                    "CreateDBClusterSnapshot",
                )
            return super().create_db_cluster_snapshot(**kwargs)

    migration_clients = MigrationClients(rds=BusyOnce(status="available"), lambda_=clients(Function())[1])
    state = start_run(deps, RUN)

    waiting = migrate(deps, state, migration_clients)
    assert (waiting.phase, waiting.wait) == ("start", 30)
    assert deps.ledger.step(RUN, "migrate").snapshot_id is None
    assert migrate(deps, waiting, migration_clients).phase == "snapshot"
    assert len(snapshots()) == 1


def test_a_retried_start_carries_on_without_a_second_snapshot(deps: Deps) -> None:
    migration_clients, function = clients(Function())
    state = start_run(deps, RUN)
    migrate(deps, state, migration_clients)

    again = migrate(deps, state, migration_clients)

    assert again.phase == "snapshot"
    assert function.commands() == ["status"]
    assert len(snapshots()) == 1


def test_a_database_newer_than_the_release_is_refused_before_any_snapshot(deps: Deps) -> None:
    def answer(_event: dict[str, Any]) -> dict[str, Any]:
        return {"revision": "0007", "head": "0003", "known": False, "pending_permissions": None}

    migration_clients, _ = clients(answer)
    with pytest.raises(StageFailed, match=r"revision 0007, which release 2\.8\.0 does not know"):
        migrate(deps, start_run(deps, RUN), migration_clients)
    assert snapshots() == []


def test_a_failed_upgrade_fails_the_step_naming_the_reason_and_the_snapshot(deps: Deps) -> None:
    answers = Function()
    answers.upgrade_error = MigrationLockTimeout(
        "upgrade revision 0002 waited more than 5000 ms for a lock on environment, held by session 42 "
        "whose last query is: LOCK TABLE environment IN ACCESS EXCLUSIVE MODE"
    )
    migration_clients, _ = clients(answers)
    state = start_run(deps, RUN)

    with pytest.raises(StageFailed) as failure:
        drive(lambda s: MigrationStep(deps, s, migration_clients), state)

    report = failure.value.report
    assert report["stage"] == "migrate"
    assert report["error"] == "MigrationLockTimeout"
    assert "LOCK TABLE environment IN ACCESS EXCLUSIVE MODE" in report["reason"]
    assert report["snapshot"] == SNAPSHOT
    assert report["revision"] == "0001"
    record = deps.ledger.step(RUN, "migrate")
    assert record.result == "FAILED" and record.executed is True
    assert record.failure is not None and record.failure["error"] == "MigrationLockTimeout"


def test_a_migration_already_running_is_waited_for(deps: Deps) -> None:
    answers = Function()
    answers.upgrade_error = MigrationInProgress("another session is migrating this database right now")
    migration_clients, _ = clients(answers)
    state = migrate(deps, migrate(deps, start_run(deps, RUN), migration_clients), migration_clients)
    assert state.phase == "upgrade"

    waiting = migrate(deps, state, migration_clients)
    answers.upgrade_error = None
    done = migrate(deps, waiting, migration_clients)

    assert (waiting.phase, waiting.wait) == ("upgrade", 30)
    assert done.result == "MIGRATED"
    assert deps.ledger.step(RUN, "migrate").previous_revision == "0001"


def test_the_database_named_by_the_aurora_outputs_is_passed_to_every_command(aws: None) -> None:
    parameters = {
        **MIGRATE_PARAMETERS,
        "DatabaseSecretArn": "${stage:aurora.DatabaseSecretArn}",
        "ClusterEndpoint": "${stage:aurora.ClusterEndpoint}",
    }
    deps = make_deps(manifest_document(parameters=parameters, outputs=("DatabaseSecretArn", "ClusterEndpoint")))
    migration_clients, function = clients(Function())
    state = start_run(deps, RUN, DatabaseSecretArn=SECRET_ARN, ClusterEndpoint="db.cluster.example")
    drive(lambda s: MigrationStep(deps, s, migration_clients), state)

    downgrade(deps, deps.ledger.step(RUN, "migrate"), migration_clients)

    database = {"secret_arn": SECRET_ARN, "host": "db.cluster.example"}
    assert function.commands() == ["status", "upgrade", "downgrade"]
    assert [call["database"] for call in function.calls] == [database, database, database]


def test_the_function_unreachable_fails_the_step_with_its_reason(deps: Deps) -> None:
    class Missing:
        def invoke(self, **_kwargs: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "Function not found"}}, "Invoke"
            )

    migration_clients = MigrationClients(rds=boto3.client("rds", region_name=REGION), lambda_=Missing())
    with pytest.raises(StageFailed, match="could not read the database's revision: Function not found"):
        migrate(deps, start_run(deps, RUN), migration_clients)


def test_missing_parameters_are_named(aws: None) -> None:
    deps = make_deps(manifest_document(parameters={"FunctionName": "${stage:aurora.MigrationFunctionName}"}))
    migration_clients, _ = clients(Function())
    with pytest.raises(StageFailed, match="lacks the parameter\\(s\\) ClusterIdentifier"):
        migrate(deps, start_run(deps, RUN), migration_clients)


def test_a_retried_start_after_the_migration_reports_it_done(deps: Deps) -> None:
    migration_clients, function = clients(Function())
    state = start_run(deps, RUN)
    drive(lambda s: MigrationStep(deps, s, migration_clients), state)

    again = migrate(deps, state, migration_clients)

    assert (again.phase, again.result) == ("done", "MIGRATED")
    assert function.commands() == ["status", "upgrade"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_the_handler_validates_the_state_and_returns_the_next_one(
    deps: Deps, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    migration_clients, _ = clients(Function())
    monkeypatch.setattr(migrate_handler.Deps, "from_env", classmethod(lambda cls, _context: deps))
    monkeypatch.setattr("lambdas.migration.step.default_clients", lambda: migration_clients)
    state = start_run(deps, RUN).model_dump()

    answers = [state]
    while answers[-1]["phase"] != "done":
        answers.append(migrate_handler.handler(answers[-1], lambda_context))

    assert [a["phase"] for a in answers] == ["start", "snapshot", "upgrade", "done"]
    assert answers[-1]["result"] == "MIGRATED"
    assert (answers[-1]["run"], answers[-1]["step"]["name"], answers[-1]["step"]["kind"]) == (RUN, "migrate", "migrate")


# ---------------------------------------------------------------------- the runner client
def test_the_runner_client_reads_function_errors_throttling_and_timeouts() -> None:
    class Scripted:
        def __init__(self, outcome: Any) -> None:
            self.outcome = outcome

        def invoke(self, **_kwargs: Any) -> Any:
            if isinstance(self.outcome, Exception):
                raise self.outcome
            return self.outcome

    failure = lambda_answer({"errorType": "MigrationFailed", "errorMessage": "revision 0002 failed"}, "Unhandled")
    with pytest.raises(RunnerFailed) as failed:
        MigrationRunner(Scripted(failure), FUNCTION).call({"command": "upgrade"})
    assert (failed.value.error_type, failed.value.message) == ("MigrationFailed", "revision 0002 failed")

    crashed = {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b"Runtime exited")}
    with pytest.raises(RunnerFailed, match="Unhandled: Runtime exited"):
        MigrationRunner(Scripted(crashed), FUNCTION).call({"command": "status"})

    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")
    with pytest.raises(Throttled):
        MigrationRunner(Scripted(throttled), FUNCTION).call({"command": "status"})

    with pytest.raises(RunnerUnanswered):
        MigrationRunner(Scripted(ReadTimeoutError(endpoint_url="https://lambda")), FUNCTION).call({"command": "status"})

    with pytest.raises(RunnerFailed, match="BadAnswer"):
        MigrationRunner(Scripted(lambda_answer(["not", "an", "object"])), FUNCTION).call({"command": "status"})


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("upgrade-2-8-0-abc123", "dataall-test-upgrade-2-8-0-abc123"),
        ("Install_2.8.0--X", "dataall-test-install-2-8-0-x"),
        ("-", "dataall-test"),
    ],
)
def test_snapshot_names_are_ones_rds_accepts(run: str, expected: str) -> None:
    assert snapshot_identifier("dataall", "test", run) == expected


def test_a_long_run_name_still_gives_a_valid_snapshot_name() -> None:
    name = snapshot_identifier("dataall", "test", "x" * 300)
    assert len(name) == 255 and name[0].isalpha() and not name.endswith("-")


# ---------------------------------------------------------------------- rollback
Migrated = tuple[Deps, "Function", LocalLambda]


@pytest.fixture
def migrated(deps: Deps) -> Iterator[Migrated]:
    answers = Function(revision="0001")
    migration_clients, function = clients(answers)
    drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, RUN))
    function.calls.clear()
    yield deps, answers, function


def test_rollback_downgrades_to_the_recorded_revision(migrated: Migrated) -> None:
    deps, answers, function = migrated
    record = deps.ledger.step(RUN, "migrate")

    result = downgrade(deps, record, MigrationClients(rds=None, lambda_=function))

    assert result == {"outcome": "DOWNGRADED", "revision": "0001", "from_revision": "0003", "applied": ["0003", "0002"]}
    assert function.calls == [
        {"command": "downgrade", "revision": "0001", "lock_timeout_ms": 5000, "statement_timeout_ms": 300000}
    ]
    assert answers.revision == "0001"


def test_rollback_of_a_first_install_downgrades_to_base(deps: Deps) -> None:
    answers = Function(revision=None)
    migration_clients, function = clients(answers)
    drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, RUN))

    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), migration_clients)

    assert result["outcome"] == "DOWNGRADED" and result["revision"] is None
    assert function.calls[-1]["revision"] is None


def test_rollback_after_an_upgrade_that_rolled_itself_back_changes_nothing(deps: Deps) -> None:
    answers = Function(revision="0001")
    answers.upgrade_error = MigrationLockTimeout("blocked")
    migration_clients, _ = clients(answers)
    with pytest.raises(StageFailed):
        drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, RUN))

    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), migration_clients)

    assert result["outcome"] == "UNCHANGED" and result["revision"] == "0001"


def test_nothing_is_undone_when_the_migration_never_ran(deps: Deps) -> None:
    migration_clients, function = clients(Function(revision="0003"))
    migrate(deps, start_run(deps, RUN), migration_clients)
    function.calls.clear()

    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), migration_clients)

    assert result["outcome"] == "NOTHING_TO_UNDO"
    assert function.calls == []


def test_a_failed_downgrade_names_the_snapshot_to_restore_and_how(migrated: Migrated) -> None:
    deps, answers, function = migrated

    class MigrationFailed(Exception):
        pass

    answers.downgrade_error = MigrationFailed("downgrade revision 0003 failed: cannot drop table permission")

    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), MigrationClients(rds=None, lambda_=function))

    assert result["outcome"] == "FAILED"
    assert result["reason"] == "MigrationFailed: downgrade revision 0003 failed: cannot drop table permission"
    assert result["snapshot"] == SNAPSHOT
    assert result["cluster"] == CLUSTER
    assert result["revision"] == "0001"
    assert f"restore cluster snapshot {SNAPSHOT}" in result["action"]
    assert f"restore-db-cluster-from-snapshot --snapshot-identifier {SNAPSHOT}" in result["action"]
    assert "revision 0001" in result["action"]


def test_a_downgrade_blocked_by_a_running_migration_asks_to_wait(migrated: Migrated) -> None:
    deps, answers, function = migrated
    answers.downgrade_error = MigrationInProgress("another session is migrating this database right now")

    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), MigrationClients(rds=None, lambda_=function))

    assert result["outcome"] == "WAIT" and result["wait"] == 30


def test_a_gone_migration_function_is_reported_with_the_snapshot(migrated: Migrated) -> None:
    deps, _, _ = migrated

    class Gone:
        def invoke(self, **_kwargs: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "Function not found"}}, "Invoke"
            )

    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), MigrationClients(rds=None, lambda_=Gone()))

    assert result["outcome"] == "FAILED"
    assert result["reason"] == "ResourceNotFoundException: Function not found"
    assert result["snapshot"] == SNAPSHOT


def test_the_report_can_be_kept_in_the_ledger_step_record(migrated: Migrated) -> None:
    deps, answers, function = migrated
    answers.downgrade_error = RuntimeError("boom")
    result = downgrade(deps, deps.ledger.step(RUN, "migrate"), MigrationClients(rds=None, lambda_=function))

    outcome = result.pop("outcome")
    deps.ledger.update_step(RUN, "migrate", StepUpdate(rolled_back=outcome, **result))
    record = deps.ledger.step(RUN, "migrate")
    assert record.rolled_back == "FAILED" and record.snapshot == SNAPSHOT
    assert json.loads(record.model_dump_json())["action"] == result["action"]
