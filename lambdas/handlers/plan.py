"""Step: Plan. Validate the input, take the lock, verify the release, plan the steps.

A refusal (`lambdas.core.errors.Refused`: nothing changed) is returned, not raised, so the
run ends REFUSED rather than FAILED (`lambdas.run.refusals`).
"""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.errors import Refused
from lambdas.core.messages import PlanRequest
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.planning import plan
from lambdas.run.refusals import refusal


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = PlanRequest.model_validate(event)
    try:
        result = plan(Deps.from_env(context), request)
    except Refused as error:
        answer = refusal(error)
        logger.warning("run refused", extra={"refusal": answer, "execution": request.execution.name})
        metrics.add_metric(name="RunsRefused", unit="Count", value=1)
        return {"refused": answer, "planned": None, "approval": None}
    metrics.add_metric(name="RunsPlanned", unit="Count", value=1)
    # Always present, so the state machine's choice reads it without a missing path.
    return {"planned": None, "approval": None, **result, "refused": None}
