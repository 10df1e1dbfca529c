"""data.all's web UI, built once per release with placeholders where each installation's values go.

data.all builds its React frontend (`frontend/`, `react-scripts build`) in its pipeline with the
installation's values baked in: `deploy/configs/frontend_config.py` writes `frontend/.env`
(REACT_APP_*: the GraphQL and search API URLs, the Cognito pool, client, domain and redirects),
then `yarn install` and `yarn build` (its CodeBuild step and `frontend/docker/prod/Dockerfile`
alike, with its own `yarn.lock`). The installer has no build servers: the release build runs that
same build once, with a unique token (`__DATAALL_COGNITO_USER_POOL_ID__`) for each value that
differs per installation, and ships the bundle as a release asset. At deploy time the tokens are
replaced by the installation's values (`lambdas.site.bundle`): nothing is built then.

What a token cannot stand for: a value the code branches on at build time. react-scripts inlines
`process.env.REACT_APP_*` as string literals and its minifier folds what it can decide, so a
comparison with a token (`=== 'True'`) or a test of its presence is settled in the build. Those
values are baked in as data.all's own defaults (`FIXED`, recorded in the bundle, so a
configuration asking for another value is refused rather than ignored): Cognito sign-in (no
custom auth provider: `REACT_APP_CUSTOM_AUTH*` unset), the pivot role's auto-creation off
(data.all's `enable_pivot_role_auto_create` default), the user guide link. The build checks that
every token survived into the bundle, so a token the minifier folded away fails the build.

The build runs in its own folder under the cache (`~/.cache/dataall-installer/frontend/`), keyed by
the digest of the frontend's source, `config.json`, `version.json` (which its `prebuild` script
copies in) and this recipe: an unchanged frontend is read from the cache, never built again.
yarn classic at the version data.all's `engines` accepts, installed pinned into the cache;
`--frozen-lockfile`, so every Node package is the version data.all's `yarn.lock` pins.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from blueprints.assets import deterministic_zip
from lambdas.site.bundle import METADATA_NAME, BundleMetadata

#: yarn classic, as data.all's `engines` (`"yarn": "^1.22.19"`) and Dockerfile (`npm install --global yarn`) use.
YARN_VERSION = "1.22.22"
#: Bumped when anything below changes what a build produces (the digest includes it).
RECIPE_VERSION = 1
#: data.all's pipeline gives its frontend build 6 GB of heap.
NODE_OPTIONS = "--max-old-space-size=6144"
#: Per-installation values: the token the bundle carries for each (data.all's `frontend_config.py`
#: writes these from the stages' SSM parameters; REACT_APP_COGNITO_REGION its source reads too).
PLACEHOLDERS = {
    name: f"__DATAALL_{name.removeprefix('REACT_APP_')}__"
    for name in (
        "REACT_APP_GRAPHQL_API",
        "REACT_APP_SEARCH_API",
        "REACT_APP_REAUTH_TTL",
        "REACT_APP_COGNITO_USER_POOL_ID",
        "REACT_APP_COGNITO_APP_CLIENT_ID",
        "REACT_APP_COGNITO_DOMAIN",
        "REACT_APP_COGNITO_REGION",
        "REACT_APP_COGNITO_REDIRECT_SIGNIN",
        "REACT_APP_COGNITO_REDIRECT_SIGNOUT",
    )
}
#: Values settled at build time (see the module's docstring), as data.all's defaults set them.
FIXED = {
    "GENERATE_SOURCEMAP": "false",
    "REACT_APP_ENABLE_PIVOT_ROLE_AUTO_CREATE": "False",
    "REACT_APP_USERGUIDE_LINK": "https://data-dot-all.github.io/dataall/",
}
#: The bundle of a custom-auth installation (data.all's `custom_auth`: its code picks its sign-in at build time,
#: so another build): tokens for the API's values and the identity provider's, which data.all's
#: `frontend_config.py` writes with `custom_auth` in place of the Cognito values (those left unset).
CUSTOM_AUTH = (
    "REACT_APP_CUSTOM_AUTH",
    "REACT_APP_CUSTOM_AUTH_URL",
    "REACT_APP_CUSTOM_AUTH_REDIRECT_URL",
    "REACT_APP_CUSTOM_AUTH_CLIENT_ID",
    "REACT_APP_CUSTOM_AUTH_RESP_TYPES",
    "REACT_APP_CUSTOM_AUTH_SCOPES",
    "REACT_APP_CUSTOM_AUTH_EMAIL_CLAIM_MAPPING",
    "REACT_APP_CUSTOM_AUTH_USERID_CLAIM_MAPPING",
)
#: data.all's REACT_APP_* values the build leaves unset, as data.all's pipeline does for a Cognito
#: installation: its custom auth provider's (`CUSTOM_AUTH`, the other bundle's) and the Redux dev tools
#: (development only).
UNSET = (*CUSTOM_AUTH, "REACT_APP_ENABLE_REDUX_DEV_TOOLS")
CUSTOM_AUTH_PLACEHOLDERS = {
    **{name: token for name, token in PLACEHOLDERS.items() if not name.startswith("REACT_APP_COGNITO_")},
    **{name: f"__DATAALL_{name.removeprefix('REACT_APP_')}__" for name in CUSTOM_AUTH},
}


def placeholders(custom_auth: bool = False) -> dict[str, str]:
    """The tokens of a bundle: Cognito's sign-in (data.all's default), or its custom auth provider's."""
    return dict(CUSTOM_AUTH_PLACEHOLDERS if custom_auth else PLACEHOLDERS)


