"""Malformed executions started by hand against an installed sandbox: each is refused, none
changes anything, none reads as a failure.

Every stage stack's LastUpdatedTime and status and every item of the ledger are compared
before and after; the execution ends SUCCEEDED with `result.status` REFUSED (the
failed-execution alarm counts FAILED executions only), naming the field at fault. An input
over Step Functions' 256 KiB is refused by StartExecution itself, as AWS does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from installer.aws import Aws
from installer.build import Release
from installer.cli import app
from installer.operations import plan_run, publish
from lambdas.run.refusals import refused, run_result
from tests.sandbox.cloudformation.conftest import settle_change_set
from tests.sandbox.conftest import INSTALLATION, Outcome, deploy, run

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


# ---------------------------------------------------------------------- plan and the data-loss guard
# A template edited to change the database's create-only `DatabaseName` (AWS::RDS::DBCluster:
# "Update requires: Replacement",
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbcluster.html):
# a plan-only run previews it from change sets it deletes; Plan refuses the run naming the
# stage, resource, type and property, changing nothing (tests/sandbox/test_plan.py: allowed).
def edited(release: Release, folder: Path, version: str, stage: str, edit: Callable[[dict[str, Any]], None]) -> Release:
    """The release as `version`, with one stage's template edited (every other file linked)."""
    manifest = json.loads((release.path / "manifest.json").read_text())
    template_name = release.manifest.steps[stage].template
    assert template_name is not None
    for name in manifest["files"]:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name != template_name:
            target.symlink_to(release.path / name)
    document = release.template(stage)
    edit(document)
    body = json.dumps(document, indent=1).encode()
    (folder / template_name).write_bytes(body)
    manifest["files"][template_name] = hashlib.sha256(body).hexdigest()
    manifest["version"] = version
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return Release.load(folder)


def rename_database(template: dict[str, Any]) -> None:
    template["Resources"]["Cluster"]["Properties"]["DatabaseName"] = "renamed"


@pytest.fixture(scope="module")
def renamed(aws: Aws, release: Release, tmp_path_factory: pytest.TempPathFactory) -> Release:
    newer = edited(release, tmp_path_factory.mktemp("renamed"), "2.8.1", "aurora", rename_database)
    publish(aws, newer)
    return newer


def change_sets(aws: Aws) -> list[str]:
    cfn = aws.client("cloudformation")
    return [
        summary["ChangeSetName"]
        for name in stacks(aws)
        for summary in cfn.list_change_sets(StackName=name)["Summaries"]
    ]


def test_a_plan_previews_the_database_replacement_and_leaves_no_change_set_lock_or_run(
    aws: Aws, installed: Outcome, renamed: Release
) -> None:
    before = (stacks(aws), ledger(aws, installed))

    preview = plan_run(aws, installed.outputs, {"action": "upgrade", "version": renamed.version})

    by_stage = {stage["stage"]: stage for stage in preview["stages"]}
    cluster = next(r for r in by_stage["aurora"]["resources"] if r["logical_id"] == "Cluster")
    assert by_stage["aurora"]["action"] == "update"
    assert (cluster["action"], cluster["replacement"], cluster["forcing"]) == ("Modify", "True", ["DatabaseName"])
    assert cluster["holds_data"] == "type"
    assert {stage["action"] for name, stage in by_stage.items() if name != "aurora"} <= {"nothing", "run", "update"}
    assert {risk["key"] for risk in preview["at_risk"]} >= {"aurora/Cluster"}
    assert preview["refused"] is True
    # Nothing executed, nothing kept: no change set, no lock, no run in the ledger, no stack touched.
    assert change_sets(aws) == []
    assert (stacks(aws), ledger(aws, installed)) == before


