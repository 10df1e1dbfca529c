"""Plan's check that the stages a run creates will not collide with resources that already exist.

An uninstall keeps what holds data (`DeletionPolicy: Retain`, `RetainExceptOnCreate`, the
protected database a Destroy keeps with `RetainResources`), and each of those keeps its name. A
stage that names the same bucket, log group, secret, table, cluster or domain again would fail
its create halfway through the run ("already exists"), and a failed install keeps its stateful
stages: half an installation left behind. So Plan looks first, for every stage the run creates,
at each resource its template names, and refuses the run (`NameTaken`, nothing changed) naming
each resource that exists and how to go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.errors import NameTaken
from lambdas.data.named_resources import NAME_PROPERTIES, exists


class Unresolved(Exception):
    """A name that depends on something only known once stacks exist (another resource, an import)."""


@dataclass(frozen=True)
class NamedResource:
    stage: str
    logical_id: str
    resource_type: str
    name: str

    def sentence(self) -> str:
        return f"stage {self.stage}: {self.logical_id} ({self.resource_type}) {self.name!r}"


def named_resources(
    stage: str,
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    pseudo: Mapping[str, str],
    properties: Mapping[str, str] | None = None,
) -> list[NamedResource]:
    """The resources of a stage's template whose name is known before deploying: a literal, or
    built (`Ref`, `Fn::Join`, `Fn::Split`, `Fn::Sub`) from the stage's parameters and pseudo parameters.
    `properties`: resource type -> the property that names it (the types `exists` knows, by default)."""
    naming = properties if properties is not None else {kind: named[0] for kind, named in NAME_PROPERTIES.items()}
    values = dict(pseudo)
    for key, declaration in (template.get("Parameters") or {}).items():
        if key in parameters:
            values[key] = parameters[key]
        elif isinstance(declaration, Mapping) and "Default" in declaration:
            values[key] = str(declaration["Default"])
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, Mapping) or resource.get("Type") not in naming:
            continue
        if "Condition" in resource:
            continue  # whether it is created at all depends on the stack's conditions
        value = (resource.get("Properties") or {}).get(naming[resource["Type"]])
        if value is None:
            continue  # CloudFormation makes up a unique name
        try:
            name = _evaluate(value, values)
        except Unresolved:
            continue
        found.append(NamedResource(stage, logical_id, resource["Type"], name))
    return found


def _evaluate(value: Any, values: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str) and argument in values:
            return values[argument]
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            delimiter, parts = argument
            if isinstance(delimiter, str):
                return delimiter.join(_evaluate_list(parts, values))
        if function == "Fn::Sub" and isinstance(argument, str):
            return _substitute(argument, values)
    raise Unresolved(str(value))


def _evaluate_list(value: Any, values: Mapping[str, str]) -> list[str]:
    """A list of strings: a literal list (each item evaluated) or an `Fn::Split` (data.all's Cognito
    domain prefix joins the parts of the prefix and the region split at their dashes)."""
    if isinstance(value, list):
        return [_evaluate(item, values) for item in value]
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Split" and isinstance(argument, list) and len(argument) == 2:
            delimiter, source = argument
            if isinstance(delimiter, str) and delimiter:
                return _evaluate(source, values).split(delimiter)
    raise Unresolved(str(value))


def _substitute(text: str, values: Mapping[str, str]) -> str:
    out, rest = [], text
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, closed, rest = after.partition("}")
        if not closed or name.startswith("!") or name not in values:
            raise Unresolved(text)
        out += [before, values[name]]
    return "".join([*out, rest])


def refuse_collisions(
    candidates: list[NamedResource], client: Callable[[str, str], Any], regions: Mapping[str, str]
) -> None:
    """Refuse the run (NameTaken) when any candidate exists; `regions`: stage -> its region."""

    def client_of(resource: NamedResource) -> Callable[[str], Any]:
        return lambda service: client(service, regions[resource.stage])

    taken = [c for c in candidates if exists(client_of(c), c.resource_type, c.name)]
    if not taken:
        return
    listed = "; ".join(resource.sentence() for resource in taken[:10])
    raise NameTaken(
        f"the run would create resources whose names are taken: {listed} already exist(s) (an uninstall "
        "keeps what holds data, with its name). Nothing was changed; to go on, delete them (a bucket emptied "
        "first) or move their data elsewhere, or install under another ResourcePrefix/EnvName",
        field=f"stages.{taken[0].stage}.{taken[0].logical_id}",
    )
