"""Failure, rollback and fault behaviour, each pinned to what CloudFormation does."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import Clients, body, events, settle, stack_statuses

STACK = "dataall-test-params"


def parameter_template(value: str, *, extra: bool = False) -> str:
    resources: dict[str, Any] = {
        "Setting": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/app/setting", "Type": "String", "Value": value},
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
    if extra:
        resources["Added"] = {"Type": "AWS::SNS::Topic", "DependsOn": "Setting"}
    return body(resources)


def setting(clients: Clients) -> str:
    return str(clients("ssm").get_parameter(Name="/app/setting")["Parameter"]["Value"])


def created(cfn: Any, template: str, name: str = STACK) -> dict[str, Any]:
    cfn.create_stack(StackName=name, TemplateBody=template)
    described = settle(cfn, name)
    assert described["StackStatus"] == "CREATE_COMPLETE"
    return described


def test_create_fault_fails_a_resource_and_rolls_the_stack_back(cfn: Any, sandbox: Any) -> None:
    sandbox.faults.add("params:create")
    cfn.create_stack(StackName=STACK, TemplateBody=parameter_template("one"))

    assert settle(cfn, STACK)["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [str(reason) for _, status, reason in events(cfn, STACK) if status == "CREATE_FAILED"]
    injected = [reason for reason in reasons if reason.endswith("(injected by the sandbox)")]
    assert len(injected) == 1
    assert injected[0].startswith("Resource handler returned message:")
    assert set(reasons) - set(injected) <= {"Resource creation cancelled"}


def test_update_fault_rolls_back_to_the_previous_properties(cfn: Any, clients: Clients, sandbox: Any) -> None:
    """AWS: UPDATE_ROLLBACK_IN_PROGRESS puts changed resources back; resources the update
    added are deleted in UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS."""
    created(cfn, parameter_template("one"))
    sandbox.faults.add("params:update")

    cfn.update_stack(StackName=STACK, TemplateBody=parameter_template("two", extra=True))

    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_statuses(cfn, STACK)[-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert setting(clients) == "one"
    assert clients("sns").list_topics()["Topics"] == []
    resources = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]}
    assert resources == {"Setting", "Queue"}
    template = cfn.get_template(StackName=STACK)["TemplateBody"]  # botocore reads JSON bodies
    assert template["Resources"]["Setting"]["Properties"]["Value"] == "one"


def test_a_failed_update_never_deleted_the_resources_it_removes(cfn: Any, clients: Clients, sandbox: Any) -> None:
    """AWS: removed resources go only in the cleanup of a successful update, so a rollback
    finds them still there."""
    created(cfn, parameter_template("one"))
    queue_url = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="Queue")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    sandbox.faults.add("params:update")
    without_queue = json.loads(parameter_template("two"))
    del without_queue["Resources"]["Queue"]

    cfn.update_stack(StackName=STACK, TemplateBody=json.dumps(without_queue))

    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert clients("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    assert not [event for event in events(cfn, STACK) if event[0] == "Queue" and event[1].startswith("DELETE")]


def test_rollback_fault_leaves_update_rollback_failed_and_continue_finishes_it(
    cfn: Any, clients: Clients, sandbox: Any
) -> None:
    """AWS: a failed rollback is UPDATE_ROLLBACK_FAILED; ContinueUpdateRollback completes it."""
    created(cfn, parameter_template("one"))
    sandbox.faults.add("params:rollback")

    cfn.update_stack(StackName=STACK, TemplateBody=parameter_template("two"))

    described = settle(cfn, STACK)
    assert described["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    assert described["StackStatusReason"].startswith("The following resource(s) failed to update: [")
    with pytest.raises(ClientError, match="UPDATE_ROLLBACK_FAILED state and can not be updated"):
        cfn.update_stack(StackName=STACK, TemplateBody=parameter_template("three"))
    cfn.continue_update_rollback(StackName=STACK)
    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert setting(clients) == "one"


def test_continue_update_rollback_can_skip_the_failed_resource(cfn: Any, clients: Clients, sandbox: Any) -> None:
    created(cfn, parameter_template("one"))
    sandbox.faults.add("params:rollback")
    cfn.update_stack(StackName=STACK, TemplateBody=parameter_template("two"))
    settle(cfn, STACK)
    failed = [lid for lid, status, _ in events(cfn, STACK) if status == "UPDATE_FAILED" and lid != STACK]

    with pytest.raises(ClientError, match="is not in UPDATE_FAILED state"):
        cfn.continue_update_rollback(StackName=STACK, ResourcesToSkip=["Queue"])
    cfn.continue_update_rollback(StackName=STACK, ResourcesToSkip=[failed[-1]])

    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert (failed[-1], "UPDATE_COMPLETE", "Resource skipped during UPDATE_ROLLBACK") in events(cfn, STACK)


def test_timeout_fault_keeps_a_create_in_progress_until_deleted(cfn: Any, sandbox: Any) -> None:
    """The stack never finishes on its own; AWS lets DeleteStack cancel a create."""
    sandbox.faults.add("params:timeout")
    stack_id = cfn.create_stack(StackName=STACK, TemplateBody=parameter_template("one"))["StackId"]
    time.sleep(0.5)

    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    cfn.delete_stack(StackName=STACK)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert any(reason == "Resource creation cancelled" for _, _, reason in events(cfn, stack_id))


def test_a_create_past_its_timeout_in_minutes_rolls_back_and_deletes_what_a_deletion_keeps(
    cfn: Any, clients: Clients, sandbox: Any, exact_creation_timeout: None
) -> None:
    """AWS: CreateStack's TimeoutInMinutes fails a create still going ("Resource creation
    cancelled") and rolls it back; a create's rollback deletes RetainExceptOnCreate resources."""
    template = body(
        {
            "Topic": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "RetainExceptOnCreate"},
            "Setting": {
                "Type": "AWS::SSM::Parameter",
                "DependsOn": "Topic",
                "Properties": {"Type": "String", "Value": "one"},
            },
        }
    )
    sandbox.faults.add("params:timeout")

    cfn.create_stack(StackName=STACK, TemplateBody=template, TimeoutInMinutes=1)

    described = settle(cfn, STACK)
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert described["TimeoutInMinutes"] == 1
    assert ("Setting", "CREATE_FAILED", "Resource creation cancelled") in events(cfn, STACK)
    reasons = [reason for lid, status, reason in events(cfn, STACK) if status == "ROLLBACK_IN_PROGRESS"]
    assert reasons == ["Stack creation time exceeded the specified timeout. Rollback requested by user."]
    assert clients("sns").list_topics()["Topics"] == [], "the create's rollback deletes a RetainExceptOnCreate topic"


