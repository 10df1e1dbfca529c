"""Step: DriftReport. Wait for the redeploy's drift detections and record what drifted."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import DriftRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.drift import collect


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = DriftRequest.model_validate(event)
    logger.append_keys(run=request.run)
    result = collect(Deps.from_env(context), request.run)
    if result["done"]:
        metrics.add_metric(name="StagesDrifted", unit="Count", value=len(result["drifted"]))
    return {"done": result["done"], "wait": result["wait"]}
