"""data.all's web UI as the installer publishes it: the `site` action.

data.all's pipeline writes its frontend's `.env` from SSM parameters its stacks create
(`deploy/configs/frontend_config.py`: `/dataall/{env}/cognito/userpool`, `…/cognito/appclient`,
`…/cognito/domain`, `…/apiGateway/backendUrl`, and in us-east-1 `…/CloudfrontDistributionDomainName`),
builds, syncs the build to `…/CloudfrontDistributionBucket` and invalidates
`…/CloudfrontDistributionId`. The import finds, for each of those parameters, the stage output
holding the same value, so the action's parameters read the stages' outputs (`${stage:…}`) and
the Plan checks them like any other step's. The action runs after every stage it reads and after
every stage of the stack that makes the site bucket: data.all's pipeline publishes once its whole
CloudFront stack is deployed, so its `FrontendCognitoConfig` has pointed Cognito's callback URLs at
the distribution before a user reaches the site. The workflow publishes the release's prebuilt
bundle (`lambdas.site`), nothing is built at deploy time.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from blueprints.dataall import rules
from blueprints.dataall.stages import ImportedStage

ACTION = "site"
ACTION_TIMEOUT = 900
#: data.all's `reauth_ttl` default (minutes before the UI asks to sign in again for a sensitive action),
#: for a release whose API takes no `ReauthTtlMinutes` option.
REAUTH_TTL_MINUTES = "5"
#: The SSM parameter (its name's end, after `/dataall/{env}/`) data.all's frontend config reads -> the
#: action's parameter that takes the stage output holding the same value.
FROM_PARAMETERS = {
    "cognito/userpool": "UserPoolId",
    "cognito/appclient": "AppClientId",
    "cognito/domain": "CognitoDomainPrefix",
    "apiGateway/backendUrl": "ApiUrl",
    "CloudfrontDistributionId": "DistributionId",
    "CloudfrontDistributionDomainName": "DistributionDomainName",
    "CloudfrontDistributionBucket": "SiteBucket",
}


class SiteImportError(ValueError):
    pass


def _ssm_values(stage: ImportedStage) -> Iterable[tuple[str, str]]:
    """(parameter name end, its Value as JSON) of the stage's SSM parameters named `/dataall/<env>/…`."""
    for resource in stage.template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::SSM::Parameter":
            continue
        properties = resource.get("Properties", {})
        try:
            name = rules.name_template(properties.get("Name"))
        except rules.RuleError:
            continue
        if name.startswith(f"/{rules.SSM_ROOT}/") and name.count("/") >= 3:
            yield name.split("/", 3)[3], json.dumps(properties.get("Value"), sort_keys=True)


def _references(stages: list[ImportedStage], wanted: Iterable[str] = FROM_PARAMETERS.values()) -> dict[str, str]:
    """The action's parameter -> `${stage:S.Output}` whose value is that of data.all's SSM parameter (each of
    `wanted`: the site bucket's and the distribution's are a CloudFront stage's)."""
    found: dict[str, str] = {}
    for stage in stages:
        outputs = {
            json.dumps(spec.get("Value"), sort_keys=True): name
            # the shortest name of outputs that share a value (`CognitoUserPoolId`, not CDK's reference)
            for name, spec in sorted(stage.template.get("Outputs", {}).items(), key=lambda i: (-len(i[0]), i[0]))
        }
        for end, value in _ssm_values(stage):
            parameter = FROM_PARAMETERS.get(end)
            if parameter is None or parameter in found:
                continue
            output = outputs.get(value)
            if output is None:
                raise SiteImportError(
                    f"stage {stage.name}: data.all's parameter …/{end} has no stage output of the same value"
                )
            found[parameter] = "${stage:" + stage.name + "." + output + "}"
    asked = set(wanted)
    found = {parameter: ref for parameter, ref in found.items() if parameter in asked}
    missing = sorted(asked - set(found))
    if missing:
        raise SiteImportError(f"no stage of the release gives the web UI's {', '.join(missing)}")
    return found


def _stack_of(stage: ImportedStage) -> str:
    """The upstream stack a stage comes from (`stack-name` of `stack-name/Nested`)."""
    return stage.source.split("/", 1)[0]


def _published_after(stages: list[ImportedStage], bucket_ref: str) -> list[str]:
    """Every stage of the upstream stack that makes the site bucket: data.all's pipeline deploys that
    stack whole (its CloudFront stage), then syncs the site."""
    maker = next(stage for stage in stages if bucket_ref.startswith("${stage:" + stage.name + "."))
    return sorted(stage.name for stage in stages if _stack_of(stage) == _stack_of(maker))


