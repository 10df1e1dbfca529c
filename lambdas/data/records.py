"""What the ledger stores: one model per kind of item, so a misspelt key fails where it is
written or read, never reads back as None.

    pk              sk              model
    LOCK            LOCK            LockRecord
    RELEASE         CURRENT         ReleaseRecord
    STAGE#<name>    CURRENT         StageRecord
    AWAIT#<stack>   TOKEN           StackWaiter
    RUN#<run>       META            RunRecord   (RunUpdate: what a run writes after its plan)
    RUN#<run>       STEP#<name>     StepRecord  (StepUpdate: what a step writes as it goes)
    RUNS            <start>#<run>   RunIndexEntry
    VALUE#<name>    CURRENT         ValueRecord

A step's rollback point (kept in the artifacts bucket under its `rollback_key`) is a
RollbackPoint. Every record carries `schema_version`; an item written before records had
one is version 1. A run and a step are written a few keys at a time (concurrent Lambdas
update the same item), so their updates are models too: only the keys set are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from lambdas.data.ledger_table import PARTITION_KEY, SORT_KEY

SCHEMA_VERSION: Literal[1] = 1
#: The item's keys: where a record is, not what it says.
KEYS = (PARTITION_KEY, SORT_KEY)


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints/floats, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class RecordInvalid(ValueError):
    """A ledger item that is not what its model says: an unknown key, a missing one, a wrong type."""


def _problems(error: ValidationError) -> str:
    problems = []
    for found in error.errors():
        key = ".".join(str(part) for part in found["loc"]) or "(item)"
        if found["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r}")
        elif found["type"] == "missing":
            problems.append(f"missing key {key!r}")
        else:
            problems.append(f"key {key!r}: {found['msg']}")
    return "; ".join(problems)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: Literal[1] = SCHEMA_VERSION

    @classmethod
    def from_item(cls, item: Mapping[str, Any], *, where: str | None = None, **identity: Any) -> Self:
        """A record from a DynamoDB item (its keys dropped, its numbers plain); `identity` fills
        what the item's keys say and older items may not repeat (a step's name). `where` names
        a document that is not an item, for the error."""
        values = {**identity, **{k: v for k, v in plain(dict(item)).items() if k not in KEYS}}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            place = where or "ledger item " + "/".join(str(item[k]) for k in KEYS if k in item)
            raise RecordInvalid(f"{place} is not a {cls.__name__}: {_problems(error)}") from None

    def written(self) -> dict[str, Any]:
        """What to store: the keys set (an unset optional key stays absent), and the version."""
        return {**self.model_dump(exclude_unset=True), "schema_version": SCHEMA_VERSION}


class LockRecord(Record):
    """The run that may change stages now."""

    holder: str  # its execution ARN
    run: str
    since: str


class ReleaseRecord(Record):
    """The release installed now."""

    version: str
    options: dict[str, Any]
    run: str
    #: the sha256 of the release's manifest: its content, not only its version
    manifest_sha256: str | None = None
    #: option -> who set it last ("<source> run <run>"); an option not named has its default
    option_sources: dict[str, str] = {}
    updated_at: str | None = None  # stamped by the ledger


class StageRecord(Record):
    """What a stage runs now."""

    stage: str
    stack_name: str
    stack_id: str
    version: str
    template_sha256: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    status: str
    stateful: bool
    run: str
    updated_at: str | None = None  # stamped by the ledger


class ValueRecord(Record):
    """A per-installation value (the pivot role's external id): made once, kept for good."""

    name: str
    value: str
    #: "drawn" (a CSPRNG, by the installer) or "adopted" (read from the account, `source`)
    origin: Literal["drawn", "adopted"]
    #: the SSM parameter an adopted value was read from
    source: str | None = None
    run: str
    created: str


class StackWaiter(Record):
    """The step waiting on a stack's status-change event: its task token."""

    token: str
    run: str
    step: str
    since: str


class RunIndexEntry(Record):
    """A run in the run history."""

    run: str
    action: str | None
    version: str | None
    execution_arn: str | None
    expires_at: int | None = None


class RunUpdate(Record):
    """What a run writes after its plan: its status, the rollback, the drift, the outcome."""

    status: str | None = None
    abandoned_for: str | None = None
    rollback_started: str | None = None
    rollback_finished: str | None = None
    drift: dict[str, Any] | None = None
    drifted_stages: list[str] | None = None
    finished: str | None = None
    duration_seconds: int | None = None
    error: dict[str, Any] | None = None
    #: RequireApproval: the task token the run waits on, when it asked, and its preview's key
    approval_token: str | None = None
    approval_requested: str | None = None
    approval_preview: str | None = None


class RunRecord(RunUpdate):
    """A run: what it was asked, its plan, and (RunUpdate) how it went."""

    run: str
    action: str
    version: str
    status: str
    started: str
    source: str | None = None
    execution_arn: str | None = None
    options: dict[str, Any] = {}
    params: dict[str, Any] = {}
    #: the release installed before the run: {"version", "options"}
    previous: dict[str, Any] | None = None
    #: the sha256 of the release's manifest Plan verified
    manifest_sha256: str | None = None
    #: the installed release's option_sources, with the options this run was given
    option_sources: dict[str, str] = {}
    took_over_lock_from: str | None = None
    #: the run's steps in a topological order, what each waits for, and the steps left out
    order: list[str] = []
    after: dict[str, list[str]] = {}
    unchanged: list[str] = []
    waves: list[list[str]] = []
    #: redeploy: the drift detection started on each stage
    drift_detections: dict[str, str] = {}
    expires_at: int | None = None  # set by the ledger: DynamoDB's TTL
    #: kept by older installers (the plan's steps, now `order` and `after`): read, never written
    steps: list[Any] | None = None


class StepUpdate(Record):
    """What a step writes as it goes (the deploy, the migration, the turn, the rollback)."""

    kind: str | None = None
    op: str | None = None
    planned: bool | None = None
    phase: str | None = None
    result: str | None = None
    status: str | None = None
    started: str | None = None
    started_epoch: int | None = None
    finished: str | None = None
    failure: dict[str, Any] | None = None
    # the turn: a step waiting for others parks on a task token
    turn_token: str | None = None
    waiting_since: str | None = None
    resumed_at: str | None = None
    # a stage: its rollback point, change set and stack
    rollback_key: str | None = None
    existed: bool | None = None
    stack_name: str | None = None
    stack_id: str | None = None
    change_type: str | None = None
    change_set_id: str | None = None
    template_sha256: str | None = None
    parameters: dict[str, str] | None = None
    given: dict[str, str] | None = None
    protect_after: bool | None = None
    protected: str | None = None
    unprotected: str | None = None
    recovered: str | None = None
    executed: bool | None = None
    executed_at: str | None = None
    executed_waited: int | None = None
    expected_seconds: int | None = None
    # the migrate action
    migration_function: str | None = None
    cluster_identifier: str | None = None
    previous_revision: str | None = None
    head: str | None = None
    downgrade_command: dict[str, Any] | None = None
    snapshot_id: str | None = None
    snapshot_skipped: str | None = None
    snapshot_requested: str | None = None
    snapshot_available: str | None = None
    revision: str | None = None
    applied: list[str] | None = None
    permissions: dict[str, Any] | None = None
    # the site action: where it published, what, and the invalidation it asked for
    site_bucket: str | None = None
    site_region: str | None = None
    distribution_id: str | None = None
    site_digest: str | None = None
    site_files: int | None = None
    invalidation_id: str | None = None
    # the images action: each image and region, and what the copy did
    images: list[dict[str, Any]] | None = None
    # the rollback: what it did to this step, and what is left for a person
    rolled_back: str | None = None
    rolled_back_at: str | None = None
    rollback_attempts: int | None = None
    rollback_waits: int | None = None
    rollback_cancelled: bool | None = None
    reason: str | None = None
    action: str | None = None
    resource: str | None = None
    snapshot: str | None = None
    cluster: str | None = None
    from_revision: str | None = None


class StepRecord(StepUpdate):
    """A step of a run, as far as it has gone."""

    name: str
    updated_at: str | None = None
    #: the step is changing something now (see Ledger.acting)
    acting: str | None = None
    acting_epoch: int | None = None
    turn_released: str | None = None
    #: kept by older installers beside `rolled_back` (the same outcome): read, never written
    outcome: str | None = None

    def merged(self, changes: StepUpdate) -> StepRecord:
        """This record with `changes` written over it (what the ledger now holds)."""
        return self.model_copy(update=changes.model_dump(exclude_unset=True, exclude={"schema_version"}))


class RollbackPoint(Record):
    """What a stage ran before the run changed it (absent: the run creates it)."""

    absent: bool
    stack_id: str | None = None
    status: str | None = None
    template: str | None = None
    parameters: dict[str, str] = {}
    tags: dict[str, str] = {}
    #: the stage's ledger record before the run
    ledger: StageRecord | None = None

    @field_validator("ledger", mode="before")
    @classmethod
    def _without_keys(cls, value: Any) -> Any:
        # Points saved before the ledger had records kept the item whole, keys included.
        return {k: v for k, v in value.items() if k not in KEYS} if isinstance(value, dict) else value
