"""The container images a release's stages run, and how the sandbox holds them.

data.all's API, worker and search-proxy functions are `PackageType: Image` functions and its ECS
tasks run containers: both name images in the account's own ECR, in data.all's repository
(`<account>.dkr.ecr.<region>.<suffix>/dataall-main-ecr-repository:<kind>-<version>`), which
data.all's pipeline builds and pushes. Lambda runs only images from a private registry in the
function's own Region, and refuses to create a function whose image is not there ("Source image …
is not valid"; Lambda developer guide, "Create a Lambda function using a container image").

In the sandbox each image is an image root (`sandbox.images`): data.all's Lambda image is built
from data.all's source at the release's version, without Docker (`sandbox.image_build`); an image
only ECS runs gets an empty root, since the sandbox runs no ECS task (its task definitions and
services are created, as ECS creates them without pulling the image).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer.aws import Aws, sandbox_control
from sandbox.image_build import LAMBDA_IMAGE_PREFIX

#: The repository and tag after `AWS::URLSuffix` in an image URI as CDK joins it:
#: `{"Fn::Join": ["", [{"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}."}, {"Ref": "AWS::URLSuffix"},
#: "/REPOSITORY:TAG"]]}`.
IMAGE_PATH = re.compile(r'"/([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"')


@dataclass(frozen=True)
class ReleaseImage:
    """An image the release's stages name: repository and tag, and the stages that run it."""

    repository: str
    tag: str
    stages: tuple[str, ...]

    def uri(self, account: str, region: str, suffix: str = "amazonaws.com") -> str:
        return f"{account}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"

    @property
    def runs_on_lambda(self) -> bool:
        return self.tag.startswith(LAMBDA_IMAGE_PREFIX)


def release_images(release: Any) -> list[ReleaseImage]:
    """Every ECR image a stage template of `release` names, in the order first named."""
    found: dict[tuple[str, str], list[str]] = {}
    for stage in release.manifest.stages():
        text = "\n".join((release.path / template).read_text() for template in stage.templates())
        if ".dkr.ecr." not in text:
            continue
        for repository, tag in IMAGE_PATH.findall(text):
            stages = found.setdefault((repository, tag), [])
            if stage.name not in stages:
                stages.append(stage.name)
    return [ReleaseImage(repository, tag, tuple(stages)) for (repository, tag), stages in found.items()]


#: The region of the sandbox's publisher registry: where a release built without `--image-registry`
#: says its images are (the sandbox's stand-ins), away from the installation's, as a publisher's is.
SANDBOX_PUBLISHER_REGION = "us-west-2"
#: `--image-registry`'s environment variable: `ACCOUNT:REGION` of the publisher's ECR registry.
IMAGE_REGISTRY_ENV = "DATAALL_INSTALLER_IMAGE_REGISTRY"
IMAGES_ACTION = "images"


class ImageRegistryError(ValueError):
    """The publisher's registry named for a build cannot pin the release's images."""


def images_in_templates(templates: Iterable[tuple[str, dict[str, Any]]]) -> list[ReleaseImage]:
    """Every ECR image the stages' templates (`(stage name, template)` pairs: a stage's variants may name
    images its own template does not) name, in the order first named."""
    found: dict[tuple[str, str], list[str]] = {}
    for stage, template in templates:
        text = json.dumps(template)
        if ".dkr.ecr." not in text:
            continue
        for repository, tag in IMAGE_PATH.findall(text):
            stages = found.setdefault((repository, tag), [])
            if stage not in stages:
                stages.append(stage)
    return [ReleaseImage(repository, tag, tuple(stages)) for (repository, tag), stages in found.items()]


def stand_in_identity(version: str, image: ReleaseImage) -> str:
    """What the sandbox's stand-in of an image of data.all `version` is (its layer's content)."""
    return f"data.all {version} {image.repository}:{image.tag}"


def parse_image_registry(text: str) -> tuple[str, str]:
    """`ACCOUNT:REGION` (or an ECR registry host, `ACCOUNT.dkr.ecr.REGION.amazonaws.com`)."""
    host = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?", text)
    plain = re.fullmatch(r"(\d{12}):([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)", text)
    match = host or plain
    if match is None:
        raise ImageRegistryError(f"--image-registry takes ACCOUNT:REGION (the publisher's ECR registry), not {text!r}")
    return match[1], match[2]


