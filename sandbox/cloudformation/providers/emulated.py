"""Resource types moto's CloudFormation lacks, emulated from a table.

Each `EmulatedType` says how CloudFormation would name the resource (its physical id, in
AWS's format for that type) and how it answers `Fn::GetAtt` (Arn, Endpoint.Address ...).
Where moto has the service, a `ServiceBinding` also makes the resource there through the
service's public API, so other API calls see it (a user pool, a cluster, a bucket policy).
Properties are kept, so an update is a change of properties and a rollback puts them back.
"""

from __future__ import annotations

import copy
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError, ParamValidationError

from sandbox.cloudformation.providers.base import (
    Provisioned,
    ResourceFailed,
    ResourceProvider,
    ResourceRequest,
    StackContext,
    UnsupportedAttribute,
    handler_message,
)
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.tags import Tagger, TagTarget, apply_tags, tag_map

LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


@dataclass
class Emulation:
    """One emulated resource: what its physical id and attributes are made from."""

    resource_type: str
    logical_id: str
    properties: dict[str, Any]
    stack: StackContext
    #: the name property's value, else a name CloudFormation would have generated
    name: str
    #: what the service binding answered, and random ids drawn once for this resource
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.stack.region

    @property
    def account(self) -> str:
        return self.stack.account_id

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        where = self.region if region is None else region
        return f"arn:{self.stack.partition}:{service}:{where}:{self.account}:{resource}"

    def random(self, key: str, length: int, alphabet: str = LOWER_ALNUM) -> str:
        """A random id drawn once per resource and key (stable across updates)."""
        if key not in self.data:
            self.data[key] = "".join(secrets.choice(alphabet) for _ in range(length))
        return str(self.data[key])

    def uuid(self, key: str = "uuid") -> str:
        if key not in self.data:
            self.data[key] = str(uuid.uuid4())
        return str(self.data[key])

    def prop(self, name: str, default: Any = None) -> Any:
        return self.properties.get(name, default)


class ServiceBinding(Protocol):
    """Makes an emulated resource in the service moto has, through its public API."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None: ...

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None: ...

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None: ...


Attribute = Callable[[Emulation], Any]


def generated(resource: Emulation) -> str:
    """The physical id of types whose id CloudFormation makes from the stack and logical id."""
    return resource.name


@dataclass(frozen=True)
class EmulatedType:
    resource_type: str
    physical_id: Attribute = generated
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    name_property: str | None = None
    #: properties (besides the name) whose change makes CloudFormation replace the resource
    create_only: frozenset[str] = frozenset()
    service: ServiceBinding | None = None
    #: how the service's tag API retags the resource on update, where the binding's update
    #: call takes no tags (its create does)
    tagger: Tagger | None = None


@dataclass
class EmulatedState:
    emulation: Emulation
    attributes: dict[str, Any]


class EmulatedProvider(ResourceProvider):
    def __init__(self, types: Mapping[str, EmulatedType], clients: ServiceClients) -> None:
        self._types = dict(types)
        self._clients = clients
        self.types = frozenset(self._types)

    def name_property(self, resource_type: str) -> str | None:
        return self._types[resource_type].name_property

    def replacement_properties(self, resource_type: str) -> frozenset[str]:
        spec = self._types[resource_type]
        named = {spec.name_property} if spec.name_property else set()
        return frozenset(named) | spec.create_only

    def create(self, request: ResourceRequest) -> Provisioned:
        spec = self._types[request.resource_type]
        emulation = self._emulation(request, data={})
        service = spec.service
        if service is not None:
            _service_call(spec, lambda: service.create(self._clients, emulation))
        return self._provisioned(spec, emulation)

    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        spec = self._types[request.resource_type]
        before: EmulatedState = current.state
        emulation = self._emulation(request, data=copy.deepcopy(before.emulation.data), name=before.emulation.name)
        service = spec.service
        if service is not None:
            _service_call(spec, lambda: service.update(self._clients, emulation, before.emulation))
        updated = self._provisioned(spec, emulation)
        tagger = spec.tagger
        if tagger is not None:
            kind = request.resource_type
            tags, earlier = tag_map(request.properties.get("Tags"), kind), tag_map(previous.get("Tags"), kind)
            if tags != earlier:
                state: EmulatedState = updated.state
                stack = request.stack
                target = TagTarget(
                    updated.physical_id, stack.region, stack.account_id, stack.partition, state.attributes.__getitem__
                )
                _service_call(spec, lambda: apply_tags(self._clients, tagger, target, tags, earlier))
        return updated

    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None:
        spec = self._types[request.resource_type]
        state: EmulatedState = current.state
        service = spec.service
        if service is not None:
            _service_call(spec, lambda: service.delete(self._clients, state.emulation, snapshot=snapshot))

    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        state: EmulatedState = current.state
        if attribute not in state.attributes:
            raise UnsupportedAttribute(attribute)
        return state.attributes[attribute]

    # ------------------------------------------------------------------ helpers
    def _emulation(self, request: ResourceRequest, *, data: dict[str, Any], name: str | None = None) -> Emulation:
        """`name`: the name the resource already has (an update keeps the name CloudFormation
        generated; only a new value of the name property replaces the resource)."""
        spec = self._types[request.resource_type]
        name = name or request.physical_name
        if spec.name_property and request.properties.get(spec.name_property):
            name = str(request.properties[spec.name_property])
        return Emulation(
            resource_type=request.resource_type,
            logical_id=request.logical_id,
            properties=copy.deepcopy(request.properties),
            stack=request.stack,
            name=name,
            data=data,
        )

    def _provisioned(self, spec: EmulatedType, emulation: Emulation) -> Provisioned:
        physical_id = spec.physical_id(emulation)
        emulation.data.setdefault("physical_id", physical_id)
        attributes = {name: read(emulation) for name, read in spec.attributes.items()}
        return Provisioned(physical_id, EmulatedState(emulation, attributes))


def _service_call(spec: EmulatedType, call: Callable[[], None]) -> None:
    """A service's refusal fails the resource with the service's own words."""
    try:
        call()
    except ParamValidationError as error:
        # a required property left out, or one of the wrong type: the type's schema refuses it
        raise ResourceFailed(
            handler_message(f"Properties validation failed for resource of type {spec.resource_type}: {error}")
        ) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        raise ResourceFailed(
            handler_message(
                str(details.get("Message") or details.get("Code") or error),
                service=spec.resource_type.split("::")[1],
                status=int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)),
            )
        ) from error
