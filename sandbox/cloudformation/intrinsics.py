"""The evaluator of CloudFormation's intrinsic functions and pseudo parameters.

`Evaluator.evaluate(node)` turns a piece of template into the value CloudFormation hands
to a resource provider: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`,
`Fn::Split`, `Fn::If`, `Fn::FindInMap`, `Fn::ImportValue`, `Fn::GetAZs`, `Fn::Base64`,
`Fn::Cidr`, `Fn::Length`, `Fn::ToJsonString` resolved, and `AWS::NoValue` removing the
property or list item it stands for. Conditions (`Fn::Equals`, `Fn::And`, `Fn::Or`,
`Fn::Not`, `Condition`) are evaluated once per evaluator.

Resources are reached through `ResourceResolver`, so the same evaluator serves a
template check (no resources), a change-set preview (current values, unknowns where a
resource will be replaced) and a running operation (real values, in dependency order).
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox.cloudformation.errors import TemplateError
from sandbox.cloudformation.template import SUB_VARIABLE, is_intrinsic


class _NoValue:
    """`AWS::NoValue`: the property or list item it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class ResourceResolver(Protocol):
    """How the evaluator reaches resources, exports and the region's zones."""

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...

    def import_value(self, export_name: str) -> Any: ...

    def availability_zones(self, region: str) -> list[str]: ...


class NoResources:
    """For evaluations where resources cannot be referenced (Conditions, Rules)."""

    def ref(self, logical_id: str) -> Any:
        raise TemplateError(
            f"Template format error: Unresolved resource dependencies [{logical_id}] "
            "in the Conditions block of the template"
        )

    def get_att(self, logical_id: str, attribute: str) -> Any:
        raise TemplateError(f"Template error: Fn::GetAtt of {logical_id}.{attribute} cannot be used here")

    def import_value(self, export_name: str) -> Any:
        raise TemplateError(f"Template error: Fn::ImportValue of {export_name} cannot be used here")

    def availability_zones(self, region: str) -> list[str]:
        return [f"{region}{zone}" for zone in "abc"]


