"""The plan step: check the input, take the lock, load and verify the release, plan the steps.

Everything here happens before any stage changes, so every refusal (bad input, a run
already going, a missing or damaged release, impossible options) leaves nothing changed.

The plan is the release's graph, not waves: every step of the run starts as soon as the
steps it waits for are done (`lambdas.run.turns`), so the install takes the critical path
of the graph, not the sum of its slowest wave members. A stage that already runs exactly
what the release asks (its template and parameters, checked against the stack itself) and
reads nothing that changes is left out: a redeploy with nothing to do does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from lambdas.core.deps import Deps
from lambdas.core.errors import DataAtRisk, InvalidInput, InvalidOptions, ReleaseInvalid
from lambdas.core.messages import PlanRequest
from lambdas.data.aws import ClientError
from lambdas.data.ledger import now_iso
from lambdas.data.records import ReleaseRecord, RunRecord, StageRecord, StepUpdate
from lambdas.data.stacks import STABLE, normalized_sha256, region_of_stack
from lambdas.release.manifest import (
    REFERENCE,
    Manifest,
    ManifestError,
    OptionValue,
    Step,
    resolve_parameters,
    template_problems,
    topological_levels,
)
from lambdas.run import (
    api_vpc_endpoint,
    certificates,
    existing_vpc,
    hosted_zones,
    installation_values,
    internet_facing,
    region_values,
    service_linked_roles,
)
from lambdas.run.collisions import NamedResource, freed_by_deleting, named_resources, refuse_collisions
from lambdas.run.drift import start_detections
from lambdas.run.name_limits import Misfit, misfits, refuse_misfits
from lambdas.run.preview import Preview, StagePreview, preview_run
from lambdas.run.run_input import check_run_input, read_run_input
from lambdas.site.action import bucket_stage


def validate_input(document: Any) -> dict[str, Any]:
    """A run input as Python hands it (the trigger, the CLI): the same checks Plan makes."""
    return check_run_input(document)


def execution_input(sfn: Any, execution_arn: str) -> str:
    """The run's own input, as StartExecution received it (any JSON, up to 256 KiB).

    Read here rather than passed in the task's payload: the payload after `Parameters` counts
    against Step Functions' 256 KiB per state, and `States.DataLimitExceeded` is a terminal
    error no Catch can turn into a refusal
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    """
    return str(sfn.describe_execution(executionArn=execution_arn).get("input") or "{}")


def execution_running(sfn: Any, execution_arn: str) -> bool:
    try:
        return bool(sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            return False
        raise


#: a stage output that does not exist yet (its stage is created by this run)
UNKNOWN = "\x00unknown"


@dataclass
class Plan:
    """What a run will do, recorded in the ledger before anything changes."""

    action: str
    version: str
    options: dict[str, OptionValue]
    params: dict[str, OptionValue]
    #: the run's steps in a topological order, and what each waits for (within the run)
    order: list[str]
    after: dict[str, list[str]]
    kinds: dict[str, str]
    op: str = "deploy"
    #: steps whose op is not `op`: a stage whose condition the run's options turn off is deleted
    ops: dict[str, str] = field(default_factory=dict)
    #: steps left out because they already run what the release asks
    unchanged: list[str] = field(default_factory=list)
    #: what the run would change, from change sets (`lambdas.run.preview`)
    preview: Preview | None = None
    #: the installation's values (never recorded: `params` holds their mask), kept if the run goes
    values: installation_values.Made | None = field(default=None, repr=False)

    def items(self) -> list[dict[str, Any]]:
        """The Map's items: one per step, small (state payloads are capped at 256 KB)."""
        return [
            {"name": n, "kind": self.kinds[n], "op": self.ops.get(n, self.op), "waits": bool(self.after[n])}
            for n in self.order
        ]

    def levels(self) -> list[list[str]]:
        return topological_levels({name: set(self.after[name]) for name in self.order}) if self.order else []


