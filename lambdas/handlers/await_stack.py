"""Step: AwaitStack. Park a step on a task token until its stack settles (or the poll interval passes)."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import AwaitRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.stage.events import park


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = AwaitRequest.model_validate(event)
    logger.append_keys(run=request.state.run, stage=request.state.step.name)
    watched = park(Deps.from_env(context), request.state, request.token)
    return {"parked": request.state.step.name, "on_events": watched}
