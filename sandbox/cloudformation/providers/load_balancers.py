"""Elastic Load Balancing v2 and the ECS services behind it, made through the services' public APIs.

CloudFormation's handlers of these types call Elastic Load Balancing's and ECS's APIs; so do these
bindings, in moto's backends, where DescribeLoadBalancers, DescribeTargetGroups, DescribeTaskDefinition
and DescribeServices then see what the stack made. moto's own CloudFormation models of these types left
out most of their properties (a balancer's `Type` and `LoadBalancerAttributes`, a target group's
`TargetGroupAttributes` and `Targets`, a task definition's `NetworkMode`, `Cpu` and roles, a service's
`LoadBalancers`, `LaunchType` and `NetworkConfiguration`), could not update a target group or a
balancer, and could delete neither a target group nor a service.

- `AWS::ElasticLoadBalancingV2::LoadBalancer`: CreateLoadBalancer, then ModifyLoadBalancerAttributes;
  an update sets its security groups, subnets, address type and attributes in place (`Name`, `Type`
  and `Scheme` replace it); Ref is its ARN.
- `AWS::ElasticLoadBalancingV2::TargetGroup`: CreateTargetGroup, ModifyTargetGroupAttributes and
  RegisterTargets; an update changes the health check in place (ModifyTargetGroup) and registers the
  difference of `Targets`; Ref is its ARN.
- `AWS::ElasticLoadBalancingV2::Listener`: CreateListener, ModifyListener, DeleteListener; Ref its ARN.
- `AWS::ECS::TaskDefinition`: RegisterTaskDefinition with every property; Ref is its ARN.
- `AWS::ECS::Service`: CreateService, refused as ECS refuses it (below); the sandbox runs no task and
  pulls no image (moto counts the desired tasks pending after CreateService, running after an
  UpdateService); Ref is its ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from sandbox.cloudformation.providers.api_params import api_params
from sandbox.cloudformation.providers.clients import ServiceClients
from sandbox.cloudformation.providers.emulated import Emulation


def _missing_is_done(call: Any, *codes: str) -> None:
    """A delete of what is already gone is done, as CloudFormation's handlers take it."""
    try:
        call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in codes:
            raise


def _attributes(given: Any) -> list[dict[str, str]]:
    """CloudFormation's `[{Key, Value}]` attributes as the API takes them (every value text)."""
    found = []
    for entry in given or []:
        value = entry.get("Value")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        found.append({"Key": str(entry["Key"]), "Value": text})
    return found


