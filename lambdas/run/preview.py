"""What a run would change, from CloudFormation's own change sets, and the data-loss guard.

For every stage that exists and would be updated, Plan creates a change set (never executed:
deleted once described) and reads its `Changes`: each resource's `Action` (Add, Modify,
Remove), its `Replacement` (True, Conditional, False) and the properties that force it
(`Details` whose `RequiresRecreation` is not Never). "CloudFormation replaces a resource when
you change a property whose update behavior is Replacement"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html):
for a database, a search domain, a user pool, a bucket, a key or a secret that is its data
gone, or a stack stuck when its policy keeps the old one.

A resource holds data by its type (`DATA_TYPES`) or by its `DeletionPolicy` /
`UpdateReplacePolicy` (Retain, RetainExceptOnCreate, Snapshot: the template says so itself).
The guard refuses a run that would replace (or may replace) or remove one, unless the run's
input allows exactly that resource (`allow_replacement: ["stage/LogicalId"]`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lambdas.core.deps import Deps
from lambdas.data.aws import ClientError
from lambdas.data.stacks import NO_CHANGES, STABLE, error_code, region_of_stack
from lambdas.release.manifest import Manifest, OptionValue, resolve_parameters

#: Resource types whose replacement or removal loses data (or the keys to it, or its users).
DATA_TYPES = frozenset(
    {
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::RDS::GlobalCluster",
        "AWS::DocDB::DBCluster",
        "AWS::Neptune::DBCluster",
        "AWS::Redshift::Cluster",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::OpenSearchService::Domain",
        "AWS::Elasticsearch::Domain",
        "AWS::OpenSearchServerless::Collection",
        "AWS::Cognito::UserPool",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::EFS::FileSystem",
        "AWS::Kinesis::Stream",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Backup::BackupVault",
        "AWS::ECR::Repository",
    }
)
KEEPING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})
#: A change set's name: plan-<run>-<stage>, so that a plan's never collides with a deploy's.
PREFIX = "plan"
#: The longest a preview waits for its change sets (Plan's own timeout is 300 s).
MAX_WAIT = 240


@dataclass
class ResourcePreview:
    logical_id: str
    resource_type: str
    action: str
    #: True, Conditional or False for a Modify; None for an Add or a Remove
    replacement: str | None = None
    #: the properties whose change forces the replacement (RequiresRecreation Always or Conditionally)
    forcing: list[str] = field(default_factory=list)
    #: every property the change touches
    properties: list[str] = field(default_factory=list)
    #: why the resource holds data ("type", "DeletionPolicy Retain", …); None when it does not
    holds_data: str | None = None
    physical_id: str | None = None

    @property
    def destructive(self) -> bool:
        """A Remove, or a Modify that replaces (or may replace) the resource."""
        return self.action == "Remove" or (self.action == "Modify" and self.replacement in ("True", "Conditional"))


@dataclass
class StagePreview:
    stage: str
    #: create, update, delete, nothing, or run (an action such as migrate)
    action: str
    stack: str | None = None
    resources: list[ResourcePreview] = field(default_factory=list)
    note: str | None = None


@dataclass
class AtRisk:
    """A resource holding data that the run would replace or remove."""

    stage: str
    logical_id: str
    resource_type: str
    action: str
    replacement: str | None
    forcing: list[str]
    holds_data: str

    @property
    def key(self) -> str:
        return f"{self.stage}/{self.logical_id}"

    def sentence(self) -> str:
        if self.action == "Remove":
            what = "would be removed"
        else:
            verb = "would be replaced" if self.replacement == "True" else "may be replaced"
            what = f"{verb} (forced by {', '.join(self.forcing) or 'a property'})"
        return f"stage {self.stage}: {self.logical_id} ({self.resource_type}, holds data: {self.holds_data}) {what}"


@dataclass
class Preview:
    action: str
    version: str
    from_version: str | None
    stages: list[StagePreview]

    def at_risk(self) -> list[AtRisk]:
        return [
            AtRisk(stage.stage, r.logical_id, r.resource_type, r.action, r.replacement, r.forcing, r.holds_data)
            for stage in self.stages
            for r in stage.resources
            if r.destructive and r.holds_data
        ]

    def to_json(self, allowed: list[str] | None = None) -> dict[str, Any]:
        allow = set(allowed or [])
        risks = self.at_risk()
        return {
            "action": self.action,
            "version": self.version,
            "from_version": self.from_version,
            "stages": [asdict(stage) for stage in self.stages],
            "at_risk": [{**asdict(risk), "key": risk.key, "allowed": risk.key in allow} for risk in risks],
            "refused": any(risk.key not in allow for risk in risks),
        }


def holds_data(resource_type: str, *definitions: dict[str, Any] | None) -> str | None:
    """Why a resource holds data: its type, or a policy of its (new or current) definition."""
    if resource_type in DATA_TYPES:
        return "type"
    for definition in definitions:
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            value = (definition or {}).get(policy)
            if isinstance(value, str) and value in KEEPING_POLICIES:
                return f"{policy} {value}"
    return None


def _resources(template: str | dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    try:
        document = json.loads(template) if isinstance(template, str) else template
    except ValueError:
        return {}
    found = (document or {}).get("Resources") if isinstance(document, dict) else None
    return {k: v for k, v in (found or {}).items() if isinstance(v, dict)}


def resource_previews(
    changes: list[dict[str, Any]], new_template: str | dict[str, Any], old_template: str | dict[str, Any] | None
) -> list[ResourcePreview]:
    """A change set's `Changes` read resource by resource, each marked when it holds data."""
    new, old = _resources(new_template), _resources(old_template)
    previews = []
    for change in changes:
        rc = change.get("ResourceChange") or {}
        logical_id = str(rc.get("LogicalResourceId", ""))
        resource_type = str(rc.get("ResourceType", ""))
        details = rc.get("Details") or []
        names = [str((d.get("Target") or {}).get("Name") or (d.get("Target") or {}).get("Attribute")) for d in details]
        forcing = [
            str((d.get("Target") or {}).get("Name"))
            for d in details
            if (d.get("Target") or {}).get("RequiresRecreation") in ("Always", "Conditionally")
        ]
        previews.append(
            ResourcePreview(
                logical_id=logical_id,
                resource_type=resource_type,
                action=str(rc.get("Action", "")),
                replacement=rc.get("Replacement"),
                forcing=sorted(set(forcing)),
                properties=sorted(set(names)),
                holds_data=holds_data(resource_type, new.get(logical_id), old.get(logical_id)),
                physical_id=rc.get("PhysicalResourceId"),
            )
        )
    return previews


