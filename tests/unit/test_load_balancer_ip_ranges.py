"""data.all's `ip_ranges` (the release's `LoadBalancerAllowedIpRanges`): the rule that gives data.all's albfront load
balancer's group and its web UI service's a conditional ingress entry per slot, the n-th made when the option holds an
n-th range (`blueprints.dataall.rules.load_balancer_ip_ranges_from_the_option`; against data.all's own synthesis with
one range and with two: tests/infrastructure/test_dataall_options.py), the option's pattern and rule."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from blueprints.dataall import rules
from installer.dataall import OPTION_RULES
from lambdas.release.manifest import evaluate
from tests import existing_vpc as operators

SYNTHESIS = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})
STACK = "dataall-main-cicd-stack/dataall-dev-albfront-stage/albfront-stack"
VPC_CIDR = {"CidrIp": {"Fn::ImportValue": "dataall-dev-cidrBlock"}, "Description": "Allow inbound HTTPS",
            "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}  # fmt: skip
GROUPS = {
    "FrontEndServicedevLBSecurityGroupE61DDB60": f"{STACK}/FrontEndServicedev/LB/SecurityGroup/Resource",
    "FargateTaskFrontendSGABF92BC6": f"{STACK}/FargateTaskFrontendSG/Resource",
}
RULE = rules.load_balancer_ip_ranges_from_the_option


def albfront(ranges: tuple[str, ...] = ()) -> dict[str, Any]:
    """data.all's albfront stack's two groups as CDK synthesizes them (2.9.0's, the parts the rule reads):
    `allow_alb_access` gives each an entry per range, then one from the VPC's CIDR (an import of the vpc stage's
    export)."""
    entries = [{"CidrIp": cidr, "Description": "Allow inbound HTTPS", "FromPort": 443, "IpProtocol": "tcp",
                "ToPort": 443} for cidr in ranges]  # fmt: skip
    return {
        "Resources": {
            key: {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": key, "SecurityGroupIngress": [*entries, VPC_CIDR]},
                "Metadata": {"aws:cdk:path": path},
            }
            for key, path in GROUPS.items()
        }
    }


def _only(template: dict[str, Any], ranges: tuple[str, ...] = ()) -> dict[str, Any]:
    synthesis = replace(SYNTHESIS, settings={rules.IP_RANGES_KEY: list(ranges)}) if ranges else SYNTHESIS
    return rules.apply(template, synthesis, (RULE,))


@pytest.mark.parametrize(
    "ranges",
    [(), ("10.10.0.0/16",), ("10.10.0.0/16", "192.168.4.0/24"), tuple(f"10.{n}.0.0/16" for n in range(10))],
    ids=["none", "one", "two", "every slot"],
)
def test_the_slots_given_the_ranges_are_data_alls_groups_with_them(ranges: tuple[str, ...]) -> None:
    template = _only(albfront())

    given = operators.resolved(template, {rules.LOAD_BALANCER_IP_RANGES: ",".join(ranges)})

    assert given == albfront(ranges)
    assert template["Parameters"][rules.LOAD_BALANCER_IP_RANGES]["Default"] == ""


def test_a_synthesis_with_ranges_takes_the_form_of_one_without() -> None:
    ranges = ("10.10.0.0/16", "192.168.4.0/24")

    assert _only(albfront(ranges), ranges) == _only(albfront())
    # a range data.all's list repeats: CDK makes one entry of it
    assert _only(albfront(ranges), (*ranges, ranges[0])) == _only(albfront())


@pytest.mark.parametrize(
    ("synthesized", "setting"),
    [(("10.10.0.0/16",), ()), ((), ("10.10.0.0/16",)), (("10.10.0.0/16",), ("10.11.0.0/16",))],
    ids=["an entry it was not given", "no entry for a range", "another range"],
)
def test_groups_not_as_cdk_synthesizes_the_synthesis_ranges_stop_the_import(
    synthesized: tuple[str, ...], setting: tuple[str, ...]
) -> None:
    with pytest.raises(rules.RuleError, match="has not the ingress CDK synthesizes for"):
        _only(albfront(synthesized), setting)


def test_one_group_without_the_other_stops_the_import_and_no_group_leaves_the_template() -> None:
    template = albfront()
    del template["Resources"]["FargateTaskFrontendSGABF92BC6"]
    other = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}

    with pytest.raises(rules.RuleError, match="not one load balancer group and one service group"):
        _only(template)
    assert _only(other) == other


def test_the_option_takes_up_to_ten_distinct_ranges_and_is_refused_with_an_internet_facing_data_all() -> None:
    option = rules.value_option(rules.LOAD_BALANCER_IP_RANGES, SYNTHESIS)
    pattern = option["pattern"]
    ten = [f"10.{n}.0.0/16" for n in range(10)]
    (rule,) = [r for r in OPTION_RULES if rules.LOAD_BALANCER_IP_RANGES in json.dumps(r["when"])]

    assert option["default"] == "" and rules.LOAD_BALANCER_IP_RANGES_SLOTS == 10
    assert all(re.fullmatch(pattern, v) for v in ("", "10.0.0.0/8", ",".join(ten), "1.0.0.0/8,11.0.0.0/8"))
    assert not any(
        re.fullmatch(pattern, v)
        for v in (",".join([*ten, "10.10.0.0/16"]), "10.0.0.0/8,10.0.0.0/8", "10.1.0.0/16,10.0.0.0/8,10.1.0.0/16",
                  "10.0.0.0/33", "10.0.0.0/8,")
    )  # fmt: skip
    assert evaluate(rule["when"], {"InternetFacing": True, rules.LOAD_BALANCER_IP_RANGES: "10.0.0.0/8"})
    assert not evaluate(rule["when"], {"InternetFacing": False, rules.LOAD_BALANCER_IP_RANGES: "10.0.0.0/8"})
    assert not evaluate(rule["when"], {"InternetFacing": True, rules.LOAD_BALANCER_IP_RANGES: ""})
