"""The bootstrap stack's trigger (`lambdas/run/trigger.py`): a CloudFormation custom-resource
request (the bootstrap stack's create, update or delete) or a schedule's event (a redeploy)."""

from __future__ import annotations

from typing import Any

from lambdas.core.observability import logger, metrics, tracer
from lambdas.core.settings import settings
from lambdas.data import aws
from lambdas.data.ledger import Ledger
from lambdas.run import trigger


def _trigger() -> trigger.Trigger:
    config = settings()
    return trigger.Trigger(
        settings=config,
        ledger=Ledger(aws.table(config.ledger_table)),
        sfn=aws.client("stepfunctions"),
        sns=aws.client("sns"),
        lambda_=aws.client("lambda"),
    )


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    if "RequestType" not in event:
        arn = trigger.scheduled_run(_trigger(), event)
        metrics.add_metric(name="RunsScheduled", unit="Count", value=1)
        return {"executionArn": arn}
    try:
        if trigger.custom_resource(_trigger(), event, context):
            metrics.add_metric(name="RunsTriggered", unit="Count", value=1)
    except Exception as error:  # noqa: BLE001 - every failure must reach CloudFormation as FAILED
        logger.exception("trigger failed")
        trigger.answer(event, "FAILED", reason=f"{type(error).__name__}: {error}")
    return None
