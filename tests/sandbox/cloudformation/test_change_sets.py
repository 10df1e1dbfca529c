"""Change sets: computed in the background, with CloudFormation's statuses and Changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.cloudformation.conftest import body, settle, settle_change_set, stack_statuses

TOPIC = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}
QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}
PARAMETER = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "Topic"}}}


@pytest.fixture
def slow_clock(sandbox: Any) -> Iterator[None]:
    """The modelled 10 s of a change set's computation last 1 s of wall time, so that a describe
    right after CreateChangeSet sees it still computing even on a loaded machine (at the suite's
    scale it lasts 20 ms, which a busy worker can outlast before its next request)."""
    previous = sandbox.clock.rescale(0.1)
    yield
    sandbox.clock.rescale(previous)


def test_a_create_change_set_puts_a_new_stack_in_review_in_progress(cfn: Any, slow_clock: None) -> None:
    """AWS: ChangeSetType CREATE makes the stack REVIEW_IN_PROGRESS; the change set goes
    CREATE_PENDING → CREATE_IN_PROGRESS → CREATE_COMPLETE; executing it creates the stack."""
    answer = cfn.create_change_set(
        StackName="app", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body({"Topic": TOPIC})
    )

    first = cfn.describe_change_set(ChangeSetName=answer["Id"])
    assert first["Status"] in ("CREATE_PENDING", "CREATE_IN_PROGRESS")
    assert first["ExecutionStatus"] == "UNAVAILABLE"
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    done = settle_change_set(cfn, "app", "first")
    assert (done["Status"], done["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert [c["ResourceChange"]["Action"] for c in done["Changes"]] == ["Add"]

    cfn.execute_change_set(StackName="app", ChangeSetName="first")

    assert settle(cfn, "app")["StackStatus"] == "CREATE_COMPLETE"
    assert stack_statuses(cfn, "app") == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["ChangeSetId"] == answer["Id"]


def test_an_executed_change_set_is_found_by_its_arn_only(cfn: Any) -> None:
    """AWS: once executed, a change set is no longer the stack's by name, nor listed."""
    answer = cfn.create_change_set(
        StackName="app", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body({"Topic": TOPIC})
    )
    settle_change_set(cfn, "app", "first")
    cfn.execute_change_set(StackName="app", ChangeSetName="first")
    settle(cfn, "app")

    assert cfn.describe_change_set(ChangeSetName=answer["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    assert cfn.list_change_sets(StackName="app")["Summaries"] == []
    with pytest.raises(ClientError) as raised:
        cfn.describe_change_set(StackName="app", ChangeSetName="first")
    assert raised.value.response["Error"]["Code"] == "ChangeSetNotFound"


def test_an_update_change_set_lists_add_modify_and_remove(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC, "Queue": QUEUE}))
    settle(cfn, "app")
    renamed = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms"}}

    cfn.create_change_set(
        StackName="app", ChangeSetName="next", TemplateBody=body({"Topic": renamed, "Parameter": PARAMETER})
    )
    described = settle_change_set(cfn, "app", "next")

    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}
    assert changes["Topic"]["Action"] == "Modify"
    assert changes["Topic"]["Replacement"] == "True"
    assert changes["Topic"]["Scope"] == ["Properties"]
    assert changes["Topic"]["PhysicalResourceId"].endswith(":alerts")
    assert changes["Topic"]["Details"] == [
        {
            "Target": {"Attribute": "Properties", "Name": "TopicName", "RequiresRecreation": "Always"},
            "Evaluation": "Static",
            "ChangeSource": "DirectModification",
        }
    ]
    assert changes["Parameter"]["Action"] == "Add"
    assert changes["Queue"]["Action"] == "Remove"


def test_an_in_place_property_change_is_no_replacement(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body({"Queue": QUEUE}))
    settle(cfn, "app")
    longer = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}

    cfn.create_change_set(StackName="app", ChangeSetName="next", TemplateBody=body({"Queue": longer}))

    change = settle_change_set(cfn, "app", "next")["Changes"][0]["ResourceChange"]
    assert (change["Action"], change["Replacement"]) == ("Modify", "False")


