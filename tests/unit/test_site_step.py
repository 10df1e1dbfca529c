"""The `site` action (`lambdas/site/step.py`, its handler `lambdas/handlers/publish_site.py`) and its
undo in the rollback, on moto: the release's bundle published with the values of this installation's
stages, a release without a bundle skipped (and the step says why), an upgrade replacing the site and
a rollback putting the previous release's site back, an install's rollback taking its site out.

The action's parameters are made as the build makes them (`blueprints.dataall.site.site_action`,
from data.all's SSM parameter names), so the build's lookup and the step read the same release."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from blueprints.dataall import rules
from blueprints.dataall.site import SiteImportError, site_action, with_custom_auth, with_custom_domain
from blueprints.dataall.stages import ImportedStage
from installer import frontend
from lambdas.core.deps import Deps
from lambdas.core.errors import StageFailed
from lambdas.core.messages import RollbackState, StepRef, StepState
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger, now_iso
from lambdas.data.ledger_table import attribute_definitions, key_schema
from lambdas.data.records import ReleaseRecord, RunRecord, StageRecord
from lambdas.data.releases import ReleaseStore, release_key
from lambdas.data.stacks import Stacks
from lambdas.handlers import publish_site
from lambdas.release.manifest import Manifest, sha256_bytes
from lambdas.rollback.recovery import Rollback
from lambdas.run.planning import _plan_uninstall
from lambdas.site.publish import DIGEST_METADATA
from lambdas.site.step import SiteStep
from tests.unit.conftest import site_distribution
from tests.unit.test_site_bundle import _fake_build

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARTIFACTS = "dataall-test-artifacts"
LEDGER = "dataall-test-installer-ledger"
SITE_BUCKET = "dataall-test-cloudfront-dataalldevfrontend-1a2b3c"
TEMPLATE = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
API = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/"


def _ssm(name: str, value: Any) -> dict[str, Any]:
    return {"Type": "AWS::SSM::Parameter", "Properties": {"Name": f"/dataall/dev/{name}", "Value": value}}


#: data.all's stages in miniature: the SSM parameters its frontend config reads, and the outputs
#: (one of them CDK's long reference name beside data.all's own) holding the same values.
STAGES = [
    ImportedStage(
        name="cognito",
        source="backend/Cognito",
        region=None,
        template={
            "Resources": {
                "Pool": _ssm("cognito/userpool", {"Ref": "UserPool"}),
                "Client": _ssm("cognito/appclient", {"Ref": "AppClient"}),
                "Domain": _ssm("cognito/domain", {"Ref": "UserPoolDomain"}),
            },
            "Outputs": {
                "CognitoUserPoolId": {"Value": {"Ref": "UserPool"}},
                "dataallbackendCognitoUserPoolRef": {"Value": {"Ref": "UserPool"}},
                "CognitoAppCliendId": {"Value": {"Ref": "AppClient"}},
                "CognitoDomainName": {"Value": {"Ref": "UserPoolDomain"}},
            },
        },
        parameters={},
        depends_on=(),
        stateful=True,
    ),
    ImportedStage(
        name="lambdas",
        source="backend/Lambdas",
        region=None,
        template={
            "Resources": {"Url": _ssm("apiGateway/backendUrl", {"Fn::Join": ["", ["https://", {"Ref": "Api"}]]})},
            "Outputs": {"Urldev": {"Value": {"Fn::Join": ["", ["https://", {"Ref": "Api"}]]}}},
        },
        parameters={},
        depends_on=("cognito",),
        stateful=False,
    ),
    ImportedStage(
        name="cloudfront",
        source="cloudfront/CloudFront",
        region="us-east-1",
        template={
            "Resources": {
                "Id": _ssm("CloudfrontDistributionId", {"Ref": "Distribution"}),
                "Host": _ssm("CloudfrontDistributionDomainName", {"Fn::GetAtt": ["Distribution", "DomainName"]}),
                "Bucket": _ssm("CloudfrontDistributionBucket", {"Ref": "Site"}),
            },
            "Outputs": {
                "OutputCfnFrontDistribution": {"Value": {"Ref": "Distribution"}},
                "OutputCfnFrontDistributionDomainName": {"Value": {"Fn::GetAtt": ["Distribution", "DomainName"]}},
                "OutputCfnFrontDistributionBucket": {"Value": {"Ref": "Site"}},
            },
        },
        parameters={},
        depends_on=(),
        stateful=False,
    ),
]


@pytest.fixture
def aws() -> Iterator[tuple[Deps, str]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        s3.create_bucket(Bucket=SITE_BUCKET)
        distribution = _distribution()
        table = boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName=LEDGER,
            KeySchema=key_schema(),
            AttributeDefinitions=attribute_definitions(),
            BillingMode="PAY_PER_REQUEST",
        )
        deps = Deps(
            settings=Settings(
                ledger_table=LEDGER, artifacts_bucket=ARTIFACTS, resource_prefix="dataall", env_name="test"
            ),
            ledger=Ledger(table),
            store=ReleaseStore(s3, ARTIFACTS),
            stacks=Stacks(boto3.client("cloudformation", region_name=REGION)),
            sfn=boto3.client("stepfunctions", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            region=REGION,
            account_id=ACCOUNT,
        )
        yield deps, distribution


def _distribution() -> str:
    return str(site_distribution(f"{SITE_BUCKET}.s3.amazonaws.com", root_object="index.html")["Id"])


def _bundle(tmp_path: Path, name: str, main: str) -> bytes:
    build = _fake_build(tmp_path / name)
    (build / "static" / "js" / "main.1a2b.js").rename(build / "static" / "js" / main)
    index = build / "index.html"
    index.write_text(index.read_text().replace("main.1a2b.js", main))
    return frontend.package(build, name.ljust(64, "0"))


def _release(deps: Deps, version: str, bundle: bytes | None, *, custom_domain: bool = False) -> None:
    """A release in the artifacts bucket with data.all's three stages the site reads and the action (with
    `custom_domain`, the action takes the option CustomDomainName, as the build makes it for a release whose
    stages' EnableCustomDomain variants take it)."""
    s3 = deps.store.s3
    files = {}
    for stage in STAGES:
        key = f"blueprints/{stage.name}.template.json"
        s3.put_object(Bucket=ARTIFACTS, Key=release_key(version, key), Body=TEMPLATE.encode())
        files[key] = sha256_bytes(TEMPLATE.encode())
    document = _document(version, STAGES, files)
    if custom_domain:
        taking = ImportedStage(
            "cloudfront", "f/CloudFront", None, {"Parameters": {"CustomDomainName": {}}}, {}, (), False
        )
        document["actions"] = [with_custom_domain(document["actions"][0], [taking])]
        document["options"] = {"CustomDomainName": {"type": "string", "default": ""}}
    if bundle is not None:
        key = f"assets/{sha256_bytes(bundle)}.zip"
        s3.put_object(Bucket=ARTIFACTS, Key=release_key(version, key), Body=bundle)
        files[key] = sha256_bytes(bundle)
        document["site"] = {"bundle": key}
    s3.put_object(Bucket=ARTIFACTS, Key=release_key(version, "manifest.json"), Body=json.dumps(document).encode())


