"""The data.all release: data.all's own stacks, imported from its cloud assembly, as stages.

`dataall-installer build --upstream PATH` (see `installer.upstream` for where PATH may point).
Of data.all's assembly:
- the backend stage's stack: each nested stack is a stage, its root's own resources one more
  (`blueprints.dataall.stages`), with the import's rules applied (`blueprints.dataall.rules`);
- data.all's migration triggers (DbSnapshots -> DbMigrations -> SavePerms) give way to the
  installer's `migrate` action (`blueprints.dataall.migrations`): DbMigrations stays as the
  `migrations` stage, holding data.all's migration function without its trigger, which runs the
  release's migration package (`installer.dataall_migrations`, built from data.all's source);
  DbSnapshots and SavePerms are dropped (the action snapshots and saves the permissions). A
  release built without (`migrate=False`, `DATAALL_INSTALLER_MIGRATE=0`; see MIGRATE_ENV) drops
  all three and never migrates its database;
- the CDK Pipelines stacks (cicd, its us-east-1 support stack) and the ECR stack are dropped:
  no build servers;
- the CloudFront stage's stack (us-east-1) is split the same way: each nested stack a stage
  in us-east-1 (the manifest's `region`), the backend's region it names the installer's
  `HomeRegion` parameter (`rules.home_region_from_the_installer`); a stage that names it reaches
  back into the backend (data.all's Cognito URL trigger reads the user pool's ids from SSM in
  the backend's region), so it comes after every backend stage, as data.all's pipeline deploys
  the CloudFront stage after the backend stage;
- data.all's options (README: "Options"): a context key whose value lands as a literal is a
  template parameter made by a rule (`rules.session_timeout_from_the_option`, ...), filled by the
  release's option of that name; a key that changes the templates' shape (`VARIANT_OPTIONS`:
  `prod_sizing`) is a variant, data.all's source synthesized with it at build time, kept for the
  stages whose template differs and chosen by Plan (`Manifest.chosen`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blueprints.assets import CDK_CONTEXT, LAMBDAS_DIR, AssetRegistry, build_layer, layer_requirements, zip_tree
from blueprints.dataall import migrations, rules
from blueprints.dataall.site import (
    FRONTEND_IMAGE,
    SiteImportError,
    frontend_image_of_the_installation,
    runs_frontend_image,
    site_action,
    with_custom_auth,
    with_custom_domain,
    with_rum_monitor,
)
from blueprints.dataall.stages import ImportedStage, split_stack
from cloud_assembly.reader import CloudAssembly, FileAsset, StackArtifact
from installer import dataall_migrations, frontend, grants
from installer.build import BuildError, Release, synthesize, write_release
from installer.images import IMAGE_REGISTRY_ENV, IMAGES_ACTION, images_action, images_in_templates, pinned_images
from installer.upstream import SYNTH_ENVIRONMENT, Upstream, UpstreamError
from installer.upstream import synthesize as upstream_synthesize
from lambdas.release.manifest import evaluate

if TYPE_CHECKING:
    from bootstrap_stack import DatabaseNames, ImageGrants, StageGrants

NAME = "dataall"
ROOT_STAGE = "backend"
#: data.all's construct names -> the stage names an operator reads in `status`.
NAMING = {
    "SqsStack": "sqs",
    "S3Resources": "s3",
    "CWDashboards": "dashboards",
    "OpenSearch": "opensearch",
    "ParamStore": "params",
    migrations.MIGRATIONS_NESTED: migrations.MIGRATIONS_STAGE,
    "CloudFront": "cloudfront",
    # under the options that add them (EnableCloudWatchRum, EnableCloudWatchCanaries)
    "CWRumStack": "rum",
    "CWCanariesStack": "canaries",
    "Secrets": "secrets",
    # in place of OpenSearch (EnableOpenSearchServerless)
    "OpenSearchServerless": "opensearch-serverless",
}
#: Nested stacks the installer replaces.
DROPPED_NESTED = {
    "DbSnapshots": "replaced by the installer's migrate action (a cluster snapshot before migrating)",
    "SavePerms": "replaced by the installer's migrate action (data.all's post-migration step)",
}
NO_MIGRATE = (
    "replaced by the installer's migrate action, which this release was built without "
    "(DATAALL_INSTALLER_MIGRATE=0, or migrate=False): its database is never migrated"
)
#: Set to 0 to build data.all's release without its migrate action (it needs data.all's source
#: beside the assembly; the database is then never migrated).
MIGRATE_ENV = "DATAALL_INSTALLER_MIGRATE"
#: Stacks of the assembly that are not the platform, by the end of their stack name.
DROPPED_STACKS = {
    "-cicd-stack": "data.all's CDK Pipelines stack: the installer deploys without build servers",
    "-support-us-east-1": "the cicd stack's cross-region support stack",
    "-ecr-stack": "the ECR repository of data.all's pipeline: the release names its images instead",
}
#: data.all's stacks beside the backend, by the end of their stack name -> the name of their
#: root's own stage (if any resources besides CDK's metadata remain in it): its CloudFront stage
#: (us-east-1), or with `internet_facing=false` its albfront stage (the web UI behind an internal load
#: balancer, in the backend's region; deploy/stacks/pipeline.py makes one or the other).
OTHER_STACKS = {"-cloudfront-stack": "frontend", "-albfront-stack": "albfront"}
#: Stage names of those stacks' nested stacks where `NAMING`'s would clash: the albfront stack's
#: `FrontendCognitoConfig` runs in the backend's region, the CloudFront stack's of that name in us-east-1
#: (a stage keeps one region in every combination of the options).
OTHER_NAMING = {"-albfront-stack": {"FrontendCognitoConfig": "albfront-cognito-config"}}
#: 1 or 0: data.all's web UI built into the release or not (`installer.frontend`: data.all's frontend
#: build, minutes the first time, then cached by its source's digest). Unset, the operator's
#: commands build it (`site_wanted(default=True)`) and a build in code does not (the tests' releases).
SITE_ENV = "DATAALL_INSTALLER_SITE"
#: CloudFormation's creation timeout of a stage, in seconds (a database or a search domain takes long).
TIMEOUTS = {"aurora": 3600, "opensearch": 3600, "opensearch-serverless": 3600}
DEFAULT_TIMEOUT = 1800
ASSET_PREFIX = "assets/"


@dataclass
class ImportReport:
    stages: list[ImportedStage]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    assets: dict[str, bytes] = field(default_factory=dict)
    #: every upstream asset packaged: upstream object key -> (release key, bytes)
    packaged: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def backend_stack(assembly: CloudAssembly) -> StackArtifact:
    found = [s for s in assembly.stacks() if s.stack_name.endswith("-backend-stack")]
    if len(found) != 1:
        names = ", ".join(sorted(s.stack_name for s in assembly.stacks()))
        raise BuildError(f"{assembly.directory}: expected one data.all backend stack (*-backend-stack), found: {names}")
    return found[0]


def package_assets(assets: Iterable[FileAsset]) -> dict[str, tuple[str, bytes]]:
    """upstream object key -> (release key, bytes): directories zipped deterministically,
    files as they are; the release key is the content's sha256."""
    packaged: dict[str, tuple[str, bytes]] = {}
    for asset in assets:
        if asset.key in packaged or asset.source.suffix == ".json":  # nested templates are stages
            continue
        if asset.packaging == "zip" and asset.source.is_dir():
            data, suffix = zip_tree([(asset.source, "")]), ".zip"
        elif asset.source.is_file():
            data, suffix = asset.source.read_bytes(), "".join(asset.source.suffixes[-1:]) or ""
        else:
            raise BuildError(f"asset {asset.id} of the upstream is missing: {asset.source}")
        packaged[asset.key] = (f"{ASSET_PREFIX}{hashlib.sha256(data).hexdigest()}{suffix}", data)
    return packaged


