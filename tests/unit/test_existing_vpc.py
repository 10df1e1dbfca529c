"""data.all's `vpc_id` (the release's `VpcId`): the rule that holds data.all's own VPC under the condition
`DataallNewVpc` and gives what data.all makes for any VPC the operator's by `Fn::If`
(`blueprints.dataall.rules.existing_vpc_from_the_option`), and Plan's reading of the operator's VPC as CDK's
VPC lookup reads it (`lambdas/run/existing_vpc.py`: DescribeVpcs, DescribeSubnets, DescribeRouteTables), which
refuses a VPC of another shape than the release's by name before anything changes."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from blueprints.dataall import rules
from blueprints.dataall.stages import ImportedStage
from cloud_assembly.reader import CloudAssembly
from installer.dataall import OPTION_RULES, stage_document
from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidOptions
from lambdas.data.records import ReleaseRecord
from lambdas.release.manifest import evaluate, resolve_parameters
from lambdas.run import existing_vpc
from lambdas.run.planning import plan
from tests import existing_vpc as operators
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_planning import request

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")
SYNTHESIS = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})
BACKEND = "dataall-dev-backend-stage-backend-stack"
ARTIFACTS = "dataall-test-artifacts"
#: what `create_new_vpc` makes (and its restricted NACL)
NEW_VPC_TYPES = {
    "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::Route", "AWS::EC2::EIP", "AWS::EC2::NatGateway", "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::FlowLog", "AWS::Logs::LogGroup", "AWS::IAM::Role",
    "AWS::EC2::NetworkAcl", "AWS::EC2::NetworkAclEntry", "AWS::EC2::SubnetNetworkAclAssociation",
}  # fmt: skip


def data_alls_vpc_stack(version: str = "2.9.0") -> dict[str, Any]:
    backend = CloudAssembly.load(UPSTREAM / version / "cdk.out").stack(BACKEND)
    (vpc,) = [nested for nested in backend.nested().values() if nested.construct_name == "Vpc"]
    return vpc.template


def new_vpc(template: dict[str, Any], nacl: bool = False) -> dict[str, Any]:
    """`template` as CloudFormation makes it without `VpcId` (data.all's own VPC)."""
    values = {name: "" for name in rules.vpc_context_parameters(template)}
    return operators.resolved(
        template, {**values, rules.VPC_ID: "", rules.VPC_ENDPOINTS_SG: "", rules.VPC_RESTRICTED_NACL: str(nacl).lower()}
    )


def with_nacl(template: dict[str, Any], on: bool) -> dict[str, Any]:
    return operators.resolved(template, {rules.VPC_RESTRICTED_NACL: str(on).lower()})


WITHOUT_THE_RULE = tuple(
    rule
    for rule in rules.RULES
    if rule not in (rules.existing_vpc_from_the_option, rules.vpc_endpoints_sg_from_the_option)
)


# ---------------------------------------------------------------------- the import's rule
@needs_upstream
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
@pytest.mark.parametrize("nacl", [False, True], ids=["no nacl", "restricted nacl"])
def test_without_vpc_id_the_vpc_stage_is_data_alls_own_vpc_as_it_was(version: str, nacl: bool) -> None:
    upstream = data_alls_vpc_stack(version)

    template = rules.apply(upstream, SYNTHESIS)

    assert template["Parameters"][rules.VPC_ID]["Default"] == ""
    assert new_vpc(template, nacl) == with_nacl(rules.apply(upstream, SYNTHESIS, WITHOUT_THE_RULE), nacl)


@needs_upstream
def test_with_the_operators_vpc_data_all_makes_no_vpc_and_its_endpoints_group_and_parameters_take_it() -> None:
    template = rules.apply(data_alls_vpc_stack(), SYNTHESIS)

    made = operators.resolved(template, {**operators.parameters(), rules.VPC_RESTRICTED_NACL: "true"})

    resources = made["Resources"]
    types = {r["Type"] for r in resources.values()}
    assert not types & (NEW_VPC_TYPES - {"AWS::CDK::Metadata"})  # not even the restricted NACL
    assert sorted(types) == [
        "AWS::CDK::Metadata", "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::VPCEndpoint",
        "AWS::SSM::Parameter",
    ]  # fmt: skip
    endpoints = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::VPCEndpoint"]
    private = [s for s, *_ in operators.PRIVATE]
    assert len(endpoints) == 29 and {e["VpcId"] for e in endpoints} == {operators.VPC}
    assert [e["RouteTableIds"] for e in endpoints if e["VpcEndpointType"] == "Gateway"] == [
        [t for *_, t in operators.PRIVATE]
    ]
    assert all(e["SubnetIds"] == private for e in endpoints if e["VpcEndpointType"] == "Interface")
    assert all(e["Tags"] == [{"Key": "Application", "Value": "dataall-dev"}] for e in endpoints)  # no VPC Name tag
    (ingress,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    assert (ingress["CidrIp"], ingress["Description"]) == (operators.CIDR, f"from {operators.CIDR}:443")
    ssm = {r["Properties"]["Name"]: r["Properties"]["Value"] for r in resources.values() if "Name" in r["Properties"]
           and r["Type"] == "AWS::SSM::Parameter"}  # fmt: skip
    assert ssm == {
        "/dataall/dev/vpc/private_subnets": ",".join(private),
        "/dataall/dev/vpc/public_subnets": ",".join(s for s, *_ in operators.PUBLIC),
        "/dataall/dev/vpc/vpc_id": operators.VPC,
    }
    outputs = {k: o["Value"] for k, o in made["Outputs"].items() if "Export" in o}
    assert outputs == {
        "dataalldevprivateSubnet1": private[0], "dataalldevprivateSubnet2": private[1],
        "dataalldevvpcId": operators.VPC, "dataalldevcidrBlock": operators.CIDR,
        "dataalldevpublicSubnets": ",".join(s for s, *_ in operators.PUBLIC),
    }  # fmt: skip
    text = json.dumps({"Resources": resources, "Outputs": made["Outputs"]})
    conditioned = (rules.VPC_NEW, rules.VPC_RESTRICTED_NACL_ON)
    left = [k for k, r in template["Resources"].items() if r.get("Condition") in conditioned and f'"{k}"' in text]
    assert left == []


@needs_upstream
def test_a_vpc_without_public_subnets_has_no_public_subnets_parameter_nor_output() -> None:
    template = rules.apply(data_alls_vpc_stack(), SYNTHESIS)

    made = operators.resolved(template, {**operators.parameters(public=False), rules.VPC_RESTRICTED_NACL: "false"})

    names = [r["Properties"].get("Name") for r in made["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    assert sorted(names) == ["/dataall/dev/vpc/private_subnets", "/dataall/dev/vpc/vpc_id"]
    assert "dataalldevpublicSubnets" not in made["Outputs"]


@needs_upstream
def test_the_vpc_stage_takes_the_option_and_the_values_plan_fills() -> None:
    template = rules.apply(data_alls_vpc_stack(), SYNTHESIS)
    imported = ImportedStage("vpc", "backend/Vpc", None, template, parameters={}, depends_on=(), stateful=False)

    parameters = stage_document(imported)["parameters"]

    assert {k: v for k, v in parameters.items() if k.startswith("Vpc")} == {
        name: "${param:" + name + "}"
        for name in ["VpcCidrBlock", "VpcPrivateRouteTableIds", "VpcPublicSubnetIds", "VpcPrivateSubnet1Id",
                     "VpcPrivateSubnet2Id", "VpcRestrictedNacl", "VpcId", "VpcEndpointsSecurityGroupId"]
    }  # fmt: skip
    assert template["Parameters"]["VpcPrivateRouteTableIds"]["Type"] == "CommaDelimitedList"
    assert rules.value_option(rules.VPC_ID, SYNTHESIS)["pattern"] == "(vpc-[0-9a-f]{8}([0-9a-f]{9})?)?"


def reading(upstream: dict[str, Any], key: str, body: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(upstream)
    changed["Resources"][key] = body
    return changed


@needs_upstream
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "VPCPublicSubnet1NATGatewayE0556630"}}},
         "VPCPublicSubnet1NATGatewayE0556630"),
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Sub": "${VPCIGWB7E252D3}"}}},
         "VPCIGWB7E252D3"),
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": "x"}, "DependsOn": ["VPCVPCGW99B986DC"]},
         "VPCVPCGW99B986DC"),
    ],
    ids=["a ref", "an Fn::Sub", "a DependsOn"],
)  # fmt: skip
def test_anything_else_reading_what_only_a_new_vpc_has_stops_the_import_naming_it(
    body: dict[str, Any], named: str
) -> None:
    with pytest.raises(rules.RuleError, match=f"Reader reads .*{named}"):
        rules.apply(reading(data_alls_vpc_stack(), "Reader", body), SYNTHESIS)


