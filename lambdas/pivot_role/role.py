"""`Custom::PivotRole`: the role, its trust policy and managed policies, and its environments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core.cfn_response import Deadline, Outcome
from lambdas.core.observability import logger
from lambdas.data.aws import ClientError
from lambdas.pivot_role.common import (
    DEFAULT_ADMINISTRATION_ROLE,
    EXTERNAL_ID_TYPE,
    OWNER_TAG,
    PIVOT_ROLE_TYPE,
    ROLE_NAME,
    PivotRoleProperties,
    ProviderError,
    Services,
    code_of,
    decoded,
    require_owner,
    stack_set_of,
    tags_of,
)
from lambdas.pivot_role.policies import (
    MAX_MANAGED_POLICIES,
    PolicyError,
    characters,
    check_placeholders,
    environment_template,
    minified,
    policy_name,
    policy_number,
    resolver,
    split,
    statements_of,
    substitute,
    trust_policy,
)
from lambdas.pivot_role.stack_sets import Environments, StackSets


@dataclass(frozen=True)
class RolePlan:
    """Everything a Create or Update will make, computed and checked before any change."""

    props: PivotRoleProperties
    trust: dict[str, Any]
    documents: list[dict[str, Any]]
    environments: Environments | None


@dataclass
class Journal:
    """What this request created, for the cleanup of a failed replacement."""

    created_role: bool = False


class PivotRoles:
    def __init__(self, services: Services, deadline: Deadline, request_id: str = "") -> None:
        self.services = services
        self.iam = services.iam
        self.stack_sets = StackSets(services, deadline, request_id)

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        request, owner = event["RequestType"], str(event["StackId"])
        if request == "Delete":
            physical = str(event.get("PhysicalResourceId", ""))
            stack_set = stack_set_of(event.get("ResourceProperties"))
            if stack_set:
                self.stack_sets.remove(stack_set, owner, role_name=physical)
            self.delete_role(physical, owner)
            return Outcome(physical)
        props = PivotRoleProperties.parse(event.get("ResourceProperties"), PIVOT_ROLE_TYPE)
        plan = self.plan(props)
        previous = str(event.get("PhysicalResourceId", "")) if request == "Update" else ""
        journal = Journal()
        try:
            return self.converge(plan, owner, journal, stack_set_of(event.get("OldResourceProperties")))
        except Exception:
            if previous and previous != props.role_name and journal.created_role:
                # A failed replacement: CloudFormation keeps the old role and will not
                # delete the new one, which no physical id names.
                self._discard(props.role_name, owner)
            raise

    # ------------------------------------------------------------------ plan
    def plan(self, props: PivotRoleProperties) -> RolePlan:
        services = self.services
        trusted_account = props.trusted_account_id or services.account_id
        external_id = self._external_id(props.external_id_parameter)
        try:
            statements = statements_of(props.policy_documents)
            check_placeholders(statements)
            static = {
                "ResourcePrefix": props.resource_prefix,
                "EnvName": props.env_name,
                "PivotRoleName": props.role_name,
                "PlatformAccountId": trusted_account,
            }
            here = resolver(
                {**static, "Partition": services.partition, "AccountId": services.account_id, "Region": services.region}
            )
            documents = [
                here({"Version": "2012-10-17", "Statement": group}) for group in split(statements, resolve=here)
            ]
            environments = self._environments(props, statements, static, trusted_account, external_id)
        except PolicyError as error:
            raise ProviderError(f"role {props.role_name}: {error}") from None
        trust = trust_policy(
            partition=services.partition,
            trusted_account_id=trusted_account,
            role_patterns=props.trusted_role_patterns,
            external_id=external_id,
            services=props.trusted_services,
        )
        return RolePlan(props=props, trust=trust, documents=documents, environments=environments)

    def _environments(
        self,
        props: PivotRoleProperties,
        statements: list[dict[str, Any]],
        static: dict[str, str],
        trusted_account: str,
        external_id: str,
    ) -> Environments | None:
        if not props.environment_accounts:
            return None
        if not props.stack_set_name:
            raise ProviderError("StackSetName is required when EnvironmentAccounts are listed")
        if trusted_account in props.environment_accounts or self.services.account_id in props.environment_accounts:
            raise ProviderError(
                f"the platform's account {self.services.account_id} has its pivot role already: "
                "list only other accounts in EnvironmentAccounts"
            )
        region = (props.environment_regions or [self.services.region])[0]
        # One template serves every account: sized with the longest account id and region.
        widest = resolver({**static, "Partition": self.services.partition, "AccountId": "0" * 12, "Region": region})
        groups = split([substitute(s, static) for s in statements], resolve=widest)
        template = environment_template(
            role_name=props.role_name,
            policies=groups,
            platform_account_id=trusted_account,
            role_patterns=props.trusted_role_patterns,
            services=props.trusted_services,
            max_session_duration=props.max_session_duration,
        )
        admin = props.administration_role_arn or self.services.arn("iam", f"role/{DEFAULT_ADMINISTRATION_ROLE}")
        return Environments(
            name=props.stack_set_name,
            accounts=tuple(props.environment_accounts),
            region=region,
            template=template,
            external_id=external_id,
            administration_role_arn=admin,
            execution_role_name=props.execution_role_name,
            template_bucket=props.template_bucket,
        )

    def _external_id(self, parameter: str) -> str:
        try:
            value = self.services.ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as error:
            if code_of(error) == "ParameterNotFound":
                raise ProviderError(
                    f"the external id parameter {parameter} does not exist: the {EXTERNAL_ID_TYPE} resource "
                    "creates it, and the pivot role should name that resource (Ref) in ExternalIdParameter"
                ) from None
            raise
        return str(value)

    # ------------------------------------------------------------------ converge
    def converge(self, plan: RolePlan, owner: str, journal: Journal, old_stack_set: str = "") -> Outcome:
        """Make the role match the plan; `old_stack_set` is the StackSet the previous
        properties rolled out, removed unless the plan still uses it."""
        props = plan.props
        role_arn = self._ensure_role(plan, owner, journal)
        policies = self._converge_policies(props.role_name, plan.documents, owner)
        if old_stack_set and (plan.environments is None or plan.environments.name != old_stack_set):
            # First: a renamed StackSet's instances create roles of the same names.
            self.stack_sets.remove(old_stack_set, owner)
        if plan.environments is not None:
            self.stack_sets.converge(plan.environments, owner, props.role_name)
        data = {
            "RoleName": props.role_name,
            "RoleArn": role_arn,
            "PolicyNames": ",".join(name for name, _ in policies),
            "PolicyArns": ",".join(arn for _, arn in policies),
            "PolicyCount": str(len(policies)),
            "StackSetName": plan.environments.name if plan.environments else "",
            "EnvironmentAccounts": ",".join(props.environment_accounts),
        }
        logger.info("the pivot role matches its properties", extra={"pivot_role": data})
        return Outcome(props.role_name, data)

    def _ensure_role(self, plan: RolePlan, owner: str, journal: Journal) -> str:
        props = plan.props
        role = self._role(props.role_name)
        if role is None:
            created = self.iam.create_role(
                RoleName=props.role_name,
                AssumeRolePolicyDocument=minified(plan.trust),
                Description=props.description,
                MaxSessionDuration=props.max_session_duration,
                Tags=[{"Key": OWNER_TAG, "Value": owner}],
            )
            journal.created_role = True
            logger.info("created the role", extra={"role": props.role_name})
            return str(created["Role"]["Arn"])
        require_owner(f"role {props.role_name}", role.get("Tags"), owner)
        if decoded(role["AssumeRolePolicyDocument"]) != plan.trust:
            self.iam.update_assume_role_policy(RoleName=props.role_name, PolicyDocument=minified(plan.trust))
            logger.info("updated the role's trust policy", extra={"role": props.role_name})
        settings = (role.get("Description", ""), role.get("MaxSessionDuration"))
        if settings != (props.description, props.max_session_duration):
            self.iam.update_role(
                RoleName=props.role_name,
                Description=props.description,
                MaxSessionDuration=props.max_session_duration,
            )
        return str(role["Arn"])

    def _converge_policies(self, role_name: str, documents: list[dict[str, Any]], owner: str) -> list[tuple[str, str]]:
        attached = self._attached(role_name)
        wanted: list[tuple[str, str]] = []
        for number, doc in enumerate(documents, 1):
            name = policy_name(role_name, number)
            arn = self._policy_arn(name)
            policy = self._policy(arn)
            if policy is None:
                self.iam.create_policy(
                    PolicyName=name,
                    PolicyDocument=minified(doc),
                    Description=f"Pivot role {role_name}: managed policy {number}",
                    Tags=[{"Key": OWNER_TAG, "Value": owner}],
                )
                logger.info("created a policy", extra={"policy": name, "characters": characters(doc)})
            else:
                require_owner(f"policy {name}", policy.get("Tags"), owner)
                if self._document(arn, str(policy["DefaultVersionId"])) != doc:
                    self._new_version(arn, doc)
                    logger.info("updated a policy", extra={"policy": name, "characters": characters(doc)})
            if name not in attached:
                self.iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
            wanted.append((name, arn))
        names = {name for name, _ in wanted}
        stale = {name for name in attached if policy_number(role_name, name) and name not in names}
        stale |= {policy_name(role_name, n) for n in range(len(documents) + 1, MAX_MANAGED_POLICIES + 1)}
        for name in sorted(stale, key=lambda n: policy_number(role_name, n) or 0):
            self._delete_policy(role_name, name, owner)
        return wanted

    # ------------------------------------------------------------------ delete
    def delete_role(self, role_name: str, owner: str) -> None:
        """The role and its own policies, if they carry this stack's tag; gone is fine."""
        if not ROLE_NAME.match(role_name):
            return
        role = self._role(role_name)
        if role is None:
            logger.info("the role is gone already", extra={"role": role_name})
            return
        if tags_of(role.get("Tags")).get(OWNER_TAG) != owner:
            logger.warning("the role belongs to another stack; kept", extra={"role": role_name})
            return
        for arn in self._attached(role_name).values():
            self._ignore_missing(self.iam.detach_role_policy, RoleName=role_name, PolicyArn=arn)
        for number in range(1, MAX_MANAGED_POLICIES + 1):
            self._delete_policy(role_name, policy_name(role_name, number), owner)
        for inline in self._pages(self.iam.list_role_policies, "PolicyNames", RoleName=role_name):
            self._ignore_missing(self.iam.delete_role_policy, RoleName=role_name, PolicyName=inline)
        for profile in self._pages(self.iam.list_instance_profiles_for_role, "InstanceProfiles", RoleName=role_name):
            self._ignore_missing(
                self.iam.remove_role_from_instance_profile,
                InstanceProfileName=profile["InstanceProfileName"],
                RoleName=role_name,
            )
        self._ignore_missing(self.iam.delete_role, RoleName=role_name)
        logger.info("deleted the role", extra={"role": role_name})

    def _discard(self, role_name: str, owner: str) -> None:
        try:
            self.delete_role(role_name, owner)
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            logger.exception("could not remove the role of a failed replacement", extra={"role": role_name})

    def _delete_policy(self, role_name: str, name: str, owner: str) -> None:
        arn = self._policy_arn(name)
        policy = self._policy(arn)
        if policy is None:
            return
        if tags_of(policy.get("Tags")).get(OWNER_TAG) != owner:
            logger.warning("a policy named like the role's belongs to another stack; kept", extra={"policy": name})
            return
        entities = self.iam.list_entities_for_policy(PolicyArn=arn)
        for entity in entities.get("PolicyRoles", []):
            self._ignore_missing(self.iam.detach_role_policy, RoleName=entity["RoleName"], PolicyArn=arn)
        for entity in entities.get("PolicyUsers", []):
            self._ignore_missing(self.iam.detach_user_policy, UserName=entity["UserName"], PolicyArn=arn)
        for entity in entities.get("PolicyGroups", []):
            self._ignore_missing(self.iam.detach_group_policy, GroupName=entity["GroupName"], PolicyArn=arn)
        for version in self.iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                self._ignore_missing(self.iam.delete_policy_version, PolicyArn=arn, VersionId=version["VersionId"])
        self._ignore_missing(self.iam.delete_policy, PolicyArn=arn)
        logger.info("deleted a policy", extra={"policy": name, "role": role_name})

    # ------------------------------------------------------------------ IAM reads
    def _role(self, name: str) -> dict[str, Any] | None:
        try:
            role: dict[str, Any] = self.iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if code_of(error) == "NoSuchEntity":
                return None
            raise
        return role

    def _policy(self, arn: str) -> dict[str, Any] | None:
        try:
            policy: dict[str, Any] = self.iam.get_policy(PolicyArn=arn)["Policy"]
        except ClientError as error:
            if code_of(error) == "NoSuchEntity":
                return None
            raise
        return policy

    def _policy_arn(self, name: str) -> str:
        return self.services.arn("iam", f"policy/{name}")

    def _attached(self, role_name: str) -> dict[str, str]:
        return {
            p["PolicyName"]: p["PolicyArn"]
            for p in self._pages(self.iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name)
        }

    def _document(self, arn: str, version: str) -> Any:
        return decoded(self.iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])

    def _new_version(self, arn: str, doc: dict[str, Any]) -> None:
        versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= 5:  # IAM keeps at most five versions of a policy
            oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
            self.iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=minified(doc), SetAsDefault=True)

    @staticmethod
    def _pages(operation: Any, key: str, **arguments: Any) -> list[Any]:
        items: list[Any] = []
        while True:
            page = operation(**arguments)
            items.extend(page.get(key, []))
            if not page.get("IsTruncated"):
                return items
            arguments["Marker"] = page["Marker"]

    @staticmethod
    def _ignore_missing(operation: Any, **arguments: Any) -> None:
        try:
            operation(**arguments)
        except ClientError as error:
            if code_of(error) != "NoSuchEntity":
                raise


