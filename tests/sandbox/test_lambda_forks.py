"""Python workers forked from the runtime's fork server (sandbox/lambda_forks.py): each is the
execution environment a freshly started worker is (its function's environment and nothing else,
its own package first on its path, its working directory, signal handlers and process group), the
fork server having imported only what Lambda's Python runtime provides."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import lambda_forks, layers, processes
from tests.sandbox.conftest import Clients, package

WORLD = """
import os, random, signal, sys, time

SIGNALS = ("SIGINT", "SIGTERM", "SIGCHLD", "SIGPIPE", "SIGUSR1")
IMPORTED_AT_INIT = sorted(name for name in ("pydantic", "aws_lambda_powertools", "lambdas") if name in sys.modules)


def handler(event, context):
    import shared

    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "own_group": os.getpgid(0) == os.getpid(),
        "environment": dict(os.environ),
        "path": sys.path,
        "cwd": os.getcwd(),
        "argv": sys.argv[1:],
        "signals": {name: str(signal.getsignal(getattr(signal, name))) for name in SIGNALS},
        "tzname": list(time.tzname),
        "stdin": os.readlink("/proc/self/fd/0").split(":")[0],
        "log": os.readlink("/proc/self/fd/1") == os.readlink("/proc/self/fd/2"),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "imported_at_init": IMPORTED_AT_INIT,
        "shared": shared.WHO,
        "random": random.random(),
    }
