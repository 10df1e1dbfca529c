"""EC2's VPCs, their subnets and route tables, read by the VPC's id."""

from __future__ import annotations

from typing import Any

from lambdas.data.aws import found

#: EC2's answers for a VPC id the account has none of in the region (a malformed id: InvalidVpcID.Malformed).
_NOT_THERE = ("InvalidVpcID.NotFound", "InvalidVpcID.Malformed")


def vpc(ec2: Any, vpc_id: str) -> tuple[dict[str, Any] | None, str]:
    """The VPC `vpc_id` (DescribeVpcs' `Vpc`), or None and EC2's code when the region has none of that id.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html"""
    answer, code = found(lambda: ec2.describe_vpcs(VpcIds=[vpc_id]).get("Vpcs") or [], _NOT_THERE)
    return (dict(answer[0]), code) if answer else (None, code or "InvalidVpcID.NotFound")


def subnets(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    """The VPC's subnets, in EC2's order (DescribeSubnets, every page).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSubnets.html"""
    pages = ec2.get_paginator("describe_subnets").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [dict(subnet) for page in pages for subnet in page.get("Subnets", [])]


def route_tables(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    """The VPC's route tables (DescribeRouteTables, every page).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRouteTables.html"""
    pages = ec2.get_paginator("describe_route_tables").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [dict(table) for page in pages for table in page.get("RouteTables", [])]


#: EC2's answers for a security group id the account has none of in the region.
_NO_GROUP = ("InvalidGroup.NotFound", "InvalidGroupId.Malformed", "InvalidGroupId.NotFound")


def security_group(ec2: Any, group_id: str) -> tuple[dict[str, Any] | None, str]:
    """The security group `group_id` (DescribeSecurityGroups' `SecurityGroup`), or None and EC2's code when the
    region has none of that id.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSecurityGroups.html"""
    answer, code = found(
        lambda: ec2.describe_security_groups(GroupIds=[group_id]).get("SecurityGroups") or [], _NO_GROUP
    )
    return (dict(answer[0]), code) if answer else (None, code or "InvalidGroup.NotFound")


#: EC2's answers for a VPC endpoint id the account has none of in the region.
_NO_ENDPOINT = ("InvalidVpcEndpointId.NotFound", "InvalidVpcEndpointId.Malformed", "InvalidVpcEndpoint.NotFound")


def vpc_endpoint(ec2: Any, endpoint_id: str) -> tuple[dict[str, Any] | None, str]:
    """The VPC endpoint `endpoint_id` (DescribeVpcEndpoints' `VpcEndpoint`), or None and EC2's code when the region
    has none of that id.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpoints.html"""
    answer, code = found(
        lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id]).get("VpcEndpoints") or [], _NO_ENDPOINT
    )
    return (dict(answer[0]), code) if answer else (None, code or "InvalidVpcEndpointId.NotFound")
