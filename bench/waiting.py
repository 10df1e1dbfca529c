"""Waiting for CloudFormation: polling alone, against CloudFormation's "Stack Status Change"
events through EventBridge resuming a `.waitForTaskToken` task, with polling as its fallback.

    python bench/waiting.py [--scale 0.05] [--dataall VERSION | --release DIR | --synthetic] [--event-latency 2]

One install runs in the sandbox. Every stack operation a stage waited on (its create, and
the parameter-only update that protects a stateful stage) is read back from the stack's own
events: how many status changes it went through (each is one EventBridge event); its length
is what the latency model says (`lambdas/stage/latency.csv`, which the sandbox imposes; the
sandbox's wall time adds this machine's Lambda time, unscaled). Each operation is then
replayed under both ways of waiting, with the installer's own functions:

  polling   polls alone (`lambdas.stage.deployment.next_poll`): first look near the operation's
            expected time (from the template and the latency table), then every 2 % of the
            elapsed time; each poll is a Wait state, a StageStatus task and its Choice (3 state
            transitions) and one Lambda invocation.
  events    what the installer does: the step parks on a task token (AwaitStack), which the
            stack's status-change event hands back (`lambdas/stage/events.py`); the task's
            timeout is the poll, no sooner than 2 minutes (`fallback_wait`), in case an event
            is lost (EventBridge delivery of AWS service events is best effort). Each wait is
            3 transitions (AwaitStack, StageStatus, its Choice) and 2 invocations (AwaitStack,
            StageStatus), and every status change of the stack invokes StackChanged once.

AWS is rarely as punctual as the latency table, so every operation is also replayed taking
`factor` times its modelled length (0.5: twice as fast as the table; 2: twice as slow).

Figures, per factor: transitions and Lambda invocations of all the waits, the mean time
from an operation's end to the installer noticing it, and `chain_delay_s`: that delay summed
over the critical path, which is what the install's duration pays for waiting. `kept=`
names the strategy that, over the factors together, notices sooner and costs no more.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: `python bench/waiting.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    INSTALLATION,
    BenchSandbox,
    RunMeasurement,
    argument_parser,
    chosen_release,
    context_figures,
    home_region,
    parse,
    print_figures,
)
from bench.cost import LAMBDA_USD_PER_REQUEST, STEP_FUNCTIONS_USD_PER_TRANSITION
from bench.install import floor_of
from installer.build import Release
from installer.operations import Installation
from lambdas.data.records import StepRecord
from lambdas.stage.deployment import PROTECTION, fallback_wait, next_poll
from lambdas.stage.latency import LatencyModel, create_changes, expected_seconds, template_references

#: State transitions of one poll (StepWait, StageStatus, StepProgress) and of one resumption
#: of a parked step (AwaitStack, StageStatus, StepProgress).
TRANSITIONS_PER_POLL = 3
TRANSITIONS_PER_RESUME = 3
FACTORS = (0.5, 1.0, 1.5, 2.0)
#: Modelled seconds from a stack's status change to the EventBridge target being invoked
#: (not published by AWS; typically seconds).
EVENT_LATENCY = 2.0


@dataclass(frozen=True)
class StackOperation:
    stage: str
    #: modelled seconds since the run started
    start: float
    duration: float
    #: stack status changes during it, the first and the last included
    status_changes: int
    #: what the installer expected it to take (None: it backs off instead)
    expected: float | None
    #: what the latency model says it takes (what the sandbox imposes, before this
    #: machine's own time: the Lambdas of custom resources, a busy CPU)
    modelled: float


@dataclass
class Tally:
    transitions: int = 0
    invocations: int = 0
    #: modelled seconds from an operation's end to its being noticed, per stage
    delays: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, transitions: int, invocations: int, delay: float) -> None:
        self.transitions += transitions
        self.invocations += invocations
        self.delays[stage] = self.delays.get(stage, 0.0) + delay

    @property
    def mean_delay(self) -> float:
        return sum(self.delays.values()) / len(self.delays) if self.delays else 0.0

    def chain_delay(self, chain: Iterable[str]) -> float:
        return sum(self.delays.get(stage, 0.0) for stage in chain)

    @property
    def usd(self) -> float:
        return self.transitions * STEP_FUNCTIONS_USD_PER_TRANSITION + self.invocations * LAMBDA_USD_PER_REQUEST


def _terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def operations(
    stage: str,
    events: list[dict[str, Any]],
    stack_name: str,
    started: datetime,
    scale: float,
    durations: tuple[float, float],
) -> list[StackOperation]:
    """The stack's operations, from its own status events (oldest first). The first is the
    create, which the installer expects to take `durations[0]`; the later ones (the update
    that protects a stateful stage) it backs off on, and they take `durations[1]`."""
    found: list[StackOperation] = []
    begun: tuple[float, int] | None = None
    for event in events:
        if event["LogicalResourceId"] != stack_name or event["ResourceType"] != "AWS::CloudFormation::Stack":
            continue
        moment = (event["Timestamp"] - started).total_seconds() / scale
        status = event["ResourceStatus"]
        if begun is None and not _terminal(status):
            begun = (moment, 1)
        elif begun is not None:
            begun = (begun[0], begun[1] + 1)
            if _terminal(status):
                create = not found
                found.append(
                    StackOperation(
                        stage,
                        begun[0],
                        moment - begun[0],
                        begun[1],
                        durations[0] if create else None,
                        durations[0] if create else durations[1],
                    )
                )
                begun = None
    return found


def poll(operation: StackOperation, factor: float) -> tuple[int, float]:
    """Polls until the operation (taking `factor` times its modelled time) is seen done, and
    the delay."""
    duration = operation.modelled * factor
    elapsed, previous, polls = 0.0, 0, 0
    while True:
        previous = next_poll(elapsed, operation.expected, previous)
        elapsed += previous
        polls += 1
        if elapsed >= duration:
            return polls, elapsed - duration


def await_events(operation: StackOperation, factor: float, latency: float) -> tuple[int, int, float]:
    """Waits (the fallback polls, then the one the event ends), status-change events handled,
    and the delay, with the installer's own fallback schedule (`fallback_wait`)."""
    duration = operation.modelled * factor
    elapsed, previous, timeouts = 0.0, 0, 0
    while True:
        previous = fallback_wait(next_poll(elapsed, operation.expected, previous))
        if elapsed + previous >= duration + latency:  # the event comes first
            return timeouts + 1, operation.status_changes, latency
        elapsed += previous
        timeouts += 1


