"""The bootstrap stack: what a quick-create link creates, and the CDK app (`cdk.json`).

It is small and self-contained: no CDK bootstrap (no BootstrapVersion parameter or
rule), Lambda code read from the regional release bucket, and parameters with defaults
and allowed patterns so the console form is safe to fill. Creating it starts an install;
updating it starts an upgrade or a redeploy (see `lambdas/handlers/trigger.py`).

    python app.py                 synthesizes it alone into cdk.out/
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from blueprints.assets import Asset
from blueprints.common import BuildContext, acknowledge, arn_of, runtime
from lambdas.data import ledger_table

ROOT = Path(__file__).resolve().parent
ASL = ROOT / "state_machine" / "installer.asl.json"
DEFAULT_RELEASE_BUCKET_PREFIX = "dataall-installer-releases"
#: The stage whose stack makes the web UI's site bucket (data.all's CloudFront stage).
SITE_STAGE = "cloudfront"


class Can(StrEnum):
    """What an installer function may do besides writing its logs and traces: each names IAM
    statements (and the cdk-nag acknowledgements of their wildcards), see `BootstrapStack._grant`."""

    #: what every step of a run uses: the ledger, the artifacts bucket, the installation's stacks
    #: and change sets, and the CloudFormation service role to hand them
    RUN_STEPS = "run steps"
    #: read the regional release bucket (the plan copies and verifies the release)
    READ_RELEASE = "read release"
    #: read the status of any run of this installation (the plan takes over a stale lock)
    CHECK_LOCK_HOLDER = "check lock holder"
    #: hand back a parked step's task token (a finished step, a settled stack)
    RESUME_STEPS = "resume steps"
    #: invoke the aurora stage's migration function and snapshot its cluster
    MIGRATE_DATABASE = "migrate database"
    #: write data.all's web UI to the site bucket and invalidate its distribution (and put it back)
    PUBLISH_SITE = "publish site"
    #: copy the release's images from the publisher's registry into the installation's repositories
    COPY_IMAGES = "copy images"
    #: publish to the installer's topic
    NOTIFY = "notify"
    #: start runs of the state machine, whose ARN it reads from STATE_MACHINE_ARN
    START_RUNS = "start runs"
    #: follow the runs it started
    FOLLOW_RUNS = "follow runs"
    #: invoke itself again, to keep waiting past its own timeout
    KEEP_WAITING = "keep waiting"
    #: read the stages the ledger records (which ones an uninstall keeps)
    READ_STAGES = "read stages"
    #: ask whether the resources a new stage names exist already (kept by an earlier uninstall)
    FIND_NAMES_TAKEN = "find names taken"
    #: manage the pivot role, its policies, external id and StackSet; CloudFormation may invoke it
    MANAGE_PIVOT_ROLE = "manage pivot role"
    #: read the SSM parameters a release adopts its per-installation values from (data.all's external id)
    ADOPT_VALUES = "adopt values"
    #: look up the region's AWS-managed prefix lists (S3's, for data.all's ECS task security groups)
    FIND_PREFIX_LISTS = "find prefix lists"
    #: read the Route 53 hosted zone an option names (data.all's custom domain)
    FIND_HOSTED_ZONES = "find hosted zones"
    #: read the ACM certificate an option names (data.all's custom domain's own certificate)
    FIND_CERTIFICATES = "find certificates"
    #: read the VPC an option names, its subnets and route tables (data.all's existing VPC)
    FIND_VPCS = "find vpcs"
    #: read the release's web UI bundle and add it in a layer to the release's frontend image in the
    #: installation's registry (data.all's private web UI); CloudFormation may invoke it
    MAKE_FRONTEND_IMAGE = "make frontend image"


@dataclass(frozen=True)
class FunctionSpec:
    """One of the installer's Lambda functions."""

    construct_id: str
    #: its handler is `lambdas/handlers/<module>.py`
    module: str
    timeout: int
    memory: int
    can: tuple[Can, ...]
    #: a task of the workflow: the ASL names it `${<construct_id>FunctionArn}` and the state machine invokes it
    task: bool = True
    #: its name after the installation's prefix, for those invoked by name (otherwise CloudFormation names it)
    name: str | None = None

    @property
    def substitution(self) -> str:
        return f"{self.construct_id}FunctionArn"


#: The installer's functions: a new workflow step is one row here, its handler module and its ASL state.
FUNCTIONS = (
    FunctionSpec(
        "Plan",
        "plan",
        300,
        1024,
        (
            Can.RUN_STEPS,
            Can.READ_RELEASE,
            Can.CHECK_LOCK_HOLDER,
            Can.FIND_NAMES_TAKEN,
            Can.ADOPT_VALUES,
            Can.FIND_PREFIX_LISTS,
            Can.FIND_HOSTED_ZONES,
            Can.FIND_CERTIFICATES,
            Can.FIND_VPCS,
        ),
    ),
    FunctionSpec("DeployStage", "deploy_stage", 120, 512, (Can.RUN_STEPS, Can.RESUME_STEPS)),
    FunctionSpec("StageStatus", "stage_status", 120, 512, (Can.RUN_STEPS, Can.RESUME_STEPS)),
    FunctionSpec("Rollback", "rollback", 900, 512, (Can.RUN_STEPS, Can.MIGRATE_DATABASE, Can.PUBLISH_SITE)),
    FunctionSpec("Finalize", "finalize", 120, 512, (Can.RUN_STEPS, Can.NOTIFY)),
    FunctionSpec("Migrate", "migrate", 900, 256, (Can.RUN_STEPS, Can.RESUME_STEPS, Can.MIGRATE_DATABASE)),
    FunctionSpec("PublishSite", "publish_site", 300, 512, (Can.RUN_STEPS, Can.RESUME_STEPS, Can.PUBLISH_SITE)),
    FunctionSpec("CopyImages", "copy_images", 900, 1024, (Can.RUN_STEPS, Can.RESUME_STEPS, Can.COPY_IMAGES)),
    FunctionSpec("WaitTurn", "wait_turn", 60, 256, (Can.RUN_STEPS, Can.RESUME_STEPS)),
    FunctionSpec("AwaitStack", "await_stack", 60, 256, (Can.RUN_STEPS, Can.RESUME_STEPS)),
    FunctionSpec("CheckDrift", "check_drift", 120, 256, (Can.RUN_STEPS,)),
    # RequireApproval: keeps the run's task token and asks a person (the ASL's AwaitApproval).
    FunctionSpec("RequestApproval", "request_approval", 60, 256, (Can.RUN_STEPS, Can.NOTIFY)),
    # EventBridge calls it when a stage stack's status changes (`_stack_events`).
    FunctionSpec("StackChanged", "stack_changed", 60, 256, (Can.RUN_STEPS, Can.RESUME_STEPS), task=False),
    # The bootstrap stack's custom resource and the redeploy schedule start runs through it (`_trigger`).
    FunctionSpec(
        "Trigger", "trigger", 900, 256,
        (Can.START_RUNS, Can.FOLLOW_RUNS, Can.KEEP_WAITING, Can.NOTIFY, Can.READ_STAGES),
        task=False, name="installer-trigger",
    ),
    # The pivot-role stage's custom resources (their ServiceToken).
    FunctionSpec(
        "PivotRoleProvider", "pivot_role", 900, 256, (Can.MANAGE_PIVOT_ROLE,), task=False, name="installer-pivot-role"
    ),
    # The albfront stage's custom resource (its ServiceToken): data.all's frontend image with the installation's web UI.
    FunctionSpec(
        "FrontendImageProvider", "frontend_image", 300, 512, (Can.MAKE_FRONTEND_IMAGE,), task=False,
        name="installer-frontend-image",
    ),
)  # fmt: skip
SPECS = {spec.module: spec for spec in FUNCTIONS}

