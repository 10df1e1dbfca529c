"""data.all itself, installed by the installer in the sandbox: its own stacks, imported from its
cloud assembly at two release tags (../shared/upstream/dataall), one stage per nested stack.

`make test` installs the newer release and redeploys it (no change). The slow tier runs one
lifecycle, in the order an operator meets it: install the older release, redeploy it (no change),
upgrade to the newer with a fault in its last stage (every stage back on the older), upgrade again,
uninstall (keeping what data.all protects against deletion: its database).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from blueprints.dataall import rules
from installer.aws import Aws
from installer.images import register_sandbox_images
from installer.operations import Installation as Names
from installer.upstream import shared_upstream
from sandbox import moto_internals
from tests.conftest import cached_dataall_release
from tests.database.dataall_chain import HEADS, Installation, seed
from tests.sandbox.conftest import INSTALLATION, dataall_revisions, deploy, run
from tests.sandbox.test_fault_matrix import _state, _statuses
from tests.sandbox.test_ways_in import settle, stack_names

pytestmark = [
    pytest.mark.skipif(
        not (shared_upstream("2.8.0").is_dir() and shared_upstream("2.9.0").is_dir()),
        reason="../shared/upstream/dataall holds data.all's releases",
    ),
    pytest.mark.xdist_group("dataall"),
]


def _holds(condition: Any, conditions: dict[str, Any], parameters: dict[str, str]) -> bool:
    """A template condition (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` of `Ref`s and literals, or
    another `Condition`) with the stack's parameters: what CloudFormation evaluates
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-conditions.html)."""
    ((function, argument),) = condition.items()
    if function == "Condition":
        return _holds(conditions[argument], conditions, parameters)
    if function == "Fn::Equals":
        left, right = ((parameters[a["Ref"]] if isinstance(a, dict) else a) for a in argument)
        return bool(left == right)
    if function == "Fn::Not":
        return not _holds(argument[0], conditions, parameters)
    held = [_holds(a, conditions, parameters) for a in argument]
    return all(held) if function == "Fn::And" else any(held)


def _created_as_templated(aws: Aws, release: Any) -> dict[str, tuple[int, int]]:
    """Stage -> (resources its template declares that its conditions keep, resources in the stack)."""
    counts = {}
    for stage in release.manifest.stages():
        cfn = Aws(region=stage.region or aws.region, endpoint_url=aws.endpoint_url).client("cloudformation")
        template = json.loads((release.path / stage.template).read_text())
        stack = INSTALLATION.stage_stack(stage.name)
        (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
        conditions = template.get("Conditions", {})
        declared = sum(
            1
            for resource in template["Resources"].values()
            if "Condition" not in resource or _holds(conditions[resource["Condition"]], conditions, parameters)
        )
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        complete = [
            r
            for page in pages
            for r in page["StackResourceSummaries"]
            if r["ResourceStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        ]
        counts[stage.name] = (declared, len(complete))
    return counts


def _distribution_domain(aws: Aws) -> str:
    cloudfront = aws.client("cloudfront")
    (distribution,) = cloudfront.list_distributions()["DistributionList"]["Items"]
    return str(distribution["DomainName"])


def _callback_urls(aws: Aws) -> list[str]:
    """The callback URLs of data.all's user pool client (in the home region)."""
    cognito = aws.client("cognito-idp")
    (pool,) = cognito.list_user_pools(MaxResults=10)["UserPools"]
    (client,) = cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=10)["UserPoolClients"]
    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])
    return list(described["UserPoolClient"].get("CallbackURLs", []))


@dataclass
class _SandboxServer:
    """The sandbox's PostgreSQL as tests.database's helpers reach a server (`connect(database)`)."""

    sandbox: Any

    def connect(self, database: str) -> Any:
        return self.sandbox.databases.server.admin(database)


def _sandbox_database(sandbox: Any) -> Installation:
    """data.all's database in the sandbox's server (its schema is its envname, the installation's `EnvName`, `test`)."""
    (name,) = dataall_revisions(sandbox)
    return Installation(postgres=_SandboxServer(sandbox), database=name, endpoint=sandbox.endpoint, envname="test")  # type: ignore[arg-type]


def _migrate_step(outcome: Any) -> Any:
    step = outcome.reader.ledger.step(outcome.result["execution_arn"].rsplit(":", 1)[1], "migrate")
    assert step is not None
    return step


def _assert_as_seeded(
    sandbox: Any, database: Installation, checksums: dict[str, Any], roles: list[dict[str, Any]], head: str
) -> None:
    """data.all's database at `head` with every table as seeded but data.all's own `updated` stamps
    (its downgrade of 77c3f1b2bec8 rewrites each consumption role through its ORM; tests/database
    checks the same)."""
    assert list(dataall_revisions(sandbox).values()) == [head]
    after = database.checksums()
    assert {t: c for t, c in after.items() if t != "consumptionrole"} == {
        t: c for t, c in checksums.items() if t != "consumptionrole"
    }
    assert database.rows("consumptionrole", without=("updated",)) == [
        {k: v for k, v in row.items() if k != "updated"} for row in roles
    ]


#: data.all's own home region (its synthesis region): the installation's, not the sandbox's default,
#: so that its CloudFront stage (us-east-1) lives in another region than the workflow.
HOME = "eu-west-1"
CLOUDFRONT_REGION = "us-east-1"


def _everywhere(aws: Aws, state: Any) -> dict[str, Any]:
    """`state(aws)` of the installation's region and of its CloudFront stage's, keyed `region/name`."""
    east = Aws(region=CLOUDFRONT_REGION, endpoint_url=aws.endpoint_url)
    return {f"{a.region}/{name}": value for a in (aws, east) for name, value in state(a).items()}


def _regions_of_stages(aws: Aws, release: Any) -> dict[str, str]:
    """Stage -> the region its stack is in (looked for in the installation's and in us-east-1)."""
    found = {}
    for region in (aws.region, CLOUDFRONT_REGION):
        names = stack_names(Aws(region=region, endpoint_url=aws.endpoint_url))
        found.update({s.name: region for s in release.manifest.stages() if INSTALLATION.stage_stack(s.name) in names})
    return found


def _stage_roles(aws: Aws, release: Any, regions: dict[str, str]) -> set[str]:
    """The service roles the stage stacks were deployed with (their RoleARN)."""
    return {
        str(
            Aws(region=regions[s.name], endpoint_url=aws.endpoint_url)
            .client("cloudformation")
            .describe_stacks(StackName=INSTALLATION.stage_stack(s.name))["Stacks"][0]
            .get("RoleARN")
        )
        for s in release.manifest.stages()
    }


def _external_id(aws: Aws, outcome: Any) -> str:
    """The pivot role's external id: the installation's, as its ledger keeps it, which must be the
    one data.all's SSM parameter holds, and nowhere in the run's record."""
    kept = outcome.reader.ledger.value(rules.EXTERNAL_ID)
    assert kept is not None
    in_ssm = aws.client("ssm").get_parameter(Name="/dataall/test/pivotRole/externalId")["Parameter"]["Value"]
    assert in_ssm == kept.value
    run_record = outcome.reader.ledger.run(outcome.result["execution_arn"].rsplit(":", 1)[1])
    assert kept.value not in json.dumps(run_record.model_dump() if run_record else None)
    assert kept.value not in json.dumps(outcome.result)
    return kept.value


#: data.all's ECS task security groups (`deploy/stacks/container.py`, `create_ecs_security_groups`)
ECS_TASK_GROUPS = ("dataall-test-ecs-share-manager-tasks-sg", "dataall-test-ecs-tasks-sg")


def _s3_prefix_list(aws: Aws) -> str:
    name = f"com.amazonaws.{aws.region}.s3"
    lists = aws.client("ec2").describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])
    return str(lists["PrefixLists"][0]["PrefixListId"])


def _s3_egress(aws: Aws) -> dict[str, tuple[tuple[str, int, str], ...]]:
    """Each ECS task group's egress rules to a prefix list: (prefix list, port, description)."""
    groups = aws.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": list(ECS_TASK_GROUPS)}]
    )["SecurityGroups"]
    return {
        group["GroupName"]: tuple(
            (listed["PrefixListId"], rule["FromPort"], listed.get("Description", ""))
            for rule in group["IpPermissionsEgress"]
            for listed in rule.get("PrefixListIds", [])
        )
        for group in sorted(groups, key=lambda g: g["GroupName"])
    }


def _install(aws: Aws, sandbox: Any, release: Any) -> tuple[Any, str]:
    """Install `release` (OnDelete Destroy) and check what every install of data.all must give: its
    migrations at the release's head, every templated resource created, each stage in its region, the
    Cognito URL trigger's callback and the installation's own external id. The run and that id."""
    away = {s.name for s in release.manifest.stages() if s.region == CLOUDFRONT_REGION}
    installed = deploy(aws, release, {"OnDelete": "Destroy"})

    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    # data.all's own alembic chain, run by the migrate action in the sandbox's PostgreSQL
    assert installed.result["actions"]["migrate"]["status"] == "MIGRATED"
    # data.all's images, copied from the publisher's registry into the installation's before lambdas and ecs
    assert installed.result["actions"]["images"]["status"] == "COPIED"
    held = aws.client("ecr").describe_images(repositoryName="dataall-main-ecr-repository")["imageDetails"]
    pinned = {f"{i.repository}:{i.tag}": i.digest for i in release.manifest.images}
    assert {f"dataall-main-ecr-repository:{t}": d["imageDigest"] for d in held for t in d["imageTags"]} == pinned
    assert list(dataall_revisions(sandbox).values()) == [HEADS[release.version]]
    counts = _created_as_templated(aws, release)
    assert all(declared == created for declared, created in counts.values()), counts
    regions = _regions_of_stages(aws, release)
    assert regions == {s.name: CLOUDFRONT_REGION if s.name in away else HOME for s in release.manifest.stages()}
    # every stage stack was made with the installer's CloudFormation service role, whose policies (the
    # release's derived grants) the sandbox's CloudFormation checked each resource's handlers against
    (role,) = _stage_roles(aws, release, regions)
    # (its own policy and the managed policies of the resources' handler permissions)
    assert ":role/" in role and len(moto_internals.role_policy_documents(role) or []) > 1
    # data.all's Cognito URL trigger ran in us-east-1 and reached back to the user pool in the home
    # region: its app client now calls back to the CloudFront distribution's domain
    assert _callback_urls(aws) == [f"https://{_distribution_domain(aws)}"]
    # data.all's ECS task groups reach S3 by the prefix list of the installation's region, as its
    # online synthesis gives them (the import's rule; Plan looked the list up in that region)
    s3_egress = [(_s3_prefix_list(aws), 443, "Allow ECS Task to S3 Prefix List")]
    assert _s3_egress(aws) == dict.fromkeys(ECS_TASK_GROUPS, tuple(s3_egress))
    # the pivot role's external id: this installation's own, drawn at deploy time, never the release's
    external_id = _external_id(aws, installed)
    assert len(external_id) == 32 and external_id.isalnum()
    assert all(external_id.encode() not in path.read_bytes() for path in release.path.rglob("*") if path.is_file())
    return installed, external_id


def test_data_all_installs_every_resource_of_its_stacks_and_redeploys_unchanged(
    sandbox: Any, data_all_pace: None
) -> None:
    """The default tier's sample of data.all itself: its newer release installed from nothing in two
    regions, then a redeploy that changes nothing (the whole lifecycle is the slow test below)."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    newer = cached_dataall_release("2.9.0")
    register_sandbox_images(aws, newer, lambda _: None)
    installed, _ = _install(aws, sandbox, newer)
    on_newer = _everywhere(aws, _state)

    again = run(aws, installed, {"action": "redeploy"})

    assert again["status"] == "SUCCEEDED", again["error"]
    assert _everywhere(aws, _state) == on_newer
    # nothing changed: every stage UNCHANGED, and no change set executed nor left behind
    steps = installed.reader.ledger.steps(again["execution_arn"].rsplit(":", 1)[1])
    regions = _regions_of_stages(aws, newer)  # the stages installed (an option off leaves some out)
    assert {name: steps[name].result for name in regions if name in steps} == dict.fromkeys(regions, "UNCHANGED")
    assert [name for name, step in steps.items() if step.change_set_id] == []
    for stage, region in regions.items():
        cfn = Aws(region=region, endpoint_url=aws.endpoint_url).client("cloudformation")
        assert cfn.list_change_sets(StackName=INSTALLATION.stage_stack(stage))["Summaries"] == [], stage


@pytest.mark.slow
def test_data_all_installs_upgrades_rolls_back_as_a_whole_and_uninstalls(sandbox: Any, data_all_pace: None) -> None:
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    older, newer = cached_dataall_release("2.8.0"), cached_dataall_release("2.9.0")
    last = [stage.name for stage in newer.manifest.stages()][-1]
    away = {s.name for s in newer.manifest.stages() if s.region == CLOUDFRONT_REGION}
    assert away == {"cloudfront", "frontend-cognito-config"} and last in away
    for release in (older, newer):
        register_sandbox_images(aws, release, lambda _: None)

    installed, external_id = _install(aws, sandbox, older)
    on_older = _everywhere(aws, _state)
    # rows in data.all's own tables, which the failed upgrade below must give back as they were
    database = _sandbox_database(sandbox)
    seed(database)
    checksums, roles = database.checksums(), database.rows("consumptionrole")

    again = run(aws, installed, {"action": "redeploy"})
    assert again["status"] == "SUCCEEDED", again["error"]
    assert _everywhere(aws, _state) == on_older

    sandbox.faults.add(f"{last}:update")
    failed = deploy(aws, newer, {"OnDelete": "Destroy"})
    sandbox.faults.clear()

    assert failed.result["status"] == "FAILED" and failed.result["error"]["stage"] == last, failed.result
    assert _everywhere(aws, _state) == on_older, _everywhere(aws, _statuses)
    # the CloudFront stage changed in the upgrade and went back with the rest
    steps = failed.reader.ledger.steps(failed.result["execution_arn"].rsplit(":", 1)[1])
    assert {name: steps[name].rolled_back for name in away} == {"cloudfront": "RESTORED", last: "RESTORED"}, steps
    # the fault may end the run before or after migrate upgraded (migrate waits for its snapshot
    # while the last stage fails): either way the database is as it was; after: see the slow test
    migrated = _migrate_step(failed)
    assert migrated.rolled_back == ("DOWNGRADED" if migrated.executed else None), migrated
    _assert_as_seeded(sandbox, database, checksums, roles, HEADS[older.version])
    current = failed.reader.ledger.current_release()
    assert current is not None and current.version == older.version
    assert _external_id(aws, failed) == external_id

    upgraded = run(aws, failed, {"action": "upgrade", "version": newer.version})
    assert upgraded["status"] == "SUCCEEDED", upgraded["error"]
    assert list(dataall_revisions(sandbox).values()) == [HEADS[newer.version]]
    # what `dataall-installer status` shows, asked of data.all's own migration function
    assert failed.reader.database() == {
        "revision": HEADS[newer.version], "head": HEADS[newer.version], "function": "dataall-test-migrations"
    }  # fmt: skip
    installed_now = failed.reader.ledger.current_release()
    assert installed_now is not None and installed_now.version == newer.version
    kept = failed.reader.ledger.value(rules.EXTERNAL_ID)
    assert kept is not None and kept.value == external_id
    in_ssm = aws.client("ssm").get_parameter(Name="/dataall/test/pivotRole/externalId")["Parameter"]["Value"]
    assert in_ssm == external_id
    counts = _created_as_templated(aws, newer)
    assert all(declared == created for declared, created in counts.values()), counts

    aws.client("cloudformation").delete_stack(StackName=INSTALLATION.stack_name)
    assert settle(aws, INSTALLATION.stack_name, timeout=600) == "DELETE_COMPLETE"
    assert stack_names(aws) == set()
    assert stack_names(Aws(region=CLOUDFRONT_REGION, endpoint_url=sandbox.endpoint)) == set()
    # data.all's database has deletion protection on: the uninstall kept it (and its data).
    clusters = aws.client("rds").describe_db_clusters()["DBClusters"]
    assert [c["DeletionProtection"] for c in clusters] == [True]


@pytest.mark.slow
def test_a_fault_after_data_alls_migration_downgrades_it_with_every_seeded_row(
    sandbox: Any, data_all_pace: None
) -> None:
    """Issue 19's check through the installer: 2.8.0 installed and seeded; the upgrade to 2.9.0 has
    its opensearch stage hang (`timeout`: it fails at its stage timeout, 3,600 modelled seconds,
    after data.all's migration upgraded the database); the rollback downgrades the database with
    2.9.0's scripts before any stage goes back, to 2.8.0's head with every seeded row. In data.all's home
    region: its release names the Klayers layer of that region, which Plan refuses elsewhere."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    older, newer = cached_dataall_release("2.8.0"), cached_dataall_release("2.9.0")
    for release in (older, newer):
        register_sandbox_images(aws, release, lambda _: None)
    installed = deploy(aws, older, {"OnDelete": "Destroy"})
    assert installed.result["status"] == "SUCCEEDED", installed.result["error"]
    database = _sandbox_database(sandbox)
    seed(database)
    checksums, roles = database.checksums(), database.rows("consumptionrole")

    sandbox.faults.add("opensearch:timeout")
    try:
        failed = deploy(aws, newer, {"OnDelete": "Destroy"})
    finally:
        sandbox.faults.clear()

    assert failed.result["status"] == "FAILED" and failed.result["error"]["stage"] == "opensearch", failed.result
    migrated = _migrate_step(failed)
    assert migrated.executed and migrated.result == "MIGRATED", migrated
    assert sorted(migrated.applied or []) == sorted(["a1b2c3d4e5f7", "77c3f1b2bec8", "89c3bfe59cad", "2258cd8d6e9f"])
    assert migrated.rolled_back == "DOWNGRADED", migrated
    _assert_as_seeded(sandbox, database, checksums, roles, HEADS[older.version])


@pytest.mark.slow
def test_two_data_alls_live_in_one_account_and_region_each_under_its_own_names(
    sandbox: Any, data_all_pace: None
) -> None:
    """data.all's names are the installation's (the import's `names_of_the_installation`): a dev and a prod
    installation, each with its bootstrap stack's ResourcePrefix and EnvName, install side by side in one account
    and region, each with its own resources, SSM parameters and database schema; one's uninstall leaves the other
    whole."""
    aws = Aws(region=HOME, endpoint_url=sandbox.endpoint)
    release = cached_dataall_release("2.9.0")
    register_sandbox_images(aws, release, lambda _: None)
    dev, prod = Names(prefix="acme", env="dev"), Names(prefix="beta", env="prod")

    first = deploy(aws, release, {"OnDelete": "Destroy"}, installation=dev)
    second = deploy(aws, release, {"OnDelete": "Destroy"}, installation=prod)

    assert first.result["status"] == "SUCCEEDED", first.result["error"]
    assert second.result["status"] == "SUCCEEDED", second.result["error"]
    ssm = aws.client("ssm")
    urls = {env: ssm.get_parameter(Name=f"/dataall/{env}/apiGateway/backendUrl")["Parameter"]["Value"]
            for env in ("dev", "prod")}  # fmt: skip
    assert urls["dev"] != urls["prod"]
    queues = aws.client("sqs").list_queues()["QueueUrls"]
    assert {q.rsplit("/", 1)[1] for q in queues} >= {"acme-dev-queue.fifo", "beta-prod-queue.fifo"}
    functions = {f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]}
    assert {"acme-dev-migrations", "beta-prod-migrations"} <= functions
    # each database migrated in its own schema (data.all's `envname`)
    assert list(dataall_revisions(sandbox, "dev").values()) == [HEADS[release.version]]
    assert list(dataall_revisions(sandbox, "prod").values()) == [HEADS[release.version]]
    stacks = stack_names(aws)
    assert {n.split("-", 2)[0] + "-" + n.split("-", 2)[1] for n in stacks} == {"acme-dev", "beta-prod"}
    # a third sharing dev's prefix would take its KMS aliases (data.all names them by the prefix alone): refused
    # at Plan, naming one, before anything changed
    qa = Names(prefix="acme", env="qa")
    third = deploy(aws, release, {"OnDelete": "Destroy"}, installation=qa)
    assert third.result["status"] == "REFUSED" and third.result["error"]["code"] == "NameTaken", third.result
    assert "alias/acme-lambda-env-var-key" in third.result["error"]["reason"]
    assert stack_names(aws) == stacks | {qa.stack_name}
    aws.client("cloudformation").delete_stack(StackName=qa.stack_name)
    assert settle(aws, qa.stack_name, timeout=600) == "DELETE_COMPLETE"

    aws.client("cloudformation").delete_stack(StackName=dev.stack_name)
    assert settle(aws, dev.stack_name, timeout=600) == "DELETE_COMPLETE"

    assert stack_names(aws) == {n for n in stacks if n.startswith("beta-prod-")}
    again = run(aws, second, {"action": "redeploy"})
    assert again["status"] == "SUCCEEDED", again["error"]
    steps = second.reader.ledger.steps(again["execution_arn"].rsplit(":", 1)[1])
    stages = {name for name, step in release.manifest.steps.items() if step.is_stage}
    assert {step.result for name, step in steps.items() if name in stages} == {"UNCHANGED"}
    assert list(dataall_revisions(sandbox, "prod").values()) == [HEADS[release.version]]
