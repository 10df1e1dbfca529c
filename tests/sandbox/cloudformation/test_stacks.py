"""Stack operations through the sandbox endpoint, each pinned to the AWS behaviour it imitates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle, stack_statuses

QUEUE = {"Queue": {"Type": "AWS::SQS::Queue"}}
UNSUPPORTED = {"Type": "AWS::Imaginary::Thing"}


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_create_answers_at_once_and_completes_in_the_background(cfn: Any) -> None:
    """AWS: CreateStack returns the stack id while the stack is CREATE_IN_PROGRESS."""
    stack_id = cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))["StackId"]

    assert stack_id.startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/app/")
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"
    assert events(cfn, "app") == [
        ("app", "CREATE_IN_PROGRESS", "User Initiated"),
        ("Queue", "CREATE_IN_PROGRESS", None),
        ("Queue", "CREATE_COMPLETE", None),
        ("app", "CREATE_COMPLETE", None),
    ]


def test_resources_are_real_in_their_services(cfn: Any, clients: Clients) -> None:
    """AWS: what a stack creates, the service's own API lists."""
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    settle(cfn, "app")

    url = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Queue")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    name = url.rsplit("/", 1)[1]
    assert name.startswith("app-Queue-")
    assert clients("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == (
        f"arn:aws:sqs:us-east-1:123456789012:{name}"
    )


def test_an_existing_name_is_refused(cfn: Any) -> None:
    """AWS: AlreadyExistsException "Stack [app] already exists"."""
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))

    with pytest.raises(ClientError) as raised:
        cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    assert error_of(raised) == ("AlreadyExistsException", "Stack [app] already exists")


def test_describing_a_missing_stack_is_a_validation_error(cfn: Any) -> None:
    with pytest.raises(ClientError) as raised:
        cfn.describe_stacks(StackName="ghost")
    assert error_of(raised) == ("ValidationError", "Stack with id ghost does not exist")


def test_an_unsupported_type_fails_its_resource_and_the_stack_rolls_back(cfn: Any) -> None:
    """Nothing is silently dropped: CREATE_FAILED with the reason, then ROLLBACK_COMPLETE. As in
    AWS, the queue still being created is cancelled ("Resource creation cancelled")."""
    cfn.create_stack(StackName="app", TemplateBody=body({**QUEUE, "Thing": UNSUPPORTED}))

    described = settle(cfn, "app")

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Thing", "CREATE_FAILED", "Resource type AWS::Imaginary::Thing is not supported by the sandbox") in events(
        cfn, "app"
    )
    assert stack_statuses(cfn, "app") == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    reasons = {status: reason for logical_id, status, reason in events(cfn, "app") if logical_id == "app"}
    assert reasons["ROLLBACK_IN_PROGRESS"] == (
        "The following resource(s) failed to create: [Queue, Thing]. Rollback requested by user."
    )
    assert ("Queue", "CREATE_FAILED", "Resource creation cancelled") in events(cfn, "app")
    queue = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Queue")["StackResourceDetail"]
    assert queue["ResourceStatus"] == "DELETE_COMPLETE"


def test_a_rolled_back_stack_can_only_be_deleted(cfn: Any) -> None:
    """AWS: ROLLBACK_COMPLETE refuses updates; deleting it frees the name."""
    cfn.create_stack(StackName="app", TemplateBody=body({"Thing": UNSUPPORTED}))
    described = settle(cfn, "app")

    with pytest.raises(ClientError) as raised:
        cfn.update_stack(StackName="app", TemplateBody=body(QUEUE))
    assert error_of(raised) == (
        "ValidationError",
        f"Stack:{described['StackId']} is in ROLLBACK_COMPLETE state and can not be updated.",
    )
    cfn.delete_stack(StackName="app")
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"


def test_disable_rollback_leaves_create_failed(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body({"Thing": UNSUPPORTED}), DisableRollback=True)

    described = settle(cfn, "app")

    assert described["StackStatus"] == "CREATE_FAILED"
    assert described["StackStatusReason"] == "The following resource(s) failed to create: [Thing]. "


def test_on_failure_delete_deletes_the_stack(cfn: Any) -> None:
    stack_id = cfn.create_stack(StackName="app", TemplateBody=body({"Thing": UNSUPPORTED}), OnFailure="DELETE")[
        "StackId"
    ]

    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_a_deleted_stack_is_found_by_id_only(cfn: Any) -> None:
    """AWS: DescribeStacks by name forgets a deleted stack; by id it shows DELETE_COMPLETE."""
    stack_id = cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))["StackId"]
    settle(cfn, "app")
    cfn.delete_stack(StackName="app")

    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match="Stack with id app does not exist"):
        cfn.describe_stacks(StackName="app")
    assert cfn.describe_stacks()["Stacks"] == []
    deleted = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert [summary["StackId"] for summary in deleted] == [stack_id]


