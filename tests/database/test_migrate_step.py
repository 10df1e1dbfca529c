"""The installer's migrate step driving the real migration function against a real PostgreSQL.

The function runs in this process (`synthetic_migrations.handler.handler`, as Lambda calls
it) with its environment and its secret in moto's Secrets Manager; the step's snapshots,
ledger and release are in moto too. What crosses between them is exactly what crosses
in AWS: Invoke payloads, and errors as Lambda reports them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from dataall_migrations.errors import BadRequest, DatabaseUnreachable
from moto import mock_aws
from synthetic_migrations import handler as function
from synthetic_migrations.database import Location, Timeouts, create_engine
from synthetic_migrations.runner import Migrations

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed
from lambdas.data.releases import release_key
from lambdas.migration.step import MigrationClients, MigrationStep, downgrade
from tests.database.data import fingerprint, revision_of, seed, upgrade_to
from tests.database.installer import (
    ARTIFACTS,
    FUNCTION,
    MIGRATE_PARAMETERS,
    REGION,
    VERSION,
    LocalLambda,
    clients,
    drive,
    make_deps,
    manifest_document,
    snapshots,
    start_run,
)
from tests.database.postgres import PostgresCluster

SECRET_NAME = "dataall-test-aurora-master"


def context(remaining_ms: int = 840_000) -> Any:
    return SimpleNamespace(
        function_name=FUNCTION,
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: remaining_ms,
    )


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    function._secrets.cache_clear()
    with mock_aws():
        yield
    function._secrets.cache_clear()


@pytest.fixture
def environment(
    cloud: None, postgres: PostgresCluster, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The function's environment as the aurora stage sets it; RDS's managed secret holds only
    the username and password, so host, port and database come from the environment."""
    credentials = postgres.secret(pg_database)
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SECRET_NAME,
        SecretString=json.dumps({"username": credentials["username"], "password": credentials["password"]}),
    )["ARN"]
    monkeypatch.setenv("DB_HOST", "127.0.0.1")
    monkeypatch.setenv("DB_PORT", str(postgres.port))
    monkeypatch.setenv("DB_NAME", pg_database)
    monkeypatch.setenv("DB_SECRET_ARN", arn)
    monkeypatch.setenv("DB_SSLMODE", "disable")
    return {"secret_arn": arn, **credentials}


def invoke(event: dict[str, Any]) -> Any:
    return function.handler(event, context())


@pytest.fixture
def deps(environment: dict[str, Any]) -> Deps:
    return make_deps()


@pytest.fixture
def real_function(deps: Deps) -> tuple[MigrationClients, LocalLambda]:
    return clients(invoke)


def test_the_function_reports_status_from_its_environment_and_secret(environment: dict[str, Any]) -> None:
    assert invoke({"command": "status"}) == {
        "revision": None,
        "head": "0003",
        "known": True,
        "pending_permissions": None,
    }


def test_an_install_migrates_an_empty_database_then_a_redeploy_changes_nothing(
    deps: Deps, real_function: tuple[MigrationClients, LocalLambda], pg_engine: sa.Engine
) -> None:
    migration_clients, lambda_ = real_function

    first = drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, "install-2-8-0-a"))
    after_install = fingerprint(pg_engine)
    again = drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, "redeploy-2-8-0-b"))

    assert [s.phase for s in first] == ["start", "upgrade", "done"]  # an empty database: no snapshot
    assert first[-1].result == "MIGRATED"
    assert [s.phase for s in again] == ["start", "done"] and again[-1].result == "UNCHANGED"
    assert revision_of(pg_engine) == "0003"
    assert snapshots() == []
    assert lambda_.commands() == ["status", "upgrade", "status"]
    assert fingerprint(pg_engine) == after_install
    assert deps.ledger.step("install-2-8-0-a", "migrate").previous_revision is None
    assert deps.ledger.step("redeploy-2-8-0-b", "migrate").previous_revision == "0003"


