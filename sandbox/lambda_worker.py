"""One warm Lambda execution environment of the sandbox (run as a script, not imported).

Started by `lambda_runtime.LambdaRuntime` with `python -S lambda_worker.py CODE_DIR PATHS FD`,
in the environment Lambda would give the function (its variables, credentials, region,
`AWS_ENDPOINT_URL`) and nothing of the caller's. `sys.path` is the function's own package
first, then the dependency directories that stand in for its layer: the project's own
source tree is not on it, so a module the package forgot fails here as it would in AWS.

A container-image function is started with a fourth argument, its image root
(`python -S lambda_worker.py WORKING_DIR SITE_PACKAGES FD IMAGE_ROOT`): the dependency
directories are the image's own site directories (their `.pth` files apply, as in the image's
Python), and a handler module may come from anywhere in the image.

As a fork server (`python -S lambda_worker.py --fork-server RUNTIME_PATHS FD`, started by
`lambda_forks.ForkServer`) it imports what Lambda's Python runtime provides, then forks a worker
for each request on the control socket FD; the forked worker runs as a spawned one does.

Protocol: `{"ready": true}` on file descriptor FD once the handler is loaded (Lambda's Init
phase), then one JSON request per line on stdin, one JSON answer per line on FD; the handler's
prints and logs go to stdout/stderr (the runtime keeps them as the invocation's log).
"""

import contextlib
import gc
import importlib
import importlib.machinery
import json
import os
import select
import signal
import site
import socket
import sys
import time
import traceback
import uuid

#: The interpreter's own path (the standard library) after the folder of this script, which a
#: function never sees: captured before anything changes `sys.path`.
RUNTIME_PATH = sys.path[1:]
FORK_SERVER = "--fork-server"
#: LC_CTYPE as the interpreter set it when it started (PEP 538 coerces the C locale to C.UTF-8 and
#: says so in the environment): a forked worker's interpreter started with the same locale.
STARTUP_LC_CTYPE = os.environ.get("LC_CTYPE")
#: What Lambda's Python runtime itself provides ("Lambda runtimes", the SDK for Python: boto3 and
#: botocore with their dependencies): all a fork server imports before it forks a worker.
RUNTIME_MODULES = (
    "boto3",
    "boto3.session",
    "boto3.s3.inject",
    "boto3.s3.transfer",
    "botocore.session",
    "botocore.client",
    "botocore.endpoint",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.serialize",
    "botocore.regions",
    "botocore.credentials",
    "botocore.retries.standard",
    "encodings.idna",
)
#: botocore's data that every one of its sessions loads, whatever services it calls: the endpoints
#: (1.2 MB of JSON, 40 ms to parse on this project's machine kind, three times in a DeployStage
#: worker: its X-Ray recorder's two sessions and the SDK's default one). Parsed once by the fork
#: server (`_share_runtime_data`).
SHARED_DATA = ("endpoints",)
#: mount(2) and unshare(2) flags (linux/mount.h, linux/sched.h) for a forked worker's private /opt.
CLONE_NEWNS, MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 1, 32, 4096, 16384, 1 << 18


class LambdaContext:
    """The `context` object a Python handler receives in AWS."""

    def __init__(self, request: dict) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request["invoked_function_arn"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict:
    # The first frame is this runtime calling the handler; AWS shows the function's frames only.
    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": [frame.rstrip() for frame in frames],
    }


def _load_handler(spec: str, package_root: str):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{spec}': not enough values to unpack")
    module_path = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise _InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    module_file = os.path.realpath(getattr(module, "__file__", "") or "")
    if not module_file.startswith(os.path.realpath(package_root) + os.sep):
        raise _InitError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': it is not in the deployment package",
        )
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _InitError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def main() -> None:
    if sys.argv[1] == FORK_SERVER:
        serve_forks(sys.argv[2], int(sys.argv[3]))
        return
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)


def run(code_dir: str, dependency_paths: str, answer_fd: int, image_root: str | None = None) -> None:
    """The execution environment: Init (load the handler), then one invocation per request."""
    dependencies = [p for p in dependency_paths.split(os.pathsep) if p]
    sys.path[:] = [code_dir, *dependencies, *RUNTIME_PATH]
    # Where a handler module may come from: the .zip package, or anywhere in a container image.
    package_root = os.environ["LAMBDA_TASK_ROOT"]
    if image_root is not None:
        package_root = image_root
        for directory in dependencies:
            site.addsitedir(directory)
    os.chdir(code_dir)
    answers = os.fdopen(answer_fd, "w", buffering=1)
    requests = sys.stdin
    handler = None
    init_error = None
    try:
        handler = _load_handler(os.environ["_HANDLER"], package_root)
    except _InitError as exc:
        init_error = {"errorMessage": str(exc), "errorType": exc.error_type, "stackTrace": []}
    except Exception as exc:  # noqa: BLE001 - an init failure is the function's answer
        init_error = _error(exc, "Runtime.UserCodeSyntaxError" if isinstance(exc, SyntaxError) else None)
    # The Init phase is over: the invocation's timeout starts with the first request.
    answers.write(json.dumps({"ready": True}) + "\n")

    for line in requests:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        )
        print(f"START RequestId: {request['request_id']} Version: $LATEST", flush=True)
        if init_error is not None:
            answer = {"errored": True, "payload": init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request))  # type: ignore[misc]
                answer = {"errored": False, "payload": result}
            except Exception as exc:  # noqa: BLE001 - an unhandled error is the function's answer
                traceback.print_exc()
                answer = {"errored": True, "payload": _error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"END RequestId: {request['request_id']}", flush=True)
        try:
            text = json.dumps(answer)
        except (TypeError, ValueError) as exc:
            text = json.dumps(
                {
                    "errored": True,
                    "payload": {
                        "errorMessage": f"Unable to marshal response: {exc}",
                        "errorType": "Runtime.MarshalError",
                    },
                }
            )
        answers.write(text + "\n")


