"""Releases in the artifacts bucket.

    releases/<version>/manifest.json, blueprints/…, bootstrap.template.json
    assets/<sha256>.zip                 content-addressed, shared by every release
    runs/<run>/rollback/<stage>.json    what a stage ran before a run changed it

A release is copied from the regional release bucket the first time a run asks for it,
and every file is checked against the manifest's sha256 before anything changes: the
installer refuses a damaged or tampered release, and later rollbacks never depend on
the publisher's bucket still holding the old version.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.errors import ReleaseInvalid
from lambdas.data.records import RollbackPoint
from lambdas.release.manifest import Manifest, ManifestError

ASSET_PREFIX = "assets/"


def release_key(version: str, name: str) -> str:
    """Where a manifest file lives in a bucket (assets are shared across versions)."""
    if name.startswith(ASSET_PREFIX):
        return name
    return f"releases/{version}/{name}"


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound", "NoSuchBucket")


class ReleaseStore:
    def __init__(self, s3: Any, artifacts_bucket: str, release_bucket: str = "") -> None:
        self.s3 = s3
        self.bucket = artifacts_bucket
        self.release_bucket = release_bucket
        #: the release files (not assets) `ensure` verified, by key: read once per call
        self._verified: dict[str, bytes] = {}
        #: version -> the sha256 of the manifest `ensure` verified: the release's identity
        self.digests: dict[str, str] = {}

    # ------------------------------------------------------------------ reading
    def _read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def manifest(self, version: str) -> Manifest:
        """The manifest of a release already in the artifacts bucket (checked on copy)."""
        return _parse_manifest(self._read(self.bucket, release_key(version, "manifest.json")))

    def template_body(self, version: str, path: str) -> str:
        """A template of the release: the bytes `ensure` verified, else read from the artifacts bucket."""
        key = release_key(version, path)
        data = self._verified.get(key)
        return (data if data is not None else self._read(self.bucket, key)).decode()

    @property
    def assets_bucket(self) -> str:
        """The bucket a stage's templates read Lambda code from (its `AssetsBucket`)."""
        return self.bucket

    def regional(self, s3: Any, bucket: str, region: str) -> RegionalStore:
        """This store, for a stage in `region`: what the stage reads is copied into `bucket` there."""
        return RegionalStore(self, s3, bucket, region)

    def template_url(self, region: str, version: str, path: str) -> str:
        return self.url_for_key(region, release_key(version, path))

    def url_for_key(self, region: str, key: str) -> str:
        """The S3 URL CloudFormation reads a template from (TemplateURL)."""
        return f"https://{self.bucket}.s3.{region}.amazonaws.com/{key}"

    # ------------------------------------------------------------------ fetching
    def ensure(self, version: str) -> Manifest:
        """The release `version`, present in the artifacts bucket and verified.

        A release is its content, not only its version: the release bucket (the publisher's) is
        asked first, so a release published again under the same version (explicitly: `publish
        --replace`) replaces the copy kept in the artifacts bucket, whose files are verified
        against the new manifest; the kept copy serves when the release bucket no longer has it.
        Raises ReleaseInvalid, naming the file, when it is in neither bucket or a file's
        sha256 differs from the manifest's.
        """
        manifest_key = release_key(version, "manifest.json")
        published, kept = self._published(manifest_key), self._kept(manifest_key)
        if published is not None and published != kept:
            raw, source = published, self.release_bucket
        elif kept is not None:
            raw, source = kept, self.bucket
        else:  # in neither: raises, naming both buckets
            raw, source = self._from_release_bucket(version, manifest_key), self.release_bucket
        try:
            manifest = Manifest.from_json(raw)
        except ManifestError as error:
            raise ReleaseInvalid(f"release {version}: {error}") from None
        if manifest.version != version:
            raise ReleaseInvalid(f"release {version}: its manifest says version {manifest.version}")
        for name, digest in sorted(manifest.files.items()):
            self._verified_copy(source, release_key(version, name), digest, version, name)
        if source != self.bucket:
            self.s3.put_object(Bucket=self.bucket, Key=manifest_key, Body=raw)
        self.digests[version] = hashlib.sha256(raw).hexdigest()
        return manifest

    def _published(self, key: str) -> bytes | None:
        if not self.release_bucket:
            return None
        try:
            return self._read(self.release_bucket, key)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def _kept(self, key: str) -> bytes | None:
        try:
            return self._read(self.bucket, key)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def _from_release_bucket(self, version: str, key: str) -> bytes:
        if not self.release_bucket:
            raise ReleaseInvalid(
                f"release {version} is not in the artifacts bucket {self.bucket} and no release bucket is configured"
            )
        try:
            return self._read(self.release_bucket, key)
        except ClientError as error:
            if _missing(error):
                raise ReleaseInvalid(
                    f"release {version} is in neither the artifacts bucket {self.bucket} "
                    f"nor the release bucket {self.release_bucket} (looked for {key})"
                ) from None
            raise

    def _verified_copy(self, source: str, key: str, digest: str, version: str, name: str) -> None:
        target_has_it = source == self.bucket
        if not target_has_it and self._matches(self.bucket, key, digest, name):
            return
        try:
            data = self._read(source, key)
        except ClientError as error:
            if _missing(error):
                raise ReleaseInvalid(f"release {version}: file {name} is missing ({source}/{key})") from None
            raise
        if hashlib.sha256(data).hexdigest() != digest:
            raise ReleaseInvalid(f"release {version}: file {name} does not match the sha256 in its manifest")
        self._keep(key, name, data)
        if not target_has_it:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def _matches(self, bucket: str, key: str, digest: str, name: str) -> bool:
        try:
            data = self._read(bucket, key)
        except ClientError as error:
            if _missing(error):
                return False
            raise
        if hashlib.sha256(data).hexdigest() != digest:
            return False
        self._keep(key, name, data)
        return True

    def _keep(self, key: str, name: str, data: bytes) -> None:
        """Keep a verified release file for `template_body` (assets, which may be large, are not kept)."""
        if not name.startswith(ASSET_PREFIX):
            self._verified[key] = data

    # ------------------------------------------------------------------ rollback points
    def save_rollback_point(self, run: str, stage: str, point: RollbackPoint) -> str:
        key = f"runs/{run}/rollback/{stage}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(point.written()).encode())
        return key

    def save_template(self, run: str, stage: str, body: str) -> str:
        """A previous template, stored where CloudFormation can read it back (TemplateURL)."""
        key = f"runs/{run}/rollback/{stage}.template.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
        return key

    def save_preview(self, run: str, preview: dict[str, Any]) -> str:
        """What a run would change (`lambdas.run.preview`), for the reader of its result."""
        key = f"runs/{run}/preview.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(preview, sort_keys=True).encode())
        return key

    def read(self, key: str) -> bytes:
        """A file of the artifacts bucket."""
        return self._read(self.bucket, key)

    def rollback_point(self, key: str) -> RollbackPoint:
        return RollbackPoint.from_item(json.loads(self._read(self.bucket, key)), where=f"rollback point {key}")


