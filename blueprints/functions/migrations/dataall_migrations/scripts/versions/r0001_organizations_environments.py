"""Organizations and their environments (AWS account and region pairs).

Revision ID: 0001
Revises:
Create Date: 2025-01-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("organization_uri", sa.String(50), primary_key=True),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("admins_group", sa.String(255), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=NOW),
        sa.Column("updated", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("name", name="uq_organization_name"),
    )
    op.create_table(
        "environment",
        sa.Column("environment_uri", sa.String(50), primary_key=True),
        sa.Column(
            "organization_uri",
            sa.String(50),
            sa.ForeignKey("organization.organization_uri", name="fk_environment_organization", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("admins_group", sa.String(255), nullable=False),
        sa.Column("aws_account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("role_arn", sa.String(2048), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=NOW),
        sa.Column("updated", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("aws_account_id", "region", name="uq_environment_account_region"),
    )
    op.create_index("ix_environment_organization_uri", "environment", ["organization_uri"])


def downgrade() -> None:
    op.drop_index("ix_environment_organization_uri", table_name="environment")
    op.drop_table("environment")
    op.drop_table("organization")
