"""The configured site written to the site bucket, then the CDN told: the deploy-time half of the web UI.

What data.all's pipeline does after its build (`aws s3 sync build/ s3://$bucket`, then
`aws cloudfront create-invalidation --paths '/*'`), with the configured bundle
(`lambdas.site.bundle.configure`) and each object's Content-Type and Cache-Control. Like data.all's
sync (no `--delete`), objects of an earlier site are left: a page loaded a moment before still
finds the hashed files it reads lazily. `index.html` is written last, so a viewer is never sent an
index naming files not yet written.

An upgrade publishes the new release's bundle; a rollback publishes the previous release's bundle
with the previous values: the same call. It is idempotent: the site's digest (every key, body and
header) is kept on `index.html`, and a site already published is neither written again nor
invalidated (a redeploy with nothing changed, or a retried step). The clients are given (S3, and
CloudFront in us-east-1 for a distribution; none for a load balancer that serves the bucket).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambdas.data.aws import ClientError
from lambdas.site.bundle import SiteFile

INDEX = "index.html"
DIGEST_METADATA = "dataall-site-digest"


@dataclass(frozen=True)
class Published:
    digest: str
    written: int
    invalidation_id: str | None

    @property
    def changed(self) -> bool:
        return self.written > 0


def site_digest(files: Sequence[SiteFile]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.key):
        for part in (file.key.encode(), file.content_type.encode(), file.cache_control.encode(), file.body):
            digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def caller_reference(run: str, digest: str) -> str:
    return "site-" + hashlib.sha256(f"{run}\n{digest}".encode()).hexdigest()[:40]


def published_digest(s3: Any, bucket: str) -> str | None:
    """The digest of the site the bucket serves now (None: none published by the installer)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=INDEX)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    value = head.get("Metadata", {}).get(DIGEST_METADATA)
    return value if isinstance(value, str) else None


def publish(
    s3: Any,
    bucket: str,
    files: Sequence[SiteFile],
    *,
    run: str,
    cloudfront: Any = None,
    distribution_id: str | None = None,
) -> Published:
    """Write `files` to `bucket` (index.html last) and invalidate the distribution, unless already there.

    `run` (the run's execution) makes the invalidation's CallerReference with the site's digest: a
    retry within a run asks for the same invalidation (CloudFront answers the one it made), while a
    later run putting a site back (a rollback to a site published before) gets a new one."""
    if not any(f.key == INDEX for f in files):
        raise ValueError(f"the site has no {INDEX}")
    if (cloudfront is None) != (distribution_id is None):
        raise ValueError("a distribution to invalidate needs both its CloudFront client and its id")
    digest = site_digest(files)
    if published_digest(s3, bucket) == digest:
        return Published(digest=digest, written=0, invalidation_id=None)
    ordered = sorted(files, key=lambda f: (f.key == INDEX, f.key))
    for file in ordered:
        s3.put_object(
            Bucket=bucket,
            Key=file.key,
            Body=file.body,
            ContentType=file.content_type,
            CacheControl=file.cache_control,
            **({"Metadata": {DIGEST_METADATA: digest}} if file.key == INDEX else {}),
        )
    invalidation_id = None
    if cloudfront is not None:
        created = cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": caller_reference(run, digest),
            },
        )
        invalidation_id = created["Invalidation"]["Id"]
    return Published(digest=digest, written=len(ordered), invalidation_id=invalidation_id)
