"""What `status` and the live progress show of a run (installer.operations.RunReader.view)."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from installer.aws import Aws
from installer.operations import Installation, RunReader
from lambdas.data.ledger import now_iso
from lambdas.data.records import RunRecord
from tests.unit.conftest import LEDGER, REGION, moto_deps
from tests.unit.releases import small_release, stage

ARTIFACTS = "dataall-test-artifacts"
ROLE = "arn:aws:iam::123456789012:role/installer"
MIGRATE = {"name": "migrate", "kind": "migrate", "depends_on": ["aurora"], "timeout": 900}
#: The run stays RUNNING: moto only records StartExecution (a sandbox started in the same process
#: makes moto run state machines, and this definition would end at once).
RECORDED_ONLY = mock_aws(config={"stepfunctions": {"execute_state_machine": False}})


def _started(release_version: str) -> tuple[RunReader, str]:
    """A run the state machine has started (within `mock_aws`), its release published."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="installer", roleArn=ROLE, definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Succeed"}}})
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=machine, name="run-1", input=json.dumps({"action": "install", "version": release_version})
    )["executionArn"]
    reader = RunReader(
        Aws(region=REGION), Installation(), {"LedgerTableName": LEDGER, "ArtifactsBucketName": ARTIFACTS}
    )
    return reader, execution


@RECORDED_ONLY
def test_before_plan_has_written_the_run_every_stage_and_action_of_the_release_is_pending() -> None:
    # Given a run that has started but whose Plan has not yet written it to the ledger
    release = small_release(stage("aurora"), stage("api", depends_on=("aurora",)), actions=(MIGRATE,))
    deps = moto_deps(ARTIFACTS)
    reader, execution = _started(release.version)
    release.publish(deps.store.s3, ARTIFACTS)

    view = reader.view(execution)

    # Then the live progress shows every step still to come, not an action skipped it will run
    assert {s.name: (s.status, s.outcome) for s in view.stages} == {
        "aurora": ("PENDING", "PENDING"),
        "api": ("PENDING", "PENDING"),
        "migrate": ("PENDING", "PENDING"),
    }


@RECORDED_ONLY
def test_once_planned_a_step_the_run_leaves_out_is_skipped() -> None:
    # Given the same run once Plan wrote it: the migrate action and api planned, aurora not
    release = small_release(stage("aurora"), stage("api"), actions=({**MIGRATE, "depends_on": []},))
    deps = moto_deps(ARTIFACTS)
    reader, execution = _started(release.version)
    release.publish(deps.store.s3, ARTIFACTS)
    deps.ledger.put_run(
        RunRecord(
            run="run-1", action="install", version=release.version, status="RUNNING", started=now_iso(),
            waves=[["api", "migrate"]],
        )
    )  # fmt: skip

    view = reader.view(execution)

    assert {s.name: s.status for s in view.stages} == {"aurora": "SKIPPED", "api": "PENDING", "migrate": "PENDING"}
