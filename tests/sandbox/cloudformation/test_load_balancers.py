"""An internal Application Load Balancer in front of an ECS Fargate service, as data.all's `albfront` stage makes
it for `internet_facing=false`: the balancer in private subnets, an `ip` target group, an HTTP listener forwarding
to it, the `awsvpc` service registered behind it, and a Route 53 alias to the balancer's `dualstack.` name.

Each resource is made in Elastic Load Balancing's and ECS's APIs (DescribeLoadBalancers, DescribeTargetGroups,
DescribeListeners, DescribeServices see it), updated in place where AWS updates it, and gone after the stack's
delete. The sandbox runs no ECS task: the service exists with its tasks pending, no image is pulled.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tests.sandbox.certificates import issued_certificate
from tests.sandbox.cloudformation.conftest import Clients, events, settle

REGION = "eu-west-1"
#: Route 53's hosted zone of eu-west-1's Application Load Balancers (Elastic Load Balancing endpoints and quotas)
ALB_ZONE = "Z32O12XQLNTSW2"
DOMAIN = "dataall.example.com"


def network() -> dict[str, Any]:
    """A VPC with two private subnets in two zones, a balancer's and a service's security groups."""
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.4.0.0/16"}},
        **{
            f"Private{n}": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": f"10.4.{n}.0/24",
                    "AvailabilityZone": {"Fn::Select": [n, {"Fn::GetAZs": ""}]},
                },
            }
            for n in (0, 1)
        },
        "BalancerGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "balancer", "VpcId": {"Ref": "Vpc"}},
        },
        "ServiceGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "service", "VpcId": {"Ref": "Vpc"}},
        },
        "BalancerToService": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Fn::GetAtt": ["ServiceGroup", "GroupId"]},
                "SourceSecurityGroupId": {"Fn::GetAtt": ["BalancerGroup", "GroupId"]},
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
            },
        },
    }


def balancer() -> dict[str, Any]:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "Properties": {
            "Type": "application",
            "Scheme": "internal",
            "Subnets": [{"Ref": "Private0"}, {"Ref": "Private1"}],
            "SecurityGroups": [{"Fn::GetAtt": ["BalancerGroup", "GroupId"]}],
            "LoadBalancerAttributes": [
                {"Key": "deletion_protection.enabled", "Value": "false"},
                {"Key": "idle_timeout.timeout_seconds", "Value": "120"},
            ],
            "Tags": [{"Key": "Application", "Value": "dataall-test"}],
        },
    }


def target_group() -> dict[str, Any]:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
        "Properties": {
            "TargetType": "ip",
            "Protocol": "HTTP",
            "Port": 80,
            "VpcId": {"Ref": "Vpc"},
            "HealthCheckPath": "/",
            "HealthCheckPort": "80",
            "HealthCheckIntervalSeconds": 15,
            "HealthCheckTimeoutSeconds": 10,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 2,
            "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
        },
    }


def listener() -> dict[str, Any]:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {
            "LoadBalancerArn": {"Ref": "Balancer"},
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Targets"}}],
        },
    }


def task_definition() -> dict[str, Any]:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Family": "frontend",
            "Cpu": "1024",
            "Memory": "2048",
            "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"],
            "ContainerDefinitions": [
                {
                    "Name": "web",
                    "Image": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/site:frontend"},
                    "Essential": True,
                    "PortMappings": [{"ContainerPort": 80, "Protocol": "tcp"}],
                }
            ],
        },
    }


def service(*, depends_on_listener: bool = True) -> dict[str, Any]:
    made: dict[str, Any] = {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "Cluster": {"Ref": "Cluster"},
            "ServiceName": "frontend-test",
            "LaunchType": "FARGATE",
            "DesiredCount": 2,
            "TaskDefinition": {"Ref": "TaskDefinition"},
            "HealthCheckGracePeriodSeconds": 60,
            "DeploymentConfiguration": {"MaximumPercent": 100, "MinimumHealthyPercent": 0},
            "LoadBalancers": [{"ContainerName": "web", "ContainerPort": 80, "TargetGroupArn": {"Ref": "Targets"}}],
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "AssignPublicIp": "DISABLED",
                    "SecurityGroups": [{"Fn::GetAtt": ["ServiceGroup", "GroupId"]}],
                    "Subnets": [{"Ref": "Private0"}, {"Ref": "Private1"}],
                }
            },
            "Tags": [{"Key": "Application", "Value": "dataall-test"}],
        },
    }
    if depends_on_listener:
        # CDK's ApplicationLoadBalancedFargateService: the service waits for the listener
        made["DependsOn"] = ["Listener"]
    return made


def albfront_template(**service_options: Any) -> dict[str, Any]:
    """The shapes of data.all's albfront stack."""
    return {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {
            **network(),
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "dataall-test-cluster"}},
            "Balancer": balancer(),
            "Targets": target_group(),
            "Listener": listener(),
            "TaskDefinition": task_definition(),
            "Service": service(**service_options),
            "Alias": {
                "Type": "AWS::Route53::RecordSet",
                "Properties": {
                    "HostedZoneId": {"Ref": "ZoneId"},
                    "Name": f"{DOMAIN}.",
                    "Type": "A",
                    "AliasTarget": {
                        "DNSName": {"Fn::Join": ["", ["dualstack.", {"Fn::GetAtt": ["Balancer", "DNSName"]}]]},
                        "HostedZoneId": {"Fn::GetAtt": ["Balancer", "CanonicalHostedZoneID"]},
                    },
                },
            },
        },
        "Outputs": {
            "Arn": {"Value": {"Ref": "Balancer"}},
            "DnsName": {"Value": {"Fn::GetAtt": ["Balancer", "DNSName"]}},
            "Zone": {"Value": {"Fn::GetAtt": ["Balancer", "CanonicalHostedZoneID"]}},
            "FullName": {"Value": {"Fn::GetAtt": ["Balancer", "LoadBalancerFullName"]}},
            "Name": {"Value": {"Fn::GetAtt": ["Balancer", "LoadBalancerName"]}},
            "Groups": {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["Balancer", "SecurityGroups"]}]}},
            "BalancerGroup": {"Value": {"Fn::GetAtt": ["BalancerGroup", "GroupId"]}},
            "Targets": {"Value": {"Ref": "Targets"}},
            "TargetsFullName": {"Value": {"Fn::GetAtt": ["Targets", "TargetGroupFullName"]}},
            "Listener": {"Value": {"Ref": "Listener"}},
            "Service": {"Value": {"Ref": "Service"}},
            "ServiceName": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
        },
    }