def test_the_preview_says_what_the_change_set_says(aws: Aws, installed: Outcome, renamed: Release) -> None:
    """The same change set created by hand: the same resources, actions, replacements."""
    preview = plan_run(aws, installed.outputs, {"action": "upgrade", "version": renamed.version})
    cfn = aws.client("cloudformation")
    stack = INSTALLATION.stage_stack("aurora")
    parameters = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName="by-hand",
        TemplateBody=(renamed.path / "blueprints" / "aurora.template.json").read_text(),
        Parameters=[{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in parameters],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    try:
        described = settle_change_set(cfn, stack, "by-hand")
    finally:
        cfn.delete_change_set(StackName=stack, ChangeSetName="by-hand")

    expected = {
        (
            c["ResourceChange"]["LogicalResourceId"],
            c["ResourceChange"]["Action"],
            c["ResourceChange"].get("Replacement"),
        )
        for c in described["Changes"]
    }
    aurora = next(stage for stage in preview["stages"] if stage["stage"] == "aurora")
    assert {(r["logical_id"], r["action"], r["replacement"]) for r in aurora["resources"]} == expected


def test_plan_refuses_the_run_naming_stage_resource_type_and_property_and_changes_nothing(
    aws: Aws, installed: Outcome, renamed: Release
) -> None:
    before = (stacks(aws), installed.reader.ledger.current_release())

    result = run(aws, installed, {"action": "upgrade", "version": renamed.version, "source": "cli"})

    execution = aws.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    refusal = refused(execution)
    assert execution["status"] == "SUCCEEDED" and result["status"] == "REFUSED"
    assert refusal is not None and refusal["code"] == "DataAtRisk"
    for named in ("stage aurora", "Cluster", "AWS::RDS::DBCluster", "DatabaseName", '"aurora/Cluster"'):
        assert named in refusal["reason"]
    assert (stacks(aws), installed.reader.ledger.current_release()) == before
    assert installed.reader.ledger.lock() is None
    assert change_sets(aws) == []


# ---------------------------------------------------------------------- the approval gate
# RequireApproval: a run that would change something waits after Plan on a task token
# (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token);
# rejected, it ends REFUSED with nothing changed (tests/sandbox/test_approval.py: approved, timed out).
def awaiting_approval(installed: Outcome, execution_arn: str, timeout: float = 120) -> str:
    """The run's name once it waits for an answer (its token in the ledger)."""
    name = execution_arn.rsplit(":", 1)[-1]
    deadline = time.monotonic() + timeout
    while True:
        record = installed.reader.ledger.run(name)
        if record is not None and record.approval_token:
            return name
        assert time.monotonic() < deadline, f"run {name} never asked for approval"
        time.sleep(0.1)


def test_a_rejected_run_ends_refused_and_changes_nothing(aws: Aws, release: Any, installed: Outcome) -> None:
    from installer.operations import answer_approval, start
    from tests.sandbox.conftest import wait

    assert deploy(aws, release, {"RequireApproval": "true"}).changed is False  # no run for this parameter
    before = (stacks(aws), installed.reader.ledger.current_release())
    execution_arn = start(aws, installed.outputs, {"action": "redeploy", "options": {"LogRetentionDays": 60}})
    name = awaiting_approval(installed, execution_arn)
    shown = CliRunner().invoke(app, ["status", "--endpoint-url", str(aws.endpoint_url), "--env", INSTALLATION.env])
    waiting = _status_json(aws)

    answer_approval(installed.reader, name, approve=False, reason="not on a Friday")

    result = wait(installed.reader, execution_arn)
    assert result["status"] == "REFUSED" and result["error"]["error"] == "Rejected", result
    assert waiting["status"] == "RUNNING", waiting
    assert waiting["awaiting_approval"]["approve"] == f"dataall-installer approve {name}", waiting
    assert f"waiting for approval since {waiting['awaiting_approval']['requested']}" in shown.output, shown.output
    assert "awaiting_approval" not in _status_json(aws)  # answered: it waits no more
    assert (stacks(aws), installed.reader.ledger.current_release()) == before
    assert installed.reader.ledger.lock() is None
    record = installed.reader.ledger.run(name)
    assert record is not None and record.status == "REFUSED"
    preview = json.loads(installed.reader.store.read(str(record.approval_preview)))
    assert preview["action"] == "redeploy" and preview["stages"]


def _status_json(aws: Aws) -> dict[str, Any]:
    answered = CliRunner().invoke(
        app, ["status", "--endpoint-url", str(aws.endpoint_url), "--env", INSTALLATION.env, "--json"]
    )
    assert answered.exit_code == 0, answered.output
    document: dict[str, Any] = json.loads(answered.output.strip().splitlines()[-1])
    return document


# ---------------------------------------------------------------------- status after a hand-made change
@pytest.mark.slow  # a redeploy: 16 s on 2 loaded cores
def test_a_stage_stack_deleted_by_hand_reads_missing_and_the_next_redeploy_puts_it_back(
    aws: Aws, installed: Outcome
) -> None:
    """Issue 17 saw `SKIPPED` for a stage whose stack was deleted by hand: its stack's status is
    MISSING (the ledger says it is installed, its stack is gone) beside what the last run did to
    it, in the text and in `--json`, and a redeploy creates it again (Plan checks each stack
    itself, not only the ledger)."""
    cfn = aws.client("cloudformation")
    stack = INSTALLATION.stage_stack("params")  # a stage no other stage reads
    cfn.delete_stack(StackName=stack)
    deadline = time.monotonic() + 60
    while any(name == stack for name in stacks(aws)):
        assert time.monotonic() < deadline, stacks(aws)[stack]
        time.sleep(0.1)

    shown = _status_json(aws)
    text = CliRunner().invoke(app, ["status", "--endpoint-url", str(aws.endpoint_url), "--env", INSTALLATION.env])
    result = run(aws, installed, {"action": "redeploy", "source": "cli"})

    assert shown["stages"]["params"]["status"] == "MISSING", shown["stages"]
    assert shown["stages"]["params"]["outcome"] == "CREATED"  # what the install did; the stack is gone since
    assert any(" params " in line and " MISSING " in line for line in text.output.splitlines()), text.output
    assert result["status"] == "SUCCEEDED", result["error"]
    assert result["stages"]["params"]["outcome"] == "CREATED"
    assert stacks(aws)[stack][0] == "CREATE_COMPLETE"
