"""The files of an image in the sandbox's ECR, as a container of the image sees them.

The sandbox runs no container: to serve what a container would (nginx serving data.all's web UI
from the installation's frontend image, its bundle added as a layer by `lambdas.images.layer`) it
reads the image's file system from the blobs its ECR holds. A container's root file system is the
image's layers applied in the manifest's order to an empty directory, a file of a later layer
replacing the one of the same path in the layers before it (OCI image spec, "Image Manifest":
`layers`; "Image Layer Filesystem Changeset": "Applying Changesets").

What is applied of a layer:

- regular files, and hard links (the file they link to, as the view holds it then);
- symbolic links, followed when the path read ends in one (a link among the path's folders is not
  followed: such a path reads as missing);
- whiteouts (OCI image spec, "Whiteouts"): `.wh.NAME` hides `NAME` (and all under it) of the layers
  before, and `.wh..wh..opq` hides everything of those layers in its folder;
- a file replacing a folder of a layer before hides the folder's contents, and the reverse.

Layers are tars, gzipped or not (`tarfile` recognises both; zstd is refused by name). Devices,
fifos, modes and owners are not kept: a file is its bytes.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox import moto_internals

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
#: Symbolic links followed at most (Linux's MAXSYMLINKS).
MAX_LINKS = 40
#: Images whose file systems are kept, by digest (the most recently read).
KEPT_IMAGES = 8


class ImageFileError(ValueError):
    """An image whose layers the sandbox cannot read."""


@dataclass(frozen=True)
class _Entry:
    """What a path of the view is: a file's bytes, a folder, or a symbolic link's target."""

    kind: str  # "file", "dir" or "link"
    data: bytes = b""
    target: str = ""


def _normal(name: str) -> str:
    path = posixpath.normpath("/" + name.strip("/")).lstrip("/")
    return "" if path == "." else path


def _under(path: str, folder: str) -> bool:
    return folder == "" or path.startswith(folder + "/")


def _hide(view: dict[str, _Entry], path: str, *, itself: bool = True) -> None:
    for name in [name for name in view if (itself and name == path) or _under(name, path)]:
        del view[name]


def _members(layer: bytes) -> list[tuple[str, tarfile.TarInfo, bytes]]:
    """(path, member, content of a regular file) of each entry of a layer, in the tar's order."""
    if layer[:4] == b"\x28\xb5\x2f\xfd":
        raise ImageFileError("a zstd-compressed layer: the sandbox reads tar and tar+gzip layers only")
    try:
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r:*") as archive:
            found = []
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.isfile() else None
                found.append((_normal(member.name), member, extracted.read() if extracted is not None else b""))
            return found
    except tarfile.TarError as error:
        raise ImageFileError(f"a layer that is not a tar: {error}") from None


def _entry(view: dict[str, _Entry], member: tarfile.TarInfo, content: bytes) -> _Entry | None:
    """What a member of a layer puts at its path: None for what the view does not keep (devices,
    fifos, a hard link to no file)."""
    if member.isdir():
        return _Entry("dir")
    if member.isfile():
        return _Entry("file", content)
    if member.issym():
        return _Entry("link", target=member.linkname)
    if member.islnk():
        linked = view.get(_normal(member.linkname))
        return linked if linked is not None and linked.kind == "file" else None
    return None


def apply_layer(view: dict[str, _Entry], layer: bytes) -> None:
    """One layer (a tar, gzipped or not) applied to `view` (path -> entry), in place."""
    members = _members(layer)
    # Whiteouts apply to the layers before only (OCI image spec, "Whiteouts"), so first.
    for path, _, _ in members:
        folder, base = posixpath.split(path)
        if base == OPAQUE_WHITEOUT:
            _hide(view, folder, itself=False)
        elif base.startswith(WHITEOUT_PREFIX):
            _hide(view, posixpath.join(folder, base[len(WHITEOUT_PREFIX) :]))
    for path, member, content in members:
        if not path or posixpath.basename(path).startswith(WHITEOUT_PREFIX):
            continue
        entry = _entry(view, member, content)
        if entry is None:
            continue
        if entry.kind != "dir":
            _hide(view, path, itself=False)  # a file (or link) replacing a folder hides what it held
        for parent in _parents(path):
            if parent in view and view[parent].kind != "dir":
                del view[parent]  # and a folder replacing a file (its entry implied by its own)
        view[path] = entry


def _parents(path: str) -> list[str]:
    parents = []
    while path := posixpath.dirname(path):
        parents.append(path)
    return parents


def file_system(layers: Iterable[bytes]) -> dict[str, _Entry]:
    """The view the layers make applied in order to an empty directory."""
    view: dict[str, _Entry] = {}
    for layer in layers:
        apply_layer(view, layer)
    return view


def read_file(view: dict[str, _Entry], path: str) -> bytes | None:
    """The bytes of the file at `path` in the view (symbolic links at its end followed), or None if
    there is no file there (missing, a folder, or a link leading nowhere)."""
    current = _normal(path)
    for _ in range(MAX_LINKS + 1):
        entry = view.get(current)
        if entry is None or entry.kind == "dir":
            return None
        if entry.kind == "file":
            return entry.data
        target = entry.target
        current = _normal(target if target.startswith("/") else posixpath.join(posixpath.dirname(current), target))
    return None


#: The image ECR holds for a tag or a digest, as (digest, manifest): (account, region, repository,
#: tag, digest).
Lookup = Callable[[str, str, str, "str | None", "str | None"], "tuple[str, str] | None"]
#: A blob ECR holds, by digest.
Blob = Callable[[str], "bytes | None"]


class ImageFiles:
    """The file systems of the images in the sandbox's ECR, read from their layers' blobs and kept
    by image digest (an image's digest names its manifest, so its layers, for good)."""

    def __init__(self, lookup: Lookup = moto_internals.ecr_image, blob: Blob = moto_internals.ecr_blob) -> None:
        self.lookup, self.blob = lookup, blob
        self._kept: OrderedDict[str, dict[str, _Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, account: str, region: str, repository: str, reference: str) -> dict[str, _Entry] | None:
        """The file system of the image `reference` (a tag or a `sha256:` digest) names in the
        repository, or None if ECR holds no such image."""
        digest = reference if reference.startswith("sha256:") else None
        found = self.lookup(account, region, repository, None if digest else reference, digest)
        if found is None:
            return None
        image_digest, manifest = found
        with self._lock:
            if image_digest in self._kept:
                self._kept.move_to_end(image_digest)
                return self._kept[image_digest]
        layers = []
        for layer in json.loads(manifest).get("layers") or []:
            data = self.blob(str(layer.get("digest")))
            if data is None:
                raise ImageFileError(f"image {repository}@{image_digest}: ECR holds no blob {layer.get('digest')}")
            layers.append(data)
        view = file_system(layers)
        with self._lock:
            self._kept[image_digest] = view
            while len(self._kept) > KEPT_IMAGES:
                self._kept.popitem(last=False)
        return view

    def file(self, account: str, region: str, repository: str, reference: str, path: str) -> bytes | None:
        """The bytes of `path` in the image, as a container of it reads them; None if the image or
        the file is missing."""
        view = self.view(account, region, repository, reference)
        return None if view is None else read_file(view, path)


_files = ImageFiles()


def image_file(
    region: str, repository: str, reference: str, path: str, account: str = moto_internals.ACCOUNT_ID
) -> bytes | None:
    """The bytes of the file at `path` in the image `reference` (tag or digest) names in the
    sandbox's ECR repository, as a container of the image reads them; None if there is none."""
    return _files.file(account, region, repository, reference, path)
