"""data.all's `custom_auth` as the release option EnableCustomAuth (README: "Options"): the variant synthesized
with a placeholder identity provider, the rule that makes its every value a parameter, the options that fill
them and the combinations Plan refuses; an action's variant (the site's) chosen as a stage's is."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from blueprints.dataall import rules
from installer.build import BuildError
from installer.dataall import VARIANT_OPTIONS, combinations, option_rules, release_options, variant_options
from lambdas.release.manifest import Manifest, ManifestError
from tests.unit.releases import stage

SYNTHESIS = rules.Synthesis(account="111111111111", region="eu-west-1", asset_buckets=frozenset(), asset_keys={})
PLACEHOLDER = rules.CUSTOM_AUTH_PLACEHOLDER
CUSTOM_AUTH = next(o for o in VARIANT_OPTIONS if o.option == "EnableCustomAuth")
#: An operator's identity provider, as data.all's cdk.json takes it.
OKTA = {
    "provider": "Okta",
    "url": "https://example.okta.com/oauth2/default",
    "redirect_url": "https://dataall.example.com",
    "client_id": "0oa1b2c3d4e5f6g7h8i9",
    "response_types": "code",
    "scopes": "openid email profile",
    "claims_mapping": {"user_id": "sub", "email": "email"},
}
#: The same, as the release's options.
OKTA_OPTIONS = {
    "CustomAuthProvider": "Okta",
    "CustomAuthUrl": "https://example.okta.com/oauth2/default",
    "CustomAuthRedirectUrl": "https://dataall.example.com",
    "CustomAuthClientId": "0oa1b2c3d4e5f6g7h8i9",
    "CustomAuthResponseTypes": "code",
    "CustomAuthScopes": "openid email profile",
    "CustomAuthUserIdClaim": "sub",
    "CustomAuthEmailClaim": "email",
}


def lambdas_template(custom_auth: dict[str, Any]) -> dict[str, Any]:
    """Where data.all 2.9.0 puts its custom_auth (deploy/stacks/lambda_api.py): the authorizer's environment
    (provider, url, client, one variable per claims_mapping key), the API handler's and search proxy's."""
    claims = custom_auth["claims_mapping"]
    return {
        "Resources": {
            "Authorizer": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "envname": "dev",
                            "custom_auth_provider": custom_auth["provider"],
                            "custom_auth_url": custom_auth["url"],
                            "custom_auth_client": custom_auth["client_id"],
                            **{key: value for key, value in claims.items()},
                        }
                    }
                },
            },
            "Api": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": {"custom_auth": custom_auth["provider"]}}},
            },
            "Proxy": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": {"custom_auth": custom_auth["provider"]}}},
            },
        }
    }


def with_idp(custom_auth: Mapping[str, Any]) -> rules.Synthesis:
    return replace(SYNTHESIS, settings={rules.CUSTOM_AUTH_KEY: copy.deepcopy(custom_auth)})


def test_the_custom_auth_variants_every_value_becomes_its_parameter_wherever_data_all_put_it() -> None:
    # Given a template of the variant synthesized with the placeholder provider
    result = rules.apply(lambdas_template(dict(PLACEHOLDER)), with_idp(PLACEHOLDER))

    # Then no placeholder value is left, and each place reads its parameter
    assert "dataall-installer" not in json.dumps(result)
    variables = result["Resources"]["Authorizer"]["Properties"]["Environment"]["Variables"]
    assert variables == {
        "envname": {"Ref": "EnvName"},  # the names rule's: the installation's
        "custom_auth_provider": {"Ref": "CustomAuthProvider"},
        "custom_auth_url": {"Ref": "CustomAuthUrl"},
        "custom_auth_client": {"Ref": "CustomAuthClientId"},
        "user_id": {"Ref": "CustomAuthUserIdClaim"},
        "email": {"Ref": "CustomAuthEmailClaim"},
    }
    for function in ("Api", "Proxy"):
        assert result["Resources"][function]["Properties"]["Environment"]["Variables"] == {
            "custom_auth": {"Ref": "CustomAuthProvider"}
        }
    # the web UI's own values (redirect, response types, scopes) are in no template: no parameter of them
    assert rules.value_parameters(result) == [
        "CustomAuthProvider", "CustomAuthUrl", "CustomAuthClientId", "CustomAuthUserIdClaim", "CustomAuthEmailClaim"
    ]  # fmt: skip
    assert result["Parameters"]["CustomAuthUrl"]["AllowedPattern"] == rules.CUSTOM_AUTH_PATTERNS["CustomAuthUrl"]


#: Another provider of unique values: what the rule makes of a synthesis does not depend on the placeholder's.
OTHER = {
    "provider": "OtherIdentityProvider",
    "url": "https://login.other-idp.invalid/oauth2/v2.0",
    "redirect_url": "https://ui.other-idp.invalid",
    "client_id": "a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6",
    "response_types": "id_token token",
    "scopes": "openid other.read",
    "claims_mapping": {"user_id": "other_user_claim", "email": "other_email_claim"},
}


def test_data_all_synthesized_with_another_provider_makes_the_same_template_after_the_rule() -> None:
    # another provider synthesized into data.all and the release's placeholder variant are one template after
    # the rule: the options stand for every value data.all put there
    other = rules.apply(lambdas_template(OTHER), with_idp(OTHER))
    placeholder = rules.apply(lambdas_template(dict(PLACEHOLDER)), with_idp(PLACEHOLDER))
    assert other == placeholder
    assert rules.custom_auth_values(OKTA) == OKTA_OPTIONS
    # an operator's own values are common words ("email" is also the name of the authorizer's variable): the
    # rule could not tell them from data.all's, which is why the variant is synthesized with unique placeholders
    with pytest.raises(rules.RuleError, match=r"custom_auth: \['email'\] remain"):
        rules.apply(lambdas_template(OKTA), with_idp(OKTA))


def test_a_synthesis_without_custom_auth_is_left_as_it_is_and_a_value_the_rule_cannot_reach_is_refused() -> None:
    # without custom_auth, the same strings are data.all's own: nothing changes
    untouched = lambdas_template(dict(PLACEHOLDER))
    applied = rules.apply(untouched, SYNTHESIS)
    assert applied["Resources"]["Authorizer"]["Properties"]["Environment"]["Variables"]["envname"] == {"Ref": "EnvName"}
    applied["Resources"]["Authorizer"]["Properties"]["Environment"]["Variables"]["envname"] = "dev"
    assert {k: v for k, v in applied.items() if k != "Parameters"} == untouched  # but the names rule's envname
    # a placeholder value where no rule rewrites (Mappings): the import stops, naming it
    mapped = {**lambdas_template(dict(PLACEHOLDER)), "Mappings": {"M": {"k": {"v": PLACEHOLDER["client_id"]}}}}
    with pytest.raises(rules.RuleError, match=r"custom_auth: \['dataall-installer-custom-auth-client-id'\]"):
        rules.custom_auth_from_the_options(mapped, with_idp(PLACEHOLDER))


def test_the_placeholder_provider_is_unique_everywhere_and_its_urls_are_reserved_names() -> None:
    values = list(rules.custom_auth_values(PLACEHOLDER).values())
    assert len(values) == len(rules.CUSTOM_AUTH_PARAMETERS) == 8 and all(values)
    assert not [(a, b) for a in values for b in values if a != b and a in b]  # none inside another
    assert PLACEHOLDER["url"].endswith(".invalid") and PLACEHOLDER["redirect_url"].endswith(".invalid")
    # each placeholder is a value its option takes: the variant's template takes what the operator gives
    for parameter, value in rules.custom_auth_values(PLACEHOLDER).items():
        assert re.fullmatch(rules.CUSTOM_AUTH_PATTERNS[parameter], value), parameter
    assert CUSTOM_AUTH.key == "custom_auth" and CUSTOM_AUTH.default is False
    assert CUSTOM_AUTH.key_value(True) == PLACEHOLDER and CUSTOM_AUTH.key_value(False) is False


@pytest.mark.parametrize(
    ("option", "good", "bad"),
    [
        ("CustomAuthUrl", ["https://example.okta.com/oauth2/default", "https://login.example.com:8443/"],
         ["http://example.okta.com", "example.okta.com", "https://", "https://a b.com", 'https://x"y']),
        ("CustomAuthRedirectUrl", ["https://dataall.example.com", "https://d111111abcdef8.cloudfront.net/"],
         ["http://dataall.example.com", "javascript:alert(1)"]),
        ("CustomAuthScopes", ["openid", "openid email profile", "api://dataall/read"],
         ["openid  email", " openid", "openid,email", "openid'"]),
        ("CustomAuthResponseTypes", ["code", "id_token token"], ["Code", "code ", "code;x"]),
        ("CustomAuthProvider", ["Okta", "Azure-AD", "keycloak.1"], ["My IdP", "-x", "x" * 65]),
        ("CustomAuthClientId", ["0oa1b2c3d4e5f6g7h8i9", "a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6"], ["a b", "x'"]),
        ("CustomAuthUserIdClaim", ["sub", "preferred_username", "https://example.com/claims/uid"], ["a b", ""]),
        ("CustomAuthEmailClaim", ["email", "upn"], ["e mail", "x" * 257]),
    ],
)  # fmt: skip
def test_each_custom_auth_option_takes_what_data_all_takes_and_refuses_the_rest(
    option: str, good: list[str], bad: list[str]
) -> None:
    pattern = rules.value_option(option, SYNTHESIS)["pattern"]
    assert re.fullmatch(pattern, "")  # empty: custom auth off (OPTION_RULES refuse it empty with custom auth)
    assert [v for v in good if not re.fullmatch(pattern, v)] == []
    assert [v for v in bad if v and re.fullmatch(pattern, v)] == []
    assert not re.fullmatch(rules.CUSTOM_AUTH_PATTERNS[option], "")


def test_the_release_offers_every_custom_auth_option_with_the_variant_option_and_none_without() -> None:
    options = release_options([], [], [CUSTOM_AUTH])
    assert {name: (spec["type"], spec["default"]) for name, spec in options.items()} == {
        **{name: ("string", "") for name in rules.CUSTOM_AUTH_PARAMETERS.values()},
        "EnableCustomAuth": ("boolean", False),
    }
    assert (
        release_options([], [], [o for o in VARIANT_OPTIONS if o is not CUSTOM_AUTH])
        .keys()
        .isdisjoint(rules.CUSTOM_AUTH_PARAMETERS.values())
    )


def custom_auth_manifest(*, site: dict[str, Any] | None = None) -> Manifest:
    """A release offering EnableCustomAuth, RUM and the canaries, with the rules the build gives it; `site`: an
    action of its own."""
    options = release_options([], [], VARIANT_OPTIONS)
    stages = [
        stage("vpc"),
        stage("cognito", outputs=("PoolId",), when={"option": "EnableCustomAuth", "equals": False}),
        stage("lambdas", outputs=("Url",)),
    ]
    document = {
        "format": 1, "name": "dataall", "version": "2.9.0", "rules": option_rules(options), "options": options,
        "stages": stages, "actions": [site] if site else [],
        "files": {f"blueprints/{s['name']}.template.json": "0" * 64 for s in stages},
    }  # fmt: skip
    return Manifest.from_document(document)


@pytest.mark.parametrize("left_out", list(OKTA_OPTIONS))
def test_custom_auth_without_one_of_its_values_is_refused_naming_them(left_out: str) -> None:
    given = {"EnableCustomAuth": True, **OKTA_OPTIONS, left_out: ""}
    with pytest.raises(ManifestError, match=r"EnableCustomAuth needs every one of CustomAuthProvider, CustomAuthUrl"):
        custom_auth_manifest().resolve_options(given)


@pytest.mark.parametrize("given", list(OKTA_OPTIONS))
def test_a_custom_auth_value_given_without_custom_auth_is_refused_not_ignored(given: str) -> None:
    with pytest.raises(ManifestError, match=r"take effect with EnableCustomAuth=true only"):
        custom_auth_manifest().resolve_options({given: OKTA_OPTIONS[given]})


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ({"EnableCloudWatchRum": True, "EnableCloudWatchCanaries": True}, "EnableCloudWatchRum cannot be combined"),
        ({"EnableCloudWatchCanaries": True}, "EnableCloudWatchCanaries cannot be combined"),
    ],
)
def test_rum_or_the_canaries_with_custom_auth_are_refused_not_dropped_as_data_alls_pipeline_does(
    given: dict[str, Any], why: str
) -> None:
    # data.all's pipeline.py: enable_cw_rum / enable_cw_canaries `and target_env.get('custom_auth') is None`
    with pytest.raises(ManifestError, match=why + r" with EnableCustomAuth: data\.all .* its Cognito user pool"):
        custom_auth_manifest().resolve_options({"EnableCustomAuth": True, **OKTA_OPTIONS, **given})
    assert custom_auth_manifest().resolve_options(given)  # without custom auth: as before


def test_custom_auth_with_every_value_is_accepted_and_its_stages_are_chosen() -> None:
    manifest = custom_auth_manifest()
    resolved = manifest.resolve_options({"EnableCustomAuth": True, **OKTA_OPTIONS})
    assert resolved["CustomAuthScopes"] == "openid email profile"
    assert sorted(manifest.active_steps(resolved)) == ["lambdas", "vpc"]
    assert sorted(manifest.active_steps(manifest.resolve_options({}))) == ["cognito", "lambdas", "vpc"]


SITE: dict[str, Any] = {
    "name": "site", "kind": "site", "depends_on": ["cognito", "lambdas"], "timeout": 900,
    "parameters": {"REACT_APP_GRAPHQL_API": "${stage:lambdas.Url}graphql/api",
                   "REACT_APP_COGNITO_USER_POOL_ID": "${stage:cognito.PoolId}"},
    "variants": [{"when": {"option": "EnableCustomAuth", "equals": True},
                  "parameters": {"REACT_APP_GRAPHQL_API": "${stage:lambdas.Url}graphql/api",
                                 "REACT_APP_CUSTOM_AUTH_URL": "${param:CustomAuthUrl}"}}],
}  # fmt: skip


def test_an_actions_variant_is_chosen_as_a_stages_is_so_it_reads_no_stage_its_options_turn_off() -> None:
    manifest = custom_auth_manifest(site=SITE)
    on = manifest.active_steps(manifest.resolve_options({"EnableCustomAuth": True, **OKTA_OPTIONS}))["site"]
    assert on.parameters == SITE["variants"][0]["parameters"] and on.variants == () and on.template is None
    off = manifest.active_steps(manifest.resolve_options({}))["site"]
    assert off.parameters == SITE["parameters"]
    # without its variant, the action would read the user pool custom auth removes: refused, naming both
    plain = custom_auth_manifest(site={k: v for k, v in SITE.items() if k != "variants"})
    with pytest.raises(ManifestError, match=r"step 'site' reads cognito\.PoolId, but stage 'cognito' is off"):
        plain.active_steps(plain.resolve_options({"EnableCustomAuth": True, **OKTA_OPTIONS}))


def test_an_actions_variant_reading_an_option_the_release_lacks_is_refused() -> None:
    wrong = copy.deepcopy(SITE)
    wrong["variants"][0]["parameters"]["REACT_APP_CUSTOM_AUTH_URL"] = "${param:CustomAuthIssuer}"
    with pytest.raises(
        ManifestError, match=r"parameter REACT_APP_CUSTOM_AUTH_URL reads unknown option 'CustomAuthIssuer'"
    ):
        custom_auth_manifest(site=wrong).check()


def test_custom_auth_is_offered_alone_and_its_combinations_exclude_rum_and_the_canaries() -> None:
    assert [o.option for o in variant_options(["EnableCustomAuth"])] == ["EnableCustomAuth"]
    assert len(combinations(variant_options(["EnableCustomAuth"]))) == 2
    offered = variant_options(["EnableCloudWatchRum", "EnableCloudWatchCanaries", "EnableCustomAuth"])
    assert combinations(offered) == [
        {"EnableCloudWatchRum": False, "EnableCloudWatchCanaries": False, "EnableCustomAuth": False},
        {"EnableCloudWatchRum": False, "EnableCloudWatchCanaries": True, "EnableCustomAuth": False},
        {"EnableCloudWatchRum": False, "EnableCloudWatchCanaries": False, "EnableCustomAuth": True},
        {"EnableCloudWatchRum": True, "EnableCloudWatchCanaries": True, "EnableCustomAuth": False},
    ]
    # RUM still needs the canaries, with or without custom auth offered
    with pytest.raises(BuildError, match=r"EnableCloudWatchRum without EnableCloudWatchCanaries"):
        variant_options(["EnableCloudWatchRum", "EnableCustomAuth"])
