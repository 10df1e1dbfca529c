"""Plan's check that the stages a run creates will not collide with names something else holds.

An uninstall keeps what holds data (`DeletionPolicy: Retain`, `RetainExceptOnCreate`, the
protected database a Destroy keeps with `RetainResources`), and each of those keeps its name. A
stage that names the same bucket, log group, secret, table, cluster or domain again would fail
its create halfway through the run ("already exists"), and a failed install keeps its stateful
stages: half an installation left behind. Another data.all installation in the same account and
region holds names too: data.all's names take both `ResourcePrefix` and `EnvName`, but its KMS
aliases take the prefix alone, and its SSM parameters, RDS monitoring role and exports the env
alone, so an installation sharing either collides on those. So Plan looks first, for every stage
the run creates, at each resource (and export) its template names, and refuses the run
(`NameTaken`, nothing changed) naming each one that exists, what may hold it and how to go on.

A name the run frees itself is no collision: a stage an option swaps in may name what the stage it
replaces holds (data.all's search domain and serverless collection stages both make the SSM
parameter `/dataall/<env>/elasticsearch/endpoint`), and the run deletes that stage first
(`freed_by_deleting`). Only for the names that go with their stack (KMS aliases, SSM parameters,
IAM roles, exports): what holds data is kept by a delete as by an uninstall.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.errors import NameTaken
from lambdas.data.named_resources import EXPORT, LISTED, NAME_PROPERTIES, exists, listed_names
from lambdas.data.stacks import Stacks


class Unresolved(Exception):
    """A name that depends on something only known once stacks exist (another resource, an import)."""


@dataclass(frozen=True)
class NamedResource:
    stage: str
    logical_id: str
    resource_type: str
    name: str

    def sentence(self) -> str:
        if self.resource_type == EXPORT:
            return f"stage {self.stage}: output {self.logical_id}'s export {self.name!r}"
        return f"stage {self.stage}: {self.logical_id} ({self.resource_type}) {self.name!r}"


def named_resources(
    stage: str,
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    pseudo: Mapping[str, str],
    properties: Mapping[str, str] | None = None,
) -> list[NamedResource]:
    """The resources of a stage's template whose name is known before deploying: a literal, or
    built (`Ref`, `Fn::Join`, `Fn::Split`, `Fn::Sub`) from the stage's parameters and pseudo parameters;
    and, when `properties` has `EXPORT`, the export names of its outputs (the output's key its logical id).
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
    if EXPORT in naming:
        found += _exports(stage, template, values)
    return found


def _exports(stage: str, template: Mapping[str, Any], values: Mapping[str, str]) -> list[NamedResource]:
    found = []
    for key, output in (template.get("Outputs") or {}).items():
        if not isinstance(output, Mapping) or "Condition" in output or not isinstance(output.get("Export"), Mapping):
            continue
        value = output["Export"].get("Name")
        if value is None:
            continue
        try:
            found.append(NamedResource(stage, key, EXPORT, _evaluate(value, values)))
        except Unresolved:
            continue
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


#: What may hold a name taken, by the type that names it (`_KEPT` for any other type).
_KEPT = "what an earlier uninstall kept (it keeps what holds data, with its name)"
_SAME_PREFIX = (
    "another data.all installation with the same ResourcePrefix, or a leftover of one (data.all names its KMS "
    "aliases by the prefix alone)"
)
_SAME_ENV = (
    "another data.all installation with the same EnvName, or a leftover of one (data.all names its SSM "
    "parameters, its RDS monitoring role and its exports by the env alone)"
)
_HOLDERS: dict[str, str] = {
    "AWS::KMS::Alias": _SAME_PREFIX,
    "AWS::SSM::Parameter": _SAME_ENV,
    "AWS::IAM::Role": _SAME_ENV,
    EXPORT: _SAME_ENV,
}


#: What a delete keeps (and so does not free): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
_KEPT_ON_DELETE = frozenset({"Retain", "RetainExceptOnCreate"})


def _where(region: str, resource_type: str) -> str:
    """The namespace a name of `resource_type` lives in: IAM's is the account's, the others a region's."""
    return "" if resource_type == "AWS::IAM::Role" else region


def freed_by_deleting(stacks: Stacks, stack: str, region: str) -> set[tuple[str, str, str]]:
    """The names the delete of `stack` (an installed stage the run deletes before it creates any)
    frees: (namespace, type, name) of its KMS aliases, SSM parameters and IAM roles that no
    `DeletionPolicy` keeps (their physical id is their name), and of its exports."""
    template = json.loads(stacks.template(stack))
    kept = {
        logical_id
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, Mapping) and resource.get("DeletionPolicy") in _KEPT_ON_DELETE
    }
    freed = {
        (
            _where(region, str(resource["ResourceType"])),
            str(resource["ResourceType"]),
            str(resource["PhysicalResourceId"]),
        )
        for resource in stacks.call("describe_stack_resources", StackName=stack).get("StackResources", [])
        if resource.get("ResourceType") in _HOLDERS
        and resource.get("PhysicalResourceId")
        and resource.get("LogicalResourceId") not in kept
    }
    for described in stacks.call("describe_stacks", StackName=stack).get("Stacks", [])[:1]:
        freed |= {(region, EXPORT, str(o["ExportName"])) for o in described.get("Outputs") or [] if o.get("ExportName")}
    return freed


def refuse_collisions(
    candidates: list[NamedResource],
    client: Callable[[str, str], Any],
    regions: Mapping[str, str],
    freed: Collection[tuple[str, str, str]] = (),
) -> None:
    """Refuse the run (NameTaken) when any candidate exists; `regions`: stage -> its region; `freed`:
    what the run's deletions free before it creates (`freed_by_deleting`). A type one listing
    answers (`LISTED`: KMS aliases, exports) is listed once per region."""
    listings: dict[tuple[str, str], frozenset[str]] = {}

    def taken(resource: NamedResource) -> bool:
        region = regions[resource.stage]
        if (_where(region, resource.resource_type), resource.resource_type, resource.name) in freed:
            return False

        def there(service: str) -> Any:
            return client(service, region)

        if resource.resource_type not in LISTED:
            return exists(there, resource.resource_type, resource.name)
        key = (region, resource.resource_type)
        if key not in listings:
            listings[key] = listed_names(there, resource.resource_type)
        return resource.name in listings[key]

    held = [c for c in candidates if taken(c)]
    if not held:
        return
    listed = "; ".join(resource.sentence() for resource in held[:10])
    holders = "; or ".join(dict.fromkeys(_HOLDERS.get(resource.resource_type, _KEPT) for resource in held))
    raise NameTaken(
        f"the run would create resources whose names are taken in the account and region: {listed} already "
        f"exist(s), held by something other than this installation's stacks: {holders}. Nothing was changed; "
        "to go on, install under another ResourcePrefix/EnvName (two installations need both their own), or "
        "remove what holds the names when it is no one's (a bucket emptied first, or its data moved elsewhere)",
        field=f"stages.{held[0].stage}.{held[0].logical_id}",
    )
