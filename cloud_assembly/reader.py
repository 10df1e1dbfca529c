"""A CDK cloud assembly (`cdk.out`), read as `cdk deploy` reads it.

`manifest.json` lists the artifacts: stacks (`aws:cloudformation:stack`), their asset
manifests (`cdk:asset-manifest`) and nested assemblies (`cdk:cloud-assembly`, one per CDK
Stage, in a folder of their own). A stack's template may hold nested stacks
(`AWS::CloudFormation::Stack` whose `aws:asset:path` metadata names their template file beside
it). Nothing here is specific to data.all.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

STACK = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
ASSET_MANIFEST = "cdk:asset-manifest"
NESTED_STACK = "AWS::CloudFormation::Stack"


class AssemblyError(ValueError):
    """A cloud assembly that cannot be read, naming the file and what is wrong with it."""


def read_json(path: Path) -> Any:
    """A JSON file of the assembly, or an AssemblyError naming it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AssemblyError(f"{path} does not exist") from None
    except json.JSONDecodeError as error:
        raise AssemblyError(f"{path} is not JSON: {error}") from None


@dataclass(frozen=True)
class FileAsset:
    """One file asset of an asset manifest: where it comes from, where `cdk deploy` puts it."""

    id: str
    source: Path
    packaging: str  # "file" or "zip" (a directory zipped when published)
    bucket: str
    key: str


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly, with its template and the nested stacks it holds.

    `account` and `region` are "" for an environment-agnostic stack."""

    artifact_id: str
    stack_name: str
    account: str
    region: str
    directory: Path
    template_file: str
    assets: tuple[FileAsset, ...] = ()
    #: the stack artifacts of the same assembly this one depends on
    dependencies: tuple[str, ...] = ()
    display_name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    #: the asset manifests (`*.assets.json`) the stack's assets are published from
    asset_manifests: tuple[str, ...] = ()
    #: where `cdk deploy` uploads the template (`stackTemplateAssetObjectUrl`), if anywhere
    template_url: str | None = None
    #: the SSM parameter holding the CDK bootstrap version, if the stack checks it
    bootstrap_parameter: str | None = None

    @property
    def key(self) -> tuple[Path, str]:
        return self.directory, self.artifact_id

    def matches(self, patterns: list[str]) -> bool:
        """No pattern, or a glob matching its stack name, display name or artifact id."""
        return not patterns or any(
            fnmatch.fnmatchcase(name, pattern)
            for pattern in patterns
            for name in (self.stack_name, self.display_name, self.artifact_id)
        )

    @cached_property
    def template(self) -> dict[str, Any]:
        document: dict[str, Any] = read_json(self.directory / self.template_file)
        return document

    def nested(self) -> dict[str, NestedStack]:
        """The nested stacks of this stack's template, by logical id."""
        found = {}
        for logical_id, resource in self.template.get("Resources", {}).items():
            if resource.get("Type") != NESTED_STACK:
                continue
            path = (resource.get("Metadata") or {}).get("aws:asset:path")
            if not path:
                raise AssemblyError(
                    f"{self.template_file}: nested stack {logical_id} has no aws:asset:path metadata "
                    "(its template cannot be found in the assembly)"
                )
            found[logical_id] = NestedStack(
                logical_id=logical_id,
                construct_path=str((resource.get("Metadata") or {}).get("aws:cdk:path", logical_id)),
                template_file=str(path),
                resource=resource,
                directory=self.directory,
            )
        return found


