"""Stack parameters: the values given, checked against the template's declarations.

CloudFormation checks parameters when the stack operation is submitted, so every error
here is a synchronous `ValidationError` with AWS's text. What a stack keeps is the value
as given (DescribeStacks shows it, `UsePreviousValue` reuses it) and the typed value the
template sees (`Ref` of a list type is a list; SSM parameter types are read from
Parameter Store at submission, as CloudFormation does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.cloudformation.errors import ValidationError
from sandbox.cloudformation.template import Template

SSM_PREFIX = "AWS::SSM::Parameter::Value<"
NO_ECHO_MASK = "****"
#: AWS-specific parameter types whose values must name an existing resource, and the kind
#: of resource the sandbox looks up
EXISTENCE_CHECKED = {
    "AWS::EC2::VPC::Id": "vpc",
    "AWS::EC2::Subnet::Id": "subnet",
    "AWS::EC2::SecurityGroup::Id": "security-group",
    "AWS::EC2::KeyPair::KeyName": "key-pair",
}


@dataclass(frozen=True)
class Lookups:
    """What parameter resolution reads from the account (Parameter Store, EC2)."""

    #: SSM parameter name -> value; raises KeyError when there is no such parameter
    ssm_parameter: Callable[[str], str]
    #: (kind, id) -> whether the resource exists (kind from EXISTENCE_CHECKED)
    ec2_resource_exists: Callable[[str, str], bool]


@dataclass(frozen=True)
class Declaration:
    key: str
    type: str
    default: str | None
    no_echo: bool
    description: str | None
    allowed_values: list[str] | None
    allowed_pattern: str | None
    constraint_description: str | None
    min_length: int | None
    max_length: int | None
    min_value: float | None
    max_value: float | None

    @classmethod
    def of(cls, key: str, body: Mapping[str, Any]) -> Declaration:
        def number(name: str) -> float | None:
            return float(body[name]) if name in body else None

        def integer(name: str) -> int | None:
            return int(body[name]) if name in body else None

        default = body.get("Default")
        allowed = body.get("AllowedValues")
        return cls(
            key=key,
            type=str(body.get("Type", "String")),
            default=_as_text(default) if default is not None else None,
            no_echo=str(body.get("NoEcho", "false")).lower() == "true",
            description=body.get("Description"),
            allowed_values=[_as_text(value) for value in allowed] if allowed else None,
            allowed_pattern=body.get("AllowedPattern"),
            constraint_description=body.get("ConstraintDescription"),
            min_length=integer("MinLength"),
            max_length=integer("MaxLength"),
            min_value=number("MinValue"),
            max_value=number("MaxValue"),
        )

    @property
    def is_list(self) -> bool:
        inner = self.type[len(SSM_PREFIX) : -1] if self.is_ssm else self.type
        return inner.startswith("List<") or inner == "CommaDelimitedList"

    @property
    def is_ssm(self) -> bool:
        return self.type.startswith(SSM_PREFIX)

    @property
    def element_type(self) -> str:
        inner = self.type[len(SSM_PREFIX) : -1] if self.is_ssm else self.type
        if inner.startswith("List<"):
            return inner[len("List<") : -1]
        return "String" if inner == "CommaDelimitedList" else inner


@dataclass(frozen=True)
class ResolvedParameters:
    """The parameters of one stack operation."""

    declarations: dict[str, Declaration] = field(default_factory=dict)
    #: the values as given or defaulted (for SSM types: the parameter name)
    given: dict[str, str] = field(default_factory=dict)
    #: SSM types: the value read from Parameter Store
    resolved: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """What `Ref` of each parameter evaluates to."""
        values: dict[str, Any] = {}
        for key, declaration in self.declarations.items():
            raw = self.resolved.get(key, self.given[key])
            values[key] = [item.strip() for item in raw.split(",")] if declaration.is_list else raw
        return values

    def describe(self) -> list[dict[str, str]]:
        """The stack's `Parameters` as DescribeStacks shows them (NoEcho values masked)."""
        described = []
        for key, declaration in self.declarations.items():
            entry = {
                "ParameterKey": key,
                "ParameterValue": NO_ECHO_MASK if declaration.no_echo else self.given[key],
            }
            if key in self.resolved:
                entry["ResolvedValue"] = self.resolved[key]
            described.append(entry)
        return described


