"""Step: AwaitApproval (RequireApproval). Keep the run's task token and ask a person; the state
machine waits for SendTaskSuccess or SendTaskFailure (or its timeout)."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import ApprovalRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.approval import request_approval


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = ApprovalRequest.model_validate(event)
    logger.append_keys(run=request.run)
    result = request_approval(Deps.from_env(context), request)
    metrics.add_metric(name="ApprovalsRequested", unit="Count", value=1)
    return result
