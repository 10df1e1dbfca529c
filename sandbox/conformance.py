"""Conformance: a CDK cloud assembly deployed into the sandbox the way `cdk deploy` deploys it.

`cdk deploy` reads the assembly's `manifest.json` (and its nested assemblies', one per CDK Stage),
publishes each stack's file assets from its `*.assets.json` to the buckets they name (a directory
zipped when its `packaging` is `zip`), checks the bootstrap version in SSM
(`/cdk-bootstrap/hnb659fds/version`), then creates or updates each stack, in the order of the
manifest's dependencies, with its tags and with its template from its published asset. The
sandbox does the same, then reports per stack its status and how many of its resources (nested
stacks' included) reached CREATE_COMPLETE or UPDATE_COMPLETE, and every failure with the stack,
logical id, type and reason. Container images the templates name are built outside CDK (data.all's
pipeline builds and pushes them): data.all's Lambda image (tag `lambdas-…`) is built without
Docker from the data.all source tree beside the assembly (`<assembly>/../source`, or the one
given), as `sandbox.image_build` lays it out, so the custom resources that run it (its database
migration, snapshot and permission triggers) really run; any other image gets an empty stand-in
root, so its functions and task definitions can be created.

The assembly is read by `cloud_assembly.reader`, the same reader the release build uses.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError

from cloud_assembly.reader import (
    NESTED_STACK,
    AssemblyError,
    CloudAssembly,
    StackArtifact,
    count_resources,
    nested_templates,
    read_json,
)
from sandbox.image_build import DOCKERFILE, LAMBDA_IMAGE_PREFIX, build_dataall_image_root

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
#: what `cdk bootstrap` of aws-cdk 2.1149 leaves in the bootstrap version parameter
BOOTSTRAP_VERSION = "21"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
#: RDS's refusal to delete a protected cluster or instance, as CloudFormation's event quotes it
PROTECTED = re.compile(r"Cannot delete protected (Cluster|DB Instance)")
_IMAGE_IN_JOIN = ".dkr.ecr."
_SETTLE_SECONDS = 3600.0

Log = Callable[[str], None]


class Host(Protocol):
    """What the conformance run uses of a started `sandbox.server.Sandbox`."""

    @property
    def endpoint(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    def register_image(self, uri: str, root: Path | str) -> Any: ...


# --------------------------------------------------------------------------- the assembly
def read_assembly(directory: Path, default_region: str) -> list[StackArtifact]:
    """Every stack of the assembly and of its nested assemblies, each after the stacks it depends
    on; an environment-agnostic stack in `default_region`."""
    stacks = CloudAssembly.load(directory).in_dependency_order()
    return [stack if stack.region else replace(stack, region=default_region) for stack in stacks]


def image_uris(value: Any) -> set[str]:
    """The ECR image URIs a template names (`Fn::Join` with `AWS::URLSuffix`, as CDK writes them)."""
    found: set[str] = set()
    if isinstance(value, dict):
        join = value.get("Fn::Join")
        if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
            parts = join[1]
            if any(_IMAGE_IN_JOIN in str(part) for part in parts if isinstance(part, str)):
                suffix = {"Ref": "AWS::URLSuffix"}
                if all(isinstance(part, str) or part == suffix for part in parts):
                    found.add(str(join[0]).join("amazonaws.com" if part == suffix else part for part in parts))
                    return found
        for item in value.values():
            found |= image_uris(item)
    elif isinstance(value, list):
        for item in value:
            found |= image_uris(item)
    elif isinstance(value, str) and re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/\S+", value):
        found.add(value)
    return found


# --------------------------------------------------------------------------- results
@dataclass
class Failure:
    stack: str
    logical_id: str
    type: str
    reason: str
    operation: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "stack": self.stack,
            "logical_id": self.logical_id,
            "type": self.type,
            "reason": self.reason,
            "operation": self.operation,
        }


@dataclass
class StackResult:
    stack_name: str
    region: str
    operation: str
    status: str
    resources: int
    resources_complete: int
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.status in COMPLETE

    def line(self) -> str:
        return (
            f"{self.stack_name} ({self.region}) {self.operation}: {self.status}, "
            f"{self.resources_complete}/{self.resources} resources complete, "
            f"{len(self.failures)} failure(s), {self.seconds:.1f} s"
        )


@dataclass
class Report:
    results: list[StackResult] = field(default_factory=list)
    stand_in_images: list[str] = field(default_factory=list)
    #: images built from a data.all source tree
    built_images: list[str] = field(default_factory=list)
    #: with delete: what is left (stacks not DELETE_COMPLETE, resources not deleted) ...
    left: list[str] = field(default_factory=list)
    #: ... and what the templates keep on purpose (DeletionPolicy Retain: DELETE_SKIPPED)
    retained: list[str] = field(default_factory=list)
    deleted: bool = False
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The last results of each stack (an update's, when the assembly was updated)."""
        last: dict[tuple[str, str], StackResult] = {}
        for result in self.results:
            if result.operation != "delete":
                last[(result.region, result.stack_name)] = result
        final = list(last.values())
        failures = [failure for result in self.results for failure in result.failures]
        summary: dict[str, Any] = {
            "stacks": len(final),
            "stacks_complete": sum(1 for result in final if result.complete),
            "resources": sum(result.resources for result in final),
            "resources_complete": sum(result.resources_complete for result in final),
            "failures": [failure.as_dict() for failure in failures],
            "seconds": round(self.seconds, 1),
            "stand_in_images": list(self.stand_in_images),
            "built_images": list(self.built_images),
        }
        if self.deleted:
            summary["left"] = list(self.left)
            summary["retained"] = list(self.retained)
        return summary


