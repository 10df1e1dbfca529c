"""data.all's migrations in the import (`blueprints/dataall/migrations.py`): its DbMigrations stack
as the `migrations` stage, and the `migrate` action, on data.all's own assemblies (read, never
copied); the migration package's requirements (`installer/dataall_migrations.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueprints.dataall import migrations, rules
from blueprints.dataall.stages import ImportedStage, split_stack
from cloud_assembly.reader import CloudAssembly
from installer import dataall_migrations

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream" / "dataall"
BACKEND = "dataall-dev-backend-stage-backend-stack"
PACKAGE = migrations.MigrationPackage("assets/abc.zip", "python3.11", "dataall_installer_migrate.handler.handler")
CLUSTER_OUTPUT = "dataallmaincicdstackdataalldevbackendstagebackendstackAuroraAuroraDatabasedevA9278E6DRef"
pytestmark = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/upstream/dataall is not here")


def _imported(version: str) -> dict[str, ImportedStage]:
    stack = CloudAssembly.load(UPSTREAM / version / "cdk.out").stack(BACKEND)
    synthesis = rules.Synthesis(
        account=stack.account,
        region=stack.region,
        asset_buckets=frozenset(a.bucket for a in stack.assets),
        asset_keys={a.key: f"assets/{a.id}.zip" for a in stack.assets},
    )
    imported = split_stack(
        stack,
        root_name="backend",
        drop={"DbSnapshots": "the migrate action", "SavePerms": "the migrate action"},
        naming={"DbMigrations": "migrations"},
        synthesis=synthesis,
        transforms={"DbMigrations": lambda t: migrations.migration_function_from_the_release(t, PACKAGE)},
    )
    return {stage.name: stage for stage in imported.stages}


@pytest.mark.parametrize("version", ["2.8.0", "2.9.0"])
def test_db_migrations_keeps_data_alls_function_without_the_trigger_that_migrated_during_the_deploy(
    version: str,
) -> None:
    stages = _imported(version)
    stage = stages["migrations"]
    resources = stage.template["Resources"]
    types = sorted(body["Type"] for body in resources.values())
    (function,) = [b["Properties"] for b in resources.values() if b["Type"] == "AWS::Lambda::Function"]

    assert "Custom::Trigger" not in types and types.count("AWS::Lambda::Function") == 1
    assert types.count("AWS::IAM::Role") == 1 and types.count("AWS::EC2::SecurityGroup") == 1
    assert function["Code"] == {"S3Bucket": {"Ref": "AssetsBucket"}, "S3Key": "assets/abc.zip"}
    assert "PackageType" not in function and "ImageConfig" not in function
    assert (function["Runtime"], function["Handler"], function["Timeout"]) == (PACKAGE.runtime, PACKAGE.handler, 840)
    # the installation's names (`<ResourcePrefix>-<EnvName>-migrations`, the migrate step's grant)
    assert function["FunctionName"] == {"Fn::Sub": "${ResourcePrefix}-${EnvName}-migrations"}
    assert function["Environment"]["Variables"]["envname"] == {"Ref": "EnvName"} and function["VpcConfig"]["SubnetIds"]
    assert stage.template["Outputs"]["MigrationFunctionName"] == {
        "Description": "data.all's migration function, invoked by the installer's migrate action",
        "Value": {"Ref": next(n for n, b in resources.items() if b["Type"] == "AWS::Lambda::Function")},
    }
    # Its DependsOn on DbSnapshots was the triggers' order: gone with them.
    assert set(stage.depends_on) == {"aurora", "backend", "vpc"}


def test_the_migrate_action_follows_the_migrations_and_aurora_stages_and_snapshots_data_alls_cluster() -> None:
    stages = _imported("2.9.0")
    aurora = stages["aurora"]

    action = migrations.migrate_action(stages, "aurora", aurora.template)

    assert action["depends_on"] == ["migrations", "aurora"]
    assert action["parameters"] == {
        "FunctionName": "${stage:migrations.MigrationFunctionName}",
        # the aurora stage's output that is its cluster's Ref (data.all's dataall-dev-db-v2)
        "ClusterIdentifier": "${stage:aurora." + CLUSTER_OUTPUT + "}",
        "LockTimeoutMs": "5000",
        "StatementTimeoutMs": "300000",
    }


def test_a_migrations_stack_of_another_shape_is_refused_naming_what_it_found() -> None:
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}}}}}

    with pytest.raises(
        migrations.MigrationImportError, match=r"one trigger and one image function, found triggers \[\]"
    ):
        migrations.migration_function_from_the_release(template, PACKAGE)


@pytest.mark.parametrize(
    ("version", "driver"), [("2.8.0", "psycopg2-binary==2.9.10"), ("2.9.0", "psycopg2-binary>=2.9.9")]
)
def test_the_package_takes_data_alls_pins_with_psycopg2_for_pygresql_and_boto3_from_the_runtime(
    version: str, driver: str
) -> None:
    wanted = dataall_migrations.requirements(UPSTREAM / version / "source")

    assert driver in wanted and not any(r.lower().startswith(("pygresql", "boto3")) for r in wanted)
    assert any(r.lower().startswith("sqlalchemy==") for r in wanted) and any(r.startswith("alembic==") for r in wanted)
