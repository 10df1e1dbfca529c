"""The `site` step: data.all's web UI published for this installation, and put back on rollback.

After every stage it reads (the site bucket and distribution, the user pool and its client, the
API), the step takes the release's prebuilt bundle (`manifest.site_bundle`, verified against its
sha256), puts this installation's values in place of its placeholders (`lambdas.site.bundle`),
writes it to the site bucket and invalidates the distribution (`lambdas.site.publish`): nothing is
built at deploy time. A release without a bundle (built with `DATAALL_INSTALLER_SITE=0`, or in code) skips
the step, and the run's report says so. An upgrade publishes the new release's bundle over the old.
With data.all's RUM stage on for the run's options, the app monitor is pointed at the site's domain and
RUM's web client snippet goes into index.html, as data.all's pipeline does (`lambdas.site.rum`).

An uninstall (the step with op `delete`, before the stage that makes the site bucket is deleted)
empties the bucket: every object version and delete marker, as S3 deletes a versioned bucket only
then and data.all's stack does not empty it (its bucket has no auto-delete).

Rollback (`restore`) puts back the site of the release the run started from: its bundle with the
values its stages had before this run (each stage's rollback point keeps the outputs it had, a
stage the run left alone has them still). A run with no release before it (an install) takes its
site out of the bucket again, index.html first, so nothing serves a half-installed platform.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed
from lambdas.core.messages import StepState
from lambdas.core.phases import Phase
from lambdas.data.aws import ClientError
from lambdas.data.ledger import now_iso
from lambdas.data.records import RecordInvalid, RunRecord, StepRecord, StepUpdate
from lambdas.data.releases import release_key
from lambdas.data.stacks import error_code
from lambdas.release.manifest import Manifest, ManifestError, OptionValue, resolve_parameters
from lambdas.site import rum
from lambdas.site.action import BUCKET, BUNDLE, CUSTOM_DOMAIN, DISTRIBUTION, bucket_stage
from lambdas.site.bundle import BundleError, configure, read_bundle
from lambdas.site.publish import INDEX, Published, publish
from lambdas.stage.deployment import OneCallStep
from lambdas.stage.outputs import outputs_reader

#: The site's own URL among its values (data.all's sign-in redirect: `https://<distribution domain>`, or
#: `https://<custom domain>`), and its sign-out redirect (the same URL).
SITE_URL = "REACT_APP_COGNITO_REDIRECT_SIGNIN"
SIGN_OUT_URL = "REACT_APP_COGNITO_REDIRECT_SIGNOUT"
#: CloudFront's API lives in us-east-1 (a global service).
CLOUDFRONT_REGION = "us-east-1"
#: Keys S3's DeleteObjects takes in one call.
DELETE_BATCH = 1000
NO_BUNDLE = (
    "release {version} ships no web UI bundle (built with DATAALL_INSTALLER_SITE=0, or in code without site=True): "
    "the site is not published"
)


@dataclass(frozen=True)
class SiteTarget:
    """Where a release's site goes and what it carries, resolved for this installation."""

    bucket: str
    region: str
    distribution_id: str | None
    values: dict[str, str]
    #: data.all's RUM app monitor (name, region) when its stage is on for the run's options
    rum_monitor: tuple[str, str] | None = None
    #: the release file of the bundle, when not the release's own (`BUNDLE`: data.all's custom auth)
    bundle: str | None = None


def target(
    deps: Deps,
    manifest: Manifest,
    name: str,
    params: Mapping[str, OptionValue],
    read: Callable[[str, str], str],
) -> SiteTarget:
    """The release's site action `name` resolved: its bucket (in the region of the stage that makes
    it), its distribution, and the bundle's values (every other parameter), with the parameters of its
    variant for the run's options, if it has one (data.all's custom auth: no Cognito values)."""
    try:
        options = {key: value for key, value in params.items() if key in manifest.options}
        spec = manifest.steps[name].chosen(manifest.resolve_options(options))
        values = resolve_parameters(spec, params, read)
    except ManifestError as error:
        raise StageFailed(name, str(error)) from None
    bucket = values.pop(BUCKET, "")
    bundle = values.pop(BUNDLE, "") or None
    distribution = values.pop(DISTRIBUTION, "") or None
    monitor = values.pop(rum.MONITOR, "")
    domain = values.pop(CUSTOM_DOMAIN, "")
    if domain and SITE_URL in values:
        values[SITE_URL] = values[SIGN_OUT_URL] = f"https://{domain}"
    if not bucket:
        raise StageFailed(name, f"the release's {name} action gives no {BUCKET}")
    return SiteTarget(
        bucket=bucket,
        region=bucket_region(deps, manifest, name),
        distribution_id=distribution,
        values=values,
        rum_monitor=_monitor_on(deps, manifest, monitor, params),
        bundle=bundle,
    )


