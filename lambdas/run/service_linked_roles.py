"""Plan's value of each service-linked role's parameter (`OpenSearchServiceLinkedRoleMade`).

A service-linked role is the account's, one per service, and its name is IAM's
(https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html). data.all's
OpenSearch stack makes the OpenSearch one unconditionally, which fails in an account that has it
already (any OpenSearch domain made it, or another installation). The release makes it under a
condition on a context parameter (`blueprints.dataall.rules.service_linked_roles_when_missing`);
Plan says `true` when the stage made it before (its record's parameter; a stage recorded without the
parameter made it unconditionally) or the account has none, `false` when the account has it from
elsewhere. The value never flips for an installed stage, so a redeploy never deletes the role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambdas.data.records import StageRecord
from lambdas.release.manifest import Step

#: The parameter -> the role's service (as `blueprints.dataall.rules.SERVICE_LINKED_ROLES`, which Lambda code may
#: not import from `blueprints`).
ROLES = {"OpenSearchServiceLinkedRoleMade": "opensearchservice.amazonaws.com"}


def make(steps: Iterable[Step], records: Mapping[str, StageRecord], iam: Callable[[], Any]) -> dict[str, str]:
    """Each parameter of `ROLES` a stage of the run reads: "true" or "false". `records`: what each installed stage
    runs now (the ledger's)."""
    steps = list(steps)
    values: dict[str, str] = {}
    for parameter, service in ROLES.items():
        readers = [step.name for step in steps if step.reads_param(parameter)]
        if not readers:
            continue
        made = [records[name].parameters.get(parameter, "true") for name in readers if name in records]
        values[parameter] = "true" if "true" in made else "false" if made else _missing(iam(), service)
    return values


def _missing(iam: Any, service: str) -> str:
    """ "true" when the account has no service-linked role of `service`: IAM puts one under the path
    `/aws-service-role/<service>/` (ListRoles by that path prefix; its name is IAM's to choose), else "false"."""
    pages = iam.get_paginator("list_roles").paginate(PathPrefix=f"/aws-service-role/{service}/")
    return "false" if any(page["Roles"] for page in pages) else "true"
