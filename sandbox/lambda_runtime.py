"""The sandbox's Lambda runtime: each function runs from its own deployment package.

moto keeps the zip that CloudFormation (or CreateFunction) gave it; here that zip is
unpacked and run by warm worker processes (`lambda_worker.py`, forked from the fork server of
`sandbox.lambda_forks`; `lambda_worker_node.mjs` for Node.js functions), one per concurrent
invocation, with the function's own environment variables and the sandbox as its AWS.
A packaging mistake (a module left out of the zip, a wrong handler string) fails here
as it fails in AWS. Third-party packages come from this machine's installation, standing
in for the runtime's own and for layers the sandbox does not hold (another account's). The
function's layers the sandbox holds are its /opt (`sandbox.layers`), after this machine's
packages on a Python function's path: a layer's wheels are built for Lambda's Python and processor.
A container-image function (`PackageType: Image`) runs from its image root instead
(`sandbox.images`): its code and its own packages, none of this machine's.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import hashlib
import io
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import lambda_forks, layers, moto_internals, processes
from sandbox.host import SandboxHost
from sandbox.images import Image
from sandbox.processes import WarmLimits

LOG = logging.getLogger("dataall_installer.sandbox.lambda")
WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
NODE_WORKER_SCRIPT = Path(__file__).with_name("lambda_worker_node.mjs")
#: The AWS SDK for JavaScript v3 standing in for the one Lambda's Node.js runtimes provide (`make setup`).
NODE_SDK = Path(__file__).with_name("node") / "node_modules"
#: Concurrent invocations of one function (its pool's busy workers); more wait for one to finish.
MAX_WORKERS_PER_FUNCTION = 16
#: Lambda's Init phase may take 10 s ("Lambda execution environment lifecycle"); a function with a
#: longer timeout keeps that long, so the sandbox is never stricter than it was with one clock.
INIT_LIMIT_SECONDS = 10.0
#: The Invoke response's `FunctionError`: an error the function's runtime reported, and one Lambda
#: detected itself (a timeout). moto 5.2.5 answered every error as "Handled"; the sandbox keeps that
#: for the runtime's errors.
HANDLED, UNHANDLED = "Handled", "Unhandled"
#: The entry points of images the sandbox runs with its Python worker: an AWS base image's, and
#: the Python runtime interface client's (`python -m awslambdaric HANDLER`, as data.all's image).
AWS_BASE_ENTRYPOINT = "/lambda-entrypoint.sh"
PYTHON_RIC = "awslambdaric"


def dependency_paths() -> list[str]:
    """The site-packages of this interpreter: the stand-in for a function's layer."""
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(paths)


@dataclass
class Invocation:
    function: str
    request_id: str
    started: float
    duration: float = 0.0
    error: str | None = None
    logs: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "request_id": self.request_id,
            "duration_ms": round(self.duration * 1000, 1),
            "error": self.error,
            "logs": self.logs[-4000:],
        }


@dataclass(eq=False)  # a worker is itself: kept in sets and as a key of the idle order
class _Worker:
    process: subprocess.Popen[bytes] | lambda_forks.ForkedProcess
    answers: Any  # the read end of the worker's answer pipe
    log_path: Path
    log_offset: int = 0
    #: what was read from the answer pipe past the last complete line
    pending: bytes = b""
    #: when it last went idle (time.monotonic())
    idle_since: float = 0.0

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End the worker and its process group (what its handler started goes too)."""
        processes.end_group(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.answers):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]

    def read_new_logs(self) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(self.log_offset)
            data = handle.read()
        self.log_offset += len(data)
        return data.decode("utf-8", errors="replace")


@dataclass(eq=False)
class _Pool:
    """One function's workers (one configuration of it: code, environment, limits)."""

    key: str
    #: idle workers, the most recently used last
    idle: list[_Worker] = field(default_factory=list)
    busy: int = 0


