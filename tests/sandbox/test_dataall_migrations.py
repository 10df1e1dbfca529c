"""data.all's migration function, from the release's zip, in the sandbox's Lambda runtime.

The package a data.all release ships (`installer.dataall_migrations`) is created as a function
from S3 and invoked through Lambda's API: the sandbox unpacks it and runs it with its own Python,
as Lambda runs a zip. It reads data.all's settings from the sandbox's SSM and Secrets Manager and
migrates a real PostgreSQL (the database tier's throwaway server). The sandbox's Aurora does not
serve data.all's database yet, so libpq's `PGHOSTADDR` in the function's environment sends data.all's
Aurora-shaped hostname to that server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from installer import dataall_migrations
from tests.database.dataall_chain import ADDED, HEADS, NEWER, OLDER, upstream_source
from tests.database.postgres import OWNER, PostgresCluster, PostgresMissing, running_cluster
from tests.sandbox.conftest import Clients

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not upstream_source(NEWER).is_dir(), reason="../shared/upstream/dataall is not here"),
]
ENVNAME = "sbx"
FUNCTION = "dataall-sbx-migrations"
BUCKET = "dataall-sbx-release"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    try:
        with running_cluster() as cluster:
            yield cluster
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)


def _invoke(lambda_: Any, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = lambda_.invoke(FunctionName=FUNCTION, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body, round(time.monotonic() - started, 2)


def test_the_release_migration_package_migrates_and_downgrades_from_the_sandbox_lambda_runtime(
    clients: Clients, postgres: PostgresCluster
) -> None:
    """The 2.9.0 package, created from S3 and invoked through Lambda: status on an empty
    database, data.all's whole chain with its permissions, then a downgrade to 2.8.0's head with
    2.9.0's scripts."""
    database = postgres.create_database()
    s3, iam, lambda_ = clients("s3"), clients("iam"), clients("lambda")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="migrations.zip", Body=dataall_migrations.package(upstream_source(NEWER)))
    secret = clients("secretsmanager").create_secret(
        Name=f"{ENVNAME}-db-credentials",
        SecretString=json.dumps({"username": OWNER, "password": postgres.owner_password}),
    )["ARN"]
    host = f"dataall-{ENVNAME}-db-v2.cluster-c1a2b3c4d5e6.{clients('sts').meta.region_name}.rds.amazonaws.com"
    for path, value in (("hostname", host), ("db", database), ("dbcreds", secret)):
        clients("ssm").put_parameter(Name=f"/dataall/{ENVNAME}/aurora/{path}", Value=value, Type="String")
    role = iam.create_role(RoleName=f"{FUNCTION}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lambda_.create_function(
        FunctionName=FUNCTION,
        Runtime=dataall_migrations.runtime(),
        Handler=dataall_migrations.HANDLER,
        Role=role,
        Code={"S3Bucket": BUCKET, "S3Key": "migrations.zip"},
        Timeout=840,
        MemorySize=1024,
        Environment={"Variables": {"envname": ENVNAME, "PGHOSTADDR": "127.0.0.1", "PGPORT": str(postgres.port)}},
    )

    try:
        status, status_s = _invoke(lambda_, {"command": "status"})
        upgraded, upgrade_s = _invoke(lambda_, {"command": "upgrade"})
        downgraded, downgrade_s = _invoke(lambda_, {"command": "downgrade", "revision": HEADS[OLDER]})
        after, _ = _invoke(lambda_, {"command": "status"})
    finally:
        postgres.drop_database(database)

    assert status == {"revision": None, "head": HEADS[NEWER], "known": True, "pending_permissions": None}
    assert upgraded["revision"] == HEADS[NEWER] and len(upgraded["applied"]) == 80
    assert downgraded == {"previous": HEADS[NEWER], "revision": HEADS[OLDER], "applied": list(reversed(ADDED))}
    assert after["revision"] == HEADS[OLDER] and after["known"]
    print(f"\nsandbox runtime: status {status_s} s, upgrade {upgrade_s} s, downgrade {downgrade_s} s")