def test_termination_protection_refuses_delete(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE), EnableTerminationProtection=True)
    settle(cfn, "app")

    with pytest.raises(ClientError) as raised:
        cfn.delete_stack(StackName="app")
    assert error_of(raised) == (
        "ValidationError",
        "Stack [app] cannot be deleted while TerminationProtection is enabled",
    )
    cfn.update_termination_protection(StackName="app", EnableTerminationProtection=False)
    cfn.delete_stack(StackName="app")


def test_deleting_a_stack_that_does_not_exist_succeeds(cfn: Any) -> None:
    """AWS: DeleteStack of an unknown name is not an error."""
    cfn.delete_stack(StackName="never-was")


def test_an_update_with_nothing_changed_is_refused(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    settle(cfn, "app")

    with pytest.raises(ClientError) as raised:
        cfn.update_stack(StackName="app", TemplateBody=body(QUEUE))
    assert error_of(raised) == ("ValidationError", "No updates are to be performed.")


def test_an_operation_in_progress_refuses_another(cfn: Any) -> None:
    """AWS: "Stack:<arn> is in CREATE_IN_PROGRESS state and can not be updated."."""
    stack_id = cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))["StackId"]

    with pytest.raises(ClientError) as raised:
        cfn.update_stack(StackName="app", TemplateBody=body({"Other": {"Type": "AWS::SQS::Queue"}}))
    assert error_of(raised) == (
        "ValidationError",
        f"Stack:{stack_id} is in CREATE_IN_PROGRESS state and can not be updated.",
    )


def test_an_update_goes_through_cleanup_and_removes_resources_only_then(cfn: Any, clients: Clients) -> None:
    """AWS: UPDATE_IN_PROGRESS → UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (removed resources go) →
    UPDATE_COMPLETE."""
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    settle(cfn, "app")
    old_url = cfn.describe_stack_resource(StackName="app", LogicalResourceId="Queue")["StackResourceDetail"][
        "PhysicalResourceId"
    ]

    cfn.update_stack(StackName="app", TemplateBody=body({"Topic": {"Type": "AWS::SNS::Topic"}}))

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    assert stack_statuses(cfn, "app")[-3:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]
    cleanup = events(cfn, "app")[-3:-1]
    assert cleanup == [("Queue", "DELETE_IN_PROGRESS", None), ("Queue", "DELETE_COMPLETE", None)]
    assert clients("sqs").list_queues().get("QueueUrls", []) == []
    assert old_url
    assert [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="app")["StackResourceSummaries"]] == [
        "Topic"
    ]


def test_get_template_returns_the_original_text(cfn: Any) -> None:
    yaml_body = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue  # a comment\n"
    cfn.create_stack(StackName="app", TemplateBody=yaml_body)

    assert cfn.get_template(StackName="app")["TemplateBody"] == yaml_body


def test_a_template_url_reads_the_object_from_s3(cfn: Any, clients: Clients, sandbox: Any) -> None:
    s3 = clients("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="dir/app.json", Body=body(QUEUE).encode())

    for url in (
        "https://templates.s3.amazonaws.com/dir/app.json",
        "https://templates.s3.us-east-1.amazonaws.com/dir/app.json",
        "https://s3.amazonaws.com/templates/dir/app.json",
        f"{sandbox.endpoint}/templates/dir/app.json",
    ):
        summary = cfn.get_template_summary(TemplateURL=url)
        assert summary["ResourceTypes"] == ["AWS::SQS::Queue"]
    with pytest.raises(ClientError, match="TemplateURL must reference a valid S3 object"):
        cfn.get_template_summary(TemplateURL="https://templates.s3.amazonaws.com/missing.json")


def test_template_errors_are_answered_synchronously_with_aws_words(cfn: Any) -> None:
    bad = body({"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nope"}}}})

    with pytest.raises(ClientError) as raised:
        cfn.create_stack(StackName="app", TemplateBody=bad)
    assert error_of(raised) == (
        "ValidationError",
        "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template",
    )


