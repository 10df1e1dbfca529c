"""The release: its stages, actions and options, in one place.

`dataall-installer build` turns this into `manifest.json`; nothing else lists the stages.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from blueprints.common import BuildContext, StageStack
from blueprints.stages.albfront import AlbFrontStage
from blueprints.stages.aurora import AuroraStage
from blueprints.stages.canaries import CanariesStage
from blueprints.stages.cloudfront import CloudFrontStage
from blueprints.stages.cognito import CognitoStage
from blueprints.stages.container import DEFAULT_IMAGE, ContainerStage
from blueprints.stages.lambda_api import LambdaApiStage
from blueprints.stages.monitoring import MonitoringStage
from blueprints.stages.opensearch import OpenSearchStage
from blueprints.stages.params import ParamsStage
from blueprints.stages.pivot_role import PivotRoleStage
from blueprints.stages.rum import RumStage
from blueprints.stages.s3 import S3Stage
from blueprints.stages.secrets import SecretsStage
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
    "PivotRoleEnvironmentAccounts": _text(
        r"^$|^[0-9]{12}(,[0-9]{12})*$",
        "Pivot role environment accounts",
        "Pivot role",
        "AWS accounts (comma-separated ids) that get the pivot role through a self-managed StackSet "
        "(empty: the platform's account only)",
    ),
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
    "InternetFacing": _boolean(
        True,
        "Internet-facing",
        "Network",
        "Serve the platform from CloudFront with a public API; false: an internal load "
        "balancer and a private API, reachable only from networks routed into the VPC",
    ),
    "OpenSearchServerless": _boolean(
        False,
        "OpenSearch Serverless",
        "Platform",
        "Index the catalog in an OpenSearch Serverless collection instead of a domain",
    ),
    "OidcIssuerUrl": _text(
        r"^$|^https://\S+$",
        "OIDC issuer URL",
        "Identity",
        "Issuer URL of an external OpenID Connect provider to federate (empty: none)",
    ),
    "OidcClientId": _text(
        r"^$|^\S+$",
        "OIDC client id",
        "Identity",
        "With OidcIssuerUrl: the platform's client id at the provider",
    ),
    "OidcClientSecretArn": _text(
        r"^$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$",
        "OIDC client secret",
        "Identity",
        "With OidcIssuerUrl: the Secrets Manager secret whose value is the client secret",
    ),
    "CustomDomainName": _text(
        r"^$|^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        "Custom domain",
        "Domain",
        "Host name of the platform's page, e.g. dataall.example.com (empty: CloudFront's "
        "own name). Required when InternetFacing is false",
    ),
    "HostedZoneId": _text(
        r"^$|^Z[A-Z0-9]{1,31}$",
        "Hosted zone",
        "Domain",
        "With CustomDomainName: the Route 53 public or private hosted zone that holds it",
    ),
    "CertificateArn": _text(
        r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$",
        "Certificate",
        "Domain",
        "With CustomDomainName: its ACM certificate; in us-east-1 when InternetFacing "
        "(CloudFront's rule), in the platform's region otherwise",
    ),
    "EnableCanaries": _boolean(
        False,
        "Canaries",
        "Monitoring",
        "Check the API's health every 15 minutes with a CloudWatch Synthetics canary",
    ),
    "EnableRum": _boolean(
        False,
        "Real-user monitoring",
        "Monitoring",
        "Create a CloudWatch RUM app monitor for the platform's page",
    ),
    "ContainerImage": _text(
        r"^[a-z0-9][a-z0-9./_:@-]*$",
        "Scheduled-task image",
        "Platform",
        "Image of the nightly database-maintenance task; it must provide psql",
        default=DEFAULT_IMAGE,
    ),
}


def _together(options: tuple[str, ...], what: str) -> list[dict[str, Any]]:
    """Rules for options that are given all together or not at all, one per missing option."""
    return [
        {
            "when": {
                "all": [
                    {"any": [{"option": other, "not_equals": ""} for other in options if other != missing]},
                    {"option": missing, "equals": ""},
                ]
            },
            "message": f"{missing} is missing: {what} ({', '.join(options)} go together)",
        }
        for missing in options
    ]


#: Option combinations that cannot be installed, refused by the plan step with this message.
RULES: list[dict[str, Any]] = [
    {
        "when": {
            "all": [
                {"option": "ExistingVpcId", "not_equals": ""},
                {"option": "ExistingPrivateSubnetIds", "equals": ""},
            ]
        },
        "message": "ExistingVpcId needs ExistingPrivateSubnetIds: name two or more private subnets of that VPC",
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
    *_together(
        ("CustomDomainName", "HostedZoneId", "CertificateArn"),
        "a custom domain needs its hosted zone and certificate",
    ),
    *_together(
        ("OidcIssuerUrl", "OidcClientId", "OidcClientSecretArn"),
        "an external OpenID Connect provider needs its issuer, client id and client secret",
    ),
    {
        "when": {
            "all": [
                {"option": "InternetFacing", "equals": False},
                {"option": "CustomDomainName", "equals": ""},
            ]
        },
        "message": "InternetFacing=false serves the platform from an internal load balancer over "
        "HTTPS, which needs CustomDomainName, HostedZoneId and CertificateArn",
    },
]

STAGES: list[type[StageStack]] = [
    VpcStage,
    SqsStage,
    S3Stage,
    SecretsStage,
    CognitoStage,
    ParamsStage,
    MonitoringStage,
    AuroraStage,
    OpenSearchStage,
    LambdaApiStage,
    ContainerStage,
    CloudFrontStage,
    AlbFrontStage,
    CanariesStage,
    RumStage,
    PivotRoleStage,
]

#: Steps that are not stacks, in the same graph.
ACTIONS: list[dict[str, Any]] = [
    {
        "name": "migrate",
        "kind": "migrate",
        "depends_on": ["aurora"],
        "description": "Snapshot the metadata database, then migrate its schema to the release's head",
        "parameters": {
            "FunctionName": "${stage:aurora.MigrationFunctionName}",
            "ClusterIdentifier": "${stage:aurora.ClusterIdentifier}",
            "DatabaseSecretArn": "${stage:aurora.DatabaseSecretArn}",
            "LockTimeoutMs": "5000",
            "StatementTimeoutMs": "300000",
        },
        "timeout": 3600,
    }
]


def synthesize(app: cdk.App, context: BuildContext) -> dict[str, StageStack]:
    """Add every stage's stack to `app`, in manifest order."""
    return {stage.SPEC.name: stage(app, context) for stage in STAGES}
