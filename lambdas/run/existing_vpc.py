"""The operator's VPC an installation names (data.all's `vpc_id`, the release's `VpcId`), read and checked by Plan
before anything changes.

data.all looks its `vpc_id` up at synthesis (CDK's `ec2.Vpc.from_lookup`) and its templates take the VPC's CIDR,
private subnets and their route tables, and public subnets; the release holds data.all's own VPC under a
condition instead, and takes those from parameters (`blueprints.dataall.rules.existing_vpc_from_the_option`),
which Plan fills here as CDK's lookup would: each subnet Public, Private or Isolated as the CLI's VPC context
provider classifies it (its `aws-cdk:subnet-type` tag; else Public if it maps public IPs on launch or its route
table routes to an internet gateway; Private if it routes 0.0.0.0/0 to a NAT or transit gateway; else
Isolated), grouped by type and `aws-cdk:subnet-name` tag (in EC2's order), each group's subnets by zone. The
release's templates hold as many private subnets as data.all's own VPC has (`VpcPrivateSubnet<n>Id`): a VPC of
another shape, or one whose private subnets share a zone (data.all's endpoints take one subnet per zone), is
refused by name, as is a VPC the region does not have. With `VpcEndpointsSecurityGroupId` (data.all's
`vpc_endpoints_sg`: the VPC has its own endpoints, and data.all makes none) the group is read too: one the region
lacks, or of another VPC, is refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambdas.core.errors import InvalidOptions
from lambdas.data.vpcs import route_tables, security_group, subnets, vpc
from lambdas.release.manifest import OptionValue, Step
from lambdas.run.refusals import refuse_a_change

VPC_ID = "VpcId"
ENDPOINTS_GROUP = "VpcEndpointsSecurityGroupId"
CIDR = "VpcCidrBlock"
PRIVATE_ROUTE_TABLES = "VpcPrivateRouteTableIds"
PUBLIC_SUBNETS = "VpcPublicSubnetIds"
PRIVATE_SUBNET = re.compile(r"VpcPrivateSubnet(?P<n>[1-9][0-9]*)Id")
#: the tags CDK's lookup reads (`aws-cdk:subnet-type`: Public, Private or Isolated)
TYPE_TAG = "aws-cdk:subnet-type"
NAME_TAG = "aws-cdk:subnet-name"
TYPES = ("Public", "Private", "Isolated")


def private_subnet(n: int) -> str:
    return f"VpcPrivateSubnet{n}Id"


def is_vpc_parameter(name: str) -> bool:
    """Whether `name` is a value of the operator's VPC Plan fills (a context parameter)."""
    return name in (CIDR, PRIVATE_ROUTE_TABLES, PUBLIC_SUBNETS) or PRIVATE_SUBNET.fullmatch(name) is not None


def make(
    steps: Iterable[Step],
    options: Mapping[str, OptionValue],
    home: str,
    regional_client: Callable[[str, str], Any],
    installed: Mapping[str, OptionValue] | None = None,
) -> dict[str, str]:
    """The VPC's values for the steps that read them (none: nothing), empty without `VpcId` (data.all makes its
    own VPC); refuses the run (InvalidOptions, `options.VpcId`) when the VPC, read with EC2 in the reading stage's
    region, cannot take data.all's templates, or when it is not the VPC of the installed release's options
    (`installed`): data.all's VPC is chosen at install."""
    readers = [step for step in steps if step.reads_param(CIDR)]
    if not readers:
        return {}
    count = 1
    while any(step.reads_param(private_subnet(count + 1)) for step in readers):
        count += 1
    vpc_id = str(options.get(VPC_ID, "") or "")
    group = str(options.get(ENDPOINTS_GROUP, "") or "")
    if installed is not None:
        _refuse_a_move(str(installed.get(VPC_ID, "") or ""), vpc_id)
        _refuse_other_endpoints(str(installed.get(ENDPOINTS_GROUP, "") or ""), group)
    names = [CIDR, PRIVATE_ROUTE_TABLES, PUBLIC_SUBNETS, *(private_subnet(n) for n in range(1, count + 1))]
    if not vpc_id:
        return dict.fromkeys(names, "")
    stage = readers[0]
    ec2 = regional_client("ec2", stage.region_in(home))
    values = _values(ec2, vpc_id, count, stage.name)
    if group:
        _check_the_endpoints_group(ec2, group, vpc_id)
    return values


def _refuse_other_endpoints(before: str, after: str) -> None:
    """The endpoints data.all's functions and tasks reach are chosen at install, as the VPC is: data.all's own (its
    29 endpoints, with private DNS) and the operator's cannot both serve a VPC (an interface endpoint's private DNS
    name is one per service and VPC), and the group data.all made is read by the rules of its functions' groups in
    later stages, which the vpc stage's update would delete it under."""
    refuse_a_change(
        ENDPOINTS_GROUP, before, after, installed="data.all is installed with", own="data.all's own endpoints",
        why="the VPC's endpoints are chosen at install (data.all's own, with private DNS, and the VPC's cannot both "
        "serve it, and data.all's functions' security groups read the endpoints' group)",
    )  # fmt: skip


