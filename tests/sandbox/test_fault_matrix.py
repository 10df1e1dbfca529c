"""Whole-release rollback, proven by fault injection: every stage x every fault kind, on a
first install and on an upgrade from a previous release.

After each failed run: the run is FAILED and names the stage; every stage runs what it ran
before (template, parameters, outputs) — for an install, nothing is left but retained
stateful stages —; the lock is free; and the next run, with the fault removed, succeeds.

`make test` runs a sample (`faults_sample`); `make test-faults` runs the whole matrix.
A count of cases survived / cases run is printed at the end of the session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from installer.aws import Aws
from tests.conftest import cached_synthetic_release
from tests.fixtures.synthetic.common import TOUCH_CONTEXT, TOUCH_REVISION_CONTEXT
from tests.sandbox.conftest import INSTALLATION, deploy, run, stateful_and_what_they_run_on

pytestmark = pytest.mark.xdist_group("fault-matrix")

#: Kinds that can hit a first install, and an upgrade (update and rollback need an update).
INSTALL_KINDS = ("create", "timeout", "crash", "throttle")
UPGRADE_KINDS = ("update", "rollback", "timeout", "crash", "throttle")
#: Throttling that outlasts every retry of the step, so that the run fails; it stops when the
#: run starts its rollback ("for a while"). A few throttles alone are survived by the retries.
FAULT_SPECS = {"throttle": "{stage}:throttle@100000"}
#: The migration crashing after the stages moved (upgrade: the data.all #1500 case), which no other
#: test of `make test` reaches end to end. CloudFormation's own rollback failing a stage is decided
#: by tests/unit/test_rollback_decisions.py and made by tests/sandbox/cloudformation/test_failures.py
#: (its end-to-end case, `upgrade-monitoring-rollback`, 65-119 s, runs in `make test-faults`).
#: A stage refused on create is tests/sandbox/test_install.py's;
#: an update refused in the last stage, on data.all itself, tests/sandbox/test_dataall.py's. Timeouts and
#: throttling have tests of their own (tests/sandbox/test_runtime_fidelity.py,
#: tests/sandbox/cloudformation/test_failures.py); the whole matrix runs in `make test-faults`.
SAMPLE = {("upgrade", "migrate", "crash")}


def _steps(kinds: tuple[str, ...], lifecycle: str) -> list[Any]:
    release = cached_synthetic_release()
    manifest = release.manifest
    active = [name for wave in manifest.waves(manifest.resolve_options()) for name in wave]
    cases = []
    for name in active:
        kinds_here = kinds if manifest.steps[name].is_stage else ("crash",)
        for kind in kinds_here:
            marks = [pytest.mark.faults]
            if (lifecycle, name, kind) in SAMPLE:
                marks.append(pytest.mark.faults_sample)
            cases.append(pytest.param(name, kind, marks=marks, id=f"{lifecycle}-{name}-{kind}"))
    return cases


def _fault(stage: str, kind: str) -> str:
    return FAULT_SPECS.get(kind, "{stage}:{kind}").format(stage=stage, kind=kind)


@contextlib.contextmanager
def _fault_until_rollback(sandbox: Any, aws: Aws, spec: str) -> Iterator[None]:
    """Arm a fault; a throttle stops when the run enters its Rollback state."""
    sandbox.faults.add(spec)
    if ":throttle" not in spec:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        sfn = aws.client("stepfunctions")
        while not stop.wait(0.2):  # reading the history is costly: 5 times a second
            for machine in sfn.list_state_machines()["stateMachines"]:
                for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"],
                                                     statusFilter="RUNNING")["executions"]:  # fmt: skip
                    events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
                    if any(e.get("stateEnteredEventDetails", {}).get("name") == "Rollback" for e in events):
                        sandbox.faults.clear()
                        return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)


def _state(aws: Aws) -> dict[str, Any]:
    """What every stage stack runs: template (hashed), parameters, outputs, status."""
    cfn = aws.client("cloudformation")
    found = {}
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            name = stack["StackName"]
            if name == INSTALLATION.stack_name or stack["StackStatus"] == "DELETE_COMPLETE":
                continue
            body = cfn.get_template(StackName=name)["TemplateBody"]
            document = json.loads(body) if isinstance(body, str) else body
            found[name] = {
                "template": hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest(),
                "parameters": {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])},
                "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", []) or []},
                "status_ok": stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"),
            }
    return found


def _statuses(aws: Aws) -> dict[str, str]:
    """Every stack's status (for a failure message)."""
    cfn = aws.client("cloudformation")
    pages = cfn.get_paginator("describe_stacks").paginate()
    return {stack["StackName"]: stack["StackStatus"] for page in pages for stack in page["Stacks"]}


