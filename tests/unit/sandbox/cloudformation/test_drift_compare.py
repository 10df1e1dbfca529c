"""Drift detection's comparison (AWS's normalization and PropertyDifferences) and the
detector's bookkeeping, without a sandbox: readers here are stand-ins."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from lambdas.stage.latency import LatencyModel
from sandbox.cloudformation.drift import (
    DETECTIONS_KEPT,
    DriftDetector,
    compared_properties,
    differences,
    typed_like,
    values_equal,
)
from sandbox.cloudformation.errors import ValidationError
from sandbox.cloudformation.model import PropertyDifference, Stack, StackResource
from sandbox.cloudformation.providers.base import Provisioned, StackContext
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.readers import ReadFailed, ReadRequest, ResourceReader

TAGS = [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}]


def diff(path: str, expected: str, actual: str, kind: str) -> PropertyDifference:
    return PropertyDifference(path, expected, actual, kind)


# --------------------------------------------------------------------------- normalization
@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("30", 30),
        (30, "30"),
        ("1.5", 1.5),
        (60.0, 60),
        (True, "true"),
        ("false", False),
        ("TRUE", True),
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ({"Statement": []}, '{"Statement":[]}'),
        ({"n": "3"}, {"n": 3}),
    ],
)
def test_numbers_booleans_and_json_text_equal_their_values(expected: Any, actual: Any) -> None:
    """AWS: a template's "30" is the integer 30 the service answers; a policy given as text
    is the document the service answers as an object."""
    assert values_equal(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("30", "30.0"),  # two texts are compared as text
        (True, 1),  # a boolean is not a number
        ("thirty", 30),
        ("1_000", 1000),  # Python reads it as a number, JSON does not
        ({"a": 1}, {"a": 1, "b": 2}),
        ([1, 2], [2, 1]),
        ("{not json", {"not": "json"}),
    ],
)
def test_values_that_differ_are_not_equal(expected: Any, actual: Any) -> None:
    assert not values_equal(expected, actual)


# --------------------------------------------------------------------------- PropertyDifferences
def test_a_changed_value_is_not_equal_at_its_path() -> None:
    """AWS: `/RedrivePolicy/maxReceiveCount`, values as text."""
    expected = {"DelaySeconds": "20", "RedrivePolicy": {"deadLetterTargetArn": "arn:dlq", "maxReceiveCount": 10}}
    actual = {"DelaySeconds": 120, "RedrivePolicy": {"deadLetterTargetArn": "arn:dlq", "maxReceiveCount": 12}}

    assert differences(expected, actual) == [
        diff("/DelaySeconds", "20", "120", "NOT_EQUAL"),
        diff("/RedrivePolicy/maxReceiveCount", "10", "12", "NOT_EQUAL"),
    ]


def test_equal_properties_have_no_differences() -> None:
    expected = {"Timeout": "3", "Environment": {"Variables": {"A": "1"}}}
    actual = {"Timeout": 3, "Environment": {"Variables": {"A": "1"}}}

    assert differences(expected, actual) == []


def test_a_property_gone_from_the_service_is_remove() -> None:
    """AWS: REMOVE "the property has been removed from the current resource configuration"."""
    assert differences({"RetentionInDays": 7}, {}) == [diff("/RetentionInDays", "7", "null", "REMOVE")]


def test_values_added_inside_a_property_are_add_and_removed_ones_remove() -> None:
    expected = {"Environment": {"Variables": {"COLOUR": "blue", "SIZE": "3"}}, "Layers": ["a", "b"]}
    actual = {"Environment": {"Variables": {"COLOUR": "blue", "DEBUG": "1"}}, "Layers": ["a", "b", "c"]}

    assert differences(expected, actual) == [
        diff("/Environment/Variables/SIZE", "3", "null", "REMOVE"),
        diff("/Environment/Variables/DEBUG", "null", "1", "ADD"),
        diff("/Layers/2", "null", "c", "ADD"),
    ]


def test_a_list_element_is_compared_at_its_index() -> None:
    expected = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    actual = {"Statement": [{"Effect": "Deny", "Action": "s3:GetObject"}]}

    assert differences(expected, actual) == [diff("/Statement/0/Effect", "Allow", "Deny", "NOT_EQUAL")]


def test_a_value_of_another_kind_is_not_equal_with_objects_as_compact_json() -> None:
    assert differences({"Policy": {"a": 1}}, {"Policy": ["a"]}) == [diff("/Policy", '{"a":1}', '["a"]', "NOT_EQUAL")]


def test_path_tokens_are_escaped_as_json_pointers() -> None:
    """RFC 6901: `/` is `~1`, `~` is `~0`."""
    assert differences({"Tags": {"a/b~c": "1"}}, {"Tags": {"a/b~c": "2"}}) == [
        diff("/Tags/a~1b~0c", "1", "2", "NOT_EQUAL")
    ]


def test_lists_aws_treats_as_sets_are_compared_whatever_their_order() -> None:
    """Tags come back in the service's order; matched by Key, a changed value is NOT_EQUAL at
    the template's index, a missing tag REMOVE, a tag added by hand ADD at its index."""
    by_key = {"Tags": "Key"}
    reordered = list(reversed(TAGS))
    changed = [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops"}]

    assert differences({"Tags": TAGS}, {"Tags": reordered}, by_key) == []
    assert differences({"Tags": TAGS}, {"Tags": reordered}) != []  # as a plain list, order counts
    assert differences({"Tags": TAGS}, {"Tags": changed}, by_key) == [
        diff("/Tags/0", '{"Key":"team","Value":"data"}', "null", "REMOVE"),
        diff("/Tags/1/Value", "dev", "prod", "NOT_EQUAL"),
        diff("/Tags/1", "null", '{"Key":"owner","Value":"ops"}', "ADD"),
    ]


def test_elements_of_a_set_without_a_key_are_matched_whole() -> None:
    subscription = [
        {"Endpoint": "a@example.com", "Protocol": "email"},
        {"Endpoint": "b@example.com", "Protocol": "email"},
    ]

    assert (
        differences({"Subscription": subscription}, {"Subscription": subscription[::-1]}, {"Subscription": None}) == []
    )
    assert differences({"Subscription": subscription}, {"Subscription": subscription[:1]}, {"Subscription": None}) == [
        diff("/Subscription/1", '{"Endpoint":"b@example.com","Protocol":"email"}', "null", "REMOVE")
    ]  # fmt: skip


# --------------------------------------------------------------------------- what is compared
def reader(properties: set[str], read: Callable[[ReadRequest], dict[str, Any] | None] | None = None) -> ResourceReader:
    def answer(clients: ServiceClients, request: ReadRequest) -> dict[str, Any] | None:
        return read(request) if read is not None else {}

    return ResourceReader(answer, frozenset(properties), {"Tags": "Key"})


def test_only_readable_template_properties_without_dynamic_references_are_compared() -> None:
    """AWS: only the properties the template set; write-only ones (a function's Code) and
    dynamic references (values the stack never kept) are not compared."""
    expected = {
        "Timeout": 3,
        "Code": {"ZipFile": "..."},
        "Description": "{{resolve:ssm:/app/description}}",
        "Environment": {"Variables": {"TOKEN": "{{resolve:secretsmanager:token}}"}},
        "Handler": None,
    }

    assert compared_properties(expected, reader({"Timeout", "Description", "Environment", "Handler"})) == {"Timeout": 3}
    assert compared_properties(None, reader({"Timeout"})) == {}


def test_expected_properties_take_the_services_types() -> None:
    """ExpectedProperties shows the template's values typed as the schema types them."""
    expected = {"VisibilityTimeout": "30", "FifoQueue": "true", "Policy": '{"a": 1}', "Name": "q", "Size": "big"}
    actual = {"VisibilityTimeout": 60, "FifoQueue": False, "Policy": {"a": 2}, "Name": "q", "Size": 3}

    assert typed_like(expected, actual) == {
        "VisibilityTimeout": 30,
        "FifoQueue": True,
        "Policy": {"a": 1},
        "Name": "q",
        "Size": "big",
    }
    assert typed_like({"Items": ["1", "2"]}, {"Items": [1]}) == {"Items": [1, "2"]}


# --------------------------------------------------------------------------- the detector
def stack_with(*records: StackResource, status: str = "CREATE_COMPLETE") -> Stack:
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1"
    stack = Stack(
        stack_id=stack_id,
        name="app",
        context=StackContext(stack_id, "app", "us-east-1", "123456789012"),
        deployment=None,
        status=status,
    )
    stack.resources = {record.logical_id: record for record in records}
    return stack


def resource(logical_id: str, resource_type: str, properties: dict[str, Any]) -> StackResource:
    return StackResource(
        logical_id,
        resource_type,
        "CREATE_COMPLETE",
        provisioned=Provisioned(f"{logical_id}-physical"),
        properties=properties,
    )


class Spawned:
    """Background work the detector starts, run when the test says so."""

    def __init__(self) -> None:
        self.bodies: list[Callable[[threading.Event], None]] = []

    def __call__(self, name: str, body: Callable[[threading.Event], None]) -> None:
        self.bodies.append(body)

    def run_all(self) -> None:
        for body in self.bodies:
            body(threading.Event())


def live(values: dict[str, dict[str, Any] | None]) -> Callable[[ReadRequest], dict[str, Any] | None]:
    """A read answering by physical id; an exception value is raised."""

    def read(request: ReadRequest) -> dict[str, Any] | None:
        answer = values[request.physical_id]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return read


def detector(readers: dict[str, ResourceReader], spawned: Spawned, waits: list[float] | None = None) -> DriftDetector:
    def wait(seconds: float, stop: threading.Event) -> bool:
        if waits is not None:
            waits.append(seconds)
        return False

    return DriftDetector(
        ServiceClients("http://127.0.0.1:9"), wait=wait, spawn=spawned, duration=lambda: 60.0, readers=readers
    )


def test_a_detection_records_each_resource_and_the_stack() -> None:
    """MODIFIED, DELETED and IN_SYNC resources; a type without a reader is not checked; the
    stack is DRIFTED with two drifted resources; the wait is the modelled time."""
    spawned, waits = Spawned(), list[float]()
    values: dict[str, Any] = {
        "Changed-physical": {"Value": "green"},
        "Gone-physical": None,
        "Same-physical": {"Value": "blue"},
    }
    readers = {"Test::Thing": reader({"Value"}, live(values))}
    stack = stack_with(
        resource("Changed", "Test::Thing", {"Value": "blue"}),
        resource("Gone", "Test::Thing", {"Value": "blue"}),
        resource("Same", "Test::Thing", {"Value": "blue"}),
        resource("Other", "Test::Unreadable", {"Value": "blue"}),
    )
    drift = detector(readers, spawned, waits)

    detection = drift.detect_stack(stack, None)
    in_progress = detection.describe()
    spawned.run_all()

    assert (in_progress["DetectionStatus"], in_progress["StackDriftStatus"]) == ("DETECTION_IN_PROGRESS", None)
    assert waits == [60.0]
    assert (detection.status, detection.stack_drift_status, detection.drifted_count) == (
        "DETECTION_COMPLETE",
        "DRIFTED",
        2,
    )
    assert detection.reason is None
    assert {name: record.drift.status for name, record in stack.resources.items() if record.drift} == {
        "Changed": "MODIFIED",
        "Gone": "DELETED",
        "Same": "IN_SYNC",
    }
    assert stack.resources["Other"].drift_information() == {"StackResourceDriftStatus": "NOT_CHECKED"}
    assert (stack.drift_status, stack.drift_checked) == ("DRIFTED", detection.timestamp)
    changed = stack.resources["Changed"].drift
    assert changed is not None
    assert changed.differences == (diff("/Value", "blue", "green", "NOT_EQUAL"),)
    described = changed.describe(stack.stack_id, "Changed", "Test::Thing")
    assert (described["ExpectedProperties"], described["ActualProperties"]) == ('{"Value":"blue"}', '{"Value":"green"}')
    assert [d["LogicalResourceId"] for d in drift.resource_drifts(stack, ["DELETED", "MODIFIED"])] == [
        "Changed",
        "Gone",
    ]


def test_a_resource_that_cannot_be_read_fails_the_detection() -> None:
    """AWS: DETECTION_FAILED with a JSON reason naming each failed resource; the failed resource
    is UNKNOWN with its reason, the others keep their results; with no drift found the
    stack is UNKNOWN."""
    spawned = Spawned()
    values: dict[str, Any] = {"Denied-physical": ReadFailed("Rate exceeded"), "Fine-physical": {"Value": "blue"}}
    stack = stack_with(
        resource("Denied", "Test::Thing", {"Value": "blue"}), resource("Fine", "Test::Thing", {"Value": "blue"})
    )
    drift = detector({"Test::Thing": reader({"Value"}, live(values))}, spawned)

    detection = drift.detect_stack(stack, None)
    spawned.run_all()

    assert (detection.status, detection.stack_drift_status) == ("DETECTION_FAILED", "UNKNOWN")
    assert json.loads(detection.reason or "") == {
        "Summary": "Failed to detect drift on resources [Denied]",
        "Failures": [{"Resource": "Denied", "FailureReason": "Rate exceeded"}],
    }
    denied, fine = stack.resources["Denied"].drift, stack.resources["Fine"].drift
    assert denied is not None and fine is not None
    assert (denied.status, denied.reason) == ("UNKNOWN", "Rate exceeded")
    assert fine.status == "IN_SYNC"
    assert stack.drift_status == "UNKNOWN"


def test_drift_found_beside_a_failure_still_drifts_the_stack() -> None:
    spawned = Spawned()
    values: dict[str, Any] = {"Broken-physical": RuntimeError("boom"), "Changed-physical": {"Value": "green"}}
    stack = stack_with(
        resource("Broken", "Test::Thing", {"Value": "blue"}), resource("Changed", "Test::Thing", {"Value": "blue"})
    )
    drift = detector({"Test::Thing": reader({"Value"}, live(values))}, spawned)

    detection = drift.detect_stack(stack, None)
    spawned.run_all()

    assert (detection.status, detection.stack_drift_status, detection.drifted_count) == (
        "DETECTION_FAILED",
        "DRIFTED",
        1,
    )
    assert "Internal Failure: RuntimeError: boom" in (detection.reason or "")


def test_one_detection_at_a_time_and_only_on_settled_stacks() -> None:
    spawned = Spawned()
    drift = detector({}, spawned)
    stack = stack_with(resource("Queue", "Test::Thing", {}))
    drift.detect_stack(stack, None)

    with pytest.raises(ValidationError, match=r"^Drift detection is already in progress for stack \[arn:"):
        drift.detect_stack(stack, None)
    with pytest.raises(ValidationError, match=r"is in UPDATE_IN_PROGRESS state\. Drift detection is supported only"):
        drift.detect_stack(stack_with(status="UPDATE_IN_PROGRESS"), None)
    assert drift.detect_stack(stack_with(status="UPDATE_ROLLBACK_FAILED"), None).in_progress


def test_a_stack_keeps_its_latest_detections() -> None:
    spawned = Spawned()
    drift = detector({}, spawned)
    stack = stack_with()
    ids = []
    for _ in range(DETECTIONS_KEPT + 2):
        ids.append(drift.detect_stack(stack, None).detection_id)
        spawned.run_all()
        spawned.bodies.clear()

    assert list(stack.drift_detections) == ids[-DETECTIONS_KEPT:]
    assert drift.detection([stack], ids[-1]).status == "DETECTION_COMPLETE"
    with pytest.raises(ValidationError, match=r"does not exist"):
        drift.detection([stack], ids[0])


def test_a_stopped_sandbox_abandons_the_detection() -> None:
    """A reset or shutdown during the modelled wait: nothing is read or recorded."""
    bodies: list[Callable[[threading.Event], None]] = []
    reads: list[str] = []

    def read(request: ReadRequest) -> dict[str, Any]:
        reads.append(request.physical_id)
        return {}

    drift = DriftDetector(
        ServiceClients("http://127.0.0.1:9"),
        wait=lambda seconds, stop: True,
        spawn=lambda name, body: bodies.append(body),
        duration=lambda: 60.0,
        readers={"Test::Thing": reader({"Value"}, read)},
    )
    stack = stack_with(resource("Queue", "Test::Thing", {"Value": "1"}))

    detection = drift.detect_stack(stack, None)
    bodies[0](threading.Event())

    assert (detection.status, reads, stack.drift_status) == ("DETECTION_IN_PROGRESS", [], "NOT_CHECKED")


def test_the_latency_model_gives_a_detection_its_row() -> None:
    """latency.csv: `(DetectStackDrift),60,0,0`."""
    assert LatencyModel.load().drift_detection() == 60
