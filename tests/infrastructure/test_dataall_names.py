"""data.all's names against data.all's own synthesis: the names rule (`rules.names_of_the_installation`) takes every
literal data.all's `resource_prefix` and `envname` make. data.all synthesized with its defaults (`dataall`, `dev`)
and imported, its name parameters then resolved to other names (`pfxq`, `envq`), is data.all synthesized with
those names, imported with `settings` saying so and resolved alike (both sides in the same shape): resource by
resource (matched by CDK path, the names normalised), its type and properties; the stages' parameters, conditions
and outputs. Left out: what names resources (`Ref`/`Fn::GetAtt` targets, `DependsOn`, `Condition`: logical ids,
which hold construct ids), the few strings CDK derives from construct ids or hashes (`CDK_DERIVED`), outputs'
`Description`s (literal in CloudFormation: no intrinsic function may give one), data.all's pipeline's image
repository (`IMAGE_REPOSITORY`: the release's images', not an installation's name). One intended difference: IAM
resources naming the prefix beside a wildcard keep the synthesized `dataall` and gain the installation's prefix
(`widened_wildcards`): the default's resources are a superset of the other's, an extra one a literal-`dataall`
wildcard where data.all's source names its `resource_prefix`, or the installation's prefix's where it names a
literal `dataall` (a grant more than data.all's own: its default synthesis cannot tell the two apart). Slow: a
synthesis with other names takes 30-60 s the first time (cached under ~/.cache/dataall-installer), for both
releases a release carries (2.8.0 and 2.9.0), and for 2.9.0 with every variant option on."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from blueprints.dataall import rules
from cloud_assembly.reader import CloudAssembly
from installer.dataall import import_stages
from installer.upstream import shared_upstream, synthesize

#: the releases the installer carries: 2.8.0 (what an upgrade starts from and a rollback returns to) and 2.9.0
VERSIONS = ("2.8.0", "2.9.0")
SOURCES = {version: shared_upstream(version) / "source" for version in VERSIONS}
pytestmark = [pytest.mark.slow]


def _here(version: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not SOURCES[version].is_dir(), reason=f"../shared/upstream/dataall/{version}/source is not here"
    )


#: data.all's variant keys all off their default: the stages those options add (rum, canaries, secrets,
#: opensearch-serverless) hold names too (the canary's `{resource_prefix[:6]}-{envname}-canary`, RUM's domain)
EVERY_VARIANT = {
    "prod_sizing": False,
    "enable_cw_rum": True,
    "enable_cw_canaries": True,
    "enable_opensearch_serverless": True,
}

#: data.all's defaults (`resource_prefix` of its `cdk.json`, `envname` of its target environment), and the names
#: of the other synthesis: words found nowhere else in data.all's templates, so that replacing them normalises
DEFAULT = {"resource_prefix": "dataall", "envname": "dev"}
OTHER = {"resource_prefix": "pfxq", "envname": "envq"}
#: what the installer gives the stages' name parameters for the OTHER names
NAME_VALUES = {
    rules.RESOURCE_PREFIX: OTHER["resource_prefix"],
    rules.ENV_NAME: OTHER["envname"],
    rules.RESOURCE_PREFIX_FIRST_6: OTHER["resource_prefix"][:6],
}
#: data.all's pipeline's ECR repository, `{resource_prefix}-{git_branch}-ecr-repository` (`pipeline.py`), in its
#: functions' and tasks' image URIs and the grants to pull them: not the installation's name but the publisher's,
#: where the release's images are (`installer.images`: the release pins them by this repository and a digest),
#: whatever the installation's names; the other synthesis' is put back to it before comparing.
IMAGE_REPOSITORY = "{}-main-ecr-repository"

#: Strings CDK derives from construct ids (which hold data.all's names: `dataall-dev-backend-stage`, `UserPooldev`)
#: or from hashes: no parameter can give them, and the rule leaves them as synthesized (the stages keep their
#: synthesized logical ids too). Each: a resource type (None: any), a property path (`/`-joined keys, lists left
#: out), a pattern of the default synthesis' string; a difference there matching it is left out.
CDK_DERIVED: tuple[tuple[str | None, str, str], ...] = (
    # an inline policy CDK names after its construct: `<construct id><8 hex digits of its path's hash>`
    ("AWS::IAM::Policy", "Properties/PolicyName", r"^[A-Za-z0-9]+[0-9A-F]{8}$"),
    # a security group's default description: its construct path, or its Lambda function's unique id (with a hash)
    ("AWS::EC2::SecurityGroup", "Properties/GroupDescription", r"^[A-Za-z0-9-]+/|^Automatic security group for "),
    # a security group rule's default description: `from <the peer's unique id>:<port>` (`to …` for egress)
    ("AWS::EC2::SecurityGroupIngress", "Properties/Description", r"^from [A-Za-z0-9]+:"),
    ("AWS::EC2::SecurityGroupEgress", "Properties/Description", r"^to [A-Za-z0-9]+:"),
    # CDK's custom resource provider functions' description: `AWS CDK resource provider framework - … (<path>)`
    ("AWS::Lambda::Function", "Properties/Description", r"^AWS CDK resource provider framework - \w+ \(.*\)$"),
    # CDK's `Name` tag of a VPC's resources: their construct path (`<pipeline stack id>/<stage id>/…`)
    (None, "Properties/Tags/Value", r"^[A-Za-z0-9-]+-cicd-stack/"),
    # the tags a custom resource that owns a bucket's policy gives it: `aws-cdk:cr-owned:<…>:<hash of its path>`
    ("AWS::S3::Bucket", "Properties/Tags/Key", r"^aws-cdk:cr-owned:"),
    # CloudFront's origin ids, `<stack><construct path><hash>`, and the behaviours naming them
    ("AWS::CloudFront::Distribution", "Properties/DistributionConfig/Origins/Id", r"."),
    ("AWS::CloudFront::Distribution", "Properties/DistributionConfig/DefaultCacheBehavior/TargetOriginId", r"."),
    ("AWS::CloudFront::Distribution", "Properties/DistributionConfig/CacheBehaviors/TargetOriginId", r"."),
    # the SAR secret rotation application's function name: its construct's unique id (`…<hash>`)
    ("AWS::Serverless::Application", "Properties/Parameters/functionName", r"."),
    # the synthesis time data.all writes into its Cognito URLs trigger (`frontend_cognito_config.py`)
    (None, "Properties/Environment/Variables/timestamp", r"^\d{4}-\d\d-\d\dT"),
)


@dataclass
class Resolution:
    """A stage's name parameters resolved to `NAME_VALUES`: an `Fn::Sub` over them alone a string, a `Ref` to one
    its value, `Fn::Join`/`Fn::Split` of strings computed, `Fn::If` on a condition that resolves (`Fn::Equals` of
    strings) chosen, an `AWS::NoValue` it chooses left out of its list; any other intrinsic stays as it is.
    `rewritten`: how many strings (an `Fn::Sub` or a `Ref`) use each name parameter."""

    template: Mapping[str, Any]
    rewritten: Counter[str] = field(default_factory=Counter)
    #: how many strings use any
    strings: int = 0

    def condition(self, name: str) -> bool | None:
        value = Resolution(self.template).resolve(self.template.get("Conditions", {}).get(name))
        return value if isinstance(value, bool) else None

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item != {"Ref": "AWS::NoValue"}]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" and value in NAME_VALUES:
                self.rewritten[value] += 1
                self.strings += 1
                return NAME_VALUES[value]
            if key == "Fn::Sub" and isinstance(value, str):
                return self._sub(value, {})
            if key == "Fn::Sub" and isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
                return self._sub(value[0], self.resolve(value[1]))
            if key in ("Fn::Join", "Fn::Split", "Fn::Equals", "Fn::If") and isinstance(value, list):
                return self._function(key, value)
        return {key: self.resolve(value) for key, value in node.items()}

    def _sub(self, text: str, variables: dict[str, Any]) -> Any:
        used = {n for n in re.findall(r"\$\{([^!}][^}]*)\}", text) if n in NAME_VALUES and n not in variables}
        self.rewritten.update(used)
        self.strings += bool(used)
        for name in used:
            text = text.replace("${" + name + "}", NAME_VALUES[name])
        if variables:
            return {"Fn::Sub": [text, variables]}
        return {"Fn::Sub": text} if re.search(r"\$\{[^!]", text) else text.replace("${!", "${")

    def _function(self, key: str, value: list[Any]) -> Any:
        if key == "Fn::If" and len(value) == 3 and isinstance(value[0], str):
            chosen = self.condition(value[0])
            if chosen is None:
                return {key: [value[0], self.resolve(value[1]), self.resolve(value[2])]}
            return self.resolve(value[1] if chosen else value[2])
        args = [self.resolve(item) for item in value]
        strings = len(args) == 2 and isinstance(args[0], str)
        if key == "Fn::Join" and strings and isinstance(args[1], list) and all(isinstance(a, str) for a in args[1]):
            return args[0].join(args[1])
        if key == "Fn::Split" and len(args) == 2 and all(isinstance(a, str) for a in args):
            return args[1].split(args[0])
        if key == "Fn::Equals" and len(args) == 2 and all(isinstance(a, str) for a in args):
            return args[0] == args[1]
        return {key: args}


def resolved(template: Mapping[str, Any]) -> tuple[dict[str, Any], Resolution]:
    """`template` with its resources' and outputs' name parameters resolved, and the resolution (what it counted)."""
    resolution = Resolution(template)
    result = dict(template)
    for section in ("Resources", "Outputs"):
        result[section] = {key: resolution.resolve(body) for key, body in template.get(section, {}).items()}
    return result, resolution


def normalised(text: str) -> str:
    """A construct path or a CDK-made name of the other synthesis with data.all's default names, its hashes (of
    construct paths, which hold the names) left out: a unique id's 8 hex digits, a construct's address (`c8…`)."""
    for key in ("resource_prefix", "envname"):
        text = text.replace(OTHER[key], DEFAULT[key])
    # the canary user's rotation schedule, `envname[:2]` (`secrets_stack.py`)
    text = text.replace(f"/{OTHER['envname'][:2]}/", f"/{DEFAULT['envname'][:2]}/")
    return CONSTRUCT_ADDRESS.sub("", re.sub(r"[0-9A-F]{8}(?![0-9A-F])", "", text))


def masked(node: Any) -> Any:
    """`node` without the names of resources: a `Ref`'s or an `Fn::GetAtt`'s logical id (its attribute kept)."""
    if isinstance(node, list):
        return [masked(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and not str(node["Ref"]).startswith("AWS::"):
        return {"Ref": "*"}
    if set(node) == {"Fn::GetAtt"} and isinstance(node["Fn::GetAtt"], list):
        return {"Fn::GetAtt": ["*", *node["Fn::GetAtt"][1:]]}
    return {key: masked(value) for key, value in node.items() if key not in ("DependsOn", "Condition")}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Difference:
    stage: str
    resource: str
    type: str
    path: str
    default: Any
    other: Any


def differences(stage: str, resource: str, kind: str, default: Any, other: Any, path: str = "") -> Iterator[Difference]:
    """Where the default synthesis' `default` and the other's `other` (both imported and resolved) differ, walking
    them in parallel: `Ref`, `Fn::GetAtt`, `DependsOn`, `Condition` (names of resources) left out, an
    `Fn::FindInMap`'s mapping name (a logical id) too, an IAM statement's resources compared as a set (CDK does
    not keep their order from one synthesis to another), keys matched with their names normalised."""
    if isinstance(default, dict) and isinstance(other, dict):
        others = {normalised(key): key for key in other}
        seen = set()
        for key, value in default.items():
            if key in ("Ref", "Fn::GetAtt", "DependsOn", "Condition"):
                seen.add(key)
                continue
            mate = key if key in other else others.get(normalised(key), key)
            seen.add(mate)
            here = path if key.startswith("Fn::") else f"{path}/{key}".lstrip("/")
            if mate not in other:
                yield Difference(stage, resource, kind, f"{here} (in the default only)", value, None)
            elif key == "Fn::FindInMap" and isinstance(value, list) and isinstance(other[mate], list):
                yield from differences(stage, resource, kind, value[1:], other[mate][1:], here)
            elif key in ("Resource", "NotResource") and path.endswith("Statement"):
                if sorted(map(_text, masked(_as_list(value)))) != sorted(map(_text, masked(_as_list(other[mate])))):
                    yield Difference(stage, resource, kind, here, value, other[mate])
            else:
                yield from differences(stage, resource, kind, value, other[mate], here)
        for key in set(other) - seen - {"Ref", "Fn::GetAtt", "DependsOn", "Condition"}:
            yield Difference(stage, resource, kind, f"{path}/{key} (in the other only)".lstrip("/"), None, other[key])
    elif isinstance(default, list) and isinstance(other, list) and len(default) == len(other):
        for a, b in zip(default, other, strict=True):
            yield from differences(stage, resource, kind, a, b, path)
    elif default != other:
        yield Difference(stage, resource, kind, path, default, other)


#: A construct's address (`c8` and 40 hex digits of its path's hash): aws-cdk-lib's OpenSearch `Domain` names its
#: log groups' resource policy `ESLogPolicy<address>` (in its custom resource's calls, `Properties/Create`, …); a
#: string that differs by addresses alone is no difference.
CONSTRUCT_ADDRESS = re.compile(r"c8[0-9a-f]{40}")


def cdk_derived(difference: Difference) -> bool:
    default, other = difference.default, difference.other
    if not isinstance(default, str):
        return False
    if isinstance(other, str) and CONSTRUCT_ADDRESS.sub("", default) == CONSTRUCT_ADDRESS.sub("", other):
        return True
    return any(
        kind in (None, difference.type) and path == difference.path and re.search(pattern, default)
        for kind, path, pattern in CDK_DERIVED
    )


#: the prefix beside a wildcard in an IAM resource (`parameter/*dataall*`, `cluster:dataall*`), either name
PREFIX_WILDCARD = re.compile(r"\*({0}|{1})|({0}|{1})\*".format(DEFAULT["resource_prefix"], OTHER["resource_prefix"]))


def widened_wildcards(difference: Difference) -> list[str]:
    """The intended difference: an IAM statement's resources naming data.all's prefix beside a wildcard, which the
    rule keeps and widens with the installation's (data.all writes there its `resource_prefix` as often as the
    literal `dataall`, and its default synthesis cannot tell which): the default's resources are a superset of
    the other's, each extra one a wildcard over either prefix (the literal `dataall` the other synthesis names with
    its own prefix, or the installation's prefix where the other names a literal `dataall`) whose counterpart,
    that wildcard over the other prefix, is there too. The extra ones (as JSON), none if it is not that."""
    if not re.search(r"Statement/(Not)?Resource$", difference.path):
        return []
    default = [_text(item) for item in masked(_as_list(difference.default))]
    other = [_text(item) for item in masked(_as_list(difference.other))]
    extra = [item for item in default if item not in other]
    swap = {DEFAULT["resource_prefix"]: OTHER["resource_prefix"], OTHER["resource_prefix"]: DEFAULT["resource_prefix"]}

    def counterpart(item: str) -> str:
        return PREFIX_WILDCARD.sub(lambda m: re.sub("|".join(swap), lambda n: swap[n.group(0)], m.group(0)), item)

    widened = set(other) <= set(default) and all(
        PREFIX_WILDCARD.search(item) and counterpart(item) in default for item in extra
    )
    return extra if widened else []


def by_path(template: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The template's resources by their CDK path (normalised), else their logical id, and their condition (a rule
    may make a resource one per condition: the API's deployment); CDK's analytics left out."""
    found = {
        normalised((body.get("Metadata") or {}).get("aws:cdk:path") or key) + f" if {body.get('Condition')}": (
            key,
            body,
        )
        for key, body in template.get("Resources", {}).items()
        if body.get("Type") != "AWS::CDK::Metadata"  # CDK's compressed construct tree: construct ids
    }
    assert len(found) == len([b for b in template.get("Resources", {}).values() if b["Type"] != "AWS::CDK::Metadata"])
    return found


