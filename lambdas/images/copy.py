"""One image copied from the publisher's registry into the installation's, with ECR's API alone.

Lambda runs a container image only from a private ECR repository of the function's own Region
(https://docs.aws.amazon.com/lambda/latest/dg/images-create.html), and the installer has no build
servers nor Docker: the image the release pins (repository, tag, digest) is copied blob by blob,
as a registry client pulls and pushes one (Amazon ECR API reference: BatchGetImage,
BatchCheckLayerAvailability, GetDownloadUrlForLayer, InitiateLayerUpload, UploadLayerPart,
CompleteLayerUpload, PutImage):

1. the installation's repository is created if missing (scan on push, immutable tags, encrypted);
2. an image already there under the tag with the pinned digest is left alone (a re-run copies
   nothing); another digest under the tag is refused (tags are immutable: nothing is overwritten);
3. the source's manifest, fetched by the pinned digest, must hash to it;
4. each blob the manifest names (its config and layers) that the target lacks is downloaded from
   the URL the source gives and uploaded in parts, its digest checked by ECR on completion;
5. PutImage with the manifest under the tag; the digest ECR answers must be the pinned one.

Clients are parameters (the source's ECR in the publisher's region, the target's in the stage's
region); `fetch` streams a layer's download URL (`lambdas.data.downloads`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.data.aws import ClientError

#: The manifest media types the copy asks for (a single-platform image; Lambda runs one).
MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
#: What ECR takes in one UploadLayerPart (its quota "Layer part size": 10 MiB at most per part).
MAX_PART_BYTES = 10 * 1024 * 1024
#: The installation's repository, as the installer creates it.
REPOSITORY_SETTINGS: dict[str, Any] = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfiguration": {"encryptionType": "AES256"},
}

#: Streams the body of a URL in chunks.
Fetch = Callable[[str], Iterable[bytes]]


class ImageCopyError(Exception):
    """An image that cannot be made available as the release pins it; the message names it."""


@dataclass(frozen=True)
class ImageSpec:
    """An image the release pins, and the publisher's registry it is copied from."""

    repository: str
    tag: str
    digest: str
    source_registry: str
    source_region: str

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Copied:
    """The outcome of one image in one region: `COPIED` or `PRESENT` (nothing to do)."""

    image: str
    region: str
    digest: str
    result: str
    repository_created: bool = False
    blobs_copied: int = 0
    bytes_copied: int = 0

    def to_record(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "region": self.region,
            "digest": self.digest,
            "result": self.result,
            "repository_created": self.repository_created,
            "blobs_copied": self.blobs_copied,
            "bytes_copied": self.bytes_copied,
        }


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def lambda_pull_policy(repository_arn: str) -> str:
    """The repository policy that lets Lambda pull for the account's own functions: what Lambda adds
    itself when its caller may set the policy (Lambda developer guide, "Amazon ECR permissions");
    the installer sets it, so CloudFormation's service role needs no ECR permission."""
    partition, region, account = (
        repository_arn.split(":")[1],
        repository_arn.split(":")[3],
        repository_arn.split(":")[4],
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "LambdaECRImageRetrievalPolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Condition": {
                        "StringLike": {"aws:sourceArn": f"arn:{partition}:lambda:{region}:{account}:function:*"}
                    },
                }
            ],
        },
        sort_keys=True,
    )


def ensure_repository(ecr: Any, repository: str) -> bool:
    """The repository in the target registry, with Lambda's pull policy; True if this call created it."""
    created = False
    try:
        arn = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryArn"]
    except ClientError as error:
        if _code(error) != "RepositoryNotFoundException":
            raise
        try:
            arn = ecr.create_repository(repositoryName=repository, **REPOSITORY_SETTINGS)["repository"]["repositoryArn"]
            created = True
        except ClientError as again:
            if _code(again) != "RepositoryAlreadyExistsException":  # another call made it meanwhile
                raise
            arn = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryArn"]
    wanted = lambda_pull_policy(str(arn))
    try:
        held = ecr.get_repository_policy(repositoryName=repository)["policyText"]
    except ClientError as error:
        if _code(error) != "RepositoryPolicyNotFoundException":
            raise
        held = None
    if held is None or json.loads(held) != json.loads(wanted):  # a redeploy writes nothing
        ecr.set_repository_policy(repositoryName=repository, policyText=wanted)
    return created


