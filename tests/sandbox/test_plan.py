"""`plan` and the data-loss guard through whole runs (`make test-slow`; the default tier's sample
is in test_refused_runs.py, which shares its install).

data.all's upgrade from 2.8.0 to 2.9.0, previewed: what each stage's own change set says.

An option that removes the search domain (`OpenSearchServerless`: the domain's stage swaps it
for a collection; a Remove of an AWS::OpenSearchService::Domain): Plan refuses the redeploy
naming the stage, the resource and its type, changing nothing, and lets it through when
`allow_replacement` names exactly that resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from installer.aws import Aws
from installer.images import register_sandbox_images
from installer.operations import plan_run, publish
from installer.upstream import shared_upstream
from lambdas.data.releases import release_key
from tests.conftest import cached_dataall_release
from tests.sandbox.cloudformation.conftest import settle_change_set
from tests.sandbox.conftest import Outcome, deploy, run
from tests.sandbox.test_refused_runs import change_sets, stacks

pytestmark = pytest.mark.xdist_group("plan")


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Any) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


@pytest.mark.slow
def test_an_option_removing_the_search_domain_is_refused_and_passes_when_allowed(aws: Aws, installed: Outcome) -> None:
    document: dict[str, Any] = {"action": "redeploy", "options": {"OpenSearchServerless": True}}
    before = stacks(aws)

    refused_run = run(aws, installed, document)

    assert refused_run["status"] == "REFUSED"
    reason = refused_run["error"]["reason"]
    assert "stage opensearch" in reason and "AWS::OpenSearchService::Domain" in reason and "removed" in reason
    assert stacks(aws) == before
    domain = reason.split("stage opensearch: ", 1)[1].split(" ", 1)[0]

    allowed = run(aws, installed, {**document, "allow_replacement": [f"opensearch/{domain}"]})

    assert allowed["status"] == "SUCCEEDED", allowed["error"]
    current = installed.reader.ledger.current_release()
    assert current is not None and current.options["OpenSearchServerless"] is True


@pytest.mark.slow
@pytest.mark.skipif(
    not (shared_upstream("2.8.0").is_dir() and shared_upstream("2.9.0").is_dir()),
    reason="../shared/upstream/dataall holds data.all's releases",
)
def test_the_preview_of_dataalls_upgrade_is_what_its_change_sets_say(sandbox: Any) -> None:
    """data.all 2.8.0 installed, `plan` to 2.9.0: every stage's resources, actions and replacements
    are those of a change set of the stage's new template created by hand, and none is left."""
    aws = Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)
    older, newer = cached_dataall_release("2.8.0"), cached_dataall_release("2.9.0")
    for release in (older, newer):
        register_sandbox_images(aws, release, lambda _: None)
    previous = sandbox.clock.rescale(
        0.01
    )  # as tests/sandbox/test_dataall.py: data.all's custom resources take real seconds
    try:
        installed = deploy(aws, older)
        assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
        publish(aws, newer)

        preview = plan_run(aws, installed.outputs, {"action": "upgrade", "version": newer.version})
    finally:
        sandbox.clock.rescale(previous)

    assert preview["refused"] is False and preview["at_risk"] == []
    cfn = aws.client("cloudformation")
    bucket = installed.outputs["ArtifactsBucketName"]
    compared = 0
    for stage in preview["stages"]:
        if stage["action"] != "update":
            continue
        step = newer.manifest.steps[stage["stage"]]
        declared = json.loads((newer.path / str(step.template)).read_text()).get("Parameters", {})
        key = release_key(newer.version, str(step.template))
        current = {
            p["ParameterKey"] for p in cfn.describe_stacks(StackName=stage["stack"])["Stacks"][0].get("Parameters", [])
        }
        cfn.create_change_set(
            StackName=stage["stack"],
            ChangeSetName="by-hand",
            TemplateURL=f"https://{bucket}.s3.{aws.region}.amazonaws.com/{key}",
            Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in declared if k in current],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        try:
            described = settle_change_set(cfn, stage["stack"], "by-hand")
        finally:
            cfn.delete_change_set(StackName=stage["stack"], ChangeSetName="by-hand")
        expected = sorted(
            (
                c["ResourceChange"]["LogicalResourceId"],
                c["ResourceChange"]["Action"],
                c["ResourceChange"].get("Replacement"),
            )
            for c in described.get("Changes", [])
        )
        assert sorted((r["logical_id"], r["action"], r["replacement"]) for r in stage["resources"]) == expected, stage[
            "stage"
        ]
        compared += 1
    assert compared >= 10
    assert change_sets(aws) == []
