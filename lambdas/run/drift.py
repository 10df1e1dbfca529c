"""Drift: resources changed outside CloudFormation, detected on every redeploy and reported.

A redeploy puts back what CloudFormation can see (a stack deleted or edited by hand); a
property changed behind CloudFormation's back (a queue's timeout set in the console) leaves
the template unchanged, so only DetectStackDrift finds it. Plan starts a detection on every
deployed stage; the DriftReport step waits for them and records what drifted, which the
notification and `status` report. Drift is reported, never "fixed" silently.
"""

from __future__ import annotations

from typing import Any

from lambdas.core.deps import Deps
from lambdas.data.aws import ClientError
from lambdas.data.records import RunUpdate, StageRecord
from lambdas.data.stacks import STABLE, guard_throttling, region_of_stack

POLL = 15


def start_detections(deps: Deps, stages: dict[str, StageRecord]) -> dict[str, str]:
    """Start a drift detection on every deployed stage whose stack is settled: {stage: id}."""
    started = {}
    for name in sorted(stages):
        there = deps.in_region(region_of_stack(stages[name].stack_id))
        stack = there.stacks.describe(deps.settings.stack_name(name))
        if stack is None or stack.status not in STABLE:
            continue
        try:
            answer = there.stacks.cfn.detect_stack_drift(StackName=stack.stack_id)
        except ClientError as error:
            guard_throttling(error)
            continue  # a detection already running on it (someone else's): not ours to report
        started[name] = answer["StackDriftDetectionId"]
    return started


def collect(deps: Deps, run: str) -> dict[str, Any]:
    """{"done", "wait", "drift"}: the detections' results, once all of them have finished."""
    meta = deps.ledger.run(run)
    detections = meta.drift_detections if meta is not None else {}
    report: dict[str, Any] = {}
    stages = deps.ledger.stages() if detections else {}
    for stage, detection in sorted(detections.items()):
        record = stages.get(stage)
        there = deps.in_region(region_of_stack(record.stack_id) if record else None)
        try:
            status = there.stacks.cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
        except ClientError as error:
            guard_throttling(error)
            report[stage] = {"status": "UNKNOWN", "reason": str(error)}
            continue
        if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
            return {"done": False, "wait": POLL}
        report[stage] = {"status": status.get("StackDriftStatus", "UNKNOWN")}
        if status.get("StackDriftStatus") == "DRIFTED":
            report[stage]["resources"] = _drifted_resources(there, status["StackId"])
    drifted = sorted(stage for stage, found in report.items() if found["status"] == "DRIFTED")
    deps.ledger.update_run(run, RunUpdate(drift=report, drifted_stages=drifted))
    return {"done": True, "wait": 0, "drifted": drifted}


def _drifted_resources(deps: Deps, stack_id: str) -> list[dict[str, Any]]:
    drifts = deps.stacks.cfn.describe_stack_resource_drifts(
        StackName=stack_id, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"]
    )["StackResourceDrifts"]
    return [
        {
            "resource": drift["LogicalResourceId"],
            "type": drift["ResourceType"],
            "status": drift["StackResourceDriftStatus"],
            "differences": [
                {"path": d["PropertyPath"], "expected": d.get("ExpectedValue"), "actual": d.get("ActualValue")}
                for d in drift.get("PropertyDifferences", [])
            ],
        }
        for drift in drifts
    ]
