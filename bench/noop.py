"""A redeploy with nothing to do: data.all's release (bench/common.py) installed, then redeployed unchanged.

    python bench/noop.py [--scale 0.005] [--dataall VERSION | --release DIR | --synthetic]

This is what a scheduled redeploy costs on most days. The last lines are the figures of
the redeploy run alone (the install before it is not counted):

  transitions            state transitions of the run: what Step Functions bills
  steps                  the run's steps (stages and the migrate action)
  transitions_per_stage  transitions / steps, the run's own states (Plan, the Maps,
                         Finalize) shared out among them (the goal: at most 3)
  change_sets            CreateChangeSet calls CloudFormation answered (the goal: 0)
  lambda_invocations     Lambda invocations
  redeploy_s             the run's modelled time: wall time / scale, its Lambda time
                         included at real speed x 1/scale (see bench/common.py)

Before them: the transitions per phase and per step, and the CloudFormation calls made.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `python bench/noop.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REDEPLOY,
    BenchSandbox,
    arguments,
    chosen_release,
    context_figures,
    home_region,
    print_figures,
    transitions_lines,
)


def main() -> int:
    args = arguments(__doc__)
    release = chosen_release(args)
    with BenchSandbox(args.scale, home_region(args)) as bench:
        bench.deploy(release)
        redeploy = bench.run(dict(REDEPLOY))
    for line in transitions_lines(redeploy):
        print(line)
    results = sorted({str(record.result) for record in redeploy.steps.values()})
    print(f"step results: {', '.join(results)}")
    calls = " ".join(f"{action}={count}" for action, count in sorted(redeploy.counters.cloudformation_calls.items()))
    print(f"CloudFormation calls: {calls}")
    steps = len(redeploy.active_steps)
    print_figures(
        [
            *context_figures(args.scale),
            ("change_sets_in_ledger", redeploy.change_sets_recorded),
            ("lambda_gb_s", round(redeploy.counters.lambda_gb_seconds, 3)),
            ("steps", steps),
            ("transitions", redeploy.transitions),
            ("transitions_per_stage", round(redeploy.transitions / steps, 2)),
            ("change_sets", redeploy.change_sets_created),
            ("lambda_invocations", redeploy.counters.lambda_invocations),
            ("redeploy_s", round(redeploy.modelled_seconds, 1)),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
