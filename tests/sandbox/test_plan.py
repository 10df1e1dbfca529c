"""`plan` and the data-loss guard against an installed sandbox.

A template edited to change the database's create-only `DatabaseName` (AWS::RDS::DBCluster:
"Update requires: Replacement",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbcluster.html)
and an option that removes the search domain (`OpenSearchServerless`): a plan-only run
previews them from change sets it deletes, Plan refuses them naming the stage, resource, type
and property, changing nothing, and lets them through when `allow_replacement` names them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from installer.aws import Aws
from installer.build import Release
from installer.operations import plan_run, publish
from lambdas.run.refusals import refused
from tests.sandbox.conftest import INSTALLATION, Outcome, deploy, run
from tests.sandbox.test_refused_runs import ledger, stacks

pytestmark = pytest.mark.xdist_group("plan")


def edited(release: Release, folder: Path, version: str, stage: str, edit: Callable[[dict[str, Any]], None]) -> Release:
    """The release as `version`, with one stage's template edited (every other file linked)."""
    import hashlib

    manifest = json.loads((release.path / "manifest.json").read_text())
    template_name = release.manifest.steps[stage].template
    assert template_name is not None
    for name in manifest["files"]:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name != template_name:
            target.symlink_to(release.path / name)
    document = release.template(stage)
    edit(document)
    body = json.dumps(document, indent=1).encode()
    (folder / template_name).write_bytes(body)
    manifest["files"][template_name] = hashlib.sha256(body).hexdigest()
    manifest["version"] = version
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return Release.load(folder)


def rename_database(template: dict[str, Any]) -> None:
    template["Resources"]["Cluster"]["Properties"]["DatabaseName"] = "renamed"


@pytest.fixture(scope="module")
def aws(sandbox_session: Any) -> Aws:
    sandbox_session.reset()
    return Aws(region=sandbox_session.region, endpoint_url=sandbox_session.endpoint)


@pytest.fixture(scope="module")
def installed(aws: Aws, release: Any) -> Iterator[Outcome]:
    outcome = deploy(aws, release)
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    yield outcome


@pytest.fixture(scope="module")
def renamed(aws: Aws, release: Release, tmp_path_factory: pytest.TempPathFactory) -> Release:
    newer = edited(release, tmp_path_factory.mktemp("renamed"), "2.8.1", "aurora", rename_database)
    publish(aws, newer)
    return newer


def change_sets(aws: Aws) -> list[str]:
    cfn = aws.client("cloudformation")
    return [
        summary["ChangeSetName"]
        for name in stacks(aws)
        for summary in cfn.list_change_sets(StackName=name)["Summaries"]
    ]


def test_a_plan_previews_the_database_replacement_and_leaves_no_change_set_lock_or_run(
    aws: Aws, installed: Outcome, renamed: Release
) -> None:
    before = (stacks(aws), ledger(aws, installed))

    preview = plan_run(aws, installed.outputs, {"action": "upgrade", "version": renamed.version})

    by_stage = {stage["stage"]: stage for stage in preview["stages"]}
    cluster = next(r for r in by_stage["aurora"]["resources"] if r["logical_id"] == "Cluster")
    assert by_stage["aurora"]["action"] == "update"
    assert (cluster["action"], cluster["replacement"], cluster["forcing"]) == ("Modify", "True", ["DatabaseName"])
    assert cluster["holds_data"] == "type"
    assert {stage["action"] for name, stage in by_stage.items() if name != "aurora"} <= {"nothing", "run", "update"}
    assert {risk["key"] for risk in preview["at_risk"]} >= {"aurora/Cluster"}
    assert preview["refused"] is True
    # Nothing executed, nothing kept: no change set, no lock, no run in the ledger, no stack touched.
    assert change_sets(aws) == []
    assert (stacks(aws), ledger(aws, installed)) == before


def test_the_preview_says_what_the_change_set_says(aws: Aws, installed: Outcome, renamed: Release) -> None:
    """The same change set created by hand: the same resources, actions, replacements."""
    preview = plan_run(aws, installed.outputs, {"action": "upgrade", "version": renamed.version})
    cfn = aws.client("cloudformation")
    stack = INSTALLATION.stage_stack("aurora")
    parameters = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName="by-hand",
        TemplateBody=(renamed.path / "blueprints" / "aurora.template.json").read_text(),
        Parameters=[{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in parameters],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    try:
        described = cfn.get_waiter("change_set_create_complete").wait(StackName=stack, ChangeSetName="by-hand")
        described = cfn.describe_change_set(StackName=stack, ChangeSetName="by-hand")
    finally:
        cfn.delete_change_set(StackName=stack, ChangeSetName="by-hand")

    expected = {
        (
            c["ResourceChange"]["LogicalResourceId"],
            c["ResourceChange"]["Action"],
            c["ResourceChange"].get("Replacement"),
        )
        for c in described["Changes"]
    }
    aurora = next(stage for stage in preview["stages"] if stage["stage"] == "aurora")
    assert {(r["logical_id"], r["action"], r["replacement"]) for r in aurora["resources"]} == expected


def test_plan_refuses_the_run_naming_stage_resource_type_and_property_and_changes_nothing(
    aws: Aws, installed: Outcome, renamed: Release
) -> None:
    before = (stacks(aws), installed.reader.ledger.current_release())

    result = run(aws, installed, {"action": "upgrade", "version": renamed.version, "source": "cli"})

    execution = aws.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    refusal = refused(execution)
    assert execution["status"] == "SUCCEEDED" and result["status"] == "REFUSED"
    assert refusal is not None and refusal["code"] == "DataAtRisk"
    for named in ("stage aurora", "Cluster", "AWS::RDS::DBCluster", "DatabaseName", '"aurora/Cluster"'):
        assert named in refusal["reason"]
    assert (stacks(aws), installed.reader.ledger.current_release()) == before
    assert installed.reader.ledger.lock() is None
    assert change_sets(aws) == []


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
