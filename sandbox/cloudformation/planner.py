"""What an update would change: the `Changes` of a change set, and "No updates are to be
performed."

The preview evaluates the new template against the stack as it is: resources that will
be added or replaced have no value yet, so properties that reference them are changes
CloudFormation can only evaluate during the update (`Evaluation: Dynamic`). The update
itself re-evaluates every resource when its turn comes, so the preview decides nothing
about what really happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.cloudformation.errors import ValidationError
from sandbox.cloudformation.intrinsics import Evaluator, ResourceResolver
from sandbox.cloudformation.model import Deployment, Stack, StackResource
from sandbox.cloudformation.providers.base import ResourceProvider
from sandbox.cloudformation.resource_schemas import ABSENT
from sandbox.cloudformation.template import resource_dependencies, topological_order


class _Unknown(Exception):
    """A value only the update will know (a resource being added or replaced)."""


@dataclass
class _PreviewResolver:
    """Current values, and `_Unknown` for resources whose value the update will change."""

    live: ResourceResolver
    unknown: set[str]

    def ref(self, logical_id: str) -> Any:
        if logical_id in self.unknown:
            raise _Unknown(logical_id)
        return self.live.ref(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id in self.unknown:
            raise _Unknown(logical_id)
        return self.live.get_att(logical_id, attribute)

    def import_value(self, export_name: str) -> Any:
        return self.live.import_value(export_name)

    def availability_zones(self, region: str) -> list[str]:
        return self.live.availability_zones(region)


def _add(logical_id: str, resource_type: str) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Add",
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "Scope": [],
            "Details": [],
        },
    }


def _remove(record: StackResource) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Remove",
            "LogicalResourceId": record.logical_id,
            "PhysicalResourceId": record.physical_id,
            "ResourceType": record.resource_type,
            "Scope": [],
            "Details": [],
        },
    }


def _changes(
    stack: Stack,
    deployment: Deployment,
    resolver: _PreviewResolver,
    provider_of: Callable[[str], ResourceProvider],
) -> list[dict[str, Any]]:
    """The change set `Changes` for updating `stack` to `deployment` (boto3's shape)."""
    resources = deployment.included_resources(stack.context)
    conditions = deployment.evaluator(stack.context).conditions()
    order = topological_order(resource_dependencies(resources, conditions))
    current = {
        logical_id: record
        for logical_id, record in stack.resources.items()
        if record.provisioned is not None and not record.status.startswith("DELETE")
    }
    unknown = resolver.unknown
    evaluator = deployment.evaluator(stack.context, resolver)
    changes: list[dict[str, Any]] = []
    changed_types = [
        logical_id
        for logical_id in order
        if logical_id in current and resources[logical_id]["Type"] != current[logical_id].resource_type
    ]
    if changed_types:
        raise ValidationError(
            "Update of resource type is not permitted. The new template modifies resource type "
            f"of the following resources: [{', '.join(changed_types)}]"
        )
    for logical_id in order:
        resource_type = str(resources[logical_id]["Type"])
        if logical_id not in current:
            unknown.add(logical_id)
            changes.append(_add(logical_id, resource_type))
            continue
        record = current[logical_id]
        change = _modification(record, resources[logical_id], evaluator, provider_of(resource_type))
        if change is not None:
            if change["ResourceChange"]["Replacement"] == "True":
                unknown.add(logical_id)
            changes.append(change)
    changes.extend(_remove(record) for logical_id, record in current.items() if logical_id not in resources)
    return changes


def _modification(
    record: StackResource,
    resource: dict[str, Any],
    evaluator: Evaluator,
    provider: ResourceProvider,
) -> dict[str, Any] | None:
    old = record.properties or {}
    new_body = resource.get("Properties") or {}
    create_only = provider.create_only(record.resource_type)
    details: list[dict[str, Any]] = []
    replacement = "False"
    for name in sorted(set(old) | set(new_body)):
        try:
            value = evaluator.evaluate(new_body[name]) if name in new_body else ABSENT
            dynamic = False
        except _Unknown:
            value, dynamic = None, True
        if not dynamic and value == old.get(name, ABSENT):
            continue
        # A value only the update knows may or may not change what cannot change: Conditional.
        forces = name in create_only.names() if dynamic else create_only.forces(name, old.get(name, ABSENT), value)
        recreation = "Always" if forces else "Never"
        if forces:
            replacement = "True" if not dynamic or replacement == "True" else "Conditional"
        details.append(
            {
                "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
                "Evaluation": "Dynamic" if dynamic else "Static",
                "ChangeSource": "ResourceReference" if dynamic else "DirectModification",
            }
        )
    metadata_changed = evaluator.evaluate(resource.get("Metadata")) != record.metadata
    if not details and not metadata_changed:
        return None
    scope = (["Properties"] if details else []) + (["Metadata"] if metadata_changed else [])
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": record.logical_id,
            "PhysicalResourceId": record.physical_id,
            "ResourceType": record.resource_type,
            "Replacement": replacement,
            "Scope": scope,
            "Details": details,
        },
    }


@dataclass
class Preview:
    """What an update to `deployment` would do to the stack."""

    changes: list[dict[str, Any]]
    #: the outputs the stack would have; None when some are only known after the update
    outputs: list[dict[str, Any]] | None

    def nothing_to_update(self, stack: Stack, deployment: Deployment) -> bool:
        """AWS's "No updates are to be performed.": no resource, output, parameter or tag
        changes."""
        current = stack.deployment
        if self.changes or current is None or self.outputs is None:
            return False
        return (
            self.outputs == stack.outputs
            and deployment.parameters.given == current.parameters.given
            and deployment.tags == current.tags
            and deployment.notification_arns == current.notification_arns
        )


def preview(
    stack: Stack,
    deployment: Deployment,
    live: ResourceResolver,
    provider_of: Callable[[str], ResourceProvider],
) -> Preview:
    unknown: set[str] = set()
    resolver = _PreviewResolver(live, unknown)
    changes = _changes(stack, deployment, resolver, provider_of)
    try:
        outputs = deployment.outputs(deployment.evaluator(stack.context, resolver))
    except _Unknown:
        outputs = None
    return Preview(changes, outputs)
