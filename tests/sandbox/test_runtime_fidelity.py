"""The sandbox's Lambda runtime and Step Functions fixes, each pinned to the AWS behaviour
it imitates (see sandbox/moto_internals.py)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.sandbox.conftest import package

ASL = Path(__file__).resolve().parents[2] / "state_machine" / "installer.asl.json"

HANDLER = """
import json, os, time
import boto3

CALLS = 0


def handler(event, context):
    global CALLS
    CALLS += 1
    if event.get("raise"):
        raise KeyError(event["raise"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "greeting": os.environ.get("GREETING"),
        "calls": CALLS,
        "pid": os.getpid(),
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "queues": boto3.client("sqs").list_queues().get("QueueUrls", []),
    }
"""


@pytest.fixture
def function(clients: Callable[[str], Any]) -> Callable[..., str]:
    iam = clients("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create(
        name: str = "probe", files: dict[str, str] | None = None, handler: str = "app.handler", timeout: int = 5
    ) -> str:
        clients("lambda").create_function(
            FunctionName=name, Runtime="python3.14", Role=role, Handler=handler, Timeout=timeout,
            Code={"ZipFile": package(files or {"app.py": HANDLER})},
            Environment={"Variables": {"GREETING": "hello"}},
        )  # fmt: skip
        return name

    return create


def invoke(clients: Callable[[str], Any], name: str, event: dict[str, Any]) -> tuple[str | None, Any]:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_a_function_runs_its_own_package_with_its_environment_against_the_sandbox(clients, function) -> None:
    clients("sqs").create_queue(QueueName="seen-by-the-function")
    name = function()

    error, payload = invoke(clients, name, {})

    assert error is None
    assert payload["greeting"] == "hello"
    assert payload["function"] == name
    assert 0 < payload["remaining_ms"] <= 5000
    assert any(url.endswith("/seen-by-the-function") for url in payload["queues"])


def test_a_warm_function_keeps_its_module_state_between_calls(clients, function) -> None:
    name = function()

    first, second = invoke(clients, name, {})[1], invoke(clients, name, {})[1]

    assert (first["calls"], second["calls"]) == (1, 2)
    assert first["pid"] == second["pid"]


def test_concurrent_invocations_run_in_separate_environments(clients, function) -> None:
    name = function()

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: invoke(clients, name, {"sleep": 0.5})[1], range(3)))

    assert len({r["pid"] for r in results}) == 3


def test_an_unhandled_exception_is_a_function_error_named_by_its_type(clients, function) -> None:
    name = function()

    error, payload = invoke(clients, name, {"raise": "missing"})

    assert error is not None
    assert payload["errorType"] == "KeyError"
    assert payload["errorMessage"] == "'missing'"


def test_a_module_left_out_of_the_package_fails_as_in_lambda(clients, function) -> None:
    name = function(files={"app.py": "import helper\n\ndef handler(e, c):\n    return helper.X\n"})

    error, payload = invoke(clients, name, {})

    assert error is not None
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in payload["errorMessage"]


def test_the_project_source_tree_is_not_importable_from_a_package(clients, function) -> None:
    """AWS runs only the zip: a handler naming the installer's own module must not find it."""
    name = function(files={"app.py": "x = 1\n"}, handler="lambdas.handlers.plan.handler")

    error, payload = invoke(clients, name, {})

    assert error is not None and payload["errorType"] == "Runtime.ImportModuleError"


def test_a_function_past_its_timeout_is_stopped_and_lambda_reports_it_unhandled(clients, function) -> None:
    """AWS (Lambda API reference, Invoke: FunctionError "Unhandled", the runtime did not handle the
    error, for example the function timed out): the payload is Lambda's own message,
    `{"errorMessage": "<time> <request id> Task timed out after 1.00 seconds"}`, with no `errorType`."""
    name = function(timeout=1)
    started = time.monotonic()

    error, payload = invoke(clients, name, {"sleep": 30})

    assert error == "Unhandled"
    assert "errorType" not in payload
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9a-f-]{36} Task timed out after 1\.00 seconds",
        payload["errorMessage"],
    )
    assert time.monotonic() - started < 10


def test_an_error_the_function_raises_keeps_its_type_and_is_not_lambdas_own(clients, function) -> None:
    name = function()

    error, payload = invoke(clients, name, {"raise": "boom"})

    assert error == "Handled"
    assert payload["errorType"] == "KeyError"


