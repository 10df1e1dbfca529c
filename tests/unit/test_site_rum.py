"""data.all's CloudWatch RUM in its web UI (`lambdas.site.rum`): the app monitor pointed at the site's
domain as data.all's `deploy/configs/rum_config.py` does, and RUM's web client snippet in index.html as
its `deploy/configs/frontend_config.py` writes it."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from blueprints.dataall.site import SiteImportError, with_rum_monitor
from blueprints.dataall.stages import ImportedStage
from lambdas.site import rum
from lambdas.site.bundle import SiteFile
from lambdas.site.step import _monitor_on
from tests.unit.releases import small_release, stage

MONITOR = {
    "Name": "dataall-dev-monitor",
    "Id": "0f1e2d3c-aaaa-4bbb-8ccc-123456789012",
    "Domain": "dataall.dev.change.me",
    "AppMonitorConfiguration": {
        "SessionSampleRate": 1.0,
        "GuestRoleArn": "arn:aws:iam::123456789012:role/dataall-dev-cognito-identity-pool-role",
        "IdentityPoolId": "eu-west-1:11111111-2222-4333-8444-555555555555",
        "Telemetries": ["errors", "performance", "http"],
        "AllowCookies": True,
        "EnableXRay": True,
    },
}


class FakeRum:
    """GetAppMonitor and UpdateAppMonitor of one app monitor; the updates it was asked for."""

    def __init__(self) -> None:
        self.monitor: dict[str, Any] = {**MONITOR}
        self.updates: list[dict[str, Any]] = []

    def get_app_monitor(self, Name: str) -> dict[str, Any]:
        assert Name == self.monitor["Name"]
        return {"AppMonitor": dict(self.monitor)}

    def update_app_monitor(self, **given: Any) -> dict[str, Any]:
        self.updates.append(given)
        self.monitor["Domain"] = given["Domain"]
        return {}


def test_the_app_monitor_takes_the_sites_domain_once_as_rum_config_sets_it() -> None:
    client = FakeRum()
    domain = rum.monitor_domain("https://d111abcdef8.cloudfront.net")

    first = rum.configure_monitor(client, "dataall-dev-monitor", domain)
    again = rum.configure_monitor(client, "dataall-dev-monitor", domain)

    assert domain == "*.d111abcdef8.cloudfront.net"
    assert client.updates == [{"Name": "dataall-dev-monitor", "Domain": domain}]  # the second call: no change
    assert first["Domain"] == again["Domain"] == domain


def test_the_snippet_is_data_alls_filled_from_the_app_monitor() -> None:
    script = rum.snippet(MONITOR, "eu-west-1")

    assert "('cwr','0f1e2d3c-aaaa-4bbb-8ccc-123456789012','1.0.0','eu-west-1'," in script
    assert 'guestRoleArn:"arn:aws:iam::123456789012:role/dataall-dev-cognito-identity-pool-role"' in script
    assert 'identityPoolId:"eu-west-1:11111111-2222-4333-8444-555555555555"' in script
    assert 'endpoint:"https://dataplane.rum.eu-west-1.amazonaws.com"' in script
    assert 'telemetries:["errors","performance","http"],allowCookies:true,enableXRay:true});' in script
    assert "sessionSampleRate:1.0," in script


def test_the_snippet_goes_into_index_htmls_head_and_no_other_file() -> None:
    files = [
        SiteFile("index.html", b"<html><head><title>data.all</title></head><body></body></html>", "text/html", "x"),
        SiteFile("static/js/main.js", b"console.log(1)", "application/javascript", "y"),
    ]

    served = rum.with_snippet(files, "cwr()")

    assert served[0].body == b"<html><head><title>data.all</title><script>cwr()</script></head><body></body></html>"
    assert served[1] == files[1]


def test_an_app_monitor_without_its_identity_pool_or_a_page_without_a_head_is_refused_by_name() -> None:
    configuration = {k: v for k, v in MONITOR["AppMonitorConfiguration"].items() if k != "IdentityPoolId"}  # type: ignore[attr-defined]
    with pytest.raises(rum.RumError, match="app monitor dataall-dev-monitor: no IdentityPoolId"):
        rum.snippet({**MONITOR, "AppMonitorConfiguration": configuration}, "eu-west-1")
    with pytest.raises(rum.RumError, match="no </head>"):
        rum.with_snippet([SiteFile("index.html", b"<html></html>", "text/html", "x")], "cwr()")


def test_the_site_configures_the_app_monitor_only_where_its_stage_is_on_for_the_runs_options() -> None:
    release = small_release(
        stage("vpc"),
        stage("rum", when={"option": "Rum", "equals": True}),
        options={"Rum": {"type": "boolean", "default": False}},
    )
    deps: Any = SimpleNamespace(home_region="eu-west-1")

    on = _monitor_on(deps, release.manifest, "rum/dataall-dev-monitor", {"Rum": True, "Region": "eu-west-1"})
    off = _monitor_on(deps, release.manifest, "rum/dataall-dev-monitor", {"Rum": False, "Region": "eu-west-1"})

    assert (on, off) == (("dataall-dev-monitor", "eu-west-1"), None)
    assert _monitor_on(deps, release.manifest, "", {"Rum": True}) is None  # a release without RUM


def test_the_build_names_the_app_monitor_of_the_stage_that_makes_one_in_the_site_action() -> None:
    monitor: dict[str, Any] = {
        "Type": "AWS::RUM::AppMonitor",
        "Properties": {"Name": "dataall-dev-monitor", "Domain": "x"},
    }
    stages = [
        ImportedStage("vpc", "stack/Vpc", None, {"Resources": {}}, {}, (), False),
        ImportedStage("rum", "stack/CWRumStack", None, {"Resources": {"M": monitor}}, {}, (), False),
    ]
    action = {"name": "site", "parameters": {"SiteBucket": "b"}}

    assert with_rum_monitor(action, stages)["parameters"] == {
        "SiteBucket": "b",
        "RumAppMonitor": "rum/dataall-dev-monitor",
    }
    assert with_rum_monitor(action, stages[:1]) == action
    variant = replace(stages[1], template={"Resources": {"M": {**monitor, "Properties": {**monitor["Properties"],
                                                                                         "Domain": "y"}}}})  # fmt: skip
    assert with_rum_monitor(action, [*stages, variant])["parameters"]["RumAppMonitor"] == "rum/dataall-dev-monitor"
    other = replace(variant, name="rum2")
    with pytest.raises(SiteImportError, match="more than one RUM app monitor"):
        with_rum_monitor(action, [*stages, other])


def test_a_site_url_without_a_host_is_refused_naming_where_it_came_from() -> None:
    with pytest.raises(rum.RumError, match=r"^REACT_APP_COGNITO_REDIRECT_SIGNIN: no host in the site's URL ''$"):
        rum.monitor_domain("", "REACT_APP_COGNITO_REDIRECT_SIGNIN")
