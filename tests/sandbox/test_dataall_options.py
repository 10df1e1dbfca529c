"""data.all's options on an installed data.all (README: "Options"): a value option changes the one
stage whose template takes it, the ProdSizing variant the stages whose template differs; every
other stage is left as it is (UNCHANGED), and each changed stage is updated in place."""

from __future__ import annotations

from typing import Any

import pytest

from installer.aws import Aws
from installer.images import register_sandbox_images
from installer.upstream import shared_upstream
from lambdas.run.refusals import refused
from tests.conftest import cached_dataall_release
from tests.sandbox.conftest import INSTALLATION, deploy, run
from tests.sandbox.test_dataall import HOME

pytestmark = [
    pytest.mark.skipif(not shared_upstream("2.9.0").is_dir(), reason="../shared/upstream/dataall is not here"),
    pytest.mark.xdist_group("dataall"),
    pytest.mark.slow,
]


def _changed(outcome: Any, result: dict[str, Any], release: Any) -> set[str]:
    """The stages a run deployed (not left UNCHANGED)."""
    steps = outcome.reader.ledger.steps(result["execution_arn"].rsplit(":", 1)[1])
    stages = {stage.name for stage in release.manifest.stages()}
    return {name for name, step in steps.items() if name in stages and step.result != "UNCHANGED"}


def _stack_ids(aws: Aws, release: Any) -> dict[str, str]:
    ids = {}
    for stage in release.manifest.stages():
        cfn = Aws(region=stage.region or aws.region, endpoint_url=aws.endpoint_url).client("cloudformation")
        (stack,) = cfn.describe_stacks(StackName=INSTALLATION.stage_stack(stage.name))["Stacks"]
        ids[stage.name] = stack["StackId"]
    return ids


def test_an_installed_data_all_takes_a_value_option_and_prod_sizing_changing_only_their_stages(
    sandbox: Any, data_all_pace: None
) -> None:
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0", variants=True)
    varying = {step.name for step in release.manifest.stages() if step.variants}
    assert varying == {"params", "lambdas", "ecs", "aurora", "opensearch"}
    register_sandbox_images(aws, release, lambda _: None)
    installed = deploy(aws, release, {"OnDelete": "Destroy"})
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    cognito, rds = aws.client("cognito-idp"), aws.client("rds")
    (pool,) = cognito.list_user_pools(MaxResults=10)["UserPools"]
    (client,) = cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=10)["UserPoolClients"]
    stacks = _stack_ids(aws, release)

    def refresh_validity() -> int:
        described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])
        return int(described["UserPoolClient"]["RefreshTokenValidity"])

    def capacity() -> dict[str, Any]:
        (cluster,) = rds.describe_db_clusters()["DBClusters"]
        return dict(cluster["ServerlessV2ScalingConfiguration"])

    assert refresh_validity() == 43200 and capacity() == {"MinCapacity": 4, "MaxCapacity": 16}

    # a value option: data.all's cognito_user_session_timeout_inmins, in the cognito stage alone
    timeout = run(aws, installed, {"action": "redeploy", "options": {"SessionTimeoutMinutes": 120}})
    assert timeout["status"] == "SUCCEEDED", timeout["error"]
    assert _changed(installed, timeout, release) == {"cognito"}
    assert refresh_validity() == 120

    # data.all's throttling: the API stage's method settings, in the lambdas stage alone
    throttled = run(aws, installed, {"action": "redeploy", "options": {"ApiRateLimit": 200}})
    assert throttled["status"] == "SUCCEEDED", throttled["error"]
    assert _changed(installed, throttled, release) == {"lambdas"}
    apigateway = aws.client("apigateway")
    (api,) = apigateway.get_rest_apis()["items"]
    (stage,) = apigateway.get_stages(restApiId=api["id"])["item"]
    every = stage["methodSettings"]["*/*"]
    assert (every["throttlingRateLimit"], every["throttlingBurstLimit"]) == (200.0, 5000)

    # an option of data.all's that this release does not serve: refused by name, nothing changed
    unserved = run(aws, installed, {"action": "redeploy", "options": {"InternetFacing": False}})
    execution = aws.client("stepfunctions").describe_execution(executionArn=unserved["execution_arn"])
    refusal = refused(execution)
    assert refusal is not None and refusal["code"] == "InvalidOptions", refusal
    assert refusal["field"] == "options.InternetFacing" and "this release accepts" in refusal["reason"]

    # the variant: data.all's prod_sizing off, in the stages whose template differs
    smaller = run(aws, installed, {"action": "redeploy", "options": {"ProdSizing": False}})
    assert smaller["status"] == "SUCCEEDED", smaller["error"]
    assert _changed(installed, smaller, release) == varying
    assert capacity() == {"MinCapacity": 2, "MaxCapacity": 8}
    assert refresh_validity() == 120  # the option set before stays
    assert _stack_ids(aws, release) == stacks  # every stage updated in place, none replaced
    options = installed.reader.options(installed.reader.ledger.current_release())
    assert options["ProdSizing"]["value"] is False and options["SessionTimeoutMinutes"]["value"] == 120
    assert options["ProdSizing"]["source"].endswith("run " + smaller["execution_arn"].rsplit(":", 1)[1])
    assert options["SessionTimeoutMinutes"]["source"].endswith("run " + timeout["execution_arn"].rsplit(":", 1)[1])
    # the bootstrap stack gave every option of its form (defaults included) to the install
    assert options["LogRetentionDays"]["value"] == 731
    assert options["LogRetentionDays"]["source"] == "trigger run " + installed.result["execution_arn"].rsplit(":", 1)[1]

    again = run(aws, installed, {"action": "redeploy"})
    assert again["status"] == "SUCCEEDED", again["error"]
    assert _changed(installed, again, release) == set()
