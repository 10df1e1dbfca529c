"""The bootstrap stack's trigger: a custom resource that turns stack events into runs.

    stack Create                         -> an install run
    Update with a new ReleaseVersion     -> an upgrade run
    Update of the installer's options    -> a redeploy run with the new options
    Update with nothing of ours changed  -> no run
    Delete                               -> OnDelete=Retain: no run; the stages stay

A run lasts longer than a custom resource may wait, so Create and Update answer
CloudFormation at once; the run's outcome reaches the operator by SNS. Every request is
answered, FAILED with the reason on any error: CloudFormation is never left waiting.
"""

from __future__ import annotations

from typing import Any

from lambdas import aws, cfn_response
from lambdas.observability import logger, metrics, tracer
from lambdas.runs import start_run


def decide(event: dict[str, Any]) -> dict[str, Any] | None:
    """The run a CloudFormation request asks for, or None."""
    request = event["RequestType"]
    new = event.get("ResourceProperties", {})
    options = {k: v for k, v in (new.get("Options") or {}).items() if v != ""}
    if request == "Create":
        return {"action": "install", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
    if request == "Update":
        old = event.get("OldResourceProperties", {})
        if new.get("ReleaseVersion") != old.get("ReleaseVersion"):
            return {"action": "upgrade", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
        if (new.get("Options") or {}) != (old.get("Options") or {}):
            return {"action": "redeploy", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
        return None
    return None


def answer(event: dict[str, Any], status: str, reason: str = "", data: dict[str, Any] | None = None) -> None:
    physical_id = event.get("PhysicalResourceId") or f"{event['StackId'].split('/')[1]}-installer"
    cfn_response.send(event, status, physical_resource_id=physical_id, reason=reason, data=data)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> None:
    try:
        document = decide(event)
        data: dict[str, Any] = {"Action": "none", "ExecutionArn": ""}
        if document is not None:
            arn = start_run(aws.client("stepfunctions"), event["ResourceProperties"]["StateMachineArn"], document)
            data = {"Action": document["action"], "ExecutionArn": arn}
            metrics.add_metric(name="RunsTriggered", unit="Count", value=1)
            logger.info("started a run", extra={"run": data})
        elif event["RequestType"] == "Delete":
            logger.info("bootstrap stack deleted: the stage stacks are retained (OnDelete=Retain)")
        answer(event, "SUCCESS", data=data)
    except Exception as error:  # noqa: BLE001 - every failure must reach CloudFormation as FAILED
        logger.exception("trigger failed")
        answer(event, "FAILED", reason=f"{type(error).__name__}: {error}")
