"""EventBridge target: a stage stack's status changed; resume the step waiting on it."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.observability import logger, metrics, tracer
from lambdas.stage.events import on_status_change


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = on_status_change(Deps.from_env(context), event)
    if step is not None:
        metrics.add_metric(name="StepsResumedByEvents", unit="Count", value=1)
    return {"resumed": step}
