"""What every stage blueprint shares.

A stage is one CDK stack, prebuilt into plain CloudFormation by `dataall-installer build`.
The stack declares its own wiring: each `StageStack.parameter(...)` is both a
CloudFormation parameter and the manifest expression that fills it at deploy time
(`${param:Option}` from installer options, `${stage:other.Output}` from an earlier stage),
so the manifest is generated from the blueprints and never written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from blueprints.assets import LAMBDA_RUNTIME, Asset, AssetRegistry

FUNCTIONS_DIR = Path(__file__).parent / "functions"
#: CDK context key: the stage (or comma-separated stages) whose template gets `touch`ed
TOUCH_CONTEXT = "dataall-installer:touch"
TOUCH_LOGICAL_ID = "InstallerTouch"
#: With a revision, the touch is a parameter whose value is the revision (see `_touch`)
TOUCH_REVISION_CONTEXT = "dataall-installer:touch-revision"


@dataclass(frozen=True)
class StageSpec:
    """How the workflow runs a stage: what the manifest says about it."""

    name: str
    description: str
    depends_on: tuple[str, ...] = ()
    when: Mapping[str, Any] | None = None
    stateful: bool = False
    timeout: int = 1800
    capabilities: tuple[str, ...] = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")


@dataclass
class BuildContext:
    """Shared by every stack of one build."""

    assets: AssetRegistry
    layer: Asset | None = None
    nag: bool = True
    acknowledgements: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


class StageStack(cdk.Stack):
    """Base of every blueprint. Subclasses set `SPEC` and build resources in `__init__`."""

    SPEC: ClassVar[StageSpec]

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(
            scope,
            f"stage-{self.SPEC.name}",
            stack_name=f"dataall-{self.SPEC.name}",
            description=f"dataall-installer stage {self.SPEC.name}: {self.SPEC.description}",
            synthesizer=cdk.BootstraplessSynthesizer(),
            analytics_reporting=False,
            **kwargs,
        )
        self.context = context
        self.wiring: dict[str, str] = {}
        self._assets_bucket: s3.IBucket | None = None
        self._protected: cdk.CfnCondition | None = None
        self.prefix = self.parameter(
            "ResourcePrefix",
            "${param:ResourcePrefix}",
            description="Prefix of every resource name",
            allowed_pattern="^[a-z][a-z0-9-]{1,19}$",
        ).value_as_string
        self.env_name = self.parameter(
            "EnvName",
            "${param:EnvName}",
            description="Environment name (dev, test, prod ...)",
            allowed_pattern="^[a-z][a-z0-9]{0,9}$",
        ).value_as_string
        if context.nag:
            cdk.Validations.of(self).add_plugins(AwsSolutionsChecks(verbose=True))
        self._touch()

    def _touch(self) -> None:
        """Add one inert resource when the build's context names this stage in `TOUCH_CONTEXT`.

        Benchmarks and tests need releases in which exactly one stage changes (an upgrade
        of one stage): `build_release(..., overrides={TOUCH_CONTEXT: "params"})`.
        CloudFormation updates a stack for a change to its resources, outputs, parameters
        or tags, but a resource's `Metadata` cannot be updated by itself (AWS's documentation
        of the Metadata attribute). So the touch adds a resource, the most harmless one: an
        `AWS::CloudFormation::WaitConditionHandle` has no properties, makes nothing outside
        CloudFormation, costs nothing, and nothing refers to it.
        """
        touched = str(self.node.try_get_context(TOUCH_CONTEXT) or "")
        if self.SPEC.name not in {name.strip() for name in touched.split(",")}:
            return
        revision = self.node.try_get_context(TOUCH_REVISION_CONTEXT)
        if revision is None:
            cdk.CfnResource(self, TOUCH_LOGICAL_ID, type="AWS::CloudFormation::WaitConditionHandle")
            return
        # Two releases with different revisions differ by a property (a Modify, not an Add):
        # what an upgrade must change for a failed update's rollback to have something to undo.
        cdk.CfnResource(
            self,
            TOUCH_LOGICAL_ID,
            type="AWS::SSM::Parameter",
            properties={
                "Name": cdk.Fn.join("/", ["", self.prefix, self.env_name, "installer-touch", self.SPEC.name]),
                "Type": "String",
                "Value": str(revision),
            },
        )

    # ---------------------------------------------------------------- wiring
    def parameter(
        self,
        name: str,
        source: str,
        *,
        description: str,
        type: str = "String",
        **kwargs: Any,
    ) -> cdk.CfnParameter:
        """A CloudFormation parameter filled at deploy time from `source`.

        `source` is a manifest expression: `${param:Option}`, `${stage:vpc.VpcId}`, or text.
        """
        self.wiring[name] = source
        return cdk.CfnParameter(self, name, type=type, description=description, **kwargs)

    @property
    def protected(self) -> cdk.CfnCondition:
        """Deletion protection of the stage's data resources: on for every deploy; an uninstall
        turns it off (a stack update, `DeletionProtection=false`) just before it deletes the
        stack, so CloudFormation can delete it while DeletionPolicy keeps the final snapshot."""
        if self._protected is None:
            flag = self.parameter(
                "DeletionProtection",
                "${param:DeletionProtection}",
                description="Deletion protection of the data resources (turned off only to uninstall)",
                allowed_values=["true", "false"],
            )
            self._protected = cdk.CfnCondition(
                self, "Protected", expression=cdk.Fn.condition_equals(flag.value_as_string, "true")
            )
        return self._protected

    def output(self, name: str, value: str, description: str) -> cdk.CfnOutput:
        """An output other stages may read as `${stage:<this stage>.<name>}`."""
        return cdk.CfnOutput(self, name, value=value, description=description)

    def resource_name(self, suffix: str) -> str:
        """`{prefix}-{env}-{suffix}`: names scoped to the installation (the service role's scope)."""
        return cdk.Fn.join("-", [self.prefix, self.env_name, suffix])

    # ---------------------------------------------------------------- code
    @property
    def assets_bucket(self) -> s3.IBucket:
        if self._assets_bucket is None:
            name = self.parameter(
                "AssetsBucket",
                "${param:AssetsBucket}",
                description="The installer's artifacts bucket, which holds the Lambda packages",
            ).value_as_string
            self._assets_bucket = s3.Bucket.from_bucket_name(self, "Assets", name)
        return self._assets_bucket

    def code_asset(self, name: str) -> Asset:
        """The zip of `blueprints/functions/<name>/` (one per content, however often asked)."""
        return self.context.assets.add_tree(f"function-{name}", [(FUNCTIONS_DIR / name, "")])

    def function_code(self, name: str) -> lambda_.Code:
        """The package of `blueprints/functions/<name>/`, zipped by the build."""
        return lambda_.Code.from_bucket(self.assets_bucket, self.code_asset(name).key)

    def dependency_layer(self) -> lambda_.ILayerVersion:
        """The release's third-party dependencies (pg8000, Powertools ...), one layer per stack."""
        if self.context.layer is None:
            raise RuntimeError("this build has no dependency layer")
        return lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_bucket(self.assets_bucket, self.context.layer.key),
            compatible_runtimes=[runtime()],
            description="Third-party packages of the platform's functions",
        )

    # ---------------------------------------------------------------- nag
    def acknowledge(
        self,
        rule: str,
        reason: str,
        scope: Construct | None = None,
        findings: list[str] | None = None,
    ) -> None:
        """Accept a cdk-nag finding (e.g. `AwsSolutions-S1`) on `scope`, with the reason."""
        acknowledge(scope or self, rule, reason, findings)
        self.context.acknowledgements.setdefault(self.SPEC.name, []).append((rule, reason))


def acknowledge(scope: Construct, rule: str, reason: str, findings: list[str] | None = None) -> None:
    """Accept a cdk-nag finding on `scope` and everything under it; the reason is required.

    Granular rules (IAM4, IAM5) report one finding per wildcard: cdk-nag 3 wants each one
    acknowledged by name (`Resource::*`, `Action::s3:*` ...), so a new wildcard is never
    waved through by an old acknowledgement.
    """
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule} needs a real reason, got {reason!r}")
    ids = [f"AwsSolutions::{rule}[{finding}]" for finding in findings] if findings else [f"AwsSolutions::{rule}"]
    for finding_id in ids:
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding_id, reason=reason))


def arn_of(construct: Construct, attribute: str = "Arn") -> str:
    """How cdk-nag names a `Fn::GetAtt` of a construct in a finding: `<LogicalId.Arn>`."""
    resource = construct.node.default_child or construct
    return f"<{cdk.Stack.of(construct).get_logical_id(resource)}.{attribute}>"  # type: ignore[arg-type]


def runtime() -> lambda_.Runtime:
    return lambda_.Runtime(LAMBDA_RUNTIME, lambda_.RuntimeFamily.PYTHON)
