"""Failures of a migration command. The class name is what the installer sees (Lambda's
`errorType`), the message says what happened and what state the database is in. data.all's
migration function raises these too (its package ships this module, as `protocol`)."""

from __future__ import annotations


class MigrationError(Exception):
    """Base of every failure the runner reports on purpose."""


class BadRequest(MigrationError):
    """The command is unknown or its fields are wrong; nothing was done."""


class DatabaseUnreachable(MigrationError):
    """The database could not be located or connected to; nothing was done."""


class UnknownRevision(MigrationError):
    """The database, or the requested target, is at a revision this release does not know."""


class MigrationInProgress(MigrationError):
    """Another session runs a migration of this database right now; nothing was done."""


class MigrationLockTimeout(MigrationError):
    """A statement waited longer than the lock timeout; the message names the blocking session."""


class MigrationStatementTimeout(MigrationError):
    """A statement ran longer than the statement timeout, or the function ran out of time."""


class MigrationFailed(MigrationError):
    """A revision, or the permissions step, failed; its transaction was rolled back."""
