"""CloudFormation's "Stack Status Change" events on EventBridge, and EventBridge rules that
deliver them to Lambda functions, each pinned to the AWS behaviour it imitates."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from typing import Any

from tests.sandbox.cloudformation.conftest import Clients, body, settle, stack_statuses

QUEUE = {"Queue": {"Type": "AWS::SQS::Queue"}}
ACCOUNT = "123456789012"
REGION = "us-east-1"
STATUS_CHANGES = {"source": ["aws.cloudformation"], "detail-type": ["CloudFormation Stack Status Change"]}

RECORDER = """
import json, os, time, uuid
import boto3


def handler(event, context):
    key = f"{os.environ['RULE']}/{time.time_ns()}-{uuid.uuid4()}"
    boto3.client("s3").put_object(Bucket="received", Key=key, Body=json.dumps(event))
"""


def recorder(clients: Clients, rule: str) -> str:
    """A function that writes every event it receives to s3://received/<rule>/...; its ARN."""
    role = clients("iam").create_role(RoleName=f"recorder-{rule}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("index.py", RECORDER)
    function = clients("lambda").create_function(
        FunctionName=f"recorder-{rule}", Runtime="python3.12", Role=role, Handler="index.handler", Timeout=30,
        Code={"ZipFile": archive.getvalue()}, Environment={"Variables": {"RULE": rule}},
    )  # fmt: skip
    return str(function["FunctionArn"])


def rule_to(clients: Clients, name: str, pattern: dict[str, Any], target_arn: str, **target: Any) -> None:
    events = clients("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "target", "Arn": target_arn, **target}])


def received(clients: Clients, rule: str) -> list[dict[str, Any]]:
    s3 = clients("s3")
    listed = s3.list_objects_v2(Bucket="received", Prefix=f"{rule}/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket="received", Key=item["Key"])["Body"].read()) for item in listed]


def statuses(found: list[dict[str, Any]], stack_id: str) -> set[str]:
    return {event["detail"]["status-details"]["status"] for event in found if event["detail"]["stack-id"] == stack_id}


def wait_for(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not seen in time")
        time.sleep(0.1)


def test_a_rule_delivers_stack_status_changes_to_a_lambda_function(cfn: Any, clients: Clients) -> None:
    """AWS: every status change of a stack puts `CloudFormation Stack Status Change` on the
    default bus; a rule on it invokes its Lambda target with the event."""
    clients("s3").create_bucket(Bucket="received")
    rule_to(clients, "all-stacks", STATUS_CHANGES, recorder(clients, "all"))

    stack_id = cfn.create_stack(StackName="app-one", TemplateBody=body(QUEUE))["StackId"]
    assert settle(cfn, "app-one")["StackStatus"] == "CREATE_COMPLETE"

    wait_for(lambda: statuses(received(clients, "all"), stack_id) >= {"CREATE_IN_PROGRESS", "CREATE_COMPLETE"})
    by_status = {event["detail"]["status-details"]["status"]: event for event in received(clients, "all")}
    complete = by_status["CREATE_COMPLETE"]
    assert set(complete) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                             "detail"}  # fmt: skip
    assert complete["source"] == "aws.cloudformation"
    assert complete["detail-type"] == "CloudFormation Stack Status Change"
    assert (complete["account"], complete["region"], complete["resources"]) == (ACCOUNT, REGION, [stack_id])
    assert complete["detail"] == {
        "stack-id": stack_id,
        "status-details": {"status": "CREATE_COMPLETE", "status-reason": ""},
    }
    assert by_status["CREATE_IN_PROGRESS"]["detail"]["status-details"] == {
        "status": "CREATE_IN_PROGRESS",
        "status-reason": "User Initiated",
    }
    assert time.strptime(complete["time"], "%Y-%m-%dT%H:%M:%SZ")


def test_a_prefix_on_the_stack_id_selects_the_stacks_a_rule_gets(cfn: Any, clients: Clients) -> None:
    """AWS: `{"prefix": ...}` in an event pattern matches the start of a string field."""
    clients("s3").create_bucket(Bucket="received")
    rule_to(clients, "all-stacks", STATUS_CHANGES, recorder(clients, "all"))
    app_stacks = {
        **STATUS_CHANGES,
        "detail": {"stack-id": [{"prefix": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/app-"}]},
    }
    rule_to(clients, "app-stacks", app_stacks, recorder(clients, "app"))

    app_id = cfn.create_stack(StackName="app-one", TemplateBody=body(QUEUE))["StackId"]
    other_id = cfn.create_stack(StackName="other", TemplateBody=body(QUEUE))["StackId"]
    settle(cfn, "app-one"), settle(cfn, "other")

    wait_for(lambda: "CREATE_COMPLETE" in statuses(received(clients, "all"), other_id))
    wait_for(lambda: "CREATE_COMPLETE" in statuses(received(clients, "app"), app_id))
    time.sleep(1)  # an "other" event wrongly matched would have been delivered by now
    got = received(clients, "app")
    assert {event["detail"]["stack-id"] for event in got} == {app_id}
    assert statuses(got, app_id) == {"CREATE_IN_PROGRESS", "CREATE_COMPLETE"}


def test_a_stacks_events_reach_the_bus_in_the_order_of_its_statuses(cfn: Any, clients: Clients, sandbox: Any) -> None:
    """AWS: one event per status change, REVIEW_IN_PROGRESS of a change set's new stack
    included; here pinned through an SQS target, whose queue keeps their order."""
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName="status-changes")["QueueUrl"]
    rule_to(clients, "to-queue", STATUS_CHANGES, f"arn:aws:sqs:{REGION}:{ACCOUNT}:status-changes")

    cfn.create_change_set(StackName="app", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body(QUEUE))
    wait_for(lambda: cfn.describe_change_set(StackName="app", ChangeSetName="first")["Status"] == "CREATE_COMPLETE")
    cfn.execute_change_set(StackName="app", ChangeSetName="first")
    stack_id = settle(cfn, "app")["StackId"]
    cfn.update_stack(StackName="app", TemplateBody=body({**QUEUE, "Other": {"Type": "AWS::SQS::Queue"}}))
    settle(cfn, "app")
    cfn.delete_stack(StackName="app")
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert sandbox.cloudformation.status_events.wait_idle()

    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(message["Body"]) for message in batch]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    assert {message["detail"]["stack-id"] for message in messages} == {stack_id}
    expected = stack_statuses(cfn, stack_id)
    assert expected[0] == "REVIEW_IN_PROGRESS" and expected[-1] == "DELETE_COMPLETE"
    assert [message["detail"]["status-details"]["status"] for message in messages] == expected


def test_delivery_never_holds_up_or_breaks_a_stack_operation(cfn: Any, clients: Clients, sandbox: Any) -> None:
    """AWS: a stack operation does not wait for EventBridge, nor fail with it. A delivery
    that hangs or fails here leaves the stack to complete, and later events still go out."""
    publisher = sandbox.cloudformation.status_events
    real_put = publisher.put
    release = threading.Event()
    delivered: list[str] = []

    def stuck_then_failing(region: str, account_id: str, entry: dict[str, Any]) -> None:
        release.wait(30)
        delivered.append(json.loads(entry["Detail"])["status-details"]["status"])
        raise RuntimeError("the bus is down")

    publisher.put = stuck_then_failing
    try:
        cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
        assert settle(cfn, "app", timeout=20)["StackStatus"] == "CREATE_COMPLETE"
        assert delivered == []
        release.set()
        assert publisher.wait_idle()
        assert delivered == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    finally:
        publisher.put = real_put


def test_a_rule_whose_function_is_missing_does_not_fail_the_stack(cfn: Any, clients: Clients, sandbox: Any) -> None:
    """AWS: an undeliverable event is counted (FailedInvocations), not raised anywhere."""
    rule_to(clients, "nowhere", STATUS_CHANGES, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ghost")

    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))

    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"
    assert sandbox.cloudformation.status_events.wait_idle()


def test_put_events_delivers_to_a_lambda_target_after_its_input_transformer(clients: Clients) -> None:
    """AWS: PutEvents invokes a matching rule's Lambda target asynchronously with what its
    InputTransformer makes of the event (moto 5.2.5 raised NotImplementedError: HTTP 500)."""
    clients("s3").create_bucket(Bucket="received")
    transformer = {"InputPathsMap": {"name": "$.detail.name"}, "InputTemplate": '{"hello": "<name>"}'}
    rule_to(clients, "greet", {"source": ["my.app"]}, recorder(clients, "greet"), InputTransformer=transformer)
    marker = str(uuid.uuid4())

    answer = clients("events").put_events(
        Entries=[{"Source": "my.app", "DetailType": "Greeting", "Detail": json.dumps({"name": marker})}]
    )

    assert answer["FailedEntryCount"] == 0
    wait_for(lambda: received(clients, "greet") != [])
    assert received(clients, "greet") == [{"hello": marker}]


def test_disabled_and_schedule_only_rules_match_no_event(clients: Clients) -> None:
    """AWS: a DISABLED rule delivers nothing; a rule with only a ScheduleExpression runs on its
    schedule and matches no event (moto sent every event to both)."""
    clients("s3").create_bucket(Bucket="received")
    events = clients("events")
    rule_to(clients, "off", {"source": ["my.app"]}, recorder(clients, "off"))
    events.disable_rule(Name="off")
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "target", "Arn": recorder(clients, "nightly")}])
    rule_to(clients, "on", {"source": ["my.app"]}, recorder(clients, "on"))

    events.put_events(Entries=[{"Source": "my.app", "DetailType": "Ping", "Detail": "{}"}])

    wait_for(lambda: received(clients, "on") != [])
    time.sleep(1)
    assert received(clients, "off") == [] and received(clients, "nightly") == []
