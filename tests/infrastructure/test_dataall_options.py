"""data.all's options against data.all's own synthesis (`installer.upstream.synthesize`: its
source at ../shared/upstream/dataall/<version>, offline, cached under ~/.cache/dataall-installer): a
value key, and each of `custom_waf_rules`' keys, changes nothing but what its rule makes a parameter,
for both releases a release carries (2.8.0, what an upgrade starts from and a rollback returns to, and
2.9.0), so no option is silently ignored by either; the ProdSizing variant's templates (2.9.0's) pass
cfn-lint, and so do the stages EnableCloudWatchRum, EnableCloudWatchCanaries and
EnableOpenSearchServerless add. Slow: each synthesis takes 20-60 s the first time (2.8.0 has a
toolchain of its own: its `deploy/requirements.txt` pins aws-cdk-lib 2.177.0, 2.9.0's 2.208.0)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from blueprints.dataall import rules
from cloud_assembly.reader import CloudAssembly
from installer.dataall import comparable, import_stages
from installer.upstream import shared_upstream, synthesize, vpc_lookup_context
from tests import existing_vpc as operators
from tests.conftest import cached_dataall_release

#: the releases the installer carries: 2.8.0 (what an upgrade starts from and a rollback returns to) and 2.9.0
VERSIONS = ("2.8.0", "2.9.0")
SOURCES = {version: shared_upstream(version) / "source" for version in VERSIONS}
pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _here(version: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not SOURCES[version].is_dir(), reason=f"../shared/upstream/dataall/{version}/source is not here"
    )


#: a case for each release, by its version (`data.all 2.8.0`, `data.all 2.9.0`)
EACH_VERSION = pytest.mark.parametrize(
    "version", [pytest.param(v, id=f"data.all {v}", marks=_here(v)) for v in VERSIONS]
)


#: data.all's variant keys all off their default: the value rules must take the literals of the stages
#: those options add (rum, canaries, secrets, opensearch-serverless) too
EVERY_VARIANT = {
    "prod_sizing": False,
    "enable_cw_rum": True,
    "enable_cw_canaries": True,
    "enable_opensearch_serverless": True,
}


#: data.all's value keys (of its target environment) set otherwise than its defaults, and its top-level one
VALUE_KEYS = {
    rules.SESSION_TIMEOUT_KEY: 120,
    rules.THROTTLING_KEY: {"global_rate_limit": 200, "global_burst_limit": 100},
    rules.REAUTH_KEY: {"reauth_apis": ["deleteDataset", "createDataset"], "ttl": 15},
    rules.ALLOWED_ORIGINS_KEY: "https://dataall.example.com",
    rules.SHARED_DASHBOARDS_KEY: "reader",
    rules.PIVOT_ROLE_AUTO_CREATE_KEY: True,
}
VALUE_CONTEXT = {rules.LOG_RETENTION_KEY: "ONE_YEAR"}


@pytest.mark.parametrize("variant", [{}, EVERY_VARIANT], ids=["defaults", "every variant option on"])
@EACH_VERSION
def test_data_alls_value_keys_change_nothing_but_what_the_value_rules_make_parameters(
    version: str, variant: dict[str, Any]
) -> None:
    # Given data.all synthesized with its defaults (or its variant keys) and with the value keys set otherwise
    source, keys = SOURCES[version], VALUE_KEYS
    settings = {**VALUE_CONTEXT, **keys}
    default = import_stages(CloudAssembly.load(synthesize(source, version, environment=variant or None)))
    changed = synthesize(source, version, environment={**variant, **keys}, context=VALUE_CONTEXT)
    raw = "".join(p.read_text() for p in changed.rglob("*backendstack*.nested.template.json"))
    assert '"RetentionInDays": 365' in raw and '"RefreshTokenValidity": 120' in raw  # the keys took effect
    assert '"ThrottlingRateLimit": 200' in raw and '"ThrottlingBurstLimit": 100' in raw
    assert '"REAUTH_TTL": "15"' in raw and '"Value": "deleteDataset,createDataset"' in raw
    assert '"ALLOWED_ORIGINS": "https://dataall.example.com"' in raw and '"Value": "reader"' in raw
    assert '"arn:aws:iam::*:role/dataallPivotRole-cdk*"' in raw and '"Value": "dataallPivotRole-cdk"' in raw

    # When both are imported, each with the values its synthesis had
    other = import_stages(CloudAssembly.load(changed), settings=settings, reuse=default.packaged)

    # Then every stage's template is the same: the rules took every literal the keys changed
    assert [s.name for s in other.stages] == [s.name for s in default.stages]
    if variant:
        assert {"rum", "canaries", "secrets", "opensearch-serverless"} <= {s.name for s in default.stages}
    pairs = zip(other.stages, default.stages, strict=True)
    different = [s.name for s, d in pairs if comparable(s.template) != comparable(d.template)]
    assert different == []
    declared = sorted({p for s in default.stages for p in rules.value_parameters(s.template)})
    assert declared == [
        "AllowedOrigins", "ApiBurstLimit", "ApiCustomDomainCertificateArn", "ApiCustomDomainHostedZoneId",
        "ApiCustomDomainName", "ApiRateLimit", "EnablePivotRoleAutoCreate", "LogRetentionDays",
        "ReauthApis", "ReauthTtlMinutes", "SessionTimeoutMinutes", "SharedDashboardsSessions",
        "VpcEndpointsSecurityGroupId", "VpcId", "VpcRestrictedNacl", "WafAllowedCountries", "WafAllowedIpRanges",
        "WafRateLimit", "WafRateLimitWindow",
    ]  # fmt: skip


@_here("2.9.0")
def test_the_variants_and_the_stages_options_add_pass_cfn_lint_and_take_the_value_options_too() -> None:
    release = cached_dataall_release("2.9.0", variants=True)
    variants = {v.template: step.name for step in release.manifest.stages() for v in step.variants}
    assert sorted(set(variants.values())) == [
        "aurora", "backend", "cloudfront", "cognito", "dashboards", "ecs", "frontend-cognito-config", "lambdas",
        "opensearch", "opensearch-serverless", "params", "rum", "s3", "vpc",
    ]  # fmt: skip
    added = {step.name: step.template for step in release.manifest.stages() if step.when is not None}
    assert sorted(added) == [
        "albfront", "albfront-cognito-config", "canaries", "cloudfront", "cognito", "frontend-cognito-config",
        "opensearch", "opensearch-serverless", "rum", "secrets",
    ]  # fmt: skip
    templates = [release.path / name for name in [*variants, *added.values()]]

    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *map(str, templates)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip

    errors = [line for line in result.stdout.splitlines() if re.search(r":\d+:\d+:\d+:\d+:E\d+:", line)]
    assert result.returncode & 2 == 0 and not errors, result.stdout
    aurora: dict[str, Any] = json.loads((release.path / "blueprints/aurora.prodsizing-false.template.json").read_text())
    (cluster,) = [r for r in aurora["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster"]
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"] == {"MaxCapacity": 8, "MinCapacity": 2}
    # the quick-create form offers them, with the bounds Plan checks
    parameters = release.bootstrap_template["Parameters"]
    assert (
        parameters["ProdSizing"]["AllowedValues"] == ["true", "false"] and parameters["ProdSizing"]["Default"] == "true"
    )
    assert (parameters["SessionTimeoutMinutes"]["MinValue"], parameters["SessionTimeoutMinutes"]["MaxValue"]) == (
        60,
        5256000,
    )
    assert "731" in parameters["LogRetentionDays"]["AllowedValues"]
    assert (parameters["WafRateLimit"]["MinValue"], parameters["WafRateLimit"]["MaxValue"]) == (10, 2000000000)
    assert parameters["WafRateLimitWindow"]["AllowedValues"] == ["60", "120", "300", "600"]
    assert (parameters["WafRateLimit"]["Default"], parameters["WafRateLimitWindow"]["Default"]) == ("1000", "300")
    idp = {n: parameters[n] for n in rules.CUSTOM_AUTH_PARAMETERS.values()}
    assert parameters["EnableCustomAuth"]["Default"] == "false" and {p["Default"] for p in idp.values()} == {""}
    assert re.fullmatch(idp["CustomAuthScopes"]["AllowedPattern"], "openid email profile")
    assert not re.fullmatch(idp["CustomAuthUrl"]["AllowedPattern"], "http://idp.example.com")
    custom = [parameters[n] for n in ("EnableCustomDomain", "CustomDomainName", "CustomDomainHostedZoneId")]
    assert [p["Default"] for p in custom] == ["false", "", ""]
    assert custom[2]["AllowedPattern"] == "(Z[A-Z0-9]{1,31})?" and re.fullmatch(custom[1]["AllowedPattern"], "a.b.io")
    sender = parameters["CustomDomainEmailSenderId"]
    assert sender["Default"] == "noreply" and sender["AllowedPattern"] == rules.CUSTOM_DOMAIN_SENDER_PATTERN
    certificate = parameters["CustomDomainCertificateArn"]
    assert (
        certificate["Default"] == ""
        and certificate["AllowedPattern"] == f"({rules.CUSTOM_DOMAIN_CERTIFICATE_PATTERN})?"
    )
    expected = {
        "ecs": ["LogRetentionDays", "EnablePivotRoleAutoCreate", "VpcEndpointsSecurityGroupId"],
        "lambdas": ["LogRetentionDays", "ApiRateLimit", "ApiBurstLimit", "ReauthTtlMinutes", "AllowedOrigins",
                    "EnablePivotRoleAutoCreate", "WafAllowedIpRanges", "WafAllowedCountries", "WafRateLimit",
                    "WafRateLimitWindow", "VpcEndpointsSecurityGroupId", "ApiCustomDomainName",
                    "ApiCustomDomainHostedZoneId", "ApiCustomDomainCertificateArn"],
        "opensearch": ["LogRetentionDays"],
    }  # fmt: skip
    for name, declared in expected.items():
        variant = json.loads((release.path / f"blueprints/{name}.prodsizing-false.template.json").read_text())
        assert rules.value_parameters(variant) == declared, name


#: data.all's `custom_waf_rules` with every key (each an option), and with one alone
WAF_EVERY = {
    "allowed_ip_list": ["10.0.0.0/8", "192.168.1.0/24"],
    "allowed_geo_list": ["DE", "FR"],
    "rate_limit": 500,
    "rate_limit_window": 120,
}
WAF_IP_ONLY = {"allowed_ip_list": ["10.0.0.0/8"]}


@pytest.mark.parametrize("waf", [WAF_EVERY, WAF_IP_ONLY], ids=["every key", "ip ranges alone"])
@EACH_VERSION
def test_data_alls_custom_waf_rules_change_nothing_but_what_the_waf_rules_make_parameters(
    version: str, waf: dict[str, Any]
) -> None:
    # Given data.all synthesized with its defaults and with custom_waf_rules set
    default = import_stages(CloudAssembly.load(synthesize(SOURCES[version], version)))
    changed = synthesize(SOURCES[version], version, environment={rules.WAF_KEY: waf})
    raw = "".join(p.read_text() for p in changed.rglob("*.nested.template.json"))
    assert raw.count('"AWS::WAFv2::IPSet"') == 3 and raw.count('"Name": "IPMatch"') == 3  # the keys took effect
    assert raw.count('"Name": "GeoMatch"') == (3 if "allowed_geo_list" in waf else 0)
    statements = [
        rule["Statement"]["RateBasedStatement"]
        for p in changed.rglob("*.nested.template.json")
        for resource in json.loads(p.read_text()).get("Resources", {}).values()
        if resource["Type"] == "AWS::WAFv2::WebACL"
        for rule in resource["Properties"]["Rules"]
        if "RateBasedStatement" in rule["Statement"]
    ]
    limited = {"Limit": 500, "EvaluationWindowSec": 120} if "rate_limit" in waf else {"Limit": 1000}
    assert statements == [{"AggregateKeyType": "IP", **limited}] * 2  # the API's and Cognito's rate-based rules

    # When both are imported, each with the values its synthesis had
    other = import_stages(CloudAssembly.load(changed), settings={rules.WAF_KEY: waf}, reuse=default.packaged)

    # Then every stage's template is the same: the WebACLs' stages take both options, by conditions
    pairs = zip(other.stages, default.stages, strict=True)
    assert [s.name for s, d in pairs if comparable(s.template) != comparable(d.template)] == []
    waf_options = [rules.WAF_IP_RANGES, rules.WAF_COUNTRIES, rules.WAF_RATE_LIMIT, rules.WAF_RATE_LIMIT_WINDOW]
    holding = {
        s.name: [p for p in rules.value_parameters(s.template) if p in waf_options]
        for s in default.stages
        if set(waf_options) & set(rules.value_parameters(s.template))
    }
    assert holding == {"lambdas": waf_options, "cognito": waf_options, "cloudfront": waf_options[:2]}


#: data.all's `custom_domain` with another zone than the one the variant is synthesized with
#: (and another sender id than data.all's `noreply`, which the variant is synthesized with)
OTHER_ZONE = {
    "hosted_zone_name": "data.corp.example.com",
    "hosted_zone_id": "Z0987654321ZYXWVUTSRQ",
    rules.CUSTOM_DOMAIN_SENDER_KEY: "data-all.alerts",
}


@pytest.mark.parametrize("variant", [{}, EVERY_VARIANT], ids=["defaults", "every variant option on"])
@EACH_VERSION
def test_data_alls_custom_domain_changes_nothing_but_what_the_rule_makes_its_zones_parameters(
    version: str, variant: dict[str, Any]
) -> None:
    """The EnableCustomDomain variant (data.all synthesized with the placeholder zone) and data.all synthesized
    with another zone are the same stages after the rule: every place data.all puts the zone's name or id
    (with every other variant key on too: RUM's monitor domain) takes the option's value."""
    source, placeholder = SOURCES[version], dict(rules.CUSTOM_DOMAIN_PLACEHOLDER)
    default = import_stages(CloudAssembly.load(synthesize(source, version, environment=variant or None)))
    synthesized = {
        name: synthesize(source, version, environment={**variant, rules.CUSTOM_DOMAIN_KEY: zone})
        for name, zone in (("placeholder", placeholder), ("other", OTHER_ZONE))
    }
    raw = "".join(p.read_text() for p in synthesized["other"].rglob("*.template.json"))
    assert raw.count('"Z0987654321ZYXWVUTSRQ"') == 2 and '"https://data.corp.example.com"' in raw  # the key took effect
    assert '"data-all.alerts@data.corp.example.com"' in raw and "noreply@data.corp" not in raw

    variant_stages, other = (
        import_stages(CloudAssembly.load(synthesized[name]), settings={rules.CUSTOM_DOMAIN_KEY: zone},
                      reuse=default.packaged).stages
        for name, zone in (("placeholder", placeholder), ("other", OTHER_ZONE))
    )  # fmt: skip

    assert [s.name for s in variant_stages] == [s.name for s in default.stages]
    pairs = zip(variant_stages, other, strict=True)
    assert [s.name for s, o in pairs if comparable(s.template) != comparable(o.template)] == []
    changed = {
        s.name
        for s, d in zip(variant_stages, default.stages, strict=True)
        if comparable(s.template) != comparable(d.template)
    }
    assert {"params", "lambdas", "ecs", "cloudfront", "frontend-cognito-config"} <= changed
    assert changed <= {"params", "lambdas", "ecs", "cloudfront", "frontend-cognito-config", "rum"}
    taking = {s.name: [p for p in rules.value_parameters(s.template) if p.startswith("CustomDomain")]
              for s in variant_stages if "CustomDomainName" in s.template.get("Parameters", {})}  # fmt: skip
    assert taking["cloudfront"] == ["CustomDomainName", "CustomDomainHostedZoneId", "CustomDomainCertificateArn"]
    assert {taking[n][0] for n in ("params", "lambdas", "ecs")} == {"CustomDomainName"}
    # the notification sender: data.all's email_sender_id of its ECS tasks (its API's only with the SES stack of
    # the email notifications module, off in data.all's config.json: 'none' then)
    assert [n for n, taken in taking.items() if rules.CUSTOM_DOMAIN_SENDER in taken] == ["ecs"]
    if variant:
        assert "rum" in taking
    text = json.dumps([s.template for s in variant_stages])
    assert placeholder["hosted_zone_name"] not in text and placeholder["hosted_zone_id"] not in text


#: an ACM certificate ARN of us-east-1, where CloudFront takes certificates from (of another account than
#: data.all's offline synthesis', 111111111111, so that no rule but the certificate's takes it)
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def _certificate_given(template: dict[str, Any], arn: str) -> dict[str, Any]:
    """`template` as CloudFormation makes it with `CustomDomainCertificateArn` = `arn`: the condition of
    the certificate false (the resources under it gone, its `Fn::If`s their third argument), the parameter's
    `Ref`s its value, neither declared."""
    condition, parameter = rules.CUSTOM_DOMAIN_CERTIFICATE_REQUESTED, rules.CUSTOM_DOMAIN_CERTIFICATE

    def value(node: Any) -> Any:
        if isinstance(node, list):
            return [value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node == {"Ref": parameter}:
            return arn
        if list(node) == ["Fn::If"] and node["Fn::If"][0] == condition:
            return value(node["Fn::If"][2])
        return {key: value(item) for key, item in node.items()}

    result = {
        **template,
        "Resources": {k: value(r) for k, r in template["Resources"].items() if r.get("Condition") != condition},
        "Outputs": value(template.get("Outputs", {})),
        "Parameters": {k: p for k, p in template.get("Parameters", {}).items() if k != parameter},
        "Conditions": {k: c for k, c in template.get("Conditions", {}).items() if k != condition},
    }
    return {key: part for key, part in result.items() if part or key == "Resources"}


@EACH_VERSION
def test_data_alls_certificate_arn_is_the_custom_domain_variant_without_its_certificate_and_only_in_cloudfront(
    version: str, tmp_path: Path
) -> None:
    # Given data.all synthesized with the custom-domain variant's placeholder zone, and with a certificate too
    placeholder = {rules.CUSTOM_DOMAIN_KEY: dict(rules.CUSTOM_DOMAIN_PLACEHOLDER)}
    own = {rules.CUSTOM_DOMAIN_KEY: {**rules.CUSTOM_DOMAIN_PLACEHOLDER, "certificate_arn": CERTIFICATE_ARN}}
    variant = import_stages(
        CloudAssembly.load(synthesize(SOURCES[version], version, environment=placeholder)), settings=placeholder
    )
    changed = synthesize(SOURCES[version], version, environment=own)
    raw = "".join(p.read_text() for p in changed.rglob("*.nested.template.json"))
    assert '"AWS::CertificateManager::Certificate"' not in raw  # the key took effect
    assert raw.count(f'"AcmCertificateArn": "{CERTIFICATE_ARN}"') == 1

    # When it is imported with its settings
    other = import_stages(CloudAssembly.load(changed), settings=own, reuse=variant.packaged)

    # Then each stage is the variant's with the certificate's condition false and the parameter the ARN;
    # only the cloudfront stage differs, and only it takes the option
    pairs = list(zip(other.stages, variant.stages, strict=True))
    assert [s.name for s, _ in pairs] == [s.name for s in variant.stages]
    resolved = [
        s.name
        for s, d in pairs
        if comparable(_certificate_given(s.template, CERTIFICATE_ARN))
        != comparable(_certificate_given(d.template, CERTIFICATE_ARN))
    ]
    assert resolved == []
    assert [s.name for s, d in pairs if comparable(s.template) != comparable(d.template)] == ["cloudfront"]
    declaring = [
        s.name for s in variant.stages if rules.CUSTOM_DOMAIN_CERTIFICATE in rules.value_parameters(s.template)
    ]
    assert declaring == ["cloudfront"]
    front = next(s.template for s in variant.stages if s.name == "cloudfront")
    (certificate,) = [k for k, r in front["Resources"].items() if r["Type"] == "AWS::CertificateManager::Certificate"]
    assert front["Resources"][certificate]["Condition"] == rules.CUSTOM_DOMAIN_CERTIFICATE_REQUESTED
    (distribution,) = [r for r in front["Resources"].values() if r["Type"] == "AWS::CloudFront::Distribution"]
    assert distribution["Properties"]["DistributionConfig"]["ViewerCertificate"]["AcmCertificateArn"] == {
        "Fn::If": [
            rules.CUSTOM_DOMAIN_CERTIFICATE_REQUESTED,
            {"Ref": certificate},
            {"Ref": "CustomDomainCertificateArn"},
        ]
    }
    written = tmp_path / "cloudfront.template.json"
    written.write_text(json.dumps(front))
    linted = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(written)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert linted.returncode & 2 == 0, linted.stdout


@EACH_VERSION
def test_data_alls_vpc_restricted_nacl_changes_nothing_but_what_the_rule_makes_conditional(version: str) -> None:
    # Given data.all synthesized with its defaults and with vpc_restricted_nacl
    default = import_stages(CloudAssembly.load(synthesize(SOURCES[version], version)))
    changed = synthesize(SOURCES[version], version, environment={rules.VPC_RESTRICTED_NACL_KEY: True})
    (vpc,) = [json.loads(p.read_text()) for p in changed.rglob("*backendstackVpc*.nested.template.json")]
    types = [r["Type"] for r in vpc["Resources"].values()]
    assert types.count("AWS::EC2::NetworkAcl") == 1 and types.count("AWS::EC2::NetworkAclEntry") == 5  # it took effect
    assert types.count("AWS::EC2::SubnetNetworkAclAssociation") == 4

    # When both are imported, each with the value its synthesis had
    settings = {rules.VPC_RESTRICTED_NACL_KEY: True}
    other = import_stages(CloudAssembly.load(changed), settings=settings, reuse=default.packaged)

    # Then every stage's template is the same: the vpc stage holds the NACL under the option's condition
    pairs = zip(other.stages, default.stages, strict=True)
    assert [s.name for s, d in pairs if comparable(s.template) != comparable(d.template)] == []
    holding = [s.name for s in default.stages if rules.VPC_RESTRICTED_NACL in rules.value_parameters(s.template)]
    assert holding == ["vpc"]
    (stage,) = [s for s in default.stages if s.name == "vpc"]
    # (the NACL's condition; data.all's own VPC and endpoints have theirs: VpcId, VpcEndpointsSecurityGroupId)
    conditioned = [
        r["Type"] for r in stage.template["Resources"].values() if r.get("Condition") == rules.VPC_RESTRICTED_NACL_ON
    ]
    assert sorted(conditioned) == sorted(t for t in types if "NetworkAcl" in t)


#: data.all's `custom_auth` with another identity provider than the placeholder the variant is synthesized with:
#: values as unique (an operator's own, "email", "sub", are words data.all's templates hold elsewhere)
OTHER_IDP = {
    "provider": "OtherIdentityProvider",
    "url": "https://login.other-idp.invalid/oauth2/v2.0",
    "redirect_url": "https://ui.other-idp.invalid",
    "client_id": "a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6",
    "response_types": "id_token token",
    "scopes": "openid other.read",
    "claims_mapping": {"user_id": "other_user_claim", "email": "other_email_claim"},
}
#: the other variant keys custom auth may be combined with (data.all's pipeline turns RUM and the canaries off
#: with it: Plan refuses those), all off their default
WITH_CUSTOM_AUTH = {
    "prod_sizing": False,
    "enable_opensearch_serverless": True,
    rules.CUSTOM_DOMAIN_KEY: dict(rules.CUSTOM_DOMAIN_PLACEHOLDER),
}


@pytest.mark.parametrize("variant", [{}, WITH_CUSTOM_AUTH], ids=["defaults", "every variant option it allows on"])
@EACH_VERSION
def test_data_alls_custom_auth_changes_nothing_but_what_the_rule_makes_its_providers_parameters(
    version: str, variant: dict[str, Any]
) -> None:
    """The EnableCustomAuth variant (data.all synthesized with the placeholder provider) and data.all synthesized
    with another provider are the same stages after the rule; they lack the stages of data.all's Cognito
    (cognito, frontend-cognito-config), and only the backend's root (no Cognito nested stack) and lambdas (the
    authorizer, the API handler and search proxy) change, lambdas alone taking the options."""
    source, placeholder = SOURCES[version], dict(rules.CUSTOM_AUTH_PLACEHOLDER)
    settings = {key: value for key, value in variant.items() if key in rules.DATAALL_DEFAULTS}
    default = import_stages(
        CloudAssembly.load(synthesize(source, version, environment=variant or None)), settings=settings
    )
    synthesized = {
        name: synthesize(source, version, environment={**variant, rules.CUSTOM_AUTH_KEY: idp})
        for name, idp in (("placeholder", placeholder), ("other", OTHER_IDP))
    }
    raw = "".join(p.read_text() for p in synthesized["other"].rglob("*.template.json"))
    assert '"custom_auth_url": "https://login.other-idp.invalid/oauth2/v2.0"' in raw  # the key took effect
    assert '"other_email_claim"' in raw and '"AWS::Cognito::UserPool"' not in raw

    variant_stages, other = (
        import_stages(CloudAssembly.load(synthesized[name]), settings={**settings, rules.CUSTOM_AUTH_KEY: idp},
                      reuse=default.packaged).stages
        for name, idp in (("placeholder", placeholder), ("other", OTHER_IDP))
    )  # fmt: skip

    names = [s.name for s in default.stages]
    assert [s.name for s in variant_stages] == [n for n in names if n not in ("cognito", "frontend-cognito-config")]
    assert {"cognito", "frontend-cognito-config"} <= set(names)
    pairs = zip(variant_stages, other, strict=True)
    assert [s.name for s, o in pairs if comparable(s.template) != comparable(o.template)] == []
    by_name = {s.name: s for s in default.stages}
    changed = {s.name for s in variant_stages if comparable(s.template) != comparable(by_name[s.name].template)}
    assert changed == {"backend", "lambdas"}
    taken = {
        s.name: [p for p in rules.value_parameters(s.template) if p.startswith("CustomAuth")] for s in variant_stages
    }
    taking = {name: parameters for name, parameters in taken.items() if parameters}
    assert taking == {
        "lambdas": ["CustomAuthProvider", "CustomAuthUrl", "CustomAuthClientId", "CustomAuthUserIdClaim",
                    "CustomAuthEmailClaim"]
    }  # fmt: skip
    text = json.dumps([s.template for s in variant_stages])
    assert "dataall-installer-custom-auth" not in text and "custom-auth.dataall-installer.invalid" not in text
    assert '"AWS::Cognito::UserPool"' not in text and "${stage:cognito." not in json.dumps(
        [s.parameters for s in variant_stages]
    )


def _looked_up_as_the_release_names_it(template: dict[str, Any], stack: str) -> dict[str, Any]:
    """A template of data.all's synthesis with `vpc_id` with the logical ids and construct paths the release's
    vpc stage gives the same resources: the endpoints CDK puts under the looked-up VPC's construct (`vpc`, where
    data.all's own is `VPC`), and the endpoints' group's ingress rule from the VPC's CIDR, which CDK names after
    the CIDR when it is a literal and `{IndirectPeer}` when a token."""

    def path(of: str) -> str:
        of = of.replace(f"{stack}/vpc/", f"{stack}/VPC/")
        return re.sub(r"/vpc-sg/from [0-9._]+:443$", "/vpc-sg/from {IndirectPeer}:443", of)

    renamed = {}
    for key, resource in template["Resources"].items():
        old = resource.get("Metadata", {}).get("aws:cdk:path", "")
        new = path(old)
        renamed[key] = rules.cdk_logical_id(new.removeprefix(f"{stack}/").split("/")) if new != old else key
    text = json.dumps(template)
    for old_id, new_id in renamed.items():
        text = text.replace(f'"{old_id}"', f'"{new_id}"')
    result: dict[str, Any] = json.loads(text)
    for resource in result["Resources"].values():
        if "aws:cdk:path" in resource.get("Metadata", {}):
            resource["Metadata"]["aws:cdk:path"] = path(resource["Metadata"]["aws:cdk:path"])
    return result


def _named_as_the_release_names_them(template: dict[str, Any], release: dict[str, Any]) -> dict[str, Any]:
    """A template of data.all's synthesis with `vpc_endpoints_sg` with the logical ids and construct paths the
    release's stage gives the same resources: the rules on a function's or task's group to and from the endpoints'
    group, which CDK names after the peer's unique id (the imported group's `VpceSg`, data.all's own `vpc-sg`)."""
    ids = {r["Metadata"]["aws:cdk:path"]: k for k, r in release["Resources"].items() if "Metadata" in r}
    own = {found for path in ids for found in re.findall(r"Vpcvpcsg[0-9A-F]{8}", path)}
    if not own:
        return template
    (group,) = own
    renamed = {}
    for key, resource in template["Resources"].items():
        old = resource.get("Metadata", {}).get("aws:cdk:path", "")
        new = re.sub(r"VpcVpceSg[0-9A-F]{8}", group, old)
        if new != old:
            renamed[key] = (ids.get(new, key), new)
    result: dict[str, Any] = json.loads(json.dumps(template))
    for old_id, (new_id, path) in renamed.items():
        body = result["Resources"].pop(old_id)
        body["Metadata"]["aws:cdk:path"] = path
        result["Resources"][new_id] = body
    return result


