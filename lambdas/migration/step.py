"""The `migrate` step: the platform database's schema, brought to the release's head.

The database sits in private subnets the installer's Lambdas cannot reach, so the work
is done by the aurora stage's migration function, inside the VPC; this step drives it,
one phase per call, like a stage:

    start     ask the function for the database's revision: at the release's head, with
              the permissions in sync, the step is done (UNCHANGED) and takes no snapshot
    snapshot  a cluster snapshot named after the run, polled until it is available
    upgrade   the function runs `alembic upgrade head` and the permissions sync in one
              transaction, with a lock timeout and a statement timeout
    done      MIGRATED (SYNCED when only the permissions changed)

The step record keeps what rollback needs (`previous_revision`, `snapshot_id`,
`migration_function`, `executed`); `downgrade` takes the database back to the previous
revision and, when it cannot, says which snapshot to restore.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, ClassVar

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed, StageTimedOut, Throttled
from lambdas.core.messages import StepState
from lambdas.core.phases import Phase
from lambdas.data import aws
from lambdas.data.aws import ClientError, ConnectionError, ReadTimeoutError
from lambdas.data.ledger import epoch, now_iso
from lambdas.data.records import StepRecord, StepUpdate
from lambdas.data.stacks import THROTTLING, error_code, error_message
from lambdas.release.manifest import Step, resolve_parameters
from lambdas.stage.deployment import FIRST_POLL, MAX_POLL, run_record
from lambdas.stage.outputs import outputs_reader

SNAPSHOT_POLL = 30
#: How long to wait when the function says another session is migrating (a retried call).
IN_PROGRESS_POLL = 30
DEFAULT_LOCK_TIMEOUT_MS = 5_000
DEFAULT_STATEMENT_TIMEOUT_MS = 300_000
#: The migration function's own timeout is 840 s; the answer must arrive before this step's (900 s).
RUNNER_READ_TIMEOUT = 870
SNAPSHOT_WAITING = frozenset({"creating", "copying", "backing-up"})
#: Optional parameters naming the database (aurora stage outputs), passed on as the command's `database`.
DATABASE_PARAMETERS = {
    "DatabaseSecretArn": "secret_arn",
    "ClusterEndpoint": "host",
    "ClusterPort": "port",
    "DatabaseName": "dbname",
}
INSTALLER_TAG = "dataall-installer"


@dataclass(frozen=True)
class MigrationClients:
    rds: Any
    lambda_: Any


@cache
def default_clients() -> MigrationClients:
    # No retries on Invoke: after a read timeout a retry would start a second migration
    # next to the first. Throttling comes back as Throttled, which the state machine retries.
    return MigrationClients(
        rds=aws.configured_client("rds"),
        lambda_=aws.configured_client("lambda", read_timeout=RUNNER_READ_TIMEOUT, max_attempts=1),
    )


class RunnerFailed(Exception):
    """The migration function answered with an error (its `errorType`), or could not be invoked."""

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        self.message = message
        super().__init__(f"{error_type}: {message}")


class RunnerUnanswered(Exception):
    """The invocation got no answer in time: the function may still be running."""


class MigrationRunner:
    """The aurora stage's migration function, invoked synchronously."""

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self.client = lambda_client
        self.function_name = function_name

    def call(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
        except ClientError as error:
            if error_code(error) in THROTTLING:
                raise Throttled(f"Lambda throttled the migration function: {error_message(error)}") from error
            raise RunnerFailed(error_code(error) or "ClientError", error_message(error) or str(error)) from error
        except (ReadTimeoutError, ConnectionError) as error:
            raise RunnerUnanswered(f"{self.function_name} did not answer: {error}") from error
        raw = response["Payload"].read()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        if response.get("FunctionError"):
            details = body if isinstance(body, dict) else {}
            raise RunnerFailed(
                str(details.get("errorType") or response["FunctionError"]),
                str(details.get("errorMessage") or raw[:1000].decode(errors="replace")),
            )
        if not isinstance(body, dict):
            raise RunnerFailed("BadAnswer", f"{self.function_name} answered {raw[:200]!r}, not a JSON object")
        return body


@dataclass(frozen=True)
class MigrationParameters:
    """The migrate action's resolved parameters."""

    function_name: str
    cluster_identifier: str
    lock_timeout_ms: int
    statement_timeout_ms: int
    database: dict[str, str]

    @classmethod
    def parse(cls, step: str, values: dict[str, str]) -> MigrationParameters:
        missing = [key for key in ("FunctionName", "ClusterIdentifier") if not values.get(key)]
        if missing:
            raise StageFailed(step, f"the release's {step} action lacks the parameter(s) {', '.join(missing)}")

        def number(key: str, default: int) -> int:
            text = values.get(key) or str(default)
            if not text.isdigit():
                raise StageFailed(step, f"parameter {key} of the {step} action is {text!r}, not milliseconds")
            return int(text)

        return cls(
            function_name=values["FunctionName"],
            cluster_identifier=values["ClusterIdentifier"],
            lock_timeout_ms=number("LockTimeoutMs", DEFAULT_LOCK_TIMEOUT_MS),
            statement_timeout_ms=number("StatementTimeoutMs", DEFAULT_STATEMENT_TIMEOUT_MS),
            database={field: values[key] for key, field in DATABASE_PARAMETERS.items() if values.get(key)},
        )

    def command(self, name: str) -> dict[str, Any]:
        """A command for the migration function, with the step's timeouts and database."""
        payload: dict[str, Any] = {
            "command": name,
            "lock_timeout_ms": self.lock_timeout_ms,
            "statement_timeout_ms": self.statement_timeout_ms,
        }
        if self.database:
            payload["database"] = self.database
        return payload


def snapshot_identifier(prefix: str, env: str, run: str) -> str:
    """`{prefix}-{env}-{run}` as RDS accepts it: letters, digits, single hyphens, a letter first."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{env}-{run}".lower())).strip("-")
    if not cleaned[:1].isalpha():
        cleaned = f"migration-{cleaned}"
    return cleaned[:255].rstrip("-")


def _revision(value: str | None) -> str:
    return value if value is not None else "base (empty database)"


class MigrationStep:
    """The migrate step of one run."""

    def __init__(self, deps: Deps, state: StepState, clients: MigrationClients | None = None) -> None:
        self.deps = deps
        self.state = state
        self.run_id = state.run
        self.name = state.step.name
        self.meta = run_record(deps, state)
        meta = self.meta
        self.version: str = meta.version
        self.record = deps.ledger.step(self.run_id, self.name)
        self.clients = clients or default_clients()

    @cached_property
    def spec(self) -> Step:
        return self.deps.store.manifest(self.version).steps[self.name]

    @cached_property
    def parameters(self) -> MigrationParameters:
        values = resolve_parameters(self.spec, self.meta.params, outputs_reader(self.deps, self.name))
        return MigrationParameters.parse(self.name, values)

    @cached_property
    def runner(self) -> MigrationRunner:
        return MigrationRunner(self.clients.lambda_, self.parameters.function_name)

    # ------------------------------------------------------------------ helpers
    def _next(self, phase: Phase, wait: int = 0, result: str | None = None) -> StepState:
        return self.state.model_copy(
            update={"phase": phase, "wait": wait, "polls": self.state.polls + 1, "result": result}
        )

    def _update(self, changes: StepUpdate) -> None:
        self.deps.ledger.update_step(self.run_id, self.name, changes)
        self.record = self.record.merged(changes)

    def _check_timeout(self) -> None:
        started = self.record.started_epoch or epoch()
        if epoch() - started > self.spec.timeout:
            raise StageTimedOut(
                self.name,
                f"the migration did not finish within its timeout of {self.spec.timeout} s",
                snapshot=self.record.snapshot_id,
            )

    def _backoff(self, phase: Phase, first: int) -> StepState:
        self._check_timeout()
        return self._next(phase, min(MAX_POLL, max(first, int(self.state.wait * 1.5))))

    def _fail(self, reason: str, **details: Any) -> StageFailed:
        self._update(StepUpdate(result="FAILED", finished=now_iso(), failure={"reason": reason, **details}))
        return StageFailed(self.name, reason, **details)

    # ------------------------------------------------------------------ entry points
    def start(self) -> StepState:
        with self.deps.ledger.acting(self.run_id, self.name):
            return self._start()

    def advance(self) -> StepState:
        with self.deps.ledger.acting(self.run_id, self.name):
            return self._advance()

    # ------------------------------------------------------------------ start
    def _start(self) -> StepState:
        phase = self.record.phase
        if phase == "done" and self.record.result != "FAILED":  # a retried call: already done
            return self._next(Phase.DONE, result=self.record.result)
        if phase in ("snapshot", "upgrade"):  # a retried call: carry on
            return self._next(Phase(phase), FIRST_POLL)
        if self.record.started_epoch is None:
            self._update(StepUpdate(kind="migrate", started=now_iso(), started_epoch=epoch(), phase="start"))
        params = self.parameters
        try:
            status = self.runner.call(params.command("status"))
        except RunnerFailed as failure:
            raise self._fail(
                f"could not read the database's revision: {failure.message}",
                error=failure.error_type,
                function=params.function_name,
            ) from failure
        except RunnerUnanswered:
            return self._backoff(Phase.START, FIRST_POLL)
        revision, head = status.get("revision"), status.get("head")
        if not status.get("known", True):
            raise self._fail(
                f"the database is at revision {revision}, which release {self.version} does not know "
                f"(its head is {head}): a newer release migrated it",
                action="install the release that migrated the database, or restore a snapshot taken before it",
            )
        self._update(
            StepUpdate(
                migration_function=params.function_name,
                cluster_identifier=params.cluster_identifier,
                previous_revision=revision,
                head=head,
                downgrade_command=params.command("downgrade"),
            )
        )
        if revision == head and not status.get("pending_permissions"):
            self._update(StepUpdate(result="UNCHANGED", finished=now_iso(), phase="done"))
            return self._next(Phase.DONE, result="UNCHANGED")
        if revision is None:  # an empty database (a first install): no data a snapshot would keep
            self._update(StepUpdate(phase="upgrade", snapshot_skipped="the database was empty"))
            return self._next(Phase.UPGRADE)
        snapshot_id = snapshot_identifier(self.deps.settings.resource_prefix, self.deps.settings.env_name, self.run_id)
        if not self._create_snapshot(snapshot_id, params.cluster_identifier, revision):
            return self._backoff(Phase.START, SNAPSHOT_POLL)
        self._update(StepUpdate(snapshot_id=snapshot_id, snapshot_requested=now_iso(), phase="snapshot"))
        return self._next(Phase.SNAPSHOT, SNAPSHOT_POLL)

    def _create_snapshot(self, snapshot_id: str, cluster: str, revision: str | None) -> bool:
        """True once the snapshot exists or is being made; False when the cluster is busy."""
        try:
            self.clients.rds.create_db_cluster_snapshot(
                DBClusterSnapshotIdentifier=snapshot_id,
                DBClusterIdentifier=cluster,
                Tags=[
                    {"Key": f"{INSTALLER_TAG}:run", "Value": self.run_id},
                    {"Key": f"{INSTALLER_TAG}:revision", "Value": revision or "base"},
                ],
            )
        except ClientError as error:
            code = error_code(error)
            if code == "DBClusterSnapshotAlreadyExistsFault":  # a retried call made it already
                return True
            if code == "InvalidDBClusterStateFault":  # backing up or being modified: try again soon
                return False
            if code in THROTTLING:
                raise Throttled(f"RDS throttled the installer: {error_message(error)}") from error
            raise self._fail(f"could not snapshot cluster {cluster}: {code}: {error_message(error)}") from error
        return True

    # ------------------------------------------------------------------ advance
    def _advance(self) -> StepState:
        advance = self.ADVANCES.get(self.state.phase)
        if advance is None:
            raise StageFailed(self.name, f"a migrate step does not wait in phase {self.state.phase}")
        return advance(self)

    def _poll_snapshot(self) -> StepState:
        snapshot_id = str(self.record.snapshot_id)
        try:
            found = self.clients.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)
        except ClientError as error:
            if error_code(error) in THROTTLING:
                raise Throttled(f"RDS throttled the installer: {error_message(error)}") from error
            raise self._fail(f"snapshot {snapshot_id} is gone: {error_message(error)}") from error
        snapshots = found.get("DBClusterSnapshots", [])
        status = str(snapshots[0].get("Status", "")).lower() if snapshots else "missing"
        if status == "available":
            self._update(StepUpdate(snapshot_available=now_iso(), phase="upgrade"))
            return self._next(Phase.UPGRADE)
        if status in SNAPSHOT_WAITING:
            return self._backoff(Phase.SNAPSHOT, SNAPSHOT_POLL)
        raise self._fail(
            f"snapshot {snapshot_id} of cluster {self.record.cluster_identifier} is {status}; "
            "the database was not migrated",
            snapshot=snapshot_id,
        )

    def _upgrade(self) -> StepState:
        if not self.record.executed:
            # Recorded before the call: if this Lambda dies after the function committed,
            # rollback still knows to downgrade (a downgrade to where it is is a no-op).
            self._update(StepUpdate(executed=True, executed_at=now_iso()))
        snapshot_id = self.record.snapshot_id
        try:
            result = self.runner.call(self.parameters.command("upgrade"))
        except RunnerFailed as failure:
            if failure.error_type == "MigrationInProgress":
                return self._backoff(Phase.UPGRADE, IN_PROGRESS_POLL)
            raise self._fail(
                failure.message,
                error=failure.error_type,
                snapshot=snapshot_id,
                revision=_revision(self.record.previous_revision),
                function=self.parameters.function_name,
            ) from failure
        except RunnerUnanswered:
            return self._backoff(Phase.UPGRADE, IN_PROGRESS_POLL)
        previous = self.record.previous_revision
        outcome = "MIGRATED" if result.get("revision") != previous else "SYNCED"
        self._update(
            StepUpdate(
                revision=result.get("revision"),
                applied=result.get("applied", []),
                permissions=result.get("permissions", {}),
                result=outcome,
                finished=now_iso(),
                phase="done",
            )
        )
        return self._next(Phase.DONE, result=outcome)

    #: What the Migrate task does after the wait of each phase in which the step waits (`MIGRATE.waiting`).
    ADVANCES: ClassVar[Mapping[Phase, Callable[[MigrationStep], StepState]]] = {
        Phase.START: _start,
        Phase.SNAPSHOT: _poll_snapshot,
        Phase.UPGRADE: _upgrade,
    }


# ---------------------------------------------------------------------- rollback
def downgrade(deps: Deps, record: StepRecord, clients: MigrationClients | None = None) -> dict[str, Any]:
    """Take the database back to the revision it had before this run's migration.

    Returns `outcome`: NOTHING_TO_UNDO (the migration never ran), UNCHANGED (already
    there: the upgrade had failed and rolled itself back), DOWNGRADED, WAIT (another
    migration holds the database: call again after `wait` seconds) or FAILED, with
    `reason`, `snapshot` and `action` saying which snapshot to restore and how.
    Throttled propagates, for the state machine's retry.
    """
    if not record.executed:
        return {"outcome": "NOTHING_TO_UNDO", "reason": "this run did not migrate the database"}
    runner = MigrationRunner((clients or default_clients()).lambda_, record.migration_function or "")
    payload = {**(record.downgrade_command or {"command": "downgrade"}), "revision": record.previous_revision}
    try:
        result = runner.call(payload)
    except RunnerFailed as failure:
        if failure.error_type == "MigrationInProgress":
            return {"outcome": "WAIT", "wait": IN_PROGRESS_POLL, "reason": failure.message}
        return restore_report(deps, record, f"{failure.error_type}: {failure.message}")
    except RunnerUnanswered as unanswered:
        return {"outcome": "WAIT", "wait": IN_PROGRESS_POLL, "reason": str(unanswered)}
    return {
        "outcome": "UNCHANGED" if result.get("previous") == result.get("revision") else "DOWNGRADED",
        "revision": result.get("revision"),
        "from_revision": result.get("previous"),
        "applied": result.get("applied", []),
    }


def restore_report(deps: Deps, record: StepRecord, reason: str) -> dict[str, Any]:
    """FAILED, with the snapshot taken before the migration and how to put it back."""
    snapshot = record.snapshot_id
    cluster = record.cluster_identifier or deps.settings.stack_name("aurora")
    previous = _revision(record.previous_revision)
    if not snapshot:
        action = (
            f"no snapshot was taken before this migration: bring the database back to revision {previous} "
            f"by hand, or fix the cause and run the upgrade again"
        )
    else:
        action = (
            f"the database could not be downgraded to revision {previous}; restore cluster snapshot "
            f"{snapshot} (taken before the migration) into a new cluster: `aws rds "
            f"restore-db-cluster-from-snapshot --snapshot-identifier {snapshot} --db-cluster-identifier "
            f"{cluster}-restored --engine aurora-postgresql` (with the cluster's subnet group, security group "
            f"and KMS key), add a db.serverless instance, then swap it in for {cluster} and run a redeploy"
        )
    return {
        "outcome": "FAILED",
        "reason": reason,
        "snapshot": snapshot,
        "cluster": cluster,
        "revision": record.previous_revision,
        "action": action,
    }
