"""Starting runs: one naming rule and one input shape for every way in (trigger, CLI, console)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from lambdas.run.planning import validate_input


def execution_name(action: str, version: str | None) -> str:
    """`upgrade-2-8-0-1a2b3c4d`: the console's execution history reads like a changelog."""
    label = re.sub(r"[^0-9A-Za-z-]", "-", version or "current")
    return f"{action}-{label}-{uuid.uuid4().hex[:8]}"[:80]


def start_run(sfn: Any, state_machine_arn: str, document: dict[str, Any]) -> str:
    """Start an execution with a checked input; returns its ARN."""
    validate_input(document)
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution_name(
            ("plan-" if document.get("plan_only") else "") + document["action"], document.get("version")
        ),
        input=json.dumps(document),
    )
    return str(response["executionArn"])
