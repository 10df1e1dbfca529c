"""The ledger: one DynamoDB table, the installer's memory.

    pk                sk            what                                                   record
    LOCK              LOCK          the run that may change stages now (execution ARN)     LockRecord
    RELEASE           CURRENT       the release installed now: version, options            ReleaseRecord
    STAGE#<name>      CURRENT       what a stage runs now: template sha256, parameters...  StageRecord
    AWAIT#<stack>     TOKEN         the step waiting on the stack's status-change event    StackWaiter
    RUN#<run>         META          a run: action, version, plan, status, error report     RunRecord
    RUN#<run>         STEP#<name>   a step of a run: phase, change set, rollback point...  StepRecord
    RUNS              <start>#<run> the run history, newest last                           RunIndexEntry
    VALUE#<name>      CURRENT       a per-installation value (the pivot role's external id) ValueRecord

Every item goes in and out as its record (`lambdas.data.records`): an unknown or missing key
fails loudly. Version bookkeeping lives here, not in stack tags: a changed stack tag
propagates to every resource of the stack and forces an update of all of them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.errors import LockHeld, RunAborted
from lambdas.data.records import (
    SCHEMA_VERSION,
    LockRecord,
    ReleaseRecord,
    RunIndexEntry,
    RunRecord,
    RunUpdate,
    StackWaiter,
    StageRecord,
    StepRecord,
    StepUpdate,
    ValueRecord,
)

RUN_RETENTION_SECONDS = 400 * 24 * 3600


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch() -> int:
    """Whole seconds since the epoch, as the records' `*_epoch` fields keep time."""
    return int(time.time())


