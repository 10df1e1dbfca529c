"""When the deploy step looks at a stack again: the expected time of a change set's stack
operation (from the latency table) and the poll schedule built on it."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.stage.deployment import (
    EARLY,
    EVENT_FALLBACK,
    FIRST_POLL,
    MAX_EARLY_WAIT,
    MAX_POLL,
    fallback_wait,
    next_poll,
)
from lambdas.stage.latency import LatencyModel, create_changes, expected_seconds, template_references

MODEL = LatencyModel.load()


def change(logical_id: str, resource_type: str, action: str = "Add", replacement: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": resource_type}
    if replacement is not None:
        detail["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": detail}


NETWORK: dict[str, Any] = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Eip": {"Type": "AWS::EC2::EIP"},
        "Nat": {
            "Type": "AWS::EC2::NatGateway",
            "Properties": {"SubnetId": {"Ref": "Subnet"}, "AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]}},
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Param": {
            "Type": "AWS::SSM::Parameter",
            "DependsOn": "Queue",
            "Properties": {"Value": {"Fn::Sub": "${Nat}-${AWS::Region}"}},
        },
    }
}


def test_references_are_read_from_ref_getatt_and_sub() -> None:
    value = {
        "A": {"Ref": "One"},
        "B": {"Fn::GetAtt": "Two.Arn"},
        "C": [{"Fn::GetAtt": ["Three", "Arn"]}],
        "D": {"Fn::Sub": ["${Four.Arn}/${Local}/${!Literal}", {"Local": {"Ref": "Five"}}]},
    }
    assert template_references(value) == {"One", "Two", "Three", "Four", "Local", "Five"}


def test_a_create_takes_the_longest_chain_of_dependent_resources() -> None:
    changes = [change(logical_id, body["Type"]) for logical_id, body in NETWORK["Resources"].items()]
    vpc, subnet, nat, queue, param = (
        MODEL.resource(t, "create")
        for t in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::SQS::Queue", "AWS::SSM::Parameter")
    )
    # Param waits for Nat (through Fn::Sub) and for Queue (DependsOn): Vpc > Subnet > Nat > Param
    chain = max(vpc + subnet + nat, queue) + param
    assert expected_seconds(MODEL, NETWORK, changes, "create") == MODEL.stack_overhead("create") + chain


def test_an_update_counts_only_what_changes_and_deletes_last() -> None:
    changes = [
        change("Queue", "AWS::SQS::Queue", "Modify", replacement="False"),
        change("Param", "AWS::SSM::Parameter", "Modify", replacement="True"),
        change("Old", "AWS::S3::Bucket", "Remove"),
    ]
    expected = (
        MODEL.stack_overhead("update")
        + MODEL.resource("AWS::SQS::Queue", "update")
        + MODEL.resource("AWS::SSM::Parameter", "create")  # replaced: a new one is created
        + MODEL.resource("AWS::S3::Bucket", "delete")
    )
    assert expected_seconds(MODEL, NETWORK, changes, "update") == expected


def test_nothing_changed_is_the_stack_overhead_alone() -> None:
    assert expected_seconds(MODEL, NETWORK, [], "update") == MODEL.stack_overhead("update")


OPTIONAL: dict[str, Any] = {
    "Parameters": {"Prod": {"Type": "String", "Default": "false"}, "Name": {"Type": "String", "Default": ""}},
    "Conditions": {
        "ProdOn": {"Fn::Equals": [{"Ref": "Prod"}, "true"]},
        "Named": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]},
        "NamedProd": {"Fn::And": [{"Condition": "ProdOn"}, {"Condition": "Named"}]},
        "InRegion": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Nat": {"Type": "AWS::EC2::NatGateway", "Condition": "ProdOn"},
        "Alias": {"Type": "AWS::KMS::Alias", "Condition": "NamedProd"},
        "Regional": {"Type": "AWS::SNS::Topic", "Condition": "InRegion"},
    },
}


@pytest.mark.parametrize(
    ("parameters", "created"),
    [
        ({}, ["Queue", "Regional"]),
        ({"Prod": "true"}, ["Queue", "Nat", "Regional"]),
        ({"Prod": "true", "Name": "x"}, ["Queue", "Nat", "Alias", "Regional"]),
    ],
)
def test_a_create_adds_the_resources_whose_conditions_hold(parameters: dict[str, str], created: list[str]) -> None:
    """Defaults fill what is not given; a condition on what is unknown here (a pseudo
    parameter) counts as holding, so the expectation errs long."""
    changes = create_changes(OPTIONAL, parameters)

    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == created
    assert {c["ResourceChange"]["Action"] for c in changes} == {"Add"}


def test_dependency_cycles_do_not_hang() -> None:
    template = {
        "Resources": {
            "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
            "B": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "A"}}},
        }
    }
    changes = [change("A", "AWS::SNS::Topic"), change("B", "AWS::SNS::Topic")]
    assert expected_seconds(MODEL, template, changes, "create") > MODEL.stack_overhead("create")


@pytest.mark.parametrize(
    ("elapsed", "expected", "previous", "wait"),
    [
        (0, 1200, 0, MAX_EARLY_WAIT),  # a long create: no single wait beyond MAX_EARLY_WAIT
        (900, 1200, 300, 1200 * EARLY - 900),  # the last early wait ends at EARLY * expected
        (0, 100, 0, 100 * EARLY),  # a short one is looked at once, near its end
        (85, 100, 90, FIRST_POLL),  # then often
        (1500, 1200, 30, 30),  # a late one: every 2 % of its time so far
        (10_000, 1200, 60, MAX_POLL),  # never rarer than MAX_POLL
        (0, None, 0, FIRST_POLL),  # no expectation: back-off from FIRST_POLL
        (100, None, 20, 30),
        (900, None, 60, MAX_POLL),
    ],
)
def test_the_poll_schedule(elapsed: float, expected: float | None, previous: int, wait: float) -> None:
    assert next_poll(elapsed, expected, previous) == int(wait)


def _polls(expected: float | None, actual: float) -> tuple[int, float]:
    """Polls until an operation that takes `actual` seconds is seen complete, and how late."""
    elapsed, polls, wait = 0.0, 0, 0
    while elapsed < actual:
        wait = next_poll(elapsed, expected, wait)
        elapsed += wait
        polls += 1
    return polls, elapsed - actual


def test_an_expected_operation_costs_half_the_polls_and_is_noticed_sooner() -> None:
    """OpenSearch's create: about twenty minutes, a little longer than expected."""
    expected, actual = 1255.0, 1300.0
    polls, late = _polls(expected, actual)
    backoff_polls, backoff_late = _polls(None, actual)
    assert polls * 2 <= backoff_polls
    assert late <= 0.02 * actual + 1 < backoff_late


@pytest.mark.parametrize(("poll", "wait"), [(10, EVENT_FALLBACK), (60, EVENT_FALLBACK), (300, 300)])
def test_a_wait_that_events_end_polls_no_sooner_than_the_fallback(poll: int, wait: int) -> None:
    """The stack's status-change event resumes the step; the poll is there for a lost event."""
    assert fallback_wait(poll) == wait
