"""Sandbox tier: the real bootstrap template, ASL, Lambda packages and blueprints, installed
in the local AWS sandbox through the same code the CLI runs."""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from installer.aws import Aws
from installer.operations import (
    DEFAULT_BUCKET_PREFIX,
    Installation,
    RunReader,
    bootstrap_parameters,
    deploy_bootstrap,
    publish,
    result_document,
    start,
)

INSTALLATION = Installation(prefix="dataall", env="test")
#: `clients(service, region=None)`: a boto3 client of the sandbox, as any AWS client would be made.
Clients = Callable[..., Any]


@pytest.fixture
def clients(sandbox: Any) -> Clients:
    def make(service: str, region: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.endpoint,
            region_name=region or sandbox.region,
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )

    return make


def package(files: dict[str, str]) -> bytes:
    """A function's deployment package (zip) holding these files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@dataclass
class Outcome:
    result: dict[str, Any]
    reader: RunReader
    outputs: dict[str, str]
    changed: bool = True


@pytest.fixture
def data_all_pace(sandbox: Any) -> Iterator[None]:
    """The sandbox at 100x rather than the tests' 500x: data.all's custom resources (BucketDeployment's
    `aws s3 sync`, the Node.js providers) take real seconds, which at 500x would count as most of a
    stage's 1,800 modelled seconds."""
    previous = sandbox.clock.rescale(0.01)
    yield
    sandbox.clock.rescale(previous)


@pytest.fixture
def aws(sandbox: Any) -> Aws:
    return Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)


def wait(reader: RunReader, execution_arn: str, timeout: float = 600) -> dict[str, Any]:
    """The run's result document once it ends. Its status alone is polled: the whole view (the
    ledger's steps, every stage's stack) is read once, at the end (read 5 times a second, it cost
    the sandbox a tenth of its CPU)."""
    deadline = time.monotonic() + timeout
    stepfunctions = reader.aws.client("stepfunctions")
    while stepfunctions.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError(f"run {execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.2)
    view = reader.view(execution_arn)
    assert view.finished, view.status
    return result_document(view, reader.transitions(execution_arn))


def deploy(
    aws: Aws, release: Any, params: dict[str, str] | None = None, installation: Installation = INSTALLATION
) -> Outcome:
    """`dataall-installer deploy`: publish, create or update the bootstrap stack, follow the run."""
    bucket = publish(aws, release, DEFAULT_BUCKET_PREFIX)
    parameters = bootstrap_parameters(release, installation, DEFAULT_BUCKET_PREFIX, params or {})
    changed, outputs = deploy_bootstrap(aws, release, installation, bucket, parameters)
    reader = RunReader(aws, installation, outputs)
    if not changed:
        return Outcome(result={}, reader=reader, outputs=outputs, changed=False)
    return Outcome(result=wait(reader, outputs["RunExecutionArn"]), reader=reader, outputs=outputs)


def stateful_and_what_they_run_on(release: Any) -> set[str]:
    """The stages a failed install may leave: stateful ones, and the stages they need."""
    steps = release.manifest.steps
    kept = {name for name, step in steps.items() if step.is_stage and step.stateful}
    frontier = set(kept)
    while frontier:
        frontier = {d for name in frontier for d in steps[name].dependencies() if steps[d].is_stage} - kept
        kept |= frontier
    return kept


def run(aws: Aws, outcome: Outcome, document: dict[str, Any]) -> dict[str, Any]:
    """`dataall-installer run ...` against an installation."""
    return wait(outcome.reader, start(aws, outcome.outputs, document))


def installed_name(value: Any, installation: Installation = INSTALLATION) -> str:
    """A name a release's template gives (a literal, or the names rule's `Fn::Sub` of `${ResourcePrefix}` and
    `${EnvName}`) as the installation's stage has it."""
    text = rules.name_template(value)
    first6 = installation.prefix[:6]
    return (
        text.replace("${ResourcePrefixFirst6}", first6)
        .replace("${ResourcePrefix}", installation.prefix)
        .replace("${EnvName}", installation.env)
    )


def dataall_revisions(sandbox: Any, schema: str = INSTALLATION.env) -> dict[str, str]:
    """database -> the alembic revision data.all's schema (its `envname`: the installation's EnvName) is at, in
    the sandbox's PostgreSQL server."""
    server = sandbox.databases.server
    assert server is not None, "no PostgreSQL cluster was created"
    admin = server.admin()
    try:
        names = [row[0] for row in admin.run("SELECT datname FROM pg_database WHERE NOT datistemplate")]
    finally:
        admin.close()
    found = {}
    for name in names:
        connection = server.admin(name)
        try:
            if connection.run(
                "SELECT 1 FROM pg_tables WHERE schemaname = :schema AND tablename = 'alembic_version'", schema=schema
            ):
                found[name] = connection.run(f"SELECT version_num FROM {schema}.alembic_version")[0][0]
        finally:
            connection.close()
    return found


def require_postgres_server(sandbox: Any) -> None:
    """Skip where PostgreSQL is not installed (the sandbox falls back to SQLite); under CI, which
    installs it, fail instead, so that these tests cannot pass by not running."""
    mode = sandbox.databases.mode
    if mode == "server":
        return
    reason = f"the sandbox keeps its clusters' data in {mode!r} mode: PostgreSQL is not installed"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI installs it)", pytrace=False)
    pytest.skip(reason)
