"""A step waiting on its stack is resumed by CloudFormation's status-change event, once, and
never misses an event that came before it parked (`lambdas/stage/events.py`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.core.deps import Deps
from lambdas.core.messages import StepState
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger
from lambdas.data.records import StepUpdate
from lambdas.data.releases import ReleaseStore
from lambdas.data.stacks import StackInfo
from lambdas.stage.events import on_status_change, park, resume, stack_name_of
from tests.unit.conftest import ledger_table

STACK = "dataall-test-vpc"
STACK_ID = f"arn:aws:cloudformation:us-east-1:111122223333:stack/{STACK}/0f6a5a70-0000-0000-0000-000000000000"


class FakeStacks:
    def __init__(self, status: str | None) -> None:
        self.status = status

    def describe(self, name: str) -> StackInfo | None:
        return None if self.status is None else StackInfo(name=name, stack_id=STACK_ID, status=self.status)


class FakeStepFunctions:
    def __init__(self, error: str | None = None) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.error = error

    def send_task_success(self, taskToken: str, output: str) -> None:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "gone"}}, "SendTaskSuccess")
        self.sent.append((taskToken, json.loads(output)))


def deps_with(ledger: Ledger, status: str | None, sfn: FakeStepFunctions) -> Deps:
    settings = Settings(ledger_table="ledger", artifacts_bucket="artifacts", resource_prefix="dataall", env_name="test")
    return Deps(settings, ledger, None, FakeStacks(status), sfn, None, "us-east-1", "111122223333")  # type: ignore[arg-type]


@pytest.fixture
def ledger(aws: None) -> Ledger:
    return Ledger(ledger_table())


def executing(phase: str = "executing") -> StepState:
    return StepState.model_validate({"run": "run-1", "step": {"name": "vpc"}, "phase": phase, "wait": 120})


def event(status: str, stack_id: str = STACK_ID) -> dict[str, Any]:
    return {
        "source": "aws.cloudformation",
        "detail-type": "CloudFormation Stack Status Change",
        "detail": {"stack-id": stack_id, "status-details": {"status": status, "status-reason": ""}},
    }


def test_a_settled_status_resumes_the_parked_step_once(ledger: Ledger) -> None:
    sfn = FakeStepFunctions()
    deps = deps_with(ledger, "CREATE_IN_PROGRESS", sfn)

    assert park(deps, executing(), "token-1") is True
    assert sfn.sent == [], "the stack still works: the step stays parked"
    assert on_status_change(deps, event("CREATE_IN_PROGRESS")) is None
    assert on_status_change(deps, event("CREATE_COMPLETE")) == "vpc"
    assert on_status_change(deps, event("CREATE_COMPLETE")) is None, "an event delivered twice resumes nothing"

    assert sfn.sent == [("token-1", True)]
    assert ledger.step("run-1", "vpc").resumed_at


def test_a_stack_that_settled_before_the_step_parked_resumes_it_at_once(ledger: Ledger) -> None:
    sfn = FakeStepFunctions()

    park(deps_with(ledger, "UPDATE_COMPLETE", sfn), executing(), "token-1")

    assert sfn.sent == [("token-1", True)]


def test_a_deleted_stack_resumes_the_step_that_deletes_it(ledger: Ledger) -> None:
    sfn = FakeStepFunctions()

    park(deps_with(ledger, None, sfn), executing(), "token-1")

    assert sfn.sent == [("token-1", True)]


def test_a_change_set_being_computed_is_polled_not_watched(ledger: Ledger) -> None:
    sfn = FakeStepFunctions()
    deps = deps_with(ledger, "UPDATE_COMPLETE", sfn)

    assert park(deps, executing("changeset"), "token-1") is False
    assert on_status_change(deps, event("UPDATE_COMPLETE")) is None
    assert sfn.sent == []


def test_a_later_wait_replaces_the_token_and_a_timed_out_token_is_not_an_error(ledger: Ledger) -> None:
    deps = deps_with(ledger, "UPDATE_IN_PROGRESS", FakeStepFunctions())
    park(deps, executing(), "token-1")
    park(deps, executing(), "token-2")
    assert resume(deps, STACK, "token-1") is None, "the older wait timed out and polled"

    gone = deps_with(ledger, "UPDATE_IN_PROGRESS", FakeStepFunctions(error="TaskTimedOut"))
    assert on_status_change(gone, event("UPDATE_COMPLETE")) is None
    assert ledger.claim_stack_waiter(STACK) is None, "the token was claimed: it is not sent again"


def test_other_errors_of_send_task_success_are_raised(ledger: Ledger) -> None:
    deps = deps_with(ledger, "UPDATE_IN_PROGRESS", FakeStepFunctions(error="AccessDeniedException"))
    park(deps, executing(), "token-1")

    with pytest.raises(ClientError, match="AccessDenied"):
        on_status_change(deps, event("UPDATE_COMPLETE"))


@pytest.mark.parametrize(
    ("stack_id", "name"),
    [(STACK_ID, STACK), ("arn:aws:cloudformation:us-east-1:1:stackset/x:1", ""), ("", "")],
)
def test_the_stack_name_is_read_from_the_stack_id(stack_id: str, name: str) -> None:
    assert stack_name_of(stack_id) == name


class FakeCloudFormation:
    """CloudFormation of one region, holding one stack."""

    def __init__(self, stack_id: str, status: str) -> None:
        self.stack = {"StackName": stack_name_of(stack_id), "StackId": stack_id, "StackStatus": status}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        return {"Stacks": [self.stack]}


def test_a_step_whose_stack_lives_in_another_region_looks_at_it_there_and_waits_for_its_poll(
    ledger: Ledger,
) -> None:
    """A stack in us-east-1 while the workflow runs in eu-west-1 (data.all's CloudFront stage): the
    installation's rule never sees its events, and the workflow's own region does not hold it. Looking
    there found no stack and resumed the step at once, again at every park: a loop of polls."""
    sfn = FakeStepFunctions()
    away = f"arn:aws:cloudformation:us-east-1:111122223333:stack/{STACK}/0f6a5a70-0000-0000-0000-000000000001"
    ledger.update_step("run-1", "vpc", StepUpdate(stack_id=away))
    regions: list[str] = []

    def regional_client(service: str, region: str) -> Any:
        regions.append(region)
        return FakeCloudFormation(away, "CREATE_IN_PROGRESS")

    settings = Settings(ledger_table="ledger", artifacts_bucket="artifacts", resource_prefix="dataall", env_name="test")
    deps = Deps(settings, ledger, ReleaseStore(None, "artifacts"), FakeStacks(None), sfn, None, "eu-west-1",  # type: ignore[arg-type]
                "111122223333", regional_client=regional_client)  # fmt: skip

    assert park(deps, executing(), "token-1") is True

    assert regions == ["us-east-1", "us-east-1"]  # its CloudFormation and its bucket's S3
    assert sfn.sent == [], "the stack still works in us-east-1: the step stays parked until its poll"
