"""`Custom::DataallFrontendImage` (`lambdas.site.image`): data.all's frontend image with one
installation's web UI in one more layer, made in the sandbox's ECR from the release's image and web UI
bundle, and read back as the ECS task of data.all's private web UI would serve it (`sandbox.image_files`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from installer import frontend
from lambdas.core.cfn_response import Deadline
from lambdas.site.bundle import BundleError
from lambdas.site.image import RESOURCE_TYPE, FrontendImageError, Services, handle
from sandbox.image_files import image_file
from sandbox.moto_internals import ACCOUNT_ID
from tests.sandbox.conftest import Clients
from tests.unit.test_image_layer import NGINX, publish
from tests.unit.test_site_bundle import VALUES, _fake_build

REPOSITORY = "dataall-main-ecr-repository"
BASE_TAG = "frontend-2.9.0"
ASSETS = "installation-assets"
MAIN = "usr/share/nginx/html/static/js/main.1a2b.js"
INDEX = "usr/share/nginx/html/index.html"


@pytest.fixture
def services(sandbox: Any, clients: Clients) -> Services:
    ecr, s3 = clients("ecr"), clients("s3")
    publish(ecr, NGINX, tag=BASE_TAG, repository=REPOSITORY)
    location = (
        {} if sandbox.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": sandbox.region}}
    )
    s3.create_bucket(Bucket=ASSETS, **location)
    return Services(ecr=ecr, s3=s3, account_id=ACCOUNT_ID, region=sandbox.region)


def _bundle(services: Services, tmp_path: Path) -> dict[str, str]:
    data = frontend.package(_fake_build(tmp_path), "d" * 64)
    key = f"assets/{hashlib.sha256(data).hexdigest()}.zip"
    services.s3.put_object(Bucket=ASSETS, Key=key, Body=data)
    return {"Bucket": ASSETS, "Key": key}


def _request(services: Services, kind: str = "Create", **properties: Any) -> dict[str, Any]:
    base = f"{services.account_id}.dkr.ecr.{services.region}.amazonaws.com/{REPOSITORY}:{BASE_TAG}"
    return {
        "RequestType": kind,
        "ResourceType": RESOURCE_TYPE,
        "LogicalResourceId": "InstallationFrontendImage",
        "ResourceProperties": {"BaseImage": base, "Root": "usr/share/nginx/html", "Values": VALUES, **properties},
    }


def test_the_installations_image_serves_its_web_ui_over_the_releases_image(
    sandbox: Any, services: Services, tmp_path: Path
) -> None:
    """data.all's pipeline bakes the installation's values into its frontend image (frontend_config.py, then
    `docker build`); the installer adds them in one layer (OCI image spec, "Applying Changesets"), and the
    task runs the image by digest (Amazon ECS developer guide, task definition `image`: `repository@digest`)."""
    bundle = _bundle(services, tmp_path)

    made = handle(_request(services, Bundle=bundle), services, Deadline(60))

    uri = made.data["ImageUri"]
    host, digest = uri.split("@")
    assert host == f"{ACCOUNT_ID}.dkr.ecr.{sandbox.region}.amazonaws.com/{REPOSITORY}" and digest.startswith("sha256:")
    main = image_file(sandbox.region, REPOSITORY, digest, MAIN) or b""
    assert VALUES["REACT_APP_GRAPHQL_API"].encode() in main and b"__DATAALL_" not in main
    assert b"<title>data.all</title>" in (image_file(sandbox.region, REPOSITORY, digest, INDEX) or b"")
    assert image_file(sandbox.region, REPOSITORY, digest, "etc/nginx/nginx.conf") == (
        b"server { root /usr/share/nginx/html; }"  # the release's image, under the layer
    )
    assert made.physical_resource_id.startswith(f"{REPOSITORY}:{BASE_TAG}-")
    # the same values: the same image, nothing put again; other values: another image, the first kept
    assert handle(_request(services, "Update", Bundle=bundle), services, Deadline(60)) == made
    other = {**VALUES, "REACT_APP_COGNITO_REDIRECT_SIGNIN": "https://data.corp.example.com"}
    changed = handle(_request(services, "Update", Bundle=bundle, Values=other), services, Deadline(60))
    assert changed.data["ImageUri"] != uri and changed.physical_resource_id != made.physical_resource_id
    assert image_file(sandbox.region, REPOSITORY, digest, MAIN) == main
    # a Delete leaves the image: the task definition a rollback returns to names it
    handle({**_request(services, "Delete"), "PhysicalResourceId": made.physical_resource_id}, services, Deadline(60))
    tags = {t for d in services.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for t in d["imageTags"]}
    assert made.physical_resource_id.split(":")[1] in tags


def test_without_a_bundle_the_release_image_itself_is_answered(sandbox: Any, services: Services) -> None:
    """A release built without its web UI: the task runs the release's image (as the `site` step skips)."""
    made = handle(_request(services), services, Deadline(60))

    assert made.data["ImageUri"].endswith(f"/{REPOSITORY}@{NGINX.digest}")


def test_a_request_it_cannot_serve_is_refused_naming_what_is_wrong(services: Services, tmp_path: Path) -> None:
    bundle = _bundle(services, tmp_path)
    elsewhere = f"{ACCOUNT_ID}.dkr.ecr.ap-south-2.amazonaws.com/{REPOSITORY}:{BASE_TAG}"
    with pytest.raises(FrontendImageError, match="not in this account's registry in"):
        handle(_request(services, Bundle=bundle, BaseImage=elsewhere), services, Deadline(60))
    services.s3.put_object(Bucket=ASSETS, Key=bundle["Key"], Body=b"not the bundle")
    with pytest.raises(FrontendImageError, match="does not hold the bytes its name's sha256 says"):
        handle(_request(services, Bundle=bundle), services, Deadline(60))
    bundle = _bundle(services, tmp_path / "again")
    missing = {k: v for k, v in VALUES.items() if k != "REACT_APP_GRAPHQL_API"}
    with pytest.raises((FrontendImageError, BundleError), match="REACT_APP_GRAPHQL_API"):
        handle(_request(services, Bundle=bundle, Values=missing), services, Deadline(60))