def hosted_zone(clients: Clients) -> str:
    zone = clients("route53", REGION).create_hosted_zone(Name=DOMAIN, CallerReference=DOMAIN)
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def apply(clients: Clients, template: dict[str, Any], zone: str, *, create: bool = True) -> dict[str, Any]:
    cfn = clients("cloudformation", REGION)
    call = cfn.create_stack if create else cfn.update_stack
    call(
        StackName="albfront",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "ZoneId", "ParameterValue": zone}],
    )
    return settle(cfn, "albfront")


def outputs(described: dict[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def failed(clients: Clients, stack: str = "albfront") -> list[tuple[str, str, str | None]]:
    return [event for event in events(clients("cloudformation", REGION), stack) if event[1].endswith("FAILED")]


def described_service(clients: Clients, arn: str) -> dict[str, Any]:
    (found,) = clients("ecs", REGION).describe_services(cluster="dataall-test-cluster", services=[arn])["services"]
    return dict(found)


def test_an_internal_balancer_answers_its_dns_name_in_the_regions_zone_and_an_alias_record_names_both(
    clients: Clients,
) -> None:
    """Elastic Load Balancing API Reference: CreateLoadBalancer, ModifyLoadBalancerAttributes; Elastic Load
    Balancing endpoints and quotas (each Region's Route 53 zone of Application Load Balancers); User Guide for
    Application Load Balancers: "Internal load balancers" (an internal balancer's DNS name is
    `internal-<name>-<number>.<region>.elb.amazonaws.com`). AWS CloudFormation template reference:
    AWS::ElasticLoadBalancingV2::LoadBalancer (Ref the ARN; `DNSName`, `CanonicalHostedZoneID`,
    `LoadBalancerFullName` `app/<name>/<id>`, `LoadBalancerName`, `SecurityGroups`); Route 53 Developer Guide:
    "Routing traffic to an ELB load balancer" (the alias record names `dualstack.<DNS name>` in that zone)."""
    zone = hosted_zone(clients)

    described = apply(clients, albfront_template(), zone)

    assert described["StackStatus"] == "CREATE_COMPLETE", failed(clients)
    found = outputs(described)
    elbv2 = clients("elbv2", REGION)
    (made,) = elbv2.describe_load_balancers(LoadBalancerArns=[found["Arn"]])["LoadBalancers"]
    assert (made["Scheme"], made["Type"], made["State"]["Code"]) == ("internal", "application", "active")
    assert made["LoadBalancerName"] == found["Name"] and len(found["Name"]) <= 32
    assert re.fullmatch(
        rf"internal-{re.escape(found['Name'])}-\d{{10}}\.{REGION}\.elb\.amazonaws\.com", made["DNSName"]
    )
    assert (
        (found["DnsName"], found["Zone"])
        == (made["DNSName"], ALB_ZONE)
        == (made["DNSName"], made["CanonicalHostedZoneId"])
    )
    assert found["FullName"] == found["Arn"].split(":loadbalancer/", 1)[1]
    assert re.fullmatch(rf"app/{re.escape(found['Name'])}/[0-9a-f]{{16}}", found["FullName"])
    assert found["Groups"] == found["BalancerGroup"]
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=found["Arn"])["Attributes"]
    }
    assert (attributes["deletion_protection.enabled"], attributes["idle_timeout.timeout_seconds"]) == ("false", "120")
    (tags,) = elbv2.describe_tags(ResourceArns=[found["Arn"]])["TagDescriptions"]
    assert tags["Tags"] == [{"Key": "Application", "Value": "dataall-test"}]
    (record,) = [
        r
        for r in clients("route53", REGION).list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        if r["Type"] == "A"
    ]
    assert record["AliasTarget"]["DNSName"].rstrip(".") == f"dualstack.{made['DNSName']}"
    assert record["AliasTarget"]["HostedZoneId"] == ALB_ZONE


