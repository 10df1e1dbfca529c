"""The release's site action as a manifest gives it: which parameter names the site bucket, the
distribution to invalidate, and the stage that makes the bucket (Plan and the step both ask)."""

from __future__ import annotations

from lambdas.release.manifest import REFERENCE, Manifest

BUCKET = "SiteBucket"
DISTRIBUTION = "DistributionId"
#: The name the site is served at when the installation has one (data.all's custom domain; empty without):
#: the web UI's sign-in and sign-out redirect is then `https://<name>`, as data.all's `frontend_config.py`
#: takes `/dataall/<env>/frontend/custom_domain_name` in place of the distribution's domain.
CUSTOM_DOMAIN = "CustomDomainName"
#: The release file of the bundle the action publishes, when not the release's own (`manifest.site_bundle`):
#: data.all's web UI signing in at its custom auth provider is another build (the variant of EnableCustomAuth).
BUNDLE = "SiteBundle"


def bucket_stage(manifest: Manifest, name: str) -> str | None:
    """The stage whose output names the site bucket of the release's site action `name` (it makes the bucket)."""
    stages = [
        ref.split(".", 1)[0]
        for kind, ref in REFERENCE.findall(manifest.steps[name].parameters.get(BUCKET, ""))
        if kind == "stage"
    ]
    return stages[0] if stages else None
