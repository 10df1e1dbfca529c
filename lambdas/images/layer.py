"""An image made from another by adding one layer of files, with ECR's API alone.

The web UI of an installation whose load balancer is internal is served by nginx from data.all's
frontend image, whose bundle holds the installation's API URL and Cognito ids. The installer has no
build servers nor Docker: it makes the installation's image from the release's (already copied into
the installation's registry by the `images` step) by adding ONE layer holding the installation's
bundle, as a `COPY` in a Dockerfile would. A layer is a tar of the files it changes, and a file of a
later layer replaces the file of the same path in the layers before it (OCI image spec, "Image
Layer Filesystem Changeset": "Changesets", "Applying Changesets"); nothing of the base is rebuilt.

1. the base image's manifest (BatchGetImage, by tag or digest: a docker v2 or OCI image manifest,
   as `lambdas.images.copy` accepts) and its config blob (GetDownloadUrlForLayer, checked against
   its digest) are read;
2. the layer is a tar made deterministically (paths sorted, a directory entry for every parent,
   modification times 0, the mode and owner given) and gzipped with modification time 0: the same
   files give the same bytes, so the same digests, on every run;
3. the new config is the base's with the uncompressed tar's sha256 appended to `rootfs.diff_ids`
   (OCI image spec, "Image Configuration": "DiffIDs", the digests of the uncompressed layers in
   order) and an entry appended to `history` (when the base keeps one); everything else as it is;
4. the new manifest is the base's with the config's descriptor replaced and the layer's appended
   (OCI image spec, "Image Manifest": `layers` are applied in order, the last one on top);
5. the blobs the repository lacks (BatchCheckLayerAvailability) are uploaded in parts
   (InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload), and PutImage puts the manifest under
   the tag. The installation's repositories have immutable tags (`copy.REPOSITORY_SETTINGS`): an
   image already under the tag with the same content is left alone (a re-run uploads nothing);
   another is refused, nothing being overwritten.

Standard library and boto3 only: this runs in AWS (and against the sandbox, only the endpoint
differing).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.data.aws import ClientError
from lambdas.data.downloads import stream_url
from lambdas.images.copy import (
    MANIFEST_MEDIA_TYPES,
    Fetch,
    ImageCopyError,
    _code,
    blob_chunks,
    digest_of_tag,
    manifest_media_type,
    missing_blobs,
    put_manifest,
    upload_blob,
)

#: A gzipped layer's media type, by the manifest's (Docker's image manifest v2 schema 2; OCI image
#: spec, "Image Layer Filesystem Changeset": `application/vnd.oci.image.layer.v1.tar+gzip`).
LAYER_MEDIA_TYPES = {
    "application/vnd.docker.distribution.manifest.v2+json": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.manifest.v1+json": "application/vnd.oci.image.layer.v1.tar+gzip",
}
#: The `history` entry of the added layer (no `created`: a time would change the digest).
CREATED_BY = "dataall-installer: files added in one layer"
DIRECTORY_MODE = 0o755
#: The prefix that makes a file of a layer a whiteout (OCI image spec, "Whiteouts"): not a file.
WHITEOUT_PREFIX = ".wh."


class ImageLayerError(ImageCopyError):
    """An image that cannot be made from its base and files as asked; the message names it."""


@dataclass(frozen=True)
class LayeredImage:
    """The image a base and a layer make: its manifest (whose sha256 is its digest), its media type,
    and the two blobs it adds to the base's (the new config and the layer), by digest."""

    manifest: str
    media_type: str
    digest: str
    config_digest: str
    layer_digest: str
    diff_id: str
    blobs: dict[str, bytes]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_paths(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """`files` by their path inside the image, relative (`usr/share/nginx/html/index.html`; a leading
    `/` is dropped). Refused: an empty path, `.` or `..` in one, two names of one path, a path that
    is both a file and another's parent, and a whiteout's name (it would delete, not add)."""
    found: dict[str, bytes] = {}
    for given, content in files.items():
        path = given.lstrip("/")
        parts = path.split("/")
        if not path or "\0" in path or any(part in ("", ".", "..") for part in parts):
            raise ImageLayerError(f"the layer's file {given!r} is not a path inside the image")
        if parts[-1].startswith(WHITEOUT_PREFIX):
            raise ImageLayerError(f"the layer's file {given!r} would be a whiteout (OCI image spec, 'Whiteouts')")
        if path in found:
            raise ImageLayerError(f"the layer's file {path} is given twice")
        found[path] = bytes(content)
    for path in found:
        parent = posixpath.dirname(path)
        while parent:
            if parent in found:
                raise ImageLayerError(f"the layer's file {parent} is also the folder of {path}")
            parent = posixpath.dirname(parent)
    return found


def layer_tar(
    files: Mapping[str, bytes], *, mode: int = 0o644, uid: int = 0, gid: int = 0, directory_mode: int = DIRECTORY_MODE
) -> bytes:
    """The uncompressed layer: a tar (POSIX pax) of `files`, and of a directory entry for each of
    their parents, in sorted order (a parent before its children), every entry with modification
    time 0, owner `uid`:`gid` and no owner names; files with `mode`, directories `directory_mode`.

    A directory entry of a layer replaces the directory's metadata in the image (OCI image spec,
    "Changesets": a changed directory is the later layer's), so the parents take the owner given
    too: keep root (0) unless the folders are the files' owner's in the base."""
    found = layer_paths(files)
    directories = {parent for path in found for parent in _parents(path)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(directories | set(found)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, uid, gid, "", ""
            if name in directories:
                info.type, info.mode = tarfile.DIRTYPE, directory_mode
                archive.addfile(info)
            else:
                info.size, info.mode = len(found[name]), mode
                archive.addfile(info, io.BytesIO(found[name]))
    return buffer.getvalue()


def _parents(path: str) -> list[str]:
    parents = []
    parent = posixpath.dirname(path)
    while parent:
        parents.append(parent)
        parent = posixpath.dirname(parent)
    return parents


def gzipped(tar: bytes) -> bytes:
    """The layer's blob: the tar gzipped with modification time 0 and no file name in its header
    (RFC 1952 `MTIME` 0: "no time stamp is available"), so the same tar gives the same bytes."""
    return gzip.compress(tar, compresslevel=9, mtime=0)


def layered_config(base_config: bytes, diff_id: str, created_by: str = CREATED_BY) -> bytes:
    """The base's config with the layer: `diff_id` (the uncompressed tar's digest) appended to
    `rootfs.diff_ids` (OCI image spec, "Image Configuration": "DiffIDs ... in order from first to
    last") and, when the base keeps a `history` (one entry per layer, save `empty_layer` ones), an
    entry for it appended; every other field as the base has it, in its order."""
    document = json.loads(base_config)
    rootfs = document.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise ImageLayerError("the base image's config has no rootfs.diff_ids: not an image config")
    rootfs["diff_ids"] = [*rootfs["diff_ids"], diff_id]
    if isinstance(document.get("history"), list):
        document["history"] = [*document["history"], {"created_by": created_by}]
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def layered_image(
    base_manifest: str,
    media_type: str,
    base_config: bytes,
    files: Mapping[str, bytes],
    *,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    created_by: str = CREATED_BY,
) -> LayeredImage:
    """The image `files` in one layer on top of the base make (pure: no AWS). The manifest is the
    base's with the config's descriptor (digest, size) replaced and the layer's appended, every other
    field kept (OCI image spec, "Image Manifest")."""
    document = json.loads(base_manifest)
    kind = media_type or str(document.get("mediaType") or "")
    if kind not in LAYER_MEDIA_TYPES or not isinstance(document.get("layers"), list) or "config" not in document:
        raise ImageLayerError(f"the base image's manifest is not one of {', '.join(MANIFEST_MEDIA_TYPES)}")
    tar = layer_tar(files, mode=mode, uid=uid, gid=gid)
    layer, diff_id = gzipped(tar), _digest(tar)
    config = layered_config(base_config, diff_id, created_by)
    document["config"] = {**document["config"], "digest": _digest(config), "size": len(config)}
    document["layers"] = [
        *document["layers"],
        {"mediaType": LAYER_MEDIA_TYPES[kind], "size": len(layer), "digest": _digest(layer)},
    ]
    manifest = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return LayeredImage(
        manifest=manifest,
        media_type=media_type,
        digest=_digest(manifest.encode()),
        config_digest=_digest(config),
        layer_digest=_digest(layer),
        diff_id=diff_id,
        blobs={_digest(config): config, _digest(layer): layer},
    )


def image_of(ecr: Any, repository: str, reference: str) -> dict[str, Any] | None:
    """The image BatchGetImage answers for a tag or a `sha256:` digest (`imageManifest`,
    `imageManifestMediaType`), or None if the repository holds none."""
    image_id = {"imageDigest": reference} if reference.startswith("sha256:") else {"imageTag": reference}
    try:
        answer = ecr.batch_get_image(
            repositoryName=repository, imageIds=[image_id], acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES)
        )
    except ClientError as error:
        if _code(error) in ("RepositoryNotFoundException", "ImageNotFoundException"):
            return None
        raise
    images = answer.get("images") or []
    return dict(images[0]) if images else None


def base_image(ecr: Any, repository: str, base: str, fetch: Fetch) -> tuple[str, str, bytes]:
    """(manifest, media type, config) of the base image, the config's bytes checked against the
    digest the manifest names (and the manifest against `base` when it is a digest)."""
    found = image_of(ecr, repository, base)
    if found is None:
        raise ImageLayerError(f"the base image {repository}:{base} is not in the repository")
    manifest = str(found["imageManifest"])
    if base.startswith("sha256:") and _digest(manifest.encode()) != base:
        raise ImageLayerError(f"the base image {repository}@{base} has a manifest of another digest")
    media_type = manifest_media_type(found, f"{repository}:{base}")
    document = json.loads(manifest)
    digest = str((document.get("config") or {}).get("digest") or "")
    if not digest:
        raise ImageLayerError(f"the base image {repository}:{base} names no config")
    config = b"".join(blob_chunks(ecr, repository, digest, fetch))
    if _digest(config) != digest:
        raise ImageLayerError(f"the base image {repository}:{base}: its config downloaded has another digest")
    return manifest, media_type, config


def _same_content(ecr: Any, repository: str, held: str, image: LayeredImage, base_manifest: str) -> bool:
    """Whether the image held under the tag is the base with the same files, though not the same
    bytes: the same config (which names the uncompressed tar's digest and the base's layers') on the
    base's layers. A gzip made by another zlib than the first run's differs, not the files."""
    found = image_of(ecr, repository, held)
    if found is None:
        return False
    document = json.loads(str(found["imageManifest"]))
    layers = [str(layer.get("digest")) for layer in document.get("layers") or []]
    base_layers = [str(layer.get("digest")) for layer in json.loads(base_manifest)["layers"]]
    config = str((document.get("config") or {}).get("digest") or "")
    return config == image.config_digest and layers[:-1] == base_layers and len(layers) == len(base_layers) + 1


def add_layer(
    ecr: Any,
    repository: str,
    base: str,
    files: Mapping[str, bytes],
    tag: str,
    *,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    created_by: str = CREATED_BY,
    fetch: Fetch = stream_url,
) -> str:
    """The digest of the image `tag` names in `repository`: the base image (`base`: a tag or a
    `sha256:` digest, in the same repository) with `files` (path inside the image -> content) in one
    layer on top, made and put if the tag holds no image yet.

    The tag holding this image (or one of the same content: `_same_content`) is left alone, nothing
    uploaded; the tag holding another is refused (ImageLayerError), the repository's tags being
    immutable (ECR user guide, "Image tag mutability"; PutImage's ImageTagAlreadyExistsException).
    """
    name = f"{repository}:{tag}"
    base_manifest, media_type, base_config = base_image(ecr, repository, base, fetch)
    image = layered_image(
        base_manifest, media_type, base_config, files, mode=mode, uid=uid, gid=gid, created_by=created_by
    )
    held = digest_of_tag(ecr, repository, tag)
    if held is not None:
        if held == image.digest or _same_content(ecr, repository, held, image, base_manifest):
            return held
        raise ImageLayerError(
            f"image {name} is {held}, not {image.digest}, the base {base} with these files; the repository's "
            "tags are immutable, so it is not replaced: delete that image, or put the layer under another tag"
        )
    for digest in missing_blobs(ecr, repository, list(image.blobs)):
        upload_blob(ecr, repository, [image.blobs[digest]], digest, name)
    stored = put_manifest(ecr, repository, tag, image.manifest, media_type)
    if stored != image.digest:
        raise ImageLayerError(f"image {name} has the digest {stored}, not {image.digest} as made")
    return stored