@needs_upstream
def test_a_synthesis_that_made_a_vpc_though_given_one_stops_the_import() -> None:
    given = replace(SYNTHESIS, settings={rules.VPC_ID_KEY: operators.VPC})

    with pytest.raises(rules.RuleError, match=re.escape("data.all's VPC is made though the synthesis' vpc_id is set")):
        rules.apply(data_alls_vpc_stack(), given)


def test_a_template_without_data_alls_vpc_is_left_as_it_is() -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}

    rules.existing_vpc_from_the_option(template, SYNTHESIS)

    assert template == {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}


def test_the_restricted_nacl_with_an_existing_vpc_is_refused_by_a_rule_naming_both() -> None:
    (rule,) = [r for r in OPTION_RULES if "VpcRestrictedNacl" in json.dumps(r["when"])]

    assert evaluate(rule["when"], {"VpcRestrictedNacl": True, "VpcId": operators.VPC})
    assert not evaluate(rule["when"], {"VpcRestrictedNacl": True, "VpcId": ""})
    assert not evaluate(rule["when"], {"VpcRestrictedNacl": False, "VpcId": operators.VPC})
    assert "VpcRestrictedNacl" in rule["message"] and "VpcId" in rule["message"]


# ---------------------------------------------------------------------- CDK's lookup, as Plan reads it
def subnet(subnet_id: str, az: str, **extra: Any) -> dict[str, Any]:
    return {"SubnetId": subnet_id, "AvailabilityZone": az, **extra}


