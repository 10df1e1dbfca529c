"""The plan step refuses bad input, a held lock, a damaged release and impossible options,
each with a message that names what is wrong, and changes nothing when it does."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest

from lambdas.core.deps import Deps
from lambdas.core.errors import DataAtRisk, InvalidInput, InvalidOptions, LockHeld, ReleaseInvalid
from lambdas.core.messages import PlanRequest
from lambdas.data.records import ReleaseRecord, StageRecord
from lambdas.data.releases import release_key
from lambdas.run.planning import plan
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, platform, small_release, stage

ARTIFACTS = "dataall-test-artifacts"


@pytest.fixture
def release() -> SmallRelease:
    return platform()


@pytest.fixture
def deps(aws: None, release: SmallRelease) -> Deps:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    release.publish(s3, ARTIFACTS)
    return moto_deps(ARTIFACTS)


def request(document: dict[str, Any], name: str = "install-2-8-0-abc") -> PlanRequest:
    return PlanRequest.model_validate(
        {
            "input": document,
            "execution": {"Id": f"arn:aws:states:{REGION}:000000000000:execution:sm:{name}", "Name": name},
        }
    )


def nothing_changed(deps: Deps) -> bool:
    return deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []


def test_a_valid_install_takes_the_lock_and_plans_every_step_after_what_it_waits_for(
    deps: Deps, release: SmallRelease
) -> None:
    manifest = release.manifest
    options = manifest.resolve_options()

    result = plan(deps, request({"action": "install", "version": release.version}))

    steps = result["steps"]
    assert [s["name"] for s in steps] == [n for wave in manifest.waves(options) for n in wave]
    active = manifest.active_steps(options)
    for step in steps:
        assert step["waits"] == bool(active[step["name"]].dependencies() & set(active)), step
    lock = deps.ledger.lock()
    assert lock is not None and lock.run == "install-2-8-0-abc"
    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.status == "RUNNING" and run.params["ResourcePrefix"] == "dataall"
    assert run.after["lambda-api"] == sorted(active["lambda-api"].dependencies())
    assert "cloudfront" not in run.order  # left out: InternetFacing is off


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"action": "reinstall", "version": "2.8.0"}, "action"),
        ({"action": "upgrade"}, "version"),
        ({"action": "upgrade", "version": "latest"}, "version"),
        ({"action": "redeploy", "colour": "blue"}, "colour"),
        ({"action": "redeploy", "options": {"ProdSizing": ["yes"]}}, "options.ProdSizing"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(deps: Deps, document: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        plan(deps, request(document))

    assert nothing_changed(deps)


def test_a_second_run_while_one_holds_the_lock_fails_at_once(deps: Deps, release: SmallRelease) -> None:
    deps.ledger.acquire_lock("arn:other", "install-other", is_running=lambda arn: True)
    deps.sfn = _Running()

    with pytest.raises(LockHeld, match="install-other"):
        plan(deps, request({"action": "install", "version": release.version}))

    assert deps.ledger.run("install-2-8-0-abc") is None


def test_a_tampered_release_file_is_refused_naming_the_file(deps: Deps, release: SmallRelease) -> None:
    template = next(iter(release.files))
    key = release_key(release.version, template)
    boto3.client("s3", region_name=REGION).put_object(Bucket=ARTIFACTS, Key=key, Body=b"{}")

    with pytest.raises(ReleaseInvalid, match=f"file {template} does not match"):
        plan(deps, request({"action": "install", "version": release.version}))

    assert nothing_changed(deps)


def test_a_release_that_is_nowhere_is_refused(deps: Deps) -> None:
    with pytest.raises(ReleaseInvalid, match=r"release 9\.9\.9 is not in the artifacts bucket"):
        plan(deps, request({"action": "upgrade", "version": "9.9.9"}))

    assert nothing_changed(deps)


def test_an_unknown_option_is_refused_with_the_options_the_release_takes(deps: Deps, release: SmallRelease) -> None:
    with pytest.raises(InvalidOptions, match=r"options.Colour: unknown option; this release accepts"):
        plan(deps, request({"action": "install", "version": release.version, "options": {"Colour": "blue"}}))

    assert nothing_changed(deps)


class _Running:
    """A Step Functions client whose every execution is RUNNING."""

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": "RUNNING", "executionArn": executionArn, "input": json.dumps({})}


def test_plan_reads_each_release_template_once(deps: Deps, release: SmallRelease) -> None:
    """Plan verifies every file of the release (sha256) and then checks the templates it read:
    a template is fetched from S3 once per Plan, not once more for the checks."""
    reads: list[str] = []
    s3 = deps.store.s3
    get_object = s3.get_object

    def counted(**kwargs: Any) -> Any:
        reads.append(kwargs["Key"])
        return get_object(**kwargs)

    s3.get_object = counted
    try:
        plan(deps, request({"action": "install", "version": release.version}))
    finally:
        s3.get_object = get_object

    templates = [key for key in reads if key.endswith(".template.json")]
    assert templates, reads
    assert len(templates) == len(set(templates)), sorted(templates)


def test_a_plan_only_run_keeps_its_preview_records_no_run_and_releases_the_lock(
    deps: Deps, release: SmallRelease
) -> None:
    result = plan(deps, request({"action": "install", "version": release.version, "plan_only": True}))

    planned = result["planned"]
    preview = json.loads(deps.store.read(planned["preview"]))
    stages = {stage["stage"]: stage for stage in preview["stages"]}
    assert {stage["action"] for stage in stages.values()} <= {"create", "run"}
    assert all(r["action"] == "Add" for stage in stages.values() for r in stage["resources"])
    assert (planned["would_refuse"], preview["refused"], preview["at_risk"]) == (False, False, [])
    assert result["steps"] == []
    assert nothing_changed(deps)


def test_allow_replacement_naming_no_stage_of_the_release_is_refused_and_changes_nothing(
    deps: Deps, release: SmallRelease
) -> None:
    document = {"action": "install", "version": release.version, "allow_replacement": ["nosuchstage/Cluster"]}

    with pytest.raises(InvalidInput) as refused:
        plan(deps, request(document))

    assert refused.value.field == "allow_replacement.0"
    assert "nosuchstage/Cluster" in str(refused.value)
    assert nothing_changed(deps)


def installed(deps: Deps, stage: str, stack_id: str | None = None) -> None:
    deps.ledger.put_stage(
        StageRecord(
            stage=stage,
            stack_name=f"dataall-test-{stage}",
            stack_id=stack_id or f"arn:aws:cloudformation:{REGION}:000000000000:stack/dataall-test-{stage}/1",
            version="2.8.0",
            template_sha256="0" * 64,
            parameters={},
            outputs={},
            status="CREATE_COMPLETE",
            stateful=False,
            run="install-2-8-0-before",
        )
    )


def test_an_installed_stage_whose_condition_the_options_turn_off_is_deleted_first(
    deps: Deps, release: SmallRelease
) -> None:
    installed(deps, "cloudfront")  # installed while InternetFacing was on

    result = plan(deps, request({"action": "redeploy", "version": release.version, "options": {}}, "redeploy-1"))

    steps = {s["name"]: s for s in result["steps"]}
    assert steps["cloudfront"] == {"name": "cloudfront", "kind": "stage", "op": "delete", "waits": False}
    assert {s["op"] for n, s in steps.items() if n != "cloudfront"} == {"deploy"}
    run = deps.ledger.run("redeploy-1")
    assert run is not None and run.order[0] == "cloudfront"
    # lambda-api, which cloudfront reads, is deployed after cloudfront is gone
    assert "cloudfront" in run.after["lambda-api"]


def test_a_stage_whose_condition_is_off_and_that_is_not_installed_is_left_out(
    deps: Deps, release: SmallRelease
) -> None:
    result = plan(deps, request({"action": "redeploy", "version": release.version, "options": {}}, "redeploy-2"))

    assert "cloudfront" not in [s["name"] for s in result["steps"]]


def test_turning_off_a_stage_that_holds_data_is_refused_naming_what_it_would_remove(deps: Deps) -> None:
    # Given a release whose `store` stage (a bucket) exists only with Keep, installed with Keep on
    release = small_release(
        stage("vpc"),
        stage("store", stateful=True, when={"option": "Keep", "equals": True}),
        options={"Keep": {"type": "boolean", "default": True}},
        version="2.9.0",
    )
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    body = json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}})
    stack_id = boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="dataall-test-store", TemplateBody=body
    )["StackId"]
    installed(deps, "store", stack_id=stack_id)

    # When a redeploy turns Keep off
    with pytest.raises(DataAtRisk) as refused_run:
        plan(deps, request({"action": "redeploy", "version": "2.9.0", "options": {"Keep": False}}, "redeploy-3"))

    # Then the data-loss guard refuses it, naming the bucket the stage's deletion would remove
    assert refused_run.value.field == "stages.store.Bucket"
    assert "stage store: Bucket (AWS::S3::Bucket, holds data: type) would be removed" in str(refused_run.value)
    assert nothing_changed(deps)


def test_a_stage_an_option_swaps_in_is_created_after_the_one_it_replaces_is_deleted(deps: Deps) -> None:
    """data.all's EnableOpenSearchServerless: the domain's stage and the collection's both make data.all's
    search SSM parameters, so the one the run creates waits for the deletion of the one it turns off."""
    release = small_release(
        stage("vpc", outputs=("VpcId",)),
        stage("search", when={"option": "Serverless", "equals": False}, outputs=("Id",)),
        stage("collection", depends_on=("vpc",), when={"option": "Serverless", "equals": True}, outputs=("Id",)),
        options={"Serverless": {"type": "boolean", "default": False}},
        version="2.9.0",
    )
    installed_release(deps, release, "vpc", "collection")

    plan(deps, request({"action": "redeploy", "version": "2.9.0", "options": {"Serverless": False}}, "swap-1"))

    run = deps.ledger.run("swap-1")
    assert run is not None and run.after["search"] == ["collection"]
    assert run.order.index("collection") < run.order.index("search")


# ---------------------------------------------------------------------- a stage the release has no more
def with_search(version: str, *, stateful: bool = False) -> SmallRelease:
    """The platform with one stage more: `search`, on the network, read by the API (a release that
    has it; the platform's own releases do not)."""
    return small_release(
        stage("vpc", outputs=("VpcId",)),
        stage("aurora", depends_on=("vpc",), stateful=True, outputs=("ClusterIdentifier",)),
        stage("s3", stateful=True, outputs=("BucketName",)),
        stage("params", parameters={"Vpc": "${stage:vpc.VpcId}", "Bucket": "${stage:s3.BucketName}"}),
        stage("search", depends_on=("vpc",), stateful=stateful, outputs=("Endpoint",)),
        stage("lambda-api", depends_on=("aurora", "params"), parameters={"Search": "${stage:search.Endpoint}"}),
        version=version,
        options={"InternetFacing": {"type": "boolean", "default": False}},
    )


def installed_release(deps: Deps, release: SmallRelease, *stages: str) -> None:
    """`release` installed: in the artifacts bucket, the ledger's current release, its stages."""
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    # as Plan records it: the options the install resolved, each release option at its default here
    options = dict(release.manifest.resolve_options(None))
    deps.ledger.set_current_release(ReleaseRecord(version=release.version, options=options, run="install-before"))
    for name in stages:
        installed(deps, name)


@pytest.mark.parametrize(
    ("installed_version", "to_version"),
    [("2.7.0", "2.9.0"), ("3.0.0", "2.9.0")],
    ids=["upgrade-to-a-release-without-it", "downgrade-to-a-release-from-before-it"],
)
def test_an_installed_stage_the_release_has_no_more_is_deleted_after_the_stages_that_read_it(
    deps: Deps, installed_version: str, to_version: str
) -> None:
    # Given a release with `search` (read by lambda-api, reading vpc) installed
    installed_release(deps, with_search(installed_version), "vpc", "aurora", "s3", "params", "search", "lambda-api")
    platform(to_version).publish(boto3.client("s3", region_name=REGION), ARTIFACTS)

    # When the run goes to a release that has no stage `search`
    result = plan(deps, request({"action": "upgrade", "version": to_version}, "upgrade-1"))

    # Then search is deleted, after lambda-api is updated away from it (vpc, which search reads and
    # which lambda-api waits for, is updated first: the reader's update wins over "after it")
    steps = {s["name"]: s for s in result["steps"]}
    assert steps["search"] == {"name": "search", "kind": "stage", "op": "delete", "waits": True}
    assert {s["op"] for n, s in steps.items() if n != "search"} == {"deploy"}
    run = deps.ledger.run("upgrade-1")
    assert run is not None and run.after["search"] == ["lambda-api"]
    assert "search" not in run.after["vpc"]
    assert run.order.index("search") > run.order.index("lambda-api")


def test_a_dropped_stage_that_holds_data_is_refused_by_the_guard_unless_its_resource_is_allowed(deps: Deps) -> None:
    # Given 2.7.0 installed with a stateful `search` that holds a bucket, and 2.9.0 without it
    installed_release(deps, with_search("2.7.0", stateful=True))
    platform("2.9.0").publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    body = json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}})
    stack_id = boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="dataall-test-search", TemplateBody=body
    )["StackId"]
    installed(deps, "search", stack_id=stack_id)

    # When the upgrade runs without allowing it: refused, naming the bucket and why it would go
    with pytest.raises(DataAtRisk) as refused_run:
        plan(deps, request({"action": "upgrade", "version": "2.9.0"}, "upgrade-2"))
    assert refused_run.value.field == "stages.search.Bucket"
    assert "stage search: Bucket (AWS::S3::Bucket, holds data: type) would be removed" in str(refused_run.value)
    assert nothing_changed(deps)

    # Then with the bucket allowed (a stage of the installed release, not of 2.9.0) it goes ahead
    document = {"action": "upgrade", "version": "2.9.0", "allow_replacement": ["search/Bucket"]}
    result = plan(deps, request(document, "upgrade-3"))
    assert {"name": "search", "kind": "stage", "op": "delete", "waits": True} in result["steps"]


