"""What the benchmarks share: the release, an embedded sandbox driven as the CLI drives it,
and the figures of a run.

The release is data.all's own (`--dataall`, by default its latest pinned version), installed in its
home region; `--release DIR` installs a built release folder, and `--synthetic` the tests' synthetic
release (`tests/fixtures/synthetic`: data.all's stacks re-created small, a test fixture that builds
and installs in seconds), for a quick look at the installer's own overhead.

A run is measured from the execution's own start and stop dates (Step Functions' clock,
milliseconds), never from how often this process looked: the benchmark polls only
`DescribeExecution`, a few times a second, so that it does not slow the sandbox it
measures (the sandbox's services, its CloudFormation and its Step Functions share this
process and its two cores).

Modelled seconds are wall seconds divided by the sandbox's time scale. CloudFormation's
modelled latency and the workflow's `Wait` states are scaled; Lambda execution is not (each
function really runs, at this machine's speed), nor is the real time of the sandbox's API
calls. Both count in a run's modelled time, as the installer's overhead: at scale 0.005 a
real second of Lambda is 200 modelled seconds. `bench/install.py` shows how much of a run
they are.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from bench.timeline import RunTimeline, timeline
from installer.aws import Aws, quiet_sandbox_logs
from installer.build import Release
from installer.operations import (
    DEFAULT_BUCKET_PREFIX,
    Installation,
    RunReader,
    bootstrap_parameters,
    deploy_bootstrap,
    publish,
    result_document,
    start,
)
from lambdas.data.records import RunRecord, StepRecord
from sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parent.parent
#: modelled seconds pass 200 times faster: a ~30 min install takes ~1 min here
DEFAULT_SCALE = 0.005
INSTALLATION = Installation(prefix="dataall", env="bench")
#: data.all's own home region (its synthesis region), so its CloudFront stage (us-east-1) is elsewhere
DATAALL_HOME_REGION = "eu-west-1"
#: wall seconds between two looks at a running execution
POLL_SECONDS = 0.2
#: wall seconds a run may take before the benchmark gives up
RUN_TIMEOUT = 1800
#: `dataall-installer run redeploy`: reconcile every stage with the current release
REDEPLOY: Mapping[str, Any] = {"action": "redeploy", "source": "cli"}


class BenchError(RuntimeError):
    """The benchmark could not measure what it set out to (a failed run, no run started)."""


# --------------------------------------------------------------------------- inputs
def argument_parser(
    doc: str | None, *, release_option: bool = True, scale: float = DEFAULT_SCALE
) -> argparse.ArgumentParser:
    """`--scale` (and `--release`), with the script's docstring as its help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale",
        type=float,
        default=scale,
        help=f"sandbox time scale: wall seconds per modelled second (default {scale})",
    )
    if release_option:
        from installer.upstream import LATEST

        chosen = parser.add_mutually_exclusive_group()
        chosen.add_argument(
            "--dataall",
            metavar="VERSION",
            default=None,
            help=f"data.all's own release at VERSION (the default: {LATEST}), imported from its upstream "
            "(../shared/upstream/dataall/VERSION, $DATAALL_UPSTREAM), built once and cached; installed in its "
            f"home region, {DATAALL_HOME_REGION}, with its CloudFront stage in us-east-1",
        )
        chosen.add_argument("--release", type=Path, default=None, help="a built release folder")
        chosen.add_argument(
            "--synthetic",
            action="store_true",
            help="the tests' synthetic release (tests/fixtures/synthetic, a test fixture: data.all's stacks "
            "re-created small, built once and cached), installed in the sandbox's region: a quick run",
        )
    return parser


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    parsed = parser.parse_args()
    if parsed.scale <= 0:
        parser.error("--scale must be positive")
    return parsed


def arguments(doc: str | None, *, scale: float = DEFAULT_SCALE) -> argparse.Namespace:
    return parse(argument_parser(doc, scale=scale))


def synthetic_release(version: str | None = None, overrides: Mapping[str, Any] | None = None) -> Release:
    """The tests' synthetic release (a test fixture, `tests/fixtures/synthetic`) of the current
    sources (with CDK context `overrides`), built at most once.

    The cache is the test suite's (`tests/conftest.py`, keyed by a digest of the sources):
    a release the tests built is reused here and the other way round.
    """
    from tests.conftest import cached_synthetic_release

    built: Release = cached_synthetic_release(version, dict(overrides) if overrides else None)
    return built


