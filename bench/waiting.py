"""Waiting for CloudFormation: the tuned polling the installer does, against CloudFormation's
"Stack Status Change" events through EventBridge resuming a `.waitForTaskToken` task.

    python bench/waiting.py [--scale 0.05] [--release DIR] [--event-latency 2]

One install runs in the sandbox. Every stack operation a stage waited on (its create, and
the parameter-only update that protects a stateful stage) is read back from the stack's own
events: when it began, when it ended, and how many status changes it went through (each is
one EventBridge event). Each operation is then replayed under both ways of waiting:

  polling   what the deploy step does (`lambdas.deployment.next_poll`): first look near the
            operation's expected time (`lambdas.latency`, from the template), then every 2 %
            of the elapsed time; each poll is a Wait state, a StageStatus task and its Choice
            (3 state transitions) and one Lambda invocation.
  events    an AwaitStack task parks the step on a task token (3 transitions per resumption:
            the task, StageStatus and its Choice; two Lambda invocations: the one that stores
            the token and StageStatus), and every status change of the stack invokes the
            function that resumes it (EventBridge delivers each event, matched or not, to that
            function: one invocation per event). CloudFormation's events to EventBridge are
            best effort, so the task keeps a polling fallback: its timeout is twice the
            expected time (5 min when nothing is expected), after which it polls once and
            parks again.

The replay is checked against the run itself: at factor 1 the replayed polls must equal the
polls the run made. AWS is rarely as punctual as the latency table, so each strategy is also
replayed with every operation taking `factor` times its sandbox duration (0.5 to 2).

Figures, per factor: transitions and Lambda invocations of all the waits, the mean time
from an operation's end to the installer noticing it, and `chain_delay_s`: that delay summed
over the run's own critical chain, which is what the install's duration pays for waiting.
`kept=` names the strategy this project keeps, and why, from those figures.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.common import (
    INSTALLATION,
    BenchSandbox,
    RunMeasurement,
    argument_parser,
    chosen_release,
    context_figures,
    parse,
    print_figures,
)
from bench.cost import LAMBDA_USD_PER_REQUEST, STEP_FUNCTIONS_USD_PER_TRANSITION
from bench.install import run_chain
from installer.build import Release
from installer.operations import Installation
from lambdas.deployment import MAX_EARLY_WAIT, next_poll
from lambdas.latency import LatencyModel, create_changes, expected_seconds

#: State transitions of one poll (StepWait, StageStatus, StepProgress) and of one resumption
#: of a parked step (AwaitStack, StageStatus, StepProgress).
TRANSITIONS_PER_POLL = 3
TRANSITIONS_PER_RESUME = 3
FACTORS = (0.5, 1.0, 1.5, 2.0)
#: The fallback timeout of the event variant: this many times the expected time, or
#: FALLBACK_WITHOUT_EXPECTATION seconds when nothing is expected.
FALLBACK_FACTOR = 2.0
FALLBACK_WITHOUT_EXPECTATION = MAX_EARLY_WAIT
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


@dataclass
class Tally:
    transitions: int = 0
    invocations: int = 0
    #: modelled seconds from an operation's end to its being noticed, per stage
    delays: dict[str, float] | None = None

    def add(self, stage: str, transitions: int, invocations: int, delay: float) -> None:
        self.transitions += transitions
        self.invocations += invocations
        if self.delays is None:
            self.delays = {}
        self.delays[stage] = self.delays.get(stage, 0.0) + delay

    @property
    def mean_delay(self) -> float:
        delays = list((self.delays or {}).values())
        return sum(delays) / len(delays) if delays else 0.0

    def chain_delay(self, chain: Iterable[str]) -> float:
        return sum((self.delays or {}).get(stage, 0.0) for stage in chain)

    @property
    def usd(self) -> float:
        return self.transitions * STEP_FUNCTIONS_USD_PER_TRANSITION + self.invocations * LAMBDA_USD_PER_REQUEST


def _terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def operations(
    stage: str, events: list[dict[str, Any]], stack_name: str, started: datetime, scale: float, expected: float | None
) -> list[StackOperation]:
    """The stack's operations, from its own status events (oldest first). The first is the
    create (expected as the installer expects it); the later ones back off."""
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
                found.append(
                    StackOperation(stage, begun[0], moment - begun[0], begun[1], expected if not found else None)
                )
                begun = None
    return found


def poll(operation: StackOperation, factor: float) -> tuple[int, float]:
    """Polls until the operation (taking `factor` times as long) is seen done, and the delay."""
    duration = operation.duration * factor
    elapsed, previous, polls = 0.0, 0, 0
    while True:
        previous = next_poll(elapsed, operation.expected, previous)
        elapsed += previous
        polls += 1
        if elapsed >= duration:
            return polls, elapsed - duration


def await_events(operation: StackOperation, factor: float, latency: float) -> tuple[int, int, float]:
    """Resumptions (the fallback's, then the event's), handler invocations, and the delay."""
    duration = operation.duration * factor
    fallback = FALLBACK_FACTOR * operation.expected if operation.expected is not None else FALLBACK_WITHOUT_EXPECTATION
    fallbacks = int((duration + latency) // fallback) if fallback > 0 else 0
    return fallbacks + 1, operation.status_changes, latency


def replay(ops: list[StackOperation], factor: float, latency: float) -> tuple[Tally, Tally]:
    polling, events = Tally(), Tally()
    for operation in ops:
        polls, delay = poll(operation, factor)
        polling.add(operation.stage, TRANSITIONS_PER_POLL * polls, polls, delay)
        resumes, handled, delay = await_events(operation, factor, latency)
        # each resumption: StageStatus, and the call that parks it again (the first parks it)
        events.add(operation.stage, TRANSITIONS_PER_RESUME * resumes, 2 * resumes + handled, delay)
    return polling, events


def expected_create(release: Release, stage: str, record: Mapping[str, Any]) -> float | None:
    """The create's expected seconds, computed as the deploy step computes it."""
    template = release.template(stage)
    given = record.get("given") or record.get("parameters") or {}
    return round(expected_seconds(LatencyModel.load(), template, create_changes(template, given), "create"))