def _bodies(section: Mapping[str, Any], keys: Any) -> list[str]:
    return sorted(_text(masked(section[key])) for key in keys)


@dataclass
class Comparison:
    differences: list[Difference] = field(default_factory=list)
    #: IAM statements whose resources the rule widened (`widened_wildcards`), and their extra resources by the
    #: prefix they name: `dataall` (the other synthesis names its own prefix there) or the installation's (the
    #: other names a literal `dataall` there: a grant data.all's source does not make)
    widened: int = 0
    extra: Counter[str] = field(default_factory=Counter)
    #: the differences `CDK_DERIVED` left out
    derived: int = 0
    #: how many strings of the default stages use each name parameter, and any
    rewritten: Counter[str] = field(default_factory=Counter)
    strings: int = 0


def compare(stage: str, default_template: dict[str, Any], other_template: dict[str, Any], into: Comparison) -> None:
    """The default stage's template (resolved) against the other's (resolved), into `into`."""
    default, resolution = resolved(default_template)
    repository = IMAGE_REPOSITORY.format(OTHER["resource_prefix"])
    other_text = json.dumps(other_template).replace(repository, IMAGE_REPOSITORY.format(DEFAULT["resource_prefix"]))
    other, _ = resolved(json.loads(other_text))
    into.rewritten += resolution.rewritten
    into.strings += resolution.strings
    mine, theirs = by_path(default), by_path(other)
    for path in sorted(set(mine) ^ set(theirs)):
        side = "default" if path in mine else "other"
        into.differences.append(Difference(stage, path, "", f"(a resource of the {side} only)", None, None))
    for path in sorted(set(mine) & set(theirs)):
        (_, body), (_, mate) = mine[path], theirs[path]
        kept = ("Type", "Properties")
        pair = ({k: v for k, v in body.items() if k in kept}, {k: v for k, v in mate.items() if k in kept})
        for difference in differences(stage, path, body["Type"], *pair):
            if cdk_derived(difference):
                into.derived += 1
            elif extra := widened_wildcards(difference):
                into.widened += 1
                into.extra.update(
                    DEFAULT["resource_prefix"] if DEFAULT["resource_prefix"] in e else "other" for e in extra
                )
            else:
                into.differences.append(difference)
    # Outputs: CDK names a nested stack's outputs after construct paths (hashed, truncated to CloudFormation's
    # 255 characters at places the names' lengths move): compared as a multiset of what they give, their
    # `Description`s left out (a literal in CloudFormation, which no intrinsic function may give)
    outputs = [
        {k: {key: v for key, v in o.items() if key != "Description"} for k, o in t.get("Outputs", {}).items()}
        for t in (default, other)
    ]
    if _bodies(outputs[0], outputs[0]) != _bodies(outputs[1], outputs[1]):
        into.differences.append(Difference(stage, "Outputs", "", "", outputs[0], outputs[1]))
    # Parameters: the rules' by name; CDK's references to other nested stacks' outputs (named like those) as a multiset
    parameters = [t.get("Parameters", {}) for t in (default, other)]
    # (a prefix of 6 characters or fewer is its own first 6: the rule takes the other's canary name
    # `pfxq-envq-canary` as `${ResourcePrefix}-${EnvName}-canary`, which resolves alike, without ResourcePrefixFirst6)
    first_6 = {rules.RESOURCE_PREFIX_FIRST_6} if len(OTHER["resource_prefix"]) <= 6 else set()
    named = [{k: v for k, v in p.items() if not k.startswith("referenceto") and k not in first_6} for p in parameters]
    references = [[k for k in p if k.startswith("referenceto")] for p in parameters]
    if named[0] != named[1] or _bodies(parameters[0], references[0]) != _bodies(parameters[1], references[1]):
        into.differences.append(Difference(stage, "Parameters", "", "", parameters[0], parameters[1]))
    # Conditions: the same, but the one that holds the synthesized prefix (`DataallResourcePrefixAsSynthesized`),
    # which the default has wherever it widened a wildcard and the other wherever its own prefix is beside one
    conditions = [dict(t.get("Conditions", {})) for t in (default, other)]
    synthesized = [c.pop(rules.PREFIX_AS_SYNTHESIZED, None) for c in conditions]
    if conditions[0] != conditions[1]:
        into.differences.append(Difference(stage, "Conditions", "", "", conditions[0], conditions[1]))
    expected = {"Fn::Equals": [{"Ref": rules.RESOURCE_PREFIX}, DEFAULT["resource_prefix"]]}
    if synthesized[0] not in (None, expected):
        into.differences.append(Difference(stage, rules.PREFIX_AS_SYNTHESIZED, "", "", synthesized[0], expected))


