"""The sandbox's Aurora PostgreSQL clusters are a real PostgreSQL, reached at the cluster's endpoint.

AWS: an Aurora PostgreSQL cluster answers at its endpoint (`Endpoint.Address`, port 5432) for the
master user and password it was created with, and holds the database `DatabaseName` names ("Creating
an Amazon Aurora DB cluster", "Master user account privileges": the master user is not a
superuser, and may create databases and roles). Deleting a cluster deletes its data; a cluster
made again under the same name starts empty. `psql` here is libpq, as data.all's drivers are
(psycopg2, PyGreSQL): the sandbox's network (`PGHOSTADDR`, `PGPORT`) takes it to the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox.databases import Databases
from sandbox.postgres import PostgresMissing, find_binaries
from tests.sandbox.cloudformation.conftest import body, settle
from tests.sandbox.conftest import Clients, package, require_postgres_server

try:
    PSQL = str(find_binaries() / "psql") if (find_binaries() / "psql").exists() else shutil.which("psql")
except PostgresMissing:
    PSQL = None

pytestmark = pytest.mark.skipif(PSQL is None, reason="PostgreSQL is not installed (CI installs it)")

SECRET = {
    "Type": "AWS::SecretsManager::Secret",
    "Properties": {
        "GenerateSecretString": {
            "SecretStringTemplate": '{"username": "dataalladmin"}',
            "GenerateStringKey": "password",
            "PasswordLength": 30,
            "ExcludePunctuation": True,
        }
    },
}
CLUSTER = {
    "Type": "AWS::RDS::DBCluster",
    "Properties": {
        "Engine": "aurora-postgresql",
        "DatabaseName": "dataall",
        "MasterUsername": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:username::}}"},
        "MasterUserPassword": {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:password::}}"},
    },
}
OUTPUTS = {
    "Host": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}},
    "Port": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Port"]}},
    "Secret": {"Value": {"Ref": "Secret"}},
}


def deploy(cfn: Any, name: str = "db") -> dict[str, str]:
    cfn.create_stack(StackName=name, TemplateBody=body({"Secret": SECRET, "Cluster": CLUSTER}, Outputs=OUTPUTS))
    assert settle(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    return outputs


def psql(sandbox: Any, url: str, sql: str) -> subprocess.CompletedProcess[str]:
    """libpq, as a function in the sandbox runs it: only the sandbox's network in its environment."""
    env = {"PATH": os.environ["PATH"], **sandbox.databases.client_environment()}
    assert PSQL is not None
    return subprocess.run(
        [PSQL, url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def url_of(clients: Clients, outputs: dict[str, str], *, password: str | None = None, database: str = "dataall") -> str:
    """The URL data.all builds (`DbConfig.url`): the endpoint's host, no port."""
    secret = json.loads(clients("secretsmanager").get_secret_value(SecretId=outputs["Secret"])["SecretString"])
    return f"postgresql://{secret['username']}:{password or secret['password']}@{outputs['Host']}/{database}"


@pytest.fixture
def cfn(clients: Clients) -> Any:
    return clients("cloudformation")


@pytest.fixture
def server_mode(sandbox: Any) -> Any:
    require_postgres_server(sandbox)
    return sandbox


def test_a_cluster_answers_at_its_endpoint_for_its_master_user_in_its_database(
    cfn: Any, clients: Clients, server_mode: Any
) -> None:
    outputs = deploy(cfn)

    assert (
        outputs["Host"].split(".")[0] == clients("rds").describe_db_clusters()["DBClusters"][0]["DBClusterIdentifier"]
    )
    assert outputs["Port"] == "5432"
    done = psql(server_mode, url_of(clients, outputs), "SELECT current_user, current_database(), rolsuper "
                "FROM pg_roles WHERE rolname = current_user")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "dataalladmin|dataall|f"
    made = psql(server_mode, url_of(clients, outputs), "CREATE SCHEMA dev; CREATE TABLE dev.t (id int); SELECT 1")
    assert made.returncode == 0, made.stderr


def test_a_wrong_password_is_refused(cfn: Any, clients: Clients, server_mode: Any) -> None:
    outputs = deploy(cfn)

    done = psql(server_mode, url_of(clients, outputs, password="not-the-password"), "SELECT 1")

    assert done.returncode != 0
    assert "password authentication failed" in done.stderr


def test_a_deleted_cluster_takes_its_data_and_the_same_name_starts_empty(
    cfn: Any, clients: Clients, server_mode: Any
) -> None:
    outputs = deploy(cfn)
    assert psql(server_mode, url_of(clients, outputs), "CREATE TABLE kept (id int)").returncode == 0
    stack_id = cfn.describe_stacks(StackName="db")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName="db")
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"

    again = deploy(cfn, "db-again")
    done = psql(server_mode, url_of(clients, again), "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_a_reset_sandbox_keeps_no_cluster_data(cfn: Any, clients: Clients, server_mode: Any) -> None:
    """AWS: a new account has no clusters."""
    deploy(cfn)
    server = server_mode.databases.server
    admin = server.admin()
    try:
        assert admin.run("SELECT 1 FROM pg_database WHERE datname = 'dataall'") == [[1]]
    finally:
        admin.close()

    server_mode.reset()

    admin = server.admin()
    try:
        assert admin.run("SELECT 1 FROM pg_database WHERE datname = 'dataall'") == []
    finally:
        admin.close()


def test_a_function_gets_the_sandbox_network_and_its_own_variables_win(
    cfn: Any, clients: Clients, server_mode: Any
) -> None:
    deploy(cfn)
    lam = clients("lambda")
    code = (
        "import os\ndef handler(event, context):\n    return {k: os.environ.get(k) for k in ('PGHOSTADDR', 'PGPORT')}\n"
    )
    zipped = package({"index.py": code})
    role = clients("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName="probe", Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": zipped}
    )
    lam.create_function(
        FunctionName="own", Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": zipped},
        Environment={"Variables": {"PGPORT": "6543"}},
    )  # fmt: skip

    probe = json.loads(lam.invoke(FunctionName="probe")["Payload"].read())
    own = json.loads(lam.invoke(FunctionName="own")["Payload"].read())

    assert probe == {"PGHOSTADDR": "127.0.0.1", "PGPORT": str(server_mode.databases.server.port)}
    assert own["PGPORT"] == "6543"


def test_without_postgresql_a_cluster_is_an_sqlite_file_that_a_reset_removes(tmp_path: Path) -> None:
    """The fallback where PostgreSQL is not installed: the project's own migration function reads
    the secret's `engine` and uses the file; nothing goes to the network."""
    databases = Databases(tmp_path / "databases", mode="sqlite")
    secret = databases.secret_for("metadata", "platform", "pw")
    databases.provision("metadata", "aurora-postgresql", "dataall", "platform", "pw")
    Path(secret["dbname"]).write_bytes(b"SQLite format 3\x00")

    assert secret["engine"] == "sqlite"
    assert databases.client_environment() == {}
    databases.forget_all()
    assert not Path(secret["dbname"]).exists()