def import_stages(
    assembly: CloudAssembly,
    package: migrations.MigrationPackage | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    reuse: Mapping[str, tuple[str, bytes]] | None = None,
) -> ImportReport:
    """data.all's platform as stages, with the assets they read, and what was left out.

    With `package` (the release's migration package), data.all's DbMigrations stack is the
    `migrations` stage running it; without, it is dropped with the other triggers. `settings`: the
    value keys the synthesis set (`rules.DATAALL_DEFAULTS` otherwise). `reuse`: assets packaged
    already (another synthesis of the same source), kept under their release keys: CDK names an
    asset by its source's hash, while pip's bundling writes bytes that differ on every synthesis."""
    dropped = [
        (stack.stack_name, why)
        for stack in assembly.stacks()
        for suffix, why in DROPPED_STACKS.items()
        if stack.stack_name.endswith(suffix)
    ]
    backend = backend_stack(assembly)
    others = [
        (stack, root)
        for stack in assembly.stacks()
        for suffix, root in OTHER_STACKS.items()
        if stack.stack_name.endswith(suffix)
    ]
    reused = dict(reuse or {})
    assets = [a for stack in [backend, *(o for o, _ in others)] for a in stack.assets]
    packaged = {
        **package_assets([a for a in assets if a.key not in reused]),
        **{a.key: reused[a.key] for a in assets if a.key in reused},
    }
    synthesis = _synthesis(backend, packaged, settings=settings)
    drop = dict(DROPPED_NESTED)
    transforms = {}
    if package is None:
        drop[migrations.MIGRATIONS_NESTED] = NO_MIGRATE
    else:
        transforms[migrations.MIGRATIONS_NESTED] = lambda template: migrations.migration_function_from_the_release(
            template, package
        )
    imported = split_stack(
        backend, root_name=ROOT_STAGE, drop=drop, naming=NAMING, synthesis=synthesis, transforms=transforms
    )
    stages = [replace(stage, region=None) for stage in imported.stages]  # the installation's own region
    backend_stages = tuple(stage.name for stage in imported.stages)
    for stack, root in others:
        suffix = next(s for s in OTHER_STACKS if stack.stack_name.endswith(s))
        elsewhere = split_stack(
            stack,
            root_name=root,
            naming={**NAMING, **OTHER_NAMING.get(suffix, {})},
            synthesis=_synthesis(stack, packaged, home=backend, settings=settings),
        )
        stages += [_reaching_home(stage, backend_stages, backend.region) for stage in elsewhere.stages]
        dropped += elsewhere.dropped
    _check_imports(stages)
    used = {a.key for stage in stages for a in stage.assets}
    return ImportReport(
        stages=stages,
        dropped=dropped + imported.dropped,
        assets={key: data for upstream, (key, data) in packaged.items() if upstream in used},
        packaged=packaged,
    )


def _platform_stacks(assembly: CloudAssembly) -> list[StackArtifact]:
    """The stacks whose stages the release holds: the backend and its companions (CloudFront)."""
    others = [s for s in assembly.stacks() if any(s.stack_name.endswith(suffix) for suffix in OTHER_STACKS)]
    return [backend_stack(assembly), *others]


def _synthesis(
    stack: StackArtifact,
    packaged: dict[str, tuple[str, bytes]],
    home: StackArtifact | None = None,
    settings: Mapping[str, Any] | None = None,
) -> rules.Synthesis:
    """What `stack`'s synthesis baked in; `home`: the backend, when `stack` is of another region."""
    return rules.Synthesis(
        account=stack.account,
        region=stack.region,
        asset_buckets=frozenset(asset.bucket for asset in stack.assets),
        asset_keys={upstream: key for upstream, (key, _) in packaged.items()},
        home_region=home.region if home is not None and home.region != stack.region else "",
        settings=dict(settings or {}),
        envname=str((settings or {}).get("envname", SYNTH_ENVIRONMENT["envname"])),
        resource_prefix=str((settings or {}).get("resource_prefix", rules.Synthesis.resource_prefix)),
    )


def _reaching_home(stage: ImportedStage, backend_stages: tuple[str, ...], home: str) -> ImportedStage:
    """A stage of another stack than the backend: in that stack's region (none: the backend's own);
    after every backend stage when it names the backend's region (it reads what they made), or is in
    it: data.all's pipeline deploys its albfront stage after its backend stage, and what the albfront
    stack reads of it is not all in references (its service joins the ECS cluster by name)."""
    region = stage.region if stage.region != home else None
    if rules.HOME_REGION not in stage.template.get("Parameters", {}) and region is not None:
        return replace(stage, region=region)
    return replace(stage, region=region, depends_on=tuple(sorted({*stage.depends_on, *backend_stages})))


def _check_imports(stages: Sequence[ImportedStage]) -> None:
    """Every `Fn::ImportValue` of a stage names an export of a stage it depends on, in its region:
    CloudFormation resolves an import when the stack is deployed, so the exporting stage must be there
    first (data.all's dashboards import the API's web ACL; its albfront stack the VPC's and the
    access-logs bucket's)."""
    exports = {
        (stage.region, _export_key(output["Export"]["Name"])): stage.name
        for stage in stages
        for output in stage.template.get("Outputs", {}).values()
        if "Name" in output.get("Export", {})
    }
    for stage in stages:
        for key in sorted({_export_key(name) for name in _imported(stage.template.get("Resources", {}))}):
            name = json.loads(key)
            maker = exports.get((stage.region, key))
            if maker is None or maker not in stage.depends_on:
                made = f"by stage {maker}, which it does not depend on" if maker else "by no stage in its region"
                raise BuildError(f"data.all's stage {stage.name} imports {name!r}, exported {made}")


def _export_key(name: Any) -> str:
    """An export's name as a key: a string, or what CloudFormation computes it from (the names rule's `Fn::Sub`
    of the installation's `EnvName`), the same in the exporting and the importing template."""
    return json.dumps(name, sort_keys=True)


def _imported(node: Any) -> Iterator[Any]:
    """The names `Fn::ImportValue` takes anywhere in `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                yield value
            else:
                yield from _imported(value)
    elif isinstance(node, list):
        for item in node:
            yield from _imported(item)


def stage_document(stage: ImportedStage, *, after_images: bool = False) -> dict[str, Any]:
    parameters = dict(stage.parameters)
    if rules.ASSETS_BUCKET in stage.template.get("Parameters", {}):
        parameters[rules.ASSETS_BUCKET] = "${param:" + rules.ASSETS_BUCKET + "}"
    if rules.HOME_REGION in stage.template.get("Parameters", {}):
        parameters[rules.HOME_REGION] = "${param:Region}"
    if rules.EXTERNAL_ID in stage.template.get("Parameters", {}):
        parameters[rules.EXTERNAL_ID] = "${param:" + rules.EXTERNAL_ID + "}"
    if rules.S3_PREFIX_LIST in stage.template.get("Parameters", {}):
        parameters[rules.S3_PREFIX_LIST] = "${param:" + rules.S3_PREFIX_LIST + "}"
    made = tuple(parameter for parameter, _ in rules.SERVICE_LINKED_ROLES.values())
    for name in (rules.RESOURCE_PREFIX, rules.ENV_NAME, rules.RESOURCE_PREFIX_FIRST_6, *made):  # context
        if name in stage.template.get("Parameters", {}):
            parameters[name] = "${param:" + name + "}"
    for layer in rules.layer_parameters(stage.template):
        parameters[layer] = "${param:" + layer + "}"
    for value in rules.vpc_context_parameters(stage.template):
        parameters[value] = "${param:" + value + "}"
    for option in rules.value_parameters(stage.template):
        parameters[option] = "${param:" + option + "}"
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    if stage.template.get("Transform"):
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    region = {"region": stage.region} if stage.region else {}
    return {
        "name": stage.name,
        **region,
        "description": f"data.all: {stage.source}",
        "template": f"blueprints/{stage.name}.template.json",
        "parameters": parameters,
        "depends_on": [*stage.depends_on, *([IMAGES_ACTION] if after_images else [])],
        "stateful": stage.stateful,
        "timeout": TIMEOUTS.get(stage.name, DEFAULT_TIMEOUT),
        "outputs": sorted(stage.outputs),
        "capabilities": capabilities,
    }


#: data.all's own external id (`deploy/stacks/param_store_stack.py` `_generate_external_id`):
#: 32 characters of ASCII letters and digits.
EXTERNAL_ID_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits
EXTERNAL_ID_LENGTH = 32


def installation_values(stages: Iterable[ImportedStage]) -> dict[str, dict[str, Any]]:
    """The manifest's per-installation values: the pivot role's external id, in data.all's alphabet
    and length, adopted from data.all's SSM parameter when the account has one."""
    for stage in stages:
        name = rules.external_id_parameter(stage.template)
        if name is not None:
            return {
                rules.EXTERNAL_ID: {
                    "description": "the pivot role's external id (data.all's SSM parameter " + name + ")",
                    "alphabet": EXTERNAL_ID_ALPHABET,
                    "length": EXTERNAL_ID_LENGTH,
                    "adopt_ssm_parameter": name,
                }
            }
    return {}


@dataclass(frozen=True)
class VariantOption:
    """An option of data.all's that changes the shape of its templates: the release holds the stages
    data.all's synthesis makes differently with `key` set to each of `others` (in every combination
    with the other variant options' values: `combinations`)."""

    option: str
    #: data.all's key in its target environment (`cdk.json` `DeploymentEnvironments`)
    key: str
    #: the value the upstream's cloud assembly was synthesized with (data.all's default)
    default: bool
    others: tuple[bool, ...]
    description: str
    label: str
    #: the value data.all's `key` is synthesized with for each value of the option, where it is not the
    #: option's own (a key that takes a setting, not a flag: `custom_domain` takes a hosted zone)
    key_values: tuple[tuple[bool, Any], ...] = ()
    #: what else data.all is synthesized with for a value of the option: keys of other settings (a mapping
    #: merged into the setting of that key) that data.all needs with it
    with_keys: tuple[tuple[bool, Mapping[str, Mapping[str, Any]]], ...] = ()

    @property
    def values(self) -> tuple[bool, ...]:
        return (self.default, *self.others)

    def key_value(self, value: bool) -> Any:
        """data.all's value of `key` when the option is `value`."""
        return dict(self.key_values).get(value, value)


