"""An image copied from the publisher's registry into the installation's with ECR's API alone
(`lambdas/images/copy.py`), on moto with the sandbox's ECR layer fixes (GetDownloadUrlForLayer,
blobs kept, digests of manifests): the copy verifies the pinned digest, copies only what is
missing, is idempotent, and refuses by name what it cannot make as the release pins it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
import pytest

from lambdas.images.copy import REPOSITORY_SETTINGS, ImageCopyError, ImageSpec, copy_image
from sandbox import moto_internals
from sandbox.images import OciImage, stand_in_image
from tests.unit.conftest import moto_aws

SOURCE_REGION = "us-west-2"
TARGET_REGION = "eu-west-1"
REPOSITORY = "dataall-main-ecr-repository"
TAG = "lambdas-2.9.0"


class Downloads:
    """The layer URLs GetDownloadUrlForLayer answers, served from the sandbox's blobs (no socket)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> Iterable[bytes]:
        self.urls.append(url)
        data = moto_internals.ecr_blob(url.rsplit("/", 1)[1])
        assert data is not None, url
        return [data[: len(data) // 2], data[len(data) // 2 :]]  # streamed, in more than one chunk


@pytest.fixture
def ecr() -> Iterator[tuple[Any, Any]]:
    moto_internals.fix_ecr_layers()
    with moto_aws():
        yield boto3.client("ecr", region_name=SOURCE_REGION), boto3.client("ecr", region_name=TARGET_REGION)


def publish(source: Any, image: OciImage, tag: str = TAG) -> str:
    """Push `image` as a registry client does: each blob in a layer upload, then the manifest."""
    with contextlib.suppress(source.exceptions.RepositoryAlreadyExistsException):
        source.create_repository(repositoryName=REPOSITORY)
    for digest, data in image.blobs.items():
        upload = source.initiate_layer_upload(repositoryName=REPOSITORY)["uploadId"]
        source.upload_layer_part(
            repositoryName=REPOSITORY, uploadId=upload, partFirstByte=0, partLastByte=len(data) - 1, layerPartBlob=data
        )
        source.complete_layer_upload(repositoryName=REPOSITORY, uploadId=upload, layerDigests=[digest])
    answer = source.put_image(repositoryName=REPOSITORY, imageManifest=image.manifest, imageTag=tag)
    return str(answer["image"]["imageId"]["imageDigest"])


def spec(digest: str) -> ImageSpec:
    account = boto3.client("sts", region_name=SOURCE_REGION).get_caller_identity()["Account"]
    return ImageSpec(REPOSITORY, TAG, digest, account, SOURCE_REGION)


def test_the_pinned_image_is_copied_blob_by_blob_into_a_new_immutable_scanned_encrypted_repository(
    ecr: tuple[Any, Any],
) -> None:
    source, target = ecr
    image = stand_in_image("dataall 2.9.0 lambdas")
    downloads = Downloads()
    assert publish(source, image) == image.digest  # ECR's digest is the manifest's sha256

    copied = copy_image(source, target, spec(image.digest), TARGET_REGION, downloads)

    assert (copied.result, copied.digest, copied.blobs_copied) == ("COPIED", image.digest, 2)
    assert copied.repository_created and copied.bytes_copied == sum(len(b) for b in image.blobs.values())
    repository = target.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]
    assert repository["imageTagMutability"] == REPOSITORY_SETTINGS["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfiguration"]["encryptionType"] == "AES256"
    held = target.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": TAG}])["images"][0]
    assert (held["imageId"]["imageDigest"], held["imageManifest"]) == (image.digest, image.manifest)
    layers = target.batch_check_layer_availability(repositoryName=REPOSITORY, layerDigests=list(image.blobs))
    assert {layer["layerDigest"] for layer in layers["layers"]} == set(image.blobs)
    policy = json.loads(target.get_repository_policy(repositoryName=REPOSITORY)["policyText"])
    assert policy["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert len(downloads.urls) == 2 and all("/_sandbox/ecr-layers/sha256:" in url for url in downloads.urls)


def test_an_image_already_there_with_its_digest_is_not_copied_again(ecr: tuple[Any, Any]) -> None:
    source, target = ecr
    image = stand_in_image("dataall 2.9.0 lambdas")
    publish(source, image)
    copy_image(source, target, spec(image.digest), TARGET_REGION, Downloads())
    downloads = Downloads()

    again = copy_image(source, target, spec(image.digest), TARGET_REGION, downloads)

    assert (again.result, again.blobs_copied, again.repository_created, downloads.urls) == ("PRESENT", 0, False, [])


def test_only_the_blobs_the_target_lacks_are_downloaded(ecr: tuple[Any, Any]) -> None:
    source, target = ecr
    first, second = stand_in_image("one"), stand_in_image("two")
    publish(source, first, tag="one")
    publish(source, second)
    copy_image(source, target, ImageSpec(REPOSITORY, "one", first.digest, spec("").source_registry, SOURCE_REGION),
               TARGET_REGION, Downloads())  # fmt: skip
    downloads = Downloads()

    copied = copy_image(source, target, spec(second.digest), TARGET_REGION, downloads)

    # the stand-ins' configs differ, their layers differ: both blobs of the second are new
    assert copied.blobs_copied == len(set(second.blobs) - set(first.blobs)) == len(downloads.urls)


def test_a_tag_holding_another_digest_in_the_installation_is_refused_naming_image_and_both_digests(
    ecr: tuple[Any, Any],
) -> None:
    source, target = ecr
    old, new = stand_in_image("old"), stand_in_image("new")
    publish(source, old)
    copy_image(source, target, spec(old.digest), TARGET_REGION, Downloads())

    with pytest.raises(ImageCopyError) as refused:
        copy_image(source, target, spec(new.digest), TARGET_REGION, Downloads())

    message = str(refused.value)
    assert f"{REPOSITORY}:{TAG}" in message and old.digest in message and new.digest in message


def test_an_image_the_publisher_does_not_hold_by_its_pinned_digest_is_refused_naming_the_registry(
    ecr: tuple[Any, Any],
) -> None:
    source, target = ecr
    publish(source, stand_in_image("published"))
    pinned = stand_in_image("something else").digest

    with pytest.raises(ImageCopyError, match=rf"{REPOSITORY}:{TAG}@{pinned} is not in the publisher's registry"):
        copy_image(source, target, spec(pinned), TARGET_REGION, Downloads())

    assert target.describe_images(repositoryName=REPOSITORY).get("imageDetails") == []


def test_a_blob_downloaded_with_other_bytes_is_refused_before_any_image_is_put(ecr: tuple[Any, Any]) -> None:
    source, target = ecr
    image = stand_in_image("dataall 2.9.0 lambdas")
    publish(source, image)

    def corrupt(url: str) -> Iterator[bytes]:
        yield b"not the layer"

    with pytest.raises(ImageCopyError, match="has the digest sha256:"):
        copy_image(source, target, spec(image.digest), TARGET_REGION, corrupt)

    assert target.describe_images(repositoryName=REPOSITORY).get("imageDetails") == []


def test_ecr_refuses_a_completed_upload_whose_digest_is_not_the_one_given(ecr: tuple[Any, Any]) -> None:
    """AWS (Amazon ECR API reference, CompleteLayerUpload): InvalidLayerException, "The layer digest
    calculation performed by Amazon ECR upon receipt of the image layer does not match the digest
    specified." moto 5.2.5 took any digest."""
    source, _ = ecr
    source.create_repository(repositoryName=REPOSITORY)
    upload = source.initiate_layer_upload(repositoryName=REPOSITORY)["uploadId"]
    source.upload_layer_part(
        repositoryName=REPOSITORY, uploadId=upload, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc"
    )

    with pytest.raises(source.exceptions.ClientError, match="InvalidLayerException"):
        source.complete_layer_upload(repositoryName=REPOSITORY, uploadId=upload, layerDigests=["sha256:" + "0" * 64])


def test_get_download_url_for_layer_answers_a_url_serving_the_layer_only_for_a_layer_the_repository_holds(
    ecr: tuple[Any, Any],
) -> None:
    """AWS (Amazon ECR API reference, GetDownloadUrlForLayer: "Retrieves the pre-signed Amazon S3
    download URL corresponding to an image layer"; LayersNotFoundException for a layer the
    repository does not hold). moto 5.2.5 raised NotImplementedError."""
    source, _ = ecr
    image = stand_in_image("x")
    publish(source, image)
    layer = json.loads(image.manifest)["layers"][0]["digest"]

    answer = source.get_download_url_for_layer(repositoryName=REPOSITORY, layerDigest=layer)

    assert answer["layerDigest"] == layer and answer["downloadUrl"].endswith(f"/_sandbox/ecr-layers/{layer}")
    assert moto_internals.ecr_blob(layer) == image.blobs[layer]
    with pytest.raises(source.exceptions.ClientError, match="LayersNotFoundException"):
        source.get_download_url_for_layer(repositoryName=REPOSITORY, layerDigest="sha256:" + "1" * 64)


class Calls:
    """A client whose calls are recorded by name."""

    def __init__(self, client: Any) -> None:
        self.client, self.names = client, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        self.names.append(name)
        return getattr(self.client, name)


def test_a_copy_of_an_image_already_there_only_reads_the_installations_registry(ecr: tuple[Any, Any]) -> None:
    source, target = ecr
    image = stand_in_image("dataall 2.9.0 lambdas")
    publish(source, image)
    copy_image(source, target, spec(image.digest), TARGET_REGION, Downloads())
    watched = Calls(target)

    copy_image(source, watched, spec(image.digest), TARGET_REGION, Downloads())

    assert watched.names == ["describe_repositories", "get_repository_policy", "describe_images"]
