"""An image made from another by adding one layer of files (`lambdas/images/layer.py`): the layer
and the config are deterministic (the same files, the same digests), and the image is put with
ECR's API alone, on moto with the sandbox's ECR layer fixes (blobs kept, GetDownloadUrlForLayer,
digests of manifests). Each test names the OCI image spec or ECR API reference section it pins."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest

from lambdas.images import layer as layer_module
from lambdas.images.copy import REPOSITORY_SETTINGS
from lambdas.images.layer import (
    CREATED_BY,
    ImageLayerError,
    add_layer,
    gzipped,
    layer_tar,
    layered_config,
    layered_image,
)
from sandbox import moto_internals
from sandbox.images import OciImage
from tests.unit.conftest import moto_aws
from tests.unit.test_image_copy import Calls, Downloads

REGION = "eu-west-1"
REPOSITORY = "dataall-main-ecr-repository"
BASE_TAG = "frontend-2.9.0"
TAG = "frontend-2.9.0-site-1"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SITE = {
    "usr/share/nginx/html/index.html": b"<html>the installation's site</html>",
    "usr/share/nginx/html/static/js/main.1234.js": b"window.API='https://api.example.com/graphql';",
}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def base_image(files: Mapping[str, bytes], media_type: str = DOCKER_MANIFEST) -> OciImage:
    """A small image as a builder pushes one: one gzipped tar layer of `files`, a config naming the
    layer's uncompressed digest (with a history and a Cmd), and the manifest of `media_type`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    tar = buffer.getvalue()
    layer = gzip.compress(tar, mtime=0)
    oci = media_type == OCI_MANIFEST
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2025-06-01T00:00:00Z",
            "config": {"Cmd": ["nginx", "-g", "daemon off;"], "User": "cuser", "WorkingDir": "/app"},
            "rootfs": {"type": "layers", "diff_ids": [_digest(tar)]},
            "history": [{"created": "2025-06-01T00:00:00Z", "created_by": "COPY . /"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json"
                if oci
                else "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": _digest(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"
                    if oci
                    else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": _digest(layer),
                }
            ],
        },
        indent=3,
    )
    return OciImage(manifest, _digest(manifest.encode()), {_digest(config): config, _digest(layer): layer})


NGINX = base_image(
    {
        "etc/nginx/nginx.conf": b"server { root /usr/share/nginx/html; }",
        "usr/share/nginx/html/index.html": b"<html>data.all, as built by the release</html>",
    }
)


def publish(ecr: Any, image: OciImage, tag: str = BASE_TAG, repository: str = REPOSITORY) -> str:
    """Push `image` as a registry client does (each blob in a layer upload, then the manifest) to
    the repository as the installation's are (immutable tags)."""
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository, **REPOSITORY_SETTINGS)
    for digest, data in image.blobs.items():
        upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        ecr.upload_layer_part(
            repositoryName=repository, uploadId=upload, partFirstByte=0, partLastByte=len(data) - 1, layerPartBlob=data
        )
        ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[digest])
    answer = ecr.put_image(repositoryName=repository, imageManifest=image.manifest, imageTag=tag)
    return str(answer["image"]["imageId"]["imageDigest"])


