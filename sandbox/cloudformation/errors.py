"""The errors CloudFormation's API answers, with AWS's codes and HTTP statuses.

An operation raises one of these; the service turns it into the query protocol's
`<ErrorResponse>`, which botocore raises as `ClientError` with the same code. Codes and
statuses are those of botocore's service model, so `client.exceptions.X` catches them.
"""

from __future__ import annotations


class CloudFormationError(Exception):
    """An API error: `code` is what botocore reports as `Error.Code`."""

    code = "ValidationError"
    status = 400
    sender_fault = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(CloudFormationError):
    """Almost everything CloudFormation rejects: bad templates, parameters, states."""


class AlreadyExistsError(CloudFormationError):
    code = "AlreadyExistsException"


class InsufficientCapabilitiesError(CloudFormationError):
    code = "InsufficientCapabilitiesException"


class ChangeSetNotFoundError(CloudFormationError):
    code = "ChangeSetNotFound"
    status = 404


class InvalidChangeSetStatusError(CloudFormationError):
    code = "InvalidChangeSetStatus"


class ThrottlingError(CloudFormationError):
    code = "Throttling"


class InvalidActionError(CloudFormationError):
    code = "InvalidAction"


class InternalFailureError(CloudFormationError):
    """The sandbox itself failed: AWS's answer to a fault of its own."""

    code = "InternalFailure"
    status = 500
    sender_fault = False


class TemplateError(ValidationError):
    """A template that cannot be read or evaluated. Raised before anything is created, or,
    when only a running operation can tell (a GetAtt of a resource that does not support the
    attribute), it fails that resource with this message."""
