"""At the edges (issue 17, item 4), through the real CLI against one shared installation, in
order; `status --json` is read after each scenario (`make test-slow`: each scenario is a few
runs).

- a failed upgrade is retried by the same `upgrade`: a new run, which succeeds; once more, the
  release is installed and nothing is started (NOTHING_TO_DO);
- a release corrected under the same version: refused without `--replace`, and with it the next
  run deploys the corrected content, not the copy an earlier run kept;
- an option set by a run (`run redeploy --option`) is kept by a later upgrade on every stage
  that uses it, and `status` names that run as the option's source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from installer.aws import Aws
from installer.build import Release
from installer.cli import app
from tests.sandbox.conftest import INSTALLATION, Outcome, deploy
from tests.sandbox.test_refused_runs import edited

pytestmark = [pytest.mark.xdist_group("edge-scenarios"), pytest.mark.slow]


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Release) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


def marked(text: str) -> Any:
    """An edit that gives a stage's template one more resource, holding `text`."""

    def edit(template: dict[str, Any]) -> None:
        template["Resources"]["EdgeMarker"] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": text},
        }

    return edit


def release_with(base: Release, folder: Path, version: str, marks: dict[str, str]) -> Release:
    """`base` as `version`, each stage of `marks` given a marker resource holding its text."""
    made = base
    for index, (stage, text) in enumerate(sorted(marks.items())):
        (folder / str(index)).mkdir()
        made = edited(made, folder / str(index), version, stage, marked(text))
    return made


def cli(aws: Aws, *args: str, json_mode: bool = True) -> tuple[int, dict[str, Any], str]:
    """`dataall-installer ARGS` at the sandbox's endpoint: its exit code, its last JSON line
    ({} without --json) and its standard error. Never a traceback."""
    flags = ["--endpoint-url", str(aws.endpoint_url)]
    if args[0] != "publish":
        flags += ["--env", INSTALLATION.env]
    result = CliRunner().invoke(app, [*args, *flags, *(["--json"] if json_mode else [])])
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    document: dict[str, Any] = json.loads(lines[-1]) if json_mode else {}
    return result.exit_code, document, result.stderr


def status(aws: Aws) -> dict[str, Any]:
    exit_status, document, _ = cli(aws, "status")
    assert exit_status == 0, document
    return document


def executions(aws: Aws, installed: Outcome) -> list[str]:
    sfn = aws.client("stepfunctions")
    return sorted(
        e["executionArn"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=installed.outputs["StateMachineArn"])
        for e in page["executions"]
    )


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {name: stage["outcome"] for name, stage in document["stages"].items()}


def template_of(aws: Aws, stage: str) -> dict[str, Any]:
    body = aws.client("cloudformation").get_template(StackName=INSTALLATION.stage_stack(stage))["TemplateBody"]
    return json.loads(body) if isinstance(body, str) else dict(body)


