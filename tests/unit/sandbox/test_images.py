"""How the sandbox reads image URIs, image roots and data.all's Lambda Dockerfile
(sandbox/images.py, sandbox/image_build.py); no network, no sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.image_build import read_dockerfile
from sandbox.images import ImageError, ImageReference, ImageRegistry, parse_image_option

UPSTREAM = Path(__file__).resolve().parents[3].parent / "shared/upstream/dataall"


def test_an_ecr_image_uri_names_account_region_repository_and_tag_or_digest() -> None:
    tagged = ImageReference.parse(
        "111111111111.dkr.ecr.eu-west-1.amazonaws.com/dataall-main-ecr-repository:lambdas-2.9.0"
    )
    pinned = ImageReference.parse(f"111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn/repo/sub@sha256:{'a' * 64}")

    assert (tagged.account, tagged.region, tagged.repository, tagged.tag, tagged.digest) == (
        "111111111111", "eu-west-1", "dataall-main-ecr-repository", "lambdas-2.9.0", None,
    )  # fmt: skip
    assert (pinned.region, pinned.repository, pinned.tag, pinned.digest) == (
        "cn-north-1",
        "repo/sub",
        None,
        f"sha256:{'a' * 64}",
    )
    with pytest.raises(ImageError, match="not an Amazon ECR image URI"):
        ImageReference.parse("docker.io/library/python:3.12")


def test_a_roots_digest_follows_its_files_and_the_tag_moves_with_a_new_root(tmp_path: Path) -> None:
    registry = ImageRegistry()
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:v1"
    (tmp_path / "a" / "var" / "task").mkdir(parents=True)
    (tmp_path / "a" / "var" / "task" / "app.py").write_text("X = 1\n")

    first = registry.register(uri, tmp_path / "a")
    again = registry.register(uri, tmp_path / "a")
    (tmp_path / "a" / "var" / "task" / "app.py").write_text("X = 2\n")
    changed = registry.register(uri, tmp_path / "a")

    assert first.digest == again.digest != changed.digest
    assert registry.resolve(uri).digest == changed.digest
    assert registry.by_digest(uri, first.digest) is not None  # what a function resolved earlier
    assert first.config.working_dir == "/var/task"  # no image.json: an AWS base image
    with pytest.raises(ImageError, match=r"is not valid\. Provide a valid source image"):
        registry.resolve(uri.replace(":v1", ":v2"))


def test_the_image_option_is_uri_equals_path() -> None:
    assert parse_image_option("1.dkr/r:t=/tmp/root") == ("1.dkr/r:t", Path("/tmp/root"))
    with pytest.raises(ImageError):
        parse_image_option("no-path")


@pytest.mark.parametrize(
    ("version", "entrypoint", "script"),
    [
        ("2.8.0", ["python3.9", "-m", "awslambdaric"], None),
        ("2.9.0", ["/awslambdaric.sh"], "#!/usr/bin/env bash\npython3.12 -m awslambdaric $@\n"),
    ],
)
def test_dataall_lambda_dockerfile_gives_the_images_configuration(
    version: str, entrypoint: list[str], script: str | None
) -> None:
    dockerfile = UPSTREAM / version / "source/backend/docker/prod/lambda/Dockerfile"
    if not dockerfile.is_file():
        pytest.skip(f"data.all {version}'s source is not on this machine")

    config = read_dockerfile(dockerfile.read_text())

    assert config.entrypoint == entrypoint
    assert config.cmd == ["auth_handler.handler"]
    assert config.working_dir == "/home/app/"
    assert config.env["config_location"] == "config.json"
    assert config.files.get("/awslambdaric.sh") == script
    assert json.loads(json.dumps(config.image_json()))["Env"][-1] == "config_location=config.json"
