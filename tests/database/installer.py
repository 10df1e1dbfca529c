"""The installer's side of a migrate step, in moto (in-process): a release manifest with the
`migrate` action in S3, the ledger, the aurora stage's outputs, an Aurora cluster.

Used by the unit tier (with a scripted migration function) and the database tier (with
the real one, in this process, against a real PostgreSQL).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from lambdas.core.deps import Deps
from lambdas.core.messages import StepRef, StepState
from lambdas.core.settings import Settings
from lambdas.data.ledger import Ledger, now_iso
from lambdas.data.ledger_table import attribute_definitions, key_schema
from lambdas.data.records import RunRecord, StageRecord
from lambdas.data.releases import ReleaseStore, release_key
from lambdas.data.stacks import Stacks
from lambdas.migration.step import MigrationClients
from lambdas.release.manifest import sha256_bytes

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARTIFACTS = "dataall-test-artifacts"
LEDGER = "dataall-test-installer-ledger"
VERSION = "2.8.0"
PREFIX = "dataall"
ENV = "test"
CLUSTER = "dataall-test-aurora"
FUNCTION = "dataall-test-migrations"
TEMPLATE = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
MIGRATE_PARAMETERS = {
    "FunctionName": "${stage:aurora.MigrationFunctionName}",
    "ClusterIdentifier": "${stage:aurora.ClusterIdentifier}",
    "LockTimeoutMs": "5000",
    "StatementTimeoutMs": "300000",
}


def manifest_document(
    timeout: int = 3600, parameters: dict[str, str] | None = None, outputs: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "format": 1,
        "name": "dataall",
        "version": VERSION,
        "options": {},
        "rules": [],
        "stages": [
            {
                "name": "aurora",
                "template": "blueprints/aurora.template.json",
                "parameters": {},
                "depends_on": [],
                "stateful": True,
                "timeout": 3600,
                "outputs": sorted({"ClusterIdentifier", "MigrationFunctionName", *outputs}),
            }
        ],
        "actions": [
            {
                "name": "migrate",
                "kind": "migrate",
                "depends_on": ["aurora"],
                "parameters": MIGRATE_PARAMETERS if parameters is None else parameters,
                "timeout": timeout,
            }
        ],
        "files": {"blueprints/aurora.template.json": sha256_bytes(TEMPLATE.encode())},
    }


def make_deps(manifest: dict[str, Any] | None = None) -> Deps:
    """Within `mock_aws`: the artifacts bucket with the release, the ledger, an Aurora cluster."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS)
    s3.put_object(
        Bucket=ARTIFACTS,
        Key=release_key(VERSION, "manifest.json"),
        Body=json.dumps(manifest or manifest_document()).encode(),
    )
    s3.put_object(Bucket=ARTIFACTS, Key=release_key(VERSION, "blueprints/aurora.template.json"), Body=TEMPLATE.encode())
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=LEDGER,
        KeySchema=key_schema(),
        AttributeDefinitions=attribute_definitions(),
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("rds", region_name=REGION).create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        MasterUsername="dataall_admin",
        MasterUserPassword="not-used-by-the-tests",
    )
    return Deps(
        settings=Settings(ledger_table=LEDGER, artifacts_bucket=ARTIFACTS, resource_prefix=PREFIX, env_name=ENV),
        ledger=Ledger(table),
        store=ReleaseStore(s3, ARTIFACTS),
        stacks=Stacks(boto3.client("cloudformation", region_name=REGION)),
        sfn=boto3.client("stepfunctions", region_name=REGION),
        sns=boto3.client("sns", region_name=REGION),
        region=REGION,
        account_id=ACCOUNT,
    )


def start_run(deps: Deps, run: str, **outputs: str) -> StepState:
    """A run of the release whose aurora stage is deployed: the migrate step's first state."""
    deps.ledger.put_run(RunRecord(run=run, action="upgrade", version=VERSION, status="RUNNING", started=now_iso()))
    deps.ledger.put_stage(
        StageRecord(
            stage="aurora",
            stack_name=deps.settings.stack_name("aurora"),
            stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{deps.settings.stack_name('aurora')}/1",
            version=VERSION,
            template_sha256="0" * 64,
            parameters={},
            outputs={"ClusterIdentifier": CLUSTER, "MigrationFunctionName": FUNCTION, **outputs},
            status="CREATE_COMPLETE",
            stateful=True,
            run=run,
        )
    )
    return StepState(run=run, step=StepRef(name="migrate", kind="migrate"))


def snapshots() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("rds", region_name=REGION).describe_db_cluster_snapshots(
        DBClusterIdentifier=CLUSTER, SnapshotType="manual"
    )["DBClusterSnapshots"]
    return found


def lambda_answer(body: Any, function_error: str | None = None) -> dict[str, Any]:
    """Invoke's response, as boto3 returns it."""
    response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}
    if function_error is not None:
        response["FunctionError"] = function_error
    return response


@dataclass
class LocalLambda:
    """Lambda's Invoke for the migration function, answered by `answer(event)` in this process.

    An exception `answer` raises comes back as Lambda reports an unhandled error:
    FunctionError "Unhandled", with `errorType` (the class name) and `errorMessage`.
    """

    answer: Callable[[dict[str, Any]], Any]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert FunctionName == FUNCTION and InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.calls.append(event)
        try:
            return lambda_answer(self.answer(event))
        except Exception as error:  # noqa: BLE001 - the function's error, reported the way Lambda does
            return lambda_answer({"errorType": type(error).__name__, "errorMessage": str(error)}, "Unhandled")

    def commands(self) -> list[str]:
        return [str(call["command"]) for call in self.calls]


def clients(answer: Callable[[dict[str, Any]], Any]) -> tuple[MigrationClients, LocalLambda]:
    function = LocalLambda(answer)
    return MigrationClients(rds=boto3.client("rds", region_name=REGION), lambda_=function), function


def drive(step_factory: Callable[[StepState], Any], state: StepState, limit: int = 20) -> list[StepState]:
    """Call the step like the state machine does (start, then advance) until it is done."""
    states = [state]
    for _ in range(limit):
        step = step_factory(states[-1])
        states.append(step.start() if states[-1].phase == "start" else step.advance())
        if states[-1].phase == "done":
            return states
    raise AssertionError(f"the step was not done after {limit} calls: {[s.phase for s in states]}")
