"""Small releases made in code: a manifest and its files, checked by the manifest's own
loader, published to a moto bucket where the installer's steps read releases from.

The unit tier builds no real release (CDK synthesis needs Node, the layer needs pip); a
step that reads a release (plan, rollback) gets one of these instead. The built releases'
graphs (data.all's, and the synthetic test fixture's) are checked by their builds and installed
by tests/sandbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lambdas.data.releases import release_key
from lambdas.release.manifest import Manifest, sha256_bytes

VERSION = "2.8.0"


def template(outputs: tuple[str, ...] = (), parameters: tuple[str, ...] = ()) -> bytes:
    """A stage's template: one resource that creates nothing, the parameters its stage passes
    (Plan refuses a parameter the template does not declare) and the outputs it declares."""
    document: dict[str, Any] = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": name.lower()} for name in outputs},
    }
    if parameters:
        document["Parameters"] = {name: {"Type": "String"} for name in parameters}
    return json.dumps(document, indent=1, sort_keys=True).encode()


def stage(
    name: str,
    *,
    depends_on: tuple[str, ...] = (),
    stateful: bool = False,
    outputs: tuple[str, ...] = (),
    parameters: dict[str, str] | None = None,
    when: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": name,
        "template": f"blueprints/{name}.template.json",
        "parameters": parameters or {},
        "depends_on": list(depends_on),
        "stateful": stateful,
        "timeout": 600,
        "outputs": sorted(outputs),
    }
    if when is not None:
        document["when"] = when
    return document


@dataclass(frozen=True)
class SmallRelease:
    version: str
    document: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)

    @cached_property
    def manifest(self) -> Manifest:
        return Manifest.from_document(self.document)

    def publish(self, s3: Any, bucket: str) -> None:
        """Put the release where a run finds it once copied: the artifacts bucket."""
        for name, body in sorted(self.files.items()):
            s3.put_object(Bucket=bucket, Key=release_key(self.version, name), Body=body)
        s3.put_object(Bucket=bucket, Key=release_key(self.version, "manifest.json"), Body=json.dumps(self.document))


def small_release(
    *stages: dict[str, Any],
    version: str = VERSION,
    options: dict[str, Any] | None = None,
    actions: tuple[dict[str, Any], ...] = (),
    values: dict[str, Any] | None = None,
) -> SmallRelease:
    files = {s["template"]: template(tuple(s["outputs"]), tuple(s["parameters"])) for s in stages}
    document = {
        "format": 1,
        "name": "dataall",
        "version": version,
        "options": options or {},
        "rules": [],
        "stages": list(stages),
        "actions": list(actions),
        "files": {name: sha256_bytes(body) for name, body in sorted(files.items())},
    }
    if values:
        document["values"] = values
    release = SmallRelease(version=version, document=document, files=files)
    assert release.manifest.version == version  # checked by the manifest's own loader
    return release


def platform(version: str = VERSION) -> SmallRelease:
    """The platform's shape in six stages: a network, stateful stages on it, wiring read from
    outputs, an API on all of them, and a front that only an option turns on."""
    return small_release(
        stage("vpc", outputs=("VpcId",)),
        stage("aurora", depends_on=("vpc",), stateful=True, outputs=("ClusterIdentifier",)),
        stage("s3", stateful=True, outputs=("BucketName",)),
        stage("params", parameters={"Vpc": "${stage:vpc.VpcId}", "Bucket": "${stage:s3.BucketName}"}),
        stage("lambda-api", depends_on=("aurora", "params")),
        stage(
            "cloudfront",
            depends_on=("lambda-api",),
            when={"option": "InternetFacing", "equals": True},
        ),
        version=version,
        options={"InternetFacing": {"type": "boolean", "default": False}},
    )
