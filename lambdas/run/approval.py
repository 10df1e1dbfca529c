"""The approval gate (bootstrap parameter RequireApproval): a run that would change something
waits after Plan, on a Step Functions task token, for a person's answer.

"Task states can wait for a task token to be returned ... SendTaskSuccess or SendTaskFailure"
and a task that gets no answer within its `TimeoutSeconds` fails with `States.Timeout`
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token).
The run keeps the lock while it waits. The token is kept in the run's ledger record (for
`dataall-installer approve|reject RUN`), and the notification carries the preview and how to
answer. Rejected or unanswered, the run ends REFUSED (`Rejected`, `ApprovalTimedOut`) with
nothing changed.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import ApprovalRequest
from lambdas.data.ledger import now_iso
from lambdas.data.records import RunUpdate

#: The error a rejection sends (SendTaskFailure); the state machine's Catch names it.
REJECTED = "Rejected"
_SHOWN = 12


def preview_lines(preview: dict[str, Any]) -> list[str]:
    """A short text of a preview (`lambdas.run.preview.Preview.to_json`) for a notification."""
    lines = [f"{preview['action']} {preview.get('from_version') or '(nothing installed)'} -> {preview['version']}"]
    for stage in preview["stages"]:
        resources = stage.get("resources") or []
        if stage["action"] in ("nothing", "run"):
            continue
        counts = {kind: sum(1 for r in resources if r["action"] == kind) for kind in ("Add", "Modify", "Remove")}
        replaced = [r for r in resources if r.get("replacement") in ("True", "Conditional")]
        summary = ", ".join(f"{n} {kind.lower()}" for kind, n in counts.items() if n)
        lines.append(f"  {stage['stage']}: {stage['action']}" + (f" ({summary})" if summary else ""))
        for resource in replaced[:_SHOWN]:
            forcing = ", ".join(resource.get("forcing") or [])
            data = f", HOLDS DATA ({resource['holds_data']})" if resource.get("holds_data") else ""
            lines.append(
                f"    replace={resource['replacement']}: {resource['logical_id']} ({resource['resource_type']}"
                f"{', by ' + forcing if forcing else ''}{data})"
            )
    for risk in preview.get("at_risk", []):
        lines.append(f"  allowed to replace or remove data: {risk['key']} ({risk['resource_type']})")
    return lines


def request_approval(deps: Deps, request: ApprovalRequest) -> dict[str, Any]:
    """Keep the token, then tell the operator what the run would do and how to answer."""
    deps.ledger.update_run(
        request.run,
        RunUpdate(
            approval_token=request.token,
            approval_requested=now_iso(),
            approval_preview=request.preview,
        ),
    )
    preview = json.loads(deps.store.read(request.preview))
    topic = deps.settings.topic_arn
    if topic:
        hours = request.timeout / 3600
        lines = [
            f"Run {request.run} waits for approval (RequireApproval), at most {hours:g} h; "
            "with no answer it ends with nothing changed.",
            "",
            *preview_lines(preview),
            "",
            "To answer:",
            f"  dataall-installer approve {request.run}",
            f"  dataall-installer reject {request.run} [--reason TEXT]",
            "or with the AWS CLI (the task token below):",
            "  aws stepfunctions send-task-success --task-output '{\"approved\": true}' --task-token TOKEN",
            f"  aws stepfunctions send-task-failure --error {REJECTED} --task-token TOKEN",
            "",
            f"Task token: {request.token}",
            f"Full preview: s3://{deps.settings.artifacts_bucket}/{request.preview}",
        ]
        deps.sns.publish(
            TopicArn=topic,
            Subject=f"dataall-installer {preview['action']} {preview['version']}: approval needed"[:100],
            Message="\n".join(lines),
        )
    return {"run": request.run, "waiting": True}
