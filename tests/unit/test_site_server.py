"""The sandbox's site endpoint (`sandbox/site.py`) answers as data.all's CloudFront distribution:
default root object, 403/404 answered with /index.html (status kept), stored headers, ETag."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from sandbox.site import (
    SECURITY_HEADERS,
    Distributions,
    SiteObject,
    SiteServer,
    bucket_lookup,
    files_lookup,
    origin_bucket,
)
from tests.unit.conftest import site_distribution

INDEX = SiteObject(b"<html><title>data.all</title></html>", "text/html; charset=utf-8", "no-cache")
MAIN = SiteObject(b"console.log(1)", "application/javascript; charset=utf-8", "public, max-age=31536000, immutable")


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer(files_lookup({"index.html": INDEX, "static/js/main.1a2b.js": MAIN})) as running:
        yield running


def _get(url: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_the_root_is_the_default_root_object(server: SiteServer) -> None:
    status, body, headers = _get(server.url)

    assert (status, body) == (200, INDEX.body)
    assert headers["Content-Type"] == INDEX.content_type
    assert headers["Cache-Control"] == "no-cache"
    assert {name: headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_an_object_is_served_with_its_stored_headers_and_revalidates_by_etag(server: SiteServer) -> None:
    status, body, headers = _get(server.url + "static/js/main.1a2b.js?v=ignored")

    assert (status, body, headers["Cache-Control"]) == (200, MAIN.body, MAIN.cache_control)
    assert _get(server.url + "static/js/main.1a2b.js", **{"If-None-Match": headers["ETag"]})[0] == 304


def test_a_route_of_the_app_gets_index_html_with_the_origins_404(server: SiteServer) -> None:
    status, body, _ = _get(server.url + "console/environments/123")

    assert (status, body) == (404, INDEX.body)
    assert ("/console/environments/123", 404) in server.requests


def test_only_get_and_head_are_allowed(server: SiteServer) -> None:
    request = urllib.request.Request(server.url, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403


@mock_aws
def test_the_sandboxs_bucket_is_an_origin() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="site")
    s3.put_object(
        Bucket="site", Key="index.html", Body=INDEX.body, ContentType=INDEX.content_type, CacheControl="no-cache"
    )
    lookup = bucket_lookup(s3, "site")

    assert lookup("index.html") == INDEX
    assert lookup("missing.js") is None


def test_each_distribution_gets_a_local_url_serving_its_origin_bucket_as_its_domain_name_would() -> None:
    """A distribution serves its S3 origin (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistS3AndCustomOrigins.html):
    the sandbox stands the distribution's domain name in with a local URL, reading the bucket on
    each request, so a site published again shows at once."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="dataall-test-cloudfront-site-1a2b")
        s3.put_object(Bucket="dataall-test-cloudfront-site-1a2b", Key="index.html", Body=b"<title>one</title>")
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        distribution = site_distribution("dataall-test-cloudfront-site-1a2b.s3.us-east-1.amazonaws.com")["Id"]
        sites = Distributions({"s3": s3, "cloudfront": cloudfront}.__getitem__)
        try:
            url = sites.url(distribution)

            assert sites.url(distribution) == url
            assert _get(url + "console/environments")[:2] == (404, b"<title>one</title>")
            s3.put_object(Bucket="dataall-test-cloudfront-site-1a2b", Key="index.html", Body=b"<title>two</title>")
            assert _get(url)[:2] == (200, b"<title>two</title>")
        finally:
            sites.stop()


def test_a_distribution_without_an_s3_origin_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no S3 origin"):
        origin_bucket({"Origins": {"Quantity": 1, "Items": [{"Id": "api", "DomainName": "api.example.com"}]}})