def _reauth_ttl(stages: list[ImportedStage]) -> str:
    """The web UI's `REACT_APP_REAUTH_TTL`: the option the API's `REAUTH_TTL` takes (data.all's
    pipeline exports one `reauth_config.ttl` to both), else data.all's default."""
    if any(rules.REAUTH_TTL in stage.template.get("Parameters", {}) for stage in stages):
        return "${param:" + rules.REAUTH_TTL + "}"
    return REAUTH_TTL_MINUTES


def site_action(stages: list[ImportedStage]) -> dict[str, Any]:
    """The `site` action: data.all's frontend values (REACT_APP_*) from the stages' outputs, as its
    `frontend_config.py` composes them, the site bucket and the distribution to invalidate; run after
    the stack that makes the site bucket is deployed whole."""
    refs = _references(stages)
    return {
        "name": ACTION,
        "kind": "site",
        "depends_on": _published_after(stages, refs["SiteBucket"]),
        "description": "Publish data.all's web UI: the release's prebuilt bundle with this installation's "
        "values, written to the site bucket (index.html last), then the distribution invalidated",
        "parameters": {
            "SiteBucket": refs["SiteBucket"],
            "DistributionId": refs["DistributionId"],
            **web_ui_values(stages, refs, "https://" + refs["DistributionDomainName"]),
        },
        "timeout": ACTION_TIMEOUT,
    }


def web_ui_values(stages: list[ImportedStage], refs: Mapping[str, str], site_url: str) -> dict[str, str]:
    """data.all's web UI's values (REACT_APP_*, as its `frontend_config.py` writes them) from the stages'
    outputs (`refs`: `_references`), the installer's parameters and the site's own URL."""
    return {
        "REACT_APP_GRAPHQL_API": refs["ApiUrl"] + "graphql/api",
        "REACT_APP_SEARCH_API": refs["ApiUrl"] + "search/api",
        "REACT_APP_REAUTH_TTL": _reauth_ttl(stages),
        "REACT_APP_COGNITO_USER_POOL_ID": refs["UserPoolId"],
        "REACT_APP_COGNITO_APP_CLIENT_ID": refs["AppClientId"],
        "REACT_APP_COGNITO_DOMAIN": refs["CognitoDomainPrefix"] + ".auth.${param:Region}.amazoncognito.com",
        "REACT_APP_COGNITO_REGION": "${param:Region}",
        "REACT_APP_COGNITO_REDIRECT_SIGNIN": site_url,
        "REACT_APP_COGNITO_REDIRECT_SIGNOUT": site_url,
    }


#: The site action's parameter naming data.all's RUM app monitor (`lambdas.site.rum.MONITOR`).
RUM_MONITOR = "RumAppMonitor"
#: The site action's parameter taking the custom domain's name (`lambdas.site.action.CUSTOM_DOMAIN`).
CUSTOM_DOMAIN = "CustomDomainName"


def with_rum_monitor(action: dict[str, Any], stages: Iterable[ImportedStage]) -> dict[str, Any]:
    """The site action naming the app monitor of data.all's RUM stack (`stage/name`), when a stage of
    the release (one an option adds) makes one: the site step points it at the site's domain and puts
    RUM's snippet in the web UI where that stage is on, as data.all's pipeline runs rum_config.py and
    frontend_config.py with `enable_cw_rum`."""
    found = sorted(
        {  # a stage's variants name the same monitor; its name the installation's (`${param:EnvName}`)
            f"{stage.name}/{rules.name_parameters(rules.name_template(resource['Properties']['Name']))}"
            for stage in stages
            for resource in stage.template.get("Resources", {}).values()
            if resource.get("Type") == "AWS::RUM::AppMonitor" and "Name" in resource.get("Properties", {})
        }
    )
    if len(found) > 1:
        raise SiteImportError(f"more than one RUM app monitor: {found}")
    if not found:
        return action
    return {**action, "parameters": {**action["parameters"], RUM_MONITOR: found[0]}}


def with_custom_domain(action: dict[str, Any], stages: Iterable[ImportedStage]) -> dict[str, Any]:
    """The site action taking the custom domain's name (`CustomDomainName`: empty without one), when a stage
    of the release (a variant of EnableCustomDomain) takes it: the site step then makes the web UI's sign-in
    and sign-out redirect `https://<name>`, as data.all's `frontend_config.py` reads
    `/dataall/<env>/frontend/custom_domain_name` instead of the distribution's domain."""
    if not any(rules.CUSTOM_DOMAIN_NAME in stage.template.get("Parameters", {}) for stage in stages):
        return action
    taken = "${param:" + rules.CUSTOM_DOMAIN_NAME + "}"
    return {**action, "parameters": {**action["parameters"], CUSTOM_DOMAIN: taken}}


