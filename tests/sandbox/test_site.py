"""data.all's own web UI, built from its source by the release build (`installer/frontend.py`),
configured with an installation's values (`lambdas/site/bundle.py`), served as CloudFront serves it
(`sandbox/site.py`) and opened in headless Chromium (the OS package: `apt-get install chromium`);
then published by the workflow's site step in a whole install of data.all, its upgrade and a failed
upgrade's rollback (`lambdas/site/step.py`), and the uninstall that empties the site bucket.

Slow (`make test-slow`): the first run builds data.all's frontend (about 4 minutes on 2 cores for
each release, then cached under ~/.cache/dataall-installer/frontend/ by the source's digest). The
screenshots of the login page are kept in `artifacts/` (or `$DATAALL_TEST_ARTIFACTS`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from installer import frontend
from installer.aws import Aws
from installer.cli import app
from installer.images import register_sandbox_images
from lambdas.site.bundle import configure
from sandbox.site import SiteObject, SiteServer, files_lookup
from tests.conftest import cached_dataall_release
from tests.sandbox.chromium import Chromium, executable
from tests.sandbox.conftest import INSTALLATION, deploy, run
from tests.sandbox.test_dataall import CLOUDFRONT_REGION, HOME
from tests.sandbox.test_ways_in import settle, stack_names

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


def _cognito(aws: Aws) -> dict[str, str]:
    """This installation's user pool, app client and hosted-UI domain, as Cognito's API gives them."""
    cognito = aws.client("cognito-idp")
    (pool,) = cognito.list_user_pools(MaxResults=10)["UserPools"]
    (client,) = cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=10)["UserPoolClients"]
    domain = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Domain"]
    return {
        "REACT_APP_COGNITO_USER_POOL_ID": pool["Id"],
        "REACT_APP_COGNITO_APP_CLIENT_ID": client["ClientId"],
        "REACT_APP_COGNITO_DOMAIN": f"{domain}.auth.{aws.region}.amazoncognito.com",
        "REACT_APP_COGNITO_REGION": aws.region,
    }


def _status_site(aws: Aws) -> dict[str, Any]:
    """The site as `dataall-installer status --json` gives it."""
    answered = CliRunner().invoke(
        app,
        ["status", "--endpoint-url", str(aws.endpoint_url), "--region", aws.region, "--env", INSTALLATION.env,
         "--json"],
    )  # fmt: skip
    assert answered.exit_code == 0, answered.output
    site: dict[str, Any] = json.loads(answered.output.strip().splitlines()[-1])["site"]
    return site


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
        return body


def _served(url: str) -> dict[str, str]:
    """sha256 of what the site's URL serves: index.html and each script it loads (the configuration's
    values are in the main chunk)."""
    index = _get(url)
    scripts = re.findall(rb'<script[^>]*src="([^"]+)"', index)
    assert scripts, index[:500]
    served = {"index.html": hashlib.sha256(index).hexdigest()}
    for src in scripts:
        served[src.decode()] = hashlib.sha256(_get(urllib.parse.urljoin(url, src.decode()))).hexdigest()
    return served


def _login_page(url: str, values: dict[str, str], screenshot: str) -> None:
    """data.all's login page at `url` in headless Chromium, with `values` in its loaded configuration."""
    with Chromium() as browser:
        browser.open(url)
        assert browser.wait_until("document.title === 'Login | data.all' && document.title") == "Login | data.all"
        assert browser.wait_until(f"Boolean({LOGIN_BUTTON})")
        browser.wait_until("!document.querySelector('#nprogress')", timeout=10)
        assert browser.screenshot(ARTIFACTS / screenshot).stat().st_size > 10_000
        loaded = browser.evaluate(
            "Promise.all([...document.scripts].filter(s => s.src).map(s => fetch(s.src).then(r => r.text())))"
            ".then(texts => texts.join('\\n'))"
        )
    for name, value in values.items():
        assert f'{name}:"{value}"' in loaded, name
    assert "__DATAALL_" not in loaded


