"""Malformed executions started by hand against an installed sandbox: each is refused, none
changes anything, none reads as a failure.

Every stage stack's LastUpdatedTime and status and every item of the ledger are compared
before and after; the execution ends SUCCEEDED with `result.status` REFUSED (the
failed-execution alarm counts FAILED executions only), naming the field at fault. An input
over Step Functions' 256 KiB is refused by StartExecution itself, as AWS does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from installer.aws import Aws
from lambdas.run.refusals import refused, run_result
from tests.sandbox.conftest import Outcome, deploy

pytestmark = pytest.mark.xdist_group("refused-runs")


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Any) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


def stacks(aws: Aws) -> dict[str, tuple[str, str]]:
    """Every stack: (status, LastUpdatedTime or CreationTime)."""
    return {
        s["StackName"]: (s["StackStatus"], str(s.get("LastUpdatedTime") or s["CreationTime"]))
        for page in aws.client("cloudformation").get_paginator("describe_stacks").paginate()
        for s in page["Stacks"]
    }


def ledger(aws: Aws, installed: Outcome) -> list[dict[str, Any]]:
    table = aws.table(installed.outputs["LedgerTableName"])
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (str(item["pk"]), str(item["sk"])))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def start_and_wait(aws: Aws, installed: Outcome, text: str, timeout: float = 120) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=installed.outputs["StateMachineArn"], name=f"by-hand-{time.monotonic_ns()}", input=text
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        execution: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        assert time.monotonic() < deadline, f"{arn} still RUNNING after {timeout} s"
        time.sleep(0.2)


MALFORMED = [
    ("a list", "[1, 2]", "(top level)"),
    ("a string", '"install"', "(top level)"),
    ("null", "null", "(top level)"),
    ("a number", "42", "(top level)"),
    ("a boolean", "true", "(top level)"),
    ("a 250 KB input", json.dumps({"action": "redeploy", "options": {"Big": "x" * 250_000}}), "(top level)"),
    ("a version with a trailing newline", json.dumps({"action": "upgrade", "version": "2.8.0\n"}), "version"),
    ("a 5,000-character option value", json.dumps({"action": "redeploy", "options": {"Name": "x" * 5000}}), None),
    ("an unknown field", json.dumps({"action": "redeploy", "colour": "blue"}), "colour"),
    ("an injected option name", json.dumps({"action": "redeploy", "options": {"A;rm -rf /": "1"}}), None),
    ("a release that is nowhere", json.dumps({"action": "upgrade", "version": "9.9.9"}), "version"),
]


def test_malformed_executions_are_refused_and_change_nothing(aws: Aws, installed: Outcome) -> None:
    stacks_before, ledger_before = stacks(aws), ledger(aws, installed)

    outcomes = {case: (start_and_wait(aws, installed, text), field) for case, text, field in MALFORMED}

    for case, (execution, field) in outcomes.items():
        assert execution["status"] == "SUCCEEDED", (case, execution.get("error"), execution.get("cause"))
        refusal = refused(execution)
        assert refusal is not None, (case, run_result(execution))
        if field is not None:
            assert refusal["field"] == field, (case, refusal)
        else:
            assert str(refusal["field"]).startswith("options."), (case, refusal)
        assert refusal["reason"], case
    assert stacks(aws) == stacks_before
    assert ledger(aws, installed) == ledger_before


def test_a_run_started_while_another_holds_the_lock_is_refused_not_failed(aws: Aws, installed: Outcome) -> None:
    """The issue's case: a second run while one is going was refused correctly but ended
    FAILED, and the failed-run alarm fired for a run that changed nothing. The lock's holder
    here is an execution that only waits (a year of modelled time: the sandbox's clock runs
    hundreds of times faster), so the lock is held for as long as the test needs."""
    sfn = aws.client("stepfunctions")
    waiting = sfn.create_state_machine(
        name=f"holds-the-lock-{time.monotonic_ns()}",
        definition=json.dumps(
            {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 31_536_000, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/holder",
    )["stateMachineArn"]
    holder = sfn.start_execution(stateMachineArn=waiting, name="holder", input="{}")["executionArn"]
    installed.reader.ledger.acquire_lock(holder, "redeploy-current-holder", lambda arn: False)
    try:
        stacks_before, ledger_before = stacks(aws), ledger(aws, installed)

        execution = start_and_wait(aws, installed, json.dumps({"action": "redeploy"}))

        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        refusal = refused(execution)
        assert refusal is not None and refusal["code"] == "LockHeld", run_result(execution)
        assert "redeploy-current-holder holds the installer lock" in refusal["reason"]
        assert stacks(aws) == stacks_before
        assert ledger(aws, installed) == ledger_before
    finally:
        installed.reader.ledger.release_lock(holder)
        sfn.stop_execution(executionArn=holder)


def test_an_input_over_256_kib_is_refused_by_start_execution_as_aws_does(aws: Aws, installed: Outcome) -> None:
    with pytest.raises(ClientError) as refused_start:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=installed.outputs["StateMachineArn"],
            name=f"too-large-{time.monotonic_ns()}",
            input=json.dumps({"action": "redeploy", "pad": "x" * 300_000}),
        )

    assert refused_start.value.response["Error"]["Code"] == "ValidationException"
    assert "262144" in refused_start.value.response["Error"]["Message"]


def test_input_nested_deeper_than_the_sandbox_parses_gets_an_error_with_a_code(aws: Aws, installed: Outcome) -> None:
    with pytest.raises(ClientError) as refused_start:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=installed.outputs["StateMachineArn"],
            name=f"too-deep-{time.monotonic_ns()}",
            input="[" * 5000 + "]" * 5000,
        )

    assert refused_start.value.response["Error"]["Code"] == "InvalidExecutionInput"


def test_a_well_formed_run_after_the_refusals_still_succeeds(aws: Aws, installed: Outcome) -> None:
    execution = start_and_wait(aws, installed, json.dumps({"action": "redeploy"}), timeout=600)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    result = run_result(execution)
    assert result is not None and result["status"] == "SUCCEEDED"


def test_the_cli_reads_a_refused_run_as_refused_naming_the_field(aws: Aws, installed: Outcome) -> None:
    """The operator's view of a refused run (status, `--json`): REFUSED, nothing changed, the field
    at fault, even for an input that is not a JSON object."""
    from installer.operations import result_document

    for text, field in (('"install"', "(top level)"), (json.dumps({"action": "upgrade", "version": "2.8.0\n"}),
                                                         "version")):  # fmt: skip
        execution = start_and_wait(aws, installed, text)
        result = result_document(installed.reader.view(execution["executionArn"]), 0)

        assert result["status"] == "REFUSED", result
        assert result["error"]["field"] == field and result["error"]["reason"].startswith("refused, nothing changed")