#: The web UI's values data.all's `frontend_config.py` writes with `custom_auth` (REACT_APP_CUSTOM_AUTH_*), each
#: from the custom-auth option of the same key, in place of its Cognito values (and redirects: the provider's).
CUSTOM_AUTH_VALUES = {
    "REACT_APP_CUSTOM_AUTH": "provider",
    "REACT_APP_CUSTOM_AUTH_URL": "url",
    "REACT_APP_CUSTOM_AUTH_REDIRECT_URL": "redirect_url",
    "REACT_APP_CUSTOM_AUTH_CLIENT_ID": "client_id",
    "REACT_APP_CUSTOM_AUTH_RESP_TYPES": "response_types",
    "REACT_APP_CUSTOM_AUTH_SCOPES": "scopes",
    "REACT_APP_CUSTOM_AUTH_EMAIL_CLAIM_MAPPING": "claims_mapping.email",
    "REACT_APP_CUSTOM_AUTH_USERID_CLAIM_MAPPING": "claims_mapping.user_id",
}
#: The site action's parameter naming the release file of the bundle it publishes (`lambdas.site.action.BUNDLE`).
SITE_BUNDLE = "SiteBundle"
#: The site action's parameters data.all's web UI takes with Cognito only: its pool, client, domain, region and
#: redirects, and what the site step makes the redirects of (the custom domain) or points at the site (RUM, which
#: EnableCustomAuth refuses).
COGNITO_ONLY = (
    "REACT_APP_COGNITO_USER_POOL_ID",
    "REACT_APP_COGNITO_APP_CLIENT_ID",
    "REACT_APP_COGNITO_DOMAIN",
    "REACT_APP_COGNITO_REGION",
    "REACT_APP_COGNITO_REDIRECT_SIGNIN",
    "REACT_APP_COGNITO_REDIRECT_SIGNOUT",
    CUSTOM_DOMAIN,
    RUM_MONITOR,
)


def with_custom_auth(
    action: dict[str, Any], stages: Iterable[ImportedStage], *, bundle: str | None = None
) -> dict[str, Any]:
    """The site action with a variant for EnableCustomAuth, when a stage of the release (a variant of it) takes
    data.all's `custom_auth`: as data.all's `frontend_config.py` writes the web UI's `.env` with `custom_auth`,
    its REACT_APP_CUSTOM_AUTH_* values from the options (`CustomAuthProvider`, ...) and none of Cognito's (no
    stage `cognito` to read them from), the API's and the rest as they are; `bundle`, the release file of the web
    UI built for a custom auth provider (`SiteBundle`: its code picks its sign-in at build time), when the release
    ships one."""
    if not any(rules.CUSTOM_AUTH_PARAMETERS["url"] in stage.template.get("Parameters", {}) for stage in stages):
        return action
    parameters = {key: value for key, value in action["parameters"].items() if key not in COGNITO_ONLY}
    for name, key in CUSTOM_AUTH_VALUES.items():
        parameters[name] = "${param:" + rules.CUSTOM_AUTH_PARAMETERS[key] + "}"
    if bundle is not None:
        parameters[SITE_BUNDLE] = bundle
    variant = {"when": {"option": rules.CUSTOM_AUTH_ENABLED, "equals": True}, "parameters": parameters}
    return {**action, "variants": [*action.get("variants", []), variant]}


# ---------------------------------------------------------------------- the private web UI's image
#: data.all's frontend image, as its albfront stack runs it (deploy/stacks/albfront_stack.py:
#: `ContainerImage.from_ecr_repository(ecr_repository, tag=f'frontend-{image_tag}')`): the tag's prefix.
FRONTEND_TAG_PREFIX = "frontend-"
#: `/REPOSITORY:frontend-TAG` in the image URI CDK joins.
_FRONTEND_IMAGE = re.compile(r'"/([a-z0-9][a-z0-9._/-]*):(' + FRONTEND_TAG_PREFIX + r'[A-Za-z0-9_.-]{1,119})"')
#: The custom resource that makes the installation's frontend image (`lambdas.site.image`), and its logical id.
FRONTEND_IMAGE_TYPE = "Custom::DataallFrontendImage"
FRONTEND_IMAGE = "InstallationFrontendImage"
#: The installer's context parameter: the ARN of its function serving that resource.
FRONTEND_IMAGE_PROVIDER = "FrontendImageProviderArn"
#: Where data.all's frontend image serves the web UI from (frontend/docker/prod/Dockerfile:
#: `cp -av build/. /usr/share/nginx/html/`, nginx.config's `root`).
NGINX_ROOT = "usr/share/nginx/html"


