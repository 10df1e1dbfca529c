"""An installation's own image made in the sandbox's ECR by adding one layer to a base image
(`lambdas.images.layer.add_layer`, ECR's API alone, the layer downloads served by the sandbox over
HTTP as S3 serves ECR's), and read back as a container of it sees its files
(`sandbox.image_files`). Each test names the AWS or OCI behaviour it pins and where it is documented."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.data.downloads import stream_url
from lambdas.images.layer import ImageLayerError, add_layer
from sandbox.image_files import image_file
from tests.sandbox.conftest import Clients
from tests.unit.test_image_layer import NGINX, publish

REPOSITORY = "dataall-main-ecr-repository"
BASE_TAG = "frontend-2.9.0"
TAG = "frontend-2.9.0-site"
INDEX = "usr/share/nginx/html/index.html"
MAIN = "usr/share/nginx/html/static/js/main.1234.js"
SITE = {
    INDEX: b"<html>the installation's site</html>",
    MAIN: b"window.API='https://api.example.com/graphql';",
}


@pytest.fixture
def ecr(sandbox: Any, clients: Clients) -> Any:
    ecr = clients("ecr")
    publish(ecr, NGINX, tag=BASE_TAG, repository=REPOSITORY)
    return ecr


def test_the_layer_added_is_what_a_container_of_the_new_image_reads_over_the_base(sandbox: Any, ecr: Any) -> None:
    """OCI image spec, "Image Layer Filesystem Changeset" ("Applying Changesets": a file of a later
    layer replaces the same path's; the others stay); Amazon ECR API reference, GetDownloadUrlForLayer
    (the base's config is downloaded from the URL ECR answers) and PutImage."""
    digest = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, uid=999, gid=999, fetch=stream_url)

    assert image_file(sandbox.region, REPOSITORY, TAG, INDEX) == SITE[INDEX]  # the layer's replaces the base's
    assert image_file(sandbox.region, REPOSITORY, digest, "/" + MAIN) == SITE[MAIN]  # by digest, absolute path
    assert image_file(sandbox.region, REPOSITORY, TAG, "etc/nginx/nginx.conf") == (
        b"server { root /usr/share/nginx/html; }"  # the base's, through the layer on top
    )
    assert image_file(sandbox.region, REPOSITORY, BASE_TAG, INDEX) == b"<html>data.all, as built by the release</html>"
    assert image_file(sandbox.region, REPOSITORY, BASE_TAG, MAIN) is None  # the base has no such file
    assert image_file(sandbox.region, REPOSITORY, TAG, "usr/share/nginx/html") is None  # a folder is no file
    assert image_file(sandbox.region, REPOSITORY, "frontend-9.9.9", INDEX) is None  # no such image


def test_a_rerun_gives_the_same_digest_and_other_content_under_the_tag_is_refused(sandbox: Any, ecr: Any) -> None:
    """ECR user guide, "Image tag mutability" (the installation's repositories are IMMUTABLE): the
    same files make the same image, found under its tag; other files under that tag are refused
    (PutImage's ImageTagAlreadyExistsException), and the tag keeps its image."""
    first = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=stream_url)

    again = add_layer(ecr, REPOSITORY, BASE_TAG, dict(reversed(list(SITE.items()))), TAG, fetch=stream_url)
    with pytest.raises(ImageLayerError, match=f"{REPOSITORY}:{TAG} is {first}"):
        add_layer(ecr, REPOSITORY, BASE_TAG, {**SITE, INDEX: b"<html>another</html>"}, TAG, fetch=stream_url)

    assert again == first
    details = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    assert sorted((d["imageTags"][0], d["imageDigest"]) for d in details) == sorted(
        [(BASE_TAG, NGINX.digest), (TAG, first)]
    )
    assert image_file(sandbox.region, REPOSITORY, TAG, INDEX) == SITE[INDEX]
    manifest = json.loads(
        ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": TAG}])["images"][0]["imageManifest"]
    )
    assert len(manifest["layers"]) == len(json.loads(NGINX.manifest)["layers"]) + 1
