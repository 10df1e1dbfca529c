"""The outputs of deployed stages, as a step's parameters reference them (`${stage:NAME.OUTPUT}`).

A stage and the migrate action resolve their parameters the same way: from what the ledger
records each stage runs now.
"""

from __future__ import annotations

from collections.abc import Callable

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed
from lambdas.data.records import StageRecord


def outputs_reader(deps: Deps, step: str) -> Callable[[str, str], str]:
    """`read(stage, output)` for `resolve_parameters`, reading each stage's record once; a stage
    not deployed, or without that output, fails `step`."""
    cache: dict[str, StageRecord] = {}

    def read(name: str, output: str) -> str:
        if name not in cache:
            record = deps.ledger.stage(name)
            if record is None:
                raise StageFailed(step, f"stage {name} has not been deployed, its outputs are unknown")
            cache[name] = record
        outputs = cache[name].outputs
        if output not in outputs:
            raise StageFailed(step, f"stage {name} has no output {output}")
        return str(outputs[output])

    return read
