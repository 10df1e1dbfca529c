"""The end of a run: record the outcome, release the lock, tell the operator.

One message per run (SNS, and so e-mail) with action, version, result, duration and every
stage's outcome; on failure, the report: the stage, the resource and CloudFormation's
reason, what was rolled back, and what is left for a person.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lambdas.deps import Deps
from lambdas.ledger import now_iso
from lambdas.models import FinalizeRequest


def _seconds_since(started: str | None) -> int:
    if not started:
        return 0
    begun = datetime.fromisoformat(started.replace("Z", "+00:00"))
    return int((datetime.now(UTC) - begun).total_seconds())


def failure_report(error: dict[str, Any] | None, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What failed, where and why, what was undone, and what needs a person."""
    error = error or {}
    cause = error.get("Cause") or error.get("cause") or ""
    try:
        detail = json.loads(cause) if cause else {}
        if isinstance(detail, dict) and "errorMessage" in detail:  # an unhandled Lambda error
            inner = detail.get("errorMessage", "")
            try:
                detail = json.loads(inner)
            except (TypeError, ValueError):
                detail = {"reason": inner, "error_type": detail.get("errorType")}
    except ValueError:
        detail = {"reason": cause}
    if not isinstance(detail, dict):
        detail = {"reason": str(detail)}
    rolled_back = {n: s["rolled_back"] for n, s in sorted(steps.items()) if s.get("rolled_back")}
    left = [
        {"stage": n, "reason": s.get("reason", ""), "action": s.get("action", "")}
        for n, s in sorted(steps.items())
        if s.get("rolled_back") == "FAILED"
    ]
    return {
        "error": error.get("Error") or error.get("error") or "Unknown",
        "stage": detail.get("stage"),
        "resource": detail.get("resource"),
        "resource_type": detail.get("resource_type"),
        "status": detail.get("status"),
        "reason": detail.get("reason") or cause,
        "rolled_back": rolled_back,
        "left_for_a_person": left,
    }


def finalize(deps: Deps, request: FinalizeRequest) -> dict[str, Any]:
    meta = deps.ledger.run(request.run) or {}
    steps = deps.ledger.steps(request.run)
    outcome = request.outcome
    if outcome == "SUCCEEDED" and meta.get("action") == "uninstall":
        deps.ledger.clear_current_release()
        report = None
    elif outcome == "SUCCEEDED":
        deps.ledger.set_current_release(meta["version"], meta["options"], request.run)
        report = None
    else:
        report = failure_report(request.error, steps)
    duration = _seconds_since(meta.get("started"))
    summary = {
        "run": request.run,
        "action": meta.get("action"),
        "version": meta.get("version"),
        "status": outcome,
        "duration_seconds": duration,
        "stages": {
            name: step.get("result") or step.get("rolled_back") or "NOT_RUN" for name, step in sorted(steps.items())
        },
        "error": report,
    }
    deps.ledger.update_run(
        request.run,
        {"status": outcome, "finished": now_iso(), "duration_seconds": duration, "error": report},
    )
    deps.ledger.release_lock(meta.get("execution_arn", ""))
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
    report = summary.get("error")
    if report:
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