def _document(version: str, stages: list[ImportedStage], files: dict[str, str]) -> dict[str, Any]:
    """The manifest of a release with these stages and the site action the build makes of them."""
    return {
        "format": 1,
        "name": "dataall",
        "version": version,
        "options": {},
        "rules": [],
        "stages": [
            {
                "name": stage.name,
                "template": f"blueprints/{stage.name}.template.json",
                "parameters": {},
                "depends_on": list(stage.depends_on),
                "stateful": stage.stateful,
                "timeout": 1800,
                "outputs": sorted(stage.outputs),
                **({"region": stage.region} if stage.region else {}),
            }
            for stage in stages
        ],
        "actions": [site_action(stages)],
        "files": files,
    }


OUTPUTS = {
    "cognito": {
        "CognitoUserPoolId": "us-east-1_Sandb0xPl",
        "dataallbackendCognitoUserPoolRef": "us-east-1_Sandb0xPl",
        "CognitoAppCliendId": "7sandboxclient0id1234567ab",
        "CognitoDomainName": "dataall-test-123456789012",
    },
    "lambdas": {"Urldev": API},
}


def _deployed(deps: Deps, run: str, version: str, distribution: str) -> None:
    outputs = {
        **OUTPUTS,
        "cloudfront": {
            "OutputCfnFrontDistribution": distribution,
            "OutputCfnFrontDistributionDomainName": "d111111abcdef8.cloudfront.net",
            "OutputCfnFrontDistributionBucket": SITE_BUCKET,
        },
    }
    for stage, values in outputs.items():
        name = deps.settings.stack_name(stage)
        deps.ledger.put_stage(
            StageRecord(
                stage=stage,
                stack_name=name,
                stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/1",
                version=version,
                template_sha256="0" * 64,
                parameters={},
                outputs=values,
                status="CREATE_COMPLETE",
                stateful=False,
                run=run,
            )
        )