def stage_operations(
    release: Release, install: RunMeasurement, events: Mapping[str, list[dict[str, Any]]], installation: Installation
) -> list[StackOperation]:
    found = []
    for stage, stage_events in events.items():
        expected = expected_create(release, stage, install.steps.get(stage, {}))
        found.extend(
            operations(stage, stage_events, installation.stage_stack(stage), install.started, install.scale, expected)
        )
    return found


def measured_polls(install: RunMeasurement, stages: Iterable[str]) -> int:
    """StageStatus calls the run made for these stages (its polls)."""
    return sum(max(install.timeline.steps[name].calls - 1, 0) for name in stages if name in install.timeline.steps)


def main() -> int:
    parser = argument_parser(__doc__, scale=0.05)
    parser.add_argument(
        "--event-latency",
        type=float,
        default=EVENT_LATENCY,
        help="modelled seconds from a status change to its event invoking the target",
    )
    args = parse(parser)
    release = chosen_release(args.release)
    with BenchSandbox(args.scale) as bench:
        install = bench.deploy(release)
        stages = [name for name in install.meta.get("order", []) if release.manifest.steps[name].is_stage]
        events = {name: bench.stack_events(name) for name in stages}
    ops = stage_operations(release, install, events, INSTALLATION)
    chain = run_chain(release, install)
    replayed_polls = sum(poll(op, 1.0)[0] for op in ops)
    print(f"stack operations waited on: {len(ops)} in {len(stages)} stages; run chain: {'>'.join(chain)}")
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
    kept, why = decide(results, chain, install.modelled_seconds)
    print_figures(
        [
            *context_figures(args.scale),
            ("install_s", round(install.modelled_seconds, 1)),
            ("polls_measured", measured_polls(install, stages)),
            ("polls_replayed", replayed_polls),
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


def decide(results: Mapping[float, tuple[Tally, Tally]], chain: list[str], install_s: float) -> tuple[str, str]:
    """Events are kept only if they shorten the install by more than 2 % at every factor and
    cost no more; otherwise polling (no EventBridge rule on the account's default bus, no
    token store, no race between an event and the parking call, one moving part fewer)."""
    gains = {f: (p.chain_delay(chain) - e.chain_delay(chain)) / install_s for f, (p, e) in results.items()}
    cheaper = all(e.usd <= p.usd for p, e in results.values())
    worst = min(gains.values())
    if worst > 0.02 and cheaper:
        return "events", f"they shorten the install by at least {worst:.1%} and cost no more"
    return "polling", (
        f"events would shorten the install by {min(gains.values()):.1%}..{max(gains.values()):.1%} "
        f"({'cheaper' if cheaper else 'at a higher cost'}): not worth a second moving part"
    )


if __name__ == "__main__":
    sys.exit(main())
