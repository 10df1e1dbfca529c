"""Where data.all comes from: a cloud assembly, synthesized from data.all's own source at a tag.

`dataall-installer build --upstream PATH` takes any of:
- a cloud assembly (a folder with `manifest.json`, what `cdk synth` writes);
- a release folder holding `cdk.out/` (and `source/`), as `../shared/upstream/dataall/<version>`;
- a data.all source tree (`cdk.json` and `deploy/app.py`), synthesized with data.all's own pinned
  toolchain (its `deploy/requirements.txt` in a venv of its own, the pinned `aws-cdk` CLI from
  npm), in a cache keyed by both, so the project's own packages never mix with data.all's.

Without `--upstream`: `DATAALL_UPSTREAM`, then `../shared/upstream/dataall/<version>` beside the
project when it is there, else a clone of the pinned tag whose commit is verified.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud_assembly.reader import AssemblyError, CloudAssembly

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_ENV = "DATAALL_UPSTREAM"
REPOSITORY = "https://github.com/data-dot-all/dataall.git"


@dataclass(frozen=True)
class Tag:
    version: str
    tag: str
    commit: str


#: The releases the installer knows, newest last. data.all tagged 2.9.0 `v.2.9.0` (sic).
TAGS = (
    Tag("2.8.0", "v2.8.0", "12f5893bd813c6edc618640c7dd2e839985a2aa5"),
    Tag("2.9.0", "v.2.9.0", "e9f7d116acac4a02984e59ba6a1af44a56c556d7"),
)
LATEST = TAGS[-1].version
#: The CDK CLI that synthesizes data.all (the version its cloud assemblies here were made with).
CDK_CLI_VERSION = "2.1149.0"
#: What data.all's synthesis is told: the account and region are placeholders the import rewrites.
SYNTH_ACCOUNT = "111111111111"
SYNTH_REGION = "eu-west-1"
#: data.all's one target environment (`deploy/app.py`'s default `DeploymentEnvironments` entry).
SYNTH_ENVIRONMENT = {"envname": "dev", "account": SYNTH_ACCOUNT, "region": SYNTH_REGION}


def vpc_lookup_context(
    vpc: Mapping[str, Any], account: str = SYNTH_ACCOUNT, region: str = SYNTH_REGION
) -> dict[str, Any]:
    """The context entry that answers data.all's `ec2.Vpc.from_lookup(self, 'vpc', vpc_id=...)` (its `vpc_id`)
    offline: CDK's key for the lookup (`ContextProvider.getKey`: the provider, then the props sorted, a filter's
    keys under `filter.`) and `vpc`, the answer of the CLI's VPC context provider (`vpcId`, `vpcCidrBlock`,
    `subnetGroups`, ...). Given as `synthesize(..., context=...)`, no lookup is made."""
    key = f"vpc-provider:account={account}:filter.vpc-id={vpc['vpcId']}:region={region}:returnAsymmetricSubnets=true"
    return {key: dict(vpc)}


class UpstreamError(RuntimeError):
    """An upstream that cannot be found, read or synthesized, naming the path and the reason."""

    code = "UpstreamInvalid"


@dataclass(frozen=True)
class Upstream:
    version: str
    assembly: CloudAssembly
    #: where it came from, for the build's report
    origin: str


def shared_upstream(version: str) -> Path:
    return ROOT.parent / "shared" / "upstream" / "dataall" / version


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dataall-installer" / "upstream"


def resolve(path: Path | None = None, version: str | None = None) -> Upstream:
    """The upstream to build from, in the documented order."""
    version = version or LATEST
    if path is not None:
        folder, origin = path, "--upstream"
    elif os.environ.get(UPSTREAM_ENV):
        folder, origin = Path(os.environ[UPSTREAM_ENV]), UPSTREAM_ENV
    elif shared_upstream(version).is_dir():
        folder, origin = shared_upstream(version), "the shared upstream"
    else:
        folder, origin = clone(version), f"a clone of {tag_of(version).tag}"
    return Upstream(version=version, assembly=load(folder, version), origin=f"{origin}: {folder}")


def tag_of(version: str) -> Tag:
    for tag in TAGS:
        if tag.version == version:
            return tag
    raise UpstreamError(
        f"data.all {version} is not a release this installer knows ({', '.join(t.version for t in TAGS)})"
    )


def load(folder: Path, version: str = LATEST) -> CloudAssembly:
    """The cloud assembly in or behind `folder` (synthesizing a source tree once)."""
    if not folder.is_dir():
        raise UpstreamError(f"{folder} is not a folder")
    try:
        if (folder / "manifest.json").is_file():
            return CloudAssembly.load(folder)
        if (folder / "cdk.out" / "manifest.json").is_file():
            return CloudAssembly.load(folder / "cdk.out")
    except AssemblyError as error:
        raise UpstreamError(str(error)) from error
    if (folder / "deploy" / "app.py").is_file() and (folder / "cdk.json").is_file():
        return CloudAssembly.load(synthesize(folder, version))
    if (folder / "source" / "deploy" / "app.py").is_file():
        return CloudAssembly.load(synthesize(folder / "source", version))
    raise UpstreamError(
        f"{folder} is neither a cloud assembly (manifest.json), nor a folder holding cdk.out/, "
        "nor a data.all source tree (cdk.json and deploy/app.py)"
    )


def clone(version: str) -> Path:
    """A clone of the pinned tag, its commit verified, kept in the cache."""
    tag = tag_of(version)
    target = cache_dir() / "source" / tag.commit
    if (target / ".complete").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run(["git", "clone", "--quiet", "--depth", "1", "--branch", tag.tag, REPOSITORY, str(target)])
        head = _run(["git", "-C", str(target), "rev-parse", "HEAD"]).strip()
    except UpstreamError as error:
        raise UpstreamError(
            f"cannot clone data.all {tag.tag} ({error}); give a local checkout with --upstream"
        ) from None
    if head != tag.commit:
        shutil.rmtree(target, ignore_errors=True)
        raise UpstreamError(f"data.all's tag {tag.tag} is at {head}, not the pinned {tag.commit}: refusing to build it")
    (target / ".complete").write_text(head)
    return target


def synthesize(
    source: Path,
    image_tag: str,
    *,
    environment: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Path:
    """data.all's `cdk synth`, offline, with its own toolchain; the cloud assembly (cached).

    `image_tag` names data.all's images (`lambdas-<tag>`, `cdkproxy-<tag>`), as its pipeline would.
    `environment`: keys of data.all's one target environment (its `cdk.json` `DeploymentEnvironments`
    entry, e.g. `prod_sizing`); `context`: top-level context keys (e.g. `log_retention_duration`).
    Both go into the scratch copy's `cdk.json`, where the CLI keeps their JSON types (a `--context`
    value is always a string). Without either, data.all synthesizes with its defaults.
    """
    requirements = source / "deploy" / "requirements.txt"
    settings = synth_context(environment, context)
    digest = hashlib.sha256(f"{image_tag}\n{CDK_CLI_VERSION}\n".encode())
    if settings:
        digest.update(json.dumps(settings, sort_keys=True).encode())
    for file in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.relative_to(source).as_posix().encode())
        digest.update(file.read_bytes())
    out = cache_dir() / "cdk.out" / digest.hexdigest()[:16]
    if (out / "manifest.json").is_file():
        return out
    # Syntheses in threads (`installer.dataall.import_variants`) and in other processes (another
    # build, a test worker) install the toolchain once and make each cached assembly once: a `flock`
    # on a file each caller opens holds threads apart as it does processes.
    with cache_lock("toolchain"):
        venv = _toolchain_venv(requirements)
        cli = _cdk_cli()
    with cache_lock(f"cdk.out-{out.name}"):
        if (out / "manifest.json").is_file():  # made by another process while this one waited
            return out
        _synthesize_into(out, source, image_tag, settings, venv, cli)
    return out


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """The cache entry `name` to this thread alone, across processes (an exclusive `flock` on a file
    beside the cache; the kernel releases it when a process holding it dies)."""
    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _synthesize_into(
    out: Path, source: Path, image_tag: str, settings: Mapping[str, Any], venv: Path, cli: Path
) -> None:
    """data.all's `cdk synth` of a scratch copy of `source` into `out`, which appears whole or not at all."""
    with tempfile.TemporaryDirectory(prefix="dataall-synth-") as scratch:
        work = Path(scratch) / "source"
        shutil.copytree(source, work, ignore=shutil.ignore_patterns("__pycache__", "node_modules", "cdk.out"))
        restore_symlinks(work)
        if settings:
            cdk_json = json.loads((work / "cdk.json").read_text())
            cdk_json.setdefault("context", {}).update(settings)
            (work / "cdk.json").write_text(json.dumps(cdk_json, indent=2))
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        environment.update(
            {
                # data.all's cdk-nag workflow mode: no STS/SSM lookups, availability zones supplied.
                "GITHUB_ACTIONS": "true",
                "DATAALL_REPO_BRANCH": "main",
                "CDK_DEFAULT_ACCOUNT": SYNTH_ACCOUNT,
                "CDK_DEFAULT_REGION": SYNTH_REGION,
                "AWS_REGION": SYNTH_REGION,
                "AWS_DEFAULT_REGION": SYNTH_REGION,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "CDK_DISABLE_CLI_TELEMETRY": "true",
                "PATH": f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}",
            }
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-", dir=out.parent))
        try:
            app = f"{venv / 'bin' / 'python'} {Path(__file__).with_name('dataall_offline.py')}"
            _run(
                [str(cli), "synth", "--quiet", "--no-notices", "--app", app, "--context", f"image_tag={image_tag}",
                 "--output", str(staging)],
                cwd=work, env=environment,
            )  # fmt: skip
            shutil.rmtree(out, ignore_errors=True)  # what a synthesis killed before it was whole left
            staging.replace(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def synth_context(environment: Mapping[str, Any] | None, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The context keys a synthesis adds to data.all's `cdk.json` (none: data.all's defaults)."""
    settings: dict[str, Any] = dict(context or {})
    if environment:
        settings["DeploymentEnvironments"] = [{**SYNTH_ENVIRONMENT, **environment}]
    return settings


def restore_symlinks(tree: Path) -> list[Path]:
    """Put back the symlinks a checkout or copy turned into text files.

    data.all links a few modules between `deploy/` and `backend/` (e.g.
    `deploy/stacks/runtime_options.py` -> `../../backend/dataall/runtime_options.py`). Git
    writes a symlink as a small file holding its target where symlinks are off
    (`core.symlinks=false`), and so do copies that do not keep them: such a file is replaced by
    a link to its target when the target exists inside the tree. Returns the files restored.
    """
    restored = []
    root = tree.resolve()
    for file in sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()):
        if file.stat().st_size > 255:
            continue
        try:
            text = file.read_text().strip()
        except UnicodeDecodeError:
            continue
        if not text or "\n" in text or text.startswith("/") or not text.startswith("."):
            continue
        target = (file.parent / text).resolve()
        if target.is_file() and target.is_relative_to(root) and target != file.resolve():
            file.unlink()
            file.symlink_to(text)
            restored.append(file)
    return restored


def _toolchain_venv(requirements: Path) -> Path:
    """data.all's deploy requirements in a venv of their own (Python 3.12 as in data.all's CI, when
    this machine has it; else this interpreter)."""
    for python in (shutil.which("python3.12"), sys.executable):
        if not python:
            continue
        probe = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            version = probe.stdout.strip()
            break
    else:  # pragma: no cover - sys.executable always runs
        raise UpstreamError("no Python interpreter runs here")
    key = hashlib.sha256(version.encode() + requirements.read_bytes()).hexdigest()[:12]
    venv = cache_dir() / "toolchain" / f"venv-py{version}-{key}"
    if not (venv / ".complete").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", str(venv)])
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(requirements)])
        (venv / ".complete").write_text("")
    return venv


def _cdk_cli() -> Path:
    prefix = cache_dir() / "toolchain" / f"aws-cdk-{CDK_CLI_VERSION}"
    cli = prefix / "node_modules" / ".bin" / "cdk"
    if not (prefix / ".complete").is_file():
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.mkdir(parents=True)
        _run(
            [
                "npm",
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"aws-cdk@{CDK_CLI_VERSION}",
            ]
        )
        (prefix / ".complete").write_text("")
    return cli


def _run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UpstreamError(f"{command[0]} is not installed") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
        raise UpstreamError(f"{' '.join(command[:3])} ... failed ({done.returncode}): " + "\n".join(tail))
    return done.stdout
