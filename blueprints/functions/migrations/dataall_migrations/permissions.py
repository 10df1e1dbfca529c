"""The release's permissions, and the post-migration hook that makes the table match them.

TENANT permissions are granted to groups for the whole platform (`tenant_permission`);
RESOURCE permissions are what a group may do on one organization, environment or
dataset. The list is the truth: after every upgrade the `permission` table holds exactly
these rows; a permission the release dropped goes, with its grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

PermissionType = Literal["TENANT", "RESOURCE"]


@dataclass(frozen=True)
class Permission:
    name: str
    type: PermissionType
    description: str


def _tenant(name: str, description: str) -> Permission:
    return Permission(name, "TENANT", description)


def _resource(name: str, description: str) -> Permission:
    return Permission(name, "RESOURCE", description)


PERMISSIONS: tuple[Permission, ...] = (
    _tenant("MANAGE_ORGANIZATIONS", "Create organizations and manage the ones the group administers"),
    _tenant("MANAGE_ENVIRONMENTS", "Link AWS accounts as environments of an organization"),
    _tenant("MANAGE_DATASETS", "Create, import and manage datasets"),
    _tenant("MANAGE_SHARES", "Request and approve access to other teams' datasets"),
    _tenant("MANAGE_GLOSSARIES", "Create and curate business glossaries"),
    _tenant("MANAGE_GROUPS", "Invite groups to organizations and environments"),
    _resource("GET_ORGANIZATION", "See an organization"),
    _resource("UPDATE_ORGANIZATION", "Change an organization's name and description"),
    _resource("DELETE_ORGANIZATION", "Archive an organization without environments"),
    _resource("INVITE_ORGANIZATION_GROUP", "Invite a group to an organization"),
    _resource("REMOVE_ORGANIZATION_GROUP", "Remove a group from an organization"),
    _resource("LINK_ENVIRONMENT", "Link an AWS account and region to an organization"),
    _resource("GET_ENVIRONMENT", "See an environment"),
    _resource("UPDATE_ENVIRONMENT", "Change an environment's settings"),
    _resource("DELETE_ENVIRONMENT", "Unlink an environment without datasets"),
    _resource("INVITE_ENVIRONMENT_GROUP", "Invite a group to an environment"),
    _resource("REMOVE_ENVIRONMENT_GROUP", "Remove a group from an environment"),
    _resource("CREATE_DATASET", "Create a dataset in an environment"),
    _resource("GET_DATASET", "See a dataset and its metadata"),
    _resource("UPDATE_DATASET", "Change a dataset's metadata"),
    _resource("DELETE_DATASET", "Delete a dataset and, on request, its bucket"),
    _resource("SYNC_DATASET", "Synchronize a dataset's tables from its Glue database"),
    _resource("CREDENTIALS_DATASET", "Get temporary credentials for a dataset's bucket"),
    _resource("SHARE_DATASET", "Approve or reject share requests on a dataset"),
)

PERMISSION = sa.table(
    "permission",
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("description", sa.Text),
    sa.column("updated", sa.DateTime),
)
TENANT_PERMISSION = sa.table("tenant_permission", sa.column("permission_name", sa.String))


@dataclass(frozen=True)
class Difference:
    """What the table lacks, holds differently, and holds beyond the release's list."""

    added: tuple[Permission, ...]
    updated: tuple[Permission, ...]
    removed: tuple[str, ...]

    @property
    def pending(self) -> int:
        return len(self.added) + len(self.updated) + len(self.removed)

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "updated": len(self.updated), "removed": len(self.removed)}


def difference(connection: Connection, permissions: Iterable[Permission] = PERMISSIONS) -> Difference:
    wanted = {p.name: p for p in permissions}
    rows = connection.execute(sa.select(PERMISSION.c.name, PERMISSION.c.type, PERMISSION.c.description)).all()
    present = {row.name: Permission(row.name, row.type, row.description) for row in rows}
    return Difference(
        added=tuple(p for name, p in sorted(wanted.items()) if name not in present),
        updated=tuple(p for name, p in sorted(wanted.items()) if name in present and present[name] != p),
        removed=tuple(sorted(set(present) - set(wanted))),
    )


def sync(connection: Connection, permissions: Iterable[Permission] = PERMISSIONS) -> dict[str, int]:
    """Make the permission table hold exactly `permissions`; idempotent. Returns the counts."""
    change = difference(connection, permissions)
    if change.added:
        connection.execute(
            sa.insert(PERMISSION),
            [{"name": p.name, "type": p.type, "description": p.description} for p in change.added],
        )
    for permission in change.updated:
        connection.execute(
            sa.update(PERMISSION)
            .where(PERMISSION.c.name == permission.name)
            .values(type=permission.type, description=permission.description, updated=sa.func.current_timestamp())
        )
    if change.removed:
        # Explicitly, not by the foreign key's ON DELETE CASCADE: SQLite enforces it only on request.
        connection.execute(sa.delete(TENANT_PERMISSION).where(TENANT_PERMISSION.c.permission_name.in_(change.removed)))
        connection.execute(sa.delete(PERMISSION).where(PERMISSION.c.name.in_(change.removed)))
    return {**change.summary(), "total": len({p.name for p in permissions})}