def test_an_invocation_writes_its_log_to_the_functions_log_group(clients, function) -> None:
    name = function(files={"app.py": "def handler(e, c):\n    print('hello from the handler')\n"})

    invoke(clients, name, {})

    logs = clients("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert any("hello from the handler" in e["message"] for e in events)


def test_a_crash_fault_makes_the_step_for_that_stage_raise(sandbox, clients, function) -> None:
    name = function()
    sandbox.faults.add("vpc:crash@1")

    crashed = invoke(clients, name, {"step": {"name": "vpc"}})
    after = invoke(clients, name, {"step": {"name": "vpc"}})

    assert crashed[0] is not None and crashed[1]["errorType"] == "InjectedCrash"
    assert after[0] is None


# --------------------------------------------------------------------------- step functions
def run_machine(clients: Callable[[str], Any], definition: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    sfn = clients("stepfunctions")
    role = clients("iam").create_role(RoleName=f"sm-{time.monotonic_ns()}", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    machine = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=role)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1", input=json.dumps(document))[
        "executionArn"
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


def test_state_machines_execute_their_definition(clients) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}

    execution = run_machine(clients, definition, {})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"ok": True}


def test_a_wait_lasts_its_modelled_seconds_scaled_by_the_clock(sandbox, clients) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    started = time.monotonic()

    execution = run_machine(clients, definition, {"s": 1000})

    elapsed = time.monotonic() - started
    assert execution["status"] == "SUCCEEDED"
    assert sandbox.clock.wall(1000) * 0.8 <= elapsed < 1000 * 0.1


def test_a_singleton_index_in_a_path_selects_the_value_not_a_list(clients) -> None:
    """AWS: `$.a[0].b` is "x"; `$.a[*].b` is ["x", "y"] (moto wrapped the first in a list)."""
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True,
                  "Parameters": {"one.$": "$.a[0].b", "all.$": "$.a[*].b"}}}}  # fmt: skip

    execution = run_machine(clients, definition, {"a": [{"b": "x"}, {"b": "y"}]})

    assert json.loads(execution["output"]) == {"one": "x", "all": ["x", "y"]}


def test_a_lambda_error_is_caught_by_its_error_name(clients, function) -> None:
    name = function()
    arn = clients("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                     "Retry": [{"ErrorEquals": ["KeyError"], "IntervalSeconds": 100, "MaxAttempts": 1}],
                     "Catch": [{"ErrorEquals": ["KeyError"], "ResultPath": "$.caught", "Next": "Caught"}],
                     "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip

    execution = run_machine(clients, definition, {"raise": "boom"})

    output = json.loads(execution["output"])
    assert output["caught"]["Error"] == "KeyError"
    calls = invoke(clients, name, {})[1]["calls"]
    assert calls == 3  # two attempts (one retry after a scaled 100 s back-off), then this call


def test_a_timed_out_function_fails_its_lambda_invoke_task_with_lambda_unknown(clients, function) -> None:
    """AWS (Step Functions developer guide, "Handle Lambda service exceptions"): unhandled errors
    in Lambda, function timeouts and out-of-memory errors among them, are reported as
    `Lambda.Unknown`, which a Retry or Catch matches (as does States.TaskFailed or States.ALL)."""
    arn = clients("lambda").get_function(FunctionName=function(timeout=1))["Configuration"]["FunctionArn"]
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                     "Catch": [{"ErrorEquals": ["Lambda.Unknown"], "ResultPath": "$.caught", "Next": "Caught"}],
                     "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip

    execution = run_machine(clients, definition, {"sleep": 30})

    caught = json.loads(execution["output"])["caught"]
    assert execution["status"] == "SUCCEEDED"
    assert caught["Error"] == "Lambda.Unknown"
    assert "Task timed out after 1.00 seconds" in caught["Cause"]


def lambda_tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if str(state.get("Resource", "")).startswith("arn:aws:states:::lambda:invoke"):
            yield name, state
        for branch in state.get("Branches", []):
            yield from lambda_tasks(branch["States"])
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from lambda_tasks(state[key]["States"])


def test_the_installers_lambda_tasks_retry_what_aws_raises_and_nothing_of_the_sandboxs_own() -> None:
    """AWS (Step Functions developer guide, "Handle Lambda service exceptions"): retry
    Lambda.ClientExecutionTimeoutException, Lambda.ServiceException, Lambda.AWSLambdaException and
    Lambda.SdkClientException; a throttled invocation is Lambda.TooManyRequestsException and an
    unhandled error (a timeout, out of memory) Lambda.Unknown. No error name of the sandbox's own."""
    definition = json.loads(ASL.read_text())
    aws_errors = {
        "Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException",
        "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "Lambda.Unknown",
    }  # fmt: skip

    tasks = dict(lambda_tasks(definition["States"]))

    assert tasks
    for name, task in tasks.items():
        retried = [set(retrier["ErrorEquals"]) for retrier in task["Retry"]]
        assert aws_errors in retried, name
    assert "Sandbox." not in ASL.read_text()


# --------------------------------------------------------------------------- task tokens
def token_machine(clients: Callable[[str], Any], function: Callable[..., str]) -> str:
    """A `.waitForTaskToken` Lambda task (the function ignores the token) whose timeout is
    `$.wait`, its States.Timeout caught into a Pass state."""
    arn = clients("lambda").get_function(FunctionName=function())["Configuration"]["FunctionArn"]
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
                    "TimeoutSecondsPath": "$.wait", "ResultPath": "$.answer",
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.caught", "Next": "TimedOut"}],
                    "Next": "Answered"},
            "TimedOut": {"Type": "Pass", "End": True},
            "Answered": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip
    role = clients("iam").create_role(RoleName=f"sm-{time.monotonic_ns()}", AssumeRolePolicyDocument="{}")["Role"]
    machine = clients("stepfunctions").create_state_machine(
        name=f"m{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=role["Arn"]
    )
    return str(machine["stateMachineArn"])


