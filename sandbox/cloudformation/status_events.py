"""CloudFormation's "Stack Status Change" events on EventBridge.

AWS: every status change of a stack puts an event on the default event bus of the stack's
account and region, where rules match it and deliver it to their targets:

    {"source": "aws.cloudformation", "detail-type": "CloudFormation Stack Status Change",
     "account": ACCOUNT, "region": REGION, "resources": [STACK_ID],
     "detail": {"stack-id": STACK_ID,
                "status-details": {"status": "CREATE_COMPLETE", "status-reason": ""}}}

A stack tells `StatusChangeEvents.publish` of each change under its lock; the events go out
on one thread, in the order they were published, so a stack's events keep their order and
a slow or failing delivery never holds up or breaks a stack operation.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sandbox.cloudformation.model import Stack, StackEvent

LOG = logging.getLogger("dataall_installer.sandbox.cloudformation")

SOURCE = "aws.cloudformation"
DETAIL_TYPE = "CloudFormation Stack Status Change"

#: put(region, account_id, entry): one PutEvents entry on the default bus
PutEvent = Callable[[str, str, dict[str, Any]], None]


def status_change_entry(stack: Stack, event: StackEvent) -> dict[str, Any]:
    """The PutEvents entry of one status change (`Detail` is JSON text, as in PutEvents)."""
    detail = {
        "stack-id": stack.stack_id,
        "status-details": {"status": event.status, "status-reason": event.reason or ""},
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [stack.stack_id],
        "Detail": json.dumps(detail),
        "Time": event.timestamp.timestamp(),
    }


class StatusChangeEvents:
    """Puts every stack status change on the default event bus, off the stack's thread."""

    def __init__(self, put: PutEvent) -> None:
        self.put = put
        self._queue: queue.SimpleQueue[tuple[int, str, str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._generation = 0
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def publish(self, stack: Stack, event: StackEvent) -> None:
        """A stack's `on_status`: queue the event; never blocks, never raises."""
        try:
            entry = status_change_entry(stack, event)
        except Exception:  # a status change is never the victim of its event
            LOG.exception("no status change event for stack %s", stack.name)
            return
        with self._lock:
            if self._closed:
                return
            with self._idle:
                self._pending += 1
            self._queue.put((self._generation, stack.context.region, stack.context.account_id, entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver, name="cfn-status-events", daemon=True)
                self._thread.start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every event published so far has been put on its bus (tests, benchmarks)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def forget_all(self) -> None:
        """Drop the events not yet delivered (a reset: their stacks and buses are gone)."""
        self._generation += 1

    def shutdown(self) -> None:
        """Deliver what is queued, then stop (nothing is published after this)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join(timeout=5)

    def _deliver(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            generation, region, account_id, entry = item
            try:
                if generation == self._generation:
                    self.put(region, account_id, entry)
            except Exception:
                LOG.exception("could not put a %s event for %s on the default bus", DETAIL_TYPE, entry["Resources"])
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
