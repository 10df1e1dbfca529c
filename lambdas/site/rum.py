"""data.all's CloudWatch RUM in its web UI, as its pipeline sets it up after deploying the frontend.

With `enable_cw_rum`, data.all's pipeline runs `deploy/configs/rum_config.py` (the app monitor's
`Domain`, synthesized as a placeholder `<prefix>.<env>.change.me`, becomes `*.<CloudFront domain>`:
RUM takes events only from pages of its domain) and `deploy/configs/frontend_config.py` puts RUM's web
client snippet in the web UI's `index.html`, filled from GetAppMonitor (the monitor's id, its
identity pool and guest role, sample rate, telemetries, cookies, X-Ray). The site step does both, for
the app monitor the release's site action names (`RumAppMonitor`: `stage/name`) when that stage is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lambdas.site.bundle import SiteFile

#: The site action's parameter naming the app monitor (`rum/dataall-dev-monitor`): its stage and name.
MONITOR = "RumAppMonitor"
INDEX = "index.html"
#: data.all's snippet (`frontend_config.py`, 2.9.0): RUM's web client 1.0.2, loaded from us-east-1.
SNIPPET = (
    "(function(n,i,v,r,s,c,x,z){x=window.AwsRumClient={q:[],n:n,i:i,v:v,r:r,c:c};window[n]=function(c,p)"
    "{x.q.push({c:c,p:p});};z=document.createElement('script');z.async=true;z.src=s;document.head."
    "insertBefore(z,document.getElementsByTagName('script')[0]);})('cwr','%s','1.0.0','%s',"
    "'https://client.rum.us-east-1.amazonaws.com/1.0.2/cwr.js',{sessionSampleRate:%s,guestRoleArn:\"%s\","
    'identityPoolId:"%s",endpoint:"https://dataplane.rum.%s.amazonaws.com",telemetries:[%s],allowCookies:%s,'
    "enableXRay:%s});"
)


class RumError(ValueError):
    """An app monitor the web UI cannot be configured with, naming what is missing."""


def monitor_domain(site_url: str, name: str = "the site's URL") -> str:
    """The app monitor's domain for the site at `site_url` (`https://d111.cloudfront.net`):
    `*.d111.cloudfront.net`, as rum_config.py sets it. `name`: where the URL came from, for the error."""
    host = site_url.split("://", 1)[-1].split("/", 1)[0]
    if not host:
        raise RumError(f"{name}: no host in the site's URL {site_url!r}")
    return f"*.{host}"


def configure_monitor(rum: Any, name: str, domain: str) -> dict[str, Any]:
    """The app monitor `name` pointed at `domain` (UpdateAppMonitor, only when it differs), as
    GetAppMonitor then describes it."""
    monitor: dict[str, Any] = rum.get_app_monitor(Name=name)["AppMonitor"]
    if monitor.get("Domain") != domain:
        rum.update_app_monitor(Name=name, Domain=domain)
        monitor = rum.get_app_monitor(Name=name)["AppMonitor"]
    return monitor


def snippet(monitor: Mapping[str, Any], region: str) -> str:
    """data.all's RUM snippet for the app monitor GetAppMonitor described, in `region`."""
    configuration = monitor.get("AppMonitorConfiguration") or {}
    missing = [key for key in ("SessionSampleRate", "GuestRoleArn", "IdentityPoolId") if key not in configuration]
    if missing or "Id" not in monitor:
        raise RumError(f"app monitor {monitor.get('Name')}: no {', '.join(missing or ['Id'])}")
    return SNIPPET % (
        monitor["Id"],
        region,
        configuration["SessionSampleRate"],
        configuration["GuestRoleArn"],
        configuration["IdentityPoolId"],
        region,
        ",".join(f'"{t}"' for t in configuration.get("Telemetries") or []),
        "true" if configuration.get("AllowCookies") else "false",
        "true" if configuration.get("EnableXRay") else "false",
    )


def with_snippet(files: list[SiteFile], script: str) -> list[SiteFile]:
    """The site with `script` in index.html's head (before `</head>`), as frontend_config.py appends it."""
    index = next((file for file in files if file.key == INDEX), None)
    if index is None:
        raise RumError("the site has no index.html")
    head = index.body.lower().find(b"</head>")
    if head < 0:
        raise RumError("the site's index.html has no </head> to put RUM's snippet before")
    body = index.body[:head] + b"<script>" + script.encode() + b"</script>" + index.body[head:]
    return [replace(file, body=body) if file is index else file for file in files]