def _conditional_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class Ledger:
    def __init__(self, table: Any) -> None:
        self.table = table

    # ------------------------------------------------------------------ generic
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        return item or None

    def _put(self, pk: str, sk: str, record: dict[str, Any], **conditions: Any) -> None:
        self.table.put_item(Item={"pk": pk, "sk": sk, **record}, **conditions)

    def _update(
        self, pk: str, sk: str, values: dict[str, Any], remove: tuple[str, ...] = (), condition: str | None = None
    ) -> None:
        names = {f"#k{i}": key for i, key in enumerate(values)}
        expr_values = {f":v{i}": value for i, value in enumerate(values.values())}
        expression = "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values)))
        if remove:
            names.update({f"#r{i}": key for i, key in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        self.table.update_item(
            Key={"pk": pk, "sk": sk},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=expr_values,
            **({"ConditionExpression": condition} if condition else {}),
        )

    @staticmethod
    def _changes(update: RunUpdate | StepUpdate) -> dict[str, Any]:
        return update.model_dump(exclude_unset=True, exclude={"schema_version"})

    # ------------------------------------------------------------------ lock
    def acquire_lock(self, holder: str, run: str, is_running: Callable[[str], bool]) -> LockRecord | None:
        """Take the lock for `holder` (an execution ARN).

        A lock whose holder is no longer RUNNING is stale and is taken over; the previous
        holder is returned so the plan can say so. Another RUNNING holder: LockHeld.
        """
        item = LockRecord(holder=holder, run=run, since=now_iso()).written()
        try:
            self._put(
                "LOCK",
                "LOCK",
                item,
                ConditionExpression="attribute_not_exists(pk) OR holder = :me",
                ExpressionAttributeValues={":me": holder},
            )
            return None
        except ClientError as error:
            if not _conditional_failed(error):
                raise
        current = self.lock()
        if current is None:  # released between our two calls: try once more
            return self.acquire_lock(holder, run, is_running)
        if is_running(current.holder):
            raise LockHeld(
                f"run {current.run} holds the installer lock since {current.since} "
                f"({current.holder}); wait for it to finish, this run changed nothing"
            )
        try:
            self._put(
                "LOCK",
                "LOCK",
                item,
                ConditionExpression="holder = :old",
                ExpressionAttributeValues={":old": current.holder},
            )
        except ClientError as error:
            if _conditional_failed(error):
                raise LockHeld("another run took the installer lock first; this run changed nothing") from None
            raise
        return current

    def release_lock(self, holder: str) -> bool:
        """Release the lock if `holder` has it; True if it was released."""
        try:
            self.table.delete_item(
                Key={"pk": "LOCK", "sk": "LOCK"},
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": holder},
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise

    def lock(self) -> LockRecord | None:
        item = self._get("LOCK", "LOCK")
        return LockRecord.from_item(item) if item else None

    # ------------------------------------------------------------------ release
    def current_release(self) -> ReleaseRecord | None:
        item = self._get("RELEASE", "CURRENT")
        return ReleaseRecord.from_item(item) if item else None

    def set_current_release(self, record: ReleaseRecord) -> None:
        self._put("RELEASE", "CURRENT", {**record.written(), "updated_at": now_iso()})

    def clear_current_release(self) -> None:
        self.table.delete_item(Key={"pk": "RELEASE", "sk": "CURRENT"})

    # ------------------------------------------------------------------ stages
    def stage(self, name: str) -> StageRecord | None:
        item = self._get(f"STAGE#{name}", "CURRENT")
        return StageRecord.from_item(item) if item else None

    def stages(self) -> dict[str, StageRecord]:
        found: dict[str, StageRecord] = {}
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :p) AND sk = :s",
            "ExpressionAttributeValues": {":p": "STAGE#", ":s": "CURRENT"},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.scan(**kwargs)
            for item in page.get("Items", []):
                found[item["pk"].split("#", 1)[1]] = StageRecord.from_item(item)
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_stage(self, record: StageRecord) -> None:
        self._put(f"STAGE#{record.stage}", "CURRENT", {**record.written(), "updated_at": now_iso()})

    def delete_stage(self, name: str) -> None:
        self.table.delete_item(Key={"pk": f"STAGE#{name}", "sk": "CURRENT"})

    # ------------------------------------------------------------------ per-installation values
    def value(self, name: str) -> ValueRecord | None:
        item = self._get(f"VALUE#{name}", "CURRENT")
        return ValueRecord.from_item(item) if item else None

    def keep_value(self, record: ValueRecord) -> ValueRecord:
        """Keep `record` unless the installation has that value already: the one kept is returned
        (a value, once made, is never replaced)."""
        try:
            self._put(
                f"VALUE#{record.name}", "CURRENT", record.written(), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            kept = self.value(record.name)
            if kept is None:  # deleted between the two calls: nothing else makes values
                raise
            return kept
        return record

    # ------------------------------------------------------------------ steps waiting on stacks
    def park_on_stack(self, stack_name: str, token: str, run: str, step: str) -> None:
        """Keep the task token of the step waiting on this stack (the latest wait replaces any)."""
        waiter = StackWaiter(token=token, run=run, step=step, since=now_iso())
        self._put(f"AWAIT#{stack_name}", "TOKEN", waiter.written())

    def claim_stack_waiter(self, stack_name: str, token: str | None = None) -> StackWaiter | None:
        """The step waiting on this stack, claimed once (None if none, or not `token`'s)."""
        condition: dict[str, Any] = (
            {"ConditionExpression": "#token = :token", "ExpressionAttributeNames": {"#token": "token"},
             "ExpressionAttributeValues": {":token": token}}
            if token is not None
            else {"ConditionExpression": "attribute_exists(#token)", "ExpressionAttributeNames": {"#token": "token"}}
        )  # fmt: skip
        try:
            answer = self.table.delete_item(
                Key={"pk": f"AWAIT#{stack_name}", "sk": "TOKEN"}, ReturnValues="ALL_OLD", **condition
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        item = answer.get("Attributes")
        return StackWaiter.from_item(item) if item else None

    # ------------------------------------------------------------------ runs
    def put_run(self, record: RunRecord) -> None:
        expires = int(time.time()) + RUN_RETENTION_SECONDS
        record = record.model_copy(update={"expires_at": expires})
        self._put(f"RUN#{record.run}", "META", record.written())
        entry = RunIndexEntry(
            run=record.run,
            action=record.action,
            version=record.version,
            execution_arn=record.execution_arn,
            expires_at=expires,
        )
        self._put("RUNS", f"{record.started}#{record.run}", entry.written())

    def run(self, run: str) -> RunRecord | None:
        item = self._get(f"RUN#{run}", "META")
        return RunRecord.from_item(item) if item else None

    def update_run(self, run: str, changes: RunUpdate) -> None:
        self._update(f"RUN#{run}", "META", self._changes(changes))

    def abandon_run(self, run: str, successor: str) -> bool:
        """Mark ABANDONED a run whose execution died holding the lock. False when it died before
        it wrote its record: none is made for it (a record with only a status would not load)."""
        changes = RunUpdate(status="ABANDONED", abandoned_for=successor)
        try:
            self._update(f"RUN#{run}", "META", self._changes(changes), condition="attribute_exists(pk)")
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def latest_runs(self, limit: int = 1) -> list[RunIndexEntry]:
        page = self.table.query(
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": "RUNS"},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [RunIndexEntry.from_item(item) for item in page.get("Items", [])]

    def step(self, run: str, name: str) -> StepRecord:
        item = self._get(f"RUN#{run}", f"STEP#{name}")
        return StepRecord.from_item(item, name=name) if item else StepRecord(name=name)

    def steps(self, run: str) -> dict[str, StepRecord]:
        found: dict[str, StepRecord] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": f"RUN#{run}", ":s": "STEP#"},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**kwargs)
            for item in page.get("Items", []):
                name = item["sk"].split("#", 1)[1]
                found[name] = StepRecord.from_item(item, name=name)
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_turn(self, run: str, name: str) -> str | None:
        """The step's parked task token, claimed once (None if absent or already claimed)."""
        try:
            answer = self.table.update_item(
                Key={"pk": f"RUN#{run}", "sk": f"STEP#{name}"},
                UpdateExpression="SET turn_released = :now",
                ConditionExpression="attribute_exists(turn_token) AND attribute_not_exists(turn_released)",
                ExpressionAttributeValues={":now": now_iso()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return str(answer["Attributes"]["turn_token"])

    @contextlib.contextmanager
    def acting(self, run: str, name: str) -> Iterator[None]:
        """A step may change things only while its run is RUNNING, and says it is doing so.

        One transaction checks the run's status and marks the step `acting`: a rollback sets
        the run ROLLING_BACK first and then waits until no step is acting, so a step still
        going when the run failed either registered before (and is waited for) or is
        refused here (RunAborted) and changes nothing.
        """
        client = self.table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table.name,
                            "Key": {"pk": f"RUN#{run}", "sk": "META"},
                            "ConditionExpression": "#status = :running",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {":running": "RUNNING"},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table.name,
                            "Key": {"pk": f"RUN#{run}", "sk": f"STEP#{name}"},
                            "UpdateExpression": "SET acting = :now, acting_epoch = :epoch, #name = :name",
                            "ExpressionAttributeNames": {"#name": "name"},
                            "ExpressionAttributeValues": {":now": now_iso(), ":epoch": int(time.time()), ":name": name},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise RunAborted(f"run {run} is no longer running: step {name} makes no change") from None
            raise
        try:
            yield
        finally:
            self._update(f"RUN#{run}", f"STEP#{name}", {"name": name}, remove=("acting", "acting_epoch"))

    def update_step(self, run: str, name: str, changes: StepUpdate) -> None:
        """Write the keys `changes` sets (the step's first write creates its record)."""
        values = {"name": name, "updated_at": now_iso(), "schema_version": SCHEMA_VERSION, **self._changes(changes)}
        self._update(f"RUN#{run}", f"STEP#{name}", values)
