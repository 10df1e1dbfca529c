"""The AWS CDK CLI (`aws-cdk`, pinned in `sandbox/cdk_cli/`) as a client of the sandbox's
endpoint, as a new user runs it against AWS: `cdk bootstrap`, then `cdk deploy`, a second
`cdk deploy` with a changed property, and `cdk destroy`, checked through boto3.

The sandbox behaviours the CLI needed are pinned one by one, with the AWS documentation, in
`tests/sandbox/cloudformation/test_change_sets.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox import cdk_cli_app
from tests.sandbox.cdk_cli_app import PARAMETER, STACK, VERSIONS
from tests.sandbox.conftest import Clients

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "sandbox/cdk_cli/node_modules/.bin/cdk"

pytestmark = pytest.mark.skipif(not CDK.exists(), reason="the pinned CDK CLI is not installed: run make setup")


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The app's cloud assemblies, first deployment and update, synthesized once."""
    folder = tmp_path_factory.mktemp("cdk-cli-app")
    first, second = folder / "first.out", folder / "second.out"
    subprocess.run(
        [sys.executable, cdk_cli_app.__file__, str(first), str(second)],
        check=True, capture_output=True, text=True, timeout=300,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
    )  # fmt: skip
    return first, second


def cdk(sandbox: Any, home: Path, *arguments: str) -> str:
    """`cdk ARGUMENTS` with the sandbox's endpoint and dummy credentials, as a user would run it."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    environment.update(
        AWS_ENDPOINT_URL=sandbox.endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=sandbox.region,
        AWS_DEFAULT_REGION=sandbox.region,
        CDK_HOME=str(home),  # the CLI's caches, not the user's ~/.cdk
        CDK_DISABLE_CLI_TELEMETRY="true",
        CDK_DISABLE_VERSION_CHECK="1",
    )
    done = subprocess.run(
        [str(CDK), *arguments, "--no-notices"],
        cwd=home, env=environment, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"cdk {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _queue(clients: Clients) -> tuple[str, str]:
    """The stack's queue: its URL and VisibilityTimeout."""
    (url,) = clients("sqs").list_queues(QueueNamePrefix=f"{STACK}-Queue")["QueueUrls"]
    attributes = clients("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    return url, attributes["Attributes"]["VisibilityTimeout"]


def _stack_status(clients: Clients) -> str:
    return str(clients("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"])


def test_cdk_bootstrap_deploy_update_and_destroy(
    sandbox: Any, clients: Clients, assemblies: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = assemblies
    (first_timeout, first_value), (second_timeout, second_value) = VERSIONS
    environment = f"aws://{sandbox.account_id}/{sandbox.region}"

    # Given a bootstrapped environment
    assert "bootstrapped" in cdk(sandbox, tmp_path, "bootstrap", environment)
    version = clients("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")["Parameter"]["Value"]
    assert int(version) >= 6  # what the synthesizer's BootstrapVersion rule asks for

    # When the app is deployed, its resources exist
    cdk(sandbox, tmp_path, "deploy", "--app", str(first), "--require-approval", "never", STACK)
    assert _stack_status(clients) == "CREATE_COMPLETE"
    queue_url, timeout = _queue(clients)
    assert timeout == str(first_timeout)
    assert clients("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == first_value
    (bucket,) = [
        b["Name"] for b in clients("s3").list_buckets()["Buckets"] if b["Name"].startswith(STACK.lower() + "-bucket")
    ]

    # When the changed app is deployed, the queue is updated in place and the parameter changed
    cdk(sandbox, tmp_path, "deploy", "--app", str(second), "--require-approval", "never", STACK)
    assert _stack_status(clients) == "UPDATE_COMPLETE"
    assert _queue(clients) == (queue_url, str(second_timeout))
    assert clients("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == second_value

    # A deploy of the same app again changes nothing
    assert "(no changes)" in cdk(sandbox, tmp_path, "deploy", "--app", str(second), "--require-approval", "never")

    # When the app is destroyed, its resources are gone
    cdk(sandbox, tmp_path, "destroy", "--app", str(second), "--force", STACK)
    cfn = clients("cloudformation")
    assert STACK not in {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    assert clients("sqs").list_queues(QueueNamePrefix=f"{STACK}-Queue").get("QueueUrls", []) == []
    with pytest.raises(ClientError, match="ParameterNotFound"):
        clients("ssm").get_parameter(Name=PARAMETER)
    assert bucket not in {b["Name"] for b in clients("s3").list_buckets()["Buckets"]}
