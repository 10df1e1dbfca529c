"""Templates: reading JSON and YAML, checking them as CloudFormation does before it starts.

The checks here are the ones CloudFormation makes when a template is submitted
(CreateStack, UpdateStack, CreateChangeSet, ValidateTemplate), with AWS's own messages:
the template is one document with known sections, every resource has a Type, every `Ref`,
`Fn::GetAtt`, `Fn::Sub` variable and `DependsOn` names something declared, and the
resources do not depend on each other in a circle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from sandbox.cloudformation.errors import TemplateError

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    }
)
RESOURCE_ATTRIBUTES = frozenset(
    {
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "Metadata",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "UpdatePolicy",
        "CreationPolicy",
        "Description",
        "Version",
    }
)
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
IAM_TYPES = frozenset(
    {
        "AWS::IAM::AccessKey",
        "AWS::IAM::Group",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::User",
        "AWS::IAM::UserToGroupAddition",
    }
)
#: the name property of each IAM type: naming one makes the template need CAPABILITY_NAMED_IAM
IAM_NAME_PROPERTIES = {
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
}
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Reference:
    """What a `Ref` (attribute None), a `Fn::GetAtt` or a `${...}` of `Fn::Sub` names."""

    name: str
    attribute: str | None = None


# --------------------------------------------------------------------------- reading
class _TemplateLoader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: short-form intrinsic tags, and dates stay text
    (`AWSTemplateFormatVersion: 2010-09-09` is a string, not a date)."""


_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _intrinsic_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic_tag)


@dataclass(frozen=True)
class Template:
    """One submitted template: the text as given (GetTemplate returns it) and its document."""

    body: str
    document: dict[str, Any]

    @property
    def description(self) -> str | None:
        description = self.document.get("Description")
        return str(description) if description is not None else None

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Parameters") or {})

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Resources") or {})

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Outputs") or {})

    @property
    def conditions(self) -> dict[str, Any]:
        return dict(self.document.get("Conditions") or {})

    @property
    def mappings(self) -> dict[str, Any]:
        return dict(self.document.get("Mappings") or {})

    @property
    def rules(self) -> dict[str, Any]:
        return dict(self.document.get("Rules") or {})

    @property
    def transforms(self) -> list[str]:
        transform = self.document.get("Transform")
        if transform is None:
            return []
        return [transform] if isinstance(transform, str) else list(transform)

    def resource_types(self) -> list[str]:
        return sorted({str(resource["Type"]) for resource in self.resources.values()})

    def required_capabilities(self) -> list[str]:
        """What CreateStack must be given: IAM resources need CAPABILITY_IAM, named ones
        CAPABILITY_NAMED_IAM."""
        named = unnamed = False
        for resource in self.resources.values():
            kind = resource.get("Type")
            if kind not in IAM_TYPES:
                continue
            name_property = IAM_NAME_PROPERTIES.get(str(kind))
            if name_property and name_property in (resource.get("Properties") or {}):
                named = True
            else:
                unnamed = True
        if named:
            return ["CAPABILITY_NAMED_IAM"]
        return ["CAPABILITY_IAM"] if unnamed else []


def parse_template(body: str) -> Template:
    """Read a template as CloudFormation does: JSON when it is JSON, YAML otherwise."""
    if body.lstrip().startswith("{"):
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            raise TemplateError(
                f"Template format error: JSON not well-formed. (line {error.lineno},  column {error.colno})"
            ) from error
    else:
        try:
            document = yaml.load(body, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise TemplateError(f"Template format error: YAML not well-formed.{where}") from error
    if not isinstance(document, dict):
        raise TemplateError("Template format error: unsupported structure.")
    template = Template(body=body, document=document)
    validate(template)
    return template


# --------------------------------------------------------------------------- references
def is_intrinsic(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and len(node) == 1
        and (next(iter(node)) == "Ref" or str(next(iter(node))).startswith("Fn::"))
    )


def references(node: Any, conditions: Mapping[str, bool] | None = None) -> Iterator[Reference]:
    """Every name `node` refers to. With `conditions`, only the branches of `Fn::If` that
    are taken (what a resource really depends on); without, every branch (what
    CloudFormation checks when the template is submitted)."""
    if isinstance(node, list):
        for item in node:
            yield from references(item, conditions)
        return
    if not isinstance(node, dict):
        return
    if is_intrinsic(node):
        function, argument = next(iter(node.items()))
        if function == "Ref" and isinstance(argument, str):
            yield Reference(argument)
            return
        if function == "Fn::GetAtt":
            yield from _getatt_references(argument, conditions)
            return
        if function == "Fn::Sub":
            yield from _sub_references(argument, conditions)
            return
        if function == "Fn::If" and conditions is not None and _is_if(argument):
            chosen = argument[1] if conditions.get(argument[0], False) else argument[2]
            yield from references(chosen, conditions)
            return
    for value in node.values():
        yield from references(value, conditions)


def _is_if(argument: Any) -> bool:
    return isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)