def declarations(template: Template) -> dict[str, Declaration]:
    return {key: Declaration.of(key, body or {}) for key, body in template.parameters.items()}


def resolve(
    template: Template,
    given: list[dict[str, Any]],
    lookups: Lookups,
    previous: ResolvedParameters | None = None,
) -> ResolvedParameters:
    """Check `given` (boto3's `Parameters` list) against `template`; raise AWS's errors."""
    declared = declarations(template)
    unknown = [entry["ParameterKey"] for entry in given if entry["ParameterKey"] not in declared]
    if unknown:
        raise ValidationError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, str] = {}
    for entry in given:
        key = entry["ParameterKey"]
        if entry.get("UsePreviousValue"):
            if previous is None or key not in previous.given:
                raise ValidationError(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue "
                    "as true for a parameter key not in the previous template"
                )
            values[key] = previous.given[key]
        elif "ParameterValue" in entry:
            values[key] = str(entry["ParameterValue"])
    for key, declaration in declared.items():
        if key not in values and declaration.default is not None:
            values[key] = declaration.default
    missing = [key for key in declared if key not in values]
    if missing:
        raise ValidationError(f"Parameters: [{', '.join(missing)}] must have values")
    resolved: dict[str, str] = {}
    for key, declaration in declared.items():
        if declaration.is_ssm:
            resolved[key] = _read_ssm(values[key], declaration, lookups)
        _check(declaration, resolved.get(key, values[key]), lookups)
    return ResolvedParameters(declarations=declared, given=values, resolved=resolved)


def _read_ssm(name: str, declaration: Declaration, lookups: Lookups) -> str:
    names = [item.strip() for item in name.split(",")] if declaration.is_list else [name]
    try:
        return ",".join(lookups.ssm_parameter(item) for item in names)
    except KeyError as error:
        raise ValidationError(
            f"Unable to fetch parameters [{error.args[0]}] from parameter store for this account."
        ) from error


def _check(declaration: Declaration, value: str, lookups: Lookups) -> None:
    items = [item.strip() for item in value.split(",")] if declaration.is_list else [value]
    if declaration.is_list and value == "":
        items = []
    for item in items:
        _check_one(declaration, item, lookups)


def _check_one(declaration: Declaration, value: str, lookups: Lookups) -> None:
    key = declaration.key
    if declaration.element_type == "Number":
        try:
            number = float(value)
        except ValueError as error:
            raise ValidationError(f"Parameter '{key}' must be a number.") from error
        if declaration.min_value is not None and number < declaration.min_value:
            raise _constraint(declaration, f"must be a number not less than {_plain(declaration.min_value)}")
        if declaration.max_value is not None and number > declaration.max_value:
            raise _constraint(declaration, f"must be a number not greater than {_plain(declaration.max_value)}")
    if declaration.allowed_values is not None and value not in declaration.allowed_values:
        raise _constraint(declaration, "must be one of AllowedValues")
    if declaration.allowed_pattern is not None and not re.fullmatch(declaration.allowed_pattern, value):
        raise _constraint(declaration, f"must match pattern {declaration.allowed_pattern}")
    if declaration.min_length is not None and len(value) < declaration.min_length:
        raise _constraint(declaration, f"must contain at least {declaration.min_length} characters")
    if declaration.max_length is not None and len(value) > declaration.max_length:
        raise _constraint(declaration, f"must contain at most {declaration.max_length} characters")
    kind = EXISTENCE_CHECKED.get(declaration.element_type)
    if kind is not None and not lookups.ec2_resource_exists(kind, value):
        raise ValidationError(
            f"Parameter validation failed: parameter value {value} for parameter name {key} does not exist"
        )


def _constraint(declaration: Declaration, rule: str) -> ValidationError:
    """AWS names the rule, or the template's ConstraintDescription when it has one."""
    if declaration.constraint_description:
        return ValidationError(
            f"Parameter '{declaration.key}' failed to satisfy constraint: {declaration.constraint_description}"
        )
    return ValidationError(f"Parameter '{declaration.key}' {rule}")


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    return str(value)
