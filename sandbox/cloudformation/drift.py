"""Drift detection: does each resource still have the properties its stack applied?

- DetectStackDrift starts a detection and answers its id at once; the detection takes
  its modelled time (the latency model's `(DetectStackDrift)` row, through the sandbox
  clock), then reads every resource that has a reader and compares. Only one detection
  runs on a stack at a time.
- DetectStackResourceDrift checks one resource, synchronously.
- A resource is IN_SYNC, MODIFIED (with its property differences), DELETED (gone from
  its service), or UNKNOWN (the read itself failed: the detection ends DETECTION_FAILED,
  the resources it could check keep their results). A type without a reader is not
  checked: it stays NOT_CHECKED, is left out of DescribeStackResourceDrifts, and does not
  make the stack drift, as in AWS for types without drift detection.
- The stack is DRIFTED if a resource is MODIFIED or DELETED; else UNKNOWN if a check
  failed; else IN_SYNC.

The comparison is AWS's: only the properties the template set (and a reader can read)
are compared, expected values as the stack applied them (after `Ref`, `Fn::*` and
parameters), with AWS's normalization: a number or boolean equals its text ("30" and
30), a JSON document given as text equals the same document as an object, and list
properties AWS treats as sets (`Tags` ...) are compared whatever their order. Properties
holding a dynamic reference (`{{resolve:...}}`) are not compared: the stack never kept
their values. Differences have AWS's JSON-pointer paths (`/RedrivePolicy/maxReceiveCount`),
values as text, and kinds NOT_EQUAL, REMOVE (a property the template set is gone) and
ADD (an element or key the template did not set appeared inside a property it did set).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from sandbox.cloudformation.errors import ValidationError
from sandbox.cloudformation.model import (
    COMPLETE_STATES,
    DriftDetection,
    PropertyDifference,
    ResourceDrift,
    Stack,
    StackResource,
    now,
)
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.readers import READERS, ReadFailed, ReadRequest, ResourceReader

LOG = logging.getLogger("dataall_installer.sandbox.cloudformation")

#: where AWS accepts a drift detection: the stack's last operation completed, or its
#: rollback failed (its resources are still there to check)
DRIFT_DETECTABLE_STATES = COMPLETE_STATES | {"UPDATE_ROLLBACK_FAILED"}
#: detections kept per stack for DescribeStackDriftDetectionStatus (AWS keeps "a few")
DETECTIONS_KEPT = 20
DRIFTED_STATES = frozenset({"MODIFIED", "DELETED"})
_DYNAMIC_REFERENCE = "{{resolve:"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")

Wait = Callable[[float, threading.Event], bool]
Spawn = Callable[[str, Callable[[threading.Event], None]], None]


# --------------------------------------------------------------------------- comparison
def compared_properties(expected: Mapping[str, Any] | None, reader: ResourceReader) -> dict[str, Any]:
    """The template's properties drift detection compares: those its reader can read,
    without the ones that hold a dynamic reference."""
    return {
        name: value
        for name, value in (expected or {}).items()
        if name in reader.properties and value is not None and not _has_dynamic_reference(value)
    }


def differences(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    unordered: Mapping[str, str | None] | None = None,
) -> list[PropertyDifference]:
    """AWS's PropertyDifferences between the template's properties and the live ones.

    `unordered`: list properties compared as sets, their elements matched by this key (None:
    by the whole element).
    """
    found: list[PropertyDifference] = []
    for name, value in expected.items():
        path = "/" + _escape(name)
        if name not in actual:
            found.append(PropertyDifference(path, _text(value), "null", "REMOVE"))
        elif unordered is not None and name in unordered:
            found.extend(_set_differences(path, _canonical(value), _canonical(actual[name]), unordered[name]))
        else:
            found.extend(_differences(path, _canonical(value), _canonical(actual[name])))
    return found


def values_equal(expected: Any, actual: Any) -> bool:
    """Equal as AWS compares property values (numbers and booleans equal their text, JSON
    text equals its document)."""
    return _equal(_canonical(expected), _canonical(actual))


def typed_like(expected: Any, actual: Any) -> Any:
    """The template's value in the types the service answers with, as ExpectedProperties shows
    it (AWS's typed schema: a template's "30" is `30` there, a policy given as text an object)."""
    if isinstance(expected, str) and isinstance(actual, dict | list):
        parsed = _canonical(expected)
        return expected if isinstance(parsed, str) else typed_like(parsed, actual)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: typed_like(value, actual[key]) if key in actual else value for key, value in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list):
        return [
            typed_like(value, actual[index]) if index < len(actual) else value for index, value in enumerate(expected)
        ]
    if isinstance(expected, str) and isinstance(actual, bool):
        text = expected.strip().lower()
        return text == "true" if text in ("true", "false") else expected
    if isinstance(expected, str) and isinstance(actual, int | float):
        number = _number(expected)
        if number is None:
            return expected
        return int(number) if isinstance(actual, int) and number.is_integer() else number
    return expected


def _differences(path: str, expected: Any, actual: Any) -> list[PropertyDifference]:
    if _equal(expected, actual):
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[PropertyDifference] = []
        for key, value in expected.items():
            child = f"{path}/{_escape(key)}"
            if key not in actual:
                found.append(PropertyDifference(child, _text(value), "null", "REMOVE"))
            else:
                found.extend(_differences(child, value, actual[key]))
        for key, value in actual.items():
            if key not in expected:
                found.append(PropertyDifference(f"{path}/{_escape(key)}", "null", _text(value), "ADD"))
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        found = []
        for index in range(max(len(expected), len(actual))):
            child = f"{path}/{index}"
            if index >= len(actual):
                found.append(PropertyDifference(child, _text(expected[index]), "null", "REMOVE"))
            elif index >= len(expected):
                found.append(PropertyDifference(child, "null", _text(actual[index]), "ADD"))
            else:
                found.extend(_differences(child, expected[index], actual[index]))
        return found
    return [PropertyDifference(path, _text(expected), _text(actual), "NOT_EQUAL")]


def _set_differences(path: str, expected: Any, actual: Any, key: str | None) -> list[PropertyDifference]:
    """A list compared as a set: an expected element missing is REMOVE (at its index in the
    template), one changed (same key) is compared, one not expected is ADD (at its index in
    the service's answer)."""
    if not (isinstance(expected, list) and isinstance(actual, list)):
        return _differences(path, expected, actual)
    unmatched = list(enumerate(actual))
    found: list[PropertyDifference] = []
    for index, element in enumerate(expected):
        match = next((entry for entry in unmatched if _same_element(element, entry[1], key)), None)
        if match is None:
            found.append(PropertyDifference(f"{path}/{index}", _text(element), "null", "REMOVE"))
            continue
        unmatched.remove(match)
        found.extend(_differences(f"{path}/{index}", element, match[1]))
    found.extend(PropertyDifference(f"{path}/{index}", "null", _text(element), "ADD") for index, element in unmatched)
    return found


def _same_element(expected: Any, actual: Any, key: str | None) -> bool:
    if key is not None and isinstance(expected, dict) and isinstance(actual, dict) and key in expected:
        return _equal(expected[key], actual.get(key))
    return _equal(expected, actual)


def _canonical(value: Any) -> Any:
    """JSON documents given as text become their objects; everything else stays."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return _canonical(json.loads(text))
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_equal(expected[key], actual[key]) for key in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_equal(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return False
    return _scalars_equal(expected, actual)


def _scalars_equal(expected: Any, actual: Any) -> bool:
    """`30` equals "30", `true` equals "true" (templates often give numbers and booleans as
    text; APIs answer some as text)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        if isinstance(expected, bool) and isinstance(actual, bool):
            return expected == actual
        text = expected if isinstance(expected, str) else actual
        flag = expected if isinstance(expected, bool) else actual
        return isinstance(text, str) and text.strip().lower() == ("true" if flag else "false")
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, int | float) and isinstance(actual, str):
        return _number(actual) == float(expected)
    if isinstance(actual, int | float) and isinstance(expected, str):
        return _number(expected) == float(actual)
    return bool(expected == actual)


