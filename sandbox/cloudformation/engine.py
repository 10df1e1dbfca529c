"""Stack operations, run in the background with CloudFormation's state machine of statuses.

- create: CREATE_IN_PROGRESS → CREATE_COMPLETE; on failure ROLLBACK_IN_PROGRESS →
  ROLLBACK_COMPLETE (or ROLLBACK_FAILED), or CREATE_FAILED (OnFailure DO_NOTHING), or
  the stack deleted (OnFailure DELETE).
- update: UPDATE_IN_PROGRESS → UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (removed and replaced
  resources are deleted only now) → UPDATE_COMPLETE; on failure UPDATE_ROLLBACK_IN_PROGRESS
  (every changed resource goes back to its previous properties, re-evaluated from the
  previous template and parameters) → UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS (added
  resources are deleted) → UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED, from which
  ContinueUpdateRollback goes on.
- delete: DELETE_IN_PROGRESS → DELETE_COMPLETE, or DELETE_FAILED.

An API call answers at once; the operation goes on in its own thread, changing the stack
under the stack's lock. Faults armed in the sandbox (`create`, `update`, `timeout`,
`rollback`) are asked for when an operation starts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.stage.latency import LatencyModel, Operation
from sandbox.clock import Clock
from sandbox.cloudformation import dynamic_references, names, service_role
from sandbox.cloudformation.errors import CloudFormationError, TemplateError
from sandbox.cloudformation.intrinsics import Evaluator
from sandbox.cloudformation.model import Deployment, Stack, StackResource, now
from sandbox.cloudformation.providers.base import (
    Provisioned,
    ResourceFailed,
    ResourceRequest,
    UnsupportedAttribute,
    handler_message,
)
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.registry import ProviderRegistry
from sandbox.cloudformation.scheduler import Outcome, Scheduler, Step, Task
from sandbox.cloudformation.store import RegionStore
from sandbox.cloudformation.template import resource_dependencies, topological_order
from sandbox.faults import FaultRegistry

LOG = logging.getLogger("dataall_installer.sandbox.cloudformation")
INJECTED = "(injected by the sandbox)"
RETAINED_ON_DELETE = frozenset({"Retain", "RetainExceptOnCreate"})


@dataclass
class Environment:
    """What the engine uses of the sandbox."""

    clock: Clock
    latency_enabled: bool
    latency: LatencyModel
    faults: FaultRegistry
    providers: ProviderRegistry
    clients: ServiceClients
    availability_zones: Callable[[str], list[str]]


#: wall seconds a creation timeout comes late in the sandbox (see `Engine._creation_timeout`):
#: waits that a loaded machine starts one after another count more wall time than their
#: parallel modelled time (make test saw a vpc create time out at 5 s)
CREATION_TIMEOUT_GRACE = 30.0
#: the stack's reason when a create outlasts its TimeoutInMinutes
CREATE_TIMED_OUT = "Stack creation time exceeded the specified timeout. "


def injected_failure(stack_name: str, kind: str) -> ResourceFailed:
    return ResourceFailed(handler_message(f"Fault {kind!r} armed for stack {stack_name}") + f" {INJECTED}")


def reason_of(error: BaseException) -> str:
    if isinstance(error, ResourceFailed):
        return error.reason
    if isinstance(error, CloudFormationError):
        return error.message
    return handler_message(f"{type(error).__name__}: {error}")


def failure_summary(failed: Mapping[str, str]) -> str:
    """`The following resource(s) failed to create: [A]. ` per verb, as AWS words it."""
    parts = []
    for verb in ("create", "update", "delete"):
        logical_ids = sorted(name for name, failed_verb in failed.items() if failed_verb == verb)
        if logical_ids:
            parts.append(f"The following resource(s) failed to {verb}: [{', '.join(logical_ids)}]. ")
    return "".join(parts)


# --------------------------------------------------------------------------- resolving
class LiveResolver:
    """`Ref` / `Fn::GetAtt` / `Fn::ImportValue` against the stack as it is now."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def _record(self, logical_id: str) -> tuple[StackResource, Provisioned]:
        record = self._run.stack.resources.get(logical_id)
        if record is None or record.provisioned is None:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies [{logical_id}] "
                "in the Resources block of the template"
            )
        return record, record.provisioned

    def ref(self, logical_id: str) -> Any:
        return self._record(logical_id)[1].physical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        record, provisioned = self._record(logical_id)
        provider = self._run.env.providers.provider(record.resource_type)
        try:
            return provider.get_att(record.resource_type, provisioned, attribute)
        except UnsupportedAttribute as error:
            message = str(error)
            if message == attribute:
                message = (
                    f"Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
                )
            raise TemplateError(message) from error

    def import_value(self, export_name: str) -> Any:
        export = self._run.store.exports().get(export_name)
        if export is None:
            raise TemplateError(f"No export named {export_name} found.")
        self._run.imports.add(export_name)
        return export.value

    def availability_zones(self, region: str) -> list[str]:
        return self._run.env.availability_zones(region)


