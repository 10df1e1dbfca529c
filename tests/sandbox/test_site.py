"""data.all's own web UI, built from its source by the release build (`installer/frontend.py`),
configured with an installation's values (`lambdas/site/bundle.py`), served as CloudFront serves it
(`sandbox/site.py`) and opened in headless Chromium (the OS package: `apt-get install chromium`).

Slow (`make test-slow`): the first run builds data.all's frontend (about 4 minutes on 2 cores, then
cached under ~/.cache/dataall-installer/frontend/ by the source's digest). The screenshot of the
login page is kept in `artifacts/` (or `$DATAALL_TEST_ARTIFACTS`).
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest

from installer import frontend
from lambdas.site.bundle import configure
from sandbox.site import SiteObject, SiteServer, files_lookup
from tests.sandbox.chromium import Chromium, executable

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT.parent / "shared" / "upstream" / "dataall"
ARTIFACTS = Path(os.environ.get("DATAALL_TEST_ARTIFACTS") or ROOT / "artifacts")
SITE_URL = "https://d111111abcdef8.cloudfront.net"
VALUES = {
    "REACT_APP_GRAPHQL_API": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/graphql/api",
    "REACT_APP_SEARCH_API": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/search/api",
    "REACT_APP_REAUTH_TTL": "5",
    "REACT_APP_COGNITO_USER_POOL_ID": "eu-west-1_Sandb0xPl",
    "REACT_APP_COGNITO_APP_CLIENT_ID": "7sandboxclient0id1234567ab",
    "REACT_APP_COGNITO_DOMAIN": "dataall-test-sandbox.auth.eu-west-1.amazoncognito.com",
    "REACT_APP_COGNITO_REGION": "eu-west-1",
    "REACT_APP_COGNITO_REDIRECT_SIGNIN": SITE_URL,
    "REACT_APP_COGNITO_REDIRECT_SIGNOUT": SITE_URL,
}
LOGIN_BUTTON = "[...document.querySelectorAll('button')].find(b => b.innerText.includes('Federated Authentication'))"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here"),
    pytest.mark.skipif(executable() is None, reason="no Chromium: apt-get install chromium"),
]


@pytest.fixture(scope="module")
def site() -> dict[str, SiteObject]:
    bundle = frontend.build(UPSTREAM / "2.9.0" / "source")
    return {f.key: SiteObject(f.body, f.content_type, f.cache_control) for f in configure(bundle.data, VALUES)}


def test_data_alls_login_page_loads_in_chromium_with_this_installations_cognito_values(
    site: dict[str, SiteObject],
) -> None:
    with SiteServer(files_lookup(site)) as server, Chromium() as browser:
        browser.open(server.url)

        assert browser.wait_until("document.title === 'Login | data.all' && document.title") == "Login | data.all"
        assert browser.wait_until(f"Boolean({LOGIN_BUTTON})")
        assert "Login" in browser.evaluate("document.body.innerText").split("\n")
        browser.wait_until("!document.querySelector('#nprogress')", timeout=10)
        shot = browser.screenshot(ARTIFACTS / "site-login.png")
        assert shot.stat().st_size > 10_000

        loaded = browser.evaluate(
            "Promise.all([...document.scripts].filter(s => s.src).map(s => fetch(s.src).then(r => r.text())))"
            ".then(texts => texts.join('\\n'))"
        )
        for name, value in VALUES.items():
            assert f'{name}:"{value}"' in loaded, name
        assert "__DATAALL_" not in loaded

        browser.evaluate(f"{LOGIN_BUTTON}.click()")
        sign_in = browser.wait_for_event(
            "Network.requestWillBeSent",
            lambda p: p["request"]["url"].startswith(f"https://{VALUES['REACT_APP_COGNITO_DOMAIN']}/"),
        )
    url = urllib.parse.urlsplit(sign_in["params"]["request"]["url"])
    query = urllib.parse.parse_qs(url.query)
    assert url.path == "/oauth2/authorize"
    assert query["client_id"] == [VALUES["REACT_APP_COGNITO_APP_CLIENT_ID"]]
    assert query["redirect_uri"] == [SITE_URL]
    assert query["response_type"] == ["code"]


def test_a_deep_link_loads_the_app_as_cloudfronts_error_response_serves_it(site: dict[str, SiteObject]) -> None:
    with SiteServer(files_lookup(site)) as server, Chromium() as browser:
        browser.open(server.url + "console/environments")

        assert browser.wait_until("document.title === 'Login | data.all' && document.title") == "Login | data.all"
        assert ("/console/environments", 404) in server.requests