#: data.all's default names as the rule must not leave them: its names (`dataall-dev-…`) and SSM parameters
LEFTOVER = re.compile(r"dataall-dev(?![A-Za-z0-9])|/dataall/dev/")


def leftovers(template: Mapping[str, Any]) -> list[str]:
    """Strings of an imported default template, outside resources' `Metadata` and `Description`s, that still hold
    data.all's default names."""

    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key not in ("Metadata", "Description", "GroupDescription"):
                    yield from strings(value)

    sections = [template.get(s, {}) for s in ("Resources", "Outputs", "Parameters", "Conditions", "Mappings")]
    return [text for text in strings(sections) if LEFTOVER.search(text)]


@pytest.mark.parametrize(
    "version,variant",
    [
        pytest.param("2.8.0", {}, id="data.all 2.8.0", marks=_here("2.8.0")),
        pytest.param("2.9.0", {}, id="data.all 2.9.0", marks=_here("2.9.0")),
        pytest.param("2.9.0", EVERY_VARIANT, id="data.all 2.9.0, every variant option on", marks=_here("2.9.0")),
    ],
)
def test_the_names_rule_takes_every_literal_data_alls_resource_prefix_and_envname_make(
    version: str, variant: dict[str, Any]
) -> None:
    # Given data.all synthesized with its default names, and with other names
    source = SOURCES[version]
    default = import_stages(CloudAssembly.load(synthesize(source, version, environment=variant or None)))
    changed = synthesize(
        source, version, environment={**variant, "envname": OTHER["envname"]},
        context={"resource_prefix": OTHER["resource_prefix"]},
    )  # fmt: skip
    raw = "".join(p.read_text() for p in changed.rglob("*.template.json"))
    assert '"pfxq-envq-' in raw and "/dataall/envq/" in raw and "dataall-dev" not in raw  # the names took effect

    # When both are imported, each with the names its synthesis had, and the default's parameters resolved to them
    other = import_stages(CloudAssembly.load(changed), settings=OTHER, reuse=default.packaged)
    assert [s.name for s in other.stages] == [s.name for s in default.stages]
    if variant:
        assert {"rum", "canaries", "secrets", "opensearch-serverless"} <= {s.name for s in default.stages}
    comparison = Comparison()
    for mine, theirs in zip(default.stages, other.stages, strict=True):
        compare(mine.name, mine.template, theirs.template, comparison)

    # Then every stage is the other's, but for the IAM wildcards the rule widens
    shown = [
        f"{d.stage} {d.type} {d.resource} {d.path}: {d.default!r:.300} != {d.other!r:.300}"
        for d in comparison.differences
    ]
    assert shown == []
    print(
        f"data.all {version}{' (every variant)' if variant else ''}: {comparison.strings} strings use the name "
        f"parameters (by parameter: {dict(comparison.rewritten)}), {comparison.widened} IAM statements widened "
        f"(extra resources over the prefix: {dict(comparison.extra)}), "
        f"{comparison.derived} CDK-derived strings left out"
    )
    assert comparison.rewritten[rules.RESOURCE_PREFIX] > 100 and comparison.rewritten[rules.ENV_NAME] > 100
    assert comparison.widened > 0 and comparison.extra[DEFAULT["resource_prefix"]] > 0
    assert (comparison.rewritten[rules.RESOURCE_PREFIX_FIRST_6] > 0) == bool(variant)  # the canary's name
    # and nothing of the default names is left in the imported stages
    assert {s.name: found for s in default.stages if (found := leftovers(s.template))} == {}

    # and the comparison sees a name the rule would leave: one of its strings put back to data.all's default names
    lambdas = next(i for i, s in enumerate(default.stages) if s.name == "lambdas")
    text = json.dumps(default.stages[lambdas].template)
    name = "${" + rules.RESOURCE_PREFIX + "}-${" + rules.ENV_NAME + "}-"
    assert name in text
    missed = Comparison()
    compare("lambdas", json.loads(text.replace(name, "dataall-dev-", 1)), other.stages[lambdas].template, missed)
    (seen,) = missed.differences
    assert "dataall-dev-" in str(seen.default) and "pfxq-envq-" in str(seen.other)