def _the_operators_vpc_is_data_alls_synthesis(version: str, public: bool, group: str) -> None:
    source = SOURCES[version]
    default = import_stages(CloudAssembly.load(synthesize(source, version)))
    environment = {rules.VPC_ID_KEY: operators.VPC, **({rules.VPC_ENDPOINTS_SG_KEY: group} if group else {})}
    looked_up = synthesize(
        source, version, environment=environment, context=vpc_lookup_context(operators.lookup(public))
    )
    (raw,) = [json.loads(p.read_text()) for p in looked_up.rglob("*backendstackVpc*.nested.template.json")]
    types = {r["Type"] for r in raw["Resources"].values()}
    assert "AWS::EC2::VPC" not in types and "AWS::EC2::Subnet" not in types  # the key took effect
    assert f'"{operators.VPC}"' in json.dumps(raw)  # its SSM parameter, its endpoints' VpcId
    assert ("AWS::EC2::VPCEndpoint" in types) is not bool(group)  # so did vpc_endpoints_sg

    other = import_stages(CloudAssembly.load(looked_up), settings=environment, reuse=default.packaged)

    assert [s.name for s in other.stages] == [s.name for s in default.stages]
    values = {**operators.parameters(public, group), rules.VPC_RESTRICTED_NACL: "false"}
    stages = {s.name: s for s in default.stages}
    vpc = operators.resolved(stages["vpc"].template, values)
    # the outputs that carried data.all's VPC (and the endpoints' group) to the other stages are the operator's
    carried = {k: o["Value"] for k, o in vpc["Outputs"].items() if "Export" not in o and isinstance(o["Value"], str)}
    assert sorted(carried.values()) == sorted(
        [operators.VPC, *(s for s, *_ in operators.PRIVATE), *([group] if group else [])]
    )
    different = []
    for synthesized in other.stages:
        # data.all's endpoints made in the operator's VPC are under the endpoints' condition in this import too
        looked = replace(
            synthesized,
            template=operators.resolved(
                synthesized.template, {rules.VPC_ENDPOINTS_SG: group, **operators.SYNTHESIZED_NAMES}
            ),
        )
        if looked.name == "vpc":
            expected = {**vpc, "Outputs": {k: o for k, o in vpc["Outputs"].items() if k not in carried}}
            # the flow log's retention is the only parameter left that nothing reads without data.all's own VPC
            assert expected["Parameters"].pop("LogRetentionDays") and '"LogRetentionDays"' not in json.dumps(expected)
            vpc_path = stages["vpc"].template["Resources"]
            stack_path = next(
                r["Metadata"]["aws:cdk:path"] for r in vpc_path.values() if r["Type"] == "AWS::EC2::VPC"
            ).removesuffix("/VPC/Resource")
            got = _looked_up_as_the_release_names_it(looked.template, stack_path)
            if comparable(got) != comparable({k: v for k, v in expected.items() if v or k == "Resources"}):
                different.append(looked.name)
            continue
        stage = stages[looked.name]
        given = {
            p: carried[ref.removeprefix("${stage:vpc.").removesuffix("}")]
            for p, ref in stage.parameters.items()
            if ref.startswith("${stage:vpc.") and ref.removeprefix("${stage:vpc.").removesuffix("}") in carried
        }
        resolved = operators.resolved(
            stage.template, {**given, rules.VPC_ENDPOINTS_SG: group, **operators.SYNTHESIZED_NAMES}
        )
        kept = {p: ref for p, ref in stage.parameters.items() if p not in given}
        got = _named_as_the_release_names_them(looked.template, stage.template)
        if comparable(resolved) != comparable(got) or kept != looked.parameters:
            different.append(looked.name)
    assert different == []
    declaring = [s.name for s in default.stages if rules.VPC_ID in rules.value_parameters(s.template)]
    assert declaring == ["vpc"]


