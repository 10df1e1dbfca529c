"""data.all's private web UI (`internet_facing=false`): its albfront stage runs the installation's frontend image,
made by the installer's custom resource (`blueprints.dataall.site.frontend_image_of_the_installation`), on
data.all's stages in miniature (`tests.unit.test_site_step.STAGES`)."""

from __future__ import annotations

from typing import Any

import pytest

from blueprints.dataall import rules
from blueprints.dataall.site import (
    FRONTEND_IMAGE,
    FRONTEND_IMAGE_PROVIDER,
    FRONTEND_IMAGE_TYPE,
    NGINX_ROOT,
    SiteImportError,
    frontend_image_of_the_installation,
    runs_frontend_image,
)
from blueprints.dataall.stages import ImportedStage
from tests.unit.test_site_step import STAGES

#: the image URI CDK joins for `ContainerImage.from_ecr_repository(repository, tag='frontend-2.9.0')`
FRONTEND = {"Fn::Join": ["", [{"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}."}, {"Ref": "AWS::URLSuffix"},
                              "/dataall-main-ecr-repository:frontend-2.9.0"]]}  # fmt: skip
BUNDLE = "assets/" + "ab" * 32 + ".zip"


def _albfront(*images: Any) -> ImportedStage:
    containers = [{"Name": f"web{i}", "Image": image} for i, image in enumerate(images)]
    return ImportedStage(
        name="albfront",
        source="albfront-stack",
        region=None,
        template={
            "Parameters": {rules.CUSTOM_DOMAIN_NAME: {"Type": "String"}},
            "Resources": {
                "TaskDef": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ContainerDefinitions": containers}},
            },
        },
        parameters={rules.CUSTOM_DOMAIN_NAME: "${param:CustomDomainName}"},
        depends_on=("cognito", "lambdas"),
        stateful=False,
    )


def test_the_task_runs_the_image_the_custom_resource_makes_from_the_releases_with_the_installations_values() -> None:
    stage = frontend_image_of_the_installation(_albfront(FRONTEND), STAGES, BUNDLE)

    resources = stage.template["Resources"]
    (container,) = resources["TaskDef"]["Properties"]["ContainerDefinitions"]
    assert container["Image"] == {"Fn::GetAtt": [FRONTEND_IMAGE, "ImageUri"]}
    made = resources[FRONTEND_IMAGE]
    assert made["Type"] == FRONTEND_IMAGE_TYPE
    properties = made["Properties"]
    assert properties["ServiceToken"] == {"Ref": FRONTEND_IMAGE_PROVIDER}
    assert properties["BaseImage"] == FRONTEND  # the release's image, which the images step copies
    assert properties["Bundle"] == {"Bucket": {"Ref": rules.ASSETS_BUCKET}, "Key": BUNDLE}
    assert properties["Root"] == NGINX_ROOT == "usr/share/nginx/html"
    assert properties["Values"]["REACT_APP_GRAPHQL_API"] == {"Ref": "SiteGraphqlApi"}
    # the values read the stages' outputs as the site action's do; the site is the custom domain's
    assert stage.parameters["SiteGraphqlApi"] == "${stage:lambdas.Urldev}graphql/api"
    assert stage.parameters["SiteCognitoUserPoolId"] == "${stage:cognito.CognitoUserPoolId}"
    assert stage.parameters["SiteCognitoRedirectSignin"] == "https://${param:CustomDomainName}"
    assert stage.parameters[FRONTEND_IMAGE_PROVIDER] == "${param:FrontendImageProviderArn}"
    declared = stage.template["Parameters"]
    assert {n for n in stage.parameters if n.startswith("Site")} | {
        FRONTEND_IMAGE_PROVIDER,
        rules.ASSETS_BUCKET,
    } <= set(declared)
    assert len(properties["Values"]) == 9


def test_without_a_bundle_the_resource_takes_none_and_another_stage_is_left_alone() -> None:
    stage = frontend_image_of_the_installation(_albfront(FRONTEND), STAGES, None)

    assert "Bundle" not in stage.template["Resources"][FRONTEND_IMAGE]["Properties"]
    assert runs_frontend_image(_albfront(FRONTEND).template)
    lambdas_image = {"Fn::Join": ["", ["x.dkr.ecr.r.amazonaws.com/dataall-main-ecr-repository:lambdas-2.9.0"]]}
    assert not runs_frontend_image(_albfront(lambdas_image).template)


def test_a_stage_with_two_frontend_containers_is_refused() -> None:
    with pytest.raises(SiteImportError, match=r"expected one container of data\.all's frontend image, found 2"):
        frontend_image_of_the_installation(_albfront(FRONTEND, FRONTEND), STAGES, BUNDLE)
