"""Plan refuses what it can see before any stage changes (issue 17 item 3), and a refusal
ends the run REFUSED, not FAILED (item 2).

The templates of the release are what a stage deploys; CloudFormation would refuse a
parameter the template does not declare, a required one left out, a value its constraints
reject, and a stage reading an output its producer's template does not declare, only once
a stack is already changing (the stage was updated, then restored). Plan reads the
templates and refuses all of these first, naming the stage's parameter.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidInput, InvalidOptions, LockHeld, ReleaseInvalid
from lambdas.core.messages import PlanRequest
from lambdas.core.settings import Settings
from lambdas.release.manifest import sha256_bytes
from lambdas.run.planning import plan
from lambdas.run.refusals import refusal, refused, run_result
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, platform
from tests.unit.test_planning import nothing_changed, request

ARTIFACTS = "dataall-test-artifacts"


def with_template(release: SmallRelease, stage: str, edit: Any) -> SmallRelease:
    """The release with one stage's template edited (and its sha256 in the manifest to match)."""
    path = f"blueprints/{stage}.template.json"
    document = json.loads(release.files[path])
    edit(document)
    body = json.dumps(document, indent=1, sort_keys=True).encode()
    manifest = {**release.document, "files": {**release.document["files"], path: sha256_bytes(body)}}
    return SmallRelease(version=release.version, document=manifest, files={**release.files, path: body})


def make_deps(release: SmallRelease) -> Deps:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    release.publish(s3, ARTIFACTS)
    return moto_deps(ARTIFACTS)


def drop_output(name: str) -> Any:
    return lambda template: template["Outputs"].pop(name)


def drop_parameter(name: str) -> Any:
    return lambda template: template["Parameters"].pop(name)


def declare(name: str, **spec: Any) -> Any:
    return lambda template: template.setdefault("Parameters", {}).update({name: {"Type": "String", **spec}})


@pytest.mark.parametrize(
    ("stage", "edit", "field", "said"),
    [
        (
            "vpc",
            drop_output("VpcId"),
            "stages.params.parameters.Vpc",
            "reads vpc.VpcId, which template blueprints/vpc.template.json does not declare",
        ),
        (
            "s3",
            drop_output("BucketName"),
            "stages.params.parameters.Bucket",
            "reads s3.BucketName",
        ),
        (
            "params",
            drop_parameter("Vpc"),
            "stages.params.parameters.Vpc",
            "template blueprints/params.template.json declares no parameter Vpc",
        ),
        (
            "lambda-api",
            declare("ApiKey"),
            "stages.lambda-api.parameters.ApiKey",
            "requires it (no Default); the stage gives none",
        ),
    ],
    ids=["an output the reader reads is gone", "another output", "a parameter undeclared", "a required parameter"],
)
def test_plan_refuses_a_stage_its_templates_disagree_with_before_anything_changes(
    aws: None, stage: str, edit: Any, field: str, said: str
) -> None:
    deps = make_deps(with_template(platform(), stage, edit))

    with pytest.raises(ReleaseInvalid) as refused_plan:
        plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert refused_plan.value.field == field
    assert said in str(refused_plan.value)
    assert nothing_changed(deps)


def test_plan_refuses_a_literal_value_that_breaks_the_templates_allowed_pattern(aws: None) -> None:
    release = platform()
    release.document["stages"][3]["parameters"]["Mode"] = "Fast Mode"
    release = with_template(release, "params", declare("Mode", AllowedPattern="^[a-z]+$"))
    deps = make_deps(release)

    with pytest.raises(ReleaseInvalid) as refused_plan:
        plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert refused_plan.value.field == "stages.params.parameters.Mode"
    assert "does not match the template's AllowedPattern ^[a-z]+$" in str(refused_plan.value)
    assert nothing_changed(deps)


def test_an_option_whose_value_a_stages_template_refuses_is_refused_naming_the_option(aws: None) -> None:
    release = platform()
    release.document["options"]["Mode"] = {"type": "string", "default": "fast"}
    release.document["stages"][3]["parameters"]["Mode"] = "${param:Mode}"
    release = with_template(release, "params", declare("Mode", AllowedValues=["fast", "safe"]))
    deps = make_deps(release)

    with pytest.raises(InvalidOptions) as refused_plan:
        plan(deps, request({"action": "install", "version": "2.8.0", "options": {"Mode": "reckless"}}))

    assert refused_plan.value.field == "options.Mode"
    assert "'reckless' is not one of the template's AllowedValues ['fast', 'safe']" in str(refused_plan.value)
    assert nothing_changed(deps)


