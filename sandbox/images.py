"""Container images as the sandbox holds them: an image root per image, in a registry of its own.

AWS runs a `PackageType: Image` function from an image in ECR: Lambda resolves the tag to the
image's digest when the function is created (or its code updated) and runs that digest from then
on (Lambda developer guide, "Create a Lambda function using a container image"). The sandbox has
no Docker engine, so an image is an **image root**: a folder laid out as the image's file system,
registered for an image URI. The sandbox pushes a manifest of the root to its ECR (moto), so
`ecr:DescribeImages` answers, and the Lambda runtime runs the function from the root.

A root's layout (paths inside the image are paths under the root):

- `image.json` (optional): the image's configuration, the fields of an OCI image config the
  runtime reads: `Entrypoint`, `Cmd`, `WorkingDir`, `Env` (`["K=V", ...]`). Without it the image is
  one built on an AWS base image for Python: `/lambda-entrypoint.sh`, working directory
  `/var/task` (where the function's code goes).
- the function's code under the working directory;
- the image's own packages in `lib/python3.X/site-packages` folders (`usr/local/...` as
  `pip install --prefix=/usr/local` leaves them, `var/lang/...` as on AWS base images), or beside
  the code (`pip install -t /var/task`). Nothing of this machine's packages is on the path.

The root's packages must suit this machine's Python, which stands in for the image's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The configuration of an image that has no `image.json`: an AWS base image for Python.
AWS_BASE_IMAGE_CONFIG: dict[str, Any] = {
    "Entrypoint": ["/lambda-entrypoint.sh"],
    "Cmd": [],
    "WorkingDir": "/var/task",
    "Env": [],
}
CONFIG_FILE = "image.json"
#: The one file of a stand-in image's layer: the identity of the root it stands for.
IDENTITY_FILE = ".sandbox-image-root"
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
#: A private ECR image URI: `ACCOUNT.dkr.ecr.REGION.SUFFIX/REPOSITORY` then `:TAG` or `@sha256:HEX`.
IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<suffix>[a-z0-9.]+)/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))$"
)


class ImageError(ValueError):
    """An image URI the sandbox cannot resolve to an image it holds."""

    code = "InvalidImage"


@dataclass(frozen=True)
class ImageReference:
    """What an image URI names: a repository of one account's registry in one region, and a tag or
    a digest."""

    uri: str
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, uri: str) -> ImageReference:
        match = IMAGE_URI.match(uri)
        if match is None:
            raise ImageError(f"{uri} is not an Amazon ECR image URI (ACCOUNT.dkr.ecr.REGION.SUFFIX/REPOSITORY:TAG)")
        return cls(
            uri=uri,
            account=match["account"],
            region=match["region"],
            repository=match["repository"],
            tag=match["tag"],
            digest=match["digest"],
        )


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    working_dir: str
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of_root(cls, root: Path) -> ImageConfig:
        document = dict(AWS_BASE_IMAGE_CONFIG)
        path = root / CONFIG_FILE
        if path.is_file():
            document = json.loads(path.read_text())
        env = tuple(tuple(item.split("=", 1)) for item in document.get("Env") or [] if "=" in item)
        return cls(
            entrypoint=tuple(document.get("Entrypoint") or ()),
            cmd=tuple(document.get("Cmd") or ()),
            working_dir=str(document.get("WorkingDir") or "/"),
            env=env,
        )


@dataclass(frozen=True)
class Image:
    """An image the sandbox holds: its root, its configuration, and the digest ECR knows it by."""

    reference: ImageReference
    root: Path
    config: ImageConfig
    digest: str  # sha256:HEX of the manifest
    manifest: str
    size: int

    def path(self, inside: str) -> Path:
        """A path inside the image, as a path under the root."""
        return self.root / inside.lstrip("/")

    def site_packages(self) -> list[Path]:
        """The image's own package folders (its `lib/python3.X/site-packages`), most specific
        first: those of this machine's Python version before any other."""
        found = sorted(
            {
                p
                for pattern in ("*/lib/python3*/site-packages", "*/*/lib/python3*/site-packages")
                for p in self.root.glob(pattern)
            }
        )
        mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return sorted(found, key=lambda p: (mine not in p.parts, str(p)))


