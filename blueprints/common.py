"""What the product's CDK code shares: the build's context, cdk-nag acknowledgements, the
Lambda runtime. The bootstrap stack uses them; so does the synthetic release's stage base
(`tests/fixtures/synthetic/common.py`), the test fixture's re-creation of data.all's stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from blueprints.assets import LAMBDA_RUNTIME, Asset, AssetRegistry


@dataclass
class BuildContext:
    """Shared by every stack of one build."""

    assets: AssetRegistry
    layer: Asset | None = None
    nag: bool = True


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
