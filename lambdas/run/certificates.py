"""The ACM certificates an installation names for its custom domains, checked by Plan before anything changes.

data.all's `custom_domain.certificate_arn` (the release's `CustomDomainCertificateArn`): its CloudFront
stage makes no certificate and gives the distribution that one
(`blueprints.dataall.rules.custom_domain_certificate_from_the_option`). CloudFront takes a certificate of
the distribution's account, in us-east-1, issued, whose names cover each of the distribution's alternate
domain names (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html).
data.all's `apigw_custom_domain.certificate_arn` (`ApiCustomDomainCertificateArn`): its lambdas stage gives the
API's edge-optimized domain name that certificate (`blueprints.dataall.rules.api_custom_domain_from_the_options`),
which API Gateway takes from us-east-1 too, issued, covering the name
(https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html).
With `InternetFacing=false` the web UI's certificate is its internal load balancer's HTTPS listener's, which
Elastic Load Balancing takes from the load balancer's own region, the installation's
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html).
Any other fails the stage late in the run: Plan refuses the run first, naming the option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.errors import InvalidOptions
from lambdas.data.certificates import certificate
from lambdas.release.manifest import OptionValue, Step

#: The region CloudFront, and API Gateway for an edge-optimized custom domain name, take ACM certificates from.
REGION = "us-east-1"


@dataclass(frozen=True)
class CertificateOption:
    """A certificate ARN option, the option naming what it must cover, and what the refusals say of them."""

    arn: str
    name: str
    #: who serves the certificate: `the only ones <serves>`, `<Serves> serves only an issued certificate`
    serves: str
    server: str


WEB_UI = CertificateOption(
    arn="CustomDomainCertificateArn",
    name="CustomDomainName",
    serves="CloudFront serves stage {stage}'s distribution with",
    server="CloudFront",
)
API = CertificateOption(
    arn="ApiCustomDomainCertificateArn",
    name="ApiCustomDomainName",
    serves="API Gateway serves stage {stage}'s edge-optimized custom domain name with",
    server="API Gateway",
)
CERTIFICATE_OPTIONS = (WEB_UI, API)
#: The web UI's certificate with a private data.all (`InternetFacing=false`): its internal load balancer's.
PRIVATE_WEB_UI = CertificateOption(
    arn=WEB_UI.arn,
    name=WEB_UI.name,
    serves="data.all's internal load balancer serves stage {stage}'s HTTPS listener with",
    server="Elastic Load Balancing",
)
INTERNET_FACING = "InternetFacing"


def covers(pattern: str, name: str) -> bool:
    """A certificate's name `pattern` covers `name`: the same name, or a wildcard `*.<parent>` of a name one
    label below `parent` (CloudFront's rule: `*.example.com` covers `a.example.com`, not `example.com` nor
    `a.b.example.com`); case-insensitive, a final dot ignored."""
    pattern, name = pattern.rstrip(".").lower(), name.rstrip(".").lower()
    if pattern == name:
        return True
    label, dot, parent = name.partition(".")
    return pattern.startswith("*.") and bool(label and dot) and pattern[2:] == parent


def check(
    steps: Iterable[Step], options: Mapping[str, OptionValue], account: str, acm: Callable[[str], Any], home: str
) -> None:
    """Refuse the run (InvalidOptions) unless each certificate the steps read (`CERTIFICATE_OPTIONS`) is the
    account's, in us-east-1 (the web UI's of a private data.all: in `home`, the installation's region), ISSUED, and
    covers its name option; nothing to check when no step reads the option or it is empty (data.all then requests
    the web UI's certificate; the API has no custom domain). `acm`: region -> an ACM client of that region."""
    steps = list(steps)
    for option in CERTIFICATE_OPTIONS:
        if option is WEB_UI and options.get(INTERNET_FACING) is False:
            _check(PRIVATE_WEB_UI, steps, options, account, acm, home)
        else:
            _check(option, steps, options, account, acm, REGION)


def _check(
    option: CertificateOption,
    steps: list[Step],
    options: Mapping[str, OptionValue],
    account: str,
    acm: Callable[[str], Any],
    region: str,
) -> None:
    readers = [step.name for step in steps if step.reads_param(option.arn)]
    arn = str(options.get(option.arn, ""))
    if not readers or not arn:
        return
    name = str(options.get(option.name, "")).rstrip(".").lower()
    field = f"options.{option.arn}"
    parts = arn.split(":")
    given, owner = (parts[3], parts[4]) if len(parts) > 5 else ("", "")
    if given != region or owner != account:
        raise InvalidOptions(
            f"{option.arn}: {arn} is not a certificate of account {account} in {region}, the only ones "
            f"{option.serves.format(stage=readers[0])}; nothing was changed",
            field=field,
        )
    found, code = certificate(acm(region), arn)
    if found is None:
        raise InvalidOptions(
            f"{option.arn}: the account has no ACM certificate {arn} in {region} ({code}); nothing was changed",
            field=field,
        )
    status = str(found.get("Status", ""))
    if status != "ISSUED":
        raise InvalidOptions(
            f"{option.arn}: certificate {arn} is {status}, not ISSUED: {option.server} serves only an issued "
            "certificate; nothing was changed",
            field=field,
        )
    names = list(
        dict.fromkeys([str(found.get("DomainName", "")), *map(str, found.get("SubjectAlternativeNames") or [])])
    )
    if not any(covers(pattern, name) for pattern in names if pattern):
        raise InvalidOptions(
            f"{option.arn}: certificate {arn} is for {', '.join(names)}, none of which covers {option.name} {name}: "
            f"{option.server} takes a certificate only for the names it covers; nothing was changed",
            field=field,
        )
