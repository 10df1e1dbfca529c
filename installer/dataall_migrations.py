"""The migration function's package of a data.all release, built from data.all's source.

Why a zip built here rather than data.all's own migration image (`lambdas-<tag>`, whose
DbMigrations trigger runs `alembic upgrade head`): the installer's step needs more than that
handler answers (the database's revision, one transaction with a lock timeout and a statement
timeout, a downgrade to a named revision, the permissions step in the same transaction), and an
image cannot take the installer's runner without a container build, which the installer does
without. The zip holds what data.all's image holds for this job: `backend/dataall`,
`backend/migrations`, `config.json` and data.all's pinned `backend/requirements.txt`, plus the
runner (`blueprints/dataall/migration_function`) with the migration protocol's modules beside it
(`SHARED`: the protocol's checks and errors, standard library only). It
runs the same in Lambda (inside the VPC, in the DbMigrations stage data.all defines, with its
role, security group and environment) and in the sandbox's Python runtime.

Two departures, each for Lambda's runtime: PyGreSQL (data.all 2.8.0's driver) publishes no wheel
for Linux, so psycopg2-binary stands in for it (data.all 2.9.0's own driver); boto3, botocore and
s3transfer are left to the runtime, which ships them, keeping the package under Lambda's 250 MB.
pip installs with this interpreter, so the function's runtime is this interpreter's version (a
cross-build for another Python would need wheels for all of data.all's pins; SQLAlchemy 1.3 has
none), and the sandbox, which runs a zip with its own Python, runs the same package. Lambda
deprecates python3.11 on 2027-06-30 (create blocked from 2027-07-31): build with a newer Python
by then.
"""

from __future__ import annotations

import compileall
import fcntl
import hashlib
import os
import platform
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

from blueprints.assets import default_cache_dir, deterministic_zip

RUNNER = Path(__file__).resolve().parent.parent / "blueprints" / "dataall" / "migration_function"
#: The migration protocol's modules the runner ships beside it (`dataall_migrations`: its checks and errors).
SHARED = RUNNER / "dataall_migrations"
SHARED_MODULES = ("__init__.py", "errors.py", "protocol.py")
HANDLER = "dataall_installer_migrate.handler.handler"
#: psycopg2-binary at the version data.all 2.9.0's `psycopg2-binary>=2.9.9` resolves to today.
PSYCOPG2 = "psycopg2-binary==2.9.10"
#: Shipped by Lambda's Python runtimes: left out of the package.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
#: Lambda's limit on a function's unzipped code.
UNZIPPED_LIMIT = 250 * 1024 * 1024
_SKIP = re.compile(r"(^|/)tests?(/|$)|\.pyo$")


class PackageError(RuntimeError):
    code = "MigrationPackageInvalid"


def runtime() -> str:
    """The Lambda runtime the package is built for: this interpreter's Python."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def requirements(source: Path) -> list[str]:
    """data.all's `backend/requirements.txt`, PyGreSQL served by psycopg2-binary, boto3 left to the runtime."""
    found = []
    for line in (source / "backend" / "requirements.txt").read_text().splitlines():
        text = line.split("#", 1)[0].strip().replace(" ", "")
        if not text:
            continue
        name = re.split(r"[<>=!~\[;]", text, maxsplit=1)[0].lower()
        if name in RUNTIME_PROVIDED:
            continue
        found.append(PSYCOPG2 if name == "pygresql" else text)
    return found


def dependencies(source: Path, cache_dir: Path | None = None) -> Path:
    """data.all's requirements installed for this interpreter, cached by the requirement list."""
    wanted = requirements(source)
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise PackageError(f"the migration package is built on Linux x86_64 (Lambda's), not {platform.platform()}")
    key = hashlib.sha256("\n".join([runtime(), "unchecked-hash-pyc", *wanted]).encode()).hexdigest()[:16]
    return _built_once((cache_dir or default_cache_dir()) / "migration-deps" / key, lambda into: _install(wanted, into))


