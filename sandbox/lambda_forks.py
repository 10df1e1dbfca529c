"""The fork server of the sandbox's Python Lambda runtime: cold starts without the SDK's imports.

A cold Python worker started as a fresh interpreter spends most of its start importing what
Lambda's Python runtime provides (boto3 and botocore: about 170 ms of CPU on this project's
machine kind, of a DeployStage worker's 0.7 s); a wave of 14 workers starting at once on two
cores made each DeployStage call of an install take 6-7 s. The fork server
(`lambda_worker.py --fork-server`, one per runtime) imports that once: the standard library,
boto3 and botocore with their dependencies (`lambda_worker.RUNTIME_MODULES`), nothing of any
function, and forks each new worker from there. A function's own dependencies (Powertools,
pydantic …) are imported by its worker from its own path, so a module its package forgot still
fails as in AWS.

After the fork a worker is what a spawned one is (`lambda_worker._forked_worker`): its
environment is exactly the function's (the fork server's is cleared), with TZ applied; its
sys.path, working directory, process group, stdin, stdout and stderr (its log) are its own;
Python's default signal handlers; its layers at a private /opt where the machine allows it. A
package (or layer) holding its own copy of a module the runtime provides (boto3, urllib3 …) gets
every runtime module imported anew, as a fresh interpreter would.

Spawned as before: container images (their own packages, none of this machine's) and functions
whose environment sets what the interpreter reads only when it starts (`startup_difference`).
Shared by forked workers and not by Lambda's environments: the hash seed of str/bytes (one per
fork server) and the pages of the preloaded modules (copy-on-write).

Of botocore's data the fork server parses only its endpoints (`lambda_worker.SHARED_DATA`): the
file every botocore session loads whatever it calls, the same in every environment (the runtime's
botocore ships it), 40 ms a session and three sessions a DeployStage worker. A worker's sessions
share that one parse, as one session's clients do (botocore's `instance_cache`); botocore writes
into it when it resolves an endpoint, so it is shared pristine (the fork server resolves none)
and a worker's writes stay in its own memory. Service models are not preloaded: they depend on
what each function calls, and a worker reads them itself, as in AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from sandbox import processes

LOG = logging.getLogger("dataall_installer.sandbox.lambda")
WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
#: The environment the fork server's interpreter starts with: what every Python function's has at
#: start (`LambdaRuntime._environment`), where the interpreter reads it only then.
STARTUP_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PYTHONDONTWRITEBYTECODE": "1",
}
#: Only in the fork server's own environment: a worker never sees it (its environment is replaced).
FORK_SERVER_MARKER = "_SANDBOX_LAMBDA_FORK_SERVER"
#: Variables the interpreter, the dynamic loader or botocore's import read once, when a process
#: starts: a function that sets one otherwise than the fork server had it is spawned.
_STARTUP_NAMES = ("LANG", "LC_ALL", "LC_CTYPE", "BOTO_DISABLE_CRT")
#: How long the fork server may take to import the runtime's modules, and to answer a fork.
START_SECONDS, FORK_SECONDS = 30.0, 10.0
#: How long a fork server told to stop (its control socket closed) may take before it is killed.
STOP_SECONDS = 2.0
#: `ForkedProcess.returncode` once it ended: the fork server reaps it, its status is not kept.
ENDED = -1


class ForkServerError(RuntimeError):
    """The fork server could not be started or fork a worker (twice: it is restarted once when it
    failed before it had the request, never after: it may have forked the worker then)."""


def startup_difference(environment: Mapping[str, str], opt_folder: Path | None, opt: Path | str | None) -> str | None:
    """Why a function's worker cannot be forked (the variable that differs from the fork server's
    start), None if it can: `PYTHON*`, the locale the interpreter's streams take, botocore's
    `BOTO_DISABLE_CRT`, and `LD_*` (the dynamic loader's), where `LD_LIBRARY_PATH` counts only when
    it names a folder that exists (the layers' `/opt/lib`, seen in `opt_folder`)."""
    names = set(environment) | set(STARTUP_ENVIRONMENT)
    for name in sorted(names):
        startup = name.startswith("PYTHON") or name in _STARTUP_NAMES
        if startup and environment.get(name) != STARTUP_ENVIRONMENT.get(name):
            return name
        if name == "LD_LIBRARY_PATH":
            for entry in environment[name].split(os.pathsep):
                seen = entry
                if opt is not None and opt_folder is not None and (entry + "/").startswith(f"{opt}/"):
                    seen = str(opt_folder) + entry[len(str(opt)) :]
                if entry and Path(seen).is_dir():
                    return f"{name} ({entry})"
        elif name.startswith("LD_"):
            return name
    return None


class ForkedProcess:
    """A worker forked by the fork server, as the runtime handles a `subprocess.Popen` (`pid`,
    `stdin`, `poll`, `wait`); its end is seen through a pidfd, as it is not this process's child."""

    def __init__(self, pid: int, pidfd: int, stdin: IO[bytes]) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.returncode: int | None = None
        self._pidfd = pidfd
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        self._ended(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended(timeout):
            raise subprocess.TimeoutExpired(f"forked worker {self.pid}", timeout or 0)
        return ENDED

    def _ended(self, timeout: float | None) -> bool:
        with self._lock:
            if self._pidfd < 0:
                return True
            readable, _, _ = select.select([self._pidfd], [], [], timeout)
            if not readable:
                return False
            os.close(self._pidfd)
            self._pidfd = -1
            self.returncode = ENDED
            return True

    def __del__(self) -> None:
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)


class ForkServer:
    """One fork server process of the runtime, started at the first fork, restarted once when it
    is found gone, ended with `stop()` (its workers stay: each is a process group of its own)."""

    def __init__(self, root: Path, runtime_paths: list[str]) -> None:
        self.root = root
        self.runtime_paths = runtime_paths
        self.log_path = root / "logs" / "fork-server.log"
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        #: time.monotonic() of its last fork (or start): an unused fork server is reclaimed
        self.last_used = 0.0
        #: the top-level packages it imported from the runtime's folders
        self.provided: list[str] = []

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def fork(self, spec: dict[str, Any], stdin_fd: int, answer_fd: int, log_fd: int) -> tuple[int, int]:
        """A worker forked for `spec` (`environment`, `code_dir`, `dependency_paths`, `opt_folder`)
        with these as its stdin, answer pipe and log: its pid and a pidfd of it."""
        message = json.dumps(spec).encode()
        with self._lock:
            for attempt in (1, 2):
                sent = False
                try:
                    control = self._started()
                    socket.send_fds(control, [message], [stdin_fd, answer_fd, log_fd])
                    sent = True
                    answer, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
                    if not answer or len(fds) != 1:
                        for fd in fds:
                            os.close(fd)
                        raise ForkServerError("it ended without forking the worker")
                    self.last_used = time.monotonic()
                    return int(json.loads(answer)["pid"]), fds[0]
                except (OSError, ValueError, ForkServerError) as error:
                    self._stop_locked()
                    if sent:
                        # It may have forked a worker holding these very pipes: a second one forked
                        # with them would read the requests meant for the first.
                        raise ForkServerError(
                            f"the sandbox's Lambda fork server took a worker's request but gave no answer "
                            f"({error}); not asked again, as it may have forked that worker; see {self.log_path}"
                        ) from error
                    if attempt == 2:
                        raise ForkServerError(
                            f"the sandbox's Lambda fork server failed twice ({error}); see {self.log_path}"
                        ) from error
                    LOG.warning("the Lambda fork server failed (%s): starting a new one", error)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def stop_if_unused_since(self, moment: float) -> bool:
        """End the fork server if it forked nothing since `moment` (time.monotonic())."""
        with self._lock:
            if self._process is None or self.last_used > moment:
                return False
            self._stop_locked()
            return True

    def _started(self) -> socket.socket:
        if self._process is not None and self._control is not None and self._process.poll() is None:
            return self._control
        self._stop_locked()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-S", "-u", str(WORKER_SCRIPT), "--fork-server"]
        command += [os.pathsep.join(self.runtime_paths), str(theirs.fileno())]
        try:
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**STARTUP_ENVIRONMENT, "HOME": str(self.root), FORK_SERVER_MARKER: "1"},
                    cwd=self.root,
                    pass_fds=(theirs.fileno(),),
                    process_group=0,  # a terminal's Ctrl-C reaches the sandbox, which ends it
                )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        ours.settimeout(START_SECONDS)
        ready = ours.recv(1 << 16)
        if not ready:
            raise ForkServerError(f"it ended while importing the runtime's modules; see {self.log_path}")
        self.provided = list(json.loads(ready)["provided"])
        ours.settimeout(FORK_SECONDS)
        self.last_used = time.monotonic()
        LOG.debug("Lambda fork server %d started (runtime packages %s)", self._process.pid, self.provided)
        return ours

    def _stop_locked(self) -> None:
        control, process = self._control, self._process
        self._control = self._process = None
        if control is not None:
            control.close()  # it ends on its own, having reaped its ended workers
        if process is not None:
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                processes.end_group(process.pid)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