#: data.all's `internet_facing` (deploy/stacks/pipeline.py: `target_env.get('internet_facing', True)`): false
#: makes its API a private one behind an `execute-api` VPC endpoint (stage lambdas), leaves out the Cognito sync
#: of CloudFront's URLs (cognito), and serves its web UI from an internal load balancer in front of an ECS
#: service of data.all's frontend image (its albfront stack: stages albfront and albfront-cognito-config, in
#: place of cloudfront and frontend-cognito-config). data.all's pipeline builds that frontend image per
#: installation; the installer makes it from the release's (`frontend_image_of_the_installation`).
INTERNET_FACING = VariantOption(
    option="InternetFacing",
    key="internet_facing",
    default=True,
    others=(False,),
    # data.all's internal load balancer listens on HTTPS only with custom_domain's certificate_arn (else HTTP on
    # 80, which its security groups, open on tcp 443 alone, let nobody reach): synthesized with a placeholder ARN,
    # which the rule `custom_domain_certificate_from_the_option` makes CustomDomainCertificateArn
    with_keys=((False, {rules.CUSTOM_DOMAIN_KEY: {"certificate_arn": rules.CUSTOM_DOMAIN_CERTIFICATE_PLACEHOLDER}}),),
    label="Internet-facing",
    description="data.all's internet_facing: true serves the web UI from CloudFront and the API on the internet; "
    "false makes the API private (an execute-api VPC endpoint in data.all's VPC) and serves the web UI from an "
    "internal load balancer at CustomDomainName (needs EnableCustomDomain)",
)
VARIANT_OPTIONS = (
    VariantOption(
        option="ProdSizing",
        key="prod_sizing",
        # deploy/stacks/pipeline.py: `prod_sizing=target_env.get('prod_sizing', True)`
        default=True,
        others=(False,),
        label="Production sizing",
        description="data.all's prod_sizing: Aurora's capacity (4-16 ACUs, else 2-8) and backups, "
        "OpenSearch's dedicated masters and volume, Lambda and ECS memory and log level, the search "
        "key kept on delete; false: a smaller, cheaper data.all (a variant of 5 stages)",
    ),
    VariantOption(
        option="EnableCloudWatchRum",
        key="enable_cw_rum",
        # deploy/stacks/pipeline.py: `enable_cw_rum=target_env.get('enable_cw_rum', False) and
        # target_env.get('custom_auth', None) is None`: refused with EnableCustomAuth (OPTION_RULES), not dropped.
        default=False,
        others=(True,),
        label="CloudWatch RUM",
        description="data.all's enable_cw_rum: a CloudWatch RUM app monitor of the web UI (stage rum) "
        "with its JS-errors alarm, and a Cognito identity pool whose guest role sends RUM events; "
        "needs EnableCloudWatchCanaries (data.all's Cognito trigger reads the canary user's secret)",
    ),
    VariantOption(
        option="EnableCloudWatchCanaries",
        key="enable_cw_canaries",
        # deploy/stacks/pipeline.py: `enable_cw_canaries=target_env.get('enable_cw_canaries', False) and
        # target_env.get('custom_auth', None) is None`: refused with EnableCustomAuth (OPTION_RULES), not dropped
        default=False,
        others=(True,),
        label="CloudWatch Synthetics canaries",
        description="data.all's enable_cw_canaries: an hourly Synthetics canary of the web UI (stage "
        "canaries, created stopped) with its alarm, the secret of its test user (stage secrets) and its "
        "SSM parameters",
    ),
    VariantOption(
        option="EnableOpenSearchServerless",
        key="enable_opensearch_serverless",
        # deploy/stacks/pipeline.py: `enable_opensearch_serverless=target_env.get('enable_opensearch_serverless',
        # False)`; deploy/stacks/backend_stack.py makes OpenSearchServerlessStack instead of OpenSearchStack
        default=False,
        others=(True,),
        label="OpenSearch Serverless",
        description="data.all's enable_opensearch_serverless: its catalog search in an OpenSearch Serverless "
        "collection (stage opensearch-serverless: the collection, its encryption, network and data access "
        "policies, VPC endpoint and key) instead of an OpenSearch domain (stage opensearch), with the "
        "collection's alarms; turning it on or off on an installation deletes the other stage and its index",
    ),
    VariantOption(
        option=rules.CUSTOM_DOMAIN_ENABLED,
        key=rules.CUSTOM_DOMAIN_KEY,
        # deploy/stacks/pipeline.py: `custom_domain=target_env.get('custom_domain', None)`, a hosted zone's
        # `hosted_zone_name` and `hosted_zone_id`; synthesized with a placeholder zone, which the rule
        # `custom_domain_from_the_options` makes the CustomDomainName and CustomDomainHostedZoneId parameters
        default=False,
        others=(True,),
        key_values=((True, rules.CUSTOM_DOMAIN_PLACEHOLDER),),
        label="Custom domain",
        description="data.all's custom_domain: its web UI served at CustomDomainName (a public Route 53 hosted "
        "zone of the account, CustomDomainHostedZoneId) with an ACM certificate validated in the zone, the "
        "zone's alias record to the distribution, and data.all's links and Cognito callbacks at that name "
        "(stages params, lambdas, ecs, cloudfront, frontend-cognito-config)",
    ),
    VariantOption(
        option=rules.CUSTOM_AUTH_ENABLED,
        key=rules.CUSTOM_AUTH_KEY,
        # deploy/stacks/pipeline.py: `custom_auth=target_env.get('custom_auth', None)`, an OIDC identity provider's
        # keys; synthesized with a placeholder provider, whose every value the rule `custom_auth_from_the_options`
        # makes a parameter (CustomAuthProvider, CustomAuthUrl, ...)
        default=False,
        others=(True,),
        key_values=((True, rules.CUSTOM_AUTH_PLACEHOLDER),),
        label="Custom authentication (OIDC)",
        description="data.all's custom_auth: users sign in at an external OIDC identity provider (CustomAuthUrl, "
        "CustomAuthClientId, ...) instead of data.all's Cognito user pool: no stages cognito and "
        "frontend-cognito-config, data.all's API authorizer checks the provider's tokens, and the web UI signs in "
        "there; refused with EnableCloudWatchRum and EnableCloudWatchCanaries (data.all's RUM and canaries need "
        "its Cognito)",
    ),
    INTERNET_FACING,
)
#: Combinations of the variant options data.all cannot deploy, refused by Plan (InvalidOptions) with the reason.
#: data.all 2.9.0's Cognito stack gives its config trigger `enable_cw_canaries=str(enable_cw_rum)`
#: (deploy/stacks/cognito.py), and with it `True` the trigger reads the canary user's secret
#: (deploy/custom_resources/cognito_config/cognito_users.py), which only the Secrets stack of
#: `enable_cw_canaries` makes: the trigger fails, and with it the Cognito stack, in AWS as in the sandbox.
OPTION_RULES: tuple[dict[str, Any], ...] = (
    # deploy/stacks/albfront_stack.py raises "custom_domain['hosted_zone_name'] ... is REQUIRED when
    # internet_facing=false": the internal load balancer is reached at the zone's name alone
    {
        "when": {
            "all": [
                {"option": INTERNET_FACING.option, "equals": False},
                {"option": rules.CUSTOM_DOMAIN_ENABLED, "equals": False},
            ]
        },
        "message": f"{INTERNET_FACING.option}=false needs {rules.CUSTOM_DOMAIN_ENABLED}: data.all serves its private "
        f"web UI from an internal load balancer at {rules.CUSTOM_DOMAIN_NAME} alone (deploy/stacks/albfront_stack.py "
        "requires custom_domain when internet_facing=false)",
    },
    # deploy/stacks/albfront_stack.py gives its load balancer a certificate (an HTTPS listener on 443) only with
    # custom_domain's certificate_arn; without, its listener is HTTP on 80, which its own security groups (tcp 443
    # from the VPC) let nobody reach: a web UI installed unreachable
    {
        "when": {
            "all": [
                {"option": INTERNET_FACING.option, "equals": False},
                {"option": rules.CUSTOM_DOMAIN_CERTIFICATE, "equals": ""},
            ]
        },
        "message": f"{INTERNET_FACING.option}=false needs {rules.CUSTOM_DOMAIN_CERTIFICATE}, an ACM certificate of the "
        f"account in the installation's region covering {rules.CUSTOM_DOMAIN_NAME}: data.all's internal load balancer "
        "serves HTTPS only with it (deploy/stacks/albfront_stack.py; without, it listens on HTTP port 80, which its "
        "security groups, open on tcp 443 alone, let nobody reach)",
    },
    # deploy/stacks/lambda_api.py reads apig_vpce only for a private API (`if not internet_facing: if apig_vpce:`)
    {
        "when": {
            "all": [
                {"option": INTERNET_FACING.option, "equals": True},
                {"option": rules.API_VPC_ENDPOINT, "not_equals": ""},
            ]
        },
        "message": f"{rules.API_VPC_ENDPOINT} takes effect with {INTERNET_FACING.option}=false only: it names the "
        "execute-api endpoint data.all's private API is reached through (deploy/stacks/lambda_api.py reads "
        f"apig_vpce only when internet_facing is false); set {INTERNET_FACING.option}=false, or leave it empty",
    },
    # deploy/stacks/albfront_stack.py (allow_alb_access) reads ip_ranges; pipeline.py makes that stack only with
    # internet_facing=false
    {
        "when": {
            "all": [
                {"option": INTERNET_FACING.option, "equals": True},
                {"option": rules.LOAD_BALANCER_IP_RANGES, "not_equals": ""},
            ]
        },
        "message": f"{rules.LOAD_BALANCER_IP_RANGES} takes effect with {INTERNET_FACING.option}=false only: it names "
        "the ranges data.all's internal load balancer admits (deploy/stacks/albfront_stack.py, made only when "
        f"internet_facing is false); set {INTERNET_FACING.option}=false, or leave it empty",
    },
    # What the installer does not install with a private data.all yet, refused by name rather than half-made.
    *(
        {
            "when": {"all": [{"option": INTERNET_FACING.option, "equals": False}, condition]},
            "message": f"{name} is not installed with {INTERNET_FACING.option}=false yet: {why}",
        }
        for condition, name, why in (
            (
                {"option": "EnableCloudWatchRum", "equals": True},
                "EnableCloudWatchRum",
                "data.all's pipeline configures RUM for the load balancer's web UI in a step of its own "
                "(cw_rum_config_action) that the installer does not run",
            ),
            (
                {"option": "EnableCloudWatchCanaries", "equals": True},
                "EnableCloudWatchCanaries",
                "data.all's canary signs in at the web UI, which the internal load balancer serves only in the VPC",
            ),
            (
                {"option": rules.CUSTOM_AUTH_ENABLED, "equals": True},
                rules.CUSTOM_AUTH_ENABLED,
                "the installation's frontend image is made from the release's Cognito web UI",
            ),
            (
                {"option": rules.API_DOMAIN_NAME, "not_equals": ""},
                rules.API_DOMAIN_NAME,
                "data.all's private API takes a private custom domain name, and the release's rule makes an "
                "edge-optimized one",
            ),
        )
    ),
    {
        "when": {
            "all": [
                {"option": "EnableCloudWatchRum", "equals": True},
                {"option": "EnableCloudWatchCanaries", "equals": False},
            ]
        },
        "message": "EnableCloudWatchRum needs EnableCloudWatchCanaries: data.all's Cognito trigger reads the "
        "canary user's secret whenever RUM is on (deploy/stacks/cognito.py passes it enable_cw_canaries="
        "str(enable_cw_rum)), and only EnableCloudWatchCanaries makes that secret",
    },
    {
        "when": {
            "all": [
                {"option": rules.CUSTOM_DOMAIN_ENABLED, "equals": True},
                {
                    "any": [
                        {"option": rules.CUSTOM_DOMAIN_NAME, "equals": ""},
                        {"option": rules.CUSTOM_DOMAIN_ZONE, "equals": ""},
                    ]
                },
            ]
        },
        "message": f"{rules.CUSTOM_DOMAIN_ENABLED} needs {rules.CUSTOM_DOMAIN_NAME} (the name of a public Route 53 "
        f"hosted zone of the account, which data.all's web UI is served at) and {rules.CUSTOM_DOMAIN_ZONE} (that "
        "zone's id): data.all's custom_domain takes both",
    },
    {
        "when": {
            "all": [
                {"option": rules.CUSTOM_DOMAIN_ENABLED, "equals": False},
                {
                    "any": [
                        {"option": rules.CUSTOM_DOMAIN_NAME, "not_equals": ""},
                        {"option": rules.CUSTOM_DOMAIN_ZONE, "not_equals": ""},
                        {"option": rules.CUSTOM_DOMAIN_CERTIFICATE, "not_equals": ""},
                        {"option": rules.CUSTOM_DOMAIN_SENDER, "not_equals": rules.CUSTOM_DOMAIN_SENDER_DEFAULT},
                    ]
                },
            ]
        },
        "message": f"{rules.CUSTOM_DOMAIN_NAME}, {rules.CUSTOM_DOMAIN_ZONE}, {rules.CUSTOM_DOMAIN_CERTIFICATE} and "
        f"{rules.CUSTOM_DOMAIN_SENDER} take effect with {rules.CUSTOM_DOMAIN_ENABLED}=true only: set it, or leave "
        f"them empty ({rules.CUSTOM_DOMAIN_SENDER}: {rules.CUSTOM_DOMAIN_SENDER_DEFAULT})",
    },
    *(
        {
            "when": {
                "all": [
                    {"option": rules.CUSTOM_AUTH_ENABLED, "equals": True},
                    {"option": variant, "equals": True},
                ]
            },
            "message": f"{variant} cannot be combined with {rules.CUSTOM_AUTH_ENABLED}: data.all {what} its Cognito "
            f"user pool, which custom_auth replaces (deploy/stacks/pipeline.py turns {key} off whenever custom_auth "
            "is set)",
        }
        for variant, key, what in (
            ("EnableCloudWatchRum", "enable_cw_rum", "sends RUM events through an identity pool of"),
            ("EnableCloudWatchCanaries", "enable_cw_canaries", "signs its canary's test user in at"),
        )
    ),
    {
        "when": {
            "all": [
                {"option": rules.CUSTOM_AUTH_ENABLED, "equals": True},
                {"any": [{"option": name, "equals": ""} for name in rules.CUSTOM_AUTH_PARAMETERS.values()]},
            ]
        },
        "message": f"{rules.CUSTOM_AUTH_ENABLED} needs every one of "
        f"{', '.join(rules.CUSTOM_AUTH_PARAMETERS.values())}: data.all's custom_auth takes all of them "
        "(deploy/stacks/pipeline.py refuses it without one)",
    },
    {
        "when": {
            "all": [
                {"option": rules.CUSTOM_AUTH_ENABLED, "equals": False},
                {"any": [{"option": name, "not_equals": ""} for name in rules.CUSTOM_AUTH_PARAMETERS.values()]},
            ]
        },
        "message": f"{', '.join(rules.CUSTOM_AUTH_PARAMETERS.values())} take effect with "
        f"{rules.CUSTOM_AUTH_ENABLED}=true only: set it, or leave them empty",
    },
    # deploy/stacks/vpc.py makes the restricted NACL in `create_new_vpc` only: with `vpc_id` data.all makes none.
    {
        "when": {
            "all": [
                {"option": rules.VPC_RESTRICTED_NACL, "equals": True},
                {"option": rules.VPC_ID, "not_equals": ""},
            ]
        },
        "message": f"{rules.VPC_RESTRICTED_NACL} takes effect on the VPC data.all makes only: with {rules.VPC_ID} "
        "data.all makes no network ACL (deploy/stacks/vpc.py makes it with its own VPC); leave "
        f"{rules.VPC_RESTRICTED_NACL} false, or {rules.VPC_ID} empty",
    },
    # deploy/stacks/vpc.py: vpc_endpoints_sg is the group of the endpoints of the VPC vpc_id names; without it,
    # data.all would make its own VPC and no endpoints in it
    {
        "when": {
            "all": [
                {"option": rules.VPC_ENDPOINTS_SG, "not_equals": ""},
                {"option": rules.VPC_ID, "equals": ""},
            ]
        },
        "message": f"{rules.VPC_ENDPOINTS_SG} names the endpoints' group of the operator's VPC: it takes effect with "
        f"{rules.VPC_ID} only (data.all's own VPC has data.all's endpoints); give {rules.VPC_ID}, or leave "
        f"{rules.VPC_ENDPOINTS_SG} empty",
    },
    # data.all's apigw_custom_domain takes its three keys together (deploy/stacks/lambda_api.py reads each)
    {
        "when": {
            "all": [
                {"option": rules.API_DOMAIN_NAME, "not_equals": ""},
                {
                    "any": [
                        {"option": rules.API_DOMAIN_ZONE, "equals": ""},
                        {"option": rules.API_DOMAIN_CERTIFICATE, "equals": ""},
                    ]
                },
            ]
        },
        "message": f"{rules.API_DOMAIN_NAME} needs {rules.API_DOMAIN_ZONE} (the id of the public Route 53 hosted zone "
        f"of that name, which gets its alias record) and {rules.API_DOMAIN_CERTIFICATE} (an ACM certificate of the "
        "account in us-east-1 covering the name): data.all's apigw_custom_domain takes all three",
    },
    {
        "when": {
            "all": [
                {"option": rules.API_DOMAIN_NAME, "equals": ""},
                {
                    "any": [
                        {"option": rules.API_DOMAIN_ZONE, "not_equals": ""},
                        {"option": rules.API_DOMAIN_CERTIFICATE, "not_equals": ""},
                    ]
                },
            ]
        },
        "message": f"{rules.API_DOMAIN_ZONE} and {rules.API_DOMAIN_CERTIFICATE} take effect with "
        f"{rules.API_DOMAIN_NAME} only: set it, or leave them empty",
    },
)