def _install(wanted: list[str], into: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
    command += ["--target", str(into), *wanted]
    # SQLAlchemy 1.3 builds from source: its optional C extensions left out, it is pure Python.
    environment = {**os.environ, "DISABLE_SQLALCHEMY_CEXT": "1"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    if result.returncode != 0:
        raise PackageError(f"pip could not install data.all's requirements {wanted}:\n{result.stderr[-3000:]}")
    for name in (*RUNTIME_PROVIDED, "bin"):
        shutil.rmtree(into / name, ignore_errors=True)
    for junk in into.glob("*.dist-info/direct_url.json"):
        junk.unlink()
    _compile(into)


def _built_once(target: Path, build: Callable[[Path], object]) -> Path:
    """`target`, built by `build` into a staging folder the first time and kept (`.complete`
    marks it whole). Test tiers and builds run side by side: one builds, the others wait for it."""
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            with tempfile.TemporaryDirectory(prefix=f"{target.parent.name}-", dir=target.parent) as tmp:
                staging = Path(tmp) / target.name
                build(staging)
                (staging / ".complete").write_text(target.name + "\n")
                if target.exists():
                    shutil.rmtree(target)
                staging.rename(target)
    return target


def _compile(root: Path) -> None:
    """Bytecode for the runtime's Python, shipped: Lambda's code folder is read-only, so a cold
    start would compile data.all and its requirements (numpy, langchain ...) every time, seconds
    of its init. Hash-based and unchecked, so the bytes do not depend on the files' times."""
    with warnings.catch_warnings():  # data.all's source warns (invalid escapes): not this build's to say
        warnings.simplefilter("ignore")
        compileall.compile_dir(
            root, quiet=2, workers=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )


def code_tree(source: Path, into: Path) -> Path:
    """data.all's files the function needs and the runner, laid out as the package's root."""
    backend = source / "backend"
    into.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(backend / "dataall", into / "dataall", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(backend / "migrations", into / "migrations", ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(source / "config.json", into / "config.json")
    shutil.copytree(
        RUNNER / "dataall_installer_migrate", into / "dataall_installer_migrate", ignore=ignore, dirs_exist_ok=True
    )
    (into / SHARED.name).mkdir(exist_ok=True)
    for module in SHARED_MODULES:
        shutil.copy2(SHARED / module, into / SHARED.name / module)
    _compile(into)
    return into


def compiled_code(source: Path, cache_dir: Path | None = None) -> Path:
    """`code_tree`, compiled once per content and kept: marshal's bytes vary from one compile to
    the next (its reference flags follow reference counts), and a package whose bytes changed
    would be a new asset, and a change of the migrations stage, at every build."""
    digest = hashlib.sha256(runtime().encode())
    backend = source / "backend"
    for root in (backend / "dataall", backend / "migrations", RUNNER / "dataall_installer_migrate"):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0" + path.read_bytes())
    for module in SHARED_MODULES:
        digest.update(f"{SHARED.name}/{module}".encode() + b"\0" + (SHARED / module).read_bytes())
    digest.update((source / "config.json").read_bytes())
    target = (cache_dir or default_cache_dir()) / "migration-code" / digest.hexdigest()[:16]
    return _built_once(target, lambda into: code_tree(source, into))


def _entries(root: Path) -> list[tuple[str, bytes, int]]:
    entries = []
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_dir() or _SKIP.search(name) or name == ".complete":
            continue
        entries.append((name, path.read_bytes(), 0o755 if os.access(path, os.X_OK) else 0o644))
    return entries


def package(source: Path, cache_dir: Path | None = None) -> bytes:
    """The function's zip: data.all's code and migrations, its requirements, the runner."""
    deps, code = dependencies(source, cache_dir), compiled_code(source, cache_dir)
    # Each tree is named by the key of what it was built from and never changes once built: the
    # zip of the two is named by their names, found without reading (or hashing) either again.
    cached = (cache_dir or default_cache_dir()) / "migration-packages" / f"{deps.name}-{code.name}.zip"
    if cached.exists():
        return cached.read_bytes()
    entries = {name: (name, data, mode) for name, data, mode in _entries(deps)}
    entries.update({name: (name, data, mode) for name, data, mode in _entries(code)})
    size = sum(len(data) for _, data, _ in entries.values())
    if size > UNZIPPED_LIMIT:
        raise PackageError(f"data.all's migration package is {size / 2**20:.0f} MB unzipped, over Lambda's 250 MB")
    data = deterministic_zip(entries.values())
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(cached)
    return data