def members(tar: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return archive.getmembers()


# --------------------------------------------------------------------------- the layer, pure


def test_the_same_files_in_any_order_make_the_same_tar_and_the_same_gzip() -> None:
    """OCI image spec, "Image Layer Filesystem Changeset": a layer is a tar; its digest (the blob's
    sha256, "Descriptors") names it, so the installer's re-run must make the same bytes."""
    reordered = dict(reversed(list(SITE.items())))

    first, again = layer_tar(SITE), layer_tar(reordered)

    assert first == again and gzipped(first) == gzipped(again)
    assert layer_tar({**SITE, "usr/share/nginx/html/index.html": b"other"}) != first


def test_the_tar_lists_parents_first_sorted_with_time_zero_and_the_owner_and_mode_given() -> None:
    """OCI image spec, "Changesets": directories of a layer are entries of their own (their
    metadata is the layer's); the tar carries no time nor owner name that would vary a digest."""
    tar = layer_tar(SITE, mode=0o640, uid=999, gid=998)

    found = members(tar)

    assert [(m.name, m.isdir()) for m in found] == [
        ("usr", True),
        ("usr/share", True),
        ("usr/share/nginx", True),
        ("usr/share/nginx/html", True),
        ("usr/share/nginx/html/index.html", False),
        ("usr/share/nginx/html/static", True),
        ("usr/share/nginx/html/static/js", True),
        ("usr/share/nginx/html/static/js/main.1234.js", False),
    ]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in found} == {(0, 999, 998, "", "")}
    assert {m.mode for m in found if m.isdir()} == {0o755} and {m.mode for m in found if m.isfile()} == {0o640}
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        extracted = archive.extractfile("usr/share/nginx/html/index.html")
        assert extracted is not None and extracted.read() == SITE["usr/share/nginx/html/index.html"]


def test_the_gzip_has_modification_time_zero() -> None:
    """RFC 1952, "Member format": MTIME 0 means no time stamp, so gzipping now or later is the same."""
    blob = gzipped(layer_tar(SITE))

    assert blob[:2] == b"\x1f\x8b" and blob[4:8] == b"\x00\x00\x00\x00"
    assert gzip.decompress(blob) == layer_tar(SITE)


@pytest.mark.parametrize(
    ("files", "refusal"),
    [
        ({"../etc/passwd": b""}, "not a path inside the image"),
        ({"usr//x": b""}, "not a path inside the image"),
        ({"usr/share/.wh.nginx": b""}, "whiteout"),
        ({"/usr/a": b"1", "usr/a": b"2"}, "given twice"),
        ({"usr/a": b"1", "usr/a/b": b"2"}, "also the folder of usr/a/b"),
    ],
)
def test_files_that_are_not_plain_paths_inside_the_image_are_refused(files: dict[str, bytes], refusal: str) -> None:
    """OCI image spec, "Whiteouts": a `.wh.` name deletes in a layer; a path must stay in the image."""
    with pytest.raises(ImageLayerError, match=refusal):
        layer_tar(files)


# --------------------------------------------------------------------------- the config and manifest, pure


def test_the_config_gains_the_uncompressed_tars_digest_and_a_history_entry_and_keeps_everything_else() -> None:
    """OCI image spec, "Image Configuration": `rootfs.diff_ids` are the digests of the uncompressed
    layers, first to last; `history` has one entry per layer (save `empty_layer` ones)."""
    base = NGINX.blobs[json.loads(NGINX.manifest)["config"]["digest"]]
    tar = layer_tar(SITE)

    config = json.loads(layered_config(base, _digest(tar)))

    before = json.loads(base)
    assert config["rootfs"]["diff_ids"] == [*before["rootfs"]["diff_ids"], _digest(tar)]
    assert config["history"] == [*before["history"], {"created_by": CREATED_BY}]
    assert {k: v for k, v in config.items() if k not in ("rootfs", "history")} == {
        k: v for k, v in before.items() if k not in ("rootfs", "history")
    }
    assert list(config) == list(before)  # the base's fields, in the base's order


def test_a_config_without_history_gets_none() -> None:
    """OCI image spec, "Image Configuration": `history` is optional; an entry for the added layer
    alone would not line up with the base's layers."""
    config = json.loads(layered_config(b'{"rootfs": {"type": "layers", "diff_ids": ["sha256:aa"]}}', "sha256:bb"))

    assert config == {"rootfs": {"type": "layers", "diff_ids": ["sha256:aa", "sha256:bb"]}}


