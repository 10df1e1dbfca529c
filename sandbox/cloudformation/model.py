"""What the sandbox's CloudFormation remembers: stacks, their resources, events, change sets,
drift results.

Every stack has a lock. An operation's thread changes the stack under it; API calls read
a consistent view under it. Nothing here runs an operation (that is `engine`), and
nothing here knows the wire format (that is `api`).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.cloudformation.intrinsics import Evaluator, ResourceResolver, text
from sandbox.cloudformation.parameters import ResolvedParameters
from sandbox.cloudformation.providers.base import Provisioned, StackContext
from sandbox.cloudformation.template import Template

STACK_TYPE = "AWS::CloudFormation::Stack"
#: CreateStack's request key, in process only, naming the parent of a nested stack
NESTED_IN = "sandbox:ParentId"
#: the last operation completed: only from these does AWS accept an update
COMPLETE_STATES = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


def now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- drift
@dataclass(frozen=True)
class PropertyDifference:
    """One property whose live value is not the template's (AWS's `PropertyDifference`)."""

    path: str
    expected: str
    actual: str
    #: ADD | REMOVE | NOT_EQUAL
    kind: str

    def describe(self) -> dict[str, str]:
        return {
            "PropertyPath": self.path,
            "ExpectedValue": self.expected,
            "ActualValue": self.actual,
            "DifferenceType": self.kind,
        }


@dataclass(frozen=True)
class ResourceDrift:
    """What the last drift check of one resource found."""

    #: IN_SYNC | MODIFIED | DELETED | UNKNOWN (the check itself failed: `reason` says why)
    status: str
    physical_id: str | None
    timestamp: datetime = field(default_factory=now)
    #: the properties compared, as the template set them and as the service has them
    expected: dict[str, Any] | None = None
    actual: dict[str, Any] | None = None
    differences: tuple[PropertyDifference, ...] = ()
    reason: str | None = None

    def information(self) -> dict[str, Any]:
        """`DriftInformation` of DescribeStackResources and ListStackResources."""
        return {"StackResourceDriftStatus": self.status, "LastCheckTimestamp": self.timestamp}

    def describe(self, stack_id: str, logical_id: str, resource_type: str) -> dict[str, Any]:
        """AWS's `StackResourceDrift`."""
        return {
            "StackId": stack_id,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": self.physical_id,
            "ResourceType": resource_type,
            "ExpectedProperties": _compact_json(self.expected),
            "ActualProperties": _compact_json(self.actual),
            "PropertyDifferences": [difference.describe() for difference in self.differences],
            "StackResourceDriftStatus": self.status,
            "Timestamp": self.timestamp,
            "DriftStatusReason": self.reason,
        }


@dataclass
class DriftDetection:
    """One DetectStackDrift operation (DescribeStackDriftDetectionStatus answers from it)."""

    detection_id: str
    stack_id: str
    #: the resources to check (DetectStackDrift's LogicalResourceIds); None: every resource
    logical_ids: tuple[str, ...] | None
    timestamp: datetime = field(default_factory=now)
    #: DETECTION_IN_PROGRESS | DETECTION_COMPLETE | DETECTION_FAILED
    status: str = "DETECTION_IN_PROGRESS"
    reason: str | None = "User Initiated"
    #: DRIFTED | IN_SYNC | UNKNOWN, once the detection has ended
    stack_drift_status: str | None = None
    drifted_count: int | None = None

    @property
    def in_progress(self) -> bool:
        return self.status == "DETECTION_IN_PROGRESS"

    def describe(self) -> dict[str, Any]:
        return {
            "StackId": self.stack_id,
            "StackDriftDetectionId": self.detection_id,
            "StackDriftStatus": self.stack_drift_status,
            "DetectionStatus": self.status,
            "DetectionStatusReason": self.reason,
            "DriftedStackResourceCount": self.drifted_count,
            "Timestamp": self.timestamp,
        }


