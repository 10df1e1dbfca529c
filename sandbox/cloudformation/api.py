"""CloudFormation's API operations: each takes boto3's request dict and returns boto3's
response dict, checking what AWS checks before it accepts an operation, with AWS's words.

The wire format is `protocol`'s; the operations' background work is `engine`'s.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlparse

from sandbox import moto_internals
from sandbox.cloudformation import parameters as params
from sandbox.cloudformation.drift import DriftDetector
from sandbox.cloudformation.engine import Engine, LiveResolver, Run
from sandbox.cloudformation.errors import (
    AlreadyExistsError,
    ChangeSetNotFoundError,
    CloudFormationError,
    InsufficientCapabilitiesError,
    InvalidActionError,
    InvalidChangeSetStatusError,
    TemplateError,
    ValidationError,
)
from sandbox.cloudformation.model import (
    COMPLETE_STATES,
    NESTED_IN,
    ChangeSet,
    Deployment,
    Stack,
)
from sandbox.cloudformation.planner import preview
from sandbox.cloudformation.providers.base import StackContext
from sandbox.cloudformation.store import RegionStore
from sandbox.cloudformation.template import (
    Template,
    parse_template,
    references,
)

NAME_PATTERN = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
#: The SAM transform's types are providers' like any other (AWS::Serverless::Application is
#: emulated, see `emulated_types`); one no provider knows fails its resource, naming the type.
#: `AWS::SecretsManager-2020-07-23` makes a rotation schedule's `HostedRotationLambda` a rotation
#: application of the Serverless Application Repository, which the sandbox answers for without making
#: its function (`AWS::Serverless::Application` in `providers.emulated_types`).
SUPPORTED_TRANSFORMS = frozenset(
    {"AWS::LanguageExtensions", "AWS::Serverless-2016-10-31", "AWS::SecretsManager-2020-07-23"}
)
_S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$")


def stack_name_of(name_or_id: str) -> str:
    """`arn:aws:cloudformation:region:account:stack/NAME/uuid` or NAME -> NAME."""
    if name_or_id.startswith("arn:") and ":stack/" in name_or_id:
        return name_or_id.split(":stack/", 1)[1].split("/", 1)[0]
    return name_or_id


class CloudFormationApi:
    """The operations, bound to the service's regions and engine."""

    def __init__(self, engine: Engine, account_id: str, store_of: Callable[[str], RegionStore]) -> None:
        self._engine = engine
        self._account_id = account_id
        self._store_of = store_of
        self._drift = DriftDetector(
            engine.env.clients,
            wait=engine.scheduler.wait,
            spawn=engine.spawn,
            duration=engine.env.latency.drift_detection,
        )

    def call(self, action: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        operation = getattr(self, f"_{_snake(action)}", None)
        if operation is None:
            raise InvalidActionError(f"The action {action} is not supported by the sandbox's CloudFormation.")
        result: dict[str, Any] = operation(self._store_of(region), request)
        return result

    # ------------------------------------------------------------------ stacks
    def _create_stack(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        name = _valid_name(request["StackName"], "stackName")
        if request.get("DisableRollback") is not None and request.get("OnFailure"):
            raise ValidationError("You cannot specify both DisableRollback and OnFailure.")
        with store.lock:
            if store.live(name) is not None:
                raise AlreadyExistsError(f"Stack [{name}] already exists")
            stack = self._new_stack(store, name)
            deployment = self._deployment(stack, self._template(store, request), request, previous=None)
            on_failure = request.get("OnFailure") or ("DO_NOTHING" if request.get("DisableRollback") else "ROLLBACK")
            stack.deployment = deployment
            stack.disable_rollback = on_failure == "DO_NOTHING"
            stack.timeout_in_minutes = request.get("TimeoutInMinutes")
            stack.termination_protection = bool(request.get("EnableTerminationProtection"))
            stack.stack_policy = request.get("StackPolicyBody")
            if request.get(NESTED_IN):
                parent = store.find(request[NESTED_IN])
                stack.parent_id, stack.root_id = parent.stack_id, parent.root_id or parent.stack_id
            store.add(stack)
            self._engine.create(stack, store, deployment, on_failure)
        return {"StackId": stack.stack_id}

    def _update_stack(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        with stack.lock:
            return self._update_locked(stack, store, request)

    def _update_locked(self, stack: Stack, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        _guard_updatable(stack)
        current = stack.deployment
        assert current is not None  # an updatable stack has been deployed
        template = current.template if request.get("UsePreviousTemplate") else self._template(store, request)
        deployment = self._deployment(stack, template, request, previous=current)
        planned = preview(stack, deployment, self._resolver(stack, store), self._provider_of)
        if planned.nothing_to_update(stack, deployment):
            raise ValidationError("No updates are to be performed.")
        if request.get("StackPolicyBody"):
            stack.stack_policy = request["StackPolicyBody"]
        self._engine.update(stack, store, current, deployment, bool(planned.changes))
        return {"StackId": stack.stack_id}

    def _delete_stack(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        try:
            stack = store.find(request["StackName"])
        except ValidationError:
            return {}  # AWS: deleting a stack that does not exist succeeds
        retain = set(request.get("RetainResources") or [])
        if stack.deleted or stack.status == "DELETE_IN_PROGRESS":
            return {}
        if stack.termination_protection:
            raise ValidationError(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
        if retain and stack.status != "DELETE_FAILED":
            raise ValidationError(
                f"Invalid operation on stack [{stack.stack_id}]: RetainResources can only be "
                "specified when the stack is in the DELETE_FAILED state"
            )
        if stack.status == "CREATE_IN_PROGRESS" and self._engine.cancel(stack, "delete"):
            return {}  # the create stops, then deletes what it made
        if stack.in_progress:
            raise ValidationError(f"Stack:{stack.stack_id} is in {stack.status} state and can not be deleted.")
        self._engine.delete(stack, store, retain)
        return {}

    def _describe_stacks(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("StackName"):
            return {"Stacks": [store.find(request["StackName"]).describe()]}
        return {"Stacks": [stack.describe() for stack in store.all() if not stack.deleted]}

    def _list_stacks(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        wanted = set(request.get("StackStatusFilter") or [])
        return {"StackSummaries": [stack.summary() for stack in store.all() if not wanted or stack.status in wanted]}

    def _describe_stack_events(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        with stack.lock:
            events = [event.describe() for event in reversed(stack.events)]
        return {"StackEvents": events}

    def _describe_stack_resource(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        record = stack.resources.get(request["LogicalResourceId"])
        if record is None:
            raise ValidationError(f"Resource {request['LogicalResourceId']} does not exist for stack {stack.name}")
        detail = _detail(stack, record)
        detail["LastUpdatedTimestamp"] = detail.pop("Timestamp")
        return {"StackResourceDetail": detail}

    def _describe_stack_resources(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("StackName"):
            stack = store.find(request["StackName"])
        elif request.get("PhysicalResourceId"):
            stack = self._stack_owning(store, request["PhysicalResourceId"])
        else:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
        wanted = request.get("LogicalResourceId")
        return {
            "StackResources": [
                {key: value for key, value in _detail(stack, record).items() if key != "Metadata"}
                for record in stack.listed_resources()
                if wanted is None or record.logical_id == wanted
            ]
        }

    def _list_stack_resources(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        return {"StackResourceSummaries": [record.summary() for record in stack.listed_resources()]}

    def _get_template(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("ChangeSetName"):
            deployment = store.change_set(request["ChangeSetName"], request.get("StackName")).deployment
        else:
            stack = store.find(request["StackName"])
            if stack.deployment is None:
                # A stack a CREATE change set made has no template until the change set runs.
                return {"StagesAvailable": ["Original", "Processed"]}
            deployment = stack.deployment
        return {
            "TemplateBody": deployment.template.body,
            "StagesAvailable": ["Original", "Processed"],
        }

    def _get_template_summary(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("StackName"):
            deployment = store.find(request["StackName"]).deployment
            if deployment is None:
                raise ValidationError(f"Stack with id {request['StackName']} does not exist")
            template = deployment.template
        else:
            template = self._template(store, request)
        summary = self._validate_template(store, {"TemplateBody": template.body})
        summary["Parameters"] = [
            {
                "ParameterKey": declaration.key,
                "DefaultValue": declaration.default,
                "ParameterType": declaration.type,
                "NoEcho": declaration.no_echo,
                "Description": declaration.description,
                "ParameterConstraints": (
                    {"AllowedValues": declaration.allowed_values} if declaration.allowed_values else {}
                ),
            }
            for declaration in params.declarations(template).values()
        ]
        metadata = template.document.get("Metadata")
        summary.update(
            ResourceTypes=template.resource_types(),
            Version=template.document.get("AWSTemplateFormatVersion"),
            Metadata=json.dumps(metadata) if metadata is not None else None,
        )
        return summary

    def _validate_template(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        template = self._template(store, request)
        capabilities = template.required_capabilities()
        return {
            "Parameters": [
                {
                    "ParameterKey": declaration.key,
                    "DefaultValue": declaration.default,
                    "NoEcho": declaration.no_echo,
                    "Description": declaration.description,
                }
                for declaration in params.declarations(template).values()
            ],
            "Description": template.description,
            "Capabilities": capabilities,
            "CapabilitiesReason": (
                "The following resource(s) require capabilities: "
                f"[{', '.join(t for t in template.resource_types() if t.startswith('AWS::IAM::'))}]"
                if capabilities
                else None
            ),
            "DeclaredTransforms": template.transforms,
        }

    # ------------------------------------------------------------------ change sets
    def _create_change_set(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        name = _valid_name(request["StackName"], "stackName")
        change_set_name = _valid_name(request["ChangeSetName"], "changeSetName")
        kind = request.get("ChangeSetType") or "UPDATE"
        if kind == "IMPORT":
            raise ValidationError("ChangeSetType IMPORT is not supported by the sandbox")
        with store.lock:
            stack = store.live(stack_name_of(name)) or store.stacks.get(name)
            if kind == "CREATE":
                if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                    raise ValidationError(
                        f"Stack [{stack.name}] already exists and cannot be created again with "
                        f"the changeSet [{change_set_name}]."
                    )
                new_stack = stack is None
                if stack is None:
                    stack = self._new_stack(store, name)
                previous = None
            else:
                if stack is None or stack.deleted or stack.status == "REVIEW_IN_PROGRESS":
                    raise ValidationError(f"Stack [{name}] does not exist")
                _guard_updatable(stack)
                previous = stack.deployment
                new_stack = False
            if any(cs.name == change_set_name for cs in store.change_sets_of(stack.stack_id)):
                raise AlreadyExistsError(f"ChangeSet {change_set_name} already exists")
            template = (
                previous.template
                if request.get("UsePreviousTemplate") and previous is not None
                else self._template(store, request)
            )
            deployment = self._deployment(stack, template, request, previous=previous)
            if new_stack:
                store.add(stack)
                stack.set_status("REVIEW_IN_PROGRESS", "User Initiated")
            change_set = ChangeSet(
                change_set_id=(
                    f"arn:{stack.context.partition}:cloudformation:{store.region}:"
                    f"{self._account_id}:changeSet/{change_set_name}/{uuid.uuid4()}"
                ),
                name=change_set_name,
                stack_id=stack.stack_id,
                stack_name=stack.name,
                change_set_type=kind,
                deployment=deployment,
                description=request.get("Description"),
                on_stack_failure=request.get("OnStackFailure"),
            )
            store.change_sets[change_set.change_set_id] = change_set
        self._engine.spawn(f"changeset-{change_set_name}", lambda stop: self._compute(stack, store, change_set, stop))
        return {"Id": change_set.change_set_id, "StackId": stack.stack_id}

    def _compute(self, stack: Stack, store: RegionStore, change_set: ChangeSet, stop: threading.Event) -> None:
        """CREATE_PENDING → CREATE_IN_PROGRESS → CREATE_COMPLETE, or FAILED with AWS's reason."""
        change_set.status = "CREATE_IN_PROGRESS"
        if self._engine.scheduler.wait(self._engine.env.latency.change_set_create(), stop):
            return
        try:
            if change_set.change_set_type == "CREATE":
                changes = [
                    {
                        "Type": "Resource",
                        "ResourceChange": {
                            "Action": "Add",
                            "LogicalResourceId": logical_id,
                            "ResourceType": resource["Type"],
                            "Scope": [],
                            "Details": [],
                        },
                    }
                    for logical_id, resource in change_set.deployment.included_resources(stack.context).items()
                ]
                empty = False
            else:
                planned = preview(stack, change_set.deployment, self._resolver(stack, store), self._provider_of)
                changes, empty = planned.changes, planned.nothing_to_update(stack, change_set.deployment)
        except CloudFormationError as error:
            change_set.status, change_set.status_reason = "FAILED", error.message
            return
        change_set.changes = changes
        if empty:
            change_set.status = "FAILED"
            change_set.status_reason = (
                "The submitted information didn't contain changes. Submit different information to create a change set."
            )
            return
        change_set.execution_status = "AVAILABLE"
        change_set.status = "CREATE_COMPLETE"

    def _describe_change_set(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        change_set = store.change_set(request["ChangeSetName"], request.get("StackName"))
        stack = store.find(change_set.stack_id)
        self._settle(change_set, stack)
        deployment = change_set.deployment
        return {
            **change_set.summary(),
            "Parameters": deployment.parameters.describe() or None,
            "NotificationARNs": deployment.notification_arns,
            "Capabilities": deployment.capabilities,
            "Tags": deployment.tags,
            "Changes": change_set.changes,
            "OnStackFailure": change_set.on_stack_failure,
        }

    def _list_change_sets(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        return {"Summaries": [change_set.summary() for change_set in store.change_sets_of(stack.stack_id)]}

    def _execute_change_set(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        change_set = store.change_set(request["ChangeSetName"], request.get("StackName"))
        stack = store.find(change_set.stack_id)
        if change_set.status != "CREATE_COMPLETE" or change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatusError(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
                f"execution status of [{change_set.execution_status}]"
            )
        if change_set.change_set_type == "UPDATE":
            _guard_updatable(stack)
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        store.drop_change_sets(stack.stack_id, keep=change_set.change_set_id)
        with stack.lock:
            stack.change_set_id = change_set.change_set_id
        if change_set.change_set_type == "CREATE":
            on_failure = change_set.on_stack_failure or ("DO_NOTHING" if request.get("DisableRollback") else "ROLLBACK")
            with stack.lock:
                stack.deployment = change_set.deployment
                stack.disable_rollback = on_failure == "DO_NOTHING"
            self._engine.create(stack, store, change_set.deployment, on_failure)
        else:
            previous = stack.deployment
            assert previous is not None  # an updatable stack has been deployed
            self._engine.update(stack, store, previous, change_set.deployment, bool(change_set.changes))
        return {}

    def _delete_change_set(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        name, stack_name = request["ChangeSetName"], request.get("StackName")
        try:
            change_set = store.change_set(name, stack_name)
        except ChangeSetNotFoundError:
            # AWS: deleting a change set the stack does not have, by name, succeeds.
            if name.startswith("arn:") or not stack_name:
                raise
            store.find(stack_name)
            return {}
        if change_set.execution_status == "EXECUTE_IN_PROGRESS":
            raise InvalidChangeSetStatusError(
                f"ChangeSet [{change_set.change_set_id}] cannot be deleted in its current "
                "execution status of [EXECUTE_IN_PROGRESS]"
            )
        with store.lock:
            store.change_sets.pop(change_set.change_set_id, None)
        return {}

    @staticmethod
    def _settle(change_set: ChangeSet, stack: Stack) -> None:
        """An executed change set's status follows its stack's operation."""
        if change_set.execution_status != "EXECUTE_IN_PROGRESS" or stack.in_progress:
            return
        change_set.execution_status = (
            "EXECUTE_COMPLETE" if stack.status in COMPLETE_STATES - {"UPDATE_ROLLBACK_COMPLETE"} else "EXECUTE_FAILED"
        )

    # ------------------------------------------------------------------ rollbacks
    def _continue_update_rollback(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        if stack.status != "UPDATE_ROLLBACK_FAILED":
            raise ValidationError(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
        skip = set(request.get("ResourcesToSkip") or [])
        plan = self._engine.has_rollback_plan(stack)
        failed = plan.failed if plan else set()
        for logical_id in sorted(skip - failed):
            raise ValidationError(f"Resource {logical_id} is not in UPDATE_FAILED state and cannot be skipped")
        self._engine.continue_rollback(stack, store, skip)
        return {}

    def _cancel_update_stack(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        if stack.status != "UPDATE_IN_PROGRESS" or not self._engine.cancel(stack, "rollback"):
            raise ValidationError("CancelUpdateStack cannot be called from current stack status")
        return {}

    # ------------------------------------------------------------------ drift
    def _detect_stack_drift(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        detection = self._drift.detect_stack(stack, request.get("LogicalResourceIds"))
        return {"StackDriftDetectionId": detection.detection_id}

    def _describe_stack_drift_detection_status(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        detection = self._drift.detection(store.all(), request["StackDriftDetectionId"])
        stack = store.find(detection.stack_id)
        with stack.lock:
            return detection.describe()

    def _describe_stack_resource_drifts(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        drifts = self._drift.resource_drifts(stack, request.get("StackResourceDriftStatusFilters"))
        page, next_token = _page(drifts, request.get("NextToken"), request.get("MaxResults") or 100)
        return {"StackResourceDrifts": page, "NextToken": next_token}

    def _detect_stack_resource_drift(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        record, drift = self._drift.detect_resource(stack, request["LogicalResourceId"])
        return {"StackResourceDrift": drift.describe(stack.stack_id, record.logical_id, record.resource_type)}

    # ------------------------------------------------------------------ settings
    def _update_termination_protection(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        with stack.lock:
            stack.termination_protection = bool(request["EnableTerminationProtection"])
        return {"StackId": stack.stack_id}

    def _set_stack_policy(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        stack = store.find(request["StackName"])
        body = request.get("StackPolicyBody")
        if body is None and request.get("StackPolicyURL"):
            body = _read_s3_url(request["StackPolicyURL"], self._account_id)
        with stack.lock:
            stack.stack_policy = body
        return {}

    def _get_stack_policy(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        return {"StackPolicyBody": store.find(request["StackName"]).stack_policy}

    def _list_exports(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "Exports": [
                {"ExportingStackId": export.stack_id, "Name": export.name, "Value": export.value}
                for export in store.exports().values()
            ]
        }

    def _list_imports(self, store: RegionStore, request: dict[str, Any]) -> dict[str, Any]:
        name = request["ExportName"]
        importers = store.importers(name)
        if not importers:
            raise ValidationError(f"Export '{name}' is not imported by any stack.")
        return {"Imports": importers}

    # ------------------------------------------------------------------ helpers
    def _new_stack(self, store: RegionStore, name: str) -> Stack:
        stack_id = f"arn:aws:cloudformation:{store.region}:{self._account_id}:stack/{name}/{uuid.uuid4()}"
        context = StackContext(stack_id, name, store.region, self._account_id)
        return Stack(stack_id=stack_id, name=name, context=context, deployment=None, status="")

    def _template(self, store: RegionStore, request: dict[str, Any]) -> Template:
        body, url = request.get("TemplateBody"), request.get("TemplateURL")
        if (body is None) == (url is None):
            raise ValidationError("Exactly one of TemplateBody or TemplateUrl must be specified.")
        if url is not None:
            body = _read_s3_url(url, self._account_id)
        return parse_template(str(body))

    def _deployment(
        self,
        stack: Stack,
        template: Template,
        request: dict[str, Any],
        previous: Deployment | None,
    ) -> Deployment:
        """Everything CloudFormation checks before it accepts a template for a stack."""
        given_capabilities = list(request.get("Capabilities") or [])
        unsupported = [t for t in template.transforms if t not in SUPPORTED_TRANSFORMS]
        if unsupported:
            raise ValidationError(f"Transform {', '.join(unsupported)} is not supported by the sandbox")
        if template.transforms and "CAPABILITY_AUTO_EXPAND" not in given_capabilities:
            raise InsufficientCapabilitiesError("Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
        required = template.required_capabilities()
        if "CAPABILITY_NAMED_IAM" in required and "CAPABILITY_NAMED_IAM" not in given_capabilities:
            raise InsufficientCapabilitiesError("Requires capabilities : [CAPABILITY_NAMED_IAM]")
        if required and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(given_capabilities):
            raise InsufficientCapabilitiesError("Requires capabilities : [CAPABILITY_IAM]")
        region = stack.context.region
        resolved = params.resolve(
            template,
            list(request.get("Parameters") or []),
            params.Lookups(
                ssm_parameter=lambda name: moto_internals.ssm_parameter_value(name, region),
                ec2_resource_exists=lambda kind, value: moto_internals.ec2_resource_exists(kind, value, region),
            ),
            previous.parameters if previous else None,
        )
        deployment = Deployment(
            template=template,
            parameters=resolved,
            tags=list(request["Tags"]) if "Tags" in request else (previous.tags if previous else []),
            capabilities=given_capabilities,
            notification_arns=(
                list(request["NotificationARNs"])
                if "NotificationARNs" in request
                else (previous.notification_arns if previous else [])
            ),
            role_arn=request.get("RoleARN") or (previous.role_arn if previous else None),
        )
        _check_conditional_references(deployment, stack.context)
        _check_rules(deployment, stack.context)
        return deployment

    def _resolver(self, stack: Stack, store: RegionStore) -> LiveResolver:
        return LiveResolver(Run(self._engine, stack, store))

    def _provider_of(self, resource_type: str) -> Any:
        return self._engine.env.providers.provider(resource_type)

    @staticmethod
    def _stack_owning(store: RegionStore, physical_id: str) -> Stack:
        for stack in store.all():
            if any(record.physical_id == physical_id for record in stack.listed_resources()):
                return stack
        raise ValidationError(f"Stack for {physical_id} does not exist")


# --------------------------------------------------------------------------- checks
def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _valid_name(name: str, field: str) -> str:
    if name.startswith("arn:") or NAME_PATTERN.fullmatch(name):
        return name
    raise ValidationError(
        f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
    )


def _guard_updatable(stack: Stack) -> None:
    """AWS refuses an update unless the stack's last operation completed."""
    if stack.status not in COMPLETE_STATES:
        raise ValidationError(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def _check_conditional_references(deployment: Deployment, context: StackContext) -> None:
    """A resource whose Condition is false cannot be referenced from the resources and
    outputs that remain."""
    template = deployment.template
    conditions = deployment.evaluator(context).conditions()
    included = deployment.included_resources(context)
    excluded = set(template.resources) - set(included)
    for block, section in (("Resources", included), ("Outputs", template.outputs)):
        for entry in section.values():
            if "Condition" in entry and not conditions.get(str(entry["Condition"]), False):
                continue
            body = {key: value for key, value in entry.items() if key != "Type"}
            names = {ref.name for ref in references(body, conditions)} & excluded
            if block == "Resources":
                depends = entry.get("DependsOn") or []
                names |= set([depends] if isinstance(depends, str) else depends) & excluded
            if names:
                raise TemplateError(
                    f"Template format error: Unresolved resource dependencies "
                    f"[{', '.join(sorted(names))}] in the {block} block of the template"
                )


def _check_rules(deployment: Deployment, context: StackContext) -> None:
    """Rules: each assertion whose rule applies must hold, else its AssertDescription."""
    evaluator = deployment.evaluator(context)
    for rule in deployment.template.rules.values():
        condition = rule.get("RuleCondition")
        if condition is not None and not evaluator.truth(condition):
            continue
        for assertion in rule.get("Assertions") or []:
            if not evaluator.truth(assertion.get("Assert")):
                raise ValidationError(str(assertion.get("AssertDescription") or "Template error: an assertion failed"))


def _read_s3_url(url: str, account_id: str) -> str:
    """An S3 object named by URL: virtual-hosted, path style, or the sandbox endpoint."""
    parsed = urlparse(url)
    host_match = _S3_HOST.match(parsed.hostname or "")
    path = unquote(parsed.path.lstrip("/"))
    if host_match and host_match.group("bucket"):
        bucket, key = host_match.group("bucket"), path
    else:
        bucket, _, key = path.partition("/")
    try:
        return moto_internals.s3_object(bucket, key, account_id).decode()
    except KeyError as error:
        raise ValidationError("TemplateURL must reference a valid S3 object to which you have access.") from error


def _page(items: list[dict[str, Any]], token: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a listing and the NextToken of the next, if any (the token is an offset)."""
    start = 0
    if token is not None:
        if not token.isdigit() or int(token) > len(items):
            raise ValidationError("Invalid NextToken")
        start = int(token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _detail(stack: Stack, record: Any) -> dict[str, Any]:
    return {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": record.logical_id,
        "PhysicalResourceId": record.physical_id,
        "ResourceType": record.resource_type,
        "Timestamp": record.last_updated,
        "ResourceStatus": record.status,
        "ResourceStatusReason": record.status_reason,
        "Description": record.description,
        "Metadata": json.dumps(record.metadata) if record.metadata is not None else None,
        "DriftInformation": record.drift_information(),
    }