def describe_pivot_role(iam: Any, role_name: str) -> dict[str, Any] | None:
    """The pivot role as it is in IAM (for `status --json`), or None if it does not exist.

    {"RoleName", "RoleArn", "MaxSessionDuration", "PolicyNames": [...],
     "Policies": [{"PolicyName", "PolicyArn", "DefaultVersionId", "Characters"}]}
    """
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        if code_of(error) == "NoSuchEntity":
            return None
        raise
    attached = PivotRoles._pages(iam.list_attached_role_policies, "AttachedPolicies", RoleName=role_name)
    own = sorted(
        (p for p in attached if policy_number(role_name, p["PolicyName"])),
        key=lambda p: policy_number(role_name, p["PolicyName"]) or 0,
    )
    policies = []
    for entry in own:
        version = iam.get_policy(PolicyArn=entry["PolicyArn"])["Policy"]["DefaultVersionId"]
        answer = iam.get_policy_version(PolicyArn=entry["PolicyArn"], VersionId=version)
        doc = decoded(answer["PolicyVersion"]["Document"])
        policies.append(
            {
                "PolicyName": entry["PolicyName"],
                "PolicyArn": entry["PolicyArn"],
                "DefaultVersionId": version,
                "Characters": characters(doc),
            }
        )
    return {
        "RoleName": role["RoleName"],
        "RoleArn": role["Arn"],
        "MaxSessionDuration": role.get("MaxSessionDuration"),
        "PolicyNames": [p["PolicyName"] for p in policies],
        "Policies": policies,
    }
