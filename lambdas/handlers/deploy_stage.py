"""Step: DeployStage. Record the rollback point and create the stage's change set."""

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
    result = StageDeployment(deps, state).start()
    if result.result == "UNCHANGED":
        metrics.add_metric(name="StagesUnchanged", unit="Count", value=1)
    if result.phase == Phase.DONE:
        finished(deps, result.run, result.step.name)
    return result.model_dump()
