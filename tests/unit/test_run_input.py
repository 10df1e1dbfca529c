"""Plan refuses any malformed execution input, whatever its JSON type or size, naming the field.

Each case is the execution's input as Plan reads it: JSON text (DescribeExecution's
`input`). The table covers every JSON type at the top and in each field, sizes at and past
each limit, patterns that only a whole-string match refuses (a trailing newline), unknown
fields and injection in names. Plan refuses each before the lock, changing nothing (the last
test here; tests/sandbox/test_refused_runs.py runs a few through the state machine).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.core.errors import InvalidInput
from lambdas.run.run_input import MAX_DEPTH, MAX_INPUT_BYTES, TOP, read_run_input
from tests.unit.conftest import REGION


def text(document: Any) -> str:
    return json.dumps(document)


def redeploy(**options: Any) -> str:
    return text({"action": "redeploy", "options": options})


MALFORMED: list[tuple[str, str, str]] = [
    # the top level: every JSON type that is not an object, and text that is not JSON
    ("a list", "[1, 2]", TOP),
    ("an empty list", "[]", TOP),
    ("a string", '"install"', TOP),
    ("an empty string", '""', TOP),
    ("null", "null", TOP),
    ("a number", "3", TOP),
    ("a float", "2.8", TOP),
    ("a negative number", "-1", TOP),
    ("true", "true", TOP),
    ("false", "false", TOP),
    ("not JSON", "{action: install}", TOP),
    ("truncated JSON", '{"action": "install"', TOP),
    ("NaN", '{"action": "redeploy", "options": {"Count": NaN}}', TOP),
    ("Infinity", '{"action": "redeploy", "options": {"Count": Infinity}}', TOP),
    ("a key given twice", '{"action": "redeploy", "action": "uninstall"}', "action"),
    ("an empty object", "{}", "action"),
    # sizes and depth
    ("a 250 KB input", text({"action": "redeploy", "options": {"Big": "x" * 250_000}}), TOP),
    ("just over the input limit", text({"action": "redeploy", "pad": "x" * MAX_INPUT_BYTES}), TOP),
    ("5,000-deep nesting", "[" * 5000 + "]" * 5000, TOP),
    ("nesting one past the limit", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), TOP),
    ("deep nesting in an option", '{"action": "redeploy", "options": {"A": ' + "[" * 50 + "]" * 50 + "}}", TOP),
    ("a 100,000-character option value", redeploy(Name="x" * 100_000), TOP),
    ("an option value one past CloudFormation's 4,096", redeploy(Name="x" * 4097), "options.Name"),
    ("an option value of 4,096 characters but 8,192 bytes", redeploy(Name="é" * 4096), "options.Name"),
    ("a 65-character option name", redeploy(**{"A" * 65: "x"}), "options." + "A" * 63 + "…"),
    ("65 options", redeploy(**{f"Option{i}": "x" for i in range(65)}), "options"),
    ("an integer past 2**53", redeploy(Count=2**53), "options.Count"),
    ("an integer below -2**53", redeploy(Count=-(2**53)), "options.Count"),
    ("a number too large for a float", '{"action": "redeploy", "options": {"Count": 1e400}}', "options.Count"),
    # action
    ("an unknown action", text({"action": "reinstall"}), "action"),
    ("an action in capitals", text({"action": "INSTALL"}), "action"),
    ("an action with a trailing newline", text({"action": "install\n", "version": "2.8.0"}), "action"),
    ("an action as a list", text({"action": ["install"]}), "action"),
    ("an action as null", text({"action": None}), "action"),
    ("an action as a number", text({"action": 1}), "action"),
    ("an action as an object", text({"action": {"name": "install"}}), "action"),
    ("an overlong action", text({"action": "install" * 1000}), "action"),
    # version
    ("install without a version", text({"action": "install"}), "version"),
    ("upgrade without a version", text({"action": "upgrade"}), "version"),
    ("a version with a trailing newline", text({"action": "upgrade", "version": "2.8.0\n"}), "version"),
    ("a version with a leading space", text({"action": "upgrade", "version": " 2.8.0"}), "version"),
    ("a version 'latest'", text({"action": "upgrade", "version": "latest"}), "version"),
    ("a version with two parts", text({"action": "upgrade", "version": "2.8"}), "version"),
    ("a version with a path", text({"action": "upgrade", "version": "../../2.8.0"}), "version"),
    ("a version with a slash suffix", text({"action": "upgrade", "version": "2.8.0-a/b"}), "version"),
    ("a version as a number", text({"action": "upgrade", "version": 280}), "version"),
    ("a version as null", text({"action": "upgrade", "version": None}), "version"),
    ("an overlong version", text({"action": "upgrade", "version": "2.8.0-" + "a" * 100}), "version"),
    ("a version with a null byte", text({"action": "upgrade", "version": "2.8.0\u0000"}), "version"),
    # options
    ("options as a list", text({"action": "redeploy", "options": ["ProdSizing"]}), "options"),
    ("options as a string", text({"action": "redeploy", "options": "ProdSizing=true"}), "options"),
    ("options as null", text({"action": "redeploy", "options": None}), "options"),
    ("an option value as a list", redeploy(ProdSizing=["yes"]), "options.ProdSizing"),
    ("an option value as an object", redeploy(ProdSizing={"on": True}), "options.ProdSizing"),
    ("an option value as null", redeploy(ProdSizing=None), "options.ProdSizing"),
    ("an option value as a float", redeploy(LogRetentionDays=30.5), "options.LogRetentionDays"),
    ("an option value with a newline", redeploy(AdminEmail="ops@example.com\nBcc: x"), "options.AdminEmail"),
    ("an option value with a control character", redeploy(Name="a\u001bb"), "options.Name"),
    ("an option value with a lone surrogate", '{"action": "redeploy", "options": {"N": "a\\ud800"}}', "options.N"),
    ("an option name in lower case", redeploy(prodSizing=True), "options.prodSizing"),
    ("an option name with a space", redeploy(**{"Prod Sizing": True}), "options.Prod Sizing"),
    ("an option name with a dot", redeploy(**{"Prod.Sizing": True}), "options.Prod.Sizing"),
    ("an option name injecting a parameter", redeploy(**{"${param:X}": "y"}), "options.${param:X}"),
    ("an option name injecting a stage output", redeploy(**{"${stage:vpc.VpcId}": "y"}), "options.${stage:vpc.VpcId}"),
    ("an option name injecting shell", redeploy(**{"A;rm -rf /": "y"}), "options.A;rm -rf /"),
    ("an option name injecting a newline", redeploy(**{"A\nB": "y"}), "options.A?B"),
    ("an option name injecting a DynamoDB key", redeploy(**{"LOCK#": "y"}), "options.LOCK#"),
    ("an empty option name", redeploy(**{"": "y"}), "options."),
    # unknown fields and the other fields
    ("an unknown field", text({"action": "redeploy", "colour": "blue"}), "colour"),
    ("an unknown field in capitals", text({"action": "redeploy", "Action": "install"}), "Action"),
    ("an injected field name", text({"action": "redeploy", "__proto__": {}}), "__proto__"),
    ("a field name with a path", text({"action": "redeploy", "options.ProdSizing": True}), "options.ProdSizing"),
    ("an unknown source", text({"action": "redeploy", "source": "attacker"}), "source"),
    ("a source with a newline", text({"action": "redeploy", "source": "cli\n"}), "source"),
    ("retain_data as a string", text({"action": "uninstall", "retain_data": "true"}), "retain_data"),
    ("retain_data as a number", text({"action": "uninstall", "retain_data": 1}), "retain_data"),
]


def test_the_table_holds_at_least_fifty_malformed_inputs() -> None:
    assert len(MALFORMED) >= 50
    assert len({case for case, _, _ in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize(("text_input", "field"), [(t, f) for _, t, f in MALFORMED], ids=[c for c, _, _ in MALFORMED])
def test_a_malformed_input_is_refused_naming_its_field(text_input: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_run_input(text_input)

    assert refused.value.field == field
    assert len(str(refused.value)) < 2000  # the refusal never echoes a large value


@pytest.mark.parametrize(
    "document",
    [
        {"action": "install", "version": "2.8.0"},
        {"action": "upgrade", "version": "2.9.0-rc.1", "source": "cli"},
        {"action": "redeploy"},
        {"action": "redeploy", "source": "schedule"},
        {"action": "redeploy", "options": {"ProdSizing": True, "LogRetentionDays": 90, "AdminEmail": "a@example.com"}},
        {"action": "redeploy", "options": {"Name": "x" * 4096}},
        {"action": "redeploy", "options": {"Name": "ünïcödé ✓"}},
        {"action": "uninstall", "retain_data": True, "source": "trigger"},
    ],
)
def test_a_well_formed_input_passes(document: dict[str, Any]) -> None:
    assert read_run_input(json.dumps(document)) == document


def test_nesting_up_to_the_limit_is_parsed_and_then_checked_by_the_schema() -> None:
    nested = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)

    with pytest.raises(InvalidInput) as refused:
        read_run_input('{"action": "redeploy", "options": {"A": ' + nested + "}}")

    assert refused.value.field == "options.A"


def test_plan_refuses_every_malformed_input_of_the_table_before_the_lock(aws: None) -> None:
    from lambdas.core.messages import PlanRequest
    from lambdas.run.planning import plan
    from tests.unit.releases import platform
    from tests.unit.test_plan_refusals import StartedWith, make_deps
    from tests.unit.test_planning import nothing_changed

    deps = make_deps(platform())
    execution = {"Id": f"arn:aws:states:{REGION}:000000000000:execution:sm:by-hand", "Name": "by-hand"}

    for case, input_text, field in MALFORMED:
        deps.sfn = StartedWith(input_text)
        with pytest.raises(InvalidInput) as refused:
            plan(deps, PlanRequest.model_validate({"execution": execution}))

        assert refused.value.field == field, case
        assert nothing_changed(deps), case