def _monitor_on(
    deps: Deps, manifest: Manifest, monitor: str, params: Mapping[str, OptionValue]
) -> tuple[str, str] | None:
    """The app monitor (`stage/name`) as (name, region), when its stage is on for the run's options."""
    stage, _, name = monitor.partition("/")
    if not name:
        return None
    options = {key: value for key, value in params.items() if key in manifest.options}
    active = manifest.active_steps(manifest.resolve_options(options))
    return (name, active[stage].region_in(deps.home_region)) if stage in active else None


def bundle_file(manifest: Manifest, name: str, params: Mapping[str, OptionValue]) -> str | None:
    """The release file of the bundle the site action `name` publishes for the run's options (None: the
    release's own)."""
    options = {key: value for key, value in params.items() if key in manifest.options}
    try:
        spec = manifest.steps[name].chosen(manifest.resolve_options(options))
    except ManifestError:
        return None
    return spec.parameters.get(BUNDLE) or None


def bucket_region(deps: Deps, manifest: Manifest, name: str) -> str:
    """The region of the site bucket: that of the stage that makes it."""
    maker = manifest.steps.get(bucket_stage(manifest, name) or "")
    return maker.region_in(deps.home_region) if maker is not None else deps.home_region


def bundle_of(deps: Deps, manifest: Manifest, step: str, bundle: str | None = None) -> bytes:
    """The release's bundle (`bundle`, else its own) from the artifacts bucket, checked against the
    manifest's sha256."""
    name = bundle or manifest.site_bundle
    if manifest.site_bundle is None or name is None:
        raise StageFailed(step, NO_BUNDLE.format(version=manifest.version))
    data = deps.store.read(release_key(manifest.version, name))
    if hashlib.sha256(data).hexdigest() != manifest.files.get(name):
        raise StageFailed(step, f"{name} of release {manifest.version} does not match its sha256 in the manifest")
    return data


def published(deps: Deps, site: SiteTarget, bundle: bytes, run: str, step: str) -> Published:
    """The bundle, configured with the site's values, in its bucket; the distribution invalidated."""
    try:
        files = configure(bundle, site.values)
        if site.rum_monitor is not None:
            name, region = site.rum_monitor
            domain = rum.monitor_domain(site.values.get(SITE_URL, ""), SITE_URL)
            monitor = rum.configure_monitor(deps.regional_client("rum", region), name, domain)
            files = rum.with_snippet(files, rum.snippet(monitor, region))
    except (BundleError, rum.RumError) as error:
        raise StageFailed(step, str(error)) from None
    cloudfront = deps.regional_client("cloudfront", CLOUDFRONT_REGION) if site.distribution_id else None
    return publish(
        deps.regional_client("s3", site.region),
        site.bucket,
        files,
        run=run,
        cloudfront=cloudfront,
        distribution_id=site.distribution_id,
    )


class SiteStep(OneCallStep):
    """The site step of one run: one call publishes (or skips) and is done (no phase in which it
    waits: see `lambdas.core.phases.SITE`)."""

    def run(self) -> StepState:
        if self.state.step.op == "delete":
            return self._empty()
        manifest = self.deps.store.manifest(self.meta.version)
        ledger = self.deps.ledger
        if manifest.site_bundle is None:
            reason = NO_BUNDLE.format(version=manifest.version)
            ledger.update_step(
                self.run_id,
                self.name,
                StepUpdate(kind="site", result="SKIPPED", reason=reason, started=now_iso(), finished=now_iso()),
            )
            return self._next(Phase.DONE, "SKIPPED")
        site = target(self.deps, manifest, self.name, self.meta.params, outputs_reader(self.deps, self.name))
        bundle = bundle_of(self.deps, manifest, self.name, site.bundle)
        ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(
                kind="site",
                started=now_iso(),
                site_bucket=site.bucket,
                site_region=site.region,
                distribution_id=site.distribution_id,
            ),
        )
        with ledger.acting(self.run_id, self.name):
            # Marked before the first write: a call that dies mid-way is still undone by a rollback.
            ledger.update_step(self.run_id, self.name, StepUpdate(executed=True, executed_at=now_iso()))
            done = published(self.deps, site, bundle, self.run_id, self.name)
        result = "PUBLISHED" if done.changed else "UNCHANGED"
        ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(
                result=result,
                finished=now_iso(),
                site_digest=done.digest,
                site_files=done.written,
                invalidation_id=done.invalidation_id,
            ),
        )
        return self._next(Phase.DONE, result)

    def _empty(self) -> StepState:
        """The uninstall's step: the site bucket emptied, so that its stage's stack can delete it."""
        manifest = self.deps.store.manifest(self.meta.version)
        ledger = self.deps.ledger
        spec = manifest.steps[self.name]
        only_bucket = replace(spec, parameters={BUCKET: spec.parameters.get(BUCKET, "")})
        try:
            bucket = resolve_parameters(only_bucket, {}, outputs_reader(self.deps, self.name))[BUCKET]
        except ManifestError as error:
            raise StageFailed(self.name, str(error)) from None
        if not bucket:
            raise StageFailed(self.name, f"the release's {self.name} action gives no {BUCKET}")
        region = bucket_region(self.deps, manifest, self.name)
        ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(kind="site", op="delete", started=now_iso(), site_bucket=bucket, site_region=region),
        )
        with ledger.acting(self.run_id, self.name):
            ledger.update_step(self.run_id, self.name, StepUpdate(executed=True, executed_at=now_iso()))
            deleted = empty_bucket(self.deps.regional_client("s3", region), bucket)
        reason = (
            f"{bucket}: {deleted} object versions and delete markers deleted, so its stage can delete it"
            if deleted is not None
            else f"{bucket} is gone already"
        )
        ledger.update_step(self.run_id, self.name, StepUpdate(result="EMPTIED", reason=reason, finished=now_iso()))
        return self._next(Phase.DONE, "EMPTIED")


