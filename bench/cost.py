"""What the installer's runs cost at list price: an install, an upgrade of one stage, and a
redeploy with nothing to do, one after the other in one sandbox.

    python bench/cost.py [--scale 0.005] [--stage params]

- install: the tests' synthetic release (`tests/fixtures/synthetic`, a test fixture: data.all's
  stacks re-created small), from an empty account (bootstrap stack, then its run);
- upgrade: a release that differs from it in exactly one stage (`--stage`, built with the
  fixture's touch hook, `tests.fixtures.synthetic.common.TOUCH_CONTEXT`: one inert resource
  added, a real stack update; data.all's release, imported from its cloud assembly, has no
  such hook), deployed as `dataall-installer upgrade` does: the bootstrap stack's
  ReleaseVersion changes and its trigger starts the run. The benchmark checks that
  exactly that stage's template differs;
- noop: `dataall-installer run redeploy` with nothing changed.

For each: state transitions (exact: the real workflow, billed per state entered), Lambda
invocations and GB-seconds, and their cost. Lambda's figures come from the sandbox's
runtime, which bills each invocation's real duration here rounded up to the millisecond,
times the function's memory: durations are this machine's, worker cold starts included,
not AWS's, so they are an estimate; invocations are exact. CloudFormation itself is free
for AWS resource types; S3, DynamoDB and CloudWatch requests are left out (fractions of
a cent).

The last lines: one line per scenario with its figures, then `install_cost_usd=` (Step
Functions transitions + Lambda duration + Lambda requests of the install).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `python bench/cost.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REDEPLOY,
    BenchError,
    BenchSandbox,
    RunMeasurement,
    argument_parser,
    context_figures,
    figure,
    parse,
    print_figures,
    synthetic_release,
)
from installer.build import Release

# List prices, us-east-1, read 2025 (https://aws.amazon.com/step-functions/pricing/ and
# https://aws.amazon.com/lambda/pricing/); free tiers are left out.
#: Step Functions Standard workflows: $0.025 per 1,000 state transitions
STEP_FUNCTIONS_USD_PER_TRANSITION = 0.025 / 1_000
#: Lambda, x86, first pricing tier: $0.0000166667 per GB-second of duration
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
#: Lambda: $0.20 per million requests
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
#: the stage the upgrade changes: a leaf of the graph (nothing reads its outputs), quick to update
DEFAULT_STAGE = "params"


@dataclass(frozen=True)
class Cost:
    """The list-price cost of one run (and of the bootstrap stack change that started it)."""

    transitions: int
    lambda_invocations: int
    lambda_gb_seconds: float

    @classmethod
    def of(cls, run: RunMeasurement) -> Cost:
        return cls(run.transitions, run.counters.lambda_invocations, run.counters.lambda_gb_seconds)

    @property
    def transitions_usd(self) -> float:
        return self.transitions * STEP_FUNCTIONS_USD_PER_TRANSITION

    @property
    def lambda_usd(self) -> float:
        return self.lambda_gb_seconds * LAMBDA_USD_PER_GB_SECOND + self.lambda_invocations * LAMBDA_USD_PER_REQUEST

    @property
    def total_usd(self) -> float:
        return self.transitions_usd + self.lambda_usd


def next_version(version: str) -> str:
    """The next patch version: 2.8.0 -> 2.8.1 (a suffix is dropped)."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        raise BenchError(f"release version {version} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return f"{major}.{minor}.{patch + 1}"


def changed_stages(before: Release, after: Release) -> list[str]:
    """The stages whose template differs between two releases (by the manifests' sha256)."""
    changed = []
    for name, step in after.manifest.steps.items():
        old = before.manifest.steps.get(name)
        if step.template is None or old is None or old.template is None:
            continue
        if after.manifest.files[step.template] != before.manifest.files[old.template]:
            changed.append(name)
    return changed


def upgraded(release: Release, stage: str) -> Release:
    """The release with exactly `stage` changed, as the next patch version."""
    if stage not in release.manifest.steps or not release.manifest.steps[stage].is_stage:
        raise BenchError(f"{stage} is not a stage of release {release.version}")
    # Here, not at the top: the fixture's stage base starts the CDK's Node process when imported,
    # and bench.waiting (unit-tested without Node) reads this module's prices.
    from tests.fixtures.synthetic.common import TOUCH_CONTEXT

    variant = synthetic_release(next_version(release.version), {TOUCH_CONTEXT: stage})
    changed = changed_stages(release, variant)
    if changed != [stage]:
        raise BenchError(f"the upgrade should change stage {stage} only, it changes: {', '.join(changed) or 'none'}")
    return variant


def scenario_line(name: str, run: RunMeasurement) -> str:
    cost = Cost.of(run)
    pairs = [
        ("scenario", name),
        ("transitions", cost.transitions),
        ("transitions_usd", cost.transitions_usd),
        ("lambda_invocations", cost.lambda_invocations),
        ("lambda_gb_s", round(cost.lambda_gb_seconds, 3)),
        ("lambda_usd", cost.lambda_usd),
        ("total_usd", cost.total_usd),
        ("change_sets", run.change_sets_created),
        ("modelled_s", round(run.modelled_seconds, 1)),
    ]
    return " ".join(f"{key}={figure(value)}" for key, value in pairs)


def main() -> int:
    parser = argument_parser(__doc__, release_option=False)
    parser.add_argument(
        "--stage", default=DEFAULT_STAGE, help=f"the stage the upgrade changes (default {DEFAULT_STAGE})"
    )
    args = parse(parser)
    release = synthetic_release()
    variant = upgraded(release, args.stage)
    with BenchSandbox(args.scale) as bench:
        runs = {
            "install": bench.deploy(release),
            "upgrade": bench.deploy(variant),
            "noop": bench.run(dict(REDEPLOY)),
        }
    for name, run in runs.items():
        results: dict[str, list[str]] = {}
        for step, record in sorted(run.steps.items()):
            results.setdefault(str(record.result), []).append(step)
        summary = "; ".join(f"{result}: {', '.join(steps)}" for result, steps in sorted(results.items()))
        print(f"{name} {run.result['version']}: {summary}")
    print(
        f"prices: ${STEP_FUNCTIONS_USD_PER_TRANSITION * 1000:g} per 1,000 transitions, "
        f"${figure(LAMBDA_USD_PER_GB_SECOND)} per GB-s, ${LAMBDA_USD_PER_REQUEST * 1e6:g} per million requests"
    )
    print_figures(context_figures(args.scale))
    for name, run in runs.items():
        print(scenario_line(name, run))
    print_figures([("install_cost_usd", Cost.of(runs["install"]).total_usd)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