#: The parts of data.all's source the build reads, besides `frontend/` itself.
BESIDE = ("config.json", "version.json")
#: Never part of the source's digest: what a build or a local run leaves in `frontend/`.
_LEFT_BY_BUILDS = ("node_modules", "build", ".env", ".env.local", ".env.production")
_GENERATED = ("src", "generated")


class FrontendBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Bundle:
    """A built bundle: the zip (cached by `digest`), and how long getting it took."""

    data: bytes
    digest: str
    seconds: float
    cached: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def default_cache_dir() -> Path:
    from blueprints.assets import default_cache_dir as base

    return base() / "frontend"


def _source_files(source: Path) -> Iterator[tuple[str, Path]]:
    frontend = source / "frontend"
    if not (frontend / "package.json").is_file() or not (frontend / "yarn.lock").is_file():
        raise FrontendBuildError(f"{source} has no data.all frontend (frontend/package.json and frontend/yarn.lock)")
    for path in sorted(frontend.rglob("*")):
        parts = path.relative_to(frontend).parts
        if path.is_file() and parts[0] not in _LEFT_BY_BUILDS and parts[:2] != _GENERATED:
            yield f"frontend/{path.relative_to(frontend).as_posix()}", path
    for name in BESIDE:
        if not (source / name).is_file():
            raise FrontendBuildError(f"{source} has no {name}, which data.all's frontend build copies in")
        yield name, source / name


def recipe(*, custom_auth: bool = False) -> dict[str, object]:
    """Everything besides the source that decides what the build produces."""
    return {
        "recipe": RECIPE_VERSION,
        "yarn": YARN_VERSION,
        "node": _node_major(),
        "env": env_file(custom_auth=custom_auth),
    }


def source_digest(source: Path, *, custom_auth: bool = False) -> str:
    """The digest of data.all's frontend source and of this recipe: the cache's key."""
    digest = hashlib.sha256(json.dumps(recipe(custom_auth=custom_auth), sort_keys=True).encode())
    for name, path in _source_files(source):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def env_file(*, custom_auth: bool = False) -> str:
    """`frontend/.env` as data.all's `frontend_config.py` writes it, tokens for the installation's values."""
    lines = [f"{name}={value}" for name, value in FIXED.items()]
    lines += [f"{name}={token}" for name, token in placeholders(custom_auth).items()]
    return "\n".join(lines) + "\n"


def _node_major() -> str:
    try:
        version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        raise FrontendBuildError(f"data.all's frontend build needs Node.js (node --version failed: {error})") from error
    return version.lstrip("v").split(".")[0]


def build(source: Path, cache_dir: Path | None = None, *, log: Path | None = None, custom_auth: bool = False) -> Bundle:
    """data.all's frontend bundle for `source`: from the cache, or built (minutes) and cached; with
    `custom_auth`, the bundle signing in at data.all's custom auth provider (`CUSTOM_AUTH_PLACEHOLDERS`)."""
    started = time.monotonic()
    cache = cache_dir or default_cache_dir()
    digest = source_digest(source, custom_auth=custom_auth)
    bundle = cache / "bundles" / f"{digest[:24]}.zip"
    if bundle.exists():
        return Bundle(bundle.read_bytes(), digest, time.monotonic() - started, cached=True)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    with (bundle.parent / f"{bundle.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test tiers and builds side by side: one builds, the others wait
        if bundle.exists():
            return Bundle(bundle.read_bytes(), digest, time.monotonic() - started, cached=True)
        data = _build(source, cache, digest, log, custom_auth=custom_auth)
        partial = bundle.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(bundle)
    return Bundle(data, digest, time.monotonic() - started, cached=False)


def _build(source: Path, cache: Path, digest: str, log: Path | None, *, custom_auth: bool = False) -> bytes:
    yarn = _yarn(cache)
    work_root = cache / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{digest[:12]}-", dir=work_root) as tmp:
        work = Path(tmp)
        for name, path in _source_files(source):
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        frontend = work / "frontend"
        (frontend / ".env").write_text(env_file(custom_auth=custom_auth))
        environment = _environment(cache)
        log_path = log or cache / "logs" / f"{digest[:24]}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as out:
            for command in (
                [*yarn, "install", "--frozen-lockfile", "--non-interactive", "--network-timeout", "600000"],
                [*yarn, "build"],
            ):
                out.write(f"$ {' '.join(command[1:])}\n")
                out.flush()
                result = subprocess.run(
                    command, cwd=frontend, env=environment, stdout=out, stderr=subprocess.STDOUT, check=False
                )
                if result.returncode != 0:
                    tail = log_path.read_text()[-3000:]
                    raise FrontendBuildError(
                        f"data.all's frontend build failed at `{' '.join(command[1:])}` (log: {log_path}):\n{tail}"
                    )
        return package(frontend / "build", digest, custom_auth=custom_auth)


def package(build_dir: Path, digest: str, *, custom_auth: bool = False) -> bytes:
    """The bundle: react-scripts' `build/` zipped deterministically, with what the configuration
    needs to know (the tokens and the values baked in) as `METADATA_NAME`. Every token must be in
    the bundle: one the minifier folded away would leave its value unconfigurable."""
    tokens = placeholders(custom_auth)
    entries = []
    found: set[str] = set()
    for path in sorted(build_dir.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found.update(name for name, token in tokens.items() if token.encode() in data)
            entries.append((path.relative_to(build_dir).as_posix(), data, 0o644))
    missing = sorted(set(tokens) - found)
    if missing:
        raise FrontendBuildError(
            f"the frontend bundle lost the token of {', '.join(missing)}: the build settled it "
            "(a comparison or a test of its value), so it cannot be configured per installation"
        )
    if not any(name == "index.html" for name, _, _ in entries):
        raise FrontendBuildError(f"{build_dir} has no index.html: not a react-scripts build")
    metadata = BundleMetadata(placeholders=tokens, fixed=dict(FIXED), source_digest=digest)
    entries.append((METADATA_NAME, metadata.to_json().encode(), 0o644))
    return deterministic_zip(entries)


def _environment(cache: Path) -> dict[str, str]:
    """This process's environment without a REACT_APP_* of the operator's (react-scripts would take
    it over the .env), with yarn's download cache kept and warnings not made errors (`CI`)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REACT_APP_")}
    environment.update(
        {
            "NODE_OPTIONS": NODE_OPTIONS,
            "YARN_CACHE_FOLDER": str(cache / "yarn-cache"),
            "CI": "false",
            "BROWSERSLIST_IGNORE_OLD_DATA": "1",
            "DISABLE_OPENCOLLECTIVE": "1",
            "ADBLOCK": "1",
        }
    )
    environment.pop("NODE_ENV", None)
    return environment


def _yarn(cache: Path) -> list[str]:
    """yarn classic at `YARN_VERSION`, installed once into the cache by npm (no global install)."""
    prefix = cache / "tools" / f"yarn-{YARN_VERSION}"
    script = prefix / "node_modules" / "yarn" / "bin" / "yarn.js"
    if not script.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", f"yarn@{YARN_VERSION}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not script.exists():
            raise FrontendBuildError(f"npm could not install yarn@{YARN_VERSION}:\n{result.stderr[-2000:]}")
    return ["node", str(script)]
