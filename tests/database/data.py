"""What the database tier compares: the schema, and every table's row count and checksum.

Both are read through SQLAlchemy's inspector and plain SELECTs, the same way on
PostgreSQL and SQLite, and independent of the code under test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from synthetic_migrations.runner import Migrations, current_revision

HERE = Path(__file__).resolve().parent
#: A revision 0004 that alters tables, then breaks a CHECK constraint (SQL error midway).
FAILING_VERSIONS = HERE / "revisions_failing"
#: A revision 0004 whose one statement runs for seconds (PostgreSQL's pg_sleep).
SLOW_VERSIONS = HERE / "revisions_slow"
#: Alembic's own table, compared as `Fingerprint.revision`.
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Fingerprint:
    revision: str | None
    schema: dict[str, Any]
    tables: dict[str, tuple[int, str]]  # name -> (row count, sha256 of the sorted rows)


def upgrade_to(engine: sa.Engine, revision: str) -> None:
    """Bring a database to one revision (the runner only goes to head)."""
    migrations = Migrations(engine)
    with engine.connect() as connection, connection.begin():
        command.upgrade(migrations.config(connection), revision)


def revision_of(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection)


def schema(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return _schema(sa.inspect(connection))


def _schema(inspector: sa.Inspector) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE}):
        found[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]).split("(")[0].upper(), c["nullable"], _default(c.get("default")))
                for c in inspector.get_columns(table)
            ),
            "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": sorted(
                (
                    fk["name"] or "",
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"] or "", tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
            ),
        }
    return found


def _default(value: Any) -> str | None:
    # PostgreSQL reports 'Unclassified'::character varying, SQLite 'Unclassified'.
    return None if value is None else str(value).split("::")[0].strip("()")


def table_checksums(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    checksums = {}
    metadata = sa.MetaData()
    with engine.connect() as connection:
        metadata.reflect(connection)
        for name, table in sorted(metadata.tables.items()):
            if name == VERSION_TABLE:
                continue
            rows = sorted(repr(tuple(row)) for row in connection.execute(sa.select(table)))
            checksums[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return checksums


def fingerprint(engine: sa.Engine) -> Fingerprint:
    return Fingerprint(revision=revision_of(engine), schema=schema(engine), tables=table_checksums(engine))


ORGANIZATIONS = [
    {"organization_uri": f"org-{i}", "label": f"Org {i}", "name": f"org{i}", "owner": "alice", "admins_group": "admins"}
    for i in range(3)
]
ENVIRONMENTS = [
    {
        "environment_uri": f"env-{i}",
        "organization_uri": f"org-{i % 3}",
        "label": f"Env {i}",
        "name": f"env{i}",
        "owner": "bob",
        "admins_group": "engineers",
        "aws_account_id": f"{111122223333 + i}",
        "region": "eu-west-1",
        "role_arn": f"arn:aws:iam::{111122223333 + i}:role/pivot",
    }
    for i in range(5)
]
DATASETS = [
    {
        "dataset_uri": f"ds-{i}",
        "environment_uri": f"env-{i % 5}",
        "organization_uri": f"org-{i % 3}",
        "label": f"Dataset {i}",
        "name": f"dataset{i}",
        "owner": "carol",
        "admins_group": "analysts",
        "s3_bucket": f"bucket-{i}",
        "glue_database": f"glue_{i}",
    }
    for i in range(7)
]


def seed(engine: sa.Engine) -> None:
    """Rows in every table the database's revision has (organizations, environments, datasets, grants)."""
    metadata = sa.MetaData()
    with engine.begin() as connection:
        metadata.reflect(connection)
        tables = metadata.tables
        if "organization" in tables:
            connection.execute(sa.insert(tables["organization"]), ORGANIZATIONS)
        if "environment" in tables:
            connection.execute(sa.insert(tables["environment"]), ENVIRONMENTS)
        if "dataset" in tables:
            connection.execute(sa.insert(tables["dataset"]), DATASETS)
        if "permission" in tables:
            connection.execute(
                sa.insert(tables["permission"]),
                [{"name": "MANAGE_DATASETS", "type": "TENANT", "description": "Create, import and manage datasets"}],
            )
            connection.execute(
                sa.insert(tables["tenant_permission"]),
                [{"group_uri": "engineers", "permission_name": "MANAGE_DATASETS", "granted_by": "alice"}],
            )
