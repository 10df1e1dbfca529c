"""The release's migrations, run by the migration function's runner on real databases.

PostgreSQL (a throwaway server these tests start) is what Aurora runs; SQLite is the
sandbox's embedded database. Every command is one transaction: the tests check that a
failure anywhere leaves the revision, the schema and every row as they were.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from dataall_migrations.errors import (
    MigrationFailed,
    MigrationInProgress,
    MigrationLockTimeout,
    MigrationStatementTimeout,
    UnknownRevision,
)
from synthetic_migrations import permissions as release_permissions
from synthetic_migrations.database import Timeouts
from synthetic_migrations.runner import ADVISORY_LOCK_KEY, VERSIONS, Migrations

from tests.database.data import (
    DATASETS,
    ENVIRONMENTS,
    FAILING_VERSIONS,
    ORGANIZATIONS,
    SLOW_VERSIONS,
    fingerprint,
    revision_of,
    schema,
    seed,
    table_checksums,
    upgrade_to,
)
from tests.database.postgres import PostgresCluster

HEAD = "0003"
REVISIONS = ["0001", "0002", "0003"]
APPLICATION_TABLES = {"organization", "environment", "dataset", "permission", "tenant_permission"}


def permission_rows(engine: sa.Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as connection:
        return {tuple(row) for row in connection.execute(sa.text("SELECT name, type, description FROM permission"))}


def release_rows() -> set[tuple[str, str, str]]:
    return {(p.name, p.type, p.description) for p in release_permissions.PERMISSIONS}


# ---------------------------------------------------------------------- empty -> head -> head
def test_the_release_has_one_head_and_three_revisions(pg_engine: sa.Engine) -> None:
    script = Migrations(pg_engine).script()
    assert script.get_heads() == [HEAD]
    assert [s.revision for s in reversed(list(script.walk_revisions()))] == REVISIONS


def test_an_empty_database_is_migrated_to_head_with_the_permissions(engine: sa.Engine) -> None:
    migrations = Migrations(engine)
    assert migrations.status() == {"revision": None, "head": HEAD, "known": True, "pending_permissions": None}

    result = migrations.upgrade()

    assert result["previous"] is None
    assert result["revision"] == HEAD
    assert result["applied"] == REVISIONS
    assert result["permissions"] == {
        "added": len(release_permissions.PERMISSIONS),
        "updated": 0,
        "removed": 0,
        "total": len(release_permissions.PERMISSIONS),
    }
    assert set(schema(engine)) >= APPLICATION_TABLES
    assert permission_rows(engine) == release_rows()
    assert migrations.status() == {"revision": HEAD, "head": HEAD, "known": True, "pending_permissions": 0}


def test_head_to_head_changes_nothing(engine: sa.Engine) -> None:
    migrations = Migrations(engine)
    migrations.upgrade()
    seed_rows(engine)
    before = fingerprint(engine)

    result = migrations.upgrade()

    assert result == {
        "previous": HEAD,
        "revision": HEAD,
        "applied": [],
        "permissions": {"added": 0, "updated": 0, "removed": 0, "total": len(release_permissions.PERMISSIONS)},
    }
    assert fingerprint(engine) == before


def seed_rows(engine: sa.Engine) -> None:
    """Platform data at head, without touching the permission list."""
    metadata = sa.MetaData()
    with engine.begin() as connection:
        metadata.reflect(connection)
        connection.execute(sa.insert(metadata.tables["organization"]), ORGANIZATIONS)
        connection.execute(sa.insert(metadata.tables["environment"]), ENVIRONMENTS)
        connection.execute(sa.insert(metadata.tables["dataset"]), DATASETS)
        connection.execute(
            sa.insert(metadata.tables["tenant_permission"]),
            [{"group_uri": "engineers", "permission_name": "MANAGE_DATASETS"}],
        )


def test_sqlite_goes_from_empty_to_head_and_back_to_base(sqlite_engine: sa.Engine) -> None:
    migrations = Migrations(sqlite_engine)
    migrations.upgrade()
    assert set(schema(sqlite_engine)) >= APPLICATION_TABLES

    result = migrations.downgrade(None)

    assert result == {"previous": HEAD, "revision": None, "applied": list(reversed(REVISIONS))}
    assert schema(sqlite_engine) == {}
    assert set(sa.inspect(sqlite_engine).get_table_names()) == {"alembic_version"}
    assert migrations.status()["revision"] is None


# ---------------------------------------------------------------------- downgrades
@pytest.mark.parametrize(("revision", "previous"), [("0001", None), ("0002", "0001"), ("0003", "0002")])
def test_every_revision_downgrades_to_the_one_before(engine: sa.Engine, revision: str, previous: str | None) -> None:
    migrations = Migrations(engine)
    if previous is not None:
        upgrade_to(engine, previous)
        seed(engine)
    before = fingerprint(engine)
    upgrade_to(engine, revision)
    assert revision_of(engine) == revision

    result = migrations.downgrade(previous)

    assert result["previous"] == revision and result["revision"] == previous
    assert result["applied"] == [revision]
    assert fingerprint(engine) == before


def test_a_downgrade_to_where_the_database_is_changes_nothing(pg_engine: sa.Engine) -> None:
    upgrade_to(pg_engine, "0002")
    seed(pg_engine)
    before = fingerprint(pg_engine)

    assert Migrations(pg_engine).downgrade("0002") == {"previous": "0002", "revision": "0002", "applied": []}
    assert fingerprint(pg_engine) == before


def test_a_downgrade_to_a_revision_the_release_lacks_is_refused(pg_engine: sa.Engine) -> None:
    Migrations(pg_engine).upgrade()

    with pytest.raises(UnknownRevision, match="no revision '0009'"):
        Migrations(pg_engine).downgrade("0009")
    assert revision_of(pg_engine) == HEAD


def test_a_downgrade_to_a_revision_above_the_database_is_refused(pg_engine: sa.Engine) -> None:
    upgrade_to(pg_engine, "0001")

    with pytest.raises(UnknownRevision, match="cannot downgrade from 0001 to 0002"):
        Migrations(pg_engine).downgrade("0002")
    assert revision_of(pg_engine) == "0001"


def test_a_database_ahead_of_the_release_is_reported_and_not_touched(pg_engine: sa.Engine) -> None:
    Migrations(pg_engine).upgrade()
    with pg_engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    before = fingerprint(pg_engine)

    assert Migrations(pg_engine).status()["known"] is False
    with pytest.raises(UnknownRevision, match="'f00dcafe', which this release does not know"):
        Migrations(pg_engine).upgrade()
    assert fingerprint(pg_engine) == before


# ---------------------------------------------------------------------- failures midway
def test_an_upgrade_that_fails_midway_leaves_the_previous_revision_and_its_data(engine: sa.Engine) -> None:
    upgrade_to(engine, "0001")
    seed(engine)
    before = fingerprint(engine)
    assert before.tables["environment"][0] == len(ENVIRONMENTS)

    with pytest.raises(MigrationFailed) as failure:
        Migrations(engine, version_locations=(VERSIONS, FAILING_VERSIONS)).upgrade()

    message = str(failure.value)
    assert "upgrade revision 0004 failed" in message
    assert "ck_permission_type" in message
    assert "still at 0001" in message
    after = fingerprint(engine)
    assert after.revision == "0001"
    assert after.schema == before.schema
    assert after.tables == before.tables


def test_a_failing_permissions_sync_rolls_the_revisions_back_too(
    pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_to(pg_engine, "0002")
    seed(pg_engine)
    before = fingerprint(pg_engine)

    def broken_sync(*_args: object, **_kwargs: object) -> dict[str, int]:
        raise RuntimeError("the hook broke")

    monkeypatch.setattr(release_permissions, "sync", broken_sync)
    with pytest.raises(
        MigrationFailed, match=r"the permissions sync failed: RuntimeError: the hook broke.*still at 0002"
    ):
        Migrations(pg_engine).upgrade()

    assert fingerprint(pg_engine) == before


# ---------------------------------------------------------------------- locks and timeouts
def test_a_lock_held_by_another_session_fails_the_upgrade_fast_and_names_the_blocker(
    postgres: PostgresCluster, pg_database: str, pg_engine: sa.Engine
) -> None:
    upgrade_to(pg_engine, "0001")
    seed(pg_engine)
    before = fingerprint(pg_engine)
    blocker = postgres.connect(pg_database)
    blocker_pid = blocker.run("SELECT pg_backend_pid()")[0][0]
    blocker.run("BEGIN")
    blocker.run("LOCK TABLE environment IN ACCESS EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        with postgres.terminated_after(blocker_pid, 10), pytest.raises(MigrationLockTimeout) as failure:
            Migrations(pg_engine).upgrade(Timeouts(lock_ms=1000))
        elapsed = time.monotonic() - started
    finally:
        blocker.run("ROLLBACK")
        blocker.close()

    assert elapsed < 5, f"the blocked upgrade took {elapsed:.1f} s"
    message = str(failure.value)
    assert "revision 0002" in message
    assert "lock on environment" in message
    assert f"session {blocker_pid}" in message
    assert "LOCK TABLE environment IN ACCESS EXCLUSIVE MODE" in message
    assert "AccessExclusiveLock" in message
    assert "still at 0001" in message
    assert fingerprint(pg_engine) == before


def test_a_long_statement_fails_at_the_statement_timeout(pg_engine: sa.Engine) -> None:
    upgrade_to(pg_engine, "0002")
    seed(pg_engine)
    before = fingerprint(pg_engine)
    started = time.monotonic()

    with pytest.raises(MigrationStatementTimeout, match=r"revision 0004 ran longer than .* 500 ms: SELECT pg_sleep"):
        Migrations(pg_engine, version_locations=(VERSIONS, SLOW_VERSIONS)).upgrade(Timeouts(statement_ms=500))

    assert time.monotonic() - started < 4
    assert fingerprint(pg_engine) == before


def test_the_statement_timeout_never_outlasts_the_function(pg_engine: sa.Engine) -> None:
    upgrade_to(pg_engine, "0003")
    deadline = time.monotonic() + 0.5

    with pytest.raises(MigrationStatementTimeout):
        Migrations(pg_engine, version_locations=(VERSIONS, SLOW_VERSIONS)).upgrade(
            Timeouts(statement_ms=300_000, deadline=deadline)
        )
    assert time.monotonic() - deadline < 3
    assert revision_of(pg_engine) == "0003"


def test_a_second_migration_at_the_same_time_is_refused(
    postgres: PostgresCluster, pg_database: str, pg_engine: sa.Engine
) -> None:
    other = postgres.connect(pg_database)
    other.run("SELECT pg_advisory_lock(:key)", key=ADVISORY_LOCK_KEY)
    try:
        with pytest.raises(MigrationInProgress, match="another session is migrating"):
            Migrations(pg_engine).upgrade()
        with pytest.raises(MigrationInProgress):
            Migrations(pg_engine).downgrade(None)
    finally:
        other.close()
    assert revision_of(pg_engine) is None
    assert Migrations(pg_engine).upgrade()["revision"] == HEAD


def test_two_upgrades_started_together_end_with_one_migration(pg_engine: sa.Engine) -> None:
    results: list[object] = []

    def upgrade() -> None:
        try:
            results.append(Migrations(pg_engine).upgrade(Timeouts(lock_ms=2000)))
        except (MigrationInProgress, MigrationLockTimeout) as refused:
            results.append(refused)

    threads = [threading.Thread(target=upgrade) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    migrated = [r for r in results if isinstance(r, dict) and r["applied"] == REVISIONS]
    assert len(results) == 2 and len(migrated) == 1
    assert revision_of(pg_engine) == HEAD
    assert table_checksums(pg_engine)["permission"][0] == len(release_permissions.PERMISSIONS)


# ---------------------------------------------------------------------- the permissions hook
def test_the_permissions_sync_makes_the_table_match_the_release_and_is_idempotent(engine: sa.Engine) -> None:
    migrations = Migrations(engine)
    migrations.upgrade()
    metadata = sa.MetaData()
    with engine.begin() as connection:
        metadata.reflect(connection)
        grants = metadata.tables["tenant_permission"]
        connection.execute(sa.text("DELETE FROM permission WHERE name = 'MANAGE_SHARES'"))
        connection.execute(sa.text("UPDATE permission SET description = 'stale' WHERE name = 'GET_DATASET'"))
        connection.execute(
            sa.text("INSERT INTO permission (name, type, description) VALUES ('OBSOLETE', 'TENANT', '')")
        )
        connection.execute(
            sa.insert(grants),
            [
                {"group_uri": "engineers", "permission_name": "OBSOLETE"},
                {"group_uri": "engineers", "permission_name": "MANAGE_DATASETS"},
            ],
        )
    assert migrations.status()["pending_permissions"] == 3

    first = migrations.upgrade()["permissions"]
    after_first = fingerprint(engine)
    second = migrations.upgrade()["permissions"]

    assert first == {"added": 1, "updated": 1, "removed": 1, "total": len(release_permissions.PERMISSIONS)}
    assert second == {"added": 0, "updated": 0, "removed": 0, "total": len(release_permissions.PERMISSIONS)}
    assert permission_rows(engine) == release_rows()
    with engine.connect() as connection:
        remaining = connection.execute(sa.text("SELECT group_uri, permission_name FROM tenant_permission")).all()
    assert [tuple(r) for r in remaining] == [("engineers", "MANAGE_DATASETS")]
    assert fingerprint(engine) == after_first
    assert migrations.status()["pending_permissions"] == 0


def test_the_schema_is_the_same_on_postgresql_and_sqlite(pg_engine: sa.Engine, sqlite_engine: sa.Engine) -> None:
    Migrations(pg_engine).upgrade()
    Migrations(sqlite_engine).upgrade()

    def shape(engine: sa.Engine) -> dict[str, object]:
        return {
            table: {
                "columns": [c[0] for c in spec["columns"]],
                "primary_key": spec["primary_key"],
                "fks": spec["foreign_keys"],
            }
            for table, spec in schema(engine).items()
        }

    assert shape(pg_engine) == shape(sqlite_engine)