def _compact_json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Deployment:
    """What one stack operation deploys: a template and its parameters, tags and options."""

    template: Template
    parameters: ResolvedParameters
    tags: list[dict[str, str]] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None

    def evaluator(self, stack: StackContext, resources: ResourceResolver | None = None) -> Evaluator:
        evaluator = Evaluator(
            parameters=self.parameters.values(),
            pseudo={
                "AWS::AccountId": stack.account_id,
                "AWS::NotificationARNs": list(self.notification_arns),
                "AWS::Partition": stack.partition,
                "AWS::Region": stack.region,
                "AWS::StackId": stack.stack_id,
                "AWS::StackName": stack.stack_name,
                "AWS::URLSuffix": ("amazonaws.com.cn" if stack.partition == "aws-cn" else "amazonaws.com"),
            },
            mappings=self.template.mappings,
            condition_definitions=self.template.conditions,
        )
        return evaluator.with_resources(resources) if resources is not None else evaluator

    def outputs(self, evaluator: Evaluator) -> list[dict[str, Any]]:
        """The stack's `Outputs` as DescribeStacks shows them."""
        outputs = []
        for key, output in self.template.outputs.items():
            if "Condition" in output and not evaluator.condition(str(output["Condition"])):
                continue
            entry = {"OutputKey": key, "OutputValue": text(evaluator.evaluate(output.get("Value")))}
            if output.get("Description") is not None:
                entry["Description"] = text(evaluator.evaluate(output["Description"]))
            export = output.get("Export")
            if isinstance(export, dict) and export.get("Name") is not None:
                entry["ExportName"] = text(evaluator.evaluate(export["Name"]))
            outputs.append(entry)
        return outputs

    def included_resources(self, stack: StackContext) -> dict[str, dict[str, Any]]:
        """The template's resources whose Condition holds."""
        evaluator = self.evaluator(stack)
        return {
            logical_id: resource
            for logical_id, resource in self.template.resources.items()
            if "Condition" not in resource or evaluator.condition(str(resource["Condition"]))
        }


@dataclass
class StackEvent:
    stack_id: str
    stack_name: str
    logical_id: str
    physical_id: str | None
    resource_type: str
    status: str
    reason: str | None
    properties: str | None = None
    timestamp: datetime = field(default_factory=now)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def describe(self) -> dict[str, Any]:
        return {
            "StackId": self.stack_id,
            "EventId": self.event_id,
            "StackName": self.stack_name,
            "LogicalResourceId": self.logical_id,
            "PhysicalResourceId": self.physical_id,
            "ResourceType": self.resource_type,
            "Timestamp": self.timestamp,
            "ResourceStatus": self.status,
            "ResourceStatusReason": self.reason,
            "ResourceProperties": self.properties,
        }


@dataclass
class StackResource:
    """One resource of a stack: its last status and what its provider made."""

    logical_id: str
    resource_type: str
    status: str
    status_reason: str | None = None
    provisioned: Provisioned | None = None
    #: the evaluated properties the resource has now
    properties: dict[str, Any] | None = None
    metadata: Any = None
    description: str | None = None
    last_updated: datetime = field(default_factory=now)
    #: what the last drift check of this resource found (None: never checked)
    drift: ResourceDrift | None = None

    @property
    def physical_id(self) -> str | None:
        return self.provisioned.physical_id if self.provisioned else None

    def drift_information(self) -> dict[str, Any]:
        """NOT_CHECKED until a drift check (types without drift detection stay so)."""
        drift = self.drift
        return drift.information() if drift is not None else {"StackResourceDriftStatus": "NOT_CHECKED"}

    def summary(self) -> dict[str, Any]:
        return {
            "LogicalResourceId": self.logical_id,
            "PhysicalResourceId": self.physical_id,
            "ResourceType": self.resource_type,
            "LastUpdatedTimestamp": self.last_updated,
            "ResourceStatus": self.status,
            "ResourceStatusReason": self.status_reason,
            "DriftInformation": self.drift_information(),
        }


@dataclass
class ChangeSet:
    change_set_id: str
    name: str
    stack_id: str
    stack_name: str
    change_set_type: str
    deployment: Deployment
    description: str | None = None
    on_stack_failure: str | None = None
    status: str = "CREATE_PENDING"
    status_reason: str | None = None
    execution_status: str = "UNAVAILABLE"
    changes: list[dict[str, Any]] = field(default_factory=list)
    creation_time: datetime = field(default_factory=now)

    @property
    def executed(self) -> bool:
        return self.execution_status.startswith("EXECUTE_")

    def summary(self) -> dict[str, Any]:
        return {
            "StackId": self.stack_id,
            "StackName": self.stack_name,
            "ChangeSetId": self.change_set_id,
            "ChangeSetName": self.name,
            "ExecutionStatus": self.execution_status,
            "Status": self.status,
            "StatusReason": self.status_reason,
            "CreationTime": self.creation_time,
            "Description": self.description,
            "IncludeNestedStacks": False,
        }


#: what a stack tells of each of its status changes: the stack and the change's event
StatusListener = Callable[["Stack", StackEvent], None]


