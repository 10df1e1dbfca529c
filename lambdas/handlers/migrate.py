"""Step: Migrate. Move the platform database to the release's schema, one phase per call."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import StepState
from lambdas.core.observability import logger, metrics, tracer
from lambdas.core.phases import Phase
from lambdas.migration.step import MigrationStep
from lambdas.run.turns import finished


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = StepState.model_validate(event)
    logger.append_keys(run=state.run, stage=state.step.name)
    deps = Deps.from_env(context)
    step = MigrationStep(deps, state)
    result = step.start() if state.phase == Phase.START else step.advance()
    if result.result in ("MIGRATED", "SYNCED"):
        metrics.add_metric(name="DatabaseMigrations", unit="Count", value=1)
    if result.phase == Phase.DONE:
        finished(deps, result.run, result.step.name)
    return result.model_dump()