def _getatt_references(argument: Any, conditions: Mapping[str, bool] | None) -> Iterator[Reference]:
    if isinstance(argument, str):
        resource, _, attribute = argument.partition(".")
        yield Reference(resource, attribute)
    elif isinstance(argument, list) and argument and isinstance(argument[0], str):
        attribute = argument[1] if len(argument) > 1 and isinstance(argument[1], str) else ""
        yield Reference(argument[0], attribute)
        yield from references(argument[1:], conditions)


def _sub_references(argument: Any, conditions: Mapping[str, bool] | None) -> Iterator[Reference]:
    text, variables = argument, {}
    if isinstance(argument, list) and argument:
        text = argument[0]
        variables = argument[1] if len(argument) > 1 and isinstance(argument[1], dict) else {}
        yield from references(variables, conditions)
    if not isinstance(text, str):
        return
    for match in SUB_VARIABLE.finditer(text):
        name = match.group(1).strip()
        if name.startswith("!") or name in variables:
            continue
        resource, dot, attribute = name.partition(".")
        yield Reference(resource, attribute) if dot else Reference(name)


def depends_on(resource: Mapping[str, Any]) -> list[str]:
    value = resource.get("DependsOn") or []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def resource_dependencies(
    resources: Mapping[str, Mapping[str, Any]], conditions: Mapping[str, bool] | None = None
) -> dict[str, set[str]]:
    """For each resource, the resources it needs first (DependsOn, Ref, GetAtt, Sub)."""
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        body = {key: value for key, value in resource.items() if key not in ("Type", "DependsOn")}
        needed = {ref.name for ref in references(body, conditions) if ref.name in resources}
        needed.update(name for name in depends_on(resource) if name in resources)
        needed.discard(logical_id)
        graph[logical_id] = needed
    return graph


def topological_order(graph: Mapping[str, set[str]]) -> list[str]:
    """Resources so that each comes after everything it depends on (ties by name)."""
    remaining = {node: set(edges) for node, edges in graph.items()}
    order: list[str] = []
    while remaining:
        ready = sorted(node for node, edges in remaining.items() if not edges & remaining.keys())
        if not ready:
            raise TemplateError(circular_dependency_message(remaining))
        order.extend(ready)
        for node in ready:
            del remaining[node]
    return order


def circular_dependency_message(graph: Mapping[str, set[str]]) -> str:
    in_cycles = sorted(node for node in graph if _reaches(graph, node, node))
    return f"Circular dependency between resources: [{', '.join(in_cycles)}]"


def _reaches(graph: Mapping[str, set[str]], start: str, target: str) -> bool:
    seen: set[str] = set()
    stack = list(graph.get(start, ()))
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return False


# --------------------------------------------------------------------------- checks
def validate(template: Template) -> None:
    """The checks CloudFormation makes on submission, in its order and with its words."""
    document = template.document
    unknown = sorted(set(document) - SECTIONS)
    if unknown:
        raise TemplateError(f"Template format error: Invalid template property or properties [{', '.join(unknown)}]")
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or "Type" not in resource:
            raise TemplateError(
                f"Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
            )
        unknown_attributes = sorted(set(resource) - RESOURCE_ATTRIBUTES)
        if unknown_attributes:
            raise TemplateError(
                f"Template format error: Unrecognized resource attributes "
                f"[{', '.join(unknown_attributes)}] in the Resources block of the template"
            )
    _check_references(template)
    _check_conditions(template)
    topological_order(resource_dependencies(template.resources))


def _check_references(template: Template) -> None:
    resources = template.resources
    declared = set(template.parameters) | set(resources) | PSEUDO_PARAMETERS
    for block, section in (("Resources", resources), ("Outputs", template.outputs)):
        unresolved: list[str] = []
        for entry in section.values():
            for ref in references(entry):
                if ref.attribute is not None and ref.name not in resources:
                    raise TemplateError(
                        f"Template error: instance of Fn::GetAtt references undefined resource {ref.name}"
                    )
                if ref.attribute is None and ref.name not in declared:
                    unresolved.append(ref.name)
            if block == "Resources":
                unresolved.extend(name for name in depends_on(entry) if name not in resources)
        if unresolved:
            names = ", ".join(sorted(set(unresolved)))
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies [{names}] "
                f"in the {block} block of the template"
            )


def _check_conditions(template: Template) -> None:
    declared = set(template.conditions)
    for block, section in (("Resources", template.resources), ("Outputs", template.outputs)):
        for logical_id, entry in section.items():
            condition = entry.get("Condition") if isinstance(entry, dict) else None
            if condition is not None and condition not in declared:
                raise TemplateError(
                    f"Template error: unresolved condition dependency {condition} in {block} {logical_id}"
                )
    for name in _if_conditions(template.document):
        if name not in declared:
            raise TemplateError(f"Template error: unresolved condition dependency {name} in Fn::If")


def _if_conditions(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _if_conditions(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If" and _is_if(value):
                yield value[0]
            yield from _if_conditions(value)
