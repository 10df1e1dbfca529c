"""The line (or JSON document) a deploy ends with, and its exit code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer

from installer.cli import _finish
from installer.operations import RunView, StageView, result_document

STARTED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def view(status: str = "SUCCEEDED", seconds: float | None = 47.3) -> RunView:
    return RunView(
        execution_arn="arn:aws:states:eu-west-1:000000000000:execution:installer:run-1",
        run="run-1",
        status=status,
        action="install",
        version="2.8.0",
        stages=[
            StageView(name="vpc", stack="dataall-prod-vpc", status="CREATE_COMPLETE", phase="done", elapsed=10.0),
            StageView(name="s3", stack="dataall-prod-s3", status="CREATE_COMPLETE", phase="done", elapsed=5.0),
            StageView(name="rum", stack="dataall-prod-rum", status="SKIPPED"),
            StageView(name="migrate", stack="", status="MIGRATED", phase="done", elapsed=2.0, kind="action"),
        ],
        error=None,
        started=STARTED,
        stopped=STARTED + timedelta(seconds=seconds) if seconds is not None else None,
    )


def finish(result: dict[str, Any], *, json_mode: bool = False, scale: float | None = None) -> int:
    with pytest.raises(typer.Exit) as ended:
        _finish(result, json_mode, scale)
    return int(ended.value.exit_code)


def test_the_summary_gives_stages_transitions_and_the_modelled_time(capsys: pytest.CaptureFixture[str]) -> None:
    code = finish(result_document(view(), 213), scale=0.01)
    line = capsys.readouterr().out.strip()
    assert code == 0
    assert line == (
        "install 2.8.0: SUCCEEDED · 2 stages (1 off with these options), 1 action · 213 state transitions"
        " · run 47 s (78 min 50 s modelled at scale 0.01, Lambda time unscaled)"
    )


def test_against_aws_there_is_no_modelled_time(capsys: pytest.CaptureFixture[str]) -> None:
    finish(result_document(view(seconds=125), 40))
    assert capsys.readouterr().out.strip().endswith("40 state transitions · run 2 min 05 s")


def test_the_json_document_has_the_durations_and_a_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = finish(result_document(view(status="FAILED"), 99), json_mode=True, scale=0.5)
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1
    assert document["duration_s"] == 47.3 and document["modelled_s"] == 95
    assert sorted(document["stages"]) == ["rum", "s3", "vpc"] and list(document["actions"]) == ["migrate"]


def test_a_run_still_going_has_no_duration() -> None:
    document = result_document(view(status="RUNNING", seconds=None), 5)
    assert document["duration_s"] is None
