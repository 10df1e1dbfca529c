"""The whole install path in the sandbox: bootstrap template -> trigger -> workflow -> stage stacks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from installer.aws import Aws
from tests.sandbox.conftest import INSTALLATION, deploy, run, stateful_and_what_they_run_on


def stacks(aws: Aws) -> dict[str, dict[str, Any]]:
    found = {}
    for page in aws.client("cloudformation").get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            found[stack["StackName"]] = stack
    return found


def active_stages(release: Any) -> list[str]:
    options = release.manifest.resolve_options()
    return [name for wave in release.manifest.waves(options) for name in wave if release.manifest.steps[name].is_stage]


def test_an_install_from_nothing_creates_every_stage_with_its_outputs_wired(aws: Aws, release: Any) -> None:
    outcome = deploy(aws, release)

    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    deployed = stacks(aws)
    protected = 0
    for stage in active_stages(release):
        stack = deployed[INSTALLATION.stage_stack(stage)]
        given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        # created unprotected, then protected by an update of that one parameter
        expected = "UPDATE_COMPLETE" if given.get("DeletionProtection") == "true" else "CREATE_COMPLETE"
        protected += expected == "UPDATE_COMPLETE"
        assert outcome.result["stages"][stage]["status"] == expected, stage
        assert stack["StackStatus"] == expected, stage
    assert protected >= 2  # aurora, cognito
    (cluster,) = aws.client("rds").describe_db_clusters()["DBClusters"]
    assert cluster["DeletionProtection"] is True
    wired = 0
    for stage in active_stages(release):
        parameters = {
            p["ParameterKey"]: p["ParameterValue"] for p in deployed[INSTALLATION.stage_stack(stage)]["Parameters"]
        }
        for key, source in release.manifest.steps[stage].parameters.items():
            reference = re.fullmatch(r"\$\{stage:([a-z0-9-]+)\.(\w+)\}", source)
            if reference:
                upstream = deployed[INSTALLATION.stage_stack(reference.group(1))]
                outputs = {o["OutputKey"]: o["OutputValue"] for o in upstream["Outputs"]}
                assert parameters[key] == outputs[reference.group(2)], f"{stage}.{key}"
                wired += 1
    assert wired > 0
    assert outcome.reader.ledger.lock() is None
    current = outcome.reader.ledger.current_release()
    assert current is not None and current.version == release.version
    assert outcome.result["transitions"] > 0
    assert outcome.result["actions"]["migrate"]["status"] == "MIGRATED"
    database = outcome.reader.database()
    assert database["revision"] is not None and database["revision"] == database["head"]
    pivot_role = outcome.reader.pivot_role()
    assert pivot_role is not None and pivot_role["policies"]
    assert pivot_role["name"].startswith(f"{INSTALLATION.prefix}-{INSTALLATION.env}-")


@pytest.mark.slow  # in `make test`, data.all's own redeploy (tests/sandbox/test_dataall.py) executes no change set
def test_nothing_changed_means_no_run_and_a_redeploy_executes_no_change_set(aws: Aws, release: Any) -> None:
    first = deploy(aws, release)
    assert first.result["status"] == "SUCCEEDED"

    again = deploy(aws, release)
    redeploy = run(aws, first, {"action": "redeploy"})

    assert again.changed is False
    assert redeploy["status"] == "SUCCEEDED"
    run_id = redeploy["execution_arn"].rsplit(":", 1)[1]
    steps = first.reader.ledger.steps(run_id)
    assert {s.result for s in steps.values()} == {"UNCHANGED"}
    assert not any(s.change_set_id for s in steps.values())
    cfn = aws.client("cloudformation")
    for stage in active_stages(release):
        assert cfn.list_change_sets(StackName=INSTALLATION.stage_stack(stage))["Summaries"] == []


def test_a_stage_failing_on_create_fails_the_run_naming_it_and_removes_what_the_run_created(
    aws: Aws, release: Any, sandbox: Any
) -> None:
    sandbox.faults.add("params:create")

    outcome = deploy(aws, release)

    assert outcome.result["status"] == "FAILED"
    assert outcome.result["error"]["stage"] == "params"
    assert "injected" in outcome.result["error"]["reason"].lower()
    left = {name for name, s in stacks(aws).items() if s["StackStatus"] != "DELETE_COMPLETE"}
    kept = {INSTALLATION.stage_stack(name) for name in stateful_and_what_they_run_on(release)}
    stage_stacks = {INSTALLATION.stage_stack(s) for s in active_stages(release)}
    assert (left & stage_stacks) <= kept
    assert outcome.reader.ledger.lock() is None
    assert outcome.result["stages"]["params"]["status"] in ("DELETE_COMPLETE", "NOT_CREATED")
