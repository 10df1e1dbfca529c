"""CloudFormation's custom-resource protocol: the answer, sent once, and always sent.

CloudFormation waits up to an hour for a custom resource's answer, PUT to the request's
pre-signed `ResponseURL`. A handler that raises, or that Lambda stops at its timeout,
sends nothing, so `serve` answers FAILED on an exception and a watchdog answers FAILED
shortly before the timeout; whichever answers first wins, the other is dropped.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdas.core.observability import logger, metrics

#: CloudFormation refuses an answer larger than this.
RESPONSE_LIMIT_BYTES = 4096
#: The watchdog answers FAILED this long before Lambda would stop the function.
WATCHDOG_MARGIN_SECONDS = 10.0

Sender = Callable[..., None]


def send(
    event: dict[str, Any],
    status: str,
    *,
    physical_resource_id: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    no_echo: bool = False,
) -> None:
    """PUT the answer to `event["ResponseURL"]`."""
    answer: dict[str, Any] = {
        "Status": status,
        "Reason": reason[:3000] or status,
        "PhysicalResourceId": physical_resource_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data or {},
    }
    if no_echo:
        answer["NoEcho"] = True
    body = json.dumps(answer).encode()
    if len(body) > RESPONSE_LIMIT_BYTES:
        overflow = len(body) - RESPONSE_LIMIT_BYTES
        answer["Reason"] = answer["Reason"][: max(len(answer["Reason"]) - overflow - 3, 40)] + "..."
        body = json.dumps(answer).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's pre-signed S3 URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


class Responder:
    """Answers one request at most once: the work or the watchdog, whichever comes first."""

    def __init__(self, event: dict[str, Any], sender: Sender = send) -> None:
        self._event = event
        self._sender = sender
        self._lock = threading.Lock()
        self.status: str | None = None

    def answer(
        self,
        status: str,
        *,
        physical_resource_id: str,
        reason: str = "",
        data: dict[str, Any] | None = None,
        no_echo: bool = False,
    ) -> bool:
        """Send the answer unless one was sent already; True if this one was sent."""
        with self._lock:
            if self.status is not None:
                logger.warning("already answered; a late answer dropped", extra={"late": status, "sent": self.status})
                return False
            self._sender(
                self._event,
                status,
                physical_resource_id=physical_resource_id,
                reason=reason,
                data=data,
                no_echo=no_echo,
            )
            self.status = status
            logger.info("answered CloudFormation", extra={"status": status, "physical_id": physical_resource_id})
            return True


@dataclass(frozen=True)
class Outcome:
    """What a successful request answers."""

    physical_resource_id: str
    data: dict[str, Any] = field(default_factory=dict)
    no_echo: bool = False


class Deadline:
    """When Lambda will stop the function (a monotonic clock, from the invocation's context)."""

    def __init__(self, seconds_left: float) -> None:
        self._at = time.monotonic() + seconds_left

    @classmethod
    def of(cls, context: Any) -> Deadline:
        return cls(context.get_remaining_time_in_millis() / 1000)

    def remaining(self) -> float:
        return self._at - time.monotonic()


def serve(
    event: dict[str, Any],
    context: Any,
    work: Callable[[Deadline], Outcome],
    *,
    failed_physical_id: str,
    sender: Sender = send,
) -> str:
    """Run `work` and answer CloudFormation with its outcome; FAILED with the reason on an
    exception, or from the watchdog when the work is still running near the timeout.

    `failed_physical_id` is what a FAILED answer names: CloudFormation's rollback sends
    Delete for it, so a failed Create names what it may have created.
    """
    responder = Responder(event, sender)
    deadline = Deadline.of(context)
    what = f"{event.get('RequestType')} of {event.get('LogicalResourceId')} ({event.get('ResourceType')})"

    def out_of_time() -> None:
        try:
            responder.answer(
                "FAILED",
                physical_resource_id=failed_physical_id,
                reason=f"Timeout: the {what} was still running {WATCHDOG_MARGIN_SECONDS:.0f} s before the "
                "provider's Lambda timeout; answered FAILED rather than leave CloudFormation waiting (see the "
                "function's log for what it was doing)",
            )
        except Exception:  # noqa: BLE001 - a thread has nobody to raise to
            logger.exception("the watchdog could not answer CloudFormation")

    watchdog = threading.Timer(max(deadline.remaining() - WATCHDOG_MARGIN_SECONDS, 0.0), out_of_time)
    watchdog.daemon = True
    watchdog.start()
    try:
        outcome = work(deadline)
        responder.answer(
            "SUCCESS",
            physical_resource_id=outcome.physical_resource_id,
            data=outcome.data,
            no_echo=outcome.no_echo,
        )
    except Exception as error:  # noqa: BLE001 - every failure must reach CloudFormation as FAILED
        logger.exception(f"the {what} failed")
        responder.answer("FAILED", physical_resource_id=failed_physical_id, reason=f"{type(error).__name__}: {error}")
    finally:
        watchdog.cancel()
    return responder.status or "UNANSWERED"


def answer_request(
    event: dict[str, Any], context: Any, work: Callable[[Deadline], Outcome], *, failed_physical_id: str, metric: str
) -> str:
    """A custom resource provider's handler: the request logged, `serve`d, and counted (`metric`, or
    `<metric>Failed` when the answer was not SUCCESS)."""
    logger.info(
        "custom resource request",
        extra={
            "request": event.get("RequestType"),
            "resource_type": event.get("ResourceType"),
            "logical_id": event.get("LogicalResourceId"),
            "physical_id": event.get("PhysicalResourceId"),
        },
    )
    status = serve(event, context, work, failed_physical_id=failed_physical_id)
    metrics.add_metric(name=metric if status == "SUCCESS" else f"{metric}Failed", unit="Count", value=1)
    return status