def _run(
    deps: Deps, run: str, version: str, previous: str | None = None, params: dict[str, str] | None = None
) -> StepState:
    deps.ledger.put_run(
        RunRecord(
            run=run,
            action="upgrade" if previous else "install",
            version=version,
            status="RUNNING",
            started=now_iso(),
            params={"Region": REGION, **(params or {})},
            previous={"version": previous, "options": {}} if previous else None,
        )
    )
    return StepState(run=run, step=StepRef(name="site", kind="site"))


def _context() -> Any:
    return SimpleNamespace(
        function_name="dataall-test-publish-site",
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:dataall-test-publish-site",
        aws_request_id="req-1",
    )


def _served(deps: Deps, key: str) -> str:
    return str(deps.store.s3.get_object(Bucket=SITE_BUCKET, Key=key)["Body"].read().decode())


def _digest(deps: Deps) -> str:
    return str(deps.store.s3.head_object(Bucket=SITE_BUCKET, Key="index.html")["Metadata"][DIGEST_METADATA])


def _invalidations(distribution: str) -> int:
    listed = boto3.client("cloudfront", region_name=REGION).list_invalidations(DistributionId=distribution)
    return int(listed["InvalidationList"]["Quantity"])


def _rolled_back(deps: Deps, run: str) -> None:
    state = RollbackState(run=run)
    for _ in range(10):
        state = Rollback(deps, state).step()
        if state.done:
            return
    raise AssertionError("the rollback did not finish")


def test_the_build_reads_the_site_values_from_the_outputs_data_alls_ssm_parameters_hold() -> None:
    parameters = site_action(STAGES)["parameters"]

    assert parameters["REACT_APP_COGNITO_USER_POOL_ID"] == "${stage:cognito.CognitoUserPoolId}"
    assert parameters["REACT_APP_GRAPHQL_API"] == "${stage:lambdas.Urldev}graphql/api"
    assert (
        parameters["REACT_APP_COGNITO_DOMAIN"]
        == "${stage:cognito.CognitoDomainName}.auth.${param:Region}.amazoncognito.com"
    )
    assert (
        parameters["REACT_APP_COGNITO_REDIRECT_SIGNIN"]
        == "https://${stage:cloudfront.OutputCfnFrontDistributionDomainName}"
    )
    assert parameters["SiteBucket"] == "${stage:cloudfront.OutputCfnFrontDistributionBucket}"
    assert set(parameters) - {"SiteBucket", "DistributionId"} == set(frontend.PLACEHOLDERS)


#: data.all's `FrontendCognitoConfig`, nested in its CloudFront stack beside `CloudFront`: a trigger
#: that points the user pool client's callback URLs at the distribution (it reads SSM, no output).
COGNITO_URLS = ImportedStage(
    name="frontend-cognito-config",
    source="cloudfront/FrontendCognitoConfig",
    region="us-east-1",
    template={"Resources": {"Trigger": {"Type": "Custom::Trigger", "Properties": {}}}},
    parameters={},
    depends_on=("cloudfront", "cognito", "lambdas"),
    stateful=False,
)


