"""status, upgrade and downgrade of data.all's metadata database with data.all's own chain.

The package holds data.all's `backend/dataall`, its `migrations/versions` and `config.json`, with
data.all's pinned requirements. The runner connects the way data.all does (`get_engine(envname)`:
its SSM parameters `/dataall/<envname>/aurora/{hostname,db,dbcreds}` and the Secrets Manager
secret they name, schema `<envname>`), and runs each command in ONE transaction of that
connection, with a lock timeout, a statement timeout and an advisory lock: every revision, the
version bump and data.all's post-migration step (saving permissions, its SavePerms trigger) commit
together or not at all. PostgreSQL's DDL is transactional, so a revision that fails leaves the
database at the revision it had, with its data.

It runs on data.all's SQLAlchemy (1.3 at 2.8.0, 2.0 at 2.9.0) and alembic (1.13, 1.16): only
the calls both have are used here.
"""

from __future__ import annotations

import ast
import importlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dataall_migrations.errors import (
    DatabaseUnreachable,
    MigrationError,
    MigrationFailed,
    MigrationInProgress,
    MigrationLockTimeout,
    MigrationStatementTimeout,
    UnknownRevision,
)
from dataall_migrations.protocol import Timeouts

LOG = logging.getLogger(__name__)
#: The package's root: data.all's `dataall/`, `migrations/`, `config.json`, this package and the
#: migration protocol's `dataall_migrations` modules (`installer.dataall_migrations.SHARED`).
ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "scripts"
DATAALL_MIGRATIONS = ROOT / "migrations"
DATAALL_VERSIONS = DATAALL_MIGRATIONS / "versions"
#: The pg_advisory_xact_lock key one migration at a time holds (the same as the synthetic test fixture's runner).
ADVISORY_LOCK_KEY = int.from_bytes(b"dataall-", "big") & 0x7FFF_FFFF_FFFF_FFFF
LOCK_TIMEOUT = "55P03"
QUERY_CANCELED = "57014"
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
BASE = "base (empty)"
#: Tables whose rows data.all's post-migration step adds (`save_permissions_with_tenant`).
PERMISSION_TABLES = ("permission", "tenant", "tenant_policy", "tenant_policy_permission")


def prepare() -> None:
    """What data.all's image sets up before its handlers run, done for this package."""
    # data.all reads config.json beside its source (the image sets config_location).
    os.environ.setdefault("config_location", str(ROOT / "config.json"))
    _pygresql_urls_through_psycopg2()


def _pygresql_urls_through_psycopg2() -> None:
    """data.all 2.8.0's `DbConfig.url` names PyGreSQL, which publishes no wheel for Lambda's Linux
    (its image compiles it against libpq). psycopg2-binary carries its own libpq and speaks the
    same protocol; data.all 2.9.0 switched to it. The URL stays data.all's: only the dialect
    SQLAlchemy resolves for `postgresql+pygresql` is psycopg2's, when PyGreSQL is absent."""
    try:
        import pgdb  # noqa: F401
    except ImportError:
        from sqlalchemy.dialects import registry

        registry.register("postgresql.pygresql", "sqlalchemy.dialects.postgresql.psycopg2", "PGDialect_psycopg2")