def table(table_id: str, *subnets: str, main: bool = False, to: dict[str, str] | None = None) -> dict[str, Any]:
    associations = [{"SubnetId": s} for s in subnets] + ([{"Main": True}] if main else [])
    routes = [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}]
    if to:
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", **to})
    return {"RouteTableId": table_id, "Associations": associations, "Routes": routes}


def test_subnets_are_classified_and_grouped_as_cdks_vpc_lookup_does() -> None:
    listed = [
        subnet("subnet-nat-b", "eu-west-1b"),
        subnet("subnet-nat-a", "eu-west-1a"),
        subnet("subnet-igw", "eu-west-1a"),
        subnet("subnet-mapped", "eu-west-1b", MapPublicIpOnLaunch=True),
        subnet("subnet-tgw", "eu-west-1c"),
        subnet("subnet-main", "eu-west-1a"),
        subnet("subnet-tagged", "eu-west-1a", Tags=[{"Key": "aws-cdk:subnet-type", "Value": "Private"},
                                                    {"Key": "aws-cdk:subnet-name", "Value": "App"}]),
    ]  # fmt: skip
    tables = [
        table("rtb-nat", "subnet-nat-a", "subnet-nat-b", to={"NatGatewayId": "nat-1"}),
        table("rtb-igw", "subnet-igw", "subnet-mapped", to={"GatewayId": "igw-1"}),
        table("rtb-tgw", "subnet-tgw", to={"TransitGatewayId": "tgw-1"}),
        table("rtb-main", main=True),
        table("rtb-tagged", "subnet-tagged"),
    ]

    groups = existing_vpc.lookup_groups(listed, tables, "vpc-1")

    assert [(kind, name, [(s["subnetId"], s["routeTableId"]) for s in members]) for kind, name, members in groups] == [
        ("Private", "Private", [("subnet-nat-a", "rtb-nat"), ("subnet-nat-b", "rtb-nat"), ("subnet-tgw", "rtb-tgw")]),
        ("Public", "Public", [("subnet-igw", "rtb-igw"), ("subnet-mapped", "rtb-igw")]),
        ("Isolated", "Isolated", [("subnet-main", "rtb-main")]),  # no default route: CDK's Isolated
        ("Private", "App", [("subnet-tagged", "rtb-tagged")]),
    ]