def test_a_change_set_without_changes_fails_with_aws_reason(cfn: Any) -> None:
    """AWS: FAILED, "The submitted information didn't contain changes. Submit different
    information to create a change set.", ExecutionStatus UNAVAILABLE."""
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC}))
    settle(cfn, "app")

    cfn.create_change_set(StackName="app", ChangeSetName="same", TemplateBody=body({"Topic": TOPIC}))
    described = settle_change_set(cfn, "app", "same")

    assert described["Status"] == "FAILED"
    assert described["ExecutionStatus"] == "UNAVAILABLE"
    assert described["StatusReason"] == (
        "The submitted information didn't contain changes. Submit different information to create a change set."
    )
    with pytest.raises(ClientError) as raised:
        cfn.execute_change_set(StackName="app", ChangeSetName="same")
    assert raised.value.response["Error"]["Code"] == "InvalidChangeSetStatus"


def test_executing_an_update_change_set_updates_the_stack(cfn: Any, clients: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC}))
    settle(cfn, "app")
    cfn.create_change_set(
        StackName="app", ChangeSetName="add", TemplateBody=body({"Topic": TOPIC, "Parameter": PARAMETER})
    )
    settle_change_set(cfn, "app", "add")

    cfn.execute_change_set(StackName="app", ChangeSetName="add")

    assert settle(cfn, "app")["StackStatus"] == "UPDATE_COMPLETE"
    value = clients("ssm").describe_parameters()["Parameters"]
    assert len(value) == 1


def test_list_and_delete_change_sets(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC}))
    settle(cfn, "app")
    cfn.create_change_set(StackName="app", ChangeSetName="one", TemplateBody=body({"Queue": QUEUE}))
    cfn.create_change_set(StackName="app", ChangeSetName="two", TemplateBody=body({"Topic": TOPIC, "Queue": QUEUE}))

    assert sorted(s["ChangeSetName"] for s in cfn.list_change_sets(StackName="app")["Summaries"]) == ["one", "two"]
    cfn.delete_change_set(StackName="app", ChangeSetName="one")
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="app")["Summaries"]] == ["two"]
    with pytest.raises(ClientError) as raised:
        cfn.describe_change_set(StackName="app", ChangeSetName="one")
    assert raised.value.response["Error"]["Code"] == "ChangeSetNotFound"


def test_a_create_change_set_for_an_existing_stack_is_refused(cfn: Any) -> None:
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC}))

    with pytest.raises(ClientError, match=r"Stack \[app\] already exists and cannot be created again"):
        cfn.create_change_set(
            StackName="app", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body({"Topic": TOPIC})
        )


def test_get_template_of_a_change_set(cfn: Any) -> None:
    yaml_body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
    cfn.create_change_set(StackName="app", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=yaml_body)

    assert cfn.get_template(StackName="app", ChangeSetName="c")["TemplateBody"] == yaml_body


def test_a_stack_in_review_has_no_template_until_its_change_set_runs(cfn: Any) -> None:
    """AWS: a CREATE change set makes "a stack with a unique stack ID, but no template or
    resources", REVIEW_IN_PROGRESS until the change set is executed
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html,
    ChangeSetType). DescribeStacks and GetTemplate answer for it, GetTemplate with no
    TemplateBody; the CDK CLI reads both for the stack its own change set left in review."""
    cfn.create_change_set(
        StackName="app", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body({"Topic": TOPIC})
    )

    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    in_review = cfn.get_template(StackName="app", TemplateStage="Original")
    assert "TemplateBody" not in in_review
    assert cfn.list_stack_resources(StackName="app")["StackResourceSummaries"] == []

    settle_change_set(cfn, "app", "c")
    cfn.execute_change_set(StackName="app", ChangeSetName="c")
    settle(cfn, "app")
    assert cfn.get_template(StackName="app")["TemplateBody"] == {"Resources": {"Topic": TOPIC}}


