"""How the sandbox reads an image's files from its layers (sandbox/image_files.py), as a container of
the image sees them; layers as tars in memory, no ECR. Each test names the OCI image spec section."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from sandbox.image_files import ImageFileError, ImageFiles, file_system, read_file


def layer(*entries: tuple[str, bytes | str | None], compress: bool = True) -> bytes:
    """A layer of entries: (name, bytes) a file, (name, None) a folder, (name, "->target") a
    symbolic link, (name, "=>target") a hard link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE if content.startswith("->") else tarfile.LNKTYPE
                info.linkname = content[2:]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    tar = buffer.getvalue()
    return gzip.compress(tar, mtime=0) if compress else tar


def test_a_later_layers_file_replaces_the_same_path_and_the_others_stay() -> None:
    """OCI image spec, "Applying Changesets": added and modified files of a layer replace the
    lower ones; a layer may be a plain or a gzipped tar ("Distributable Format")."""
    view = file_system(
        [
            layer(("etc/nginx/nginx.conf", b"base"), ("usr/share/nginx/html/index.html", b"old")),
            layer(("./usr/share/nginx/html/index.html", b"new"), compress=False),
        ]
    )

    assert read_file(view, "usr/share/nginx/html/index.html") == b"new"
    assert read_file(view, "/etc/nginx/nginx.conf") == b"base"
    assert read_file(view, "etc/nginx") is None and read_file(view, "etc/missing") is None


def test_whiteouts_hide_the_lower_layers_path_and_an_opaque_one_the_lower_folders_contents() -> None:
    """OCI image spec, "Whiteouts": `.wh.NAME` hides NAME of the lower layers (a folder with all it
    holds); `.wh..wh..opq` hides every lower entry of its folder, not the layer's own."""
    view = file_system(
        [
            layer(("a/keep", b"1"), ("a/gone", b"2"), ("b/x/y", b"3"), ("c/old", b"4"), ("c/sub/z", b"5")),
            layer(("a/.wh.gone", b""), ("b/.wh.x", b""), ("c/.wh..wh..opq", b""), ("c/new", b"6")),
        ]
    )

    assert [read_file(view, p) for p in ("a/keep", "a/gone", "b/x/y", "c/old", "c/sub/z", "c/new")] == [
        b"1",
        None,
        None,
        None,
        None,
        b"6",
    ]
    assert "a/.wh.gone" not in view


def test_a_file_replacing_a_folder_hides_what_the_folder_held() -> None:
    """OCI image spec, "Changesets": a path's type may change between layers; the later one holds."""
    view = file_system([layer(("x/y", b"1")), layer(("x", b"now a file"))])

    assert (read_file(view, "x"), read_file(view, "x/y")) == (b"now a file", None)


def test_symbolic_links_at_the_path_end_and_hard_links_are_followed() -> None:
    """OCI image spec, "Changesets" (links are entries of a layer); a symbolic link resolves from its
    own folder, or from the root when absolute; a loop or a dangling link is no file."""
    view = file_system(
        [
            layer(
                ("usr/share/nginx/html/index.html", b"site"),
                ("var/www/html", "->/usr/share/nginx/html/index.html"),
                ("usr/share/nginx/html/home.html", "->index.html"),
                ("usr/share/nginx/html/hard.html", "=>usr/share/nginx/html/index.html"),
                ("loop", "->loop"),
                ("dangling", "->nowhere"),
            )
        ]
    )

    assert read_file(view, "var/www/html") == read_file(view, "usr/share/nginx/html/home.html") == b"site"
    assert read_file(view, "usr/share/nginx/html/hard.html") == b"site"
    assert read_file(view, "loop") is None and read_file(view, "dangling") is None


def test_an_image_is_read_from_the_blobs_its_manifest_names_and_kept_by_digest() -> None:
    """OCI image spec, "Image Manifest": `layers` in order, each a blob named by its digest."""
    blobs = {"sha256:1": layer(("f", b"one")), "sha256:2": layer(("f", b"two"))}
    manifest = '{"layers": [{"digest": "sha256:1"}, {"digest": "sha256:2"}]}'
    read: list[str] = []

    def lookup(account: str, region: str, repository: str, tag: str | None, digest: str | None) -> tuple[str, str]:
        return "sha256:image", manifest

    def blob(digest: str) -> bytes | None:
        read.append(digest)
        return blobs.get(digest)

    files = ImageFiles(lookup, blob)

    assert files.file("111111111111", "eu-west-1", "repo", "tag", "f") == b"two"
    assert files.file("111111111111", "eu-west-1", "repo", "sha256:image", "f") == b"two"
    assert read == ["sha256:1", "sha256:2"]  # the second read used the kept view


def test_a_zstd_layer_is_refused_by_name() -> None:
    """OCI image spec, "Image Layer Filesystem Changeset": `tar+zstd` layers exist; the sandbox reads none."""
    with pytest.raises(ImageFileError, match="zstd"):
        file_system([b"\x28\xb5\x2f\xfd" + b"\0" * 16])


def test_a_folder_replacing_a_file_hides_the_file() -> None:
    """OCI image spec, "Changesets": the later layer's type of a path holds, its folder implied by
    the entries under it when the tar lists no entry of its own for it."""
    view = file_system([layer(("x", b"a file")), layer(("x/y", b"under a folder"))])

    assert (read_file(view, "x"), read_file(view, "x/y")) == (None, b"under a folder")