def test_iam_resources_need_the_iam_capability(cfn: Any) -> None:
    """AWS: InsufficientCapabilitiesException "Requires capabilities : [CAPABILITY_IAM]"."""
    role = {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}}}

    with pytest.raises(ClientError) as raised:
        cfn.create_stack(StackName="app", TemplateBody=body(role))
    assert error_of(raised) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
    cfn.create_stack(StackName="app", TemplateBody=body(role), Capabilities=["CAPABILITY_IAM"])
    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"


def test_parameters_outputs_and_no_echo_in_describe_stacks(cfn: Any) -> None:
    template = body(
        {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Env}-work"}}}},
        Parameters={
            "Env": {"Type": "String", "AllowedValues": ["dev", "prod"]},
            "Token": {"Type": "String", "NoEcho": True},
        },
        Outputs={"Name": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}, "Description": "queue name"}},
    )
    cfn.create_stack(
        StackName="app",
        TemplateBody=template,
        Parameters=[
            {"ParameterKey": "Env", "ParameterValue": "prod"},
            {"ParameterKey": "Token", "ParameterValue": "s3cr3t"},
        ],
    )

    described = settle(cfn, "app")

    assert sorted(described["Parameters"], key=lambda p: p["ParameterKey"]) == [
        {"ParameterKey": "Env", "ParameterValue": "prod"},
        {"ParameterKey": "Token", "ParameterValue": "****"},
    ]
    assert described["Outputs"] == [{"OutputKey": "Name", "OutputValue": "prod-work", "Description": "queue name"}]


def test_a_parameter_failing_its_pattern_is_refused(cfn: Any) -> None:
    template = body(QUEUE, Parameters={"Env": {"Type": "String", "AllowedPattern": "[a-z]+"}})

    with pytest.raises(ClientError) as raised:
        cfn.create_stack(
            StackName="app", TemplateBody=template, Parameters=[{"ParameterKey": "Env", "ParameterValue": "X1"}]
        )
    assert error_of(raised) == ("ValidationError", "Parameter 'Env' must match pattern [a-z]+")


def test_conditions_leave_out_resources_and_outputs(cfn: Any) -> None:
    template = body(
        {"Queue": {"Type": "AWS::SQS::Queue"}, "Extra": {"Type": "AWS::SQS::Queue", "Condition": "Big"}},
        Parameters={"Size": {"Type": "String", "Default": "small"}},
        Conditions={"Big": {"Fn::Equals": [{"Ref": "Size"}, "big"]}},
        Outputs={"ExtraUrl": {"Condition": "Big", "Value": {"Ref": "Extra"}}},
    )
    cfn.create_stack(StackName="app", TemplateBody=template)

    described = settle(cfn, "app")

    assert "Outputs" not in described
    assert [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="app")["StackResourceSummaries"]] == [
        "Queue"
    ]


def test_stacks_are_kept_per_region(cfn: Any, clients: Clients) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    west = clients("cloudformation", "eu-west-1")

    with pytest.raises(ClientError, match="does not exist"):
        west.describe_stacks(StackName="app")
    west.create_stack(StackName="app", TemplateBody=body(QUEUE))
    assert settle(west, "app")["StackId"].startswith("arn:aws:cloudformation:eu-west-1:")


def test_stack_policy_is_stored(cfn: Any) -> None:
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]})
    cfn.create_stack(StackName="app", TemplateBody=body(QUEUE))
    cfn.set_stack_policy(StackName="app", StackPolicyBody=policy)

    assert cfn.get_stack_policy(StackName="app")["StackPolicyBody"] == policy


def test_validate_template_and_summary_describe_parameters_and_capabilities(cfn: Any) -> None:
    template = body(
        {"Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "fixed", "AssumeRolePolicyDocument": {}}}},
        Description="demo",
        Parameters={
            "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"], "Description": "where"}
        },
    )

    validated = cfn.validate_template(TemplateBody=template)
    summary = cfn.get_template_summary(TemplateBody=template)

    assert validated["Description"] == "demo"
    assert validated["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert validated["Parameters"] == [
        {"ParameterKey": "Env", "DefaultValue": "dev", "NoEcho": False, "Description": "where"}
    ]
    assert summary["Parameters"][0]["ParameterConstraints"] == {"AllowedValues": ["dev", "prod"]}
    assert summary["ResourceTypes"] == ["AWS::IAM::Role"]


def test_an_unknown_action_names_it(sandbox: Any) -> None:
    import urllib.request

    request = urllib.request.Request(
        sandbox.endpoint,
        data=b"Action=Frobnicate&Version=2010-05-15",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/cloudformation/aws4_request, x"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert b"The action Frobnicate is not valid for this web service." in raised.value.read()