def test_a_subnet_tagged_with_a_type_cdk_does_not_know_is_refused_naming_it() -> None:
    listed = [subnet("subnet-odd", "eu-west-1a", Tags=[{"Key": "aws-cdk:subnet-type", "Value": "Dmz"}])]

    with pytest.raises(InvalidOptions, match="subnet subnet-odd is tagged aws-cdk:subnet-type=Dmz"):
        existing_vpc.lookup_groups(listed, [table("rtb-main", main=True)], "vpc-1")


# ---------------------------------------------------------------------- Plan's check, against moto's EC2
def vpc_release() -> SmallRelease:
    names = ["VpcId", "VpcCidrBlock", "VpcPrivateRouteTableIds", "VpcPublicSubnetIds", "VpcPrivateSubnet1Id",
             "VpcPrivateSubnet2Id"]  # fmt: skip
    vpc = stage("vpc", parameters={name: "${param:" + name + "}" for name in names})
    return small_release(
        vpc, stage("lambdas", depends_on=("vpc",)), options={"VpcId": {"type": "string", "default": ""}}
    )


@pytest.fixture
def deps(aws: None) -> Deps:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    vpc_release().publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    return moto_deps(ARTIFACTS)


def operators_vpc(
    private: int = 2, *, zones: int = 2, shared_table: bool = False, public: bool = True
) -> dict[str, Any]:
    """A VPC in moto's EC2: `private` subnets routing to a NAT gateway (over `zones` zones; one route table
    each, or one for all), and a public subnet routing to an internet gateway."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    front = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.100.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]
    front_table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=front_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    if public:
        ec2.associate_route_table(RouteTableId=front_table, SubnetId=front["SubnetId"])
    nat = ec2.create_nat_gateway(
        SubnetId=front["SubnetId"], AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"]
    )
    made: dict[str, Any] = {"vpc": vpc_id, "public": [front["SubnetId"]] if public else [], "private": [], "tables": []}
    shared = None
    for n in range(private):
        zone = f"{REGION}{'abc'[n % zones]}"
        sub = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.40.{n}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        if shared is None or not shared_table:
            shared = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
            ec2.create_route(
                RouteTableId=shared, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGateway"]["NatGatewayId"]
            )
            made["tables"].append(shared)
        ec2.associate_route_table(RouteTableId=shared, SubnetId=sub)
        made["private"].append(sub)
    return made


def install(deps: Deps, vpc_id: str) -> dict[str, Any]:
    return plan(deps, request({"action": "install", "version": vpc_release().version, "options": {"VpcId": vpc_id}}))


def test_plan_fills_the_vpc_stages_values_from_the_operators_vpc_as_cdks_lookup_gives_them(deps: Deps) -> None:
    made = operators_vpc()

    install(deps, made["vpc"])

    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None
    step = vpc_release().manifest.steps["vpc"]
    assert resolve_parameters(step, deps.stage_context(run.params), lambda s, o: "") == {
        "VpcId": made["vpc"],
        "VpcCidrBlock": "10.40.0.0/16",
        "VpcPrivateSubnet1Id": made["private"][0],  # by zone: a, then b
        "VpcPrivateSubnet2Id": made["private"][1],
        "VpcPrivateRouteTableIds": ",".join(made["tables"]),
        "VpcPublicSubnetIds": made["public"][0],
    }


def test_private_subnets_sharing_a_route_table_give_it_once_as_cdks_gateway_endpoint_takes_it(deps: Deps) -> None:
    made = operators_vpc(shared_table=True, public=False)

    install(deps, made["vpc"])

    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None and len(made["tables"]) == 1
    assert (run.params["VpcPrivateRouteTableIds"], run.params["VpcPublicSubnetIds"]) == (made["tables"][0], "")


def test_without_vpc_id_plan_fills_nothing_and_asks_ec2_nothing_of_vpcs(deps: Deps) -> None:
    asked: list[str] = []

    class Watched:
        def __getattr__(self, name: str) -> Any:
            asked.append(name)
            return getattr(boto3.client("ec2", region_name=REGION), name)

    deps.regional_client = lambda service, region: (
        Watched() if service == "ec2" else boto3.client(service, region_name=region)
    )

    install(deps, "")

    run = deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.params["VpcCidrBlock"] == "" and run.params["VpcPrivateSubnet2Id"] == ""
    assert [name for name in asked if "vpc" in name or "subnet" in name or "route" in name] == []


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ({"private": 3, "zones": 3}, r"has 3 private subnets \((subnet-\w+, ){2}subnet-\w+\), the release takes 2"),
        ({"private": 1}, r"has 1 private subnets \(subnet-\w+\), the release takes 2"),
        ({"private": 0}, r"has 0 private subnets \(none\), the release takes 2"),
        ({"private": 2, "zones": 1}, r"its 2 private subnets are in 1 availability zones \(us-east-1a\)"),
        (None, r"the region has no such VPC \(InvalidVpcID.NotFound\)"),
    ],
    ids=["three", "one", "none", "one zone", "no such vpc"],
)  # fmt: skip
def test_plan_refuses_a_vpc_of_another_shape_naming_the_option_and_changes_nothing(
    deps: Deps, shape: dict[str, Any] | None, expected: str
) -> None:
    vpc_id = operators_vpc(**shape)["vpc"] if shape is not None else "vpc-0123456789abcdef0"

    with pytest.raises(InvalidOptions, match=f"VpcId {vpc_id}: {expected}") as refused:
        install(deps, vpc_id)

    assert refused.value.field == "options.VpcId" and str(refused.value).endswith("nothing was changed")
    assert deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []


@pytest.mark.parametrize(
    ("installed_in", "asked", "refusal"),
    [
        ("first", "second", r"VpcId: data\.all is installed in vpc-\w+, not vpc-\w+; the VPC is chosen at install"),
        ("first", "", r"VpcId: data\.all is installed in vpc-\w+, not data\.all's own VPC \(no VpcId\)"),
        ("", "second", r"VpcId: data\.all is installed in data\.all's own VPC, not vpc-\w+"),
        ("first", "first", None),
        ("", "", None),
        (None, "", None),  # installed by a release without the option: data.all's own VPC
    ],
    ids=["another", "back to its own", "away from its own", "the same", "its own kept", "before the option"],
)
def test_an_installed_data_all_keeps_its_vpc_a_run_moving_it_is_refused_before_anything_changes(
    deps: Deps, installed_in: str | None, asked: str, refusal: str | None
) -> None:
    """data.all's database, search domain and functions do not move to another VPC by a stack update (their
    security groups' `VpcId` "Update requires: Replacement",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroup.html): Plan
    refuses it, naming the option, before anything changes."""
    vpcs = {"first": operators_vpc()["vpc"], "second": operators_vpc()["vpc"], "": ""}
    options = {} if installed_in is None else {"VpcId": vpcs[installed_in]}
    deps.ledger.set_current_release(ReleaseRecord(version=vpc_release().version, options=options, run="install-1"))
    document = {"action": "redeploy", "options": {"VpcId": vpcs[asked]}}

    if refusal is None:
        plan(deps, request(document, name="redeploy-abc"))
        run = deps.ledger.run("redeploy-abc")
        assert run is not None and run.params["VpcId"] == vpcs[asked]
        return
    with pytest.raises(InvalidOptions, match=refusal) as refused:
        plan(deps, request(document, name="redeploy-abc"))
    assert refused.value.field == "options.VpcId" and str(refused.value).endswith("nothing was changed")
    assert deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []


# ---------------------------------------------------------------------- the operator's endpoints (vpc_endpoints_sg)
GROUP = operators.ENDPOINTS_GROUP


def data_alls_stack(name: str, version: str = "2.9.0") -> dict[str, Any]:
    backend = CloudAssembly.load(UPSTREAM / version / "cdk.out").stack(BACKEND)
    (found,) = [nested for nested in backend.nested().values() if nested.construct_name == name]
    return found.template


def with_the_operators_endpoints(template: dict[str, Any], group: str = GROUP) -> dict[str, Any]:
    """`template` as CloudFormation makes it with the operator's VPC and (given) its endpoints' group."""
    values = {**operators.parameters(endpoints_group=group), rules.VPC_RESTRICTED_NACL: "false"}
    return operators.resolved(template, values)


@needs_upstream
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_with_the_operators_endpoints_group_the_vpc_stage_makes_no_endpoints_nor_group_and_outputs_the_operators(
    version: str,
) -> None:
    template = rules.apply(data_alls_vpc_stack(version), SYNTHESIS)

    made = with_the_operators_endpoints(template)

    types = sorted({r["Type"] for r in made["Resources"].values()})
    assert types == ["AWS::CDK::Metadata", "AWS::SSM::Parameter"]
    (output,) = [k for k in made["Outputs"] if k.endswith("GroupId")]
    assert made["Outputs"][output]["Value"] == GROUP and "Export" not in made["Outputs"][output]
    assert template["Parameters"][rules.VPC_ENDPOINTS_SG]["Default"] == ""
    # without the group, the stage is what the VpcId rule alone made of it: the 29 endpoints, their group, one rule
    alone = tuple(rule for rule in rules.RULES if rule is not rules.vpc_endpoints_sg_from_the_option)
    before = with_the_operators_endpoints(rules.apply(data_alls_vpc_stack(version), SYNTHESIS, alone), "")
    assert with_the_operators_endpoints(template, "") == {
        **before,
        "Parameters": {k: p for k, p in before["Parameters"].items() if k != rules.VPC_ENDPOINTS_SG},
    }
    assert len([r for r in before["Resources"].values() if r["Type"] == "AWS::EC2::VPCEndpoint"]) == 29


@needs_upstream
@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
@pytest.mark.parametrize("name", ["Lambdas", "ECS"])
def test_a_stage_reading_the_endpoints_group_makes_no_rule_on_the_operators_and_keeps_its_own_groups_rules(
    version: str, name: str
) -> None:
    upstream = data_alls_stack(name, version)
    (reference,) = [p for p in upstream["Parameters"] if rules.DATAALL_VPCE_GROUP_REFERENCE.fullmatch(p)]
    template = rules.apply(upstream, SYNTHESIS)

    given = operators.resolved(template, {reference: GROUP, rules.VPC_ENDPOINTS_SG: GROUP})
    made = operators.resolved(template, {reference: "sg-made", rules.VPC_ENDPOINTS_SG: ""})

    def rules_on(resources: dict[str, Any], group: str) -> list[str]:
        return sorted(k for k, r in resources.items() if (r.get("Properties") or {}).get("GroupId") == group)

    def reaching(resources: dict[str, Any], group: str) -> list[str]:
        return sorted(k for k, r in resources.items() if group in (r.get("Properties") or {}).values() and
                      (r.get("Properties") or {}).get("GroupId") != group)  # fmt: skip

    functions = {"Lambdas": 3, "ECS": 2}[name]  # the API, worker and search proxy; the two task groups
    assert rules_on(given["Resources"], GROUP) == []  # an imported immutable group takes no rule
    assert len(rules_on(made["Resources"], "sg-made")) == 2 * functions  # to it on 443, from it on 1024-65535
    assert len(reaching(given["Resources"], GROUP)) == 2 * functions
    assert reaching(given["Resources"], GROUP) == reaching(made["Resources"], "sg-made")
    assert set(made["Resources"]) - set(given["Resources"]) == set(rules_on(made["Resources"], "sg-made"))


@needs_upstream
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "VPCathena88B049E3"}}}, "VPCathena88B049E3"),
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Fn::Sub": "${vpcsg90F3EB1C.GroupId}"}}},
         "vpcsg90F3EB1C"),
        ({"Type": "AWS::SSM::Parameter", "Properties": {"Value": "x"}, "DependsOn": ["VPCs3DF27C0CB"]},
         "VPCs3DF27C0CB"),
    ],
    ids=["a ref", "an Fn::Sub", "a DependsOn"],
)  # fmt: skip
def test_anything_else_reading_the_endpoints_or_their_group_stops_the_import_naming_it(
    body: dict[str, Any], named: str
) -> None:
    with pytest.raises(rules.RuleError, match=f"Reader reads .*{named}.*only with its own endpoints"):
        rules.apply(reading(data_alls_vpc_stack(), "Reader", body), SYNTHESIS)


@needs_upstream
def test_a_synthesis_that_made_the_endpoints_group_though_given_one_stops_the_import() -> None:
    given = replace(SYNTHESIS, settings={rules.VPC_ENDPOINTS_SG_KEY: GROUP})

    for name in ("Lambdas",):
        with pytest.raises(rules.RuleError, match="endpoints' group is there though the synthesis' vpc_endpoints_sg"):
            rules.apply(data_alls_stack(name), given)


def test_the_endpoints_group_without_an_existing_vpc_is_refused_by_a_rule_naming_both() -> None:
    (rule,) = [r for r in OPTION_RULES if rules.VPC_ENDPOINTS_SG in json.dumps(r["when"])]

    assert evaluate(rule["when"], {rules.VPC_ENDPOINTS_SG: GROUP, "VpcId": ""})
    assert not evaluate(rule["when"], {rules.VPC_ENDPOINTS_SG: GROUP, "VpcId": operators.VPC})
    assert not evaluate(rule["when"], {rules.VPC_ENDPOINTS_SG: "", "VpcId": ""})
    assert rules.VPC_ENDPOINTS_SG in rule["message"] and "VpcId" in rule["message"]
    assert rules.value_option(rules.VPC_ENDPOINTS_SG, SYNTHESIS)["pattern"] == "(sg-[0-9a-f]{8}([0-9a-f]{9})?)?"


def endpoints_release() -> SmallRelease:
    names = ["VpcId", "VpcEndpointsSecurityGroupId", "VpcCidrBlock", "VpcPrivateRouteTableIds", "VpcPublicSubnetIds",
             "VpcPrivateSubnet1Id", "VpcPrivateSubnet2Id"]  # fmt: skip
    vpc = stage("vpc", parameters={name: "${param:" + name + "}" for name in names})
    options = {
        "VpcId": {"type": "string", "default": ""},
        "VpcEndpointsSecurityGroupId": {"type": "string", "default": ""},
    }
    return small_release(vpc, stage("lambdas", depends_on=("vpc",)), options=options)


@pytest.fixture
def endpoints_deps(aws: None) -> Deps:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    endpoints_release().publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    return moto_deps(ARTIFACTS)


def a_group(vpc_id: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    return str(ec2.create_security_group(GroupName=f"endpoints-{vpc_id}", Description="x", VpcId=vpc_id)["GroupId"])


def test_plan_takes_the_operators_endpoints_group_of_its_vpc(endpoints_deps: Deps) -> None:
    made = operators_vpc()
    group = a_group(made["vpc"])
    options = {"VpcId": made["vpc"], "VpcEndpointsSecurityGroupId": group}

    plan(endpoints_deps, request({"action": "install", "version": endpoints_release().version, "options": options}))

    run = endpoints_deps.ledger.run("install-2-8-0-abc")
    assert run is not None and run.params["VpcEndpointsSecurityGroupId"] == group
    assert run.params["VpcPrivateSubnet1Id"] == made["private"][0]


@pytest.mark.parametrize(
    ("whose", "expected"),
    [
        ("another vpc's", r"it is a group of vpc-\w+, not of VpcId vpc-\w+"),
        ("none", r"the region has no such security group \(InvalidGroup.NotFound\)"),
    ],
)
def test_plan_refuses_an_endpoints_group_not_of_the_operators_vpc_naming_the_option_and_changes_nothing(
    endpoints_deps: Deps, whose: str, expected: str
) -> None:
    made = operators_vpc()
    group = a_group(operators_vpc()["vpc"]) if whose != "none" else "sg-0123456789abcdef0"
    options = {"VpcId": made["vpc"], "VpcEndpointsSecurityGroupId": group}

    with pytest.raises(InvalidOptions, match=f"VpcEndpointsSecurityGroupId {group}: {expected}") as refused:
        plan(endpoints_deps, request({"action": "install", "version": endpoints_release().version, "options": options}))

    assert refused.value.field == "options.VpcEndpointsSecurityGroupId"
    assert str(refused.value).endswith("nothing was changed")
    assert endpoints_deps.ledger.lock() is None and endpoints_deps.ledger.latest_runs(5) == []


@pytest.mark.parametrize(
    ("installed_with", "asked", "refusal"),
    [
        ("first", "second", r"installed with sg-\w+, not sg-\w+; the VPC's endpoints are chosen at install"),
        ("first", "", r"installed with sg-\w+, not data\.all's own endpoints \(none given\)"),
        ("", "second", r"installed with data\.all's own endpoints, not sg-\w+"),
        ("first", "first", None),
        ("", "", None),
        (None, "", None),  # installed by a release without the option: data.all's own endpoints
    ],
    ids=["another", "back to its own", "away from its own", "the same", "its own kept", "before the option"],
)
def test_an_installed_data_all_keeps_its_endpoints_a_run_changing_them_is_refused_before_anything_changes(
    endpoints_deps: Deps, installed_with: str | None, asked: str, refusal: str | None
) -> None:
    """data.all's endpoints (private DNS) and the operator's cannot both serve the VPC, and the group data.all made
    is read by its functions' groups' rules in later stages: Plan refuses a change, naming the option."""
    vpc_id = operators_vpc()["vpc"]
    ec2 = boto3.client("ec2", region_name=REGION)
    second = ec2.create_security_group(GroupName="second", Description="x", VpcId=vpc_id)["GroupId"]
    groups = {"first": a_group(vpc_id), "second": second, "": ""}
    options = {
        "VpcId": vpc_id,
        **({} if installed_with is None else {"VpcEndpointsSecurityGroupId": groups[installed_with]}),
    }
    release = endpoints_release()
    endpoints_deps.ledger.set_current_release(ReleaseRecord(version=release.version, options=options, run="install-1"))
    document = {"action": "redeploy", "options": {"VpcId": vpc_id, "VpcEndpointsSecurityGroupId": groups[asked]}}

    if refusal is None:
        plan(endpoints_deps, request(document, name="redeploy-abc"))
        run = endpoints_deps.ledger.run("redeploy-abc")
        assert run is not None and run.params["VpcEndpointsSecurityGroupId"] == groups[asked]
        return
    with pytest.raises(InvalidOptions, match=f"VpcEndpointsSecurityGroupId: data\\.all is {refusal}") as refused:
        plan(endpoints_deps, request(document, name="redeploy-abc"))
    assert refused.value.field == "options.VpcEndpointsSecurityGroupId"
    assert endpoints_deps.ledger.lock() is None and endpoints_deps.ledger.latest_runs(5) == []