@pytest.mark.parametrize("public", [True, False], ids=["with public subnets", "private subnets only"])
@EACH_VERSION
def test_data_alls_vpc_id_is_the_vpc_stage_with_its_vpc_left_out_and_every_stage_takes_the_operators_vpc(
    version: str, public: bool
) -> None:
    """data.all synthesized with `vpc_id` (its `Vpc.from_lookup` answered offline with a placeholder VPC:
    tests/existing_vpc.py) is the default import with `VpcId` and the values Plan fills for that VPC: the vpc
    stage without what `create_new_vpc` makes (the same endpoints, group and SSM parameters under the release's
    logical ids), every other stage with the values it read from the vpc stage's outputs as the literals data.all's
    lookup gave it."""
    _the_operators_vpc_is_data_alls_synthesis(version, public, "")


@EACH_VERSION
def test_data_alls_vpc_endpoints_sg_is_the_vpc_stage_without_its_endpoints_and_the_rules_on_their_group(
    version: str,
) -> None:
    """data.all synthesized with `vpc_id` and `vpc_endpoints_sg` (the operator's VPC has its own endpoints and their
    group) is the default import with `VpcId`, `VpcEndpointsSecurityGroupId` and the values Plan fills: the vpc
    stage without data.all's 29 endpoints, their group and its ingress rule, its output the operator's group; every
    other stage without the rules on the endpoints' group (an imported immutable group takes none) and with its
    functions' and tasks' rules to and from it reading the operator's group."""
    _the_operators_vpc_is_data_alls_synthesis(version, True, operators.ENDPOINTS_GROUP)
    declaring = [
        s.name
        for s in import_stages(CloudAssembly.load(synthesize(SOURCES[version], version))).stages
        if rules.VPC_ENDPOINTS_SG in rules.value_parameters(s.template)
    ]
    # and `migrations` (its function's group), which an import without the release's migration package leaves out
    assert declaring == ["vpc", "lambdas", "ecs"]


