"""Failures of a migration command. The class name is what the installer's `migrate` step sees
(Lambda's `errorType`); the names are the project's runner's (`dataall_migrations.errors`), so
the step reads both functions alike. The message says what happened and what state is left."""

from __future__ import annotations


class MigrationError(Exception):
    """Base of every failure the runner reports on purpose."""


class BadRequest(MigrationError):
    """The command is unknown or its fields are wrong; nothing was done."""


class DatabaseUnreachable(MigrationError):
    """data.all's settings, secret or database could not be reached; nothing was done."""


class UnknownRevision(MigrationError):
    """The database, or the requested target, is at a revision this release does not know."""


class MigrationInProgress(MigrationError):
    """Another session runs a migration of this database right now; nothing was done."""


class MigrationLockTimeout(MigrationError):
    """A statement waited longer than the lock timeout; the message names the sessions holding locks."""


class MigrationStatementTimeout(MigrationError):
    """A statement ran longer than the statement timeout."""


class MigrationFailed(MigrationError):
    """A revision, or data.all's permissions step, failed; its transaction was rolled back."""
