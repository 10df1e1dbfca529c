"""status, upgrade and downgrade of the metadata database, each in one transaction.

PostgreSQL's DDL is transactional: every revision of a command, the version bump and the
permissions sync commit together or not at all, so a failure midway leaves the database
at the revision it had, with its data. A statement that waits for a lock longer than the
lock timeout fails the command in seconds (never 45 minutes), and the error names the
session that held the lock, sampled from `pg_blocking_pids` while the migration waited.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from dataall_migrations import permissions as release_permissions
from dataall_migrations.database import IDLE_IN_TRANSACTION_TIMEOUT_MS
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
SCRIPTS = Path(__file__).resolve().parent / "scripts"
VERSIONS = SCRIPTS / "versions"
#: The pg_advisory_xact_lock key that one migration at a time holds ("dataall-" as a bigint).
ADVISORY_LOCK_KEY = int.from_bytes(b"dataall-", "big") & 0x7FFF_FFFF_FFFF_FFFF
LOCK_TIMEOUT = "55P03"
QUERY_CANCELED = "57014"
BASE = "base (empty)"

BLOCKERS = sa.text(
    """
    SELECT a.pid, a.usename AS username, a.application_name, a.state, a.query,
           EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::int AS transaction_seconds,
           (SELECT string_agg(DISTINCT held.mode, ', ') FROM pg_locks held
             WHERE held.pid = a.pid AND held.granted
               AND held.relation IN (SELECT w.relation FROM pg_locks w WHERE w.pid = :pid AND NOT w.granted)
           ) AS modes,
           (SELECT string_agg(DISTINCT w.relation::regclass::text, ', ') FROM pg_locks w
             WHERE w.pid = :pid AND NOT w.granted AND w.relation IS NOT NULL
           ) AS relations
      FROM pg_stat_activity a
     WHERE a.pid = ANY(pg_blocking_pids(:pid))
     ORDER BY a.pid
    """
)


@dataclass(frozen=True)
class Blocker:
    """A session that held a lock the migration waited for."""

    pid: int
    username: str | None
    application_name: str | None
    state: str | None
    query: str | None
    transaction_seconds: int | None
    modes: str | None
    relations: str | None

    def describe(self) -> str:
        held = f", holds {self.modes}" if self.modes else ""
        opened = f", transaction open {self.transaction_seconds} s" if self.transaction_seconds is not None else ""
        who = ", ".join(p for p in (self.username, self.application_name or None, self.state) if p)
        return f"session {self.pid} ({who}{opened}{held}) whose last query is: {(self.query or '?').strip()[:500]}"


class LockWatch:
    """Samples, on a second connection, which sessions block the migration's session."""

    def __init__(self, engine: Engine, pid: int | None, lock_timeout_ms: int) -> None:
        self.engine = engine
        self.pid = pid
        self.interval = max(0.05, min(0.5, lock_timeout_ms / 1000 / 5))
        self.blockers: list[Blocker] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LockWatch:
        if self.pid is not None:
            self._thread = threading.Thread(target=self._watch, name="lock-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT set_config('statement_timeout', '2000ms', false)"))
                connection.commit()
                while not self._stop.wait(self.interval):
                    rows = connection.execute(BLOCKERS, {"pid": self.pid}).mappings().all()
                    # pg_stat_activity is a snapshot per transaction: end it to see the next sample.
                    connection.rollback()
                    if rows:
                        self.blockers = [Blocker(**row) for row in rows]
        except Exception:  # the watch only explains a failure: it must never cause one
            LOG.warning("the lock watch stopped", exc_info=True)

    def relations(self) -> str:
        return ", ".join(sorted({b.relations for b in self.blockers if b.relations})) or "a table"


def sqlstate(error: sa.exc.DBAPIError) -> str:
    details = getattr(error.orig, "args", ())
    if details and isinstance(details[0], dict):
        return str(details[0].get("C", ""))
    return ""


def server_message(error: sa.exc.DBAPIError) -> str:
    details = getattr(error.orig, "args", ())
    if details and isinstance(details[0], dict):
        parts = [details[0].get("M", ""), details[0].get("D", "")]
        return ": ".join(str(p) for p in parts if p)
    return str(error.orig)


def _revision_name(revision: str | None) -> str:
    return revision if revision is not None else BASE


