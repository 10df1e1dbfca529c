"""`AWS::CloudFormation::Stack`: a nested stack, run as CloudFormation runs it.

The nested stack is a stack of its own in the parent's region, named
`<parent>-<LogicalId>-<random>`, with `ParentId` and `RootId` (`AWS::CloudFormation::Stack`
and "Nested stacks" in the CloudFormation User Guide). Its template comes from `TemplateURL`
(an S3 URL of the sandbox's buckets); its parameters, tags (the parent's stack tags, then the
resource's `Tags`), `NotificationARNs` and `TimeoutInMinutes` from the resource; its
capabilities and DisableRollback are the parent's. The resource waits for the nested stack's operation:

- create: CREATE_COMPLETE, or the resource fails with "Embedded stack … was not successfully
  created: <the nested stack's reason>"; the failed nested stack is the resource's physical id,
  so the parent's rollback deletes it;
- update: only when its template, parameters, tags or notification ARNs change ("No updates are
  to be performed." is no change); a failed nested update rolls the nested stack back and fails
  the resource; the parent's rollback updates it back to the previous template and parameters
  (a nested stack already rolled back has nothing to do);
- delete: the nested stack is deleted with its parent;
- `Ref` is the nested stack's id, `Fn::GetAtt Nested.Outputs.X` reads its output `X`.

The stack operations are the sandbox's own CloudFormation API (`bind`), called in process.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.cloudformation.errors import CloudFormationError
from sandbox.cloudformation.intrinsics import text
from sandbox.cloudformation.model import NESTED_IN, STACK_TYPE
from sandbox.cloudformation.providers.base import (
    OperationCancelled,
    Provisioned,
    ResourceFailed,
    ResourceProvider,
    ResourceRequest,
    UnsupportedAttribute,
)

#: an API call: (action, region, boto3-shaped request) -> boto3-shaped answer
ApiCall = Callable[[str, str, dict[str, Any]], dict[str, Any]]

_POLL_SECONDS = 0.05
_MAX_NAME = 128
#: the properties whose change is an update of the nested stack
_DEPLOYED = ("TemplateURL", "Parameters", "Tags", "NotificationARNs")


def nested_stack_name(parent: str, logical_id: str) -> str:
    """`<parent>-<LogicalId>-<12 random upper-case letters and digits>`, as CloudFormation names them."""
    suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))  # noqa: S311 - a name, not a secret
    head = f"{parent}-{logical_id}"[: _MAX_NAME - len(suffix) - 1]
    return f"{head}-{suffix}"


class NestedStackProvider(ResourceProvider):
    types = frozenset({STACK_TYPE})

    def __init__(self) -> None:
        self._call: ApiCall | None = None

    def bind(self, call: ApiCall) -> None:
        """The API the nested stacks' operations go through (made after the providers)."""
        self._call = call

    # ------------------------------------------------------------------ interface
    def create(self, request: ResourceRequest) -> Provisioned:
        region = request.stack.region
        parent = self._describe(region, request.stack.stack_id)
        properties = request.properties
        arguments: dict[str, Any] = {
            "StackName": nested_stack_name(request.stack.stack_name, request.logical_id),
            **self._deployed(properties, parent),
            "Capabilities": list(parent.get("Capabilities") or []),
            # the root's DisableRollback holds for its nested stacks: a failed one stays CREATE_FAILED
            "DisableRollback": bool(parent.get("DisableRollback")),
            NESTED_IN: request.stack.stack_id,
        }
        if properties.get("TimeoutInMinutes") is not None:
            arguments["TimeoutInMinutes"] = int(properties["TimeoutInMinutes"])
        try:
            stack_id = str(self._api("CreateStack", region, arguments)["StackId"])
        except CloudFormationError as error:
            raise ResourceFailed(error.message) from error
        described = self._settle(region, stack_id, request, on_cancel="DeleteStack")
        if described["StackStatus"] != "CREATE_COMPLETE":
            raise ResourceFailed(
                f"Embedded stack {stack_id} was not successfully created: {self._reason(region, stack_id)}",
                provisioned=Provisioned(stack_id, region),
            )
        return Provisioned(stack_id, region)

    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        if all(request.properties.get(name) == previous.get(name) for name in _DEPLOYED):
            return current
        region = request.stack.region
        parent = self._describe(region, request.stack.stack_id)
        arguments = {
            "StackName": current.physical_id,
            **self._deployed(request.properties, parent),
            "Capabilities": list(parent.get("Capabilities") or []),
        }
        try:
            self._api("UpdateStack", region, arguments)
        except CloudFormationError as error:
            if error.message == "No updates are to be performed.":
                return current
            raise ResourceFailed(error.message) from error
        described = self._settle(region, current.physical_id, request, on_cancel="CancelUpdateStack")
        status = described["StackStatus"]
        if status != "UPDATE_COMPLETE":
            reason = self._reason(region, current.physical_id)
            raise ResourceFailed(
                f"Embedded stack {current.physical_id} was not successfully updated. "
                f"Currently in {status} with reason: {reason}"
            )
        return current

    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None:
        region = request.stack.region
        self._api("DeleteStack", region, {"StackName": current.physical_id})
        described = self._settle(region, current.physical_id, request, on_cancel=None)
        if described["StackStatus"] != "DELETE_COMPLETE":
            raise ResourceFailed(
                f"Embedded stack {current.physical_id} was not successfully deleted: "
                f"{described.get('StackStatusReason') or described['StackStatus']}"
            )

    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        if attribute == "StackId":
            return current.physical_id
        if not attribute.startswith("Outputs."):
            raise UnsupportedAttribute(attribute)
        key = attribute.removeprefix("Outputs.")
        described = self._describe(str(current.state), current.physical_id)
        for output in described.get("Outputs") or []:
            if output["OutputKey"] == key:
                return output["OutputValue"]
        raise UnsupportedAttribute(
            f"Template error: resource's stack {current.physical_id} has no output {key} for Fn::GetAtt {attribute}"
        )

    # ------------------------------------------------------------------ helpers
    def _api(self, action: str, region: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if self._call is None:
            raise ResourceFailed("The sandbox's nested stacks are not bound to its CloudFormation API")
        return self._call(action, region, arguments)

    def _describe(self, region: str, stack_id: str) -> dict[str, Any]:
        stacks: list[dict[str, Any]] = self._api("DescribeStacks", region, {"StackName": stack_id})["Stacks"]
        return stacks[0]

    @staticmethod
    def _deployed(properties: Mapping[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
        """CreateStack/UpdateStack's template, parameters, tags and notification ARNs."""
        tags = {tag["Key"]: tag["Value"] for tag in parent.get("Tags") or []}
        tags.update({str(tag["Key"]): text(tag["Value"]) for tag in properties.get("Tags") or []})
        return {
            "TemplateURL": str(properties.get("TemplateURL") or ""),
            "Parameters": [
                {"ParameterKey": key, "ParameterValue": text(value)}
                for key, value in (properties.get("Parameters") or {}).items()
            ],
            "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
            "NotificationARNs": [str(arn) for arn in properties.get("NotificationARNs") or []],
        }

    def _settle(self, region: str, stack_id: str, request: ResourceRequest, on_cancel: str | None) -> dict[str, Any]:
        """Wait for the nested stack's operation to end. The parent's operation cancelled
        (another resource failed, a timeout) stops the nested stack's too."""
        cancelled = False
        while True:
            described = self._describe(region, stack_id)
            if not str(described["StackStatus"]).endswith("_IN_PROGRESS"):
                if cancelled:
                    raise OperationCancelled
                return described
            if request.cancel.is_set() and not cancelled and on_cancel is not None:
                cancelled = True
                try:
                    self._api(on_cancel, region, {"StackName": stack_id})
                except CloudFormationError:
                    raise OperationCancelled from None  # stopped already (the sandbox shuts down)
            time.sleep(_POLL_SECONDS)

    def _reason(self, region: str, stack_id: str) -> str:
        """The nested stack's first failure reason (its resources'), as its stack events give it."""
        events = self._api("DescribeStackEvents", region, {"StackName": stack_id})["StackEvents"]
        for event in events:  # the newest first: this operation's
            reason = event.get("ResourceStatusReason") or ""
            if event["ResourceType"] == STACK_TYPE and event["ResourceStatus"] in (
                "CREATE_FAILED",
                "ROLLBACK_IN_PROGRESS",
                "UPDATE_ROLLBACK_IN_PROGRESS",
            ):
                return reason.removesuffix("Rollback requested by user.").strip()
        return "see the nested stack's events"
