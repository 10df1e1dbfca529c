"""Step: Rollback. Undo one change of the failed run per call, until done."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import RollbackState
from lambdas.core.observability import logger, metrics, tracer
from lambdas.rollback.recovery import Rollback


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = RollbackState.model_validate(event)
    logger.append_keys(run=state.run)
    result = Rollback(Deps.from_env(context), state).step()
    if result.done:
        metrics.add_metric(name="RunsRolledBack", unit="Count", value=1)
    return result.model_dump()
