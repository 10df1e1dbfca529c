"""`InternetFacing` is chosen at install (`lambdas.run.internet_facing`): Plan refuses a run switching an installed
data.all between its CloudFront web UI and public API and its internal load balancer and private API."""

from __future__ import annotations

import pytest

from lambdas.core.errors import InvalidOptions
from lambdas.run.internet_facing import check


def test_an_installed_data_all_keeps_the_web_ui_it_was_installed_with() -> None:
    check({"InternetFacing": False}, None)  # an install chooses
    check({"InternetFacing": False}, {"InternetFacing": False})
    check({"ProdSizing": True}, {"ProdSizing": True})  # a release not offering it
    with pytest.raises(InvalidOptions, match=r"installed private .* not internet-facing") as refused:
        check({"InternetFacing": True}, {"InternetFacing": False})
    assert refused.value.field == "options.InternetFacing"
    # a data.all installed before the option was offered was internet-facing
    with pytest.raises(InvalidOptions, match=r"installed internet-facing .* not private"):
        check({"InternetFacing": False}, {"ProdSizing": True})
