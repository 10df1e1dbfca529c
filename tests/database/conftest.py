"""Database tier: the migrations and their runner against a real PostgreSQL, and SQLite.

One throwaway PostgreSQL server per test process (initdb + pg_ctl in a temporary folder,
on a free port), one fresh database per test. PostgreSQL missing is a failure, never a
skip: CI installs the `postgresql` package.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
#: The synthetic release's migration function (`synthetic_migrations`, a test fixture) and the
#: migration protocol it speaks (`dataall_migrations`, the product's), as its package lays them out.
MIGRATIONS_PACKAGE = ROOT / "tests" / "fixtures" / "synthetic" / "functions" / "migrations"
PROTOCOL_PACKAGE = ROOT / "blueprints" / "dataall" / "migration_function"
sys.path[:0] = [str(MIGRATIONS_PACKAGE), str(PROTOCOL_PACKAGE)]

from synthetic_migrations.database import Location, Timeouts, create_engine  # noqa: E402

from tests.database.postgres import PostgresCluster, PostgresMissing, running_cluster  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One worker runs the whole tier, so xdist starts one server, not one per worker. First: the
    # group must be marked before pytest-xdist adds it to the node ids, which its own hook does
    # after this one only when this conftest was loaded during collection (`pytest tests`), not
    # when it is an initial conftest (`pytest tests/database`).
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.xdist_group("database"))
            if "postgres" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        with running_cluster() as cluster:
            yield cluster
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture
def pg_database(postgres: PostgresCluster) -> Iterator[str]:
    name = postgres.create_database()
    yield name
    postgres.drop_database(name)


@pytest.fixture
def pg_location(postgres: PostgresCluster, pg_database: str) -> Location:
    return Location.resolve({"sslmode": "disable"}, postgres.secret(pg_database))


@pytest.fixture
def pg_engine(pg_location: Location) -> Iterator[sa.Engine]:
    engine = create_engine(pg_location, Timeouts())
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(Location(dialect="sqlite", dbname=str(tmp_path / "metadata.db")), Timeouts())
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """The same test on PostgreSQL and on SQLite (the sandbox's embedded database)."""
    fixture: sa.Engine = request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")
    return fixture