def test_a_fargate_service_is_registered_behind_the_listener_of_its_ip_target_group(clients: Clients) -> None:
    """Elastic Load Balancing API Reference: CreateTargetGroup (TargetType `ip`, the health check as given),
    ModifyTargetGroupAttributes, CreateListener (HTTP 80, `forward` to the group; DescribeTargetGroups then names
    the group's balancer); Amazon ECS API Reference: CreateService (`LoadBalancers`, `NetworkConfiguration`'s
    `awsvpcConfiguration`, `DeploymentConfiguration`, `HealthCheckGracePeriodSeconds`, `LaunchType` FARGATE, as
    DescribeServices answers them), RegisterTaskDefinition (`NetworkMode` awsvpc, `Cpu`, `Memory`,
    `RequiresCompatibilities` FARGATE, as DescribeTaskDefinition answers them). AWS CloudFormation template
    reference: AWS::ECS::Service (Ref the service's
    ARN, `Fn::GetAtt Name`), AWS::ElasticLoadBalancingV2::TargetGroup (Ref the ARN, `TargetGroupFullName`)."""
    described = apply(clients, albfront_template(), hosted_zone(clients))

    assert described["StackStatus"] == "CREATE_COMPLETE", failed(clients)
    found = outputs(described)
    elbv2 = clients("elbv2", REGION)
    (group,) = elbv2.describe_target_groups(TargetGroupArns=[found["Targets"]])["TargetGroups"]
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", 80)
    assert (group["HealthCheckPath"], group["HealthCheckPort"], group["HealthCheckIntervalSeconds"]) == ("/", "80", 15)
    assert (group["HealthCheckTimeoutSeconds"], group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (
        10,
        2,
        2,
    )
    assert group["LoadBalancerArns"] == [found["Arn"]]
    assert found["TargetsFullName"] == found["Targets"].split(":", 5)[5]
    assert re.fullmatch(r"targetgroup/[\w-]{1,32}/[0-9a-f]{16}", found["TargetsFullName"])
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=found["Targets"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in attributes
    (forwarding,) = elbv2.describe_listeners(LoadBalancerArn=found["Arn"])["Listeners"]
    assert (forwarding["ListenerArn"], forwarding["Port"], forwarding["Protocol"]) == (found["Listener"], 80, "HTTP")
    assert forwarding["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": found["Targets"]}]

    made = described_service(clients, found["Service"])
    definition = clients("ecs", REGION).describe_task_definition(taskDefinition=made["taskDefinition"])[
        "taskDefinition"
    ]
    assert (definition["family"], definition["networkMode"], definition["requiresCompatibilities"]) == (
        "frontend",
        "awsvpc",
        ["FARGATE"],
    )
    assert (definition["cpu"], definition["memory"], definition["containerDefinitions"][0]["name"]) == (
        "1024",
        "2048",
        "web",
    )
    assert (made["serviceName"], found["ServiceName"], made["status"]) == ("frontend-test", "frontend-test", "ACTIVE")
    assert made["serviceArn"].endswith(":service/dataall-test-cluster/frontend-test")
    assert (made["launchType"], made["desiredCount"], made["healthCheckGracePeriodSeconds"]) == ("FARGATE", 2, 60)
    assert made["loadBalancers"] == [{"targetGroupArn": found["Targets"], "containerName": "web", "containerPort": 80}]
    vpc = made["networkConfiguration"]["awsvpcConfiguration"]
    assert (len(vpc["subnets"]), len(vpc["securityGroups"]), vpc["assignPublicIp"]) == (2, 1, "DISABLED")
    deployment = made["deploymentConfiguration"]
    assert (deployment["maximumPercent"], deployment["minimumHealthyPercent"]) == (100, 0)
    (tags,) = [clients("ecs", REGION).list_tags_for_resource(resourceArn=found["Service"])["tags"]]
    assert tags == [{"key": "Application", "value": "dataall-test"}]


def test_an_update_changes_health_check_attributes_and_service_in_place_and_a_delete_removes_them_all(
    clients: Clients,
) -> None:
    """AWS CloudFormation template reference (update requires: No interruption): a target group's health check
    (ModifyTargetGroup), a balancer's `LoadBalancerAttributes` (ModifyLoadBalancerAttributes) and tags, a service's
    `DesiredCount` and `DeploymentConfiguration` (UpdateService) change in place, each keeping its ARN. A stack
    delete removes the service (Amazon ECS API Reference: DeleteService: no longer in ListServices, INACTIVE in
    DescribeServices), the listener, the target group and the balancer (DeleteListener, DeleteTargetGroup,
    DeleteLoadBalancer)."""
    zone = hosted_zone(clients)
    template = albfront_template()
    created = outputs(apply(clients, template, zone))
    changed = copy.deepcopy(template)
    resources = changed["Resources"]
    resources["Targets"]["Properties"].update(HealthCheckPath="/health", HealthCheckIntervalSeconds=30)
    resources["Balancer"]["Properties"]["LoadBalancerAttributes"][1]["Value"] = "300"
    resources["Balancer"]["Properties"]["Tags"] = [{"Key": "Application", "Value": "dataall-prod"}]
    resources["Service"]["Properties"].update(
        DesiredCount=1, DeploymentConfiguration={"MaximumPercent": 200, "MinimumHealthyPercent": 50}
    )

    described = apply(clients, changed, zone, create=False)

    assert described["StackStatus"] == "UPDATE_COMPLETE", failed(clients)
    updated = outputs(described)
    assert {key: updated[key] for key in ("Arn", "Targets", "Listener", "Service", "DnsName")} == {
        key: created[key] for key in ("Arn", "Targets", "Listener", "Service", "DnsName")
    }
    elbv2 = clients("elbv2", REGION)
    (group,) = elbv2.describe_target_groups(TargetGroupArns=[created["Targets"]])["TargetGroups"]
    assert (group["HealthCheckPath"], group["HealthCheckIntervalSeconds"]) == ("/health", 30)
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=created["Arn"])["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "300"} in attributes
    (tags,) = elbv2.describe_tags(ResourceArns=[created["Arn"]])["TagDescriptions"]
    assert tags["Tags"] == [{"Key": "Application", "Value": "dataall-prod"}]
    made = described_service(clients, created["Service"])
    assert made["desiredCount"] == 1
    assert (
        made["deploymentConfiguration"]["maximumPercent"],
        made["deploymentConfiguration"]["minimumHealthyPercent"],
    ) == (200, 50)

    cfn = clients("cloudformation", REGION)
    cfn.delete_stack(StackName="albfront")
    deleted = settle(cfn, described["StackId"])

    assert deleted["StackStatus"] == "DELETE_COMPLETE", failed(clients, described["StackId"])
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert clients("ecs", REGION).list_services(cluster="dataall-test-cluster")["serviceArns"] == []
    assert described_service(clients, created["Service"])["status"] == "INACTIVE"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            "no listener",
            r"The target group with targetGroupArn arn:aws:elasticloadbalancing:eu-west-1:\d{12}:targetgroup/\S+ "
            r"does not have an associated load balancer\.",
        ),
        (
            "no network configuration",
            r"Network Configuration must be provided when networkMode 'awsvpc' is specified\.",
        ),
        (
            "instance targets",
            r"The provided target group \S+ has target type instance, which is incompatible with the awsvpc "
            r"network mode specified in the task definition\.",
        ),
    ],
)
def test_a_service_ecs_would_refuse_fails_its_stack_with_ecss_words(clients: Clients, change: str, reason: str) -> None:
    """Amazon ECS API Reference: CreateService (InvalidParameterException): a target group no balancer's listener
    forwards to has no associated load balancer (a service created before its listener fails in AWS: CDK makes the
    service depend on it); a task definition in the `awsvpc` network mode needs `NetworkConfiguration`; and awsvpc
    tasks register by IP address, so their target group's type must be `ip` (Amazon ECS Developer Guide: "Use an
    Application Load Balancer for Amazon ECS"). The stack rolls back."""
    template = albfront_template(depends_on_listener=change != "no listener")
    resources = template["Resources"]
    if change == "no listener":
        del resources["Listener"], template["Outputs"]["Listener"]
    if change == "no network configuration":
        del resources["Service"]["Properties"]["NetworkConfiguration"]
    if change == "instance targets":
        resources["Targets"]["Properties"]["TargetType"] = "instance"

    described = apply(clients, template, hosted_zone(clients))

    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    ((_, _, message),) = [event for event in failed(clients) if event[0] == "Service"]
    assert re.search(reason, str(message)), message
    assert clients("elbv2", REGION).describe_load_balancers()["LoadBalancers"] == []