def digest_of_tag(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest of the image a repository holds under `tag`, or None."""
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ClientError as error:
        if _code(error) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    return str(details[0]["imageDigest"]) if details else None


def source_manifest(source: Any, spec: ImageSpec) -> tuple[str, str]:
    """(manifest, media type) of the pinned image in the publisher's registry, checked against the digest."""
    where = f"registry {spec.source_registry} in {spec.source_region}"
    try:
        answer = source.batch_get_image(
            registryId=spec.source_registry,
            repositoryName=spec.repository,
            imageIds=[{"imageDigest": spec.digest}],
            acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES),
        )
    except ClientError as error:
        message = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
        if _code(error) in ("RepositoryNotFoundException", "ImageNotFoundException"):
            raise ImageCopyError(
                f"image {spec.name}@{spec.digest} is not in the publisher's {where} ({message})"
            ) from None
        raise ImageCopyError(f"image {spec.name}@{spec.digest}: the publisher's {where} answers {message}") from None
    images = answer.get("images") or []
    if not images:
        failure = (answer.get("failures") or [{}])[0]
        raise ImageCopyError(
            f"image {spec.name}@{spec.digest} is not in the publisher's {where} "
            f"({failure.get('failureCode', 'ImageNotFound')}: {failure.get('failureReason', 'not found')})"
        )
    manifest = str(images[0]["imageManifest"])
    actual = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    if actual != spec.digest:
        raise ImageCopyError(
            f"image {spec.name}: the publisher's {where} serves a manifest whose digest is {actual}, "
            f"not {spec.digest} as the release pins"
        )
    media_type = manifest_media_type(images[0], f"{spec.name}@{spec.digest}")
    return manifest, media_type


def manifest_media_type(image: Mapping[str, Any], name: str) -> str:
    """The media type of an image BatchGetImage answers (its `imageManifestMediaType`, else the
    manifest's own `mediaType`), refused unless a single-platform image manifest: a manifest list
    or an image index names no layers of its own."""
    manifest = str(image["imageManifest"])
    media_type = str(image.get("imageManifestMediaType") or json.loads(manifest).get("mediaType") or "")
    if media_type and media_type not in MANIFEST_MEDIA_TYPES:
        raise ImageCopyError(
            f"image {name} is a {media_type}, not a single-platform image manifest: "
            "pin the digest of the platform's image (linux/amd64 or linux/arm64) in the release"
        )
    return media_type


def blobs_of(manifest: str) -> list[str]:
    """The digests a manifest names: its config, then its layers."""
    document = json.loads(manifest)
    digests = [str(document["config"]["digest"])] if "config" in document else []
    digests += [str(layer["digest"]) for layer in document.get("layers", [])]
    return list(dict.fromkeys(digests))


def missing_blobs(target: Any, repository: str, digests: list[str]) -> list[str]:
    """The digests the target repository does not hold, in the manifest's order."""
    if not digests:
        return []
    answer = target.batch_check_layer_availability(repositoryName=repository, layerDigests=digests)
    available = {
        layer["layerDigest"] for layer in answer.get("layers", []) if layer.get("layerAvailability") == "AVAILABLE"
    }
    return [digest for digest in digests if digest not in available]


