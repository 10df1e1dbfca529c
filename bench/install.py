"""A full install of a release in the sandbox, against its floor.

    python bench/install.py [--scale 0.2] [--dataall VERSION | --release DIR | --synthetic]

The release is data.all's own (`--dataall`, by default its latest pinned version, 2.9.0: its 14
stages, from ../shared/upstream/dataall), installed in data.all's home region with its CloudFront
stage in us-east-1. `--synthetic` installs instead the tests' synthetic release
(`tests/fixtures/synthetic`, a test fixture: data.all's stacks re-created small, 16 stages that
install in seconds), for a quick look at the installer's own overhead; its figures are not
data.all's.

The last lines are the figures:

  install_s         the install run, modelled: the workflow's execution from its start to
                    its stop (Plan and Finalize included), wall time / scale. The bootstrap
                    stack that starts it is measured apart (bootstrap_s).
  critical_path_by_stage  each stage of that chain with its modelled seconds.
  critical_path_s   the floor: the longest chain of steps that depend on each other (the
                    release graph, with the run's options), each step taking what the
                    sandbox's latency model says, with nothing for the installer itself.
  ratio             install_s / critical_path_s (the goal: at most 1.10).
  sequential_s      the same steps, one at a time, in data.all's pipeline order, each taking
                    its floor: the floor of an installer that deploys one stack after the
                    other. data.all's CodePipeline adds source, synth, build and asset
                    publishing on top; they are not modelled, so this is a lower bound of it.
  sequential_ratio  sequential_s / critical_path_s.

Above them:
  run_chain         the run's own critical chain: the step that finished last, the step it
                    waited for that finished last, and so on. Steps start when what they
                    wait for is done (no waves), so it should be the critical path.
  lambda_on_path_s  of install_s, the time that chain (with Plan and Finalize) spent in the
                    installer's Lambda tasks: real time / scale, most of a run at small scales;
  waits_on_path_s   in Wait states (the polling intervals, modelled);
  handovers_on_path_s  and between a step's end and the start of the next step of the chain
                    (the release of a parked step: a Lambda call and a SendTaskSuccess).
The Lambda and Wait figures are not a floor: CloudFormation works on while a Lambda runs,
so a faster Lambda would not shorten the run by all of its time. The sandbox's Lambda time
is real and unscaled, and the first steps' cold starts share this machine's cores (in AWS
each has its own): the smaller the scale, the more of the ratio is this machine. Hence the
default of 0.2 (a run of about eight minutes); 0.05 runs in two and shows the effect.

What is modelled (`bench/critical_path.py`): each stage is the creation of its stack
(CreateStack, as the installer creates a stage), as the sandbox's CloudFormation runs it
(`latency.csv`): stack overhead + the longest chain of its resources, each taking its type's
create time. Custom resources take the model's dispatch time; the `migrate` action takes
the model's cluster-snapshot time. Everything else is the installer's overhead: Plan,
Finalize, handovers, polling, and Lambda execution, which the sandbox does not
scale (at scale 0.005 one real second of Lambda is 200 modelled seconds; `lambda_on_path_s`
says how much of the run that is).

data.all's pipeline order (`/work/shared/reference/dataall-deploy-page.md`): the VpcStack,
then the BackendStage's BackendStack, its sub-stacks as the page lists them (Aurora, Idp,
Container, Canaries, Rum, DBMigration, LambdaApi, Monitoring, OpenSearch, ParamStore,
S3Resources, SecretsManager, Sqs), each after those it needs; then the pivot role; then
the frontend stage (CloudfrontStage, or AlbFrontStage when not internet-facing). A sum does
not depend on the order; it is printed so that it can be checked.

Before the figures: where the install's time goes per step (waiting for what it depends on
versus its own work, split into Lambda, Wait states and the rest), and where its state
transitions go.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: `python bench/install.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    INSTALLATION,
    BenchError,
    BenchSandbox,
    RunMeasurement,
    arguments,
    chosen_release,
    context_figures,
    home_region,
    print_figures,
    transitions_lines,
)
from bench.critical_path import ReleaseFloor, migrate_estimate, release_floor
from bench.timeline import RunTimeline
from installer.build import Release
from lambdas.stage.latency import LatencyModel

#: The default scale: large enough that the sandbox's Lambda time (real, not scaled: at
#: 0.005 a second of it is 200 modelled seconds) does not swamp the installer's own overhead.
INSTALL_SCALE = 0.2

#: data.all's stacks in the order its pipeline deploys them, as a release's steps: each under the
#: synthetic release's name and, beside it, the name of the stage imported from data.all's stack
DATAALL_PIPELINE = (
    "vpc",
    "backend",
    "aurora",
    "cognito",
    "container",
    "ecs",
    "canaries",
    "rum",
    "migrate",
    "migrations",
    "lambda-api",
    "lambdas",
    "monitoring",
    "dashboards",
    "opensearch",
    "params",
    "s3",
    "secrets",
    "sqs",
    "pivot-role",
    "cloudfront",
    "frontend-cognito-config",
    "albfront",
)


def floor_of(release: Release, install: RunMeasurement, model: LatencyModel) -> ReleaseFloor:
    """The floor of the run's steps, each stage with the parameters the run gave its stack."""
    steps = release.manifest.steps
    active = install.active_steps
    templates = {name: release.template(name) for name in active if steps[name].is_stage}
    actions: dict[str, float] = {}
    for name in active:
        if steps[name].is_stage:
            continue
        if steps[name].kind == "migrate":
            actions[name] = migrate_estimate(model, took_snapshot=bool(install.steps[name].snapshot_id))
        elif steps[name].kind == "images":
            # the copy of the release's images into the installation's registry: not in the latency
            # model (a transfer the sandbox's stand-in images make tiny), so no floor of its own; what
            # it takes in the run counts as the installer's overhead (the ratio can only grow by it)
            actions[name] = 0.0
        elif install.steps[name].result == "SKIPPED":
            actions[name] = 0.0  # e.g. a release built without data.all's web UI bundle: one Lambda call
        else:
            raise BenchError(f"no estimate for a {steps[name].kind} action ({name})")
    return release_floor(
        templates=templates,
        parameters={name: unmasked(install.steps[name].parameters or {}) for name in templates},
        dependencies={name: steps[name].dependencies() for name in active},
        actions=actions,
        model=model,
    )


#: What a run records of a NoEcho parameter (CloudFormation's mask), and what the floor gives it
#: instead: a value's content does not change how long a stack takes, only its pattern must hold.
MASK, STAND_IN = "****", "0" * 32


def unmasked(parameters: Mapping[str, str]) -> dict[str, str]:
    """The parameters a run gave a stage, with a stand-in for each NoEcho value it recorded masked."""
    return {key: STAND_IN if value == MASK else value for key, value in parameters.items()}


def pipeline_order(steps: Iterable[str], dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """`steps` one at a time in data.all's order, each preceded by what it needs."""
    chosen = set(steps)

    def rank(name: str) -> tuple[int, str]:
        return (DATAALL_PIPELINE.index(name) if name in DATAALL_PIPELINE else len(DATAALL_PIPELINE), name)

    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise BenchError("dependency cycle: " + " -> ".join((*path, name)))
        if name in order:
            return
        for needed in sorted(set(dependencies.get(name, ())) & chosen, key=rank):
            visit(needed, (*path, name))
        order.append(name)

    for name in sorted(chosen, key=rank):
        visit(name, ())
    return order


def _since(moment: datetime, started: datetime) -> float:
    return (moment - started).total_seconds()


def stack_times(events: list[dict[str, Any]], stack: str, started: datetime) -> tuple[float, float] | None:
    """Wall seconds (since the run started) at which the stack's create began and completed."""
    own = [e for e in events if e["LogicalResourceId"] == stack]
    began = next((e for e in own if e["ResourceStatus"] == "CREATE_IN_PROGRESS"), None)
    done = next((e for e in reversed(own) if e["ResourceStatus"] == "CREATE_COMPLETE"), None)
    if began is None or done is None:
        return None
    return _since(began["Timestamp"], started), _since(done["Timestamp"], started)


def breakdown(
    install: RunMeasurement, floor: ReleaseFloor, release: Release, events: Mapping[str, list[dict[str, Any]]]
) -> list[str]:
    """Per step, in modelled seconds since the run started."""
    run, modelled, plan = install.timeline, install.modelled, floor.schedule
    opened = run.steps_span.start if run.steps_span else 0.0
    lines = [
        "per step, modelled s since the run started. floor: its modelled duration; ideal: when it would start "
        "with no overhead (Plan excluded); ready: when the last step it waits for had finished; began: when it "
        "began its own work; handover: began - ready (the release from WaitTurn); own: began to finish = "
        "lambda + waits + other; cfn: the stack operation as the sandbox ran it; noticed: stack complete to "
        "step done (polling)",
        f"  {'step':<12}{'floor':>8}{'ideal':>8}{'ready':>8}{'began':>8}{'handover':>9}{'own':>8}"
        f"{'lambda':>8}{'waits':>8}{'other':>8}{'cfn':>8}{'noticed':>9}{'trans':>7}",
    ]
    for name in sorted(install.meta.order, key=lambda n: run.steps[n].began):
        step = run.steps[name]
        ready = max((run.steps[d].end for d in waits_for(release, run, name)), default=opened)
        cfn, noticed = "-", "-"
        times = stack_times(events.get(name, []), INSTALLATION.stage_stack(name), install.started)
        if times is not None:
            cfn = f"{modelled(times[1] - times[0]):.0f}"
            noticed = f"{modelled(step.end - times[1]):.0f}"
        lines.append(
            f"  {name:<12}{plan.durations[name]:>8.0f}{plan.start[name]:>8.0f}{modelled(ready):>8.0f}"
            f"{modelled(step.began):>8.0f}{modelled(step.began - ready):>9.0f}{modelled(step.seconds):>8.0f}"
            f"{modelled(step.lambda_seconds):>8.0f}{modelled(step.wait_seconds):>8.0f}{modelled(step.other_seconds):>8.0f}"
            f"{cfn:>8}{noticed:>9}{sum(step.transitions.values()):>7}"
        )
    for task, span in run.tasks.items():
        lines.append(f"  {task}: {modelled(span.seconds):.0f} (Lambda, real time {span.seconds:.2f} s)")
    return lines


def waits_for(release: Release, run: RunTimeline, name: str) -> list[str]:
    """The steps of this run that `name` waits for."""
    return [d for d in release.manifest.steps[name].dependencies() if d in run.steps]


def run_chain(release: Release, install: RunMeasurement) -> list[str]:
    """The run's own critical chain: the step that finished last, the step it waited for that
    finished last, and so on back to a step that waited for nothing."""
    run = install.timeline
    if not run.steps:
        return []
    chain = [max(run.steps, key=lambda n: run.steps[n].end)]
    while before := waits_for(release, run, chain[-1]):
        chain.append(max(before, key=lambda n: run.steps[n].end))
    return chain[::-1]


def path_split(release: Release, install: RunMeasurement) -> tuple[float, float, float]:
    """Wall seconds of the run's own critical chain (Plan, its chain of steps, Finalize) spent
    in Lambda tasks, in Wait states, and in handovers (a step's dependency done to it beginning)."""
    run = install.timeline
    lambda_wall = sum(span.seconds for span in run.tasks.values())
    waits_wall = handover_wall = 0.0
    previous: float | None = None
    for name in run_chain(release, install):
        step = run.steps[name]
        lambda_wall += step.lambda_seconds
        waits_wall += step.wait_seconds
        if previous is not None:
            handover_wall += step.began - previous
        previous = step.end
    return lambda_wall, waits_wall, handover_wall


def main() -> int:
    args = arguments(__doc__, scale=INSTALL_SCALE)
    release = chosen_release(args)
    model = LatencyModel.load()
    with BenchSandbox(args.scale, home_region(args)) as bench:
        install = bench.deploy(release)
        events = {
            name: bench.stack_events(name, release.manifest.steps[name].region)
            for name in install.active_steps
            if release.manifest.steps[name].is_stage
        }
    floor = floor_of(release, install, model)
    plan = floor.schedule
    dependencies = {name: release.manifest.steps[name].dependencies() for name in plan.durations}
    order = pipeline_order(plan.durations, dependencies)
    for line in [*breakdown(install, floor, release, events), *transitions_lines(install)]:
        print(line)
    slack = " ".join(f"{name}={plan.slack(name):.0f}" for name in plan.durations if plan.slack(name) > 0)
    print(f"slack off the critical path, modelled s: {slack}")
    lambda_wall, waits_wall, handover_wall = path_split(release, install)
    assert install.bootstrap_wall is not None
    print_figures(
        [
            *context_figures(args.scale),
            ("bootstrap_s", round(install.modelled(install.bootstrap_wall), 1)),
            ("lambda_on_path_s", round(install.modelled(lambda_wall), 1)),
            ("waits_on_path_s", round(install.modelled(waits_wall), 1)),
            ("handovers_on_path_s", round(install.modelled(handover_wall), 1)),
            ("transitions", install.transitions),
            ("change_sets", install.change_sets_created),
            ("lambda_invocations", install.counters.lambda_invocations),
            ("critical_path", ">".join(plan.path)),
            ("critical_path_by_stage", " ".join(f"{name}={plan.durations[name]:.0f}" for name in plan.path)),
            ("sequential_order", ">".join(order)),
            ("run_chain", ">".join(run_chain(release, install))),
            ("install_s", round(install.modelled_seconds, 1)),
            ("critical_path_s", round(plan.length, 1)),
            ("ratio", round(install.modelled_seconds / plan.length, 3)),
            ("sequential_s", round(plan.total, 1)),
            ("sequential_ratio", round(plan.total / plan.length, 3)),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
