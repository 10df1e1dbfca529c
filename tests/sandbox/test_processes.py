"""The sandbox's processes: `sandbox serve` stops with every process it started, and warm Lambda
workers are bounded, the least recently used idle one reclaimed first.

Lambda keeps an execution environment warm between invocations and reclaims idle ones
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Shutdown phase");
an environment's processes end with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sandbox import processes
from sandbox.processes import WarmLimits
from sandbox.server import free_port
from tests.sandbox.conftest import Clients, package

ROOT = Path(__file__).resolve().parents[2]
#: A handler that leaves processes behind: a child in its process group, and one in a session of
#: its own (what a daemon does) that only the subreaper keeps in the sandbox's tree.
SPAWNING_HANDLER = """
import subprocess
def handler(event, context):
    subprocess.Popen(["sleep", "300"])
    subprocess.Popen(["sleep", "301"], start_new_session=True)
    return "spawned"
"""
NODE_HANDLER = "exports.handler = async () => 'node';"
CLUSTER_TEMPLATE = {
    "Resources": {
        "Cluster": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {
                "Engine": "aurora-postgresql",
                "DatabaseName": "probe",
                "MasterUsername": "probe",
                "MasterUserPassword": "probe-password-1",
            },
        }
    }
}


class Served:
    """`dataall-installer sandbox serve` in a process of its own, and boto3 clients of it."""

    def __init__(self, process: subprocess.Popen[str], endpoint: str) -> None:
        self.process = process
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="eu-west-1",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )

    def create_functions(self) -> None:
        role = self.client("iam").create_role(RoleName="probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        functions = self.client("lambda")
        functions.create_function(
            FunctionName="python-probe", Runtime="python3.11", Role=role, Handler="index.handler",
            Code={"ZipFile": package({"index.py": SPAWNING_HANDLER})},
        )  # fmt: skip
        functions.create_function(
            FunctionName="node-probe", Runtime="nodejs20.x", Role=role, Handler="index.handler",
            Code={"ZipFile": package({"index.js": NODE_HANDLER})},
        )  # fmt: skip

    def invoke(self, name: str) -> Any:
        response = self.client("lambda").invoke(FunctionName=name)
        assert "FunctionError" not in response, response["Payload"].read()
        return json.loads(response["Payload"].read())


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[subprocess.Popen[str]] = []

    def start(*, sigint_ignored: bool = False, env: dict[str, str] | None = None, json_mode: bool = False) -> Served:
        port = free_port()
        command = [sys.executable, "-m", "installer.cli", "sandbox", "serve", "--port", str(port)]
        command += ["--json"] if json_mode else []
        if sigint_ignored:
            # what `serve &` in a script gets: "If job control is disabled ... the command shall
            # have SIGINT and SIGQUIT ignored" (POSIX, Shell Command Language, 2.9.3 Lists); an
            # ignored signal stays ignored across exec
            command = ["/bin/sh", "-c", 'trap "" INT QUIT; exec "$@"', "sh", *command]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, **(env or {})})  # fmt: skip
        started.append(process)
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/_sandbox/health", timeout=2):
                    return Served(process, endpoint)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"sandbox serve did not start: {process.communicate()[0]}") from None
                time.sleep(0.1)

    yield start
    for process in started:
        leftovers = processes.descendants(process.pid) if process.poll() is None else []
        process.kill()
        process.wait()
        for pid in leftovers:
            processes.end_group(pid)


def _alive(pids: list[int]) -> list[str]:
    """The processes of `pids` still running (zombies are not), as `pid command` for the message."""
    running = []
    for pid in pids:
        if processes.parent_of(pid) is not None and not processes.is_zombie(pid):
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            running.append(f"{pid} {command[:100]}")
    return running


def _stop_and_assert_tree_gone(served: Served, signum: signal.Signals, expected: tuple[str, ...]) -> None:
    tree = processes.descendants(served.process.pid)
    commands = " ".join(
        (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        for pid in tree
    )
    for needle in expected:
        assert needle in commands, f"{needle!r} is not in the sandbox's tree before the signal: {commands}"

    served.process.send_signal(signum)

    output, _ = served.process.communicate(timeout=20)
    deadline = time.monotonic() + 3
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(tree) == [], f"left running after {signum.name}: {_alive(tree)}"
    assert served.process.returncode == 0, output
    assert f"stopping the sandbox ({signum.name})" in output


def test_sigterm_ends_sandbox_serve_with_its_lambda_workers_and_what_they_started(
    serve: Callable[..., Served],
) -> None:
    """SIGTERM (what `kill`, systemd and container runtimes send) ends `sandbox serve` and every
    process of its tree: the Python and Node.js workers, a handler's child, and a handler's
    child that left for a session of its own."""
    served = serve()
    served.create_functions()
    assert served.invoke("python-probe") == "spawned"
    assert served.invoke("node-probe") == "node"

    _stop_and_assert_tree_gone(served, signal.SIGTERM, ("lambda_worker.py", "lambda_worker_node.mjs", "sleep 301"))


def test_sandbox_serve_json_says_where_it_listens_then_ends_with_what_stopped_it(
    serve: Callable[..., Served],
) -> None:
    """With --json, `sandbox serve` answers in the one shape of every command: a first line a script
    that started it in the background reads the endpoint from (RUNNING), and a last line saying
    what ended it (STOPPED, the signal); the sentences for a person go to standard error."""
    served = serve(json_mode=True)
    assert served.process.stdout is not None
    # the fixture reads standard error and output as one stream: the sentences come first
    line = served.process.stdout.readline()
    while not line.startswith("{"):
        assert line, "sandbox serve ended without its RUNNING line"
        line = served.process.stdout.readline()
    ready = json.loads(line)
    assert ready == {"status": "RUNNING", "command": "sandbox serve", "endpoint": served.endpoint, "scale": 0.01}

    served.process.send_signal(signal.SIGTERM)
    rest, _ = served.process.communicate(timeout=20)

    lines = [line for line in rest.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == {
        "status": "STOPPED", "command": "sandbox serve", "endpoint": served.endpoint, "signal": "SIGTERM"
    }  # fmt: skip
    assert served.process.returncode == 0


@pytest.mark.slow
def test_sigint_ends_sandbox_serve_started_in_the_background_with_its_postgresql(
    serve: Callable[..., Served],
) -> None:
    """`dataall-installer sandbox serve &` in a script starts with SIGINT ignored; `kill -INT`
    still stops it, with its workers and the PostgreSQL server its database clusters started."""
    served = serve(sigint_ignored=True)
    served.create_functions()
    assert served.invoke("python-probe") == "spawned"
    assert served.invoke("node-probe") == "node"
    cfn = served.client("cloudformation")
    cfn.create_stack(StackName="probe-db", TemplateBody=json.dumps(CLUSTER_TEMPLATE))
    cfn.get_waiter("stack_create_complete").wait(StackName="probe-db", WaiterConfig={"Delay": 1})

    _stop_and_assert_tree_gone(served, signal.SIGINT, ("lambda_worker.py", "lambda_worker_node.mjs", "postgres"))


def test_descendants_reach_grandchildren_and_end_group_ends_them() -> None:
    child = subprocess.Popen(["/bin/sh", "-c", "sleep 30 & wait"], process_group=0)
    try:
        deadline = time.monotonic() + 5
        while not processes.descendants(child.pid):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        grandchild = processes.descendants(child.pid)[0]
        assert grandchild in processes.descendants(os.getpid())

        processes.end_group(child.pid)
        child.wait(timeout=5)

        deadline = time.monotonic() + 5
        while processes.parent_of(grandchild) is not None and not processes.is_zombie(grandchild):
            assert time.monotonic() < deadline, "the grandchild outlived its group's end"
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()


# --------------------------------------------------------------------------- warm workers
PYTHON_ECHO = "def handler(event, context):\n    import time\n    time.sleep(event.get('sleep', 0))\n    return 'ok'\n"


@pytest.fixture
def bounded(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    def bound(total: int, per_function: int, idle_seconds: float = 300) -> Any:
        limits = WarmLimits(total=total, per_function=per_function, idle_seconds=idle_seconds)
        monkeypatch.setattr(sandbox.runtime, "limits", limits)
        return sandbox.runtime

    return bound


def _create(clients: Clients, names: list[str]) -> None:
    role = clients("iam").create_role(RoleName="warm", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name in names:
        clients("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=role, Handler="index.handler", Timeout=30,
            Code={"ZipFile": package({"index.py": PYTHON_ECHO})},
        )  # fmt: skip


def _invoke(clients: Clients, name: str, event: dict[str, Any] | None = None) -> None:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    assert "FunctionError" not in response, response["Payload"].read()


def test_warm_workers_stay_at_the_total_bound_the_least_recently_used_reclaimed(
    bounded: Callable[..., Any], clients: Clients
) -> None:
    """More distinct functions than the bound: the live workers stay at the bound, and the one
    reclaimed each time is the least recently used idle one (its process gone)."""
    runtime = bounded(3, 2)
    names = [f"warm-{index}" for index in range(6)]
    _create(clients, names)
    pids: dict[str, set[int]] = {}

    for name in names:
        before = set(runtime.worker_pids())
        _invoke(clients, name)
        pids[name] = set(runtime.worker_pids()) - before
        assert runtime.worker_counts()["live"] <= 3
    _invoke(clients, "warm-3")  # used again: now warm-4 is the least recently used

    before = set(runtime.worker_pids())
    _invoke(clients, "warm-0")
    new = set(runtime.worker_pids()) - before

    assert runtime.worker_counts() == {"live": 3, "idle": 3, "starting": 0}
    assert set(runtime.worker_pids()) == pids["warm-3"] | pids["warm-5"] | new
    assert len(new) == 1
    assert _alive(sorted(pids["warm-0"] | pids["warm-1"] | pids["warm-2"] | pids["warm-4"])) == []


def test_a_burst_of_one_function_keeps_only_its_bound_of_idle_workers(
    bounded: Callable[..., Any], clients: Clients
) -> None:
    """Four concurrent invocations need four workers; once done, the function keeps two warm."""
    runtime = bounded(10, 2)
    _create(clients, ["burst"])
    threads = [threading.Thread(target=_invoke, args=(clients, "burst", {"sleep": 1})) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while runtime.worker_counts()["live"] + runtime.worker_counts()["starting"] < 4:
        assert time.monotonic() < deadline, runtime.worker_counts()
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert runtime.worker_counts() == {"live": 2, "idle": 2, "starting": 0}


def test_idle_workers_are_reclaimed_after_the_idle_time_and_busy_ones_are_not(
    bounded: Callable[..., Any], clients: Clients
) -> None:
    """As Lambda reclaims idle execution environments: a worker idle for the idle time ends with
    its process, one busy for longer than that is not ended, and the next invocation starts cold."""
    runtime = bounded(10, 4, idle_seconds=1.0)
    _create(clients, ["idle", "busy"])
    _invoke(clients, "idle")
    idle_pids = runtime.worker_pids()

    _invoke(clients, "busy", {"sleep": 2})  # longer than the idle time: busy, so kept

    assert runtime.worker_counts()["live"] >= 1
    deadline = time.monotonic() + 10
    while runtime.worker_counts()["live"]:
        assert time.monotonic() < deadline, runtime.worker_counts()
        time.sleep(0.05)
    assert _alive(idle_pids) == []
    _invoke(clients, "idle")  # cold again, and it works
    assert runtime.worker_counts() == {"live": 1, "idle": 1, "starting": 0}
    assert set(runtime.worker_pids()).isdisjoint(idle_pids)


def _workers_under(pid: int) -> list[int]:
    return [
        child
        for child in processes.descendants(pid)
        if b"lambda_worker" in (Path("/proc") / str(child) / "cmdline").read_bytes()
    ]


def test_a_long_lived_sandbox_serve_shrinks_back_when_idle(serve: Callable[..., Served]) -> None:
    """DATAALL_SANDBOX_WARM_IDLE_SECONDS reaches `sandbox serve`: its workers end once idle that long."""
    served = serve(env={processes.WARM_IDLE_SECONDS_VARIABLE: "1"})
    role = served.client("iam").create_role(RoleName="idle", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    served.client("lambda").create_function(
        FunctionName="idle", Runtime="python3.11", Role=role, Handler="index.handler",
        Code={"ZipFile": package({"index.py": PYTHON_ECHO})},
    )  # fmt: skip
    assert served.invoke("idle") == "ok"
    workers = _workers_under(served.process.pid)
    assert workers, "no warm worker after the invocation"

    deadline = time.monotonic() + 15
    # a worker that is exiting has no command line any more, and is not a zombie yet for a while
    while _workers_under(served.process.pid) or _alive(workers):
        assert time.monotonic() < deadline, f"still warm after 15 s: {_alive(workers)}"
        time.sleep(0.1)

    assert served.invoke("idle") == "ok"  # a cold start serves it again