def _parts(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """`chunks` regrouped into parts of `size` bytes (the last may be shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def upload_blob(target: Any, repository: str, chunks: Iterable[bytes], digest: str, name: str) -> int:
    """One blob uploaded into the target's repository in parts (InitiateLayerUpload, UploadLayerPart
    of at most the part size ECR answers, CompleteLayerUpload), its digest checked on the way and
    by ECR on completion; the bytes uploaded. `name` names the image in errors."""
    upload = target.initiate_layer_upload(repositoryName=repository)
    upload_id = upload["uploadId"]
    part_size = min(int(upload.get("partSize") or MAX_PART_BYTES), MAX_PART_BYTES)
    hashed = hashlib.sha256()
    sent = 0
    for part in _parts(chunks, part_size):
        target.upload_layer_part(
            repositoryName=repository,
            uploadId=upload_id,
            partFirstByte=sent,
            partLastByte=sent + len(part) - 1,
            layerPartBlob=part,
        )
        hashed.update(part)
        sent += len(part)
    uploaded = "sha256:" + hashed.hexdigest()
    if uploaded != digest:
        raise ImageCopyError(f"image {name}: the blob downloaded for {digest} has the digest {uploaded}")
    done = target.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest])
    if done.get("layerDigest") != digest:
        raise ImageCopyError(f"image {name}: ECR stored the blob {digest} as {done.get('layerDigest')}")
    return sent


def blob_chunks(ecr: Any, repository: str, digest: str, fetch: Fetch, registry: str | None = None) -> Iterable[bytes]:
    """The bytes of a blob a repository holds, streamed from the URL GetDownloadUrlForLayer answers
    (a config blob is a blob like a layer: ECR serves both so)."""
    where: dict[str, str] = {"registryId": registry} if registry else {}
    url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=digest, **where)["downloadUrl"]
    return fetch(url)


def copy_blob(source: Any, target: Any, spec: ImageSpec, digest: str, fetch: Fetch) -> int:
    """One blob streamed from the source's download URL into the target; the bytes copied."""
    chunks = blob_chunks(source, spec.repository, digest, fetch, registry=spec.source_registry)
    return upload_blob(target, spec.repository, chunks, digest, spec.name)


def put_manifest(target: Any, repository: str, tag: str, manifest: str, media_type: str) -> str:
    """PutImage of `manifest` under `tag`; the digest the repository holds under the tag afterwards
    (a concurrent call that put it first leaves ECR answering ImageAlreadyExistsException or, tags
    being immutable, ImageTagAlreadyExistsException: the tag's digest is then read)."""
    put: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest, "imageTag": tag}
    if media_type:
        put["imageManifestMediaType"] = media_type
    try:
        answer = target.put_image(**put)
        return str(answer["image"]["imageId"]["imageDigest"])
    except ClientError as error:
        if _code(error) not in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
            raise
        return digest_of_tag(target, repository, tag) or ""


def copy_image(source: Any, target: Any, spec: ImageSpec, region: str, fetch: Fetch) -> Copied:
    """The pinned image in the target registry (the installation's, in `region`), copied if missing."""
    created = ensure_repository(target, spec.repository)
    held = digest_of_tag(target, spec.repository, spec.tag)
    if held == spec.digest:
        return Copied(spec.name, region, spec.digest, "PRESENT", repository_created=created)
    if held is not None:
        raise ImageCopyError(
            f"image {spec.name} in the installation's registry in {region} is {held}, but the release pins "
            f"{spec.digest}; its tags are immutable, so it is not replaced: delete that image, or publish the "
            "release under a new tag"
        )
    manifest, media_type = source_manifest(source, spec)
    copied = 0
    missing = missing_blobs(target, spec.repository, blobs_of(manifest))
    for digest in missing:
        copied += copy_blob(source, target, spec, digest, fetch)
    stored = put_manifest(target, spec.repository, spec.tag, manifest, media_type)
    if stored != spec.digest:
        raise ImageCopyError(
            f"image {spec.name} in the installation's registry in {region} has the digest {stored}, "
            f"not {spec.digest} as the release pins"
        )
    return Copied(spec.name, region, spec.digest, "COPIED", created, len(missing), copied)
