"""data.all's own chain through the installer's migrate step, on a real PostgreSQL.

The function is the package a data.all release ships (data.all's source and requirements at
each version, the installer's runner); the step is the installer's (`MigrationStep`, and
`downgrade` on rollback). The older release (2.8.0) is installed and seeded through data.all's
own tables; the newer (2.9.0) upgrades it; on rollback the database is downgraded with the
NEWER release's scripts. Each test prints its timings (`-s` shows them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from installer import dataall_migrations
from lambdas.migration.step import MigrationStep, downgrade
from tests.database import installer
from tests.database.dataall_chain import (
    ADDED,
    HEADS,
    NEWER,
    OLDER,
    FunctionFailed,
    Installation,
    Package,
    failing_revision,
    revision_failing_its_downgrade,
    seed,
    upstream_source,
)
from tests.database.postgres import PostgresCluster, free_port

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def packages() -> dict[str, Package]:
    """Each release's migration package as the build makes it (code and dependencies, cached)."""
    built = {}
    for version in (OLDER, NEWER):
        source = upstream_source(version)
        code = dataall_migrations.compiled_code(source)
        built[version] = Package(version, code, dataall_migrations.dependencies(source))
    return built


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """SSM and Secrets Manager for the function (a moto server: the function is another process)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def dataall(postgres: PostgresCluster, pg_database: str, aws_endpoint: str) -> Installation:
    installation = Installation(postgres=postgres, database=pg_database, endpoint=aws_endpoint)
    installation.publish_settings()
    return installation


@pytest.fixture(scope="session")
def installed_once(
    postgres: PostgresCluster, aws_endpoint: str, packages: dict[str, Package]
) -> Iterator[Installation]:
    """data.all 2.8.0 installed (its whole chain from an empty database) and seeded, once: each
    test's `installed` is a copy of this database."""
    database = postgres.create_database()
    installation = Installation(postgres=postgres, database=database, endpoint=aws_endpoint)
    installation.publish_settings()
    result = installation.call(packages[OLDER], {"command": "upgrade"})
    assert result["previous"] is None and result["revision"] == HEADS[OLDER]
    seed(installation)
    yield installation
    postgres.drop_database(database)


@pytest.fixture
def installed(installed_once: Installation) -> Iterator[Installation]:
    """data.all 2.8.0 installed (its whole chain from an empty database) and seeded: a copy of
    `installed_once`'s database (`CREATE DATABASE ... TEMPLATE`), with its envname (data.all's
    schema, and the schema its trigger functions name), the settings pointing at the copy."""
    postgres = installed_once.postgres
    database = postgres.create_database(template=installed_once.database)
    installation = Installation(
        postgres=postgres,
        database=database,
        endpoint=installed_once.endpoint,
        envname=installed_once.envname,
        timings=dict(installed_once.timings),
    )
    installation.publish_settings()
    yield installation
    postgres.drop_database(database)


def report(name: str, installation: Installation, **more: Any) -> None:
    print(f"\n{name}: " + ", ".join(f"{k} {v} s" for k, v in {**installation.timings, **more}.items()))


def test_fresh_database_reaches_the_release_head_with_its_permissions(
    dataall: Installation, packages: dict[str, Package]
) -> None:
    """A first install runs data.all 2.9.0's whole chain (80 revisions) and its permissions step."""
    before = dataall.call(packages[NEWER], {"command": "status"})
    result = dataall.call(packages[NEWER], {"command": "upgrade"})
    after = dataall.call(packages[NEWER], {"command": "status"})

    assert before == {"revision": None, "head": HEADS[NEWER], "known": True, "pending_permissions": None}
    assert result["previous"] is None and result["revision"] == HEADS[NEWER] and len(result["applied"]) == 80
    assert set(result["permissions"]) == {"permission", "tenant", "tenant_policy", "tenant_policy_permission"}
    assert dataall.checksums()["permission"][0] > 100  # the chain's own backfills, then the step's sync
    assert after == {"revision": HEADS[NEWER], "head": HEADS[NEWER], "known": True, "pending_permissions": 0}
    report("fresh install of 2.9.0", dataall)


def step_for(
    dataall: Installation, package: Package, extra_versions: tuple[Path, ...] = ()
) -> tuple[Any, Any, installer.LocalLambda]:
    """The installer's migrate step of an upgrade run whose migration function is `package`."""
    deps = installer.make_deps(installer.manifest_document())
    # mock_aws resets moto's backends, which the function's moto server shares: data.all's
    # settings are published again.
    dataall.publish_settings()
    clients, function = installer.clients(lambda event: dataall.call(package, event, extra_versions))
    return deps, clients, function


def test_upgrade_then_a_fault_after_migrate_downgrades_to_the_older_head_with_every_row(
    installed: Installation, packages: dict[str, Package]
) -> None:
    """Upgrade 2.8.0 -> 2.9.0 through the step (snapshot, recorded revision), then a fault
    after migrate: the rollback downgrades with 2.9.0's scripts; the database is at 2.8.0's head
    with every table's rows and checksum as before (but data.all's own `updated` stamps)."""
    checksums = installed.checksums()
    roles = installed.rows("consumptionrole")
    with mock_aws():
        deps, clients, function = step_for(installed, packages[NEWER])
        state = installer.start_run(deps, "run-upgrade")
        started = time.monotonic()
        installer.drive(lambda s: MigrationStep(deps, s, clients), state)
        upgraded = time.monotonic() - started
        record = deps.ledger.step("run-upgrade", "migrate")
        assert installed.revision() == HEADS[NEWER]
        # Given a stage after migrate failed: the rollback undoes the migration first
        started = time.monotonic()
        undone = downgrade(deps, record, clients)
        rolled_back = time.monotonic() - started
        snapshots = installer.snapshots()

    assert record.result == "MIGRATED" and record.previous_revision == HEADS[OLDER]
    assert record.applied == ADDED and record.snapshot_id and len(snapshots) == 1
    assert function.commands() == ["status", "upgrade", "downgrade"]
    assert undone["outcome"] == "DOWNGRADED" and undone["revision"] == HEADS[OLDER]
    assert installed.revision() == HEADS[OLDER]
    # Every table as before, but one column: data.all's downgrade of 77c3f1b2bec8 rewrites each
    # consumption role through its ORM, whose `onupdate` stamps `updated`; every other value is back.
    after = installed.checksums()
    assert {t: c for t, c in after.items() if t != "consumptionrole"} == {
        t: c for t, c in checksums.items() if t != "consumptionrole"
    }
    assert installed.rows("consumptionrole", without=("updated",)) == [
        {k: v for k, v in row.items() if k != "updated"} for row in roles
    ]
    report("upgrade and rollback", installed, upgrade_step=round(upgraded, 2), rollback=round(rolled_back, 2))


