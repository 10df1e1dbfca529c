"""Logger, Tracer and Metrics, shared by every handler, always applied in the same order:

@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context): ...
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "DataallInstaller"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)