def replay(ops: list[StackOperation], factor: float, latency: float) -> tuple[Tally, Tally]:
    polling, events = Tally(), Tally()
    for operation in ops:
        polls, delay = poll(operation, factor)
        polling.add(operation.stage, TRANSITIONS_PER_POLL * polls, polls, delay)
        waits, handled, delay = await_events(operation, factor, latency)
        # each wait: AwaitStack's call that parks the step, then StageStatus
        events.add(operation.stage, TRANSITIONS_PER_RESUME * waits, 2 * waits + handled, delay)
    return polling, events


def modelled_durations(
    release: Release, stage: str, record: StepRecord | None, model: LatencyModel
) -> tuple[float, float]:
    """The stage's create, as the deploy step expects it, and the update that turns its
    deletion protection on (the resources that read the parameter are modified)."""
    template = release.template(stage)
    given = (record.given or record.parameters or {}) if record else {}
    create = expected_seconds(model, template, create_changes(template, given), "create")
    protected = [
        {"ResourceChange": {"Action": "Modify", "LogicalResourceId": logical_id, "ResourceType": resource["Type"]}}
        for logical_id, resource in (template.get("Resources") or {}).items()
        if PROTECTION in template_references(resource.get("Properties") or {})
    ]
    return round(create), round(expected_seconds(model, template, protected, "update"))


