"""data.all's own synthesized platform stages, created in the sandbox one nested stack at a time.

The templates are read in place from `../shared/upstream/dataall/<version>/cdk.out` (never
copied). The backend stage first (eu-west-1), then the cloudfront stage (us-east-1), as data.all's
pipeline deploys them. As `cdk deploy` would, a stage's file assets are published to the bootstrap
bucket its templates name, and `cdk bootstrap`'s version parameter is there; the stage stack's own
resources (the backend's KMS key and its alias) are created first, then each nested template, in
the order its parent's `DependsOn` and references give, with the parameters the parent passes (the
outputs of the nested stacks created before it). Every resource of a stack that creates must reach
CREATE_COMPLETE. A stack whose `DependsOn` failed is still tried (its parent would not start it),
to show what it does itself; one that needs an output of a failed stack is not.

What still fails is listed in `STILL_FAILING`, each with the resource type and the words of
its failure, and pinned: the day it creates, its test says so.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from installer.upstream import shared_upstream

VERSION = "2.9.0"
ASSEMBLY = shared_upstream(VERSION) / "cdk.out"
#: each platform stage and its region (the assembly's environments), in deployment order
STAGES = {"backend": "eu-west-1", "cloudfront": "us-east-1"}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]

pytestmark = [
    pytest.mark.skipif(not ASSEMBLY.is_dir(), reason=f"data.all's cloud assembly is not at {ASSEMBLY}"),
    # one worker makes the stage once for every test here
    pytest.mark.xdist_group("cdk_output"),
]

#: Nested stacks that create every resource.
CREATES = [
    *("Vpc", "ParamStore", "Cognito", "SqsStack", "Lambdas", "ECS", "Aurora", "OpenSearch", "CWDashboards"),
    # CDK's BucketDeployment handler runs `/opt/awscli/aws` from its AwsCli layer (sandbox/layers.py)
    "S3Resources",
    *("CloudFront", "FrontendCognitoConfig"),
]

_FAILED_ANSWER = "Received response status [FAILED] from custom resource"

#: Nested stacks that still fail: (the failing resource's type, words of its reason), and why.
STILL_FAILING: dict[str, tuple[str, str]] = {
    # The Trigger invokes a container-image function (`PackageType: Image`, data.all's
    # `lambdas-<version>` image, built outside CDK): here an empty image stands in for it
    # (see `_push_stand_in_images`), so the function fails; running data.all's image is the
    # container-image runtime's task.
    "DbSnapshots": ("Custom::Trigger", _FAILED_ANSWER),
    "DbMigrations": ("Custom::Trigger", _FAILED_ANSWER),
    "SavePerms": ("Custom::Trigger", _FAILED_ANSWER),
}


@dataclass
class Created:
    """What one stack's creation came to."""

    status: str
    #: logical id -> (type, status) of every resource the stack has now
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: (logical id, type, reason) of each resource that failed (not those cancelled)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    template_resources: int = 0
    #: resources that reached CREATE_COMPLETE (before a rollback deleted them)
    completed: int = 0


def _stage(name: str) -> Path:
    return next(ASSEMBLY.glob(f"assembly-*-{name}-stage"))


def _root_template(stage: Path) -> Path:
    return next(path for path in stage.glob("*.template.json") if not path.name.endswith(".nested.template.json"))


def _short(logical_id: str) -> str:
    """`VpcNestedStackVpcNestedStackResourceC40EA5DD` -> `Vpc`."""
    return logical_id.split("NestedStack", 1)[0]


