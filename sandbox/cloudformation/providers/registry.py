"""Which provider handles which resource type. Nothing is ever silently dropped: a type no
provider knows fails its resource, and the stack rolls back, as an unknown type would
fail in AWS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.cloudformation.providers.base import (
    Provisioned,
    ResourceFailed,
    ResourceProvider,
    ResourceRequest,
    UnsupportedAttribute,
)
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.custom import CustomResourceProvider
from sandbox.cloudformation.providers.emulated import EmulatedProvider
from sandbox.cloudformation.providers.emulated_types import EMULATED_TYPES
from sandbox.cloudformation.providers.moto_models import MotoModelProvider
from sandbox.cloudformation.providers.nested_stack import NestedStackProvider
from sandbox.cloudformation.providers.state_machine import StateMachineProvider


class UnsupportedProvider(ResourceProvider):
    """For types no provider knows: creating one fails, with AWS-like words."""

    def create(self, request: ResourceRequest) -> Provisioned:
        raise ResourceFailed(f"Resource type {request.resource_type} is not supported by the sandbox")

    def update(self, request: ResourceRequest, current: Provisioned, previous: Mapping[str, Any]) -> Provisioned:
        return self.create(request)

    def delete(self, request: ResourceRequest, current: Provisioned, *, snapshot: bool) -> None:
        """Never created, so nothing to delete."""

    def get_att(self, resource_type: str, current: Provisioned, attribute: str) -> Any:
        raise UnsupportedAttribute(attribute)


class ProviderRegistry:
    def __init__(self, clients: ServiceClients, custom: CustomResourceProvider) -> None:
        self.custom = custom
        self._families: list[tuple[frozenset[str], ResourceProvider]] = []
        state_machines = StateMachineProvider()
        emulated = EmulatedProvider(EMULATED_TYPES, clients)
        moto = MotoModelProvider(clients)
        #: nested stacks: bound to the CloudFormation API once it exists (`NestedStackProvider.bind`)
        self.nested_stacks = NestedStackProvider()
        self._families = [
            (self.nested_stacks.types, self.nested_stacks),
            (state_machines.types, state_machines),
            (emulated.types, emulated),
            (moto.types, moto),
        ]
        self._unsupported = UnsupportedProvider()

    def provider(self, resource_type: str) -> ResourceProvider:
        if self.custom.handles(resource_type):
            return self.custom
        for types, provider in self._families:
            if resource_type in types:
                return provider
        return self._unsupported