# --------------------------------------------------------------------------- the run
class Conformance:
    """Deploys assemblies into a started sandbox as `cdk deploy` would, and reads back the outcome."""

    def __init__(
        self, host: Host, *, log: Log | None = None, image_root: Path | None = None, rollback: bool = True
    ) -> None:
        self._host = host
        #: False: `cdk deploy --no-rollback` (a failed create stays CREATE_FAILED, nested stacks too)
        self._rollback = rollback
        self._log = log or (lambda line: None)
        self._published: set[tuple[str, str]] = set()
        self._images: set[str] = set()
        self._image_root = image_root
        self.report = Report()

    def client(self, service: str, region: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self._host.endpoint,
            region_name=region,
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - not a secret: the sandbox accepts any
        )

    def deploy(self, stacks: list[StackArtifact], source: Path | None = None) -> list[StackResult]:
        """Deploy `stacks`; data.all's Lambda image from the source tree `source`, if given."""
        results = []
        for stack in stacks:
            result = self._deploy_one(stack, source)
            self._log(result.line())
            results.append(result)
            self.report.results.append(result)
        return results

    def delete(self, stacks: list[StackArtifact]) -> None:
        """Delete the stacks, dependants first, and name whatever is left.

        A database the template protects from deletion (`DeletionProtection`, as data.all's Aurora
        cluster is) fails the delete in AWS too ("Cannot delete protected Cluster"); the operator
        turns the protection off and deletes again, and so does this, saying so."""
        self.report.deleted = True
        for stack in reversed(stacks):
            cfn = self.client("cloudformation", stack.region)
            began = time.monotonic()
            try:
                stack_id = cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0]["StackId"]
            except ClientError:
                continue
            since = datetime.now(UTC)
            cfn.delete_stack(StackName=stack_id)
            described = _settle(cfn, stack_id)
            failures = self._failures(cfn, stack_id, since, "delete")
            protected = [f for f in failures if PROTECTED.search(f.reason)]
            if described["StackStatus"] == "DELETE_FAILED" and protected and len(protected) == len(failures):
                for failure in protected:
                    self._unprotect(stack.region, failure)
                since = datetime.now(UTC)
                cfn.delete_stack(StackName=stack_id)
                described = _settle(cfn, stack_id)
                failures = self._failures(cfn, stack_id, since, "delete")
            result = StackResult(
                stack.stack_name, stack.region, "delete", described["StackStatus"], 0, 0, failures,
                time.monotonic() - began,
            )  # fmt: skip
            self._log(result.line())
            self.report.results.append(result)
            for line in self._left(cfn, stack_id):
                (self.report.retained if " DELETE_SKIPPED" in line else self.report.left).append(line)

    def _unprotect(self, region: str, failure: Failure) -> None:
        rds = self.client("rds", region)
        cfn = self.client("cloudformation", region)
        physical = cfn.describe_stack_resource(StackName=failure.stack, LogicalResourceId=failure.logical_id)[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
        if failure.type == "AWS::RDS::DBCluster":
            rds.modify_db_cluster(DBClusterIdentifier=physical, DeletionProtection=False, ApplyImmediately=True)
        else:
            rds.modify_db_instance(DBInstanceIdentifier=physical, DeletionProtection=False, ApplyImmediately=True)
        self._log(f"{failure.type} {physical}: deletion protection turned off, as an operator does, to delete again")

    # ------------------------------------------------------------------ one stack
    def _deploy_one(self, stack: StackArtifact, source: Path | None) -> StackResult:
        began = time.monotonic()
        self._publish(stack)
        self._bootstrap(stack)
        template = stack.template
        self._images_of(stack, template, source)
        cfn = self.client("cloudformation", stack.region)
        arguments: dict[str, Any] = {
            "StackName": stack.stack_name,
            "Capabilities": CAPABILITIES,
            "Tags": [{"Key": key, "Value": value} for key, value in stack.tags.items()],
            **self._template_argument(stack),
        }
        existing = _live_stack(cfn, stack.stack_name)
        if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":
            # cdk deploy: a stack whose creation failed and rolled back is deleted, then created again
            cfn.delete_stack(StackName=existing["StackId"])
            _settle(cfn, existing["StackId"])
            existing = None
        since = datetime.now(UTC)
        operation = "update" if existing else "create"
        try:
            if existing:
                stack_id = existing["StackId"]
                cfn.update_stack(**arguments)
            else:
                stack_id = cfn.create_stack(**arguments, DisableRollback=not self._rollback)["StackId"]
        except ClientError as error:
            message = error.response["Error"].get("Message", str(error))
            if existing and message == "No updates are to be performed.":
                operation = "update (no changes)"
            else:  # refused (a stack not updatable in its state, a rule's assertion): nothing ran
                refused = Failure(stack.stack_name, stack.stack_name, NESTED_STACK, message, operation)
                status = existing["StackStatus"] if existing else "NOT_CREATED"
                resources = count_resources(stack.directory, template)
                completed = self._completed(cfn, existing["StackId"], stack.directory, template) if existing else 0
                return StackResult(
                    stack.stack_name, stack.region, f"{operation} refused", status, resources, completed, [refused],
                    time.monotonic() - began,
                )  # fmt: skip
        described = _settle(cfn, stack_id)
        completed = self._completed(cfn, stack_id, stack.directory, template)
        return StackResult(
            stack_name=stack.stack_name,
            region=stack.region,
            operation=operation,
            status=described["StackStatus"],
            resources=count_resources(stack.directory, template),
            resources_complete=completed,
            failures=self._failures(cfn, stack_id, since, operation),
            seconds=time.monotonic() - began,
        )

    def _template_argument(self, stack: StackArtifact) -> dict[str, str]:
        """The template as `cdk deploy` passes it: the URL of its published asset, else its body."""
        url = self._substitute(stack.template_url or "", stack.region)
        if url.startswith("s3://"):
            bucket, _, key = url.removeprefix("s3://").partition("/")
            if (bucket, key) in self._published:
                return {"TemplateURL": f"https://s3.{stack.region}.amazonaws.com/{bucket}/{key}"}
        return {"TemplateBody": (stack.directory / stack.template_file).read_text()}

    def _substitute(self, text: str, region: str) -> str:
        return (
            text.replace("${AWS::AccountId}", self._host.account_id)
            .replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", "aws")
        )

    def _publish(self, stack: StackArtifact) -> None:
        """Every file asset of the stack's asset manifests, to the bucket it names."""
        for manifest_file in stack.asset_manifests:
            manifest = read_json(stack.directory / manifest_file)
            if manifest.get("dockerImages"):
                self._log(f"{manifest_file}: {len(manifest['dockerImages'])} image asset(s) not built (no Docker)")
            for asset in (manifest.get("files") or {}).values():
                source = (stack.directory / asset["source"]["path"]).resolve()
                for destination in asset["destinations"].values():
                    region = self._substitute(str(destination.get("region") or stack.region), stack.region)
                    bucket = self._substitute(destination["bucketName"], region)
                    key = self._substitute(destination["objectKey"], region)
                    if (bucket, key) in self._published:
                        continue
                    s3 = self.client("s3", region)
                    self._bucket(s3, bucket, region)
                    s3.put_object(Bucket=bucket, Key=key, Body=_asset_body(source, asset["source"].get("packaging")))
                    self._published.add((bucket, key))

    @staticmethod
    def _bucket(s3: Any, bucket: str, region: str) -> None:
        configuration = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            s3.create_bucket(Bucket=bucket, **configuration)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _bootstrap(self, stack: StackArtifact) -> None:
        """What `cdk bootstrap` leaves: the version the templates' CheckBootstrapVersion rule reads."""
        self.client("ssm", stack.region).put_parameter(
            Name=stack.bootstrap_parameter or BOOTSTRAP_PARAMETER,
            Value=BOOTSTRAP_VERSION,
            Type="String",
            Overwrite=True,
        )

    def _images_of(self, stack: StackArtifact, template: dict[str, Any], source: Path | None) -> None:
        uris = image_uris(template)
        for _, nested in _all_nested(stack.directory, template):
            uris |= image_uris(nested)
        for uri in sorted(uris - self._images):
            if source is not None and uri.rpartition(":")[2].startswith(LAMBDA_IMAGE_PREFIX):
                self._log(f"image {uri}: built from data.all's source {source} (cached after the first time)")
                self._host.register_image(uri, build_dataall_image_root(source))
                self._images.add(uri)
                self.report.built_images.append(uri)
                continue
            if self._image_root is None:
                self._image_root = Path(tempfile.mkdtemp(prefix="stand-in-image-"))
            self._host.register_image(uri, self._image_root)
            self._images.add(uri)
            self.report.stand_in_images.append(uri)
            self._log(f"image {uri}: an empty stand-in image root (the image is built outside CDK)")

    # ------------------------------------------------------------------ reading back
    @staticmethod
    def _nested_stacks(cfn: Any, stack_id: str) -> dict[str, list[str]]:
        """`<parent>-<LogicalId>` (cut as CloudFormation cuts a long name) -> ids of the nested
        stacks made for it, deleted ones too."""
        found: dict[str, list[str]] = {}
        for page in cfn.get_paginator("list_stacks").paginate():
            for summary in page["StackSummaries"]:
                if summary.get("ParentId") == stack_id:
                    head = summary["StackName"].rpartition("-")[0]
                    found.setdefault(head, []).append(summary["StackId"])
        return found

    def _completed(self, cfn: Any, stack_id: str, directory: Path, template: dict[str, Any]) -> int:
        """The template's resources that reached CREATE_COMPLETE or UPDATE_COMPLETE (a rollback
        may have removed them since), nested stacks' included."""
        reached = {
            event["LogicalResourceId"]
            for event in _events(cfn, stack_id)
            if event["ResourceStatus"] in COMPLETE and event["LogicalResourceId"] != event["StackName"]
        }
        count = len(reached & set(template.get("Resources") or {}))
        nested = self._nested_stacks(cfn, stack_id)
        name = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackName"]
        for logical_id, nested_template in nested_templates(directory, template):
            best = 0
            made = [i for head, ids in nested.items() if f"{name}-{logical_id}".startswith(head) for i in ids]
            for nested_id in made:
                best = max(best, self._completed(cfn, nested_id, directory, nested_template))
            count += best
        return count

    def _failures(self, cfn: Any, stack_id: str, since: datetime, operation: str) -> list[Failure]:
        """Each resource's failure since `since` in the stack and its nested stacks; a nested
        stack's resource that fails only because its nested stack did ("Embedded stack …") is told
        by the latter."""
        failures = []
        for event in reversed(_events(cfn, stack_id)):
            reason = event.get("ResourceStatusReason") or ""
            if (
                event["Timestamp"] < since
                or not event["ResourceStatus"].endswith("_FAILED")
                or event["LogicalResourceId"] == event["StackName"]
                or reason.endswith("cancelled")
                or reason.startswith("Embedded stack ")
            ):
                continue
            failures.append(
                Failure(event["StackName"], event["LogicalResourceId"], event["ResourceType"], reason, operation)
            )
        for nested_ids in self._nested_stacks(cfn, stack_id).values():
            for nested_id in nested_ids:
                failures.extend(self._failures(cfn, nested_id, since, operation))
        return failures

    def _left(self, cfn: Any, stack_id: str) -> list[str]:
        """What a delete left: a stack not deleted, a resource retained or not deleted."""
        left = []
        described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if described["StackStatus"] != "DELETE_COMPLETE":
            left.append(f"stack {described['StackName']}: {described['StackStatus']}")
        for resource in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]:
            if resource["ResourceStatus"] != "DELETE_COMPLETE":
                left.append(
                    f"{described['StackName']}/{resource['LogicalResourceId']} ({resource['ResourceType']}): "
                    f"{resource['ResourceStatus']} {resource.get('PhysicalResourceId') or ''}".rstrip()
                )
        for nested_ids in self._nested_stacks(cfn, stack_id).values():
            for nested_id in nested_ids:
                left.extend(self._left(cfn, nested_id))
        return left