def chosen_release(args: argparse.Namespace) -> Release:
    """`--release DIR`, `--synthetic`, else data.all's release (`--dataall`, by default the latest)."""
    if args.release is not None:
        return Release.load(args.release)
    if args.synthetic:
        return synthetic_release()
    from installer.upstream import LATEST
    from tests.conftest import cached_dataall_release

    imported: Release = cached_dataall_release(args.dataall or LATEST)
    return imported


def home_region(args: argparse.Namespace) -> str | None:
    """The region to install in: data.all's home region for its own release, else the sandbox's."""
    return None if args.release is not None or args.synthetic else DATAALL_HOME_REGION


# --------------------------------------------------------------------------- figures
@dataclass(frozen=True)
class Counters:
    """What the sandbox counts across runs: Lambda calls and billed time, CloudFormation calls."""

    lambda_invocations: int = 0
    #: billed milliseconds per function memory size (MB)
    lambda_billed_ms: Mapping[int, int] = field(default_factory=dict)
    cloudformation_calls: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, sandbox: Sandbox) -> Counters:
        return cls(
            lambda_invocations=int(sandbox.runtime.invocation_count),
            lambda_billed_ms=dict(sandbox.runtime.billed_ms_by_memory),
            cloudformation_calls=sandbox.cloudformation.calls.snapshot(),
        )

    def since(self, earlier: Counters) -> Counters:
        return Counters(
            lambda_invocations=self.lambda_invocations - earlier.lambda_invocations,
            lambda_billed_ms=_minus(self.lambda_billed_ms, earlier.lambda_billed_ms),
            cloudformation_calls=_minus(self.cloudformation_calls, earlier.cloudformation_calls),
        )

    @property
    def lambda_gb_seconds(self) -> float:
        """What Lambda bills for duration: each invocation's billed ms times its memory in GB."""
        return sum(ms / 1000 * memory / 1024 for memory, ms in self.lambda_billed_ms.items())


def _minus(now: Mapping[Any, int], earlier: Mapping[Any, int]) -> dict[Any, int]:
    return {key: value - earlier.get(key, 0) for key, value in now.items() if value > earlier.get(key, 0)}


@dataclass(frozen=True)
class RunMeasurement:
    """One run of the workflow: its result, its history, its ledger records, what it cost."""

    result: dict[str, Any]
    scale: float
    started: datetime
    stopped: datetime
    history: list[dict[str, Any]]
    #: the ledger's RUN record (action, waves, options ...)
    meta: RunRecord
    #: the ledger's STEP records of this run, by step name
    steps: dict[str, StepRecord]
    #: counted while the command ran (for a deploy: publish, bootstrap stack and run)
    counters: Counters
    #: wall seconds the bootstrap stack took to create or update (None: the run was started directly)
    bootstrap_wall: float | None = None

    @property
    def wall_seconds(self) -> float:
        return (self.stopped - self.started).total_seconds()

    @property
    def modelled_seconds(self) -> float:
        return self.wall_seconds / self.scale

    def modelled(self, wall_seconds: float) -> float:
        return wall_seconds / self.scale

    @property
    def transitions(self) -> int:
        return int(self.result["transitions"])

    @property
    def active_steps(self) -> list[str]:
        """The release's steps for this run (stages and actions): the ones the run works on, in
        dependency order, then the ones Plan found already running the release."""
        return [*self.meta.order, *self.meta.unchanged]

    @property
    def change_sets_created(self) -> int:
        """CreateChangeSet calls CloudFormation answered during the command."""
        return int(self.counters.cloudformation_calls.get("CreateChangeSet", 0))

    @property
    def change_sets_recorded(self) -> int:
        """Steps of this run whose ledger record names a change set."""
        return sum(1 for record in self.steps.values() if record.change_set_id)

    @cached_property
    def timeline(self) -> RunTimeline:
        return timeline(self.history, self.started)


