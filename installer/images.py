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

import re
from collections.abc import Callable
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
    """Register an image root for every image of `release` in the sandbox `aws` reaches (its
    control API, as `sandbox serve --image` does); the URIs registered."""
    from sandbox.image_build import build_dataall_image_root, default_cache_dir

    images = release_images(release)
    if not images or not aws.endpoint_url:
        return []
    account = str(aws.client("sts").get_caller_identity()["Account"])
    source = source or dataall_source(release.version)
    cache = (cache_dir or default_cache_dir()).expanduser()
    empty = cache / "empty-root"
    empty.mkdir(parents=True, exist_ok=True)
    registered = []
    for image in images:
        uri = image.uri(account, aws.region)
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
        sandbox_control(aws.endpoint_url, "images", {"uri": uri, "root": str(root)})
        registered.append(uri)
    return registered


def is_sandbox(endpoint_url: str | None) -> bool:
    """Whether `endpoint_url` is a sandbox (`dataall-installer sandbox serve`): its control API answers."""
    if not endpoint_url:
        return False
    try:
        answer = sandbox_control(endpoint_url, "health", timeout=5)
    except (OSError, ValueError):
        return False
    return isinstance(answer, dict) and answer.get("status") == "ok"
