"""Step: Plan. Validate the input, take the lock, verify the release, compute the waves."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import PlanRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.planning import plan


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = PlanRequest.model_validate(event)
    result = plan(Deps.from_env(context), request)
    metrics.add_metric(name="RunsPlanned", unit="Count", value=1)
    return result