def option_rules(offered: Sequence[VariantOption] | Iterable[str]) -> list[dict[str, Any]]:
    """The `OPTION_RULES` on options the release offers (variant options, or the names of all its options)."""
    names = {o.option if isinstance(o, VariantOption) else o for o in offered}
    return [rule for rule in OPTION_RULES if set(_condition_names(rule["when"])) <= names]


def _condition_names(condition: Mapping[str, Any]) -> list[str]:
    if "all" in condition or "any" in condition:
        return [n for c in condition.get("all", condition.get("any", [])) for n in _condition_names(c)]
    if "not" in condition:
        return _condition_names(condition["not"])
    return [str(condition["option"])]


#: Set to 0 to build data.all's release without its variants (no synthesis at build; the release
#: then offers no variant option, and refuses one by name), or to a comma-separated list of variant
#: options to offer those alone (2^n syntheses of n options, less those Plan refuses). Needs data.all's
#: source beside the assembly.
VARIANTS_ENV = "DATAALL_INSTALLER_VARIANTS"


def variant_options(selected: bool | Sequence[str] | None = None) -> tuple[VariantOption, ...]:
    """The variant options a build offers: every one (`True`), none (`False`), those named (in
    `VARIANT_OPTIONS`' order); `None` reads `$DATAALL_INSTALLER_VARIANTS` (`1`, `0` or names; default all).
    A name that is no variant option, or a selection of which an option could never be on, an `OPTION_RULES`
    entry refusing it with an option left out at its default (RUM without the canaries it needs), is refused
    naming it: the release could not offer it whole. (An entry refusing two options together, as EnableCustomAuth
    with RUM, does not tie them: either is offered alone.)"""
    if selected is None:
        given = os.environ.get(VARIANTS_ENV, "1").strip()
        selected = given != "0" if given in ("", "0", "1") else [n.strip() for n in given.split(",") if n.strip()]
    if isinstance(selected, bool):
        return VARIANT_OPTIONS if selected else ()
    names = set(selected)
    known = [o.option for o in VARIANT_OPTIONS]
    unknown = sorted(names - set(known))
    if unknown:
        raise BuildError(f"{VARIANTS_ENV}: {', '.join(unknown)} is not a variant option (they are {', '.join(known)})")
    chosen = tuple(o for o in VARIANT_OPTIONS if o.option in names)
    defaults = {o.option: o.default for o in VARIANT_OPTIONS if o.option not in names}
    between = [rule for rule in OPTION_RULES if set(_condition_names(rule["when"])) <= set(known)]
    every = [
        dict(zip([o.option for o in chosen], values, strict=True)) for values in product(*(o.values for o in chosen))
    ]
    for option in chosen:
        # the combinations with the option on, the options left out at their defaults: one Plan accepts?
        on = [{**defaults, **c} for c in every if c[option.option] != option.default]
        refusing = [next((r for r in between if evaluate(r["when"], c)), None) for c in on]
        rule = refusing[0]
        if rule is not None and all(refusing):
            left_out = sorted(n for n in _condition_names(rule["when"]) if n not in names)
            raise BuildError(f"{VARIANTS_ENV}: {option.option} without {', '.join(left_out)}: {rule['message']}")
    return chosen