class LambdaRuntime:
    """Runs Lambda invocations for the sandbox (installed into moto by the server)."""

    def __init__(self, host: SandboxHost, limits: WarmLimits | None = None) -> None:
        self.host = host
        self.limits = limits or WarmLimits()
        self.root = host.work_dir / "lambda"
        self.root.mkdir(parents=True, exist_ok=True)
        self._pools: dict[str, _Pool] = {}
        #: guards the pools, the idle order and the live workers; waited on for a pool's turn
        self._lock = threading.Condition()
        #: every idle worker with its pool, the least recently used first
        self._idle: collections.OrderedDict[_Worker, _Pool] = collections.OrderedDict()
        #: every worker started and not ended, busy or idle
        self._live: set[_Worker] = set()
        #: workers being started (they count against the total bound)
        self._starting = 0
        self._closed = False
        #: where Python workers are forked from (None: each is spawned as a fresh interpreter)
        self.forks = lambda_forks.ForkServer(self.root, dependency_paths()) if self.limits.fork else None
        self._recent: collections.deque[Invocation] = collections.deque(maxlen=200)
        self.invocation_count = 0
        self.billed_ms_by_memory: collections.Counter[int] = collections.Counter()
        self._reclaimer = threading.Thread(target=self._reclaim_idle, name="lambda-idle-reclaimer", daemon=True)
        self._reclaimer.start()

    # ------------------------------------------------------------------ moto hook
    def invoke(self, function: Any, event: Any) -> tuple[str, str | None, str]:
        """moto's Lambda invocation: returns (payload_json, function_error, logs), function_error
        being the Invoke response's `FunctionError` (None on success)."""
        details = moto_internals.lambda_function_details(function)
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        request_id = str(uuid.uuid4())
        record = Invocation(function=details["name"], request_id=request_id, started=time.time())
        if details["package_type"] == "Image":
            details["image"] = self._image(function, details)  # a Failed function's Invoke is refused
        else:
            runtime_family(details["runtime"])  # AWS fails the Invoke call itself for a runtime it does not run
            details["layer_code"] = moto_internals.lambda_layer_code(function)
        with self._lock:
            self.invocation_count += 1
        try:
            payload, function_error, logs = self._invoke(details, event, request_id)
        except Exception as exc:
            LOG.exception("sandbox runtime failed to invoke %s", details["name"])
            payload = {"errorType": "Runtime.SandboxError", "errorMessage": str(exc)}
            function_error, logs = HANDLED, ""
        record.duration = time.time() - record.started
        record.logs = logs
        if function_error is not None:
            record.error = (payload.get("errorType") if isinstance(payload, dict) else None) or function_error
        with self._lock:
            self._recent.append(record)
            billed = max(1, int(record.duration * 1000 + 0.999))
            self.billed_ms_by_memory[details["memory"]] += billed
        with contextlib.suppress(Exception):  # logs are best effort, never the invocation's fate
            moto_internals.write_function_logs(function, request_id, logs)
        return json.dumps(payload), function_error, logs

    def _invoke(self, details: dict[str, Any], event: Any, request_id: str) -> tuple[Any, str | None, str]:
        crash = self._injected_crash(event)
        if crash is not None:
            return crash, HANDLED, f"injected crash: {crash['errorMessage']}\n"
        if details.get("image") is not None:
            problem = image_entrypoint_problem(details["image"], details["image_config"])
            if problem is not None:
                return problem, HANDLED, f"{problem['errorType']}: {problem['errorMessage']}\n"
        pool = self._pool(details)
        worker = self._acquire(pool, details)
        request = {
            "event": event,
            "request_id": request_id,
            "invoked_function_arn": details["arn"],
            "timeout": details["timeout"],
        }
        healthy = True
        try:
            assert worker.process.stdin is not None
            worker.process.stdin.write((json.dumps(request) + "\n").encode())
            worker.process.stdin.flush()
            answer = self._read_answer(worker, details["timeout"])
            logs = worker.read_new_logs()
            if answer is None:
                healthy = False
                if worker.alive():
                    return timed_out(request_id, details["timeout"]), UNHANDLED, logs
                return {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited unexpectedly"}, HANDLED, logs
            return answer["payload"], HANDLED if answer["errored"] else None, logs
        finally:
            self._release(pool, worker, healthy)

    def _injected_crash(self, event: Any) -> dict[str, Any] | None:
        """A `STAGE:crash` fault: the Lambda working on that stage raises."""
        stage = _stage_of(event)
        if stage is None or self.host.faults.fire_for_stage("crash", stage) is None:
            return None
        return {
            "errorType": "InjectedCrash",
            "errorMessage": f"the sandbox crashed this invocation for stage {stage} (fault {stage}:crash)",
            "stackTrace": [],
        }

    # ------------------------------------------------------------------ workers
    def _pool(self, details: dict[str, Any]) -> _Pool:
        key = hashlib.sha256(
            json.dumps(
                [
                    details["arn"],
                    details["code_sha256"],
                    details["handler"],
                    details["environment"],
                    details["timeout"],
                    details["memory"],
                    details["layers"],
                    details["image_config"] if details["package_type"] == "Image" else None,
                    self.host.databases.client_environment(),
                ],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:20]
        with self._lock:
            return self._pools.setdefault(key, _Pool(key=key))

    def _acquire(self, pool: _Pool, details: dict[str, Any]) -> _Worker:
        """A warm worker of the pool, or a new one once the pool has a turn (at most
        MAX_WORKERS_PER_FUNCTION busy); room for a new one is made by ending the least recently
        used idle workers over the total bound."""
        dead: list[_Worker] = []
        reclaimed: list[_Worker] = []
        try:
            with self._lock:
                while True:
                    self._refuse_when_closed()
                    while pool.idle:
                        worker = pool.idle.pop()
                        del self._idle[worker]
                        if worker.alive():
                            pool.busy += 1
                            return worker
                        self._live.discard(worker)
                        dead.append(worker)
                    if pool.busy < MAX_WORKERS_PER_FUNCTION:
                        break
                    self._lock.wait()
                pool.busy += 1
                self._starting += 1
                while self._idle and len(self._live) + self._starting > self.limits.total:
                    reclaimed.append(self._forget_idle(next(iter(self._idle))))
        finally:
            for worker in (*dead, *reclaimed):
                worker.kill()
        if reclaimed:
            LOG.debug("reclaimed %d idle workers (bound %d)", len(reclaimed), self.limits.total)
        try:
            worker = self._spawn(details)
        except BaseException:
            with self._lock:
                pool.busy -= 1
                self._starting -= 1
                self._lock.notify_all()
            raise
        with self._lock:
            self._starting -= 1
            self._live.add(worker)
            closed = self._closed
        if closed:  # the sandbox stopped while the worker started: it must not outlive it
            self._release(pool, worker, healthy=False)
            self._refuse_when_closed()
        return worker

    def _release(self, pool: _Pool, worker: _Worker, healthy: bool) -> None:
        """Back to the pool's idle workers (the most recently used), unless it is unhealthy, the
        sandbox stops, or it would pass its function's bound or the total: then it ends."""
        with self._lock:
            pool.busy -= 1
            keep = (
                healthy
                and not self._closed
                and worker in self._live  # not ended by a reset meanwhile
                and worker.alive()
                and len(pool.idle) < self.limits.per_function
                and len(self._live) + self._starting <= self.limits.total
            )
            if keep:
                worker.idle_since = time.monotonic()
                pool.idle.append(worker)
                self._idle[worker] = pool
            else:
                self._live.discard(worker)
            self._lock.notify_all()
        if not keep:
            worker.kill()

    def _reclaim_idle(self) -> None:
        """Lambda reclaims an execution environment left idle: every worker idle for the limits'
        `idle_seconds` ends (the least recently used first: the idle order is also the order in
        which they went idle), until the runtime shuts down. Woken by every release, so a
        shorter idle time set meanwhile counts from then."""
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                idle_for = self.limits.idle_seconds
                expired = []
                while self._idle and next(iter(self._idle)).idle_since + idle_for <= now:
                    expired.append(self._forget_idle(next(iter(self._idle))))
                wait = next(iter(self._idle)).idle_since + idle_for - now if self._idle else idle_for
            for worker in expired:
                worker.kill()
            if expired:
                LOG.debug("reclaimed %d workers idle for %g s", len(expired), idle_for)
            # the fork server too, once it forked nothing for as long: an idle sandbox has no worker
            if self.forks is not None and self.forks.pid is not None:
                if self.forks.stop_if_unused_since(now - idle_for):
                    LOG.debug("reclaimed the Lambda fork server, unused for %g s", idle_for)
                else:
                    wait = min(wait, self.forks.last_used + idle_for - now)
            with self._lock:
                if self._closed:
                    return
                self._lock.wait(max(wait, 0.05))

    def _forget_idle(self, worker: _Worker) -> _Worker:
        """Take an idle worker out of the runtime's books (under the lock); the caller ends it."""
        pool = self._idle.pop(worker)
        pool.idle.remove(worker)
        self._live.discard(worker)
        return worker

    def _refuse_when_closed(self) -> None:
        if self._closed:
            raise RuntimeError("the sandbox is stopping: no new Lambda invocations")

    def worker_counts(self) -> dict[str, int]:
        """Live workers (`live`: busy and idle) and idle ones, across every function."""
        with self._lock:
            return {"live": len(self._live), "idle": len(self._idle), "starting": self._starting}

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(worker.process.pid for worker in self._live)

    def _image(self, function: Any, details: dict[str, Any]) -> Image:
        """The image an image function resolved when it was created, if the sandbox and ECR still
        hold it; otherwise the function is Failed (ImageDeleted) and Invoke is refused."""
        image = None
        if details["state"] == "Active" and details["image_uri"]:
            image = self.host.images.by_digest(details["image_uri"], f"sha256:{details['code_sha256']}")
        if image is None:
            if details["state"] == "Active":
                moto_internals.lambda_image_gone(function)
            raise moto_internals.lambda_function_not_active("Failed")
        return image

    def _spawn(self, details: dict[str, Any]) -> _Worker:
        image: Image | None = details.get("image")
        code_dir = image_working_dir(image, details["image_config"]) if image else self._unpack(details)
        layer_dir = layers.extract(self.root, details["layer_code"]) if details.get("layer_code") else None
        # where the function sees its layers: /opt in a mount namespace of its own, else their folder
        opt = None if layer_dir is None else layers.OPT if layers.private_opt_supported() else layer_dir
        env = self._environment(details, code_dir, opt)
        log_path = self.root / "logs" / f"{details['name']}-{uuid.uuid4().hex[:8]}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        if image is not None:
            env = {**dict(image.config.env), **env}
            env["_HANDLER"] = image_handler(image, details["image_config"]) or ""
            env.pop("AWS_EXECUTION_ENV", None)  # Lambda sets it for its managed runtimes only
            command = [sys.executable, "-S", "-u", str(WORKER_SCRIPT), str(code_dir)]
            command += [os.pathsep.join(str(p) for p in image.site_packages()), str(write_fd), str(image.root)]
        elif runtime_family(details["runtime"]) == "nodejs":
            # Lambda's NODE_PATH: the runtime's SDK, then the task root. npm stays offline (and
            # writes no log files in the machine's /tmp): a handler that installs a newer SDK
            # (CDK's AwsCustomResource) falls back to this one.
            if not NODE_SDK.is_dir():
                LOG.warning("the sandbox's Node.js SDK is missing (%s): make setup installs it", NODE_SDK)
            layer_paths = layers.node_paths(opt, details["runtime"]) if opt else []
            env["NODE_PATH"] = os.pathsep.join([*layer_paths, str(NODE_SDK), str(code_dir)])
            env.setdefault("npm_config_offline", "true")
            env.setdefault("npm_config_logs_max", "0")
            node = shutil.which("node") or "node"
            command = [node, "--expose-gc", "--max-http-header-size", "81920", str(NODE_WORKER_SCRIPT)]
            command += [str(code_dir), str(write_fd)]
        else:
            layer_paths = layers.python_paths(opt, details["runtime"]) if opt else []
            paths = os.pathsep.join([*dependency_paths(), *layer_paths])
            if self.forks is not None:
                unforkable = lambda_forks.startup_difference(env, layer_dir, opt)
                if unforkable is None:
                    private_opt = layer_dir is not None and opt == layers.OPT
                    spec = {
                        "environment": env,
                        "code_dir": str(code_dir),
                        "dependency_paths": paths,
                        "opt_folder": str(layer_dir) if private_opt else None,
                    }
                    return self._forked(spec, details, log_path, read_fd, write_fd)
                LOG.debug("%s is spawned, not forked: its environment sets %s", details["name"], unforkable)
            command = [sys.executable, "-S", "-u", str(WORKER_SCRIPT), str(code_dir), paths, str(write_fd)]
        if layer_dir is not None and opt == layers.OPT:
            command = layers.mount_command(layer_dir, command)
        try:
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=code_dir,
                    pass_fds=(write_fd,),
                    # its own process group: ended with what it started; a terminal's Ctrl-C
                    # reaches the sandbox, which ends its workers, not each worker on its own
                    process_group=0,
                )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return self._started(_Worker(process=process, answers=os.fdopen(read_fd, "rb"), log_path=log_path), details)

    def _forked(
        self, spec: dict[str, Any], details: dict[str, Any], log_path: Path, read_fd: int, write_fd: int
    ) -> _Worker:
        """A Python worker forked from the fork server: its stdin, answer pipe and log handed over."""
        assert self.forks is not None
        stdin_read, stdin_write = os.pipe()
        try:
            with log_path.open("ab") as log:
                pid, pidfd = self.forks.fork(spec, stdin_read, write_fd, log.fileno())
        except BaseException:
            for fd in (read_fd, stdin_write):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_read, write_fd):
                os.close(fd)
        process = lambda_forks.ForkedProcess(pid, pidfd, os.fdopen(stdin_write, "wb"))
        return self._started(_Worker(process=process, answers=os.fdopen(read_fd, "rb"), log_path=log_path), details)

    def _started(self, worker: _Worker, details: dict[str, Any]) -> _Worker:
        # Lambda's Init phase (starting the runtime, loading the handler) has a limit of its own
        # and does not count against the invocation's timeout. A worker that is not ready by then,
        # or that died, is found out by the invocation that reads from it.
        try:
            self._read_answer(worker, max(INIT_LIMIT_SECONDS, float(details["timeout"])), ready=True)
        except BaseException:
            worker.kill()
            raise
        return worker

    @staticmethod
    def _read_answer(worker: _Worker, timeout: float, *, ready: bool = False) -> dict[str, Any] | None:
        """The worker's next answer (or, with `ready`, its end of Init), None when it does not come
        in time or the worker died. A late end of Init is skipped by the invocation that reads it."""
        deadline = time.monotonic() + timeout
        fd = worker.answers.fileno()
        while True:
            while b"\n" in worker.pending:
                line, _, worker.pending = worker.pending.partition(b"\n")
                answer: dict[str, Any] = json.loads(line)
                if ready or "ready" not in answer:
                    return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None  # the worker died
            worker.pending += chunk

    def _unpack(self, details: dict[str, Any]) -> Path:
        digest = hashlib.sha256(details["code"]).hexdigest()
        target = self.root / "code" / digest
        if target.exists():
            return target
        partial = target.with_name(f".{digest}-{uuid.uuid4().hex[:6]}")
        partial.mkdir(parents=True)
        with zipfile.ZipFile(io.BytesIO(details["code"])) as archive:
            for member in archive.infolist():
                destination = (partial / member.filename).resolve()
                if not destination.is_relative_to(partial.resolve()):
                    raise ValueError(f"zip entry {member.filename} escapes the package")
            archive.extractall(partial)
        try:
            partial.rename(target)
        except OSError:  # another invocation unpacked it first
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
        return target

    def _environment(self, details: dict[str, Any], code_dir: Path, opt: Path | None = None) -> dict[str, str]:
        """What Lambda puts in a function's environment, and nothing of the caller's; with layers
        (seen at `opt`) their bin/ on PATH and lib/ on LD_LIBRARY_PATH, which the function's own
        variables may extend, as in Lambda."""
        region = details["region"]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": str(self.root),
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
            "_HANDLER": details["handler"] or "",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{details['runtime']}",
            "AWS_LAMBDA_FUNCTION_NAME": details["name"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(details["memory"]),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(details["timeout"]),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{details['name']}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "sandbox/[$LATEST]",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_SESSION_TOKEN": "sandbox",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_ENDPOINT_URL": self.host.endpoint,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if opt is not None:
            env.update(layers.environment(opt, env["PATH"]))
        # the sandbox's network: its database clusters' endpoints lead to its PostgreSQL server
        env.update(self.host.databases.client_environment())
        env.update({k: str(v) for k, v in details["environment"].items()})
        return env

    # ------------------------------------------------------------------ admin
    def recent_logs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_dict() for record in self._recent]

    def reset(self) -> None:
        """An empty account: every worker ended (busy ones too: their invocations fail), the
        invocation records gone; the runtime goes on serving."""
        self._end_workers()
        with self._lock:
            self._recent.clear()
            self.invocation_count = 0
            self.billed_ms_by_memory.clear()

    def shutdown(self) -> None:
        """The sandbox's end: every worker ended with its process group, busy ones too, and no
        new one started (an invocation still arriving is refused)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._end_workers()
        if self.forks is not None:
            self.forks.stop()

    def _end_workers(self) -> None:
        with self._lock:
            workers = list(self._live)
            self._live.clear()
            self._idle.clear()
            for pool in self._pools.values():
                pool.idle.clear()
            self._pools.clear()
        for worker in workers:
            worker.kill()


def timed_out(request_id: str, timeout: float) -> dict[str, Any]:
    """The payload of an invocation Lambda stopped at the function's timeout: a message and no
    `errorType`, as Lambda reports what it detects itself (FunctionError "Unhandled"). Step
    Functions names such a failure `Lambda.Unknown` (see `moto_internals.fix_lambda_unknown_error`).
    """
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"errorMessage": f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"}


def runtime_family(runtime: str | None) -> str:
    """The worker a function runs on ("python" or "nodejs"); any other runtime is AWS's
    InvalidRuntimeException."""
    for family in ("python", "nodejs"):
        if str(runtime or "").startswith(family):
            return family
    raise moto_internals.lambda_invalid_runtime(str(runtime))


def image_working_dir(image: Image, image_config: dict[str, Any]) -> Path:
    """The function's working directory in its image: `ImageConfig.WorkingDirectory`, else the
    image's WORKDIR (Lambda API reference, ImageConfig: the values override the image's)."""
    return image.path(image_config.get("WorkingDirectory") or image.config.working_dir)


def image_handler(image: Image, image_config: dict[str, Any]) -> str | None:
    """The handler an image runs: the first argument of its command, `ImageConfig.Command` or the
    image's CMD, as the AWS base images' entry point and the runtime interface client take it."""
    command = image_config.get("Command") or list(image.config.cmd)
    return str(command[0]) if command else None


def image_entrypoint_problem(image: Image, image_config: dict[str, Any]) -> dict[str, Any] | None:
    """The error of an image whose entry point the sandbox cannot start, None if it can.

    The sandbox's Python worker stands in for the runtime interface client an image starts:
    `/lambda-entrypoint.sh` of the AWS base images, or `python -m awslambdaric` (directly or in
    the script the entry point names). An entry point missing from the image is AWS's
    `Runtime.InvalidEntrypoint` (Lambda developer guide, "Troubleshoot invocation issues").
    """
    entrypoint = list(image_config.get("EntryPoint") or image.config.entrypoint)
    if _starts_python_runtime(image, entrypoint):
        problem = None if image_handler(image, image_config) else "the image has no command: no handler to run"
    elif entrypoint[0].startswith("/") and not image.path(entrypoint[0]).is_file():
        problem = f"Couldn't find the entry point {entrypoint[0]} in the image"
    else:
        problem = (
            f"the sandbox runs Python images started by {AWS_BASE_ENTRYPOINT} or `python -m {PYTHON_RIC}`; "
            f"this one's entry point is {entrypoint}"
        )
    if problem is None:
        return None
    return {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": problem}


def _starts_python_runtime(image: Image, entrypoint: list[str]) -> bool:
    if not entrypoint or entrypoint == [AWS_BASE_ENTRYPOINT] or PYTHON_RIC in entrypoint:
        return True
    script = image.path(entrypoint[0])
    try:
        return entrypoint[0].startswith("/") and f"-m {PYTHON_RIC}" in script.read_text(errors="replace")
    except OSError:
        return False


def _stage_of(event: Any) -> str | None:
    """The stage a workflow step works on, if the event names one (`{"step": {"name": …}}`)."""
    if not isinstance(event, dict):
        return None
    step = event.get("step")
    if isinstance(step, dict) and isinstance(step.get("name"), str):
        return str(step["name"])
    return None
