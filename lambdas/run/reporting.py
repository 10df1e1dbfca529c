"""The end of a run: record the outcome, release the lock, tell the operator.

One message per run (SNS, and so e-mail) with action, version, result, duration and every
stage's outcome; on failure, the report: the stage, the resource and CloudFormation's
reason, what was rolled back, and what is left for a person.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import FinalizeRequest
from lambdas.data.ledger import now_iso
from lambdas.data.records import RecordInvalid, ReleaseRecord, RunUpdate, StepRecord


def _seconds_since(started: str | None) -> int:
    if not started:
        return 0
    begun = datetime.fromisoformat(started.replace("Z", "+00:00"))
    return int((datetime.now(UTC) - begun).total_seconds())


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def failure_detail(error: dict[str, Any] | None) -> dict[str, Any]:
    """What failed, from the state machine's error, unwrapping its layers:

    the step's failure (`{"stage", "error", "cause"}`, added by the StepFailed state) ->
    a Lambda error payload (`{"errorType", "errorMessage"}`) -> a StageFailed report (JSON).
    """
    error = error or {}
    cause = error.get("Cause") or error.get("cause") or ""
    detail: dict[str, Any] = {"error": error.get("Error") or error.get("error") or "Unknown"}
    layer = _json(cause)
    if isinstance(layer, dict) and "stage" in layer and "cause" in layer:
        detail.update(stage=layer["stage"], error=layer.get("error") or detail["error"])
        cause = layer["cause"]
        layer = _json(cause)
    if isinstance(layer, dict) and "errorMessage" in layer:
        inner = _json(layer["errorMessage"])
        if isinstance(inner, dict):
            detail.update(inner)
        else:
            detail.update(reason=layer["errorMessage"], error_type=layer.get("errorType"))
    elif isinstance(layer, dict):
        detail.update(layer)
    else:
        detail["reason"] = str(cause)
    return detail


def failure_report(error: dict[str, Any] | None, steps: dict[str, StepRecord]) -> dict[str, Any]:
    """What failed, where and why, what was undone, and what needs a person."""
    detail = failure_detail(error)
    rolled_back = {n: s.rolled_back for n, s in sorted(steps.items()) if s.rolled_back}
    left = [
        {"stage": n, "reason": s.reason or "", "action": s.action or "", "snapshot": s.snapshot}
        for n, s in sorted(steps.items())
        if s.rolled_back == "FAILED"
    ]
    return {
        "error": detail.get("error"),
        "stage": detail.get("stage"),
        "resource": detail.get("resource"),
        "resource_type": detail.get("resource_type"),
        "status": detail.get("status"),
        "reason": detail.get("reason"),
        "rolled_back": rolled_back,
        "left_for_a_person": left,
    }


def finalize(deps: Deps, request: FinalizeRequest) -> dict[str, Any]:
    meta = deps.ledger.run(request.run)
    if meta is None:
        raise RecordInvalid(f"run {request.run} has no record in the ledger: nothing to finalize")
    steps = deps.ledger.steps(request.run)
    outcome = request.outcome
    if outcome == "SUCCEEDED" and meta.action == "uninstall":
        deps.ledger.clear_current_release()
        report = None
    elif outcome == "SUCCEEDED":
        deps.ledger.set_current_release(
            ReleaseRecord(
                version=meta.version,
                options=meta.options,
                run=request.run,
                manifest_sha256=meta.manifest_sha256,
                option_sources=meta.option_sources,
            )
        )
        report = None
    elif outcome == "REFUSED":
        # Not approved (rejected, or no answer in time): nothing changed, the refusal says why.
        report = dict(request.error or {})
    else:
        report = failure_report(request.error, steps)
    duration = _seconds_since(meta.started)
    summary = {
        "run": request.run,
        "action": meta.action,
        "version": meta.version,
        "status": outcome,
        "duration_seconds": duration,
        "stages": {name: step.result or step.rolled_back or "NOT_RUN" for name, step in sorted(steps.items())},
        "error": report,
        "drift": meta.drift or None,
    }
    deps.ledger.update_run(
        request.run, RunUpdate(status=outcome, finished=now_iso(), duration_seconds=duration, error=report)
    )
    deps.ledger.release_lock(meta.execution_arn or "")
    notify(deps, summary)
    return summary


def notify(deps: Deps, summary: dict[str, Any]) -> None:
    topic = deps.settings.topic_arn
    if not topic:
        return
    status = summary["status"]
    subject = f"dataall-installer {summary['action']} {summary['version']}: {status}"
    lines = [
        f"Run {summary['run']}: {summary['action']} {summary['version']} {status} in {summary['duration_seconds']} s.",
        "",
        "Stages:",
        *[f"  {name}: {result}" for name, result in summary["stages"].items()],
    ]
    for stage, found in sorted((summary.get("drift") or {}).items()):
        if found.get("status") == "DRIFTED":
            lines.append(f"Drift: stage {stage} was changed outside CloudFormation:")
            for resource in found.get("resources", []):
                changes = ", ".join(f"{d['path']} {d['expected']} -> {d['actual']}" for d in resource["differences"])
                lines.append(f"  {resource['resource']} ({resource['type']}) {resource['status']} {changes}".rstrip())
    report = summary.get("error")
    if report and status == "REFUSED":
        lines += ["", f"Not run ({report.get('code')}): {report.get('reason')}", "Nothing was changed."]
    elif report:
        lines += [
            "",
            f"Failed: stage {report.get('stage')}, resource {report.get('resource')}",
            f"Reason: {report.get('reason')}",
        ]
        for item in report.get("left_for_a_person", []):
            lines.append(f"Left for a person: {item['stage']}: {item['reason']} -> {item['action']}")
    deps.sns.publish(
        TopicArn=topic,
        Subject=subject[:100],
        Message="\n".join(lines) + "\n\n" + json.dumps(summary, indent=1, default=str),
    )
