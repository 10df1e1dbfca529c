"""Unit tier: no network, no Node, no release build. AWS is moto in-process (`mock_aws`).

Every test here runs behind a guard: building a release, starting a process (Node for the
CDK, pip for the layer) or reaching anything but this process's own loopback servers
fails the test at once, naming what it tried. What a test needs from the infrastructure
comes from the small sources the infrastructure is built from (the ledger table's shape:
`lambdas.data.ledger_table`), or from a release made in code (`tests.unit.releases`); a
test that needs a synthesized template belongs in tests/infrastructure.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

import tests.conftest
from lambdas.core.deps import Deps
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger
from lambdas.data.ledger_table import attribute_definitions, key_schema
from lambdas.data.releases import ReleaseStore
from lambdas.data.stacks import Stacks

REGION = "us-east-1"
LEDGER = "dataall-test-installer-ledger"


class UnitTierBoundary(BaseException):
    """A unit test reached for something the unit tier does without. Not an Exception: code
    under test that answers any Exception (a custom resource's FAILED) cannot swallow it."""


def _refuse(what: str) -> NoReturn:
    raise UnitTierBoundary(
        f"the unit tier {what}; give the test what it needs in code, or move it to "
        "tests/infrastructure (a synthesized release) or tests/sandbox (a local AWS)"
    )


def _local(host: Any) -> bool:
    if host is None or host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def listening() -> Iterator[set[int]]:
    """The ports this process's own sockets listen on (recording only: it refuses nothing)."""
    ports: set[int] = set()
    listen = socket.socket.listen

    def recording_listen(self: socket.socket, *args: Any) -> None:
        listen(self, *args)
        if self.family in (socket.AF_INET, socket.AF_INET6):
            ports.add(self.getsockname()[1])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "listen", recording_listen)
        yield ports


@pytest.fixture(autouse=True)
def unit_tier_boundary(monkeypatch: pytest.MonkeyPatch, listening: set[int]) -> None:
    """Fail loudly on a release build, a subprocess, or a socket beyond this process.

    A loopback connection is allowed only to a port a socket of this process listens on
    (a test's stand-in server, like the custom-resource response URL's).
    """
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def allowed(self: socket.socket, address: Any) -> None:
        if self.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host, port = address[0], address[1]
        if not (_local(host) and port in listening):
            _refuse(f"opens no socket: connect to {host}:{port}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        allowed(self, address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        allowed(self, address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host.decode() if isinstance(host, bytes) else host):
            _refuse(f"looks up no host name: {host}")
        return getaddrinfo(host, *args, **kwargs)

    def no_process(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"starts no process (Node, pip ...): {args!r}")

    def no_build(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse("builds no release")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(subprocess.Popen, "_execute_child", no_process)
    monkeypatch.setattr(tests.conftest, "cached_synthetic_release", no_build)


@pytest.fixture(scope="session")
def release() -> NoReturn:
    _refuse("builds no release (the `release` fixture)")


@pytest.fixture(scope="session")
def bootstrap_template() -> NoReturn:
    _refuse("synthesizes no bootstrap template (the `bootstrap_template` fixture)")


#: botocore's service models, parsed once for the process. moto gives every test a new boto3
#: default session, whose own loader would parse them again: most of a small test's time.
_MODELS = botocore.loaders.create_loader()


@contextlib.contextmanager
def moto_aws() -> Iterator[None]:
    """AWS as moto in this process: test credentials, and none of the host's endpoint or profile."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            core = botocore.session.get_session()
            core.register_component("data_loader", _MODELS)
            boto3.setup_default_session(botocore_session=core)  # moto puts its own back when it stops
            yield


@pytest.fixture
def aws() -> Iterator[None]:
    with moto_aws():
        yield


def ledger_table(name: str = LEDGER, dynamodb: Any = None) -> Any:
    """The ledger table (within `mock_aws`), with the keys the bootstrap stack declares it with.

    `dynamodb`: a DynamoDB resource to reuse (making one costs more than the table).
    """
    dynamodb = dynamodb or boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=name,
        KeySchema=key_schema(),
        AttributeDefinitions=attribute_definitions(),
        BillingMode="PAY_PER_REQUEST",
    )


def moto_deps(artifacts_bucket: str) -> Deps:
    """The workflow's dependencies on moto (within `mock_aws`): a new ledger table, the release store
    of `artifacts_bucket` (made by the caller), and clients of the tests' region (another region's
    when a step asks for one)."""
    return Deps(
        settings=Settings(
            ledger_table=LEDGER, artifacts_bucket=artifacts_bucket, resource_prefix="dataall", env_name="test"
        ),
        ledger=Ledger(ledger_table()),
        store=ReleaseStore(boto3.client("s3", region_name=REGION), artifacts_bucket),
        stacks=Stacks(boto3.client("cloudformation", region_name=REGION)),
        sfn=boto3.client("stepfunctions", region_name=REGION),
        sns=boto3.client("sns", region_name=REGION),
        region=REGION,
        account_id="000000000000",
        regional_client=lambda service, region: boto3.client(service, region_name=region),
    )


def site_distribution(
    origin_domain: str, *, root_object: str | None = None, aliases: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A CloudFront distribution (within `mock_aws`, in us-east-1) with one S3 origin, the site's
    bucket by its domain name: the `Distribution` CreateDistribution answers."""
    config: dict[str, Any] = {
        "CallerReference": "test",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "site", "DomainName": origin_domain, "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    if root_object is not None:
        config["DefaultRootObject"] = root_object
    if aliases:
        config["Aliases"] = {"Quantity": len(aliases), "Items": list(aliases)}
    created = boto3.client("cloudfront", region_name="us-east-1").create_distribution(DistributionConfig=config)
    return dict(created["Distribution"])