def test_deleting_a_change_set_the_stack_does_not_have_succeeds(cfn: Any) -> None:
    """AWS: DeleteChangeSet's only error is InvalidChangeSetStatus
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteChangeSet.html):
    deleting by name a change set the stack does not have succeeds while the stack exists. The
    CDK CLI deletes its change set name before every deploy (`cdk deploy`'s cleanupOldChangeset)."""
    cfn.create_stack(StackName="app", TemplateBody=body({"Topic": TOPIC}))
    settle(cfn, "app")

    cfn.delete_change_set(StackName="app", ChangeSetName="cdk-deploy-change-set")

    with pytest.raises(ClientError, match="Stack with id gone does not exist"):
        cfn.delete_change_set(StackName="gone", ChangeSetName="cdk-deploy-change-set")


STATEFUL = {
    "Db": {
        "Type": "AWS::RDS::DBCluster",
        "Properties": {
            "Engine": "aurora-postgresql",
            "DatabaseName": "dataall",
            "MasterUsername": "admin",
            "MasterUserPassword": "not-a-secret-1",
            "BackupRetentionPeriod": 7,
        },
    },
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data-one"}},
    "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "creds", "Description": "a"}},
    "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
    "Users": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "users"}},
}


def _modified(described: dict[str, Any]) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    return {
        c["ResourceChange"]["LogicalResourceId"]: (
            c["ResourceChange"]["Replacement"],
            [(d["Target"]["Name"], d["Target"]["RequiresRecreation"]) for d in c["ResourceChange"]["Details"]],
        )
        for c in described["Changes"]
        if c["ResourceChange"]["Action"] == "Modify"
    }


def test_replacement_follows_the_resource_schemas_create_only_properties(cfn: Any) -> None:
    """AWS: a change set's `Replacement` is True when a create-only property of the type's
    schema changes (RequiresRecreation Always), False when only updatable ones do
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-samples.html):
    DBCluster DatabaseName, S3 BucketName and Secret Name replace; DBCluster
    BackupRetentionPeriod, Secret Description, a KMS key's Description and a user pool's
    UserPoolName (updatable since the schema says so) do not."""
    cfn.create_stack(StackName="data", TemplateBody=body(STATEFUL))
    settle(cfn, "data")
    changed: dict[str, Any] = json.loads(json.dumps(STATEFUL))
    changed["Db"]["Properties"].update(DatabaseName="other", BackupRetentionPeriod=14)
    changed["Bucket"]["Properties"]["BucketName"] = "data-two"
    changed["Secret"]["Properties"].update(Name="creds2", Description="b")
    changed["Key"]["Properties"]["Description"] = "the data key"
    changed["Users"]["Properties"]["UserPoolName"] = "people"

    cfn.create_change_set(StackName="data", ChangeSetName="next", TemplateBody=body(changed))

    assert _modified(settle_change_set(cfn, "data", "next")) == {
        "Db": ("True", [("BackupRetentionPeriod", "Never"), ("DatabaseName", "Always")]),
        "Bucket": ("True", [("BucketName", "Always")]),
        "Secret": ("True", [("Description", "Never"), ("Name", "Always")]),
        "Key": ("False", [("Description", "Never")]),
        "Users": ("False", [("UserPoolName", "Never")]),
    }


def test_a_create_only_property_known_only_during_the_update_is_a_conditional_replacement(cfn: Any) -> None:
    """AWS: a create-only property that references a resource being replaced is evaluated
    during the update (`Evaluation: Dynamic`), so the replacement is `Conditional`."""
    bucket = STATEFUL["Bucket"]
    secret = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": {"Ref": "Bucket"}}}
    cfn.create_stack(StackName="data", TemplateBody=body({"Bucket": bucket, "Secret": secret}))
    settle(cfn, "data")
    renamed = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data-two"}}

    cfn.create_change_set(
        StackName="data", ChangeSetName="next", TemplateBody=body({"Bucket": renamed, "Secret": secret})
    )

    modified = _modified(settle_change_set(cfn, "data", "next"))
    assert modified["Secret"] == ("Conditional", [("Name", "Always")])