def stage_operations(
    release: Release, install: RunMeasurement, events: Mapping[str, list[dict[str, Any]]], installation: Installation
) -> list[StackOperation]:
    found = []
    model = LatencyModel.load()
    for stage, stage_events in events.items():
        durations = modelled_durations(release, stage, install.steps.get(stage), model)
        found.extend(
            operations(stage, stage_events, installation.stage_stack(stage), install.started, install.scale, durations)
        )
    return found


def main() -> int:
    parser = argument_parser(__doc__, scale=0.05)
    parser.add_argument(
        "--event-latency",
        type=float,
        default=EVENT_LATENCY,
        help="modelled seconds from a status change to its event invoking the target",
    )
    args = parse(parser)
    release = chosen_release(args)
    with BenchSandbox(args.scale, home_region(args)) as bench:
        install = bench.deploy(release)
        stages = [name for name in install.meta.order if release.manifest.steps[name].is_stage]
        events = {name: bench.stack_events(name) for name in stages}
    ops = stage_operations(release, install, events, INSTALLATION)
    chain = list(floor_of(release, install, LatencyModel.load()).schedule.path)
    print(f"stack operations waited on: {len(ops)} in {len(stages)} stages; critical path: {'>'.join(chain)}")
    print(f"  {'stage':<12}{'start_s':>9}{'took_s':>9}{'modelled_s':>11}{'expected_s':>11}{'events':>8}")
    for op in ops:
        expected = f"{op.expected:.0f}" if op.expected is not None else "-"
        print(
            f"  {op.stage:<12}{op.start:>9.0f}{op.duration:>9.0f}{op.modelled:>11.0f}{expected:>11}"
            f"{op.status_changes:>8}"
        )
    print(
        f"  {'factor':>6}  {'strategy':<8}{'transitions':>12}{'invocations':>12}{'mean_delay_s':>13}"
        f"{'chain_delay_s':>14}{'usd':>10}"
    )
    results: dict[float, tuple[Tally, Tally]] = {}
    for factor in FACTORS:
        polling, evented = replay(ops, factor, args.event_latency)
        results[factor] = (polling, evented)
        for label, tally in (("polling", polling), ("events", evented)):
            print(
                f"  {factor:>6}  {label:<8}{tally.transitions:>12}{tally.invocations:>12}"
                f"{tally.mean_delay:>13.1f}{tally.chain_delay(chain):>14.1f}{tally.usd:>10.5f}"
            )
    polling, evented = results[1.0]
    saved_s = polling.chain_delay(chain) - evented.chain_delay(chain)
    kept, why = decide(results, chain)
    print_figures(
        [
            *context_figures(args.scale),
            ("install_s", round(install.modelled_seconds, 1)),
            ("polling_transitions", polling.transitions),
            ("events_transitions", evented.transitions),
            ("polling_invocations", polling.invocations),
            ("events_invocations", evented.invocations),
            ("polling_chain_delay_s", round(polling.chain_delay(chain), 1)),
            ("events_chain_delay_s", round(evented.chain_delay(chain), 1)),
            ("events_saving_of_install", f"{saved_s / install.modelled_seconds:.1%}"),
            ("kept", kept),
            ("why", why),
        ]
    )
    return 0


def decide(results: Mapping[float, tuple[Tally, Tally]], chain: list[str]) -> tuple[str, str]:
    """The strategy that, over all the factors together, notices sooner on the critical path
    and costs no more; "mixed" when neither does."""
    delay = [sum(pair[index].chain_delay(chain) for pair in results.values()) for index in (0, 1)]
    cost = [sum(pair[index].usd for pair in results.values()) for index in (0, 1)]
    for kept, mine, other in (("events", 1, 0), ("polling", 0, 1)):
        if delay[mine] < delay[other] and cost[mine] <= cost[other]:
            return kept, (
                f"over the {len(results)} factors it notices stacks done {delay[mine]:.0f} s after they are "
                f"(against {delay[other]:.0f} s on the critical path) for ${cost[mine]:.5f} (against "
                f"${cost[other]:.5f})"
            )
    return "mixed", "neither notices sooner for no more cost over the factors: see the table"


if __name__ == "__main__":
    sys.exit(main())
