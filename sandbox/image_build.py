"""Image roots built without Docker from data.all's source, laid out as its Lambda image.

data.all builds one image for its API, worker, search proxy and migration functions
(`backend/docker/prod/lambda/Dockerfile`): `pip install -r requirements.txt --prefix=/usr/local`,
the backend's code in the working directory (`/home/app/`) with `config.json` beside it,
`ENV config_location="config.json"`, an entry point that starts the Python runtime interface
client (`python -m awslambdaric`), and a CMD each function overrides with `ImageConfig.Command`.
`build_dataall_image_root` lays out the same root (`sandbox.images`) from a source tree read in
place, with this machine's Python and pip; the image's configuration (WORKDIR, ENV, ENTRYPOINT,
CMD and the entry point's script) is read from the Dockerfile. `awslambdaric` itself is not
installed: the sandbox's worker is the runtime interface client. Roots are cached under
`~/.cache/dataall-installer/images/`, keyed by a digest of every input.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.images import CONFIG_FILE

DOCKERFILE = Path("backend/docker/prod/lambda/Dockerfile")
REQUIREMENTS = Path("backend/requirements.txt")
#: The tag prefix of data.all's Lambda image (`lambdas-<version>`, as its pipeline tags it).
LAMBDA_IMAGE_PREFIX = "lambdas-"
#: Changes when the layout this module builds changes (a new key, a new build).
BUILDER_VERSION = "1"
SKIPPED = ("__pycache__", ".pytest_cache", ".mypy_cache")


def default_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dataall-installer" / "images"


@dataclass
class DockerfileConfig:
    """What an image's configuration takes from its Dockerfile (the instructions the runtime
    reads), and the files it writes with heredocs (`COPY <<EOT /path`)."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    working_dir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def image_json(self) -> dict[str, object]:
        return {
            "Entrypoint": self.entrypoint,
            "Cmd": self.cmd,
            "WorkingDir": self.working_dir,
            "Env": [f"{key}={value}" for key, value in self.env.items()],
        }


def read_dockerfile(text: str) -> DockerfileConfig:
    """The configuration a Dockerfile gives its image: ARG defaults and ENV expanded; JSON-form
    ENTRYPOINT and CMD as written, shell form under `/bin/sh -c`."""
    config = DockerfileConfig()
    variables: dict[str, str] = {}
    lines = iter(text.splitlines())
    for instruction, argument in _instructions(lines):
        value = _expand(argument, variables)
        if instruction == "ARG":
            name, _, default = argument.partition("=")
            variables.setdefault(name.strip(), _expand(default.strip().strip('"'), variables))
        elif instruction == "ENV":
            for name, setting in _env_pairs(argument):
                variables[name] = config.env[name] = _expand(setting, variables)
        elif instruction == "WORKDIR":
            config.working_dir = value
        elif instruction in ("ENTRYPOINT", "CMD"):
            words = json.loads(value) if value.startswith("[") else ["/bin/sh", "-c", value]
            setattr(config, "entrypoint" if instruction == "ENTRYPOINT" else "cmd", [str(w) for w in words])
        elif instruction == "COPY" and "<<" in argument:
            delimiter, destination = re.findall(r"<<-?\"?(\w+)\"?\s+(\S+)", argument)[0]
            body = []
            for line in lines:
                if line.strip() == delimiter:
                    break
                body.append(line)
            config.files[_expand(destination, variables)] = _expand("\n".join(body) + "\n", variables).replace(
                "\\$", "$"
            )
    return config


