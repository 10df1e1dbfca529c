"""The one small interface every resource provider implements.

CloudFormation drives each resource type through a handler with create, update and delete,
and answers `Ref` and `Fn::GetAtt` from what the handler returned. The sandbox does the
same: a provider per family of types (moto's models, the executing Step Functions
backend, table-driven emulations, custom resources), chosen by the registry.
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.cloudformation.resource_schemas import CreateOnly


@dataclass(frozen=True)
class StackContext:
    """Which stack a resource belongs to."""

    stack_id: str
    stack_name: str
    region: str
    account_id: str

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region.startswith("cn-") else "aws"


@dataclass
class ResourceRequest:
    """One create, update or delete of one resource, as a handler receives it."""

    stack: StackContext
    logical_id: str
    resource_type: str
    #: evaluated properties (for update: the new ones)
    properties: dict[str, Any]
    #: a physical name in AWS's format, for types that take a name the template did not give
    physical_name: str
    #: set when the operation is cancelled or another resource failed: stop waiting
    cancel: threading.Event = field(default_factory=threading.Event)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Provisioned:
    """What a provider made: the physical id (what `Ref` answers) and its own state."""

    physical_id: str
    state: Any = None


class ResourceFailed(Exception):
    """The handler failed; the message is the resource's status reason. `provisioned`: what
    the failed create left that the rollback must delete (a nested stack that rolled back)."""

    def __init__(self, reason: str, provisioned: Provisioned | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provisioned = provisioned


class OperationCancelled(Exception):
    """The operation was cancelled while the handler waited."""


class UnsupportedAttribute(Exception):
    """`Fn::GetAtt` of an attribute the resource type does not have."""


def handler_message(message: str, *, service: str | None = None, status: int = 400) -> str:
    """A failure reason worded like CloudFormation's resource handlers word theirs."""
    if service:
        message = f"{message} (Service: {service}, Status Code: {status}, Request ID: {uuid.uuid4()})"
    return (
        f'Resource handler returned message: "{message}" '
        f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: GeneralServiceException)"
    )


class ResourceProvider(ABC):
    """create / update / delete one resource, and answer its `Fn::GetAtt`."""

    @abstractmethod
    def create(self, request: ResourceRequest) -> Provisioned: ...

    @abstractmethod
    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        """Apply `request.properties` (was `previous`). A different physical id in the
        result means the resource was replaced: the engine deletes `current` in the
        cleanup phase."""

    @abstractmethod
    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None: ...

    @abstractmethod
    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        """The value of `Fn::GetAtt`; raises UnsupportedAttribute."""

    def name_property(self, resource_type: str) -> str | None:
        """The property that names the resource (a new value means a new resource)."""
        return None

    def replacement_properties(self, resource_type: str) -> frozenset[str]:
        """Properties whose change makes CloudFormation replace a resource of a type without a
        registry schema (`create_only` reads the schema first)."""
        name = self.name_property(resource_type)
        return frozenset({name}) if name else frozenset()

    def create_only(self, resource_type: str) -> CreateOnly:
        """The type's create-only properties: its registry schema's, else `replacement_properties`."""
        return CreateOnly(resource_type, self.replacement_properties(resource_type))
