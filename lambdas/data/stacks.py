"""CloudFormation, as the installer needs it: state of a stack, change sets, failure reasons."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.errors import Throttled

#: A stack that runs a release and may be updated.
STABLE = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)
#: A stack whose creation failed: it can only be deleted (then created again).
FAILED_CREATE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"})
SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
#: How a service's refusal to delete a resource protected against deletion reads (RDS: "Cannot
#: delete protected Cluster, please disable deletion protection and try again"; DynamoDB: "…
#: currently protected against deletion"; Cognito: "… DeletionProtection is active").
PROTECTED_MARKS = ("deletion protection", "protected against deletion", "deletionprotection is active")
NO_CHANGES = "The submitted information didn't contain changes"
THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})


def region_of_stack(stack_id: str | None) -> str | None:
    """`arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID` -> REGION (None: not a stack id)."""
    parts = (stack_id or "").split(":")
    return parts[3] if len(parts) > 5 and parts[2] == "cloudformation" and parts[3] else None


def in_progress(status: str) -> bool:
    return status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def guard_throttling(error: ClientError) -> None:
    """Re-raise AWS throttling as Throttled, which the state machine retries with back-off."""
    if error_code(error) in THROTTLING:
        raise Throttled(f"CloudFormation throttled the installer: {error_message(error)}") from error


def normalized_sha256(template: str | dict[str, Any]) -> str:
    """The sha256 of a template's content, whatever its JSON formatting."""
    document = template if isinstance(template, dict) else json.loads(template)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class StackInfo:
    name: str
    stack_id: str
    status: str
    reason: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    termination_protection: bool = False
    #: CloudFormation's creation timeout (None: the stack was created without one)
    timeout_in_minutes: int | None = None

    @classmethod
    def from_api(cls, stack: dict[str, Any]) -> StackInfo:
        return cls(
            name=stack["StackName"],
            stack_id=stack["StackId"],
            status=stack["StackStatus"],
            reason=stack.get("StackStatusReason", ""),
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
            outputs={o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", []) or []},
            tags={t["Key"]: t["Value"] for t in stack.get("Tags", []) or []},
            termination_protection=bool(stack.get("EnableTerminationProtection", False)),
            timeout_in_minutes=stack.get("TimeoutInMinutes"),
        )


class Stacks:
    """CloudFormation calls with AWS's edge cases answered in one place."""

    def __init__(self, cfn: Any) -> None:
        self.cfn = cfn

    def describe(self, name_or_id: str) -> StackInfo | None:
        """The stack, or None when it does not exist (or is DELETE_COMPLETE)."""
        try:
            stacks = self.cfn.describe_stacks(StackName=name_or_id)["Stacks"]
        except ClientError as error:
            guard_throttling(error)
            if error_code(error) == "ValidationError" and "does not exist" in error_message(error):
                return None
            raise
        if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
            return None
        return StackInfo.from_api(stacks[0])

    def template(self, name_or_id: str) -> str:
        """The template the stack runs now, as JSON text ("{}" for a stack in REVIEW_IN_PROGRESS, whose
        change set has not run: CloudFormation answers it with no TemplateBody)."""
        try:
            body = self.cfn.get_template(StackName=name_or_id, TemplateStage="Original").get("TemplateBody", "{}")
        except ClientError as error:
            guard_throttling(error)
            raise
        return body if isinstance(body, str) else json.dumps(body)

    def create_change_set(self, **kwargs: Any) -> str:
        """Create a change set; an existing one of the same name (a retried call) is reused."""
        try:
            return str(self.cfn.create_change_set(**kwargs)["Id"])
        except ClientError as error:
            guard_throttling(error)
            if error_code(error) != "AlreadyExistsException":
                raise
        existing = self.cfn.describe_change_set(StackName=kwargs["StackName"], ChangeSetName=kwargs["ChangeSetName"])
        return str(existing["ChangeSetId"])

    def describe_change_set(self, change_set_id: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self.cfn.describe_change_set(ChangeSetName=change_set_id)
        except ClientError as error:
            guard_throttling(error)
            raise
        return result

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Any CloudFormation call, with throttling turned into Throttled."""
        try:
            result: dict[str, Any] = getattr(self.cfn, operation)(**kwargs)
        except ClientError as error:
            guard_throttling(error)
            raise
        return result

    def _latest_operation(self, stack_id: str) -> list[dict[str, Any]]:
        """The events of the stack's latest operation, newest first, back to its "User Initiated" start."""
        try:
            events = self.cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        except ClientError as error:
            guard_throttling(error)
            raise
        operation: list[dict[str, Any]] = []
        for event in events:
            operation.append(event)
            if (
                event.get("LogicalResourceId") == event.get("StackName")
                and event.get("ResourceStatusReason") == "User Initiated"
            ):
                break
        return operation

    def deletion_protected(self, stack_id: str) -> list[str]:
        """The resources a failed DeleteStack could not delete because their own deletion protection
        is on (an Aurora cluster's `DeletionProtection`, a table's, a user pool's), from the events of
        the latest operation; CloudFormation then deletes the stack with them in RetainResources."""
        protected: list[str] = []
        for event in self._latest_operation(stack_id):
            reason = event.get("ResourceStatusReason", "").lower()
            failed = event.get("ResourceStatus") == "DELETE_FAILED" and any(m in reason for m in PROTECTED_MARKS)
            if failed and event["LogicalResourceId"] not in protected:
                protected.append(event["LogicalResourceId"])
        return protected

    def failure(self, stack_id: str) -> dict[str, str]:
        """Why the latest operation on a stack failed: the first resource that failed, from events."""
        operation = self._latest_operation(stack_id)
        # The first resource that failed by itself; else the stack's own reason (a creation
        # timeout, where every resource still going is "cancelled").
        own_reason: dict[str, str] | None = None
        for event in reversed(operation):
            status = event.get("ResourceStatus", "")
            reason = event.get("ResourceStatusReason", "")
            if status.endswith("_FAILED") and reason and "cancelled" not in reason.lower():
                return {
                    "resource": event.get("LogicalResourceId", ""),
                    "resource_type": event.get("ResourceType", ""),
                    "reason": reason,
                }
            stack_event = event.get("LogicalResourceId") == event.get("StackName")
            if (
                own_reason is None
                and stack_event
                and reason
                and reason != "User Initiated"
                and ("FAILED" in status or "ROLLBACK" in status)
            ):
                own_reason = {"resource": "", "resource_type": event.get("ResourceType", ""), "reason": reason}
        if own_reason is not None:
            return own_reason
        return {"resource": "", "resource_type": "", "reason": "no resource reported a failure"}