#: data.all's `apigw_custom_domain` as an operator sets it (its API at the zone's own name, the certificate in
#: us-east-1)
API_CUSTOM_DOMAIN = {
    "hosted_zone_name": "api.dataall.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFAPI",
    "certificate_arn": CERTIFICATE_ARN,
}


def _deployments_by_condition(template: dict[str, Any]) -> dict[str, Any]:
    """`template` with data.all's API deployments named by their condition: the rule keeps the synthesized
    deployment's logical id (CDK's hash of the RestApi, which the key changes) and derives the other's from it."""
    text = json.dumps(template)
    for key, resource in template.get("Resources", {}).items():
        if resource["Type"] == "AWS::ApiGateway::Deployment" and resource.get("Condition"):
            text = text.replace(key, "Deployment" + resource["Condition"])
    return dict(json.loads(text))


@EACH_VERSION
def test_data_alls_apigw_custom_domain_changes_nothing_but_what_the_rule_makes_conditional(version: str) -> None:
    # Given data.all synthesized with its defaults and with apigw_custom_domain
    default = import_stages(CloudAssembly.load(synthesize(SOURCES[version], version)))
    settings = {rules.API_CUSTOM_DOMAIN_KEY: API_CUSTOM_DOMAIN}
    changed = synthesize(SOURCES[version], version, environment=settings)
    (raw,) = [json.loads(p.read_text()) for p in changed.rglob("*backendstackLambdas*.nested.template.json")]
    made = {r["Type"]: r["Properties"] for r in raw["Resources"].values()}
    assert made["AWS::ApiGateway::DomainName"]["DomainName"] == "api.dataall.example.com"  # the key took effect
    assert made["AWS::ApiGateway::RestApi"]["DisableExecuteApiEndpoint"] is True
    assert made["AWS::Route53::RecordSet"]["HostedZoneId"] == "Z0123456789ABCDEFAPI"

    # When both are imported, each with the value its synthesis had
    other = import_stages(CloudAssembly.load(changed), settings=settings, reuse=default.packaged)

    # Then every stage's template is the same but for the API deployment's name: the lambdas stage holds the domain
    # name, its mapping, the alias record and a second deployment under the option's condition
    pairs = list(zip(other.stages, default.stages, strict=True))
    assert [s.name for s, _ in pairs] == [s.name for s in default.stages]
    differing = [
        s.name
        for s, d in pairs
        if comparable(_deployments_by_condition(s.template)) != comparable(_deployments_by_condition(d.template))
    ]
    assert differing == []
    holding = [s.name for s in default.stages if rules.API_DOMAIN_NAME in rules.value_parameters(s.template)]
    assert holding == ["lambdas"]
    (stage,) = [s for s in default.stages if s.name == "lambdas"]
    # (the API domain's conditions, and the WAF IPSet's; the functions' rules on data.all's endpoints group have
    # VpcEndpointsSecurityGroupId's)
    conditioned = sorted(
        r["Type"]
        for r in stage.template["Resources"].values()
        if r.get("Condition") not in (None, rules.VPC_ENDPOINTS_MADE)
    )
    assert conditioned == [
        "AWS::ApiGateway::BasePathMapping",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::DomainName",
        "AWS::Route53::RecordSet",
        "AWS::WAFv2::IPSet",
    ]