@dataclass(frozen=True)
class NestedStack:
    logical_id: str
    construct_path: str
    template_file: str
    resource: Mapping[str, Any]
    directory: Path

    @cached_property
    def template(self) -> dict[str, Any]:
        document: dict[str, Any] = read_json(self.directory / self.template_file)
        return document

    @property
    def construct_name(self) -> str:
        """`…/backend-stack/Vpc.NestedStack/Vpc.NestedStackResource` -> `Vpc`."""
        for part in reversed(self.construct_path.split("/")):
            if part.endswith(".NestedStack"):
                return part.removesuffix(".NestedStack")
        return self.logical_id


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    manifest: Mapping[str, Any]
    children: tuple[CloudAssembly, ...] = field(default=())

    @classmethod
    def load(cls, directory: Path) -> CloudAssembly:
        manifest = read_json(directory / "manifest.json")
        if not isinstance(manifest, dict) or "artifacts" not in manifest:
            raise AssemblyError(f"{directory / 'manifest.json'} is not a cloud assembly manifest (no artifacts)")
        children = tuple(
            cls.load(directory / artifact["properties"]["directoryName"])
            for artifact in manifest["artifacts"].values()
            if artifact.get("type") == NESTED_ASSEMBLY
        )
        return cls(directory=directory, manifest=manifest, children=children)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    def stacks(self) -> Iterator[StackArtifact]:
        """Every stack of this assembly and of its nested assemblies (CDK Stages)."""
        artifacts = self.manifest["artifacts"]
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != STACK:
                continue
            properties = artifact.get("properties", {})
            account, region = _environment(artifact.get("environment", ""))
            dependencies = artifact.get("dependencies") or []
            manifests = tuple(
                artifacts[d]["properties"]["file"]
                for d in dependencies
                if artifacts.get(d, {}).get("type") == ASSET_MANIFEST
            )
            yield StackArtifact(
                artifact_id=artifact_id,
                stack_name=properties.get("stackName", artifact_id),
                account=account,
                region=region,
                directory=self.directory,
                template_file=properties["templateFile"],
                assets=tuple(asset for file in manifests for asset in self._file_assets(file)),
                dependencies=tuple(d for d in dependencies if artifacts.get(d, {}).get("type") == STACK),
                display_name=str(artifact.get("displayName", artifact_id)),
                tags=dict(properties.get("tags") or {}),
                asset_manifests=manifests,
                template_url=properties.get("stackTemplateAssetObjectUrl"),
                bootstrap_parameter=properties.get("bootstrapStackVersionSsmParameter"),
            )
        for child in self.children:
            yield from child.stacks()

    def in_dependency_order(self) -> list[StackArtifact]:
        """Every stack, each after the stacks of its own assembly it depends on."""
        pending = list(self.stacks())
        known = {stack.key for stack in pending}
        ordered: list[StackArtifact] = []
        done: set[tuple[Path, str]] = set()
        while pending:
            ready = [
                stack
                for stack in pending
                if all((stack.directory, d) in done or (stack.directory, d) not in known for d in stack.dependencies)
            ]
            if not ready:
                raise AssemblyError(f"the stacks {[s.stack_name for s in pending]} depend on each other in a circle")
            for stack in ready:
                ordered.append(stack)
                done.add(stack.key)
                pending.remove(stack)
        return ordered

    def stack(self, stack_name: str) -> StackArtifact:
        found = [s for s in self.stacks() if s.stack_name == stack_name]
        if not found:
            names = ", ".join(sorted(s.stack_name for s in self.stacks()))
            raise AssemblyError(f"{self.directory}: no stack named {stack_name!r} (it has: {names})")
        return found[0]

    def _file_assets(self, file_name: str) -> Iterator[FileAsset]:
        document = read_json(self.directory / file_name)
        for asset_id, asset in document.get("files", {}).items():
            for destination in asset.get("destinations", {}).values():
                yield FileAsset(
                    id=asset_id,
                    source=(self.directory / asset["source"]["path"]).resolve(),
                    packaging=asset["source"].get("packaging", "file"),
                    bucket=destination["bucketName"],
                    key=destination["objectKey"],
                )


def _environment(environment: str) -> tuple[str, str]:
    """`aws://111111111111/eu-west-1` -> (account, region); `unknown-…` (environment-agnostic) -> ""."""
    if not environment.startswith("aws://"):
        return "", ""
    account, _, region = environment.removeprefix("aws://").partition("/")
    return ("" if account.startswith("unknown-") else account), ("" if region.startswith("unknown-") else region)


def nested_templates(directory: Path, template: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, template) of each nested stack whose template is in the assembly."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        path = (resource.get("Metadata") or {}).get("aws:asset:path")
        if resource.get("Type") == NESTED_STACK and path and (directory / path).is_file():
            yield logical_id, read_json(directory / path)


def count_resources(directory: Path, template: Mapping[str, Any]) -> int:
    """The template's resources and, recursively, its nested stacks'."""
    own = len(template.get("Resources") or {})
    return own + sum(count_resources(directory, nested) for _, nested in nested_templates(directory, template))
