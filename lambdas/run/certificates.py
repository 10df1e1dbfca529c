"""The ACM certificate an installation names for its custom domain, checked by Plan before anything changes.

data.all's `custom_domain.certificate_arn` (the release's `CustomDomainCertificateArn`): its CloudFront
stage makes no certificate and gives the distribution that one
(`blueprints.dataall.rules.custom_domain_certificate_from_the_option`). CloudFront takes a certificate of
the distribution's account, in us-east-1, issued, whose names cover each of the distribution's alternate
domain names (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html);
any other fails the stage late in the run, after every backend stage: Plan refuses the run first, naming
the option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambdas.core.errors import InvalidOptions
from lambdas.data.certificates import certificate
from lambdas.release.manifest import OptionValue, Step

ARN = "CustomDomainCertificateArn"
NAME = "CustomDomainName"
#: The region CloudFront takes ACM certificates from.
REGION = "us-east-1"


def covers(pattern: str, name: str) -> bool:
    """A certificate's name `pattern` covers `name`: the same name, or a wildcard `*.<parent>` of a name one
    label below `parent` (CloudFront's rule: `*.example.com` covers `a.example.com`, not `example.com` nor
    `a.b.example.com`); case-insensitive, a final dot ignored."""
    pattern, name = pattern.rstrip(".").lower(), name.rstrip(".").lower()
    if pattern == name:
        return True
    label, dot, parent = name.partition(".")
    return pattern.startswith("*.") and bool(label and dot) and pattern[2:] == parent


def check(steps: Iterable[Step], options: Mapping[str, OptionValue], account: str, acm: Callable[[str], Any]) -> None:
    """Refuse the run (InvalidOptions) unless the certificate the steps read is the account's, in us-east-1,
    ISSUED, and covers `CustomDomainName`; nothing to check when no step reads `CustomDomainCertificateArn`
    or it is empty (data.all requests the certificate). `acm`: region -> an ACM client of that region."""
    readers = [step.name for step in steps if step.reads_param(ARN)]
    arn = str(options.get(ARN, ""))
    if not readers or not arn:
        return
    name = str(options.get(NAME, "")).rstrip(".").lower()
    field = f"options.{ARN}"
    parts = arn.split(":")
    region, owner = (parts[3], parts[4]) if len(parts) > 5 else ("", "")
    if region != REGION or owner != account:
        raise InvalidOptions(
            f"{ARN}: {arn} is not a certificate of account {account} in {REGION}, the only ones CloudFront "
            f"serves stage {readers[0]}'s distribution with; nothing was changed",
            field=field,
        )
    found, code = certificate(acm(REGION), arn)
    if found is None:
        raise InvalidOptions(
            f"{ARN}: the account has no ACM certificate {arn} in {REGION} ({code}); nothing was changed", field=field
        )
    status = str(found.get("Status", ""))
    if status != "ISSUED":
        raise InvalidOptions(
            f"{ARN}: certificate {arn} is {status}, not ISSUED: CloudFront serves only an issued certificate; "
            "nothing was changed",
            field=field,
        )
    names = list(
        dict.fromkeys([str(found.get("DomainName", "")), *map(str, found.get("SubjectAlternativeNames") or [])])
    )
    if not any(covers(pattern, name) for pattern in names if pattern):
        raise InvalidOptions(
            f"{ARN}: certificate {arn} is for {', '.join(names)}, none of which covers {NAME} {name}: CloudFront "
            "takes a certificate only for the names it covers; nothing was changed",
            field=field,
        )
