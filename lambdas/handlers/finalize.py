"""Step: Finalize. Record the outcome, release the lock, emit metrics, notify."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import FinalizeRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.reporting import finalize


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = FinalizeRequest.model_validate(event)
    logger.append_keys(run=request.run)
    summary = finalize(Deps.from_env(context), request)
    metrics.add_dimension(name="Action", value=str(summary.get("action")))
    metrics.add_metric(name=f"Runs{request.outcome.title().replace('_', '')}", unit="Count", value=1)
    metrics.add_metric(name="RunDuration", unit="Seconds", value=summary["duration_seconds"])
    return summary
