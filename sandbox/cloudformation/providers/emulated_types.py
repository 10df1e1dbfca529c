"""The table of emulated resource types: physical id and `Fn::GetAtt` of each, as AWS has them.

Types a CDK app commonly emits that moto's CloudFormation does not know. The formats
follow the CloudFormation resource reference (`Ref` and `Fn::GetAtt` return values); a
type with a `service` binding is also made in moto's backend of that service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.cloudformation.providers import load_balancers, services
from sandbox.cloudformation.providers.base import ResourceFailed, handler_message
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.emulated import (
    HEX,
    UPPER_ALNUM,
    Attribute,
    EmulatedType,
    Emulation,
    ServiceBinding,
)
from sandbox.cloudformation.providers.tags import EMULATED_TAGGERS


def _physical(resource: Emulation) -> str:
    return str(resource.data["physical_id"])


def _data(*path: str) -> Attribute:
    def read(resource: Emulation) -> Any:
        value: Any = resource.data
        for key in path:
            value = value[key]
        return value

    return read


def _prop(name: str) -> Attribute:
    return lambda resource: resource.prop(name)


def _name(resource: Emulation) -> str:
    return resource.name


def _arn(service: str, pattern: str, *, global_service: bool = False) -> Attribute:
    """An ARN whose resource part is `pattern` with the resource's `{name}` and `{physical}` id."""

    def build(resource: Emulation) -> str:
        part = pattern.format(name=resource.name, physical=resource.data.get("physical_id"))
        return resource.arn(service, part, region="" if global_service else None)

    return build


def _alias_arn(resource: Emulation) -> str:
    function = str(resource.prop("FunctionName"))
    if not function.startswith("arn:"):
        function = resource.arn("lambda", f"function:{function}")
    return f"{function}:{resource.prop('Name')}"


# --------------------------------------------------------------------------- WAF
def _waf_scope(resource: Emulation) -> str:
    return "global" if resource.prop("Scope") == "CLOUDFRONT" else "regional"


def _waf(resource_type: str, kind: str, service: ServiceBinding | None = None) -> EmulatedType:
    """WAFv2 entities: Ref is `name|id|scope`, the ARN global for CloudFront's scope (a
    `service` binding draws the id in WAFv2 itself)."""

    def physical(resource: Emulation) -> str:
        return f"{resource.name}|{resource.uuid()}|{resource.prop('Scope', 'REGIONAL')}"

    def arn(resource: Emulation) -> str:
        return resource.arn("wafv2", f"{_waf_scope(resource)}/{kind}/{resource.name}/{resource.uuid()}")

    attributes: dict[str, Attribute] = {"Arn": arn, "Id": lambda resource: resource.uuid()}
    if kind in ("webacl", "rulegroup"):
        attributes["LabelNamespace"] = lambda resource: f"awswaf:{resource.account}:{kind}:{resource.name}:"
    if kind == "webacl":
        attributes["Capacity"] = lambda resource: 0
    return EmulatedType(
        resource_type,
        physical_id=physical,
        attributes=attributes,
        name_property="Name",
        create_only=frozenset({"Scope"}),
        service=service,
    )


# --------------------------------------------------------------------------- security group rules
def _security_group_rule(resource_type: str, direction: str) -> EmulatedType:
    """Ref and `Fn::GetAtt Id`: the rule's id (`sgr-...`); a rule EC2 already had keeps a
    drawn one (see `services.SecurityGroupRule`)."""
    peer = "Source" if direction == "ingress" else "Destination"

    def rule_id(resource: Emulation) -> str:
        return str(resource.data.get("id") or f"sgr-{resource.random('drawn', 17, HEX)}")

    return EmulatedType(
        resource_type,
        physical_id=rule_id,
        attributes={"Id": _physical},
        create_only=frozenset(
            {
                "GroupId",
                "GroupName",
                "IpProtocol",
                "FromPort",
                "ToPort",
                "CidrIp",
                "CidrIpv6",
                f"{peer}PrefixListId",
                f"{peer}SecurityGroupId",
                f"{peer}SecurityGroupName",
                f"{peer}SecurityGroupOwnerId",
            }
        ),
        service=services.SecurityGroupRule(direction),
    )