@pytest.mark.parametrize(
    ("media_type", "layer_type"),
    [
        (DOCKER_MANIFEST, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
        (OCI_MANIFEST, "application/vnd.oci.image.layer.v1.tar+gzip"),
    ],
)
def test_the_manifest_is_the_bases_layers_and_the_new_one_over_the_new_config(media_type: str, layer_type: str) -> None:
    """OCI image spec, "Image Manifest": `config` is the config blob's descriptor (digest, size),
    `layers` apply in order, the last on top; the image's digest is the manifest's sha256."""
    base = base_image({"etc/nginx/nginx.conf": b"x"}, media_type)
    base_manifest = json.loads(base.manifest)
    config = base.blobs[base_manifest["config"]["digest"]]

    image = layered_image(base.manifest, media_type, config, SITE)

    manifest = json.loads(image.manifest)
    assert image.digest == _digest(image.manifest.encode())
    assert manifest["layers"][:-1] == base_manifest["layers"]
    assert manifest["layers"][-1] == {
        "mediaType": layer_type,
        "size": len(image.blobs[image.layer_digest]),
        "digest": image.layer_digest,
    }
    assert manifest["config"] == {
        "mediaType": base_manifest["config"]["mediaType"],
        "size": len(image.blobs[image.config_digest]),
        "digest": image.config_digest,
    }
    assert image.diff_id == _digest(gzip.decompress(image.blobs[image.layer_digest]))
    assert layered_image(base.manifest, media_type, config, dict(reversed(list(SITE.items())))) == image


# --------------------------------------------------------------------------- put with ECR's API (moto)


@pytest.fixture
def ecr() -> Iterator[Any]:
    moto_internals.fix_ecr_layers()
    with moto_aws():
        yield boto3.client("ecr", region_name=REGION)


def test_the_image_is_the_base_with_one_layer_put_under_the_tag(ecr: Any) -> None:
    """Amazon ECR API reference: BatchGetImage and GetDownloadUrlForLayer read the base (its
    manifest, its config blob); InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload store the
    new blobs; PutImage puts the manifest under the tag, its digest the manifest's sha256."""
    publish(ecr, NGINX)

    digest = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, uid=999, gid=999, fetch=Downloads())

    held = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageTag": TAG}])["images"][0]
    assert held["imageId"]["imageDigest"] == digest == _digest(held["imageManifest"].encode())
    manifest = json.loads(held["imageManifest"])
    assert manifest["layers"][:-1] == json.loads(NGINX.manifest)["layers"]
    layer = moto_internals.ecr_blob(manifest["layers"][-1]["digest"])
    assert layer is not None and {m.name: m.uid for m in members(gzip.decompress(layer))} == {
        "usr": 999,
        "usr/share": 999,
        "usr/share/nginx": 999,
        "usr/share/nginx/html": 999,
        "usr/share/nginx/html/index.html": 999,
        "usr/share/nginx/html/static": 999,
        "usr/share/nginx/html/static/js": 999,
        "usr/share/nginx/html/static/js/main.1234.js": 999,
    }
    config = moto_internals.ecr_blob(manifest["config"]["digest"])
    assert config is not None and json.loads(config)["config"]["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert (
        ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": BASE_TAG}])["imageDetails"][0][
            "imageDigest"
        ]
        == NGINX.digest
    )  # the base is left as it was


def test_a_base_named_by_digest_gives_the_same_image_as_by_tag(ecr: Any) -> None:
    """Amazon ECR API reference, BatchGetImage: an image is named by `imageTag` or `imageDigest`."""
    publish(ecr, NGINX)

    by_digest = add_layer(ecr, REPOSITORY, NGINX.digest, SITE, TAG, fetch=Downloads())

    assert by_digest == add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=Downloads())


