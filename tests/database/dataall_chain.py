"""data.all's own migration function, run as Lambda would run it, against the tier's PostgreSQL.

The function is the package a data.all release ships (`installer.dataall_migrations`: data.all's
source and pinned requirements, and the installer's runner), run in a process of its own with
only that package first on its path. It connects the way data.all does: its SSM parameters
`/dataall/<envname>/aurora/{hostname,db,dbcreds}` and the Secrets Manager secret they name,
served by a moto server. The hostname is an Aurora-shaped name (data.all refuses any other
outside its local modes); libpq's `PGHOSTADDR` sends the connection to the tier's server.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.database.postgres import OWNER, PostgresCluster

UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "upstream" / "dataall"
OLDER, NEWER = "2.8.0", "2.9.0"
#: The heads of the two releases (upstream README), and the four revisions 2.9.0 adds.
HEADS = {OLDER: "ba2da94739ab", NEWER: "2258cd8d6e9f"}
ADDED = ["a1b2c3d4e5f7", "77c3f1b2bec8", "89c3bfe59cad", "2258cd8d6e9f"]
REGION = "eu-west-1"
DRIVER = """
import json, sys, traceback
from pathlib import Path
from dataall_installer_migrate import handler, runner
event = json.loads(sys.argv[1])
extra = [Path(p) for p in json.loads(sys.argv[2])]
try:
    result = handler.run(event, None, (runner.DATAALL_VERSIONS, *extra))
except Exception as error:
    traceback.print_exc()
    result = {"errorType": type(error).__name__, "errorMessage": str(error)}
print("RESULT " + json.dumps(result))
"""


def upstream_source(version: str) -> Path:
    root = Path(os.environ.get("DATAALL_UPSTREAM_ROOT", str(UPSTREAM)))
    return root / version / "source"


@dataclass(frozen=True)
class Package:
    """One release's migration package: its code tree and its dependencies."""

    version: str
    code: Path
    deps: Path


