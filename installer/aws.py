"""AWS access for the CLI: the same code against AWS, a sandbox server or an embedded sandbox.

Only the endpoint differs: `--endpoint-url` (or `AWS_ENDPOINT_URL`) points every client at
one endpoint, as the sandbox is; without it boto3 talks to AWS with the operator's usual
credentials.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from installer.answers import Problem

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10}, user_agent_extra="dataall-installer-cli")


@functools.cache
def _sdk_data() -> botocore.loaders.Loader:
    """The SDK's service models and endpoint rules, read once per process and shared by every session
    (a session's own loader parses its endpoint rules again: tens of milliseconds per session)."""
    return botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))


def new_session(**kwargs: Any) -> boto3.session.Session:
    """`boto3.session.Session(**kwargs)`, on the process's one copy of the SDK's data."""
    core = botocore.session.Session()
    core.register_component("data_loader", _sdk_data())
    session = boto3.session.Session(botocore_session=core, **kwargs)
    paths = _sdk_data().search_paths  # boto3 adds its own data folder to the loader each session
    if len(paths) != len(set(paths)):
        paths[:] = list(dict.fromkeys(paths))
    return session


@dataclass
class Aws:
    region: str
    endpoint_url: str | None = None
    # made by this `Aws` for its region and endpoint, never copied into another (`init=False`)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _session: boto3.session.Session | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def session(self) -> boto3.session.Session:
        """One session per `Aws` (a session makes clients one thread at a time: boto3's sessions
        are not thread-safe, their clients are)."""
        with self._lock:
            if self._session is None:
                if self.endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
                    # A local endpoint accepts any credentials; don't make the operator invent some.
                    self._session = new_session(
                        aws_access_key_id="sandbox",
                        aws_secret_access_key="sandbox",  # noqa: S106 - not a secret: a local endpoint
                        region_name=self.region,
                    )
                else:
                    self._session = new_session(region_name=self.region)
            return self._session

    def client(self, service: str) -> Any:
        session = self.session
        with self._lock:
            if service not in self._clients:
                self._clients[service] = session.client(service, endpoint_url=self.endpoint_url, config=_CONFIG)
            return self._clients[service]

    def in_region(self, region: str) -> Aws:
        """The same account and endpoint, in `region` (a stage that lives elsewhere)."""
        return self if region == self.region else Aws(region=region, endpoint_url=self.endpoint_url)

    def table(self, name: str) -> Any:
        session = self.session
        with self._lock:
            return session.resource("dynamodb", endpoint_url=self.endpoint_url, config=_CONFIG).Table(name)


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def known_regions() -> set[str]:
    """The regions the SDK knows (its own endpoint data: no request), in every partition."""
    session = botocore.session.get_session()
    return {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("cloudformation", partition_name=partition)
    }


def check_region(region: str | None, flag: str = "--region") -> None:
    """A region AWS does not have is refused, named, before any request is made to it."""
    if region is not None and region not in known_regions():
        raise Problem("InvalidRegion", f"{flag} {region!r} is not an AWS region (e.g. us-east-1, eu-west-1)",
                      field=flag)  # fmt: skip


@contextlib.contextmanager
def connect(
    *,
    sandbox: bool,
    endpoint_url: str | None,
    region: str | None,
    scale: float = 0.01,
    faults: list[str] | None = None,
    database_url: str | None = None,
) -> Iterator[Aws]:
    """An `Aws` for one command; with `sandbox=True`, an embedded sandbox lives as long as it."""
    check_region(region)
    if sandbox and endpoint_url:
        raise Problem("InvalidArgument", "--sandbox and --endpoint-url exclude each other: choose one endpoint",
                      field="--endpoint-url")  # fmt: skip
    if not sandbox:
        url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        if faults and not url:
            raise Problem("InvalidFault", "--fault needs a sandbox: use --sandbox or a sandbox's --endpoint-url",
                          field="--fault")  # fmt: skip
        with armed_faults(str(url), faults) if faults else contextlib.nullcontext():
            yield Aws(region=region or default_region(), endpoint_url=url)
        return
    from sandbox.server import Sandbox

    quiet_sandbox_logs()
    with Sandbox(scale=scale, database_url=database_url) as box:
        for spec in faults or []:
            box.faults.add(spec)
        yield Aws(region=region or box.region, endpoint_url=box.endpoint)


def add_faults(endpoint_url: str, specs: list[str]) -> list[str]:
    """Arm faults in a running sandbox (`dataall-installer sandbox serve`); their ids."""
    answer = sandbox_control(endpoint_url, "faults", {"faults": specs})
    return [str(fault["id"]) for fault in answer.get("added", [])]


def remove_faults(endpoint_url: str, ids: list[str]) -> None:
    """Disarm the faults one command armed in a shared sandbox (spent or not)."""
    if ids:
        sandbox_control(endpoint_url, "faults", {"ids": ids}, method="DELETE")


@contextlib.contextmanager
def armed_faults(endpoint_url: str, specs: list[str] | None) -> Iterator[None]:
    """Faults armed in a shared sandbox for one command: disarmed when it ends, however it ends."""
    ids = add_faults(endpoint_url, specs) if specs else []
    try:
        yield
    finally:
        remove_faults(endpoint_url, ids)


def sandbox_control(
    endpoint_url: str, route: str, payload: Any = None, timeout: float = 30, method: str | None = None
) -> Any:
    """Ask a sandbox's control API (`/_sandbox/<route>`): POST `payload` as JSON (or `method`),
    or GET without one; the JSON answer."""
    import json
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - the operator's own sandbox endpoint
        f"{endpoint_url.rstrip('/')}/_sandbox/{route}",
        data=None if payload is None else json.dumps(payload).encode(),
        method=method or ("GET" if payload is None else "POST"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def quiet_sandbox_logs() -> None:
    """moto logs every failed state and werkzeug every request: noise next to live progress."""
    for name in ("moto", "werkzeug", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
