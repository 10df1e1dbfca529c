"""Dynamic references: `{{resolve:ssm:...}}`, `{{resolve:ssm-secure:...}}` and
`{{resolve:secretsmanager:...}}` in property values, resolved when the resource is
created or updated, as CloudFormation resolves them (CDK's generated database passwords
reach an RDS cluster this way)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sandbox.cloudformation.providers.base import ResourceFailed

REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")
_ARN_PARTS = 7  # arn:aws:secretsmanager:region:account:secret:name-suffix

#: (name, version) -> the SSM parameter's value; raises LookupError
ParameterLookup = Callable[[str, str | None], str]
#: (secret id, version stage, version id) -> the secret's SecretString; raises LookupError
SecretLookup = Callable[[str, str | None, str | None], str]


def resolve(value: Any, parameter: ParameterLookup, secret: SecretLookup) -> Any:
    """`value` with every dynamic reference in its strings replaced."""
    if isinstance(value, dict):
        return {key: resolve(item, parameter, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, parameter, secret) for item in value]
    if not isinstance(value, str) or "{{resolve:" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        service, reference = match.group(1), match.group(2)
        try:
            if service == "secretsmanager":
                return _secret(reference, secret)
            name, _, version = reference.partition(":")
            return parameter(name, version or None)
        except LookupError as error:
            raise ResourceFailed(f"Could not resolve the dynamic reference {match.group(0)}: {error}") from error

    return REFERENCE.sub(replace, value)


def _secret(reference: str, secret: SecretLookup) -> str:
    parts = reference.split(":")
    if reference.startswith("arn:"):
        secret_id, rest = ":".join(parts[:_ARN_PARTS]), parts[_ARN_PARTS:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    _, json_key, stage, version = rest[:4]
    text = secret(secret_id, stage or None, version or None)
    if not json_key:
        return text
    try:
        return str(json.loads(text)[json_key])
    except (ValueError, KeyError, TypeError) as error:
        raise LookupError(f"the secret has no JSON key {json_key}") from error
