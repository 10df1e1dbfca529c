"""Deterministic Lambda packages (code zips and the dependency layer).

A zip built twice from the same files has the same bytes and so the same sha256: the
manifest, the S3 keys (`assets/<sha256>.zip`) and so the templates only change when the
code does, and an unchanged stage stays unchanged across releases.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ASSET_PREFIX = "assets/"
#: The installer's own Lambda code, packaged as one tree under `lambdas/`.
LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
#: CDK feature flags every template of a release is built with.
CDK_CONTEXT: dict[str, Any] = {
    # Access logs delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}

#: What Lambda's Python runtime is; the layer is built for it, the code stays 3.11-compatible.
LAMBDA_RUNTIME = "python3.14"
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_x86_64"


def _files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_dir() or any(part in _SKIP_DIRS for part in path.relative_to(root).parts):
            continue
        if path.suffix in _SKIP_SUFFIXES:
            continue
        found.append(path)
    return found


def deterministic_zip(entries: Iterable[tuple[str, bytes, int]]) -> bytes:
    """A zip of (name, data, mode) entries, sorted, with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data, mode in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_tree(sources: Iterable[tuple[Path, str]]) -> bytes:
    """Zip each source directory under its prefix in the archive ("" = the root)."""
    entries = []
    for root, prefix in sources:
        if not root.is_dir():
            raise FileNotFoundError(f"asset source {root} is not a directory")
        for path in _files(root):
            name = (prefix.rstrip("/") + "/" if prefix else "") + path.relative_to(root).as_posix()
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            entries.append((name, path.read_bytes(), mode))
    return deterministic_zip(entries)


@dataclass(frozen=True)
class Asset:
    """One zip in the release, addressed by its content."""

    name: str
    sha256: str
    data: bytes = field(repr=False)

    @property
    def key(self) -> str:
        return f"{ASSET_PREFIX}{self.sha256}.zip"


class AssetRegistry:
    """Collects the zips that the templates synthesized in one build refer to."""

    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}

    def add(self, name: str, data: bytes) -> Asset:
        asset = Asset(name=name, sha256=hashlib.sha256(data).hexdigest(), data=data)
        self._assets.setdefault(asset.sha256, asset)
        return asset

    def add_tree(self, name: str, sources: Iterable[tuple[Path, str]]) -> Asset:
        return self.add(name, zip_tree(sources))

    def __iter__(self) -> Iterator[Asset]:
        return iter(sorted(self._assets.values(), key=lambda a: a.sha256))

    def __len__(self) -> int:
        return len(self._assets)


def build_layer(requirements: list[str], cache_dir: Path | None = None) -> bytes:
    """The dependency layer for Lambda's platform, cached by its requirement list.

    pip resolves wheels for Lambda's Python and processor, so compiled packages (pydantic
    core) are the ones Lambda loads, not this machine's.
    """
    key = hashlib.sha256(
        "\n".join([LAMBDA_PLATFORM, LAMBDA_PYTHON_VERSION, *sorted(requirements)]).encode()
    ).hexdigest()[:16]
    cache = (cache_dir or default_cache_dir()) / f"layer-{key}.zip"
    if cache.exists():
        return cache.read_bytes()
    with tempfile.TemporaryDirectory(prefix="layer-") as tmp:
        target = Path(tmp) / "python"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "--no-deps",
            "--platform",
            LAMBDA_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON_VERSION,
            "--only-binary=:all:",
            "--target",
            str(target),
            *requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                "could not build the Lambda dependency layer (pip needs the package index):\n" + result.stderr[-2000:]
            )
        for junk in target.glob("*.dist-info/direct_url.json"):
            junk.unlink()
        for junk in target.glob("bin"):
            shutil.rmtree(junk)
        data = zip_tree([(target, "python")])
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.partial")  # builds side by side each write their own
    partial.write_bytes(data)
    partial.replace(cache)
    return data


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dataall-installer"


#: Distributions the Lambdas import at run time; shipped as one layer, at the versions
#: installed here (which `constraints.txt` pins), so AWS runs what the tests ran.
LAYER_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "wrapt",
    "jmespath",
    "typing_extensions",
    "pydantic",
    "pydantic_core",
    "annotated-types",
    "typing-inspection",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "attrs",
    "pg8000",
    "scramp",
    "asn1crypto",
    "python-dateutil",
    "six",
    "alembic",
    "SQLAlchemy",
    "Mako",
    "MarkupSafe",
    "boto3",
    "botocore",
    "s3transfer",
    "urllib3",
)


def _pinned(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{name}=={metadata.version(name)}" for name in names)


def layer_requirements() -> tuple[str, ...]:
    return _pinned(LAYER_DISTRIBUTIONS)