def root_identity(root: Path) -> tuple[str, int]:
    """(identity, size) of a root: the sha256 of its file list (path, mode, content digest), and the
    size of its files. A root whose files change has another identity, so another image digest."""
    files = hashlib.sha256()
    size = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        content = path.read_bytes()
        size += len(content)
        relative = path.relative_to(root).as_posix()
        files.update(f"{relative}\0{path.stat().st_mode & 0o111:o}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    return files.hexdigest(), size


@dataclass(frozen=True)
class OciImage:
    """An image as a registry holds it: its manifest (whose sha256 is the image's digest) and the
    blobs the manifest names by digest (its config and its one layer)."""

    manifest: str
    digest: str
    blobs: dict[str, bytes]

    @property
    def layer_digest(self) -> str:
        return str(json.loads(self.manifest)["layers"][0]["digest"])


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def stand_in_image(identity: str) -> OciImage:
    """The image that stands for an image root in a registry: one layer, a gzipped tar holding the
    file `IDENTITY_FILE` with `identity` (a digest-addressed reference to the root: the layer's
    digest is how the sandbox finds the root again, wherever the image is copied), and an OCI-style
    config naming the layer's uncompressed digest. Deterministic: the same identity gives the same
    bytes, so a release can pin the digest before any registry holds the image."""
    content = identity.encode()
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(IDENTITY_FILE)
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        archive.addfile(info, io.BytesIO(content))
    tar = tar_bytes.getvalue()
    layer = gzip.compress(tar, mtime=0)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [_digest(tar)]}},
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": len(config), "digest": _digest(config)},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "size": len(layer), "digest": _digest(layer)}],
        },
        sort_keys=True,
    )
    return OciImage(manifest, _digest(manifest.encode()), {_digest(config): config, _digest(layer): layer})


#: Pushes an image to ECR: (account, region, repository, tag, manifest, digest, blobs by digest).
Pusher = Callable[[str, str, str, str, str, str, Mapping[str, bytes]], None]
#: Whether ECR still holds an image: (account, region, repository, digest).
Finder = Callable[[str, str, str, str], bool]
#: The image ECR holds for a tag or a digest, as (digest, manifest): (account, region, repository,
#: tag, digest); None if it holds none.
Lookup = Callable[[str, str, str, "str | None", "str | None"], "tuple[str, str] | None"]


@dataclass(frozen=True)
class _Root:
    root: Path
    config: ImageConfig
    size: int


