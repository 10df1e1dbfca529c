"""Datasets (an S3 bucket and a Glue database in an environment); environments opt in.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    # Batch mode is plain ALTER TABLE on PostgreSQL and a table copy on SQLite.
    with op.batch_alter_table("environment") as environment:
        environment.add_column(sa.Column("datasets_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "dataset",
        sa.Column("dataset_uri", sa.String(50), primary_key=True),
        sa.Column(
            "environment_uri",
            sa.String(50),
            sa.ForeignKey("environment.environment_uri", name="fk_dataset_environment"),
            nullable=False,
        ),
        sa.Column(
            "organization_uri",
            sa.String(50),
            sa.ForeignKey("organization.organization_uri", name="fk_dataset_organization"),
            nullable=False,
        ),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("admins_group", sa.String(255), nullable=False),
        sa.Column("s3_bucket", sa.String(63), nullable=False),
        sa.Column("glue_database", sa.String(255), nullable=False),
        sa.Column("kms_alias", sa.String(255), nullable=True),
        sa.Column("confidentiality", sa.String(32), nullable=False, server_default="Unclassified"),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=NOW),
        sa.Column("updated", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("s3_bucket", name="uq_dataset_s3_bucket"),
    )
    op.create_index("ix_dataset_environment_uri", "dataset", ["environment_uri"])


def downgrade() -> None:
    op.drop_index("ix_dataset_environment_uri", table_name="dataset")
    op.drop_table("dataset")
    with op.batch_alter_table("environment") as environment:
        environment.drop_column("datasets_enabled")