class Migrations:
    """The release's alembic project against one database."""

    def __init__(
        self,
        engine: Engine,
        version_locations: Sequence[Path] = (VERSIONS,),
        permissions: Sequence[release_permissions.Permission] = release_permissions.PERMISSIONS,
    ) -> None:
        self.engine = engine
        self.version_locations = tuple(version_locations)
        self.permissions = tuple(permissions)

    # ------------------------------------------------------------------ alembic
    def config(self, connection: Connection | None = None, applied: list[str] | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", _escaped(SCRIPTS))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", _escaped_paths(self.version_locations))
        config.attributes["connection"] = connection
        if applied is not None:
            config.attributes["on_version_apply"] = [lambda *, step, **_: applied.append(step.up_revision_id)]
        return config

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def head(self) -> str:
        head = self.script().get_current_head()
        if head is None:
            raise MigrationFailed("the release has no revisions")
        return head

    # ------------------------------------------------------------------ commands
    def status(self, timeouts: Timeouts | None = None) -> dict[str, Any]:
        """The database's revision, the release's head, and what the permissions sync would change."""
        script = self.script()
        head = self.head()
        with self._connect() as connection, connection.begin():
            try:
                limits = timeouts or Timeouts()
                self._limit(connection, limits.lock_ms, limits.statement_budget_ms())
                revision = current_revision(connection)
                pending = None
                if revision == head:
                    pending = release_permissions.difference(connection, self.permissions).pending
            except sa.exc.DBAPIError as error:
                raise MigrationFailed(f"cannot read the database's revision: {server_message(error)}") from error
        return {"revision": revision, "head": head, "known": _known(script, revision), "pending_permissions": pending}

    def upgrade(self, timeouts: Timeouts | None = None) -> dict[str, Any]:
        """`alembic upgrade head`, then the permissions sync, in one transaction."""
        return self._migrate("upgrade", self.head(), timeouts or Timeouts())

    def downgrade(self, revision: str | None, timeouts: Timeouts | None = None) -> dict[str, Any]:
        """`alembic downgrade <revision>` (None: to base, every table dropped), in one transaction."""
        return self._migrate("downgrade", revision, timeouts or Timeouts())

    # ------------------------------------------------------------------ the transaction
    def _migrate(self, direction: str, target: str | None, timeouts: Timeouts) -> dict[str, Any]:
        script = self.script()
        if target is not None and not _known(script, target):
            raise UnknownRevision(f"this release has no revision {target!r} to {direction} to")
        with self._connect() as connection:
            try:
                with connection.begin():
                    return self._migrate_in(connection, script, direction, target, timeouts)
            except sa.exc.DBAPIError as error:  # before the first revision, or at COMMIT
                raise MigrationFailed(
                    f"{direction} failed: {server_message(error)}; the transaction was rolled back"
                ) from error

    def _migrate_in(
        self, connection: Connection, script: ScriptDirectory, direction: str, target: str | None, timeouts: Timeouts
    ) -> dict[str, Any]:
        statement_ms = timeouts.statement_budget_ms()
        pid = self._limit(connection, timeouts.lock_ms, statement_ms, exclusive=True)
        previous = current_revision(connection)
        if not _known(script, previous):
            raise UnknownRevision(
                f"the database is at revision {previous!r}, which this release does not know: "
                "a newer release migrated it; install that release, or restore a snapshot taken before"
            )
        try:
            plan = _path(script, previous, target, direction)
        except (CommandError, RevisionError) as error:
            raise UnknownRevision(
                f"cannot {direction} from {_revision_name(previous)} to {_revision_name(target)}: {error}"
            ) from error
        applied: list[str] = []
        with LockWatch(self.engine, pid, timeouts.lock_ms) as watch, _deadline(connection, timeouts):
            try:
                config = self.config(connection, applied)
                if direction == "upgrade":
                    command.upgrade(config, "head")
                elif previous != target:
                    command.downgrade(config, target or "base")
                revision = current_revision(connection)
                synced = release_permissions.sync(connection, self.permissions) if direction == "upgrade" else None
            except MigrationError:
                raise
            except sa.exc.DBAPIError as error:
                failing = _failing(plan, applied, direction)
                raise _explain(error, failing, previous, watch, timeouts.lock_ms, statement_ms) from error
            except Exception as error:
                raise MigrationFailed(
                    f"{_failing(plan, applied, direction)} failed: {type(error).__name__}: {error}; "
                    f"{_untouched(previous)}"
                ) from error
        result: dict[str, Any] = {"previous": previous, "revision": revision, "applied": applied}
        if synced is not None:
            result["permissions"] = synced
        return result

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError as error:
            where = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseUnreachable(f"cannot connect to {where}: {server_message(error)}") from error
        with connection:
            yield connection

    def _limit(self, connection: Connection, lock_ms: int, statement_ms: int, *, exclusive: bool = False) -> int | None:
        """Timeouts for this transaction and, to change anything, the migration lock.

        Returns the session's backend pid (PostgreSQL), which the lock watch observes.
        """
        if connection.dialect.name != "postgresql":
            return None
        connection.execute(
            sa.text(
                "SELECT set_config('lock_timeout', :lock, true), set_config('statement_timeout', :statement, true), "
                "set_config('idle_in_transaction_session_timeout', :idle, true)"
            ),
            {"lock": f"{lock_ms}ms", "statement": f"{statement_ms}ms", "idle": f"{IDLE_IN_TRANSACTION_TIMEOUT_MS}ms"},
        )
        if exclusive:
            locked = connection.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            if not locked.scalar_one():
                raise MigrationInProgress(
                    "another session is migrating this database right now (it holds advisory lock "
                    f"{ADVISORY_LOCK_KEY}); nothing was done, try again when it has finished"
                )
        pid: int = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def _explain(
    error: sa.exc.DBAPIError, failing: str, previous: str | None, watch: LockWatch, lock_ms: int, statement_ms: int
) -> MigrationError:
    """The database's error as the runner reports it: which step, what blocked it, what state is left."""
    code = sqlstate(error)
    untouched = _untouched(previous)
    if code == LOCK_TIMEOUT:
        blockers = (
            "; ".join(b.describe() for b in watch.blockers) or "a session that ended before it could be identified"
        )
        return MigrationLockTimeout(
            f"{failing} waited more than {lock_ms} ms for a lock on {watch.relations()}, "
            f"held by {blockers}; {untouched}"
        )
    if code == QUERY_CANCELED:
        statement = " ".join(str(error.statement or "").split())[:300]
        return MigrationStatementTimeout(
            f"{failing} ran longer than the statement timeout of {statement_ms} ms: {statement}; {untouched}"
        )
    if "database is locked" in str(error.orig):
        return MigrationLockTimeout(
            f"{failing} waited more than {lock_ms} ms for another connection's write lock on the SQLite database; "
            f"{untouched}"
        )
    return MigrationFailed(f"{failing} failed: {server_message(error)}; {untouched}")


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _known(script: ScriptDirectory, revision: str | None) -> bool:
    if revision is None:
        return True
    try:
        return script.get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def _path(script: ScriptDirectory, previous: str | None, target: str | None, direction: str) -> list[str]:
    """The revisions the command runs, in order."""
    if direction == "upgrade":
        steps = [s.revision for s in script.iterate_revisions(target or "base", previous or "base")]
        return list(reversed(steps))
    if previous == target:
        return []
    return [s.revision for s in script.iterate_revisions(previous or "base", target or "base")]


