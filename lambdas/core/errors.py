"""Errors a step raises on purpose. The class name is the Step Functions error name
(`errorType`), so the state machine's Retry and Catch can tell them apart."""

from __future__ import annotations

import json
from typing import Any


class InstallerError(Exception):
    """Base: an error the workflow reports with its message as the cause."""


class Refused(InstallerError):
    """Plan refused the run before anything changed: a refusal, not a failure.

    `field` names what is at fault (`options.LogRetentionDays`, `version`, a stage's
    parameter, a release file), when one thing is; the run ends REFUSED (see
    `lambdas.run.refusals`).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidInput(Refused):
    """The execution input does not match the run-input schema; nothing was changed."""


class InvalidOptions(Refused):
    """The options cannot be installed with this release; nothing was changed."""


class LockHeld(Refused):
    """Another run holds the installer's lock; this run changed nothing."""


class ReleaseInvalid(Refused):
    """The release is missing, or its files do not match the manifest; nothing was changed."""


class DataAtRisk(Refused):
    """The run would replace or remove a resource holding data that its input does not allow
    (`allow_replacement`); nothing was changed."""


class NameTaken(Refused):
    """A stage the run would create names a resource that already exists (one an uninstall kept,
    or another's); nothing was changed."""


class RegionUnsupported(Refused):
    """A stage's region lacks what the release needs there (S3's AWS-managed prefix list, for
    data.all's ECS task security groups); nothing was changed."""


class RunAborted(InstallerError):
    """The run is rolling back: a step that was still going makes no further change."""


class Throttled(InstallerError):
    """AWS throttled us past the SDK's own retries; the state machine retries with back-off."""


class StageFailed(InstallerError):
    """A stage's stack operation failed; the cause is a JSON report (stage, resource, reason)."""

    def __init__(self, stage: str, reason: str, **details: Any) -> None:
        self.report = {"stage": stage, "reason": reason, **details}
        super().__init__(json.dumps(self.report, sort_keys=True, default=str))


class StageTimedOut(StageFailed):
    """A stage did not finish within its timeout."""