#: The values of the variant options one synthesis was made with: option name -> value.
Combination = Mapping[str, bool]


@dataclass(frozen=True)
class StageVariant:
    when: dict[str, Any]
    stage: ImportedStage
    #: the release file of its template
    template: str


@dataclass(frozen=True)
class ComposedStage:
    """A stage of the release across every combination of the variant options: the template of the
    combination with the fewest options off their default (`stage`), the condition it exists under
    (None: always), and its variants, each for the combinations whose template differs."""

    stage: ImportedStage
    when: dict[str, Any] | None
    variants: tuple[StageVariant, ...]
    #: every output the stage declares in any combination (Plan checks the chosen template's own)
    outputs: tuple[str, ...]


def comparable(template: Mapping[str, Any]) -> str:
    """A stage's template without what differs on every synthesis of the same source (README of
    ../shared/upstream/dataall): CDK's analytics metadata, and the synthesis time data.all writes
    into its Cognito URLs trigger (`frontend_cognito_config.py`), with the logical id of the
    function's version, which hashes it."""
    resources = {k: r for k, r in template.get("Resources", {}).items() if r.get("Type") != "AWS::CDK::Metadata"}
    text = json.dumps({**template, "Resources": resources}, sort_keys=True)
    text = re.sub(r'"timestamp": "\d{4}-\d\d-\d\dT[\d:.]+"', '"timestamp": "*"', text)
    return re.sub(r"CurrentVersion([0-9A-F]{8})[0-9a-f]{32}", r"CurrentVersion\1*", text)


def combinations(options: Sequence[VariantOption]) -> list[dict[str, bool]]:
    """Every combination of the options' values but those an `OPTION_RULES` entry on these options refuses
    (Plan refuses them, so no synthesis is made of them): the defaults first, then by how many options
    are off their default (fewest first), then in the options' order."""
    refused = option_rules(options)
    every = [
        combination
        for values in product(*(o.values for o in options))
        for combination in [dict(zip([o.option for o in options], values, strict=True))]
        if not any(evaluate(rule["when"], combination) for rule in refused)
    ]
    return sorted(every, key=lambda c: _off_default(options, c))


def _off_default(options: Sequence[VariantOption], combination: Combination) -> tuple[int, list[bool]]:
    off = [combination[o.option] != o.default for o in options]
    return sum(off), [not flag for flag in off]


def synthesis_settings(options: Sequence[VariantOption], combination: Combination) -> dict[str, Any]:
    """data.all's keys a combination of the variant options is synthesized with: each option off its default
    sets its key (`key_value`), and the keys it needs with that value (`with_keys`) are merged in."""
    settings = {o.key: o.key_value(combination[o.option]) for o in options if combination[o.option] != o.default}
    for option in options:
        for value, keys in option.with_keys:
            if combination[option.option] == value:
                for key, extra in keys.items():
                    settings[key] = {**(settings.get(key) or {}), **extra}
    return settings


def variant_template(stage: str, settings: Iterable[tuple[str, bool]]) -> str:
    """`blueprints/<stage>.<option>-<value>[.<option>-<value>...].template.json`."""
    named = "".join(f".{option.lower()}-{str(value).lower()}" for option, value in settings)
    return f"blueprints/{stage}{named}.template.json"


