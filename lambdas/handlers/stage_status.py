"""Step: StageStatus. Move a stage one phase on: execute a ready change set, poll the stack."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import StepState
from lambdas.core.observability import logger, metrics, tracer
from lambdas.core.phases import Phase
from lambdas.run.turns import finished
from lambdas.stage.deployment import StageDeployment


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = StepState.model_validate(event)
    logger.append_keys(run=state.run, stage=state.step.name)
    deps = Deps.from_env(context)
    result = StageDeployment(deps, state).advance()
    if result.result in ("CREATED", "UPDATED"):
        metrics.add_metric(name=f"Stages{result.result.title()}", unit="Count", value=1)
    if result.phase == Phase.DONE:
        finished(deps, result.run, result.step.name)
    return result.model_dump()