def value_parameter(name: str) -> str:
    """The albfront stage's parameter taking the web UI's value `name`: `REACT_APP_GRAPHQL_API` -> `SiteGraphqlApi`."""
    return "Site" + "".join(word.capitalize() for word in name.removeprefix("REACT_APP_").split("_"))


def _frontend_containers(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The containers of a stage's ECS task definitions that run data.all's frontend image."""
    return [
        container
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::ECS::TaskDefinition"
        for container in resource.get("Properties", {}).get("ContainerDefinitions", [])
        if _FRONTEND_IMAGE.search(json.dumps(container.get("Image")))
    ]


def runs_frontend_image(template: Mapping[str, Any]) -> bool:
    """Whether a stage's ECS task runs data.all's frontend image (its albfront stage)."""
    return bool(_frontend_containers(template))


def frontend_image_of_the_installation(
    stage: ImportedStage, stages: list[ImportedStage], bundle: str | None
) -> ImportedStage:
    """data.all's albfront stage running the installation's own frontend image.

    data.all's pipeline builds the frontend image per installation: its web UI bundle holds the
    installation's API URL and Cognito ids (`frontend_config.py`, then `docker build`). The installer
    builds nothing at deploy time: the stage gets the custom resource `InstallationFrontendImage`
    (`Custom::DataallFrontendImage`, served by the installer's function `FrontendImageProviderArn`
    names), which makes that image from the release's (`BaseImage`, which the `images` step copies
    into the installation's registry) by adding one layer holding the release's web UI `bundle` with
    this installation's values (`Values`, parameters reading the stages' outputs, as the `site`
    action's do; the site is `https://<CustomDomainName>`) under data.all's nginx root; its task
    definition runs that image by digest (`ImageUri`). A value that changes is a new image and a new
    task definition; CloudFormation's rollback puts the one before back. Without a `bundle` (a release
    built without its web UI) the resource answers the release's image itself."""
    template = copy.deepcopy(stage.template)
    resources = template["Resources"]
    containers = _frontend_containers(template)
    if len(containers) != 1:
        raise SiteImportError(f"stage {stage.name}: expected one container of data.all's frontend image, "
                              f"found {len(containers)}")  # fmt: skip
    (container,) = containers
    refs = _references(stages, ("ApiUrl", "UserPoolId", "AppClientId", "CognitoDomainPrefix"))
    values = web_ui_values(stages, refs, "https://${param:" + rules.CUSTOM_DOMAIN_NAME + "}")
    parameters = template.setdefault("Parameters", {})
    parameters[FRONTEND_IMAGE_PROVIDER] = {
        "Type": "String",
        "Description": "The installer's function that makes the installation's frontend image (set by the installer)",
    }
    parameters.setdefault(
        rules.ASSETS_BUCKET,
        {"Type": "String", "Description": "The bucket that holds the release's assets (set by the installer)"},
    )
    for name in values:
        parameters[value_parameter(name)] = {
            "Type": "String",
            "Description": f"data.all's web UI's {name} (set by the installer from the stages' outputs)",
        }
    properties: dict[str, Any] = {
        "ServiceToken": {"Ref": FRONTEND_IMAGE_PROVIDER},
        "BaseImage": container["Image"],
        "Root": NGINX_ROOT,
        "Values": {name: {"Ref": value_parameter(name)} for name in values},
    }
    if bundle is not None:
        properties["Bundle"] = {"Bucket": {"Ref": rules.ASSETS_BUCKET}, "Key": bundle}
    resources[FRONTEND_IMAGE] = {"Type": FRONTEND_IMAGE_TYPE, "Properties": properties}
    container["Image"] = {"Fn::GetAtt": [FRONTEND_IMAGE, "ImageUri"]}
    return replace(
        stage,
        template=template,
        parameters={
            **stage.parameters,
            FRONTEND_IMAGE_PROVIDER: "${param:" + FRONTEND_IMAGE_PROVIDER + "}",
            **{value_parameter(name): value for name, value in values.items()},
        },
    )