# --------------------------------------------------------------------------- SAM
#: The Serverless Application Repository's Secrets Manager rotation applications (what CDK's
#: `DatabaseSecret.addRotationSingleUser` / `HostedRotation` deploy): one output each.
_ROTATION_APPLICATION = "applications/SecretsManager"


def _application_output(resource: Emulation) -> str:
    """`Outputs.RotationLambdaARN`: the ARN of the function the application would make,
    named by its `functionName` parameter."""
    return resource.arn("lambda", f"function:{resource.prop('Parameters')['functionName']}")


def _serverless_application() -> EmulatedType:
    """AWS::Serverless::Application, which the SAM transform (`AWS::Serverless-2016-10-31`)
    turns into a nested stack of the application's template from the Serverless Application
    Repository.

    The sandbox has no Serverless Application Repository: it makes none of the application's
    resources (for the rotation applications: the rotation function, its role and security
    group), and answers the nested stack's `Ref` (a stack ARN) and the one output the
    rotation applications have, `Outputs.RotationLambdaARN` (the function's would-be ARN,
    from the `functionName` parameter), so a template that reads it (a
    `AWS::SecretsManager::RotationSchedule`) creates. Any other output fails the `Fn::GetAtt`
    naming the attribute; other `AWS::Serverless::*` types fail as unsupported.
    """

    def stack_arn(resource: Emulation) -> str:
        name = f"{resource.stack.stack_name}-{resource.logical_id}-{resource.random('suffix', 12, UPPER_ALNUM)}"
        return resource.arn("cloudformation", f"stack/{name}/{resource.uuid()}")

    return EmulatedType(
        "AWS::Serverless::Application",
        physical_id=stack_arn,
        attributes={"Outputs.RotationLambdaARN": _application_output},
        create_only=frozenset({"Location"}),
        service=_RotationApplication(),
    )


