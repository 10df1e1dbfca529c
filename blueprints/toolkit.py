"""Building blocks the stages share: option conditions, log groups, platform functions.

Options are chosen at install time and the templates are prebuilt, so an option reaches a
template as a CloudFormation parameter and acts through Conditions. These helpers keep
that pattern in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct, IConstruct

from blueprints.common import StageStack, runtime

#: CloudWatch Logs' accepted retention values, the `LogRetentionDays` option's `allowed`.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

VPC_ID_PATTERN = r"^vpc-[0-9a-f]{8,17}$"
SUBNET_IDS_PATTERN = r"^subnet-[0-9a-f]{8,17}(,subnet-[0-9a-f]{8,17})+$"


def flag(stack: StageStack, option: str, description: str) -> cdk.CfnCondition:
    """A boolean installer option as a parameter, and the condition "the option is true"."""
    value = stack.parameter(
        option,
        f"${{param:{option}}}",
        description=description,
        allowed_values=["true", "false"],
    ).value_as_string
    return cdk.CfnCondition(stack, f"{option}On", expression=cdk.Fn.condition_equals(value, "true"))


def given(stack: Construct, condition_id: str, value: str) -> cdk.CfnCondition:
    """The condition "this optional text parameter is not empty"."""
    return cdk.CfnCondition(stack, condition_id, expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(value, "")))


def negation(stack: Construct, condition_id: str, condition: cdk.CfnCondition) -> cdk.CfnCondition:
    return cdk.CfnCondition(stack, condition_id, expression=cdk.Fn.condition_not(_expression(condition)))


def conjunction(stack: Construct, condition_id: str, *conditions: cdk.CfnCondition) -> cdk.CfnCondition:
    return cdk.CfnCondition(
        stack,
        condition_id,
        expression=cdk.Fn.condition_and(*(_expression(c) for c in conditions)),
    )


def _expression(condition: cdk.CfnCondition) -> cdk.ICfnConditionExpression:
    # A CfnCondition is a condition expression in CDK; its Python typing misses that.
    return cast(cdk.ICfnConditionExpression, condition)


def when(scope: IConstruct, condition: cdk.CfnCondition) -> None:
    """Create every CloudFormation resource under `scope` only when `condition` holds."""
    for child in scope.node.find_all():
        if isinstance(child, cdk.CfnResource):
            child.cfn_options.condition = condition


def if_(condition: cdk.CfnCondition, then: Any, otherwise: Any) -> str:
    """`Fn::If` on a condition object, as a string token."""
    return cdk.Token.as_string(cdk.Fn.condition_if(condition.logical_id, then, otherwise))


def accept_validation(stack: StageStack, rule: str, reason: str) -> None:
    """Accept a finding of CDK's own template validation (`W1001` ...) on the stack."""
    cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(id=f"CloudFormation-Validate::{rule}", reason=reason))


def accept_conditional_outputs(stack: StageStack) -> None:
    """CDK's validation flags a conditional resource read inside `Fn::If` on its own condition."""
    accept_validation(
        stack,
        "W1001",
        "Outputs read conditional resources only inside Fn::If on the resources' own condition.",
    )


def accept_arn_parameters(stack: StageStack) -> None:
    """CDK's validation takes parameters named `...Secret...` for passwords."""
    accept_validation(
        stack,
        "W2509",
        "The parameters named after secrets carry ARNs of secrets and keys, not secret values; "
        "NoEcho would only hide the stage's wiring from the operator.",
    )


def log_retention(stack: StageStack) -> cdk.CfnParameter:
    """The stack's `LogRetentionDays` parameter, declared on first use."""
    existing = stack.node.try_find_child("LogRetentionDays")
    if isinstance(existing, cdk.CfnParameter):
        return existing
    return stack.parameter(
        "LogRetentionDays",
        "${param:LogRetentionDays}",
        description="How long the stage's log groups keep their events (days)",
        type="Number",
        allowed_values=[str(days) for days in LOG_RETENTION_DAYS],
    )


def log_group(stack: StageStack, construct_id: str, name: str, scope: Construct | None = None) -> logs.LogGroup:
    """A named log group with the installation's retention, under `scope` (default: stack).

    Deleted with the stack: a retained log group with a fixed name would make the next
    create of the stage fail after a rollback deleted it.
    """
    group = logs.LogGroup(scope or stack, construct_id, log_group_name=name, removal_policy=cdk.RemovalPolicy.DESTROY)
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.add_property_override("RetentionInDays", log_retention(stack).value_as_number)
    return group


def ssm_path(stack: StageStack, *parts: str) -> str:
    """`/{prefix}/{env}/part/...`: the installation's SSM parameter hierarchy."""
    return cdk.Fn.join("/", ["", stack.prefix, stack.env_name, *parts])