def _failing(plan: list[str], applied: list[str], direction: str) -> str:
    """What ran when the command failed: `upgrade revision 0002`, `upgrade the permissions sync`."""
    remaining = [revision for revision in plan if revision not in applied]
    if remaining:
        return f"{direction} revision {remaining[0]}"
    return "upgrade the permissions sync" if direction == "upgrade" else direction


def _untouched(previous: str | None) -> str:
    return f"the transaction was rolled back: the database is still at {_revision_name(previous)}, data unchanged"


@contextmanager
def _deadline(connection: Connection, timeouts: Timeouts) -> Iterator[None]:
    """Stop before a statement that would start after the command's deadline."""

    def check(*_args: Any) -> None:
        remaining = timeouts.remaining_ms()
        if remaining is not None and remaining <= 0:
            raise MigrationStatementTimeout(
                "the migration ran out of the function's time before its next statement; "
                "the transaction was rolled back, nothing was changed"
            )

    event.listen(connection, "before_cursor_execute", check)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", check)


def _escaped(path: Path) -> str:
    # Alembic's options go through ConfigParser interpolation: a literal % is written %%.
    return str(path).replace("%", "%%")


def _escaped_paths(paths: Sequence[Path]) -> str:
    return os.pathsep.join(_escaped(p) for p in paths)