# ---------------------------------------------------------------------- 1. retry after a failed upgrade
@pytest.fixture(scope="module")
def retried(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """2.8.1: sqs and monitoring (which reads sqs) changed, so the upgrade updates both."""
    return release_with(release, tmp_path_factory.mktemp("retried"), "2.8.1", {"sqs": "2.8.1", "monitoring": "2.8.1"})


def test_a_failed_upgrade_is_retried_by_the_same_upgrade_and_then_there_is_nothing_to_do(
    aws: Aws, installed: Outcome, retried: Release
) -> None:
    upgrade = ["upgrade", "--release", str(retried.path)]

    failed_status, failed, _ = cli(aws, *upgrade, "--fault", "monitoring:update")

    assert failed_status == 1 and failed["status"] in ("ROLLED_BACK", "FAILED"), failed
    assert outcomes(failed)["sqs"] == "RESTORED", outcomes(failed)
    assert "EdgeMarker" not in template_of(aws, "sqs")["Resources"]
    after_failure = status(aws)
    assert after_failure["installed_version"] == "2.8.0"
    assert (after_failure["execution_arn"], after_failure["status"]) == (failed["execution_arn"], failed["status"])
    assert outcomes(after_failure)["sqs"] == "RESTORED"

    retry_status, retry, _ = cli(aws, *upgrade)

    assert retry_status == 0 and retry["status"] == "SUCCEEDED", retry
    assert retry["action"] == "upgrade" and retry["version"] == "2.8.1"
    assert retry["execution_arn"] != failed["execution_arn"]
    assert {outcomes(retry)[name] for name in ("sqs", "monitoring")} == {"UPDATED"}
    assert template_of(aws, "monitoring")["Resources"]["EdgeMarker"]["Properties"]["Value"] == "2.8.1"
    after_retry = status(aws)
    assert after_retry["installed_version"] == "2.8.1"
    assert (after_retry["execution_arn"], after_retry["status"]) == (retry["execution_arn"], "SUCCEEDED")
    assert outcomes(after_retry)["monitoring"] == "UPDATED"
    runs_before = executions(aws, installed)

    again_status, again, _ = cli(aws, *upgrade)

    assert again_status == 0 and again["status"] == "NOTHING_TO_DO", again
    assert "already installed" in again["message"] and again["installed_version"] == "2.8.1"
    assert executions(aws, installed) == runs_before
    assert status(aws)["execution_arn"] == retry["execution_arn"]


# ---------------------------------------------------------------------- 2. a corrected release, same version
@pytest.fixture(scope="module")
def broken(retried: Release, tmp_path_factory: pytest.TempPathFactory) -> Release:
    return release_with(retried, tmp_path_factory.mktemp("broken"), "2.8.5", {"params": "broken"})


@pytest.fixture(scope="module")
def corrected(retried: Release, tmp_path_factory: pytest.TempPathFactory) -> Release:
    return release_with(retried, tmp_path_factory.mktemp("corrected"), "2.8.5", {"params": "corrected"})


def test_a_release_corrected_under_the_same_version_is_refused_unless_replaced_and_then_deployed(
    aws: Aws, installed: Outcome, broken: Release, corrected: Release
) -> None:
    # The story: 2.8.5 failed (its copy kept in the artifacts bucket), a corrected 2.8.5 is published.
    before = status(aws)["installed_version"]
    failed_status, failed, _ = cli(aws, "upgrade", "--release", str(broken.path), "--fault", "params:update")
    assert failed_status == 1 and failed["status"] in ("ROLLED_BACK", "FAILED"), failed
    assert status(aws)["installed_version"] == before != "2.8.5"
    runs_before = executions(aws, installed)

    refused_status, refused, _ = cli(aws, "upgrade", "--release", str(corrected.path))
    published_status, published, said = cli(aws, "publish", "--release", str(corrected.path))

    assert refused_status == 2 and refused["status"] == "REFUSED", refused
    assert (refused["error"]["code"], refused["error"]["field"]) == ("ReleaseConflict", "--release"), refused
    assert "--replace" in refused["error"]["message"]
    assert published_status == 2 and said.startswith("refused: ") and "--replace" in said, said
    assert (published["status"], published["error"]["code"], published["published"]) == (
        "REFUSED",
        "ReleaseConflict",
        [],
    ), published
    assert executions(aws, installed) == runs_before  # nothing started
    assert status(aws)["execution_arn"] == failed["execution_arn"]

    replaced_status, replaced, said = cli(aws, "publish", "--release", str(corrected.path), "--replace")
    assert replaced_status == 0 and replaced["status"] == "SUCCEEDED", said
    assert replaced["manifest_sha256"] == corrected.digest
    # What the issue ran: `run upgrade --version 2.8.5` used the broken copy the failed run had kept.
    run_status, result, _ = cli(aws, "run", "upgrade", "--version", "2.8.5")

    assert run_status == 0 and result["status"] == "SUCCEEDED", result
    assert result["execution_arn"] != failed["execution_arn"]
    assert outcomes(result)["params"] == "UPDATED"
    assert template_of(aws, "params")["Resources"]["EdgeMarker"]["Properties"]["Value"] == "corrected"
    after = status(aws)
    assert after["installed_version"] == "2.8.5"
    assert (after["execution_arn"], after["status"]) == (result["execution_arn"], "SUCCEEDED")
    assert outcomes(after)["params"] == "UPDATED"
    record = installed.reader.ledger.current_release()
    assert record is not None and record.manifest_sha256 == corrected.digest != broken.digest
    # And `upgrade` with the corrected release: installed, with this content.
    again_status, again, _ = cli(aws, "upgrade", "--release", str(corrected.path))
    assert again_status == 0 and again["status"] == "NOTHING_TO_DO", again


# ---------------------------------------------------------------------- 3. options kept across an upgrade
@pytest.fixture(scope="module")
def newer(corrected: Release, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """2.9.1: vpc's template changed (a stage that takes LogRetentionDays), so the upgrade updates it."""
    return release_with(corrected, tmp_path_factory.mktemp("newer"), "2.9.1", {"vpc": "2.9.1"})


def log_retention_on_every_stage(aws: Aws, installed: Outcome, release: Release) -> dict[str, str]:
    """stage -> the LogRetentionDays its stack was deployed with, for every stage of `release`
    that takes the option and is installed."""
    users = [
        name
        for name, step in release.manifest.steps.items()
        if step.is_stage and "${param:LogRetentionDays}" in (step.parameters or {}).values()
    ]
    stacks = installed.reader.stacks(["us-east-1", aws.region])
    found = {}
    for name in users:
        stack = stacks.get(INSTALLATION.stage_stack(name))
        if stack is not None and stack["StackStatus"] != "DELETE_COMPLETE":
            found[name] = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["LogRetentionDays"]
    return found


def test_an_option_set_by_a_run_is_kept_by_a_later_upgrade_and_status_names_that_run(
    aws: Aws, installed: Outcome, corrected: Release, newer: Release
) -> None:
    set_status, redeploy, _ = cli(aws, "run", "redeploy", "--option", "LogRetentionDays=90")
    assert set_status == 0 and redeploy["status"] == "SUCCEEDED", redeploy
    setter = f"cli run {redeploy['execution_arn'].rsplit(':', 1)[-1]}"
    retention = log_retention_on_every_stage(aws, installed, corrected)
    assert len(retention) >= 5 and set(retention.values()) == {"90"}, retention
    assert status(aws)["options"]["LogRetentionDays"] == {"value": 90, "source": setter}

    upgrade_status, upgraded, _ = cli(aws, "upgrade", "--release", str(newer.path))

    assert upgrade_status == 0 and upgraded["status"] == "SUCCEEDED", upgraded
    assert (upgraded["action"], upgraded["version"]) == ("upgrade", "2.9.1")
    assert outcomes(upgraded)["vpc"] == "UPDATED"
    assert log_retention_on_every_stage(aws, installed, newer) == retention
    after = status(aws)
    assert after["installed_version"] == "2.9.1"
    assert (after["execution_arn"], after["status"]) == (upgraded["execution_arn"], "SUCCEEDED")
    assert after["options"]["LogRetentionDays"] == {"value": 90, "source": setter}
    assert outcomes(after)["vpc"] == "UPDATED"