@pytest.mark.parametrize(
    ("spec", "value", "said"),
    [
        ({}, "ninety", "'ninety' is not a number, which the template's Type Number requires"),
        ({"MinValue": 1}, "nan", "'nan' is not a number, which the template's Type Number requires"),
        ({"MaxValue": 3653}, "9000", "9000 is above the template's MaxValue 3653"),
    ],
    ids=["not a number", "not a finite number", "above MaxValue"],
)
def test_an_option_feeding_a_number_parameter_is_refused_as_the_options_fault(
    aws: None, spec: dict[str, Any], value: str, said: str
) -> None:
    """The release is fine; the option's value is not a number the template takes (it was refused
    as ReleaseInvalid when it was not a number at all)."""
    release = platform()
    release.document["options"]["Days"] = {"type": "string", "default": "30"}
    release.document["stages"][3]["parameters"]["Days"] = "${param:Days}"
    release = with_template(release, "params", declare("Days", Type="Number", **spec))
    deps = make_deps(release)

    with pytest.raises(InvalidOptions) as refused_plan:
        plan(deps, request({"action": "install", "version": "2.8.0", "options": {"Days": value}}))

    assert refused_plan.value.field == "options.Days"
    assert said in str(refused_plan.value)
    assert nothing_changed(deps)


def test_an_unused_output_or_an_optional_parameter_is_no_reason_to_refuse(aws: None) -> None:
    release = with_template(platform(), "vpc", lambda t: t["Outputs"].update({"Spare": {"Value": "x"}}))
    release = with_template(release, "params", declare("Tuning", Default="off"))
    deps = make_deps(release)

    result = plan(deps, request({"action": "install", "version": "2.8.0"}))

    assert "params" in [step["name"] for step in result["steps"]]


def test_a_refusal_reports_its_code_field_and_reason() -> None:
    assert refusal(InvalidInput("the run input is a list, not a JSON object", field="(top level)")) == {
        "code": "InvalidInput",
        "field": "(top level)",
        "reason": "the run input is a list, not a JSON object",
    }
    assert refusal(ReleaseInvalid("release 9.9.9 is not in the artifacts bucket"))["field"] == "version"
    assert refusal(LockHeld("run x holds the lock"))["field"] is None
    assert len(refusal(InvalidInput("x" * 10_000))["reason"]) == 2000


def test_a_refused_execution_reads_as_refused_and_a_succeeded_or_failed_one_does_not() -> None:
    error = {"code": "InvalidInput", "field": "version", "reason": "..."}
    refused_run = {"status": "SUCCEEDED", "output": json.dumps({"result": {"status": "REFUSED", "error": error}})}
    succeeded = {"status": "SUCCEEDED", "output": json.dumps({"plan": {}, "result": {"status": "SUCCEEDED"}})}
    failed = {"status": "FAILED", "error": "States.Runtime"}

    assert refused(refused_run) == error
    assert refused(succeeded) is None and run_result(succeeded) == {"status": "SUCCEEDED"}
    assert refused(failed) is None and run_result(failed) is None


class _RefusedSfn:
    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        error = {"code": "LockHeld", "field": None, "reason": "run upgrade-2-9-0-1 holds the installer lock"}
        return {"status": "SUCCEEDED", "output": json.dumps({"result": {"status": "REFUSED", "error": error}})}


def test_a_refused_uninstall_fails_the_bootstrap_stacks_delete_rather_than_orphan_the_stages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lambdas.run import trigger

    answers: list[tuple[str, str]] = []
    monkeypatch.setattr(
        trigger, "answer", lambda _event, status, reason="", data=None: answers.append((status, reason))
    )
    settings = Settings(ledger_table="ledger", artifacts_bucket="artifacts", resource_prefix="dataall", env_name="dev")
    worker = trigger.Trigger(settings=settings, ledger=None, sfn=_RefusedSfn(), sns=None, lambda_=None)  # type: ignore[arg-type]

    trigger.follow_uninstall(worker, {"RequestType": "Delete"}, None, "arn:run")

    ((status, reason),) = answers
    assert status == "FAILED"
    assert "was refused (LockHeld)" in reason and "holds the installer lock" in reason


class StartedWith:
    """A Step Functions client that knows one execution, started with `input_text`."""

    def __init__(self, input_text: str) -> None:
        self.input_text = input_text
        self.asked: list[str] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.asked.append(executionArn)
        return {"executionArn": executionArn, "status": "RUNNING", "input": self.input_text}


@pytest.mark.parametrize(
    ("input_text", "refused_field"),
    [("[1, 2]", "(top level)"), ('"install"', "(top level)"), ('{"action": "install", "version": "2.8.0"}', None)],
)
def test_plan_reads_its_own_executions_input_whatever_its_type(
    aws: None, input_text: str, refused_field: str | None
) -> None:
    """The state machine sends Plan only the execution: no input of any size is carried in the
    task's payload, where Step Functions' 256 KiB per state would end the run uncaught."""
    deps = make_deps(platform())
    deps.sfn = StartedWith(input_text)
    execution = {"Id": f"arn:aws:states:{REGION}:000000000000:execution:sm:by-hand", "Name": "by-hand"}

    if refused_field is None:
        result = plan(deps, PlanRequest.model_validate({"execution": execution}))
        assert result["action"] == "install"
    else:
        with pytest.raises(InvalidInput) as refused_plan:
            plan(deps, PlanRequest.model_validate({"execution": execution}))
        assert refused_plan.value.field == refused_field
        assert nothing_changed(deps)
    assert deps.sfn.asked[0] == execution["Id"]