class FunctionFailed(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass
class Installation:
    """data.all's database settings for one `envname`, in SSM and Secrets Manager, and its database."""

    postgres: PostgresCluster
    database: str
    endpoint: str
    envname: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    timings: dict[str, float] = field(default_factory=dict)

    def publish_settings(self) -> None:
        """What data.all's aurora stack writes: the hostname, database and secret parameters."""
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        secrets = session.client("secretsmanager", endpoint_url=self.endpoint)
        ssm = session.client("ssm", endpoint_url=self.endpoint)
        name = f"{self.envname}-aurora-db-credentials"
        value = json.dumps({"username": OWNER, "password": self.postgres.owner_password})
        try:
            arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
        except secrets.exceptions.ResourceExistsException:
            # the envname of an earlier test whose database this one's copies (`installed`)
            arn = secrets.put_secret_value(SecretId=name, SecretString=value)["ARN"]
        host = f"dataall-{self.envname}-db.cluster-c1a2b3c4d5e6.{REGION}.rds.amazonaws.com"
        for path, value in (("hostname", host), ("db", self.database), ("dbcreds", arn)):
            ssm.put_parameter(Name=f"/dataall/{self.envname}/aurora/{path}", Value=value, Type="String", Overwrite=True)

    def environment(self, package: Package) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return {
            **keep,
            "envname": self.envname,
            "PYTHONPATH": os.pathsep.join([str(package.code), str(package.deps)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PGHOSTADDR": "127.0.0.1",
            "PGPORT": str(self.postgres.port),
        }

    def call(self, package: Package, event: dict[str, Any], extra_versions: Sequence[Path] = ()) -> dict[str, Any]:
        """Invoke the function once; its failure raises FunctionFailed with Lambda's errorType."""
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-c", DRIVER, json.dumps(event), json.dumps([str(p) for p in extra_versions])],
            capture_output=True,
            text=True,
            env=self.environment(package),
            cwd=package.code,
            timeout=300,
            check=False,
        )
        elapsed = time.monotonic() - started
        self.timings[f"{package.version} {event['command']}"] = round(elapsed, 2)
        lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise AssertionError(
                f"the function gave no answer (exit {completed.returncode}):\n{completed.stderr[-4000:]}"
            )
        result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        if "errorType" in result:
            raise FunctionFailed(result["errorType"], result["errorMessage"])
        return result

    # ------------------------------------------------------------------ the data
    def execute(self, *statements: str) -> None:
        connection = self.postgres.connect(self.database)
        try:
            connection.run(f"SET search_path TO {self.envname}")
            for statement in statements:
                connection.run(statement)
        finally:
            connection.close()

    def revision(self) -> str | None:
        connection = self.postgres.connect(self.database)
        try:
            rows = connection.run(f"SELECT version_num FROM {self.envname}.alembic_version")
        finally:
            connection.close()
        return str(rows[0][0]) if rows else None

    def rows(self, table: str, *, without: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """A table's rows as column -> value, ordered, less the columns `without`."""
        connection = self.postgres.connect(self.database)
        try:
            found = connection.run(f'SELECT * FROM {self.envname}."{table}"')
            names = [str(c["name"]) for c in connection.columns or []]
        finally:
            connection.close()
        rows = [{k: v for k, v in zip(names, row, strict=True) if k not in without} for row in found]
        return sorted(rows, key=repr)

    def checksums(self) -> dict[str, tuple[int, str]]:
        """Every table of data.all's schema: its row count and the md5 of its rows, in order."""
        connection = self.postgres.connect(self.database)
        try:
            tables = [
                str(row[0])
                for row in connection.run(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename",
                    schema=self.envname,
                )
            ]
            sums = {}
            for table in tables:
                ((count, digest),) = connection.run(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    f'FROM {self.envname}."{table}" t'
                )
                sums[table] = (int(count), str(digest))
        finally:
            connection.close()
        return sums


def seed(installation: Installation) -> None:
    """Rows in data.all's own tables at 2.8.0's head: an organization, an environment, a
    consumption role (the table 2.9.0's revisions rename and reshape) and a group."""
    installation.execute(
        """INSERT INTO organization ("organizationUri", label, name, owner, created, description, tags)
           VALUES ('org1', 'Finance', 'finance', 'alice', '2025-01-01 10:00', 'money', ARRAY['a','b'])""",
        """INSERT INTO environment ("environmentUri", "organizationUri", label, name, owner, created,
               "AwsAccountId", region, "environmentType", "EnvironmentDefaultIAMRoleName",
               "EnvironmentDefaultIAMRoleArn", "roleCreated", "CDKRoleArn", "resourcePrefix", "SamlGroupName")
           VALUES ('env1', 'org1', 'Prod', 'prod', 'alice', '2025-01-02 10:00', '111122223333', 'eu-west-1',
               'Data', 'dataall-prod', 'arn:aws:iam::111122223333:role/dataall-prod', true,
               'arn:aws:iam::111122223333:role/cdk', 'dataall', 'admins')""",
        """INSERT INTO consumptionrole ("consumptionRoleUri", "consumptionRoleName", "environmentUri",
               "groupUri", "IAMRoleName", "IAMRoleArn", created, "dataallManaged")
           VALUES ('cr1', 'etl', 'env1', 'admins', 'etl-role', 'arn:aws:iam::111122223333:role/etl-role',
               '2025-01-03 10:00', false),
                  ('cr2', 'bi', 'env1', 'admins', 'bi-role', 'arn:aws:iam::111122223333:role/bi-role',
               '2025-01-03 11:00', true)""",
    )


def failing_revision(folder: Path, down_revision: str) -> Path:
    """A revision after `down_revision` that creates a table and then raises: a migration that
    fails in the middle of a run, after data.all's own revisions of the same run were applied."""
    folder.mkdir(parents=True, exist_ok=True)
    revision = hashlib.sha256(down_revision.encode()).hexdigest()[:12]
    (folder / f"{revision}_fails_midway.py").write_text(
        f'''"""fails midway"""
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    raise RuntimeError("this revision fails midway, on purpose")


def downgrade():
    op.drop_table("half_done")
'''
    )
    return folder


def revision_failing_its_downgrade(folder: Path, down_revision: str) -> tuple[Path, str]:
    """A revision after `down_revision` that upgrades (a table) and whose downgrade raises."""
    folder.mkdir(parents=True, exist_ok=True)
    revision = hashlib.sha256(f"downgrade-{down_revision}".encode()).hexdigest()[:12]
    (folder / f"{revision}_no_way_back.py").write_text(
        f'''"""no way back"""
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("one_way", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("one_way")
    raise RuntimeError("this revision cannot be downgraded, on purpose")
'''
    )
    return folder, revision
