"""Lambda layers in the sandbox's runtime: a function's layers become its /opt.

AWS (Lambda developer guide, "Managing Lambda dependencies with layers" and "Packaging your
layer content", https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html and
https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html): Lambda extracts each layer
of a function into /opt, in the order the function lists them, a later layer overwriting the
files of an earlier one. The runtimes look there: Python puts /opt/python and
/opt/python/lib/pythonX.Y/site-packages on sys.path, Node.js puts /opt/nodejs/nodeNN/node_modules
and /opt/nodejs/node_modules on NODE_PATH; /opt/bin is on PATH and /opt/lib on LD_LIBRARY_PATH.
The file system outside /tmp is read-only.

Here the layers of a function are extracted once into `<runtime root>/layers/<digest>` (the digest
of the layers' digests, so functions with the same layers share it), and each worker process sees
that folder at /opt through a mount namespace of its own (`unshare`), read-only, where the machine
allows it (`private_opt_supported`); elsewhere the paths name the folder itself, and a function
that spells out `/opt/...` does not find it. Scripts whose shebang names the Lambda runtime's
Python (`#!/var/lang/bin/python…`, as `aws` in CDK's AwsCli layer) are given this machine's.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

LOG = logging.getLogger("dataall_installer.sandbox.lambda")
OPT = Path("/opt")
#: Binds the folder ($0) at /opt (read-only where the machine lets it), then runs the command ($@).
_MOUNT_SCRIPT = 'mount --bind "$0" /opt && { mount -o remount,bind,ro /opt 2>/dev/null || :; } && exec "$@"'
#: The interpreter of Lambda's Python runtimes, as scripts built for them name it in their shebang.
_LAMBDA_PYTHON_SHEBANG = re.compile(rb"^#!/var/lang/bin/python[0-9.]*(?=\s|$)")


def extract(root: Path, layers: Sequence[bytes]) -> Path:
    """The folder holding `layers` (.zip contents) extracted in order, a later one overwriting an
    earlier one's files; made once under `root/layers` and shared by every function with them."""
    key = hashlib.sha256(" ".join(hashlib.sha256(code).hexdigest() for code in layers).encode()).hexdigest()
    target = root / "layers" / key[:32]
    if target.is_dir():
        return target
    partial = target.with_name(f".{target.name}-{uuid.uuid4().hex[:6]}")
    partial.mkdir(parents=True)
    try:
        for code in layers:
            extract_layer(code, partial)
        rewrite_shebangs(partial)
        partial.rename(target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not target.is_dir():  # not merely another worker having extracted them first
            raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def extract_layer(code: bytes, into: Path) -> None:
    """Extract one layer's .zip into `into` over what is there, keeping each entry's Unix mode
    (Lambda keeps a zip's permissions: an executable stays executable) and symbolic links."""
    base = into.resolve()
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        for member in archive.infolist():
            destination = into / member.filename
            if not destination.parent.resolve().is_relative_to(base) or ".." in Path(member.filename).parts:
                raise ValueError(f"layer entry {member.filename} escapes the layer")
            mode = member.external_attr >> 16
            if member.is_dir():
                if destination.is_symlink() or destination.is_file():
                    destination.unlink()
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.is_file():
                destination.unlink()  # a later layer's file replaces it (and never writes through a link)
            elif destination.is_dir():
                shutil.rmtree(destination)
            if stat.S_ISLNK(mode):
                destination.symlink_to(archive.read(member).decode())
                continue
            destination.write_bytes(archive.read(member))
            if stat.S_IMODE(mode):
                destination.chmod(stat.S_IMODE(mode))


def rewrite_shebangs(folder: Path) -> list[Path]:
    """Give scripts built for Lambda's Python (`#!/var/lang/bin/python…`) this machine's
    interpreter; the scripts rewritten. A script is a file of `bin/` or any executable file."""
    rewritten = []
    for directory, _, names in os.walk(folder):  # symbolic links to folders are not followed
        for name in sorted(names):
            path = Path(directory) / name
            if not path.is_symlink() and path.is_file() and _is_script(folder, path) and _rewrite_shebang(path):
                rewritten.append(path)
    return sorted(rewritten)


def _is_script(folder: Path, path: Path) -> bool:
    return path.relative_to(folder).parts[0] == "bin" or bool(path.stat().st_mode & 0o111)


def _rewrite_shebang(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(128)
    if not _LAMBDA_PYTHON_SHEBANG.match(head):
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    path.write_bytes(_LAMBDA_PYTHON_SHEBANG.sub(b"#!" + os.fsencode(sys.executable), path.read_bytes(), count=1))
    path.chmod(mode)
    return True


def python_paths(opt: Path | str, runtime: str | None = None) -> list[str]:
    """Where a Python runtime looks for a layer's modules: /opt/python/lib/pythonX.Y/site-packages
    and /opt/python (X.Y the function's runtime's, else this interpreter's).

    The sandbox puts them after its own dependency paths, where Lambda puts them before its
    runtime's packages: a layer holding another boto3 (or wheels built for another Python)
    must not shadow the one the worker runs with."""
    version = (runtime or "").removeprefix("python") or f"{sys.version_info.major}.{sys.version_info.minor}"
    return [f"{opt}/python/lib/python{version}/site-packages", f"{opt}/python"]


def node_paths(opt: Path | str, runtime: str | None) -> list[str]:
    """The layer's part of a Node.js runtime's NODE_PATH, first the folder of the runtime's major
    version (`nodejs22.x` -> /opt/nodejs/node22/node_modules), then /opt/nodejs/node_modules."""
    major = (runtime or "").removeprefix("nodejs").split(".", 1)[0]
    versioned = [f"{opt}/nodejs/node{major}/node_modules"] if major.isdigit() else []
    return [*versioned, f"{opt}/nodejs/node_modules"]


def environment(opt: Path | str, path: str) -> dict[str, str]:
    """`PATH` (`path` then /opt/bin) and `LD_LIBRARY_PATH` (/opt/lib) of a function with layers."""
    return {"PATH": os.pathsep.join([path, f"{opt}/bin"]), "LD_LIBRARY_PATH": f"{opt}/lib"}


def mount_command(folder: Path, command: Sequence[str]) -> list[str]:
    """`command` run in a mount namespace of its own where `folder` is /opt (the same process:
    `unshare` and the shell exec into it)."""
    unshare = shutil.which("unshare") or "unshare"
    return [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _MOUNT_SCRIPT, str(folder), *command]


@functools.cache
def private_opt_supported() -> bool:
    """Whether a worker can have a private /opt here (root, or the capability to unshare and
    mount, and an /opt to mount on): tried once, with a folder holding a marker."""
    if not OPT.is_dir() or shutil.which("unshare") is None:
        LOG.info("layers are not mounted at /opt (no /opt or no unshare): functions see their folder")
        return False
    with tempfile.TemporaryDirectory(prefix="sandbox-opt-probe-") as probe:
        marker = Path(probe) / "sandbox-opt-probe"
        marker.touch()
        check = ["/bin/sh", "-c", f"test -e {OPT / marker.name}"]
        try:
            result = subprocess.run(mount_command(Path(probe), check), capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            LOG.info("layers are not mounted at /opt (%s): functions see their folder", error)
            return False
    if result.returncode != 0:
        LOG.info(
            "layers are not mounted at /opt (%s): functions see their folder",
            result.stderr.decode(errors="replace").strip() or f"exit {result.returncode}",
        )
    return result.returncode == 0