"""


@pytest.fixture
def create(clients: Clients) -> Callable[..., str]:
    role = clients("iam").create_role(RoleName="fork-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create_function(
        name: str, files: dict[str, str], variables: dict[str, str] | None = None, layer: str | None = None
    ) -> str:
        clients("lambda").create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Timeout=10,
            Code={"ZipFile": package(files)}, Environment={"Variables": variables or {}},
            Layers=[layer] if layer else [],
        )  # fmt: skip
        return name

    return create_function


def invoke(clients: Clients, name: str, event: dict[str, Any] | None = None) -> tuple[str | None, Any]:
    response = clients("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


@pytest.fixture
def spawning(sandbox: Any) -> Iterator[Callable[[], Any]]:
    """`with spawning():` new workers are spawned as fresh interpreters (no fork server)."""
    import contextlib

    forks = sandbox.runtime.forks
    assert forks is not None, "the sandbox's runtime has no fork server"

    @contextlib.contextmanager
    def spawned() -> Iterator[None]:
        sandbox.runtime.forks = None
        try:
            yield
        finally:
            sandbox.runtime.forks = forks

    yield spawned
    sandbox.runtime.forks = forks


def _environ(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


def test_a_forked_worker_is_the_world_a_fresh_worker_is(
    sandbox: Any, clients: Clients, create: Callable[..., str], spawning: Callable[[], Any]
) -> None:
    """The same function forked and spawned: the same environment variables (exactly the
    function's and Lambda's, none of the fork server's), path, working directory, arguments,
    signal handlers, time zone, stdin, log and process group; only the fork server's parentage
    differs."""
    files = {"app.py": WORLD, "shared.py": "WHO = 'one'\n"}
    variables = {"GREETING": "hello", "TZ": "Europe/Paris"}
    create("forked", files, variables)
    create("spawned", files, variables)

    error, forked = invoke(clients, "forked")
    with spawning():
        _, spawned = invoke(clients, "spawned")

    assert error is None, forked
    forks = sandbox.runtime.forks
    assert forked["ppid"] == forks.pid, "the worker was not forked from the fork server"
    assert spawned["ppid"] != forks.pid
    assert _environ(forks.pid)[lambda_forks.FORK_SERVER_MARKER] == "1"  # there to leak, and it does not

    def same(world: dict[str, Any], name: str) -> dict[str, Any]:
        root = world["environment"]["LAMBDA_TASK_ROOT"]
        text = json.dumps({k: v for k, v in world.items() if k not in ("pid", "ppid", "random")}).replace(
            root, "<task root>"
        )
        seen = json.loads(text.replace(name, "<name>"))
        seen["environment"].pop("_X_AMZN_TRACE_ID")
        seen["argv"].pop()  # the number of its answer pipe's descriptor
        return seen

    assert same(forked, "forked")["environment"] == same(spawned, "spawned")["environment"]
    assert same(forked, "forked") == same(spawned, "spawned")
    assert forked["environment"]["GREETING"] == "hello"
    assert forked["tzname"] == ["CET", "CEST"]  # the function's TZ applied, not the fork server's UTC
    assert forked["path"][0] == forked["environment"]["LAMBDA_TASK_ROOT"] == forked["cwd"]
    assert forked["signals"]["SIGINT"] == str(signal.default_int_handler)
    assert forked["own_group"] and forked["stdin"] == "pipe" and forked["log"]


def test_a_forked_worker_sees_its_own_functions_variables_not_anothers_nor_the_sandboxs(
    sandbox: Any, clients: Clients, create: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONLY_THE_SANDBOX", "secret")
    sandbox.runtime.forks.stop()  # a fork server started while the sandbox's environment holds it
    files = {"app.py": WORLD, "shared.py": "WHO = 'x'\n"}
    create("first", files, {"ONLY_FIRST": "1"})
    create("second", files, {"ONLY_SECOND": "2"})

    _, first = invoke(clients, "first")
    _, second = invoke(clients, "second")

    assert first["ppid"] == second["ppid"] == sandbox.runtime.forks.pid
    assert first["environment"]["ONLY_FIRST"] == "1" and "ONLY_SECOND" not in first["environment"]
    assert second["environment"]["ONLY_SECOND"] == "2" and "ONLY_FIRST" not in second["environment"]
    for world in (first, second):
        assert "ONLY_THE_SANDBOX" not in world["environment"]
        assert lambda_forks.FORK_SERVER_MARKER not in world["environment"]


def test_the_fork_server_imported_only_the_runtimes_modules_and_a_forgotten_module_fails(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    """The function's own dependencies are imported by its worker, not the fork server, and a
    module its package lacks and the runtime does not provide fails at Init as in AWS."""
    create("clean", {"app.py": WORLD, "shared.py": "WHO = 'x'\n"})
    create("forgot", {"app.py": "import lambdas.core.deps\n\ndef handler(event, context):\n    return 1\n"})

    _, clean = invoke(clients, "clean")
    error, forgot = invoke(clients, "forgot")

    assert clean["ppid"] == sandbox.runtime.forks.pid
    assert clean["imported_at_init"] == []
    assert {"boto3", "botocore"} <= set(sandbox.runtime.forks.provided)
    assert not {"pydantic", "aws_lambda_powertools", "lambdas", "sandbox"} & set(sandbox.runtime.forks.provided)
    assert error == "Handled"
    assert forgot["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'lambdas'" in forgot["errorMessage"]


def test_two_functions_with_a_module_of_the_same_name_each_import_their_own(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    create("one", {"app.py": WORLD, "shared.py": "WHO = 'one'\n"})
    create("two", {"app.py": WORLD, "shared.py": "WHO = 'two'\n"})

    _, one = invoke(clients, "one")
    _, two = invoke(clients, "two")

    assert one["ppid"] == two["ppid"] == sandbox.runtime.forks.pid
    assert (one["shared"], two["shared"]) == ("one", "two")
    assert one["random"] != two["random"]  # each its own random state, not the fork server's copy


def test_a_package_holding_its_own_copy_of_a_runtime_module_imports_that_copy(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    """As in AWS, where the task root comes before the runtime's packages: the function's own
    jmespath (which botocore imports, so the fork server holds the runtime's) is the one it gets."""
    assert "jmespath" in sandbox.runtime.forks.provided
    handler = "import jmespath\n\ndef handler(event, context):\n    return jmespath.__version__\n"
    create("own-copy", {"app.py": handler, "jmespath/__init__.py": "__version__ = 'the package own'\n"})

    error, version = invoke(clients, "own-copy")

    assert error is None, version
    assert version == "the package own"


def test_a_function_setting_a_variable_read_at_interpreter_start_is_spawned(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    """PYTHONHASHSEED works only when the interpreter starts: such a worker is started afresh."""
    handler = "import os, sys\n\ndef handler(event, context):\n    return [os.getppid(), sys.flags.hash_randomization]"
    create("seeded", {"app.py": handler}, {"PYTHONHASHSEED": "0"})

    error, (ppid, randomized) = invoke(clients, "seeded")

    assert error is None
    assert ppid == os.getpid()  # the sandbox (this process) started it
    assert randomized == 0
    assert lambda_forks.startup_difference({"PYTHONHASHSEED": "0", **lambda_forks.STARTUP_ENVIRONMENT}, None, None)


def test_a_dead_fork_server_is_replaced_and_its_warm_workers_go_on(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    create("warm", {"app.py": WORLD, "shared.py": "WHO = 'warm'\n"})
    create("after", {"app.py": WORLD, "shared.py": "WHO = 'after'\n"})
    _, warm = invoke(clients, "warm")
    dead = sandbox.runtime.forks.pid
    assert warm["ppid"] == dead

    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes.parent_of(dead) == os.getpid() and not processes.is_zombie(dead):
        assert time.monotonic() < deadline
        time.sleep(0.01)

    error, again = invoke(clients, "warm")
    assert error is None and again["pid"] == warm["pid"]  # the warm worker outlived its fork server
    error, after = invoke(clients, "after")
    assert error is None, after
    assert after["ppid"] == sandbox.runtime.forks.pid != dead
    assert after["shared"] == "after"


def test_a_fork_server_that_cannot_start_fails_the_invocation_clearly(
    sandbox: Any, clients: Clients, create: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    forks = sandbox.runtime.forks
    forks.stop()
    monkeypatch.setattr(forks, "runtime_paths", ["/nonexistent-runtime"])  # no boto3 to import
    create("unstartable", {"app.py": WORLD, "shared.py": "WHO = 'x'\n"})

    error, payload = invoke(clients, "unstartable")

    assert error == "Handled"
    assert payload["errorType"] == "Runtime.SandboxError"
    assert "fork server failed twice" in payload["errorMessage"]
    assert "it ended while importing the runtime's modules" in payload["errorMessage"]
    assert "No module named 'boto3'" in forks.log_path.read_text()


@pytest.mark.skipif(not layers.private_opt_supported(), reason="this machine cannot give a worker a private /opt")
def test_a_forked_worker_sees_its_layers_at_its_own_opt(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    from tests.sandbox.test_layers import layer_zip

    arn = clients("lambda").publish_layer_version(
        LayerName="fork-layer", Content={"ZipFile": layer_zip({"python/layered.py": "WHO = 'the layer'\n"})}
    )["LayerVersionArn"]
    handler = (
        "import os, layered\n\ndef handler(event, context):\n"
        "    return [os.getppid(), layered.__file__, sorted(os.listdir('/opt'))]\n"
    )
    create("layered", {"app.py": handler}, layer=arn)

    error, (ppid, where, opt) = invoke(clients, "layered")

    assert error is None
    assert ppid == sandbox.runtime.forks.pid
    assert where == "/opt/python/layered.py"
    assert opt == ["python"]  # the layer, not this machine's /opt


ENDPOINTS = """
import json, os
from collections import OrderedDict

import boto3, botocore.session
from botocore.loaders import Loader


def handler(event, context):
    data = botocore.session.Session().get_data("endpoints")
    region = os.environ["AWS_REGION"]
    entry = data["partitions"][0]["services"]["sqs"]["endpoints"][region]
    pristine = "endpointName" not in entry
    with open(os.path.join(Loader.BUILTIN_DATA_PATH, "endpoints.json")) as handle:
        as_shipped = data == json.load(handle, object_pairs_hook=OrderedDict) and type(data) is OrderedDict
    boto3.client("sqs")  # resolving its endpoint writes into the data, as botocore does
    return {
        "pristine_at_start": pristine,
        "as_shipped": as_shipped,
        "written_by_a_client": "endpointName" in entry,
        "one_parse_for_every_session": botocore.session.Session().get_data("endpoints") is data,
        "ppid": os.getppid(),
    }
"""


def test_botocores_endpoints_are_parsed_once_by_the_fork_server_and_pristine_in_every_worker(
    sandbox: Any, clients: Clients, create: Callable[..., str]
) -> None:
    """The endpoint data every botocore session loads is the file as botocore ships it, one parse
    for every session of a worker (as one session's clients share it), and what a worker's
    clients write into it is not seen by another worker."""
    create("endpoints-1", {"app.py": ENDPOINTS})
    create("endpoints-2", {"app.py": ENDPOINTS})

    answers = [invoke(clients, name) for name in ("endpoints-1", "endpoints-2")]

    for error, answer in answers:
        assert error is None, answer
        assert answer["ppid"] == sandbox.runtime.forks.pid
        assert answer == answer | {"pristine_at_start": True, "as_shipped": True, "written_by_a_client": True}
        assert answer["one_parse_for_every_session"] is True


#: A fork server that starts, takes each request (noting it in $HOME/requests) and never answers.
SILENT_FORK_SERVER = """
import json, os, socket, sys
control = socket.socket(fileno=int(sys.argv[3]))
control.sendall(json.dumps({"ready": True, "provided": []}).encode())
while True:
    message, fds, _, _ = socket.recv_fds(control, 1 << 20, 3)
    if not message:
        sys.exit(0)
    with open(os.path.join(os.environ["HOME"], "requests"), "a") as noted:
        noted.write("request\\n")
"""


def test_a_fork_server_that_took_the_request_and_gave_no_answer_is_not_asked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It may have forked a worker holding the request's pipes: a second server asked with the same
    pipes would fork another worker reading the requests meant for the first."""
    script = tmp_path / "silent_fork_server.py"
    script.write_text(SILENT_FORK_SERVER)
    monkeypatch.setattr(lambda_forks, "WORKER_SCRIPT", script)
    monkeypatch.setattr(lambda_forks, "FORK_SECONDS", 0.3)
    server = lambda_forks.ForkServer(tmp_path, [])
    stdin_read, stdin_write = os.pipe()
    answer_read, answer_write = os.pipe()
    try:
        with pytest.raises(lambda_forks.ForkServerError, match=r"gave no answer .*not asked again"):
            server.fork({}, stdin_read, answer_write, answer_write)
    finally:
        server.stop()
        for fd in (stdin_read, stdin_write, answer_read, answer_write):
            os.close(fd)

    assert (tmp_path / "requests").read_text() == "request\n"
    assert server.pid is None