def test_the_step_names_the_database_from_the_aurora_stage_outputs(
    environment: dict[str, Any], pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = {
        "DatabaseSecretArn": environment["secret_arn"],
        "ClusterEndpoint": "127.0.0.1",
        "ClusterPort": str(environment["port"]),
        "DatabaseName": environment["dbname"],
    }
    parameters = {**MIGRATE_PARAMETERS, **{name: f"${{stage:aurora.{name}}}" for name in outputs}}
    deps = make_deps(manifest_document(parameters=parameters, outputs=tuple(outputs)))
    for name in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_SECRET_ARN"):
        monkeypatch.setenv(name, "wrong")
    migration_clients, _ = clients(invoke)

    states = drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, "install-2-8-0-e", **outputs))

    assert states[-1].result == "MIGRATED"
    assert revision_of(pg_engine) == "0003"
    undone = downgrade(deps, deps.ledger.step("install-2-8-0-e", "migrate"), migration_clients)
    assert undone["outcome"] == "DOWNGRADED" and revision_of(pg_engine) is None


def test_a_blocked_upgrade_fails_the_step_fast_and_rollback_finds_the_database_untouched(
    deps: Deps,
    real_function: tuple[MigrationClients, LocalLambda],
    postgres: PostgresCluster,
    pg_database: str,
    pg_engine: sa.Engine,
) -> None:
    migration_clients, _ = real_function
    upgrade_to(pg_engine, "0001")
    seed(pg_engine)
    before = fingerprint(pg_engine)
    release_manifest = manifest_document(parameters={**MIGRATE_PARAMETERS, "LockTimeoutMs": "1000"})
    deps.store.s3.put_object(
        Bucket=ARTIFACTS, Key=release_key(VERSION, "manifest.json"), Body=json.dumps(release_manifest).encode()
    )
    state = start_run(deps, "upgrade-2-8-0-c")
    blocker = postgres.connect(pg_database)
    blocker_pid = blocker.run("SELECT pg_backend_pid()")[0][0]
    blocker.run("BEGIN")
    blocker.run("SELECT count(*) FROM organization")
    blocker.run("LOCK TABLE environment IN ACCESS EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        with postgres.terminated_after(blocker_pid, 10), pytest.raises(StageFailed) as failure:
            drive(lambda s: MigrationStep(deps, s, migration_clients), state)
        elapsed = time.monotonic() - started
    finally:
        blocker.run("ROLLBACK")
        blocker.close()

    report = failure.value.report
    assert elapsed < 4, f"the blocked migration took {elapsed:.1f} s"
    assert report["error"] == "MigrationLockTimeout"
    assert "LOCK TABLE environment IN ACCESS EXCLUSIVE MODE" in report["reason"]
    assert report["snapshot"] == "dataall-test-upgrade-2-8-0-c"
    assert fingerprint(pg_engine) == before

    undone = downgrade(deps, deps.ledger.step("upgrade-2-8-0-c", "migrate"), migration_clients)
    assert undone["outcome"] == "UNCHANGED" and undone["revision"] == "0001"
    assert fingerprint(pg_engine) == before


def test_rollback_takes_a_migrated_database_back_with_its_data(
    deps: Deps, real_function: tuple[MigrationClients, LocalLambda], pg_engine: sa.Engine
) -> None:
    migration_clients, _ = real_function
    upgrade_to(pg_engine, "0001")
    seed(pg_engine)
    before = fingerprint(pg_engine)
    drive(lambda s: MigrationStep(deps, s, migration_clients), start_run(deps, "upgrade-2-8-0-d"))
    assert revision_of(pg_engine) == "0003"

    undone = downgrade(deps, deps.ledger.step("upgrade-2-8-0-d", "migrate"), migration_clients)

    assert undone["outcome"] == "DOWNGRADED"
    assert (undone["from_revision"], undone["revision"]) == ("0003", "0001")
    assert fingerprint(pg_engine) == before


# ---------------------------------------------------------------------- the function's edges
def test_a_downgrade_without_a_revision_is_refused_rather_than_dropping_everything(
    environment: dict[str, Any], pg_engine: sa.Engine
) -> None:
    invoke({"command": "upgrade"})

    with pytest.raises(BadRequest, match="downgrade needs `revision`"):
        invoke({"command": "downgrade"})
    assert revision_of(pg_engine) == "0003"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"command": "migrate"}, "command must be one of"),
        ({"command": "upgrade", "lock_timeout_ms": 0}, "lock_timeout_ms must be an integer from 100"),
        ({"command": "upgrade", "statement_timeout_ms": "soon"}, "statement_timeout_ms must be an integer"),
        ({"command": "downgrade", "revision": 3}, "revision must be a string or null"),
        ({"command": "status", "database": {"password": "x"}}, "unknown fields \\['password'\\]"),
    ],
)
def test_bad_commands_are_refused_before_the_database_is_reached(
    environment: dict[str, Any], event: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        invoke(event)


def test_the_event_may_name_another_database(
    environment: dict[str, Any], postgres: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = postgres.create_database()
    try:
        monkeypatch.setenv("DB_NAME", "no_such_database")
        result = invoke({"command": "upgrade", "database": {"dbname": other}})
        assert result["revision"] == "0003"
    finally:
        postgres.drop_database(other)


def test_values_in_the_secret_win_over_the_environment(
    environment: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=environment["secret_arn"], SecretString=json.dumps(environment)
    )
    monkeypatch.setenv("DB_HOST", "unreachable.invalid")
    monkeypatch.setenv("DB_NAME", "no_such_database")

    assert invoke({"command": "status"})["head"] == "0003"


def test_tls_required_means_no_plain_connection(environment: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_SSLMODE", "require")  # the test server offers no TLS

    with pytest.raises(
        DatabaseUnreachable, match=re.escape("cannot connect to postgresql+pg8000://dataall_admin:***@127.0.0.1")
    ):
        invoke({"command": "status"})


def test_wrong_credentials_are_reported_without_the_password(environment: dict[str, Any]) -> None:
    wrong = {**environment, "password": "not-the-password"}
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=environment["secret_arn"], SecretString=json.dumps(wrong)
    )
    with pytest.raises(DatabaseUnreachable) as failure:
        invoke({"command": "status"})
    assert "password authentication failed" in str(failure.value)
    assert "not-the-password" not in str(failure.value)


def test_a_sqlite_secret_points_at_an_embedded_database(
    cloud: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "metadata.db"
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="embedded",
        SecretString=json.dumps({"engine": "sqlite", "dbname": str(path), "username": "", "password": ""}),
    )["ARN"]
    monkeypatch.setenv("DB_SECRET_ARN", arn)
    monkeypatch.setenv("DB_HOST", "cluster.invalid")

    assert invoke({"command": "upgrade"})["revision"] == "0003"
    assert invoke({"command": "downgrade", "revision": None})["revision"] is None
    engine = create_engine(Location(dialect="sqlite", dbname=str(path)), Timeouts())
    try:
        assert Migrations(engine).status()["revision"] is None
    finally:
        engine.dispose()


def test_an_unknown_engine_in_the_secret_is_named(environment: dict[str, Any]) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=environment["secret_arn"], SecretString=json.dumps({**environment, "engine": "mysql"})
    )
    with pytest.raises(DatabaseUnreachable, match="engine 'mysql' is not one of"):
        invoke({"command": "status"})


def test_no_tls_means_pg8000_never_attempts_it() -> None:
    location = Location.resolve({"sslmode": "disable"}, {"host": "h", "dbname": "d", "username": "u"})
    assert location.ssl_context() is False
    assert Location.resolve({}, {"host": "h", "dbname": "d", "username": "u"}).sslmode == "verify-full"
