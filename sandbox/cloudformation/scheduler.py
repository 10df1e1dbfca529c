"""Running a stack operation's resources the way CloudFormation does.

A resource starts as soon as everything it depends on is done, so independent resources
run in parallel. Each takes its modelled time (scaled by the sandbox clock) before its
provider is called, so `Ref` and `Fn::GetAtt` of the resources after it see real values.
When one fails, nothing new starts; resources still in their modelled wait are
cancelled (AWS reports "Resource creation cancelled"), and those already in their
provider call finish.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sandbox.clock import Clock
from sandbox.cloudformation.providers.base import OperationCancelled

LOG = logging.getLogger("dataall_installer.sandbox.cloudformation")


@dataclass
class Step:
    """What a started resource does: wait `seconds` (modelled), then `perform`."""

    seconds: float
    perform: Callable[[], None]
    #: called when the step is cancelled before or during `perform`
    cancelled: Callable[[], None]
    #: called with the error when `perform` fails
    failed: Callable[[BaseException], None]
    #: never finishes on its own (the `timeout` fault): waits until the run is stopped
    hang: bool = False


#: called when a resource's turn comes: records its start, returns its step (None: nothing
#: to do, the resource counts as done at once)
Task = Callable[[], Step | None]
#: Wraps a step's modelled wait of so many seconds (None: a hang), for a deadline's clock.
Waiting = Callable[[float | None], contextlib.AbstractContextManager[None]]


def _unwatched(seconds: float | None) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


@dataclass
class Outcome:
    completed: set[str] = field(default_factory=set)
    failed: dict[str, BaseException] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    not_started: set[str] = field(default_factory=set)

    @property
    def succeeded(self) -> bool:
        return not (self.failed or self.cancelled or self.not_started)


class Scheduler:
    def __init__(self, clock: Clock, latency: bool) -> None:
        self._clock = clock
        self._latency = latency

    def wall(self, modelled_seconds: float) -> float:
        """Wall seconds `wait` takes for a modelled time (none with latency off)."""
        return self._clock.wall(modelled_seconds) if self._latency else 0.0

    def wait(self, modelled_seconds: float, stop: threading.Event) -> bool:
        """Wait a modelled time; True if `stop` was set first."""
        if not self._latency:
            return stop.is_set()
        return self._clock.sleep(modelled_seconds, stop)

    def run(
        self,
        tasks: Mapping[str, Task],
        dependencies: Mapping[str, set[str]],
        stop: threading.Event,
        *,
        stop_on_failure: bool = True,
        waiting: Waiting | None = None,
    ) -> Outcome:
        """Run `tasks` in dependency order until all are done or nothing more can start.

        `stop` set from outside (a cancel) ends the run like a failure does: nothing new
        starts and waiting steps are cancelled. `waiting` wraps each step's modelled wait, and its hang.
        """
        outcome = Outcome()
        running: set[str] = set()
        condition = threading.Condition()

        def finish(logical_id: str, result: str, error: BaseException | None = None) -> None:
            with condition:
                running.discard(logical_id)
                if result == "completed":
                    outcome.completed.add(logical_id)
                elif result == "cancelled":
                    outcome.cancelled.add(logical_id)
                else:
                    outcome.failed[logical_id] = error or RuntimeError("failed")
                    if stop_on_failure:
                        stop.set()
                condition.notify_all()

        def work(logical_id: str) -> None:
            try:
                step = tasks[logical_id]()
            except Exception as error:
                LOG.exception("resource %s could not start", logical_id)
                finish(logical_id, "failed", error)
                return
            if step is None:
                finish(logical_id, "completed")
                return
            finish(logical_id, *self._perform(step, stop, waiting or _unwatched))

        with condition:
            while True:
                if not stop.is_set():
                    for logical_id in self._ready(tasks, dependencies, outcome, running):
                        running.add(logical_id)
                        threading.Thread(target=work, args=(logical_id,), name=f"cfn-{logical_id}", daemon=True).start()
                if not running:
                    break
                condition.wait(timeout=0.5)
        outcome.not_started = set(tasks) - outcome.completed - outcome.cancelled - set(outcome.failed)
        return outcome

    def _perform(self, step: Step, stop: threading.Event, waiting: Waiting) -> tuple[str, BaseException | None]:
        with waiting(step.seconds):
            interrupted = self.wait(step.seconds, stop)
        if step.hang and not interrupted:
            with waiting(None):
                stop.wait()
            interrupted = True
        if interrupted:
            step.cancelled()
            return "cancelled", None
        try:
            step.perform()
        except OperationCancelled:
            step.cancelled()
            return "cancelled", None
        except Exception as error:  # noqa: BLE001 - every handler error fails the resource
            step.failed(error)
            return "failed", error
        return "completed", None

    @staticmethod
    def _ready(
        tasks: Mapping[str, Task],
        dependencies: Mapping[str, set[str]],
        outcome: Outcome,
        running: set[str],
    ) -> list[str]:
        started = outcome.completed | outcome.cancelled | set(outcome.failed) | running
        return sorted(
            logical_id
            for logical_id in tasks
            if logical_id not in started
            and all(
                dependency in outcome.completed or dependency not in tasks
                for dependency in dependencies.get(logical_id, ())
            )
        )