def _change_set_changes(deps: Deps, change_set_id: str) -> tuple[str, str, list[dict[str, Any]]]:
    """Status, reason and every change of a finished change set (DescribeChangeSet pages them)."""
    answer = deps.stacks.describe_change_set(change_set_id)
    changes = list(answer.get("Changes") or [])
    token = answer.get("NextToken")
    while token:
        page = deps.stacks.call("describe_change_set", ChangeSetName=change_set_id, NextToken=token)
        changes.extend(page.get("Changes") or [])
        token = page.get("NextToken")
    return str(answer["Status"]), str(answer.get("StatusReason") or ""), changes


def _delete_change_set(deps: Deps, change_set_id: str) -> None:
    try:
        deps.stacks.call("delete_change_set", ChangeSetName=change_set_id)
    except ClientError as error:
        if error_code(error) != "ChangeSetNotFound":
            raise


def preview_run(
    deps: Deps,
    *,
    run: str,
    manifest: Manifest,
    action: str,
    order: list[str],
    params: dict[str, OptionValue],
    bodies: dict[str, str],
    unchanged: set[str] | list[str],
    from_version: str | None,
    sleep: Callable[[float], None] = time.sleep,
    values: Mapping[str, str] | None = None,
    retired: Sequence[str] = (),
    absent: Collection[str] = (),
) -> Preview:
    """Every stage of the run, what it would do, and for an update each resource's change; first the
    stages it deletes (`retired`: their condition is off with the run's options, or the release has
    them no more, `absent`), every resource of theirs removed."""
    deployed = deps.ledger.stages()
    stages: dict[str, StagePreview] = {
        name: _deleted(
            deps,
            name,
            f"release {manifest.version} has no stage {name}"
            if name in absent
            else "its condition is off with the run's options",
        )
        for name in retired
    }
    pending: dict[str, tuple[str, str | None]] = {}  # stage -> (change set id, current template)
    try:
        for name in order:
            step = manifest.steps[name]
            if not step.is_stage or step.template is None:
                stages[name] = StagePreview(name, "run")
                continue
            stack_name = deps.settings.stack_name(name)
            if name in unchanged:
                stages[name] = StagePreview(name, "nothing", stack_name)
                continue
            stack = deps.stacks.describe(stack_name)
            if stack is None or stack.status not in STABLE:
                adds = [
                    ResourcePreview(lid, str(r.get("Type")), "Add", holds_data=holds_data(str(r.get("Type")), r))
                    for lid, r in _resources(bodies[name]).items()
                ]
                note = None if stack is None else f"the stack is {stack.status}: it is created again"
                stages[name] = StagePreview(name, "create", stack_name, adds, note)
                continue
            try:
                resolved = resolve_parameters(step, params, lambda s, o: str(deployed[s].outputs[o]))
            except KeyError:
                stages[name] = StagePreview(
                    name, "update", stack_name, note="reads outputs of a stage this run creates: known only then"
                )
                continue
            role = deps.settings.cloudformation_role_arn
            change_set_id = deps.stacks.create_change_set(
                StackName=stack.stack_id,
                ChangeSetName=f"{PREFIX}-{run}-{name}"[:128],
                ChangeSetType="UPDATE",
                TemplateURL=deps.store.template_url(deps.region, manifest.version, step.template),
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v}
                    for k, v in manifest.given_to_cloudformation(step, resolved, values or {}).items()
                ],
                Capabilities=list(step.capabilities),
                Tags=[{"Key": "dataall-installer:stage", "Value": name}],
                Description=f"dataall-installer plan {action} {manifest.version} ({run}): never executed",
                **({"RoleARN": role} if role else {}),
            )
            pending[name] = (change_set_id, deps.stacks.template(stack.stack_id))
            stages[name] = StagePreview(name, "update", stack_name)
        _read_change_sets(deps, pending, stages, bodies, sleep)
    finally:
        for change_set_id, _ in pending.values():
            _delete_change_set(deps, change_set_id)
    return Preview(action, manifest.version, from_version, [stages[name] for name in [*retired, *order]])


