"""A `--fault` given to one command against a shared sandbox (`sandbox serve`) lasts for that
command only (issue 17, item 8): armed when it starts, disarmed when it ends, however it ends;
faults armed otherwise (`sandbox serve --fault`, another command's) are left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from installer.aws import armed_faults
from installer.cli import app


def _armed(sandbox: Any) -> list[tuple[str, str]]:
    return [(fault.stage, fault.kind) for fault in sandbox.faults.list()]


def test_a_commands_faults_are_armed_while_it_runs_and_disarmed_after_leaving_the_others(sandbox: Any) -> None:
    sandbox.faults.add("aurora:timeout")  # the serving sandbox's own, as `sandbox serve --fault` arms it

    with armed_faults(sandbox.endpoint, ["vpc:create", "s3:update"]):
        during = _armed(sandbox)
    with pytest.raises(RuntimeError), armed_faults(sandbox.endpoint, ["vpc:crash"]):
        raise RuntimeError("the command failed")

    assert sorted(during) == [("aurora", "timeout"), ("s3", "update"), ("vpc", "create")]
    assert _armed(sandbox) == [("aurora", "timeout")]


def test_a_command_refused_at_the_endpoint_leaves_no_fault_armed(sandbox: Any) -> None:
    """`run` against a sandbox with no installation: refused after its faults were armed."""
    answered = CliRunner().invoke(
        app, ["run", "redeploy", "--endpoint-url", sandbox.endpoint, "--fault", "vpc:create", "--json"]
    )

    document = json.loads(answered.stdout.strip().splitlines()[-1])
    assert answered.exit_code == 2 and document["status"] == "REFUSED", answered.output
    assert document["error"]["code"] == "NoInstallation"
    assert "Traceback" not in answered.output
    assert _armed(sandbox) == []