# --------------------------------------------------------------------------- update journal
@dataclass
class _Before:
    provisioned: Provisioned | None
    properties: dict[str, Any] | None
    metadata: Any


@dataclass
class RollbackPlan:
    """What an update changed, so its rollback (or ContinueUpdateRollback) can undo it."""

    previous: Deployment
    failed_update: Deployment
    #: resources the update touched, as they were before
    before: dict[str, _Before] = field(default_factory=dict)
    #: resources whose handler was called (their rollback calls it again)
    applied: set[str] = field(default_factory=set)
    #: resources the update added (deleted in the rollback's cleanup)
    added: list[str] = field(default_factory=list)
    #: resources made by replacements: (logical id, type, provisioned, properties)
    replacements: list[tuple[str, str, Provisioned, dict[str, Any]]] = field(default_factory=list)
    #: touched resources not rolled back yet
    pending: set[str] = field(default_factory=set)
    #: rollbacks that failed (ContinueUpdateRollback may skip these)
    failed: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- runs
class Run:
    """One operation on one stack, on its own thread."""

    def __init__(self, engine: Engine, stack: Stack, store: RegionStore) -> None:
        self.engine = engine
        self.env = engine.env
        self.stack = stack
        self.store = store
        self.stop = threading.Event()
        #: what a cancel asks for next: "rollback" (CancelUpdateStack), "delete"
        #: (DeleteStack during create), "shutdown"
        self.cancel_intent: str | None = None
        self.imports: set[str] = set()
        self.failed: dict[str, str] = {}
        self._lock = threading.Lock()
        #: resources (and the stack itself) waiting out their modelled latency: when each
        #: wait's modelled time ends, in wall seconds (None: a hang, which never ends)
        self._waits: dict[object, float | None] = {}

    # ------------------------------------------------------------------ control
    def cancel(self, intent: str) -> None:
        with self._lock:
            self.cancel_intent = intent
            self.stop.set()

    def cancel_unless_cancelled(self, intent: str) -> bool:
        """Cancel for `intent` unless something else (a DeleteStack, a shutdown) already did."""
        with self._lock:
            if self.cancel_intent is not None:
                return False
            self.cancel_intent = intent
            self.stop.set()
            return True

    @contextlib.contextmanager
    def modelled_wait(self, seconds: float | None) -> Iterator[None]:
        """Wait out `seconds` of modelled latency (None: hang until stopped)."""
        ends = None
        if seconds is not None:
            ends = time.monotonic() + self.engine.scheduler.wall(seconds)
        key = object()
        with self._lock:
            self._waits[key] = ends
        try:
            yield
        finally:
            with self._lock:
                del self._waits[key]

    @property
    def waiting(self) -> bool:
        """Something of this operation is waiting out modelled latency, or hangs. A wait whose
        modelled time is over but whose thread a busy machine has not woken yet is not: that
        time is the machine's, not CloudFormation's."""
        now = time.monotonic()
        with self._lock:
            return any(ends is None or now < ends for ends in self._waits.values())

    def fresh_stop(self) -> threading.Event:
        """A new stop event for the next phase; a cancel for shutdown or delete carries over."""
        with self._lock:
            self.stop = threading.Event()
            if self.cancel_intent in ("shutdown", "delete"):
                self.stop.set()
            return self.stop

    def take_intent(self) -> str | None:
        with self._lock:
            intent, self.cancel_intent = self.cancel_intent, None
            return intent

    def overhead(self, operation: Operation) -> None:
        seconds = self.env.latency.stack_overhead(operation)
        with self.modelled_wait(seconds):
            self.engine.scheduler.wait(seconds, self.stop)

    def run_graph(
        self, tasks: Mapping[str, Task], graph: Mapping[str, set[str]], *, stop_on_failure: bool = True
    ) -> Outcome:
        return self.engine.scheduler.run(
            tasks, graph, self.stop, stop_on_failure=stop_on_failure, waiting=self.modelled_wait
        )

    # ------------------------------------------------------------------ evaluation
    def evaluator(self, deployment: Deployment) -> Evaluator:
        return deployment.evaluator(self.stack.context, LiveResolver(self))

    def evaluate(self, deployment: Deployment, resource: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """A resource's properties and metadata as its handler gets them now."""
        evaluator = self.evaluator(deployment)
        properties: dict[str, Any] = evaluator.evaluate(resource.get("Properties") or {})
        return properties, evaluator.evaluate(resource.get("Metadata"))

    def request(
        self,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        resolve: bool = True,
    ) -> ResourceRequest:
        """A handler request; `resolve`: replace dynamic references (not for deletes)."""
        return ResourceRequest(
            stack=self.stack.context,
            logical_id=logical_id,
            resource_type=resource_type,
            properties=self._resolve_dynamic(properties) if resolve else properties,
            physical_name=names.generated_name(resource_type, self.stack.name, logical_id),
            cancel=self.stop,
        )

    def authorize(self, role_arn: str | None, request: ResourceRequest, handler: str) -> None:
        """Fail the resource as AWS does when the stack's service role may not do what its handler calls."""
        reason = service_role.denial(
            role_arn,
            request.resource_type,
            handler,
            request.properties,
            request.physical_name,
            region=self.stack.context.region,
        )
        if reason is not None:
            raise ResourceFailed(reason)

    def _resolve_dynamic(self, properties: dict[str, Any]) -> dict[str, Any]:
        region = self.stack.context.region

        def parameter(name: str, version: str | None) -> str:
            full = f"{name}:{version}" if version else name
            try:
                answer = self.env.clients("ssm", region).get_parameter(Name=full, WithDecryption=True)
            except ClientError as error:
                raise LookupError(f"parameter {full} not found") from error
            return str(answer["Parameter"]["Value"])

        def secret(secret_id: str, stage: str | None, version: str | None) -> str:
            arguments = {"SecretId": secret_id}
            if stage:
                arguments["VersionStage"] = stage
            if version:
                arguments["VersionId"] = version
            try:
                answer = self.env.clients("secretsmanager", region).get_secret_value(**arguments)
            except ClientError as error:
                raise LookupError(f"secret {secret_id} not found") from error
            return str(answer["SecretString"])

        resolved: dict[str, Any] = dynamic_references.resolve(properties, parameter, secret)
        return resolved

    def outputs(self, deployment: Deployment) -> list[dict[str, Any]]:
        return deployment.outputs(self.evaluator(deployment))

    def export_conflicts(self, outputs: list[dict[str, Any]]) -> str | None:
        """AWS's refusals about exports: a name another stack exports, or an export other
        stacks import that would change or go."""
        exports = self.store.exports()
        new = {output["ExportName"]: output["OutputValue"] for output in outputs if "ExportName" in output}
        for name in new:
            owner = exports.get(name)
            if owner is not None and owner.stack_id != self.stack.stack_id:
                return f"Export with name {name} is already exported by stack {owner.stack_name}"
        for name, value in self.stack.exports().items():
            importers = [stack for stack in self.store.importers(name) if stack != self.stack.name]
            if not importers:
                continue
            if name not in new:
                return f"Export {name} cannot be deleted as it is in use by {_and(importers)}"
            if new[name] != value:
                return f"Export {name} cannot be updated as it is in use by {_and(importers)}"
        return None

    # ------------------------------------------------------------------ tasks
    def create_task(
        self, logical_id: str, resource: Mapping[str, Any], deployment: Deployment, fault: str | None
    ) -> Task:
        """Create one resource; `fault`: "timeout" hangs it, any other kind ("create", or "update" and
        "rollback" striking a resource an update adds) fails it, named as the fault armed."""
        resource_type = str(resource["Type"])

        def start() -> Step:
            record = StackResource(
                logical_id,
                resource_type,
                "CREATE_IN_PROGRESS",
                description=resource.get("Description"),
            )
            with self.stack.lock:
                self.stack.resources[logical_id] = record
            self.stack.resource_event(record, "CREATE_IN_PROGRESS")
            try:
                properties, record.metadata = self.evaluate(deployment, resource)
            except Exception as error:  # noqa: BLE001 - whatever stops the evaluation fails the resource
                return self._failing_step(record, "CREATE_FAILED", "create", error)

            def perform() -> None:
                if fault is not None and fault != "timeout":
                    raise injected_failure(self.stack.name, fault)
                provider = self.env.providers.provider(resource_type)
                request = self.request(logical_id, resource_type, properties)
                self.authorize(deployment.role_arn, request, "create")
                provisioned = provider.create(request)
                with self.stack.lock:
                    record.provisioned = provisioned
                    record.properties = properties
                self.stack.resource_event(record, "CREATE_COMPLETE")

            def failed(error: BaseException) -> None:
                if isinstance(error, ResourceFailed) and error.provisioned is not None:
                    record.provisioned = error.provisioned
                    record.properties = properties
                self.failed[logical_id] = "create"
                self.stack.resource_event(record, "CREATE_FAILED", reason_of(error))

            return Step(
                seconds=self.env.latency.resource(resource_type, "create", properties),
                perform=perform,
                cancelled=lambda: self._cancelled(record, "CREATE_FAILED", "create"),
                failed=failed,
                hang=fault == "timeout",
            )

        return start

    def update_task(
        self,
        logical_id: str,
        resource: Mapping[str, Any],
        deployment: Deployment,
        plan: RollbackPlan,
        fault: str | None,
    ) -> Task:
        """Update one existing resource if its evaluated properties changed."""

        def start() -> Step | None:
            record = self.stack.resources[logical_id]
            try:
                properties, metadata = self.evaluate(deployment, resource)
            except Exception as error:  # noqa: BLE001 - whatever stops the evaluation fails the resource
                plan.before[logical_id] = _Before(record.provisioned, record.properties, record.metadata)
                self.stack.resource_event(record, "UPDATE_IN_PROGRESS")
                return self._failing_step(record, "UPDATE_FAILED", "update", error)
            unchanged = properties == record.properties and metadata == record.metadata
            if unchanged and fault is None:
                return None
            plan.before[logical_id] = _Before(record.provisioned, record.properties, metadata)
            provider = self.env.providers.provider(record.resource_type)
            old = record.properties or {}
            replace = bool(provider.create_only(record.resource_type).forcing(old, properties))
            self.stack.resource_event(record, "UPDATE_IN_PROGRESS")
            named = provider.name_property(record.resource_type)
            if replace and named and old.get(named) and old.get(named) == properties.get(named):
                refusal = ResourceFailed(
                    "CloudFormation cannot update a stack when a custom-named resource requires "
                    f"replacing. Rename {old[named]} and update the stack again."
                )
                return self._failing_step(record, "UPDATE_FAILED", "update", refusal)

            def perform() -> None:
                if fault in ("update", "rollback"):
                    raise injected_failure(self.stack.name, fault)
                if properties == record.properties:  # only the metadata changed
                    record.metadata = metadata
                    self.stack.resource_event(record, "UPDATE_COMPLETE")
                    return
                plan.applied.add(logical_id)
                request = self.request(logical_id, record.resource_type, properties)
                self.authorize(deployment.role_arn, request, "create" if replace else "update")
                current = record.provisioned
                assert current is not None  # only resources that exist are updated
                if replace:
                    self.stack.resource_event(
                        record,
                        "UPDATE_IN_PROGRESS",
                        "Requested update requires the creation of a new physical resource; hence creating one.",
                    )
                    updated = provider.create(request)
                else:
                    updated = provider.update(request, current, old)
                if updated.physical_id != current.physical_id:
                    plan.replacements.append((logical_id, record.resource_type, updated, properties))
                with self.stack.lock:
                    record.provisioned = updated
                    record.properties = properties
                    record.metadata = metadata
                self.stack.resource_event(record, "UPDATE_COMPLETE")

            def failed(error: BaseException) -> None:
                plan.applied.add(logical_id)
                self.failed[logical_id] = "update"
                self.stack.resource_event(record, "UPDATE_FAILED", reason_of(error))

            operation: Operation = "create" if replace else "update"
            return Step(
                seconds=self.env.latency.resource(record.resource_type, operation, properties),
                perform=perform,
                cancelled=lambda: self._cancelled(record, "UPDATE_FAILED", "update"),
                failed=failed,
                hang=fault == "timeout",
            )

        return start

    def delete_task(self, record: StackResource, *, retain: bool, snapshot: bool = False) -> Task:
        def start() -> Step | None:
            provisioned = record.provisioned
            if provisioned is None or retain:
                status = "DELETE_SKIPPED" if retain and provisioned else "DELETE_COMPLETE"
                self.stack.resource_event(record, status)
                return None
            self.stack.resource_event(record, "DELETE_IN_PROGRESS")

            def perform() -> None:
                provider = self.env.providers.provider(record.resource_type)
                request = self.request(record.logical_id, record.resource_type, record.properties or {}, resolve=False)
                self.authorize(self.stack.deployment.role_arn if self.stack.deployment else None, request, "delete")
                provider.delete(request, provisioned, snapshot=snapshot)
                self.stack.resource_event(record, "DELETE_COMPLETE")

            def failed(error: BaseException) -> None:
                self.failed[record.logical_id] = "delete"
                self.stack.resource_event(record, "DELETE_FAILED", reason_of(error))

            return Step(
                seconds=self.env.latency.resource(record.resource_type, "delete", record.properties),
                perform=perform,
                cancelled=lambda: self._cancelled(record, "DELETE_FAILED", "delete"),
                failed=failed,
            )

        return start

    def delete_copy_task(
        self, logical_id: str, resource_type: str, provisioned: Provisioned, properties: dict[str, Any], *, retain: bool
    ) -> Task:
        """Delete the other physical copy of a replaced resource (cleanup phases)."""
        record = self.stack.resources.get(logical_id) or StackResource(logical_id, resource_type, "")

        def start() -> Step | None:
            physical_id = provisioned.physical_id
            if retain:
                self.stack.resource_event(record, "DELETE_SKIPPED", physical_id=physical_id)
                return None
            self.stack.resource_event(record, "DELETE_IN_PROGRESS", physical_id=physical_id)

            def perform() -> None:
                provider = self.env.providers.provider(resource_type)
                request = self.request(logical_id, resource_type, properties, resolve=False)
                provider.delete(request, provisioned, snapshot=False)
                self.stack.resource_event(record, "DELETE_COMPLETE", physical_id=physical_id)

            return Step(
                seconds=self.env.latency.resource(resource_type, "delete", properties),
                perform=perform,
                cancelled=lambda: None,
                failed=lambda error: self.stack.resource_event(
                    record, "DELETE_FAILED", reason_of(error), physical_id=physical_id
                ),
            )

        return start

    def _failing_step(self, record: StackResource, status: str, verb: str, error: BaseException) -> Step:
        def fail() -> None:
            raise error

        def failed(raised: BaseException) -> None:
            self.failed[record.logical_id] = verb
            self.stack.resource_event(record, status, reason_of(raised))

        return Step(0.0, fail, lambda: self._cancelled(record, status, verb), failed)

    def _cancelled(self, record: StackResource, status: str, verb: str) -> None:
        self.failed[record.logical_id] = verb
        noun = {"create": "creation", "update": "update", "delete": "deletion"}[verb]
        self.stack.resource_event(record, status, f"Resource {noun} cancelled")


#: where a stack is left when the engine itself fails during an operation
_INTERNAL_FAILURE_STATUS = {
    "create": "CREATE_FAILED",
    "update": "UPDATE_ROLLBACK_FAILED",
    "update_rollback": "UPDATE_ROLLBACK_FAILED",
    "delete": "DELETE_FAILED",
}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


# --------------------------------------------------------------------------- the engine
class Engine:
    """Starts operations on their threads and remembers what an unfinished rollback needs."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.scheduler = Scheduler(env.clock, env.latency_enabled)
        self.creation_timeout_grace = CREATION_TIMEOUT_GRACE
        self._runs: dict[str, Run] = {}
        self._threads: list[threading.Thread] = []
        self._rollback_plans: dict[str, RollbackPlan] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def running(self, stack: Stack) -> Run | None:
        with self._lock:
            return self._runs.get(stack.stack_id)

    def cancel(self, stack: Stack, intent: str) -> bool:
        run = self.running(stack)
        if run is None:
            return False
        run.cancel(intent)
        return True

    def stop_all(self, timeout: float = 5.0) -> None:
        """Cancel every operation and wait for their threads (reset, shutdown)."""
        self._stopping.set()
        with self._lock:
            runs, threads = list(self._runs.values()), list(self._threads)
        for run in runs:
            run.cancel("shutdown")
        for thread in threads:
            thread.join(timeout)
        with self._lock:
            self._runs.clear()
            self._threads = [thread for thread in threads if thread.is_alive()]
            self._rollback_plans.clear()
        self._stopping = threading.Event()

    def running_operations(self) -> int:
        """Threads of operations and change sets still running."""
        with self._lock:
            return sum(1 for thread in self._threads if thread.is_alive())

    def _start(self, stack: Stack, store: RegionStore, name: str, body: Callable[[Run], None]) -> None:
        run = Run(self, stack, store)

        def main() -> None:
            try:
                body(run)
            except Exception:
                LOG.exception("%s of stack %s failed in the sandbox's engine", name, stack.name)
                stack.set_status(_INTERNAL_FAILURE_STATUS[name], "Internal failure of the sandbox's engine")
            finally:
                with self._lock:
                    if self._runs.get(stack.stack_id) is run:
                        del self._runs[stack.stack_id]

        thread = threading.Thread(target=main, name=f"cfn-{name}-{stack.name}", daemon=True)
        with self._lock:
            self._runs[stack.stack_id] = run
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def has_rollback_plan(self, stack: Stack) -> RollbackPlan | None:
        with self._lock:
            return self._rollback_plans.get(stack.stack_id)

    def spawn(self, name: str, body: Callable[[threading.Event], None]) -> None:
        """Background work that is not a stack operation (computing a change set)."""
        thread = threading.Thread(target=body, args=(self._stopping,), name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    # ------------------------------------------------------------------ operations
    # Each sets the stack's first status before it returns, so a DescribeStacks right after
    # the API call sees the operation in progress, as in AWS.
    def create(self, stack: Stack, store: RegionStore, deployment: Deployment, on_failure: str) -> None:
        stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
        self._start(stack, store, "create", lambda run: self._create(run, deployment, on_failure))

    def update(
        self,
        stack: Stack,
        store: RegionStore,
        previous: Deployment,
        deployment: Deployment,
        has_changes: bool,
    ) -> None:
        with stack.lock:
            stack.deployment = deployment
            stack.last_updated_time = now()
        stack.set_status("UPDATE_IN_PROGRESS", "User Initiated")
        self._start(stack, store, "update", lambda run: self._update(run, previous, deployment, has_changes))

    def delete(self, stack: Stack, store: RegionStore, retain: set[str]) -> None:
        previous_status = stack.status
        stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
        self._start(stack, store, "delete", lambda run: self._delete(run, retain, previous_status))

    def continue_rollback(self, stack: Stack, store: RegionStore, skip: set[str]) -> None:
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated")
        self._start(stack, store, "update_rollback", lambda run: self._continue_rollback(run, skip))

    # ------------------------------------------------------------------ create
    def _create(self, run: Run, deployment: Deployment, on_failure: str) -> None:
        stack = run.stack
        created = threading.Event()
        if stack.timeout_in_minutes:
            self._creation_timeout(run, float(stack.timeout_in_minutes) * 60, created)
        faults = self.env.faults
        fault = (
            "create" if faults.fire("create", stack.name) else "timeout" if faults.fire("timeout", stack.name) else None
        )
        run.overhead("create")
        resources = deployment.included_resources(stack.context)
        graph = resource_dependencies(resources, deployment.evaluator(stack.context).conditions())
        order = topological_order(graph)
        target = order[-1] if order else None
        tasks = {
            logical_id: run.create_task(
                logical_id, resources[logical_id], deployment, fault if logical_id == target else None
            )
            for logical_id in order
        }
        outcome = run.run_graph(tasks, graph)
        created.set()
        if run.cancel_intent == "timeout":  # AWS: past TimeoutInMinutes the create fails, and rolls back
            run.take_intent()
            self._settle_create(run, deployment, outcome, on_failure, timed_out=True)
        elif run.cancel_intent is None:  # neither a DeleteStack nor a shutdown stopped it
            self._settle_create(run, deployment, outcome, on_failure)
        if run.take_intent() == "delete":  # AWS: DeleteStack during a create cancels it, then deletes
            run.fresh_stop()
            self._delete_resources_and_stack(run, deployment, retain=set())

    def _creation_timeout(self, run: Run, seconds: float, created: threading.Event) -> None:
        """CreateStack's TimeoutInMinutes: a create still going then is cancelled, as failed.

        The deadline's clock runs only while the create waits out modelled latency (or
        hangs): the real time of providers' work and of a busy machine's threads is not
        CloudFormation's, and at a small time scale its seconds would count as hours. It
        comes `creation_timeout_grace` wall seconds late, for waits a busy machine wakes late.
        """
        budget = (self.env.clock.wall(seconds) if self.env.latency_enabled else seconds) + self.creation_timeout_grace
        tick = min(0.25, max(0.005, budget / 200))

        def watch(stopping: threading.Event) -> None:
            left = budget
            while left > 0:
                began = time.monotonic()
                if created.wait(min(tick, left)) or stopping.is_set():
                    return
                if run.waiting:
                    left -= time.monotonic() - began
            run.cancel_unless_cancelled("timeout")

        self.spawn(f"create-timeout-{run.stack.name}", watch)

    def _settle_create(
        self, run: Run, deployment: Deployment, outcome: Outcome, on_failure: str, *, timed_out: bool = False
    ) -> None:
        stack = run.stack
        reason = CREATE_TIMED_OUT if timed_out else failure_summary(run.failed)
        if outcome.succeeded and not timed_out:
            reason = self._finish_outputs(run, deployment) or ""
            if not reason:
                stack.imports = set(run.imports)
                stack.set_status("CREATE_COMPLETE")
                return
        run.fresh_stop()
        if on_failure == "DO_NOTHING":
            stack.set_status("CREATE_FAILED", reason)
            return
        stack.set_status("ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
        failed = self._delete_all(run, deployment, retain_policies=frozenset({"Retain"}))
        if failed:
            stack.set_status("ROLLBACK_FAILED", failure_summary(run.failed))
        elif on_failure == "DELETE":
            stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
            stack.set_status("DELETE_COMPLETE")
        else:
            stack.set_status("ROLLBACK_COMPLETE")

    def _finish_outputs(self, run: Run, deployment: Deployment) -> str | None:
        """Evaluate and publish the outputs; the failure reason if they cannot be."""
        try:
            outputs = run.outputs(deployment)
        except CloudFormationError as error:
            return error.message
        conflict = run.export_conflicts(outputs)
        if conflict is not None:
            return conflict
        with run.stack.lock:
            run.stack.outputs = outputs
        return None

    # ------------------------------------------------------------------ delete
    def _delete(self, run: Run, retain: set[str], previous_status: str) -> None:
        stack = run.stack
        for name in stack.exports():
            importers = [other for other in run.store.importers(name) if other != stack.name]
            if importers:
                stack.set_status(
                    previous_status, f"Export {name} cannot be deleted as it is in use by {_and(importers)}"
                )
                return
        if stack.deployment is None:  # REVIEW_IN_PROGRESS: nothing was ever created
            run.store.drop_change_sets(stack.stack_id)
            stack.set_status("DELETE_COMPLETE")
            return
        run.overhead("delete")
        self._delete_resources_and_stack(run, stack.deployment, retain)

    def _delete_resources_and_stack(self, run: Run, deployment: Deployment, retain: set[str]) -> None:
        stack = run.stack
        if stack.status != "DELETE_IN_PROGRESS":
            stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
        if self._delete_all(run, deployment, retain_policies=RETAINED_ON_DELETE, retain=retain):
            stack.set_status("DELETE_FAILED", failure_summary(run.failed))
            return
        with stack.lock:
            stack.outputs = []
            stack.imports = set()
        run.store.drop_change_sets(stack.stack_id)
        stack.set_status("DELETE_COMPLETE")

    def _delete_all(
        self,
        run: Run,
        deployment: Deployment,
        *,
        retain_policies: frozenset[str],
        retain: set[str] | None = None,
    ) -> bool:
        """Delete every resource of the stack, dependants first; True if any failed."""
        stack = run.stack
        template = deployment.template.resources
        run.failed.clear()
        with stack.lock:
            records = {
                logical_id: record
                for logical_id, record in stack.resources.items()
                if record.status not in ("DELETE_COMPLETE", "DELETE_SKIPPED")
            }
        graph = resource_dependencies({lid: template.get(lid, {}) for lid in records})
        dependants = {lid: {other for other, needs in graph.items() if lid in needs} for lid in records}
        tasks = {}
        for logical_id, record in records.items():
            policy = str(template.get(logical_id, {}).get("DeletionPolicy", "Delete"))
            tasks[logical_id] = run.delete_task(
                record,
                retain=policy in retain_policies or logical_id in (retain or set()),
                snapshot=policy == "Snapshot",
            )
        outcome = run.run_graph(tasks, dependants, stop_on_failure=False)
        return bool(outcome.failed or outcome.cancelled or outcome.not_started)

    # ------------------------------------------------------------------ update
    def _update(self, run: Run, previous: Deployment, deployment: Deployment, has_changes: bool) -> None:
        stack = run.stack
        faults = self.env.faults
        fault = None
        if has_changes and faults.fire("rollback", stack.name):
            fault = "rollback"
        elif has_changes and faults.fire("update", stack.name):
            fault = "update"
        elif faults.fire("timeout", stack.name):
            fault = "timeout"
        run.overhead("update")
        resources = deployment.included_resources(stack.context)
        graph = resource_dependencies(resources, deployment.evaluator(stack.context).conditions())
        order = topological_order(graph)
        plan = RollbackPlan(previous=previous, failed_update=deployment)
        existing = {lid for lid, record in stack.resources.items() if record.provisioned is not None}
        target = self._fault_target(run, order, resources, existing, deployment)
        tasks: dict[str, Task] = {}
        for logical_id in order:
            fault_here = fault if logical_id == target else None
            if logical_id in existing:
                tasks[logical_id] = run.update_task(logical_id, resources[logical_id], deployment, plan, fault_here)
            else:
                plan.added.append(logical_id)
                tasks[logical_id] = run.create_task(logical_id, resources[logical_id], deployment, fault_here)
        outcome = run.run_graph(tasks, graph)
        intent = run.take_intent()
        if intent == "shutdown":
            return
        reason = "Stack update cancelled" if intent == "rollback" else failure_summary(run.failed)
        if outcome.succeeded:
            reason = self._finish_outputs(run, deployment) or ""
            if not reason:
                self._update_cleanup(run, previous, deployment, plan)
                return
        run.fresh_stop()
        plan.pending = set(plan.before)
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", reason)
        with stack.lock:
            stack.deployment = previous
        with self._lock:
            self._rollback_plans[stack.stack_id] = plan
        self._rollback(run, plan, skip=set(), fault=fault == "rollback")

    def _fault_target(
        self, run: Run, order: list[str], resources: Mapping[str, Any], existing: set[str], deployment: Deployment
    ) -> str | None:
        """The resource an update fault strikes: the last one (in dependency order) that changes."""
        evaluator = run.evaluator(deployment)
        for logical_id in reversed(order):
            if logical_id not in existing:
                return logical_id
            record = run.stack.resources[logical_id]
            try:
                if evaluator.evaluate(resources[logical_id].get("Properties") or {}) != record.properties:
                    return logical_id
            except Exception:  # noqa: BLE001 - not evaluable before the update: it depends on a change
                return logical_id
        return order[-1] if order else None

    def _update_cleanup(self, run: Run, previous: Deployment, deployment: Deployment, plan: RollbackPlan) -> None:
        """UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: only now are removed and replaced resources
        deleted, so a failed update never lost them. A failed cleanup delete is reported but
        the update stays complete, as in AWS."""
        stack = run.stack
        stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        resources = deployment.included_resources(stack.context)
        old_template = previous.template.resources
        with stack.lock:
            removed = {lid: record for lid, record in stack.resources.items() if lid not in resources}
        tasks: dict[str, Task] = {}
        for logical_id, record in removed.items():
            policy = str(old_template.get(logical_id, {}).get("DeletionPolicy", "Delete"))
            tasks[logical_id] = run.delete_task(
                record, retain=policy in RETAINED_ON_DELETE, snapshot=policy == "Snapshot"
            )
        for index, (logical_id, resource_type, _, _) in enumerate(plan.replacements):
            before = plan.before[logical_id]
            policy = str(old_template.get(logical_id, {}).get("UpdateReplacePolicy", "Delete"))
            if before.provisioned is not None:
                tasks[f"{logical_id}#old{index}"] = run.delete_copy_task(
                    logical_id,
                    resource_type,
                    before.provisioned,
                    before.properties or {},
                    retain=policy in RETAINED_ON_DELETE,
                )
        old_graph = resource_dependencies({lid: old_template.get(lid, {}) for lid in removed})
        dependants = {lid: {other for other, needs in old_graph.items() if lid in needs} for lid in tasks}
        run.run_graph(tasks, dependants, stop_on_failure=False)
        with stack.lock:
            for logical_id in removed:
                stack.resources.pop(logical_id, None)
            stack.imports = set(run.imports)
        stack.set_status("UPDATE_COMPLETE")

    # ------------------------------------------------------------------ rollback
    def _continue_rollback(self, run: Run, skip: set[str]) -> None:
        stack = run.stack
        plan = self.has_rollback_plan(stack)
        if plan is None:
            stack.set_status("UPDATE_ROLLBACK_COMPLETE")
            return
        run.overhead("update")
        self._rollback(run, plan, skip=skip, fault=False)

    def _rollback(self, run: Run, plan: RollbackPlan, *, skip: set[str], fault: bool) -> None:
        stack = run.stack
        previous = plan.previous
        resources = previous.included_resources(stack.context)
        graph = resource_dependencies(resources, previous.evaluator(stack.context).conditions())
        order = [lid for lid in topological_order(graph) if lid in plan.pending]
        first = order[0] if fault and order else None
        run.failed.clear()
        plan.failed.clear()
        if fault and not order:
            # An update that only added resources changed none the rollback restores: the
            # `rollback` fault fails the rollback itself (ContinueUpdateRollback finishes it).
            stack.set_status("UPDATE_ROLLBACK_FAILED", injected_failure(stack.name, "rollback").reason)
            return
        tasks = {
            logical_id: self._rollback_task(
                run, plan, logical_id, resources[logical_id], skip=logical_id in skip, fault=logical_id == first
            )
            for logical_id in order
        }
        outcome = run.run_graph(tasks, {lid: graph[lid] & set(order) for lid in order})
        if run.take_intent() == "shutdown":
            return
        if not outcome.succeeded:
            plan.failed = set(outcome.failed) | outcome.cancelled
            stack.set_status("UPDATE_ROLLBACK_FAILED", failure_summary(run.failed))
            return
        stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        self._rollback_cleanup(run, plan)
        with self._lock:
            self._rollback_plans.pop(stack.stack_id, None)
        stack.set_status("UPDATE_ROLLBACK_COMPLETE")

    def _rollback_task(
        self, run: Run, plan: RollbackPlan, logical_id: str, resource: Mapping[str, Any], *, skip: bool, fault: bool
    ) -> Task:
        stack = run.stack

        def start() -> Step | None:
            record = stack.resources[logical_id]
            before = plan.before[logical_id]
            if skip:
                with stack.lock:
                    record.properties = before.properties
                plan.pending.discard(logical_id)
                stack.resource_event(record, "UPDATE_COMPLETE", "Resource skipped during UPDATE_ROLLBACK")
                return None
            stack.resource_event(record, "UPDATE_IN_PROGRESS")
            replaced = next(
                (copy for copy in plan.replacements if copy[0] == logical_id and record.provisioned is copy[2]),
                None,
            )
            if replaced is not None or logical_id not in plan.applied:
                # the old physical resource is still there (replacement) or was never
                # changed (cancelled before its handler ran): switch back, nothing to call
                with stack.lock:
                    record.provisioned = before.provisioned
                    record.properties = before.properties
                    record.metadata = before.metadata
                plan.pending.discard(logical_id)
                stack.resource_event(record, "UPDATE_COMPLETE")
                return None
            evaluator = run.evaluator(plan.previous)

            def perform() -> None:
                if fault:
                    raise injected_failure(stack.name, "rollback")
                properties = evaluator.evaluate(resource.get("Properties") or {})
                provider = self.env.providers.provider(record.resource_type)
                current = record.provisioned
                assert current is not None  # its handler ran in the update, so it exists
                restored = provider.update(
                    run.request(logical_id, record.resource_type, properties), current, record.properties or {}
                )
                if restored.physical_id != current.physical_id:
                    plan.replacements.append((logical_id, record.resource_type, current, record.properties or {}))
                with stack.lock:
                    record.provisioned = restored
                    record.properties = properties
                    record.metadata = evaluator.evaluate(resource.get("Metadata"))
                plan.pending.discard(logical_id)
                stack.resource_event(record, "UPDATE_COMPLETE")

            def failed(error: BaseException) -> None:
                run.failed[logical_id] = "update"
                stack.resource_event(record, "UPDATE_FAILED", reason_of(error))

            return Step(
                seconds=self.env.latency.resource(record.resource_type, "update", record.properties),
                perform=perform,
                cancelled=lambda: run._cancelled(record, "UPDATE_FAILED", "update"),
                failed=failed,
            )

        return start

    def _rollback_cleanup(self, run: Run, plan: RollbackPlan) -> None:
        """UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: what the update added goes."""
        stack = run.stack
        new_template = plan.failed_update.template.resources
        with stack.lock:
            added = {lid: stack.resources[lid] for lid in plan.added if lid in stack.resources}
        tasks: dict[str, Task] = {lid: run.delete_task(record, retain=False) for lid, record in added.items()}
        for index, (logical_id, resource_type, provisioned, properties) in enumerate(plan.replacements):
            record = stack.resources.get(logical_id)
            if record is not None and record.provisioned is not provisioned:
                tasks[f"{logical_id}#new{index}"] = run.delete_copy_task(
                    logical_id, resource_type, provisioned, properties, retain=False
                )
        graph = resource_dependencies({lid: new_template.get(lid, {}) for lid in added})
        dependants = {lid: {other for other, needs in graph.items() if lid in needs} for lid in tasks}
        run.run_graph(tasks, dependants, stop_on_failure=False)
        with stack.lock:
            for logical_id in added:
                stack.resources.pop(logical_id, None)
