"""The bootstrap stack's trigger: stack events and schedules become runs.

    stack Create                         -> an install run
    Update with a new ReleaseVersion     -> an upgrade run
    Update of the installer's options    -> a redeploy run with the new options
    Update with nothing of ours changed  -> no run
    Delete, OnDelete=Retain              -> no run; the stage stacks stay, the notification says so
    Delete, OnDelete=Destroy             -> an uninstall run; the answer waits for its end
    a schedule's event                   -> a redeploy run

A run lasts longer than a custom resource may wait, so Create and Update answer
CloudFormation at once; the run's outcome reaches the operator by SNS and the stack's
outputs. A Destroy must finish before CloudFormation deletes the workflow itself, so the
trigger follows the uninstall, handing the wait on to a fresh invocation of itself before
Lambda's timeout. Every request is answered, FAILED with the reason on any error:
CloudFormation is never left waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdas.core import cfn_response
from lambdas.core.observability import logger
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger
from lambdas.run.refusals import refused
from lambdas.run.starting import start_run

#: Hand the wait on to a fresh invocation this long before Lambda's timeout.
HANDOVER_MARGIN_SECONDS = 60
POLL_SECONDS = 15


def decide(event: dict[str, Any], *, installed: bool = True) -> dict[str, Any] | None:
    """The run a CloudFormation request asks for, or None.

    An update passes on only the options whose parameter changed in it: an option the stack did
    not change keeps the installation's value, which a run started by hand (`run --option`) may
    have set; no run reverts an option silently. With nothing `installed` (the stack's install was
    refused, or failed and rolled back), there is no installation's value to keep: an update that
    changes what the installer uses installs, with every option of the stack, as its Create would."""
    request = event["RequestType"]
    new = event.get("ResourceProperties", {})
    options = {k: v for k, v in (new.get("Options") or {}).items() if v != ""}
    if request == "Create":
        return {"action": "install", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
    if request == "Update":
        old = event.get("OldResourceProperties", {})
        ours = ("ReleaseVersion", "Options")
        if not installed and any(new.get(key) != old.get(key) for key in ours):
            return {"action": "install", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
        before = old.get("Options") or {}
        options = {k: v for k, v in options.items() if before.get(k) != v}
        if new.get("ReleaseVersion") != old.get("ReleaseVersion"):
            return {"action": "upgrade", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
        if (new.get("Options") or {}) != (old.get("Options") or {}):
            return {"action": "redeploy", "version": new["ReleaseVersion"], "options": options, "source": "trigger"}
        return None
    if request == "Delete" and new.get("OnDelete") == "Destroy":
        return {"action": "uninstall", "source": "trigger"}
    return None


def answer(event: dict[str, Any], status: str, reason: str = "", data: dict[str, Any] | None = None) -> None:
    physical_id = event.get("PhysicalResourceId") or f"{event['StackId'].split('/')[1]}-installer"
    cfn_response.send(event, status, physical_resource_id=physical_id, reason=reason, data=data)


@dataclass
class Trigger:
    """What the trigger works with: its settings, the ledger and its AWS clients."""

    settings: Settings
    ledger: Ledger
    sfn: Any
    sns: Any
    lambda_: Any
    sleep: Callable[[float], None] = field(default=time.sleep)


def notify(trigger: Trigger, subject: str, message: str) -> None:
    if trigger.settings.topic_arn:
        trigger.sns.publish(TopicArn=trigger.settings.topic_arn, Subject=subject[:100], Message=message)


def retained_stages(trigger: Trigger) -> list[str]:
    return sorted(record.stack_name for record in trigger.ledger.stages().values())


def follow_uninstall(trigger: Trigger, event: dict[str, Any], context: Any, execution_arn: str) -> None:
    """Wait for the uninstall; answer when it ends, or hand the wait on before the timeout.

    CloudFormation deletes the workflow once this resource's Delete is answered, so the answer
    waits for the uninstall run; a Lambda may not outlive 15 minutes, so a fresh invocation of
    this function takes the wait over shortly before the timeout.
    """
    while True:
        execution = trigger.sfn.describe_execution(executionArn=execution_arn)
        refusal = refused(execution)
        if refusal is not None:
            # Nothing was uninstalled: deleting the workflow now would orphan every stage.
            answer(
                event,
                "FAILED",
                reason=f"the uninstall run {execution_arn} was refused ({refusal.get('code')}): "
                f"{refusal.get('reason')}; nothing was uninstalled, the stack stays so it can be deleted again",
            )
            return
        if execution["status"] == "SUCCEEDED":
            answer(event, "SUCCESS", data={"Action": "uninstall", "ExecutionArn": execution_arn})
            return
        if execution["status"] != "RUNNING":
            answer(
                event,
                "FAILED",
                reason=f"the uninstall run {execution_arn} ended {execution['status']}: "
                f"{execution.get('cause') or execution.get('error') or ''}; the stack stays so it can be "
                "deleted again once the cause is fixed",
            )
            return
        if context.get_remaining_time_in_millis() / 1000 < HANDOVER_MARGIN_SECONDS + POLL_SECONDS:
            trigger.lambda_.invoke(
                FunctionName=context.invoked_function_arn,
                InvocationType="Event",
                Payload=json.dumps({**event, "WaitFor": execution_arn}).encode(),
            )
            logger.info("handed the wait for the uninstall on", extra={"execution": execution_arn})
            return
        trigger.sleep(POLL_SECONDS)


def custom_resource(trigger: Trigger, event: dict[str, Any], context: Any) -> str | None:
    """Answer a CloudFormation request with the run it asks for; returns the run's action."""
    if event.get("WaitFor"):
        follow_uninstall(trigger, event, context, event["WaitFor"])
        return None
    installed = event["RequestType"] != "Update" or trigger.ledger.current_release() is not None
    document = decide(event, installed=installed)
    state_machine = event["ResourceProperties"]["StateMachineArn"]
    if document is None:
        if event["RequestType"] == "Delete":
            stacks = retained_stages(trigger)
            notify(
                trigger,
                "dataall-installer: bootstrap stack deleted, platform retained",
                "The installer's bootstrap stack was deleted with OnDelete=Retain. These stage stacks stay "
                "and keep running; delete them by hand (newest dependants first) if you mean to remove the "
                "platform:\n" + "\n".join(f"  {name}" for name in stacks),
            )
            logger.info("stage stacks retained", extra={"stacks": stacks})
        answer(event, "SUCCESS", data={"Action": "none", "ExecutionArn": ""})
        return None
    arn = start_run(trigger.sfn, state_machine, document)
    logger.info("started a run", extra={"action": document["action"], "execution": arn})
    if document["action"] == "uninstall":
        follow_uninstall(trigger, event, context, arn)
    else:
        answer(event, "SUCCESS", data={"Action": document["action"], "ExecutionArn": arn})
    return str(document["action"])


def scheduled_run(trigger: Trigger, event: dict[str, Any]) -> str:
    """A schedule's event names the run to start (see the bootstrap stack's schedule)."""
    return start_run(trigger.sfn, trigger.settings.state_machine_arn, event)
