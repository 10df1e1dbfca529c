"""The pivot role's custom resources (`Custom::PivotRoleExternalId`, `Custom::PivotRole`).

One provider serves both types; the bootstrap stack exports its ARN for the pivot-role
stage's `ServiceToken`. Every request is answered: SUCCESS with the outcome, FAILED with
the reason on any error, and FAILED from a watchdog shortly before the Lambda timeout.
See `lambdas/pivot_role/resources.py` for what each request does.
"""

from __future__ import annotations

from typing import Any

from lambdas.core import cfn_response
from lambdas.core.observability import logger, metrics, tracer
from lambdas.pivot_role import resources as pivot_resources


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> None:
    cfn_response.answer_request(
        event,
        context,
        lambda deadline: pivot_resources.handle(event, pivot_resources.Services.from_context(context), deadline),
        failed_physical_id=pivot_resources.failed_physical_id(event),
        metric="PivotRoleRequests",
    )