def test_the_site_is_published_after_the_whole_stack_that_makes_its_bucket_cognitos_callback_urls_included() -> None:
    """data.all's pipeline syncs its site once its CloudFront stack is deployed whole, so Cognito's
    callback URLs point at the distribution before a user arrives; the action depends on every stage
    of that stack, which it reads no output of, and on none of the backend's it does not read."""
    stages = [*STAGES, COGNITO_URLS]
    files = {f"blueprints/{stage.name}.template.json": sha256_bytes(TEMPLATE.encode()) for stage in stages}

    action = site_action(stages)
    manifest = Manifest.from_document(_document("2.9.0", stages, files))

    assert action["depends_on"] == ["cloudfront", "frontend-cognito-config"]
    assert manifest.steps["site"].dependencies() == {"cloudfront", "cognito", "frontend-cognito-config", "lambdas"}
    assert site_action(STAGES)["depends_on"] == ["cloudfront"]


def test_the_build_refuses_a_release_whose_stages_do_not_give_a_site_value() -> None:
    without_api = [stage for stage in STAGES if stage.name != "lambdas"]

    with pytest.raises(SiteImportError, match="ApiUrl"):
        site_action(without_api)


def test_the_site_is_published_with_this_installations_values_and_the_distribution_invalidated(
    aws: tuple[Deps, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps, distribution = aws
    _release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"))
    _deployed(deps, "install-1", "2.9.0", distribution)
    state = _run(deps, "install-1", "2.9.0")
    monkeypatch.setattr(publish_site.Deps, "from_env", classmethod(lambda cls, context: deps))

    answer = publish_site.handler(state.model_dump(), _context())

    assert (answer["phase"], answer["result"]) == ("done", "PUBLISHED")
    main = _served(deps, "static/js/main.290.js")
    assert 'REACT_APP_COGNITO_USER_POOL_ID:"us-east-1_Sandb0xPl"' in main
    assert f'REACT_APP_GRAPHQL_API:"{API}graphql/api"' in main
    assert 'REACT_APP_COGNITO_DOMAIN:"dataall-test-123456789012.auth.us-east-1.amazoncognito.com"' in main
    assert 'REACT_APP_COGNITO_REDIRECT_SIGNIN:"https://d111111abcdef8.cloudfront.net"' in main
    assert "__DATAALL_" not in main
    assert _invalidations(distribution) == 1
    record = deps.ledger.step("install-1", "site")
    assert record.executed and record.site_bucket == SITE_BUCKET and record.invalidation_id


@pytest.mark.parametrize(
    ("name", "url"),
    [("dataall.example.com", "https://dataall.example.com"), ("", "https://d111111abcdef8.cloudfront.net")],
)
def test_with_a_custom_domain_the_web_ui_signs_in_and_out_at_the_name_as_data_alls_frontend_config_does(
    aws: tuple[Deps, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, url: str
) -> None:
    # data.all's frontend_config.py: with custom_domain, the redirects are https://<custom_domain_name>
    deps, distribution = aws
    _release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"), custom_domain=True)
    _deployed(deps, "install-1", "2.9.0", distribution)
    state = _run(deps, "install-1", "2.9.0", params={"CustomDomainName": name})
    monkeypatch.setattr(publish_site.Deps, "from_env", classmethod(lambda cls, context: deps))

    answer = publish_site.handler(state.model_dump(), _context())

    assert (answer["phase"], answer["result"]) == ("done", "PUBLISHED")
    main = _served(deps, "static/js/main.290.js")
    assert (
        f'REACT_APP_COGNITO_REDIRECT_SIGNIN:"{url}"' in main and f'REACT_APP_COGNITO_REDIRECT_SIGNOUT:"{url}"' in main
    )


#: An identity provider's values (data.all's custom_auth), as the options give them.
IDP = {
    "CustomAuthProvider": "Okta",
    "CustomAuthUrl": "https://example.okta.com/oauth2/default",
    "CustomAuthRedirectUrl": "https://d111111abcdef8.cloudfront.net",
    "CustomAuthClientId": "0oa1b2c3d4e5f6g7h8i9",
    "CustomAuthResponseTypes": "code",
    "CustomAuthScopes": "openid email profile",
    "CustomAuthUserIdClaim": "sub",
    "CustomAuthEmailClaim": "email",
}


def _custom_auth_bundle(tmp_path: Path) -> bytes:
    """A bundle of the custom-auth build in miniature: its tokens (`frontend.placeholders(custom_auth=True)`)."""
    build = _fake_build(tmp_path / "custom-auth")
    env = ",".join(f'{name}:"{token}"' for name, token in frontend.placeholders(custom_auth=True).items())
    (build / "static" / "js" / "main.1a2b.js").write_text(f"var e={{{env}}};console.log(e)")
    return frontend.package(build, "c" * 64, custom_auth=True)


def _custom_auth_release(deps: Deps, version: str, bundle: bytes, custom_auth_bundle: bytes) -> None:
    """A release whose `lambdas` stage has an EnableCustomAuth variant taking the IdP's values: its cognito stage
    off with it, its site action with the variant the build makes (the custom-auth bundle, the IdP's values)."""
    _release(deps, version, bundle)
    s3 = deps.store.s3
    document = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=release_key(version, "manifest.json"))["Body"].read())
    key = f"assets/{sha256_bytes(custom_auth_bundle)}.zip"
    s3.put_object(Bucket=ARTIFACTS, Key=release_key(version, key), Body=custom_auth_bundle)
    document["files"][key] = sha256_bytes(custom_auth_bundle)
    taking = ImportedStage("lambdas", "b/Lambdas", None, {"Parameters": {"CustomAuthUrl": {}}}, {}, (), False)
    document["actions"] = [with_custom_auth(document["actions"][0], [*STAGES, taking], bundle=key)]
    document["options"] = {
        "EnableCustomAuth": {"type": "boolean", "default": False},
        **{name: {"type": "string", "default": ""} for name in rules.CUSTOM_AUTH_PARAMETERS.values()},
    }
    for entry in document["stages"]:
        if entry["name"] == "cognito":
            entry["when"] = {"option": "EnableCustomAuth", "equals": False}
    s3.put_object(Bucket=ARTIFACTS, Key=release_key(version, "manifest.json"), Body=json.dumps(document).encode())


def test_with_custom_auth_the_web_ui_of_the_providers_build_takes_its_values_and_none_of_cognitos(
    aws: tuple[Deps, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # data.all's frontend_config.py with custom_auth: REACT_APP_CUSTOM_AUTH_* from its keys, no Cognito value
    deps, distribution = aws
    _custom_auth_release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"), _custom_auth_bundle(tmp_path))
    _deployed(deps, "install-1", "2.9.0", distribution)
    deps.ledger.delete_stage("cognito")  # no user pool: the site reads none of its outputs
    state = _run(deps, "install-1", "2.9.0", params={"EnableCustomAuth": True, **IDP})  # type: ignore[dict-item]
    monkeypatch.setattr(publish_site.Deps, "from_env", classmethod(lambda cls, context: deps))

    answer = publish_site.handler(state.model_dump(), _context())

    assert (answer["phase"], answer["result"]) == ("done", "PUBLISHED")
    main = _served(deps, "static/js/main.1a2b.js")  # the custom-auth bundle's, not the Cognito one's main.290.js
    assert 'REACT_APP_CUSTOM_AUTH:"Okta"' in main
    assert 'REACT_APP_CUSTOM_AUTH_URL:"https://example.okta.com/oauth2/default"' in main
    assert 'REACT_APP_CUSTOM_AUTH_REDIRECT_URL:"https://d111111abcdef8.cloudfront.net"' in main
    assert 'REACT_APP_CUSTOM_AUTH_CLIENT_ID:"0oa1b2c3d4e5f6g7h8i9"' in main
    assert (
        'REACT_APP_CUSTOM_AUTH_RESP_TYPES:"code"' in main
        and 'REACT_APP_CUSTOM_AUTH_SCOPES:"openid email profile"' in main
    )
    assert 'REACT_APP_CUSTOM_AUTH_USERID_CLAIM_MAPPING:"sub"' in main
    assert 'REACT_APP_CUSTOM_AUTH_EMAIL_CLAIM_MAPPING:"email"' in main
    assert f'REACT_APP_GRAPHQL_API:"{API}graphql/api"' in main
    assert "COGNITO" not in main and "__DATAALL_" not in main
    # the same release without custom auth publishes the Cognito bundle with the user pool's values
    _deployed(deps, "upgrade-1", "2.9.0", distribution)
    state = _run(deps, "upgrade-1", "2.9.0")
    assert publish_site.handler(state.model_dump(), _context())["result"] == "PUBLISHED"
    assert 'REACT_APP_COGNITO_USER_POOL_ID:"us-east-1_Sandb0xPl"' in _served(deps, "static/js/main.290.js")


def test_a_release_whose_stages_take_no_custom_auth_gives_its_site_no_variant() -> None:
    assert "variants" not in with_custom_auth(site_action(STAGES), STAGES)


def test_the_site_actions_custom_auth_variant_drops_every_cognito_value_and_reads_no_cognito_output() -> None:
    taking = ImportedStage("lambdas", "b/Lambdas", None, {"Parameters": {"CustomAuthUrl": {}}}, {}, (), False)
    action = with_custom_auth(
        with_custom_domain(site_action(STAGES), [taking]), [*STAGES, taking], bundle="assets/c.zip"
    )
    (variant,) = action["variants"]
    assert variant["when"] == {"option": "EnableCustomAuth", "equals": True}
    parameters = variant["parameters"]
    assert not [key for key in parameters if "COGNITO" in key] and "CustomDomainName" not in parameters
    assert "${stage:cognito." not in json.dumps(parameters)
    assert parameters["REACT_APP_CUSTOM_AUTH_SCOPES"] == "${param:CustomAuthScopes}"
    assert parameters["REACT_APP_CUSTOM_AUTH_USERID_CLAIM_MAPPING"] == "${param:CustomAuthUserIdClaim}"
    assert parameters["SiteBundle"] == "assets/c.zip"
    assert {k: v for k, v in parameters.items() if not k.startswith("REACT_APP_CUSTOM_AUTH") and k != "SiteBundle"} == {
        k: v for k, v in action["parameters"].items() if "COGNITO" not in k and k != "CustomDomainName"
    }


def test_a_release_whose_stages_take_no_custom_domain_gives_its_site_none() -> None:
    assert "CustomDomainName" not in with_custom_domain(site_action(STAGES), STAGES)["parameters"]


def test_a_release_without_a_bundle_skips_the_site_and_the_step_says_why(aws: tuple[Deps, str]) -> None:
    deps, distribution = aws
    _release(deps, "2.9.0", None)
    _deployed(deps, "install-1", "2.9.0", distribution)

    done = SiteStep(deps, _run(deps, "install-1", "2.9.0")).run()

    assert (done.phase, done.result) == ("done", "SKIPPED")
    record = deps.ledger.step("install-1", "site")
    assert record.reason and "ships no web UI bundle" in record.reason and "DATAALL_INSTALLER_SITE=0" in record.reason
    assert not record.executed
    assert deps.store.s3.list_objects_v2(Bucket=SITE_BUCKET)["KeyCount"] == 0


def test_a_bundle_that_does_not_match_its_sha256_fails_the_step_before_writing(
    aws: tuple[Deps, str], tmp_path: Path
) -> None:
    deps, distribution = aws
    bundle = _bundle(tmp_path, "b290", "main.290.js")
    _release(deps, "2.9.0", bundle)
    deps.store.s3.put_object(
        Bucket=ARTIFACTS, Key=f"assets/{sha256_bytes(bundle)}.zip", Body=_bundle(tmp_path, "other", "main.x.js")
    )
    _deployed(deps, "install-1", "2.9.0", distribution)

    with pytest.raises(StageFailed, match="does not match its sha256"):
        SiteStep(deps, _run(deps, "install-1", "2.9.0")).run()
    assert deps.store.s3.list_objects_v2(Bucket=SITE_BUCKET)["KeyCount"] == 0


def test_an_upgrade_replaces_the_site_and_its_rollback_puts_the_previous_releases_site_back(
    aws: tuple[Deps, str], tmp_path: Path
) -> None:
    deps, distribution = aws
    _release(deps, "2.8.0", _bundle(tmp_path, "b280", "main.280.js"))
    _release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"))
    _deployed(deps, "install-1", "2.8.0", distribution)
    SiteStep(deps, _run(deps, "install-1", "2.8.0")).run()
    installed = _digest(deps)

    upgraded = SiteStep(deps, _run(deps, "upgrade-2", "2.9.0", previous="2.8.0")).run()

    assert upgraded.result == "PUBLISHED" and _digest(deps) != installed
    assert "main.290.js" in _served(deps, "index.html")

    _rolled_back(deps, "upgrade-2")

    assert _digest(deps) == installed
    assert "main.280.js" in _served(deps, "index.html")
    assert 'REACT_APP_COGNITO_APP_CLIENT_ID:"7sandboxclient0id1234567ab"' in _served(deps, "static/js/main.280.js")
    assert deps.ledger.step("upgrade-2", "site").rolled_back == "RESTORED"
    assert _invalidations(distribution) == 3


def test_a_failed_installs_rollback_takes_its_site_out_of_the_bucket(aws: tuple[Deps, str], tmp_path: Path) -> None:
    deps, distribution = aws
    _release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"))
    _deployed(deps, "install-1", "2.9.0", distribution)
    SiteStep(deps, _run(deps, "install-1", "2.9.0")).run()
    assert deps.store.s3.list_objects_v2(Bucket=SITE_BUCKET)["KeyCount"] > 0

    _rolled_back(deps, "install-1")

    assert deps.store.s3.list_objects_v2(Bucket=SITE_BUCKET)["KeyCount"] == 0
    record = deps.ledger.step("install-1", "site")
    assert record.rolled_back == "REMOVED" and record.reason and "no release was installed" in record.reason


def test_a_failed_custom_auth_installs_rollback_takes_the_custom_auth_bundles_files_out(
    aws: tuple[Deps, str], tmp_path: Path
) -> None:
    # the files to take out are those of the bundle the run published: the custom-auth build's, not the release's own
    deps, distribution = aws
    _custom_auth_release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"), _custom_auth_bundle(tmp_path))
    _deployed(deps, "install-1", "2.9.0", distribution)
    deps.ledger.delete_stage("cognito")
    SiteStep(deps, _run(deps, "install-1", "2.9.0", params={"EnableCustomAuth": True, **IDP})).run()  # type: ignore[dict-item]
    assert "static/js/main.1a2b.js" in {o["Key"] for o in deps.store.s3.list_objects_v2(Bucket=SITE_BUCKET)["Contents"]}

    _rolled_back(deps, "install-1")

    assert deps.store.s3.list_objects_v2(Bucket=SITE_BUCKET)["KeyCount"] == 0


def test_a_failed_installs_rollback_leaves_no_version_of_its_site_in_a_versioned_bucket(
    aws: tuple[Deps, str], tmp_path: Path
) -> None:
    """data.all's site bucket is versioned: S3 deletes a bucket only once no version or delete marker
    is left in it (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html), so the
    rollback takes every version of what the run wrote, or the stage's stack could not go."""
    deps, distribution = aws
    s3 = deps.store.s3
    s3.put_bucket_versioning(Bucket=SITE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=SITE_BUCKET, Key="kept/by-someone-else.txt", Body=b"not the site's")
    _release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"))
    _deployed(deps, "install-1", "2.9.0", distribution)
    SiteStep(deps, _run(deps, "install-1", "2.9.0")).run()
    s3.put_object(Bucket=SITE_BUCKET, Key="index.html", Body=b"a second version")

    _rolled_back(deps, "install-1")

    listing = s3.list_object_versions(Bucket=SITE_BUCKET)
    left = [(v["Key"], "version") for v in listing.get("Versions", [])]
    left += [(m["Key"], "delete marker") for m in listing.get("DeleteMarkers", [])]
    assert left == [("kept/by-someone-else.txt", "version")]
    assert deps.ledger.step("install-1", "site").rolled_back == "REMOVED"


def _uninstall(deps: Deps, run: str, version: str) -> StepState:
    deps.ledger.put_run(RunRecord(run=run, action="uninstall", version=version, status="RUNNING", started=now_iso()))
    return StepState(run=run, step=StepRef(name="site", kind="site", op="delete"))


def test_an_uninstall_empties_the_site_bucket_before_the_stage_that_makes_it_is_deleted(aws: tuple[Deps, str]) -> None:
    """data.all's site bucket is versioned and its stack does not empty it: CloudFormation's delete of
    the `cloudfront` stage would fail on it. The uninstall's plan runs the site step (op delete) before
    that stage, and after no other (nothing it reads goes first)."""
    deps, distribution = aws
    _release(deps, "2.9.0", None)
    _deployed(deps, "install-1", "2.9.0", distribution)

    installed = ReleaseRecord(version="2.9.0", options={}, run="install-1")

    plan = _plan_uninstall(deps, {"action": "uninstall"}, installed)

    assert plan.kinds == {"cloudfront": "stage", "cognito": "stage", "lambdas": "stage", "site": "site"}
    assert plan.order[0] == "site" and plan.after["site"] == []
    assert "site" in plan.after["cloudfront"]
    assert [item for item in plan.items() if item["name"] == "site"] == [
        {"name": "site", "kind": "site", "op": "delete", "waits": False}
    ]
    cloudfront = deps.ledger.stage("cloudfront")
    assert cloudfront is not None
    deps.ledger.put_stage(cloudfront.model_copy(update={"stateful": True}))
    kept = _plan_uninstall(deps, {"action": "uninstall", "retain_data": True}, installed)
    assert kept.kinds == {"cognito": "stage", "lambdas": "stage"}  # --retain-data keeps the bucket, and its site


def test_the_uninstalls_site_step_deletes_every_version_and_delete_marker_so_s3_deletes_the_bucket(
    aws: tuple[Deps, str], tmp_path: Path
) -> None:
    """S3's DeleteBucket refuses a bucket holding any object version or delete marker
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html): after the step, none is left,
    whoever wrote it, and the bucket can be deleted. A bucket already gone is nothing to do."""
    deps, distribution = aws
    s3 = deps.store.s3
    s3.put_bucket_versioning(Bucket=SITE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    _release(deps, "2.8.0", _bundle(tmp_path, "b280", "main.280.js"))
    _release(deps, "2.9.0", _bundle(tmp_path, "b290", "main.290.js"))
    _deployed(deps, "install-1", "2.9.0", distribution)
    SiteStep(deps, _run(deps, "install-1", "2.8.0")).run()
    SiteStep(deps, _run(deps, "upgrade-2", "2.9.0", previous="2.8.0")).run()
    s3.put_object(Bucket=SITE_BUCKET, Key="notes.txt", Body=b"someone else's")
    s3.delete_object(Bucket=SITE_BUCKET, Key="notes.txt")
    with pytest.raises(ClientError, match="BucketNotEmpty"):
        s3.delete_bucket(Bucket=SITE_BUCKET)

    done = SiteStep(deps, _uninstall(deps, "uninstall-3", "2.9.0")).run()

    assert done.result == "EMPTIED"
    listing = s3.list_object_versions(Bucket=SITE_BUCKET)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    record = deps.ledger.step("uninstall-3", "site")
    assert (record.op, record.site_bucket, record.executed) == ("delete", SITE_BUCKET, True)
    s3.delete_bucket(Bucket=SITE_BUCKET)
    again = SiteStep(deps, _uninstall(deps, "uninstall-4", "2.9.0")).run()
    assert again.result == "EMPTIED" and "gone already" in str(deps.ledger.step("uninstall-4", "site").reason)


def test_a_failed_uninstalls_rollback_leaves_the_emptied_site_bucket_and_says_how_to_publish_again(
    aws: tuple[Deps, str],
) -> None:
    deps, distribution = aws
    _release(deps, "2.9.0", None)
    _deployed(deps, "install-1", "2.9.0", distribution)
    SiteStep(deps, _uninstall(deps, "uninstall-2", "2.9.0")).run()

    _rolled_back(deps, "uninstall-2")

    record = deps.ledger.step("uninstall-2", "site")
    assert record.rolled_back == "IRREVERSIBLE" and "emptied the site bucket" in str(record.reason)
