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

import hashlib
import json
import re
import sys
import threading
from collections.abc import Callable
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


def root_manifest(root: Path) -> tuple[str, int]:
    """(manifest, size) of a root: a Docker v2 manifest whose one layer's digest is the sha256 of
    the root's file list (path, mode, content digest) and whose config is `image.json`'s digest.
    The image's digest is the sha256 of this manifest, as ECR's is of the image's."""
    files = hashlib.sha256()
    size = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        content = path.read_bytes()
        size += len(content)
        relative = path.relative_to(root).as_posix()
        files.update(f"{relative}\0{path.stat().st_mode & 0o111:o}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    config = (
        (root / CONFIG_FILE).read_bytes()
        if (root / CONFIG_FILE).is_file()
        else json.dumps(AWS_BASE_IMAGE_CONFIG).encode()
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "size": len(config),
            "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
        },
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "size": size, "digest": f"sha256:{files.hexdigest()}"}],
    }
    return json.dumps(manifest, sort_keys=True), size


#: Pushes an image's manifest to ECR: (account, region, repository, tag, manifest, digest).
Pusher = Callable[[str, str, str, str, str, str], None]
#: Whether ECR still holds an image: (account, region, repository, digest).
Finder = Callable[[str, str, str, str], bool]


@dataclass
class ImageRegistry:
    """The sandbox's images: `uri -> root`, each also pushed to the sandbox's ECR.

    Registered images outlive `Sandbox.reset()` (they are the sandbox's set-up, like
    `sandbox serve --image`): `republish` pushes them to the emptied ECR again.
    """

    push: Pusher | None = None
    in_ecr: Finder | None = None
    _by_digest: dict[tuple[str, str, str, str], Image] = field(default_factory=dict)
    _by_tag: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, uri: str, root: Path | str) -> Image:
        """Hold `root` as the image `uri` names (a tag: re-registering a tag moves it, as a push
        does; functions created before keep the digest they resolved)."""
        reference = ImageReference.parse(uri)
        if reference.tag is None:
            raise ImageError(f"{uri}: register an image by tag; its digest is the sandbox's to compute")
        root = Path(root).resolve()
        if not root.is_dir():
            raise ImageError(f"image root {root} is not a folder")
        manifest, size = root_manifest(root)
        digest = f"sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"
        image = Image(reference, root, ImageConfig.of_root(root), digest, manifest, size)
        key = (reference.account, reference.region, reference.repository)
        with self._lock:
            self._by_digest[(*key, digest)] = image
            self._by_tag[(*key, reference.tag)] = digest
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

    def resolve(self, uri: str) -> Image:
        """The image a function's `ImageUri` names, as Lambda resolves it at CreateFunction: the
        image ECR holds for that tag or digest. ImageError if there is none."""
        reference = ImageReference.parse(uri)
        key = (reference.account, reference.region, reference.repository)
        with self._lock:
            digest = reference.digest or self._by_tag.get((*key, reference.tag or ""))
            image = self._by_digest.get((*key, digest)) if digest else None
        if image is None or not self.holds(image.reference, image.digest):
            raise ImageError(f"Source image {uri} is not valid. Provide a valid source image.")
        return image

    def by_digest(self, uri: str, digest: str) -> Image | None:
        """The image a function resolved (its URI's repository and the digest it keeps), if the
        sandbox still holds it and ECR does too."""
        reference = ImageReference.parse(uri)
        with self._lock:
            image = self._by_digest.get((reference.account, reference.region, reference.repository, digest))
        if image is None or not self.holds(reference, digest):
            return None
        return image

    def holds(self, reference: ImageReference, digest: str) -> bool:
        return self.in_ecr is None or self.in_ecr(reference.account, reference.region, reference.repository, digest)

    def _publish(self, image: Image, tag: str) -> None:
        if self.push is not None:
            reference = image.reference
            self.push(reference.account, reference.region, reference.repository, tag, image.manifest, image.digest)


def parse_image_option(option: str) -> tuple[str, Path]:
    """`URI=PATH` (`sandbox serve --image`)."""
    uri, separator, path = option.partition("=")
    if not separator or not uri or not path:
        raise ImageError(f"--image takes URI=PATH, not {option!r}")
    return uri, Path(path).expanduser()