@lru_cache(maxsize=8)
def _parse_manifest(raw: bytes) -> Manifest:
    try:
        return Manifest.from_json(raw)
    except ManifestError as error:
        raise ReleaseInvalid(str(error)) from None


ASSET_KEY = re.compile(re.escape(ASSET_PREFIX) + r"[0-9a-f]{64}(?:\.[a-z0-9]+)?")


class RegionalStore(ReleaseStore):
    """The release store of a stage in another region than the workflow's.

    Reads stay the workflow's (manifest, templates, rollback points, all in the artifacts bucket).
    What CloudFormation and Lambda read for the stage is copied into the installation's bucket
    in the stage's region first: its template (TemplateURL) and every asset the template names
    (Lambda reads code only from a bucket in the function's own region:
    https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html). The bucket is made on
    first use, private (public access blocked) and TLS-only; assets are content-addressed
    (`assets/<sha256>`), so one already there is not copied again.
    """

    def __init__(self, home: ReleaseStore, s3: Any, bucket: str, region: str) -> None:
        super().__init__(home.s3, home.bucket, home.release_bucket)
        self._verified = home._verified
        self.regional_s3 = s3
        self.regional_bucket = bucket
        self.region = region
        self._ready = False

    @property
    def assets_bucket(self) -> str:
        return self.regional_bucket

    def template_url(self, region: str, version: str, path: str) -> str:
        key = release_key(version, path)
        for asset in sorted(set(ASSET_KEY.findall(self.template_body(version, path)))):
            self._copy(asset, always=False)
        return self.url_for_key(region, key)

    def url_for_key(self, region: str, key: str) -> str:
        self._copy(key, always=True)
        return f"https://{self.regional_bucket}.s3.{self.region}.amazonaws.com/{key}"

    def _copy(self, key: str, *, always: bool) -> None:
        self._ensure_bucket()
        if not always and self._exists(key):
            return
        self.regional_s3.copy_object(
            Bucket=self.regional_bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key}
        )

    def _exists(self, key: str) -> bool:
        try:
            self.regional_s3.head_object(Bucket=self.regional_bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def _ensure_bucket(self) -> None:
        if self._ready:
            return
        try:
            self.regional_s3.head_bucket(Bucket=self.regional_bucket)
        except ClientError as error:
            if not _missing(error):
                raise
            self._create_bucket()
        self._ready = True

    def _create_bucket(self) -> None:
        # us-east-1 takes no LocationConstraint (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html)
        where = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        try:
            self.regional_s3.create_bucket(Bucket=self.regional_bucket, **where)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        self.regional_s3.put_public_access_block(
            Bucket=self.regional_bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        arn = f"arn:aws:s3:::{self.regional_bucket}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
        self.regional_s3.put_bucket_policy(Bucket=self.regional_bucket, Policy=json.dumps(policy))
