"""The installer's functions table (`bootstrap_stack.FUNCTIONS`) against the ASL, the handler
modules and the synthesized bootstrap template: a new workflow step is one handler module, one
row and one ASL state, and nothing else can be forgotten."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bootstrap_stack import FUNCTIONS, Can

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / "state_machine" / "installer.asl.json").read_text()
TASKS = {spec.substitution: spec for spec in FUNCTIONS if spec.task}


def test_every_function_the_asl_names_is_a_task_of_the_table() -> None:
    named = set(re.findall(r"\$\{(\w+FunctionArn)\}", ASL_TEXT))
    assert named <= set(TASKS), f"no row for {sorted(named - set(TASKS))}"


def test_every_task_of_the_table_is_named_by_the_asl() -> None:
    named = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert set(TASKS) <= named, f"the state machine never invokes {sorted(set(TASKS) - named)}"


def test_every_handler_module_has_a_row_and_every_row_a_handler_module() -> None:
    handlers = {path.stem for path in (ROOT / "lambdas" / "handlers").glob("*.py") if path.stem != "__init__"}
    assert handlers == {spec.module for spec in FUNCTIONS}


def test_construct_ids_and_modules_are_unique() -> None:
    assert len({spec.construct_id for spec in FUNCTIONS}) == len({spec.module for spec in FUNCTIONS}) == len(FUNCTIONS)


def test_every_capability_is_given_to_some_function() -> None:
    assert {capability for spec in FUNCTIONS for capability in spec.can} == set(Can)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's functions by handler module."""
    return {
        resource["Properties"]["Handler"].split(".")[2]: {"id": logical_id, **resource["Properties"]}
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def test_the_template_has_one_function_per_row_as_the_row_says(bootstrap_template: dict[str, Any]) -> None:
    functions = _functions(bootstrap_template)
    assert set(functions) == {spec.module for spec in FUNCTIONS}
    for spec in FUNCTIONS:
        function = functions[spec.module]
        assert function["id"].startswith(spec.construct_id), spec
        assert (function["Timeout"], function["MemorySize"]) == (spec.timeout, spec.memory), spec
        assert ("FunctionName" in function) == (spec.name is not None), spec


def test_the_state_machine_invokes_exactly_the_tasks(bootstrap_template: dict[str, Any]) -> None:
    functions = _functions(bootstrap_template)
    (machine,) = [
        r for r in bootstrap_template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert substitutions == {
        name: {"Fn::GetAtt": [functions[spec.module]["id"], "Arn"]} for name, spec in TASKS.items()
    }
    role = {"Ref": machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]}
    (policy,) = [
        r for r in bootstrap_template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [role]
    ]  # fmt: skip
    (invoke,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "InvokeSteps"]
    assert sorted(map(str, invoke["Resource"])) == sorted(map(str, substitutions.values()))