def bucket_name(stack: StageStack, kind: str) -> str:
    """A globally unique bucket name, still scoped to the prefix (at most 63 characters)."""
    return cdk.Fn.join("-", [stack.prefix, stack.env_name, kind, cdk.Aws.ACCOUNT_ID, cdk.Aws.REGION])


def stage_parameter(stack: StageStack, name: str, stage_output: str, description: str, **kwargs: Any) -> str:
    """A parameter filled from another stage's output (`stage.Output`): the wiring."""
    return stack.parameter(name, f"${{stage:{stage_output}}}", description=description, **kwargs).value_as_string


class VpcPlacement:
    """Where a stage puts its network interfaces: the vpc stage's outputs, as parameters.

    The VPC id and security group are declared on first use (cfn-lint rejects unused
    parameters).
    """

    def __init__(self, stack: StageStack) -> None:
        self._stack = stack
        self.subnet_ids = stack.parameter(
            "PrivateSubnetIds",
            "${stage:vpc.PrivateSubnetIds}",
            description="Private subnets of the platform",
            type="List<AWS::EC2::Subnet::Id>",
        ).value_as_list

    @cached_property
    def security_group_id(self) -> str:
        return stage_parameter(
            self._stack,
            "PlatformSecurityGroupId",
            "vpc.PlatformSecurityGroupId",
            "Security group of the platform's functions and tasks",
            type="AWS::EC2::SecurityGroup::Id",
        )

    @cached_property
    def vpc_id(self) -> str:
        return stage_parameter(self._stack, "VpcId", "vpc.VpcId", "VPC of the platform", type="AWS::EC2::VPC::Id")


class PlatformFunction(Construct):
    """A Python function of the platform with its own role, named log group and X-Ray.

    The role is written here rather than by the Function construct so that its log
    permissions name the one log group instead of AWS's managed policy's `*`.
    """

    def __init__(
        self,
        stack: StageStack,
        construct_id: str,
        *,
        code: str,
        handler: str,
        name: str,
        description: str,
        environment: Mapping[str, str] | None = None,
        timeout_seconds: int = 30,
        memory_size: int = 512,
        placement: VpcPlacement | None = None,
        layer: lambda_.ILayerVersion | None = None,
    ) -> None:
        super().__init__(stack, construct_id)
        function_name = stack.resource_name(name)
        self.log_group = log_group(stack, f"{construct_id}Logs", cdk.Fn.join("", ["/aws/lambda/", function_name]))
        self.role = iam.Role(
            self,
            "Role",
            role_name=function_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {description}",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=runtime(),
            code=stack.function_code(code),
            handler=handler,
            role=self.role,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "LOG_LEVEL": "INFO",
                **(environment or {}),
            },
            timeout=cdk.Duration.seconds(timeout_seconds),
            memory_size=memory_size,
            layers=[layer] if layer is not None else None,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            architecture=lambda_.Architecture.X86_64,
        )
        self.function.node.add_dependency(self.log_group)
        if placement is not None:
            cfn = self.function.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.add_property_override(
                "VpcConfig",
                {
                    "SubnetIds": placement.subnet_ids,
                    "SecurityGroupIds": [placement.security_group_id],
                },
            )
            self.role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
            )
            stack.acknowledge(
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaVPCAccessExecutionRole]",
                "AWSLambdaVPCAccessExecutionRole is AWS's own minimal policy for the network "
                "interfaces of a function in a VPC; AWS keeps it current with Lambda's needs.",
                self.role,
            )
        stack.acknowledge(
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level "
            "permissions, so the tracing statement CDK adds must name every resource.",
            self.role,
        )
        stack.acknowledge(
            "AwsSolutions-L1",
            "Functions run on the runtime the release's dependency layer is built for "
            "(blueprints.assets.LAMBDA_RUNTIME); the runtime moves with the layer.",
            self.function,
        )

    def allow(self, actions: Sequence[str], resources: Sequence[str]) -> None:
        self.role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=list(resources)))


def web_acl(stack: StageStack, construct_id: str, name: str, *, scope: str) -> wafv2.CfnWebACL:
    """A WAF web ACL: a per-address rate limit and AWS's baseline managed rule groups."""

    def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
        )

    def managed(group: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=group,
            priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=group
                )
            ),
            visibility_config=visibility(group),
        )

    return wafv2.CfnWebACL(
        stack,
        construct_id,
        name=stack.resource_name(name),
        scope=scope,
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=visibility(name),
        rules=[
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerAddress",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(limit=2000, aggregate_key_type="IP")
                ),
                visibility_config=visibility("RateLimitPerAddress"),
            ),
            managed("AWSManagedRulesAmazonIpReputationList", 1),
            managed("AWSManagedRulesCommonRuleSet", 2),
            managed("AWSManagedRulesKnownBadInputsRuleSet", 3),
        ],
    )
