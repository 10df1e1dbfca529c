"""The ways in: the bootstrap stack's trigger, console-started runs, the schedule, and
deleting the bootstrap stack. One installation is shared by the tests of this module,
in order (an install takes half a minute); each test says what it changes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from installer.aws import Aws
from installer.operations import start
from lambdas.run.refusals import refused
from tests.conftest import cached_synthetic_release
from tests.sandbox.conftest import INSTALLATION, Outcome, deploy, run, wait

pytestmark = pytest.mark.xdist_group("ways-in")


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Any) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


def console_run(aws: Aws, installed: Outcome, document: dict[str, Any]) -> dict[str, Any]:
    """An execution started by hand in the Step Functions console: no client-side checks."""
    execution = aws.client("stepfunctions").start_execution(
        stateMachineArn=installed.outputs["StateMachineArn"],
        name=f"console-{time.monotonic_ns()}",
        input=json.dumps(document),
    )
    return wait(installed.reader, execution["executionArn"])


def stack_names(aws: Aws) -> set[str]:
    cfn = aws.client("cloudformation")
    return {
        s["StackName"]
        for page in cfn.get_paginator("describe_stacks").paginate()
        for s in page["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def test_an_update_of_nothing_the_installer_uses_starts_no_run(aws: Aws, release: Any, installed: Outcome) -> None:
    before = installed.reader.ledger.latest_runs(1)[0].run

    outcome = deploy(aws, release, {"AdminEmail": "ops@example.com"})

    assert outcome.changed is False
    assert installed.reader.ledger.latest_runs(1)[0].run == before


def test_an_option_change_starts_a_redeploy_with_the_new_option(aws: Aws, release: Any, installed: Outcome) -> None:
    outcome = deploy(aws, release, {"LogRetentionDays": "60"})

    assert outcome.result["action"] == "redeploy"
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    current = installed.reader.ledger.current_release()
    assert current is not None and current.options["LogRetentionDays"] == 60


def test_a_new_release_version_starts_an_upgrade(aws: Aws, installed: Outcome) -> None:
    newer = cached_synthetic_release(version="2.9.0")

    outcome = deploy(aws, newer, {"LogRetentionDays": "60"})

    assert (outcome.result["action"], outcome.result["version"]) == ("upgrade", "2.9.0")
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    current = installed.reader.ledger.current_release()
    assert current is not None and current.version == "2.9.0"


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"action": "upgrade"}, "version"),
        ({"action": "redeploy", "options": {"NoSuchOption": "1"}}, "NoSuchOption"),
        ({"action": "upgrade", "version": "9.9.9"}, "release 9.9.9"),
        ({"action": "redeploy", "options": {"InternetFacing": "false"}}, "CustomDomainName"),
    ],
)
def test_a_bad_console_run_is_refused_at_once_naming_what_is_wrong_and_changes_nothing(
    aws: Aws, installed: Outcome, document: dict[str, Any], named: str
) -> None:
    stacks_before = stack_names(aws)
    current_before = installed.reader.ledger.current_release()

    result = console_run(aws, installed, document)

    execution = aws.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    refusal = refused(execution)
    assert execution["status"] == "SUCCEEDED"  # a refusal, not a failure: no failed-run alarm
    assert refusal is not None and named in json.dumps(refusal)
    assert stack_names(aws) == stacks_before
    assert installed.reader.ledger.current_release() == current_before
    assert installed.reader.ledger.lock() is None


def test_an_input_the_schema_refuses_never_starts_an_execution(aws: Aws, installed: Outcome) -> None:
    from lambdas.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="action"):
        start(aws, installed.outputs, {"action": "reinstall"})


def test_a_console_redeploy_puts_back_a_stage_deleted_by_hand_and_one_edited_by_hand(
    aws: Aws, installed: Outcome
) -> None:
    cfn = aws.client("cloudformation")
    deleted, edited = INSTALLATION.stage_stack("monitoring"), INSTALLATION.stage_stack("params")
    cfn.delete_stack(StackName=deleted)
    original = cfn.get_template(StackName=edited)["TemplateBody"]
    hand_made = json.loads(original) if isinstance(original, str) else dict(original)
    hand_made["Resources"]["HandMade"] = {"Type": "AWS::SSM::Parameter",
                                         "Properties": {"Type": "String", "Value": "by hand"}}  # fmt: skip
    params = cfn.describe_stacks(StackName=edited)["Stacks"][0]["Parameters"]
    cfn.update_stack(StackName=edited, TemplateBody=json.dumps(hand_made), Parameters=params,
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])  # fmt: skip
    for name in (deleted, edited):
        settle(aws, name)

    result = run(aws, installed, {"action": "redeploy"})

    assert result["status"] == "SUCCEEDED", result["error"]
    assert result["stages"]["monitoring"]["status"] == "CREATE_COMPLETE"
    assert result["stages"]["params"]["status"] == "UPDATE_COMPLETE"
    body = cfn.get_template(StackName=edited)["TemplateBody"]
    assert "HandMade" not in (json.loads(body) if isinstance(body, str) else body)["Resources"]


def test_a_redeploy_reports_drift_made_outside_cloudformation(aws: Aws, installed: Outcome) -> None:
    sqs = installed.reader.ledger.stage("sqs")
    assert sqs is not None
    queue_url = sqs.outputs["QueueUrl"]
    aws.client("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "42"})

    result = run(aws, installed, {"action": "redeploy"})

    assert result["status"] == "SUCCEEDED", result["error"]
    assert result["drift"]["sqs"]["status"] == "DRIFTED"
    assert result["drift"]["params"]["status"] == "IN_SYNC"
    (queue,) = [r for r in result["drift"]["sqs"]["resources"] if r["type"] == "AWS::SQS::Queue"]
    assert {"path": "/VisibilityTimeout", "expected": "900", "actual": "42"} in queue["differences"]


def test_the_schedule_starts_a_redeploy(aws: Aws, release: Any, installed: Outcome) -> None:
    # The release and options the schedule is added to (already there when this module's
    # tests ran in order; another module's test on this worker may have deployed in between).
    current = deploy(aws, cached_synthetic_release(version="2.9.0"), {"LogRetentionDays": "60"})
    assert not current.changed or current.result["status"] == "SUCCEEDED", current.result["error"]

    outcome = deploy(aws, cached_synthetic_release(version="2.9.0"),
                     {"LogRetentionDays": "60", "RedeploySchedule": "cron(0 3 ? * SUN *)"})  # fmt: skip
    assert outcome.changed is False  # the schedule is not something a run uses

    schedules = aws.client("scheduler").list_schedules()["Schedules"]
    assert len(schedules) == 1
    schedule = aws.client("scheduler").get_schedule(Name=schedules[0]["Name"])
    assert schedule["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    target = schedule["Target"]
    assert json.loads(target["Input"]) == {"action": "redeploy", "source": "schedule"}

    # What EventBridge Scheduler does when the schedule fires: invoke the target with its input.
    answer = aws.client("lambda").invoke(FunctionName=target["Arn"], Payload=target["Input"].encode())
    execution_arn = json.loads(answer["Payload"].read())["executionArn"]
    result = wait(outcome.reader, execution_arn)

    assert result["action"] == "redeploy" and result["status"] == "SUCCEEDED", result["error"]
    record = outcome.reader.ledger.run(execution_arn.rsplit(":", 1)[1])
    assert record is not None and record.source == "schedule"


def test_deleting_the_bootstrap_stack_with_retain_keeps_every_stage(aws: Aws, installed: Outcome) -> None:
    stages = {n for n in stack_names(aws) if n != INSTALLATION.stack_name}
    cfn = aws.client("cloudformation")

    cfn.delete_stack(StackName=INSTALLATION.stack_name)
    final = settle(aws, INSTALLATION.stack_name)

    assert final == "DELETE_COMPLETE"
    assert stack_names(aws) == stages


def settle(aws: Aws, name: str, timeout: float = 300) -> str:
    cfn = aws.client("cloudformation")
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        except ClientError as error:
            if "does not exist" in str(error):
                return "DELETE_COMPLETE"
            raise
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)