def serve_forks(runtime_paths: str, control_fd: int) -> None:
    """The fork server: import what Lambda's Python runtime provides, then fork one worker per
    request on the control socket (a JSON spec with the worker's stdin, answer pipe and log as
    SCM_RIGHTS), answering with the worker's pid and a pidfd for it. Ends when the socket closes."""
    sys.path[:] = [*(p for p in runtime_paths.split(os.pathsep) if p), *RUNTIME_PATH]
    for name in RUNTIME_MODULES:
        importlib.import_module(name)
    _share_runtime_data()
    provided = _provided_packages([p for p in runtime_paths.split(os.pathsep) if p])
    control = socket.socket(fileno=control_fd)
    gc.freeze()  # what the workers share stays shared: the collector does not write to it
    control.sendall(json.dumps({"ready": True, "provided": sorted(provided)}).encode())
    while True:
        readable, _, _ = select.select([control], [], [], 5.0)
        _reap()
        if not readable:
            continue
        message, fds, _, _ = socket.recv_fds(control, 1 << 20, 3)
        if not message:
            _reap()  # its ended workers are reaped here, not by whichever process adopts them
            return
        spec = json.loads(message)
        pid = os.fork()
        if pid == 0:
            _forked_worker(spec, fds, control, provided)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # as the child does: whichever runs first, the group is there
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)


def _share_runtime_data() -> None:
    """botocore's files of `SHARED_DATA`, as the runtime ships them (the same in every execution
    environment), parsed once here and handed to every botocore session of a forked worker: what
    one session's loader does for all its clients (botocore's `instance_cache`), across the
    worker's sessions. Pristine in every worker: nothing here resolves an endpoint (which writes
    into that data), and a worker's writes stay in its own memory."""
    from botocore import loaders

    original = loaders.JSONFileLoader.load_file
    paths = [f"{loaders.Loader.BUILTIN_DATA_PATH}{os.sep}{name}" for name in SHARED_DATA]  # as the loader joins them
    shared = {path: original(loaders.JSONFileLoader(), path) for path in paths}

    def load_file(self, file_path):  # botocore's signature
        found = shared.get(file_path)
        return found if found is not None else original(self, file_path)

    load_file.__wrapped__ = original  # type: ignore[attr-defined]
    load_file.__doc__ = original.__doc__
    loaders.JSONFileLoader.load_file = load_file


def _provided_packages(paths: list[str]) -> set[str]:
    """The top-level packages imported from the runtime's folders (boto3, botocore, urllib3 …)."""
    roots = tuple(os.path.realpath(p) + os.sep for p in paths)
    return {
        name.partition(".")[0]
        for name, module in list(sys.modules.items())
        if os.path.realpath(getattr(module, "__file__", None) or "").startswith(roots)
    }


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _forked_worker(spec: dict, fds: list[int], control: socket.socket, provided: set[str]) -> None:
    """In the forked child: become the function's execution environment, as a fresh
    `lambda_worker.py CODE_DIR PATHS FD` would be, then run it; never returns."""
    code = 1
    try:
        control.close()
        os.setpgid(0, 0)  # a process group of its own, as the runtime's spawned workers
        stdin_fd, answer_fd, log_fd = fds
        os.dup2(stdin_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(stdin_fd)
        os.close(log_fd)
        for signum, handler in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL),
                                (signal.SIGCHLD, signal.SIG_DFL), (signal.SIGPIPE, signal.SIG_IGN)):  # fmt: skip
            signal.signal(signum, handler)
        os.environ.clear()
        os.environ.update(spec["environment"])
        if STARTUP_LC_CTYPE is not None:
            os.environ.setdefault("LC_CTYPE", STARTUP_LC_CTYPE)
        time.tzset()
        if spec.get("opt_folder"):
            _private_opt(spec["opt_folder"])
        os.chdir(spec["code_dir"])
        sys.argv = [sys.argv[0], spec["code_dir"], spec["dependency_paths"], str(answer_fd)]
        sys.path[:] = [spec["code_dir"], *(p for p in spec["dependency_paths"].split(os.pathsep) if p), *RUNTIME_PATH]
        _forget_shadowed(provided)
        run(spec["code_dir"], spec["dependency_paths"], answer_fd)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the worker's end, as an uncaught error ends a process
        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _forget_shadowed(provided: set[str]) -> None:
    """A package of the function (or a layer) that comes first on its path and holds a module the
    runtime provides (its own boto3, urllib3 …) is what a fresh worker would import: every module
    the fork server imported from the runtime's folders is forgotten then, and imported anew."""
    for name in provided:
        loaded = sys.modules.get(name)
        found = importlib.machinery.PathFinder.find_spec(name, sys.path)
        if loaded is None or found is None or found.origin != getattr(loaded, "__file__", None):
            break
    else:
        return
    for name in list(sys.modules):
        if name.partition(".")[0] in provided:
            del sys.modules[name]


def _private_opt(folder: str) -> None:
    """The function's layers at /opt in a mount namespace of its own, read-only where the machine
    lets it: what `unshare --mount --propagation private` and `mount --bind` do for a spawned one."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    check(libc.mount(os.fsencode(folder), b"/opt", None, MS_BIND, None), f"mount --bind {folder} /opt")
    libc.mount(b"none", b"/opt", None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)  # read-only where allowed


if __name__ == "__main__":
    main()
