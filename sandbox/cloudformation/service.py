"""The sandbox's CloudFormation endpoint: query-protocol requests in, XML out.

`Sandbox` sends every request signed for `cloudformation` here, and custom resources'
answers (`PUT /_sandbox/cfn-response/<token>`) too. Stacks are kept per region, the
region being the one in the request's SigV4 credential scope, as in AWS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from lambdas.stage.latency import LatencyModel
from sandbox import moto_internals
from sandbox.cloudformation import protocol
from sandbox.cloudformation.api import CloudFormationApi, stack_name_of
from sandbox.cloudformation.calls import ApiCalls
from sandbox.cloudformation.engine import Engine, Environment
from sandbox.cloudformation.errors import CloudFormationError, InternalFailureError, ThrottlingError
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.custom import CustomResourceProvider
from sandbox.cloudformation.providers.registry import ProviderRegistry
from sandbox.cloudformation.status_events import StatusChangeEvents
from sandbox.cloudformation.store import RegionStore
from sandbox.host import SandboxHost
from sandbox.sigv4 import region_of

LOG = logging.getLogger("dataall_installer.sandbox.cloudformation")

StartResponse = Callable[..., Any]


class CloudFormationService:
    """CloudFormation for one sandbox: its API, its engine, its stacks per region."""

    def __init__(self, host: SandboxHost) -> None:
        self._host = host
        # What moto's services get wrong for the resources templates make and name.
        moto_internals.fix_route53_zone_ids()
        moto_internals.fix_aoss_collection_encryption()
        moto_internals.fix_elbv2_application_dns_names()
        moto_internals.fix_elbv2_deletion_protection()
        moto_internals.fix_private_rest_api_deployments()
        moto_internals.fix_ecs_deleted_services_unlisted()
        self.databases = host.databases
        clients = ServiceClients(host.endpoint, self.databases)
        self.custom_resources = CustomResourceProvider(host.invoke_lambda_async, host.endpoint, host.clock.wall)
        self.engine = Engine(
            Environment(
                clock=host.clock,
                latency_enabled=host.latency,
                latency=LatencyModel.load(),
                faults=host.faults,
                providers=ProviderRegistry(clients, self.custom_resources),
                clients=clients,
                availability_zones=moto_internals.availability_zones,
            )
        )
        #: every stack status change, on EventBridge's default bus of the stack's region
        self.status_events = StatusChangeEvents(moto_internals.put_default_bus_event)
        # moto makes its first events backend slowly (~0.1 s): now, not in the first stack operation
        moto_internals.backend("events", host.region, host.account_id)
        self._regions: dict[str, RegionStore] = {}
        self._lock = threading.Lock()
        self.api = CloudFormationApi(self.engine, host.account_id, self.region)
        self.engine.env.providers.nested_stacks.bind(self.api.call)
        #: the API calls answered so far, per action (benchmarks read them)
        self.calls = ApiCalls()

    # ------------------------------------------------------------------ lifecycle
    def region(self, name: str) -> RegionStore:
        with self._lock:
            store = self._regions.get(name)
            if store is None:
                store = self._regions[name] = RegionStore(name, on_status=self.status_events.publish)
            return store

    def reset(self) -> None:
        """Forget every stack and stop every operation, and the data of the clusters they made."""
        self.engine.stop_all()
        self.status_events.forget_all()
        self.custom_resources.forget_all()
        self.databases.forget_all()
        self.calls.clear()
        with self._lock:
            self._regions.clear()

    def shutdown(self) -> None:
        self.engine.stop_all()
        self.status_events.shutdown()

    def custom_resource_response(self, token: str, body: bytes) -> None:
        if not self.custom_resources.respond(token, body):
            LOG.warning("a custom resource answered for unknown or expired token %s", token)

    # ------------------------------------------------------------------ http
    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = protocol.new_request_id()
        form = self._form(environ)
        action = form.get("Action", "")
        if action:
            self.calls.record(action)
        try:
            request = protocol.decode_request(action, form)
            self._throttle(request)
            result = self.api.call(action, region_of(environ), request)
            body, status = protocol.encode_response(action, result, request_id), "200 OK"
        except CloudFormationError as error:
            body, status = protocol.encode_error(error, request_id), f"{error.status} Error"
        except Exception:
            LOG.exception("CloudFormation %s failed in the sandbox", action)
            failure = InternalFailureError(f"The sandbox failed to process {action}; see its log.")
            body, status = protocol.encode_error(failure, request_id), "500 Internal Server Error"
        start_response(
            status,
            [
                ("Content-Type", "text/xml"),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", request_id),
            ],
        )
        return [body]

    def _throttle(self, request: dict[str, Any]) -> None:
        """A stack with an armed `throttle` fault: AWS's `Throttling: Rate exceeded`."""
        name = request.get("StackName")
        if name and self._host.faults.fire("throttle", stack_name_of(str(name))):
            raise ThrottlingError("Rate exceeded")

    @staticmethod
    def _form(environ: dict[str, Any]) -> dict[str, str]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        pairs += parse_qsl(body, keep_blank_values=True)
        return dict(pairs)
