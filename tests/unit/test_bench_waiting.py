"""The waiting benchmark's replay: stack operations read from stack events, and each way of
waiting replayed with the installer's own poll functions (`bench/waiting.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.waiting import StackOperation, await_events, decide, operations, poll, replay

START = datetime(2026, 11, 26, tzinfo=UTC)


def stack_event(seconds: float, status: str, logical_id: str = "dataall-test-vpc") -> dict[str, Any]:
    kind = "AWS::CloudFormation::Stack" if logical_id == "dataall-test-vpc" else "AWS::EC2::VPC"
    return {
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "ResourceStatus": status,
        "Timestamp": START + timedelta(seconds=seconds),
    }


def test_operations_are_read_from_the_stacks_own_status_events() -> None:
    events = [
        stack_event(0, "CREATE_IN_PROGRESS"),
        stack_event(1, "CREATE_IN_PROGRESS", "Vpc"),
        stack_event(3, "CREATE_COMPLETE", "Vpc"),
        stack_event(4, "CREATE_COMPLETE"),
        stack_event(5, "UPDATE_IN_PROGRESS"),
        stack_event(6, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        stack_event(7, "UPDATE_COMPLETE"),
    ]

    create, protect = operations("vpc", events, "dataall-test-vpc", START, scale=0.1, durations=(150.0, 20.0))

    assert (create.start, create.duration, create.status_changes) == (0, 40, 2)
    assert (create.expected, create.modelled) == (150.0, 150.0)
    assert (protect.start, protect.status_changes, protect.expected, protect.modelled) == (50, 3, None, 20.0)


def operation(modelled: float, expected: float | None) -> StackOperation:
    return StackOperation("vpc", 0.0, modelled, 2, expected, modelled)


def test_polling_looks_near_the_expected_time_then_often_and_is_late_when_aws_is_early() -> None:
    assert poll(operation(100, 100), 1.0) == (2, 0.0), "90 s, then 10 s later"
    polls, delay = poll(operation(100, 100), 0.5)
    assert (polls, delay) == (1, 40.0), "first look at 90 s, done at 50 s"


def test_events_resume_at_once_and_the_fallback_polls_only_a_long_operation() -> None:
    assert await_events(operation(100, 100), 1.0, latency=2.0) == (1, 2, 2.0)
    waits, handled, delay = await_events(operation(1000, 1000), 1.0, latency=2.0)
    assert (handled, delay) == (2, 2.0)
    assert waits == 3 + 1, "fallback polls at 300, 600 and 900 s; the event comes before the next, at 1020 s"


def test_the_kept_strategy_notices_sooner_and_costs_no_more_over_the_factors() -> None:
    ops = [operation(1000, 1000)]
    results = {factor: replay(ops, factor, 2.0) for factor in (0.5, 1.0, 2.0)}

    kept, why = decide(results, ["vpc"])

    assert kept == "events", why
    slow_polling, slow_events = results[2.0]
    assert slow_events.transitions < slow_polling.transitions