def _publish_assets(stage: Path, s3: Any, region: str) -> None:
    """What `cdk deploy` publishes: every file asset, a directory zipped, to its bucket."""
    manifest = json.loads(next(stage.glob("*.assets.json")).read_text())
    buckets: set[str] = set()
    for asset in manifest["files"].values():
        destination = next(iter(asset["destinations"].values()))
        bucket = destination["bucketName"]
        if bucket not in buckets:
            configuration = (
                {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            s3.create_bucket(Bucket=bucket, **configuration)
            buckets.add(bucket)
        source = (stage / asset["source"]["path"]).resolve()
        if asset["source"].get("packaging") == "zip" and source.is_dir():
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as package:
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        package.write(path, path.relative_to(source))
            body = archive.getvalue()
        else:
            body = source.read_bytes()
        s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _image_uris(stage: Path) -> set[str]:
    """The container images the templates name (data.all builds them outside CDK)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            join = value.get("Fn::Join")
            if join and isinstance(join[1], list) and any(".dkr.ecr." in str(part) for part in join[1]):
                suffix = {"Ref": "AWS::URLSuffix"}
                found.add("".join("amazonaws.com" if part == suffix else str(part) for part in join[1]))
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in stage.glob("*.nested.template.json"):
        walk(json.loads(path.read_text())["Resources"])
    return found


def _push_stand_in_images(sandbox: Any, stage: Path, root: Path) -> None:
    """What data.all's `make deploy-image` pushes to ECR before a deploy: Lambda resolves a
    function's image when it is created. Here an empty image stands in for each: the functions
    create; running one is the container-image runtime's part, not this test's."""
    register = getattr(sandbox, "register_image", None)
    if register is None:  # a sandbox that does not resolve images takes any URI
        return
    for uri in sorted(_image_uris(stage)):
        register(uri, root)


def _settle(cfn: Any, stack_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{described['StackName']} still {described['StackStatus']} after {timeout} s")
        time.sleep(0.1)


def _create(cfn: Any, name: str, template: dict[str, Any], parameters: dict[str, str], tags: Any) -> Created:
    stack_id = cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=CAPABILITIES,
        Tags=tags or [],
    )["StackId"]
    described = _settle(cfn, stack_id)
    events = list(reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]))
    created = Created(status=described["StackStatus"], template_resources=len(template["Resources"]))
    created.failures = [
        (event["LogicalResourceId"], event["ResourceType"], event.get("ResourceStatusReason") or "")
        for event in events
        if event["ResourceStatus"] == "CREATE_FAILED" and "cancelled" not in (event.get("ResourceStatusReason") or "")
    ]
    created.completed = len(
        {
            event["LogicalResourceId"]
            for event in events
            if event["ResourceStatus"] == "CREATE_COMPLETE" and event["PhysicalResourceId"] != stack_id
        }
    )
    created.resources = {
        resource["LogicalResourceId"]: (resource["ResourceType"], resource["ResourceStatus"])
        for resource in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }
    created.outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    return created


def _parameter(value: Any, created: dict[str, Created], root: Created) -> str:
    """A value the parent passes: a nested stack's output, or one of its own resources'."""
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute.startswith("Outputs."):
            return created[logical_id].outputs[attribute.removeprefix("Outputs.")]
        return root.outputs[_output_name(logical_id, attribute)]
    return root.outputs[_output_name(value["Ref"], None)]


def _output_name(logical_id: str, attribute: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", f"{logical_id}{attribute or 'Ref'}")


def _references(value: Any) -> list[tuple[str, str | None]]:
    """Every (logical id, attribute) a parameter value refers to."""
    if isinstance(value, dict):
        if "Ref" in value:
            return [(value["Ref"], None)]
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return [(str(logical_id), str(attribute))]
        return [found for item in value.values() for found in _references(item)]
    if isinstance(value, list):
        return [found for item in value for found in _references(item)]
    return []


def _create_stage(sandbox: Any, images: Path, name: str, region: str) -> dict[str, Created]:
    """The stage stack's own resources, then every nested stack, as its parent would."""
    session = boto3.session.Session(aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name=region)
    cfn = session.client("cloudformation", endpoint_url=sandbox.endpoint)
    stage = _stage(name)
    _publish_assets(stage, session.client("s3", endpoint_url=sandbox.endpoint), region)
    _push_stand_in_images(sandbox, stage, images)
    # what `cdk bootstrap` leaves: the version the templates' CheckBootstrapVersion rule reads
    session.client("ssm", endpoint_url=sandbox.endpoint).put_parameter(
        Name="/cdk-bootstrap/hnb659fds/version", Value="21", Type="String"
    )

    root_template = json.loads(_root_template(stage).read_text())
    nested = {
        logical_id: resource
        for logical_id, resource in root_template["Resources"].items()
        if resource["Type"] == "AWS::CloudFormation::Stack"
    }
    own = {logical_id: r for logical_id, r in root_template["Resources"].items() if logical_id not in nested}
    wanted = {
        reference
        for resource in nested.values()
        for reference in _references(resource["Properties"].get("Parameters", {}))
        if reference[0] in own
    }
    root_template["Resources"] = own
    root_template["Outputs"] = {
        _output_name(logical_id, attribute): {
            "Value": {"Ref": logical_id} if attribute is None else {"Fn::GetAtt": [logical_id, attribute]}
        }
        for logical_id, attribute in sorted(wanted, key=str)
    }
    root = _create(cfn, f"{name}-stack", root_template, {}, [])
    assert root.status == "CREATE_COMPLETE", root.failures

    created: dict[str, Created] = {}
    pending = dict(nested)
    while pending:
        ready = [
            logical_id
            for logical_id, resource in pending.items()
            if all(
                other in created
                for other in [
                    *(resource.get("DependsOn") or []),
                    *(ref for ref, _ in _references(resource["Properties"].get("Parameters", {}))),
                ]
                if other in nested
            )
        ]
        assert ready, f"no nested stack can start: {sorted(pending)}"
        for logical_id in ready:
            resource = pending.pop(logical_id)
            properties = resource["Properties"]
            template = json.loads((stage / resource["Metadata"]["aws:asset:path"]).read_text())
            try:
                parameters = {
                    key: _parameter(value, created, root) for key, value in (properties.get("Parameters") or {}).items()
                }
            except KeyError as missing:  # an output of a stack that did not create
                created[logical_id] = Created(status=f"NOT_CREATED: no {missing} to pass")
                continue
            created[logical_id] = _create(
                cfn, f"{name}-{_short(logical_id)}", template, parameters, properties.get("Tags")
            )
    return {_short(logical_id): result for logical_id, result in created.items()}


@pytest.fixture(scope="module")
def platform(sandbox_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Created]]:
    sandbox_session.reset()
    images = tmp_path_factory.mktemp("stand-in-image")
    created: dict[str, Created] = {}
    for name, region in STAGES.items():
        created.update(_create_stage(sandbox_session, images, name, region))
    yield created
    sandbox_session.reset()


def test_every_nested_stack_is_either_created_or_a_known_failure(platform: dict[str, Created]) -> None:
    assert sorted(platform) == sorted([*CREATES, *STILL_FAILING])


@pytest.mark.parametrize("stack", CREATES)
def test_a_nested_stack_creates_every_resource(platform: dict[str, Created], stack: str) -> None:
    """AWS: data.all deploys this template; every resource reaches CREATE_COMPLETE."""
    created = platform[stack]

    assert created.status == "CREATE_COMPLETE", created.failures
    assert len(created.resources) == created.template_resources
    assert {status for _, status in created.resources.values()} == {"CREATE_COMPLETE"}


@pytest.mark.parametrize("stack", sorted(STILL_FAILING))
def test_a_nested_stack_the_sandbox_cannot_create_yet_fails_naming_the_type(
    platform: dict[str, Created], stack: str
) -> None:
    """Never skipped silently: the stack rolls back, and its failure names the resource type
    and says why (see `STILL_FAILING`); every resource of another type had been created."""
    created = platform[stack]
    resource_type, words = STILL_FAILING[stack]
    template = json.loads(next(_stage("backend").glob(f"*{stack}*.nested.template.json")).read_text())
    of_that_type = sum(resource["Type"] == resource_type for resource in template["Resources"].values())

    assert created.status == "ROLLBACK_COMPLETE", created.status
    assert created.completed == created.template_resources - of_that_type
    assert [(kind, words in reason) for _, kind, reason in created.failures][:1] == [(resource_type, True)], (
        created.failures
    )


def _tagged(stage: str, stack: str, resource_type: str) -> dict[str, Any]:
    """logical id -> `Tags` of each resource of `resource_type` in a nested template."""
    path = next(_stage(stage).glob(f"*{stack}*.nested.template.json"))
    resources = json.loads(path.read_text())["Resources"]
    return {
        logical_id: resource["Properties"]["Tags"]
        for logical_id, resource in resources.items()
        if resource["Type"] == resource_type and "Tags" in resource.get("Properties", {})
    }


def _physical_ids(sandbox: Any, stack: str) -> dict[str, str]:
    cfn = boto3.client(
        "cloudformation", endpoint_url=sandbox.endpoint, region_name=STAGES["backend"],
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip
    resources = cfn.describe_stack_resources(StackName=f"backend-{stack}")["StackResources"]
    return {resource["LogicalResourceId"]: resource["PhysicalResourceId"] for resource in resources}


def test_data_alls_tags_are_on_its_resources_in_both_shapes(platform: dict[str, Created], sandbox_session: Any) -> None:
    """AWS: ParamStore's parameters carry their `Tags` map (`aws-resource-ssm-parameter`), the
    queue key its Key/Value list (`aws-resource-kms-key`), as SSM's and KMS's tag APIs list them."""
    session = boto3.session.Session(
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name=STAGES["backend"]
    )
    ssm = session.client("ssm", endpoint_url=sandbox_session.endpoint)
    kms = session.client("kms", endpoint_url=sandbox_session.endpoint)
    parameters = _physical_ids(sandbox_session, "ParamStore")
    keys = _physical_ids(sandbox_session, "SqsStack")

    tagged_parameters = _tagged("backend", "ParamStore", "AWS::SSM::Parameter")
    tagged_keys = _tagged("backend", "SqsStack", "AWS::KMS::Key")
    assert tagged_parameters
    assert tagged_keys

    for logical_id, tags in tagged_parameters.items():
        found = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=parameters[logical_id])["TagList"]
        assert {tag["Key"]: tag["Value"] for tag in found} == tags, logical_id
    for logical_id, tags in tagged_keys.items():
        found = kms.list_resource_tags(KeyId=keys[logical_id])["Tags"]
        assert [{"Key": tag["TagKey"], "Value": tag["TagValue"]} for tag in found] == tags, logical_id
