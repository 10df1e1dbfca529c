"""The `images` action (`lambdas/images/step.py`, its handler `lambdas/handlers/copy_images.py`) and
what the manifest and Plan refuse, on moto with the sandbox's ECR layer fixes: each image copied
into the installation's registry of every region a stage running it lives in, nothing copied again
by a second run, the images kept by a rollback (and the step says so); a release whose image has no
digest refused before anything changes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from installer.images import images_action
from lambdas.core.deps import Deps
from lambdas.core.errors import ReleaseInvalid
from lambdas.core.messages import RollbackState, StepRef, StepState
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger, now_iso
from lambdas.data.records import RunRecord
from lambdas.data.releases import ReleaseStore, release_key
from lambdas.data.stacks import Stacks
from lambdas.handlers import copy_images
from lambdas.images import step as images_step
from lambdas.release.manifest import Manifest, ManifestError, sha256_bytes
from lambdas.rollback.recovery import Rollback
from sandbox import moto_internals
from sandbox.images import OciImage, stand_in_image
from tests.unit.conftest import ledger_table, moto_aws

REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
PUBLISHER_REGION = "us-west-2"
ACCOUNT = "123456789012"
ARTIFACTS = "dataall-test-artifacts"
REPOSITORY = "dataall-main-ecr-repository"
TAG = "lambdas-2.9.0"
TEMPLATE = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}).encode()
IMAGE = stand_in_image("data.all 2.9.0 lambdas")


def fetch_blob(url: str) -> Iterable[bytes]:
    data = moto_internals.ecr_blob(url.rsplit("/", 1)[1])
    assert data is not None
    return [data]


@pytest.fixture
def deps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deps]:
    moto_internals.fix_ecr_layers()
    with moto_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": REGION})
        made = Deps(
            settings=Settings(
                ledger_table="ledger", artifacts_bucket=ARTIFACTS, resource_prefix="dataall", env_name="test"
            ),
            ledger=Ledger(ledger_table("ledger", boto3.resource("dynamodb", region_name=REGION))),
            store=ReleaseStore(s3, ARTIFACTS),
            stacks=Stacks(boto3.client("cloudformation", region_name=REGION)),
            sfn=boto3.client("stepfunctions", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            region=REGION,
            account_id=ACCOUNT,
            regional_client=lambda service, region: boto3.client(service, region_name=region),
        )
        monkeypatch.setattr(images_step, "stream_url", fetch_blob)
        monkeypatch.setattr(copy_images.Deps, "from_env", classmethod(lambda cls, context: made))
        yield made


def published(image: OciImage) -> None:
    """The publisher's registry holds `image` (pushed as a registry client pushes)."""
    moto_internals.ecr_push_image(ACCOUNT, PUBLISHER_REGION, REPOSITORY, TAG, image.manifest, image.digest, image.blobs)


def manifest_document(digest: str | None, *, after_images: bool = True) -> dict[str, Any]:
    image: dict[str, Any] = {"repository": REPOSITORY, "tag": TAG, "stages": ["lambdas", "edge"]}
    if digest is not None:
        image["digest"] = digest
    after = ["images"] if after_images else []
    stage = {"parameters": {}, "stateful": False, "timeout": 600, "outputs": []}
    return {
        "format": 1,
        "name": "dataall",
        "version": "2.9.0",
        "options": {},
        "rules": [],
        "stages": [
            {"name": "lambdas", "template": "blueprints/lambdas.template.json", "depends_on": after, **stage},
            {
                "name": "edge",
                "template": "blueprints/edge.template.json",
                "depends_on": after,
                "region": OTHER_REGION,
                **stage,
            },
        ],
        "actions": [images_action()],
        "images": {"registry": ACCOUNT, "region": PUBLISHER_REGION, "images": [image]},
        "files": {f"blueprints/{name}.template.json": sha256_bytes(TEMPLATE) for name in ("lambdas", "edge")},
    }


def stored_release(deps: Deps, document: dict[str, Any]) -> None:
    s3 = deps.store.s3
    for key in document["files"]:
        s3.put_object(Bucket=ARTIFACTS, Key=release_key(document["version"], key), Body=TEMPLATE)
    s3.put_object(
        Bucket=ARTIFACTS, Key=release_key(document["version"], "manifest.json"), Body=json.dumps(document).encode()
    )


def started_run(deps: Deps, run: str) -> StepState:
    deps.ledger.put_run(
        RunRecord(run=run, action="install", version="2.9.0", status="RUNNING", started=now_iso(), params={})
    )
    return StepState(run=run, step=StepRef(name="images", kind="images"))


def context() -> Any:
    return SimpleNamespace(
        function_name="dataall-test-copy-images",
        memory_limit_in_mb=1024,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dataall-test-copy-images",
        aws_request_id="req-1",
    )


