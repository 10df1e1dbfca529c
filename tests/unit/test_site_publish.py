"""The configured site written to the site bucket and the distribution invalidated
(`lambdas/site/publish.py`), on moto: an upgrade replaces the bundle, a rollback puts the old one
back, an unchanged site is left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from installer import frontend
from lambdas.site.bundle import SiteFile, configure
from lambdas.site.publish import DIGEST_METADATA, caller_reference, publish
from tests.unit.conftest import site_distribution
from tests.unit.test_site_bundle import VALUES, _fake_build

BUCKET = "dataall-test-frontend"


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any, str]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        distribution = site_distribution(f"{BUCKET}.s3.amazonaws.com", root_object="index.html")["Id"]
        yield s3, cloudfront, distribution


def _site(tmp_path: Path, name: str, main: str = "main.1a2b.js", **values: str) -> list[SiteFile]:
    build = _fake_build(tmp_path / name)
    if main != "main.1a2b.js":
        (build / "static" / "js" / "main.1a2b.js").rename(build / "static" / "js" / main)
        (build / "index.html").write_text((build / "index.html").read_text().replace("main.1a2b.js", main))
    return configure(frontend.package(build, "d" * 64), {**VALUES, **values})


def _object(s3: Any, key: str) -> tuple[bytes, str, str]:
    found = s3.get_object(Bucket=BUCKET, Key=key)
    return found["Body"].read(), found["ContentType"], found["CacheControl"]


def _invalidations(cloudfront: Any, distribution: str) -> list[dict[str, Any]]:
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
    items: list[dict[str, Any]] = listed.get("Items", [])
    return items


def test_the_site_is_written_with_its_headers_and_the_distribution_invalidated(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, cloudfront, distribution = aws
    site = _site(tmp_path, "first")

    written: list[str] = []
    put_object = s3.put_object

    def recording_put_object(**request: Any) -> Any:
        written.append(request["Key"])
        return put_object(**request)

    s3.put_object = recording_put_object

    published = publish(s3, BUCKET, site, run="run-1", cloudfront=cloudfront, distribution_id=distribution)

    assert written[-1] == "index.html" and sorted(written) == sorted(f.key for f in site)  # index last
    for file in site:
        assert _object(s3, file.key) == (file.body, file.content_type, file.cache_control)
    assert s3.head_object(Bucket=BUCKET, Key="index.html")["Metadata"] == {DIGEST_METADATA: published.digest}
    assert published.written == len(site)
    invalidation = cloudfront.get_invalidation(DistributionId=distribution, Id=published.invalidation_id)
    assert invalidation["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


def test_an_unchanged_site_is_neither_written_nor_invalidated_again(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, cloudfront, distribution = aws
    site = _site(tmp_path, "first")
    publish(s3, BUCKET, site, run="run-1", cloudfront=cloudfront, distribution_id=distribution)

    again = publish(s3, BUCKET, site, run="run-2", cloudfront=cloudfront, distribution_id=distribution)

    assert (again.written, again.invalidation_id) == (0, None)
    assert len(_invalidations(cloudfront, distribution)) == 1


def test_an_upgrade_replaces_the_bundle_and_a_rollback_puts_the_previous_one_back(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, cloudfront, distribution = aws
    old = _site(tmp_path, "old")
    new = _site(tmp_path, "new", main="main.9f8e.js", REACT_APP_COGNITO_APP_CLIENT_ID="2newclient")
    publish(s3, BUCKET, old, run="install", cloudfront=cloudfront, distribution_id=distribution)
    old_index = _object(s3, "index.html")

    upgraded = publish(s3, BUCKET, new, run="upgrade", cloudfront=cloudfront, distribution_id=distribution)
    new_index = _object(s3, "index.html")
    assert b"main.9f8e.js" in new_index[0]
    assert b'"2newclient"' in _object(s3, "static/js/main.9f8e.js")[0]
    assert _object(s3, "static/js/main.1a2b.js")  # what a page loaded before may still read

    back = publish(s3, BUCKET, old, run="upgrade", cloudfront=cloudfront, distribution_id=distribution)

    assert _object(s3, "index.html") == old_index
    assert back.digest != upgraded.digest and back.written == len(old)
    assert len({upgraded.invalidation_id, back.invalidation_id}) == 2
    assert len(_invalidations(cloudfront, distribution)) == 3


def test_a_site_without_index_or_a_half_named_distribution_is_refused(
    aws: tuple[Any, Any, str], tmp_path: Path
) -> None:
    s3, cloudfront, _ = aws
    site = _site(tmp_path, "first")

    with pytest.raises(ValueError, match=r"no index\.html"):
        publish(s3, BUCKET, [f for f in site if f.key != "index.html"], run="r")
    with pytest.raises(ValueError, match="both its CloudFront client and its id"):
        publish(s3, BUCKET, site, run="r", cloudfront=cloudfront)


def test_a_retry_asks_for_the_same_invalidation_and_a_later_run_for_a_new_one() -> None:
    """CloudFront answers a CallerReference it has seen with the invalidation it made then: a run
    putting back a site published before (a rollback) must not reuse the earlier run's reference."""
    assert caller_reference("run-1", "a" * 64) == caller_reference("run-1", "a" * 64)
    assert caller_reference("run-1", "a" * 64) != caller_reference("run-2", "a" * 64)
    assert caller_reference("run-1", "a" * 64) != caller_reference("run-1", "b" * 64)
