"""Why a stack's latest operation failed, as the failure report gives it (Stacks.failure)."""

from __future__ import annotations

from typing import Any

from lambdas.data.stacks import Stacks

STACK = "dataall-prod-sqs"
TIMED_OUT = "Stack creation time exceeded the specified timeout. Rollback requested by user."


class _Events:
    """describe_stack_events of one stack: newest first, as CloudFormation pages them."""

    def __init__(self, oldest_first: list[tuple[str, str, str]]) -> None:
        self.events = [
            {
                "StackName": STACK,
                "LogicalResourceId": logical_id,
                "ResourceType": "AWS::CloudFormation::Stack" if logical_id == STACK else "AWS::SQS::Queue",
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
            }
            for logical_id, status, reason in reversed(oldest_first)
        ]

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": self.events}


def test_the_first_resource_that_failed_is_named_with_its_reason() -> None:
    events = _Events([
        (STACK, "CREATE_IN_PROGRESS", "User Initiated"),
        ("Queue", "CREATE_FAILED", "Resource handler returned message: access denied"),
        ("DeadLetters", "CREATE_FAILED", "Resource creation cancelled"),
        (STACK, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Queue]. Rollback requested."),
    ])  # fmt: skip

    failure = Stacks(events).failure(STACK)

    assert failure == {
        "resource": "Queue",
        "resource_type": "AWS::SQS::Queue",
        "reason": "Resource handler returned message: access denied",
    }


def test_a_creation_timeout_gives_the_stacks_own_reason() -> None:
    """AWS: past TimeoutInMinutes every resource still going is "cancelled"; only the stack's
    own event says why."""
    events = _Events([
        (STACK, "CREATE_IN_PROGRESS", "User Initiated"),
        ("Queue", "CREATE_FAILED", "Resource creation cancelled"),
        (STACK, "ROLLBACK_IN_PROGRESS", TIMED_OUT),
        ("Queue", "DELETE_COMPLETE", ""),
        (STACK, "ROLLBACK_COMPLETE", ""),
    ])  # fmt: skip

    failure = Stacks(events).failure(STACK)

    assert failure["reason"] == TIMED_OUT
    assert failure["resource"] == ""
    assert failure["resource_type"] == "AWS::CloudFormation::Stack"


def test_an_earlier_operations_failure_is_not_this_ones() -> None:
    events = _Events([
        (STACK, "CREATE_IN_PROGRESS", "User Initiated"),
        ("Queue", "CREATE_FAILED", "an old failure"),
        (STACK, "ROLLBACK_COMPLETE", ""),
        (STACK, "UPDATE_IN_PROGRESS", "User Initiated"),
        (STACK, "UPDATE_COMPLETE", ""),
    ])  # fmt: skip

    assert Stacks(events).failure(STACK)["reason"] == "no resource reported a failure"


class _Templates:
    """GetTemplate as CloudFormation answers it: no TemplateBody for a stack in REVIEW_IN_PROGRESS."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def get_template(self, StackName: str, TemplateStage: str) -> dict[str, Any]:
        return self.answer


def test_a_stack_whose_change_set_has_not_run_has_an_empty_template() -> None:
    """CreateChangeSet (ChangeSetType CREATE) leaves a stack in REVIEW_IN_PROGRESS with "no template
    or resources" until the change set runs; GetTemplate then has no TemplateBody
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html)."""
    assert Stacks(_Templates({"StagesAvailable": ["Original"]})).template(STACK) == "{}"
    assert Stacks(_Templates({"TemplateBody": {"Resources": {}}})).template(STACK) == '{"Resources": {}}'


def test_a_delete_refused_by_deletion_protection_names_the_protected_resources_only() -> None:
    """RDS refuses to delete a cluster whose DeletionProtection is on ("Cannot delete protected
    Cluster, please disable deletion protection and try again"); CloudFormation's DeleteStack on the
    DELETE_FAILED stack may then keep it with RetainResources
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html)."""
    protected = "Cannot delete protected Cluster, please disable deletion protection and try again."
    events = _Events(
        [
            (STACK, "DELETE_IN_PROGRESS", "Earlier"),
            ("Old", "DELETE_FAILED", protected),  # an earlier operation: not this delete's
            (STACK, "DELETE_IN_PROGRESS", "User Initiated"),
            ("Cluster", "DELETE_FAILED", protected),
            ("Queue", "DELETE_FAILED", "Access denied"),
            ("Table", "DELETE_FAILED", "Resource cannot be deleted as it is currently protected against deletion."),
            (STACK, "DELETE_FAILED", "The following resource(s) failed to delete: [Cluster, Queue, Table]."),
        ]
    )

    assert Stacks(events).deletion_protected(STACK) == ["Table", "Cluster"]
    assert Stacks(_Events([(STACK, "DELETE_IN_PROGRESS", "User Initiated")])).deletion_protected(STACK) == []