def empty_bucket(s3: Any, bucket: str) -> int | None:
    """Every object version and delete marker of `bucket` deleted (S3's DeleteBucket refuses a bucket
    holding any: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html); how many,
    None when the bucket is gone."""
    try:
        return _purge_versions(s3, bucket, None)
    except ClientError as error:
        if error_code(error) != "NoSuchBucket":
            raise
        return None


def restore(deps: Deps, meta: RunRecord, record: StepRecord) -> dict[str, Any]:
    """Rollback of the site step: the site of the release before this run, or none; the outcome
    (`RESTORED`, `REMOVED`) and what it says, for the step's record."""
    previous = (meta.previous or {}).get("version")
    if previous:
        manifest = deps.store.manifest(str(previous))
        if manifest.site_bundle is not None and record.name in manifest.steps:
            site = target(deps, manifest, record.name, meta.params, outputs_before(deps, meta.run))
            done = published(deps, site, bundle_of(deps, manifest, record.name, site.bundle), meta.run, record.name)
            return {"outcome": "RESTORED", "reason": f"the site of release {previous} is back ({done.digest[:12]})"}
    removed = _remove(deps, meta, record)
    before = f"release {previous} published no site" if previous else "no release was installed before this run"
    return {"outcome": "REMOVED", "reason": f"{before}: the {removed} files this run wrote are removed"}


def _remove(deps: Deps, meta: RunRecord, record: StepRecord) -> int:
    """Take out of the site bucket what this run's bundle wrote (index.html first), then every
    version and delete marker of those keys: data.all's site bucket is versioned, and S3 deletes a
    bucket (as the failed install's rollback of the stage that made it does) only once it holds no
    version of any object (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html).
    0 if the bucket is gone."""
    if not record.site_bucket:
        return 0
    manifest = deps.store.manifest(meta.version)
    _, files = read_bundle(bundle_of(deps, manifest, record.name, bundle_file(manifest, record.name, meta.params)))
    s3 = deps.regional_client("s3", record.site_region or deps.home_region)
    keys = sorted(files, key=lambda key: (key != INDEX, key))
    try:
        for key in keys:
            s3.delete_object(Bucket=record.site_bucket, Key=key)
        _purge_versions(s3, record.site_bucket, set(keys))
    except ClientError as error:
        if error_code(error) != "NoSuchBucket":
            raise
        return 0
    return len(keys)


def _purge_versions(s3: Any, bucket: str, keys: set[str] | None) -> int:
    """Every version and delete marker of `keys` (None: of every key) in `bucket` deleted; how many.
    An unversioned bucket lists each object as its one version (`null`)."""
    found = [
        {"Key": item["Key"], "VersionId": item["VersionId"]}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if keys is None or item["Key"] in keys
    ]
    for start in range(0, len(found), DELETE_BATCH):
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": found[start : start + DELETE_BATCH], "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RecordInvalid(
                f"{bucket}: {len(answer['Errors'])} versions not deleted ({first.get('Code')}: {first.get('Message')})"
            )
    return len(found)


def outputs_before(deps: Deps, run: str) -> Callable[[str, str], str]:
    """`read(stage, output)` as the stages were before `run`: a stage the run changed from its
    rollback point's ledger record, any other from the ledger."""
    steps = deps.ledger.steps(run)
    cache: dict[str, dict[str, str]] = {}

    def read(name: str, output: str) -> str:
        if name not in cache:
            record = steps.get(name)
            if record is not None and record.rollback_key and record.executed:
                point = deps.store.rollback_point(record.rollback_key)
                before = point.ledger.outputs if point.ledger is not None else None
            else:
                stage = deps.ledger.stage(name)
                before = stage.outputs if stage is not None else None
            if before is None:
                raise RecordInvalid(f"stage {name} had no outputs before run {run}: its site cannot be put back")
            cache[name] = {key: str(value) for key, value in before.items()}
        if output not in cache[name]:
            raise RecordInvalid(f"stage {name} had no output {output} before run {run}")
        return cache[name][output]

    return read
