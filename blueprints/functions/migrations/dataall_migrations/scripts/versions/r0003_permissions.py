"""Permissions (the release's list, kept in sync after each upgrade) and their grants to groups.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "permission",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=NOW),
        sa.Column("updated", sa.DateTime(), nullable=True),
        sa.CheckConstraint("type IN ('TENANT', 'RESOURCE')", name="ck_permission_type"),
    )
    op.create_table(
        "tenant_permission",
        sa.Column("group_uri", sa.String(255), primary_key=True),
        sa.Column(
            "permission_name",
            sa.String(100),
            sa.ForeignKey("permission.name", name="fk_tenant_permission_permission", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("granted", sa.DateTime(), nullable=False, server_default=NOW),
        sa.Column("granted_by", sa.String(255), nullable=True),
    )
    op.create_index("ix_tenant_permission_permission_name", "tenant_permission", ["permission_name"])


def downgrade() -> None:
    op.drop_index("ix_tenant_permission_permission_name", table_name="tenant_permission")
    op.drop_table("tenant_permission")
    op.drop_table("permission")