def _check_the_endpoints_group(ec2: Any, group: str, vpc_id: str) -> None:
    found, code = security_group(ec2, group)
    if found is None:
        why = f"the region has no such security group ({code})"
    elif found.get("VpcId") != vpc_id:
        why = f"it is a group of {found.get('VpcId') or 'no VPC'}, not of {VPC_ID} {vpc_id}"
    else:
        return
    raise InvalidOptions(
        f"{ENDPOINTS_GROUP} {group}: {why}; it names the security group of the endpoints of the operator's VPC, which "
        "data.all's functions and tasks reach; nothing was changed",
        field=f"options.{ENDPOINTS_GROUP}",
    )


def _refuse_a_move(before: str, after: str) -> None:
    """data.all's VPC holds its database, search domain, functions and endpoints, and none moves to another VPC by
    a stack update: their security groups are replaced (AWS::EC2::SecurityGroup `VpcId`: "Update requires:
    Replacement", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroup.html),
    an Aurora cluster's DB subnet group takes no subnets of another VPC, and data.all's own VPC, deleted, would
    take what is in it. An installed data.all keeps the VPC it was installed in."""
    refuse_a_change(
        VPC_ID, before, after, installed="data.all is installed in", own="data.all's own VPC", none="no VpcId",
        why="the VPC is chosen at install (data.all's database, search domain, functions and endpoints are in it, and "
        "a stack update cannot move them to another)", then="install in the other VPC",
    )  # fmt: skip


def _refuse(vpc_id: str, why: str) -> InvalidOptions:
    return InvalidOptions(f"{VPC_ID} {vpc_id}: {why}; nothing was changed", field=f"options.{VPC_ID}")


def _values(ec2: Any, vpc_id: str, count: int, stage: str) -> dict[str, str]:
    found, code = vpc(ec2, vpc_id)
    if found is None:
        raise _refuse(vpc_id, f"the region has no such VPC ({code}), which stage {stage} puts data.all in")
    groups = lookup_groups(subnets(ec2, vpc_id), route_tables(ec2, vpc_id), vpc_id)
    private = [s for kind, _, members in groups if kind == "Private" for s in members]
    public = [s for kind, _, members in groups if kind == "Public" for s in members]
    if len(private) != count:
        listed = ", ".join(s["subnetId"] for s in private) or "none"
        raise _refuse(
            vpc_id,
            f"has {len(private)} private subnets ({listed}), the release takes {count} (data.all's own VPC's "
            "shape): a subnet is private when its route table routes 0.0.0.0/0 to a NAT or transit gateway, or it is "
            f"tagged {TYPE_TAG}=Private",
        )
    zones = {s["az"] for s in private}
    if len(zones) != count:
        raise _refuse(
            vpc_id,
            f"its {count} private subnets are in {len(zones)} availability zones ({', '.join(sorted(zones))}); the "
            "release takes each in a zone of its own (data.all's endpoints take one subnet per zone)",
        )
    tables = list(dict.fromkeys(s["routeTableId"] for s in private))  # CDK's gateway endpoint: each table once
    return {
        CIDR: str(found.get("CidrBlock", "")),
        PRIVATE_ROUTE_TABLES: ",".join(tables),
        PUBLIC_SUBNETS: ",".join(s["subnetId"] for s in public),
        **{private_subnet(n): s["subnetId"] for n, s in enumerate(private, start=1)},
    }


def lookup_groups(
    listed: list[dict[str, Any]], tables: list[dict[str, Any]], vpc_id: str
) -> list[tuple[str, str, list[dict[str, str]]]]:
    """The VPC's subnets as CDK's VPC context provider groups them (`returnAsymmetricSubnets`): (type, name,
    subnets) in the order each group's first subnet comes in `listed`, each group's subnets by zone."""
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations") or [])), None)
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for subnet in listed:
        subnet_id = str(subnet["SubnetId"])
        table = next(
            (t for t in tables if any(a.get("SubnetId") == subnet_id for a in t.get("Associations") or [])), main
        )
        tags = {str(t.get("Key")): str(t.get("Value")) for t in subnet.get("Tags") or []}
        kind = tags.get(TYPE_TAG) or _kind(subnet, table)
        if kind not in TYPES:
            raise _refuse(vpc_id, f"subnet {subnet_id} is tagged {TYPE_TAG}={kind}, which CDK's lookup refuses")
        if table is None:
            raise _refuse(vpc_id, f"subnet {subnet_id} has no route table (and the VPC no main one)")
        entry = {
            "subnetId": subnet_id,
            "az": str(subnet.get("AvailabilityZone", "")),
            "routeTableId": table["RouteTableId"],
        }
        groups.setdefault((kind, tags.get(NAME_TAG) or kind), []).append(entry)
    return [(kind, name, sorted(members, key=lambda s: s["az"])) for (kind, name), members in groups.items()]


def _kind(subnet: Mapping[str, Any], table: Mapping[str, Any] | None) -> str:
    routes = (table or {}).get("Routes") or []
    default = [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    if subnet.get("MapPublicIpOnLaunch") or any(str(r.get("GatewayId", "")).startswith("igw-") for r in routes):
        return "Public"
    if any(r.get("NatGatewayId") or r.get("TransitGatewayId") for r in default):
        return "Private"
    return "Isolated"