@dataclass
class ImageRegistry:
    """The sandbox's images: `uri -> root`, each also pushed to the sandbox's ECR.

    Registered images outlive `Sandbox.reset()` (they are the sandbox's set-up, like
    `sandbox serve --image`): `republish` pushes them to the emptied ECR again. An image ECR holds
    that was not registered under its URI (one the installer copied from another registry) is
    found by its layer's digest: the layer of a stand-in image addresses the root it stands for.
    """

    push: Pusher | None = None
    in_ecr: Finder | None = None
    lookup: Lookup | None = None
    _by_digest: dict[tuple[str, str, str, str], Image] = field(default_factory=dict)
    _by_tag: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    _by_layer: dict[str, _Root] = field(default_factory=dict)
    _blobs: dict[str, dict[str, bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, uri: str, root: Path | str, identity: str | None = None) -> Image:
        """Hold `root` as the image `uri` names (a tag: re-registering a tag moves it, as a push
        does; functions created before keep the digest they resolved). The image is the stand-in
        of `identity` (default: the root's content, so a changed root is another image)."""
        reference = ImageReference.parse(uri)
        if reference.tag is None:
            raise ImageError(f"{uri}: register an image by tag; its digest is the sandbox's to compute")
        root = Path(root).resolve()
        if not root.is_dir():
            raise ImageError(f"image root {root} is not a folder")
        if identity is None:
            identity, size = root_identity(root)
        else:
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        oci = stand_in_image(identity)
        image = Image(reference, root, ImageConfig.of_root(root), oci.digest, oci.manifest, size)
        key = (reference.account, reference.region, reference.repository)
        with self._lock:
            self._by_digest[(*key, oci.digest)] = image
            self._by_tag[(*key, reference.tag)] = oci.digest
            self._by_layer[oci.layer_digest] = _Root(image.root, image.config, size)
            self._blobs[oci.digest] = oci.blobs
        self._publish(image, reference.tag)
        return image

    def images(self) -> list[Image]:
        with self._lock:
            return list(self._by_digest.values())

    def republish(self) -> None:
        """Push every tagged image to ECR again (after a reset emptied it)."""
        with self._lock:
            tagged = [(self._by_digest[(*key[:3], digest)], key[3]) for key, digest in self._by_tag.items()]
        for image, tag in tagged:
            self._publish(image, tag)

    def clear(self) -> None:
        """Forget every image (ECR keeps what was pushed until it is reset)."""
        with self._lock:
            self._by_digest.clear()
            self._by_tag.clear()
            self._by_layer.clear()
            self._blobs.clear()

    def resolve(self, uri: str) -> Image:
        """The image a function's `ImageUri` names, as Lambda resolves it at CreateFunction: the
        image ECR holds for that tag or digest. ImageError if there is none."""
        reference = ImageReference.parse(uri)
        key = (reference.account, reference.region, reference.repository)
        with self._lock:
            digest = reference.digest or self._by_tag.get((*key, reference.tag or ""))
            image = self._by_digest.get((*key, digest)) if digest else None
        if image is not None and self.holds(image.reference, image.digest):
            return image
        found = self._from_ecr(reference, reference.tag, reference.digest)
        if found is None:
            raise ImageError(f"Source image {uri} is not valid. Provide a valid source image.")
        return found

    def by_digest(self, uri: str, digest: str) -> Image | None:
        """The image a function resolved (its URI's repository and the digest it keeps), if the
        sandbox still holds it and ECR does too."""
        reference = ImageReference.parse(uri)
        with self._lock:
            image = self._by_digest.get((reference.account, reference.region, reference.repository, digest))
        if image is not None:
            return image if self.holds(reference, digest) else None
        return self._from_ecr(reference, None, digest)

    def holds(self, reference: ImageReference, digest: str) -> bool:
        return self.in_ecr is None or self.in_ecr(reference.account, reference.region, reference.repository, digest)

    def _from_ecr(self, reference: ImageReference, tag: str | None, digest: str | None) -> Image | None:
        """The image ECR holds in the URI's repository (copied there, not registered), run from the
        root its layer's digest addresses; None if ECR holds none or no root is known for it."""
        if self.lookup is None:
            return None
        found = self.lookup(reference.account, reference.region, reference.repository, tag, digest)
        if found is None:
            return None
        image_digest, manifest = found
        layers = [str(layer.get("digest")) for layer in json.loads(manifest).get("layers", [])]
        with self._lock:
            roots = [self._by_layer[layer] for layer in layers if layer in self._by_layer]
        if len(roots) != 1:
            return None
        return Image(reference, roots[0].root, roots[0].config, image_digest, manifest, roots[0].size)

    def _publish(self, image: Image, tag: str) -> None:
        if self.push is not None:
            reference = image.reference
            with self._lock:
                blobs = self._blobs.get(image.digest, {})
            self.push(
                reference.account, reference.region, reference.repository, tag, image.manifest, image.digest, blobs
            )


def parse_image_option(option: str) -> tuple[str, Path]:
    """`URI=PATH` (`sandbox serve --image`)."""
    uri, separator, path = option.partition("=")
    if not separator or not uri or not path:
        raise ImageError(f"--image takes URI=PATH, not {option!r}")
    return uri, Path(path).expanduser()
