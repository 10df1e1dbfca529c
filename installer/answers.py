"""One answer shape for every command: its status, its exit code, and (with `--json`) one JSON
object as the last line of standard output, whether the command succeeded, was refused, failed
or was interrupted.

    {"status": "REFUSED", "error": {"code": "InvalidParameter", "field": "--param LogRetentionDays",
     "message": "..."}, "command": "deploy"}

A run's result (`installer.operations.result_document`) has the same `status` and `error` keys.
Expected conditions (bad input, a release that fails its checks, missing credentials, an endpoint
that does not answer, access denied, throttling) are answered without a traceback; `--debug`
(or DATAALL_INSTALLER_DEBUG=1) adds one to standard error.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any

#: status -> exit code. 0: done, or nothing needed doing; 1: the run failed (and rolled back);
#: 2: refused (nothing changed); 3: the command could not reach or use AWS; 130: interrupted.
EXIT_CODES = {
    "SUCCEEDED": 0,
    "NOTHING_TO_DO": 0,
    "PLANNED": 0,
    "FAILED": 1,
    "ROLLED_BACK": 1,
    "TIMED_OUT": 1,
    "ABORTED": 1,
    "REFUSED": 2,
    "ERROR": 3,
    "INTERRUPTED": 130,
}
DEBUG_ENV = "DATAALL_INSTALLER_DEBUG"


def exit_code(status: str) -> int:
    return EXIT_CODES.get(status, 1)


@dataclass
class Problem(Exception):
    """Why a command ends without the run it was asked for: a refusal (nothing changed), an
    error reaching AWS, or an interruption. `field` names the flag, parameter or file at fault."""

    code: str
    message: str
    status: str = "REFUSED"
    field: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def document(self, command: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"status": self.status, "command": command, "error": error, **self.extra}


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
                "SignatureDoesNotMatch", "InvalidSignatureException"}  # fmt: skip


def classify(error: BaseException) -> Problem:
    """The answer to an exception a command did not turn into a Problem itself."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, KeyboardInterrupt):
        return Problem("Interrupted", "interrupted (Ctrl-C)", status="INTERRUPTED")
    aws = _aws_problem(error)
    if aws is not None:
        return aws
    if isinstance(error, ConnectionError):
        return Problem("EndpointUnreachable", f"the endpoint does not answer: {error}", status="ERROR",
                       field="--endpoint-url")  # fmt: skip
    from lambdas.core.errors import Refused

    if isinstance(error, Refused):
        return Problem(type(error).__name__, str(error), field=error.field)
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        field = getattr(error, "field", None)
        return Problem(code, str(error), field=field if isinstance(field, str) else None)
    return Problem("InternalError", f"{type(error).__name__}: {error} (--debug shows where)", status="ERROR")


def _aws_problem(error: BaseException) -> Problem | None:  # noqa: PLR0911 - one answer per kind of AWS error
    from botocore import exceptions as botocore_errors

    if isinstance(error, botocore_errors.NoCredentialsError | botocore_errors.PartialCredentialsError):
        return Problem(
            "NoCredentials",
            f"no AWS credentials: {error} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            status="ERROR",
        )
    if isinstance(error, botocore_errors.NoRegionError):
        return Problem("NoRegion", "no AWS region: give --region or set AWS_REGION", status="ERROR", field="--region")
    if isinstance(error, botocore_errors.EndpointConnectionError | botocore_errors.ConnectionClosedError):
        return Problem("EndpointUnreachable", f"the AWS endpoint does not answer: {error}", status="ERROR",
                       field="--endpoint-url")  # fmt: skip
    if isinstance(error, botocore_errors.ClientError):
        code = str(error.response.get("Error", {}).get("Code") or "ClientError")
        if code in _THROTTLED:
            return Problem("Throttled", f"AWS throttled the request after the SDK's retries: {error}", status="ERROR")
        if code in _DENIED or code.startswith("AccessDenied"):
            return Problem("AccessDenied", f"access denied: {error}", status="ERROR")
        if code in _CREDENTIALS:
            return Problem("InvalidCredentials", f"AWS refused the credentials: {error}", status="ERROR")
        return Problem(code, str(error), status="ERROR")
    if isinstance(error, botocore_errors.BotoCoreError):
        return Problem(type(error).__name__, str(error), status="ERROR")
    return None


def emit(problem: Problem, *, json_mode: bool, command: str | None, cause: BaseException | None = None) -> int:
    """Say it (standard error), then the JSON line (standard output); the exit code."""
    if cause is not None and debug_enabled():
        traceback.print_exception(cause, file=sys.stderr)
    where = f" ({problem.field})" if problem.field else ""
    word = {"REFUSED": "refused", "INTERRUPTED": "interrupted"}.get(problem.status, "error")
    print(f"{word}: {problem.message}{where if problem.field and problem.field not in problem.message else ''}",
          file=sys.stderr)  # fmt: skip
    if json_mode:
        sys.stdout.write(json.dumps(problem.document(command), default=str) + "\n")
        sys.stdout.flush()
    return exit_code(problem.status)


# ---------------------------------------------------------------------- bootstrap parameters
def check_parameters(declared: dict[str, Any], values: dict[str, str], *, flag: str = "--param") -> None:
    """Every value against its CloudFormation parameter's own constraints (AllowedValues,
    AllowedPattern, which CloudFormation matches against the whole value, MinLength/MaxLength,
    and for a Number MinValue/MaxValue), as CloudFormation would check them at CreateStack: here,
    before anything is built or published. The first value at fault is refused, named."""
    for key, value in values.items():
        spec = declared.get(key)
        if spec is None:
            continue
        name = f"{flag} {key}" if flag == "--param" else flag
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(v) for v in allowed]:
            raise Problem("InvalidParameter", f"{key}={value!r} is not one of {', '.join(map(str, allowed))}",
                          field=name)  # fmt: skip
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            description = spec.get("ConstraintDescription") or f"it must match {pattern}"
            raise Problem("InvalidParameter", f"{key}={value!r}: {description}", field=name)
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            raise Problem("InvalidParameter", f"{key} is shorter than {spec['MinLength']} characters", field=name)
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            raise Problem("InvalidParameter", f"{key} is longer than {spec['MaxLength']} characters", field=name)
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise Problem("InvalidParameter", f"{key}={value!r} is not a number", field=name) from None
            if not math.isfinite(number):
                raise Problem("InvalidParameter", f"{key}={value!r} is not a finite number", field=name)
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise Problem("InvalidParameter", f"{key}={value} is below {spec['MinValue']}", field=name)
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise Problem("InvalidParameter", f"{key}={value} is above {spec['MaxValue']}", field=name)
