"""The Route 53 hosted zone an installation names, checked by Plan before anything changes.

data.all's `custom_domain` (the release's `CustomDomainName` and `CustomDomainHostedZoneId`): its
CloudFront stage asks ACM for a certificate of the name validated by DNS in the zone, and adds the
name's alias record there (`blueprints.dataall.rules.custom_domain_from_the_options`). A zone id the
account does not have, a zone of another name, or a private zone (ACM's DNS validation and CloudFront's
viewers resolve public DNS) would fail that stage late in the run, after every backend stage, or leave
the certificate waiting for a record that never resolves: Plan refuses the run first, naming the option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambdas.core.errors import InvalidOptions
from lambdas.data.hosted_zones import hosted_zone
from lambdas.release.manifest import OptionValue, Step

ZONE = "CustomDomainHostedZoneId"
NAME = "CustomDomainName"


def check(steps: Iterable[Step], options: Mapping[str, OptionValue], route53: Callable[[], Any]) -> None:
    """Refuse the run (InvalidOptions) unless the zone the steps read is a public zone of the account
    named `CustomDomainName`; nothing to check when no step reads `CustomDomainHostedZoneId`."""
    readers = [step.name for step in steps if step.reads_param(ZONE)]
    if not readers:
        return
    zone, name = str(options.get(ZONE, "")), str(options.get(NAME, "")).rstrip(".").lower()
    field = f"options.{ZONE}"
    found, code = hosted_zone(route53(), zone)
    if found is None:
        raise InvalidOptions(
            f"{ZONE}: the account has no Route 53 hosted zone {zone!r} ({code}), which stage {readers[0]} "
            f"validates {NAME} {name}'s certificate in; nothing was changed",
            field=field,
        )
    named = str(found.get("Name", "")).rstrip(".").lower()
    if named != name:
        raise InvalidOptions(
            f"{ZONE}: hosted zone {zone} is {named}, not {NAME} {name}: data.all's web UI is served at the "
            "zone's own name; nothing was changed",
            field=field,
        )
    if (found.get("Config") or {}).get("PrivateZone"):
        raise InvalidOptions(
            f"{ZONE}: hosted zone {zone} ({named}) is private: ACM validates the certificate and viewers reach "
            "CloudFront by public DNS, so data.all's custom domain needs a public hosted zone; nothing was changed",
            field=field,
        )