#: What the CloudFormation service role's managed policies may hold each (IAM's limit is 6,144
#: characters without whitespace; the rest is left for the statement's region condition).
POLICY_ACTION_CHARACTERS = 5000
#: IAM's default quota of managed policies attached to one role.
MAX_MANAGED_POLICIES = 10


@dataclass(frozen=True)
class StageGrants:
    """What the CloudFormation service role may do for the release's stages: the handler permissions
    of every resource type its templates hold (`installer.grants`), by how IAM can scope them."""

    #: on any resource of the stages' regions
    regional: tuple[str, ...] = ()
    #: of the global services (CloudFront ...), whose requests name us-east-1 whatever the stack's region
    global_actions: tuple[str, ...] = ()
    #: IAM, on the installation's roles, policies and instance profiles and on `iam_names`
    iam: tuple[str, ...] = ()
    #: the IAM names the templates give themselves (`role/<name>`, `policy/<name>`, `instance-profile/<name>`)
    iam_names: tuple[str, ...] = ()
    #: IAM, on the service-linked roles (`role/aws-service-role/*`)
    service_linked_roles: tuple[str, ...] = ()
    #: IAM's actions that take no resource (ListRoles ...), on `*`
    unscoped_iam: tuple[str, ...] = ()

    def chunks(self, size: int = POLICY_ACTION_CHARACTERS) -> list[tuple[str, ...]]:
        """`regional` in consecutive pieces of at most `size` characters (quotes and comma counted)."""
        pieces: list[list[str]] = []
        used = size
        for action in self.regional:
            if used + len(action) + 3 > size:
                pieces.append([])
                used = 0
            pieces[-1].append(action)
            used += len(action) + 3
        return [tuple(piece) for piece in pieces]


def installation_name(name: str) -> str:
    """A name the release gives as a template over the installation's names (`${ResourcePrefix}`, `${EnvName}`:
    `blueprints.dataall.rules.name_template`), as this stack's own parameters of those names make it."""
    return cdk.Fn.sub(name) if "${" in name else name


@dataclass(frozen=True)
class DatabaseNames:
    """What the migrate step calls and snapshots, when the release names them."""

    migration_function: str
    cluster: str


@dataclass(frozen=True)
class ImageGrants:
    """The images a release copies (`lambdas.images`): the publisher's registry and region, the
    repositories, and the regions of the stages that run them."""

    registry: str
    region: str
    repositories: tuple[str, ...]
    regions: tuple[str, ...]


class BootstrapStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: BuildContext,
        version: str,
        installer_code: Asset,
        options: dict[str, dict[str, Any]],
        database_names: DatabaseNames | None = None,
        stage_regions: tuple[str, ...] = (),
        adopted_parameters: tuple[str, ...] = (),
        images: ImageGrants | None = None,
        stage_grants: StageGrants | None = None,
        frontend_image: bool = False,
        **kwargs: Any,
    ) -> None:
        """`database_names`: the migration function and the cluster a release names itself (data.all's
        templates name theirs at synthesis); by default the installation's own, `<prefix>-<env>-…`.
        `stage_regions`: the regions, besides the stack's own, where the release puts stages
        (data.all's CloudFront stage: us-east-1); the workflow deploys there too, with the
        installation's bucket in each (`<prefix>-<env>-<account>-<region>`) for what they read.
        `images`: what the release's `images` action copies (none: the step may touch no registry).
        `stage_grants`: what the CloudFormation service role may do for the release's stages
        (`installer.grants`, from its templates); none: nothing but reading the release's templates
        and code, a stack that deploys no release (the CDK app's, `app.py`).
        `frontend_image`: a stage of the release holds `Custom::DataallFrontendImage` (data.all's private web
        UI), so CloudFormation may invoke its provider."""
        self.images = images
        self.frontend_image = frontend_image
        self.stage_grants = stage_grants or StageGrants()
        self.database_names = database_names
        #: the SSM parameters the release adopts per-installation values from (`Manifest.values`)
        self.adopted_parameters = tuple(sorted(set(adopted_parameters)))
        self.stage_regions = tuple(sorted(set(stage_regions)))
        super().__init__(
            scope,
            construct_id,
            stack_name="dataall-installer",
            description=f"dataall-installer {version}: the installer of the data.all platform",
            synthesizer=cdk.BootstraplessSynthesizer(),
            analytics_reporting=False,
            **kwargs,
        )
        self.version = version
        if context.nag:
            cdk.Validations.of(self).add_plugins(AwsSolutionsChecks(verbose=True))
        cdk.Validations.of(self).acknowledge(
            cdk.Acknowledgment(
                id="CloudFormation-Validate::W2509",
                reason="The options named after secrets (OidcClientSecretArn) carry the ARN of a secret, not "
                "a secret value; NoEcho would only hide the installation's wiring from its operator.",
            )
        )
        self._parameters(options)
        self.scope_prefix = cdk.Fn.join("-", [self.prefix.value_as_string, self.env_name.value_as_string])

        self.release_bucket = s3.Bucket.from_bucket_name(
            self, "ReleaseBucket", cdk.Fn.sub("${ReleaseBucketPrefix}-${AWS::Region}")
        )
        self._storage()
        self._notifications()
        self.service_role = self._cloudformation_service_role()
        layer = self._layer(context)
        self.pivot_role_arn = self._function_arn(SPECS["pivot_role"])
        self.frontend_image_arn = self._function_arn(SPECS["frontend_image"])
        self.functions = {spec.module: self._function(spec, installer_code, layer) for spec in FUNCTIONS}
        self.pivot_role_provider = self.functions["pivot_role"]
        self.trigger_function = self.functions["trigger"]
        # Only Plan reads them: whether a run waits for approval, and how long.
        self.functions["plan"].add_environment("REQUIRE_APPROVAL", self.require_approval.value_as_string)
        self.functions["plan"].add_environment("APPROVAL_TIMEOUT_SECONDS", self.approval_timeout.value_as_string)
        self._stack_events()
        self.state_machine = self._state_machine()
        for spec in FUNCTIONS:
            self._grant(spec)
        self._trigger()
        self._schedule()
        self._alarm()
        self._outputs()

    # ------------------------------------------------------------------ parameters
    def _parameters(self, options: dict[str, dict[str, Any]]) -> None:
        self.prefix = cdk.CfnParameter(
            self,
            "ResourcePrefix",
            default="dataall",
            allowed_pattern="^[a-z][a-z0-9-]{1,19}$",
            description="Prefix of every name the installer and data.all create, data.all's resource_prefix "
            "(lower case, 2-20 characters; Plan refuses one that makes a name of data.all's too long for AWS)",
            constraint_description="lower-case letters, digits and hyphens, starting with a letter, 2-20 characters",
        )
        self.env_name = cdk.CfnParameter(
            self,
            "EnvName",
            default="prod",
            allowed_pattern="^[a-z][a-z0-9]{0,9}$",
            description="Environment name: dev, test, prod ... data.all's envname (part of every stack and "
            "resource name, its SSM parameters /dataall/<env>/..., its database schema); chosen at install",
            constraint_description="lower-case letters and digits, starting with a letter, 1-10 characters",
        )
        self.release_version = cdk.CfnParameter(
            self,
            "ReleaseVersion",
            default=self.version,
            allowed_pattern=r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$",
            description="Release of the platform to install; change it to upgrade",
            constraint_description="a version like 2.8.0",
        )
        self.release_bucket_prefix = cdk.CfnParameter(
            self,
            "ReleaseBucketPrefix",
            default=DEFAULT_RELEASE_BUCKET_PREFIX,
            allowed_pattern="^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$",
            description="Releases are read from the bucket <prefix>-<region>",
            constraint_description="an S3 bucket name prefix",
        )
        self.admin_email = cdk.CfnParameter(
            self,
            "AdminEmail",
            default="",
            allowed_pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            description="E-mail address that receives one message per run (optional)",
            constraint_description="an e-mail address, or empty",
        )
        self.on_delete = cdk.CfnParameter(
            self,
            "OnDelete",
            default="Retain",
            allowed_values=["Retain", "Destroy"],
            description="When this stack is deleted: Retain keeps the platform's stacks, Destroy removes them",
        )
        self.adopt_ledger = cdk.CfnParameter(
            self,
            "AdoptLedger",
            default="false",
            allowed_values=["true", "false"],
            description="true: a ledger an earlier installation kept (<prefix>-<env>-installer-ledger) is used as it "
            "is, with its history; false: the ledger is created (dataall-installer deploy chooses for you)",
        )
        self.require_approval = cdk.CfnParameter(
            self,
            "RequireApproval",
            default="false",
            allowed_values=["true", "false"],
            description="true: every run that would change something waits after its plan for a person to approve "
            "or reject it (dataall-installer approve|reject RUN); the notification carries the preview",
        )
        self.approval_timeout = cdk.CfnParameter(
            self,
            "ApprovalTimeoutSeconds",
            type="Number",
            default="86400",
            # A list, so that the console offers the choices (1 minute to 7 days).
            allowed_values=["60", "900", "3600", "14400", "43200", "86400", "259200", "604800"],
            description="With RequireApproval: how long a run waits for an answer, in seconds (86400: a day); no "
            "answer ends it with nothing changed",
        )
        self.options: dict[str, cdk.CfnParameter] = {}
        groups: dict[str, list[str]] = {}
        labels: dict[str, dict[str, str]] = {}
        for name, spec in options.items():
            kwargs: dict[str, Any] = {"description": spec.get("description", name)}
            if spec["type"] == "boolean":
                kwargs.update(
                    type="String", default="true" if spec["default"] else "false", allowed_values=["true", "false"]
                )
            elif spec["type"] == "integer":
                kwargs.update(type="Number", default=str(spec["default"]))
                if "allowed" in spec:
                    kwargs["allowed_values"] = [str(v) for v in spec["allowed"]]
                if "minimum" in spec:
                    kwargs["min_value"] = spec["minimum"]
                if "maximum" in spec:
                    kwargs["max_value"] = spec["maximum"]
            else:
                kwargs.update(type="String", default=spec["default"])
                if "pattern" in spec:
                    kwargs["allowed_pattern"] = spec["pattern"]
                if "allowed" in spec:
                    kwargs["allowed_values"] = list(spec["allowed"])
            self.options[name] = cdk.CfnParameter(self, name, **kwargs)
            groups.setdefault(spec.get("group", "Platform options"), []).append(name)
            labels[name] = {"default": spec.get("label", name)}
        for name, label in (
            ("ResourcePrefix", "Resource prefix"),
            ("EnvName", "Environment name"),
            ("ReleaseVersion", "Release version"),
            ("ReleaseBucketPrefix", "Release bucket prefix"),
            ("AdminEmail", "Administrator e-mail"),
            ("OnDelete", "When this stack is deleted"),
            ("AdoptLedger", "Adopt a kept ledger"),
            ("RedeploySchedule", "Redeploy schedule"),
            ("RedeployTimezone", "Schedule time zone"),
            ("RequireApproval", "Require approval"),
            ("ApprovalTimeoutSeconds", "Approval timeout (seconds)"),
        ):
            labels[name] = {"default": label}
        self.template_options.metadata = {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": "Installation"},
                        "Parameters": [
                            "ResourcePrefix",
                            "EnvName",
                            "ReleaseVersion",
                            "AdminEmail",
                            "OnDelete",
                            "AdoptLedger",
                        ],
                    },
                    *[{"Label": {"default": group}, "Parameters": names} for group, names in groups.items()],
                    {
                        "Label": {"default": "Scheduled redeploys"},
                        "Parameters": ["RedeploySchedule", "RedeployTimezone"],
                    },
                    {"Label": {"default": "Approval"}, "Parameters": ["RequireApproval", "ApprovalTimeoutSeconds"]},
                    {"Label": {"default": "Release source"}, "Parameters": ["ReleaseBucketPrefix"]},
                ],
                "ParameterLabels": labels,
            }
        }

    # ------------------------------------------------------------------ storage
    def _storage(self) -> None:
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
            # Kept on delete (RetainExceptOnCreate); a failed create of the stack removes it, new and empty.
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket receives the artifacts bucket's server access logs; logging it too would loop.",
        )
        self.artifacts = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        # The ledger's name is fixed, so that a later installation finds it: an uninstall keeps it
        # (history, what each stage runs, the retained stages), and a re-install adopts it
        # (AdoptLedger=true) instead of failing on "already exists". Everything refers to it by that
        # name, never through the resource, which an adopting stack does not create.
        ledger_name = cdk.Fn.join("-", [self.scope_prefix, "installer-ledger"])
        table = dynamodb.Table(
            self,
            "Ledger",
            table_name=ledger_name,
            partition_key=dynamodb.Attribute(name=ledger_table.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=ledger_table.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ledger_table.TTL_ATTRIBUTE,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        creates_ledger = cdk.CfnCondition(
            self,
            "CreatesLedger",
            expression=cdk.Fn.condition_equals(self.adopt_ledger.value_as_string, "false"),
        )
        table.node.default_child.cfn_options.condition = creates_ledger  # type: ignore[union-attr]
        self.ledger_name = ledger_name
        self.ledger = dynamodb.Table.from_table_arn(
            self,
            "LedgerByName",
            self.format_arn(service="dynamodb", resource="table", resource_name=ledger_name),
        )

    def _notifications(self) -> None:
        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name="dataall-installer",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        has_email = cdk.CfnCondition(
            self,
            "HasAdminEmail",
            expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(self.admin_email.value_as_string, "")),
        )
        subscription = sns.CfnSubscription(
            self,
            "AdminSubscription",
            topic_arn=self.topic.topic_arn,
            protocol="email",
            endpoint=self.admin_email.value_as_string,
        )
        subscription.cfn_options.condition = has_email

    # ------------------------------------------------------------------ roles
    def _cloudformation_service_role(self) -> iam.Role:
        """The role CloudFormation uses for the stage stacks: the handler permissions of the release's
        resource types (`StageGrants`), in the stages' regions; IAM only on the installation's names
        (its prefix, and those the templates give), the service-linked roles and IAM's lists."""
        grants = self.stage_grants
        role = iam.Role(
            self,
            "CloudFormationServiceRole",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="Used by CloudFormation to create the platform's stage stacks",
        )
        regions = {"StringEquals": {"aws:RequestedRegion": [self.region, *self.stage_regions]}}
        chunks = grants.chunks()
        self.stage_policies: list[iam.ManagedPolicy] = []
        if len(chunks) > MAX_MANAGED_POLICIES:
            raise ValueError(
                f"the release's stage grants need {len(chunks)} managed policies, more than IAM's "
                f"{MAX_MANAGED_POLICIES} per role"
            )
        for number, actions in enumerate(chunks, start=1):
            policy = iam.ManagedPolicy(
                self,
                f"StageGrants{number}",
                description=f"dataall-installer: the stage stacks' resource handlers, part {number} of {len(chunks)}",
                statements=[
                    iam.PolicyStatement(
                        sid="StageResourceHandlers", actions=list(actions), resources=["*"], conditions=regions
                    )
                ],
                roles=[role],
            )
            self.stage_policies.append(policy)
            acknowledge(
                policy,
                "AwsSolutions-IAM5",
                "The handler permissions of the release's resource types (the CloudFormation registry's), "
                "each action by name, limited to the stages' regions: most create actions (EC2, RDS ...) take "
                "no name to scope by before the resource exists.",
                findings=["Resource::*"],
            )
        if grants.global_actions:
            role.add_to_policy(
                iam.PolicyStatement(sid="GlobalServices", actions=list(grants.global_actions), resources=["*"])
            )
        scoped = f"{self.scope_prefix}-*"
        iam_resources = [
            self.format_arn(service="iam", region="", resource=kind, resource_name=scoped)
            for kind in ("role", "policy", "instance-profile")
        ]
        if grants.iam:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="StageIamUnderPrefix",
                    actions=list(grants.iam),
                    resources=[
                        *iam_resources,
                        *[
                            self.format_arn(
                                service="iam", region="", resource=kind, resource_name=installation_name(name)
                            )
                            for kind, _, name in (entry.partition("/") for entry in grants.iam_names)
                        ],
                    ],
                )
            )
        if grants.service_linked_roles:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ServiceLinkedRoles",
                    actions=list(grants.service_linked_roles),
                    resources=[
                        self.format_arn(service="iam", region="", resource="role", resource_name="aws-service-role/*")
                    ],
                )
            )
        if grants.unscoped_iam:
            role.add_to_policy(iam.PolicyStatement(sid="IamLists", actions=list(grants.unscoped_iam), resources=["*"]))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReleaseTemplatesAndCode",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.artifacts.arn_for_objects("*"), *[f"{b}/*" for b in self._regional_buckets()]],
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "CloudFormation creates the platform's resources with this role: the handler permissions of the "
            "release's resource types by name; the global services' and IAM's lists take no resource; IAM is "
            "limited to names under the installation's prefix (and those the templates give), and to "
            "service-linked roles; S3 reads to the release's objects.",
            findings=[
                *(["Resource::*"] if grants.global_actions or grants.unscoped_iam else []),
                *(
                    [
                        f"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/<ResourcePrefix>-<EnvName>-*"
                        for kind in ("role", "policy", "instance-profile")
                    ]
                    if grants.iam
                    else []
                ),
                *(
                    ["Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/aws-service-role/*"]
                    if grants.service_linked_roles
                    else []
                ),
                f"Resource::{arn_of(self.artifacts)}/*",
                *[f"Resource::{finding}/*" for finding in self._regional_bucket_findings()],
            ],
        )
        return role

    def _regional_buckets(self) -> list[str]:
        """The ARN of the installation's bucket in each other region of the release's stages."""
        return [
            cdk.Fn.join(
                "", ["arn:", cdk.Aws.PARTITION, ":s3:::", self.scope_prefix, "-", cdk.Aws.ACCOUNT_ID, "-", region]
            )
            for region in self.stage_regions
        ]

    def _regional_bucket_findings(self) -> list[str]:
        return [
            f"arn:<AWS::Partition>:s3:::<ResourcePrefix>-<EnvName>-<AWS::AccountId>-{region}"
            for region in self.stage_regions
        ]

    def _layer(self, context: BuildContext) -> lambda_.ILayerVersion | None:
        if context.layer is None:
            return None
        return lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_bucket(self.release_bucket, context.layer.key),
            compatible_runtimes=[runtime()],
            description="Third-party packages of the installer's functions",
        )

    def _function_name(self, spec: FunctionSpec) -> str | None:
        return cdk.Fn.join("-", [self.scope_prefix, spec.name]) if spec.name else None

    def _function_arn(self, spec: FunctionSpec) -> str:
        """The ARN of a function invoked by name, known before the function (no reference to it)."""
        return self.format_arn(
            service="lambda", resource="function", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            resource_name=self._function_name(spec),
        )  # fmt: skip

    def _function(self, spec: FunctionSpec, code: Asset, layer: lambda_.ILayerVersion | None) -> lambda_.Function:
        construct_id, module = spec.construct_id, spec.module
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"dataall-installer {module} step",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            self,
            construct_id,
            runtime=runtime(),
            handler=f"lambdas.handlers.{module}.handler",
            code=lambda_.Code.from_bucket(self.release_bucket, code.key),
            layers=[layer] if layer else [],
            timeout=cdk.Duration.seconds(spec.timeout),
            memory_size=spec.memory,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            description=f"dataall-installer: {module.replace('_', ' ')} step",
            function_name=self._function_name(spec),
            environment={
                "POWERTOOLS_SERVICE_NAME": "dataall-installer",
                "POWERTOOLS_METRICS_NAMESPACE": "DataallInstaller",
                "LEDGER_TABLE": self.ledger_name,
                "ARTIFACTS_BUCKET": self.artifacts.bucket_name,
                "RELEASE_BUCKET": self.release_bucket.bucket_name,
                "RESOURCE_PREFIX": self.prefix.value_as_string,
                "ENV_NAME": self.env_name.value_as_string,
                "CLOUDFORMATION_ROLE_ARN": self.service_role.role_arn,
                "TOPIC_ARN": self.topic.topic_arn,
                "PIVOT_ROLE_PROVIDER_ARN": self.pivot_role_arn,
                "FRONTEND_IMAGE_PROVIDER_ARN": self.frontend_image_arn,
            },
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "X-Ray accepts trace segments only on Resource '*' (it has no resource-level permissions).",
            findings=["Resource::*"],
        )
        return function

    # ------------------------------------------------------------------ grants
    def _grant(self, spec: FunctionSpec) -> None:
        """Each of the function's capabilities (`Can`), in the table's order."""
        function = self.functions[spec.module]
        grants = {
            Can.RUN_STEPS: self._can_run_steps,
            Can.READ_RELEASE: self._can_read_release,
            Can.FIND_NAMES_TAKEN: self._can_find_names_taken,
            Can.CHECK_LOCK_HOLDER: self._can_check_lock_holder,
            Can.RESUME_STEPS: self._can_resume_steps,
            Can.MIGRATE_DATABASE: self._can_migrate_database,
            Can.PUBLISH_SITE: self._can_publish_site,
            Can.COPY_IMAGES: self._can_copy_images,
            Can.NOTIFY: self._can_notify,
            Can.START_RUNS: self._can_start_runs,
            Can.FOLLOW_RUNS: self._can_follow_runs,
            Can.KEEP_WAITING: self._can_keep_waiting,
            Can.READ_STAGES: self._can_read_stages,
            Can.MANAGE_PIVOT_ROLE: self._can_manage_pivot_role,
            Can.ADOPT_VALUES: self._can_adopt_values,
            Can.FIND_PREFIX_LISTS: self._can_find_prefix_lists,
            Can.FIND_HOSTED_ZONES: self._can_find_hosted_zones,
            Can.FIND_CERTIFICATES: self._can_find_certificates,
            Can.FIND_VPCS: self._can_find_vpcs,
            Can.MAKE_FRONTEND_IMAGE: self._can_make_frontend_image,
        }
        for capability in spec.can:
            grants[capability](function, spec)

    def _allow(self, function: lambda_.Function, sid: str, actions: list[str], resources: list[str]) -> None:
        function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))

    def _can_run_steps(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        stacks = self.format_arn(service="cloudformation", resource="stack", resource_name=f"{self.scope_prefix}-*/*")
        change_sets = self.format_arn(
            service="cloudformation", resource="changeSet", resource_name=f"{self.scope_prefix}-*/*"
        )
        self._allow(
            function,
            "Ledger",
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:ConditionCheckItem",
            ],
            [self.ledger.table_arn],
        )
        self._allow(function, "Artifacts", ["s3:GetObject", "s3:PutObject"], [self.artifacts.arn_for_objects("*")])
        self._allow(function, "ArtifactsList", ["s3:ListBucket"], [self.artifacts.bucket_arn])
        self._allow(function, "StageStacks", self._stage_stack_actions(), [stacks, change_sets])
        self._allow(function, "PassServiceRole", ["iam:PassRole"], [self.service_role.role_arn])
        self._can_run_steps_elsewhere(function)

    @staticmethod
    def _stage_stack_actions() -> list[str]:
        return [
            "cloudformation:CreateChangeSet",
            "cloudformation:DescribeChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DeleteChangeSet",
            "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents",
            "cloudformation:GetTemplate",
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "cloudformation:CancelUpdateStack",
            "cloudformation:ContinueUpdateRollback",
            "cloudformation:UpdateTerminationProtection",
            "cloudformation:DescribeStackResources",
            "cloudformation:DetectStackDrift",
            "cloudformation:DescribeStackDriftDetectionStatus",
            "cloudformation:DescribeStackResourceDrifts",
        ]

    def _can_run_steps_elsewhere(self, function: lambda_.Function) -> None:
        """The stage stacks, and the installation's bucket, in the release's other regions."""
        regional_findings: list[str] = []
        if self.stage_regions:
            buckets = self._regional_buckets()
            self._allow(
                function,
                "StageStacksElsewhere",
                self._stage_stack_actions(),
                [
                    self.format_arn(
                        service="cloudformation", region=region, resource=kind, resource_name=f"{self.scope_prefix}-*/*"
                    )
                    for region in self.stage_regions
                    for kind in ("stack", "changeSet")
                ],
            )
            self._allow(
                function,
                "RegionalBuckets",
                ["s3:CreateBucket", "s3:ListBucket", "s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy"],
                buckets,
            )
            self._allow(function, "RegionalObjects", ["s3:GetObject", "s3:PutObject"], [f"{b}/*" for b in buckets])
            regional_findings = [
                *[f"Resource::{finding}/*" for finding in self._regional_bucket_findings()],
                *[
                    f"Resource::arn:<AWS::Partition>:cloudformation:{region}:<AWS::AccountId>:{kind}/<ResourcePrefix>-<EnvName>-*/*"
                    for region in self.stage_regions
                    for kind in ("stack", "changeSet")
                ],
            ]
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "Object keys of the installer's own artifacts bucket (and of its bucket in each other region "
            "of the release's stages), and the stacks and change sets named under the installation's "
            "prefix: the names are only known at run time, the prefix bounds them.",
            findings=[
                f"Resource::{arn_of(self.artifacts)}/*",
                "Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/<ResourcePrefix>-<EnvName>-*/*",
                "Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:changeSet/<ResourcePrefix>-<EnvName>-*/*",
                *regional_findings,
            ],
        )

    def _can_read_release(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        release_objects = cdk.Fn.sub("arn:${AWS::Partition}:s3:::${ReleaseBucketPrefix}-${AWS::Region}/*")
        self._allow(function, "ReleaseBucket", ["s3:GetObject"], [release_objects])
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The release bucket's objects: the release's files are only known at run time.",
            findings=["Resource::arn:<AWS::Partition>:s3:::<ReleaseBucketPrefix>-<AWS::Region>/*"],
        )

    def _executions(self) -> str:
        """Any execution of this installation's state machine."""
        return self.format_arn(
            service="states", resource="execution", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            resource_name=cdk.Fn.join("", [self.scope_prefix, "-installer:*"]),
        )  # fmt: skip

    def _can_check_lock_holder(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        self._allow(function, "LockHolderStatus", ["states:DescribeExecution"], [self._executions()])
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The plan step reads the status of the run that holds the lock: any execution of this "
            "installation's state machine.",
            findings=[
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<ResourcePrefix>-<EnvName>-installer:*"
            ],
        )

    def _can_resume_steps(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        # A finished step releases the steps parked on it, a settled stack the step waiting on it
        # (task tokens: no resource scope).
        self._allow(function, "ReleaseSteps", ["states:SendTaskSuccess"], ["*"])

    def _can_notify(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        self._allow(function, "Notify", ["sns:Publish"], [self.topic.topic_arn])

    def _can_start_runs(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        function.add_environment("STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        self._allow(function, "StartRuns", ["states:StartExecution"], [self.state_machine.state_machine_arn])

    def _can_follow_runs(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        self._allow(function, "FollowRuns", ["states:DescribeExecution"], [self._executions()])
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The trigger follows the runs it starts: any execution of this installation's state machine.",
            findings=[
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                "<ResourcePrefix>-<EnvName>-installer:*"
            ],
        )

    def _can_keep_waiting(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        # By name: the function's own ARN attribute would make its policy depend on it, a cycle.
        self._allow(function, "KeepWaiting", ["lambda:InvokeFunction"], [self._function_arn(spec)])

    def _can_find_names_taken(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Plan asks, before a stage is created, whether what its template names exists already
        (`lambdas/run/collisions.py`): read-only lookups by name, in the stages' regions. Besides what an
        uninstall keeps, what another installation holds: KMS aliases and CloudFormation exports (listed),
        SSM parameters (their metadata, never their values: DescribeParameters), IAM roles."""
        self._allow(
            function,
            "NamesTaken",
            [
                "s3:ListBucket",
                "logs:DescribeLogGroups",
                "secretsmanager:DescribeSecret",
                "dynamodb:DescribeTable",
                "rds:DescribeDBClusters",
                "es:DescribeDomain",
                "kms:ListAliases",
                "ssm:DescribeParameters",
                "iam:GetRole",
                # whether the account has a service-linked role a stage makes (`lambdas/run/service_linked_roles.py`)
                "iam:ListRoles",
                "cloudformation:ListExports",
            ],
            ["*"],
        )
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "Plan looks up, read-only, whether a name a new stage's template gives is already taken; the "
            "names come from the release (data.all names its own), so they cannot be scoped in advance; "
            "KMS's ListAliases, SSM's DescribeParameters and CloudFormation's ListExports take no resource.",
            findings=["Resource::*"],
        )

    def _can_adopt_values(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        if self.adopted_parameters:
            self._allow(
                function,
                "AdoptedValues",
                ["ssm:GetParameter"],
                [
                    self.format_arn(
                        service="ssm", resource="parameter", resource_name=installation_name(name.lstrip("/"))
                    )
                    for name in self.adopted_parameters
                ],
            )

    def _can_find_hosted_zones(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Plan checks the hosted zone of data.all's custom domain with GetHostedZone
        (`lambdas/run/hosted_zones.py`): any zone of the account, since the operator names it at deploy time."""
        zones = self.format_arn(service="route53", region="", account="", resource="hostedzone", resource_name="*")
        self._allow_read_of_what_an_option_names(
            function,
            "HostedZones",
            "route53:GetHostedZone",
            zones,
            "Resource::arn:<AWS::Partition>:route53:::hostedzone/*",
        )

    def _can_find_certificates(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Plan checks the ACM certificate of data.all's custom domain with DescribeCertificate
        (`lambdas/run/certificates.py`): any certificate of the account in us-east-1, where CloudFront takes
        its certificates from, since the operator names it at deploy time."""
        certificates = self.format_arn(service="acm", region="us-east-1", resource="certificate", resource_name="*")
        self._allow_read_of_what_an_option_names(
            function,
            "Certificates",
            "acm:DescribeCertificate",
            certificates,
            "Resource::arn:<AWS::Partition>:acm:us-east-1:<AWS::AccountId>:certificate/*",
        )

    def _allow_read_of_what_an_option_names(
        self, function: lambda_.Function, sid: str, action: str, resources: str, finding: str
    ) -> None:
        """One read-only action on any resource of a kind, which an option names at deploy time (data.all's
        custom domain), acknowledged to cdk-nag as such."""
        self._allow(function, sid, [action], [resources])
        service, verb = action.split(":")
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            f"Read-only {verb} of the resource an operator names as an option at deploy time (data.all's custom "
            f"domain), which the bootstrap stack cannot know; no other {service} action.",
            findings=[finding],
        )

    def _can_find_vpcs(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Plan reads the VPC `VpcId` names, its subnets and route tables, as CDK's VPC lookup does, and the
        endpoints' group `VpcEndpointsSecurityGroupId` names (`lambdas/run/existing_vpc.py`), and the API's endpoint
        `ApiVpcEndpointId` names (`lambdas/run/api_vpc_endpoint.py`): DescribeVpcs, DescribeSubnets,
        DescribeRouteTables, DescribeSecurityGroups, DescribeVpcEndpoints and nothing else."""
        self._allow_ec2_describe(
            function,
            "Vpcs",
            [
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcEndpoints",
            ],
        )

    def _can_find_prefix_lists(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Plan fills `S3PrefixListId` from DescribePrefixLists in the stage's region
        (`lambdas/run/region_values.py`)."""
        self._allow_ec2_describe(function, "PrefixLists", ["ec2:DescribePrefixLists"])

    def _allow_ec2_describe(self, function: lambda_.Function, sid: str, actions: list[str]) -> None:
        """EC2's Describe `actions` on the wildcard resource, which they require, acknowledged to cdk-nag."""
        self._allow(function, sid, actions, ["*"])
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            f"{', '.join(actions)}: EC2's Describe actions support no resource-level permissions and require the "
            "wildcard resource (https://docs.aws.amazon.com/service-authorization/latest/reference/"
            "list_amazonec2.html).",
            findings=["Resource::*"],
        )

    def _can_read_stages(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        self._allow(function, "RetainedStages", ["dynamodb:Scan", "dynamodb:GetItem"], [self.ledger.table_arn])

    def _can_migrate_database(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """The migrate step drives the aurora stage's migration function and snapshots the cluster;
        a rollback calls the same function to downgrade."""
        names = self.database_names
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="MigrationFunction",
                actions=["lambda:InvokeFunction"],
                resources=[
                    self.format_arn(
                        service="lambda",
                        resource="function",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        resource_name=installation_name(names.migration_function)
                        if names
                        else cdk.Fn.join("-", [self.scope_prefix, "migrations"]),
                    )
                ],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ClusterSnapshots",
                actions=["rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots", "rds:AddTagsToResource"],
                resources=[
                    self.format_arn(
                        service="rds",
                        resource="cluster",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        resource_name=installation_name(names.cluster)
                        if names
                        else cdk.Fn.join("-", [self.scope_prefix, "aurora"]),
                    ),
                    self.format_arn(
                        service="rds",
                        resource="cluster-snapshot",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        resource_name=f"{self.scope_prefix}-*",
                    ),
                ],
            )
        )
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The snapshots a migration takes are named after the run, under the installation's prefix.",
            findings=[
                "Resource::arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:cluster-snapshot:"
                "<ResourcePrefix>-<EnvName>-*",
            ],
        )

    def _can_publish_site(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """The site bucket's objects (CloudFormation names the bucket after the stack of the stage that
        makes it, `<prefix>-<env>-<stage>-…`) and invalidations of the distribution in front of it."""
        buckets = self.format_arn(
            service="s3", region="", account="", resource=cdk.Fn.join("", [self.scope_prefix, "-", SITE_STAGE, "-*"])
        )
        # DeleteObjectVersion and ListBucketVersions: a failed install's rollback takes every version
        # of its site out of the versioned bucket, and an uninstall every version and delete marker of
        # the bucket, so that the stage's stack can delete it (S3 deletes no bucket holding versions).
        self._allow(
            function,
            "SiteObjects",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
            [f"{buckets}/*"],
        )
        # A missing index.html answers 404, not 403, only to who may list the bucket.
        self._allow(function, "SiteBucket", ["s3:ListBucket", "s3:ListBucketVersions"], [buckets])
        distributions = self.format_arn(service="cloudfront", region="", resource="distribution", resource_name="*")
        self._allow(function, "SiteInvalidation", ["cloudfront:CreateInvalidation"], [distributions])
        # data.all's RUM app monitor (with EnableCloudWatchRum): pointed at the site's domain, read for
        # the web client snippet (`lambdas.site.rum`, as data.all's rum_config.py and frontend_config.py)
        monitors = self.format_arn(service="rum", resource="appmonitor", resource_name="*")
        self._allow(function, "SiteRumMonitor", ["rum:GetAppMonitor", "rum:UpdateAppMonitor"], [monitors])
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The site bucket's objects (their keys are the release's bundle's), in the bucket CloudFormation "
            "names after the site's stage stack; the distribution's id is only known once its stage is "
            "deployed, and CreateInvalidation changes nothing but the cache; data.all names its RUM app "
            "monitor after its own synthesis' prefix, not the installation's.",
            findings=[
                f"Resource::arn:<AWS::Partition>:s3:::<ResourcePrefix>-<EnvName>-{SITE_STAGE}-*",
                f"Resource::arn:<AWS::Partition>:s3:::<ResourcePrefix>-<EnvName>-{SITE_STAGE}-*/*",
                "Resource::arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/*",
                "Resource::arn:<AWS::Partition>:rum:<AWS::Region>:<AWS::AccountId>:appmonitor/*",
            ],
        )

    def _can_make_frontend_image(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Read the release's web UI bundle (an asset of the artifacts bucket) and put the installation's
        frontend image beside the release's, in the installation's repositories of the stack's own region
        (`lambdas.site.image`); CloudFormation, deploying the albfront stage, invokes it (a release without
        that stage: nothing invokes it)."""
        if self.frontend_image:
            self.service_role.add_to_policy(
                iam.PolicyStatement(
                    sid="FrontendImageProvider", actions=["lambda:InvokeFunction"], resources=[self.frontend_image_arn]
                )
            )
        self._allow(function, "ReleaseBundle", ["s3:GetObject"], [self.artifacts.arn_for_objects("assets/*")])
        acknowledge(
            function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The release's assets: the web UI bundle's key is its content's digest, known to the release, not "
            "to the bootstrap stack.",
            findings=[f"Resource::{arn_of(self.artifacts)}/assets/*"],
        )
        if self.images is None or not self.images.repositories:
            return
        repositories = [
            self.format_arn(service="ecr", resource="repository", resource_name=name)
            for name in self.images.repositories
        ]
        self._allow(
            function,
            "FrontendImage",
            [
                "ecr:DescribeImages",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
            ],
            repositories,
        )

    def _can_copy_images(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Pull the release's images from the publisher's repositories (whose repository policy must
        let the installation's account pull), and create and push their namesakes in the
        installation's registry of each region that runs them. Nothing else of ECR."""
        if self.images is None or not self.images.repositories:
            return
        images = self.images
        sources = [
            self.format_arn(
                service="ecr", region=images.region, account=images.registry, resource="repository", resource_name=name
            )
            for name in images.repositories
        ]
        self._allow(function, "PullFromPublisher", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], sources)
        targets = [
            self.format_arn(service="ecr", region=region, resource="repository", resource_name=name)
            for region in (None, *images.regions)  # None: the stack's own region
            for name in images.repositories
        ]
        self._allow(
            function,
            "PushToInstallation",
            [
                "ecr:DescribeRepositories",
                "ecr:CreateRepository",
                "ecr:GetRepositoryPolicy",
                "ecr:SetRepositoryPolicy",
                "ecr:DescribeImages",
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
            ],
            targets,
        )

    def _can_manage_pivot_role(self, provider: lambda_.Function, spec: FunctionSpec) -> None:
        """The pivot-role custom resources' provider (the pivot-role stage's ServiceToken)."""
        scoped = f"{self.scope_prefix}-*"
        statements = (
            ("PivotRoles", [
                "iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole",
                "iam:TagRole", "iam:ListAttachedRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
                "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
             ], [self.format_arn(service="iam", region="", resource="role", resource_name=scoped)]),
            ("PivotInstanceProfiles", ["iam:RemoveRoleFromInstanceProfile"],
             [self.format_arn(service="iam", region="", resource="instance-profile", resource_name=scoped)]),
            ("PivotPolicies", [
                "iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
                "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy", "iam:TagPolicy",
                "iam:ListEntitiesForPolicy",
             ], [self.format_arn(service="iam", region="", resource="policy", resource_name=scoped)]),
            ("ExternalId", [
                "ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource",
                "ssm:ListTagsForResource",
             ], [self.format_arn(service="ssm", resource="parameter",
                                 resource_name=cdk.Fn.join("/", [self.prefix.value_as_string,
                                                                self.env_name.value_as_string, "pivot-role", "*"]))]),
            ("EnvironmentAccounts", [
                "cloudformation:CreateStackSet", "cloudformation:UpdateStackSet", "cloudformation:DeleteStackSet",
                "cloudformation:DescribeStackSet", "cloudformation:CreateStackInstances",
                "cloudformation:DeleteStackInstances", "cloudformation:ListStackInstances",
                "cloudformation:DescribeStackSetOperation", "cloudformation:ListStackSetOperations",
                "cloudformation:ListStackSetOperationResults", "cloudformation:TagResource",
             ], [self.format_arn(service="cloudformation", resource="stackset", resource_name=f"{scoped}:*")]),
        )  # fmt: skip
        for sid, actions, resources in statements:
            provider.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
        provider.add_to_role_policy(
            iam.PolicyStatement(
                sid="StackSetAdministration",
                actions=["iam:PassRole"],
                resources=[self.format_arn(service="iam", region="", resource="role",
                                           resource_name="AWSCloudFormationStackSetAdministrationRole")],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            )
        )  # fmt: skip
        self.service_role.add_to_policy(
            iam.PolicyStatement(
                sid="PivotRoleProvider", actions=["lambda:InvokeFunction"], resources=[self.pivot_role_arn]
            )
        )
        acknowledge(
            provider.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The pivot role, its policies, its external-id parameter and its StackSet are named under the "
            "installation's prefix; their full names come from the release.",
            findings=[
                "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/<ResourcePrefix>-<EnvName>-*",
                "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:instance-profile/<ResourcePrefix>-<EnvName>-*",
                "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/<ResourcePrefix>-<EnvName>-*",
                "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/<ResourcePrefix>/<EnvName>/pivot-role/*",
                "Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stackset/<ResourcePrefix>-<EnvName>-*:*",
            ],
        )

    # ------------------------------------------------------------------ workflow
    def _stack_events(self) -> None:
        """CloudFormation's status changes of the installation's stacks resume the step that
        waits on them (`lambdas/stage/events.py`); polling stays as the fallback."""
        stacks = cdk.Fn.join(
            "",
            ["arn:", cdk.Aws.PARTITION, ":cloudformation:", cdk.Aws.REGION, ":", cdk.Aws.ACCOUNT_ID, ":stack/",
             self.scope_prefix, "-"],
        )  # fmt: skip
        events.Rule(
            self,
            "StackStatusChanges",
            description="dataall-installer: a stage stack's status changed: resume the step waiting on it",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                detail={"stack-id": [{"prefix": stacks}]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.functions["stack_changed"],
                    retry_attempts=3,
                    max_event_age=cdk.Duration.minutes(10),
                )
            ],
        )

    def _state_machine(self) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "WorkflowLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "Workflow",
            state_machine_name=cdk.Fn.join("-", [self.scope_prefix, "installer"]),
            # Inline, not from_file: from_file makes an S3 asset, which a quick-create template cannot carry.
            definition_body=sfn.DefinitionBody.from_string(ASL.read_text()),
            definition_substitutions={
                spec.substitution: self.functions[spec.module].function_arn for spec in FUNCTIONS if spec.task
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeSteps",
                actions=["lambda:InvokeFunction"],
                resources=[self.functions[spec.module].function_arn for spec in FUNCTIONS if spec.task],
            )
        )
        acknowledge(
            machine,
            "AwsSolutions-IAM5",
            "Step Functions delivers logs (CreateLogDelivery ...) and X-Ray traces through APIs that "
            "have no resource-level permissions.",
            findings=["Resource::*"],
        )
        return machine

    def _trigger(self) -> None:
        """Stack events and schedules become runs; a Destroy waits for its uninstall to finish."""
        trigger = cdk.CustomResource(
            self,
            "InstallerRun",
            service_token=self.trigger_function.function_arn,
            resource_type="Custom::InstallerRun",
            properties={
                "StateMachineArn": self.state_machine.state_machine_arn,
                "ReleaseVersion": self.release_version.value_as_string,
                "OnDelete": self.on_delete.value_as_string,
                "Options": {name: cdk.Token.as_string(param.value) for name, param in self.options.items()},
            },
        )
        # Everything a run uses must exist (and be allowed) before the run starts, and must
        # outlive the uninstall a Destroy runs while this resource is deleted; the state
        # machine is already a dependency through its ARN.
        for module, function in self.functions.items():
            if module != "trigger":
                trigger.node.add_dependency(function)
        # The stage stacks are created and deleted with CloudFormation's service role: its policies
        # too (its default policy is the role's child), or a Destroy deletes them while it uninstalls.
        trigger.node.add_dependency(self.service_role, *self.stage_policies)
        self.trigger = trigger

    def _schedule(self) -> None:
        """Scheduled redeploys (off unless a schedule is given): the trigger starts them."""
        expression = cdk.CfnParameter(
            self, "RedeploySchedule", default="", allowed_pattern=r"^$|^(cron|rate)\(.+\)$",
            description="EventBridge Scheduler expression for redeploys, e.g. cron(0 3 ? * SUN *) (empty: off)",
            constraint_description="empty, or cron(...) / rate(...)",
        )  # fmt: skip
        timezone = cdk.CfnParameter(
            self, "RedeployTimezone", default="UTC", allowed_pattern=r"^[A-Za-z]+(?:[/_+-][A-Za-z0-9_+-]+)*$",
            description="Time zone of the redeploy schedule (IANA name, e.g. Europe/Paris)",
            constraint_description="an IANA time zone name",
        )  # fmt: skip
        off = cdk.Fn.condition_equals(expression.value_as_string, "")
        enabled = cdk.CfnCondition(self, "HasRedeploySchedule", expression=cdk.Fn.condition_not(off))
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler starts scheduled redeploys through the trigger",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.trigger_function.function_arn])
        )
        schedule = scheduler.CfnSchedule(
            self,
            "Redeploys",
            schedule_expression=expression.value_as_string,
            schedule_expression_timezone=timezone.value_as_string,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            description="dataall-installer: scheduled redeploy",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.trigger_function.function_arn,
                role_arn=role.role_arn,
                input=json.dumps({"action": "redeploy", "source": "schedule"}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=2),
            ),
        )
        schedule.cfn_options.condition = enabled
        self.schedule_parameters = (expression, timezone)

    def _alarm(self) -> None:
        alarm = cloudwatch.Alarm(
            self,
            "RunFailedAlarm",
            alarm_description="An installer run failed (see the notification for the report)",
            metric=self.state_machine.metric_failed(period=cdk.Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))

    def _outputs(self) -> None:
        cdk.CfnOutput(
            self,
            "StateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="The installer workflow: start runs here",
        )
        cdk.CfnOutput(self, "LedgerTableName", value=self.ledger_name, description="The installer's ledger")
        cdk.CfnOutput(
            self,
            "ArtifactsBucketName",
            value=self.artifacts.bucket_name,
            description="Releases, Lambda packages and rollback points",
        )
        cdk.CfnOutput(
            self, "PivotRoleProviderArn", value=self.pivot_role_provider.function_arn,
            description="Serves Custom::PivotRole and Custom::PivotRoleExternalId",
            export_name=cdk.Fn.join("-", [self.scope_prefix, "pivot-role-provider-arn"]),
        )  # fmt: skip
        cdk.CfnOutput(self, "NotificationTopicArn", value=self.topic.topic_arn, description="One message per run")
        cdk.CfnOutput(
            self,
            "RunExecutionArn",
            value=self.trigger.get_att_string("ExecutionArn"),
            description="The run started by the latest create or update of this stack",
        )
        cdk.CfnOutput(
            self,
            "CloudFormationServiceRoleArn",
            value=self.service_role.role_arn,
            description="The role CloudFormation uses for the stage stacks",
        )
