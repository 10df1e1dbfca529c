"""Work items and what the worker does with each kind.

A work item is a JSON object `{"action": "<name>", "payload": {...}}`. An item that
cannot be done raises; SQS delivers it again and, after three failures, moves it to the
dead-letter queue, where the monitoring stage's alarm sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownAction(ValueError):
    pass


@dataclass(frozen=True)
class WorkItem:
    action: str
    payload: dict[str, Any]
    message_id: str

    @classmethod
    def parse(cls, body: str, message_id: str) -> WorkItem:
        document = json.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("action"), str):
            raise ValueError("a work item is a JSON object with a string 'action'")
        payload = document.get("payload", {})
        if not isinstance(payload, dict):
            raise ValueError("a work item's 'payload' is a JSON object")
        return cls(action=document["action"], payload=payload, message_id=message_id)


def ping(payload: dict[str, Any]) -> dict[str, Any]:
    """Proves the queue-to-worker path end to end (canaries and operators send it)."""
    return {"pong": payload.get("id")}


ACTIONS: dict[str, Handler] = {"ping": ping}


def perform(item: WorkItem, actions: dict[str, Handler] = ACTIONS) -> dict[str, Any]:
    action = actions.get(item.action)
    if action is None:
        raise UnknownAction(f"no handler for action {item.action!r}; known: {sorted(actions)}")
    return action(item.payload)