class _RotationApplication:
    """Refuses an application the sandbox cannot answer for (nothing is made for any)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        location = resource.prop("Location") or {}
        application = location.get("ApplicationId", location) if isinstance(location, dict) else location
        if _ROTATION_APPLICATION not in str(application) or not (resource.prop("Parameters") or {}).get("functionName"):
            raise ResourceFailed(
                handler_message(
                    f"AWS::Serverless::Application property Location: {application} is not emulated by the "
                    "sandbox (only the Secrets Manager rotation applications, with a functionName parameter)"
                )
            )

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        self.create(clients, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """Nothing was made."""


# --------------------------------------------------------------------------- the table
def _types() -> list[EmulatedType]:
    cluster_endpoint = _data("cluster", "Endpoint")
    return [
        EmulatedType("AWS::CDK::Metadata"),
        _serverless_application(),
        EmulatedType(
            "AWS::CloudFormation::WaitConditionHandle",
            physical_id=lambda r: f"https://cloudformation-waitcondition-{r.region}.s3.amazonaws.com/{r.uuid()}",
        ),
        EmulatedType("AWS::CloudFormation::WaitCondition", attributes={"Data": lambda r: "{}"}),
        # ----------------------------------------------------------------- policies
        EmulatedType("AWS::S3::BucketPolicy", create_only=frozenset({"Bucket"}), service=services.BucketPolicy()),
        EmulatedType("AWS::SQS::QueuePolicy", attributes={"Id": _physical}, service=services.QueuePolicy()),
        EmulatedType("AWS::SNS::TopicPolicy", attributes={"Id": _physical}),
        EmulatedType(
            "AWS::IAM::RolePolicy", physical_id=_prop("PolicyName"), create_only=frozenset({"PolicyName", "RoleName"})
        ),
        EmulatedType(
            "AWS::IAM::ServiceLinkedRole",
            physical_id=_data("role"),
            create_only=frozenset({"AWSServiceName", "CustomSuffix"}),
            service=services.ServiceLinkedRole(),
        ),
        EmulatedType(
            "AWS::Lambda::Url",
            physical_id=_prop("TargetFunctionArn"),
            attributes={
                "FunctionArn": _prop("TargetFunctionArn"),
                "FunctionUrl": lambda r: f"https://{r.random('url', 32)}.lambda-url.{r.region}.on.aws/",
            },
        ),
        EmulatedType(
            "AWS::Lambda::Version",
            physical_id=_data("arn"),
            attributes={"FunctionArn": _data("arn"), "Version": _data("version")},
            create_only=frozenset({"FunctionName", "CodeSha256", "Description"}),
            service=services.FunctionVersion(),
        ),
        EmulatedType(
            "AWS::Lambda::EventInvokeConfig",
            physical_id=lambda r: f"{r.prop('FunctionName')}:{r.prop('Qualifier')}",
            create_only=frozenset({"FunctionName", "Qualifier"}),
            service=services.EventInvokeConfig(),
        ),
        # ----------------------------------------------------------------- messaging
        EmulatedType(
            "AWS::SNS::Subscription",
            physical_id=_data("arn"),
            attributes={"Arn": _data("arn")},
            create_only=frozenset({"TopicArn", "Protocol", "Endpoint"}),
            service=services.Subscription(),
        ),
        EmulatedType(
            "AWS::Scheduler::Schedule",
            physical_id=_name,
            name_property="Name",
            attributes={"Arn": _data("arn")},
            create_only=frozenset({"GroupName"}),
            service=services.Schedule(),
        ),
        EmulatedType(
            "AWS::Scheduler::ScheduleGroup",
            physical_id=_name,
            name_property="Name",
            attributes={"Arn": _arn("scheduler", "schedule-group/{name}")},
        ),
        EmulatedType(
            "AWS::Events::Connection",
            physical_id=_name,
            name_property="Name",
            attributes={
                "Arn": lambda r: r.arn("events", f"connection/{r.name}/{r.uuid()}"),
                "SecretArn": _arn("secretsmanager", "secret:events!connection/{name}"),
            },
        ),
        EmulatedType(
            "AWS::Events::ApiDestination",
            physical_id=_name,
            name_property="Name",
            attributes={"Arn": _arn("events", "api-destination/{name}")},
        ),
        EmulatedType(
            "AWS::StepFunctions::Activity",
            physical_id=_arn("states", "activity:{name}"),
            name_property="Name",
            attributes={"Name": _name},
        ),
        # ----------------------------------------------------------------- networking
        _security_group_rule("AWS::EC2::SecurityGroupIngress", "ingress"),
        _security_group_rule("AWS::EC2::SecurityGroupEgress", "egress"),
        EmulatedType(
            "AWS::EC2::NetworkAcl",
            physical_id=_data("id"),
            attributes={"Id": _physical},
            create_only=frozenset({"VpcId"}),
            service=services.NetworkAcl(),
            tagger=EMULATED_TAGGERS["AWS::EC2::NetworkAcl"],
        ),
        EmulatedType(
            "AWS::EC2::NetworkAclEntry",
            physical_id=lambda r: f"{r.prop('NetworkAclId')}|{r.prop('RuleNumber')}",
            create_only=frozenset({"NetworkAclId", "Egress", "RuleNumber"}),
            service=services.NetworkAclEntry(),
        ),
        EmulatedType(
            "AWS::EC2::SubnetNetworkAclAssociation",
            physical_id=_data("id"),
            attributes={"AssociationId": _physical},
            create_only=frozenset({"SubnetId", "NetworkAclId"}),
            service=services.SubnetNetworkAclAssociation(),
        ),
        # ----------------------------------------------------------------- load balancing (see `load_balancers`)
        EmulatedType(
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            physical_id=_data("arn"),
            name_property="Name",
            attributes={
                "LoadBalancerArn": _data("arn"),
                "DNSName": _data("dns_name"),
                "CanonicalHostedZoneID": _data("zone"),
                "LoadBalancerName": _data("name"),
                "LoadBalancerFullName": _data("full_name"),
                "SecurityGroups": _data("security_groups"),
            },
            create_only=frozenset({"Type", "Scheme"}),
            service=load_balancers.LoadBalancer(),
            tagger=EMULATED_TAGGERS["AWS::ElasticLoadBalancingV2::LoadBalancer"],
        ),
        EmulatedType(
            "AWS::ElasticLoadBalancingV2::TargetGroup",
            physical_id=_data("arn"),
            name_property="Name",
            attributes={
                "TargetGroupArn": _data("arn"),
                "TargetGroupName": _data("name"),
                "TargetGroupFullName": _data("full_name"),
                "LoadBalancerArns": _data("load_balancers"),
            },
            create_only=frozenset({"TargetType", "ProtocolVersion", "Port", "VpcId", "Protocol", "IpAddressType"}),
            service=load_balancers.TargetGroup(),
            tagger=EMULATED_TAGGERS["AWS::ElasticLoadBalancingV2::TargetGroup"],
        ),
        EmulatedType(
            "AWS::ElasticLoadBalancingV2::Listener",
            physical_id=_data("arn"),
            attributes={"ListenerArn": _data("arn")},
            create_only=frozenset({"LoadBalancerArn"}),
            service=load_balancers.Listener(),
        ),
        EmulatedType("AWS::ElasticLoadBalancingV2::ListenerCertificate", physical_id=_prop("ListenerArn")),
        EmulatedType(
            "AWS::ECS::TaskDefinition",
            physical_id=_data("arn"),
            attributes={"TaskDefinitionArn": _data("arn")},
            service=load_balancers.TaskDefinition(),
            tagger=EMULATED_TAGGERS["AWS::ECS::TaskDefinition"],
        ),
        EmulatedType(
            "AWS::ECS::Service",
            physical_id=_data("arn"),
            name_property="ServiceName",
            attributes={"ServiceArn": _data("arn"), "Name": _data("name")},
            create_only=frozenset({"Cluster", "Role", "SchedulingStrategy"}),
            service=load_balancers.EcsService(),
            tagger=EMULATED_TAGGERS["AWS::ECS::Service"],
        ),
        EmulatedType("AWS::ECS::ClusterCapacityProviderAssociations", physical_id=_prop("Cluster")),
        EmulatedType("AWS::ECS::CapacityProvider", physical_id=_name, name_property="Name"),
        EmulatedType(
            "AWS::ServiceDiscovery::PrivateDnsNamespace",
            physical_id=lambda r: f"ns-{r.random('id', 16)}",
            attributes={
                "Id": _physical,
                "Arn": _arn("servicediscovery", "namespace/{physical}"),
                "HostedZoneId": lambda r: "Z" + r.random("zone", 20, UPPER_ALNUM),
            },
        ),
        # ----------------------------------------------------------------- api gateway
        EmulatedType(
            "AWS::ApiGateway::Stage",
            physical_id=_prop("StageName"),
            create_only=frozenset({"RestApiId", "StageName"}),
            service=services.RestApiStage(),
        ),
        EmulatedType(
            "AWS::ApiGateway::Authorizer",
            physical_id=_data("id"),
            attributes={"AuthorizerId": _data("id")},
            create_only=frozenset({"RestApiId"}),
            service=services.RestApiAuthorizer(),
        ),
        EmulatedType(
            "AWS::ApiGateway::Method",
            create_only=frozenset({"RestApiId", "ResourceId", "HttpMethod"}),
            service=services.RestApiMethod(),
        ),
        EmulatedType("AWS::ApiGateway::Account", physical_id=lambda r: r.random("id", 12, UPPER_ALNUM)),
        EmulatedType(
            "AWS::ApiGateway::RequestValidator",
            physical_id=lambda r: r.random("id", 6),
            attributes={"RequestValidatorId": _physical},
        ),
        EmulatedType("AWS::ApiGateway::GatewayResponse", physical_id=lambda r: r.random("id", 6)),
        EmulatedType("AWS::ApiGateway::Model", physical_id=_name, name_property="Name"),
        EmulatedType(
            "AWS::ApiGateway::UsagePlan", physical_id=lambda r: r.random("id", 6), attributes={"Id": _physical}
        ),
        EmulatedType(
            "AWS::ApiGateway::ApiKey", physical_id=lambda r: r.random("id", 10), attributes={"APIKeyId": _physical}
        ),
        EmulatedType("AWS::ApiGateway::UsagePlanKey", physical_id=_prop("KeyId")),
        EmulatedType(
            "AWS::ApiGateway::DomainName",
            physical_id=_prop("DomainName"),
            attributes={
                "DistributionDomainName": _data("domain", "distributionDomainName"),
                "DistributionHostedZoneId": _data("domain", "distributionHostedZoneId"),
                "RegionalDomainName": _data("domain", "regionalDomainName"),
                "RegionalHostedZoneId": _data("domain", "regionalHostedZoneId"),
            },
            create_only=frozenset({"DomainName"}),
            service=services.RestApiDomainName(),
        ),
        EmulatedType(
            "AWS::ApiGateway::BasePathMapping",
            physical_id=lambda r: f"{r.prop('DomainName')}/{r.prop('BasePath', '(none)')}",
            create_only=frozenset({"DomainName", "BasePath"}),
            service=services.RestApiBasePathMapping(),
        ),
        # ----------------------------------------------------------------- security
        _waf("AWS::WAFv2::WebACL", "webacl", services.WebAcl()),
        _waf("AWS::WAFv2::IPSet", "ipset", services.IpSet()),
        _waf("AWS::WAFv2::RuleGroup", "rulegroup"),
        EmulatedType(
            "AWS::WAFv2::WebACLAssociation",
            physical_id=lambda r: f"{r.prop('ResourceArn')}|{r.prop('WebACLArn')}",
            create_only=frozenset({"ResourceArn", "WebACLArn"}),
            service=services.WebAclAssociation(),
        ),
        EmulatedType("AWS::WAFv2::LoggingConfiguration", physical_id=_prop("ResourceArn")),
        EmulatedType(
            "AWS::SecretsManager::Secret",
            physical_id=_data("arn"),
            name_property="Name",
            attributes={"Id": _data("arn")},
            service=services.Secret(),
            tagger=EMULATED_TAGGERS["AWS::SecretsManager::Secret"],
        ),
        EmulatedType(
            "AWS::SecretsManager::SecretTargetAttachment",
            physical_id=_prop("SecretId"),
            attributes={"Id": _prop("SecretId")},
            service=services.SecretTargetAttachment(),
        ),
        EmulatedType("AWS::SecretsManager::RotationSchedule", physical_id=_prop("SecretId")),
        EmulatedType(
            "AWS::SecretsManager::ResourcePolicy",
            physical_id=_prop("SecretId"),
            attributes={"Id": _prop("SecretId")},
            create_only=frozenset({"SecretId"}),
            service=services.SecretResourcePolicy(),
        ),
        EmulatedType(
            "AWS::IAM::OIDCProvider",
            physical_id=lambda r: r.arn(
                "iam", "oidc-provider/" + str(r.prop("Url", "")).removeprefix("https://"), region=""
            ),
            attributes={"Arn": _physical},
        ),
        # ----------------------------------------------------------------- cognito
        EmulatedType(
            "AWS::Cognito::UserPool",
            physical_id=_data("id"),
            name_property="UserPoolName",
            attributes={
                "Arn": _data("arn"),
                "UserPoolId": _data("id"),
                "ProviderName": lambda r: f"cognito-idp.{r.region}.amazonaws.com/{r.data['id']}",
                "ProviderURL": lambda r: f"https://cognito-idp.{r.region}.amazonaws.com/{r.data['id']}",
            },
            service=services.UserPool(),
        ),
        EmulatedType(
            "AWS::Cognito::UserPoolClient",
            physical_id=_data("id"),
            attributes={
                "ClientId": _data("id"),
                "ClientSecret": _data("secret"),
                "Name": lambda r: r.prop("ClientName") or r.name,
            },
            create_only=frozenset({"UserPoolId", "GenerateSecret"}),
            service=services.UserPoolClient(),
        ),
        EmulatedType(
            "AWS::Cognito::UserPoolDomain",
            physical_id=_prop("Domain"),
            attributes={"CloudFrontDistribution": _data("cloudfront")},
            create_only=frozenset({"Domain", "UserPoolId"}),
            service=services.UserPoolDomain(),
        ),
        EmulatedType(
            "AWS::Cognito::UserPoolGroup",
            physical_id=_name,
            name_property="GroupName",
            create_only=frozenset({"UserPoolId"}),
            service=services.UserPoolGroup(),
        ),
        EmulatedType(
            "AWS::Cognito::UserPoolIdentityProvider",
            physical_id=_name,
            name_property="ProviderName",
            create_only=frozenset({"UserPoolId", "ProviderType"}),
            service=services.UserPoolIdentityProvider(),
        ),
        EmulatedType("AWS::Cognito::UserPoolResourceServer", physical_id=_prop("Identifier")),
        EmulatedType("AWS::Cognito::UserPoolUICustomizationAttachment", physical_id=_prop("UserPoolId")),
        EmulatedType(
            "AWS::Cognito::IdentityPool",
            physical_id=_data("id"),
            attributes={"Id": _data("id"), "Name": services.IdentityPool.pool_name},
            service=services.IdentityPool(),
        ),
        EmulatedType(
            "AWS::Cognito::IdentityPoolRoleAttachment",
            physical_id=_prop("IdentityPoolId"),
            service=services.IdentityPoolRoleAttachment(),
        ),
        # ----------------------------------------------------------------- data
        EmulatedType(
            "AWS::RDS::DBCluster",
            physical_id=_name,
            name_property="DBClusterIdentifier",
            attributes={
                "Endpoint.Address": cluster_endpoint,
                "Endpoint.Port": lambda r: str(r.data["cluster"]["Port"]),
                "ReadEndpoint.Address": _data("cluster", "ReaderEndpoint"),
                "DBClusterArn": _data("cluster", "DBClusterArn"),
                "DBClusterResourceId": _data("cluster", "DbClusterResourceId"),
                "MasterUserSecret.SecretArn": lambda r: r.data["cluster"].get("MasterUserSecret", {}).get("SecretArn"),
            },
            create_only=frozenset(
                {"Engine", "DatabaseName", "StorageEncrypted", "KmsKeyId", "DBSubnetGroupName", "MasterUsername"}
            ),
            service=services.DBCluster(),
            tagger=EMULATED_TAGGERS["AWS::RDS::DBCluster"],
        ),
        EmulatedType(
            "AWS::RDS::DBInstance",
            physical_id=_name,
            name_property="DBInstanceIdentifier",
            attributes={
                "Endpoint.Address": _data("instance", "Endpoint", "Address"),
                "Endpoint.Port": lambda r: str(r.data["instance"]["Endpoint"]["Port"]),
                "DBInstanceArn": _data("instance", "DBInstanceArn"),
                "DbiResourceId": _data("instance", "DbiResourceId"),
            },
            create_only=frozenset(
                {"DBClusterIdentifier", "DBName", "MasterUsername", "KmsKeyId", "StorageEncrypted", "CharacterSetName"}
            ),
            service=services.DBInstance(),
            tagger=EMULATED_TAGGERS["AWS::RDS::DBInstance"],
        ),
        EmulatedType(
            "AWS::RDS::DBClusterParameterGroup",
            physical_id=lambda r: r.name.lower(),
            name_property="DBClusterParameterGroupName",
        ),
        EmulatedType(
            "AWS::OpenSearchService::Domain",
            physical_id=_name,
            name_property="DomainName",
            attributes={
                "Arn": _data("domain", "ARN"),
                "DomainArn": _data("domain", "ARN"),
                "DomainEndpoint": lambda r: (
                    r.data["domain"].get("Endpoint") or r.data["domain"].get("Endpoints", {}).get("vpc")
                ),
                "Id": _data("domain", "DomainId"),
            },
            service=services.Domain(),
            tagger=EMULATED_TAGGERS["AWS::OpenSearchService::Domain"],
        ),
        EmulatedType(
            "AWS::OpenSearchServerless::Collection",
            physical_id=_data("collection", "id"),
            name_property="Name",
            attributes={
                "Id": _data("collection", "id"),
                "Arn": _data("collection", "arn"),
                "CollectionEndpoint": _data("collection", "collectionEndpoint"),
                "DashboardEndpoint": _data("collection", "dashboardEndpoint"),
            },
            create_only=frozenset({"Type", "StandbyReplicas"}),
            service=services.ServerlessCollection(),
        ),
        EmulatedType(
            "AWS::OpenSearchServerless::SecurityPolicy",
            physical_id=lambda r: f"{r.name}|{r.prop('Type')}",
            name_property="Name",
            create_only=frozenset({"Type"}),
            service=services.ServerlessSecurityPolicy(),
        ),
        EmulatedType(
            "AWS::OpenSearchServerless::AccessPolicy", physical_id=lambda r: f"{r.prop('Name')}|{r.prop('Type')}"
        ),
        EmulatedType(
            "AWS::OpenSearchServerless::VpcEndpoint",
            physical_id=lambda r: f"vpce-{r.random('id', 17, HEX)}",
            attributes={"Id": _physical},
        ),
        # ----------------------------------------------------------------- edge
        EmulatedType(
            "AWS::CloudFront::Distribution",
            physical_id=_data("id"),
            attributes={"DomainName": _data("domain"), "Id": _data("id")},
            service=services.Distribution(),
        ),
        EmulatedType(
            "AWS::CertificateManager::Certificate",
            physical_id=_data("arn"),
            attributes={"CertificateArn": _data("arn")},
            service=services.Certificate(),
            tagger=EMULATED_TAGGERS["AWS::CertificateManager::Certificate"],
        ),
        EmulatedType(
            "AWS::CloudFront::OriginAccessControl",
            physical_id=lambda r: "E" + r.random("id", 13, UPPER_ALNUM),
            attributes={"Id": _physical},
        ),
        EmulatedType(
            "AWS::CloudFront::CloudFrontOriginAccessIdentity",
            physical_id=lambda r: "E" + r.random("id", 13, UPPER_ALNUM),
            attributes={"Id": _physical, "S3CanonicalUserId": lambda r: r.random("canonical", 96, HEX)},
        ),
        EmulatedType("AWS::CloudFront::CachePolicy", physical_id=lambda r: r.uuid(), attributes={"Id": _physical}),
        EmulatedType(
            "AWS::CloudFront::OriginRequestPolicy", physical_id=lambda r: r.uuid(), attributes={"Id": _physical}
        ),
        EmulatedType(
            "AWS::CloudFront::ResponseHeadersPolicy", physical_id=lambda r: r.uuid(), attributes={"Id": _physical}
        ),
        EmulatedType(
            "AWS::CloudFront::Function",
            physical_id=_arn("cloudfront", "function/{name}", global_service=True),
            name_property="Name",
            attributes={"FunctionARN": _physical, "FunctionMetadata.FunctionARN": _physical},
        ),
        # ----------------------------------------------------------------- observability
        EmulatedType(
            "AWS::CloudTrail::Trail",
            physical_id=_name,
            name_property="TrailName",
            attributes={"Arn": _data("arn"), "SnsTopicArn": _data("topic")},
            service=services.Trail(),
            tagger=EMULATED_TAGGERS["AWS::CloudTrail::Trail"],
        ),
        EmulatedType(
            "AWS::CloudWatch::Alarm",
            physical_id=_name,
            name_property="AlarmName",
            attributes={"Arn": _arn("cloudwatch", "alarm:{name}")},
            service=services.Alarm(),
            tagger=EMULATED_TAGGERS["AWS::CloudWatch::Alarm"],
        ),
        EmulatedType(
            "AWS::CloudWatch::CompositeAlarm",
            physical_id=_name,
            name_property="AlarmName",
            attributes={"Arn": _arn("cloudwatch", "alarm:{name}")},
        ),
        EmulatedType(
            "AWS::Logs::MetricFilter",
            physical_id=_name,
            name_property="FilterName",
            create_only=frozenset({"LogGroupName"}),
            service=services.MetricFilter(),
        ),
        EmulatedType("AWS::Logs::SubscriptionFilter", physical_id=_name, name_property="FilterName"),
        EmulatedType("AWS::Logs::LogStream", physical_id=_name, name_property="LogStreamName"),
        EmulatedType(
            "AWS::Logs::QueryDefinition", physical_id=lambda r: r.uuid(), attributes={"QueryDefinitionId": _physical}
        ),
        EmulatedType(
            "AWS::Synthetics::Canary",
            physical_id=_name,
            name_property="Name",
            attributes={"Id": _data("id"), "State": _data("state")},
            service=services.Canary(),
        ),
        EmulatedType(
            "AWS::RUM::AppMonitor",
            physical_id=_name,
            name_property="Name",
            attributes={"Id": _data("id")},
            service=services.AppMonitor(),
        ),
        EmulatedType(
            "AWS::Lambda::Alias",
            physical_id=_alias_arn,
            attributes={"AliasArn": _alias_arn},
            create_only=frozenset({"FunctionName", "Name"}),
        ),
    ]


EMULATED_TYPES: Mapping[str, EmulatedType] = {spec.resource_type: spec for spec in _types()}