@pytest.mark.xdist_group("dataall")
@pytest.mark.skipif(
    not (UPSTREAM / "2.8.0").is_dir() or not (UPSTREAM / "2.9.0").is_dir(), reason="data.all 2.8.0 and 2.9.0"
)
def test_the_workflow_publishes_data_alls_site_an_upgrade_replaces_it_a_failed_one_keeps_it_uninstall_empties_it(
    sandbox: Any, data_all_pace: None
) -> None:
    """Install 2.8.0 with its web UI: `status` gives the site's URL, which serves data.all's login page
    with this installation's Cognito values; a failed upgrade to 2.9.0 (its last stage,
    frontend-cognito-config, fails: the site step waits for it, so Cognito's callback URLs are right
    before anyone loads the site) never publishes 2.9.0's site and 2.8.0's is served byte for byte; the
    upgrade serves 2.9.0's. CloudFront invalidates on each publish (https://docs.aws.amazon.com/
    AmazonCloudFront/latest/DeveloperGuide/Invalidation.html): the distribution's invalidations count
    them. (A rollback after the site published is `tests/unit/test_site_step.py`'s: with the site the
    last step, only the migrate action, running beside it, can fail after it.)"""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    older, newer = cached_dataall_release("2.8.0", site=True), cached_dataall_release("2.9.0", site=True)
    assert older.manifest.site_bundle and newer.manifest.site_bundle != older.manifest.site_bundle
    for release in (older, newer):
        register_sandbox_images(aws, release, lambda _: None)
    last = [stage.name for stage in newer.manifest.stages()][-1]
    assert last in newer.manifest.steps["site"].depends_on

    installed = deploy(aws, older, {"OnDelete": "Destroy"})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    assert installed.result["actions"]["site"] == {"status": "PUBLISHED", "outcome": "PUBLISHED"}
    site = _status_site(aws)
    assert site["url"].startswith("http://127.0.0.1:"), site
    cognito = _cognito(aws)
    _login_page(site["url"], cognito, "site-installed-login.png")
    on_older = _served(site["url"])
    cloudfront = Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint).client("cloudfront")

    def invalidations() -> int:
        return int(
            cloudfront.list_invalidations(DistributionId=site["distribution_id"])["InvalidationList"]["Quantity"]
        )

    assert invalidations() == 1

    sandbox.faults.add(f"{last}:update")
    try:
        failed = deploy(aws, newer, {"OnDelete": "Destroy"})
    finally:
        sandbox.faults.clear()

    assert failed.result["status"] == "FAILED" and failed.result["error"]["stage"] == last, failed.result
    step = failed.reader.ledger.step(failed.result["execution_arn"].rsplit(":", 1)[1], "site")
    assert step is None or not (step.result or step.executed), step
    assert _served(site["url"]) == on_older
    assert invalidations() == 1

    upgraded = run(aws, failed, {"action": "upgrade", "version": newer.version})

    assert upgraded["status"] == "SUCCEEDED", upgraded["error"]
    assert upgraded["actions"]["site"]["status"] == "PUBLISHED"
    assert _status_site(aws)["url"] == site["url"]
    on_newer = _served(site["url"])
    assert on_newer["index.html"] != on_older["index.html"] and set(on_newer) != set(on_older)
    assert invalidations() == 2
    _login_page(site["url"], cognito, "site-upgraded-login.png")

    # Uninstall (the bootstrap stack deleted, OnDelete=Destroy): the site bucket is versioned and holds
    # both releases' sites; S3 deletes it only once every version and delete marker is gone
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html), which the uninstall's
    # site step sees to before the cloudfront stage's stack is deleted.
    s3 = Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint).client("s3")
    assert s3.list_object_versions(Bucket=site["bucket"]).get("Versions")
    aws.client("cloudformation").delete_stack(StackName=INSTALLATION.stack_name)
    assert settle(aws, INSTALLATION.stack_name, timeout=600) == "DELETE_COMPLETE"
    assert stack_names(aws) == set()
    assert stack_names(Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint)) == set()
    assert site["bucket"] not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