def plan(deps: Deps, request: PlanRequest) -> dict[str, Any]:
    if request.input is not None:
        document = check_run_input(request.input)
    else:
        document = read_run_input(execution_input(deps.sfn, request.execution.id))
    run = request.execution.name
    holder = request.execution.id
    previous_holder = deps.ledger.acquire_lock(holder, run, lambda arn: execution_running(deps.sfn, arn))
    try:
        if previous_holder and previous_holder.run:
            # Its execution died without releasing the lock (aborted, timed out): say so.
            deps.ledger.abandon_run(previous_holder.run, run)
        current = deps.ledger.current_release()
        if document["action"] == "uninstall":
            chosen = _plan_uninstall(deps, document, current)
        else:
            chosen = _plan_deploy(deps, document, current, run)
        allowed = list(document.get("allow_replacement") or [])
        if document.get("plan_only"):
            return _planned_only(deps, chosen, run, holder, allowed)
        if chosen.preview is not None:
            guard(chosen.preview, allowed)
        if chosen.values is not None:
            installation_values.keep(deps, chosen.values)
        approval: dict[str, Any] | None = None
        key = None
        if deps.settings.require_approval and chosen.order:
            key = deps.store.save_preview(run, _preview_of(deps, chosen).to_json(allowed))
            approval = {"preview": key, "timeout": deps.settings.approval_timeout}
        detections = start_detections(deps, deps.ledger.stages()) if chosen.action == "redeploy" else {}
        for name in chosen.unchanged:
            deps.ledger.update_step(
                run, name, StepUpdate(kind=chosen.kinds[name], result="UNCHANGED", planned=True, finished=now_iso())
            )
        deps.ledger.put_run(
            RunRecord(
                run=run,
                action=chosen.action,
                version=chosen.version,
                source=document.get("source", "console"),
                execution_arn=holder,
                status="RUNNING",
                options=chosen.options,
                params=chosen.params,
                previous={"version": current.version, "options": current.options} if current else None,
                manifest_sha256=deps.store.digests.get(chosen.version),
                option_sources=_option_sources(current, document, run),
                took_over_lock_from=previous_holder.run if previous_holder else None,
                order=chosen.order,
                after=chosen.after,
                unchanged=chosen.unchanged,
                drift_detections=detections,
                waves=chosen.levels(),
                started=now_iso(),
                approval_preview=key,
            )
        )
    except BaseException:
        deps.ledger.release_lock(holder)
        raise
    return {
        "run": run,
        "action": chosen.action,
        "version": chosen.version,
        "steps": chosen.items(),
        "drift": bool(detections),
        # RequireApproval: the run waits for a person's answer before any step (`lambdas.run.approval`)
        "approval": approval,
    }


def guard(preview: Preview, allowed: list[str]) -> None:
    """The data-loss guard: refuse a run that would replace or remove a resource holding data,
    unless its input allows exactly that resource (`allow_replacement: ["stage/LogicalId"]`)."""
    risks = [risk for risk in preview.at_risk() if risk.key not in set(allowed)]
    if not risks:
        return
    listed = "; ".join(risk.sentence() for risk in risks[:10])
    keys = ", ".join(f'"{risk.key}"' for risk in risks)
    raise DataAtRisk(
        f"the run would lose data: {listed}. Nothing was changed; to go ahead, start the run again with "
        f"allow_replacement: [{keys}]",
        field=f"stages.{risks[0].stage}.{risks[0].logical_id}",
    )


def _preview_of(deps: Deps, chosen: Plan) -> Preview:
    """The run's preview; an uninstall's is every stage it deletes."""
    return chosen.preview or Preview(
        chosen.action,
        chosen.version,
        chosen.version,
        [
            StagePreview(name, "delete", deps.settings.stack_name(name))
            for name in chosen.order
            if chosen.kinds[name] == "stage"
        ],
    )


def _planned_only(deps: Deps, chosen: Plan, run: str, holder: str, allowed: list[str]) -> dict[str, Any]:
    """A plan-only run: the preview kept in the artifacts bucket, the lock released, no run recorded."""
    document = _preview_of(deps, chosen).to_json(allowed)
    key = deps.store.save_preview(run, document)
    deps.ledger.release_lock(holder)
    return {
        "run": run,
        "action": chosen.action,
        "version": chosen.version,
        "steps": [],
        "drift": False,
        "planned": {"preview": key, "at_risk": len(document["at_risk"]), "would_refuse": document["refused"]},
    }


def _option_sources(current: ReleaseRecord | None, document: dict[str, Any], run: str) -> dict[str, str]:
    """Who set each option last: the installed release's record, with this run's options on top."""
    given = {name: f"{document.get('source', 'console')} run {run}" for name in document.get("options") or {}}
    return {**(current.option_sources if current else {}), **given}


