"""The operator's `execute-api` endpoint of data.all's private API (data.all's `apig_vpce`, the release's
`ApiVpcEndpointId`), checked by Plan before anything changes, and kept as installed.

With `internet_facing=false` data.all's API is a PRIVATE REST API, reachable only through interface VPC endpoints of
`com.amazonaws.<region>.execute-api` that its endpoint configuration names and its resource policy admits
(`aws:SourceVpce`; https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html).
Given `apig_vpce`, data.all makes no endpoint and names that one
(`blueprints.dataall.rules.api_vpc_endpoint_from_the_option`): one the region lacks, of another service, a Gateway
endpoint, or one gone, fails the lambdas stage late in the run or leaves the API unreachable, so Plan refuses it
first, naming the option. The endpoint may be of any VPC of the region: a private API is reached through an endpoint
wherever its callers' network is (a shared-services VPC joined by peering or a transit gateway, the VPC `VpcId`
names, or another), which the resource policy admits by the endpoint's id, not its VPC.

Chosen at install: the resource policy names the endpoint, and API Gateway applies a changed policy only when the API
is deployed again (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-create-attach.html),
which a stack update of the same deployment does not do; and data.all's own endpoint has private DNS, which a VPC takes
from one `execute-api` endpoint only, so it and an operator's endpoint of that VPC with private DNS cannot both be made.
A run changing the option on an installed data.all is refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambdas.core.errors import InvalidOptions
from lambdas.data.vpcs import vpc_endpoint
from lambdas.release.manifest import OptionValue, Step
from lambdas.run.refusals import refuse_a_change

OPTION = "ApiVpcEndpointId"
#: the states of an endpoint that serves no request, nor will (DescribeVpcEndpoints' `State`)
GONE = ("deleting", "deleted", "rejected", "failed", "expired")


def check(
    steps: Iterable[Step],
    options: Mapping[str, OptionValue],
    home: str,
    regional_client: Callable[[str, str], Any],
    installed: Mapping[str, OptionValue] | None = None,
) -> None:
    """Refuse the run (InvalidOptions, `options.ApiVpcEndpointId`) when the endpoint, read with EC2 in the region of
    the stage reading it, is not an available Interface endpoint of that region's execute-api, or when it is not the
    endpoint of the installed release's options (`installed`)."""
    if OPTION not in options:  # a release not offering it
        return
    endpoint = str(options.get(OPTION, "") or "")
    if installed is not None:
        _refuse_a_change(str(installed.get(OPTION, "") or ""), endpoint)
    readers = [step for step in steps if step.reads_param(OPTION)]
    if not readers or not endpoint:
        return
    stage = readers[0]
    region = stage.region_in(home)
    found, code = vpc_endpoint(regional_client("ec2", region), endpoint)
    service = f"com.amazonaws.{region}.execute-api"
    if found is None:
        why = f"the region {region} has no such VPC endpoint ({code})"
    elif found.get("ServiceName") != service or found.get("VpcEndpointType") != "Interface":
        kind, of = found.get("VpcEndpointType"), found.get("ServiceName")
        why = f"it is a {kind} endpoint of {of}, not an Interface endpoint of {service}"
    elif str(found.get("State", "")).lower() in GONE:
        why = f"it is {found.get('State')}"
    else:
        return
    raise InvalidOptions(
        f"{OPTION} {endpoint}: {why}; it names the execute-api endpoint stage {stage.name}'s private API is reached "
        "through; nothing was changed",
        field=f"options.{OPTION}",
    )


def _refuse_a_change(before: str, after: str) -> None:
    refuse_a_change(
        OPTION, before, after, installed="data.all's API is installed behind", own="data.all's own endpoint",
        why="the API's endpoint is chosen at install (its resource policy names it, and API Gateway applies a changed "
        "policy only on a new deployment; data.all's own endpoint and one of the operator's with private DNS cannot "
        "serve one VPC)",
    )  # fmt: skip