def test_an_https_listener_serves_the_certificate_and_policy_it_names(clients: Clients) -> None:
    """Elastic Load Balancing API Reference: CreateListener (`Protocol` HTTPS with `Certificates` and `SslPolicy`),
    ModifyListener (a new port changes the listener in place: AWS CloudFormation template reference,
    AWS::ElasticLoadBalancingV2::Listener, `Port` update requires No interruption)."""
    certificate = issued_certificate(clients("acm", REGION), DOMAIN)
    template = albfront_template()
    template["Resources"]["Listener"]["Properties"].update(
        Port=443,
        Protocol="HTTPS",
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate}],
    )
    zone = hosted_zone(clients)
    created = outputs(apply(clients, template, zone))
    elbv2 = clients("elbv2", REGION)
    (made,) = elbv2.describe_listeners(ListenerArns=[created["Listener"]])["Listeners"]

    assert (made["Port"], made["Protocol"], made["SslPolicy"]) == (443, "HTTPS", "ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert [c["CertificateArn"] for c in made["Certificates"]] == [certificate]

    template["Resources"]["Listener"]["Properties"]["Port"] = 8443
    updated = apply(clients, template, zone, create=False)

    assert updated["StackStatus"] == "UPDATE_COMPLETE", failed(clients)
    (changed,) = elbv2.describe_listeners(LoadBalancerArn=created["Arn"])["Listeners"]
    assert (changed["ListenerArn"], changed["Port"]) == (created["Listener"], 8443)


def test_a_target_groups_targets_are_registered_and_an_update_registers_the_difference(clients: Clients) -> None:
    """Elastic Load Balancing API Reference: RegisterTargets, DeregisterTargets, DescribeTargetHealth: a target
    group's `Targets` (here IP addresses, as for an `ip` group) are registered when it is made; an update
    deregisters the dropped ones and registers the added ones, in place (AWS CloudFormation template reference:
    AWS::ElasticLoadBalancingV2::TargetGroup, `Targets` update requires No interruption)."""
    template = albfront_template()
    targets = template["Resources"]["Targets"]["Properties"]
    targets["Targets"] = [{"Id": "10.4.0.10", "Port": 80}, {"Id": "10.4.1.10", "Port": 80}]
    zone = hosted_zone(clients)
    created = outputs(apply(clients, template, zone))
    elbv2 = clients("elbv2", REGION)

    def registered() -> list[str]:
        found = elbv2.describe_target_health(TargetGroupArn=created["Targets"])["TargetHealthDescriptions"]
        return sorted(d["Target"]["Id"] for d in found)

    assert registered() == ["10.4.0.10", "10.4.1.10"]

    targets["Targets"] = [{"Id": "10.4.1.10", "Port": 80}, {"Id": "10.4.1.20", "Port": 80}]
    updated = apply(clients, template, zone, create=False)

    assert updated["StackStatus"] == "UPDATE_COMPLETE", failed(clients)
    assert outputs(updated)["Targets"] == created["Targets"]
    assert registered() == ["10.4.1.10", "10.4.1.20"]


def test_a_balancer_with_deletion_protection_fails_its_stacks_delete_until_protection_is_off(clients: Clients) -> None:
    """User Guide for Application Load Balancers: "Deletion protection" (a protected balancer cannot be deleted);
    Elastic Load Balancing API Reference: DeleteLoadBalancer (OperationNotPermitted). The stack's delete fails on
    the balancer (DELETE_FAILED); with the attribute turned off, a second delete removes it."""
    template = albfront_template()
    template["Resources"]["Balancer"]["Properties"]["LoadBalancerAttributes"][0]["Value"] = "true"
    created = outputs(apply(clients, template, hosted_zone(clients)))
    cfn, elbv2 = clients("cloudformation", REGION), clients("elbv2", REGION)

    cfn.delete_stack(StackName="albfront")
    described = settle(cfn, "albfront")

    assert described["StackStatus"] == "DELETE_FAILED"
    ((_, _, reason),) = [event for event in failed(clients) if event[0] == "Balancer"]
    assert f"Load balancer '{created['Arn']}' cannot be deleted because deletion protection is enabled" in str(reason)
    assert [b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]] == [created["Arn"]]

    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=created["Arn"], Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    cfn.delete_stack(StackName="albfront")

    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []


