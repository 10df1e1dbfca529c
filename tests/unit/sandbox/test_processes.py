"""sandbox.processes: the stop signals, the warm workers' bounds, a process tree from /proc."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sandbox import processes
from sandbox.processes import Stopped, StopSignals, WarmLimits


def test_stop_signals_raise_stopped_even_where_sigint_came_ignored_and_give_it_back() -> None:
    """A background job of a non-interactive shell starts with SIGINT ignored; while the sandbox
    runs, SIGINT and SIGTERM still stop it, and the dispositions before come back after."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        handlers = StopSignals()
        assert handlers.install()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with pytest.raises(Stopped) as stopped:
                os.kill(os.getpid(), signum)
                time.sleep(1)  # the handler runs at the next bytecode; never reached
            assert stopped.value.signum == signum
            assert isinstance(stopped.value, KeyboardInterrupt)
        handlers.restore()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_signals_held_note_a_signal_instead_of_raising_it() -> None:
    with processes.stop_signals():
        with processes.signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        with pytest.raises(Stopped):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)


def test_warm_limits_come_from_the_environment_with_defaults() -> None:
    assert WarmLimits.from_environment({}) == WarmLimits(total=32, per_function=8, idle_seconds=300)
    assert WarmLimits.from_environment(
        {
            processes.WARM_WORKERS_VARIABLE: "5",
            processes.WARM_WORKERS_PER_FUNCTION_VARIABLE: "2",
            processes.WARM_IDLE_SECONDS_VARIABLE: "2.5",
        }
    ) == WarmLimits(total=5, per_function=2, idle_seconds=2.5)


def test_python_workers_are_forked_unless_the_environment_says_0() -> None:
    assert WarmLimits.from_environment({}).fork is True
    assert WarmLimits.from_environment({processes.LAMBDA_FORK_VARIABLE: "1"}).fork is True
    assert WarmLimits.from_environment({processes.LAMBDA_FORK_VARIABLE: "0"}).fork is False


@pytest.mark.parametrize("value", ["yes", "true", "2", "off"])
def test_a_bad_fork_setting_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(processes.WarmLimitsError, match=processes.LAMBDA_FORK_VARIABLE) as refused:
        WarmLimits.from_environment({processes.LAMBDA_FORK_VARIABLE: value})
    assert refused.value.field == processes.LAMBDA_FORK_VARIABLE


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf", "1e999"])
def test_a_bad_warm_idle_time_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(processes.WarmLimitsError, match=processes.WARM_IDLE_SECONDS_VARIABLE) as refused:
        WarmLimits.from_environment({processes.WARM_IDLE_SECONDS_VARIABLE: value})
    assert refused.value.field == processes.WARM_IDLE_SECONDS_VARIABLE


def test_sandbox_serve_refuses_a_bad_warm_variable_before_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer of installer.answers, naming the variable; the unit tier's guard proves no
    sandbox (no socket, no process) was started."""
    import json

    from typer.testing import CliRunner

    from installer.cli import app

    monkeypatch.setenv(processes.WARM_IDLE_SECONDS_VARIABLE, "never")
    result = CliRunner().invoke(app, ["sandbox", "serve", "--json"])
    document = json.loads(result.stdout.splitlines()[-1])
    assert result.exit_code == 2 and document["status"] == "REFUSED", result.output
    assert document["error"]["code"] == "InvalidEnvironment"
    assert document["error"]["field"] == processes.WARM_IDLE_SECONDS_VARIABLE


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5", " "])
def test_a_bad_warm_workers_bound_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(ValueError, match=processes.WARM_WORKERS_VARIABLE):
        WarmLimits.from_environment({processes.WARM_WORKERS_VARIABLE: value})