def condition(settings: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    """A manifest condition that holds for exactly these option values (an `all` of them)."""
    conditions = [{"option": option, "equals": value} for option, value in settings]
    return conditions[0] if len(conditions) == 1 else {"all": conditions}


def _depending(
    options: Sequence[VariantOption],
    among: Sequence[Combination],
    value: Callable[[Combination], Any],
) -> list[VariantOption]:
    """The options that change `value` between two combinations of `among` differing in that option alone."""
    keyed = {_key(c): c for c in among}
    found = []
    for option in options:
        for combination in among:
            for other in option.values:
                flipped = keyed.get(_key({**combination, option.option: other}))
                if flipped is not None and value(flipped) != value(combination):
                    found.append(option)
                    break
            else:
                continue
            break
    return found


def _key(combination: Combination) -> tuple[tuple[str, bool], ...]:
    return tuple(sorted(combination.items()))


def compose_stages(
    options: Sequence[VariantOption], reports: Sequence[tuple[Combination, ImportReport]]
) -> list[ComposedStage]:
    """The release's stages from data.all's synthesis in every combination of `options` (`reports`,
    the defaults' first): a stage that exists in some combinations only gets the condition of those
    (`when`); a stage whose template differs between combinations gets a variant per set of values of
    the options that change it. Exact: the build checks that, for every combination, the manifest's
    conditions choose the very stages and templates that combination's synthesis made.

    A variant may change a stage's template and the installer's parameters it takes, and add (or lose)
    outputs that a stage of its combination reads (the stages an option adds read them: data.all's RUM
    stack reads the identity pool of `cognito`); never the stage outputs it reads, its place in the
    graph, its region or its statefulness."""
    if not reports or any(reports[0][0].get(o.option) != o.default for o in options):
        defaults = {o.option: o.default for o in options}
        given = dict(reports[0][0]) if reports else "none"
        raise BuildError(f"data.all's variants: the first synthesis must be the defaults' {defaults}, not {given}")
    every = [combination for combination, _ in reports]
    by_combination = {_key(c): {stage.name: stage for stage in report.stages} for c, report in reports}
    texts: dict[tuple[Any, str], str] = {}

    def text(combination: Combination, name: str) -> str:
        key = (_key(combination), name)
        if key not in texts:
            texts[key] = comparable(by_combination[_key(combination)][name].template)
        return texts[key]

    names = _stage_order(reports)
    # stages some combinations lack: a stage may wait for one where it exists (data.all's CloudFront
    # stage after every backend stage, RUM's too)
    optional = {n for n in names if any(n not in by_combination[_key(c)] for c in every)}
    composed = []
    for name in names:

        def exists(combination: Combination, name: str = name) -> bool:
            return name in by_combination[_key(combination)]

        def shape(combination: Combination, name: str = name) -> str:
            return text(combination, name)

        present = [c for c in every if exists(c)]
        when = None if len(present) == len(every) else _existing(options, every, exists)
        base_combination = present[0]
        waits = {d for c in present for d in by_combination[_key(c)][name].depends_on}
        base = replace(by_combination[_key(base_combination)][name], depends_on=tuple(sorted(waits)))
        extra = waits - set(by_combination[_key(base_combination)][name].depends_on) - optional
        if extra:
            where = [dict(c) for c in present if extra & set(by_combination[_key(c)][name].depends_on)]
            raise BuildError(
                f"data.all's stage {name} depends on other stages in other combinations: it waits for "
                f"{sorted(extra)} in {where}, not in {dict(base_combination)}"
            )
        shaping = _depending(options, present, shape)
        groups: dict[tuple[tuple[str, bool], ...], list[Combination]] = {}
        for combination in present:
            groups.setdefault(_settings(shaping, combination), []).append(combination)
        variants = []
        files: dict[str, str] = {}  # one file per template, whichever combinations share it
        for settings, members in groups.items():
            if any(shape(c) != shape(members[0]) for c in members):
                raise BuildError(
                    f"data.all's stage {name} differs between combinations {[dict(c) for c in members]} "
                    f"of the same {dict(settings)}: its variants would not be exact"
                )
            if shape(members[0]) == shape(base_combination):
                continue
            stage = by_combination[_key(members[0])][name]
            _check_variant(name, (members[0], stage), (base_combination, base), reports, optional)
            off = [(option, value) for option, value in settings if value != _default(options, option)]
            template = files.setdefault(shape(members[0]), variant_template(name, off))
            variants.append(StageVariant(when=condition(list(settings)), stage=stage, template=template))
        outputs = {*base.outputs, *(output for variant in variants for output in variant.stage.outputs)}
        composed.append(ComposedStage(stage=base, when=when, variants=tuple(variants), outputs=tuple(sorted(outputs))))
    _check_exact(composed, reports)
    return composed


def _existing(
    options: Sequence[VariantOption], every: Sequence[Combination], exists: Callable[[Combination], bool]
) -> dict[str, Any]:
    """The condition of the combinations a stage exists in, on the options that add it."""
    place = _depending(options, every, exists)
    clauses = [condition(list(s)) for s in sorted({_settings(place, c) for c in every if exists(c)})]
    return clauses[0] if len(clauses) == 1 else {"any": clauses}


def _settings(options: Sequence[VariantOption], combination: Combination) -> tuple[tuple[str, bool], ...]:
    return tuple((o.option, combination[o.option]) for o in options)


def _default(options: Sequence[VariantOption], name: str) -> bool:
    return next(o.default for o in options if o.option == name)


def _stage_order(reports: Sequence[tuple[Combination, ImportReport]]) -> list[str]:
    """Every stage name, in the defaults' order, a stage an option adds after the one it follows there."""
    order: list[str] = []
    for _, report in reports:
        previous = None
        for stage in report.stages:
            if stage.name not in order:
                order.insert(order.index(previous) + 1 if previous is not None else 0, stage.name)
            previous = stage.name
    return order


def _reads(stages: Iterable[ImportedStage]) -> set[tuple[str, str]]:
    return {
        (match.group(1), match.group(2))
        for stage in stages
        for value in stage.parameters.values()
        for match in re.finditer(r"\$\{stage:([a-z0-9-]+)\.([A-Za-z0-9]+)\}", value)
    }


def _steady(stage: ImportedStage, optional: set[str]) -> dict[str, str]:
    """A stage's parameters but those reading a stage some combinations lack: where an option swaps one
    stage for another (data.all's search domain for a serverless collection), the stages reading it read
    the one their combination has (`dashboards`, its alarms); both are in their `depends_on`."""
    return {
        key: value
        for key, value in stage.parameters.items()
        if not any(m.group(1) in optional for m in re.finditer(r"\$\{stage:([a-z0-9-]+)\.", value))
    }


def _stages_read(stage: ImportedStage, optional: set[str]) -> set[str]:
    """The stages whose outputs `stage`'s parameters read (`_steady`'s): a variant may read other
    outputs of the same stages (data.all's private API reads the VPC's CIDR block for its endpoint's
    group), which its parameters carry, not other stages."""
    return {
        match.group(1)
        for value in _steady(stage, optional).values()
        for match in re.finditer(r"\$\{stage:([a-z0-9-]+)\.", value)
    }


def _check_variant(
    name: str,
    variant: tuple[Combination, ImportedStage],
    own: tuple[Combination, ImportedStage],
    reports: Sequence[tuple[Combination, ImportReport]],
    optional: set[str],
) -> None:
    (combination, stage), (base_combination, base) = variant, own
    given = ", ".join(f"{option}={value}" for option, value in combination.items())
    same = (_stages_read(stage, optional), set(stage.depends_on) - optional, stage.stateful, stage.region) == (
        _stages_read(base, optional), set(base.depends_on) - optional, base.stateful, base.region
    )  # fmt: skip
    if not same:
        raise BuildError(
            f"{given}: stage {name} changes the stages it reads, its dependencies, region or "
            "statefulness, which a variant may not (a run would compare it with another graph)"
        )
    read = {
        output
        for c, report in reports
        if _key(c) in (_key(combination), _key(base_combination))
        for stage_name, output in _reads(report.stages)
        if stage_name == name
    }
    unread = (set(stage.outputs) ^ set(base.outputs)) - read
    if unread:
        raise BuildError(
            f"{given}: stage {name} changes its outputs {sorted(unread)}, which no stage of that "
            "combination reads: a variant changes outputs only for the stages an option adds"
        )


def _check_exact(composed: Sequence[ComposedStage], reports: Sequence[tuple[Combination, ImportReport]]) -> None:
    """For every combination, the stages the conditions choose are the ones its synthesis made, each
    with that synthesis's template."""
    for combination, report in reports:
        made = {stage.name: comparable(stage.template) for stage in report.stages}
        chosen = {}
        for entry in composed:
            if entry.when is not None and not evaluate(entry.when, combination):
                continue
            picked = next((v.stage for v in entry.variants if evaluate(v.when, combination)), entry.stage)
            chosen[entry.stage.name] = comparable(picked.template)
        if chosen != made:
            wrong = sorted(n for n in {*chosen, *made} if chosen.get(n) != made.get(n))
            raise BuildError(
                f"data.all's variants for {dict(combination)} choose other stages than its synthesis: {wrong}"
            )


#: How many of data.all's variant syntheses run at once (each a `cdk synth`, about one core and 0.5 GB):
#: by default as many as the machine has cores, at most 4.
SYNTH_JOBS_ENV = "DATAALL_INSTALLER_SYNTH_JOBS"


#: Where a build tells what it has done (the CLI prints it; a first build runs for minutes).
Progress = Callable[[str], None]


class _Counter:
    """How many of `total` things are done, counted across threads."""

    def __init__(self, total: int) -> None:
        self.total, self._done, self._lock = total, 0, threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._done += 1
            return self._done


def _took(started: float) -> str:
    """ "cached", or how long a build step took."""
    seconds = time.monotonic() - started
    return "cached" if seconds < 1 else f"built in {int(seconds // 60)} min {int(seconds % 60)} s"


def synth_jobs() -> int:
    """`DATAALL_INSTALLER_SYNTH_JOBS`, else the machine's cores (1 to 4); a value that is not a positive
    integer is refused, naming the variable."""
    given = os.environ.get(SYNTH_JOBS_ENV)
    if given is None:
        return max(1, min(4, os.cpu_count() or 1))
    if not given.isdigit() or int(given) < 1:
        raise BuildError(f"{SYNTH_JOBS_ENV}={given!r}: give the number of syntheses to run at once (1 or more)")
    return int(given)


def import_variants(
    upstream: Upstream,
    default: ImportReport,
    package: migrations.MigrationPackage | None,
    options: Sequence[VariantOption] = VARIANT_OPTIONS,
    progress: Progress | None = None,
) -> list[tuple[Combination, ImportReport]]:
    """data.all's source synthesized in every combination of the variant options' values but the
    defaults' (`installer.upstream.synthesize`: offline, cached; 2^n - 1 syntheses of 20-60 s each,
    `synth_jobs()` at a time), imported as the default is, in the combinations' order; [] without
    data.all's source. `progress` hears of each synthesis as it ends (a first build takes minutes)."""
    source = upstream_source(upstream)
    if source is None:
        return []
    others = combinations(options)[1:]
    jobs = synth_jobs()
    done = _Counter(len(others))

    def settings(combination: Combination) -> dict[str, Any]:
        return synthesis_settings(options, combination)

    def synthesized(combination: Combination) -> Path:
        environment = settings(combination)
        started = time.monotonic()
        try:
            folder = upstream_synthesize(source, upstream.version, environment=environment)
            if progress is not None:
                changed = ", ".join(f"{o.option}={str(combination[o.option]).lower()}" for o in options
                                    if combination[o.option] != o.default)  # fmt: skip
                progress(f"data.all's variant {done.next()}/{done.total} ({changed}): {_took(started)}")
            return folder
        except UpstreamError as error:
            given = ", ".join(
                f"{o.key}={combination[o.option]} (option {o.option})" for o in options if o.key in environment
            )
            raise BuildError(
                f"data.all's variant {given}: {error}; {VARIANTS_ENV}=0 builds a release without variants "
                f"(it then offers no {', '.join(o.option for o in options)})"
            ) from error

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dataall-synth") as pool:
        folders = list(pool.map(synthesized, others))
    return [
        (
            combination,
            import_stages(CloudAssembly.load(folder), package, settings=settings(combination), reuse=default.packaged),
        )
        for combination, folder in zip(others, folders, strict=True)
    ]


def release_options(
    stacks: Iterable[StackArtifact],
    stages: Iterable[ImportedStage] = (),
    variants: Iterable[VariantOption] = (),
) -> dict[str, dict[str, Any]]:
    """The release's options: each layer another account publishes per region (data.all's Klayers
    `cryptography` layer), defaulting to the ARN synthesized for data.all's home region; Plan refuses
    it for a stage of another region (`same_region`) until the operator gives that region's ARN.
    Then each value rule's parameter a stage declares (`rules.value_option`, defaulting to data.all's
    value at synthesis), and each variant option the release holds variants of; with EnableCustomAuth, every
    custom-auth option (those only the web UI takes, as CustomAuthScopes, are in no template)."""
    options: dict[str, dict[str, Any]] = {}
    for stack in stacks:
        synthesis = rules.Synthesis(
            account=stack.account, region=stack.region, asset_buckets=frozenset(), asset_keys={}
        )
        templates = [stack.template, *(nested.template for nested in stack.nested().values())]
        for name, arn in sorted(p for t in templates for p in rules.pinned_layers(t, synthesis).items()):
            layer, region = arn.split(":")[6], arn.split(":")[3]
            options[name] = {
                "type": "string",
                "default": arn,
                "pattern": rules.LAYER_ARN,
                "same_region": True,
                "label": f"{layer} layer ARN",
                "group": "data.all",
                "description": f"The ARN of the Lambda layer {layer} in the installation's region "
                f"(data.all looks it up at synthesis; the default is {region}'s)",
            }
    defaults = rules.Synthesis(account="", region="", asset_buckets=frozenset(), asset_keys={})
    variants = tuple(variants)
    parameters = {name for stage in stages for name in rules.value_parameters(stage.template)}
    if any(variant.option == rules.CUSTOM_AUTH_ENABLED for variant in variants):
        parameters |= set(rules.CUSTOM_AUTH_PARAMETERS.values())
    for parameter in sorted(parameters):
        options[parameter] = rules.value_option(parameter, defaults)
    for variant in variants:
        options[variant.option] = {
            "type": "boolean",
            "default": variant.default,
            "label": variant.label,
            "group": "data.all",
            "description": variant.description,
        }
    return options


def upstream_source(upstream: Upstream) -> Path | None:
    """data.all's source tree the upstream's assembly was synthesized from, when it is beside it:
    a checkout, the shared layout (`<version>/source` beside `<version>/cdk.out`), a clone."""
    folder = Path(upstream.origin.partition(": ")[2])
    for candidate in (folder, folder / "source", folder.parent / "source"):
        if (candidate / "backend" / "migrations" / "versions").is_dir() and (candidate / "config.json").is_file():
            return candidate
    return None


def migration_package(upstream: Upstream) -> tuple[migrations.MigrationPackage, bytes] | None:
    """The release's migration function package, built from data.all's source (None: no source)."""
    source = upstream_source(upstream)
    if source is None:
        return None
    try:
        data = dataall_migrations.package(source)
    except dataall_migrations.PackageError as error:
        raise BuildError(f"data.all's migration package: {error}") from error
    key = f"{ASSET_PREFIX}{hashlib.sha256(data).hexdigest()}.zip"
    return migrations.MigrationPackage(key, dataall_migrations.runtime(), dataall_migrations.HANDLER), data


def site_bundle(
    upstream: Upstream, *, custom_auth: bool = False, progress: Progress | None = None
) -> tuple[str, bytes]:
    """The release's web UI bundle (release key, bytes), built from data.all's source beside the assembly;
    with `custom_auth`, the one signing in at data.all's custom auth provider (`frontend.build`)."""
    source = upstream_source(upstream)
    if source is None:
        raise BuildError(
            f"{upstream.origin}: no data.all source beside the assembly to build its web UI from "
            f"(a `source/` holding frontend/); {SITE_ENV}=0 builds a release without it"
        )
    started = time.monotonic()
    try:
        bundle = frontend.build(source, custom_auth=custom_auth)
    except frontend.FrontendBuildError as error:
        raise BuildError(f"data.all's web UI: {error}") from error
    if progress is not None:
        progress(f"data.all's web UI{' (custom auth)' if custom_auth else ''}: {_took(started)}")
    return f"{ASSET_PREFIX}{bundle.sha256}.zip", bundle.data


def site_wanted(*, default: bool) -> bool:
    """`$DATAALL_INSTALLER_SITE` (0 is off, anything else on), else `default`."""
    value = os.environ.get(SITE_ENV, "")
    return default if value == "" else value != "0"


def build_dataall_release(
    out_dir: Path,
    upstream: Upstream,
    *,
    layer: bool = True,
    nag: bool = True,
    migrate: bool | None = None,
    site: bool | None = None,
    image_registry: str | None = None,
    variants: bool | Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Release:
    """Import data.all's assembly and write it as a release (`out_dir/<version>/`).

    With `migrate` (the default, unless `$DATAALL_INSTALLER_MIGRATE` is 0) the release has the
    `migrations` stage and the `migrate` action, built from data.all's source beside the assembly.
    With `site` (default: `$DATAALL_INSTALLER_SITE=1`, else off) it ships data.all's web UI bundle, also
    from the source.
    With `variants` (the default, unless `$DATAALL_INSTALLER_VARIANTS` is 0 or names some:
    `variant_options`) and data.all's source beside the assembly, the stages that the variant options
    change have a variant each (data.all's synthesis with the option's other value: about a minute the
    first time, then cached). `progress` hears of each web UI build and synthesis as it ends."""
    chosen = variant_options(variants)
    if migrate is None:
        migrate = os.environ.get(MIGRATE_ENV, "1") != "0"
    if site is None:
        site = site_wanted(default=False)
    site_asset = site_bundle(upstream, progress=progress) if site else None
    built = migration_package(upstream) if migrate else None
    if migrate and built is None:
        raise BuildError(
            f"{upstream.origin}: no data.all source beside the assembly to build its migrations from "
            f"(a `source/` holding backend/migrations and config.json); {MIGRATE_ENV}=0 builds a release "
            "that never migrates its database"
        )
    try:
        report = import_stages(upstream.assembly, built[0] if built else None)
    except rules.RuleError as error:
        raise BuildError(f"{upstream.origin}: the import of data.all's stacks: {error}") from error
    # data.all's web UI with its custom auth provider: another build, published where EnableCustomAuth is on, made
    # while the variants are synthesized (webpack's one core beside the syntheses: minutes less on a first build)
    beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataall-web-ui")
    try:
        custom_auth_build = (
            beside.submit(site_bundle, upstream, custom_auth=True, progress=progress)
            if site_asset and any(o.option == rules.CUSTOM_AUTH_ENABLED for o in chosen)
            else None
        )
        synthesized = import_variants(upstream, report, built[0] if built else None, chosen, progress) if chosen else []
        offered = chosen if synthesized else ()
        custom_auth_site = (
            custom_auth_build.result()
            if custom_auth_build is not None and any(o.option == rules.CUSTOM_AUTH_ENABLED for o in offered)
            else None
        )
    finally:
        beside.shutdown(wait=False, cancel_futures=True)
    composed = compose_stages(offered, [(combinations(offered)[0], report), *synthesized])
    composed = _running_the_installations_frontend(composed, site_asset[0] if site_asset else None)
    for _, other in synthesized:
        written = {id(c.stage) for c in composed} | {id(v.stage) for c in composed for v in c.variants}
        used = {a.key for stage in other.stages if id(stage) in written for a in stage.assets}
        report.assets.update({key: data for name, (key, data) in other.packaged.items() if name in used})
    actions = []
    every = [*(c.stage for c in composed), *(v.stage for c in composed for v in c.variants)]
    found = images_in_templates((stage.name, stage.template) for stage in every)
    registry = image_registry or os.environ.get(IMAGE_REGISTRY_ENV) or None
    image_document = pinned_images(upstream.version, found, registry) if found else None
    if found:
        actions.append(images_action())
    runs_images = {stage for image in found for stage in image.stages}
    if built is not None:
        package, data = built
        report.assets[package.key] = data
        aurora = next(stage for stage in report.stages if stage.name == "aurora")
        actions.append(migrations.migrate_action([s.name for s in report.stages], aurora.name, aurora.template))
    actions.append(_site_action(report.stages, every, offered, custom_auth_site[0] if custom_auth_site else None))
    options = release_options(_platform_stacks(upstream.assembly), every, offered)
    site_assets = dict([site_asset] if site_asset else []) | dict([custom_auth_site] if custom_auth_site else [])
    # Every template the release holds (its stages, their variants): what the service role may deploy.
    templates = {
        **{f"blueprints/{c.stage.name}.template.json": c.stage.template for c in composed},
        **{variant.template: variant.stage.template for c in composed for variant in c.variants},
    }
    bootstrap_template, installer_assets = _bootstrap(
        upstream.version,
        options=options,
        layer=layer,
        nag=nag,
        database_names=_database_names(report.stages) if built else None,
        stage_regions=tuple(sorted({stage.region for stage in report.stages if stage.region})),
        adopted_parameters=tuple(value["adopt_ssm_parameter"] for value in installation_values(report.stages).values()),
        images=_image_grants(image_document, report.stages),
        stage_grants=grants.stage_grants(templates),
        frontend_image=any(FRONTEND_IMAGE in t.get("Resources", {}) for t in templates.values()),
    )
    return write_release(
        out_dir,
        name=NAME,
        version=upstream.version,
        options=options,
        rules=option_rules(options),
        stages=[
            _composed_document(stage_document(c.stage, after_images=c.stage.name in runs_images), c) for c in composed
        ],
        actions=actions,
        templates=templates,
        bootstrap_template=bootstrap_template,
        assets={**report.assets, **installer_assets, **site_assets},
        site={"bundle": site_asset[0]} if site_asset else None,
        values=installation_values(report.stages),
        images=image_document,
    )


def _site_action(
    stages: list[ImportedStage], every: list[ImportedStage], offered: Sequence[VariantOption], custom_auth: str | None
) -> dict[str, Any]:
    """The `site` action (data.all's web UI published to its CloudFront site), with its variants; where
    the release offers InternetFacing, on its CloudFront combinations only (a private data.all's web UI is
    in its frontend image: `_running_the_installations_frontend`)."""
    try:
        web_ui = with_custom_domain(with_rum_monitor(site_action(stages), every), every)
        action = with_custom_auth(web_ui, every, bundle=custom_auth)
    except SiteImportError as error:
        raise BuildError(f"data.all's web UI: {error}") from error
    if INTERNET_FACING in offered:
        action = {**action, "when": {"option": INTERNET_FACING.option, "equals": True}}
    return action


def _running_the_installations_frontend(composed: list[ComposedStage], bundle: str | None) -> list[ComposedStage]:
    """The stages (and variants) that run data.all's frontend image running the installation's instead
    (`frontend_image_of_the_installation`: its albfront stage, with `internet_facing=false`), with the
    release's web UI `bundle` in it."""
    stages = [*(c.stage for c in composed), *(v.stage for c in composed for v in c.variants)]

    def made(stage: ImportedStage) -> ImportedStage:
        if not runs_frontend_image(stage.template):
            return stage
        try:
            return frontend_image_of_the_installation(stage, stages, bundle)
        except SiteImportError as error:
            raise BuildError(f"data.all's private web UI: {error}") from error

    return [
        replace(c, stage=made(c.stage), variants=tuple(replace(v, stage=made(v.stage)) for v in c.variants))
        for c in composed
    ]


def _image_grants(document: dict[str, Any] | None, stages: list[Any]) -> ImageGrants | None:
    """What the bootstrap stack grants the images step: the release's repositories in the publisher's
    registry, and their namesakes in the regions of the stages that run them."""
    from bootstrap_stack import ImageGrants

    if not document:
        return None
    running = {stage for image in document["images"] for stage in image["stages"]}
    return ImageGrants(
        registry=document["registry"],
        region=document["region"],
        repositories=tuple(sorted({image["repository"] for image in document["images"]})),
        regions=tuple(sorted({s.region for s in stages if s.name in running and s.region})),
    )


def _composed_document(document: dict[str, Any], composed: ComposedStage) -> dict[str, Any]:
    """A stage's manifest entry with its condition and its variants (their parameters, when they differ)."""
    if composed.when is not None:
        document = {**document, "when": composed.when}
    if not composed.variants:
        return document
    entries = []
    for variant in composed.variants:
        entry: dict[str, Any] = {"when": variant.when, "template": variant.template}
        parameters = stage_document(variant.stage)["parameters"]
        if parameters != document["parameters"]:
            entry["parameters"] = parameters
        entries.append(entry)
    return {**document, "outputs": list(composed.outputs), "variants": entries}


def _named(template: dict[str, Any], resource_type: str, name_property: str) -> str:
    names = [
        resource.get("Properties", {}).get(name_property)
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == resource_type
    ]
    if len(names) != 1:
        raise BuildError(f"expected one {resource_type} with a {name_property}, found {names!r}")
    try:
        return rules.name_template(names[0])
    except rules.RuleError as error:
        raise BuildError(f"{resource_type} {name_property}: {error}") from error


def _database_names(stages: list[Any]) -> DatabaseNames:
    """The migration function and the cluster data.all's templates name (at synthesis: its
    `resource_prefix` and `envname`), which the bootstrap stack grants the migrate step."""
    from bootstrap_stack import DatabaseNames

    by_name = {stage.name: stage.template for stage in stages}
    return DatabaseNames(
        migration_function=_named(by_name[migrations.MIGRATIONS_STAGE], "AWS::Lambda::Function", "FunctionName"),
        cluster=_named(by_name["aurora"], "AWS::RDS::DBCluster", "DBClusterIdentifier"),
    )


def _bootstrap(
    version: str,
    *,
    layer: bool,
    nag: bool,
    database_names: DatabaseNames | None = None,
    stage_regions: tuple[str, ...] = (),
    adopted_parameters: tuple[str, ...] = (),
    options: dict[str, dict[str, Any]] | None = None,
    images: ImageGrants | None = None,
    stage_grants: StageGrants | None = None,
    frontend_image: bool = False,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The bootstrap stack's template for this release, and the installer's own assets."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import tempfile

    import aws_cdk as cdk

    from blueprints.common import BuildContext
    from bootstrap_stack import BootstrapStack

    assets = AssetRegistry()
    layer_asset = assets.add("layer", build_layer(list(layer_requirements()))) if layer else None
    context = BuildContext(assets=assets, layer=layer_asset, nag=nag)
    installer_code = assets.add_tree("installer-lambdas", [(LAMBDAS_DIR, "lambdas")])
    with tempfile.TemporaryDirectory(prefix="cdk-out-") as cdk_out:
        app = cdk.App(outdir=cdk_out, analytics_reporting=False, context=dict(CDK_CONTEXT))
        stack = BootstrapStack(
            app,
            "bootstrap",
            context=context,
            version=version,
            installer_code=installer_code,
            options=options or {},
            database_names=database_names,
            stage_regions=stage_regions,
            adopted_parameters=adopted_parameters,
            images=images,
            stage_grants=stage_grants,
            frontend_image=frontend_image,
        )
        template = synthesize(app, Path(cdk_out)).get_stack_by_name(stack.stack_name).template
    return template, {asset.key: asset.data for asset in assets}
