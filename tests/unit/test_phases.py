"""The phases of a step (`lambdas/core/phases.py`) against the ASL's Choice states and the
steps' code: every phase a step's call returns is routed the way the table says, every phase
a Choice names exists, and each step's dispatch covers the phases it waits in."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.core.phases import MIGRATE, STAGE, STEP_PHASES, WATCHED_PHASES, Phase, StepPhases, Then
from lambdas.images.step import ImagesStep
from lambdas.migration.step import MigrationStep
from lambdas.site.step import SiteStep
from lambdas.stage.deployment import StageDeployment

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "state_machine" / "installer.asl.json").read_text())
#: Each kind's code: the module whose calls return the kind's phases, and its step class.
CODE: dict[str, tuple[str, type[StageDeployment] | type[MigrationStep] | type[SiteStep] | type[ImagesStep]]] = {
    "stage": ("lambdas/stage/deployment.py", StageDeployment),
    "migrate": ("lambdas/migration/step.py", MigrationStep),
    "site": ("lambdas/site/step.py", SiteStep),
    "images": ("lambdas/images/step.py", ImagesStep),
}


def state_sets(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every `States` object of the machine, the Map's inner ones included."""
    yield states
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from state_sets(processor["States"])


def step_states() -> tuple[dict[str, Any], dict[str, str]]:
    """The states that run one step, and the entry task of each step kind (the `$.step.kind` Choice)."""
    for states in state_sets(ASL["States"]):
        for state in states.values():
            rules = state.get("Choices", [])
            if state["Type"] == "Choice" and rules and all(r.get("Variable") == "$.step.kind" for r in rules):
                return states, {rule["StringEquals"]: rule["Next"] for rule in rules}
    raise AssertionError("no Choice on $.step.kind in the ASL")


STATES, ENTRIES = step_states()


def progress_choice(kind: str) -> tuple[str, dict[str, Any]]:
    """The Choice that routes on the phase the kind's entry task returns."""
    name = STATES[ENTRIES[kind]]["Next"]
    choice = STATES[name]
    assert choice["Type"] == "Choice", f"{ENTRIES[kind]} is not followed by a Choice on its phase"
    return name, choice


def routes(choice: dict[str, Any]) -> dict[str, str]:
    found = {}
    for rule in choice["Choices"]:
        assert rule.get("Variable") == "$.phase" and "StringEquals" in rule, rule
        found[rule["StringEquals"]] = rule["Next"]
    return found


def returned_phases(path: str) -> set[Phase]:
    """Every `Phase.X` a module hands to `_next(...)` or `_backoff(...)`: what its calls return
    (a phase passed on from a variable is one of these, or one read back from the step's record)."""
    found = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr in ("_next", "_backoff"):
            argument = node.args[0] if node.args else node.keywords[0].value
            if isinstance(argument, ast.Attribute) and isinstance(argument.value, ast.Name):
                assert argument.value.id == "Phase", f"{path}: {ast.unparse(node)}"
                found.add(Phase[argument.attr])
    return found


KINDS = sorted(STEP_PHASES)


def test_the_asl_routes_exactly_the_step_kinds_the_table_defines() -> None:
    assert set(ENTRIES) == set(STEP_PHASES)


@pytest.mark.parametrize("kind", KINDS)
def test_every_phase_a_choice_names_is_a_phase_of_its_step_kind(kind: str) -> None:
    name, choice = progress_choice(kind)
    named = set(routes(choice))
    assert named <= {phase.value for phase in STEP_PHASES[kind].rules}, f"{name} names phases a {kind} step lacks"


@pytest.mark.parametrize("kind", KINDS)
def test_every_phase_of_a_step_kind_is_routed_as_the_table_says(kind: str) -> None:
    steps: StepPhases = STEP_PHASES[kind]
    name, choice = progress_choice(kind)
    explicit = routes(choice)
    for phase, rule in steps.rules.items():
        target = explicit.get(phase.value, choice.get("Default"))
        assert target, f"{name} does not route phase {phase}"
        if rule.then is Then.DONE:
            assert STATES[target]["Type"] == "Succeed", (name, phase)
        elif rule.then is Then.START_AGAIN:
            assert target == ENTRIES[kind], (name, phase)
        else:
            assert phase.value not in explicit and target == choice.get("Default"), (name, phase)
            assert_waits_then_calls_again(name, target, watched=rule.watched)


def assert_waits_then_calls_again(choice: str, wait_name: str, *, watched: bool) -> None:
    """A wait of `$.wait` seconds (a task token's timeout when the stack's event may end it early),
    then the step's next call, whose result comes back to the same Choice."""
    wait = STATES[wait_name]
    if watched:
        assert wait["Type"] == "Task" and wait["Resource"].endswith(".waitForTaskToken"), wait_name
        assert wait["TimeoutSecondsPath"] == "$.wait", wait_name
        timeout = next(c for c in wait["Catch"] if c["ErrorEquals"] == ["States.Timeout"])
        assert timeout["Next"] == wait["Next"], "a timed-out wait is a poll: the same next call"
    else:
        waits = wait.get("SecondsPath") == "$.wait" or wait.get("TimeoutSecondsPath") == "$.wait"
        assert wait["Type"] in ("Wait", "Task") and waits, wait_name
    call = STATES[wait["Next"]]
    assert call["Type"] == "Task" and call["Next"] == choice, wait["Next"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_step_returns_only_phases_its_choice_routes(kind: str) -> None:
    path, _ = CODE[kind]
    returned = returned_phases(path)
    assert returned, path
    assert returned <= set(STEP_PHASES[kind].rules), f"{path} returns phases its Choice does not route"


@pytest.mark.parametrize("kind", KINDS)
def test_each_step_dispatches_its_next_call_for_exactly_the_phases_it_waits_in(kind: str) -> None:
    _, step = CODE[kind]
    assert set(step.ADVANCES) == STEP_PHASES[kind].waiting


def test_every_phase_belongs_to_a_step_kind() -> None:
    assert {phase for steps in STEP_PHASES.values() for phase in steps.rules} == set(Phase)


def test_the_stack_events_end_the_waits_of_a_stage_that_works_on_its_stack() -> None:
    assert {Phase.EXECUTING, Phase.BUSY} == WATCHED_PHASES
    assert not any(rule.watched for rule in MIGRATE.rules.values())


def test_a_stage_waits_with_the_event_fallback_only_in_watched_phases() -> None:
    assert STAGE.rule(Phase.EXECUTING).watched and not STAGE.rule(Phase.CHANGESET).watched
    with pytest.raises(ValueError, match="no phase"):
        STAGE.rule(Phase.SNAPSHOT)
