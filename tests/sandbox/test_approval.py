"""The approval gate through whole runs (`make test-slow`; the default tier's sample, a rejected
run, is in test_refused_runs.py, which shares its install).

RequireApproval on: a run that would change something waits after Plan on a task token; the
CLI's `approve RUN` sends SendTaskSuccess and the run goes on; with no answer within the
timeout the task fails with `States.Timeout` and the run ends REFUSED with nothing changed
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from installer.aws import Aws
from installer.cli import app
from installer.operations import start
from tests.sandbox.conftest import INSTALLATION, Outcome, deploy, wait
from tests.sandbox.test_refused_runs import awaiting_approval, stacks

pytestmark = [pytest.mark.xdist_group("approval"), pytest.mark.slow]


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Any) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


def test_an_approved_run_goes_on_and_changes_what_its_preview_said(aws: Aws, release: Any, installed: Outcome) -> None:
    assert deploy(aws, release, {"RequireApproval": "true"}).changed is False
    execution_arn = start(aws, installed.outputs, {"action": "redeploy", "options": {"LogRetentionDays": 60}})
    name = awaiting_approval(installed, execution_arn)
    record = installed.reader.ledger.run(name)
    assert record is not None
    preview = json.loads(installed.reader.store.read(str(record.approval_preview)))
    previewed = {stage["stage"] for stage in preview["stages"] if stage["action"] == "update"}
    assert installed.reader.ledger.lock() is not None  # the run keeps the lock while it waits

    answered = CliRunner().invoke(
        app, ["approve", name, "--endpoint-url", str(aws.endpoint_url), "--env", INSTALLATION.env, "--json"]
    )

    assert answered.exit_code == 0, answered.output
    result = json.loads(answered.output.strip().splitlines()[-1])
    assert result["status"] == "SUCCEEDED", result
    current = installed.reader.ledger.current_release()
    assert current is not None and current.options["LogRetentionDays"] == 60
    updated = {name for name, step in installed.reader.ledger.steps(name).items() if step.result == "UPDATED"}
    assert previewed and updated <= previewed


def test_a_run_no_one_answers_ends_refused_with_nothing_changed(aws: Aws, release: Any, installed: Outcome) -> None:
    # The shortest timeout the parameter takes (60 s) lasts 0.12 s at the tests' scale.
    assert deploy(aws, release, {"RequireApproval": "true", "ApprovalTimeoutSeconds": "60"}).changed is False
    before = (stacks(aws), installed.reader.ledger.current_release())

    execution_arn = start(aws, installed.outputs, {"action": "redeploy", "options": {"LogRetentionDays": 90}})

    result = wait(installed.reader, execution_arn)
    assert result["status"] == "REFUSED" and result["error"]["error"] == "ApprovalTimedOut", result
    assert (stacks(aws), installed.reader.ledger.current_release()) == before
    assert installed.reader.ledger.lock() is None
    late = CliRunner().invoke(
        app,
        ["approve", execution_arn, "--endpoint-url", str(aws.endpoint_url), "--env", INSTALLATION.env],
    )
    assert late.exit_code == 2 and "no longer waits" in late.output