def _releases() -> tuple[Any, Any]:
    """A previous and a next release in which every stage changes (a real Modify in each)."""
    stages = ",".join(step.name for step in cached_synthetic_release().manifest.stages())
    before = cached_synthetic_release(version="2.8.0", overrides={TOUCH_CONTEXT: stages, TOUCH_REVISION_CONTEXT: "1"})
    after = cached_synthetic_release(version="2.9.0", overrides={TOUCH_CONTEXT: stages, TOUCH_REVISION_CONTEXT: "2"})
    return before, after


def _why_left(outcome: Any, stacks: set[str]) -> dict[str, Any]:
    """For a failure message: what the run's ledger says of the stages whose stacks were left."""
    run = outcome.result["execution_arn"].rsplit(":", 1)[-1]
    ledger = outcome.reader.ledger
    fields = ("phase", "executed", "executed_at", "acting", "stack_id", "rolled_back", "rolled_back_at", "reason")
    steps = {
        name: record.model_dump(include=set(fields), exclude_none=True)
        for name, record in ledger.steps(run).items()
        if INSTALLATION.stage_stack(name) in stacks
    }
    run_record = ledger.run(run)
    written = run_record.model_dump(exclude_none=True) if run_record else {}
    meta = {k: v for k, v in written.items() if "status" in k or "rollback" in k}
    return {"left": sorted(stacks), "steps": steps, "run": meta, "error": outcome.result.get("error")}


def _assert_failed_naming(result: dict[str, Any], stage: str) -> None:
    assert result["status"] == "FAILED", result
    assert result["error"] is not None and result["error"]["stage"] == stage, result["error"]


@pytest.mark.parametrize(("stage", "kind"), _steps(INSTALL_KINDS, "install"))
def test_a_failed_install_leaves_nothing_but_retained_data_and_the_next_run_succeeds(
    sandbox: Any, release: Any, stage: str, kind: str
) -> None:
    aws = Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)

    with _fault_until_rollback(sandbox, aws, _fault(stage, kind)):
        outcome = deploy(aws, release)

    _assert_failed_naming(outcome.result, stage)
    kept = {INSTALLATION.stage_stack(name) for name in stateful_and_what_they_run_on(release)}
    left = _state(aws)
    assert set(left) <= kept, _why_left(outcome, set(left) - kept)
    assert all(stack["status_ok"] for stack in left.values()), _statuses(aws)
    assert outcome.reader.ledger.lock() is None
    assert outcome.reader.ledger.current_release() is None

    sandbox.faults.clear()
    again = run(aws, outcome, {"action": "install", "version": release.version})

    assert again["status"] == "SUCCEEDED", again["error"]


@pytest.mark.parametrize(("stage", "kind"), _steps(UPGRADE_KINDS, "upgrade"))
def test_a_failed_upgrade_puts_every_stage_back_and_the_next_run_succeeds(sandbox: Any, stage: str, kind: str) -> None:
    aws = Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)
    before, after = _releases()
    installed = deploy(aws, before)
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    state_before = _state(aws)

    with _fault_until_rollback(sandbox, aws, _fault(stage, kind)):
        outcome = deploy(aws, after)

    _assert_failed_naming(outcome.result, stage)
    assert _state(aws) == state_before
    assert outcome.reader.ledger.lock() is None
    current = outcome.reader.ledger.current_release()
    assert current is not None and current.version == before.version

    sandbox.faults.clear()
    again = run(aws, outcome, {"action": "upgrade", "version": after.version})

    assert again["status"] == "SUCCEEDED", again["error"]
