"""The floor of an install: the longest chain of steps that depend on each other, each step
taking what the sandbox's latency model says it takes.

A stage's duration is the creation of its stack (CreateStack, as the installer creates a
stage: no change set), exactly as the sandbox's CloudFormation models it
(`sandbox/cloudformation/`, with `lambdas/stage/latency.csv` read by `LatencyModel`,
the resource graph by `resource_dependencies`, the resources a template's conditions
include by `Deployment`):

    stack overhead       ("(stack overhead)" row, create)
  + the longest chain through the stack's resources, each resource taking its type's
    create time (a Lambda function with subnets takes its "(in a VPC)" row); independent
    resources run in parallel, as the sandbox's scheduler runs them.

What the model does not cover is left out of the floor, on purpose, so that the floor is
the same at every time scale and is the sandbox's, not this machine's:

- custom resources take the model's dispatch time (`CUSTOM_RESOURCE_DISPATCH`, 1 s); their
  handler's run time is real time in the sandbox (Lambda is not scaled) and counts as
  overhead, like the installer's own Lambdas and the real time of moto's API calls;
- the `migrate` action takes the model's row for a cluster snapshot
  ("AWS::RDS::DBClusterSnapshot", 180 s) when the run took one, and nothing more: the
  migration itself is Lambda time. The sandbox's RDS makes snapshots available at once,
  so this is the one figure the sandbox does not impose; `Schedule.slack` says whether it
  can matter (in the synthetic test release migrate has minutes of slack).

The floor has no Plan or Finalize and no polling: all of that is the installer's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.release.manifest import topological_levels
from lambdas.stage.latency import LatencyModel
from sandbox.cloudformation import parameters as stack_parameters
from sandbox.cloudformation.intrinsics import NoResources
from sandbox.cloudformation.model import Deployment
from sandbox.cloudformation.providers.base import StackContext
from sandbox.cloudformation.template import parse_template, resource_dependencies

#: the latency row of the snapshot the migrate step takes before it migrates
SNAPSHOT_TYPE = "AWS::RDS::DBClusterSnapshot"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


# --------------------------------------------------------------------------- graphs
@dataclass(frozen=True)
class Schedule:
    """The earliest schedule of a graph whose nodes take fixed times and wait for nothing
    but their dependencies: what an installer with no overhead would do."""

    durations: Mapping[str, float]
    dependencies: Mapping[str, frozenset[str]]
    start: Mapping[str, float]
    finish: Mapping[str, float]
    #: the critical path, first node first
    path: tuple[str, ...]

    @property
    def length(self) -> float:
        return max(self.finish.values(), default=0.0)

    @property
    def total(self) -> float:
        """Every node one after the other: the floor of an installer that runs one step at a time."""
        return sum(self.durations.values())

    def slack(self, node: str) -> float:
        """How much longer `node` could take before the whole schedule takes longer."""
        return self._latest_finish()[node] - self.finish[node]

    def _latest_finish(self) -> dict[str, float]:
        latest: dict[str, float] = {}
        for node in reversed([n for level in topological_levels(self.dependencies) for n in level]):
            dependants = [other for other, needs in self.dependencies.items() if node in needs]
            latest[node] = min(
                (latest[other] - self.durations[other] for other in dependants),
                default=self.length,
            )
        return latest


def schedule(durations: Mapping[str, float], dependencies: Mapping[str, Iterable[str]]) -> Schedule:
    """Earliest start and finish of every node, and the longest chain (ties: the first name).

    Dependencies on nodes that are not in `durations` are ignored (a stage that is off
    with the run's options); a cycle raises `ManifestError`, naming it.
    """
    deps = {node: frozenset(d for d in dependencies.get(node, ()) if d in durations) for node in durations}
    start: dict[str, float] = {}
    finish: dict[str, float] = {}
    before: dict[str, str | None] = {}
    for level in topological_levels(deps):
        for node in level:
            latest = max(sorted(deps[node]), key=lambda d: finish[d], default=None)
            start[node] = finish[latest] if latest is not None else 0.0
            finish[node] = start[node] + durations[node]
            before[node] = latest
    path: list[str] = []
    last = max(sorted(finish), key=lambda n: finish[n], default=None)
    while last is not None:
        path.append(last)
        last = before[last]
    return Schedule(dict(durations), deps, start, finish, tuple(reversed(path)))


# --------------------------------------------------------------------------- stacks
@dataclass(frozen=True)
class StackEstimate:
    """Modelled seconds to create one stack (CreateStack), as the sandbox does it."""

    overhead: float
    #: the longest chain through the stack's resources
    resources: float
    #: that chain's logical ids, first created first
    chain: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return self.overhead + self.resources


class _Placeholders:
    """Resolves resources to placeholder text: the latency model needs the shape of a
    resource's properties (has a function subnets?), never the values that AWS assigns."""

    def ref(self, logical_id: str) -> Any:
        return logical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{logical_id}.{attribute}"

    def import_value(self, export_name: str) -> Any:
        return export_name

    def availability_zones(self, region: str) -> list[str]:
        return NoResources().availability_zones(region)


def _accept_all(kind: str, resource_id: str) -> bool:
    return True


def _no_ssm_parameter(name: str) -> str:
    raise KeyError(name)


def stack_create_estimate(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    model: LatencyModel,
    *,
    stack_name: str = "stage",
) -> StackEstimate:
    """The modelled creation of a stack from `template` with `parameters` (as given to
    CreateStack; the template's defaults fill the rest, its conditions pick the
    resources)."""
    parsed = parse_template(json.dumps(template))
    given = [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]
    resolved = stack_parameters.resolve(
        parsed, given, stack_parameters.Lookups(ssm_parameter=_no_ssm_parameter, ec2_resource_exists=_accept_all)
    )
    deployment = Deployment(template=parsed, parameters=resolved)
    context = StackContext(
        stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/estimate",
        stack_name=stack_name,
        region=REGION,
        account_id=ACCOUNT_ID,
    )
    evaluator = deployment.evaluator(context)
    resources = deployment.included_resources(context)
    graph = resource_dependencies(resources, evaluator.conditions())
    with_placeholders = evaluator.with_resources(_Placeholders())
    seconds = {
        logical_id: model.resource(
            str(resource["Type"]), "create", _properties(with_placeholders.evaluate, resource.get("Properties") or {})
        )
        for logical_id, resource in resources.items()
    }
    chain = schedule(seconds, graph)
    return StackEstimate(
        overhead=model.stack_overhead("create"),
        resources=chain.length,
        chain=chain.path,
    )


def _properties(evaluate: Any, properties: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties as the engine hands them to the latency model; the template's form for
    those that cannot be evaluated without real values (a `Fn::Select` of a placeholder)."""
    try:
        evaluated = evaluate(properties)
    except Exception:  # noqa: BLE001 - an unevaluable property keeps its template form
        return properties
    return evaluated if isinstance(evaluated, Mapping) else properties


def migrate_estimate(model: LatencyModel, *, took_snapshot: bool) -> float:
    """The modelled part of a migrate step: the cluster snapshot, when the run took one."""
    return model.resource(SNAPSHOT_TYPE, "create") if took_snapshot else 0.0


# --------------------------------------------------------------------------- a release
@dataclass(frozen=True)
class ReleaseFloor:
    """The floor of one install: each stage's modelled stack creation, and their schedule."""

    stacks: Mapping[str, StackEstimate]
    schedule: Schedule


def release_floor(
    templates: Mapping[str, Mapping[str, Any]],
    parameters: Mapping[str, Mapping[str, str]],
    dependencies: Mapping[str, Iterable[str]],
    actions: Mapping[str, float],
    model: LatencyModel,
) -> ReleaseFloor:
    """The floor of installing the stages (`templates`, with the `parameters` each stack is
    given) and the actions (their estimated seconds), in dependency order."""
    stacks = {
        name: stack_create_estimate(template, parameters.get(name, {}), model, stack_name=name)
        for name, template in templates.items()
    }
    durations = {**{name: estimate.seconds for name, estimate in stacks.items()}, **actions}
    return ReleaseFloor(stacks=stacks, schedule=schedule(durations, dependencies))
