"""The `images` step: every image the release pins, in the installation's own registry, in the
region of each stage that runs it, before those stages (they depend on this action).

Lambda takes a function's image only from a private ECR repository of its own Region, and ECS
pulls from the installation's account: the step copies each image from the publisher's registry
(the manifest's `images.registry` and `images.region`, whose repository policy lets installation
accounts pull) with ECR's API (`lambdas.images.copy`). An image already there with its pinned
digest is not copied again, so a redeploy or a retry only looks.

Rollback keeps the images: they are content-addressed (a digest names exactly one image), a
stage of the release before runs its own tag, and the next run finds them there. For the same
reason an uninstall keeps the repositories, whatever `OnDelete` says (as it keeps the artifacts
and regional buckets): nothing in them is data of the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed
from lambdas.core.messages import StepState
from lambdas.core.phases import Phase
from lambdas.data.downloads import stream_url
from lambdas.data.ledger import now_iso
from lambdas.data.records import StepUpdate
from lambdas.images.copy import Copied, Fetch, ImageCopyError, ImageSpec, copy_image
from lambdas.release.manifest import Manifest, ManifestError
from lambdas.stage.deployment import OneCallStep

#: What the rollback says of this step.
KEPT_REASON = (
    "images are kept in the installation's registry: content-addressed by digest, they change nothing the "
    "release before runs, and the next run finds them there"
)


def targets(manifest: Manifest, options: Mapping[str, Any], home: str) -> list[tuple[ImageSpec, str]]:
    """(image, region) for every image of the release and every region of an active stage running it."""
    if manifest.image_registry is None:
        return []
    try:
        active = manifest.active_steps(options)
    except ManifestError:
        active = dict(manifest.steps)
    registry, region = manifest.image_registry
    found: list[tuple[ImageSpec, str]] = []
    for image in manifest.images:
        if not image.digest:
            raise ImageCopyError(f"image {image.name} has no digest in release {manifest.version}")
        spec = ImageSpec(image.repository, image.tag, image.digest, registry, region)
        regions = sorted({active[s].region_in(home) for s in image.stages if s in active})
        found.extend((spec, where) for where in regions)
    return found


def make_available(deps: Deps, manifest: Manifest, options: Mapping[str, Any], fetch: Fetch) -> list[Copied]:
    """Every image of the release in the installation's registry of each region that runs it."""
    done = []
    for spec, region in targets(manifest, options, deps.home_region):
        source = deps.regional_client("ecr", spec.source_region)
        target = deps.regional_client("ecr", region)
        done.append(copy_image(source, target, spec, region, fetch))
    return done


class ImagesStep(OneCallStep):
    """The images step of one run: one call copies what is missing, and is done (no phase in which
    it waits: see `lambdas.core.phases.IMAGES`)."""

    def __init__(self, deps: Deps, state: StepState, fetch: Fetch | None = None) -> None:
        super().__init__(deps, state)
        self.fetch = fetch or stream_url

    def run(self) -> StepState:
        manifest = self.deps.store.manifest(self.meta.version)
        ledger = self.deps.ledger
        ledger.update_step(self.run_id, self.name, StepUpdate(kind="images", started=now_iso()))
        try:
            with ledger.acting(self.run_id, self.name):
                # Marked before the first copy: the rollback then says what it keeps.
                ledger.update_step(self.run_id, self.name, StepUpdate(executed=True, executed_at=now_iso()))
                done = make_available(self.deps, manifest, self.meta.options, self.fetch)
        except ImageCopyError as error:
            raise StageFailed(self.name, str(error)) from None
        copied = sum(1 for item in done if item.result == "COPIED")
        result = "COPIED" if copied else "UNCHANGED"
        ledger.update_step(
            self.run_id,
            self.name,
            StepUpdate(result=result, finished=now_iso(), images=[item.to_record() for item in done]),
        )
        return self._next(Phase.DONE, result)