class BenchSandbox:
    """An embedded sandbox and one installation in it, deployed exactly as the CLI does
    (`installer.operations`: publish, create or update the bootstrap stack, start runs)."""

    def __init__(self, scale: float, region: str | None = None) -> None:
        self.scale = scale
        self.sandbox = Sandbox(scale=scale)
        self.aws = Aws(region=region or self.sandbox.region, endpoint_url=self.sandbox.endpoint)
        self.outputs: dict[str, str] | None = None

    def __enter__(self) -> BenchSandbox:
        quiet_sandbox_logs()
        self.sandbox.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sandbox.stop()

    def counters(self) -> Counters:
        return Counters.of(self.sandbox)

    def deploy(self, release: Release, params: Mapping[str, str] | None = None) -> RunMeasurement:
        """`dataall-installer deploy`: publish, create or update the bootstrap stack, follow its run."""
        from installer.images import register_sandbox_images

        register_sandbox_images(self.aws, release, lambda _: None)
        before = self.counters()
        bucket = publish(self.aws, release, DEFAULT_BUCKET_PREFIX)
        parameters = bootstrap_parameters(release, INSTALLATION, DEFAULT_BUCKET_PREFIX, dict(params or {}))
        began = time.monotonic()
        changed, outputs = deploy_bootstrap(self.aws, release, INSTALLATION, bucket, parameters)
        bootstrap_wall = time.monotonic() - began
        if not changed or "RunExecutionArn" not in outputs:
            raise BenchError(f"the bootstrap stack did not change for release {release.version}: no run started")
        self.outputs = outputs
        return self._follow(outputs["RunExecutionArn"], before, bootstrap_wall)

    def run(self, document: dict[str, Any]) -> RunMeasurement:
        """`dataall-installer run ...`: start a run of the installation's workflow, follow it."""
        if self.outputs is None:
            raise BenchError("nothing is installed yet: deploy first")
        before = self.counters()
        return self._follow(start(self.aws, self.outputs, document), before, None)

    def stack_events(self, stage: str, region: str | None = None) -> list[dict[str, Any]]:
        """The stage stack's events, oldest first (its stack is in `region`, default the installation's)."""
        cloudformation = Aws(region=region or self.aws.region, endpoint_url=self.aws.endpoint_url).client(
            "cloudformation"
        )
        events = cloudformation.describe_stack_events(StackName=INSTALLATION.stage_stack(stage))["StackEvents"]
        return list(reversed(events))

    def _follow(self, execution_arn: str, before: Counters, bootstrap_wall: float | None) -> RunMeasurement:
        assert self.outputs is not None
        sfn = self.aws.client("stepfunctions")
        deadline = time.monotonic() + RUN_TIMEOUT
        while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise BenchError(f"run {execution_arn} still RUNNING after {RUN_TIMEOUT} s")
            time.sleep(POLL_SECONDS)
        counters = self.counters().since(before)
        history = [
            event
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for event in page["events"]
        ]
        reader = RunReader(self.aws, INSTALLATION, self.outputs)
        transitions = sum(1 for event in history if str(event["type"]).endswith("StateEntered"))
        result = result_document(reader.view(execution_arn), transitions)
        if result["status"] != "SUCCEEDED":
            raise BenchError(f"{result['action']} {result['version']} ended {result['status']}: {result['error']}")
        run = execution["name"]
        meta = reader.ledger.run(run)
        if meta is None:
            raise BenchError(f"run {run} has no record in the ledger")
        return RunMeasurement(
            result=result,
            scale=self.scale,
            started=execution["startDate"],
            stopped=execution["stopDate"],
            history=history,
            meta=meta,
            steps=reader.ledger.steps(run),
            counters=counters,
            bootstrap_wall=bootstrap_wall,
        )


# --------------------------------------------------------------------------- printing
def figure(value: object) -> str:
    """A figure as printed: floats to 6 significant digits, never in exponent form."""
    if not isinstance(value, float):
        return str(value)
    text = f"{value:.6g}"
    return f"{value:.10f}".rstrip("0").rstrip(".") if "e" in text else text


def print_figures(figures: Iterable[tuple[str, object]]) -> None:
    """`key=value` lines: the last lines of a benchmark's output, for scripts to read."""
    for key, value in figures:
        print(f"{key}={figure(value)}", flush=True)


def context_figures(scale: float) -> list[tuple[str, object]]:
    """The scale, and how busy this machine was: wall-time figures (Lambda time above all)
    grow when other processes share its cores, so a load above the CPU count flags them."""
    return [("scale", scale), ("cpus", os.cpu_count() or 1), ("load_average", round(os.getloadavg()[0], 2))]


def transitions_lines(measurement: RunMeasurement) -> list[str]:
    """Where a run's state transitions go: per phase, and per step."""
    run = measurement.timeline
    phases = " ".join(f"{phase}={count}" for phase, count in run.by_phase().most_common())
    lines = [f"transitions by phase: {phases}"]
    for name in measurement.active_steps:
        step = run.steps.get(name)
        if step is not None:
            detail = " ".join(f"{phase}={count}" for phase, count in step.transitions.items())
            lines.append(f"  {name:<12} {sum(step.transitions.values()):>4}  ({detail})")
    states = " ".join(f"{state}={count}" for state, count in run.by_state.most_common())
    lines.append(f"transitions by state: {states}")
    return lines
