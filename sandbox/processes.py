"""The sandbox's child processes, and how they end with it.

Every process the sandbox starts and keeps (a Lambda worker, the PostgreSQL server of its
database clusters) leads a process group of its own, so that ending it ends what it started
too (a handler's `subprocess.Popen`, PostgreSQL's backends). Ending is SIGKILL to the group:
a Lambda execution environment is frozen or reclaimed, never asked.

A process the sandbox serves from (`sandbox serve`) is also the *subreaper* of everything under
it (Linux `PR_SET_CHILD_SUBREAPER`): a process that leaves its parent (a daemon, `pg_ctl`'s
postmaster, a handler's `setsid` child) stays in its tree, and `end_descendants` ends and reaps
whatever is left there when it stops. `stop_signals` turns SIGTERM and SIGINT into
`Stopped` in the main thread, even when SIGINT came ignored (a background job of a
non-interactive shell), so that the sandbox's `stop()` runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

LOG = logging.getLogger("dataall_installer.sandbox.processes")
PROC = Path("/proc")
#: prctl(2): "PR_SET_CHILD_SUBREAPER (since Linux 3.4)".
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: The bounds of warm Lambda workers, from these variables of the sandbox's environment (`WarmLimits`).
WARM_WORKERS_VARIABLE = "DATAALL_SANDBOX_WARM_WORKERS"
WARM_WORKERS_PER_FUNCTION_VARIABLE = "DATAALL_SANDBOX_WARM_WORKERS_PER_FUNCTION"
WARM_IDLE_SECONDS_VARIABLE = "DATAALL_SANDBOX_WARM_IDLE_SECONDS"
#: `0` starts every Python Lambda worker as a fresh interpreter; `1` (the default) forks it from the
#: runtime's fork server (`sandbox.lambda_forks`).
LAMBDA_FORK_VARIABLE = "DATAALL_SANDBOX_LAMBDA_FORK"


class WarmLimitsError(ValueError):
    """A bound of warm workers that is not one, named by its variable (`field`)."""

    code = "InvalidEnvironment"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class WarmLimits:
    """How many live workers the sandbox keeps, and for how long: `total` across every function,
    `per_function` idle ones of one function, each idle one for `idle_seconds` of wall time. Lambda
    "reclaims" an idle execution environment when it chooses, after minutes without an invocation
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Shutdown
    phase"); the sandbox reclaims the least recently used idle worker once a bound is reached, and
    any worker idle for `idle_seconds`, so a long-lived `sandbox serve` shrinks back when nothing
    runs. Busy workers are never ended for a bound: a burst of concurrent invocations may pass
    `total` for as long as they run, and their workers end as they finish."""

    total: int = 32
    per_function: int = 8
    #: wall seconds, not modelled ones: what is reclaimed is this machine's memory
    idle_seconds: float = 300.0
    #: Python workers forked from the runtime's fork server (False: each a fresh interpreter)
    fork: bool = True

    def __post_init__(self) -> None:
        for name in ("total", "per_function"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"warm workers: {name} must be a whole number of at least 1, not {value!r}")
        idle = self.idle_seconds
        if isinstance(idle, bool) or not isinstance(idle, int | float) or not math.isfinite(idle) or idle <= 0:
            raise ValueError(f"warm workers: idle_seconds must be a positive number of seconds, not {idle!r}")

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> WarmLimits:
        """The bounds of `DATAALL_SANDBOX_WARM_WORKERS`, `..._PER_FUNCTION` and
        `DATAALL_SANDBOX_WARM_IDLE_SECONDS` (defaults where unset); a bound that is not a whole
        number of at least 1, or an idle time that is not a positive number of seconds, is refused
        (`WarmLimitsError`), naming its variable."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for name, variable in (("total", WARM_WORKERS_VARIABLE), ("per_function", WARM_WORKERS_PER_FUNCTION_VARIABLE)):
            text = environ.get(variable)
            if text is None or text == "":
                continue
            if not text.strip().isdigit() or int(text) < 1:
                raise WarmLimitsError(
                    f"{variable}={text!r}: the bound of warm Lambda workers must be a whole number >= 1", variable
                )
            values[name] = int(text)
        text = environ.get(WARM_IDLE_SECONDS_VARIABLE)
        if text:
            try:
                seconds = float(text)
            except ValueError:
                seconds = math.nan
            if not (math.isfinite(seconds) and seconds > 0):
                raise WarmLimitsError(
                    f"{WARM_IDLE_SECONDS_VARIABLE}={text!r}: how long an idle Lambda worker is kept must be a "
                    "positive number of seconds (e.g. 300)",
                    WARM_IDLE_SECONDS_VARIABLE,
                )
            values["idle_seconds"] = seconds
        text = environ.get(LAMBDA_FORK_VARIABLE, "").strip()
        if text not in ("", "0", "1"):
            raise WarmLimitsError(
                f"{LAMBDA_FORK_VARIABLE}={text!r}: 1 forks Python Lambda workers from the fork server, "
                "0 starts each as a fresh interpreter",
                LAMBDA_FORK_VARIABLE,
            )
        if text:
            values["fork"] = text == "1"
        return cls(**values)


class Stopped(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM or SIGINT). A KeyboardInterrupt, so that whatever
    answers Ctrl-C answers a SIGTERM the same way, and `finally` blocks run."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


def _note_while_stopping(signum: int, _frame: FrameType | None) -> None:
    LOG.info("%s while stopping: the stop goes on", signal.Signals(signum).name)


class StopSignals:
    """SIGTERM and SIGINT raise `Stopped` in the main thread from `install()` to `restore()`,
    whatever their disposition was before (SIG_IGN included). Outside the main thread (where
    Python cannot set handlers) it changes nothing."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def install(self) -> bool:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return False
        self._previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOP_SIGNALS}
        return True

    def restore(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """`StopSignals` for the block."""
    handlers = StopSignals()
    handlers.install()
    try:
        yield
    finally:
        handlers.restore()


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """While the block stops things, a SIGTERM or SIGINT is logged, not raised: a second Ctrl-C
    cannot cut a stop short and leave processes behind. The handlers before come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _note_while_stopping) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def become_subreaper() -> bool:
    """Make this process the subreaper of its descendants (Linux); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        LOG.info("not a subreaper: prctl failed with errno %s", ctypes.get_errno())
        return False
    return True


def end_group(pgid: int) -> None:
    """SIGKILL to the process group `pgid` (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def parent_of(pid: int) -> int | None:
    """The parent's pid, None when `pid` is gone (from /proc/PID/stat; the name may hold spaces)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def is_zombie(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (children, their children …), from /proc; parents first."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def end_descendants(grace: float = 2.0) -> list[int]:
    """End every process under this one: SIGTERM, then SIGKILL to what is left after `grace`
    seconds, reaping each (as their subreaper, they are this process's children at the end).
    Returns the pids it found; call it only once nothing of this process waits for a child."""
    found = descendants(os.getpid())
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(not is_zombie(pid) for pid in descendants(os.getpid())):
        _reap_children()
        time.sleep(0.05)
    for pid in descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and descendants(os.getpid()):
        _reap_children()
        time.sleep(0.02)
    return found


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
