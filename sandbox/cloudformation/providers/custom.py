"""Custom resources (`Custom::*`, `AWS::CloudFormation::CustomResource`) as AWS runs them.

CloudFormation sends the request to the `ServiceToken` Lambda asynchronously and waits
(up to an hour) for the function to PUT its answer to the pre-signed `ResponseURL`. Here
the URL is the sandbox's `/_sandbox/cfn-response/<token>`; the rest is AWS's protocol:

- Create, Update (with `OldResourceProperties`) and Delete requests; during an update
  rollback, an Update whose `ResourceProperties` are the old ones;
- property values arrive as strings (CloudFormation stringifies numbers and booleans);
- `FAILED` fails the resource with the function's `Reason`; `Data` answers `Fn::GetAtt`;
  a new `PhysicalResourceId` in an Update answer means a replacement;
- the answer's `PhysicalResourceId` of a failed Create is kept, so the rollback's Delete
  names it, as CloudFormation's does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.cloudformation.providers.base import (
    OperationCancelled,
    Provisioned,
    ResourceFailed,
    ResourceProvider,
    ResourceRequest,
    UnsupportedAttribute,
)

#: CloudFormation waits an hour for a custom resource's answer
DEFAULT_TIMEOUT_SECONDS = 3600.0
_POLL_SECONDS = 0.05

Invoke = Callable[[str, str, dict[str, Any]], None]


@dataclass
class CustomState:
    """The `Data` of the function's last answer: what `Fn::GetAtt` reads."""

    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    answered: threading.Event = field(default_factory=threading.Event)
    body: bytes = b""


class CustomResourceFailed(ResourceFailed):
    """A FAILED answer; carries the physical id the function named, if any."""

    def __init__(self, reason: str, provisioned: Provisioned | None) -> None:
        super().__init__(reason)
        self.provisioned = provisioned


#: The longest a Lambda function runs (its timeout's maximum).
LAMBDA_MAX_SECONDS = 900.0


class CustomResourceProvider(ResourceProvider):
    def __init__(
        self,
        invoke: Invoke,
        endpoint: str,
        wall_seconds: Callable[[float], float],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._invoke = invoke
        self._endpoint = endpoint
        self._wall_seconds = wall_seconds
        #: modelled seconds CloudFormation waits for an answer
        self.timeout = timeout
        #: ...but never less than this in wall seconds: the answer comes from a function that
        #: runs in real time (up to Lambda's 900 s) and may follow modelled work meanwhile
        self.wall_floor = LAMBDA_MAX_SECONDS
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    @staticmethod
    def handles(resource_type: str) -> bool:
        return resource_type.startswith("Custom::") or (resource_type == "AWS::CloudFormation::CustomResource")

    # ------------------------------------------------------------------ answers
    def respond(self, token: str, body: bytes) -> bool:
        """The function's answer arrived; False if nobody waits for that token."""
        with self._lock:
            pending = self._pending.get(token)
        if pending is None:
            return False
        pending.body = body
        pending.answered.set()
        return True

    def forget_all(self) -> None:
        with self._lock:
            self._pending.clear()

    # ------------------------------------------------------------------ interface
    def create(self, request: ResourceRequest) -> Provisioned:
        answer = self._send("Create", request, physical_id=None, old=None)
        physical_id = str(answer.get("PhysicalResourceId") or request.request_id)
        return Provisioned(physical_id, _state(answer))

    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        if request.properties.get("ServiceToken") != previous.get("ServiceToken"):
            raise ResourceFailed("Modifying service token is not allowed.")
        answer = self._send("Update", request, physical_id=current.physical_id, old=previous)
        physical_id = str(answer.get("PhysicalResourceId") or current.physical_id)
        return Provisioned(physical_id, _state(answer))

    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None:
        self._send("Delete", request, physical_id=current.physical_id, old=None)

    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        state: CustomState = current.state
        if attribute not in state.data:
            raise UnsupportedAttribute(
                f"CustomResource attribute error: Vendor response doesn't contain {attribute} "
                f"key in object {current.physical_id}"
            )
        return state.data[attribute]

    # ------------------------------------------------------------------ protocol
    def _send(
        self,
        request_type: str,
        request: ResourceRequest,
        *,
        physical_id: str | None,
        old: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        service_token = request.properties.get("ServiceToken")
        if not service_token:
            raise ResourceFailed(
                f"Properties validation failed for resource {request.logical_id} with message: "
                "#: required key [ServiceToken] not found"
            )
        token = uuid.uuid4().hex
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": service_token,
            "ResponseURL": f"{self._endpoint}/_sandbox/cfn-response/{token}",
            "StackId": request.stack.stack_id,
            "RequestId": request.request_id,
            "LogicalResourceId": request.logical_id,
            "ResourceType": request.resource_type,
            "ResourceProperties": stringify(request.properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old is not None:
            event["OldResourceProperties"] = stringify(dict(old))
        pending = _Pending()
        with self._lock:
            self._pending[token] = pending
        try:
            self._deliver(str(service_token), request, event)
            self._wait(pending, request)
        finally:
            with self._lock:
                self._pending.pop(token, None)
        return self._read(pending.body, request, physical_id)

    def _deliver(self, service_token: str, request: ResourceRequest, event: dict[str, Any]) -> None:
        if not service_token.startswith("arn:") or ":lambda:" not in service_token:
            raise ResourceFailed(
                f"Invalid service token {service_token}: the sandbox delivers custom resource "
                "requests to Lambda functions only"
            )
        region = service_token.split(":")[3] or request.stack.region
        try:
            self._invoke(service_token, region, event)
        except Exception as error:
            raise ResourceFailed(f"Failed to invoke the custom resource's function {service_token}: {error}") from error

    def _wait(self, pending: _Pending, request: ResourceRequest) -> None:
        remaining = max(self._wall_seconds(self.timeout), self.wall_floor)
        while not pending.answered.wait(min(_POLL_SECONDS, max(remaining, 0.0))):
            if request.cancel.is_set():
                raise OperationCancelled
            remaining -= _POLL_SECONDS
            if remaining <= 0:
                raise ResourceFailed(
                    "CloudFormation did not receive a response from your Custom Resource. "
                    f"Please check your logs for requestId [{request.request_id}]. If you are "
                    "using the Python cfn-response module, you may need to update your Lambda "
                    "function code so that CloudFormation can attach the updated version."
                )

    @staticmethod
    def _read(body: bytes, request: ResourceRequest, physical_id: str | None) -> dict[str, Any]:
        try:
            answer = json.loads(body or b"{}")
        except json.JSONDecodeError as error:
            raise ResourceFailed("Invalid response: the response is not valid JSON") from error
        if not isinstance(answer, dict) or answer.get("Status") not in ("SUCCESS", "FAILED"):
            raise ResourceFailed("Invalid response: Status must be SUCCESS or FAILED")
        if answer["Status"] == "FAILED":
            named = answer.get("PhysicalResourceId")
            reason = answer.get("Reason") or "See the details in CloudWatch Log Stream"
            raise CustomResourceFailed(
                f"Received response status [FAILED] from custom resource. Message returned: "
                f"{reason} (RequestId: {request.request_id})",
                Provisioned(str(named), CustomState()) if named and physical_id is None else None,
            )
        return answer


def _state(answer: Mapping[str, Any]) -> CustomState:
    data = answer.get("Data") or {}
    return CustomState(data=dict(data) if isinstance(data, dict) else {})


def stringify(value: Any) -> Any:
    """Property values as CloudFormation sends them to custom resources: every scalar a
    string (`5` is `"5"`, `true` is `"true"`)."""
    if isinstance(value, dict):
        return {key: stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
