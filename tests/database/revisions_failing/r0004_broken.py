"""Alters three tables, then inserts a row its CHECK constraint refuses: the upgrade fails midway.

Revision ID: 0004
Revises: 0003
Create Date: 2025-04-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization") as organization:
        organization.add_column(sa.Column("tags", sa.Text(), nullable=True))
    op.create_table("dataset_table", sa.Column("table_uri", sa.String(50), primary_key=True))
    op.execute("UPDATE environment SET label = 'changed by 0004'")
    op.execute("DELETE FROM dataset")
    op.execute("INSERT INTO permission (name, type, description) VALUES ('BROKEN', 'NOT_A_TYPE', '')")


def downgrade() -> None:
    op.drop_table("dataset_table")
    with op.batch_alter_table("organization") as organization:
        organization.drop_column("tags")
