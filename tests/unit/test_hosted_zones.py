"""Plan checks the Route 53 hosted zone of data.all's custom domain before anything changes
(`lambdas/run/hosted_zones.py`): the account's, named CustomDomainName, public. Route 53's GetHostedZone
(https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHostedZone.html) answers NoSuchHostedZone
for an id the account does not have; ACM's DNS validation
(https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html) and CloudFront's alternate domain
names (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html) need public DNS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidOptions
from lambdas.run.planning import plan
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_planning import request

ARTIFACTS = "dataall-test-artifacts"
OPTIONS = {
    "EnableCustomDomain": {"type": "boolean", "default": False},
    "CustomDomainName": {"type": "string", "default": ""},
    "CustomDomainHostedZoneId": {"type": "string", "default": ""},
}


def custom_domain_release() -> SmallRelease:
    front = stage(
        "cloudfront",
        parameters={"CustomDomainName": "${param:CustomDomainName}", "Zone": "${param:CustomDomainHostedZoneId}"},
        when={"option": "EnableCustomDomain", "equals": True},
    )
    return small_release(stage("vpc"), front, options=OPTIONS)


@pytest.fixture
def deps(aws: None) -> Deps:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    return moto_deps(ARTIFACTS)


def zone(name: str, *, private: bool = False) -> str:
    route53 = boto3.client("route53", region_name=REGION)
    extra: dict[str, Any] = {}
    if private:
        vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        extra = {"VPC": {"VPCRegion": REGION, "VPCId": vpc}, "HostedZoneConfig": {"PrivateZone": True}}
    made = route53.create_hosted_zone(Name=name, CallerReference=name + str(private), **extra)
    return str(made["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def install(deps: Deps, name: str, zone_id: str) -> dict[str, Any]:
    release = custom_domain_release()
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    options = {"EnableCustomDomain": True, "CustomDomainName": name, "CustomDomainHostedZoneId": zone_id}
    return plan(deps, request({"action": "install", "version": release.version, "options": options}))


def test_plan_takes_the_accounts_public_zone_of_that_name(deps: Deps) -> None:
    planned = install(deps, "dataall.example.com", zone("dataall.example.com"))

    assert "cloudfront" in [step["name"] for step in planned["steps"]]


@pytest.mark.parametrize(
    ("made", "given", "expected"),
    [
        (None, "Z0000000000000000NONE", r"has no Route 53 hosted zone 'Z0000000000000000NONE' \(NoSuchHostedZone\)"),
        ("other.example.com", None, r"is other\.example\.com, not CustomDomainName dataall\.example\.com"),
        ("dataall.example.com.private", None, r"is private: ACM validates the certificate"),
    ],
    ids=["no such zone", "another name", "private"],
)  # fmt: skip
def test_plan_refuses_a_zone_it_cannot_serve_naming_the_option_and_changes_nothing(
    deps: Deps, made: str | None, given: str | None, expected: str
) -> None:
    zone_id = given or zone(str(made).removesuffix(".private"), private=str(made).endswith(".private"))

    with pytest.raises(InvalidOptions, match=expected) as refused:
        install(deps, "dataall.example.com", zone_id)

    assert refused.value.field == "options.CustomDomainHostedZoneId"
    assert deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []


def test_without_the_custom_domain_route53_is_never_asked(deps: Deps) -> None:
    release = custom_domain_release()
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    asked: list[str] = []

    def asking(service: str, region: str) -> Any:
        asked.append(service)
        return boto3.client(service, region_name=region)

    deps.regional_client = asking

    plan(deps, request({"action": "install", "version": release.version}))

    assert "route53" not in asked
