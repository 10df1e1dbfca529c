"""The pivot role in the environment accounts: a self-managed StackSet and its instances."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from lambdas.core.cfn_response import Deadline
from lambdas.core.observability import logger
from lambdas.data.aws import ClientError
from lambdas.pivot_role.common import (
    FINISHED,
    OWNER_TAG,
    POLL_SECONDS,
    REVISION_TAG,
    ROLE_TAG,
    RUNNING,
    STACK_SET_MARGIN_SECONDS,
    OutOfTime,
    ProviderError,
    Services,
    StackSetOperationFailed,
    code_of,
    require_owner,
    tags_of,
)
from lambdas.pivot_role.policies import MAX_TEMPLATE_BODY_BYTES, fingerprint, minified


class StackSets:
    """The environment accounts' pivot roles: a self-managed StackSet, one instance per
    account. IAM is global, so the instances live in one region."""

    def __init__(self, services: Services, deadline: Deadline, request_id: str = "") -> None:
        self.services = services
        self.cfn = services.cloudformation
        self.deadline = deadline
        self.request_id = request_id or uuid.uuid4().hex

    # ------------------------------------------------------------------ converge
    def converge(self, env: Environments, owner: str, role_name: str) -> None:
        tags = {OWNER_TAG: owner, ROLE_TAG: role_name, REVISION_TAG: env.revision}
        existing = self.describe(env.name)
        template = self._template(env)
        if existing is None:
            self.cfn.create_stack_set(
                StackSetName=env.name,
                Description=f"dataall-installer: the pivot role {role_name} in the environment accounts",
                Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": env.external_id}],
                Capabilities=["CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                AdministrationRoleARN=env.administration_role_arn,
                ExecutionRoleName=env.execution_role_name,
                PermissionModel="SELF_MANAGED",
                ClientRequestToken=self._token("create-stack-set"),
                **template,
            )
            logger.info("created the StackSet", extra={"stack_set": env.name})
            current: dict[tuple[str, str], str] = {}
        else:
            require_owner(f"StackSet {env.name}", existing.get("Tags"), owner)
            self._wait_idle(env.name)
            current = self.instances(env.name)
        desired = {(account, env.region) for account in env.accounts}
        self._delete_instances(env.name, set(current) - desired)
        outdated = any(status != "CURRENT" for key, status in current.items() if key in desired)
        changed = existing is not None and any(tags_of(existing.get("Tags")).get(k) != v for k, v in tags.items())
        if changed or outdated:
            operation = self._start(
                "update-stack-set",
                self.cfn.update_stack_set,
                StackSetName=env.name,
                Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": env.external_id}],
                Capabilities=["CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                AdministrationRoleARN=env.administration_role_arn,
                ExecutionRoleName=env.execution_role_name,
                OperationPreferences=_PREFERENCES,
                **template,
            )
            self._wait(env.name, operation, "updating the pivot role in the environment accounts")
        missing = sorted(desired - set(current))
        if missing:
            accounts = [account for account, _ in missing]
            operation = self._start(
                "create-stack-instances",
                self.cfn.create_stack_instances,
                StackSetName=env.name,
                Accounts=accounts,
                Regions=[env.region],
                OperationPreferences=_PREFERENCES,
            )
            self._wait(env.name, operation, f"creating the pivot role in {', '.join(accounts)} ({env.region})")

    def remove(self, name: str, owner: str, role_name: str | None = None) -> None:
        """Delete the StackSet and its instances, if this stack (and this role) owns it."""
        existing = self.describe(name)
        if existing is None:
            return
        tags = tags_of(existing.get("Tags"))
        if tags.get(OWNER_TAG) != owner or (role_name is not None and tags.get(ROLE_TAG) != role_name):
            logger.info("the StackSet belongs to another stack or role; kept", extra={"stack_set": name, "tags": tags})
            return
        self._wait_idle(name)
        self._delete_instances(name, set(self.instances(name)))
        try:
            self.cfn.delete_stack_set(StackSetName=name)
        except ClientError as error:
            if code_of(error) != "StackSetNotFoundException":
                raise
        logger.info("deleted the StackSet", extra={"stack_set": name})

    # ------------------------------------------------------------------ reads
    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            stack_set: dict[str, Any] = self.cfn.describe_stack_set(StackSetName=name)["StackSet"]
        except ClientError as error:
            if code_of(error) == "StackSetNotFoundException":
                return None
            raise
        return None if stack_set.get("Status") == "DELETED" else stack_set

    def instances(self, name: str) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        arguments: dict[str, Any] = {"StackSetName": name}
        while True:
            page = self.cfn.list_stack_instances(**arguments)
            for summary in page.get("Summaries", []):
                found[(summary["Account"], summary["Region"])] = summary.get("Status", "CURRENT")
            if not page.get("NextToken"):
                return found
            arguments["NextToken"] = page["NextToken"]

    # ------------------------------------------------------------------ operations
    def _template(self, env: Environments) -> dict[str, str]:
        body = env.body
        if len(body.encode()) <= MAX_TEMPLATE_BODY_BYTES:
            return {"TemplateBody": body}
        if not env.template_bucket:
            raise ProviderError(
                f"the environment accounts' pivot-role template is {len(body.encode())} bytes, over "
                f"CloudFormation's {MAX_TEMPLATE_BODY_BYTES} for a template body: give TemplateBucket, a bucket "
                "the provider may write pivot-role/ templates to"
            )
        key = f"pivot-role/{hashlib.sha256(body.encode()).hexdigest()}.template.json"
        self.services.s3.put_object(
            Bucket=env.template_bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        suffix = "amazonaws.com.cn" if self.services.partition == "aws-cn" else "amazonaws.com"
        return {"TemplateURL": f"https://{env.template_bucket}.s3.{self.services.region}.{suffix}/{key}"}

    def _delete_instances(self, name: str, instances: set[tuple[str, str]]) -> None:
        for region in sorted({region for _, region in instances}):
            accounts = sorted(account for account, r in instances if r == region)
            operation = self._start(
                f"delete-stack-instances-{region}",
                self.cfn.delete_stack_instances,
                StackSetName=name,
                Accounts=accounts,
                Regions=[region],
                RetainStacks=False,
                OperationPreferences=_PREFERENCES,
            )
            self._wait(name, operation, f"deleting the pivot role from {', '.join(accounts)} ({region})")

    def _start(self, step: str, operation: Any, **arguments: Any) -> str:
        """Start a StackSet operation with an id derived from the request, so a retried
        request waits for the operation it started instead of starting another."""
        operation_id = self._token(step)
        try:
            return str(operation(OperationId=operation_id, **arguments)["OperationId"])
        except ClientError as error:
            if code_of(error) == "OperationIdAlreadyExistsException":
                return operation_id
            raise

    def _token(self, step: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dataall-installer/{self.request_id}/{step}"))

    def _wait_idle(self, name: str) -> None:
        arguments: dict[str, Any] = {"StackSetName": name}
        running: list[str] = []
        while True:
            page = self.cfn.list_stack_set_operations(**arguments)
            running += [op["OperationId"] for op in page.get("Summaries", []) if op.get("Status") in RUNNING]
            if not page.get("NextToken"):
                break
            arguments["NextToken"] = page["NextToken"]
        for operation_id in running:
            self._wait(name, operation_id, f"an earlier operation ({operation_id})", ok=FINISHED)

    def _wait(self, name: str, operation_id: str, what: str, ok: tuple[str, ...] = ("SUCCEEDED",)) -> None:
        delays = iter(POLL_SECONDS)
        delay = POLL_SECONDS[0]
        while True:
            operation = self.cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)
            status = operation["StackSetOperation"]["Status"]
            if status in ok:
                return
            if status in ("FAILED", "STOPPED"):
                reasons = self._failures(name, operation_id) or operation["StackSetOperation"].get("StatusReason", "")
                raise StackSetOperationFailed(f"StackSet {name}: {what} ended {status}: {reasons}")
            left = self.deadline.remaining() - STACK_SET_MARGIN_SECONDS
            if left <= 0:
                raise OutOfTime(
                    f"StackSet {name}: {what} (operation {operation_id}) is still {status} and the provider must "
                    "answer before its Lambda timeout; the operation goes on in the background, and the next "
                    "request waits for it"
                )
            delay = next(delays, delay)
            self.services.sleep(min(delay, left))

    def _failures(self, name: str, operation_id: str) -> str:
        results = self.cfn.list_stack_set_operation_results(StackSetName=name, OperationId=operation_id)
        return "; ".join(
            f"{r['Account']}/{r['Region']}: {r.get('StatusReason') or r.get('Status')}"
            for r in results.get("Summaries", [])
            if r.get("Status") != "SUCCEEDED"
        )


_PREFERENCES = {
    "FailureToleranceCount": 0,
    "MaxConcurrentPercentage": 100,
    "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
    "RegionConcurrencyType": "PARALLEL",
}


@dataclass(frozen=True)
class Environments:
    """The StackSet that rolls the pivot role out to the environment accounts."""

    name: str
    accounts: tuple[str, ...]
    region: str
    template: dict[str, Any]
    external_id: str
    administration_role_arn: str
    execution_role_name: str
    template_bucket: str

    @property
    def body(self) -> str:
        return minified(self.template)

    @property
    def revision(self) -> str:
        return fingerprint(self.body, self.external_id, self.administration_role_arn, self.execution_role_name)