# --------------------------------------------------------------------------- load balancers
class LoadBalancer:
    """AWS::ElasticLoadBalancingV2::LoadBalancer (Elastic Load Balancing API Reference:
    CreateLoadBalancer, SetSecurityGroups, SetSubnets, SetIpAddressType, ModifyLoadBalancerAttributes,
    DeleteLoadBalancer)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("elbv2", resource.region)
        made = client.create_load_balancer(
            **api_params(client, "CreateLoadBalancer", resource.properties, Name=resource.name)
        )["LoadBalancers"][0]
        resource.data["arn"] = made["LoadBalancerArn"]
        attributes = _attributes(resource.prop("LoadBalancerAttributes"))
        if attributes:
            client.modify_load_balancer_attributes(LoadBalancerArn=made["LoadBalancerArn"], Attributes=attributes)
        self._describe(client, resource)

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("elbv2", resource.region)
        arn = resource.data["arn"]
        if resource.prop("SecurityGroups") != previous.prop("SecurityGroups"):
            client.set_security_groups(LoadBalancerArn=arn, SecurityGroups=list(resource.prop("SecurityGroups") or []))
        if (resource.prop("Subnets"), resource.prop("SubnetMappings")) != (
            previous.prop("Subnets"),
            previous.prop("SubnetMappings"),
        ):
            client.set_subnets(**api_params(client, "SetSubnets", resource.properties, LoadBalancerArn=arn))
        if resource.prop("IpAddressType") != previous.prop("IpAddressType") and resource.prop("IpAddressType"):
            client.set_ip_address_type(LoadBalancerArn=arn, IpAddressType=str(resource.prop("IpAddressType")))
        attributes = _attributes(resource.prop("LoadBalancerAttributes"))
        if attributes != _attributes(previous.prop("LoadBalancerAttributes")) and attributes:
            client.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=attributes)
        self._describe(client, resource)

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        """DeleteLoadBalancer, which also deletes its listeners (AWS refuses while deletion protection is on)."""
        client = clients("elbv2", resource.region)
        _missing_is_done(
            lambda: client.delete_load_balancer(LoadBalancerArn=resource.data["arn"]), "LoadBalancerNotFound"
        )

    @staticmethod
    def _describe(client: Any, resource: Emulation) -> None:
        """What `Fn::GetAtt` answers, as DescribeLoadBalancers has it."""
        (balancer,) = client.describe_load_balancers(LoadBalancerArns=[resource.data["arn"]])["LoadBalancers"]
        resource.data.update(
            dns_name=balancer["DNSName"],
            zone=balancer["CanonicalHostedZoneId"],
            name=balancer["LoadBalancerName"],
            # `app/<name>/<id>`: the ARN's resource after `loadbalancer/` (CloudWatch's dimension)
            full_name=str(balancer["LoadBalancerArn"]).split(":loadbalancer/", 1)[1],
            security_groups=list(balancer.get("SecurityGroups", [])),
        )


class TargetGroup:
    """AWS::ElasticLoadBalancingV2::TargetGroup (Elastic Load Balancing API Reference: CreateTargetGroup,
    ModifyTargetGroup, ModifyTargetGroupAttributes, RegisterTargets, DeregisterTargets, DeleteTargetGroup).
    ELB refuses to delete a group a listener still forwards to (ResourceInUse)."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("elbv2", resource.region)
        made = client.create_target_group(
            **api_params(client, "CreateTargetGroup", resource.properties, Name=resource.name)
        )["TargetGroups"][0]
        arn = made["TargetGroupArn"]
        resource.data.update(
            arn=arn, name=made["TargetGroupName"], full_name=str(arn).split(":", 5)[5], load_balancers=[]
        )
        attributes = _attributes(resource.prop("TargetGroupAttributes"))
        if attributes:
            client.modify_target_group_attributes(TargetGroupArn=arn, Attributes=attributes)
        targets = self._targets(client, resource)
        if targets:
            client.register_targets(TargetGroupArn=arn, Targets=targets)

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("elbv2", resource.region)
        arn = resource.data["arn"]
        health_check = api_params(client, "ModifyTargetGroup", resource.properties, TargetGroupArn=arn)
        if set(health_check) > {"TargetGroupArn"}:
            client.modify_target_group(**health_check)
        attributes = _attributes(resource.prop("TargetGroupAttributes"))
        if attributes != _attributes(previous.prop("TargetGroupAttributes")) and attributes:
            client.modify_target_group_attributes(TargetGroupArn=arn, Attributes=attributes)
        targets, before = self._targets(client, resource), self._targets(client, previous)
        dropped = [target for target in before if target not in targets]
        added = [target for target in targets if target not in before]
        if dropped:
            client.deregister_targets(TargetGroupArn=arn, Targets=dropped)
        if added:
            client.register_targets(TargetGroupArn=arn, Targets=added)
        (group,) = client.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        resource.data["load_balancers"] = list(group.get("LoadBalancerArns", []))

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("elbv2", resource.region)
        _missing_is_done(lambda: client.delete_target_group(TargetGroupArn=resource.data["arn"]), "TargetGroupNotFound")

    @staticmethod
    def _targets(client: Any, resource: Emulation) -> list[dict[str, Any]]:
        if not resource.prop("Targets"):
            return []
        return list(api_params(client, "RegisterTargets", resource.properties).get("Targets", []))