def test_a_rerun_with_the_same_files_finds_the_image_and_uploads_nothing(ecr: Any) -> None:
    """ECR user guide, "Image tag mutability": an immutable tag is never moved, so a re-run must
    recognise its own image (the same files give the same digest) rather than put it again."""
    publish(ecr, NGINX)
    first = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=Downloads())
    watched = Calls(ecr)

    again = add_layer(watched, REPOSITORY, BASE_TAG, dict(reversed(list(SITE.items()))), TAG, fetch=Downloads())

    assert again == first
    assert watched.names == ["batch_get_image", "get_download_url_for_layer", "describe_images"]


def test_other_files_under_a_tag_already_holding_an_image_are_refused_naming_both_digests(ecr: Any) -> None:
    """Amazon ECR API reference, PutImage: ImageTagAlreadyExistsException, "The specified image is
    tagged with a tag that already exists. The repository is configured for tag immutability." The
    installer says so before any upload, naming the image and both digests."""
    publish(ecr, NGINX)
    first = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=Downloads())
    watched = Calls(ecr)
    other = {**SITE, "usr/share/nginx/html/index.html": b"<html>another installation</html>"}

    with pytest.raises(ImageLayerError) as refused:
        add_layer(watched, REPOSITORY, BASE_TAG, other, TAG, fetch=Downloads())

    message = str(refused.value)
    assert f"{REPOSITORY}:{TAG} is {first}" in message and "immutable" in message
    assert "initiate_layer_upload" not in watched.names and "put_image" not in watched.names
    assert (
        ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": TAG}])["imageDetails"][0]["imageDigest"]
        == first
    )


def test_blobs_the_repository_holds_are_not_uploaded_again(ecr: Any) -> None:
    """Amazon ECR API reference, BatchCheckLayerAvailability: a blob the repository holds is
    AVAILABLE, and needs no upload (the same layer under a second tag: only PutImage)."""
    publish(ecr, NGINX)
    first = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=Downloads())
    watched = Calls(ecr)

    second = add_layer(watched, REPOSITORY, BASE_TAG, SITE, "frontend-2.9.0-site-2", fetch=Downloads())

    assert second == first
    assert "batch_check_layer_availability" in watched.names and "initiate_layer_upload" not in watched.names
    assert "put_image" in watched.names


def test_the_same_files_gzipped_otherwise_under_the_tag_are_taken_as_this_image(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OCI image spec, "Image Configuration": the config names the layers by their uncompressed
    digests (DiffIDs), so the same config on the base's layers is the same file system, whatever
    zlib compressed the layer (another runtime's may not give the same bytes)."""
    publish(ecr, NGINX)
    monkeypatch.setattr(layer_module, "gzipped", lambda tar: gzip.compress(tar, compresslevel=1, mtime=0))
    held = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=Downloads())
    monkeypatch.undo()

    again = add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=Downloads())

    assert again == held
    base = NGINX.blobs[json.loads(NGINX.manifest)["config"]["digest"]]
    assert held != layered_image(NGINX.manifest, DOCKER_MANIFEST, base, SITE).digest  # not the same bytes


def test_a_base_the_repository_does_not_hold_is_refused_by_name(ecr: Any) -> None:
    """Amazon ECR API reference, BatchGetImage: an image not found is a `failures` entry."""
    publish(ecr, NGINX)

    with pytest.raises(ImageLayerError, match=f"the base image {REPOSITORY}:frontend-9.9.9 is not in the repository"):
        add_layer(ecr, REPOSITORY, "frontend-9.9.9", SITE, TAG, fetch=Downloads())


def test_a_base_config_downloaded_with_other_bytes_is_refused_before_any_upload(ecr: Any) -> None:
    """OCI image spec, "Descriptors": content named by a digest must hash to it when read."""
    publish(ecr, NGINX)

    with pytest.raises(ImageLayerError, match="config downloaded has another digest"):
        add_layer(ecr, REPOSITORY, BASE_TAG, SITE, TAG, fetch=lambda url: [b"{}"])

    assert ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": BASE_TAG}])["imageDetails"]
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": TAG}])