def _deleted(deps: Deps, name: str, why: str) -> StagePreview:
    """A stage the run deletes: each resource of its stack's template removed."""
    stack_name = deps.settings.stack_name(name)
    record = deps.ledger.stage(name)
    there = deps.in_region(region_of_stack(record.stack_id if record else None))
    stack = there.stacks.describe(record.stack_id if record and record.stack_id else stack_name)
    if stack is None:
        return StagePreview(name, "delete", stack_name, note="its stack is gone already")
    removed = [
        ResourcePreview(lid, str(r.get("Type")), "Remove", holds_data=holds_data(str(r.get("Type")), r))
        for lid, r in _resources(there.stacks.template(stack.stack_id)).items()
    ]
    return StagePreview(name, "delete", stack_name, removed, note=why)


def _read_change_sets(
    deps: Deps,
    pending: dict[str, tuple[str, str | None]],
    stages: dict[str, StagePreview],
    bodies: dict[str, str],
    sleep: Callable[[float], None],
) -> None:
    waiting = dict(pending)
    started, pause = time.monotonic(), 0.2
    while waiting:
        for name, (change_set_id, current) in list(waiting.items()):
            status, reason, changes = _change_set_changes(deps, change_set_id)
            if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                continue
            del waiting[name]
            if status == "FAILED" and NO_CHANGES in reason:
                stages[name].action = "nothing"
                stages[name].note = "only the stage's parameters or tags differ: no resource changes"
            elif status == "FAILED":
                stages[name].note = f"CloudFormation could not preview it: {reason}"
            else:
                stages[name].resources = resource_previews(changes, bodies[name], current)
        if waiting:
            if time.monotonic() - started > MAX_WAIT:
                raise TimeoutError(f"change sets of {', '.join(sorted(waiting))} not ready within {MAX_WAIT} s")
            sleep(pause)
            pause = min(pause * 2, 5.0)
