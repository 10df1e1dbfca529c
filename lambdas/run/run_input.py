"""The run input, checked before anything else: whatever JSON arrives, of whatever type or size.

An execution's input is any JSON text of up to 256 KiB (Step Functions' StartExecution:
`input`, "Length Constraints: Maximum length of 262144", bytes of UTF-8,
https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
Plan reads it as text with DescribeExecution (`lambdas.run.planning.execution_input`), so
that a list, a string, `null`, a number, 256 KiB or a nesting too deep for Lambda's runtime to
unmarshal still reaches this module, which refuses it naming the field at fault, before the lock:

- the text: at most `MAX_INPUT_BYTES` bytes of UTF-8 (a run input is a few hundred bytes;
  the bound keeps the run's ledger item far below DynamoDB's 400 KB item size,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html),
  nested at most `MAX_DEPTH` deep (counted before parsing, so no parser recursion), strict
  JSON (no NaN or Infinity, no key given twice);
- the document: the run-input schema (`lambdas/release/schemas/run-input.schema.json`),
  where every string has a length limit and a pattern matched whole (`re.fullmatch`: JSON
  Schema's `pattern` is unanchored and Python's `$` also matches before a final newline,
  so `"2.8.0\\n"` passed `^…$`); option strings are capped at CloudFormation's 4,096 bytes
  for a parameter value
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).

Messages never echo a value at length: a refusal's cause stays small whatever the input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lambdas.core.errors import InvalidInput
from lambdas.release.manifest import schema_validator

if TYPE_CHECKING:
    import jsonschema

MAX_INPUT_BYTES = 32 * 1024
MAX_DEPTH = 8
#: CloudFormation's "Maximum size of a parameter value": 4,096 bytes (see the module's docstring).
MAX_OPTION_BYTES = 4096
TOP = "(top level)"
_SHOWN = 40


class _Invalid(ValueError):
    def __init__(self, message: str, field: str = TOP) -> None:
        super().__init__(message)
        self.field = field


def shown(value: Any) -> str:
    """A value as a message may quote it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def read_run_input(text: str) -> dict[str, Any]:
    """The run input from the execution's JSON text, checked; `InvalidInput` names the field."""
    return check_run_input(parse_run_input(text))


def parse_run_input(text: str) -> Any:
    size = _utf8_bytes(text)
    if size > MAX_INPUT_BYTES:
        raise InvalidInput(
            f"the run input is {size} bytes; a run input is at most {MAX_INPUT_BYTES} bytes of JSON", field=TOP
        )
    depth = _depth(text)
    if depth > MAX_DEPTH:
        raise InvalidInput(f"the run input is nested {depth} deep; at most {MAX_DEPTH} levels", field=TOP)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _Invalid as error:
        raise InvalidInput(f"the run input is not valid JSON: {error}", field=error.field) from None
    except ValueError as error:
        raise InvalidInput(f"the run input is not valid JSON: {error}", field=TOP) from None


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _depth(text: str) -> int:
    """How deep arrays and objects nest, outside strings: no recursion, whatever the text."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _Invalid(f"field {shown(key)} is given twice", field=_name(key))
        document[key] = value
    return document


def _no_constants(name: str) -> Any:
    raise _Invalid(f"{name} is not a JSON value")


def check_run_input(document: Any) -> dict[str, Any]:
    """The document against the run-input schema; the first problem (by field) is refused."""
    if not isinstance(document, dict):
        raise InvalidInput(f"the run input is {json_type(document)}, not a JSON object", field=TOP)
    problems = sorted(run_input_problems(document))
    if problems:
        field, _ = problems[0]
        raise InvalidInput(
            "the run input is not valid: " + "; ".join(f"{f}: {m}" for f, m in problems[:5]), field=field
        )
    return document


def run_input_problems(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, message) for every way the document breaks the run-input schema, and every
    option string over CloudFormation's 4,096 bytes (the schema counts characters)."""
    validator = schema_validator("run-input")
    for error in validator.iter_errors(document):
        yield _field(error), _message(error)
    options = document.get("options")
    for name, value in options.items() if isinstance(options, dict) else ():
        if isinstance(value, str) and _utf8_bytes(value) > MAX_OPTION_BYTES:
            yield _join("options", name), f"longer than {MAX_OPTION_BYTES} bytes of UTF-8"


def _path(parts: Any) -> str:
    return ".".join(_name(str(p)) for p in parts)


def _name(key: str) -> str:
    """A field name as a message shows it (an injected name stays one short line)."""
    printable = "".join(c if c.isprintable() else "?" for c in key)
    return printable if len(printable) <= 64 else printable[:63] + "…"


def _join(path: str, key: str) -> str:
    return f"{path}.{_name(key)}" if path else _name(key)


def _field(error: jsonschema.ValidationError) -> str:
    path = _path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in known)
        if extra:
            return _join(path, extra[0])
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
        if missing:
            return _join(path, missing[0])
    if "propertyNames" in error.schema_path:  # the instance is the name itself
        return _join(path, str(error.instance))
    return path or TOP


_MESSAGES: dict[str, Callable[[Any, Any], str]] = {
    "additionalProperties": lambda value, instance: "unknown field",
    "required": lambda value, instance: "required",
    "type": lambda value, instance: (
        f"is {json_type(instance)}, not {' or '.join(value) if isinstance(value, list) else value}"
    ),
    "enum": lambda value, instance: f"{shown(instance)} is not one of {', '.join(str(v) for v in value)}",
    "maxLength": lambda value, instance: f"longer than {value} characters",
    "minLength": lambda value, instance: f"shorter than {value} characters",
    "pattern": lambda value, instance: f"{shown(instance)} does not match {value}",
    "maxProperties": lambda value, instance: f"more than {value} entries",
    "minimum": lambda value, instance: f"{shown(instance)} is below {value}",
    "maximum": lambda value, instance: f"{shown(instance)} is above {value}",
}


def _message(error: jsonschema.ValidationError) -> str:
    """A short message that quotes no value at length (jsonschema's own repeat the instance)."""
    if "propertyNames" in error.schema_path:
        return "not a valid name (a capital letter, then letters and digits, at most 64)"
    describe = _MESSAGES.get(str(error.validator))
    return describe(error.validator_value, error.instance) if describe else str(error.message)[:200]