def _context(deps: Deps, options: dict[str, OptionValue]) -> dict[str, OptionValue]:
    return {
        **options,
        "ResourcePrefix": deps.settings.resource_prefix,
        "EnvName": deps.settings.env_name,
        "ResourcePrefixFirst6": deps.settings.resource_prefix[:6],
        "AssetsBucket": deps.settings.artifacts_bucket,
        "Region": deps.region,
        "AccountId": deps.account_id,
        "PivotRoleProviderArn": deps.settings.pivot_role_provider_arn,
        "FrontendImageProviderArn": deps.settings.frontend_image_provider_arn,
        # Off only while an uninstall deletes a stage (see StageDeployment._start_delete).
        "DeletionProtection": "true",
    }


def _plan_deploy(deps: Deps, document: dict[str, Any], current: ReleaseRecord | None, run: str) -> Plan:
    action = document["action"]
    version = document.get("version") or (current.version if current else None)
    if not version:
        raise InvalidInput(f"version: required for {action}, nothing is installed yet", field="version")
    released = deps.store.ensure(version)
    try:
        options = released.resolve_options(current.options if current else None, document.get("options"))
        active = released.active_steps(options)
    except ManifestError as error:
        raise InvalidOptions(str(error), field=f"options.{error.option}" if error.option else "options") from None
    # Each stage with its variant for these options: what the run checks, compares, previews and deploys.
    manifest = released.chosen(options)
    elsewhere = manifest.region_problems(options, deps.region)
    if elsewhere:
        option, reason = elsewhere[0]
        raise InvalidOptions(reason, field=f"options.{option}")
    regional = region_values.make(active, deps.region, deps.regional_client)
    steps = [manifest.steps[name] for name in active if name in manifest.steps]
    installed = current.options if current else None
    records = deps.ledger.stages()  # what each stage runs now: read once (Plan writes no stage record)
    _check_names_kept(deps, records)
    internet_facing.check(options, installed)
    regional.update(existing_vpc.make(steps, options, deps.region, deps.regional_client, installed))
    regional.update(service_linked_roles.make(steps, records, partial(deps.regional_client, "iam", deps.region)))
    hosted_zones.check(steps, options, lambda: deps.regional_client("route53", deps.region))
    certificates.check(steps, options, deps.account_id, lambda region: deps.regional_client("acm", region), deps.region)
    api_vpc_endpoint.check(steps, options, deps.region, deps.regional_client, installed)
    made = installation_values.make(deps, manifest, run)
    params = {**_context(deps, options), **regional, **made.masked()}
    order = [name for level in manifest.waves(options) for name in level]
    bodies = _templates(deps, manifest, version, order)
    _check_templates(deps, manifest, bodies, params)
    unchanged = _unchanged(deps, manifest, version, order, params, bodies)
    previous = _installed_manifest(deps, current, manifest)
    retired = _retired(deps, manifest, active, previous)
    absent = [name for name in retired if name not in manifest.steps]
    deployed = [name for name in order if name not in unchanged]
    created = [name for name in deployed if manifest.steps[name].is_stage and name not in records]
    after = _after(manifest, active, previous, retired, deployed, created)
    included = _in_turn([*retired, *deployed], after)
    _check_allowed(manifest, document.get("allow_replacement") or [], absent)
    _check_names_fit(deps, manifest, deployed, params, bodies)
    _check_names_free(deps, manifest, included, params, bodies, retired)
    preview = preview_run(
        deps,
        run=run,
        manifest=manifest,
        action=action,
        order=order,
        params=params,
        bodies=bodies,
        unchanged=unchanged,
        from_version=current.version if current else None,
        values=made.values,
        retired=retired,
        absent=absent,
    )
    return Plan(
        action=action,
        version=version,
        options=options,
        params=params,
        order=included,
        after=after,
        kinds={name: manifest.steps[name].kind if name in manifest.steps else "stage" for name in [*retired, *order]},
        unchanged=sorted(unchanged),
        preview=preview,
        values=made,
        ops={name: "delete" for name in retired},
    )


def _installed_manifest(deps: Deps, current: ReleaseRecord | None, manifest: Manifest) -> Manifest | None:
    """The manifest of the release installed now (the run's own when it is the same version): what
    says which stages a stage absent from the run's release reads, and which read it. None when
    nothing is installed or its manifest is no longer in the artifacts bucket (then such a stage is
    deleted without waiting for any other)."""
    if current is None or current.version == manifest.version:
        return manifest if current is not None else None
    try:
        return deps.store.manifest(current.version)
    except (ClientError, ManifestError):
        return None


def _dependencies(name: str, manifest: Manifest, previous: Manifest | None) -> set[str]:
    """What a stage reads: as the run's release has it, else (a stage it dropped) the installed one."""
    for source in (manifest, previous):
        if source is not None and name in source.steps:
            return source.steps[name].dependencies()
    return set()


def _retired(deps: Deps, manifest: Manifest, active: dict[str, Step], previous: Manifest | None) -> list[str]:
    """The installed stages the run does not want: their condition is off with the run's options, or
    the run's release has no such stage (a new version dropped it; a downgrade to a release from
    before it). The run deletes them (a rollback creates them again), the stages that read them first."""
    installed = deps.ledger.stages()
    off = {
        name
        for name in installed
        if name not in active and (name not in manifest.steps or manifest.steps[name].is_stage)
    }
    readers = {name: _dependencies(name, manifest, previous) & off for name in off}
    # a stage goes after the stages that read it: the graph, reversed
    after = {name: {n for n, ds in readers.items() if name in ds} for name in off}
    return [name for level in topological_levels(after) for name in level]


def _after(
    manifest: Manifest,
    active: dict[str, Step],
    previous: Manifest | None,
    retired: list[str],
    deployed: list[str],
    created: Collection[str] = (),
) -> dict[str, list[str]]:
    """What each step of the run waits for: its dependencies the run deploys; a stage being deleted,
    for the deleted stages that read it; a stage a deleted stage reads, for that deletion (data.all's
    RUM monitor goes before the identity pool it names); a stage the run creates (`created`), for
    every deletion it does not come before: a stage an option swaps in may name what the one it
    replaces holds (data.all's search domain and serverless collection stages both make the SSM
    parameter `/dataall/<env>/elasticsearch/endpoint`, which CloudFormation would refuse to create twice).

    A stage the run's release dropped also waits for the stages that read it in the installed
    release and that the run updates: they are updated away from it before it goes. Where that and
    "the stages it reads after it" make a cycle (a reader that also reads what it read), the reader's
    update wins and the stage it read is updated before the deletion."""
    included = [*retired, *deployed]
    reads = {name: _dependencies(name, manifest, previous) for name in retired}
    after: dict[str, set[str]] = {}
    for name in retired:
        after[name] = {n for n in retired if name in reads[n]}
        if name not in manifest.steps and previous is not None:
            after[name] |= {n for n in deployed if n in previous.steps and name in previous.steps[n].dependencies()}
    for name in deployed:
        after[name] = {d for d in active[name].dependencies() if d in included}
    for name in deployed:
        for gone in retired:
            if (name in reads[gone] or name in created) and not _reaches(after, gone, name):
                after[name].add(gone)
    return {name: sorted(after[name]) for name in included}


def _reaches(after: dict[str, set[str]], start: str, target: str) -> bool:
    """Whether `start` waits, directly or through others, for `target`."""
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name == target:
            return True
        if name not in seen:
            seen.add(name)
            pending.extend(after.get(name, ()))
    return False


def _in_turn(names: list[str], after: dict[str, list[str]]) -> list[str]:
    """`names` in an order where each comes after what it waits for (their order kept otherwise)."""
    level = {name: index for index, names_at in enumerate(topological_levels(after)) for name in names_at}
    return sorted(names, key=lambda name: level[name])


def _check_names_fit(
    deps: Deps, manifest: Manifest, deployed: list[str], params: dict[str, OptionValue], bodies: dict[str, str]
) -> None:
    """Refuse (InvalidInput) a run whose stages give a resource a name longer than AWS takes for its type
    (`lambdas.run.name_limits`): data.all's names are made of the installation's ResourcePrefix and EnvName,
    and CloudFormation would refuse one only once its stage is changing. No AWS call."""
    found: list[Misfit] = []
    installed = deps.ledger.stages()
    for name in deployed:
        step = manifest.steps.get(name)
        if step is None or not step.is_stage or name not in bodies:
            continue
        parameters, pseudo, _ = _known_names(deps, step, params, installed)
        found += misfits(name, json.loads(bodies[name]), parameters, pseudo)
    refuse_misfits(found, deps.settings.resource_prefix, deps.settings.env_name)


def _check_names_free(
    deps: Deps,
    manifest: Manifest,
    included: list[str],
    params: dict[str, OptionValue],
    bodies: dict[str, str],
    retired: Collection[str] = (),
) -> None:
    """Refuse (NameTaken) a run whose new stages name resources that exist already: what an
    earlier uninstall kept, or another installation in the account and region holds, collides with
    them halfway through the run (`lambdas.run.collisions`). What the stages the run deletes
    (`retired`, deleted before any is created) hold is theirs to free."""
    installed = deps.ledger.stages()
    candidates: list[NamedResource] = []
    regions: dict[str, str] = {}
    for name in included:
        step = manifest.steps.get(name)
        if step is None or not step.is_stage or name not in bodies:
            continue
        there = deps.in_region(step.region)
        if there.stacks.describe(deps.settings.stack_name(name)) is not None:
            continue  # it exists: its resources are its own
        parameters, pseudo, region = _known_names(deps, step, params, installed)
        candidates += named_resources(name, json.loads(bodies[name]), parameters, pseudo)
        regions[name] = region
    if not candidates:
        return
    freed: set[tuple[str, str, str]] = set()
    for name in retired:
        record = installed.get(name)
        region = region_of_stack(record.stack_id if record else None) or deps.region
        stack = deps.in_region(region).stacks.describe(record.stack_id if record else deps.settings.stack_name(name))
        if stack is not None:
            freed |= freed_by_deleting(deps.in_region(region).stacks, stack.stack_id, region)
    refuse_collisions(candidates, deps.regional_client, regions, freed)


def _known_names(
    deps: Deps, step: Step, params: dict[str, OptionValue], deployed: Mapping[str, StageRecord]
) -> tuple[dict[str, str], dict[str, str], str]:
    """What a stage's names are made of before it deploys: its parameters known now (an output of a
    stage not `deployed` yet is not), its pseudo parameters, and its region."""
    there = deps.in_region(step.region)
    parameters = resolve_parameters(
        step,
        there.stage_context(params),
        lambda stage, output: str(deployed[stage].outputs.get(output, UNKNOWN)) if stage in deployed else UNKNOWN,
    )
    pseudo = {
        "AWS::AccountId": deps.account_id,
        "AWS::Region": there.region,
        "AWS::Partition": "aws-cn" if there.region.startswith("cn-") else "aws",
        "AWS::URLSuffix": "amazonaws.com.cn" if there.region.startswith("cn-") else "amazonaws.com",
        "AWS::StackName": deps.settings.stack_name(step.name),
    }
    known = {key: value for key, value in parameters.items() if UNKNOWN not in value}
    return known, pseudo, there.region


def _check_names_kept(deps: Deps, records: Mapping[str, StageRecord]) -> None:
    """Refuse (InvalidInput) a run after the bootstrap stack's `ResourcePrefix` or `EnvName` changed: they name
    every stage's stack and data.all's resources (its SSM parameters, its database schema), so the run would make
    a second data.all beside the first, which would keep running unseen. The ledger's stages say what they were."""
    moved = sorted(
        (record.stage, record.stack_name)
        for record in records.values()
        if record.stack_name != deps.settings.stack_name(record.stage)
    )
    if moved:
        stage, stack = moved[0]
        raise InvalidInput(
            f"ResourcePrefix/EnvName: the installation's stacks are named {stack} (stage {stage}) and the bootstrap "
            f"stack now names them {deps.settings.stack_name(stage)}: ResourcePrefix and EnvName name every stack "
            "and data.all's resources and are chosen at install. Nothing was changed; set them back on the "
            "bootstrap stack (or uninstall first, under the old ones)",
            field="ResourcePrefix",
        )


def _check_allowed(manifest: Manifest, allowed: list[str], absent: list[str]) -> None:
    """Each `allow_replacement` entry names a stage of the release, or an installed stage the run
    deletes as the release has it no more (a typo must not pass silently)."""
    for index, entry in enumerate(allowed):
        stage = entry.split("/", 1)[0]
        if stage in absent:
            continue
        if stage not in manifest.steps or not manifest.steps[stage].is_stage:
            raise InvalidInput(
                f"allow_replacement.{index}: {entry!r} names no stage of release {manifest.version}",
                field=f"allow_replacement.{index}",
            )


def _templates(deps: Deps, manifest: Manifest, version: str, order: list[str]) -> dict[str, str]:
    """The template of every stage the run may deploy, as the release holds it (verified)."""
    return {
        name: deps.store.template_body(version, step.template)
        for name in order
        if (step := manifest.steps[name]).is_stage and step.template is not None
    }


def _check_templates(deps: Deps, manifest: Manifest, bodies: dict[str, str], params: dict[str, OptionValue]) -> None:
    """Refuse, before any stage changes, what CloudFormation would refuse only mid-run.

    A stage reading an output its producer's template no longer declares was accepted,
    updated, then restored; see `lambdas.release.manifest.template_problems`.
    """
    templates: dict[str, dict[str, Any]] = {}
    for name, body in bodies.items():
        try:
            parsed = json.loads(body)
        except ValueError as error:
            raise ReleaseInvalid(
                f"stage {name}: template {manifest.steps[name].template} is not JSON: {error}",
                field=manifest.steps[name].template,
            ) from None
        templates[name] = parsed if isinstance(parsed, dict) else {}
    problems = template_problems(
        manifest.steps, templates, params, lambda step: deps.in_region(step.region).stage_context(params)
    )
    for field_name, reason in problems:
        option = _option_behind(manifest, field_name)
        if option is not None and "the template's" in reason:
            # The release is fine; the option's value is not one this stage's template takes.
            raise InvalidOptions(f"options.{option}: {reason} (it is {field_name})", field=f"options.{option}")
    if problems:
        raise ReleaseInvalid(
            f"release {manifest.version}: " + "; ".join(f"{field}: {reason}" for field, reason in problems[:10]),
            field=problems[0][0],
        )


def _option_behind(manifest: Manifest, field_name: str) -> str | None:
    """The option a stage parameter (`stages.S.parameters.K`) is, when its value is just `${param:Option}`."""
    _, stage, _, key = field_name.split(".", 3)
    found = REFERENCE.fullmatch(manifest.steps[stage].parameters.get(key, ""))
    return found.group(2) if found and found.group(1) == "param" and found.group(2) in manifest.options else None


def _unchanged(
    deps: Deps,
    manifest: Manifest,
    version: str,
    order: list[str],
    params: dict[str, OptionValue],
    bodies: dict[str, str],
) -> set[str]:
    """Stages that run exactly what this release asks, reading only stages that do too.

    Checked against each stack itself (status, template via GetTemplate, parameters), not
    only the ledger: a stack deleted or edited by hand is not unchanged.
    """
    deployed = deps.ledger.stages()
    unchanged: set[str] = set()
    for name in order:
        step = manifest.steps[name]
        record = deployed.get(name)
        if not step.is_stage or record is None or step.template is None:
            continue
        if any(stage not in unchanged for stage, _ in step.stage_references()):
            continue
        there = deps.in_region(step.region)
        try:
            wanted = resolve_parameters(
                step, there.stage_context(params), lambda stage, output: str(deployed[stage].outputs[output])
            )
        except KeyError:
            continue
        sha = normalized_sha256(bodies[name])
        if record.template_sha256 != sha or record.parameters != wanted:
            continue
        stack = there.stacks.describe(deps.settings.stack_name(name))
        if stack is None or stack.status not in STABLE or stack.parameters != wanted:
            continue
        if normalized_sha256(there.stacks.template(stack.stack_id)) != sha:
            continue
        unchanged.add(name)
    return unchanged


def _plan_uninstall(deps: Deps, document: dict[str, Any], current: ReleaseRecord | None) -> Plan:
    """Every deployed stage, deleted after the stages that read it (stateful ones kept on request)."""
    deployed = deps.ledger.stages()
    version = (current.version if current else None) or document.get("version") or ""
    retain = bool(document.get("retain_data"))
    doomed = sorted(n for n in deployed if not (retain and deployed[n].stateful))
    kinds = {name: "stage" for name in doomed}
    needs: dict[str, set[str]] = {name: set() for name in doomed}
    if version and doomed:
        manifest = deps.store.ensure(version)
        # The site bucket is versioned and its stack does not empty it: the site step empties it
        # before the stage that makes it is deleted (S3 deletes no bucket holding versions).
        for name, step in manifest.steps.items():
            if step.kind == "site" and bucket_stage(manifest, name) in needs:
                kinds[name] = "site"
                needs[name] = set()
        for name in kinds:
            if name in manifest.steps:
                needs[name] = {d for d in manifest.steps[name].dependencies() if d in needs}
    doomed = sorted(kinds)
    # A stage goes after every stage that needs it: the graph, reversed.
    after = {name: sorted(n for n, ds in needs.items() if name in ds) for name in doomed}
    order = [name for level in topological_levels({n: set(a) for n, a in after.items()}) for name in level]
    return Plan(
        action="uninstall",
        version=version or "0.0.0",
        options=current.options if current else {},
        params={},
        order=order,
        after=after,
        kinds=kinds,
        op="delete",
    )
