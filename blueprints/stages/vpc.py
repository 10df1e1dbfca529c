"""The platform's network (data.all's VpcStack): a VPC of its own, or an existing one.

`ExistingVpcId` empty: a VPC over two Availability Zones with public and private subnets,
NAT (one gateway, or one per zone with `ProdSizing`), flow logs and VPC endpoints.
`ExistingVpcId` set: nothing of that is created and the operator's private subnets are
used. Either way the outputs are the same, so no other stage knows the difference.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from blueprints.common import BuildContext, StageSpec, StageStack
from blueprints.toolkit import (
    SUBNET_IDS_PATTERN,
    VPC_ID_PATTERN,
    accept_conditional_outputs,
    conjunction,
    flag,
    if_,
    log_group,
    when,
)

#: Interface endpoints the platform's functions and tasks use from private subnets.
INTERFACE_ENDPOINTS = (
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "secretsmanager",
    "sqs",
    "ssm",
    "sts",
    "kms",
    "xray",
    "events",
)
GATEWAY_ENDPOINTS = ("s3", "dynamodb")
ZONES = (0, 1)


class VpcStage(StageStack):
    SPEC = StageSpec(
        name="vpc",
        description="VPC, subnets, NAT, flow logs, endpoints and the platform security group",
        timeout=1800,
    )

    def __init__(self, scope: Construct, context: BuildContext, **kwargs: Any) -> None:
        super().__init__(scope, context, **kwargs)
        existing_vpc = self.parameter(
            "ExistingVpcId",
            "${param:ExistingVpcId}",
            description="An existing VPC to use instead of creating one (empty: create one)",
            allowed_pattern=f"^$|{VPC_ID_PATTERN}",
        ).value_as_string
        existing_subnets = self.parameter(
            "ExistingPrivateSubnetIds",
            "${param:ExistingPrivateSubnetIds}",
            description="Private subnets of the existing VPC, comma-separated",
            allowed_pattern=f"^$|{SUBNET_IDS_PATTERN}",
        ).value_as_string
        cidr = self.parameter(
            "VpcCidr",
            "${param:VpcCidr}",
            description="Address range of the VPC the stage creates",
            allowed_pattern=r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|20)$",
        ).value_as_string
        prod = flag(self, "ProdSizing", "Production sizing: one NAT gateway per zone")
        create = cdk.CfnCondition(self, "CreateVpc", expression=cdk.Fn.condition_equals(existing_vpc, ""))
        create_second_nat = conjunction(self, "CreateSecondNat", create, prod)

        network = Construct(self, "Network")
        vpc = ec2.CfnVPC(
            network,
            "Vpc",
            cidr_block=cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=[cdk.CfnTag(key="Name", value=self.resource_name("vpc"))],
        )
        # /22 subnets: 1,019 addresses each for Lambda and Fargate network interfaces.
        blocks = cdk.Fn.cidr(vpc.attr_cidr_block, 4, "10")
        gateway = ec2.CfnInternetGateway(network, "InternetGateway")
        attachment = ec2.CfnVPCGatewayAttachment(
            network, "InternetGatewayAttachment", vpc_id=vpc.ref, internet_gateway_id=gateway.ref
        )
        public_table = ec2.CfnRouteTable(network, "PublicRoutes", vpc_id=vpc.ref)
        internet_route = ec2.CfnRoute(
            network,
            "PublicDefaultRoute",
            route_table_id=public_table.ref,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.ref,
        )
        internet_route.node.add_dependency(attachment)

        nats: list[ec2.CfnNatGateway] = []
        addresses: list[ec2.CfnEIP] = []
        private_subnets: list[ec2.CfnSubnet] = []
        private_tables: list[ec2.CfnRouteTable] = []
        for zone in ZONES:
            az = cdk.Fn.select(zone, cdk.Fn.get_azs())
            public = ec2.CfnSubnet(
                network,
                f"PublicSubnet{zone + 1}",
                vpc_id=vpc.ref,
                availability_zone=az,
                cidr_block=cdk.Fn.select(zone, blocks),
                map_public_ip_on_launch=False,
                tags=[cdk.CfnTag(key="Name", value=self.resource_name(f"public-{zone + 1}"))],
            )
            ec2.CfnSubnetRouteTableAssociation(
                network,
                f"PublicSubnet{zone + 1}Routes",
                subnet_id=public.ref,
                route_table_id=public_table.ref,
            )
            address = ec2.CfnEIP(network, f"NatAddress{zone + 1}", domain="vpc")
            address.node.add_dependency(attachment)
            nat = ec2.CfnNatGateway(
                network,
                f"NatGateway{zone + 1}",
                subnet_id=public.ref,
                allocation_id=address.attr_allocation_id,
                tags=[cdk.CfnTag(key="Name", value=self.resource_name(f"nat-{zone + 1}"))],
            )
            nats.append(nat)
            addresses.append(address)
            private = ec2.CfnSubnet(
                network,
                f"PrivateSubnet{zone + 1}",
                vpc_id=vpc.ref,
                availability_zone=az,
                cidr_block=cdk.Fn.select(zone + 2, blocks),
                tags=[cdk.CfnTag(key="Name", value=self.resource_name(f"private-{zone + 1}"))],
            )
            table = ec2.CfnRouteTable(network, f"PrivateRoutes{zone + 1}", vpc_id=vpc.ref)
            ec2.CfnSubnetRouteTableAssociation(
                network,
                f"PrivateSubnet{zone + 1}Routes",
                subnet_id=private.ref,
                route_table_id=table.ref,
            )
            private_subnets.append(private)
            private_tables.append(table)
        for zone, table in zip(ZONES, private_tables, strict=True):
            # Without ProdSizing both zones share the first NAT gateway (one hourly charge).
            nat_id = nats[0].ref if zone == 0 else if_(create_second_nat, nats[1].ref, nats[0].ref)
            ec2.CfnRoute(
                network,
                f"PrivateDefaultRoute{zone + 1}",
                route_table_id=table.ref,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_id,
            )

        flow_logs = log_group(self, "FlowLogs", cdk.Fn.join("", ["/", self.resource_name("vpc-flow-logs")]))
        flow_role = iam.Role(
            network,
            "FlowLogsRole",
            role_name=self.resource_name("vpc-flow-logs"),
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
            inline_policies={
                "write-flow-logs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=[
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogStreams",
                            ],
                            resources=[flow_logs.log_group_arn],
                        )
                    ]
                )
            },
        )
        ec2.CfnFlowLog(
            network,
            "FlowLog",
            resource_id=vpc.ref,
            resource_type="VPC",
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_group_name=flow_logs.log_group_name,
            deliver_logs_permission_arn=flow_role.role_arn,
        )
        when(flow_logs, create)

        vpc_id = if_(create, vpc.ref, existing_vpc)
        platform_sg = ec2.CfnSecurityGroup(
            self,
            "PlatformSecurityGroup",
            group_name=self.resource_name("platform"),
            group_description="Functions and tasks of the platform",
            vpc_id=vpc_id,
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_ip="0.0.0.0/0",
                    description="HTTPS to AWS APIs and the identity provider",
                ),
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="tcp",
                    from_port=5432,
                    to_port=5432,
                    cidr_ip="0.0.0.0/0",
                    description="PostgreSQL, admitted by the database's own security group",
                ),
            ],
        )
        self._endpoints(network, vpc, platform_sg, private_subnets, private_tables)
        when(network, create)
        for second in (nats[1], addresses[1]):
            second.cfn_options.condition = create_second_nat

        accept_conditional_outputs(self)
        self.output("VpcId", vpc_id, "VPC of the platform")
        self.output(
            "PrivateSubnetIds",
            if_(create, cdk.Fn.join(",", [s.ref for s in private_subnets]), existing_subnets),
            "Private subnets of the platform, comma-separated",
        )
        self.output(
            "PlatformSecurityGroupId",
            platform_sg.attr_group_id,
            "Security group of the platform's functions and tasks",
        )

    def _endpoints(
        self,
        scope: Construct,
        vpc: ec2.CfnVPC,
        platform_sg: ec2.CfnSecurityGroup,
        subnets: list[ec2.CfnSubnet],
        tables: list[ec2.CfnRouteTable],
    ) -> None:
        """Interface and gateway endpoints, only in the VPC this stage creates.

        An existing VPC keeps its own: a second interface endpoint with private DNS for
        the same service fails to create there.
        """
        endpoint_sg = ec2.CfnSecurityGroup(
            scope,
            "EndpointSecurityGroup",
            group_name=self.resource_name("endpoints"),
            group_description="VPC interface endpoints of the platform",
            vpc_id=vpc.ref,
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    source_security_group_id=platform_sg.attr_group_id,
                    description="HTTPS from the platform's functions and tasks",
                )
            ],
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="-1",
                    cidr_ip="127.0.0.1/32",
                    description="No outbound traffic",
                )
            ],
        )
        for service in INTERFACE_ENDPOINTS:
            ec2.CfnVPCEndpoint(
                scope,
                "Endpoint" + "".join(part.title() for part in service.split(".")),
                vpc_id=vpc.ref,
                service_name=cdk.Fn.join("", ["com.amazonaws.", cdk.Aws.REGION, f".{service}"]),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.ref for s in subnets],
                security_group_ids=[endpoint_sg.attr_group_id],
            )
        for service in GATEWAY_ENDPOINTS:
            ec2.CfnVPCEndpoint(
                scope,
                f"Endpoint{service.title()}",
                vpc_id=vpc.ref,
                service_name=cdk.Fn.join("", ["com.amazonaws.", cdk.Aws.REGION, f".{service}"]),
                vpc_endpoint_type="Gateway",
                route_table_ids=[t.ref for t in tables],
            )
