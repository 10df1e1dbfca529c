"""Plan checks the ACM certificate of data.all's custom domain before anything changes
(`lambdas/run/certificates.py`): the account's, in us-east-1, ISSUED, covering CustomDomainName, as CloudFront
requires (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html).
ACM's DescribeCertificate (https://docs.aws.amazon.com/acm/latest/APIReference/API_DescribeCertificate.html)
answers ResourceNotFoundException for an ARN the account has no certificate of."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lambdas.core.deps import Deps
from lambdas.core.errors import InvalidOptions
from lambdas.run.certificates import covers
from lambdas.run.planning import plan
from tests.sandbox.certificates import issued_certificate
from tests.unit.conftest import REGION, moto_deps
from tests.unit.releases import SmallRelease, small_release, stage
from tests.unit.test_hosted_zones import ARTIFACTS, OPTIONS, zone
from tests.unit.test_planning import request

NAME = "dataall.example.com"
#: moto's account, which owns what the tests make
ACCOUNT = "123456789012"
CERTIFICATE_OPTIONS = {**OPTIONS, "CustomDomainCertificateArn": {"type": "string", "default": ""}}


@pytest.fixture
def deps(aws: None) -> Deps:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACTS)
    made = moto_deps(ARTIFACTS)
    made.account_id = ACCOUNT
    return made


def certificate_release() -> SmallRelease:
    front = stage(
        "cloudfront",
        parameters={
            "CustomDomainName": "${param:CustomDomainName}",
            "Zone": "${param:CustomDomainHostedZoneId}",
            "CustomDomainCertificateArn": "${param:CustomDomainCertificateArn}",
        },
        when={"option": "EnableCustomDomain", "equals": True},
    )
    return small_release(stage("vpc"), front, options=CERTIFICATE_OPTIONS)


def acm() -> Any:
    return boto3.client("acm", region_name="us-east-1")


def install(deps: Deps, arn: str, name: str = NAME) -> dict[str, Any]:
    release = certificate_release()
    release.publish(boto3.client("s3", region_name=deps.region), ARTIFACTS)
    options = {
        "EnableCustomDomain": True,
        "CustomDomainName": name,
        "CustomDomainHostedZoneId": zone(name),
        "CustomDomainCertificateArn": arn,
    }
    return plan(deps, request({"action": "install", "version": release.version, "options": options}))


@pytest.mark.parametrize(
    "names",
    [(NAME,), ("*.example.com",), ("other.example.com", NAME), ("Dataall.Example.com.",)],
    ids=["the name", "a wildcard of its parent", "an alternative name", "case and final dot"],
)
def test_plan_takes_the_accounts_issued_certificate_covering_the_name(deps: Deps, names: tuple[str, ...]) -> None:
    planned = install(deps, issued_certificate(acm(), *names))

    assert "cloudfront" in [step["name"] for step in planned["steps"]]


def test_plan_takes_an_empty_certificate_arn_without_asking_acm(deps: Deps) -> None:
    asked: list[str] = []

    def asking(service: str, region: str) -> Any:
        asked.append(service)
        return boto3.client(service, region_name=region)

    deps.regional_client = asking

    install(deps, "")

    assert "acm" not in asked


def _pending() -> str:
    return str(
        acm().request_certificate(DomainName=NAME, ValidationMethod="DNS")["CertificateArn"]  # PENDING_VALIDATION
    )


def _elsewhere(region: str = "us-east-1", account: str = ACCOUNT) -> str:
    return f"arn:aws:acm:{region}:{account}:certificate/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (_elsewhere, r"the account has no ACM certificate .* in us-east-1 \(ResourceNotFoundException\)"),
        (lambda: _elsewhere(account="210987654321"), r"is not a certificate of account 123456789012 in us-east-1"),
        (lambda: issued_certificate(boto3.client("acm", region_name="eu-west-1"), NAME), r"in us-east-1, the only"),
        (_pending, r"is PENDING_VALIDATION, not ISSUED"),
        (lambda: issued_certificate(acm(), "other.example.com"), r"for other\.example\.com, none of which covers"),
        (lambda: issued_certificate(acm(), "*.dataall.example.com"), r"none of which covers CustomDomainName dataall"),
        (lambda: issued_certificate(acm(), "*.com"), r"for \*\.com, none of which covers"),
    ],
    ids=["no such certificate", "another account's", "another region's", "pending", "another name",
         "a wildcard below the name", "a wildcard two labels up"],
)  # fmt: skip
def test_plan_refuses_a_certificate_cloudfront_cannot_serve_naming_the_option_and_changes_nothing(
    deps: Deps, made: Any, expected: str
) -> None:
    with pytest.raises(InvalidOptions, match=expected) as refused:
        install(deps, made())

    assert refused.value.field == "options.CustomDomainCertificateArn"
    assert deps.ledger.lock() is None and deps.ledger.latest_runs(5) == []


def test_a_wildcard_covers_one_label_below_its_parent_only() -> None:
    assert covers("*.example.com", "dataall.example.com") and covers("dataall.example.com", "DATAALL.example.com.")
    assert not covers("*.example.com", "example.com") and not covers("*.example.com", "a.dataall.example.com")
    assert not covers("*.example.com", ".example.com") and not covers("dataall.example.com", "example.com")


def test_a_private_data_alls_certificate_is_of_the_installations_region_as_its_load_balancer_takes_it(
    aws: None,
) -> None:
    """Elastic Load Balancing takes an HTTPS listener's certificate from the load balancer's own region
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html): with
    InternetFacing=false the web UI's certificate is checked in the installation's region, not CloudFront's."""
    from lambdas.release.manifest import Step
    from lambdas.run.certificates import check

    home = "eu-west-1"
    albfront = Step(name="albfront", kind="stage", depends_on=(), timeout=60,
                    parameters={"CustomDomainCertificateArn": "${param:CustomDomainCertificateArn}"})  # fmt: skip
    at_home = issued_certificate(boto3.client("acm", region_name=home), NAME)
    east = issued_certificate(acm(), NAME)

    def options(arn: str, internet_facing: bool) -> dict[str, Any]:
        return {"CustomDomainName": NAME, "CustomDomainCertificateArn": arn, "InternetFacing": internet_facing}

    def client(region: str) -> Any:
        return boto3.client("acm", region_name=region)

    check([albfront], options(at_home, False), ACCOUNT, client, home)
    check([albfront], options(east, True), ACCOUNT, client, home)
    with pytest.raises(InvalidOptions, match=r"not a certificate of account 123456789012 in eu-west-1, the only ones "
                       r"data\.all's internal load balancer serves stage albfront's HTTPS listener with"):  # fmt: skip
        check([albfront], options(east, False), ACCOUNT, client, home)
    with pytest.raises(InvalidOptions, match=r"in us-east-1, the only ones CloudFront serves"):
        check([albfront], options(at_home, True), ACCOUNT, client, home)
