"""The `images` action in the sandbox, end to end: a release whose stage runs a container-image
function installs only once the workflow has copied the image from the publisher's registry into
the installation's (ECR's API alone: BatchGetImage, GetDownloadUrlForLayer, layer uploads,
PutImage), and the function then runs from the root the copied image's layer addresses.

The release is the synthetic one with one stage more (a function of `PackageType: Image`) and the
image the publisher pushed to its registry (`installer.images.SANDBOX_PUBLISHER_REGION`)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from installer.aws import Aws
from installer.build import MANIFEST_NAME, Release
from installer.images import SANDBOX_PUBLISHER_REGION, images_action
from sandbox.images import stand_in_image
from tests.sandbox.conftest import INSTALLATION, deploy

REPOSITORY = "fixture-images"
TAG = "fn-1"
STAGE = "imagefn"
IDENTITY = "the fixture's image function, version 1"
HANDLER = "import os\n\ndef handler(event, context):\n    return {'from': 'the image root', 'cwd': os.getcwd()}\n"


def image_stage_template() -> dict[str, Any]:
    uri = {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/" + f"{REPOSITORY}:{TAG}"}
    assume = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [assume]}
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "PackageType": "Image",
                    "Code": {"ImageUri": uri},
                    "ImageConfig": {"Command": ["app.handler"]},
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Timeout": 10,
                },
            },
        },
        "Outputs": {"FunctionName": {"Value": {"Ref": "Function"}}},
    }


def with_an_image_stage(release: Any, folder: Path, account: str) -> Release:
    """The synthetic release, copied, with the stage `imagefn` running the image the publisher pushed."""
    target = folder / release.path.name
    shutil.copytree(release.path, target)
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    template = f"blueprints/{STAGE}.template.json"
    text = json.dumps(image_stage_template(), indent=1, sort_keys=True)
    (target / template).write_text(text)
    manifest["files"][template] = hashlib.sha256(text.encode()).hexdigest()
    manifest["stages"].append(
        {
            "name": STAGE,
            "template": template,
            "parameters": {},
            "depends_on": ["images"],
            "stateful": False,
            "timeout": 600,
            "outputs": ["FunctionName"],
            "capabilities": ["CAPABILITY_IAM"],
        }
    )
    manifest["actions"].append(images_action())
    manifest["images"] = {
        "registry": account,
        "region": SANDBOX_PUBLISHER_REGION,
        "images": [
            {"repository": REPOSITORY, "tag": TAG, "digest": stand_in_image(IDENTITY).digest, "stages": [STAGE]}
        ],
    }
    (target / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return Release.load(target)


@pytest.mark.slow  # a whole install of the synthetic release: about 30 s
def test_the_image_is_copied_into_the_installations_registry_before_its_stage_and_the_function_runs_it(
    sandbox: Any, aws: Aws, release: Any, tmp_path: Path
) -> None:
    # Given the publisher's registry holding the image (a root, as the stand-in the release pins)
    root = tmp_path / "root" / "var" / "task"
    root.mkdir(parents=True)
    (root / "app.py").write_text(HANDLER)
    published = f"{sandbox.account_id}.dkr.ecr.{SANDBOX_PUBLISHER_REGION}.amazonaws.com/{REPOSITORY}:{TAG}"
    image = sandbox.register_image(published, tmp_path / "root", IDENTITY)
    with_image = with_an_image_stage(release, tmp_path / "release", sandbox.account_id)
    pinned = with_image.manifest.images[0].digest
    assert image.digest == pinned

    # When the release is installed
    outcome = deploy(aws, with_image)

    # Then the image was copied into the installation's registry, in the stage's region, as pinned
    assert outcome.result["status"] == "SUCCEEDED", outcome.result.get("error")
    ecr = aws.client("ecr")
    repository = ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    (held,) = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    assert (held["imageDigest"], held["imageTags"]) == (pinned, [TAG])
    steps = outcome.reader.ledger.steps(outcome.result["execution_arn"].split(":")[-1])
    copies = steps["images"].images or []
    assert [(c["image"], c["region"], c["result"], c["blobs_copied"]) for c in copies] == [
        (f"{REPOSITORY}:{TAG}", sandbox.region, "COPIED", 2)
    ]
    copied_at, stage_started = steps["images"].finished, steps[STAGE].started
    assert copied_at is not None and stage_started is not None and copied_at <= stage_started
    # and the stage's function runs from the copied image, whose layer addresses the root
    function = aws.client("cloudformation").describe_stacks(StackName=INSTALLATION.stage_stack(STAGE))["Stacks"][0]
    name = {o["OutputKey"]: o["OutputValue"] for o in function["Outputs"]}["FunctionName"]
    configuration = aws.client("lambda").get_function(FunctionName=name)
    assert configuration["Code"]["ResolvedImageUri"].endswith(f"/{REPOSITORY}@{pinned}")
    answer = json.loads(aws.client("lambda").invoke(FunctionName=name)["Payload"].read())
    assert answer == {"from": "the image root", "cwd": str(tmp_path / "root" / "var" / "task")}
