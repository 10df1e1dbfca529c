"""A CDK stack with nested stacks becomes stages: one stack per stage, in dependency order.

Each nested stack of the root becomes a stage of its own; the root's own resources (without
its nested stacks) become one more stage, if any remain besides CDK's metadata. What a nested
stack's parameters read becomes the stage's parameters: another nested stack's output
(`Fn::GetAtt [Nested, Outputs.X]`) is `${stage:other.X}`; a root resource (`Ref` /
`Fn::GetAtt`) is an output the root's stage declares for it. `DependsOn` between nested
stacks and those references make the graph. Nested stacks the installer replaces (data.all's
migration triggers) are dropped, with the reason, and nothing may depend on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from blueprints.dataall import rules
from cloud_assembly.reader import AssemblyError, FileAsset, StackArtifact

#: Resource types that hold data: a stage with one of them is never deleted by a rollback.
DATA_TYPES = frozenset(
    {
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::OpenSearchService::Domain",
        "AWS::OpenSearchServerless::Collection",
        "AWS::S3::Bucket",
        "AWS::Cognito::UserPool",
        "AWS::SecretsManager::Secret",
        "AWS::DynamoDB::Table",
    }
)
CDK_METADATA = "AWS::CDK::Metadata"
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


@dataclass(frozen=True)
class ImportedStage:
    name: str
    #: where it comes from: `stack-name` or `stack-name/Nested`
    source: str
    #: the region of the stage's stack; None: the installation's own (the workflow's)
    region: str | None
    template: dict[str, Any]
    parameters: dict[str, str]
    depends_on: tuple[str, ...]
    stateful: bool
    assets: tuple[FileAsset, ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(self.template.get("Outputs", {}))

    @property
    def resource_count(self) -> int:
        return len(self.template.get("Resources", {}))


@dataclass
class Imported:
    stages: list[ImportedStage] = field(default_factory=list)
    #: (what, why): nested stacks and stacks the import leaves out
    dropped: list[tuple[str, str]] = field(default_factory=list)


def stage_name(construct_name: str, prefix: str = "") -> str:
    """`S3Resources` -> `s3-resources`, `CWDashboards` -> `cw-dashboards`, `ECS` -> `ecs`."""
    words = re.findall(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z0-9]+", construct_name.replace("-", " ").replace("_", " "))
    name = prefix + "-".join(word.lower() for word in words)
    if not STAGE_NAME.match(name):
        raise AssemblyError(f"{construct_name!r} gives the stage name {name!r}, which is not a valid stage name")
    return name


def split_stack(
    stack: StackArtifact,
    *,
    root_name: str,
    drop: Mapping[str, str] | None = None,
    naming: Mapping[str, str] | None = None,
    synthesis: rules.Synthesis,
    transforms: Mapping[str, Callable[[dict[str, Any]], None]] | None = None,
) -> Imported:
    """The stages of one stack: its nested stacks (less `drop`, by construct name) and its root.

    A nested stack's stage is named by `naming` (construct name -> stage name), else after its
    construct (`stage_name`). `transforms` (construct name -> rule) change one nested stack's
    template after the rules every stage gets (data.all's DbMigrations stack, for one)."""
    drop = drop or {}
    chosen = naming or {}
    nested = stack.nested()
    names = {i: chosen.get(n.construct_name) or stage_name(n.construct_name) for i, n in nested.items()}
    dropped = {logical_id for logical_id, n in nested.items() if n.construct_name in drop}
    result = Imported(
        dropped=[
            (f"{stack.stack_name}/{nested[i].construct_name}", drop[nested[i].construct_name]) for i in sorted(dropped)
        ]
    )
    root_outputs: dict[str, dict[str, Any]] = {}

    for logical_id, child in nested.items():
        if logical_id in dropped:
            continue
        parameters: dict[str, str] = {}
        depends = {names[d] for d in _depends_on(child.resource) if d in names and d not in dropped}
        for d in _depends_on(child.resource):
            # A transformed stack's order after a dropped one was the order of what the transform
            # takes out (data.all's DbMigrations trigger ran after DbSnapshots' trigger).
            if d in dropped and child.construct_name not in (transforms or {}):
                raise AssemblyError(
                    f"{child.construct_name} depends on {nested[d].construct_name}, which the import drops"
                )
        for parameter, value in (child.resource.get("Properties", {}).get("Parameters") or {}).items():
            parameters[parameter] = _reference(
                value, names, dropped, root_outputs, stack, child.construct_name, root_name
            )
            depends.update(_stages_read(parameters[parameter]))
        template = rules.apply(child.template, synthesis)
        if transforms and child.construct_name in transforms:
            transforms[child.construct_name](template)
        result.stages.append(
            ImportedStage(
                name=names[logical_id],
                source=f"{stack.stack_name}/{child.construct_name}",
                region=stack.region,
                template=template,
                parameters=parameters,
                depends_on=tuple(sorted(depends - {names[logical_id]})),
                stateful=_holds_data(template),
                assets=_assets_of(child.template, stack.assets),
            )
        )

    root = _root_template(stack, set(nested), root_outputs)
    kept = [r for r in root.get("Resources", {}).values() if r.get("Type") != CDK_METADATA]
    if kept:
        template = rules.apply(root, synthesis)
        result.stages.insert(
            0,
            ImportedStage(
                name=root_name,
                source=stack.stack_name,
                region=stack.region,
                template=template,
                parameters={},
                depends_on=(),
                stateful=_holds_data(template),
                assets=_assets_of(root, stack.assets),
            ),
        )
    elif root_outputs:
        raise AssemblyError(f"{stack.stack_name}: nested stacks read root resources, but the root keeps none")
    return result


def _depends_on(resource: Mapping[str, Any]) -> list[str]:
    depends = resource.get("DependsOn") or []
    return [depends] if isinstance(depends, str) else list(depends)


def _reference(
    value: Any,
    names: Mapping[str, str],
    dropped: set[str],
    root_outputs: dict[str, dict[str, Any]],
    stack: StackArtifact,
    reader: str,
    root_name: str,
) -> str:
    """A nested stack's parameter value as a stage parameter: a literal or a `${stage:…}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::GetAtt" and argument[0] in names and str(argument[1]).startswith("Outputs."):
            if argument[0] in dropped:
                raise AssemblyError(f"{reader} reads an output of {argument[0]}, which the import drops")
            return "${stage:" + names[argument[0]] + "." + str(argument[1]).removeprefix("Outputs.") + "}"
        resources = stack.template.get("Resources", {})
        if function in ("Ref", "Fn::GetAtt"):
            target = argument if function == "Ref" else argument[0]
            if target in resources and target not in names:
                output = re.sub(r"[^A-Za-z0-9]", "", f"{target}{'' if function == 'Ref' else argument[1]}")
                root_outputs[output] = {"Value": value}
                return "${stage:" + root_name + "." + output + "}"
    raise AssemblyError(f"{stack.stack_name}: {reader} takes a parameter the import cannot map: {value!r}")


def _stages_read(value: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"\$\{stage:([a-z0-9-]+)\.", value)}


def _root_template(stack: StackArtifact, nested: set[str], outputs: Mapping[str, Any]) -> dict[str, Any]:
    template = {k: v for k, v in stack.template.items() if k != "Resources"}
    template["Resources"] = {k: v for k, v in stack.template.get("Resources", {}).items() if k not in nested}
    if outputs:
        template["Outputs"] = {**template.get("Outputs", {}), **outputs}
    return template


def _holds_data(template: Mapping[str, Any]) -> bool:
    return any(r.get("Type") in DATA_TYPES for r in template.get("Resources", {}).values())


def _assets_of(template: Mapping[str, Any], assets: Iterable[FileAsset]) -> tuple[FileAsset, ...]:
    """The file assets whose object key the template names (before the rules rewrite it)."""
    text = repr(template)
    return tuple(a for a in assets if a.key in text and a.source.suffix != ".json")