def test_a_plan_only_run_previews_a_dropped_stage_as_deleted_with_every_resource_removed(deps: Deps) -> None:
    installed_release(deps, with_search("2.7.0"))
    platform("2.9.0").publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    body = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    stack_id = boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="dataall-test-search", TemplateBody=body
    )["StackId"]
    installed(deps, "search", stack_id=stack_id)

    result = plan(deps, request({"action": "upgrade", "version": "2.9.0", "plan_only": True}, "upgrade-4"))

    s3 = boto3.client("s3", region_name=REGION)
    preview = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=result["planned"]["preview"])["Body"].read())
    [search] = [s for s in preview["stages"] if s["stage"] == "search"]
    assert search["action"] == "delete" and search["note"] == "release 2.9.0 has no stage search"
    assert [(r["logical_id"], r["action"]) for r in search["resources"]] == [("Queue", "Remove")]


def test_an_uninstall_deletes_an_installed_stage_its_release_has_no_more_too(deps: Deps) -> None:
    # Given 2.9.0 current, with `search` of 2.7.0 still installed (its deletion never ran)
    platform("2.9.0").publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    deps.ledger.set_current_release(ReleaseRecord(version="2.9.0", options={}, run="upgrade-before"))
    for name in ("vpc", "search"):
        installed(deps, name)

    result = plan(deps, request({"action": "uninstall"}, "uninstall-1"))

    assert {s["name"]: s["op"] for s in result["steps"]} == {"search": "delete", "vpc": "delete"}


def test_a_run_after_the_installations_names_changed_is_refused_naming_them_and_changes_nothing(deps: Deps) -> None:
    # Given stages installed as dataall-test-<stage>, then the bootstrap stack's EnvName changed to prod
    installed_release(deps, platform("2.8.0"), "vpc", "aurora")
    renamed = deps.settings.model_copy(update={"env_name": "prod"})
    moved = dataclasses.replace(deps, settings=renamed)

    # When a run plans: refused, naming the stack as it is and as the bootstrap stack would name it
    named = r"stacks are named dataall-test-aurora .* now names them dataall-prod-aurora"
    with pytest.raises(InvalidInput, match=named):
        plan(moved, request({"action": "redeploy"}, "redeploy-1"))
    assert moved.ledger.run("redeploy-1") is None
    # and with the names it was installed under, the same run plans
    assert plan(deps, request({"action": "redeploy"}, "redeploy-2"))["action"] == "redeploy"
