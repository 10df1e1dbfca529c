"""Route 53's hosted zones, read by id."""

from __future__ import annotations

from typing import Any

from lambdas.data.aws import found

#: Route 53's answers for an id the account has no zone of (NoSuchHostedZone; a malformed id: InvalidInput).
_NOT_THERE = ("NoSuchHostedZone", "InvalidInput")


def hosted_zone(route53: Any, zone_id: str) -> tuple[dict[str, Any] | None, str]:
    """The hosted zone `zone_id` (GetHostedZone's `HostedZone`, its `Config` included), or None and Route 53's
    code when the account has none of that id.
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHostedZone.html"""
    return found(lambda: dict(route53.get_hosted_zone(Id=zone_id)["HostedZone"]), _NOT_THERE)
