"""What the import changes in an upstream template: each change is one rule, applied by code.

Nothing of data.all's templates is edited by hand. `RULES` is the list the README shows; a
rule never changes `Metadata`, `Mappings` or `Conditions` (CDK's region tables live there, and
their values may not be intrinsic functions); one adds a mapping of its own.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The context parameter the installer gives every stage: the bucket holding the release's assets.
ASSETS_BUCKET = "AssetsBucket"
_ONE_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


@dataclass(frozen=True)
class Synthesis:
    """What the upstream synthesis baked into its templates, which a release must not keep."""

    account: str
    region: str
    asset_buckets: frozenset[str]
    #: the upstream asset's object key -> the release's object key
    asset_keys: Mapping[str, str]
    #: the region of the platform's home stack (data.all's backend), when this template's stack
    #: was synthesized for another (its CloudFront stage, for us-east-1)
    home_region: str = ""
    #: the values data.all's value keys had at synthesis (`DATAALL_DEFAULTS` for any not given)
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: the `envname` of data.all's one target environment at synthesis (`installer.upstream.SYNTH_ENVIRONMENT`,
    #: as ../shared/upstream/dataall's assemblies were made)
    envname: str = "dev"
    #: data.all's `resource_prefix` at synthesis (its `cdk.json` context; its default, as ../shared's were made)
    resource_prefix: str = "dataall"

    def setting(self, key: str) -> Any:
        return self.settings.get(key, DATAALL_DEFAULTS[key])


Rule = Callable[[dict[str, Any], Synthesis], None]


def no_bootstrap_check(template: dict[str, Any], _synthesis: Synthesis) -> None:
    """CDK's bootstrap check goes: the `BootstrapVersion` parameter (an SSM lookup of the CDK
    bootstrap stack's version) and the `CheckBootstrapVersion` rule. A release needs no CDK
    bootstrap: its assets are in the installer's own bucket."""
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    if not template.get("Parameters"):
        template.pop("Parameters", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    if not template.get("Rules"):
        template.pop("Rules", None)


def assets_from_the_release(template: dict[str, Any], synthesis: Synthesis) -> None:
    """Asset locations are the release's: CDK's asset bucket (`cdk-hnb659fds-assets-…`) becomes
    the `AssetsBucket` parameter the installer passes, and each asset's object key the key the
    release stores it under (`assets/<sha256>.zip`)."""
    used = False

    def rewrite(text: str) -> str:
        nonlocal used
        for bucket in synthesis.asset_buckets:
            if bucket in text:
                used = True
                text = text.replace(bucket, "${" + ASSETS_BUCKET + "}")
        return synthesis.asset_keys.get(text, text)

    _rewrite_strings(template, rewrite)
    if used:
        template.setdefault("Parameters", {})[ASSETS_BUCKET] = {
            "Type": "String",
            "Description": "The bucket that holds the release's assets (set by the installer)",
        }


def account_and_region_neutral(template: dict[str, Any], synthesis: Synthesis) -> None:
    """The account and region the upstream was synthesized for (data.all's offline synthesis:
    `111111111111` / `eu-west-1`) become `${AWS::AccountId}` and `${AWS::Region}`: a release is
    installed into any account and region."""
    literals = {synthesis.account: "${AWS::AccountId}", synthesis.region: "${AWS::Region}"}
    literals.pop("", None)
    if not literals:
        return
    pattern = re.compile("|".join(re.escape(k) for k in sorted(literals, key=len, reverse=True)))

    def rewrite(text: str) -> str:
        return pattern.sub(lambda m: literals[m.group(0)], text)

    _rewrite_strings(template, rewrite)


#: The parameter the installer gives a stage of another region than the platform's home: the
#: home region (the workflow's own), which the stage's resources name where they reach back.
HOME_REGION = "HomeRegion"


def home_region_from_the_installer(template: dict[str, Any], synthesis: Synthesis) -> None:
    """In a stack synthesized for another region than the home stack's (data.all's CloudFront
    stage, in us-east-1), the home region it names (data.all's backend region, where its
    functions read the Cognito ids from SSM and its policies name the user pool) becomes the
    `HomeRegion` parameter the installer passes: the region the platform is installed in."""
    if not synthesis.home_region or synthesis.home_region == synthesis.region:
        return
    used = False

    def rewrite(text: str) -> str:
        nonlocal used
        if synthesis.home_region not in text:
            return text
        used = True
        return text.replace(synthesis.home_region, "${" + HOME_REGION + "}")

    _rewrite_strings(template, rewrite)
    if used:
        template.setdefault("Parameters", {})[HOME_REGION] = {
            "Type": "String",
            "Description": "The region the platform is installed in (set by the installer)",
        }


#: The parameter that takes the pivot role's external id, a per-installation value the installer
#: makes at deploy time (`lambdas.run.installation_values`); the value of the manifest's `values`.
EXTERNAL_ID = "PivotRoleExternalId"
#: data.all's SSM parameter of the external id (`deploy/stacks/param_store_stack.py`).
EXTERNAL_ID_PARAMETER = re.compile(r"/dataall/[A-Za-z0-9_.-]+/pivotRole/externalId")


def ssm_parameters(template: Mapping[str, Any], name: re.Pattern[str]) -> Iterator[dict[str, Any]]:
    """The properties of the template's SSM parameters whose `Name` is a string `name` matches whole."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if (
            resource.get("Type") == "AWS::SSM::Parameter"
            and isinstance(properties.get("Name"), str)
            and name.fullmatch(properties["Name"])
        ):
            yield properties


def external_id_from_the_installation(template: dict[str, Any], _synthesis: Synthesis) -> None:
    """The pivot role's external id that data.all's synthesis drew (the literal `Value` of its
    `/dataall/<env>/pivotRole/externalId` SSM parameter) becomes the NoEcho `PivotRoleExternalId`
    parameter: a release is shared, its external id is each installation's own."""
    used = False
    for properties in ssm_parameters(template, EXTERNAL_ID_PARAMETER):
        if isinstance(properties.get("Value"), str):
            properties["Value"] = {"Ref": EXTERNAL_ID}
            used = True
    if used:
        template.setdefault("Parameters", {})[EXTERNAL_ID] = {
            "Type": "String",
            "NoEcho": True,
            # What STS takes as an external id.
            "AllowedPattern": "[\\w+=,.@:/-]{2,1224}",
            "Description": "The pivot role's external id, this installation's own (set by the installer)",
        }


def external_id_parameter(template: dict[str, Any]) -> str | None:
    """The name of the SSM parameter that takes the external id in `template` (after the rules), as a
    `name_template` (`/dataall/${EnvName}/pivotRole/externalId`)."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::SSM::Parameter" and properties.get("Value") == {"Ref": EXTERNAL_ID}:
            return name_template(properties["Name"])
    return None


def name_parameters(template: str) -> str:
    """A `name_template` as the manifest's actions take it: `${param:ResourcePrefix}`, `${param:EnvName}`."""
    for parameter in (RESOURCE_PREFIX, ENV_NAME, RESOURCE_PREFIX_FIRST_6):
        template = template.replace("${" + parameter + "}", "${param:" + parameter + "}")
    return template


def name_template(value: Any) -> str:
    """A name data.all's template gives, as a template over the installation's names: a literal as it is, the
    names rule's `Fn::Sub` of `${ResourcePrefix}`/`${EnvName}` as its text (what the bootstrap stack's own `Fn::Sub`
    and the workflow's `resolve_name` make of it); any other value is refused, naming it."""
    if isinstance(value, str) and "${" not in value:
        return value
    text = value.get("Fn::Sub") if isinstance(value, dict) and len(value) == 1 else None
    variables = set(_ONE_VARIABLE.findall(text.replace("${!", "")) if isinstance(text, str) else ["?"])
    if not isinstance(text, str) or not variables <= {RESOURCE_PREFIX, ENV_NAME, RESOURCE_PREFIX_FIRST_6}:
        raise RuleError(f"the name {value!r} is not a literal nor made of the installation's names alone")
    return text


#: A Lambda layer version's ARN (https://docs.aws.amazon.com/lambda/latest/api/API_LayerVersionsReferenceType.html).
LAYER_ARN = r"arn:aws[a-zA-Z-]*:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
#: The suffix of the parameter that takes a layer published by another account.
LAYER_PARAMETER_SUFFIX = "LayerArn"


def layers_of_the_installations_region(template: dict[str, Any], synthesis: Synthesis) -> None:
    """A layer another account publishes in each region under its own version numbers (data.all's
    Klayers `cryptography` layer, looked up at synthesis in the synthesis region) becomes a
    parameter, `<Layer>LayerArn`: the installer passes the release's option of that name, whose
    default is the synthesized ARN (`pinned_layers`), which Plan refuses in another region unless
    given that region's (Lambda takes layers of its function's own region only)."""
    found = pinned_layers(template, synthesis)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::Function" and isinstance(properties.get("Layers"), list):
            properties["Layers"] = [
                {"Ref": layer_parameter(layer.split(":")[6])} if layer in found.values() else layer
                for layer in properties["Layers"]
            ]
    for parameter in found:
        template.setdefault("Parameters", {})[parameter] = {
            "Type": "String",
            "AllowedPattern": LAYER_ARN,
            "Description": "The ARN of a layer in the installation's region (set by the installer)",
        }


def pinned_layers(template: Mapping[str, Any], synthesis: Synthesis) -> dict[str, str]:
    """The layers of another account than the synthesis's that the template's functions name by a
    literal ARN (before the rules): parameter name -> ARN."""
    found = {}
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::Lambda::Function" or not isinstance(properties.get("Layers"), list):
            continue
        for layer in properties["Layers"]:
            # the platform's own layers are the installation's (account_and_region_neutral)
            if isinstance(layer, str) and re.fullmatch(LAYER_ARN, layer) and layer.split(":")[4] != synthesis.account:
                found[layer_parameter(layer.split(":")[6])] = layer
    return found


def layer_parameter(layer_name: str) -> str:
    """`Klayers-p312-cryptography` -> `KlayersP312CryptographyLayerArn`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", layer_name)) + LAYER_PARAMETER_SUFFIX


def layer_parameters(template: Mapping[str, Any]) -> list[str]:
    """The layer parameters `layers_of_the_installations_region` declared in `template`."""
    return sorted(
        name
        for name, spec in (template.get("Parameters") or {}).items()
        if name.endswith(LAYER_PARAMETER_SUFFIX) and spec.get("AllowedPattern") == LAYER_ARN
    )


#: data.all's context keys whose value lands as a literal in its templates, and their defaults
#: (`deploy/stacks/pipeline.py`: `target_env.get('cognito_user_session_timeout_inmins', 43200)`,
#: `self.node.try_get_context('log_retention_duration') or logs.RetentionDays.TWO_YEARS.value`).
SESSION_TIMEOUT_KEY = "cognito_user_session_timeout_inmins"
LOG_RETENTION_KEY = "log_retention_duration"
#: data.all's `throttling` (`target_env.get('throttling', {})`): its API stage's throttling, each key
#: defaulting to `deploy/stacks/lambda_api.py`'s `DEFAULT_API_RATE_LIMIT` / `DEFAULT_API_BURST_LIMIT`.
THROTTLING_KEY = "throttling"
THROTTLING_DEFAULTS: Mapping[str, int] = {"global_rate_limit": 10000, "global_burst_limit": 5000}
#: data.all's `reauth_config` (`target_env.get('reauth_config', None)`): `ttl`, the minutes a sign-in
#: may perform a sensitive operation (`deploy/stacks/backend_stack.py`: `reauth_config.get('ttl', 5) if
#: reauth_config else 5`), and `reauth_apis`, the GraphQL operations that need one (none unless given).
REAUTH_KEY = "reauth_config"
REAUTH_DEFAULTS: Mapping[str, Any] = {"ttl": 5, "reauth_apis": None}
#: data.all's `allowed_origins` (`target_env.get('allowed_origins', '*')`): its API's and search proxy's
#: `Access-Control-Allow-Origin`.
ALLOWED_ORIGINS_KEY = "allowed_origins"
#: data.all's `shared_dashboard_sessions` (`target_env.get('shared_dashboard_sessions', 'anonymous')`):
#: the kind of QuickSight session of a shared dashboard.
SHARED_DASHBOARDS_KEY = "shared_dashboard_sessions"
#: data.all's `enable_pivot_role_auto_create` (`target_env.get('enable_pivot_role_auto_create', False)`).
PIVOT_ROLE_AUTO_CREATE_KEY = "enable_pivot_role_auto_create"
#: data.all's `custom_waf_rules` (`target_env.get('custom_waf_rules', None)`): its keys `allowed_ip_list`
#: (IPv4 CIDRs), `allowed_geo_list` (ISO 3166 alpha-2 codes), `rate_limit` and `rate_limit_window` are
#: options (`deploy/stacks/waf_rules.py`).
WAF_KEY = "custom_waf_rules"
#: data.all's `custom_domain` (`target_env.get('custom_domain', None)`): `hosted_zone_name` and
#: `hosted_zone_id` of the Route 53 zone its web UI is served at (`deploy/stacks/cloudfront.py`).
CUSTOM_DOMAIN_KEY = "custom_domain"
#: data.all's `vpc_restricted_nacl` (`target_env.get('vpc_restricted_nacl', False)`): a network ACL of its own
#: on its new VPC's subnets (`deploy/stacks/vpc.py`, `create_new_vpc`).
VPC_RESTRICTED_NACL_KEY = "vpc_restricted_nacl"
#: data.all's `custom_auth` (`target_env.get('custom_auth', None)`): an external OIDC identity provider in place
#: of its Cognito user pool (`deploy/stacks/pipeline.py` checks its keys; `backend_stack.py`, `lambda_api.py`,
#: `cloudfront_stack.py`, `deploy/configs/frontend_config.py`).
CUSTOM_AUTH_KEY = "custom_auth"
#: data.all's `vpc_id` (`target_env.get('vpc_id')`): the operator's VPC, which data.all looks up at synthesis
#: (`ec2.Vpc.from_lookup`) in place of making its own (`deploy/stacks/vpc.py`).
VPC_ID_KEY = "vpc_id"
#: data.all's `vpc_endpoints_sg` (`target_env.get('vpc_endpoints_sg')`, meaningful with `vpc_id` only): the operator's
#: security group of the VPC's own endpoints, which data.all's functions and tasks reach (`deploy/stacks/vpc.py`:
#: `SecurityGroup.from_security_group_id(..., mutable=False)`), in place of the endpoints and group it makes.
VPC_ENDPOINTS_SG_KEY = "vpc_endpoints_sg"
#: data.all's `apigw_custom_domain` (`target_env.get('apigw_custom_domain')`): its API served at
#: `hosted_zone_name` (the zone's own name) with the ACM certificate `certificate_arn`, the zone `hosted_zone_id`
#: holding its alias record (`deploy/stacks/lambda_api.py`, `set_up_graphql_api_gateway`).
API_CUSTOM_DOMAIN_KEY = "apigw_custom_domain"
#: data.all's `apig_vpce` (`target_env.get('apig_vpce')`, read only with `internet_facing=false`): the operator's
#: `execute-api` interface endpoint its private API takes (`deploy/stacks/lambda_api.py`,
#: `InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes`), in place of the endpoint and group it makes.
API_VPC_ENDPOINT_KEY = "apig_vpce"
#: data.all's `ip_ranges` (`target_env.get('ip_ranges')`, read by its albfront stack only, `internet_facing=false`): the
#: CIDR ranges its internal load balancer and web UI service admit on tcp 443 beside the VPC's CIDR
#: (`deploy/stacks/albfront_stack.py`, `allow_alb_access`; `lambda_api.py`'s `get_api_resource_policy` takes them too,
#: but nothing calls it).
IP_RANGES_KEY = "ip_ranges"
DATAALL_DEFAULTS: Mapping[str, Any] = {
    SESSION_TIMEOUT_KEY: 43200,
    LOG_RETENTION_KEY: "TWO_YEARS",
    THROTTLING_KEY: THROTTLING_DEFAULTS,
    REAUTH_KEY: REAUTH_DEFAULTS,
    ALLOWED_ORIGINS_KEY: "*",
    SHARED_DASHBOARDS_KEY: "anonymous",
    PIVOT_ROLE_AUTO_CREATE_KEY: False,
    WAF_KEY: None,
    CUSTOM_DOMAIN_KEY: None,
    VPC_RESTRICTED_NACL_KEY: False,
    CUSTOM_AUTH_KEY: None,
    VPC_ID_KEY: None,
    VPC_ENDPOINTS_SG_KEY: None,
    API_CUSTOM_DOMAIN_KEY: None,
    API_VPC_ENDPOINT_KEY: None,
    IP_RANGES_KEY: None,
}

#: The parameter (and release option) of data.all's `cognito_user_session_timeout_inmins`.
SESSION_TIMEOUT = "SessionTimeoutMinutes"
#: Cognito's bounds of a refresh token's validity: 60 minutes to 10 years
#: (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-refresh-token.html).
SESSION_TIMEOUT_BOUNDS = (60, 3650 * 24 * 60)


def session_timeout_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `cognito_user_session_timeout_inmins` (its app client's refresh-token validity, in
    minutes: `deploy/stacks/cognito.py`) becomes the `SessionTimeoutMinutes` parameter, which the
    release's option of that name fills: a value, no other resource changes with it."""
    minutes = synthesis.setting(SESSION_TIMEOUT_KEY)
    used = False
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        units = properties.get("TokenValidityUnits") or {}
        if (
            resource.get("Type") == "AWS::Cognito::UserPoolClient"
            and properties.get("RefreshTokenValidity") == minutes
            and units.get("RefreshToken") == "minutes"
        ):
            properties["RefreshTokenValidity"] = {"Ref": SESSION_TIMEOUT}
            used = True
    if used:
        template.setdefault("Parameters", {})[SESSION_TIMEOUT] = {
            "Type": "Number",
            "MinValue": SESSION_TIMEOUT_BOUNDS[0],
            "MaxValue": SESSION_TIMEOUT_BOUNDS[1],
            "Description": f"data.all's {SESSION_TIMEOUT_KEY}: how long a sign-in lasts (the app client's "
            "refresh-token validity), in minutes (set by the installer from the release's option)",
        }


#: The parameter (and release option) of data.all's `log_retention_duration`, in days.
LOG_RETENTION = "LogRetentionDays"
#: CDK's `logs.RetentionDays` names (what data.all's `log_retention_duration` takes) and their days,
#: CloudWatch Logs' retention values; `INFINITE` is left out (no `RetentionInDays`: another template).
RETENTION_DAYS: Mapping[str, int] = {
    "ONE_DAY": 1, "THREE_DAYS": 3, "FIVE_DAYS": 5, "ONE_WEEK": 7, "TWO_WEEKS": 14, "ONE_MONTH": 30,
    "TWO_MONTHS": 60, "THREE_MONTHS": 90, "FOUR_MONTHS": 120, "FIVE_MONTHS": 150, "SIX_MONTHS": 180,
    "ONE_YEAR": 365, "THIRTEEN_MONTHS": 400, "EIGHTEEN_MONTHS": 545, "TWO_YEARS": 731, "THREE_YEARS": 1096,
    "FIVE_YEARS": 1827, "SIX_YEARS": 2192, "SEVEN_YEARS": 2557, "EIGHT_YEARS": 2922, "NINE_YEARS": 3288,
    "TEN_YEARS": 3653,
}  # fmt: skip
#: The mapping the rule adds: days -> data.all's name, for what reads the name (its ECS tasks'
#: `LOG_RETENTION`, which data.all's cdkproxy gives the log groups of the stacks it deploys).
LOG_RETENTION_NAMES = "DataallLogRetentionNames"
#: The environment variable of data.all's ECS tasks that carries `log_retention_duration` by name.
LOG_RETENTION_VARIABLE = "LOG_RETENTION"


def log_retention_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `log_retention_duration` (the retention of its log groups: VPC flow logs, API,
    functions, ECS tasks, OpenSearch's application log; `deploy/stacks/*.py`) becomes the
    `LogRetentionDays` parameter: each log group whose `RetentionInDays` is the synthesized value
    takes it, and each ECS container's `LOG_RETENTION` (the name) takes that name by a mapping the
    rule adds. Log groups data.all gives another retention (OpenSearch's slow logs: 30) keep theirs."""
    name = synthesis.setting(LOG_RETENTION_KEY)
    days = RETENTION_DAYS.get(name)
    if days is None:
        return
    used = False
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Logs::LogGroup" and properties.get("RetentionInDays") == days:
            properties["RetentionInDays"] = {"Ref": LOG_RETENTION}
            used = True
        if resource.get("Type") != "AWS::ECS::TaskDefinition":
            continue
        for container in properties.get("ContainerDefinitions") or []:
            for variable in container.get("Environment") or []:
                if variable.get("Name") == LOG_RETENTION_VARIABLE and variable.get("Value") == name:
                    variable["Value"] = {"Fn::FindInMap": [LOG_RETENTION_NAMES, "Days", {"Ref": LOG_RETENTION}]}
                    template.setdefault("Mappings", {})[LOG_RETENTION_NAMES] = {
                        "Days": {str(d): n for n, d in RETENTION_DAYS.items()}
                    }
                    used = True
    if used:
        template.setdefault("Parameters", {})[LOG_RETENTION] = {
            "Type": "Number",
            "AllowedValues": [str(d) for d in RETENTION_DAYS.values()],
            "Description": f"data.all's {LOG_RETENTION_KEY}, in days: how long its log groups keep events "
            "(set by the installer from the release's option)",
        }


#: The parameters (and release options) of data.all's `throttling` keys.
API_RATE_LIMIT = "ApiRateLimit"
API_BURST_LIMIT = "ApiBurstLimit"
#: parameter -> (data.all's `throttling` key, the `MethodSetting` property it sets)
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html).
THROTTLING_PARAMETERS: Mapping[str, tuple[str, str]] = {
    API_RATE_LIMIT: ("global_rate_limit", "ThrottlingRateLimit"),
    API_BURST_LIMIT: ("global_burst_limit", "ThrottlingBurstLimit"),
}


def throttling(synthesis: Synthesis) -> dict[str, int]:
    """data.all's `throttling` at synthesis, each key it leaves out at data.all's default."""
    return {**THROTTLING_DEFAULTS, **synthesis.setting(THROTTLING_KEY)}


def throttling_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `throttling` (`global_rate_limit`, `global_burst_limit`: `deploy/stacks/lambda_api.py`
    gives them to its API's stage as the method setting of every resource and method, `/*` and `*`)
    becomes the `ApiRateLimit` and `ApiBurstLimit` parameters: values, no other resource changes."""
    values = throttling(synthesis)
    declared = set()
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::ApiGateway::Stage":
            continue
        for setting in (resource.get("Properties") or {}).get("MethodSettings") or []:
            if (setting.get("HttpMethod"), setting.get("ResourcePath")) != ("*", "/*"):
                continue
            for parameter, (key, name) in THROTTLING_PARAMETERS.items():
                if name in setting and setting[name] == values[key]:
                    setting[name] = {"Ref": parameter}
                    declared.add(parameter)
    for parameter in sorted(declared):
        key, name = THROTTLING_PARAMETERS[parameter]
        template.setdefault("Parameters", {})[parameter] = {
            "Type": "Number",
            "MinValue": 1,
            "Description": f"data.all's {THROTTLING_KEY}.{key}: its API stage's {name} for every method "
            "(set by the installer from the release's option)",
        }


#: The parameters (and release options) of data.all's `reauth_config` keys.
REAUTH_TTL = "ReauthTtlMinutes"
REAUTH_APIS = "ReauthApis"
#: The environment variable of data.all's API function that carries `reauth_config.ttl`.
REAUTH_TTL_VARIABLE = "REAUTH_TTL"
#: GraphQL operation names (https://spec.graphql.org/October2021/#Name), comma-separated as data.all
#: stores them (`','.join(reauth_apis)`), or none.
REAUTH_APIS_PATTERN = r"([_A-Za-z][_0-9A-Za-z]*(,[_A-Za-z][_0-9A-Za-z]*)*)?"
#: The condition the rule gives data.all's reauth SSM parameter, which it makes only when operations are given.
REAUTH_APIS_GIVEN = "DataallReauthApisGiven"
#: data.all's parameter stack and its SSM parameters, by the construct path CDK writes in their `Metadata`
#: (`deploy/stacks/param_store_stack.py`), and their names `/dataall/<env>/…`.
PARAM_STORE_PATH = re.compile(r"(?P<stack>.+/ParamStore)/(?P<construct>[^/]+)/Resource")
DATAALL_PARAMETER_NAME = re.compile(r"/dataall/(?P<env>[^/]+)/.+")


def reauth(synthesis: Synthesis) -> dict[str, Any]:
    """data.all's `reauth_config` at synthesis, each key it leaves out at data.all's default."""
    return {**REAUTH_DEFAULTS, **(synthesis.setting(REAUTH_KEY) or {})}


def reauth_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `reauth_config` becomes two parameters. `ttl` (its API function's `REAUTH_TTL`,
    `deploy/stacks/lambda_api.py`) is `ReauthTtlMinutes`. `reauth_apis` is `ReauthApis`: data.all's
    parameter stack makes the SSM parameter `/dataall/<env>/reauth/apis` (its value the operations
    joined by commas, which its API handler reads) only when operations are given, so the rule gives
    that template the parameter as CDK synthesizes it (construct `ReAuthAPIs<env>`, its logical id and
    path, the tags of its sibling parameters) under the condition that `ReauthApis` is not empty; a
    synthesis that made it (with the operations the settings name) has its value become the parameter."""
    values = reauth(synthesis)
    resources = template.get("Resources", {})
    ttl = False
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        if variables.get(REAUTH_TTL_VARIABLE) == str(values["ttl"]):
            variables[REAUTH_TTL_VARIABLE] = {"Ref": REAUTH_TTL}
            ttl = True
    if ttl:
        template.setdefault("Parameters", {})[REAUTH_TTL] = {
            "Type": "Number",
            "MinValue": 1,
            "Description": f"data.all's {REAUTH_KEY}.ttl: the minutes after a sign-in in which a user may run "
            "the operations ReauthApis names before signing in again (set by the installer from the release's option)",
        }
    siblings = [
        (found, resource)
        for resource in resources.values()
        if resource.get("Type") == "AWS::SSM::Parameter"
        and isinstance(path := (resource.get("Metadata") or {}).get("aws:cdk:path"), str)
        and (found := PARAM_STORE_PATH.fullmatch(path))
    ]
    if not siblings:
        return
    names = {
        named["env"]
        for _, resource in siblings
        if isinstance(name := (resource.get("Properties") or {}).get("Name"), str)
        and (named := DATAALL_PARAMETER_NAME.fullmatch(name))
    }
    if len(names) != 1:
        raise RuleError(f"data.all's parameter stack names not one environment in its SSM parameters: {sorted(names)}")
    (env,) = names
    construct = f"ReAuthAPIs{env}"
    logical_id = cdk_logical_id([construct, "Resource"])
    name = f"/dataall/{env}/reauth/apis"
    made = [key for key, r in resources.items() if (r.get("Properties") or {}).get("Name") == name]
    given = ",".join(values["reauth_apis"] or [])
    if made != ([logical_id] if given else []):
        raise RuleError(
            f"data.all's SSM parameter {name} is {made or 'missing'}, not where CDK puts it ({logical_id}) "
            f"for the synthesis' reauth_apis {values['reauth_apis']}"
        )
    if made and resources[logical_id]["Properties"].get("Value") != given:
        raise RuleError(f"data.all's SSM parameter {name} holds not the synthesis' reauth_apis {given!r}")
    (anchor, sibling) = siblings[0]
    properties: dict[str, Any] = {"Name": name}
    if "Tags" in sibling.get("Properties", {}):
        properties["Tags"] = copy.deepcopy(sibling["Properties"]["Tags"])
    properties.update({"Type": "String", "Value": {"Ref": REAUTH_APIS}})
    resources[logical_id] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": properties,
        "Metadata": {"aws:cdk:path": f"{anchor['stack']}/{construct}/Resource"},
        "Condition": REAUTH_APIS_GIVEN,
    }
    given_condition = {"Fn::Not": [{"Fn::Equals": [{"Ref": REAUTH_APIS}, ""]}]}
    template.setdefault("Conditions", {})[REAUTH_APIS_GIVEN] = given_condition
    template.setdefault("Parameters", {})[REAUTH_APIS] = {
        "Type": "String",
        "AllowedPattern": REAUTH_APIS_PATTERN,
        "Description": f"data.all's {REAUTH_KEY}.reauth_apis: the GraphQL operations, comma-separated, that need "
        "a sign-in of at most ReauthTtlMinutes; none: no SSM parameter (set by"
        " the installer from the release's option)",
    }


#: The parameter (and release option) of data.all's `allowed_origins`, and the environment variable of
#: its API and search-proxy functions that carries it (`deploy/stacks/lambda_api.py`).
ALLOWED_ORIGINS = "AllowedOrigins"
ALLOWED_ORIGINS_VARIABLE = "ALLOWED_ORIGINS"
#: `*` or one origin (https://fetch.spec.whatwg.org/#http-access-control-allow-origin: a single
#: origin, `scheme://host[:port]`, or `*`), as `Access-Control-Allow-Origin` takes it.
ALLOWED_ORIGINS_PATTERN = r"\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?"


def allowed_origins_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `allowed_origins` (its API's and search proxy's `Access-Control-Allow-Origin`, the
    functions' `ALLOWED_ORIGINS`) becomes the `AllowedOrigins` parameter: a value, nothing else changes."""
    value = synthesis.setting(ALLOWED_ORIGINS_KEY)
    used = False
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        if variables.get(ALLOWED_ORIGINS_VARIABLE) == value:
            variables[ALLOWED_ORIGINS_VARIABLE] = {"Ref": ALLOWED_ORIGINS}
            used = True
    if used:
        template.setdefault("Parameters", {})[ALLOWED_ORIGINS] = {
            "Type": "String",
            "AllowedPattern": ALLOWED_ORIGINS_PATTERN,
            "Description": f"data.all's {ALLOWED_ORIGINS_KEY}: the Access-Control-Allow-Origin of its API and "
            "search proxy, * or one origin (set by the installer from the release's option)",
        }


#: The parameter (and release option) of data.all's `shared_dashboard_sessions`, its values
#: (`template_cdk.json`: `reader, anonymous`), and the SSM parameter that carries it.
SHARED_DASHBOARDS = "SharedDashboardsSessions"
SHARED_DASHBOARDS_VALUES = ("anonymous", "reader")
SHARED_DASHBOARDS_PARAMETER = re.compile(r"/dataall/[^/]+/quicksight/sharedDashboardsSessions")


def shared_dashboards_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `shared_dashboard_sessions` (the SSM parameter
    `/dataall/<env>/quicksight/sharedDashboardsSessions` its dashboards module reads to embed a shared
    QuickSight dashboard for an anonymous or a reader session) becomes the `SharedDashboardsSessions`
    parameter: a value, nothing else changes."""
    value = synthesis.setting(SHARED_DASHBOARDS_KEY)
    used = False
    for properties in ssm_parameters(template, SHARED_DASHBOARDS_PARAMETER):
        if properties.get("Value") == value:
            properties["Value"] = {"Ref": SHARED_DASHBOARDS}
            used = True
    if used:
        template.setdefault("Parameters", {})[SHARED_DASHBOARDS] = {
            "Type": "String",
            "AllowedValues": list(SHARED_DASHBOARDS_VALUES),
            "Description": f"data.all's {SHARED_DASHBOARDS_KEY}: the QuickSight session of a shared dashboard "
            "(set by the installer from the release's option)",
        }


#: The parameter (and release option) of data.all's `enable_pivot_role_auto_create`, and the condition
#: the rule gives each template that reads it.
PIVOT_ROLE_AUTO_CREATE = "EnablePivotRoleAutoCreate"
PIVOT_ROLE_AUTO_CREATE_ON = "DataallPivotRoleAutoCreate"
PIVOT_ROLE_SSM = re.compile(r"/dataall/[^/]+/pivotRole/(?P<which>enablePivotRoleAutoCreate|pivotRoleName)")


def pivot_role_name(auto_create: bool) -> str:
    """data.all's pivot role name (`deploy/stacks/backend_stack.py`: `dataallPivotRole{"-cdk" if
    enable_pivot_role_auto_create else ""}`): the role its environment stacks make, or the operator does."""
    return "dataallPivotRole" + ("-cdk" if auto_create else "")


def _pivot_role_arn(auto_create: bool) -> str:
    """The pivot roles data.all's API, worker and ECS tasks may assume, in any account
    (`deploy/stacks/lambda_api.py`, `container.py`: `arn:aws:iam::*:role/{pivot_role_name}*`)."""
    return f"arn:aws:iam::*:role/{pivot_role_name(auto_create)}*"


def pivot_role_auto_create_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `enable_pivot_role_auto_create` (its environment stacks make the pivot role,
    `dataallPivotRole-cdk`, in each account they link, instead of the operator making `dataallPivotRole`)
    becomes the `EnablePivotRoleAutoCreate` parameter. What data.all's synthesis writes from it takes
    either value by the condition the rule adds: its SSM parameters `…/pivotRole/enablePivotRoleAutoCreate`
    (Python's `True`/`False`) and `…/pivotRole/pivotRoleName`, and the pivot role ARN its functions' and
    tasks' policies may assume, each where it is exactly the synthesized value."""
    on = bool(synthesis.setting(PIVOT_ROLE_AUTO_CREATE_KEY))

    def either(when_on: str, when_off: str) -> dict[str, Any]:
        return {"Fn::If": [PIVOT_ROLE_AUTO_CREATE_ON, when_on, when_off]}

    arn, either_arn = _pivot_role_arn(on), either(_pivot_role_arn(True), _pivot_role_arn(False))
    used = False

    def walk(node: Any) -> Any:
        nonlocal used
        if node == arn:
            used = True
            return copy.deepcopy(either_arn)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return node

    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        name = properties.get("Name")
        found = (
            PIVOT_ROLE_SSM.fullmatch(name)
            if resource.get("Type") == "AWS::SSM::Parameter" and isinstance(name, str)
            else None
        )
        if found and found["which"] == "enablePivotRoleAutoCreate" and properties.get("Value") == str(on):
            properties["Value"] = either("True", "False")
            used = True
        elif found and found["which"] == "pivotRoleName" and properties.get("Value") == pivot_role_name(on):
            properties["Value"] = either(pivot_role_name(True), pivot_role_name(False))
            used = True
        elif resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
            resource["Properties"] = walk(properties)
    if used:
        template.setdefault("Conditions", {})[PIVOT_ROLE_AUTO_CREATE_ON] = {
            "Fn::Equals": [{"Ref": PIVOT_ROLE_AUTO_CREATE}, "true"]
        }
        template.setdefault("Parameters", {})[PIVOT_ROLE_AUTO_CREATE] = {
            "Type": "String",
            "AllowedValues": ["true", "false"],
            "Description": f"data.all's {PIVOT_ROLE_AUTO_CREATE_KEY}: its environment stacks make the pivot role "
            f"({pivot_role_name(True)}) in the accounts they link (set by the installer from the release's option)",
        }


#: The parameters (and release options) of data.all's `custom_waf_rules` `allowed_ip_list` and `allowed_geo_list`.
WAF_IP_RANGES = "WafAllowedIpRanges"
WAF_COUNTRIES = "WafAllowedCountries"
#: IPv4 CIDRs, comma-separated, or none: WAF takes any IPv4 range but /0
#: (https://docs.aws.amazon.com/waf/latest/APIReference/API_IPSet.html).
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_CIDR = rf"{_OCTET}(\.{_OCTET}){{3}}/(3[0-2]|[12][0-9]|[1-9])"
WAF_IP_RANGES_PATTERN = rf"({_CIDR}(,{_CIDR})*)?"
#: The country codes WAF's GeoMatchStatement takes (botocore's `wafv2` model, shape `CountryCode`:
#: https://docs.aws.amazon.com/waf/latest/APIReference/API_GeoMatchStatement.html), comma-separated, or none.
_COUNTRY_CODES = (
    "AF AX AL DZ AS AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ BM BT BO BQ BA BW BV BR IO BN BG BF "
    "BI KH CM CA CV KY CF TD CL CN CX CC CO KM CG CD CK CR CI HR CU CW CY CZ DK DJ DM DO EC EG SV GQ ER EE ET FK "
    "FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU GT GG GN GW GY HT HM VA HN HK HU IS IN ID IR IQ IE IM "
    "IL IT JM JP JE JO KZ KE KI KP KR KW KG LA LV LB LS LR LY LI LT LU MO MK MG MW MY MV ML MT MH MQ MR MU YT MX "
    "FM MD MC MN ME MS MA MZ MM NA NR NP NL NC NZ NI NE NG NU NF MP NO OM PK PW PS PA PG PY PE PH PN PL PT PR QA "
    "RE RO RU RW BL SH KN LC MF PM VC WS SM ST SA SN RS SC SL SG SX SK SI SB SO ZA GS SS ES LK SD SR SJ SZ SE CH "
    "SY TW TJ TZ TH TL TG TK TO TT TN TR TM TC TV UG UA AE GB US UM UY UZ VU VE VN VG VI WF EH YE ZM ZW XK"
)
WAF_COUNTRY_CODES = tuple(_COUNTRY_CODES.split())
_COUNTRY = "(" + "|".join(WAF_COUNTRY_CODES) + ")"
WAF_COUNTRIES_PATTERN = rf"({_COUNTRY}(,{_COUNTRY})*)?"
#: The conditions the rule gives each template holding one of data.all's WebACLs.
WAF_IP_RANGES_GIVEN = "DataallWafIpRangesGiven"
WAF_COUNTRIES_GIVEN = "DataallWafCountriesGiven"
WAF_BOTH_GIVEN = "DataallWafBothGiven"
WAF_EITHER_GIVEN = "DataallWafEitherGiven"
#: data.all's WebACLs by construct id, and the IPSet each takes its `IPMatch` rule from: its construct id,
#: name suffix (`{resource_prefix}-{envname}-…`), description (`{}`: envname) and scope
#: (`deploy/stacks/lambda_api.py`, `cognito.py`, `cloudfront.py`).
WAF_IP_SETS: Mapping[str, tuple[str, str, str, str]] = {
    "ACL-ApiGW": ("DataallRegionalIPSet", "ipset-regional", "IP addresses allowed for Dataall {}", "REGIONAL"),
    "ACL-Cognito": (
        "DataallRegionalIPSet-Cognito",
        "ipset-regional-cognito",
        "IP addresses allowed for Dataall {} Cognito User Pool",
        "REGIONAL",
    ),
    "ACL-Cloudfront": (
        "DataallCloudfrontIPSet",
        "ipset-cloudfront",
        "IP addresses to allow for Dataall {}",
        "CLOUDFRONT",
    ),
}


def waf_rules(synthesis: Synthesis) -> tuple[list[str], list[str]]:
    """data.all's `custom_waf_rules` `allowed_ip_list` and `allowed_geo_list` at synthesis (none: empty)."""
    given = synthesis.setting(WAF_KEY) or {}
    return list(given.get("allowed_ip_list") or []), list(given.get("allowed_geo_list") or [])


def _waf_block(name: str, statement: dict[str, Any], priority: Any) -> dict[str, Any]:
    """A rule of data.all's `get_waf_rules` blocking what `statement` does not match."""
    return {
        "Action": {"Block": {}},
        "Name": name,
        "Priority": priority,
        "Statement": {"NotStatement": {"Statement": statement}},
        "VisibilityConfig": {"CloudWatchMetricsEnabled": True, "MetricName": name, "SampledRequestsEnabled": True},
    }


def _split(parameter: str) -> dict[str, Any]:
    return {"Fn::Split": [",", {"Ref": parameter}]}


def _synthesized_custom_rules(
    key: str, properties: dict[str, Any], resources: dict[str, Any], made_set: dict[str, Any], synthesis: Synthesis
) -> list[dict[str, Any]]:
    """The WebACL's rules after the custom ones data.all's synthesis put first, checked to be those of its
    `custom_waf_rules` (and its IPSet the one CDK makes from them)."""
    ip_list, geo_list = waf_rules(synthesis)
    ip_set_id = cdk_logical_id([made_set["Metadata"]["aws:cdk:path"].rsplit("/", 1)[1]])
    rules_ = list(properties.get("Rules") or [])
    custom = ["GeoMatch"] * bool(geo_list) + ["IPMatch"] * bool(ip_list)
    head = [r.get("Name") for r in rules_ if r.get("Name") in ("GeoMatch", "IPMatch")]
    if head != custom or [r.get("Name") for r in rules_[: len(custom)]] != custom:
        raise RuleError(f"data.all's WebACL {key} begins with rules {head}, not those of the synthesis' {WAF_KEY}")
    if geo_list:
        geo = rules_.pop(0)
        if geo != _waf_block("GeoMatch", {"GeoMatchStatement": {"CountryCodes": geo_list}}, 0):
            raise RuleError(f"data.all's WebACL {key} has a GeoMatch rule not of allowed_geo_list {geo_list}")
    if ip_list:
        ip = rules_.pop(0)
        reference = {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": [ip_set_id, "Arn"]}}}
        if ip != _waf_block("IPMatch", reference, int(bool(geo_list))):
            raise RuleError(f"data.all's WebACL {key} has an IPMatch rule not by its IPSet {ip_set_id}")
        synthesized = {k: v for k, v in resources.get(ip_set_id, {}).items() if k != "Condition"}
        expected = {k: v for k, v in made_set.items() if k != "Condition"}
        expected["Properties"] = {**expected["Properties"], "Addresses": ip_list}
        if synthesized != expected:
            raise RuleError(f"data.all's IPSet {ip_set_id} is not as CDK synthesizes it from allowed_ip_list")
    elif ip_set_id in resources:
        raise RuleError(f"data.all's IPSet {ip_set_id} is there though the synthesis' allowed_ip_list is empty")
    return rules_


def _cdk_path(resource: Mapping[str, Any]) -> str | None:
    """A resource's construct path, as CDK writes it in its `Metadata`."""
    path = (resource.get("Metadata") or {}).get("aws:cdk:path")
    return path if isinstance(path, str) else None


def _application(tags: list[dict[str, Any]], what: str, synthesis: Synthesis) -> str:
    """The `Application` tag data.all gives `what` (`<resource_prefix>-<envname>`, which names the resources the
    rules add beside it), checked to end with the synthesis' envname."""
    (application,) = [t["Value"] for t in tags if t.get("Key") == "Application"] or [None]
    if not isinstance(application, str) or not application.endswith(f"-{synthesis.envname}"):
        raise RuleError(
            f"data.all's {what} has no Application tag <resource_prefix>-{synthesis.envname} (its synthesis' envname)"
        )
    return application


def _web_acls(template: dict[str, Any], constructs: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """data.all's WebACLs of `constructs` (by construct id, the last part of their CDK path) in the template:
    each one's logical id, resource and construct id."""
    found = []
    for key, resource in template.get("Resources", {}).items():
        path = _cdk_path(resource)
        if resource.get("Type") == "AWS::WAFv2::WebACL" and path is not None:
            construct = path.rsplit("/", 1)[-1]
            if construct in constructs:
                found.append((key, resource, construct))
    return found


def waf_allowed_ranges_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `custom_waf_rules` `allowed_ip_list` and `allowed_geo_list` become the
    `WafAllowedIpRanges` and `WafAllowedCountries` parameters (comma-separated; empty: no rule).
    `get_waf_rules` puts, before the rules every WebACL has, a `GeoMatch` rule blocking requests from
    other countries and an `IPMatch` rule blocking other addresses (by an IPSet each WebACL's stack makes
    only for a list of addresses), and shifts the later rules' priorities by the number present. In each
    of data.all's WebACLs (API Gateway's, Cognito's, CloudFront's) the rule puts both rules as
    `Fn::If [condition, rule, AWS::NoValue]`, each later priority by `Fn::If` on whether both or either
    are given, and the IPSet as CDK synthesizes it (logical id, path, the WebACL's tags) under the
    condition that `WafAllowedIpRanges` is not empty; a synthesis that made them has them replaced."""
    ip_list, geo_list = waf_rules(synthesis)
    resources = template.get("Resources", {})
    acls = _web_acls(template, WAF_IP_SETS)
    for key, acl, _ in acls:
        stack, construct = acl["Metadata"]["aws:cdk:path"].rsplit("/", 1)
        ip_set, suffix, description, scope = WAF_IP_SETS[construct]
        ip_set_id = cdk_logical_id([ip_set])
        properties = acl["Properties"]
        tags = properties.get("Tags") or []
        envname = synthesis.envname
        application = _application(tags, f"WebACL {key}", synthesis)
        made_set: dict[str, Any] = {
            "Type": "AWS::WAFv2::IPSet",
            "Properties": {
                "Addresses": _split(WAF_IP_RANGES),
                "Description": description.format(envname),
                "IPAddressVersion": "IPV4",
                "Name": f"{application}-{suffix}",
                "Scope": scope,
                **({"Tags": copy.deepcopy(tags)} if tags else {}),
            },
            "Metadata": {"aws:cdk:path": f"{stack}/{ip_set}"},
            "Condition": WAF_IP_RANGES_GIVEN,
        }
        rules_ = _synthesized_custom_rules(key, properties, resources, made_set, synthesis)
        offset = bool(geo_list) + bool(ip_list)
        if [r.get("Priority") for r in rules_] != list(range(offset, offset + len(rules_))):
            raise RuleError(f"data.all's WebACL {key} has priorities not following its custom rules'")
        for index, later in enumerate(rules_):
            later["Priority"] = {
                "Fn::If": [WAF_BOTH_GIVEN, index + 2, {"Fn::If": [WAF_EITHER_GIVEN, index + 1, index]}]
            }
        geo_rule = _waf_block("GeoMatch", {"GeoMatchStatement": {"CountryCodes": _split(WAF_COUNTRIES)}}, 0)
        ip_rule = _waf_block(
            "IPMatch",
            {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": [ip_set_id, "Arn"]}}},
            {"Fn::If": [WAF_COUNTRIES_GIVEN, 1, 0]},
        )
        no_value = {"Ref": "AWS::NoValue"}
        properties["Rules"] = [
            {"Fn::If": [WAF_COUNTRIES_GIVEN, geo_rule, no_value]},
            {"Fn::If": [WAF_IP_RANGES_GIVEN, ip_rule, no_value]},
            *rules_,
        ]
        resources[ip_set_id] = made_set
    if not acls:
        return
    given = {
        WAF_IP_RANGES_GIVEN: {"Fn::Not": [{"Fn::Equals": [{"Ref": WAF_IP_RANGES}, ""]}]},
        WAF_COUNTRIES_GIVEN: {"Fn::Not": [{"Fn::Equals": [{"Ref": WAF_COUNTRIES}, ""]}]},
        WAF_BOTH_GIVEN: {"Fn::And": [{"Condition": WAF_IP_RANGES_GIVEN}, {"Condition": WAF_COUNTRIES_GIVEN}]},
        WAF_EITHER_GIVEN: {"Fn::Or": [{"Condition": WAF_IP_RANGES_GIVEN}, {"Condition": WAF_COUNTRIES_GIVEN}]},
    }
    template.setdefault("Conditions", {}).update(given)
    template.setdefault("Parameters", {}).update(
        {
            WAF_IP_RANGES: {
                "Type": "String",
                "AllowedPattern": WAF_IP_RANGES_PATTERN,
                "Description": f"data.all's {WAF_KEY}.allowed_ip_list: the IPv4 CIDRs, comma-separated, its WebACLs "
                "let in (others blocked); none: no such rule (set by the installer from the release's option)",
            },
            WAF_COUNTRIES: {
                "Type": "String",
                "AllowedPattern": WAF_COUNTRIES_PATTERN,
                "Description": f"data.all's {WAF_KEY}.allowed_geo_list: the ISO 3166 alpha-2 country codes, "
                "comma-separated, its WebACLs let in (others blocked); none: no such rule (set by the installer "
                "from the release's option)",
            },
        }
    )


#: The parameters (and release options) of data.all's `custom_waf_rules` `rate_limit` and `rate_limit_window`.
WAF_RATE_LIMIT = "WafRateLimit"
WAF_RATE_LIMIT_WINDOW = "WafRateLimitWindow"
#: data.all's `DEFAULT_WAF_RATE_LIMIT` (`deploy/stacks/waf_rules.py`), and the evaluation window WAF takes
#: when a rate-based statement gives none (data.all gives none unless `rate_limit_window` is set).
WAF_RATE_LIMIT_DEFAULT = 1000
WAF_RATE_LIMIT_WINDOW_DEFAULT = 300
#: WAF's bounds of a rate-based statement's `Limit` and its `EvaluationWindowSec` values
#: (https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html).
WAF_RATE_LIMIT_BOUNDS = (10, 2_000_000_000)
WAF_RATE_LIMIT_WINDOWS = (60, 120, 300, 600)
#: The condition the rule gives each template holding a rate-limited WebACL: a window other than WAF's default.
WAF_RATE_LIMIT_WINDOW_GIVEN = "DataallWafRateLimitWindowGiven"
#: data.all's WebACLs that end with its rate-based rule, by construct id, and the `name` `get_waf_rules` is
#: given for each (the rule is `{name}RateLimit`; CloudFront's WebACL has none).
WAF_RATE_LIMITED: Mapping[str, str] = {"ACL-ApiGW": "APIGateway", "ACL-Cognito": "Cognito"}


def waf_rate_limit(synthesis: Synthesis) -> tuple[int, int | None]:
    """data.all's `custom_waf_rules` `rate_limit` and `rate_limit_window` at synthesis (not set: data.all's
    default limit, no window)."""
    given = synthesis.setting(WAF_KEY) or {}
    return given.get("rate_limit", WAF_RATE_LIMIT_DEFAULT), given.get("rate_limit_window")


def waf_rate_limit_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `custom_waf_rules` `rate_limit` and `rate_limit_window` become the `WafRateLimit` and
    `WafRateLimitWindow` parameters. `get_waf_rules` ends API Gateway's and Cognito's WebACLs with the rule
    `{name}RateLimit` blocking an IP address over `rate_limit` requests (`RateBasedStatement`, `Limit`), in
    `rate_limit_window` seconds when given (`EvaluationWindowSec`; WAF's default, 300, when left out). The
    rule checks that rule's statement is the synthesis' and makes its `Limit` the parameter and its window
    `Fn::If` on a window other than 300 (the parameter, else `AWS::NoValue`), so the default template is
    data.all's own; a synthesis with either key set is checked to hold it, then takes the same form."""
    limit, window = waf_rate_limit(synthesis)
    synthesized = {
        "AggregateKeyType": "IP",
        "Limit": limit,
        **({} if window is None else {"EvaluationWindowSec": window}),
    }
    acls = _web_acls(template, WAF_RATE_LIMITED)
    for key, acl, construct in acls:
        name = WAF_RATE_LIMITED[construct]
        found = [r for r in (acl.get("Properties") or {}).get("Rules") or [] if r.get("Name") == f"{name}RateLimit"]
        if len(found) != 1:
            raise RuleError(f"data.all's WebACL {key} has {len(found)} rules {name}RateLimit, not one")
        (rule,) = found
        if rule.get("Statement") != {"RateBasedStatement": synthesized}:
            raise RuleError(
                f"data.all's WebACL {key} has a {name}RateLimit rule not of the synthesis' {WAF_KEY} "
                f"rate_limit {limit} and rate_limit_window {window}: {rule.get('Statement')}"
            )
        rule["Statement"] = {
            "RateBasedStatement": {
                "AggregateKeyType": "IP",
                "Limit": {"Ref": WAF_RATE_LIMIT},
                "EvaluationWindowSec": {
                    "Fn::If": [WAF_RATE_LIMIT_WINDOW_GIVEN, {"Ref": WAF_RATE_LIMIT_WINDOW}, {"Ref": "AWS::NoValue"}]
                },
            }
        }
    if not acls:
        return
    template.setdefault("Conditions", {})[WAF_RATE_LIMIT_WINDOW_GIVEN] = {
        "Fn::Not": [{"Fn::Equals": [{"Ref": WAF_RATE_LIMIT_WINDOW}, str(WAF_RATE_LIMIT_WINDOW_DEFAULT)]}]
    }
    template.setdefault("Parameters", {}).update(
        {
            WAF_RATE_LIMIT: {
                "Type": "Number",
                "MinValue": WAF_RATE_LIMIT_BOUNDS[0],
                "MaxValue": WAF_RATE_LIMIT_BOUNDS[1],
                "Description": f"data.all's {WAF_KEY}.rate_limit: the requests one IP address may make in the "
                "evaluation window before its API's and Cognito's WebACLs block it (set by the installer from the "
                "release's option)",
            },
            WAF_RATE_LIMIT_WINDOW: {
                "Type": "Number",
                "AllowedValues": [str(s) for s in WAF_RATE_LIMIT_WINDOWS],
                "Description": f"data.all's {WAF_KEY}.rate_limit_window: the seconds WafRateLimit counts over "
                f"({WAF_RATE_LIMIT_WINDOW_DEFAULT}: WAF's default, as data.all leaves it unset) (set by the "
                "installer from the release's option)",
            },
        }
    )


#: The release's option that turns data.all's `custom_domain` on (a variant: `installer.dataall`), and the
#: parameters (and options) of the zone's name and id.
CUSTOM_DOMAIN_ENABLED = "EnableCustomDomain"
CUSTOM_DOMAIN_NAME = "CustomDomainName"
CUSTOM_DOMAIN_ZONE = "CustomDomainHostedZoneId"
#: The zone data.all's custom-domain variant is synthesized with: names no real zone has (RFC 2606's
#: `.invalid`; a zone id Route 53 never draws, its letters spelling what it is), so that the rule finds
#: every place data.all puts them and nothing else.
CUSTOM_DOMAIN_PLACEHOLDER: Mapping[str, str] = {
    "hosted_zone_name": "custom-domain.dataall-installer.invalid",
    "hosted_zone_id": "ZDATAALLINSTALLERZONEID",
}
#: A DNS name of at least two labels, lower case, as Route 53 gives a hosted zone's name (without its
#: final dot; https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html), and a
#: hosted zone's id (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html: up to
#: 32 characters; AWS's are `Z` and upper-case letters and digits).
CUSTOM_DOMAIN_NAME_PATTERN = r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]"
CUSTOM_DOMAIN_ZONE_PATTERN = r"Z[A-Z0-9]{1,31}"
#: data.all's `custom_domain.email_notification_sender_email_id`: the local part of the address its
#: notification e-mails are sent from (`<id>@<hosted_zone_name>`), `noreply` when unset; the parameter (and
#: option) that takes it, and its form: an RFC 5321 dot-atom of at most 64 characters, of the characters SES
#: takes without quoting (https://docs.aws.amazon.com/ses/latest/dg/verify-addresses-and-domains.html).
CUSTOM_DOMAIN_SENDER_KEY = "email_notification_sender_email_id"
CUSTOM_DOMAIN_SENDER_DEFAULT = "noreply"
CUSTOM_DOMAIN_SENDER = "CustomDomainEmailSenderId"
CUSTOM_DOMAIN_SENDER_PATTERN = r"(?=.{1,64}$)[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*"


def custom_domain_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `custom_domain`, in the variant synthesized with it (`CUSTOM_DOMAIN_PLACEHOLDER`): the
    zone's name and id, wherever data.all puts them (the distribution's alias, the ACM certificate's names
    and validation zone, the alias record, the SSM parameter its Cognito trigger reads, the
    `frontend_domain_url` and sender address of its API and ECS tasks, the RUM monitor's domain), become
    the `CustomDomainName` and `CustomDomainHostedZoneId` parameters, which the release's options fill.
    A synthesis without `custom_domain` has neither: nothing changes."""
    domain = synthesis.setting(CUSTOM_DOMAIN_KEY)
    if not domain:
        return
    name, sender = str(domain["hosted_zone_name"]), _custom_domain_sender(domain)
    literals = {
        f"{sender}@{name}": _variable(CUSTOM_DOMAIN_SENDER) + "@" + _variable(CUSTOM_DOMAIN_NAME),
        name: _variable(CUSTOM_DOMAIN_NAME),
        str(domain["hosted_zone_id"]): _variable(CUSTOM_DOMAIN_ZONE),
    }
    used = _literals_to_parameters(template, literals)
    parameters = template.setdefault("Parameters", {}) if used else {}
    if CUSTOM_DOMAIN_NAME in used:
        parameters[CUSTOM_DOMAIN_NAME] = {
            "Type": "String",
            "AllowedPattern": CUSTOM_DOMAIN_NAME_PATTERN,
            "Description": f"data.all's {CUSTOM_DOMAIN_KEY}.hosted_zone_name: the name data.all's web UI is "
            "served at, a public Route 53 hosted zone's (set by the installer from the release's option)",
        }
    if CUSTOM_DOMAIN_ZONE in used:
        parameters[CUSTOM_DOMAIN_ZONE] = {
            "Type": "String",
            "AllowedPattern": CUSTOM_DOMAIN_ZONE_PATTERN,
            "Description": f"data.all's {CUSTOM_DOMAIN_KEY}.hosted_zone_id: the id of CustomDomainName's "
            "hosted zone (set by the installer from the release's option)",
        }
    if CUSTOM_DOMAIN_SENDER in used:
        parameters[CUSTOM_DOMAIN_SENDER] = {
            "Type": "String",
            "AllowedPattern": CUSTOM_DOMAIN_SENDER_PATTERN,
            "Description": f"data.all's {CUSTOM_DOMAIN_KEY}.{CUSTOM_DOMAIN_SENDER_KEY}: the part before the @ of "
            "the address data.all's notification e-mails are sent from, at CustomDomainName (set by the installer "
            "from the release's option)",
        }


def _custom_domain_sender(domain: Mapping[str, Any]) -> str:
    """data.all's sender id of a `custom_domain` (`deploy/stacks/backend_stack.py`, `container.py`:
    `custom_domain.get('email_notification_sender_email_id', 'noreply')`)."""
    return str(domain.get(CUSTOM_DOMAIN_SENDER_KEY, CUSTOM_DOMAIN_SENDER_DEFAULT))


def _variable(parameter: str) -> str:
    """A parameter as an `Fn::Sub` variable."""
    return "${" + parameter + "}"


#: The parameter (and release option) of data.all's `custom_domain.certificate_arn`: an ACM certificate of
#: the account, in us-east-1 where CloudFront takes its certificates from
#: (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html), or,
#: with `internet_facing=false`, in the installation's region, where its internal load balancer takes it
#: (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html): the
#: pattern takes any region, Plan checks which (`lambdas.run.certificates`); empty, data.all requests one.
CUSTOM_DOMAIN_CERTIFICATE = "CustomDomainCertificateArn"
CUSTOM_DOMAIN_CERTIFICATE_PATTERN = r"arn:aws[a-z-]*:acm:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:certificate/[0-9a-f-]+"
#: An edge-optimized name's certificate (CloudFront's, API Gateway's): of us-east-1 alone.
EDGE_CERTIFICATE_PATTERN = r"arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+"
#: The certificate ARN data.all's `internet_facing=false` variant is synthesized with (its load balancer listens on
#: HTTPS only with one: `installer.dataall.INTERNET_FACING`): an ARN no account holds, which the rule makes
#: `CustomDomainCertificateArn` wherever data.all puts it.
CUSTOM_DOMAIN_CERTIFICATE_PLACEHOLDER = (
    "arn:aws:acm:us-east-1:000000000000:certificate/00000000-da7a-a11f-0000-1ace0fce7ace"
)
#: The condition the rule gives the template holding data.all's certificate: no certificate ARN given.
CUSTOM_DOMAIN_CERTIFICATE_REQUESTED = "DataallCustomDomainCertificateRequested"
#: data.all's construct id of the certificate it requests, or imports by ARN (`deploy/stacks/cloudfront.py`).
CUSTOM_DOMAIN_CERTIFICATE_CONSTRUCT = "CustomDomainCertificate"


def custom_domain_certificate_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `custom_domain.certificate_arn` becomes the `CustomDomainCertificateArn` parameter
    (empty: data.all requests the certificate). Without the key, data.all's CloudFront stack requests an ACM
    certificate of the name validated in the zone (`CustomDomainCertificate`) and gives the distribution its
    `Ref`; with it, it makes no certificate and gives the distribution the ARN
    (`acm.Certificate.from_certificate_arn`). In the variant synthesized without the key the rule gives the
    certificate the condition that the parameter is empty, and each `Ref` of it becomes
    `Fn::If [condition, Ref certificate, Ref CustomDomainCertificateArn]`; a reference the condition cannot
    follow (`Fn::GetAtt`, `DependsOn`, an `Fn::Sub` variable) stops the import. A synthesis with the key is
    checked to hold no certificate and takes the parameter where it holds the ARN. A synthesis without
    `custom_domain`, or a template without the certificate or the ARN: nothing changes."""
    domain = synthesis.setting(CUSTOM_DOMAIN_KEY)
    if not domain:
        return
    certificates = [
        key
        for key, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::CertificateManager::Certificate"
        and _construct_id(resource) == CUSTOM_DOMAIN_CERTIFICATE_CONSTRUCT
    ]
    arn = str(domain.get("certificate_arn") or "")
    if arn:
        if certificates:
            raise RuleError(
                f"custom_domain: certificate {certificates} made though the synthesis' certificate_arn is set"
            )
        _certificate_arn_given(template, arn)
        return
    if not certificates:
        return
    if len(certificates) > 1:
        raise RuleError(f"custom_domain: {len(certificates)} certificates {certificates}, not data.all's one")
    (certificate,) = certificates
    resources = template["Resources"]
    if "Condition" in resources[certificate]:
        raise RuleError(f"custom_domain: data.all's certificate {certificate} has a condition of its own")
    chosen = {"Fn::If": [CUSTOM_DOMAIN_CERTIFICATE_REQUESTED, {"Ref": certificate}, {"Ref": CUSTOM_DOMAIN_CERTIFICATE}]}
    for section in ("Resources", "Outputs"):
        for key, body in template.get(section, {}).items():
            depends = body.get("DependsOn") or []
            if certificate in ([depends] if isinstance(depends, str) else depends):
                raise RuleError(f"custom_domain: {key} depends on certificate {certificate}, which may not be made")
            for part in ("Properties", "Value", "Export"):
                if part in body:
                    body[part] = _certificate_chosen(body[part], certificate, chosen)
    resources[certificate]["Condition"] = CUSTOM_DOMAIN_CERTIFICATE_REQUESTED
    template.setdefault("Conditions", {})[CUSTOM_DOMAIN_CERTIFICATE_REQUESTED] = {
        "Fn::Equals": [{"Ref": CUSTOM_DOMAIN_CERTIFICATE}, ""]
    }
    _declare_certificate_parameter(template)


def _construct_id(resource: Mapping[str, Any]) -> str:
    """The construct id of a CDK L1 resource (`…/<construct>/Resource`), from its `Metadata` path."""
    parts = (_cdk_path(resource) or "").split("/")
    return parts[-2] if len(parts) >= 2 and parts[-1] == "Resource" else ""


def _certificate_chosen(node: Any, certificate: str, chosen: dict[str, Any]) -> Any:
    """`node` with each `Ref` of `certificate` made `chosen`; any other reference to it refused."""
    if isinstance(node, list):
        return [_certificate_chosen(item, certificate, chosen) for item in node]
    if isinstance(node, str):
        if "${" + certificate in node:
            raise RuleError(f"custom_domain: an Fn::Sub reads certificate {certificate}, which may not be made")
        return node
    if not isinstance(node, dict):
        return node
    if node == {"Ref": certificate}:
        return copy.deepcopy(chosen)
    attribute = node.get("Fn::GetAtt")
    of = attribute.split(".")[0] if isinstance(attribute, str) else attribute[0] if attribute else None
    if of == certificate:
        raise RuleError(f"custom_domain: Fn::GetAtt of certificate {certificate}, which may not be made")
    return {key: _certificate_chosen(value, certificate, chosen) for key, value in node.items()}


def _certificate_arn_given(template: dict[str, Any], arn: str) -> None:
    """In a synthesis with `certificate_arn`: the ARN, wherever data.all put it, becomes the parameter."""
    if _literals_to_parameters(template, {arn: _variable(CUSTOM_DOMAIN_CERTIFICATE)}):
        _declare_certificate_parameter(template)


def _literals_to_parameters(
    template: dict[str, Any], literals: Mapping[str, str], *, what: str = CUSTOM_DOMAIN_KEY
) -> set[str]:
    """Each string of the template's resources and outputs holding one of `literals` (a value data.all's
    `what` put there) takes its replacement (`${Parameter}` variables) in its place, in the order
    given; the parameters used. The import stops if a
    literal is left anywhere else (Metadata, Mappings, Conditions: no rule rewrites them)."""
    used: set[str] = set()

    def rewrite(text: str) -> str:
        for literal, replacement in literals.items():
            if literal in text:
                used.update(_ONE_VARIABLE.findall(replacement))
                text = text.replace(literal, replacement)
        return text

    _rewrite_strings(template, rewrite)
    left = [literal for literal in literals if literal in json.dumps(template)]
    if left:
        raise RuleError(f"{what}: {left} remain outside the template's resources and outputs")
    return used


def _declare_certificate_parameter(template: dict[str, Any]) -> None:
    template.setdefault("Parameters", {})[CUSTOM_DOMAIN_CERTIFICATE] = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": f"({CUSTOM_DOMAIN_CERTIFICATE_PATTERN})?",
        "Description": f"data.all's {CUSTOM_DOMAIN_KEY}.certificate_arn: the ARN of the account's ACM certificate "
        "that CloudFront (in us-east-1) or data.all's internal load balancer (in the installation's region) serves "
        "CustomDomainName with; empty: data.all requests one, validated by DNS in the zone (set by the installer "
        "from the release's option)",
    }


#: The release's option that turns data.all's `custom_auth` on (a variant: `installer.dataall`), and the
#: parameters (and options) of its keys: data.all's key (a `claims_mapping` key as `claims_mapping.<key>`) ->
#: parameter.
CUSTOM_AUTH_ENABLED = "EnableCustomAuth"
CUSTOM_AUTH_PARAMETERS: Mapping[str, str] = {
    "provider": "CustomAuthProvider",
    "url": "CustomAuthUrl",
    "redirect_url": "CustomAuthRedirectUrl",
    "client_id": "CustomAuthClientId",
    "response_types": "CustomAuthResponseTypes",
    "scopes": "CustomAuthScopes",
    "claims_mapping.user_id": "CustomAuthUserIdClaim",
    "claims_mapping.email": "CustomAuthEmailClaim",
}
#: The identity provider data.all's custom-auth variant is synthesized with: every value unique, none inside
#: another, its URLs of RFC 2606's `.invalid`, so that the rule finds every place data.all puts them and
#: nothing else.
CUSTOM_AUTH_PLACEHOLDER: Mapping[str, Any] = {
    "provider": "dataall-installer-custom-auth-provider",
    "url": "https://issuer.custom-auth.dataall-installer.invalid",
    "redirect_url": "https://redirect.custom-auth.dataall-installer.invalid",
    "client_id": "dataall-installer-custom-auth-client-id",
    "response_types": "dataall_installer_custom_auth_response_types",
    "scopes": "dataall-installer-custom-auth-scopes",
    "claims_mapping": {
        "user_id": "dataall-installer-custom-auth-user-id-claim",
        "email": "dataall-installer-custom-auth-email-claim",
    },
}


#: What each custom-auth parameter takes (an option's pattern, a parameter's AllowedPattern): an https URL of
#: the issuer and of the web UI's redirect; OAuth 2.0's space-separated response types and scopes (RFC 6749
#: 3.1.1, 3.3: scope tokens of characters that need no escaping in the web UI's JavaScript); a JWT claim's name,
#: a client id and a provider's name, without spaces or quotes (the web UI takes them as they are).
_HTTPS_URL = r"https://[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~%+=:@,;!$&*()/-]*)?"
CUSTOM_AUTH_PATTERNS: Mapping[str, str] = {
    "CustomAuthProvider": r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    "CustomAuthUrl": _HTTPS_URL,
    "CustomAuthRedirectUrl": _HTTPS_URL,
    "CustomAuthClientId": r"[A-Za-z0-9._~:@+=/-]{1,256}",
    "CustomAuthResponseTypes": r"[a-z_]+( [a-z_]+)*",
    "CustomAuthScopes": r"[A-Za-z0-9._:/-]+( [A-Za-z0-9._:/-]+)*",
    "CustomAuthUserIdClaim": r"[A-Za-z0-9_.:/-]{1,256}",
    "CustomAuthEmailClaim": r"[A-Za-z0-9_.:/-]{1,256}",
}
CUSTOM_AUTH_DESCRIPTIONS: Mapping[str, tuple[str, str]] = {
    "CustomAuthProvider": (
        "Identity provider's name",
        "the identity provider's name (e.g. Okta), which data.all's "
        "API and search proxy take as their `custom_auth` and its web UI as REACT_APP_CUSTOM_AUTH",
    ),
    "CustomAuthUrl": (
        "Identity provider's issuer URL",
        "the OIDC issuer's https URL (its "
        ".well-known/openid-configuration is there), which data.all's API authorizer checks tokens "
        "against",
    ),
    "CustomAuthRedirectUrl": (
        "Sign-in redirect URL",
        "the https URL the identity provider sends the user back to "
        "after signing in: data.all's web UI (its distribution's or custom domain's URL)",
    ),
    "CustomAuthClientId": (
        "Identity provider's client id",
        "the id of data.all's OIDC client at the identity provider, the audience data.all's API authorizer checks",
    ),
    "CustomAuthResponseTypes": (
        "OIDC response types",
        "the OIDC response types of the web UI's sign-in, space-separated (e.g. code)",
    ),
    "CustomAuthScopes": ("OIDC scopes", "the scopes the web UI asks for, space-separated (e.g. openid email profile)"),
    "CustomAuthUserIdClaim": (
        "User id claim",
        "the token's claim holding the user's id (e.g. sub), which data.all's API authorizer and web UI read",
    ),
    "CustomAuthEmailClaim": (
        "E-mail claim",
        "the token's claim holding the user's e-mail address (e.g. email), "
        "which data.all's API authorizer and web UI read",
    ),
}


def custom_auth_values(custom_auth: Mapping[str, Any]) -> dict[str, str]:
    """data.all's `custom_auth` as the custom-auth parameters take it: parameter -> value."""
    claims = custom_auth.get("claims_mapping") or {}
    return {
        parameter: str(
            claims.get(key.split(".", 1)[1], "") if key.startswith("claims_mapping.") else custom_auth.get(key, "")
        )
        for key, parameter in CUSTOM_AUTH_PARAMETERS.items()
    }


def custom_auth_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `custom_auth`, in the variant synthesized with it (`CUSTOM_AUTH_PLACEHOLDER`): each of its
    values, wherever data.all puts it (its API authorizer's `custom_auth_provider`, `custom_auth_url`,
    `custom_auth_client` and one variable per `claims_mapping` key; the `custom_auth` of its API handler and
    search proxy), becomes its parameter (`CustomAuthProvider`, `CustomAuthUrl`, ...), which the release's
    option of that name fills; the import stops if one is left where no rule rewrites (Metadata, Mappings,
    Conditions). A synthesis without `custom_auth` has none: nothing changes."""
    custom_auth = synthesis.setting(CUSTOM_AUTH_KEY)
    if not custom_auth:
        return
    literals = {
        value: _variable(parameter)
        for parameter, value in sorted(custom_auth_values(custom_auth).items(), key=lambda i: -len(i[1]))
        if value
    }
    used = _literals_to_parameters(template, literals, what=CUSTOM_AUTH_KEY)
    for parameter in sorted(used):
        template.setdefault("Parameters", {})[parameter] = {
            "Type": "String",
            "AllowedPattern": CUSTOM_AUTH_PATTERNS[parameter],
            "Description": f"data.all's {CUSTOM_AUTH_KEY}: {CUSTOM_AUTH_DESCRIPTIONS[parameter][1]} (set by the "
            "installer from the release's option)",
        }


#: The parameter (and release option) of data.all's `vpc_restricted_nacl`, and the condition the rule gives
#: the template holding data.all's VPC.
VPC_RESTRICTED_NACL = "VpcRestrictedNacl"
VPC_RESTRICTED_NACL_ON = "DataallVpcRestrictedNacl"
#: data.all's VPC (`deploy/stacks/vpc.py`, `create_new_vpc`: `ec2.Vpc(self, 'VPC', ...)`) and its subnets
#: (its subnet configurations `Public` and `Private`), by the construct paths CDK writes in their `Metadata`.
DATAALL_VPC_PATH = re.compile(r"(?P<stack>.+)/VPC/Resource")
DATAALL_SUBNET = re.compile(r"(?P<kind>Private|Public)Subnet[0-9]+")
#: data.all's network ACL (`create_new_vpc` with `restricted_nacl`): its construct id, its name's suffix
#: (`{resource_prefix}-{envname}-restrictedNACL`), the construct id CDK's `NetworkAcl` gives its subnet
#: associations (`DefaultAssociation` and the subnet's unique id: `Subnet.associateNetworkAcl`), and its
#: entries (`nacl.add_entry`): construct id, egress, rule number, protocol (-1: all), ports, CIDR (none: the
#: VPC's).
RESTRICTED_NACL = "RestrictedNACL"
RESTRICTED_NACL_SUFFIX = "restrictedNACL"
RESTRICTED_NACL_ASSOCIATION = "DefaultAssociation"
RESTRICTED_NACL_ENTRIES: tuple[tuple[str, bool, int, int, tuple[int, int] | None, str | None], ...] = (
    ("entryOutbound", True, 100, -1, None, "0.0.0.0/0"),
    ("entryInboundHTTPS", False, 100, 6, (443, 443), "0.0.0.0/0"),
    ("entryInboundHTTP", False, 101, 6, (80, 80), "0.0.0.0/0"),
    ("entryInboundCustomTCP", False, 102, 6, (1024, 65535), "0.0.0.0/0"),
    ("entryInboundAllInVPC", False, 103, -1, None, None),
)


def _dataall_vpc(resources: Mapping[str, Any]) -> tuple[str, str] | None:
    """data.all's VPC in `resources`, found by its construct path: its logical id and its nested stack's path."""
    found = []
    for logical_id, resource in resources.items():
        path = _cdk_path(resource)
        matched = DATAALL_VPC_PATH.fullmatch(path) if path is not None else None
        if matched and resource.get("Type") == "AWS::EC2::VPC":
            found.append((logical_id, matched["stack"]))
    if len(found) > 1:
        raise RuleError(f"more than one VPC of data.all's construct path: {sorted(k for k, _ in found)}")
    if found and found[0][0] != cdk_logical_id(["VPC", "Resource"]):
        raise RuleError(f"VPC {found[0][0]} is not where CDK puts data.all's VPC")
    return found[0] if found else None


def _dataall_subnets(resources: Mapping[str, Any], vpc_id: str, stack: str) -> list[tuple[str, str]]:
    """data.all's private then public subnets of its VPC (the order `create_new_vpc` selects them in): each
    one's logical id and construct path; the import stops without both kinds."""
    subnets: dict[str, list[tuple[str, str, str]]] = {"Private": [], "Public": []}
    for logical_id, resource in resources.items():
        path = _cdk_path(resource)
        prefix, _, rest = path.partition(f"{stack}/VPC/") if path is not None else ("", "", "")
        construct, _, leaf = rest.partition("/")
        matched = DATAALL_SUBNET.fullmatch(construct)
        if resource.get("Type") != "AWS::EC2::Subnet" or prefix or not matched or leaf != "Subnet":
            continue
        if (resource.get("Properties") or {}).get("VpcId") != {"Ref": vpc_id}:
            raise RuleError(f"data.all's subnet {logical_id} is not in its VPC {vpc_id}")
        subnets[matched["kind"]].append((construct, logical_id, f"{stack}/VPC/{construct}"))
    if not subnets["Private"] or not subnets["Public"]:
        raise RuleError(
            f"data.all's VPC {vpc_id} has not the private and public subnets its restricted NACL is for; "
            f"found: {sorted(k for kind in subnets.values() for _, k, _ in kind) or 'none'}"
        )
    return [(k, p) for kind in ("Private", "Public") for _, k, p in sorted(subnets[kind], key=_subnet_number)]


def _subnet_number(subnet: tuple[str, str, str]) -> int:
    return int(re.sub("[^0-9]", "", subnet[0]))


def _restricted_nacl(resources: Mapping[str, Any], synthesis: Synthesis) -> dict[str, dict[str, Any]] | None:
    """What CDK synthesizes for data.all's `vpc_restricted_nacl` in the template holding its VPC (none
    there: None), each resource under the option's condition."""
    vpc = _dataall_vpc(resources)
    if vpc is None:
        return None
    vpc_id, stack = vpc
    subnets = _dataall_subnets(resources, vpc_id, stack)
    tags = (resources[vpc_id].get("Properties") or {}).get("Tags") or []
    application = _application(tags, f"VPC {vpc_id}", synthesis)
    nacl_tags = [t for t in tags if t.get("Key") != "Name"]
    nacl_tags.append({"Key": "Name", "Value": f"{application}-{RESTRICTED_NACL_SUFFIX}"})
    nacl_id = cdk_logical_id([RESTRICTED_NACL, "Resource"])

    def made(construct: list[str], kind: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return cdk_logical_id([RESTRICTED_NACL, *construct]), {
            "Type": f"AWS::EC2::{kind}",
            "Properties": properties,
            "Metadata": {"aws:cdk:path": "/".join([stack, RESTRICTED_NACL, *construct])},
            "Condition": VPC_RESTRICTED_NACL_ON,
        }

    nacl = {"Tags": sorted(copy.deepcopy(nacl_tags), key=lambda t: str(t["Key"])), "VpcId": {"Ref": vpc_id}}
    entries = [
        made(
            [construct, "Resource"],
            "NetworkAclEntry",
            {
                "CidrBlock": cidr or {"Fn::GetAtt": [vpc_id, "CidrBlock"]},
                "Egress": egress,
                "NetworkAclId": {"Ref": nacl_id},
                **({"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}),
                "Protocol": protocol,
                "RuleAction": "allow",
                "RuleNumber": number,
            },
        )
        for construct, egress, number, protocol, ports, cidr in RESTRICTED_NACL_ENTRIES
    ]
    associations = [
        made(
            [RESTRICTED_NACL_ASSOCIATION + cdk_logical_id(path.split("/")), "Resource"],
            "SubnetNetworkAclAssociation",
            {"NetworkAclId": {"Ref": nacl_id}, "SubnetId": {"Ref": subnet_id}},
        )
        for subnet_id, path in subnets
    ]
    return dict([made(["Resource"], "NetworkAcl", nacl), *associations, *entries])


def restricted_nacl_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `vpc_restricted_nacl` (its new VPC's private and public subnets get a network ACL of
    their own, `<resource_prefix>-<envname>-restrictedNACL`: all egress; ingress tcp 443, 80 and
    1024-65535 from anywhere and all from the VPC's CIDR) becomes the `VpcRestrictedNacl` parameter. In the
    template holding data.all's VPC (found by its construct path) the rule gives the NACL, its entries and
    its subnet associations as CDK synthesizes them (logical ids, construct paths, the VPC's tags), each
    under the condition that `VpcRestrictedNacl` is true; a synthesis that made them has them replaced
    (checked to be exactly those). The import stops if the VPC has not both kinds of subnets."""
    resources = template.get("Resources", {})
    wanted = _restricted_nacl(resources, synthesis)
    if wanted is None:
        return
    synthesized = {k: r for k, r in resources.items() if k in wanted}
    if synthesis.setting(VPC_RESTRICTED_NACL_KEY):
        expected = {k: {p: v for p, v in r.items() if p != "Condition"} for k, r in wanted.items()}
        if synthesized != expected:
            raise RuleError(f"data.all's restricted NACL is not as CDK synthesizes it for {VPC_RESTRICTED_NACL_KEY}")
    elif synthesized:
        raise RuleError(
            f"data.all's NACL {sorted(synthesized)} is there though the synthesis' {VPC_RESTRICTED_NACL_KEY} is off"
        )
    resources.update(wanted)
    template.setdefault("Conditions", {})[VPC_RESTRICTED_NACL_ON] = {
        "Fn::Equals": [{"Ref": VPC_RESTRICTED_NACL}, "true"]
    }
    template.setdefault("Parameters", {})[VPC_RESTRICTED_NACL] = {
        "Type": "String",
        "AllowedValues": ["true", "false"],
        "Default": "false",
        "Description": f"data.all's {VPC_RESTRICTED_NACL_KEY}: its VPC's subnets get a network ACL of their own "
        "(all egress; ingress tcp 443, 80 and 1024-65535, and all from the VPC) (set by the installer from the "
        "release's option)",
    }


#: The parameter (and release option) of data.all's `vpc_id` ("": data.all makes its VPC), the condition the rule
#: gives what data.all makes only for its own VPC, and the parameters Plan fills from the operator's VPC
#: (`lambdas.run.existing_vpc`): its CIDR, its private subnets (one parameter each, as many as data.all's VPC has,
#: in the order CDK's lookup gives them), their route tables (CDK's gateway endpoint takes each table once) and its
#: public subnets (comma-separated, maybe none).
VPC_ID = "VpcId"
VPC_NEW = "DataallNewVpc"
VPC_PUBLIC_SUBNETS_GIVEN = "DataallVpcPublicSubnets"
VPC_CIDR = "VpcCidrBlock"
VPC_PRIVATE_ROUTE_TABLES = "VpcPrivateRouteTableIds"
VPC_PUBLIC_SUBNETS = "VpcPublicSubnetIds"
VPC_ID_PATTERN = "vpc-[0-9a-f]{8}([0-9a-f]{9})?"
#: A private subnet's parameter: `VpcPrivateSubnet<n>Id`, n from 1.
VPC_PRIVATE_SUBNET = re.compile(r"VpcPrivateSubnet(?P<n>[1-9][0-9]*)Id")
#: data.all's subnets and their route tables in its VPC, by the construct paths CDK writes.
DATAALL_SUBNET_PART = re.compile(r"(?P<kind>Private|Public)Subnet(?P<n>[0-9]+)/(?P<part>Subnet|RouteTable)")


def vpc_private_subnet(n: int) -> str:
    return f"VpcPrivateSubnet{n}Id"


def vpc_context_parameters(template: Mapping[str, Any]) -> list[str]:
    """The parameters of the operator's VPC (Plan's) `template` declares, after the rules."""
    declared = template.get("Parameters") or {}
    fixed = [VPC_CIDR, VPC_PRIVATE_ROUTE_TABLES, VPC_PUBLIC_SUBNETS]
    subnets = sorted((p for p in declared if VPC_PRIVATE_SUBNET.fullmatch(p)), key=lambda p: int(re.sub(r"\D", "", p)))
    return [p for p in fixed if p in declared] + subnets


def _new_vpc_only(resources: Mapping[str, Any], vpc_id: str, stack: str) -> set[str]:
    """What data.all makes only for a VPC of its own (`create_new_vpc`): the VPC and its parts (CDK's constructs
    under it: subnets, route tables, routes, NAT gateway, EIP, internet gateway; not the endpoints data.all adds to
    any VPC) and its flow log with the log's group and role (a restricted NACL has its own condition)."""
    made = set()
    for key, resource in resources.items():
        path = _cdk_path(resource) or ""
        if path.startswith(f"{stack}/VPC/") and resource.get("Type") != "AWS::EC2::VPCEndpoint":
            made.add(key)
    for key, resource in resources.items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::EC2::FlowLog" and properties.get("ResourceId") == {"Ref": vpc_id}:
            made.add(key)
            made.update(
                _referenced(properties.get("LogGroupName")) | _referenced(properties.get("DeliverLogsPermissionArn"))
            )
    return made


def _referenced(node: Any) -> set[str]:
    """The logical ids `node` reads by `Ref` or `Fn::GetAtt`."""
    if isinstance(node, list):
        return {k for item in node for k in _referenced(item)}
    if not isinstance(node, dict):
        return set()
    if list(node) == ["Ref"] and isinstance(node["Ref"], str):
        return {node["Ref"]}
    if list(node) == ["Fn::GetAtt"]:
        attribute = node["Fn::GetAtt"]
        return {attribute.split(".")[0] if isinstance(attribute, str) else attribute[0]}
    return {k for value in node.values() for k in _referenced(value)}


def _read_where_false(node: Any, condition: str) -> set[str]:
    """The logical ids `node` reads by `Ref` or `Fn::GetAtt` where `condition` is false (an `Fn::If` on it reads
    its third argument)."""
    if isinstance(node, list):
        return {k for item in node for k in _read_where_false(item, condition)}
    if not isinstance(node, dict):
        return set()
    if list(node) == ["Fn::If"] and node["Fn::If"][0] == condition:
        return _read_where_false(node["Fn::If"][2], condition)
    if list(node) in (["Ref"], ["Fn::GetAtt"]):
        return _referenced(node)
    return {k for value in node.values() for k in _read_where_false(value, condition)}


def _either(made: Any, given: Any) -> dict[str, Any]:
    return {"Fn::If": [VPC_NEW, made, given]}


@dataclass
class _NewVpc:
    """data.all's own VPC in the template holding it: what `create_new_vpc` makes, and what each reference to it
    becomes with the operator's VPC."""

    vpc_id: str
    made: set[str]
    #: a reference (as JSON) -> what takes its place with the operator's VPC
    given: dict[str, Any]
    private: list[int]
    private_tables: set[str]
    public_subnets: set[str]
    name_tags: list[dict[str, Any]]


def _new_vpc(resources: Mapping[str, Any], vpc_id: str, stack: str) -> _NewVpc:
    made = _new_vpc_only(resources, vpc_id, stack)
    conditioned = [k for k in made if "Condition" in resources[k]]
    if conditioned:
        raise RuleError(f"data.all's VPC resources {sorted(conditioned)} have conditions of their own")
    given: dict[str, Any] = {json.dumps({"Ref": vpc_id}): {"Ref": VPC_ID}}
    given[json.dumps({"Fn::GetAtt": [vpc_id, "CidrBlock"]})] = {"Ref": VPC_CIDR}
    tags = (resources[vpc_id].get("Properties") or {}).get("Tags") or []
    found = _NewVpc(vpc_id, made, given, [], set(), set(), [t for t in tags if t.get("Key") == "Name"])
    for key in made:
        part = DATAALL_SUBNET_PART.fullmatch((_cdk_path(resources[key]) or "").removeprefix(f"{stack}/VPC/"))
        if part is None:
            continue
        if part["kind"] == "Private" and part["part"] == "Subnet":
            found.private.append(int(part["n"]))
            given[json.dumps({"Ref": key})] = {"Ref": vpc_private_subnet(int(part["n"]))}
        elif part["kind"] == "Private":
            found.private_tables.add(key)
        elif part["part"] == "Subnet":
            found.public_subnets.add(key)
    if not found.private or sorted(found.private) != list(range(1, len(found.private) + 1)):
        raise RuleError(f"data.all's VPC {vpc_id} has private subnets {sorted(found.private)}, not 1 to n")
    return found


def _with_the_operators_vpc(node: Any, vpc: _NewVpc, holder: str, public_holders: set[str]) -> Any:
    """`node` with each reference to `vpc`'s parts `Fn::If` on `DataallNewVpc`: the part, or what takes its place."""
    if isinstance(node, list):
        tables = [_referenced(i) for i in node if isinstance(i, dict)]
        if node and len(tables) == len(node) and all(read and read <= vpc.private_tables for read in tables):
            return _either(node, {"Ref": VPC_PRIVATE_ROUTE_TABLES})
        return [
            _either(i, {"Ref": "AWS::NoValue"}) if i in vpc.name_tags else
            _with_the_operators_vpc(i, vpc, holder, public_holders)
            for i in node
        ]  # fmt: skip
    if not isinstance(node, dict):
        return node
    text = json.dumps(node)
    if text in vpc.given:
        return _either(node, vpc.given[text])
    read = _referenced(node)
    if read and read <= vpc.public_subnets and "Fn::Join" in node:
        public_holders.add(holder)
        return _either(node, {"Ref": VPC_PUBLIC_SUBNETS})
    return {k: _with_the_operators_vpc(v, vpc, holder, public_holders) for k, v in node.items()}


def _nothing_else_read(
    key: str, body: Mapping[str, Any], made: set[str], condition: str = VPC_NEW, which: str = "for a VPC of its own"
) -> None:
    """`body` (resource or output `key`) reads nothing of `made` where `condition` is false: no `Ref`, `Fn::GetAtt`,
    `DependsOn` nor `Fn::Sub` variable (the import stops, naming them: data.all makes them only `which`)."""
    depends = body.get("DependsOn") or []
    reads = _read_where_false({k: v for k, v in body.items() if k not in ("Metadata", "DependsOn")}, condition)
    left = (reads | set([depends] if isinstance(depends, str) else depends)) & made
    if left:
        raise RuleError(f"{key} reads {sorted(left)}, which data.all makes only {which}")
    text = json.dumps({k: v for k, v in body.items() if k != "Metadata"})
    subbed = sorted(m for m in made if "${" + m in text)
    if subbed:
        raise RuleError(f"{key} reads {subbed} in an Fn::Sub, which data.all makes only {which}")


def _one_ingress_from_the_cidr(resources: Mapping[str, Any], vpc: _NewVpc) -> None:
    """CDK gives the endpoints' group one ingress rule from the VPC's CIDR per peer it cannot compare (a token);
    with the CIDR a literal (a looked-up VPC), one: the first is kept, the others made only with the new VPC."""
    cidr = _either({"Fn::GetAtt": [vpc.vpc_id, "CidrBlock"]}, {"Ref": VPC_CIDR})
    seen: list[Any] = []
    for key, resource in resources.items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::EC2::SecurityGroupIngress" or properties.get("CidrIp") != cidr:
            continue
        if properties not in seen:
            seen.append(properties)
        elif "Condition" in resource:
            raise RuleError(f"data.all's ingress rule {key} has a condition of its own")
        else:
            resource["Condition"] = VPC_NEW


def existing_vpc_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `vpc_id` becomes the `VpcId` parameter: empty (its default), data.all makes its VPC as it
    does without the key; given, it makes none and its endpoints, security group, SSM parameters and outputs take
    the operator's VPC, as data.all's synthesis with the VPC looked up makes them. In the template holding
    data.all's VPC (found by its construct path), what `create_new_vpc` makes takes the condition `DataallNewVpc`
    (`VpcId` empty), and each reference to it from what data.all makes for any VPC becomes `Fn::If` on that
    condition: the VPC's `Ref` and CIDR (`VpcId`, `VpcCidrBlock`), each private subnet
    (`VpcPrivateSubnet<n>Id`), the private route tables' list (`VpcPrivateRouteTableIds`), the public subnets'
    list (`VpcPublicSubnetIds`; what holds it exists only with some: `DataallVpcPublicSubnets`), the VPC's `Name`
    tag CDK gives its children (none on a looked-up VPC's); of the endpoints' group's identical ingress rules
    from the VPC's CIDR one is kept (`_one_ingress_from_the_cidr`). Any other reference to what the condition
    leaves out stops the import, as does a synthesis that made a VPC though it was given one. data.all's restricted
    NACL is made only on its own VPC (its condition and `DataallNewVpc`)."""
    resources = template.get("Resources", {})
    found = _dataall_vpc(resources)
    if found is None:
        return
    if synthesis.setting(VPC_ID_KEY):
        raise RuleError(f"data.all's VPC is made though the synthesis' {VPC_ID_KEY} is set")
    vpc = _new_vpc(resources, *found)
    nacl = {k for k, r in resources.items() if r.get("Condition") == VPC_RESTRICTED_NACL_ON}
    public_holders: set[str] = set()
    for section in ("Resources", "Outputs"):
        for key, body in template.get(section, {}).items():
            if section == "Resources" and (key in vpc.made or key in nacl):
                continue
            for part in ("Properties", "Value", "Export"):
                if part in body:
                    body[part] = _with_the_operators_vpc(body[part], vpc, f"{section}/{key}", public_holders)
            _nothing_else_read(key, body, vpc.made)
    for holder in sorted(public_holders):
        section, _, key = holder.partition("/")
        if "Condition" in template[section][key]:
            raise RuleError(f"{key}, holding the public subnets, has a condition of its own")
        template[section][key]["Condition"] = VPC_PUBLIC_SUBNETS_GIVEN
    _one_ingress_from_the_cidr(resources, vpc)
    for key in vpc.made:
        resources[key]["Condition"] = VPC_NEW
    _declare_vpc_parameters(template, sorted(vpc.private), public=bool(public_holders))


def _declare_vpc_parameters(template: dict[str, Any], private: list[int], *, public: bool) -> None:
    conditions = template.setdefault("Conditions", {})
    conditions[VPC_NEW] = {"Fn::Equals": [{"Ref": VPC_ID}, ""]}
    if public:
        conditions[VPC_PUBLIC_SUBNETS_GIVEN] = {
            "Fn::Or": [{"Condition": VPC_NEW}, {"Fn::Not": [{"Fn::Equals": [{"Ref": VPC_PUBLIC_SUBNETS}, ""]}]}]
        }
    if VPC_RESTRICTED_NACL_ON in conditions:  # data.all makes its NACL only on a VPC of its own
        conditions[VPC_RESTRICTED_NACL_ON] = {"Fn::And": [conditions[VPC_RESTRICTED_NACL_ON], {"Condition": VPC_NEW}]}
    parameters = template.setdefault("Parameters", {})
    parameters[VPC_ID] = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": f"({VPC_ID_PATTERN})?",
        "Description": f"data.all's {VPC_ID_KEY}: the operator's VPC data.all's endpoints, functions, tasks, "
        "database and search domain go in; empty: data.all makes its own (set by the installer from the release's "
        "option)",
    }
    for name, kind, what in (
        (VPC_CIDR, "String", "its CIDR block"),
        (VPC_PRIVATE_ROUTE_TABLES, "CommaDelimitedList", "its private subnets' route tables, each once"),
        (VPC_PUBLIC_SUBNETS, "String", "its public subnets, comma-separated (maybe none)"),
        *((vpc_private_subnet(n), "String", f"its private subnet {n}, in CDK's lookup order") for n in private),
    ):
        parameters[name] = {
            "Type": kind,
            "Default": "",
            "Description": f"With {VPC_ID}: {what} (set by the installer from the VPC)",
        }


#: The parameter (and release option) of data.all's `vpc_endpoints_sg` ("": data.all makes its endpoints and their
#: group), the condition the rule gives what data.all makes only then, and that with its own VPC too (the endpoints'
#: group's ingress rules CDK makes one per token peer: `_one_ingress_from_the_cidr`).
VPC_ENDPOINTS_SG = "VpcEndpointsSecurityGroupId"
VPC_ENDPOINTS_MADE = "DataallVpcEndpointsMade"
VPC_NEW_ENDPOINTS_MADE = "DataallNewVpcEndpointsMade"
SECURITY_GROUP_ID_PATTERN = "sg-[0-9a-f]{8}([0-9a-f]{9})?"
#: data.all's endpoints' group (`ec2.SecurityGroup(self, 'vpc-sg', ...)` in its Vpc stack), by its construct path, and
#: the parameter CDK gives a sibling nested stack reading its `GroupId` (the Vpc stack's output named after the
#: group's unique id: `<...>Vpcvpcsg<hash>GroupId`).
DATAALL_VPCE_GROUP_PATH = re.compile(r"(?P<stack>.+/Vpc)/vpc-sg/Resource")
DATAALL_VPCE_GROUP_REFERENCE = re.compile(r"referenceto.*VpcNestedStack.*Outputs.*Vpcvpcsg[0-9A-F]{8}GroupId")
DATAALL_VPCE_GROUP_OUTPUT = re.compile(r".*Vpcvpcsg[0-9A-F]{8}GroupId")


def _endpoints_group(resources: Mapping[str, Any]) -> str | None:
    """data.all's endpoints' security group in `resources` (found by its construct path), if there."""
    found = [
        key
        for key, resource in resources.items()
        if resource.get("Type") == "AWS::EC2::SecurityGroup"
        and DATAALL_VPCE_GROUP_PATH.fullmatch(_cdk_path(resource) or "")
    ]
    if len(found) > 1:
        raise RuleError(f"more than one security group of data.all's endpoints' construct path: {sorted(found)}")
    return found[0] if found else None


def _made_with_the_endpoints(key: str, resource: dict[str, Any], condition: str) -> None:
    """`resource` made only with data.all's endpoints: `condition`, or with its own VPC's condition both."""
    if resource.get("Condition") == VPC_NEW:
        resource["Condition"] = VPC_NEW_ENDPOINTS_MADE
    elif "Condition" in resource:
        raise RuleError(f"{key}, made with data.all's endpoints, has a condition of its own")
    else:
        resource["Condition"] = condition


def vpc_endpoints_sg_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `vpc_endpoints_sg` becomes the `VpcEndpointsSecurityGroupId` parameter: empty (its default),
    data.all makes its endpoints and their group as without the key; given (with `VpcId`: the operator's VPC has its
    own endpoints), it makes neither and its functions' and tasks' groups reach the operator's group, as data.all's
    synthesis with the group imported (`mutable=False`) makes them. In the template holding data.all's endpoints'
    group (found by its construct path), the group, its ingress rules and every VPC endpoint take the condition
    `DataallVpcEndpointsMade` (the parameter empty; those of data.all's own VPC `DataallNewVpcEndpointsMade`, both),
    and the output other stages read the group's id from becomes `Fn::If` on it: the group, or the parameter. In a
    template reading that output (a function's or task's group), the rules *on* the group (`GroupId` it: an
    imported immutable group takes none) take the condition; those on the reader's own group, to or from it, are
    kept. Any other reference to what the condition leaves out stops the import, as does a synthesis that made the
    group though its `vpc_endpoints_sg` was set."""
    resources = template.get("Resources", {})
    group = _endpoints_group(resources)
    references = [p for p in template.get("Parameters") or {} if DATAALL_VPCE_GROUP_REFERENCE.fullmatch(p)]
    if group is None and not references:
        return
    if synthesis.setting(VPC_ENDPOINTS_SG_KEY):
        raise RuleError(f"data.all's endpoints' group is there though the synthesis' {VPC_ENDPOINTS_SG_KEY} is set")
    if group is not None:
        _endpoints_made_with_the_option(template, group)
    on_the_group = [
        key
        for reference in references
        for key, resource in resources.items()
        if (resource.get("Properties") or {}).get("GroupId") == {"Ref": reference}
    ]
    for key in on_the_group:
        _made_with_the_endpoints(key, resources[key], VPC_ENDPOINTS_MADE)
    if group is None and not on_the_group:  # a reader of the group's id alone (an OpenSearch Serverless endpoint)
        return
    conditions = template.setdefault("Conditions", {})
    conditions[VPC_ENDPOINTS_MADE] = {"Fn::Equals": [{"Ref": VPC_ENDPOINTS_SG}, ""]}
    if any(r.get("Condition") == VPC_NEW_ENDPOINTS_MADE for r in resources.values()):
        conditions[VPC_NEW_ENDPOINTS_MADE] = {"Fn::And": [{"Condition": VPC_NEW}, {"Condition": VPC_ENDPOINTS_MADE}]}
    template.setdefault("Parameters", {})[VPC_ENDPOINTS_SG] = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": f"({SECURITY_GROUP_ID_PATTERN})?",
        "Description": f"data.all's {VPC_ENDPOINTS_SG_KEY}, with {VPC_ID}: the security group of the operator's VPC's "
        "own endpoints, which data.all's functions and tasks reach; empty: data.all makes its endpoints and their "
        "group (set by the installer from the release's option)",
    }


def _endpoints_made_with_the_option(template: dict[str, Any], group: str) -> None:
    resources = template["Resources"]
    made = {group} | {k for k, r in resources.items() if r.get("Type") == "AWS::EC2::VPCEndpoint"}
    made |= {
        k
        for k, r in resources.items()
        if r.get("Type") in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        and _referenced((r.get("Properties") or {}).get("GroupId")) == {group}
    }
    for key in sorted(made):
        _made_with_the_endpoints(key, resources[key], VPC_ENDPOINTS_MADE)
    given = {"Fn::GetAtt": [group, "GroupId"]}
    outputs = template.get("Outputs") or {}
    for key, output in outputs.items():
        if output.get("Value") == given and DATAALL_VPCE_GROUP_OUTPUT.fullmatch(key) and "Export" not in output:
            output["Value"] = {"Fn::If": [VPC_ENDPOINTS_MADE, given, {"Ref": VPC_ENDPOINTS_SG}]}
    for section in ("Resources", "Outputs"):
        for key, body in template.get(section, {}).items():
            if section == "Resources" and key in made:
                continue
            _nothing_else_read(key, body, made, VPC_ENDPOINTS_MADE, "with its own endpoints")


#: The parameters (and release options) of data.all's `apigw_custom_domain`: the API's domain name (a public hosted
#: zone's own name, as data.all gives `hosted_zone_name` as the domain name), the zone's id, and the ACM certificate
#: (us-east-1, where an edge-optimized custom domain name takes its certificate from:
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html);
#: the conditions the rule gives the template holding data.all's API: the name given, or not.
API_DOMAIN_NAME = "ApiCustomDomainName"
API_DOMAIN_ZONE = "ApiCustomDomainHostedZoneId"
API_DOMAIN_CERTIFICATE = "ApiCustomDomainCertificateArn"
API_DOMAIN_ON = "DataallApiCustomDomain"
API_DOMAIN_OFF = "DataallApiExecuteApiEndpoint"
#: The output the rule gives that template: the URL data.all's web UI calls its API at (the value of its SSM
#: parameter `/dataall/<env>/apiGateway/backendUrl`, which the `site` action reads from a stage output).
API_BACKEND_URL_OUTPUT = "DataallBackendUrl"
#: data.all's constructs (`set_up_graphql_api_gateway`): its RestApi `<resource_prefix>-<envname>-api`, its
#: `add_domain_name('ApiGwCustomDomainName', ...)` (EDGE, TLS_1_2; CDK's `DomainName` maps the API's deployment
#: stage at the root: its `BasePathMapping` `Map:<base path>=><the API's unique id>`, the `/` written `--`), the
#: `r53.ARecord(self, 'ApiGwARecordId', ...)` alias to it, and the SSM parameter `BackendApi`.
DATAALL_API_PATH = re.compile(r"(?P<stack>.+)/(?P<api>[^/]+-api)/Resource")
API_DOMAIN_CONSTRUCT = "ApiGwCustomDomainName"
API_RECORD_CONSTRUCT = "ApiGwARecordId"
API_BACKEND_URL = re.compile(r"/dataall/[^/]+/apiGateway/backendUrl")
#: An edge-optimized API's alias target: the CloudFront distribution API Gateway makes for the domain name.
API_DOMAIN_ALIAS = ("DistributionDomainName", "DistributionHostedZoneId")
_DEPLOYMENT_HASH = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class _DataallApi:
    """data.all's RestApi in a template and what the custom domain rule changes beside it."""

    api: str
    #: the construct path of the API's nested stack, and the API's construct id
    stack: str
    construct: str
    deployment: str
    stage: str
    backend_url: str
    #: the API's `Endpoint` output (CDK's `RestApi.url`): the execute-api URL
    endpoint: str


def _dataall_api(template: Mapping[str, Any]) -> _DataallApi | None:
    """data.all's RestApi in `template` (none: None), found by its construct path, with its deployment, stage,
    backend URL parameter and endpoint output; the import stops if one is not where CDK puts it."""
    resources = template.get("Resources", {})
    apis = []
    for key, resource in resources.items():
        path = _cdk_path(resource)
        matched = DATAALL_API_PATH.fullmatch(path) if path is not None else None
        if resource.get("Type") == "AWS::ApiGateway::RestApi" and matched:
            apis.append((key, matched["stack"], matched["api"]))
    if not apis:
        return None
    if len(apis) > 1:
        raise RuleError(f"{API_CUSTOM_DOMAIN_KEY}: more than one RestApi of data.all's construct path: {apis}")
    ((api, stack, construct),) = apis
    if api != cdk_logical_id([construct, "Resource"]):
        raise RuleError(f"{API_CUSTOM_DOMAIN_KEY}: RestApi {api} is not where CDK puts data.all's API {construct}")

    def one(kind: str, what: str, test: Callable[[str, dict[str, Any]], bool]) -> str:
        found = sorted(k for k, r in resources.items() if r.get("Type") == kind and test(k, r))
        if len(found) != 1:
            raise RuleError(f"{API_CUSTOM_DOMAIN_KEY}: data.all's API {api} has not one {what}: {found or 'none'}")
        return found[0]

    def of_api(_key: str, resource: dict[str, Any]) -> bool:
        return (resource.get("Properties") or {}).get("RestApiId") == {"Ref": api}

    deployment = one("AWS::ApiGateway::Deployment", "deployment", of_api)
    original = cdk_logical_id([construct, "Deployment", "Resource"])
    if not (deployment.startswith(original) and _DEPLOYMENT_HASH.fullmatch(deployment[len(original) :])):
        raise RuleError(f"{API_CUSTOM_DOMAIN_KEY}: deployment {deployment} is not where CDK puts data.all's API's")
    stage = one(
        "AWS::ApiGateway::Stage",
        "stage of its deployment",
        lambda k, r: of_api(k, r) and r["Properties"].get("DeploymentId") == {"Ref": deployment},
    )
    backend_url = one(
        "AWS::SSM::Parameter",
        "SSM parameter /dataall/<env>/apiGateway/backendUrl",
        lambda _k, r: API_BACKEND_URL.fullmatch(str((r.get("Properties") or {}).get("Name"))) is not None,
    )
    endpoint = cdk_logical_id([construct, "Endpoint"])
    if endpoint not in template.get("Outputs", {}):
        raise RuleError(f"{API_CUSTOM_DOMAIN_KEY}: data.all's API {api} has no Endpoint output {endpoint}")
    return _DataallApi(api, stack, construct, deployment, stage, backend_url, endpoint)


def _api_custom_domain(
    template: Mapping[str, Any], found: _DataallApi, name: Any, zone: Any, certificate: Any
) -> dict[str, dict[str, Any]]:
    """The resources CDK synthesizes for data.all's `apigw_custom_domain` of `name`, `zone` and `certificate` (the
    synthesis' literals, or the parameters), without a condition."""
    resources = template["Resources"]
    tags = copy.deepcopy((resources[found.api].get("Properties") or {}).get("Tags"))
    domain_construct = [found.construct, API_DOMAIN_CONSTRUCT]
    domain = cdk_logical_id([*domain_construct, "Resource"])
    mapping_construct = [*domain_construct, "Map:--=>" + cdk_logical_id(f"{found.stack}/{found.construct}".split("/"))]
    record_name = f"{name}." if isinstance(name, str) else {"Fn::Sub": "${" + API_DOMAIN_NAME + "}."}

    def path(construct: list[str]) -> dict[str, str]:
        return {"aws:cdk:path": "/".join([found.stack, *construct, "Resource"])}

    return {
        domain: {
            "Type": "AWS::ApiGateway::DomainName",
            "Properties": {
                "CertificateArn": certificate,
                "DomainName": name,
                "EndpointConfiguration": {"Types": ["EDGE"]},
                "SecurityPolicy": "TLS_1_2",
                **({"Tags": tags} if tags else {}),
            },
            "Metadata": path(domain_construct),
        },
        cdk_logical_id([*mapping_construct, "Resource"]): {
            "Type": "AWS::ApiGateway::BasePathMapping",
            "Properties": {
                "DomainName": {"Ref": domain},
                "RestApiId": {"Ref": found.api},
                "Stage": {"Ref": found.stage},
            },
            "Metadata": path(mapping_construct),
        },
        cdk_logical_id([API_RECORD_CONSTRUCT, "Resource"]): {
            "Type": "AWS::Route53::RecordSet",
            "Properties": {
                "AliasTarget": {
                    "DNSName": {"Fn::GetAtt": [domain, API_DOMAIN_ALIAS[0]]},
                    "HostedZoneId": {"Fn::GetAtt": [domain, API_DOMAIN_ALIAS[1]]},
                },
                "HostedZoneId": zone,
                "Name": record_name,
                "Type": "A",
            },
            "Metadata": path([API_RECORD_CONSTRUCT]),
        },
    }


def _api_deployment_on(deployment: str) -> str:
    """The logical id of data.all's API's deployment with the custom domain: CDK hashes the RestApi's properties
    (`DisableExecuteApiEndpoint`) into it, so that a change makes a new deployment, which the stage then serves (API
    Gateway applies a disabled execute-api endpoint only when the API is deployed again:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-disable-default-endpoint.html). CDK's
    hash of its other parts cannot be recomputed from the template: the rule derives one from the synthesized id."""
    digest = hashlib.md5(f"{deployment}/{API_DOMAIN_ON}".encode(), usedforsecurity=False).hexdigest()
    return deployment[:-32] + digest


def api_custom_domain_from_the_options(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `apigw_custom_domain` becomes the `ApiCustomDomainName`, `ApiCustomDomainHostedZoneId` and
    `ApiCustomDomainCertificateArn` parameters. In the template holding data.all's RestApi (found by its construct
    path) the rule gives, under the condition that `ApiCustomDomainName` is given, what CDK synthesizes for the key
    (logical ids, construct paths, the API's tags): the edge-optimized `AWS::ApiGateway::DomainName` of the name
    with the certificate (TLS 1.2), its `BasePathMapping` of the API's stage at the root, and the zone's alias `A`
    record to it; the RestApi's `DisableExecuteApiEndpoint` and the value of data.all's SSM parameter
    `/dataall/<env>/apiGateway/backendUrl` (`https://<name>/`, else the execute-api URL) become `Fn::If` on it,
    and so does the stage's deployment: the API's deployment, and under the condition a second one (a new
    deployment when the option changes, as CDK's hash of the RestApi makes one). The output `DataallBackendUrl`
    holds that URL (the `site` action's API URL). A synthesis with the key is checked to hold exactly what CDK
    makes of it, then takes the same form; the import stops if anything else reads the deployment."""
    found = _dataall_api(template)
    if found is None:
        return
    resources = template["Resources"]
    domain = synthesis.setting(API_CUSTOM_DOMAIN_KEY)
    parameters = ({"Ref": API_DOMAIN_NAME}, {"Ref": API_DOMAIN_ZONE}, {"Ref": API_DOMAIN_CERTIFICATE})
    wanted = _api_custom_domain(template, found, *parameters)
    domain_id = next(iter(wanted))
    on_url = {"Fn::Join": ["", ["https://", {"Ref": domain_id}, "/"]]}
    endpoint_url = template["Outputs"][found.endpoint]["Value"]
    api_properties = resources[found.api].setdefault("Properties", {})
    backend = resources[found.backend_url]["Properties"]
    synthesized = {k: r for k, r in resources.items() if k in wanted}
    if domain:
        literals = (domain["hosted_zone_name"], domain["hosted_zone_id"], domain["certificate_arn"])
        expected = _api_custom_domain(template, found, *map(str, literals))
        if synthesized != expected or (api_properties.get("DisableExecuteApiEndpoint"), backend.get("Value")) != (
            True,
            on_url,
        ):
            raise RuleError(f"data.all's API custom domain is not as CDK synthesizes it for {API_CUSTOM_DOMAIN_KEY}")
    elif (
        synthesized
        or api_properties.get("DisableExecuteApiEndpoint") is not False
        or backend.get("Value") != (endpoint_url)
    ):
        raise RuleError(
            f"data.all's API {found.api} is not as CDK synthesizes it without {API_CUSTOM_DOMAIN_KEY}: "
            f"custom domain resources {sorted(synthesized)}, DisableExecuteApiEndpoint "
            f"{api_properties.get('DisableExecuteApiEndpoint')!r}, backendUrl not the API's endpoint"
        )
    deployment, on_deployment = found.deployment, _api_deployment_on(found.deployment)
    for section in ("Resources", "Outputs"):
        for key, body in template.get(section, {}).items():
            depends = body.get("DependsOn") or []
            read = deployment in ([depends] if isinstance(depends, str) else depends)
            if read or (key != found.stage and deployment in json.dumps(body.get("Properties", body.get("Value")))):
                raise RuleError(f"{API_CUSTOM_DOMAIN_KEY}: {key} reads data.all's API deployment {deployment}")
    resources[on_deployment] = {**copy.deepcopy(resources[deployment]), "Condition": API_DOMAIN_ON}
    resources[deployment]["Condition"] = API_DOMAIN_OFF
    resources[found.stage]["Properties"]["DeploymentId"] = {
        "Fn::If": [API_DOMAIN_ON, {"Ref": on_deployment}, {"Ref": deployment}]
    }
    resources.update({k: {**r, "Condition": API_DOMAIN_ON} for k, r in wanted.items()})
    api_properties["DisableExecuteApiEndpoint"] = {"Fn::If": [API_DOMAIN_ON, True, False]}
    backend_url = {"Fn::If": [API_DOMAIN_ON, on_url, copy.deepcopy(endpoint_url)]}
    backend["Value"] = backend_url
    template["Outputs"][API_BACKEND_URL_OUTPUT] = {
        "Description": "The URL data.all's web UI calls its API at (its SSM parameter …/apiGateway/backendUrl)",
        "Value": copy.deepcopy(backend_url),
    }
    template.setdefault("Conditions", {}).update(
        {
            API_DOMAIN_ON: {"Fn::Not": [{"Fn::Equals": [{"Ref": API_DOMAIN_NAME}, ""]}]},
            API_DOMAIN_OFF: {"Fn::Equals": [{"Ref": API_DOMAIN_NAME}, ""]},
        }
    )
    template.setdefault("Parameters", {}).update(
        {
            API_DOMAIN_NAME: {
                "Type": "String",
                "Default": "",
                "AllowedPattern": f"({CUSTOM_DOMAIN_NAME_PATTERN})?",
                "Description": f"data.all's {API_CUSTOM_DOMAIN_KEY}.hosted_zone_name: the name data.all's API is "
                "served at, a public Route 53 hosted zone's; empty: the API's execute-api endpoint (set by the "
                "installer from the release's option)",
            },
            API_DOMAIN_ZONE: {
                "Type": "String",
                "Default": "",
                "AllowedPattern": f"({CUSTOM_DOMAIN_ZONE_PATTERN})?",
                "Description": f"data.all's {API_CUSTOM_DOMAIN_KEY}.hosted_zone_id: the id of ApiCustomDomainName's "
                "hosted zone, which gets the name's alias record (set by the installer from the release's option)",
            },
            API_DOMAIN_CERTIFICATE: {
                "Type": "String",
                "Default": "",
                "AllowedPattern": f"({EDGE_CERTIFICATE_PATTERN})?",
                "Description": f"data.all's {API_CUSTOM_DOMAIN_KEY}.certificate_arn: the ARN of the account's ACM "
                "certificate in us-east-1 covering ApiCustomDomainName (set by the installer from the release's "
                "option)",
            },
        }
    )


#: The parameter (and release option) of data.all's `apig_vpce` ("": data.all makes its API's endpoint), the condition
#: the rule gives what data.all makes only then, and an interface endpoint's id as EC2 draws it
#: (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html).
API_VPC_ENDPOINT = "ApiVpcEndpointId"
API_VPC_ENDPOINT_MADE = "DataallApiVpcEndpointMade"
VPC_ENDPOINT_ID_PATTERN = "vpce-[0-9a-f]{8}([0-9a-f]{9})?"
#: data.all's private API's endpoint (`InterfaceVpcEndpoint(self, f'APIVpcEndpoint{envname}', ...,
#: service=InterfaceVpcEndpointAwsService.APIGATEWAY)` in its Lambdas stack) by its construct path; CDK makes its
#: security group at `<endpoint>/SecurityGroup`.
DATAALL_API_ENDPOINT_PATH = re.compile(r"(?P<endpoint>.+/APIVpcEndpoint[^/]*)/Resource")


def _api_endpoint(resources: Mapping[str, Any]) -> tuple[str, str] | None:
    """data.all's private API's `execute-api` endpoint in `resources` (found by its construct path) and its security
    group, if there; the import stops if they are not as CDK makes them."""
    found = [
        (key, matched["endpoint"])
        for key, resource in resources.items()
        if resource.get("Type") == "AWS::EC2::VPCEndpoint"
        for matched in [DATAALL_API_ENDPOINT_PATH.fullmatch(_cdk_path(resource) or "")]
        if matched
    ]
    if not found:
        return None
    if len(found) > 1:
        raise RuleError(f"{API_VPC_ENDPOINT_KEY}: more than one endpoint of data.all's API's construct path: {found}")
    ((endpoint, path),) = found
    properties = resources[endpoint].get("Properties") or {}
    if properties.get("VpcEndpointType") != "Interface" or not str(properties.get("ServiceName")).endswith(
        ".execute-api"
    ):
        raise RuleError(f"{API_VPC_ENDPOINT_KEY}: {endpoint} is not an Interface endpoint of execute-api")
    groups = [
        key
        for key, resource in resources.items()
        if resource.get("Type") == "AWS::EC2::SecurityGroup" and _cdk_path(resource) == f"{path}/SecurityGroup/Resource"
    ]
    if len(groups) != 1 or properties.get("SecurityGroupIds") != [{"Fn::GetAtt": [groups[0], "GroupId"]}]:
        raise RuleError(f"{API_VPC_ENDPOINT_KEY}: {endpoint} has not the one security group CDK makes it: {groups}")
    return endpoint, groups[0]


def _with_the_operators_endpoint(node: Any, endpoint: str) -> Any:
    """`node` with each reference to the endpoint's id (`Ref`, `Fn::GetAtt Id`) `Fn::If` on its condition: the
    endpoint, or the `ApiVpcEndpointId` parameter."""
    if isinstance(node, list):
        return [_with_the_operators_endpoint(item, endpoint) for item in node]
    if not isinstance(node, dict):
        return node
    if node in ({"Ref": endpoint}, {"Fn::GetAtt": [endpoint, "Id"]}):
        return {"Fn::If": [API_VPC_ENDPOINT_MADE, node, {"Ref": API_VPC_ENDPOINT}]}
    return {key: _with_the_operators_endpoint(value, endpoint) for key, value in node.items()}


def api_vpc_endpoint_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `apig_vpce` becomes the `ApiVpcEndpointId` parameter: empty (its default), data.all's private API
    (`internet_facing=false`) has the `execute-api` interface endpoint data.all makes for it (private DNS, in its
    VPC's private subnets) and that endpoint's security group (https from the VPC's CIDR), as without the key; given,
    it makes neither and the API takes the operator's endpoint, as data.all's synthesis with the endpoint imported
    (`from_interface_vpc_endpoint_attributes`) makes it. In the template holding data.all's API endpoint (found by
    its construct path), the endpoint, its group and any rule on the group take the condition
    `DataallApiVpcEndpointMade` (the parameter empty), and each reference to the endpoint's id (the RestApi's
    `EndpointConfiguration.VpcEndpointIds`, its resource policy's `aws:SourceVpce`) becomes `Fn::If` on it: the
    endpoint, or the parameter. Any other reference to what the condition leaves out stops the import, as does a
    synthesis that made the endpoint though its `apig_vpce` was set. (Private APIs:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-apis.html.)"""
    resources = template.get("Resources", {})
    found = _api_endpoint(resources)
    if found is None:
        return
    if synthesis.setting(API_VPC_ENDPOINT_KEY):
        raise RuleError(f"data.all's API endpoint is there though the synthesis' {API_VPC_ENDPOINT_KEY} is set")
    endpoint, group = found
    made = {endpoint, group} | {
        key
        for key, resource in resources.items()
        if resource.get("Type") in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        and _referenced((resource.get("Properties") or {}).get("GroupId")) == {group}
    }
    for key in sorted(made):
        if "Condition" in resources[key]:
            raise RuleError(f"{key}, made with data.all's API endpoint, has a condition of its own")
        resources[key]["Condition"] = API_VPC_ENDPOINT_MADE
    for section in ("Resources", "Outputs"):
        for key, body in template.get(section, {}).items():
            if section == "Resources" and key in made:
                continue
            for part in ("Properties", "Value", "Export"):
                if part in body:
                    body[part] = _with_the_operators_endpoint(body[part], endpoint)
            _nothing_else_read(key, body, made, API_VPC_ENDPOINT_MADE, f"without {API_VPC_ENDPOINT_KEY}")
    template.setdefault("Conditions", {})[API_VPC_ENDPOINT_MADE] = {"Fn::Equals": [{"Ref": API_VPC_ENDPOINT}, ""]}
    template.setdefault("Parameters", {})[API_VPC_ENDPOINT] = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": f"({VPC_ENDPOINT_ID_PATTERN})?",
        "Description": f"data.all's {API_VPC_ENDPOINT_KEY}: the operator's execute-api interface endpoint data.all's "
        "private API is reached through; empty: data.all makes one in its VPC (set by the installer from the "
        "release's option)",
    }


#: The parameter (and release option) of data.all's `ip_ranges`, comma-separated ("": none, data.all's default), and
#: how many ranges it takes: CloudFormation has no loop, so the rule gives each group that many conditional entries
#: (slots), the n-th made when the list has an n-th range; the pattern refuses more.
LOAD_BALANCER_IP_RANGES = "LoadBalancerAllowedIpRanges"
LOAD_BALANCER_IP_RANGES_SLOTS = 10
#: Each range once (a lookahead refusing a range given again: CDK makes one rule of a range data.all's list repeats,
#: where each slot would make its own entry).
LOAD_BALANCER_IP_RANGES_PATTERN = (
    r"(?!(.*,)?([^,]+),(.*,)?\2(,|$))" + rf"({_CIDR}(,{_CIDR}){{0,{LOAD_BALANCER_IP_RANGES_SLOTS - 1}}})?"
)
#: data.all's albfront groups that `allow_alb_access` gives the ranges: the load balancer's (CDK's
#: `ApplicationLoadBalancedFargateService` makes it at `FrontEndService<env>/LB/SecurityGroup`) and the service's
#: (`FargateTaskFrontendSG`), by their construct paths; and the rule it gives each range (`Peer.ipv4(ip_range)`,
#: `Port.tcp(443)`, inline: the group is of the same stack).
DATAALL_ALB_GROUP_PATHS = (
    re.compile(r".+/FrontEndService[^/]*/LB/SecurityGroup/Resource"),
    re.compile(r".+/FargateTaskFrontendSG/Resource"),
)
_ALB_ACCESS = {"Description": "Allow inbound HTTPS", "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}


def load_balancer_ip_range_given(n: int) -> str:
    """The condition of the n-th slot (from 1): the option holds an n-th range."""
    return f"DataallLoadBalancerIpRange{n}Given"


def _ip_range(n: int) -> dict[str, Any]:
    """The n-th range of the option: the list padded with as many empty ranges as there are slots, so that
    `Fn::Select` never reads past its end (CloudFormation refuses that: "Fn::Select cannot select nonexistent value"),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-select.html)."""
    padded = {"Fn::Sub": "${" + LOAD_BALANCER_IP_RANGES + "}" + "," * LOAD_BALANCER_IP_RANGES_SLOTS}
    return {"Fn::Select": [n - 1, {"Fn::Split": [",", padded]}]}


def _alb_groups(resources: Mapping[str, Any]) -> list[str]:
    """data.all's albfront load balancer's and service's security groups in `resources` (none, or both, in that
    order)."""
    found = [
        [
            k
            for k, r in resources.items()
            if r.get("Type") == "AWS::EC2::SecurityGroup" and path.fullmatch(_cdk_path(r) or "")
        ]
        for path in DATAALL_ALB_GROUP_PATHS
    ]
    if not any(found):
        return []
    if [len(keys) for keys in found] != [1, 1]:
        raise RuleError(
            f"{IP_RANGES_KEY}: not one load balancer group and one service group of data.all's albfront: {found}"
        )
    return [keys[0] for keys in found]


def load_balancer_ip_ranges_from_the_option(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's `ip_ranges` becomes the `LoadBalancerAllowedIpRanges` parameter (comma-separated, at most
    `LOAD_BALANCER_IP_RANGES_SLOTS`). In the template holding data.all's albfront load balancer
    (`internet_facing=false`), its group and the web UI service's (found by their construct paths) each get, before
    their ingress from the VPC's CIDR, the entry `allow_alb_access` gives a range (tcp 443, "Allow inbound HTTPS")
    once per slot: `Fn::If` on the slot's condition (the parameter holds an n-th range), the entry with the n-th range,
    else `AWS::NoValue`; without the option the groups are data.all's. A synthesis with the key is checked to hold
    exactly its ranges' entries there, in its order, then takes the same form; the import stops if a group has other
    entries than data.all's."""
    resources = template.get("Resources", {})
    groups = _alb_groups(resources)
    if not groups:
        return
    ranges = list(dict.fromkeys(synthesis.setting(IP_RANGES_KEY) or []))  # CDK makes a rule once
    slots = [
        {"Fn::If": [load_balancer_ip_range_given(n), {"CidrIp": _ip_range(n), **_ALB_ACCESS}, {"Ref": "AWS::NoValue"}]}
        for n in range(1, LOAD_BALANCER_IP_RANGES_SLOTS + 1)
    ]
    for group in groups:
        properties = resources[group].setdefault("Properties", {})
        ingress = properties.get("SecurityGroupIngress") or []
        given = [{"CidrIp": cidr, **_ALB_ACCESS} for cidr in ranges]
        rest = ingress[len(given) :]  # then the one from the VPC's CIDR, a token (the vpc stage's export)
        if (
            ingress[: len(given)] != given
            or [{k: v for k, v in e.items() if k != "CidrIp"} for e in rest] != [_ALB_ACCESS]
            or isinstance(rest[0].get("CidrIp"), str)
        ):
            raise RuleError(
                f"{IP_RANGES_KEY}: data.all's albfront group {group} has not the ingress CDK synthesizes for "
                f"{ranges or 'no ranges'} and the VPC's CIDR: {ingress}"
            )
        properties["SecurityGroupIngress"] = [*copy.deepcopy(slots), *rest]
    conditions = template.setdefault("Conditions", {})
    for n in range(1, LOAD_BALANCER_IP_RANGES_SLOTS + 1):
        conditions[load_balancer_ip_range_given(n)] = {"Fn::Not": [{"Fn::Equals": [_ip_range(n), ""]}]}
    template.setdefault("Parameters", {})[LOAD_BALANCER_IP_RANGES] = {
        "Type": "String",
        "Default": "",
        "AllowedPattern": LOAD_BALANCER_IP_RANGES_PATTERN,
        "Description": f"data.all's {IP_RANGES_KEY}: IPv4 CIDR ranges, comma-separated, at most "
        f"{LOAD_BALANCER_IP_RANGES_SLOTS}, that data.all's internal load balancer and web UI service admit on tcp 443 "
        "beside the VPC's CIDR (set by the installer from the release's option)",
    }


def value_option(parameter: str, synthesis: Synthesis) -> dict[str, Any]:  # noqa: C901, PLR0911, PLR0912 (one per option)
    """The release's option filling a value rule's parameter, defaulting to the synthesized value."""
    if parameter == SESSION_TIMEOUT:
        low, high = SESSION_TIMEOUT_BOUNDS
        return {
            "type": "integer",
            "default": int(synthesis.setting(SESSION_TIMEOUT_KEY)),
            "minimum": low,
            "maximum": high,
            "label": "Session timeout (minutes)",
            "group": "data.all",
            "description": f"data.all's {SESSION_TIMEOUT_KEY}: how long a sign-in to data.all lasts, in "
            f"minutes ({low} to {high})",
        }
    if parameter == LOG_RETENTION:
        return {
            "type": "integer",
            "default": RETENTION_DAYS[synthesis.setting(LOG_RETENTION_KEY)],
            "allowed": list(RETENTION_DAYS.values()),
            "label": "Log retention (days)",
            "group": "data.all",
            "description": f"data.all's {LOG_RETENTION_KEY}, in days: how long data.all's log groups keep "
            "events (CloudWatch Logs' retention values)",
        }
    if parameter in THROTTLING_PARAMETERS:
        key, name = THROTTLING_PARAMETERS[parameter]
        what = "requests per second" if parameter == API_RATE_LIMIT else "requests at once (the burst)"
        return {
            "type": "integer",
            "default": throttling(synthesis)[key],
            "minimum": 1,
            "label": f"API throttling: {what}",
            "group": "data.all",
            "description": f"data.all's {THROTTLING_KEY}.{key}: the {what} its API "
            f"stage serves before API Gateway throttles ({name}; the account's own API Gateway quota still applies)",
        }
    if parameter == REAUTH_TTL:
        return {
            "type": "integer",
            "default": int(reauth(synthesis)["ttl"]),
            "minimum": 1,
            "label": "Re-authentication window (minutes)",
            "group": "data.all",
            "description": f"data.all's {REAUTH_KEY}.ttl: the minutes after signing in during which a user may run "
            "the operations of ReauthApis (the web UI asks to sign in again after)",
        }
    if parameter == REAUTH_APIS:
        return {
            "type": "string",
            "default": ",".join(reauth(synthesis)["reauth_apis"] or []),
            "pattern": REAUTH_APIS_PATTERN,
            "label": "Operations that need a recent sign-in",
            "group": "data.all",
            "description": f"data.all's {REAUTH_KEY}.reauth_apis: GraphQL operation names, comma-separated "
            "(e.g. deleteDataset,removeDatasetStorageLocation), that need a sign-in of at most ReauthTtlMinutes; "
            "empty: none",
        }
    if parameter == ALLOWED_ORIGINS:
        return {
            "type": "string",
            "default": synthesis.setting(ALLOWED_ORIGINS_KEY),
            "pattern": ALLOWED_ORIGINS_PATTERN,
            "label": "Allowed origin of API calls (CORS)",
            "group": "data.all",
            "description": f"data.all's {ALLOWED_ORIGINS_KEY}: the Access-Control-Allow-Origin of its API and "
            "search proxy, * or one origin such as https://dataall.example.com",
        }
    if parameter == SHARED_DASHBOARDS:
        return {
            "type": "string",
            "default": synthesis.setting(SHARED_DASHBOARDS_KEY),
            "allowed": list(SHARED_DASHBOARDS_VALUES),
            "label": "Shared dashboards' sessions",
            "group": "data.all",
            "description": f"data.all's {SHARED_DASHBOARDS_KEY}: the QuickSight session a shared dashboard is "
            "embedded with, anonymous or reader",
        }
    if parameter == PIVOT_ROLE_AUTO_CREATE:
        return {
            "type": "boolean",
            "default": bool(synthesis.setting(PIVOT_ROLE_AUTO_CREATE_KEY)),
            "label": "Create the pivot role in linked accounts",
            "group": "data.all",
            "description": f"data.all's {PIVOT_ROLE_AUTO_CREATE_KEY}: data.all makes its pivot role "
            f"({pivot_role_name(True)}) in each account an environment links; false: the operator makes "
            f"{pivot_role_name(False)} there from data.all's template",
        }
    if parameter in (WAF_IP_RANGES, WAF_COUNTRIES):
        ip_list, geo_list = waf_rules(synthesis)
        ranges = parameter == WAF_IP_RANGES
        return {
            "type": "string",
            "default": ",".join(ip_list if ranges else geo_list),
            "pattern": WAF_IP_RANGES_PATTERN if ranges else WAF_COUNTRIES_PATTERN,
            "label": "Allowed IPv4 ranges (WAF)" if ranges else "Allowed countries (WAF)",
            "group": "data.all",
            "description": f"data.all's {WAF_KEY}.allowed_ip_list: IPv4 CIDRs, comma-separated (e.g. "
            "203.0.113.0/24,198.51.100.7/32); data.all's WebACLs (API, Cognito, CloudFront) block any other "
            "address; empty: no such rule"
            if ranges
            else f"data.all's {WAF_KEY}.allowed_geo_list: ISO 3166 alpha-2 country codes, comma-separated "
            "(e.g. DE,FR); data.all's WebACLs (API, Cognito, CloudFront) block requests from any other country; "
            "empty: no such rule",
        }
    if parameter == WAF_RATE_LIMIT:
        low, high = WAF_RATE_LIMIT_BOUNDS
        return {
            "type": "integer",
            "default": int(waf_rate_limit(synthesis)[0]),
            "minimum": low,
            "maximum": high,
            "label": "Rate limit per IP address (WAF)",
            "group": "data.all",
            "description": f"data.all's {WAF_KEY}.rate_limit: the requests one IP address may make in "
            f"WafRateLimitWindow seconds before data.all's API and Cognito WebACLs block it ({low} to {high})",
        }
    if parameter == WAF_RATE_LIMIT_WINDOW:
        window = waf_rate_limit(synthesis)[1]
        return {
            "type": "integer",
            "default": WAF_RATE_LIMIT_WINDOW_DEFAULT if window is None else int(window),
            "allowed": list(WAF_RATE_LIMIT_WINDOWS),
            "label": "Rate limit's window, seconds (WAF)",
            "group": "data.all",
            "description": f"data.all's {WAF_KEY}.rate_limit_window: the seconds over which WAF counts an IP "
            f"address's requests against WafRateLimit (WAF's values; {WAF_RATE_LIMIT_WINDOW_DEFAULT} is WAF's "
            "default, data.all's when unset)",
        }
    if parameter in (CUSTOM_DOMAIN_NAME, CUSTOM_DOMAIN_ZONE):
        domain = synthesis.setting(CUSTOM_DOMAIN_KEY) or {}
        named = parameter == CUSTOM_DOMAIN_NAME
        pattern = CUSTOM_DOMAIN_NAME_PATTERN if named else CUSTOM_DOMAIN_ZONE_PATTERN
        return {
            "type": "string",
            "default": str(domain.get("hosted_zone_name" if named else "hosted_zone_id", "")),
            "pattern": f"({pattern})?",
            "label": "Custom domain name" if named else "Custom domain's hosted zone id",
            "group": "data.all",
            "description": f"With {CUSTOM_DOMAIN_ENABLED}: data.all's {CUSTOM_DOMAIN_KEY}.hosted_zone_name, "
            "the name of a public Route 53 hosted zone of the account (e.g. dataall.example.com), which data.all's "
            "web UI is served at"
            if named
            else f"With {CUSTOM_DOMAIN_ENABLED}: data.all's {CUSTOM_DOMAIN_KEY}.hosted_zone_id, the id of "
            f"{CUSTOM_DOMAIN_NAME}'s hosted zone (e.g. Z0123456789ABCDEFGHIJ); Plan checks the zone has that name",
        }
    if parameter == CUSTOM_DOMAIN_CERTIFICATE:
        given = str((synthesis.setting(CUSTOM_DOMAIN_KEY) or {}).get("certificate_arn") or "")
        return {
            "type": "string",
            "default": "" if given == CUSTOM_DOMAIN_CERTIFICATE_PLACEHOLDER else given,
            "pattern": f"({CUSTOM_DOMAIN_CERTIFICATE_PATTERN})?",
            "label": "Custom domain's certificate ARN",
            "group": "data.all",
            "description": f"With {CUSTOM_DOMAIN_ENABLED}: data.all's {CUSTOM_DOMAIN_KEY}.certificate_arn, the ARN "
            f"of an ACM certificate of the account covering {CUSTOM_DOMAIN_NAME} (its own, e.g. imported from an "
            "enterprise CA, or one shared by several names), which CloudFront serves the web UI with (a certificate "
            "in us-east-1), or with InternetFacing=false data.all's internal load balancer (in the installation's "
            "region; required then); empty: data.all requests one, validated by DNS in the zone. Plan checks it is "
            "ISSUED and covers the name",
        }
    if parameter == CUSTOM_DOMAIN_SENDER:
        return {
            "type": "string",
            "default": _custom_domain_sender(synthesis.setting(CUSTOM_DOMAIN_KEY) or {}),
            "pattern": CUSTOM_DOMAIN_SENDER_PATTERN,
            "label": "Custom domain's e-mail sender",
            "group": "data.all",
            "description": f"With {CUSTOM_DOMAIN_ENABLED}: data.all's {CUSTOM_DOMAIN_KEY}.{CUSTOM_DOMAIN_SENDER_KEY}, "
            f"the part before the @ of the address data.all's notification e-mails are sent from "
            f"(<id>@{CUSTOM_DOMAIN_NAME}; data.all's default {CUSTOM_DOMAIN_SENDER_DEFAULT})",
        }
    if parameter == VPC_RESTRICTED_NACL:
        return {
            "type": "boolean",
            "default": bool(synthesis.setting(VPC_RESTRICTED_NACL_KEY)),
            "label": "Restricted network ACL on the VPC's subnets",
            "group": "data.all",
            "description": f"data.all's {VPC_RESTRICTED_NACL_KEY}: its VPC's private and public subnets get a "
            f"network ACL of their own (<prefix>-<env>-{RESTRICTED_NACL_SUFFIX}: all egress; ingress tcp 443, 80 "
            "and 1024-65535, and all from the VPC's CIDR) in place of the VPC's default one",
        }
    if parameter in CUSTOM_AUTH_PATTERNS:
        label, what = CUSTOM_AUTH_DESCRIPTIONS[parameter]
        return {
            "type": "string",
            "default": custom_auth_values(synthesis.setting(CUSTOM_AUTH_KEY) or {})[parameter],
            "pattern": f"({CUSTOM_AUTH_PATTERNS[parameter]})?",
            "label": label,
            "group": "data.all",
            "description": f"With {CUSTOM_AUTH_ENABLED}: data.all's {CUSTOM_AUTH_KEY}.{_custom_auth_key(parameter)}, "
            f"{what}",
        }
    if parameter == VPC_ID:
        return {
            "type": "string",
            "default": str(synthesis.setting(VPC_ID_KEY) or ""),
            "pattern": f"({VPC_ID_PATTERN})?",
            "label": "Existing VPC (id)",
            "group": "data.all",
            "description": f"data.all's {VPC_ID_KEY}: a VPC of the account in the installation's region that "
            "data.all's endpoints, functions, ECS tasks, database and search domain go in (its private subnets: as "
            "many as data.all's own VPC has, each in a zone of its own; Plan checks), with no VPC, NAT gateway nor "
            f"flow log made; empty: data.all makes its own VPC. Not with {VPC_RESTRICTED_NACL} (data.all makes its "
            "NACL on its own VPC only)",
        }
    if parameter == VPC_ENDPOINTS_SG:
        return {
            "type": "string",
            "default": str(synthesis.setting(VPC_ENDPOINTS_SG_KEY) or ""),
            "pattern": f"({SECURITY_GROUP_ID_PATTERN})?",
            "label": "Existing VPC's endpoints' security group (id)",
            "group": "data.all",
            "description": f"data.all's {VPC_ENDPOINTS_SG_KEY}, with {VPC_ID} only: the security group of the "
            "operator's VPC's own endpoints (a group of that VPC; Plan checks), which data.all's functions and ECS "
            "tasks reach on tcp 443; data.all then makes no VPC endpoints nor their group. Empty: data.all makes its "
            "29 endpoints and their group in the VPC. Chosen at install",
        }
    if parameter in (API_DOMAIN_NAME, API_DOMAIN_ZONE, API_DOMAIN_CERTIFICATE):
        key, pattern, label, what = {
            API_DOMAIN_NAME: (
                "hosted_zone_name",
                CUSTOM_DOMAIN_NAME_PATTERN,
                "API's custom domain name",
                "the name of a public Route 53 hosted zone of the account (e.g. api.dataall.example.com), which "
                "data.all's API is served at, edge-optimized (its execute-api endpoint then disabled); empty: the "
                "execute-api endpoint. With it, ApiCustomDomainHostedZoneId and ApiCustomDomainCertificateArn",
            ),
            API_DOMAIN_ZONE: (
                "hosted_zone_id",
                CUSTOM_DOMAIN_ZONE_PATTERN,
                "API's custom domain's hosted zone id",
                f"the id of {API_DOMAIN_NAME}'s hosted zone (e.g. Z0123456789ABCDEFGHIJ), which gets the name's alias "
                "record; Plan checks the zone is public and has that name",
            ),
            API_DOMAIN_CERTIFICATE: (
                "certificate_arn",
                EDGE_CERTIFICATE_PATTERN,
                "API's custom domain's certificate ARN",
                f"the ARN of an ACM certificate of the account in us-east-1 covering {API_DOMAIN_NAME}, which API "
                "Gateway serves the edge-optimized name with; Plan checks it is ISSUED and covers the name",
            ),
        }[parameter]
        return {
            "type": "string",
            "default": str((synthesis.setting(API_CUSTOM_DOMAIN_KEY) or {}).get(key) or ""),
            "pattern": f"({pattern})?",
            "label": label,
            "group": "data.all",
            "description": f"data.all's {API_CUSTOM_DOMAIN_KEY}.{key}: {what}",
        }
    if parameter == API_VPC_ENDPOINT:
        return {
            "type": "string",
            "default": str(synthesis.setting(API_VPC_ENDPOINT_KEY) or ""),
            "pattern": f"({VPC_ENDPOINT_ID_PATTERN})?",
            "label": "API's VPC endpoint (id)",
            "group": "data.all",
            "description": f"With InternetFacing=false only: data.all's {API_VPC_ENDPOINT_KEY}, an execute-api "
            "interface endpoint of the account in the installation's region (in VpcId's VPC when given; Plan checks) "
            "that data.all's private API is reached through, its resource policy refusing any other; data.all then "
            "makes no endpoint nor its security group. Empty: data.all makes one in its VPC. Chosen at install",
        }
    if parameter == LOAD_BALANCER_IP_RANGES:
        return {
            "type": "string",
            "default": ",".join(synthesis.setting(IP_RANGES_KEY) or []),
            "pattern": LOAD_BALANCER_IP_RANGES_PATTERN,
            "label": "Load balancer's allowed IP ranges",
            "group": "data.all",
            "description": f"With InternetFacing=false only: data.all's {IP_RANGES_KEY}, IPv4 CIDR ranges "
            f"(a.b.c.d/1-32), comma-separated, at most {LOAD_BALANCER_IP_RANGES_SLOTS}, each given once, that reach "
            "data.all's internal load balancer and its web UI service on tcp 443 besides the VPC's CIDR (e.g. the "
            "corporate network's, over a VPN or Direct Connect); default none",
        }
    raise KeyError(parameter)


def _custom_auth_key(parameter: str) -> str:
    return next(key for key, name in CUSTOM_AUTH_PARAMETERS.items() if name == parameter)


#: The parameters the value rules make, each filled by the release's option of the same name.
VALUE_PARAMETERS = (
    SESSION_TIMEOUT, LOG_RETENTION, API_RATE_LIMIT, API_BURST_LIMIT,
    REAUTH_TTL, REAUTH_APIS, ALLOWED_ORIGINS, SHARED_DASHBOARDS, PIVOT_ROLE_AUTO_CREATE,
    WAF_IP_RANGES, WAF_COUNTRIES, WAF_RATE_LIMIT, WAF_RATE_LIMIT_WINDOW,
    CUSTOM_DOMAIN_NAME, CUSTOM_DOMAIN_ZONE, CUSTOM_DOMAIN_CERTIFICATE, CUSTOM_DOMAIN_SENDER, VPC_RESTRICTED_NACL,
    *CUSTOM_AUTH_PARAMETERS.values(),
    VPC_ID, VPC_ENDPOINTS_SG, API_DOMAIN_NAME, API_DOMAIN_ZONE, API_DOMAIN_CERTIFICATE, API_VPC_ENDPOINT,
    LOAD_BALANCER_IP_RANGES,
)  # fmt: skip


def value_parameters(template: Mapping[str, Any]) -> list[str]:
    """The value rules' parameters `template` declares (after the rules)."""
    return [name for name in VALUE_PARAMETERS if name in (template.get("Parameters") or {})]


#: The parameter that takes the id of the AWS-managed prefix list of S3 in the stack's region
#: (`com.amazonaws.<region>.s3`), which Plan looks up at deploy time (`lambdas.run.region_values`).
S3_PREFIX_LIST = "S3PrefixListId"
#: A prefix list's id (https://docs.aws.amazon.com/vpc/latest/APIReference/API_PrefixList.html).
PREFIX_LIST_ID = "pl-[0-9a-f]{8}([0-9a-f]{9})?"
#: data.all's ECS task security groups (`deploy/stacks/container.py`, `create_ecs_security_groups`:
#: `ScheduledTasksSG<env>` and `ShareManagerSG<env>`, `allow_all_outbound=False`), by the construct
#: path CDK writes in their `Metadata`: the nested stack's path, the group's construct id.
ECS_TASK_GROUP_PATH = re.compile(
    r"(?P<stack>.+/ECS)/(?P<group>(?P<kind>ScheduledTasksSG|ShareManagerSG)[A-Za-z0-9]*)/Resource"
)
#: data.all's description of the rule (`create_ecs_security_groups`).
S3_EGRESS_DESCRIPTION = "Allow ECS Task to S3 Prefix List"
#: The peer of a rule whose prefix list is a token, as CDK names it in the rule's construct id
#: (`SecurityGroupBase.renderPeer`: the first unresolved peer of a group is `{IndirectPeer}`).
_INDIRECT_PEER = "{IndirectPeer}"


class RuleError(ValueError):
    """An upstream template a rule cannot apply to as it expects: the import stops, naming what."""


def s3_egress_of_the_installations_region(template: dict[str, Any], _synthesis: Synthesis) -> None:
    """data.all's ECS task security groups get the egress rule its online synthesis gives them:
    tcp/443 to S3's prefix list (`ec2.Peer.prefix_list(get_s3_prefix_list())`). Its offline
    synthesis leaves the rule out (`ec2:DescribePrefixLists` fails, the id is `''`); a prefix
    list's id is each region's own. So each group gets the `AWS::EC2::SecurityGroupEgress` CDK
    synthesizes for a prefix list given as a token (the `S3PrefixListId` parameter, which Plan
    fills in the stage's region), under the logical id and construct path CDK gives it; a rule
    an online synthesis made takes the parameter in place of its literal id. In the template
    holding data.all's ECS cluster, both groups must be found, or the import stops."""
    resources = template.get("Resources", {})
    if not any(r.get("Type") == "AWS::ECS::Cluster" for r in resources.values()):
        return
    groups = {}
    for logical_id, resource in resources.items():
        path = (resource.get("Metadata") or {}).get("aws:cdk:path", "")
        found = ECS_TASK_GROUP_PATH.fullmatch(path) if isinstance(path, str) else None
        if found and resource.get("Type") == "AWS::EC2::SecurityGroup":
            if logical_id != cdk_logical_id([found["group"], "Resource"]):
                raise RuleError(f"security group {logical_id} ({path}) is not where CDK puts data.all's group")
            groups[logical_id] = found
    kinds = sorted(found["kind"] for found in groups.values())
    if kinds != ["ScheduledTasksSG", "ShareManagerSG"]:
        raise RuleError(
            "data.all's ECS stack has not the two task security groups (ScheduledTasksSG<env>, "
            f"ShareManagerSG<env>) the S3 egress rule is for; found: {sorted(groups) or 'none'}"
        )
    for logical_id, found in groups.items():
        group_id = {"Fn::GetAtt": [logical_id, "GroupId"]}
        rule: dict[str, Any] = {
            "Type": "AWS::EC2::SecurityGroupEgress",
            "Properties": {
                "Description": S3_EGRESS_DESCRIPTION,
                "DestinationPrefixListId": {"Ref": S3_PREFIX_LIST},
                "FromPort": 443,
                "GroupId": group_id,
                "IpProtocol": "tcp",
                "ToPort": 443,
            },
        }
        existing = [
            body
            for body in resources.values()
            if body.get("Type") == "AWS::EC2::SecurityGroupEgress"
            and (body.get("Properties") or {}).get("GroupId") == group_id
            and isinstance((body.get("Properties") or {}).get("DestinationPrefixListId"), str)
        ]
        for body in existing:  # an online synthesis: its region's id becomes the installation's
            body["Properties"]["DestinationPrefixListId"] = {"Ref": S3_PREFIX_LIST}
        if not existing:
            construct = [found["group"], f"to {_INDIRECT_PEER}:443"]
            rule["Metadata"] = {"aws:cdk:path": "/".join([found["stack"], *construct])}
            resources[cdk_logical_id(construct)] = rule
    template.setdefault("Parameters", {})[S3_PREFIX_LIST] = {
        "Type": "String",
        "AllowedPattern": PREFIX_LIST_ID,
        "Description": "The id of S3's AWS-managed prefix list (com.amazonaws.<region>.s3) in the stack's "
        "region (set by the installer)",
    }


#: The context parameters the installer gives every stage with the installation's names: the bootstrap stack's
#: `ResourcePrefix` and `EnvName` (`lambdas.release.manifest.CONTEXT_PARAMETERS`), data.all's `resource_prefix` and
#: `envname`.
RESOURCE_PREFIX = "ResourcePrefix"
ENV_NAME = "EnvName"
#: ... and the prefix's first 6 characters (data.all's canary: `{resource_prefix[:6]}-{envname}-canary`,
#: `cw_canaries.py`; CloudFormation has no substring function).
RESOURCE_PREFIX_FIRST_6 = "ResourcePrefixFirst6"
#: The condition the names rule gives a template whose IAM policies name data.all's prefix beside a wildcard.
PREFIX_AS_SYNTHESIZED = "DataallResourcePrefixAsSynthesized"
#: The root of data.all's SSM parameters, `/dataall/<envname>/…`: a literal in its source, not its `resource_prefix`.
SSM_ROOT = "dataall"
_PREFIX, _ENV = "${" + RESOURCE_PREFIX + "}", "${" + ENV_NAME + "}"
_NAME_PARAMETERS = {
    RESOURCE_PREFIX: "The installation's resource prefix, data.all's resource_prefix (set by the installer)",
    ENV_NAME: "The installation's environment name, data.all's envname (set by the installer)",
    RESOURCE_PREFIX_FIRST_6: "The first 6 characters of the installation's resource prefix (set by the installer)",
}


def _name_rewrites(synthesis: Synthesis) -> list[tuple[re.Pattern[str], str]]:
    """The forms data.all's source gives `resource_prefix` and `envname` in its templates' strings (its
    `deploy/stacks`), most specific first: each pattern over the synthesis' values and its replacement."""
    p, e = re.escape(synthesis.resource_prefix), re.escape(synthesis.envname)
    word_end = "(?![A-Za-z0-9])"
    return [
        # log groups `/{resource_prefix}/{envname}/ecs/…` (`container.py`), `{resource_prefix}/{envname}/flowlogs`
        # (`vpc.py`), by ARN
        (re.compile(rf"(log-group:/?){p}/{e}/"), rf"\g<1>{_PREFIX}/{_ENV}/"),
        # SSM parameters `/dataall/{envname}/…` (`param_store_stack.py` and every reader): `dataall` a literal
        (re.compile(rf"/{SSM_ROOT}/{e}/"), f"/{SSM_ROOT}/{_ENV}/"),
        # the names of nearly everything: `{resource_prefix}-{envname}-…`
        (re.compile(rf"{p}-{e}{word_end}"), f"{_PREFIX}-{_ENV}"),
        # the RUM app monitor's placeholder domain `{resource_prefix}.{envname}.change.me` (`cw_rum.py`), which the
        # site step makes the web UI's
        (re.compile(rf"^{p}\.{e}\.change\.me$"), f"{_PREFIX}.{_ENV}.change.me"),
        # the canary `{resource_prefix[:6]}-{envname}-canary` (`cw_canaries.py`)
        (
            re.compile(rf"(?<![A-Za-z0-9-]){re.escape(synthesis.resource_prefix[:6])}-{e}-canary"),
            "${" + RESOURCE_PREFIX_FIRST_6 + "}-" + _ENV + "-canary",
        ),
        # `dataall-rds-enhanced-monitoring-role-{envname}` (`aurora.py`), `frontend-{envname}` (`albfront_stack.py`)
        (re.compile(rf"(rds-enhanced-monitoring-role-|(?<![A-Za-z0-9-])frontend-){e}{word_end}"), rf"\g<1>{_ENV}"),
        # the database `{envname}db` (`aurora.py`) and its subnet group's description
        (re.compile(rf"^{e}db{word_end}"), f"{_ENV}db"),
        # descriptions: SSM's `… for environment {envname}` (`param_store_stack.py`), WAF's IP sets' `… for Dataall
        # {envname}…` (`lambda_api.py`, `cognito.py`, `cloudfront.py`)
        (re.compile(rf"(for environment |for Dataall ){e}{word_end}"), rf"\g<1>{_ENV}"),
        # export names, inline policy and metric names `CognitoUserPoolId{envname}`, `WAFCognitoRateLimit{envname}`
        (re.compile(rf"^([A-Z][A-Za-z]*[a-z]){e}$"), rf"\g<1>{_ENV}"),
        # the values themselves: the functions' and tasks' `envname`, the `resourcePrefix` parameter, metric namespaces
        (re.compile(rf"^{e}$"), _ENV),
        (re.compile(rf"^{p}$"), _PREFIX),
        # the KMS aliases `alias/{resource_prefix}-lambda-env-var-key` (`lambda_api.py`, `trigger_function_stack.py`)
        (re.compile(rf"^alias/{p}-"), f"alias/{_PREFIX}-"),
    ]


def _cognito_domain(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's Cognito domain prefix, `{resource_prefix without -}{envname}{region without -}{account}`
    (`cognito.py`), as CloudFormation computes it from the installation's names, region and account."""
    made = (
        synthesis.resource_prefix.replace("-", "")
        + synthesis.envname
        + synthesis.region.replace("-", "")
        + synthesis.account
    )
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Cognito::UserPoolDomain" and properties.get("Domain") == made:
            properties["Domain"] = {
                "Fn::Join": [
                    "",
                    [
                        {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": RESOURCE_PREFIX}]}]},
                        {"Ref": ENV_NAME},
                        {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]},
                        {"Ref": "AWS::AccountId"},
                    ],
                ]
            }


def _log_groups(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's log groups `/{resource_prefix}/{envname}/…` (`container.py`, `opensearch.py`) and
    `{resource_prefix}/{envname}/…` (`vpc.py`, `lambda_api.py`): alike in the default synthesis to its SSM
    parameters' `/dataall/{envname}/…`, told apart by what they name."""
    made = re.compile(rf"^(/?){re.escape(synthesis.resource_prefix)}/{re.escape(synthesis.envname)}/")
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        name = properties.get("LogGroupName")
        if resource.get("Type") == "AWS::Logs::LogGroup" and isinstance(name, str) and made.match(name):
            properties["LogGroupName"] = {"Fn::Sub": made.sub(rf"\g<1>{_PREFIX}/{_ENV}/", name.replace("${", "${!"))}


def _prefix_wildcards(template: dict[str, Any], synthesis: Synthesis) -> bool:
    """IAM resources naming data.all's prefix beside a wildcard (`parameter/*dataall*`, `cluster:dataall*`):
    data.all writes some with its `resource_prefix` and some with the literal `dataall`, which its default
    synthesis cannot tell apart (CDK merges the two alike). Each keeps what it is and, when the installation's
    prefix is another, gains that prefix's: a grant of data.all's, never one less. True when one was found."""
    p = re.escape(synthesis.resource_prefix)
    wildcard = re.compile(rf"\*{p}|{p}\*")
    found = False

    def widened(resource: Any) -> list[Any]:
        nonlocal found
        if not isinstance(resource, str) or not wildcard.search(resource):
            return [resource]
        found = True
        other = wildcard.sub(lambda m: m.group(0).replace(synthesis.resource_prefix, _PREFIX), resource)
        return [resource, {"Fn::If": [PREFIX_AS_SYNTHESIZED, {"Ref": "AWS::NoValue"}, {"Fn::Sub": other}]}]

    for resource in template.get("Resources", {}).values():
        for statement in _policy_statements(resource.get("Properties")):
            value = statement.get("Resource")
            if isinstance(value, (str, list)):
                items = value if isinstance(value, list) else [value]
                wider = [w for item in items for w in widened(item)]
                if len(wider) != len(items):
                    statement["Resource"] = wider
    return found


def _policy_statements(node: Any) -> Iterator[dict[str, Any]]:
    """The statements of every IAM policy document under `node` (a dict holding a `Statement` list)."""
    if isinstance(node, list):
        for item in node:
            yield from _policy_statements(item)
    elif isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, list):
            yield from (statement for statement in statements if isinstance(statement, dict))
        for key, value in node.items():
            if key not in ("Metadata", "Statement"):
                yield from _policy_statements(value)


def _leftover_envname(synthesis: Synthesis) -> re.Pattern[str]:
    """envname as a word of its own (not `UserPooldev…`, a construct's id): what the names rule leaves behind it."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(synthesis.envname)}(?![A-Za-z0-9])")


def names_of_the_installation(template: dict[str, Any], synthesis: Synthesis) -> None:
    """data.all's names are the installation's: what its source builds from `resource_prefix` and `envname`
    (`{resource_prefix}-{envname}-…` names, `/dataall/{envname}/…` SSM parameters, `/{resource_prefix}/{envname}/…`
    log groups, the `{envname}db` database, `…{envname}` exports, the functions' `envname`, the Cognito domain
    prefix: `_name_rewrites`, `_cognito_domain`) takes the `ResourcePrefix` and `EnvName` parameters the installer
    gives every stage (its bootstrap stack's), in strings (`Fn::Sub`) and the exports they import; IAM wildcards
    over the prefix keep the synthesized one and gain the installation's (`_prefix_wildcards`). Construct ids
    (logical ids, CDK's generated names) keep the synthesis' values. A string still holding the synthesis'
    envname as a word afterwards stops the import, naming it."""
    _cognito_domain(template, synthesis)
    _log_groups(template, synthesis)
    if _prefix_wildcards(template, synthesis):
        template.setdefault("Conditions", {})[PREFIX_AS_SYNTHESIZED] = {
            "Fn::Equals": [{"Ref": RESOURCE_PREFIX}, synthesis.resource_prefix]
        }
    rewrites = _name_rewrites(synthesis)

    def rewrite(text: str) -> str:
        for pattern, replacement in rewrites:
            text = pattern.sub(replacement, text)
        return text

    _rewrite_strings(template, rewrite, imports=True)
    leftover = _leftover_envname(synthesis)
    for section in ("Resources", "Outputs"):
        for key, body in template.get(section, {}).items():
            for text in _strings({k: v for k, v in body.items() if k in ("Properties", "Value", "Export")}):
                if leftover.search(text):
                    raise RuleError(
                        f"{section[:-1].lower()} {key}: {text[:120]!r} holds data.all's envname "
                        f"{synthesis.envname!r} in a form the names rule does not know"
                    )
    text = json.dumps(template)
    for parameter, description in _NAME_PARAMETERS.items():
        if "${" + parameter + "}" in text or json.dumps({"Ref": parameter}) in text:
            template.setdefault("Parameters", {})[parameter] = {"Type": "String", "Description": description}


def _strings(node: Any) -> Iterator[str]:
    """The string values under `node` but names: `Ref`, `Fn::GetAtt`, `Condition`, `DependsOn`, mapping names."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in ("Ref", "Fn::GetAtt", "Condition", "DependsOn", "Fn::FindInMap", "Metadata"):
                yield from _strings(value)


#: The service-linked roles data.all's templates make (`AWS::IAM::ServiceLinkedRole`, by service): the context
#: parameter that says whether the stage makes it, and the role's name, which IAM gives it in the account
#: (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/slr.html), under the path
#: `/aws-service-role/<service>/`, by which Plan looks for it.
SERVICE_LINKED_ROLES: Mapping[str, tuple[str, str]] = {
    "opensearchservice.amazonaws.com": ("OpenSearchServiceLinkedRoleMade", "AWSServiceRoleForAmazonOpenSearchService"),
}


def service_linked_role_condition(parameter: str) -> str:
    return f"Dataall{parameter}"


def service_linked_roles_when_missing(template: dict[str, Any], _synthesis: Synthesis) -> None:
    """A service-linked role is the account's, one per service: data.all's OpenSearch stack makes the OpenSearch
    one unconditionally (`opensearch.py`), so in an account that has it already (any OpenSearch domain made it,
    or another data.all) the stage fails at create ("has been taken in this account"). Each gets the condition
    that its context parameter (`SERVICE_LINKED_ROLES`) is `true`, which Plan fills: true when the stage made it
    (its stack holds it) or the account has none, false when the account has it from elsewhere. A service the
    table does not know stops the import, naming it."""
    for key, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::IAM::ServiceLinkedRole":
            continue
        service = str((resource.get("Properties") or {}).get("AWSServiceName"))
        if service not in SERVICE_LINKED_ROLES:
            raise RuleError(f"resource {key}: a service-linked role of {service!r}, which no rule knows")
        if "Condition" in resource:
            raise RuleError(f"resource {key}: a service-linked role with a condition of its own")
        parameter, role = SERVICE_LINKED_ROLES[service]
        resource["Condition"] = service_linked_role_condition(parameter)
        template.setdefault("Conditions", {})[resource["Condition"]] = {"Fn::Equals": [{"Ref": parameter}, "true"]}
        template.setdefault("Parameters", {})[parameter] = {
            "Type": "String",
            "AllowedValues": ["true", "false"],
            "Description": f"Whether the stage makes the account's {role} (set by the installer: false when the "
            "account has it from elsewhere)",
        }


def cdk_logical_id(components: list[str]) -> str:
    """The logical id CDK gives a construct at `components` (its path within its stack):
    `makeUniqueId` of aws-cdk-lib's `private/uniqueid.ts`."""
    components = [c for c in components if c != "Default"]
    if len(components) == 1:
        return re.sub("[^A-Za-z0-9]", "", components[0])
    human = "".join(re.sub("[^A-Za-z0-9]", "", c) for c in components if c != "Resource")
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    return human[:240] + digest[:8].upper()


#: In order. `assets_from_the_release` runs before the region rules: the asset bucket's name
#: holds the account and region too.
RULES: tuple[Rule, ...] = (
    no_bootstrap_check,
    external_id_from_the_installation,
    layers_of_the_installations_region,
    session_timeout_from_the_option,
    log_retention_from_the_option,
    throttling_from_the_options,
    reauth_from_the_options,
    allowed_origins_from_the_option,
    shared_dashboards_from_the_option,
    pivot_role_auto_create_from_the_option,
    waf_allowed_ranges_from_the_options,
    waf_rate_limit_from_the_options,
    custom_domain_from_the_options,
    custom_domain_certificate_from_the_option,
    custom_auth_from_the_options,
    restricted_nacl_from_the_option,
    existing_vpc_from_the_option,
    vpc_endpoints_sg_from_the_option,
    api_custom_domain_from_the_options,
    api_vpc_endpoint_from_the_option,
    load_balancer_ip_ranges_from_the_option,
    s3_egress_of_the_installations_region,
    service_linked_roles_when_missing,
    names_of_the_installation,
    assets_from_the_release,
    home_region_from_the_installer,
    account_and_region_neutral,
)


def apply(template: Mapping[str, Any], synthesis: Synthesis, rules: tuple[Rule, ...] = RULES) -> dict[str, Any]:
    """A copy of `template` with every rule applied."""
    result = copy.deepcopy(dict(template))
    for rule in rules:
        rule(result, synthesis)
    return result


def _rewrite_strings(template: dict[str, Any], rewrite: Callable[[str], str], *, imports: bool = False) -> None:
    """Apply `rewrite` to every string value of the template's resources and outputs.

    `rewrite` may put `${AWS::Region}`-style variables into a string: a plain string that gains
    one becomes an `Fn::Sub` (with its own `${` escaped as `${!`), a string that is already an
    `Fn::Sub` template takes them as they are. Resource `Metadata`, and `Ref`, `Fn::GetAtt`,
    `Condition` (names, not values), are left alone; so are the export names `Fn::ImportValue` takes, but
    with `imports` (a rule that renames exports renames what imports them).
    """
    for section in ("Resources", "Outputs"):
        for body in template.get(section, {}).values():
            for key in list(body):
                if key in ("Properties", "Value", "Export"):
                    body[key] = _walk(body[key], rewrite, in_sub=False, imports=imports)


def _walk(node: Any, rewrite: Callable[[str], str], *, in_sub: bool, imports: bool = False) -> Any:
    if isinstance(node, str):
        return _string(node, rewrite, in_sub=in_sub)
    if isinstance(node, list):
        return [_walk(item, rewrite, in_sub=False, imports=imports) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key in ("Ref", "Fn::GetAtt", "Condition") or (key == "Fn::ImportValue" and not imports):
            return node
        if key == "Fn::Sub" and isinstance(value, str):
            return {key: _string(value, rewrite, in_sub=True)}
        if key == "Fn::Sub" and isinstance(value, list) and value:
            first, *rest = value
            return {
                key: [
                    _string(first, rewrite, in_sub=True),
                    *[_walk(v, rewrite, in_sub=False, imports=imports) for v in rest],
                ]
            }
    return {k: _walk(v, rewrite, in_sub=False, imports=imports) for k, v in node.items()}


def _string(text: str, rewrite: Callable[[str], str], *, in_sub: bool) -> Any:
    if in_sub:
        return rewrite(text)
    escaped = text.replace("${", "${!")
    result = rewrite(escaped)
    if result == escaped:
        return text
    whole = _ONE_VARIABLE.fullmatch(result)
    if whole:
        return {"Ref": whole.group(1)}
    return {"Fn::Sub": result} if "${" in result.replace("${!", "") else result