@EACH_VERSION
def test_data_alls_internet_facing_false_is_its_albfront_stages_a_private_api_and_no_cloudfront(version: str) -> None:
    """data.all synthesized with `internet_facing=false` (and the custom domain it requires) imports to its albfront
    stack's stages in the backend's region, after every backend stage (data.all's pipeline order), in place of the
    CloudFront stages; its API private behind an execute-api endpoint; and the variants compose exactly with the
    other combinations' synthesis (what InternetFacing will offer once the installer makes its web UI image)."""
    from installer.dataall import INTERNET_FACING, VARIANT_OPTIONS, combinations, compose_stages, synthesis_settings
    from installer.images import images_in_templates

    source = SOURCES[version]
    options = [next(o for o in VARIANT_OPTIONS if o.option == rules.CUSTOM_DOMAIN_ENABLED), INTERNET_FACING]
    default = import_stages(CloudAssembly.load(synthesize(source, version)))
    reports = [(combinations(options)[0], default)]
    for combination in combinations(options)[1:]:
        environment = synthesis_settings(options, combination)
        assembly = CloudAssembly.load(synthesize(source, version, environment=environment))
        reports.append((combination, import_stages(assembly, settings=environment, reuse=default.packaged)))
    assert [c for c, _ in reports][-1] == {rules.CUSTOM_DOMAIN_ENABLED: True, INTERNET_FACING.option: False}
    private = {stage.name: stage for stage in reports[-1][1].stages}
    backend = [s.name for s in default.stages if s.region is None]

    composed = {c.stage.name: c for c in compose_stages(options, reports)}  # exact for every combination

    assert {"albfront", "albfront-cognito-config"} <= set(private) and not {
        "cloudfront",
        "frontend-cognito-config",
    } & set(private)
    for name in ("albfront", "albfront-cognito-config"):
        assert private[name].region is None and set(backend) <= set(private[name].depends_on), name
        assert composed[name].when == {"option": INTERNET_FACING.option, "equals": False}
    assert composed["cloudfront"].when == {"option": INTERNET_FACING.option, "equals": True}
    resources = private["albfront"].template["Resources"]
    (balancer,) = [r for r in resources.values() if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"]
    assert balancer["Properties"]["Scheme"] == "internal"
    (image,) = images_in_templates([("albfront", private["albfront"].template)])
    assert (image.repository, image.tag) == ("dataall-main-ecr-repository", f"frontend-{version}")
    api = private["lambdas"].template["Resources"]
    (rest_api,) = [r["Properties"] for r in api.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    (endpoint_id,) = [k for k, r in api.items() if r["Type"] == "AWS::EC2::VPCEndpoint"]
    # (data.all's own endpoint, or the operator's: ApiVpcEndpointId)
    either = {"Fn::If": [rules.API_VPC_ENDPOINT_MADE, {"Ref": endpoint_id}, {"Ref": rules.API_VPC_ENDPOINT}]}
    assert rest_api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": [either]}
    assert "aws:SourceVpce" in json.dumps(rest_api["Policy"])
    assert "execute-api" in json.dumps(api[endpoint_id]["Properties"]["ServiceName"])
    assert not [
        r for r in private["cognito"].template["Resources"].values() if r["Type"] == "Custom::SchemaHandlerResource"
    ]


#: data.all's private API (`internet_facing=false`, with the custom domain it requires: the variant's placeholder zone),
#: and the operator's execute-api endpoint it takes with `apig_vpce` (an id of the form EC2 draws, `da7a11`)
PRIVATE = {"internet_facing": False, rules.CUSTOM_DOMAIN_KEY: dict(rules.CUSTOM_DOMAIN_PLACEHOLDER)}
OPERATORS_API_ENDPOINT = "vpce-0da7a1100000000a1"


@EACH_VERSION
def test_data_alls_apig_vpce_is_the_private_lambdas_stage_without_its_endpoint_the_api_naming_the_operators(
    version: str,
) -> None:
    """data.all synthesized with `internet_facing=false` and `apig_vpce` is its private import with `ApiVpcEndpointId`:
    the lambdas stage without the execute-api endpoint data.all makes and its security group, the RestApi's endpoint
    configuration and resource policy naming the operator's endpoint; but for the API deployment's name (CDK hashes
    the RestApi's properties into it) and the VPC's CIDR, which only the endpoint's group read: the lambdas stage still
    declares the parameter reading it and the vpc stage still has the output, read by nothing then."""
    source = SOURCES[version]
    private = import_stages(CloudAssembly.load(synthesize(source, version, environment=PRIVATE)), settings=PRIVATE)
    settings = {**PRIVATE, rules.API_VPC_ENDPOINT_KEY: OPERATORS_API_ENDPOINT}
    changed = synthesize(source, version, environment=settings)
    (raw,) = [json.loads(p.read_text()) for p in changed.rglob("*backendstackLambdas*.nested.template.json")]
    types = [r["Type"] for r in raw["Resources"].values()]
    assert "AWS::EC2::VPCEndpoint" not in types  # the key took effect
    (api,) = [r["Properties"] for r in raw["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": [OPERATORS_API_ENDPOINT]}

    other = import_stages(CloudAssembly.load(changed), settings=settings, reuse=private.packaged)

    assert [s.name for s in other.stages] == [s.name for s in private.stages]
    by_name = {s.name: s for s in private.stages}
    declaring = [s.name for s in private.stages if rules.API_VPC_ENDPOINT in rules.value_parameters(s.template)]
    assert declaring == ["lambdas"]
    lambdas = by_name["lambdas"].template
    made = sorted(r["Type"] for r in lambdas["Resources"].values() if r.get("Condition") == rules.API_VPC_ENDPOINT_MADE)
    assert made == ["AWS::EC2::SecurityGroup", "AWS::EC2::VPCEndpoint"]
    different, unread = [], []
    for got in other.stages:
        expected = operators.resolved(by_name[got.name].template, {rules.API_VPC_ENDPOINT: OPERATORS_API_ENDPOINT})
        parameters = dict(by_name[got.name].parameters)
        left = sorted(set(expected.get("Parameters", {})) - set(got.template.get("Parameters", {})))
        for name in left:  # declared, read by nothing once the operator's endpoint is given
            assert f'"{name}"' not in json.dumps([expected["Resources"], expected.get("Outputs")]), name
            del expected["Parameters"][name]
            unread.append(parameters.pop(name))
        gone = sorted(set(expected.get("Outputs", {})) - set(got.template.get("Outputs", {})))
        for name in gone:
            unread.append(f"{got.name}.{name}")
            del expected["Outputs"][name]
        expected = {k: v for k, v in expected.items() if v or k == "Resources"}
        if comparable(_deployments_by_condition(expected)) != comparable(_deployments_by_condition(got.template)):
            different.append(got.name)
        elif parameters != got.parameters:
            different.append(f"{got.name} (parameters)")
    assert different == []
    # the VPC's CIDR: the output of the vpc stage the lambdas stage's parameter reads, and nothing else
    (output,) = [name for name in unread if not name.startswith("${")]
    assert sorted(unread) == sorted([output, "${stage:" + output + "}"]) and output.startswith("vpc."), unread
    assert output.endswith("CidrBlock"), unread


#: data.all's `ip_ranges` of one range and of two (each its own synthesis: CDK adds one ingress entry per range)
IP_RANGES = (["10.10.0.0/16"], ["10.10.0.0/16", "192.168.4.0/24"])


@pytest.mark.parametrize("ranges", IP_RANGES, ids=["one range", "two ranges"])
@EACH_VERSION
def test_data_alls_ip_ranges_are_the_albfront_groups_slots_the_option_fills(version: str, ranges: list[str]) -> None:
    """data.all synthesized with `internet_facing=false` and `ip_ranges` differs from its private synthesis in its
    albfront load balancer's and web UI service's groups alone (an ingress entry per range); after the rule both import
    to the same stages (the ranges' slots), and those slots, the option given the ranges, are the synthesis' entries."""
    source = SOURCES[version]
    private = import_stages(CloudAssembly.load(synthesize(source, version, environment=PRIVATE)), settings=PRIVATE)
    settings = {**PRIVATE, rules.IP_RANGES_KEY: ranges}
    changed = synthesize(source, version, environment=settings)
    (raw,) = [
        json.loads(p.read_text()) for p in changed.rglob("*albfrontstack*.template.json") if "nested" not in p.name
    ]
    synthesized = {
        r["Metadata"]["aws:cdk:path"]: r["Properties"]["SecurityGroupIngress"]
        for r in raw["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroup"
    }
    cidrs = {
        path: [e["CidrIp"] for e in ingress if isinstance(e["CidrIp"], str)] for path, ingress in synthesized.items()
    }
    assert sorted(cidrs.values()) == [ranges, ranges]  # the key took effect, on two groups

    other = import_stages(CloudAssembly.load(changed), settings=settings, reuse=private.packaged)

    pairs = list(zip(other.stages, private.stages, strict=True))
    assert [s.name for s, p in pairs if comparable(s.template) != comparable(p.template)] == []
    declaring = [s.name for s in private.stages if rules.LOAD_BALANCER_IP_RANGES in rules.value_parameters(s.template)]
    assert declaring == ["albfront"]
    (albfront,) = [s.template for s in private.stages if s.name == "albfront"]
    given = operators.resolved(
        albfront, {rules.LOAD_BALANCER_IP_RANGES: ",".join(ranges), **operators.SYNTHESIZED_NAMES}
    )
    taken = {
        r["Metadata"]["aws:cdk:path"]: r["Properties"]["SecurityGroupIngress"]
        for r in given["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroup"
    }
    assert taken == synthesized
    none = operators.resolved(albfront, {rules.LOAD_BALANCER_IP_RANGES: "", **operators.SYNTHESIZED_NAMES})
    assert [len(r["Properties"]["SecurityGroupIngress"]) for r in none["Resources"].values()
            if r["Type"] == "AWS::EC2::SecurityGroup"] == [1, 1]  # fmt: skip