def finished(sfn: Any, execution_arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.05)
    raise AssertionError(f"execution still running after {timeout} s")


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])


def test_a_task_token_wait_times_out_after_its_modelled_seconds_with_states_timeout(sandbox, clients, function) -> None:
    """AWS: a `.waitForTaskToken` task not answered within TimeoutSeconds(Path) fails with
    States.Timeout, which a Catch handles. The sandbox waits the modelled 300 s scaled by its
    clock; the history keeps 300 s."""
    sfn = clients("stepfunctions")
    machine = token_machine(clients, function)
    started = time.monotonic()

    arn = sfn.start_execution(stateMachineArn=machine, name="late", input=json.dumps({"wait": 300}))["executionArn"]
    execution = finished(sfn, arn, timeout=30)

    elapsed = time.monotonic() - started
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["caught"]["Error"] == "States.Timeout"
    assert sandbox.clock.wall(300) * 0.8 <= elapsed < 30
    events = history(sfn, arn)
    assert [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "PassStateEntered"] == ["TimedOut"]
    assert any(e["type"] == "TaskTimedOut" for e in events)
    scheduled = next(e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled")
    assert scheduled["timeoutInSeconds"] == 300


def test_a_task_token_sent_back_in_time_continues_the_normal_path(clients, function) -> None:
    """AWS: SendTaskSuccess with the task's token before the timeout: the task succeeds with
    the output sent."""
    sfn = clients("stepfunctions")
    machine = token_machine(clients, function)
    arn = sfn.start_execution(stateMachineArn=machine, name="answered", input=json.dumps({"wait": 100000}))[
        "executionArn"
    ]

    deadline = time.monotonic() + 30
    while not (submitted := [e for e in history(sfn, arn) if e["type"] == "TaskSubmitted"]):
        assert time.monotonic() < deadline, "the task was never submitted"
        time.sleep(0.05)
    scheduled = next(e["taskScheduledEventDetails"] for e in history(sfn, arn) if e["type"] == "TaskScheduled")
    token = json.loads(scheduled["parameters"])["Payload"]["token"]
    sfn.send_task_success(taskToken=token, output=json.dumps({"answer": 42}))
    execution = finished(sfn, arn, timeout=30)

    assert submitted
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"wait": 100000, "answer": {"answer": 42}}
    names = [e["stateEnteredEventDetails"]["name"] for e in history(sfn, arn) if e["type"] == "PassStateEntered"]
    assert names == ["Answered"]


def test_a_request_the_sandbox_fails_on_is_a_logged_internal_failure(sandbox, clients, monkeypatch, caplog) -> None:
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from sandbox import moto_internals

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("dictionary changed size during iteration")

    monkeypatch.setattr(moto_internals.stepfunctions_backend(sandbox.region), "list_state_machines", broken)
    before = sandbox.internal_failures
    sfn = boto3.client(
        "stepfunctions", endpoint_url=sandbox.endpoint, region_name=sandbox.region,
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip

    with caplog.at_level("ERROR", logger="dataall_installer.sandbox"), pytest.raises(ClientError) as raised:
        sfn.list_state_machines()

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert sandbox.internal_failures == before + 1
    sandbox.internal_failures = before  # this one was on purpose (the fixture fails a test on any other)
    logged = [r for r in caplog.records if r.name == "dataall_installer.sandbox" and r.exc_info]
    assert logged and "dictionary changed size" in logged[-1].getMessage()
    monkeypatch.undo()
    assert clients("stepfunctions").list_state_machines()["stateMachines"] == []  # the next request is served


SLOW_INIT = """
import time

time.sleep(1.5)  # a slow import: Lambda's Init phase


def handler(event, context):
    return {"ok": True}
"""


def test_a_slow_init_does_not_count_against_the_invocations_timeout(function, clients) -> None:
    """AWS, Lambda developer guide, "Understanding the Lambda execution environment lifecycle": the
    Init phase (starting the runtime, running the function's static code) is limited to 10 seconds
    of its own; the function's timeout applies to the Invoke phase."""
    name = function(files={"app.py": SLOW_INIT}, handler="app.handler", timeout=1)

    answer = clients("lambda").invoke(FunctionName=name, Payload=b"{}")

    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == {"ok": True}
