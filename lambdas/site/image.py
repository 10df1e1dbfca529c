"""`Custom::DataallFrontendImage`: data.all's frontend image with this installation's web UI in it.

data.all with `internet_facing=false` serves its web UI from nginx in an ECS service behind an
internal load balancer (its albfront stack), from a frontend image its pipeline builds for each
installation: the bundle inside holds the installation's API URL and Cognito ids. The installer has
no build servers nor Docker. Its albfront stage (`blueprints.dataall.site.frontend_image_of_the_installation`)
holds this resource; for a Create or an Update it:

1. reads the release's web UI bundle (`Bundle`: the assets bucket and the key, whose name is the
   bundle's sha256, checked) and puts the installation's values (`Values`) in place of its
   placeholders (`lambdas.site.bundle.configure`, as the `site` step does for a CloudFront site);
2. adds one layer holding those files under `Root` (data.all's nginx root) to the release's image
   (`BaseImage`, which the `images` step has copied into the installation's registry), with ECR's
   API alone (`lambdas.images.layer.add_layer`), under the tag `<base tag>-<digest of the files>`:
   the same values make the same image, a re-run uploads nothing, and other values another tag;
3. answers the image by digest (`ImageUri`), which the task definition runs.

An image is never deleted here: a Delete (the stage's, or the one CloudFormation sends for the image
an Update replaced) leaves it, as a rollback of the stage runs the task definition before, which
names it. The installation's images go with its repository. Without `Bundle` (a release built
without its web UI) the answer is the release's image itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.cfn_response import Deadline, Outcome
from lambdas.data import aws
from lambdas.images.copy import digest_of_tag
from lambdas.images.layer import add_layer
from lambdas.site.bundle import BundleError, configure

RESOURCE_TYPE = "Custom::DataallFrontendImage"
#: `<account>.dkr.ecr.<region>.<suffix>/<repository>:<tag>`, as the task definition named the release's image.
IMAGE_URI = re.compile(
    r"(?P<host>(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.[a-z0-9.]+)/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
)
#: A release asset's key: `assets/<sha256 of its bytes>.<extension>`.
ASSET_KEY = re.compile(r"assets/(?P<sha256>[0-9a-f]{64})\.[a-z]+")
#: How much of the files' digest the tag carries (ECR's tags are 128 characters at most).
TAG_DIGEST_LENGTH = 16


class FrontendImageError(ValueError):
    """A request this resource cannot serve; the message names what is wrong."""


@dataclass(frozen=True)
class Services:
    ecr: Any
    s3: Any
    account_id: str
    region: str

    @classmethod
    def from_context(cls, context: Any) -> Services:
        """The clients of the function's own account and region (its ARN says which)."""
        _, region, account_id = aws.own_identity(context)
        return cls(ecr=aws.client("ecr"), s3=aws.client("s3"), account_id=account_id, region=region)


def handle(event: Mapping[str, Any], services: Services, deadline: Deadline) -> Outcome:
    """Serve one CloudFormation request (see the module's docstring)."""
    del deadline  # one image's layer: seconds, well within the provider's timeout
    if event.get("ResourceType") != RESOURCE_TYPE:
        raise FrontendImageError(f"this provider serves {RESOURCE_TYPE}, not {event.get('ResourceType')}")
    if event.get("RequestType") == "Delete":
        return Outcome(physical_resource_id=str(event.get("PhysicalResourceId") or event.get("LogicalResourceId")))
    properties = event.get("ResourceProperties") or {}
    base = IMAGE_URI.fullmatch(str(properties.get("BaseImage", "")))
    if base is None:
        raise FrontendImageError(f"BaseImage {properties.get('BaseImage')!r} is no ECR image URI with a tag")
    if (base["account"], base["region"]) != (services.account_id, services.region):
        raise FrontendImageError(
            f"BaseImage {base[0]} is not in this account's registry in {services.region}, where the "
            "installation's images are"
        )
    repository, base_tag = base["repository"], base["tag"]
    bundle = properties.get("Bundle")
    if not bundle:
        digest = digest_of_tag(services.ecr, repository, base_tag)
        if digest is None:
            raise FrontendImageError(
                f"the release's image {repository}:{base_tag} is not in the installation's registry"
            )
        return _answer(base["host"], repository, base_tag, digest)
    files = _site_files(services.s3, bundle, properties.get("Values") or {}, str(properties.get("Root", "")))
    tag = f"{base_tag}-{_files_digest(files)[:TAG_DIGEST_LENGTH]}"
    digest = add_layer(services.ecr, repository, base_tag, files, tag)
    return _answer(base["host"], repository, tag, digest)


def _answer(host: str, repository: str, tag: str, digest: str) -> Outcome:
    return Outcome(physical_resource_id=f"{repository}:{tag}", data={"ImageUri": f"{host}/{repository}@{digest}"})


def _site_files(s3: Any, bundle: Mapping[str, Any], values: Mapping[str, Any], root: str) -> dict[str, bytes]:
    """The web UI's files with the installation's values, by their path in the image (under `root`)."""
    bucket, key = str(bundle.get("Bucket", "")), str(bundle.get("Key", ""))
    named = ASSET_KEY.fullmatch(key)
    if not bucket or named is None:
        raise FrontendImageError(f"Bundle names no release asset (Bucket and Key assets/<sha256>.zip): {dict(bundle)}")
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if hashlib.sha256(data).hexdigest() != named["sha256"]:
        raise FrontendImageError(f"s3://{bucket}/{key} does not hold the bytes its name's sha256 says")
    try:
        site = configure(data, {name: str(value) for name, value in values.items()})
    except BundleError as error:
        raise FrontendImageError(str(error)) from None
    prefix = root.strip("/")
    return {f"{prefix}/{file.key}" if prefix else file.key: file.body for file in site}


def _files_digest(files: Mapping[str, bytes]) -> str:
    """A digest of the files' paths and contents: the same web UI gives the same tag."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()