def load_dataall() -> None:
    """data.all as its two trigger functions load it, in one process.

    First its API modules (`load_modules`, what SavePerms does): data.all's loader refuses to
    load once a module it would load was imported by other means. Then the models data.all's own
    `migrations/env.py` imports ("important for alembic": revisions using the ORM need those
    classes registered), read from its env.py at run time, so the list is the release's own."""
    from dataall.base.loader import ImportMode, load_modules

    load_modules(modes={ImportMode.API})
    env = DATAALL_MIGRATIONS / "env.py"
    tree = ast.parse(env.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dataall."):
            importlib.import_module(node.module)


def sqlstate(error: Exception) -> str:
    original = getattr(error, "orig", error)
    return str(getattr(original, "pgcode", None) or getattr(original, "sqlstate", None) or "")


def server_message(error: Exception) -> str:
    original = getattr(error, "orig", error)
    return " ".join(str(original).split())[:1000]


class _SessionOn:
    """data.all's `Engine` as `save_permissions_with_tenant` uses it, on the runner's connection.

    Its `scoped_session` commits; a Session bound to a connection inside a transaction joins it
    (SQLAlchemy 1.3 and 2.0), so the permissions commit with the revisions."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @contextmanager
    def scoped_session(self) -> Iterator[Any]:
        from sqlalchemy import orm

        session = orm.Session(bind=self.connection, autoflush=True, expire_on_commit=False)
        try:
            yield session
            session.commit()
        finally:
            session.close()


class Chain:
    """data.all's alembic chain against the database data.all's settings name."""

    def __init__(self, envname: str, version_locations: Sequence[Path] = (DATAALL_VERSIONS,)) -> None:
        self.envname = envname
        self.version_locations = tuple(version_locations)
        self._engine: Any = None
        self._script: Any = None

    # ------------------------------------------------------------------ alembic
    def config(self, connection: Any = None, applied: list[str] | None = None) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(SCRIPTS))
        config.set_main_option("version_path_separator", "os")  # alembic 1.13
        config.set_main_option("path_separator", "os")  # alembic 1.16
        config.set_main_option("version_locations", os.pathsep.join(str(p) for p in self.version_locations))
        config.attributes["connection"] = connection
        if applied is not None:
            config.attributes["on_version_apply"] = [lambda *, step, **_: applied.append(step.up_revision_id)]
        return config

    def script(self) -> Any:
        """The chain's revisions, read once (every one of data.all's revision files imported)."""
        if self._script is None:
            from alembic.script import ScriptDirectory

            self._script = ScriptDirectory.from_config(self.config())
        return self._script

    def head(self) -> str:
        head = self.script().get_current_head()
        if head is None:
            raise MigrationFailed("the release has no revisions")
        return str(head)

    def known(self, revision: str | None) -> bool:
        if revision is None:
            return True
        try:
            return self.script().get_revision(revision) is not None
        except Exception:  # noqa: BLE001 - alembic's CommandError / RevisionError, by version: not in this chain
            return False

    # ------------------------------------------------------------------ the database
    def engine(self) -> Any:
        """data.all's own engine (SQLAlchemy's), from data.all's own settings."""
        if self._engine is None:
            from dataall.base.db.connection import get_engine

            try:
                self._engine = get_engine(envname=self.envname).engine
            except Exception as error:  # SSM, Secrets Manager, a host data.all refuses ...
                raise DatabaseUnreachable(
                    f"data.all's get_engine({self.envname!r}) failed: {type(error).__name__}: {error}"
                ) from error
        return self._engine

    @contextmanager
    def transaction(self, timeouts: Timeouts, *, exclusive: bool) -> Iterator[Any]:
        import sqlalchemy as sa

        engine = self.engine()
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as error:
            raise DatabaseUnreachable(f"cannot connect to data.all's database: {server_message(error)}") from error
        try:
            with connection.begin():
                connection.execute(
                    sa.text(
                        "SELECT set_config('lock_timeout', :lock, true), "
                        "set_config('statement_timeout', :statement, true), "
                        "set_config('idle_in_transaction_session_timeout', :idle, true)"
                    ),
                    {
                        "lock": f"{timeouts.lock_ms}ms",
                        "statement": f"{timeouts.statement_budget_ms()}ms",
                        "idle": f"{IDLE_IN_TRANSACTION_TIMEOUT_MS}ms",
                    },
                )
                if exclusive:
                    locked = connection.execute(
                        sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    ).scalar()
                    if not locked:
                        raise MigrationInProgress(
                            "another session is migrating this database right now (it holds advisory lock "
                            f"{ADVISORY_LOCK_KEY}); nothing was done, try again when it has finished"
                        )
                yield connection
        finally:
            connection.close()

    def current(self, connection: Any) -> str | None:
        from alembic.runtime.migration import MigrationContext

        revision = MigrationContext.configure(connection).get_current_revision()
        return None if revision is None else str(revision)

    # ------------------------------------------------------------------ commands
    def status(self, timeouts: Timeouts) -> dict[str, Any]:
        """The database's revision, the release's head, and how many rows data.all's permissions
        step would add at head (tried in the transaction, then rolled back)."""
        import sqlalchemy as sa

        head = self.head()
        try:
            with self.transaction(timeouts, exclusive=False) as connection:
                revision = self.current(connection)
                pending = None
                if revision == head:
                    pending = sum(save_permissions(connection).values())
                    # Only looked: what the step added goes with the transaction.
                    raise _Rollback(revision, pending)
        except _Rollback as rolled_back:
            revision, pending = rolled_back.revision, rolled_back.pending
        except sa.exc.DBAPIError as error:
            raise MigrationFailed(f"cannot read the database's revision: {server_message(error)}") from error
        return {"revision": revision, "head": head, "known": self.known(revision), "pending_permissions": pending}

    def upgrade(self, timeouts: Timeouts) -> dict[str, Any]:
        """`alembic upgrade head` of data.all's chain, then data.all's permissions step: one transaction."""
        return self._migrate("upgrade", self.head(), timeouts)

    def downgrade(self, target: str | None, timeouts: Timeouts) -> dict[str, Any]:
        """`alembic downgrade <target>` with this release's scripts (None: base), in one transaction."""
        if target is not None and not self.known(target):
            raise UnknownRevision(f"this release has no revision {target!r} to downgrade to")
        return self._migrate("downgrade", target, timeouts)

    def _migrate(self, direction: str, target: str | None, timeouts: Timeouts) -> dict[str, Any]:
        import sqlalchemy as sa
        from alembic import command

        applied: list[str] = []
        previous: str | None = None
        plan: list[str] = []
        try:
            with self.transaction(timeouts, exclusive=True) as connection:
                previous = self.current(connection)
                if not self.known(previous):
                    raise UnknownRevision(
                        f"the database is at revision {previous!r}, which this release does not know: "
                        "a newer release migrated it; install that release, or restore a snapshot taken before"
                    )
                plan = self._plan(previous, target, direction)
                config = self.config(connection, applied)
                if direction == "upgrade":
                    command.upgrade(config, "head")
                elif previous != target:
                    command.downgrade(config, target or "base")
                revision = self.current(connection)
                permissions = save_permissions(connection) if direction == "upgrade" else None
        except MigrationError:
            raise
        except sa.exc.DBAPIError as error:
            raise self._explain(error, _failing(plan, applied, direction), previous, timeouts) from error
        except Exception as error:
            raise MigrationFailed(
                f"{_failing(plan, applied, direction)} failed: {type(error).__name__}: {error}; {_untouched(previous)}"
            ) from error
        result: dict[str, Any] = {"previous": previous, "revision": revision, "applied": applied}
        if permissions is not None:
            result["permissions"] = permissions
        return result

    def _plan(self, previous: str | None, target: str | None, direction: str) -> list[str]:
        script = self.script()
        if direction == "upgrade":
            return [s.revision for s in reversed(list(script.iterate_revisions(target or "base", previous or "base")))]
        if previous == target:
            return []
        return [s.revision for s in script.iterate_revisions(previous or "base", target or "base")]

    def _explain(self, error: Exception, failing: str, previous: str | None, timeouts: Timeouts) -> MigrationError:
        code = sqlstate(error)
        untouched = _untouched(previous)
        if code == LOCK_TIMEOUT:
            return MigrationLockTimeout(
                f"{failing} waited more than {timeouts.lock_ms} ms for a lock, held by "
                f"{self._lock_holders() or 'a session that ended before it could be identified'}; {untouched}"
            )
        if code == QUERY_CANCELED:
            statement = " ".join(str(getattr(error, "statement", "") or "").split())[:300]
            return MigrationStatementTimeout(
                f"{failing} ran longer than the statement timeout of {timeouts.statement_budget_ms()} ms: "
                f"{statement}; {untouched}"
            )
        return MigrationFailed(f"{failing} failed: {server_message(error)}; {untouched}")

    def _lock_holders(self) -> str:
        """Sessions holding locks on data.all's tables, asked after the migration gave up (they
        still hold them: nothing has released the lock the migration waited for)."""
        import sqlalchemy as sa

        query = sa.text(
            """
            SELECT a.pid, a.usename, a.application_name, a.state, a.query,
                   EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::int AS seconds,
                   string_agg(DISTINCT c.relname || ' (' || l.mode || ')', ', ') AS holds
              FROM pg_locks l
              JOIN pg_class c ON c.oid = l.relation
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.granted AND n.nspname = :schema AND a.pid <> pg_backend_pid()
             GROUP BY a.pid, a.usename, a.application_name, a.state, a.query, a.xact_start
             ORDER BY a.pid
            """
        )
        try:
            with self.engine().connect() as connection:
                rows = connection.execute(query, {"schema": self.envname}).fetchall()
        except Exception:  # the description only explains a failure: it must never cause one
            LOG.warning("could not list the sessions holding locks", exc_info=True)
            return ""
        return "; ".join(
            f"session {row[0]} ({row[1]}, {row[3]}, transaction open {row[5]} s, holds {row[6]}) "
            f"whose last query is: {' '.join(str(row[4] or '?').split())[:300]}"
            for row in rows
        )


