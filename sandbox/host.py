"""What the sandbox's services use of the sandbox that hosts them.

`Sandbox` (`sandbox.server`) builds its services (the Lambda runtime, CloudFormation) and hands
itself to them as their host. A service sees only this interface, never the server: the server
imports the services, not the other way round, and a test can host a service on a small fake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from sandbox.clock import Clock
from sandbox.databases import Databases
from sandbox.faults import FaultRegistry
from sandbox.images import ImageRegistry


class SandboxHost(Protocol):
    @property
    def endpoint(self) -> str:
        """The sandbox's URL: what a function gets as its `AWS_ENDPOINT_URL`, and custom
        resources as their answer's address."""

    @property
    def account_id(self) -> str: ...

    @property
    def region(self) -> str:
        """The sandbox's home region (where its own backends are made first)."""

    @property
    def clock(self) -> Clock:
        """Modelled time and how fast it passes."""

    @property
    def latency(self) -> bool:
        """Whether stack operations wait out the latency model (False: as fast as they can)."""

    @property
    def faults(self) -> FaultRegistry:
        """The faults armed in the sandbox (CloudFormation and the Lambda runtime both fire them)."""

    @property
    def work_dir(self) -> Path:
        """Where a service keeps its files (unpacked packages, databases) for the sandbox's life."""

    @property
    def databases(self) -> Databases:
        """Where the database clusters' data lives (`sandbox.databases`), and what the sandbox's
        network gives a function to reach it."""

    @property
    def images(self) -> ImageRegistry:
        """The container images the sandbox holds (`uri -> image root`), each also in its ECR."""

    def invoke_lambda_async(self, function: str, region: str, event: dict[str, Any]) -> None:
        """Invoke a function by name or ARN as InvocationType=Event: no waiting for it."""