def test_a_revision_that_raises_midway_leaves_the_older_head_and_every_row(
    installed: Installation, packages: dict[str, Package], tmp_path: Path
) -> None:
    """A revision that fails after data.all's four new ones ran in the same upgrade: the
    transaction rolls back, the database is at 2.8.0's head with its rows, and the failure
    names the revision."""
    checksums = installed.checksums()
    extra = failing_revision(tmp_path / "versions", HEADS[NEWER])

    with pytest.raises(FunctionFailed) as failure:
        installed.call(packages[NEWER], {"command": "upgrade"}, extra_versions=[extra])

    assert failure.value.error_type == "MigrationFailed"
    assert "fails midway, on purpose" in failure.value.message
    assert f"still at {HEADS[OLDER]}" in failure.value.message
    assert installed.revision() == HEADS[OLDER]
    assert installed.checksums() == checksums
    report("revision raising midway", installed)


def test_a_held_lock_fails_the_migration_within_its_lock_timeout(
    installed: Installation, packages: dict[str, Package]
) -> None:
    """A session holding a lock on a table a revision alters (an open transaction that read
    `consumptionrole`) fails the upgrade within the lock timeout, naming that session; the
    database stays at 2.8.0's head."""
    checksums = installed.checksums()
    holder = installed.postgres.connect(installed.database)
    holder.run("BEGIN")
    holder.run(f"SELECT count(*) FROM {installed.envname}.consumptionrole")
    release = threading.Event()
    try:
        started = time.monotonic()
        with pytest.raises(FunctionFailed) as failure:
            installed.call(packages[NEWER], {"command": "upgrade", "lock_timeout_ms": 1000})
        elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.run("ROLLBACK")
        holder.close()

    assert failure.value.error_type == "MigrationLockTimeout"
    assert "waited more than 1000 ms" in failure.value.message
    assert "consumptionrole (AccessShareLock)" in failure.value.message
    # the function's start (data.all's imports, ~4 s on an idle machine, 32 s seen under load 10) and 1 s of
    # waiting: without the lock timeout the upgrade would wait for the holder for ever
    assert elapsed < 90
    assert installed.revision() == HEADS[OLDER]
    assert installed.checksums() == checksums
    report("held lock", installed, failed_after=round(elapsed, 2))


def test_a_downgrade_that_fails_leaves_the_database_untouched_and_names_the_snapshot(
    installed: Installation, packages: dict[str, Package], tmp_path: Path
) -> None:
    """The new release's chain ends with a revision whose downgrade raises: the rollback's
    downgrade fails in one transaction (the database stays at the new head, every row as the
    upgrade left it) and its report names the snapshot taken before the migration, the revision
    to go back to and the revision that failed."""
    extra, last = revision_failing_its_downgrade(tmp_path / "versions", HEADS[NEWER])
    with mock_aws():
        deps, clients, _ = step_for(installed, packages[NEWER], (extra,))
        state = installer.start_run(deps, "run-one-way")
        installer.drive(lambda s: MigrationStep(deps, s, clients), state)
        record = deps.ledger.step("run-one-way", "migrate")
        upgraded = installed.checksums()
        undone = downgrade(deps, record, clients)

    assert record.applied == [*ADDED, last]
    assert undone["outcome"] == "FAILED" and undone["snapshot"] == record.snapshot_id
    assert undone["revision"] == HEADS[OLDER] and HEADS[OLDER] in undone["action"]
    assert f"downgrade revision {last} failed" in undone["reason"] and "cannot be downgraded" in undone["reason"]
    assert installed.revision() == last and installed.checksums() == upgraded
    report("downgrade failing", installed)


def test_one_of_data_alls_own_revisions_failing_midway_leaves_the_older_head_and_every_row(
    installed: Installation, packages: dict[str, Package]
) -> None:
    """data.all's third new revision (89c3bfe59cad renames `consumptionrole` to
    `consumptionprincipals`) fails on a table of that name made by hand, after the two before it
    ran in the same upgrade: the database is at 2.8.0's head with every row, and the failure names
    the revision and the server's reason."""
    installed.execute(
        "CREATE TABLE consumptionprincipals (note text)", "INSERT INTO consumptionprincipals VALUES ('x')"
    )
    checksums = installed.checksums()

    with pytest.raises(FunctionFailed) as failure:
        installed.call(packages[NEWER], {"command": "upgrade"})

    assert failure.value.error_type == "MigrationFailed"
    assert failure.value.message.startswith(f"upgrade revision {ADDED[2]} failed")
    assert "already exists" in failure.value.message and f"still at {HEADS[OLDER]}" in failure.value.message
    assert installed.revision() == HEADS[OLDER]
    assert installed.checksums() == checksums
    report("data.all revision failing midway", installed)