def test_each_image_is_copied_into_the_registry_of_every_region_a_stage_running_it_lives_in(deps: Deps) -> None:
    published(IMAGE)
    stored_release(deps, manifest_document(IMAGE.digest))

    answer = copy_images.handler(started_run(deps, "install-1").model_dump(), context())

    assert (answer["phase"], answer["result"]) == ("done", "COPIED")
    for region in (REGION, OTHER_REGION):
        held = boto3.client("ecr", region_name=region).describe_images(repositoryName=REPOSITORY)["imageDetails"]
        assert [(h["imageDigest"], h["imageTags"]) for h in held] == [(IMAGE.digest, [TAG])], region
    record = deps.ledger.steps("install-1")["images"]
    assert sorted((c["region"], c["result"]) for c in record.images or []) == sorted(
        [(REGION, "COPIED"), (OTHER_REGION, "COPIED")]
    )


def test_a_second_run_finds_the_images_there_and_copies_nothing(deps: Deps) -> None:
    published(IMAGE)
    stored_release(deps, manifest_document(IMAGE.digest))
    copy_images.handler(started_run(deps, "install-1").model_dump(), context())

    answer = copy_images.handler(started_run(deps, "redeploy-2").model_dump(), context())

    assert answer["result"] == "UNCHANGED"
    record = deps.ledger.steps("redeploy-2")["images"]
    assert {(c["result"], c["blobs_copied"]) for c in record.images or []} == {("PRESENT", 0)}


def test_a_rollback_keeps_the_images_and_says_why(deps: Deps) -> None:
    published(IMAGE)
    stored_release(deps, manifest_document(IMAGE.digest))
    copy_images.handler(started_run(deps, "install-1").model_dump(), context())

    state = RollbackState(run="install-1")
    while not state.done:
        state = Rollback(deps, state).step()

    record = deps.ledger.steps("install-1")["images"]
    assert record.rolled_back == "KEPT" and "content-addressed" in (record.reason or "")
    held = boto3.client("ecr", region_name=REGION).describe_images(repositoryName=REPOSITORY)["imageDetails"]
    assert [h["imageDigest"] for h in held] == [IMAGE.digest]


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")  # the step fails before its metric
def test_an_image_the_publisher_does_not_hold_fails_the_step_naming_it(deps: Deps) -> None:
    stored_release(deps, manifest_document(IMAGE.digest))

    with pytest.raises(Exception, match=rf"{REPOSITORY}:{TAG}@{IMAGE.digest} is not in the publisher's registry"):
        copy_images.handler(started_run(deps, "install-1").model_dump(), context())


def test_a_release_whose_image_has_no_digest_is_refused_naming_the_image() -> None:
    with pytest.raises(ManifestError, match=rf"image {REPOSITORY}:{TAG} has no digest"):
        Manifest.from_document(manifest_document(None))


def test_a_stage_running_an_image_must_come_after_the_images_action() -> None:
    with pytest.raises(ManifestError, match=r"stage 'lambdas' runs image .* but depends on no images action"):
        Manifest.from_document(manifest_document(IMAGE.digest, after_images=False))


def test_plan_refuses_a_stored_release_whose_image_has_no_digest_before_anything_changes(deps: Deps) -> None:
    stored_release(deps, manifest_document(None))

    with pytest.raises(ReleaseInvalid, match="has no digest"):
        deps.store.manifest("2.9.0")


def test_the_build_pins_each_image_as_the_publishers_registry_holds_it_or_as_the_sandboxs_stand_in(
    deps: Deps,
) -> None:
    from installer.images import (
        SANDBOX_PUBLISHER_REGION,
        ImageRegistryError,
        images_in_templates,
        pinned_images,
        stand_in_identity,
    )

    uri = {
        "Fn::Join": [
            "",
            [
                {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}."},
                {"Ref": "AWS::URLSuffix"},
                f"/{REPOSITORY}:{TAG}",
            ],
        ]
    }
    templates = {"lambdas": {"Resources": {"Api": {"Properties": {"Code": {"ImageUri": uri}}}}}}
    found = images_in_templates(templates.items())
    published(IMAGE)

    pinned = pinned_images("2.9.0", found, f"{ACCOUNT}:{PUBLISHER_REGION}")
    stand_ins = pinned_images("2.9.0", found, None)

    assert [(i.repository, i.tag, i.stages) for i in found] == [(REPOSITORY, TAG, ("lambdas",))]
    assert pinned == {
        "registry": ACCOUNT,
        "region": PUBLISHER_REGION,
        "images": [{"repository": REPOSITORY, "tag": TAG, "digest": IMAGE.digest, "stages": ["lambdas"]}],
    }
    assert stand_ins["region"] == SANDBOX_PUBLISHER_REGION
    assert stand_ins["images"][0]["digest"] == stand_in_image(stand_in_identity("2.9.0", found[0])).digest
    with pytest.raises(ImageRegistryError, match="ACCOUNT:REGION"):
        pinned_images("2.9.0", found, "my-registry")
    with pytest.raises(ImageRegistryError, match=f"{REPOSITORY}:{TAG}: the publisher's registry"):
        pinned_images("2.9.0", found, f"{ACCOUNT}:{REGION}")
