"""Plan checks the hosted zone and ACM certificate of data.all's API custom domain (`ApiCustomDomainName`,
`ApiCustomDomainHostedZoneId`, `ApiCustomDomainCertificateArn`: data.all's `apigw_custom_domain`) before anything
changes (`lambdas/run/hosted_zones.py`, `lambdas/run/certificates.py`): the zone is the account's public zone named
by the domain (data.all gives the zone's name as the API's domain name), the certificate the account's, in
us-east-1, ISSUED and covering the name, as an edge-optimized custom domain name requires
(https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidOptions
from lambdas.run.planning import plan
from tests.sandbox.certificates import issued_certificate
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_hosted_zones import ARTIFACTS, zone
from tests.unit.test_planning import request

NAME = "api.dataall.example.com"
#: moto's account, which owns what the tests make
ACCOUNT = "123456789012"
OPTIONS = {
    name: {"type": "string", "default": ""}
    for name in ("ApiCustomDomainName", "ApiCustomDomainHostedZoneId", "ApiCustomDomainCertificateArn")
}


@pytest.fixture
def deps(aws: None) -> Deps:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    made = moto_deps(ARTIFACTS)
    made.account_id = ACCOUNT
    return made


def api_release() -> SmallRelease:
    lambdas = stage("lambdas", parameters={name: "${param:" + name + "}" for name in OPTIONS})
    return small_release(stage("vpc"), lambdas, options=OPTIONS)


def acm(region: str = "us-east-1") -> Any:
    return boto3.client("acm", region_name=region)


def install(deps: Deps, options: dict[str, str]) -> dict[str, Any]:
    release = api_release()
    release.publish(boto3.client("s3", region_name=REGION), ARTIFACTS)
    return plan(deps, request({"action": "install", "version": release.version, "options": options}))


def given(zone_id: str, arn: str, name: str = NAME) -> dict[str, str]:
    return {"ApiCustomDomainName": name, "ApiCustomDomainHostedZoneId": zone_id, "ApiCustomDomainCertificateArn": arn}


def test_plan_takes_the_accounts_public_zone_of_the_name_and_its_issued_us_east_1_certificate(deps: Deps) -> None:
    planned = install(deps, given(zone(NAME), issued_certificate(acm(), NAME)))

    assert "lambdas" in [step["name"] for step in planned["steps"]]


def test_without_the_api_custom_domain_neither_route53_nor_acm_is_asked(deps: Deps) -> None:
    asked: list[str] = []

    def asking(service: str, region: str) -> Any:
        asked.append(service)
        return boto3.client(service, region_name=region)

    deps.regional_client = asking

    install(deps, {})

    assert "route53" not in asked and "acm" not in asked


@pytest.mark.parametrize(
    ("options", "field", "expected"),
    [
        (lambda: given("Z0000000000000000NONE", issued_certificate(acm(), NAME)), "ApiCustomDomainHostedZoneId",
         r"no Route 53 hosted zone 'Z0000000000000000NONE' .* which stage lambdas adds ApiCustomDomainName api"),
        (lambda: given(zone("dataall.example.com"), issued_certificate(acm(), NAME)), "ApiCustomDomainHostedZoneId",
         r"is dataall\.example\.com, not ApiCustomDomainName api\.dataall\.example\.com: data\.all's API is served"),
        (lambda: given(zone(NAME, private=True), issued_certificate(acm(), NAME)), "ApiCustomDomainHostedZoneId",
         r"is private: clients reach an edge-optimized API"),
        (lambda: given(zone(NAME), issued_certificate(acm("eu-west-1"), NAME)), "ApiCustomDomainCertificateArn",
         r"in us-east-1, the only ones API Gateway serves stage lambdas's edge-optimized custom domain name with"),
        (lambda: given(zone(NAME), str(acm().request_certificate(DomainName=NAME)["CertificateArn"])),
         "ApiCustomDomainCertificateArn", r"is PENDING_VALIDATION, not ISSUED: API Gateway serves only an issued"),
        (lambda: given(zone(NAME), issued_certificate(acm(), "dataall.example.com")), "ApiCustomDomainCertificateArn",
         r"for dataall\.example\.com, none of which covers ApiCustomDomainName api\.dataall\.example\.com"),
    ],
    ids=["no such zone", "a zone of another name", "a private zone", "a certificate of another region",
         "a pending certificate", "a certificate of another name"],
)  # fmt: skip
def test_plan_refuses_an_api_zone_or_certificate_it_cannot_serve_naming_the_option_and_changes_nothing(
    deps: Deps, options: Any, field: str, expected: str
) -> None:
    with pytest.raises(InvalidOptions, match=expected) as refused:
        install(deps, options())

    assert refused.value.field == f"options.{field}"
    assert deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []
