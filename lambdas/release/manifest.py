"""The release manifest: the contract between `dataall-installer build` and the workflow.

One implementation serves both sides: the build rejects a bad graph before a release
exists, and the plan step rejects it again before anything changes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

SCHEMA_DIR = Path(__file__).parent / "schemas"

#: Parameters the installer itself supplies to every stage, besides the release's options.
CONTEXT_PARAMETERS = (
    "ResourcePrefix",
    "EnvName",
    # the prefix's first 6 characters: data.all names its canary `{resource_prefix[:6]}-{envname}-canary`
    "ResourcePrefixFirst6",
    # whether a stage makes the account's OpenSearch service-linked role (`lambdas.run.service_linked_roles`)
    "OpenSearchServiceLinkedRoleMade",
    "AssetsBucket",
    "Region",
    "AccountId",
    "PivotRoleProviderArn",
    # the installer's function making data.all's private web UI image (`lambdas.site.image`)
    "FrontendImageProviderArn",
    "DeletionProtection",
    # S3's AWS-managed prefix list in the stage's region (`lambdas.run.region_values`)
    "S3PrefixListId",
    # the operator's VPC (`VpcId`): its CIDR, private route tables and public subnets
    # (`lambdas.run.existing_vpc`), and each private subnet (`VpcPrivateSubnet<n>Id`, CONTEXT_PARAMETER)
    "VpcCidrBlock",
    "VpcPrivateRouteTableIds",
    "VpcPublicSubnetIds",
)
#: Context parameters of a numbered family (the operator's VPC's private subnets, as many as the release takes).
CONTEXT_PARAMETER = re.compile(r"VpcPrivateSubnet[1-9][0-9]*Id")


def is_context_parameter(name: str) -> bool:
    """Whether the installer itself gives stages the parameter `name` (`CONTEXT_PARAMETERS`, `CONTEXT_PARAMETER`)."""
    return name in CONTEXT_PARAMETERS or CONTEXT_PARAMETER.fullmatch(name) is not None


#: What CloudFormation shows of a NoEcho parameter's value (DescribeStacks), and what a run records
#: and compares in place of an installation value: the value itself is given to CloudFormation alone.
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#parameters-section-structure-properties
NO_ECHO_MASK = "****"

REFERENCE = re.compile(r"\$\{(param|stage):([^}]*)\}")
STAGE_REFERENCE = re.compile(r"^([a-z][a-z0-9-]*)\.([A-Za-z0-9]+)$")

OptionValue = str | bool | int


class ManifestError(ValueError):
    """A manifest, a graph or a set of options that cannot be installed, with the reason.

    `option` names the one option at fault, when one is (an unknown option, a value its type,
    pattern or allowed values refuse).
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


@cache
def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return schema


def _pattern_whole(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Any:
    """`pattern`, matched against the whole string (`re.fullmatch`).

    JSON Schema's `pattern` is a search (https://json-schema.org/draft/2020-12/json-schema-validation#name-pattern)
    and Python's `$` matches before a final newline: `^1$` let `"1\\n"` through. Our schemas
    anchor every pattern; this makes the anchoring exact.
    """
    if isinstance(instance, str) and not re.fullmatch(pattern, instance):
        import jsonschema

        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _fullmatch_class() -> Any:
    """The validator class, made on first use: importing jsonschema costs a cold start ~0.1 s of CPU,
    which a Lambda that never validates a document (most of the workflow's) should not pay."""
    import jsonschema

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern_whole})


def fullmatch_validator(schema: Mapping[str, Any]) -> Any:
    """A Draft 2020-12 validator whose patterns must match the whole string."""
    return _fullmatch_class()(schema)


@cache
def schema_validator(name: str) -> Any:
    """The validator of the schema `name`, made once per process (a schema is read-only)."""
    return fullmatch_validator(load_schema(name))


def schema_errors(document: Any, schema_name: str) -> list[str]:
    """Every way `document` breaks the schema, each naming the field (`options.Foo: ...`)."""
    validator = schema_validator(schema_name)
    messages = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        messages.append(f"{where}: {_short(error)}")
    return messages


def _short(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown field")
    if error.validator == "required" and isinstance(error.validator_value, list):
        return str(error.message)
    return str(error.message)


@dataclass(frozen=True)
class Option:
    name: str
    type: str
    default: OptionValue
    description: str = ""
    label: str = ""
    group: str = ""
    pattern: str | None = None
    allowed: tuple[OptionValue, ...] | None = None
    #: its value is an ARN of the region of every stage that reads it (a Lambda layer's)
    same_region: bool = False
    #: an integer option's bounds (inclusive)
    minimum: int | None = None
    maximum: int | None = None

    def coerce(self, value: Any) -> OptionValue:
        """The option's value from JSON or from a CloudFormation parameter string."""
        if self.type == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise self._refused(f"{value!r} is not a boolean (true or false)")
        if self.type == "integer":
            return self._integer(value)
        if not isinstance(value, str):
            raise self._refused(f"{value!r} is not a string")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise self._refused(f"{value!r} does not match {self.pattern}")
        if self.allowed is not None and value not in self.allowed:
            raise self._refused(f"{value!r} is not one of {list(self.allowed)}")
        return value

    def _integer(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self._refused(f"{value!r} is not an integer")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self._refused(f"{value!r} is not an integer") from None
        if self.allowed is not None and number not in self.allowed:
            raise self._refused(f"{number} is not one of {list(self.allowed)}")
        if self.minimum is not None and number < self.minimum:
            raise self._refused(f"{number} is below its minimum {self.minimum}")
        if self.maximum is not None and number > self.maximum:
            raise self._refused(f"{number} is above its maximum {self.maximum}")
        return number

    def _refused(self, reason: str) -> ManifestError:
        return ManifestError(f"option {self.name}: {reason}", option=self.name)


@dataclass(frozen=True)
class InstallationValue:
    """A value made once per installation at deploy time, never in a release (the pivot role's
    external id): drawn from `alphabet` with a CSPRNG, `length` characters, unless the account
    already holds one in the SSM parameter `adopt_ssm_parameter` (`lambdas.run.installation_values`)."""

    name: str
    alphabet: str
    length: int
    description: str = ""
    adopt_ssm_parameter: str | None = None


@dataclass(frozen=True)
class ReleaseImage:
    """A container image the release's stages run: repository and tag as the stages name them in
    the installation's registry, the digest the release pins, the stages that run it."""

    repository: str
    tag: str
    digest: str | None
    stages: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Variant:
    """Another template of a stage, for the options its condition holds for (a release built from
    data.all's source synthesized with those options: `installer.dataall`); of an action, other
    parameters (data.all's web UI signing in at its custom auth provider instead of Cognito)."""

    when: Mapping[str, Any]
    #: None: an action's variant (its parameters alone)
    template: str | None
    #: the stage's parameters with this template, when they differ from the stage's own
    parameters: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Step:
    """A node of the release graph: a stage (one stack) or an action (e.g. `migrate`)."""

    name: str
    kind: str  # "stage" or an action kind
    depends_on: tuple[str, ...]
    timeout: int
    parameters: Mapping[str, str] = field(default_factory=dict)
    when: Mapping[str, Any] | None = None
    template: str | None = None
    stateful: bool = False
    outputs: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    description: str = ""
    #: the region the stage's stack lives in; None: the workflow's own region
    region: str | None = None
    #: other templates of the stage, the first whose condition the options meet taking the place
    #: of `template` (`chosen`)
    variants: tuple[Variant, ...] = ()

    def chosen(self, options: Mapping[str, Any]) -> Step:
        """The step as `options` have it: the template (and parameters) of its first variant whose
        condition they meet (an action's: its parameters), else its own."""
        for variant in self.variants:
            if evaluate(variant.when, options):
                parameters = self.parameters if variant.parameters is None else variant.parameters
                template = self.template if variant.template is None else variant.template
                return replace(self, template=template, parameters=dict(parameters), variants=())
        return replace(self, variants=()) if self.variants else self

    def templates(self) -> list[str]:
        """Every template the stage may run: its own, then its variants'."""
        own = [self.template] if self.template is not None else []
        return [*own, *(variant.template for variant in self.variants if variant.template is not None)]

    def region_in(self, home: str) -> str:
        """The region of the stage's stack, for a workflow running in `home`."""
        return self.region or home

    @property
    def is_stage(self) -> bool:
        return self.kind == "stage"

    def stage_references(self) -> list[tuple[str, str]]:
        """The (stage, output) pairs this step's parameters read."""
        found = []
        for value in self.parameters.values():
            for kind, ref in REFERENCE.findall(value):
                if kind == "stage":
                    match = STAGE_REFERENCE.match(ref)
                    found.append((match.group(1), match.group(2)) if match else (ref, ""))
        return found

    def dependencies(self) -> set[str]:
        return set(self.depends_on) | {stage for stage, _ in self.stage_references()}

    def reads_param(self, name: str) -> bool:
        """Whether one of this step's parameters reads `${param:<name>}` (an option, or a value Plan makes)."""
        return any(("param", name) == found for value in self.parameters.values() for found in REFERENCE.findall(value))


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    options: Mapping[str, Option]
    rules: tuple[tuple[Mapping[str, Any], str], ...]
    steps: Mapping[str, Step]
    files: Mapping[str, str]
    document: Mapping[str, Any]
    #: The release file of data.all's web UI bundle, when the release ships one.
    site_bundle: str | None = None
    #: per-installation values a stage may read as `${param:Name}` (`InstallationValue`)
    values: Mapping[str, InstallationValue] = field(default_factory=dict)
    #: the container images the stages run (`ReleaseImage`), copied by the `images` action
    images: tuple[ReleaseImage, ...] = ()
    #: the publisher's registry the images are copied from: (registry id, region)
    image_registry: tuple[str, str] | None = None

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_document(cls, document: Any) -> Manifest:
        errors = schema_errors(document, "manifest")
        if errors:
            raise ManifestError("manifest does not match its schema: " + "; ".join(errors))
        options = {
            name: Option(
                name=name,
                type=spec["type"],
                default=spec["default"],
                description=spec.get("description", ""),
                label=spec.get("label", ""),
                group=spec.get("group", ""),
                pattern=spec.get("pattern"),
                allowed=tuple(spec["allowed"]) if "allowed" in spec else None,
                same_region=spec.get("same_region", False),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
            )
            for name, spec in document["options"].items()
        }
        steps: dict[str, Step] = {}
        for spec in document["stages"]:
            step = Step(
                name=spec["name"],
                kind="stage",
                depends_on=tuple(spec["depends_on"]),
                timeout=spec["timeout"],
                parameters=dict(spec["parameters"]),
                when=spec.get("when"),
                template=spec["template"],
                stateful=spec["stateful"],
                outputs=tuple(spec["outputs"]),
                capabilities=tuple(spec.get("capabilities", ())),
                description=spec.get("description", ""),
                region=spec.get("region"),
                variants=tuple(
                    Variant(
                        when=variant["when"],
                        template=variant["template"],
                        parameters=dict(variant["parameters"]) if "parameters" in variant else None,
                    )
                    for variant in spec.get("variants", ())
                ),
            )
            cls._add(steps, step)
        for spec in document["actions"]:
            step = Step(
                name=spec["name"],
                kind=spec["kind"],
                depends_on=tuple(spec["depends_on"]),
                timeout=spec["timeout"],
                parameters=dict(spec.get("parameters", {})),
                when=spec.get("when"),
                description=spec.get("description", ""),
                variants=tuple(
                    Variant(when=variant["when"], template=None, parameters=dict(variant["parameters"]))
                    for variant in spec.get("variants", ())
                ),
            )
            cls._add(steps, step)
        manifest = cls(
            name=document["name"],
            version=document["version"],
            options=options,
            rules=tuple((rule["when"], rule["message"]) for rule in document.get("rules", [])),
            steps=steps,
            files=dict(document["files"]),
            document=document,
            site_bundle=document.get("site", {}).get("bundle"),
            values={
                name: InstallationValue(
                    name=name,
                    alphabet=spec["alphabet"],
                    length=spec["length"],
                    description=spec.get("description", ""),
                    adopt_ssm_parameter=spec.get("adopt_ssm_parameter"),
                )
                for name, spec in document.get("values", {}).items()
            },
            images=tuple(
                ReleaseImage(spec["repository"], spec["tag"], spec.get("digest"), tuple(spec["stages"]))
                for spec in document.get("images", {}).get("images", [])
            ),
            image_registry=(document["images"]["registry"], document["images"]["region"])
            if "images" in document
            else None,
        )
        manifest.check()
        return manifest

    @staticmethod
    def _add(steps: dict[str, Step], step: Step) -> None:
        if step.name in steps:
            raise ManifestError(f"step {step.name!r} is declared twice")
        steps[step.name] = step

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ManifestError(f"manifest is not valid JSON: {error}") from None
        return cls.from_document(document)

    # ----------------------------------------------------------------- checks
    def check(self) -> None:
        """Reject unknown references, undeclared outputs, unknown options and cycles."""
        problems = [problem for step in self.steps.values() for problem in self._check_step(step)]
        for condition, message in self.rules:
            problems.extend(
                f"rule {message!r} reads unknown option {option!r}"
                for option in _condition_options(condition)
                if option not in self.options
            )
        if self.site_bundle is not None and self.site_bundle not in self.files:
            problems.append(f"the site's bundle {self.site_bundle} is not in files")
        problems.extend(
            f"value {name!r} is also an option or a parameter the installer gives"
            for name in self.values
            if name in self.options or is_context_parameter(name)
        )
        problems.extend(
            f"value {value.name!r} has a repeated character in its alphabet"
            for value in self.values.values()
            if len(set(value.alphabet)) != len(value.alphabet)
        )
        problems.extend(self._image_problems())
        if problems:
            raise ManifestError("; ".join(problems))
        cycle = find_cycle({name: step.dependencies() for name, step in self.steps.items()})
        if cycle:
            raise ManifestError("dependency cycle: " + " -> ".join(cycle))

    def _image_problems(self) -> list[str]:
        """An image must be pinned by digest (the workflow copies and verifies nothing else), run by
        stages of the release, and made available by an `images` action before each of them."""
        problems = [
            f"image {image.name} has no digest: the workflow copies an image only by the digest the "
            "release pins (build the release with the publisher's registry, --image-registry)"
            for image in self.images
            if not image.digest
        ]
        copiers = {name for name, step in self.steps.items() if step.kind == "images"}
        for image in self.images:
            for stage in image.stages:
                step = self.steps.get(stage)
                if step is None or not step.is_stage:
                    problems.append(f"image {image.name} names unknown stage {stage!r}")
                elif not copiers & step.dependencies():
                    problems.append(f"stage {stage!r} runs image {image.name} but depends on no images action")
        return problems

    def _check_step(self, step: Step) -> list[str]:
        problems = [
            f"step {step.name!r} depends on unknown step {dep!r}" for dep in step.depends_on if dep not in self.steps
        ]
        known_params = set(CONTEXT_PARAMETERS) | set(self.options) | set(self.values)
        for key, value in step.parameters.items():
            for kind, ref in REFERENCE.findall(value):
                if kind == "param" and ref not in known_params and not is_context_parameter(ref):
                    problems.append(f"step {step.name!r} parameter {key} reads unknown option {ref!r}")
                if kind == "stage":
                    problems.extend(self._check_stage_reference(step, key, ref))
        problems.extend(
            f"stage {step.name!r} template {template} is not in files"
            for template in step.templates()
            if template not in self.files
        )
        for variant in step.variants:
            problems.extend(
                f"stage {step.name!r} variant {variant.template} reads unknown option {option!r}"
                for option in _condition_options(variant.when)
                if option not in self.options
            )
            for key, value in (variant.parameters or {}).items():
                problems.extend(
                    f"stage {step.name!r} variant {variant.template} parameter {key} reads unknown option {ref!r}"
                    for kind, ref in REFERENCE.findall(value)
                    if kind == "param" and ref not in known_params
                )
                # a variant reads the stage outputs its stage reads, or those of a stage its stage waits for
                # (data.all's dashboards read the search domain's stage, or in its place the collection's:
                # both in its depends_on, each only where an option turns it on)
                own = {ref for v in step.parameters.values() for kind, ref in REFERENCE.findall(v) if kind == "stage"}
                for ref in {ref for kind, ref in REFERENCE.findall(value) if kind == "stage"} - own:
                    if ref.split(".", 1)[0] not in step.depends_on:
                        problems.append(
                            f"stage {step.name!r} variant {variant.template} parameter {key} reads a stage output "
                            "the stage itself does not: a variant may not change the graph"
                        )
                    else:
                        problems.extend(self._check_stage_reference(step, key, ref))
        problems.extend(
            f"step {step.name!r} condition reads unknown option {option!r}"
            for option in _condition_options(step.when)
            if option not in self.options
        )
        return problems

    def _check_stage_reference(self, step: Step, key: str, ref: str) -> list[str]:
        match = STAGE_REFERENCE.match(ref)
        if not match:
            return [f"step {step.name!r} parameter {key}: ${{stage:{ref}}} is not stage.Output"]
        stage_name, output = match.groups()
        target = self.steps.get(stage_name)
        if target is None or not target.is_stage:
            return [f"step {step.name!r} parameter {key} reads unknown stage {stage_name!r}"]
        if output not in target.outputs:
            return [
                f"step {step.name!r} parameter {key} reads output {output!r} "
                f"that stage {stage_name!r} does not declare (it has: {', '.join(target.outputs)})"
            ]
        return []

    # ----------------------------------------------------------------- options
    def resolve_options(self, *layers: Mapping[str, Any] | None) -> dict[str, OptionValue]:
        """Defaults, then each layer on top (current installation, then the run's input)."""
        resolved: dict[str, OptionValue] = {n: o.default for n, o in self.options.items()}
        for layer in layers:
            for name, value in (layer or {}).items():
                option = self.options.get(name)
                if option is None:
                    raise ManifestError(
                        f"options.{name}: unknown option; this release accepts " + ", ".join(sorted(self.options)),
                        option=name,
                    )
                resolved[name] = option.coerce(value)
        broken = [message for condition, message in self.rules if evaluate(condition, resolved)]
        if broken:
            raise ManifestError("options cannot be combined: " + "; ".join(broken))
        return resolved

    # ----------------------------------------------------------------- graph
    def chosen(self, options: Mapping[str, OptionValue]) -> Manifest:
        """The manifest as `options` have it: each stage with the template of its variant they meet
        (`Step.chosen`). What a run deploys, previews and compares is the chosen manifest's."""
        if not any(step.variants for step in self.steps.values()):
            return self
        return replace(self, steps={name: step.chosen(options) for name, step in self.steps.items()})

    def active_steps(self, options: Mapping[str, OptionValue]) -> dict[str, Step]:
        active = {n: s.chosen(options) for n, s in self.steps.items() if s.when is None or evaluate(s.when, options)}
        for step in active.values():
            for stage, output in step.stage_references():
                if stage not in active:
                    raise ManifestError(
                        f"step {step.name!r} reads {stage}.{output}, but stage {stage!r} is off with these options"
                    )
        return active

    def region_problems(self, options: Mapping[str, OptionValue], home: str) -> list[tuple[str, str]]:
        """(option, reason) for every `same_region` option whose ARN is of another region than a
        stage that reads it, for a workflow in `home` (Lambda takes a function's layers from its
        own region only: https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html)."""
        problems = []
        for name, option in sorted(self.options.items()):
            if not option.same_region:
                continue
            value = str(options.get(name, option.default))
            parts = value.split(":")
            arn_region = parts[3] if len(parts) > 3 else ""
            for step in self.active_steps(options).values():
                region = step.region_in(home)
                if step.reads_param(name) and arn_region != region:
                    problems.append(
                        (
                            name,
                            f"option {name}: {value} is of {arn_region or 'no region'}, but stage {step.name} "
                            f"is in {region}, and Lambda takes layers of its own region only; give {name} "
                            f"the ARN of that layer in {region}",
                        )
                    )
                    break
        return problems

    def waves(self, options: Mapping[str, OptionValue]) -> list[list[str]]:
        """Topological levels of the active graph; a dependency that is off is ignored."""
        active = self.active_steps(options)
        deps = {n: {d for d in s.dependencies() if d in active} for n, s in active.items()}
        return topological_levels(deps)

    def stages(self) -> list[Step]:
        return [s for s in self.steps.values() if s.is_stage]

    def value_parameters(self, step: Step) -> dict[str, str]:
        """The step's parameters that are an installation value (`${param:Value}` whole): key -> value name."""
        found = {}
        for key, text in step.parameters.items():
            match = REFERENCE.fullmatch(text)
            if match and match.group(1) == "param" and match.group(2) in self.values:
                found[key] = match.group(2)
        return found

    def given_to_cloudformation(
        self, step: Step, resolved: Mapping[str, str], values: Mapping[str, str]
    ) -> dict[str, str]:
        """The step's resolved parameters as CloudFormation takes them: each installation value
        (recorded and compared as NO_ECHO_MASK) filled in from `values`."""
        given = dict(resolved)
        for key, name in self.value_parameters(step).items():
            if name not in values:
                raise ManifestError(f"step {step.name!r} reads installation value {name!r}, which is not made yet")
            given[key] = values[name]
        return given


def topological_levels(deps: Mapping[str, Iterable[str]]) -> list[list[str]]:
    remaining = {name: set(d) for name, d in deps.items()}
    levels: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        level = sorted(n for n, d in remaining.items() if d <= done)
        if not level:
            cycle = find_cycle(remaining) or sorted(remaining)
            raise ManifestError("dependency cycle: " + " -> ".join(cycle))
        levels.append(level)
        done.update(level)
        for name in level:
            del remaining[name]
    return levels


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of the graph as a closed path (a -> b -> a), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(deps.get(node, ())):
            if nxt not in deps:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(deps):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def evaluate(condition: Mapping[str, Any] | None, options: Mapping[str, OptionValue]) -> bool:
    if condition is None:
        return True
    if "not" in condition:
        return not evaluate(condition["not"], options)
    if "all" in condition:
        return all(evaluate(c, options) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, options) for c in condition["any"])
    value = options.get(condition["option"])
    if "equals" in condition:
        return bool(value == condition["equals"])
    if "not_equals" in condition:
        return bool(value != condition["not_equals"])
    return bool(value)


def _condition_options(condition: Mapping[str, Any] | None) -> list[str]:
    if condition is None:
        return []
    if "not" in condition:
        return _condition_options(condition["not"])
    for key in ("all", "any"):
        if key in condition:
            return [o for c in condition[key] for o in _condition_options(c)]
    return [condition["option"]]


def render_value(value: OptionValue) -> str:
    """An option as CloudFormation parameter text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_parameters(
    step: Step,
    params: Mapping[str, OptionValue],
    stage_output: Callable[[str, str], str],
) -> dict[str, str]:
    """The step's parameters with every `${param:…}` and `${stage:…}` filled in."""

    def substitute(match: re.Match[str]) -> str:
        kind, ref = match.groups()
        if kind == "param":
            if ref not in params:
                raise ManifestError(f"step {step.name!r} reads unknown parameter {ref!r}")
            return render_value(params[ref])
        stage, output = ref.split(".", 1)
        return stage_output(stage, output)

    return {key: REFERENCE.sub(substitute, value) for key, value in step.parameters.items()}


def template_problems(
    steps: Mapping[str, Step],
    templates: Mapping[str, Mapping[str, Any]],
    params: Mapping[str, OptionValue],
    stage_params: Callable[[Step], Mapping[str, OptionValue]] | None = None,
) -> list[tuple[str, str]]:
    """(field, reason) for every way the stages' parameters disagree with their templates.

    `templates` holds each active stage's template, parsed. Checked, as CloudFormation would
    check them only once a stack is already changing: every parameter a stage passes is
    declared by its template (CreateStack/CreateChangeSet refuse an undeclared one), every
    declared parameter without a `Default` is passed, a value known before deploying (a
    literal or an option) keeps the template's `AllowedValues`, `AllowedPattern` (matched
    whole), `MinLength`/`MaxLength` and `MinValue`/`MaxValue`
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html),
    and every `${stage:name.Output}` names an output the template of `name` declares in its
    `Outputs` (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html).
    `stage_params` gives a stage's own parameters, when they depend on its region.
    """
    problems: list[tuple[str, str]] = []
    for name in sorted(templates):
        step = steps[name]
        declared = templates[name].get("Parameters") or {}
        # A stage's output is not known before deploying: a value reading one is not checked.
        known = resolve_parameters(step, stage_params(step) if stage_params else params, lambda stage, output: "")
        for key, value in sorted(step.parameters.items()):
            field_name = f"stages.{name}.parameters.{key}"
            if key not in declared:
                problems.append((field_name, f"template {step.template} declares no parameter {key}"))
                continue
            reads = [ref for kind, ref in REFERENCE.findall(value) if kind == "stage"]
            if known[key] == NO_ECHO_MASK:
                continue  # an installation value: its plan never knows it (see NO_ECHO_MASK)
            reasons = (
                _output_problems(reads, steps, templates) if reads else _constraint_problems(declared[key], known[key])
            )
            problems.extend((field_name, reason) for reason in reasons)
        problems.extend(
            (
                f"stages.{name}.parameters.{key}",
                f"template {step.template} requires it (no Default); the stage gives none",
            )
            for key, spec in sorted(declared.items())
            if isinstance(spec, Mapping) and "Default" not in spec and key not in step.parameters
        )
    return problems


def _output_problems(
    reads: list[str], steps: Mapping[str, Step], templates: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every `stage.Output` of `reads` whose stage's template does not declare the output."""
    problems = []
    for ref in reads:
        match = STAGE_REFERENCE.match(ref)
        if match is None or match.group(1) not in templates:
            continue
        stage, output = match.groups()
        outputs = templates[stage].get("Outputs") or {}
        if output not in outputs:
            problems.append(
                f"reads {stage}.{output}, which template {steps[stage].template} does not declare "
                f"(its outputs: {', '.join(sorted(outputs)) or 'none'})"
            )
    return problems


def _constraint_problems(spec: Mapping[str, Any], value: str) -> list[str]:
    shown = value if len(value) <= 40 else value[:39] + "…"
    problems = []
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and value not in [str(v) for v in allowed]:
        problems.append(f"{shown!r} is not one of the template's AllowedValues {allowed}")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str) and spec.get("Type", "String") == "String":
        try:
            matched = re.fullmatch(pattern, value) is not None
        except re.error:
            matched = True  # a Java pattern Python cannot read: left to CloudFormation
        if not matched:
            problems.append(f"{shown!r} does not match the template's AllowedPattern {pattern}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"longer than the template's MaxLength {spec['MaxLength']}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"shorter than the template's MinLength {spec['MinLength']}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            return [*problems, f"{shown!r} is not a number, which the template's Type Number requires"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(f"{shown} is below the template's MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(f"{shown} is above the template's MaxValue {spec['MaxValue']}")
    return problems


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