def test_a_create_within_its_timeout_in_minutes_completes(cfn: Any, exact_creation_timeout: None) -> None:
    """The queue's create is modelled at 60 s, the stack's own overhead at 25 s."""
    cfn.create_stack(StackName=STACK, TemplateBody=parameter_template("one"), TimeoutInMinutes=2)

    assert settle(cfn, STACK)["StackStatus"] == "CREATE_COMPLETE"


def test_a_busy_machine_waking_a_wait_late_does_not_count_against_the_creation_timeout(
    cfn: Any, sandbox: Any, exact_creation_timeout: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only modelled latency (and a hang) is CloudFormation's time: a thread woken late by a
    loaded machine is not a slow AWS. Every wait here ends half a wall second late, many times
    the whole two-minute budget at the sandbox's time scale."""
    scheduler = sandbox.cloudformation.engine.scheduler
    original = scheduler.wait

    def late(seconds: float, stop: Any) -> bool:
        interrupted = original(seconds, stop)
        time.sleep(0.5)
        return bool(interrupted)

    monkeypatch.setattr(scheduler, "wait", late)

    cfn.create_stack(StackName=STACK, TemplateBody=parameter_template("one"), TimeoutInMinutes=2)

    assert settle(cfn, STACK)["StackStatus"] == "CREATE_COMPLETE"


def test_a_create_past_its_timeout_in_minutes_fails_without_a_fault(cfn: Any, exact_creation_timeout: None) -> None:
    cfn.create_stack(StackName=STACK, TemplateBody=parameter_template("one"), TimeoutInMinutes=1)

    assert settle(cfn, STACK)["StackStatus"] == "ROLLBACK_COMPLETE"


def test_timeout_fault_on_update_is_ended_by_cancel_update_stack(cfn: Any, clients: Clients, sandbox: Any) -> None:
    """AWS: CancelUpdateStack rolls an update back ("Resource update cancelled")."""
    created(cfn, parameter_template("one"))
    with pytest.raises(ClientError, match="CancelUpdateStack cannot be called from current stack status"):
        cfn.cancel_update_stack(StackName=STACK)
    sandbox.faults.add("params:timeout")
    cfn.update_stack(StackName=STACK, TemplateBody=parameter_template("two"))
    time.sleep(0.5)
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"

    cfn.cancel_update_stack(StackName=STACK)

    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert ("dataall-test-params", "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled") in events(cfn, STACK)
    assert setting(clients) == "one"


def test_throttle_fault_answers_throttling_rate_exceeded(cfn: Any, sandbox: Any) -> None:
    """AWS: `Throttling: Rate exceeded`; the fault fires `count` times, then calls pass."""
    created(cfn, parameter_template("one"))
    sandbox.faults.add("params:throttle@2")
    throttled = boto3.client(
        "cloudformation",
        endpoint_url=sandbox.endpoint,
        region_name=sandbox.region,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(retries={"total_max_attempts": 1}),  # botocore would retry Throttling
    )

    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            throttled.describe_stacks(StackName=STACK)
        assert raised.value.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
    assert throttled.describe_stacks(StackName=STACK)["Stacks"][0]["StackName"] == STACK


def test_a_non_empty_bucket_fails_delete_and_retain_resources_finishes_it(cfn: Any, clients: Clients) -> None:
    """AWS: DELETE_FAILED "The bucket you tried to delete is not empty"; DeleteStack again
    with RetainResources deletes the stack and keeps the bucket."""
    created(cfn, body({"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "kept-data"}}}))
    clients("s3").put_object(Bucket="kept-data", Key="file", Body=b"x")
    with pytest.raises(ClientError, match="RetainResources can only be specified"):
        cfn.delete_stack(StackName=STACK, RetainResources=["Bucket"])

    cfn.delete_stack(StackName=STACK)
    described = settle(cfn, STACK)

    assert described["StackStatus"] == "DELETE_FAILED"
    assert described["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    reason = next(r for lid, status, r in events(cfn, STACK) if status == "DELETE_FAILED" and lid == "Bucket")
    assert "The bucket you tried to delete is not empty" in str(reason)
    cfn.delete_stack(StackName=STACK, RetainResources=["Bucket"])
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert clients("s3").head_bucket(Bucket="kept-data")


def test_a_bucket_holding_only_old_versions_and_delete_markers_fails_delete_as_s3s_delete_bucket_refuses_it(
    cfn: Any, clients: Clients
) -> None:
    """AWS: S3's DeleteBucket refuses a bucket until every object version and delete marker is
    deleted (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html), so the stack's
    delete fails on a versioned bucket whose objects were only deleted (moto deleted nothing and
    reported the resource deleted); with every version gone the stack deletes it."""
    versioned = {"BucketName": "site", "VersioningConfiguration": {"Status": "Enabled"}}
    created(cfn, body({"Bucket": {"Type": "AWS::S3::Bucket", "Properties": versioned}}))
    s3 = clients("s3")
    s3.put_object(Bucket="site", Key="index.html", Body=b"1")
    s3.delete_object(Bucket="site", Key="index.html")  # a delete marker over the version

    cfn.delete_stack(StackName=STACK)
    described = settle(cfn, STACK)

    assert described["StackStatus"] == "DELETE_FAILED"
    reason = next(r for lid, status, r in events(cfn, STACK) if status == "DELETE_FAILED" and lid == "Bucket")
    assert "You must delete all versions in the bucket" in str(reason)
    listed = s3.list_object_versions(Bucket="site")
    s3.delete_objects(
        Bucket="site",
        Delete={
            "Objects": [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
            ]
        },
    )
    cfn.delete_stack(StackName=described["StackId"])
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert "site" not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


def test_deletion_policy_retain_skips_the_resource(cfn: Any, clients: Clients) -> None:
    stack_id = created(
        cfn,
        body({"Topic": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain", "Properties": {"TopicName": "keep"}}}),
    )["StackId"]

    cfn.delete_stack(StackName=STACK)

    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert ("Topic", "DELETE_SKIPPED", None) in events(cfn, stack_id)
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in clients("sns").list_topics()["Topics"]] == ["keep"]


def test_a_resource_already_deleted_out_of_band_does_not_block_the_stack_delete(cfn: Any, clients: Clients) -> None:
    """AWS: a resource handler's delete reports success when the resource no longer exists."""
    stack_id = created(cfn, parameter_template("v1"))["StackId"]
    clients("ssm").delete_parameter(Name="/app/setting")

    cfn.delete_stack(StackName=STACK)

    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_a_new_name_replaces_the_resource_and_the_old_goes_in_cleanup(cfn: Any, clients: Clients) -> None:
    """AWS: changing a name property creates a new physical resource; the old one is deleted
    in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS."""
    created(cfn, body({"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "first"}}}))

    cfn.update_stack(
        StackName=STACK,
        TemplateBody=body({"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "second"}}}),
    )

    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_COMPLETE"
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in clients("sns").list_topics()["Topics"]] == ["second"]
    reasons = [
        reason for lid, status, reason in events(cfn, STACK) if lid == "Topic" and status == "UPDATE_IN_PROGRESS"
    ]
    assert "Requested update requires the creation of a new physical resource; hence creating one." in reasons


def test_a_custom_named_resource_that_needs_replacing_is_refused(cfn: Any) -> None:
    """AWS: "CloudFormation cannot update a stack when a custom-named resource requires replacing"
    (a DB cluster parameter group's `Description` is create-only in its schema)."""
    group: dict[str, Any] = {
        "Type": "AWS::RDS::DBClusterParameterGroup",
        "Properties": {
            "DBClusterParameterGroupName": "tuned",
            "Description": "first",
            "Family": "aurora-postgresql16",
            "Parameters": {"log_statement": "ddl"},
        },
    }
    created(cfn, body({"Group": group}))
    described = {**group, "Properties": {**group["Properties"], "Description": "second"}}

    cfn.update_stack(StackName=STACK, TemplateBody=body({"Group": described}))

    assert settle(cfn, STACK)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reason = next(r for lid, status, r in events(cfn, STACK) if lid == "Group" and status == "UPDATE_FAILED")
    assert reason == (
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        "Rename tuned and update the stack again."
    )


# --------------------------------------------------------------------------- exports
def exporter(value: str) -> str:
    return body(
        {"Queue": {"Type": "AWS::SQS::Queue"}},
        Outputs={"Shared": {"Value": value, "Export": {"Name": "shared-value"}}},
    )


IMPORTER = body(
    {
        "Param": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": {"Fn::ImportValue": "shared-value"}},
        }
    }
)


def test_an_imported_export_blocks_deleting_its_stack(cfn: Any) -> None:
    """AWS: the stack goes back to its status with "Export X cannot be deleted as it is in use by Y"."""
    created(cfn, exporter("one"), name="producer")
    created(cfn, IMPORTER, name="consumer")

    assert cfn.list_exports()["Exports"][0]["Name"] == "shared-value"
    assert cfn.list_imports(ExportName="shared-value")["Imports"] == ["consumer"]
    cfn.delete_stack(StackName="producer")

    described = settle(cfn, "producer")
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["StackStatusReason"] == "Export shared-value cannot be deleted as it is in use by consumer"


def test_an_imported_export_cannot_change_its_value(cfn: Any) -> None:
    created(cfn, exporter("one"), name="producer")
    created(cfn, IMPORTER, name="consumer")

    cfn.update_stack(StackName="producer", TemplateBody=exporter("two"))

    described = settle(cfn, "producer")
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        "producer",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "Export shared-value cannot be updated as it is in use by consumer",
    ) in (events(cfn, "producer"))


def test_an_export_name_is_unique_in_the_region(cfn: Any) -> None:
    created(cfn, exporter("one"), name="producer")

    cfn.create_stack(StackName="copycat", TemplateBody=exporter("two"))

    described = settle(cfn, "copycat")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("copycat", "ROLLBACK_IN_PROGRESS", "Export with name shared-value is already exported by stack producer"
            "Rollback requested by user.") in events(cfn, "copycat")  # fmt: skip


def test_import_of_a_missing_export_fails_the_resource(cfn: Any) -> None:
    cfn.create_stack(StackName="consumer", TemplateBody=IMPORTER)

    assert settle(cfn, "consumer")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Param", "CREATE_FAILED", "No export named shared-value found.") in events(cfn, "consumer")
