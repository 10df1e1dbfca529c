"""Step: WaitTurn. Park a step until the steps it waits for are done (a task token)."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import TurnRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.turns import wait_turn


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = TurnRequest.model_validate(event)
    logger.append_keys(run=request.run, stage=request.step.name)
    wait_turn(Deps.from_env(context), request.run, request.step.name, request.token)
    return {"parked": request.step.name}