@dataclass
class Stack:
    stack_id: str
    name: str
    context: StackContext
    deployment: Deployment | None
    status: str
    status_reason: str | None = None
    creation_time: datetime = field(default_factory=now)
    last_updated_time: datetime | None = None
    deletion_time: datetime | None = None
    disable_rollback: bool = False
    timeout_in_minutes: int | None = None
    termination_protection: bool = False
    stack_policy: str | None = None
    #: of a nested stack: its direct parent's id and its root stack's
    parent_id: str | None = None
    root_id: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, StackResource] = field(default_factory=dict)
    events: list[StackEvent] = field(default_factory=list)
    #: export names this stack's template imports (Fn::ImportValue)
    imports: set[str] = field(default_factory=set)
    change_set_id: str | None = None
    #: what the last DetectStackDrift found, and when the last drift check began
    drift_status: str = "NOT_CHECKED"
    drift_checked: datetime | None = None
    #: drift detections by id, the newest last (a few are kept, as AWS keeps a few)
    drift_detections: dict[str, DriftDetection] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: told of every status change, under the stack's lock, so in the order of the changes;
    #: it must not block (the region's store sets it: `RegionStore.on_status`)
    on_status: StatusListener | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ status
    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS"

    @property
    def deleted(self) -> bool:
        return self.status == "DELETE_COMPLETE"

    def set_status(self, status: str, reason: str | None = None) -> None:
        with self.lock:
            self.status = status
            self.status_reason = reason
            if status == "DELETE_COMPLETE":
                self.deletion_time = now()
            event = StackEvent(self.stack_id, self.name, self.name, self.stack_id, STACK_TYPE, status, reason)
            self.events.append(event)
            if self.on_status is not None:
                self.on_status(self, event)

    def resource_event(
        self,
        resource: StackResource,
        status: str,
        reason: str | None = None,
        *,
        physical_id: str | None = None,
        properties: str | None = None,
    ) -> None:
        """Record a resource's new status (`physical_id`: of an old copy being removed)."""
        with self.lock:
            if physical_id is None:
                resource.status = status
                resource.status_reason = reason
                resource.last_updated = now()
            self.events.append(
                StackEvent(
                    self.stack_id,
                    self.name,
                    resource.logical_id,
                    physical_id or resource.physical_id or "",
                    resource.resource_type,
                    status,
                    reason,
                    properties,
                )
            )

    # ------------------------------------------------------------------ views
    def drift_information(self) -> dict[str, Any]:
        with self.lock:
            return {"StackDriftStatus": self.drift_status, "LastCheckTimestamp": self.drift_checked}

    def exports(self) -> dict[str, str]:
        with self.lock:
            return {output["ExportName"]: output["OutputValue"] for output in self.outputs if output.get("ExportName")}

    def describe(self) -> dict[str, Any]:
        with self.lock:
            deployment = self.deployment
            description: dict[str, Any] = {
                "StackId": self.stack_id,
                "StackName": self.name,
                "ChangeSetId": self.change_set_id,
                "CreationTime": self.creation_time,
                "DeletionTime": self.deletion_time,
                "LastUpdatedTime": self.last_updated_time,
                "StackStatus": self.status,
                "StackStatusReason": self.status_reason,
                "DisableRollback": self.disable_rollback,
                "TimeoutInMinutes": self.timeout_in_minutes,
                "EnableTerminationProtection": self.termination_protection,
                "RollbackConfiguration": {},
                "DriftInformation": self.drift_information(),
                "Outputs": [dict(output) for output in self.outputs] or None,
                "ParentId": self.parent_id,
                "RootId": self.root_id,
            }
            if deployment is not None:
                description.update(
                    {
                        "Description": deployment.template.description,
                        "Parameters": deployment.parameters.describe() or None,
                        "NotificationARNs": list(deployment.notification_arns),
                        "Capabilities": list(deployment.capabilities) or None,
                        "RoleARN": deployment.role_arn,
                        "Tags": [dict(tag) for tag in deployment.tags],
                    }
                )
            return description

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "StackId": self.stack_id,
                "StackName": self.name,
                "TemplateDescription": (self.deployment.template.description if self.deployment else None),
                "CreationTime": self.creation_time,
                "LastUpdatedTime": self.last_updated_time,
                "DeletionTime": self.deletion_time,
                "StackStatus": self.status,
                "StackStatusReason": self.status_reason,
                "DriftInformation": self.drift_information(),
                "ParentId": self.parent_id,
                "RootId": self.root_id,
            }

    def listed_resources(self) -> list[StackResource]:
        with self.lock:
            return list(self.resources.values())
