"""data.all's migrations as the installer runs them: the `migrations` stage and the `migrate` action.

data.all runs its chain from three trigger stacks inside its CloudFormation deploy: DbSnapshots
(a cluster snapshot), DbMigrations (`alembic upgrade head`) and SavePerms (its permissions). A
revision that fails there leaves CloudFormation's rollback running the old code against the new
schema (data.all #1500). The import keeps DbMigrations as a stage for what it defines around the
function (its role with data.all's SSM and Secrets Manager grants, its security group and the
rules to the cluster and the VPC endpoints, its place in the private subnets, `envname`), and
takes out of it what ran the migration during the deploy; the installer's `migrate` action then
invokes the function, with the snapshot, the timeouts, the permissions and the downgrade on
rollback. DbSnapshots and SavePerms are dropped: the action does both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from blueprints.dataall import rules

#: data.all's construct name of the stack that keeps its migration function, and its stage.
MIGRATIONS_NESTED = "DbMigrations"
MIGRATIONS_STAGE = "migrations"
FUNCTION_OUTPUT = "MigrationFunctionName"
CDK_TRIGGER = "Custom::Trigger"
#: Below the migrate step's read timeout (870 s) so the step hears the function's own timeout.
FUNCTION_TIMEOUT_SECONDS = 840
#: data.all gives its trigger 256 MB; importing its API modules (numpy, langchain) and running
#: 80 revisions want more, and Lambda's CPU grows with memory.
FUNCTION_MEMORY_MB = 1024
LOCK_TIMEOUT_MS = 5_000
STATEMENT_TIMEOUT_MS = 300_000
ACTION_TIMEOUT = 3600


@dataclass(frozen=True)
class MigrationPackage:
    """The release's migration function package (`installer.dataall_migrations`)."""

    key: str
    runtime: str
    handler: str


class MigrationImportError(ValueError):
    pass


def migration_function_from_the_release(template: dict[str, Any], package: MigrationPackage) -> None:
    """data.all's DbMigrations stack runs the release's migration package when the installer asks.

    Its `Custom::Trigger` (which ran `alembic upgrade head` during CloudFormation's deploy) and
    CDK's trigger provider (the function and role that served it) go; its function runs the
    release's zip (`AssetsBucket`, `package.key`) instead of data.all's image, with the same role,
    security group, subnets and environment, named `<prefix>-<env>-migrations`; its name is an
    output for the `migrate` action."""
    resources: dict[str, Any] = template["Resources"]
    triggers = [name for name, body in resources.items() if body.get("Type") == CDK_TRIGGER]
    providers = {
        _referenced(resources[name]["Properties"].get("ServiceToken"))
        for name in triggers
        if resources[name].get("Properties", {}).get("ServiceToken")
    }
    functions = [
        name
        for name, body in resources.items()
        if body.get("Type") == "AWS::Lambda::Function" and "ImageUri" in body.get("Properties", {}).get("Code", {})
    ]
    if len(triggers) != 1 or len(functions) != 1:
        raise MigrationImportError(
            f"data.all's {MIGRATIONS_NESTED} stack should hold one trigger and one image function, "
            f"found triggers {triggers} and functions {functions}"
        )
    for provider in providers - {None}:
        role = _referenced(resources.get(str(provider), {}).get("Properties", {}).get("Role"))
        resources.pop(str(provider), None)
        if role is not None and resources.get(role, {}).get("Type") == "AWS::IAM::Role":
            resources.pop(role)
    for name in triggers:
        resources.pop(name)
    (function,) = functions
    properties = resources[function]["Properties"]
    properties.pop("PackageType", None)
    properties.pop("ImageConfig", None)
    properties["Code"] = {"S3Bucket": {"Ref": rules.ASSETS_BUCKET}, "S3Key": package.key}
    properties["Runtime"] = package.runtime
    properties["Handler"] = package.handler
    variables = properties.get("Environment", {}).get("Variables", {})
    prefix, env = variables.get("resource_prefix"), variables.get("envname")
    # The name the installer's migrate step may invoke (`<prefix>-<env>-migrations`, its role's grant); data.all
    # named it after its trigger's handler. Its variables are the installation's names (the names rule's).
    if (prefix, env) == ({"Ref": rules.RESOURCE_PREFIX}, {"Ref": rules.ENV_NAME}):
        properties["FunctionName"] = {
            "Fn::Sub": f"${{{rules.RESOURCE_PREFIX}}}-${{{rules.ENV_NAME}}}-{MIGRATIONS_STAGE}"
        }
    elif isinstance(prefix, str) and isinstance(env, str):
        properties["FunctionName"] = f"{prefix}-{env}-{MIGRATIONS_STAGE}"
    properties["Timeout"] = FUNCTION_TIMEOUT_SECONDS
    properties["MemorySize"] = FUNCTION_MEMORY_MB
    template.setdefault("Parameters", {})[rules.ASSETS_BUCKET] = {
        "Type": "String",
        "Description": "The bucket that holds the release's assets (set by the installer)",
    }
    template.setdefault("Outputs", {})[FUNCTION_OUTPUT] = {
        "Description": "data.all's migration function, invoked by the installer's migrate action",
        "Value": {"Ref": function},
    }


def _referenced(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            return argument
        if function == "Fn::GetAtt":
            return str(argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0])
    return None


def cluster_output(aurora_template: Mapping[str, Any]) -> str:
    """The aurora stage's output that is its cluster's identifier (`Ref` of the DB cluster)."""
    clusters = {n for n, b in aurora_template.get("Resources", {}).items() if b.get("Type") == "AWS::RDS::DBCluster"}
    found = [
        name
        for name, body in aurora_template.get("Outputs", {}).items()
        if isinstance(body.get("Value"), Mapping) and body["Value"].get("Ref") in clusters
    ]
    if len(found) != 1:
        raise MigrationImportError(
            f"data.all's aurora stage should output its cluster's identifier once, found {found}"
        )
    return found[0]


def migrate_action(stage_names: Iterable[str], aurora_stage: str, aurora_template: Mapping[str, Any]) -> dict[str, Any]:
    """The `migrate` action: after the migrations stage (and so the aurora stage), data.all's
    function with the installer's snapshot, timeouts, permissions and downgrade."""
    if MIGRATIONS_STAGE not in set(stage_names):
        raise MigrationImportError(f"the release has no {MIGRATIONS_STAGE} stage for its migrate action")
    return {
        "name": "migrate",
        "kind": "migrate",
        "depends_on": [MIGRATIONS_STAGE, aurora_stage],
        "description": "Snapshot data.all's database, run data.all's migrations to the release's head "
        "and its permissions step; downgraded with this release's scripts on rollback",
        "parameters": {
            "FunctionName": "${stage:" + MIGRATIONS_STAGE + "." + FUNCTION_OUTPUT + "}",
            "ClusterIdentifier": "${stage:" + aurora_stage + "." + cluster_output(aurora_template) + "}",
            "LockTimeoutMs": str(LOCK_TIMEOUT_MS),
            "StatementTimeoutMs": str(STATEMENT_TIMEOUT_MS),
        },
        "timeout": ACTION_TIMEOUT,
    }