def _number(text: str) -> float | None:
    """The number a JSON number literal says ("30", "-1.5", "1e3"); None for other text."""
    return float(text) if _NUMBER.fullmatch(text.strip()) else None


def _text(value: Any) -> str:
    """A value as PropertyDifference shows it: scalars as text, objects and lists as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _escape(name: Any) -> str:
    """A JSON pointer token (RFC 6901)."""
    return str(name).replace("~", "~0").replace("/", "~1")


def _has_dynamic_reference(value: Any) -> bool:
    if isinstance(value, str):
        return _DYNAMIC_REFERENCE in value
    if isinstance(value, dict):
        return any(_has_dynamic_reference(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_dynamic_reference(item) for item in value)
    return False


# --------------------------------------------------------------------------- checking
class CheckFailed(Exception):
    """A resource could not be checked for drift; the message is AWS's failure reason."""


def check(record: StackResource, region: str, clients: ServiceClients, reader: ResourceReader) -> ResourceDrift:
    """Read one resource and compare it with what its stack applied; raises CheckFailed."""
    physical_id = record.physical_id
    if physical_id is None:  # never made (its create failed before the handler answered)
        raise CheckFailed(f"Resource {record.logical_id} has no physical resource to check")
    expected = compared_properties(record.properties, reader)
    request = ReadRequest(region=region, physical_id=physical_id, wanted=frozenset(expected))
    try:
        live = reader.read(clients, request)
    except ReadFailed as error:
        raise CheckFailed(str(error)) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        raise CheckFailed(str(details.get("Message") or details.get("Code") or error)) from error
    except Exception as error:
        LOG.exception("reading %s (%s) for drift failed in the sandbox", record.logical_id, record.resource_type)
        raise CheckFailed(f"Internal Failure: {type(error).__name__}: {error}") from error
    if live is None:
        return ResourceDrift("DELETED", physical_id, now(), expected=expected)
    actual = {name: live[name] for name in expected if name in live}
    found = tuple(differences(expected, actual, reader.unordered))
    return ResourceDrift(
        "MODIFIED" if found else "IN_SYNC",
        physical_id,
        now(),
        expected=typed_like(expected, actual),
        actual=actual,
        differences=found,
    )


