"""The sandbox: a local AWS endpoint for the installer, with no AWS account.

One HTTP endpoint, like a regional AWS endpoint:
- CloudFormation is the sandbox's own (`sandbox.cloudformation`), and so is CloudWatch RUM
  (`sandbox.rum`, which moto lacks); CloudFormation: asynchronous
  stack operations on a latency model, failure and rollback states, custom resources,
  every resource type either created through moto or emulated, fault injection;
- every other service is moto (server mode), with Step Functions executing real ASL and
  Lambda running each function's own package (`sandbox.lambda_runtime`);
- `/_sandbox/...` is the sandbox's control API (health, faults, custom-resource answers).

Code under test cannot tell: it only gets a different endpoint URL.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox import moto_internals, processes
from sandbox.clock import Clock
from sandbox.databases import Databases, Mode
from sandbox.faults import FaultRegistry, FaultSpecError
from sandbox.images import Image, ImageError, ImageRegistry
from sandbox.rum import RumService
from sandbox.sigv4 import DEFAULT_REGION, service_of
from sandbox.site import Distributions

if TYPE_CHECKING:
    from sandbox.cloudformation.service import CloudFormationService
    from sandbox.lambda_runtime import LambdaRuntime

LOG = logging.getLogger("dataall_installer.sandbox")
CONTROL_PREFIX = "/_sandbox/"

StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per API call is noise
        return


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Sandbox:
    """A local AWS endpoint. Use as a context manager, or `start()` / `stop()`.

    It hosts its services (`sandbox.host.SandboxHost`). Only one sandbox runs per process at a
    time: moto's backends and the hooks into them are process-wide
    (`moto_internals.claim_process`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scale: float = 0.01,
        latency: bool = True,
        work_dir: Path | None = None,
        database_url: str | None = None,
        database_mode: Mode | None = None,
        warm_workers: processes.WarmLimits | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.account_id = moto_internals.ACCOUNT_ID
        self.region = DEFAULT_REGION
        self.clock = Clock(scale)
        self.latency = latency
        self.faults = FaultRegistry()
        #: The bounds of warm Lambda workers (default: `DATAALL_SANDBOX_WARM_WORKERS[_PER_FUNCTION]`).
        self.warm_workers = warm_workers or processes.WarmLimits.from_environment()
        #: SIGTERM and SIGINT stop the sandbox with its processes while it runs (`stop()` ends them).
        self._signals = processes.StopSignals()
        #: Container images (`register_image`): image roots pushed to the sandbox's ECR.
        self.images = ImageRegistry(
            push=moto_internals.ecr_push_image, in_ecr=moto_internals.ecr_holds_image, lookup=moto_internals.ecr_image
        )
        #: Requests the sandbox itself failed on (each logged with its traceback).
        self.internal_failures = 0
        self.sites = Distributions(self._client)
        self._internal_failures_lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dataall-sandbox-")
            work_dir = Path(self._tmp.name)
        self.work_dir = work_dir
        #: The database clusters' data: a PostgreSQL server the sandbox starts (`database_mode`
        #: "server", the default where PostgreSQL is installed), the server of `database_url`,
        #: or SQLite files ("sqlite").
        self.databases = Databases(work_dir / "databases", url=database_url, mode=database_mode)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._moto_app: Any = None
        # Created in start(): they import moto, which is slow, and hook into it.
        self._runtime: LambdaRuntime | None = None
        self._cloudformation: CloudFormationService | None = None
        #: CloudWatch RUM, which moto lacks (`sandbox.rum`)
        self.rum = RumService()

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def runtime(self) -> LambdaRuntime:
        if self._runtime is None:
            raise RuntimeError("the sandbox is not started")
        return self._runtime

    @property
    def cloudformation(self) -> CloudFormationService:
        if self._cloudformation is None:
            raise RuntimeError("the sandbox is not started")
        return self._cloudformation

    def start(self) -> Sandbox:
        """Serve. From here until `stop()`, SIGTERM and SIGINT raise `processes.Stopped` (a
        KeyboardInterrupt) in the main thread, even where SIGINT came ignored, so that the
        sandbox's owner reaches `stop()`, which ends every process the sandbox started."""
        moto_internals.claim_process(self.endpoint)
        self._signals.install()
        try:
            from sandbox.cloudformation.service import CloudFormationService
            from sandbox.lambda_runtime import LambdaRuntime

            # moto's Step Functions interpreter calls Lambda back through this port.
            os.environ["MOTO_PORT"] = str(self.port)
            moto_internals.enable_stepfunctions_execution()
            moto_internals.install_time_scale(self.clock)
            moto_internals.fix_jsonpath_singleton()
            moto_internals.fix_lambda_unknown_error()
            moto_internals.reuse_stepfunctions_lambda_clients()
            moto_internals.fix_lambda_code_bucket_region()
            moto_internals.fix_policy_conditions()
            moto_internals.fix_s3_regional_arns()
            moto_internals.fix_dynamodb_isolation()
            moto_internals.fast_dynamodb_attribute_values()
            moto_internals.fix_concurrent_requests()
            moto_internals.install_ssm_service_settings()
            moto_internals.fix_cognito_client_dates()
            moto_internals.fix_prefix_list_rule_descriptions()
            moto_internals.install_event_lambda_targets()
            moto_internals.install_lambda_images(self._resolve_image, self._image_present)
            moto_internals.fix_ecr_layers()
            moto_internals.fix_cognito_identity_pool_roles()
            self._runtime = LambdaRuntime(self, self.warm_workers)
            moto_internals.install_lambda_runtime(self._runtime.invoke)
            self._cloudformation = CloudFormationService(self)
            self._moto_app = moto_internals.backend_app()
            self._server = make_server(self.host, self.port, self.wsgi, threaded=True, request_handler=_QuietHandler)
            self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)
            self._thread.start()
            LOG.info("sandbox listening on %s (time scale %s)", self.endpoint, self.clock.scale)
        except BaseException:
            self.stop()  # what started of it ends, and the signals are given back
            raise
        return self

    def stop(self) -> None:
        """Stop serving and end every process the sandbox started: its Lambda workers (busy ones
        too) with what they started, then its PostgreSQL server. A SIGTERM or SIGINT meanwhile
        does not cut it short."""
        with processes.signals_held():
            self.sites.stop()
            server, self._server = self._server, None
            if server is not None:
                server.shutdown()
                server.server_close()
            if self._runtime is not None:
                self._runtime.shutdown()  # first: the workers' invocations end, and the requests with them
            thread, self._thread = self._thread, None
            if thread is not None:
                thread.join(timeout=10)
            if self._cloudformation is not None:
                self._cloudformation.shutdown()
            self.databases.close()
            moto_internals.reset_backends()
            if self._tmp is not None:
                self._tmp.cleanup()
            moto_internals.release_process(self.endpoint)
        self._signals.restore()

    def reset(self) -> None:
        """Back to an empty account: no stacks, no resources, no faults."""
        self.faults.clear()
        self.sites.stop()  # an empty account has no distributions to serve
        self.rum.reset()
        if self._cloudformation is not None:
            self._cloudformation.reset()
        if self._runtime is not None:
            self._runtime.reset()
        moto_internals.reset_backends()
        self.images.republish()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _client(self, service: str) -> Any:
        """A client of this sandbox, as a process given `client_environment` makes one."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - not a secret: a local endpoint
        )

    def client_environment(self) -> dict[str, str]:
        """What a process needs in its environment to use this sandbox as its AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def invoke_lambda_async(self, function: str, region: str, event: dict[str, Any]) -> None:
        """Invoke a function by name or ARN as InvocationType=Event: no waiting for it."""
        moto_internals.invoke_function_async(function, region, event)

    # ------------------------------------------------------------------ container images
    def register_image(self, uri: str, root: Path | str, identity: str | None = None) -> Image:
        """Hold the image root `root` as the image `uri` (`ACCOUNT.dkr.ecr.REGION.SUFFIX/REPO:TAG`),
        pushed to the sandbox's ECR: `PackageType: Image` functions naming it run from it, and so
        do functions naming a copy of it (`identity`: see `ImageRegistry.register`)."""
        return self.images.register(uri, root, identity)

    def _resolve_image(self, uri: str, account_id: str, region: str) -> tuple[str, int]:
        """A function's ImageUri at CreateFunction: the image must be in the function's Region
        (Lambda developer guide, "Create a Lambda function using a container image")."""
        image = self.images.resolve(uri)
        if image.reference.region != region:
            raise ImageError(f"Source image {uri} is not valid. Provide a valid source image.")
        return image.digest.removeprefix("sha256:"), image.size

    def _image_present(self, uri: str, digest_hex: str) -> bool:
        try:
            return self.images.by_digest(uri, f"sha256:{digest_hex}") is not None
        except ImageError:
            return False

    # ------------------------------------------------------------------ http
    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(moto_internals.ECR_LAYER_ROUTE):
            return _ecr_layer(start_response, path[len(moto_internals.ECR_LAYER_ROUTE) :])
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :])
        if service_of(environ) == "cloudformation":
            result: Iterable[bytes] = self.cloudformation.wsgi(environ, start_response)
            return result
        if service_of(environ) == "rum":
            return self.rum.wsgi(environ, start_response)
        if service_of(environ) == "states" and environ.get("HTTP_X_AMZ_TARGET", "").endswith(".StartExecution"):
            refusal = _start_execution_refusal(environ)
            if refusal is not None:
                return _aws_error(start_response, *refusal)
        try:
            result = self._moto_app(environ, start_response)
        except Exception as error:  # noqa: BLE001 - a sandbox bug: AWS would answer 500 InternalFailure
            return self._internal_failure(environ, start_response, error)
        return result

    def _internal_failure(
        self, environ: dict[str, Any], start_response: StartResponse, error: Exception
    ) -> Iterable[bytes]:
        """Log a request the sandbox failed on (with its traceback) and answer as AWS does."""
        target = environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO", "")
        LOG.error("sandbox failed on %s %s (%s)", service_of(environ), target, error, exc_info=error)
        with self._internal_failures_lock:  # requests are served on many threads
            self.internal_failures += 1
        data = json.dumps({"__type": "InternalFailure", "message": f"sandbox failure: {error}"}).encode()
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _control(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            status, payload = self._route(method, route, body)
        except (FaultSpecError, ValueError, KeyError) as error:
            status, payload = "400 Bad Request", {"error": str(error)}
        data = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _look(self, route: str) -> Any:
        if route.startswith("sites/"):  # a distribution's local URL, as its domain name serves it in AWS
            return {"url": self.sites.url(route.split("/", 1)[1])}
        return self.runtime.recent_logs()

    def _route(self, method: str, route: str, body: bytes) -> tuple[str, Any]:
        if route == "health":
            return "200 OK", {"status": "ok", "endpoint": self.endpoint, "scale": self.clock.scale}
        if route == "faults":
            if method == "POST":
                specs = json.loads(body or b"{}").get("faults", [])
                added = [self.faults.add(spec).to_dict() for spec in specs]
                return "200 OK", {"added": added}
            if method == "DELETE":
                ids = json.loads(body or b"{}").get("ids")
                if ids is None:
                    self.faults.clear()
                else:
                    self.faults.remove(str(i) for i in ids)
            return "200 OK", {"faults": [f.to_dict() for f in self.faults.list()]}
        if route.startswith("cfn-response/") and method in ("PUT", "POST"):
            self.cloudformation.custom_resource_response(route.split("/", 1)[1], body)
            return "200 OK", {}
        if route == "reset" and method == "POST":
            self.reset()
            return "200 OK", {}
        if route == "lambda-logs" or route.startswith("sites/"):
            return "200 OK", self._look(route)
        if route == "images":
            if method == "POST":
                request = json.loads(body or b"{}")
                self.register_image(request["uri"], request["root"], request.get("identity"))
            return "200 OK", {"images": [_image_summary(image) for image in self.images.images()]}
        return "404 Not Found", {"error": f"no sandbox route {method} /{route}"}


#: StartExecution's `input`: "Length Constraints: Maximum length of 262144", in bytes of UTF-8
#: (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
START_EXECUTION_MAX_INPUT_BYTES = 262144


def _start_execution_refusal(environ: dict[str, Any]) -> tuple[str, str] | None:
    """What Step Functions answers a StartExecution that moto would take (or fail on), or None.

    An input over the API's length constraint is a `ValidationException` (the API reference's
    error for input that "does not satisfy the constraints specified by an AWS service"; moto
    5.2.5 took a 300 KB input); input that is not JSON is `InvalidExecutionInput` ("The provided
    JSON input data is not valid."; moto answered a nesting deeper than Python parses with an
    error that had no code). The body is put back for moto.
    """
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None  # moto answers a malformed request itself
    text = request.get("input") if isinstance(request, dict) else None
    if not isinstance(text, str):
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > START_EXECUTION_MAX_INPUT_BYTES:
        return (
            "ValidationException",
            f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length "
            f"less than or equal to {START_EXECUTION_MAX_INPUT_BYTES} (it is {size} bytes)",
        )
    try:
        json.loads(text)
    except RecursionError:
        return (
            "InvalidExecutionInput",
            "The provided JSON input data is not valid: it nests deeper than the sandbox can parse",
        )
    except ValueError as error:
        return "InvalidExecutionInput", f"The provided JSON input data is not valid: {error}"
    return None


def _aws_error(start_response: StartResponse, code: str, message: str) -> Iterable[bytes]:
    data = json.dumps({"__type": code, "message": message}).encode()
    start_response(
        "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _ecr_layer(start_response: StartResponse, digest: str) -> Iterable[bytes]:
    """A layer's download URL (GetDownloadUrlForLayer): its bytes, as S3 serves ECR's in AWS."""
    data = moto_internals.ecr_blob(digest)
    if data is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))])
    return [data]


def _image_summary(image: Image) -> dict[str, Any]:
    return {"uri": image.reference.uri, "digest": image.digest, "root": str(image.root), "size": image.size}


def sandbox_environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }
