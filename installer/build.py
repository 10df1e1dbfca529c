"""A release folder: its layout, its loading and checking, and how a build writes it.

```
release/<version>/
  manifest.json                      version, stages, actions, options, sha256 of every file
  blueprints/<stage>.template.json   plain CloudFormation
  assets/<sha256>.zip                Lambda code (installer, blueprints) and the dependency layer
  bootstrap.template.json            the bootstrap stack, self-contained for quick-create
```

`dataall-installer build` writes data.all's release (`installer/dataall.py`); the tests' synthetic
release (`tests/fixtures/synthetic/build.py`) is written the same way. Every CDK synthesis runs
with cdk-nag AwsSolutions attached: an unacknowledged finding fails the build (`synthesize`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.release.manifest import Manifest, ManifestError, sha256_file

MANIFEST_NAME = "manifest.json"
BOOTSTRAP_TEMPLATE = "bootstrap.template.json"


class BuildError(RuntimeError):
    code = "ReleaseInvalid"


@dataclass(frozen=True)
class Release:
    """A built release folder."""

    path: Path
    manifest: Manifest

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def load(cls, path: Path) -> Release:
        manifest_path = path / MANIFEST_NAME
        if not manifest_path.exists():
            raise BuildError(f"{path} is not a release folder: it has no {MANIFEST_NAME}")
        try:
            manifest = Manifest.from_json(manifest_path.read_bytes())
        except (ManifestError, ValueError) as error:
            raise BuildError(f"{manifest_path}: {error}") from None
        return cls(path=path, manifest=manifest)

    @property
    def digest(self) -> str:
        """The sha256 of the manifest, which names every file's sha256: the release's identity."""
        return sha256_file(self.path / MANIFEST_NAME)

    def verify(self) -> None:
        """Every file the manifest lists is here with the right sha256."""
        bad = []
        for name, digest in self.manifest.files.items():
            file = self.path / name
            if not file.exists():
                bad.append(f"{name} is missing")
            elif sha256_file(file) != digest:
                bad.append(f"{name} does not match its sha256")
        if bad:
            raise BuildError(f"release {self.path} is damaged: " + "; ".join(bad))

    def files(self) -> list[str]:
        return [MANIFEST_NAME, *sorted(self.manifest.files)]

    def template(self, stage: str) -> dict[str, Any]:
        step = self.manifest.steps[stage]
        assert step.template is not None
        document: dict[str, Any] = json.loads((self.path / step.template).read_text())
        return document

    @property
    def bootstrap_template(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.path / BOOTSTRAP_TEMPLATE).read_text())
        return document


def synthesize(app: Any, cdk_out: Path) -> Any:
    """`app.synth()`, with cdk-nag's unacknowledged findings as a readable BuildError."""
    try:
        return app.synth()
    except RuntimeError as error:  # cdk-nag findings, synthesis errors
        findings = _validation_findings(cdk_out / "validation-report.json")
        if findings:
            raise BuildError(
                f"cdk-nag found {len(findings)} unacknowledged finding(s):\n  " + "\n  ".join(findings[:40])
            ) from error
        raise BuildError(f"synthesis failed: {error}") from error


def _validation_findings(report: Path) -> list[str]:
    """`AwsSolutions-S1 at stage-s3/Bucket/Resource: <why>`, one per violation."""
    if not report.exists():
        return []
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                findings.append(
                    f"{violation['ruleName']} at {construct['constructPath']}: {violation.get('description', '')[:160]}"
                )
    return sorted(set(findings))


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def write_release(
    out_dir: Path,
    *,
    name: str,
    version: str,
    options: dict[str, Any],
    rules: list[dict[str, Any]],
    stages: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    templates: dict[str, dict[str, Any]],
    bootstrap_template: dict[str, Any],
    assets: dict[str, bytes],
    site: dict[str, str] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    images: dict[str, Any] | None = None,
) -> Release:
    """Write `out_dir/<version>/` whole or not at all: every file, then the checked manifest.

    `site` (`{"bundle": "assets/<sha256>.zip"}`, one of `assets`) names the web UI's bundle."""
    target = out_dir / version
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=out_dir))
    try:
        for file_name, template in templates.items():
            _write_json(staging / file_name, template)
        _write_json(staging / BOOTSTRAP_TEMPLATE, bootstrap_template)
        for key, data in assets.items():
            path = staging / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        files = {
            path.relative_to(staging).as_posix(): sha256_file(path)
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        manifest = {
            "format": 1,
            "name": name,
            "version": version,
            "options": options,
            "rules": rules,
            "stages": stages,
            "actions": actions,
            "files": files,
        }
        if site is not None:
            manifest["site"] = site
        if values:
            manifest["values"] = values
        if images is not None:
            manifest["images"] = images
        try:
            checked = Manifest.from_document(manifest)
        except ManifestError as error:
            raise BuildError(f"the release graph is not installable: {error}") from error
        _write_json(staging / MANIFEST_NAME, manifest)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Release(path=target, manifest=checked)
