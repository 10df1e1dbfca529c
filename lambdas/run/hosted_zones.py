"""The Route 53 hosted zones an installation names, checked by Plan before anything changes.

data.all's `custom_domain` (the release's `CustomDomainName` and `CustomDomainHostedZoneId`): its
CloudFront stage asks ACM for a certificate of the name validated by DNS in the zone, and adds the
name's alias record there (`blueprints.dataall.rules.custom_domain_from_the_options`). data.all's
`apigw_custom_domain` (`ApiCustomDomainName` and `ApiCustomDomainHostedZoneId`): its lambdas stage adds the
API's domain name's alias record to the zone (`blueprints.dataall.rules.api_custom_domain_from_the_options`),
data.all giving the zone's own name as the domain name. A zone id the account does not have, a zone of another
name, or a private zone (ACM's DNS validation, CloudFront's viewers and an edge-optimized API's clients resolve
public DNS) would fail that stage late in the run, or leave the name unreachable: Plan refuses the run first,
naming the option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.errors import InvalidOptions
from lambdas.data.hosted_zones import hosted_zone
from lambdas.release.manifest import OptionValue, Step


@dataclass(frozen=True)
class ZoneOption:
    """A hosted zone's id option, the option naming the zone, and what the refusals say of them."""

    zone: str
    name: str
    #: what the stage does in the zone (`which stage <s> …`)
    use: str
    #: what is served at the zone's own name
    served: str
    #: why the zone must be public
    public: str


WEB_UI = ZoneOption(
    zone="CustomDomainHostedZoneId",
    name="CustomDomainName",
    use="validates CustomDomainName {name}'s certificate in",
    served="data.all's web UI",
    public="ACM validates the certificate and viewers reach CloudFront by public DNS, so data.all's custom domain "
    "needs a public hosted zone",
)
API = ZoneOption(
    zone="ApiCustomDomainHostedZoneId",
    name="ApiCustomDomainName",
    use="adds ApiCustomDomainName {name}'s alias record to",
    served="data.all's API",
    public="clients reach an edge-optimized API's custom domain name by public DNS, so data.all's API custom domain "
    "needs a public hosted zone",
)
ZONE_OPTIONS = (WEB_UI, API)


def check(steps: Iterable[Step], options: Mapping[str, OptionValue], route53: Callable[[], Any]) -> None:
    """Refuse the run (InvalidOptions) unless each zone the steps read (`ZONE_OPTIONS`) is a public zone of the
    account named by its name option; nothing to check when no step reads the zone's option, or neither it nor the
    name is given."""
    steps = list(steps)
    for option in ZONE_OPTIONS:
        _check(option, steps, options, route53)


def _check(
    option: ZoneOption, steps: list[Step], options: Mapping[str, OptionValue], route53: Callable[[], Any]
) -> None:
    readers = [step.name for step in steps if step.reads_param(option.zone)]
    zone, name = str(options.get(option.zone, "")), str(options.get(option.name, "")).rstrip(".").lower()
    if not readers or not (zone or name):  # neither given: no custom domain (the API's options are read always)
        return
    field = f"options.{option.zone}"
    found, code = hosted_zone(route53(), zone)
    if found is None:
        raise InvalidOptions(
            f"{option.zone}: the account has no Route 53 hosted zone {zone!r} ({code}), which stage {readers[0]} "
            f"{option.use.format(name=name)}; nothing was changed",
            field=field,
        )
    named = str(found.get("Name", "")).rstrip(".").lower()
    if named != name:
        raise InvalidOptions(
            f"{option.zone}: hosted zone {zone} is {named}, not {option.name} {name}: {option.served} is served at "
            "the zone's own name; nothing was changed",
            field=field,
        )
    if (found.get("Config") or {}).get("PrivateZone"):
        raise InvalidOptions(
            f"{option.zone}: hosted zone {zone} ({named}) is private: {option.public}; nothing was changed",
            field=field,
        )