def test_a_new_image_registers_a_new_revision_the_service_moves_to_and_the_old_one_is_deregistered(
    clients: Clients,
) -> None:
    """An upgrade's new frontend image: AWS CloudFormation template reference, AWS::ECS::TaskDefinition
    (`ContainerDefinitions` update requires Replacement: a new revision of the family, Ref its ARN), Amazon ECS API
    Reference: UpdateService (the service moves to the new revision in place), DeregisterTaskDefinition (the
    replaced revision, deleted in the update's cleanup, is INACTIVE)."""
    template = albfront_template()
    zone = hosted_zone(clients)
    created = outputs(apply(clients, template, zone))
    ecs = clients("ecs", REGION)
    first = described_service(clients, created["Service"])["taskDefinition"]
    template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Image"] = {
        "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/site:frontend-next"
    }

    updated = apply(clients, template, zone, create=False)

    assert updated["StackStatus"] == "UPDATE_COMPLETE", failed(clients)
    second = described_service(clients, created["Service"])["taskDefinition"]
    assert (first.rsplit(":", 1)[1], second.rsplit(":", 1)[1]) == ("1", "2")
    assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]  # the same family
    revision = ecs.describe_task_definition(taskDefinition=second)["taskDefinition"]
    assert revision["containerDefinitions"][0]["image"].endswith("/site:frontend-next")
    assert ecs.describe_task_definition(taskDefinition=first)["taskDefinition"]["status"] == "INACTIVE"
