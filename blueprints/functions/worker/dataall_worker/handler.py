"""SQS event source handler: each work item succeeds or fails on its own.

Failed items are reported back (ReportBatchItemFailures) so that only they are retried.
On a FIFO queue the batch processor stops at the first failure of a message group and
reports the rest of the batch as failed too, which keeps the group's order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from dataall_worker.tasks import WorkItem, perform

logger = Logger()
processor = SqsFifoPartialProcessor()


def record_handler(record: SQSRecord) -> dict[str, Any]:
    item = WorkItem.parse(record.body, record.message_id)
    result = perform(item)
    logger.info("work item done", extra={"action": item.action, "message_id": item.message_id})
    return result


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