def _instructions(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    pending = ""
    for raw in lines:
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\") and "<<" not in line:
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        instruction, _, argument = whole.partition(" ")
        yield instruction.upper(), argument.strip()


def _env_pairs(argument: str) -> list[tuple[str, str]]:
    if "=" not in argument.split(" ", 1)[0]:
        name, _, value = argument.partition(" ")
        return [(name, value.strip().strip('"'))]
    return [(name, value.strip('"')) for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', argument)]


def _expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(
        r"(?<!\\)\$(?:\{(\w+)\}|(\w+))",
        lambda m: variables.get(m.group(1) or m.group(2), m.group(0)),
        text,
    )


def _tree_digest(digest: hashlib._Hash, folder: Path) -> None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not set(p.parts) & set(SKIPPED)):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def build_key(source: Path, pip_options: Sequence[str], extra_packages: Sequence[str], python: str) -> str:
    """A digest of everything a root is built from: the backend, the requirements, the Dockerfile,
    config.json, the Python and platform it is built with, and how pip is called."""
    digest = hashlib.sha256()
    interpreter = subprocess.run(
        [python, "-c", "import sys, sysconfig; print(sys.version, sysconfig.get_platform())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    digest.update(
        json.dumps([BUILDER_VERSION, interpreter, platform.machine(), list(pip_options), list(extra_packages)]).encode()
    )
    for name in (DOCKERFILE, REQUIREMENTS, Path("config.json")):
        path = source / name
        digest.update(name.as_posix().encode() + b"\0" + (path.read_bytes() if path.is_file() else b"<none>"))
    _tree_digest(digest, source / "backend")
    return digest.hexdigest()[:32]


def build_dataall_image_root(
    source: Path | str,
    *,
    cache_dir: Path | None = None,
    python: str = sys.executable,
    pip_options: Sequence[str] = (),
    extra_packages: Sequence[str] = ("setuptools",),
) -> Path:
    """The image root of data.all's Lambda image for the source tree `source` (a checkout of
    data.all: `backend/`, `config.json`), built once per digest of its inputs.

    `pip_options` are added to pip's command (`--no-index`, `--find-links DIR`);
    `extra_packages` are what the Dockerfile installs before the requirements (setuptools).
    """
    source = Path(source).resolve()
    if not (source / "backend").is_dir():
        raise FileNotFoundError(f"{source} has no backend/: not a data.all source tree")
    cache = (cache_dir or default_cache_dir()).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    key = build_key(source, pip_options, extra_packages, python)
    root = cache / key
    with _locked(cache / f".{key}.lock"):
        if (root / CONFIG_FILE).is_file():
            return root
        partial = cache / f".{key}-{uuid.uuid4().hex[:8]}"
        try:
            _lay_out(source, partial, python, pip_options, extra_packages)
            partial.rename(root)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return root


def _lay_out(source: Path, root: Path, python: str, pip_options: Sequence[str], extra_packages: Sequence[str]) -> None:
    dockerfile = source / DOCKERFILE
    config = read_dockerfile(dockerfile.read_text()) if dockerfile.is_file() else DockerfileConfig()
    root.mkdir(parents=True)
    requirements = source / REQUIREMENTS
    packages = list(extra_packages)
    if requirements.is_file() and any(_requirement_lines(requirements)):
        packages += ["-r", str(requirements)]
    if packages:
        # --ignore-installed: what this interpreter has is not in the image.
        command = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-script-location",
        ]
        command += ["--ignore-installed", "--prefix", str(root / "usr" / "local"), *pip_options, *packages]
        environment = {**os.environ, "PYTHONNOUSERSITE": "1", "PIP_USER": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not install the image's packages:\n{done.stderr[-4000:]}")
    working_dir = root / config.working_dir.lstrip("/")
    shutil.copytree(source / "backend", working_dir, ignore=shutil.ignore_patterns(*SKIPPED), dirs_exist_ok=True)
    if (source / "config.json").is_file():
        shutil.copy2(source / "config.json", working_dir / "config.json")
    for destination, text in config.files.items():
        path = root / destination.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    (root / CONFIG_FILE).write_text(json.dumps(config.image_json(), indent=2))


def _requirement_lines(path: Path) -> Iterator[str]:
    for line in path.read_text().splitlines():
        if line.strip() and not line.strip().startswith("#"):
            yield line


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
