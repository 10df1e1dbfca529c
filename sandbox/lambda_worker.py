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

Protocol: `{"ready": true}` on file descriptor FD once the handler is loaded (Lambda's Init
phase), then one JSON request per line on stdin, one JSON answer per line on FD; the handler's
prints and logs go to stdout/stderr (the runtime keeps them as the invocation's log).
"""

import importlib
import json
import os
import site
import sys
import time
import traceback
import uuid


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
    code_dir, dependency_paths, answer_fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dependencies = [p for p in dependency_paths.split(os.pathsep) if p]
    sys.path[:] = [code_dir, *dependencies, *sys.path[1:]]
    # Where a handler module may come from: the .zip package, or anywhere in a container image.
    package_root = os.environ["LAMBDA_TASK_ROOT"]
    if len(sys.argv) > 4:
        package_root = sys.argv[4]
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


if __name__ == "__main__":
    main()