def _checkable(record: StackResource) -> bool:
    """A resource the stack has now (not one it deleted or never made)."""
    return record.provisioned is not None and not record.status.startswith("DELETE_")


class DriftDetector:
    """Runs drift detections and checks on the stacks of a sandbox's CloudFormation."""

    def __init__(
        self,
        clients: ServiceClients,
        *,
        wait: Wait,
        spawn: Spawn,
        duration: Callable[[], float],
        readers: Mapping[str, ResourceReader] = READERS,
    ) -> None:
        self._clients = clients
        self._wait = wait
        self._spawn = spawn
        self._duration = duration
        self._readers = dict(readers)

    # ------------------------------------------------------------------ DetectStackDrift
    def detect_stack(self, stack: Stack, logical_ids: Iterable[str] | None) -> DriftDetection:
        """Start a detection (DETECTION_IN_PROGRESS); it ends in the background."""
        wanted = tuple(dict.fromkeys(logical_ids)) if logical_ids else None
        with stack.lock:
            _guard_detectable(stack)
            if wanted is not None:
                for logical_id in wanted:
                    _resource(stack, logical_id)
            running = next((d for d in stack.drift_detections.values() if d.in_progress), None)
            if running is not None:
                raise ValidationError(f"Drift detection is already in progress for stack [{stack.stack_id}]")
            detection = DriftDetection(detection_id=str(uuid.uuid4()), stack_id=stack.stack_id, logical_ids=wanted)
            stack.drift_detections[detection.detection_id] = detection
            for old in list(stack.drift_detections)[:-DETECTIONS_KEPT]:
                del stack.drift_detections[old]
        self._spawn(f"drift-{stack.name}", lambda stop: self._run(stack, detection, stop))
        return detection

    def _run(self, stack: Stack, detection: DriftDetection, stop: threading.Event) -> None:
        if self._wait(self._duration(), stop):
            return  # the sandbox was reset or stopped
        try:
            self._finish(stack, detection)
        except Exception:
            LOG.exception("drift detection %s of stack %s failed in the sandbox", detection.detection_id, stack.name)
            with stack.lock:
                detection.status, detection.reason = "DETECTION_FAILED", "Internal Failure"
                detection.stack_drift_status = "UNKNOWN"

    def _finish(self, stack: Stack, detection: DriftDetection) -> None:
        """Check the detection's resources now and record what it found."""
        with stack.lock:
            records = [
                record
                for record in stack.resources.values()
                if _checkable(record)
                and record.resource_type in self._readers
                and (detection.logical_ids is None or record.logical_id in detection.logical_ids)
            ]
        results: dict[str, ResourceDrift] = {}
        failures: dict[str, str] = {}
        for record in records:
            try:
                results[record.logical_id] = check(
                    record, stack.context.region, self._clients, self._readers[record.resource_type]
                )
            except CheckFailed as error:
                failures[record.logical_id] = str(error)
                results[record.logical_id] = ResourceDrift("UNKNOWN", record.physical_id, now(), reason=str(error))
        drifted = sum(1 for result in results.values() if result.status in DRIFTED_STATES)
        stack_status = "DRIFTED" if drifted else "UNKNOWN" if failures else "IN_SYNC"
        with stack.lock:
            for logical_id, result in results.items():
                current = stack.resources.get(logical_id)
                if current is not None:
                    current.drift = result
            stack.drift_status = stack_status
            stack.drift_checked = detection.timestamp
            detection.stack_drift_status = stack_status
            detection.drifted_count = drifted
            if failures:
                detection.status = "DETECTION_FAILED"
                detection.reason = _failure_reason(failures)
            else:
                detection.status = "DETECTION_COMPLETE"
                detection.reason = None

    # ------------------------------------------------------------------ DetectStackResourceDrift
    def detect_resource(self, stack: Stack, logical_id: str) -> tuple[StackResource, ResourceDrift]:
        """Check one resource now (AWS answers DetectStackResourceDrift synchronously)."""
        with stack.lock:
            _guard_detectable(stack)
            record = _resource(stack, logical_id)
        reader = self._readers.get(record.resource_type)
        if reader is None:
            raise ValidationError(f"Drift detection is not supported for resource type {record.resource_type}")
        started = now()
        try:
            result = check(record, stack.context.region, self._clients, reader)
        except CheckFailed as error:
            result = ResourceDrift("UNKNOWN", record.physical_id, now(), reason=str(error))
        with stack.lock:
            record.drift = result
            stack.drift_checked = started
        return record, result

    # ------------------------------------------------------------------ queries
    @staticmethod
    def detection(stacks: Iterable[Stack], detection_id: str) -> DriftDetection:
        for stack in stacks:
            with stack.lock:
                found = stack.drift_detections.get(detection_id)
            if found is not None:
                return found
        raise ValidationError(f"Drift detection [{detection_id}] does not exist")

    @staticmethod
    def resource_drifts(stack: Stack, statuses: Iterable[str] | None) -> list[dict[str, Any]]:
        """The last check of each resource that has been checked (DescribeStackResourceDrifts)."""
        wanted = set(statuses or ())
        with stack.lock:
            return [
                record.drift.describe(stack.stack_id, record.logical_id, record.resource_type)
                for record in stack.resources.values()
                if record.drift is not None and _checkable(record) and (not wanted or record.drift.status in wanted)
            ]


def _guard_detectable(stack: Stack) -> None:
    if stack.status not in DRIFT_DETECTABLE_STATES:
        raise ValidationError(
            f"Stack [{stack.stack_id}] is in {stack.status} state. Drift detection is supported only for stacks "
            f"in {', '.join(sorted(DRIFT_DETECTABLE_STATES))} states."
        )


def _resource(stack: Stack, logical_id: str) -> StackResource:
    record = stack.resources.get(logical_id)
    if record is None or not _checkable(record):
        raise ValidationError(f"Resource {logical_id} does not exist for stack {stack.name}")
    return record


def _failure_reason(failures: Mapping[str, str]) -> str:
    """AWS's DetectionStatusReason for a detection that could not check every resource."""
    return json.dumps(
        {
            "Summary": f"Failed to detect drift on resources [{','.join(failures)}]",
            "Failures": [{"Resource": logical_id, "FailureReason": reason} for logical_id, reason in failures.items()],
        },
        separators=(",", ":"),
    )
