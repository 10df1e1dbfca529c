"""The release: its stages, actions and options, in one place.

`dataall-installer build` turns this into `manifest.json`; nothing else lists the stages.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from blueprints.common import BuildContext, StageStack
from blueprints.stages.monitoring import MonitoringStage
from blueprints.stages.params import ParamsStage
from blueprints.stages.s3 import S3Stage
from blueprints.stages.sqs import SqsStage
from blueprints.stages.vpc import VpcStage
from blueprints.toolkit import LOG_RETENTION_DAYS, SUBNET_IDS_PATTERN, VPC_ID_PATTERN

NAME = "dataall"
VERSION = "2.8.0"


def _boolean(default: bool, label: str, group: str, description: str) -> dict[str, Any]:
    return {
        "type": "boolean",
        "default": default,
        "label": label,
        "group": group,
        "description": description,
    }


def _text(pattern: str, label: str, group: str, description: str, default: str = "") -> dict[str, Any]:
    return {
        "type": "string",
        "default": default,
        "pattern": pattern,
        "label": label,
        "group": group,
        "description": description,
    }


#: Installer options: bootstrap-stack parameters that flow into stage conditions and parameters.
OPTIONS: dict[str, dict[str, Any]] = {
    "LogRetentionDays": {
        "type": "integer",
        "default": 30,
        "allowed": list(LOG_RETENTION_DAYS),
        "label": "Log retention (days)",
        "group": "Platform",
        "description": "How long the platform's CloudWatch log groups keep their events",
    },
    "ProdSizing": _boolean(
        False,
        "Production sizing",
        "Platform",
        "Highly available sizing: a NAT gateway per zone, a database reader, more capacity",
    ),
    "AlarmEmail": _text(
        r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "Alarm e-mail",
        "Platform",
        "E-mail address subscribed to the platform's alarms (empty: no subscription)",
    ),
    "ExistingVpcId": _text(
        f"^$|{VPC_ID_PATTERN}",
        "Existing VPC",
        "Network",
        "Install into this VPC instead of creating one (empty: create one). The VPC must "
        "reach AWS APIs from its private subnets (NAT or VPC endpoints)",
    ),
    "ExistingPrivateSubnetIds": _text(
        f"^$|{SUBNET_IDS_PATTERN}",
        "Existing private subnets",
        "Network",
        "With ExistingVpcId: two or more private subnets of that VPC, comma-separated",
    ),
    "VpcCidr": _text(
        r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|20)$",
        "VPC address range",
        "Network",
        "Address range of the VPC the installer creates (/16 to /20)",
        default="10.0.0.0/16",
    ),
}

#: Option combinations that cannot be installed, refused by the plan step with this message.
RULES: list[dict[str, Any]] = [
    {
        "when": {
            "all": [
                {"option": "ExistingVpcId", "not_equals": ""},
                {"option": "ExistingPrivateSubnetIds", "equals": ""},
            ]
        },
        "message": "ExistingVpcId needs ExistingPrivateSubnetIds: name two or more private "
        "subnets of that VPC",
    },
    {
        "when": {
            "all": [
                {"option": "ExistingVpcId", "equals": ""},
                {"option": "ExistingPrivateSubnetIds", "not_equals": ""},
            ]
        },
        "message": "ExistingPrivateSubnetIds is only used with ExistingVpcId: give the VPC too, "
        "or leave both empty to create a VPC",
    },
]

STAGES: list[type[StageStack]] = [VpcStage, SqsStage, S3Stage, ParamsStage, MonitoringStage]

ACTIONS: list[dict[str, Any]] = []


def synthesize(app: cdk.App, context: BuildContext) -> dict[str, StageStack]:
    """Add every stage's stack to `app`, in manifest order."""
    return {stage.SPEC.name: stage(app, context) for stage in STAGES}