@dataclass
class Evaluator:
    """Evaluates one template's expressions for one stack, region and set of parameters."""

    #: parameter values: str for scalar types, list[str] for list types
    parameters: Mapping[str, Any]
    #: AWS::Region, AWS::AccountId, AWS::StackName, AWS::StackId ...
    pseudo: Mapping[str, Any]
    mappings: Mapping[str, Any] = field(default_factory=dict)
    condition_definitions: Mapping[str, Any] = field(default_factory=dict)
    resources: ResourceResolver = field(default_factory=NoResources)
    _conditions: dict[str, bool] = field(default_factory=dict, init=False)
    _evaluating: set[str] = field(default_factory=set, init=False)

    # ------------------------------------------------------------------ public
    def evaluate(self, node: Any) -> Any:
        """The value of `node`, with every intrinsic resolved and NoValue removed."""
        value = self._value(node)
        return None if value is NO_VALUE else value

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.condition_definitions:
            raise TemplateError(f"Template error: unresolved condition dependency {name} in Fn::If")
        if name in self._evaluating:
            raise TemplateError(f"Template error: circular condition dependency {name}")
        self._evaluating.add(name)
        try:
            result = self.truth(self.condition_definitions[name])
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = result
        return result

    def conditions(self) -> dict[str, bool]:
        """Every declared condition's value."""
        return {name: self.condition(name) for name in self.condition_definitions}

    def with_resources(self, resources: ResourceResolver) -> Evaluator:
        """The same parameters and conditions, resolving resources through `resources`."""
        other = Evaluator(self.parameters, self.pseudo, self.mappings, self.condition_definitions, resources)
        other._conditions = self._conditions
        return other

    # ------------------------------------------------------------------ values
    def _value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self._value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if is_intrinsic(node):
            function, argument = next(iter(node.items()))
            handler = _FUNCTIONS.get(function)
            if handler is None:
                raise TemplateError(
                    f"Template format error: Unrecognized intrinsic function {function}"
                    if function != "Fn::Transform"
                    else "Template format error: Fn::Transform is not supported by the sandbox"
                )
            return handler(self, argument)
        result = {}
        for key, value in node.items():
            evaluated = self._value(value)
            if evaluated is not NO_VALUE:
                result[key] = evaluated
        return result

    def _ref(self, name: Any) -> Any:
        name = self._value(name)
        if not isinstance(name, str):
            raise TemplateError("Template error: every Ref object must have a single String value.")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.resources.ref(name)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            resource, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            resource, attribute = argument[0], self._value(argument[1])
        else:
            raise TemplateError("Template error: every Fn::GetAtt object requires two non-empty parameters")
        if not resource or not attribute:
            raise TemplateError("Template error: every Fn::GetAtt object requires two non-empty parameters")
        return self.resources.get_att(str(resource), str(attribute))

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            pattern, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            pattern = argument[0]
            variables = {key: self._value(value) for key, value in dict(argument[1]).items()}
        else:
            raise TemplateError(
                "Template error: One or more Fn::Sub intrinsic functions don't specify expected "
                "arguments. Specify a string as first argument, and an optional second argument "
                "to specify a mapping of values to replace in the string"
            )

        def replace(match: Any) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return text(variables[name])
            if "." in name and name not in self.pseudo:
                resource, _, attribute = name.partition(".")
                return text(self.resources.get_att(resource, attribute))
            return text(self._ref(name))

        return SUB_VARIABLE.sub(replace, pattern)

    def _join(self, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Template error: every Fn::Join object requires two parameters")
        delimiter, items = self._value(argument[0]), self._value(argument[1])
        if not isinstance(items, list):
            raise TemplateError(
                "Template error: every Fn::Join object requires two parameters, "
                "(1) a string delimiter and (2) a list of strings to be joined"
            )
        return str(delimiter).join(text(item) for item in items)

    def _select(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Template error: Fn::Select requires a list argument with two elements")
        index, items = self._value(argument[0]), self._value(argument[1])
        if isinstance(items, str):
            items = items.split(",")
        try:
            position = int(index)
        except (TypeError, ValueError) as error:
            raise TemplateError(
                "Template error: Fn::Select requires a list argument with two elements: an integer index and a list"
            ) from error
        if not isinstance(items, list) or not 0 <= position < len(items):
            raise TemplateError(f"Template error: Fn::Select cannot select nonexistent value at index {position}")
        return items[position]

    def _split(self, argument: Any) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Template error: every Fn::Split object requires two parameters")
        delimiter, source = self._value(argument[0]), self._value(argument[1])
        return text(source).split(str(delimiter))

    def _if(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
            raise TemplateError("Template error: Fn::If requires a list argument with three elements")
        chosen = argument[1] if self.condition(argument[0]) else argument[2]
        return self._value(chosen)

    def _find_in_map(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) in (3, 4)):
            raise TemplateError("Template error: Fn::FindInMap requires three arguments")
        names = [self._value(item) for item in argument[:3]]
        default = argument[3].get("DefaultValue") if len(argument) == 4 else None
        value: Any = self.mappings
        for name in names:
            if not isinstance(value, dict) or str(name) not in value:
                if default is not None:
                    return self._value(default)
                path = "::".join(str(name) for name in names)
                raise TemplateError(f"Template error: Unable to get mapping for {path}")
            value = value[str(name)]
        return value

    def _import_value(self, argument: Any) -> Any:
        return self.resources.import_value(text(self._value(argument)))

    def _get_azs(self, argument: Any) -> list[str]:
        region = self._value(argument) or self.pseudo["AWS::Region"]
        return self.resources.availability_zones(str(region))

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(text(self._value(argument)).encode()).decode()

    def _cidr(self, argument: Any) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError("Template error: Fn::Cidr requires three arguments")
        block, count, bits = (self._value(item) for item in argument)
        network = ipaddress.ip_network(str(block), strict=False)
        prefix = network.max_prefixlen - int(bits)
        if prefix < network.prefixlen:
            raise TemplateError(f"Template error: Fn::Cidr cannot make /{prefix} subnets of {block}")
        subnets = network.subnets(new_prefix=prefix)
        result = [str(subnet) for _, subnet in zip(range(int(count)), subnets, strict=False)]
        if len(result) < int(count):
            raise TemplateError(f"Template error: Fn::Cidr cannot make {count} subnets of {block}")
        return result

    def _length(self, argument: Any) -> int:
        value = self._value(argument)
        if not isinstance(value, list):
            raise TemplateError("Template error: Fn::Length requires a list")
        return len(value)

    def _to_json_string(self, argument: Any) -> str:
        return json.dumps(self._value(argument), separators=(",", ":"))

    # ------------------------------------------------------------------ conditions
    def truth(self, node: Any) -> bool:
        """The value of a condition expression (Conditions, Rules)."""
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in ("true", "false"):
            return node.lower() == "true"
        if isinstance(node, dict) and len(node) == 1:
            function, argument = next(iter(node.items()))
            if function == "Condition":
                return self.condition(str(argument))
            if function == "Fn::Equals":
                left, right = (self._value(item) for item in _pair(argument, function))
                return text(left) == text(right) if _scalar(left, right) else left == right
            if function == "Fn::Not":
                return not self.truth(_single(argument, function))
            if function == "Fn::And":
                return all(self.truth(item) for item in _many(argument, function))
            if function == "Fn::Or":
                return any(self.truth(item) for item in _many(argument, function))
            if function == "Fn::Contains":
                items, wanted = (self._value(item) for item in _pair(argument, function))
                return text(wanted) in [text(item) for item in items]
        raise TemplateError(f"Template error: {node!r} is not a condition")


def _pair(argument: Any, function: str) -> list[Any]:
    if not (isinstance(argument, list) and len(argument) == 2):
        raise TemplateError(f"Template error: {function} requires a list of two elements")
    return argument


def _single(argument: Any, function: str) -> Any:
    if not (isinstance(argument, list) and len(argument) == 1):
        raise TemplateError(f"Template error: {function} requires a list of one element")
    return argument[0]


def _many(argument: Any, function: str) -> list[Any]:
    if not (isinstance(argument, list) and 2 <= len(argument) <= 10):
        raise TemplateError(f"Template error: {function} requires between 2 and 10 conditions")
    return argument


def _scalar(*values: Any) -> bool:
    return all(isinstance(value, str | int | float | bool) for value in values)


def text(value: Any) -> str:
    """A value where CloudFormation needs a string: booleans as `true`/`false`, lists joined
    with commas (as a List parameter is given), objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_FUNCTIONS: dict[str, Callable[[Evaluator, Any], Any]] = {
    "Ref": Evaluator._ref,
    "Fn::GetAtt": Evaluator._get_att,
    "Fn::Sub": Evaluator._sub,
    "Fn::Join": Evaluator._join,
    "Fn::Select": Evaluator._select,
    "Fn::Split": Evaluator._split,
    "Fn::If": Evaluator._if,
    "Fn::FindInMap": Evaluator._find_in_map,
    "Fn::ImportValue": Evaluator._import_value,
    "Fn::GetAZs": Evaluator._get_azs,
    "Fn::Base64": Evaluator._base64,
    "Fn::Cidr": Evaluator._cidr,
    "Fn::Length": Evaluator._length,
    "Fn::ToJsonString": Evaluator._to_json_string,
    "Fn::Equals": lambda evaluator, argument: evaluator.truth({"Fn::Equals": argument}),
    "Fn::And": lambda evaluator, argument: evaluator.truth({"Fn::And": argument}),
    "Fn::Or": lambda evaluator, argument: evaluator.truth({"Fn::Or": argument}),
    "Fn::Not": lambda evaluator, argument: evaluator.truth({"Fn::Not": argument}),
}
