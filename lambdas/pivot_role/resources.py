"""The pivot role's custom resources as AWS calls: one dispatch for both types.

`Custom::PivotRoleExternalId` (`external_id.py`) keeps the external id in an SSM SecureString
(CloudFormation cannot create those). `Custom::PivotRole` (`role.py`) converges the role, its
trust policy and its managed policies in IAM on what the properties say, and rolls the same role
out to the environment accounts through a self-managed StackSet (`stack_sets.py`). Every request
converges, so a retried request, the Update of a CloudFormation rollback (the old properties
again) and a Delete of something already gone all end where the properties say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.core.cfn_response import Deadline, Outcome
from lambdas.pivot_role.common import (
    EXTERNAL_ID_TYPE,
    PARAMETER_NAME,
    PIVOT_ROLE_TYPE,
    ROLE_NAME,
    ProviderError,
    Services,
)
from lambdas.pivot_role.external_id import ExternalIds
from lambdas.pivot_role.role import PivotRoles


def handle(event: Mapping[str, Any], services: Services, deadline: Deadline) -> Outcome:
    """Serve one CloudFormation request for either resource type."""
    kind = event.get("ResourceType")
    if kind == EXTERNAL_ID_TYPE:
        return ExternalIds(services).handle(event)
    if kind == PIVOT_ROLE_TYPE:
        return PivotRoles(services, deadline, str(event.get("RequestId", ""))).handle(event)
    raise ProviderError(f"this provider serves {EXTERNAL_ID_TYPE} and {PIVOT_ROLE_TYPE}, not {kind}")


def failed_physical_id(event: Mapping[str, Any]) -> str:
    """What a FAILED answer names. A failed Create names what it may have created, so that
    the rollback's Delete removes it (Delete removes only what carries this stack's tag)."""
    if event.get("PhysicalResourceId"):
        return str(event["PhysicalResourceId"])
    properties = event.get("ResourceProperties") or {}
    kind = event.get("ResourceType")
    role, parameter = str(properties.get("RoleName", "")), str(properties.get("ParameterName", ""))
    if kind == PIVOT_ROLE_TYPE and ROLE_NAME.match(role):
        return role
    if kind == EXTERNAL_ID_TYPE and PARAMETER_NAME.match(parameter):
        return parameter
    return f"{event.get('LogicalResourceId', 'Resource')}-failed-{str(event.get('RequestId', ''))[:8]}"
