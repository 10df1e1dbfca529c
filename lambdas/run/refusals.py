"""A refused run: Plan said no before anything changed. A refusal, not a failure.

A run Plan refuses (bad input, a run already going, a missing or damaged release, options or
stage parameters the release cannot take) has changed nothing, so it must not read as a
failure: no failed execution (the bootstrap stack's alarm counts Step Functions'
`ExecutionsFailed`, https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html),
no failure report or notification, no rollback (Plan counts refusals in its `RunsRefused`
metric). Plan returns the refusal; the state machine's `Refused` state ends the execution
SUCCEEDED with the output

    {"result": {"status": "REFUSED", "error": {"code", "field", "reason"}}}

(a run that went through ends with `{"result": {"status": "SUCCEEDED", ...}}`, so a reader
looks at `output.result.status` either way: `run_result`).
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.core.errors import InvalidOptions, LockHeld, Refused, ReleaseInvalid

#: What a refusal is about when the error names no field of its own.
_DEFAULT_FIELD: dict[type[Refused], str | None] = {ReleaseInvalid: "version", InvalidOptions: "options", LockHeld: None}
_MAX_REASON = 2000


def refusal(error: Refused) -> dict[str, Any]:
    """The refusal as the execution's result reports it: code, field, a sentence for a person."""
    reason = str(error)
    return {
        "code": type(error).__name__,
        "field": error.field or _DEFAULT_FIELD.get(type(error)),
        "reason": reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…",
    }


def run_result(execution: dict[str, Any]) -> dict[str, Any] | None:
    """The `result` of a finished execution (DescribeExecution's answer), or None."""
    try:
        output = json.loads(execution.get("output") or "null")
    except ValueError:
        return None
    result = output.get("result") if isinstance(output, dict) else None
    return result if isinstance(result, dict) else None


def refused(execution: dict[str, Any]) -> dict[str, Any] | None:
    """The refusal of an execution that Plan refused (it SUCCEEDED, changing nothing), or None."""
    if execution.get("status") != "SUCCEEDED":
        return None
    result = run_result(execution)
    if result is None or result.get("status") != "REFUSED":
        return None
    error = result.get("error")
    return error if isinstance(error, dict) else {"code": "Refused", "field": None, "reason": ""}


def refuse_a_change(
    option: str,
    before: str,
    after: str,
    *,
    installed: str,
    own: str,
    why: str,
    none: str = "none given",
    then: str = "install with the other",
) -> None:
    """Refuse (InvalidOptions, `options.<option>`) a run giving an installed data.all another value of an option it
    keeps from its install: `installed` says how it is installed (`data.all is installed in`), `own` what an empty
    value stands for (`data.all's own VPC`), `why` why it is chosen at install, `then` what to do instead."""
    if before != after:
        raise InvalidOptions(
            f"{option}: {installed} {before or own}, not {after or f'{own} ({none})'}; {why}: uninstall, then {then}; "
            "nothing was changed",
            field=f"options.{option}",
        )
