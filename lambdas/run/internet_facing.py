"""`InternetFacing` (data.all's `internet_facing`) is chosen at install.

Internet-facing, data.all's web UI is a CloudFront site (its bucket holding the published web UI) and its API
edge-optimized; private, the web UI is an ECS service behind an internal load balancer and the API is a PRIVATE
one behind an `execute-api` endpoint. A run switching one for the other would delete the stages of the one
(the site bucket among them) while changing the API's endpoint type under its callers: Plan refuses it before
anything changes, as data.all's own pipeline offers no such switch either (a target environment's
`internet_facing` picks its CloudFront or its albfront stage for good).
"""

from __future__ import annotations

from collections.abc import Mapping

from lambdas.release.manifest import OptionValue
from lambdas.run.refusals import refuse_a_change

OPTION = "InternetFacing"


def check(options: Mapping[str, OptionValue], installed: Mapping[str, OptionValue] | None) -> None:
    """Refuse (InvalidOptions, `options.InternetFacing`) a run turning an installed data.all private or public;
    a release installed before the option was offered was internet-facing."""
    if installed is None or OPTION not in options:
        return
    shown = {True: "internet-facing (its web UI on CloudFront, its API public)",
             False: "private (its web UI behind an internal load balancer, its API private)"}  # fmt: skip
    before, after = shown[bool(installed.get(OPTION, True))], shown[bool(options[OPTION])]
    refuse_a_change(
        OPTION, before, after, installed="data.all is installed", own="",
        why="this is chosen at install (the web UI's stacks and the API's endpoint type differ, and switching would "
        "delete the site of the one)",
    )  # fmt: skip