class Listener:
    """AWS::ElasticLoadBalancingV2::Listener (Elastic Load Balancing API Reference: CreateListener,
    ModifyListener, DeleteListener); a new `LoadBalancerArn` replaces it."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        client = clients("elbv2", resource.region)
        made = client.create_listener(**api_params(client, "CreateListener", resource.properties))["Listeners"][0]
        resource.data["arn"] = made["ListenerArn"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        client = clients("elbv2", resource.region)
        client.modify_listener(
            **api_params(client, "ModifyListener", resource.properties, ListenerArn=resource.data["arn"])
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        client = clients("elbv2", resource.region)
        _missing_is_done(lambda: client.delete_listener(ListenerArn=resource.data["arn"]), "ListenerNotFound")


# --------------------------------------------------------------------------- ecs
class TaskDefinition:
    """AWS::ECS::TaskDefinition (Amazon ECS API Reference: RegisterTaskDefinition, DeregisterTaskDefinition): every
    property given (moto's model registered the family, containers, volumes and memory only, so DescribeTaskDefinition
    answered no `networkMode`, `cpu`, `requiresCompatibilities` or roles). Every property but `Tags` replaces it (a
    new revision); deleting it deregisters its revision (INACTIVE, as in AWS). Ref is its ARN."""

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        ecs = clients("ecs", resource.region)
        family = resource.prop("Family") or resource.name
        made = ecs.register_task_definition(
            **api_params(ecs, "RegisterTaskDefinition", resource.properties, family=str(family))
        )["taskDefinition"]
        resource.data["arn"] = made["taskDefinitionArn"]

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        """Nothing changes in place but `Tags` (retagged by the type's tagger)."""

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        ecs = clients("ecs", resource.region)
        _missing_is_done(lambda: ecs.deregister_task_definition(taskDefinition=resource.data["arn"]), "ClientException")


class EcsService:
    """AWS::ECS::Service (Amazon ECS API Reference: CreateService, UpdateService, DeleteService).

    ECS refuses, before it makes anything:
    - a target group in `LoadBalancers` that no load balancer's listener or rule forwards to ("The target
      group with targetGroupArn ... does not have an associated load balancer"): a stack whose service
      does not depend on its listener fails this way in AWS;
    - a task definition in the `awsvpc` network mode without `NetworkConfiguration` ("Network
      Configuration must be provided when networkMode 'awsvpc' is specified"), and an `awsvpc` service
      behind a target group whose target type is not `ip` (Amazon ECS Developer Guide: "Use an
      Application Load Balancer for Amazon ECS": awsvpc tasks register by IP address).

    moto's CreateService drops `DeploymentConfiguration` and `HealthCheckGracePeriodSeconds`; they are
    given to UpdateService, which keeps them, so DescribeServices answers them as in AWS. Deleting the
    service forces it down (DeleteService with `force`), as the handler scales it to zero first.
    """

    def create(self, clients: ServiceClients, resource: Emulation) -> None:
        ecs = clients("ecs", resource.region)
        self._refuse_what_ecs_refuses(clients, resource)
        made = ecs.create_service(**api_params(ecs, "CreateService", resource.properties, serviceName=resource.name))[
            "service"
        ]
        resource.data.update(arn=made["serviceArn"], name=made["serviceName"], cluster=made["clusterArn"])
        kept = self._what_create_drops(ecs, resource)
        if kept:
            ecs.update_service(cluster=made["clusterArn"], service=made["serviceName"], **kept)

    def update(self, clients: ServiceClients, resource: Emulation, previous: Emulation) -> None:
        ecs = clients("ecs", resource.region)
        self._refuse_what_ecs_refuses(clients, resource)
        ecs.update_service(
            **api_params(
                ecs,
                "UpdateService",
                resource.properties,
                cluster=resource.data["cluster"],
                service=resource.data["name"],
            )
        )

    def delete(self, clients: ServiceClients, resource: Emulation, *, snapshot: bool) -> None:
        ecs = clients("ecs", resource.region)
        _missing_is_done(
            lambda: ecs.delete_service(cluster=resource.data["cluster"], service=resource.data["name"], force=True),
            "ServiceNotFoundException",
            "ClusterNotFoundException",
        )

    @staticmethod
    def _what_create_drops(ecs: Any, resource: Emulation) -> dict[str, Any]:
        wanted = {
            name: value
            for name, value in api_params(ecs, "UpdateService", resource.properties).items()
            if name in ("deploymentConfiguration", "healthCheckGracePeriodSeconds")
        }
        return wanted

    @staticmethod
    def _refuse_what_ecs_refuses(clients: ServiceClients, resource: Emulation) -> None:
        ecs, elbv2 = clients("ecs", resource.region), clients("elbv2", resource.region)
        task_definition = resource.prop("TaskDefinition")
        network_mode = None
        if task_definition:
            described = ecs.describe_task_definition(taskDefinition=str(task_definition))["taskDefinition"]
            network_mode = described.get("networkMode")
        if network_mode == "awsvpc" and not resource.prop("NetworkConfiguration"):
            raise _invalid_parameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
        for balancer in resource.prop("LoadBalancers") or []:
            arn = balancer.get("TargetGroupArn") if isinstance(balancer, Mapping) else None
            if not arn:
                continue
            (group,) = elbv2.describe_target_groups(TargetGroupArns=[str(arn)])["TargetGroups"]
            if not group.get("LoadBalancerArns"):
                raise _invalid_parameter(
                    f"The target group with targetGroupArn {arn} does not have an associated load balancer."
                )
            if network_mode == "awsvpc" and group.get("TargetType", "instance") != "ip":
                raise _invalid_parameter(
                    f"The provided target group {arn} has target type {group.get('TargetType', 'instance')}, "
                    "which is incompatible with the awsvpc network mode specified in the task definition."
                )


def _invalid_parameter(message: str) -> ClientError:
    """ECS's refusal, as its API answers it (HTTP 400, InvalidParameterException)."""
    return ClientError(
        {
            "Error": {"Code": "InvalidParameterException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "CreateService",
    )
