"""The scheduler starts resources as CloudFormation does: after their dependencies,
independent ones together, and a failure cancels what is still waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sandbox.clock import Clock
from sandbox.cloudformation.providers.base import ResourceFailed
from sandbox.cloudformation.scheduler import Scheduler, Step, Task


class Journal:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)

    def task(self, name: str, seconds: float, *, fails: bool = False, hang: bool = False) -> Task:
        def perform() -> None:
            if fails:
                raise ResourceFailed("boom")
            self.add(f"done {name}")

        def start() -> Step:
            self.add(f"start {name}")
            return Step(
                seconds,
                perform,
                cancelled=lambda: self.add(f"cancelled {name}"),
                failed=lambda error: self.add(f"failed {name}"),
                hang=hang,
            )

        return start


def scheduler(latency: bool = True) -> Scheduler:
    return Scheduler(Clock(scale=0.01), latency)


def test_a_resource_starts_only_after_what_it_depends_on_is_done() -> None:
    journal = Journal()
    tasks = {"A": journal.task("A", 1), "B": journal.task("B", 1)}

    outcome = scheduler().run(tasks, {"B": {"A"}}, threading.Event())

    assert outcome.succeeded
    assert journal.lines == ["start A", "done A", "start B", "done B"]


def test_independent_resources_run_in_parallel() -> None:
    journal = Journal()
    tasks = {name: journal.task(name, 20) for name in "ABCD"}

    started = time.monotonic()
    scheduler().run(tasks, {}, threading.Event())

    assert time.monotonic() - started < 0.6  # four 0.2 s waits side by side


def test_a_failure_cancels_the_waiting_and_starts_nothing_new() -> None:
    journal = Journal()
    tasks = {
        "Fast": journal.task("Fast", 0, fails=True),
        "Slow": journal.task("Slow", 500),
        "After": journal.task("After", 0),
    }

    outcome = scheduler().run(tasks, {"After": {"Fast"}}, threading.Event())

    assert set(outcome.failed) == {"Fast"}
    assert outcome.cancelled == {"Slow"}
    assert outcome.not_started == {"After"}
    assert "cancelled Slow" in journal.lines


def test_without_stop_on_failure_independent_work_goes_on() -> None:
    journal = Journal()
    tasks = {"Bad": journal.task("Bad", 0, fails=True), "Other": journal.task("Other", 1)}

    outcome = scheduler().run(tasks, {}, threading.Event(), stop_on_failure=False)

    assert outcome.completed == {"Other"}


def test_a_hanging_step_waits_until_the_run_is_stopped() -> None:
    journal = Journal()
    stop = threading.Event()
    tasks = {"Stuck": journal.task("Stuck", 0, hang=True)}
    threading.Timer(0.2, stop.set).start()

    outcome = scheduler().run(tasks, {}, stop)

    assert outcome.cancelled == {"Stuck"}


def test_without_latency_nothing_waits() -> None:
    journal = Journal()
    tasks = {"Slow": journal.task("Slow", 10_000)}

    started = time.monotonic()
    scheduler(latency=False).run(tasks, {}, threading.Event())

    assert time.monotonic() - started < 0.5


def test_a_task_with_nothing_to_do_counts_as_done() -> None:
    nothing: Callable[[], Step | None] = lambda: None  # noqa: E731
    journal = Journal()

    outcome = scheduler().run({"Same": nothing, "Next": journal.task("Next", 0)}, {"Next": {"Same"}}, threading.Event())

    assert outcome.completed == {"Same", "Next"}
