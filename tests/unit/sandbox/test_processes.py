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
    assert WarmLimits.from_environment({}) == WarmLimits(total=32, per_function=8)
    assert WarmLimits.from_environment(
        {processes.WARM_WORKERS_VARIABLE: "5", processes.WARM_WORKERS_PER_FUNCTION_VARIABLE: "2"}
    ) == WarmLimits(total=5, per_function=2)


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5", " "])
def test_a_bad_warm_workers_bound_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(ValueError, match=processes.WARM_WORKERS_VARIABLE):
        WarmLimits.from_environment({processes.WARM_WORKERS_VARIABLE: value})
