"""Step: PublishSite. data.all's web UI, the release's bundle with this installation's values, in the site bucket."""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.messages import StepState
from lambdas.core.observability import logger, metrics, tracer
from lambdas.run.turns import finished
from lambdas.site.step import SiteStep


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = StepState.model_validate(event)
    logger.append_keys(run=state.run, stage=state.step.name)
    deps = Deps.from_env(context)
    result = SiteStep(deps, state).run()
    # a data point every call (0 when nothing needed doing): the metric shows the step ran, and
    # Powertools warns of a flush with no metric
    metrics.add_metric(name="SitePublished", unit="Count", value=1 if result.result == "PUBLISHED" else 0)
    finished(deps, result.run, result.step.name)
    return result.model_dump()
