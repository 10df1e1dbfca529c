"""What the CLI does to an account: publish a release, create or update the bootstrap stack,
start runs, and read a run's state back from the ledger and Step Functions."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from installer.answers import check_parameters
from installer.aws import Aws
from installer.build import MANIFEST_NAME, Release
from lambdas.data.ledger import Ledger
from lambdas.data.records import RunRecord, StepRecord
from lambdas.data.releases import ReleaseStore, release_key
from lambdas.data.stacks import FAILED_CREATE, in_progress
from lambdas.release.manifest import Manifest
from lambdas.run.starting import start_run

DEFAULT_BUCKET_PREFIX = "dataall-installer-releases"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class OperationError(RuntimeError):
    """Something the operator asked for cannot be done; the message says what and why, `code`
    (machine-readable) and `field` (the flag or parameter at fault) what the answer names."""

    def __init__(self, message: str, code: str = "OperationRefused", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Installation:
    prefix: str = "dataall"
    env: str = "prod"

    @property
    def stack_name(self) -> str:
        return f"{self.prefix}-{self.env}-installer"

    def stage_stack(self, stage: str) -> str:
        return f"{self.prefix}-{self.env}-{stage}"


# ---------------------------------------------------------------------- publish
def release_bucket(aws: Aws, bucket_prefix: str) -> str:
    return f"{bucket_prefix}-{aws.region}"


def publish(aws: Aws, release: Release, bucket_prefix: str = DEFAULT_BUCKET_PREFIX, *, replace: bool = False) -> str:
    """Upload a release to `<bucket_prefix>-<region>` (created if missing); returns the bucket.

    A release is its content: a different release already published under the same version is
    refused (ReleaseConflict), unless `replace` (the operator's explicit `--replace`)."""
    release.verify()
    s3 = aws.client("s3")
    bucket = release_bucket(aws, bucket_prefix)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if aws.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    _check_identity(s3, bucket, release, replace=replace)
    for name in release.files():
        key = release_key(release.version, name)
        if name.startswith("assets/") and _exists(s3, bucket, key):
            continue  # content-addressed: same key, same bytes
        s3.upload_file(str(release.path / name), bucket, key)
    return bucket


def _check_identity(s3: Any, bucket: str, release: Release, *, replace: bool) -> None:
    key = release_key(release.version, MANIFEST_NAME)
    try:
        published = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return
        raise
    digest = hashlib.sha256(published).hexdigest()
    if digest != release.digest and not replace:
        raise OperationError(
            f"release {release.version} is already published in s3://{bucket} with different content "
            f"(manifest sha256 {digest[:12]}…, this one {release.digest[:12]}…): give the new one another "
            "version, or --replace to publish it in place of the old one",
            code="ReleaseConflict",
            field="--release",
        )


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def make_public(aws: Aws, bucket: str) -> None:
    """Let anyone read the release (templates and Lambda code), as a public quick-create link needs."""
    s3 = aws.client("s3")
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                        "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )  # fmt: skip
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "PublicRelease", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": [f"arn:aws:s3:::{bucket}/releases/*", f"arn:aws:s3:::{bucket}/assets/*"]},
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def public_template_url(bucket: str, region: str, version: str) -> str:
    return f"https://{bucket}.s3.{region}.amazonaws.com/{release_key(version, 'bootstrap.template.json')}"


def quick_create_url(region: str, template: str, stack_name: str, params: dict[str, str]) -> str:
    """The console link that opens the bootstrap stack's create form, filled in."""
    query = {"templateURL": template, "stackName": stack_name, **{f"param_{k}": v for k, v in sorted(params.items())}}
    fragment = "/stacks/quickcreate?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#{fragment}"


def template_url(aws: Aws, bucket: str, key: str) -> str:
    if aws.endpoint_url:
        return f"{aws.endpoint_url.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{aws.region}.amazonaws.com/{key}"


# ---------------------------------------------------------------------- bootstrap stack
def bootstrap_parameters(
    release: Release, installation: Installation, bucket_prefix: str, params: dict[str, str]
) -> dict[str, str]:
    """The bootstrap stack's parameters, each checked against the template's own constraints
    before anything is published (the flags --prefix, --env, --bucket-prefix included)."""
    declared = release.bootstrap_template.get("Parameters", {})
    check_bootstrap_values(declared, params)
    given = {
        "ResourcePrefix": (installation.prefix, "--prefix"),
        "EnvName": (installation.env, "--env"),
        "ReleaseBucketPrefix": (bucket_prefix, "--bucket-prefix"),
    }
    for key, (value, flag) in given.items():
        check_parameters({key: declared.get(key, {})}, {key: value}, flag=flag)
    return {
        **params,
        "ResourcePrefix": installation.prefix,
        "EnvName": installation.env,
        "ReleaseVersion": release.version,
        "ReleaseBucketPrefix": bucket_prefix,
    }


def check_bootstrap_values(declared: dict[str, Any], params: dict[str, str]) -> None:
    """`--param` values: each a parameter the bootstrap template declares, within its constraints."""
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise OperationError(
            f"unknown parameter(s) {', '.join(unknown)}; the bootstrap stack takes: {', '.join(sorted(declared))}",
            code="InvalidParameter",
            field=f"--param {unknown[0]}",
        )
    check_parameters(declared, params)


def stack_status(aws: Aws, name: str) -> dict[str, Any] | None:
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0] if stacks and stacks[0]["StackStatus"] != "DELETE_COMPLETE" else None


def deploy_bootstrap(
    aws: Aws,
    release: Release,
    installation: Installation,
    bucket: str,
    parameters: dict[str, str],
    on_status: Callable[[str], None] = lambda status: None,
) -> tuple[bool, dict[str, str]]:
    """Create or update the bootstrap stack and wait until it is stable.

    Returns (a run started, outputs); `RunExecutionArn` is the run this call started, or "".
    """
    cfn = aws.client("cloudformation")
    url = template_url(aws, bucket, release_key(release.version, "bootstrap.template.json"))
    existing = stack_status(aws, installation.stack_name)
    if existing is not None and in_progress(existing["StackStatus"]):
        raise OperationError(
            f"stack {installation.stack_name} is {existing['StackStatus']}: wait for it, then deploy again"
        )
    if existing is not None and existing["StackStatus"] in FAILED_CREATE:
        cfn.delete_stack(StackName=existing["StackId"])
        _wait_stack(aws, existing["StackId"], on_status)
        existing = None
    if existing is None:
        parameters = _with_ledger_choice(aws, release, installation, parameters)
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())]
    if existing is None:
        cfn.create_stack(
            StackName=installation.stack_name,
            TemplateURL=url,
            Parameters=given,
            Capabilities=CAPABILITIES,
            Tags=[{"Key": "dataall-installer:installation", "Value": f"{installation.prefix}-{installation.env}"}],
        )
    else:
        previous = [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in existing.get("Parameters", [])
            if p["ParameterKey"] not in parameters and p["ParameterKey"] in release.bootstrap_template["Parameters"]
        ]
        try:
            cfn.update_stack(
                StackName=installation.stack_name,
                TemplateURL=url,
                Parameters=given + previous,
                Capabilities=CAPABILITIES,
            )
        except ClientError as error:
            if "No updates are to be performed" in str(error):
                return False, _outputs(existing)
            raise
    final = _wait_stack(aws, installation.stack_name, on_status)
    if final["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        events = cfn.describe_stack_events(StackName=final["StackId"])["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
            for e in events
            if e.get("ResourceStatus", "").endswith("FAILED")
        ]
        raise OperationError(
            f"bootstrap stack {installation.stack_name} ended {final['StackStatus']}: " + "; ".join(reasons[:3])
        )
    outputs = _outputs(final)
    started = outputs.get("RunExecutionArn", "")
    if existing is not None and started == _outputs(existing).get("RunExecutionArn", ""):
        started = ""  # the trigger was not updated: nothing the installer uses changed
    return bool(started), {**outputs, "RunExecutionArn": started}


def ledger_table_name(installation: Installation) -> str:
    """The ledger's fixed name (the bootstrap stack's `Ledger`): an uninstall keeps it."""
    return f"{installation.prefix}-{installation.env}-installer-ledger"


def _with_ledger_choice(
    aws: Aws, release: Release, installation: Installation, parameters: dict[str, str]
) -> dict[str, str]:
    """A new bootstrap stack adopts the ledger an earlier installation kept (AdoptLedger=true), or
    creates it; an explicit AdoptLedger that does not match what the account holds is refused
    before anything is created, naming the table."""
    if "AdoptLedger" not in release.bootstrap_template.get("Parameters", {}):
        return parameters
    table = ledger_table_name(installation)
    try:
        aws.client("dynamodb").describe_table(TableName=table)
        kept = True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        kept = False
    asked = parameters.get("AdoptLedger")
    if asked == "false" and kept:
        raise OperationError(
            f"the ledger {table} of an earlier installation is still there (an uninstall keeps it): "
            "leave AdoptLedger out (or true) to carry on with it, or delete the table first to start afresh",
            code="LedgerExists",
            field="--param AdoptLedger",
        )
    if asked == "true" and not kept:
        raise OperationError(
            f"AdoptLedger=true, but there is no ledger {table} to adopt in {aws.region}",
            code="NoLedgerToAdopt",
            field="--param AdoptLedger",
        )
    return {**parameters, "AdoptLedger": "true" if kept else "false"}


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", []) or []}


def _wait_stack(aws: Aws, name: str, on_status: Callable[[str], None], timeout: float = 3600) -> dict[str, Any]:
    cfn = aws.client("cloudformation")
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        on_status(stack["StackStatus"])
        if not in_progress(stack["StackStatus"]):
            return dict(stack)
        if time.monotonic() > deadline:
            raise OperationError(f"stack {name} is still {stack['StackStatus']} after {timeout:.0f} s")
        time.sleep(0.5 if aws.endpoint_url else 5)


def delete_bootstrap(aws: Aws, installation: Installation, on_status: Callable[[str], None]) -> None:
    """Delete the bootstrap stack after an uninstall; OnDelete is set to Retain first, so its
    trigger does not act on the stages again (they are gone, or kept on purpose)."""
    cfn = aws.client("cloudformation")
    stack = stack_status(aws, installation.stack_name)
    if stack is None:
        return
    on_delete = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}.get("OnDelete")
    if on_delete == "Destroy":
        keep = [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack["Parameters"]
            if p["ParameterKey"] != "OnDelete"
        ]
        cfn.update_stack(
            StackName=stack["StackId"], UsePreviousTemplate=True, Capabilities=CAPABILITIES,
            Parameters=[*keep, {"ParameterKey": "OnDelete", "ParameterValue": "Retain"}],
        )  # fmt: skip
        _wait_stack(aws, stack["StackId"], on_status)
    cfn.delete_stack(StackName=stack["StackId"])
    final = _wait_stack(aws, stack["StackId"], on_status)
    if final["StackStatus"] != "DELETE_COMPLETE":
        raise OperationError(f"bootstrap stack {installation.stack_name} ended {final['StackStatus']}")


def bootstrap_outputs(aws: Aws, installation: Installation) -> dict[str, str]:
    stack = stack_status(aws, installation.stack_name)
    if stack is None:
        raise OperationError(
            f"no installation here: stack {installation.stack_name} does not exist in {aws.region} "
            "(deploy first, or pass --prefix/--env)",
            code="NoInstallation",
        )
    return _outputs(stack)


def start(aws: Aws, outputs: dict[str, str], document: dict[str, Any]) -> str:
    return start_run(aws.client("stepfunctions"), outputs["StateMachineArn"], document)


# ---------------------------------------------------------------------- reading a run
#: The state machine's approval gate (state_machine/installer.asl.json).
APPROVAL_STATE = "AwaitApproval"


@dataclass
class StageView:
    name: str
    stack: str
    #: the stack's status (MISSING: installed, but the stack is gone); an action's step status
    status: str
    phase: str = ""
    elapsed: float | None = None
    kind: str = "stage"
    #: what this run did to it: CREATED, UPDATED, UNCHANGED, DELETED, FAILED, RESTORED, RETAINED,
    #: DOWNGRADED, IN_PROGRESS, PENDING, INTERRUPTED, NOT_RUN, SKIPPED, MISSING
    outcome: str = ""
    #: why an action did nothing (e.g. the site step of a release without a web UI bundle)
    reason: str = ""


#: a step's result or rollback as the outcome reads it
_OUTCOMES = {"NO_CHANGES": "UNCHANGED", "FAILED": "FAILED"}


def step_outcome(step: StepRecord | None, *, active: bool, run_status: str, refused: bool = False) -> str:
    """What the run did to one step, from its ledger record (see StageView.outcome)."""
    if refused:
        return "NOT_RUN"
    if step is not None and step.rolled_back:
        rolled = str(step.rolled_back)
        return "ROLLBACK_FAILED" if rolled == "FAILED" else rolled
    if step is not None and step.result:
        return _OUTCOMES.get(str(step.result), str(step.result))
    if step is not None and step.started:
        return "IN_PROGRESS" if run_status == "RUNNING" else "INTERRUPTED"
    if active:
        return "PENDING" if run_status == "RUNNING" else "NOT_RUN"
    return "SKIPPED"


@dataclass
class RunView:
    execution_arn: str
    run: str
    status: str
    action: str | None
    version: str | None
    stages: list[StageView]
    error: dict[str, Any] | None
    started: datetime | None
    stopped: datetime | None
    drift: dict[str, Any] | None = None
    #: a run waiting at its approval gate (RequireApproval): since when, its preview, how to answer
    awaiting_approval: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status != "RUNNING"


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class RunReader:
    """Reads a run from Step Functions, the ledger and CloudFormation (one call each per look)."""

    def __init__(self, aws: Aws, installation: Installation, outputs: dict[str, str]) -> None:
        self.aws = aws
        self.installation = installation
        self.outputs = outputs
        self.ledger = Ledger(aws.table(outputs["LedgerTableName"]))
        self.store = ReleaseStore(aws.client("s3"), outputs["ArtifactsBucketName"])
        self._manifests: dict[str, Manifest] = {}

    def latest_execution(self) -> str | None:
        """The newest run: Step Functions lists them newest first, refused ones too (a run Plan
        refused never reaches the ledger); the ledger's newest when the list is empty (a state
        machine replaced since)."""
        executions = self.aws.client("stepfunctions").list_executions(
            stateMachineArn=self.outputs["StateMachineArn"], maxResults=1
        )["executions"]
        if executions:
            return str(executions[0]["executionArn"])
        runs = self.ledger.latest_runs(1)
        return str(runs[0].execution_arn) if runs else None

    def options(self, installed: Any) -> dict[str, dict[str, Any]]:
        """The installed release's options: each one's value and where it came from (the run
        that set it last, else the release's default)."""
        if installed is None:
            return {}
        sources = installed.option_sources or {}
        return {
            name: {"value": value, "source": sources.get(name, "default")}
            for name, value in sorted(installed.options.items())
        }

    def execution_status(self, execution_arn: str) -> str:
        status: str = self.aws.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
        return status

    def manifest(self, version: str) -> Manifest | None:
        if version not in self._manifests:
            try:
                self._manifests[version] = self.store.manifest(version)
            except ClientError:
                return None
        return self._manifests[version]

    def stacks(self, regions: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
        """The installation's stacks, in its own region and in `regions` (where stages live too)."""
        prefix = f"{self.installation.prefix}-{self.installation.env}-"
        found: dict[str, dict[str, Any]] = {}
        for region in sorted({self.aws.region, *regions}):
            cfn = self.aws.in_region(region).client("cloudformation")
            for page in cfn.get_paginator("describe_stacks").paginate():
                for stack in page["Stacks"]:
                    if stack["StackName"].startswith(prefix):
                        found[stack["StackName"]] = stack
        return found

    def view(self, execution_arn: str) -> RunView:
        from lambdas.run.refusals import refused

        execution = self.aws.client("stepfunctions").describe_execution(executionArn=execution_arn)
        run = execution["name"]
        meta = self.ledger.run(run)
        steps = self.ledger.steps(run) if meta else {}
        given = _input_object(execution)
        refusal = refused(execution)
        version = (meta.version if meta else None) or _text(given.get("version"))
        manifest = self.manifest(version) if version else None
        active = [n for wave in meta.waves for n in wave] if meta else []
        names = list(manifest.steps) if manifest else active
        stacks = self.stacks({s.region for s in manifest.steps.values() if s.region} if manifest else ())
        installed = set(self.ledger.stages())
        now = datetime.now(UTC)
        views = []
        for name in names:
            # Until Plan has written the run, every step of the release is still to come.
            planned = name in active or not meta
            outcome = step_outcome(
                steps.get(name),
                active=planned or name in (meta.unchanged if meta else []),
                run_status=execution["status"],
                refused=refusal is not None,
            )
            if manifest is not None and not manifest.steps[name].is_stage:
                view = self._action_view(name, steps.get(name), planned, execution["status"], now)
                view.outcome = outcome
                views.append(view)
                continue
            step = steps.get(name) or StepRecord(name=name)
            stack_name = self.installation.stage_stack(name)
            stack = stacks.get(stack_name)
            if stack is not None:
                status = stack["StackStatus"]
            elif step.rolled_back == "DELETED" or step.result == "DELETED":
                status = "DELETE_COMPLETE"
            elif name in installed:
                status = "MISSING"  # the ledger says it is installed; its stack is gone
                if outcome in ("UNCHANGED", "SKIPPED", "NOT_RUN"):
                    outcome = "MISSING"
            elif planned:
                status = "PENDING" if execution["status"] == "RUNNING" else "NOT_CREATED"
            else:
                status = "SKIPPED"
            begun, ended = _parse_time(step.started), _parse_time(step.finished)
            elapsed = ((ended or now) - begun).total_seconds() if begun else None
            views.append(
                StageView(
                    name=name,
                    stack=stack_name,
                    status=status,
                    phase=step.result or step.phase or "",
                    elapsed=elapsed,
                    outcome=outcome,
                )
            )
        return RunView(
            execution_arn=execution_arn,
            run=run,
            status="REFUSED" if refusal is not None else execution["status"],
            action=(meta.action if meta else None) or _text(given.get("action")),
            version=version,
            stages=views,
            error=_refusal_error(refusal)
            if refusal is not None
            else (meta.error if meta else None) or _execution_error(execution),
            started=execution.get("startDate"),
            stopped=execution.get("stopDate"),
            drift=(meta.drift if meta else None) or None,
            awaiting_approval=self._awaiting_approval(execution, meta),
        )

    def _awaiting_approval(self, execution: dict[str, Any], meta: RunRecord | None) -> dict[str, Any] | None:
        """The run waits for a person when it is running, asked for approval (its token is in the
        ledger), and the last state it entered is still the approval gate (the history, read
        whole: ordering and paging are all GetExecutionHistory needs)."""
        if execution["status"] != "RUNNING" or meta is None or not meta.approval_token:
            return None
        last = None
        pages = self.aws.client("stepfunctions").get_paginator("get_execution_history")
        for page in pages.paginate(executionArn=execution["executionArn"]):
            for event in page["events"]:
                if event["type"].endswith(("StateEntered", "StateExited")):
                    last = event
        entered = (last or {}).get("stateEnteredEventDetails") or {}
        if not (last and last["type"].endswith("StateEntered") and entered.get("name") == APPROVAL_STATE):
            return None
        run = meta.run
        return {
            "requested": meta.approval_requested,
            "preview": meta.approval_preview,
            "approve": f"dataall-installer approve {run}",
            "reject": f"dataall-installer reject {run} [--reason TEXT]",
        }

    @staticmethod
    def _action_view(name: str, record: StepRecord | None, active: bool, run_status: str, now: datetime) -> StageView:
        """An action (e.g. migrate) is not a stack: its status is its step's."""
        step = record or StepRecord(name=name)
        if step.rolled_back:
            status = f"ROLLED_BACK ({step.rolled_back})"
        elif step.result:
            status = str(step.result)
        elif record is not None and step.started:
            status = "IN_PROGRESS" if run_status == "RUNNING" else "INTERRUPTED"
        elif active or record is not None:
            status = "PENDING" if run_status == "RUNNING" else "NOT_RUN"
        else:
            status = "SKIPPED"
        begun, ended = _parse_time(step.started), _parse_time(step.finished)
        elapsed = ((ended or now) - begun).total_seconds() if begun else None
        reason = (step.reason or "") if step.result == "SKIPPED" else ""
        return StageView(
            name=name, stack="", status=status, phase=step.phase or "", elapsed=elapsed, kind="action", reason=reason
        )

    def database(self) -> dict[str, Any]:
        """The metadata database's revision and the release's head, asked of the migration function
        the installed stages name (`MigrationFunctionName`: the aurora stage's own, or data.all's
        migrations stage's, which data.all names at synthesis)."""
        function = self.migration_function()
        try:
            answer = self.aws.client("lambda").invoke(FunctionName=function, Payload=json.dumps({"command": "status"}))
        except ClientError as error:
            return {"revision": None, "head": None, "error": str(error)}
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            return {
                "revision": None,
                "head": None,
                "error": f"{payload.get('errorType')}: {payload.get('errorMessage')}",
            }
        return {"revision": payload.get("revision"), "head": payload.get("head"), "function": function}

    def migration_function(self) -> str:
        for record in self.ledger.stages().values():
            name = record.outputs.get("MigrationFunctionName")
            if name:
                return name
        return f"{self.installation.prefix}-{self.installation.env}-migrations"

    def pivot_role(self) -> dict[str, Any] | None:
        """The pivot role's name and policies, from IAM (None when the stage is not installed)."""
        from lambdas.pivot_role.role import describe_pivot_role

        record = self.ledger.stage("pivot-role")
        name = record.outputs.get("PivotRoleName") if record else None
        if not name:
            return None
        role = describe_pivot_role(self.aws.client("iam"), name)
        if role is None:
            return {"name": name, "exists": False, "policies": []}
        return {"name": role["RoleName"], "arn": role["RoleArn"], "policies": role["PolicyNames"]}

    def transitions(self, execution_arn: str) -> int:
        """State transitions of a run: the states it entered (what Step Functions bills)."""
        count = 0
        for page in (
            self.aws.client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        ):
            count += sum(1 for event in page["events"] if event["type"].endswith("StateEntered"))
        return count


def _input_object(execution: dict[str, Any]) -> dict[str, Any]:
    """The execution's input when it is a JSON object (Plan refuses any other; the view still reads)."""
    try:
        given = json.loads(execution.get("input") or "{}")
    except (ValueError, RecursionError):
        return {}
    return given if isinstance(given, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _refusal_error(refusal: dict[str, Any]) -> dict[str, Any]:
    """A refused run's error as the result shows it: nothing changed, why, and the field at fault."""
    return {
        "stage": None,
        "reason": f"refused, nothing changed: {refusal.get('reason') or refusal.get('code')}",
        "error": refusal.get("code"),
        "field": refusal.get("field"),
    }


def _execution_error(execution: dict[str, Any]) -> dict[str, Any] | None:
    """A run that ended before it recorded a report (e.g. refused by Plan): its error, readable."""
    if execution["status"] in ("RUNNING", "SUCCEEDED"):
        return None
    from lambdas.run.reporting import failure_detail

    return failure_detail({"Error": execution.get("error") or execution["status"], "Cause": execution.get("cause")})


def result_document(view: RunView, transitions: int) -> dict[str, Any]:
    """The `--json` result: the last line a command prints."""
    error = None
    if view.error:
        stage = view.error.get("stage")
        code = view.error.get("code") or view.error.get("error") or ("StageFailed" if stage else view.status)
        error = {
            "code": code,
            "message": view.error.get("reason") if stage is None else f"stage {stage}: {view.error.get('reason')}",
            "stage": stage,
            "reason": view.error.get("reason"),
            **{k: v for k, v in view.error.items() if k not in ("stage", "reason", "code") and v not in (None, [], {})},
        }
    return {
        "action": view.action,
        "status": view.status,
        "version": view.version,
        "execution_arn": view.execution_arn,
        "stages": {
            s.name: {"stack": s.stack, "status": s.status, "outcome": s.outcome}
            for s in view.stages
            if s.kind == "stage"
        },
        "actions": {
            s.name: {"status": s.status, "outcome": s.outcome, **({"reason": s.reason} if s.reason else {})}
            for s in view.stages
            if s.kind != "stage"
        },
        "transitions": transitions,
        "duration_s": round((view.stopped - view.started).total_seconds(), 1)
        if view.started and view.stopped
        else None,
        "error": error,
        "drift": view.drift,
        **({"awaiting_approval": view.awaiting_approval} if view.awaiting_approval else {}),
    }


# ---------------------------------------------------------------------- plan
def plan_run(aws: Aws, outputs: dict[str, str], document: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    """A plan-only run: Plan describes the change sets of the run `document` asks for, deletes
    them and releases the lock; the preview it kept in the artifacts bucket (`lambdas.run.preview`).

    A run Plan refuses for any other reason (bad input, a run going, a release it cannot take)
    raises OperationError naming it.
    """
    from lambdas.run.refusals import run_result

    sfn = aws.client("stepfunctions")
    execution_arn = start(aws, outputs, {**document, "plan_only": True})
    deadline = time.monotonic() + timeout
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise OperationError(f"the plan {execution_arn} did not finish within {timeout:.0f} s")
        time.sleep(0.25)
    result = run_result(execution) or {}
    if execution["status"] != "SUCCEEDED":
        detail = _execution_error(execution) or {}
        raise OperationError(f"the plan failed: {detail.get('reason') or execution['status']}", "PlanFailed")
    if result.get("status") == "REFUSED":
        error = result.get("error") or {}
        raise OperationError(
            f"refused ({error.get('code')}, {error.get('field')}): {error.get('reason')}",
            str(error.get("code") or "PlanRefused"),
            field=error.get("field"),
        )
    key = str((result.get("preview") or {}).get("preview") or "")
    if not key:
        raise OperationError(f"the plan {execution_arn} ended without a preview: {result}")
    body = aws.client("s3").get_object(Bucket=outputs["ArtifactsBucketName"], Key=key)["Body"].read()
    preview: dict[str, Any] = json.loads(body)
    preview["execution_arn"] = execution_arn
    return preview


def answer_approval(reader: RunReader, run: str, *, approve: bool, reason: str = "") -> str:
    """Approve or reject a run waiting after its plan (RequireApproval); its execution ARN.

    The run's task token is in its ledger record; an answer to a run that no longer waits (it
    timed out, was answered, or never asked) names why.
    """
    name = run.rsplit(":", 1)[-1]
    record = reader.ledger.run(name)
    if record is None:
        raise OperationError(f"no run {name} in this installation's ledger", "NoSuchRun", field="RUN")
    if not record.approval_token or not record.execution_arn:
        raise OperationError(
            f"run {name} did not ask for approval (RequireApproval is off, or nothing to change)",
            "NotAwaitingApproval",
            field="RUN",
        )
    sfn = reader.aws.client("stepfunctions")
    status = sfn.describe_execution(executionArn=record.execution_arn)["status"]
    if status != "RUNNING":
        raise OperationError(
            f"run {name} no longer waits for an answer: it is {status}", "NotAwaitingApproval", field="RUN"
        )
    try:
        if approve:
            sfn.send_task_success(
                taskToken=record.approval_token, output=json.dumps({"approved": True, "by": "dataall-installer"})
            )
        else:
            sfn.send_task_failure(
                taskToken=record.approval_token,
                error="Rejected",
                cause=(reason or "rejected with dataall-installer")[:256],
            )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise OperationError(
                f"run {name} no longer waits for an answer ({code})", "NotAwaitingApproval", field="RUN"
            ) from None
        raise
    return record.execution_arn
