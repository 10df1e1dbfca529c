"""data.all's frontend image with the installation's web UI (`Custom::DataallFrontendImage`).

The provider of the albfront stage's custom resource; the bootstrap stack passes its ARN to the
stage (`FrontendImageProviderArn`). Every request is answered: SUCCESS with the image's URI, FAILED
with the reason on any error, and FAILED from a watchdog shortly before the Lambda timeout. See
`lambdas/site/image.py` for what each request does.
"""

from __future__ import annotations

from typing import Any

from lambdas.core import cfn_response
from lambdas.core.observability import logger, metrics, tracer
from lambdas.site import image


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> None:
    cfn_response.answer_request(
        event,
        context,
        lambda deadline: image.handle(event, image.Services.from_context(context), deadline),
        failed_physical_id=str(event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId')}-failed"),
        metric="FrontendImageRequests",
    )