def pinned_images(
    version: str, images: list[ReleaseImage], registry: str | None, ecr: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """The manifest's `images`: each image with the digest the release pins, and the registry it is
    copied from. With `registry` (`ACCOUNT:REGION`, the publisher pushed there) each digest is read
    from it (DescribeImages by tag, through `ecr(region)`); without, the images are the sandbox's
    stand-ins (`sandbox.images.stand_in_image`) in the sandbox's publisher registry, a release only
    a sandbox installs: in AWS its copy step names the registry that does not hold them."""
    from sandbox.images import stand_in_image
    from sandbox.moto_internals import ACCOUNT_ID

    if registry is None:
        account, region = ACCOUNT_ID, SANDBOX_PUBLISHER_REGION
        digests = {image: stand_in_image(stand_in_identity(version, image)).digest for image in images}
    else:
        account, region = parse_image_registry(registry)
        if ecr is None:
            import boto3

            def ecr(region: str) -> Any:
                return boto3.client("ecr", region_name=region)

        client = ecr(region)
        digests = {}
        from botocore.exceptions import BotoCoreError, ClientError

        for image in images:
            try:
                details = client.describe_images(
                    registryId=account, repositoryName=image.repository, imageIds=[{"imageTag": image.tag}]
                )["imageDetails"]
            except (ClientError, BotoCoreError) as error:
                raise ImageRegistryError(
                    f"image {image.repository}:{image.tag}: the publisher's registry {account} in {region} "
                    f"does not give its digest ({error})"
                ) from None
            digests[image] = str(details[0]["imageDigest"])
    return {
        "registry": account,
        "region": region,
        "images": [
            {"repository": i.repository, "tag": i.tag, "digest": digests[i], "stages": list(i.stages)} for i in images
        ],
    }


def images_action() -> dict[str, Any]:
    return {
        "name": IMAGES_ACTION,
        "kind": "images",
        "depends_on": [],
        "description": "Copy the release's container images (pinned by digest) from the publisher's registry "
        "into the installation's own, before the stages that run them",
        "timeout": 1800,
    }


def dataall_source(version: str) -> Path | None:
    """data.all's source tree at `version` beside the project (the shared upstream), if present."""
    from installer.upstream import shared_upstream

    source = shared_upstream(version) / "source"
    return source if (source / "backend").is_dir() else None


def register_sandbox_images(
    aws: Aws,
    release: Any,
    note: Callable[[str], None],
    *,
    source: Path | None = None,
    cache_dir: Path | None = None,
) -> list[str]:
    """Put every image of `release` in the sandbox `aws` reaches, as its publisher would have: an
    image root per image (data.all's Lambda image built from its source, an empty root for an image
    only ECS runs), pushed through the sandbox's control API (as `sandbox serve --image` does) to
    the registry the release names, as the stand-in image whose digest the release pins. The
    workflow's `images` step copies each into the installation's registry, where Lambda resolves
    it and the sandbox runs it from its root. The URIs pushed."""
    from sandbox.image_build import build_dataall_image_root, default_cache_dir

    manifest = release.manifest
    if not manifest.images or manifest.image_registry is None or not aws.endpoint_url:
        return []
    registry, region = manifest.image_registry
    source = source or dataall_source(release.version)
    cache = (cache_dir or default_cache_dir()).expanduser()
    empty = cache / "empty-root"
    empty.mkdir(parents=True, exist_ok=True)
    pushed = []
    for pinned in manifest.images:
        image = ReleaseImage(pinned.repository, pinned.tag, pinned.stages)
        uri = image.uri(registry, region)
        if image.runs_on_lambda:
            if source is None:
                raise FileNotFoundError(
                    f"the image {image.repository}:{image.tag} runs data.all's Lambda functions "
                    f"({', '.join(image.stages)}): its root is built from data.all's source {release.version}, "
                    "which is not beside the project (../shared/upstream/dataall/<version>/source)"
                )
            note(f"image {image.repository}:{image.tag}: built from data.all's source (cached after the first time)")
            root = build_dataall_image_root(source, cache_dir=cache)
        else:
            note(f"image {image.repository}:{image.tag}: an empty root (the sandbox runs no ECS task)")
            root = empty
        answer = sandbox_control(
            aws.endpoint_url,
            "images",
            {"uri": uri, "root": str(root), "identity": stand_in_identity(release.version, image)},
        )
        held = {item["uri"]: item["digest"] for item in answer.get("images", [])} if isinstance(answer, dict) else {}
        if held.get(uri) not in (None, pinned.digest):
            raise ValueError(
                f"image {image.repository}:{image.tag}: the sandbox's stand-in is {held.get(uri)}, the release pins "
                f"{pinned.digest} (a release built with --image-registry names a publisher's own images)"
            )
        pushed.append(uri)
    return pushed


def is_sandbox(endpoint_url: str | None) -> bool:
    """Whether `endpoint_url` is a sandbox (`dataall-installer sandbox serve`): its control API answers."""
    if not endpoint_url:
        return False
    try:
        answer = sandbox_control(endpoint_url, "health", timeout=5)
    except (OSError, ValueError):
        return False
    return isinstance(answer, dict) and answer.get("status") == "ok"
