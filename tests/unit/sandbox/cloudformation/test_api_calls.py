"""The count of CloudFormation API calls per action, which benchmarks read."""

from __future__ import annotations

import threading

from sandbox.cloudformation.calls import ApiCalls


def test_each_call_counts_once_under_its_action() -> None:
    calls = ApiCalls()

    calls.record("CreateChangeSet")
    calls.record("DescribeStacks")
    calls.record("DescribeStacks")

    assert calls.count("CreateChangeSet") == 1
    assert calls.count("DescribeStacks") == 2
    assert calls.count("ExecuteChangeSet") == 0


def test_since_gives_only_the_calls_made_after_a_snapshot() -> None:
    calls = ApiCalls()
    calls.record("DescribeStacks")
    before = calls.snapshot()

    calls.record("DescribeStacks")
    calls.record("CreateChangeSet")

    assert calls.since(before) == {"DescribeStacks": 1, "CreateChangeSet": 1}
    assert before == {"DescribeStacks": 1}, "a snapshot is a copy, later calls leave it alone"


def test_clear_forgets_every_count() -> None:
    calls = ApiCalls()
    calls.record("CreateStack")

    calls.clear()

    assert calls.snapshot() == {}


def test_calls_from_many_threads_are_all_counted() -> None:
    calls = ApiCalls()

    def hammer() -> None:
        for _ in range(1000):
            calls.record("DescribeStacks")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert calls.count("DescribeStacks") == 8000
