"""The ledger's records: every kind of item goes in and comes back as its model, and an item
with a key the model does not know, or without one it needs, fails loudly, naming the key."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from lambdas.data.ledger import Ledger
from lambdas.data.records import (
    SCHEMA_VERSION,
    RecordInvalid,
    ReleaseRecord,
    RollbackPoint,
    RunRecord,
    RunUpdate,
    StageRecord,
    StepRecord,
    StepUpdate,
)
from lambdas.data.releases import ReleaseStore
from tests.unit.conftest import REGION, ledger_table

RUN = "install-2-8-0-abc"
HOLDER = f"arn:aws:states:{REGION}:000000000000:execution:installer:{RUN}"


@pytest.fixture
def ledger(aws: None) -> Ledger:
    return Ledger(ledger_table())


def stage_record(**changes: Any) -> StageRecord:
    return StageRecord(
        stage="vpc",
        stack_name="dataall-test-vpc",
        stack_id=f"arn:aws:cloudformation:{REGION}:000000000000:stack/dataall-test-vpc/1",
        version="2.8.0",
        template_sha256="ab" * 32,
        parameters={"Cidr": "10.0.0.0/16"},
        outputs={"VpcId": "vpc-1"},
        status="CREATE_COMPLETE",
        stateful=False,
        run=RUN,
    ).model_copy(update=changes)


def run_record() -> RunRecord:
    return RunRecord(
        run=RUN,
        action="install",
        version="2.8.0",
        source="cli",
        execution_arn=HOLDER,
        status="RUNNING",
        options={"ProdSizing": False, "Replicas": 2},
        params={"ResourcePrefix": "dataall"},
        previous=None,
        order=["vpc", "aurora"],
        after={"vpc": [], "aurora": ["vpc"]},
        unchanged=["kms"],
        waves=[["vpc"], ["aurora"]],
        drift_detections={},
        started="2026-12-04T10:00:00.000Z",
    )


def raw_item(ledger: Ledger, pk: str, sk: str) -> dict[str, Any]:
    item: dict[str, Any] = ledger.table.get_item(Key={"pk": pk, "sk": sk})["Item"]
    return item


# ---------------------------------------------------------------------- round trips
def test_the_lock_round_trips(ledger: Ledger) -> None:
    ledger.acquire_lock(HOLDER, RUN, is_running=lambda arn: True)

    lock = ledger.lock()

    assert lock is not None and (lock.holder, lock.run, lock.schema_version) == (HOLDER, RUN, SCHEMA_VERSION)
    assert lock.since.endswith("Z")


def test_the_current_release_round_trips(ledger: Ledger) -> None:
    ledger.set_current_release(ReleaseRecord(version="2.8.0", options={"ProdSizing": True, "Replicas": 3}, run=RUN))

    current = ledger.current_release()

    assert current is not None and (current.version, current.run) == ("2.8.0", RUN)
    assert current.options == {"ProdSizing": True, "Replicas": 3}
    assert type(current.options["Replicas"]) is int, "DynamoDB's Decimal comes back as the number it was"
    assert current.updated_at, "the ledger stamps when it was written"


def test_a_stage_round_trips_alone_and_among_the_stages(ledger: Ledger) -> None:
    written = stage_record()
    ledger.put_stage(written)
    ledger.put_stage(stage_record(stage="aurora", stateful=True))

    read = ledger.stage("vpc")

    assert read is not None and read.model_copy(update={"updated_at": None}) == written
    assert sorted(ledger.stages()) == ["aurora", "vpc"]
    assert ledger.stages()["aurora"].stateful is True


def test_a_waiter_on_a_stack_round_trips_and_is_claimed_once(ledger: Ledger) -> None:
    ledger.park_on_stack("dataall-test-vpc", "token-1", RUN, "vpc")

    waiter = ledger.claim_stack_waiter("dataall-test-vpc")

    assert waiter is not None and (waiter.token, waiter.run, waiter.step) == ("token-1", RUN, "vpc")
    assert ledger.claim_stack_waiter("dataall-test-vpc") is None


def test_a_run_round_trips_with_its_updates_and_its_history_entry(ledger: Ledger) -> None:
    ledger.put_run(run_record())
    ledger.update_run(RUN, RunUpdate(status="ROLLING_BACK", rollback_started="2026-12-04T10:05:00.000Z"))
    ledger.update_run(RUN, RunUpdate(error={"stage": "aurora", "reason": "boom"}, duration_seconds=301))

    run = ledger.run(RUN)

    assert run is not None
    assert run.model_dump(exclude={"status", "rollback_started", "error", "duration_seconds", "expires_at"}) == (
        run_record().model_dump(exclude={"status", "rollback_started", "error", "duration_seconds", "expires_at"})
    )
    assert (run.status, run.rollback_started, run.duration_seconds) == ("ROLLING_BACK", "2026-12-04T10:05:00.000Z", 301)
    assert run.error == {"stage": "aurora", "reason": "boom"}
    assert isinstance(run.expires_at, int), "the ledger sets the run's time to live"
    [entry] = ledger.latest_runs(1)
    assert (entry.run, entry.action, entry.version, entry.execution_arn) == (RUN, "install", "2.8.0", HOLDER)


def test_a_step_round_trips_as_the_sum_of_its_updates(ledger: Ledger) -> None:
    ledger.put_run(run_record())
    ledger.update_step(RUN, "vpc", StepUpdate(rollback_key="runs/x/rollback/vpc.json", started_epoch=1700000000))
    with ledger.acting(RUN, "vpc"):
        assert ledger.step(RUN, "vpc").acting
    ledger.update_step(RUN, "vpc", StepUpdate(executed=True, expected_seconds=None, parameters={"Cidr": "10.0.0.0/16"}))
    ledger.update_step(RUN, "vpc", StepUpdate(turn_token="token-2"))
    assert ledger.claim_turn(RUN, "vpc") == "token-2"

    step = ledger.step(RUN, "vpc")

    assert step.name == "vpc" and step.rollback_key == "runs/x/rollback/vpc.json"
    assert step.started_epoch == 1700000000 and type(step.started_epoch) is int
    assert step.executed is True and step.expected_seconds is None
    assert step.parameters == {"Cidr": "10.0.0.0/16"}
    assert step.turn_released and step.acting is None, "acting is removed when the call ends"
    assert ledger.steps(RUN) == {"vpc": step}


def test_a_step_never_written_reads_as_a_record_with_only_its_name(ledger: Ledger) -> None:
    assert ledger.step(RUN, "aurora") == StepRecord(name="aurora")


def test_a_rollback_point_round_trips_through_the_artifacts_bucket(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    store = ReleaseStore(s3, "artifacts")
    point = RollbackPoint(
        absent=False, stack_id="arn:1", status="UPDATE_COMPLETE", template="{}", parameters={"A": "1"},
        tags={"dataall-installer:stage": "vpc"}, ledger=stage_record(),
    )  # fmt: skip

    key = store.save_rollback_point(RUN, "vpc", point)

    assert store.rollback_point(key) == point
    assert store.rollback_point(store.save_rollback_point(RUN, "s3", RollbackPoint(absent=True))).ledger is None


# ---------------------------------------------------------------------- older items
def test_an_item_written_before_records_had_a_version_reads_as_version_1(ledger: Ledger) -> None:
    ledger.table.put_item(
        Item={"pk": f"RUN#{RUN}", "sk": "STEP#vpc", "name": "vpc", "executed": True, "started_epoch": Decimal(5)}
    )

    step = ledger.step(RUN, "vpc")

    assert step.schema_version == 1 and step.executed is True and step.started_epoch == 5


def test_a_rollback_point_saved_with_the_whole_stage_item_still_loads(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    store = ReleaseStore(s3, "artifacts")
    old_ledger = {"pk": "STAGE#vpc", "sk": "CURRENT", **stage_record().model_dump(exclude={"schema_version"})}
    s3.put_object(Bucket="artifacts", Key="old.json", Body=json.dumps({"absent": True, "ledger": old_ledger}).encode())

    point = store.rollback_point("old.json")

    assert point.ledger is not None and point.ledger.stack_id == stage_record().stack_id


# ---------------------------------------------------------------------- loud failures
def test_an_item_with_an_unknown_key_fails_naming_the_key(ledger: Ledger) -> None:
    ledger.table.put_item(Item={"pk": f"RUN#{RUN}", "sk": "STEP#vpc", "name": "vpc", "exectued": True})

    with pytest.raises(
        RecordInvalid, match=r"RUN#install-2-8-0-abc/STEP#vpc is not a StepRecord: unknown key 'exectued'"
    ):
        ledger.step(RUN, "vpc")


def test_an_item_without_a_required_key_fails_naming_the_key(ledger: Ledger) -> None:
    item = {"pk": "STAGE#vpc", "sk": "CURRENT", **stage_record().model_dump(exclude={"stack_id", "updated_at"})}
    ledger.table.put_item(Item=item)

    with pytest.raises(RecordInvalid, match=r"STAGE#vpc/CURRENT is not a StageRecord: missing key 'stack_id'"):
        ledger.stage("vpc")
    with pytest.raises(RecordInvalid, match="missing key 'stack_id'"):
        ledger.stages()


def test_an_item_of_a_newer_schema_is_refused(ledger: Ledger) -> None:
    ledger.table.put_item(
        Item={"pk": "LOCK", "sk": "LOCK", "holder": HOLDER, "run": RUN, "since": "x", "schema_version": 2}
    )

    with pytest.raises(RecordInvalid, match="key 'schema_version'"):
        ledger.lock()


def test_a_misspelt_key_is_refused_before_it_is_written(ledger: Ledger) -> None:
    with pytest.raises(ValidationError, match="exectued"):
        StepUpdate.model_validate({"exectued": True})
    with pytest.raises(ValidationError, match="abandonned_for"):
        RunUpdate.model_validate({"abandonned_for": RUN})

    assert ledger.steps(RUN) == {}


def test_a_lock_taken_over_marks_the_dead_run_abandoned_but_makes_no_record_for_a_run_that_wrote_none(
    ledger: Ledger,
) -> None:
    ledger.put_run(run_record())

    assert ledger.abandon_run(RUN, "redeploy-2-8-0-def") is True
    assert ledger.abandon_run("install-2-8-0-never", "redeploy-2-8-0-def") is False

    run = ledger.run(RUN)
    assert run is not None and (run.status, run.abandoned_for) == ("ABANDONED", "redeploy-2-8-0-def")
    assert ledger.run("install-2-8-0-never") is None