class _Rollback(Exception):
    """Leaves the status transaction without committing what the permissions step tried."""

    def __init__(self, revision: str | None, pending: int) -> None:
        super().__init__("rolled back on purpose")
        self.revision = revision
        self.pending = pending


def save_permissions(connection: Any) -> dict[str, int]:
    """data.all's SavePerms trigger (`deployment_triggers/saveperms_handler.py`) on this connection:
    `TenantPolicyService.save_permissions_with_tenant`, its API modules loaded (`load_dataall`)."""
    from dataall.core.permissions.services.tenant_policy_service import (
        TenantPolicyService,
    )

    before = _counts(connection, PERMISSION_TABLES)
    TenantPolicyService.save_permissions_with_tenant(_SessionOn(connection))
    after = _counts(connection, PERMISSION_TABLES)
    return {table: after[table] - before[table] for table in PERMISSION_TABLES}


def _counts(connection: Any, tables: Sequence[str]) -> dict[str, int]:
    import sqlalchemy as sa

    counts = {}
    for table in tables:  # PERMISSION_TABLES, names of data.all's tables
        counts[table] = int(connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar())  # noqa: S608
    return counts


def _failing(plan: list[str], applied: list[str], direction: str) -> str:
    remaining = [revision for revision in plan if revision not in applied]
    if remaining:
        return f"{direction} revision {remaining[0]}"
    return "data.all's permissions step" if direction == "upgrade" else direction


def _untouched(previous: str | None) -> str:
    where = previous if previous is not None else BASE
    return f"the transaction was rolled back: the database is still at {where}, data unchanged"