def _all_nested(directory: Path, template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, nested in nested_templates(directory, template):
        yield logical_id, nested
        yield from _all_nested(directory, nested)


def _asset_body(source: Path, packaging: str | None) -> bytes:
    if packaging == "zip" and source.is_dir():
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as package:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    package.write(path, path.relative_to(source))
        return archive.getvalue()
    return source.read_bytes()


def _live_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        described: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        return None
    return None if described["StackStatus"] == "DELETE_COMPLETE" else described


def _events(cfn: Any, stack_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        events.extend(page["StackEvents"])
    return events


def _settle(cfn: Any, stack_id: str, timeout: float = _SETTLE_SECONDS) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"{described['StackName']} still {described['StackStatus']} after {timeout:.0f} s")
        time.sleep(0.2)


def select(stacks: list[StackArtifact], patterns: list[str]) -> list[StackArtifact]:
    chosen = [stack for stack in stacks if stack.matches(patterns)]
    if not chosen:
        names = ", ".join(stack.stack_name for stack in stacks)
        raise AssemblyError(f"no stack matches {patterns} (the assembly has: {names})")
    return chosen


def dataall_source_of(assembly: Path) -> Path | None:
    """The data.all source tree beside a cloud assembly (`<version>/cdk.out` and `<version>/source`,
    as `../shared/upstream/dataall` holds them), if there is one."""
    source = assembly.resolve().parent / "source"
    return source if (source / DOCKERFILE).is_file() else None


def run(
    host: Host,
    assembly: Path,
    patterns: list[str],
    *,
    update_from: Path | None = None,
    delete: bool = False,
    rollback: bool = True,
    log: Log | None = None,
    source: Path | None = None,
) -> Report:
    """Deploy `assembly`'s chosen stacks (after `update_from`'s, which this then updates), and
    delete them afterwards if asked. data.all's Lambda image is built from `source`, or from the
    source tree beside each assembly."""
    if source is not None and not (source / DOCKERFILE).is_file():
        raise AssemblyError(f"--source {source}: no {DOCKERFILE} (not a data.all source tree)")
    began = time.monotonic()
    conformance = Conformance(host, log=log, rollback=rollback)
    stacks = select(read_assembly(assembly, host.region), patterns)
    if update_from is not None:
        conformance.deploy(select(read_assembly(update_from, host.region), patterns), dataall_source_of(update_from))
    conformance.deploy(stacks, source or dataall_source_of(assembly))
    if delete:
        conformance.delete(stacks)
    conformance.report.seconds = time.monotonic() - began
    return conformance.report
