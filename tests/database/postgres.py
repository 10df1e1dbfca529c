"""A throwaway PostgreSQL cluster for the database tier: initdb and pg_ctl in a temporary folder.

The server listens on 127.0.0.1 on a free port and asks for passwords (SCRAM), as Aurora
does, so the runner's credentials are really used. initdb refuses to run as root: under
root (CI containers) the cluster belongs to the `postgres` user, or to `nobody`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pg8000.native

INSTALLATIONS = Path("/usr/lib/postgresql")
SEARCH_PATTERN = f"{INSTALLATIONS}/*/bin"
ADMIN = "postgres"
#: The platform's database user, like Aurora's master user: not a superuser.
OWNER = "dataall_admin"
SERVER_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB"
)


class PostgresMissing(RuntimeError):
    pass


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl: PATH first, then the Debian/Ubuntu layout."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    installed = [folder for folder in INSTALLATIONS.glob("*/bin") if folder.parent.name.isdigit()]
    for folder in sorted(installed, key=lambda f: int(f.parent.name), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresMissing(
        "PostgreSQL server binaries (initdb, pg_ctl) are in neither PATH nor "
        f"{SEARCH_PATTERN}: install the `postgresql` package (CI does)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _service_user() -> pwd.struct_passwd | None:
    """Who runs the server: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresMissing("running as root, and there is no `postgres` or `nobody` user to run PostgreSQL")


@dataclass
class PostgresCluster:
    """One server; each test gets its own database on it (`create_database`)."""

    bin_dir: Path = field(default_factory=find_binaries)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dataall-pg-")))
    port: int = 0
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    owner_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        user = _service_user()
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            cwd=self.root,
        )

    def start(self) -> PostgresCluster:
        user = _service_user()
        if user is not None:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        password_file = self.root / "pwfile"
        password_file.write_text(self.admin_password + "\n")
        if user is not None:
            os.chown(password_file, user.pw_uid, user.pw_gid)
        created = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            ADMIN,
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        password_file.unlink()
        if created.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{created.stdout}\n{created.stderr}")
        last_error = ""
        for _ in range(3):  # another process may take the free port before the server does
            self.port = free_port()
            started = self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.root / "server.log"),
                "-o",
                f"-p {self.port} -k {self.root} {SERVER_SETTINGS}",
                "-w",
                "-t",
                "60",
                "start",
            )
            if started.returncode == 0:
                self._create_owner()
                return self
            last_error = started.stderr + self.log()[-2000:]
        raise RuntimeError(f"pg_ctl could not start PostgreSQL:\n{last_error}")

    def stop(self) -> None:
        if self.data_dir.exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------ connections
    def connect(self, database: str = "postgres", *, admin: bool = False) -> pg8000.native.Connection:
        return pg8000.native.Connection(
            user=ADMIN if admin else OWNER,
            password=self.admin_password if admin else self.owner_password,
            host="127.0.0.1",
            port=self.port,
            database=database,
            application_name="dataall-tests",
            ssl_context=False,
            timeout=30,
        )

    def _create_owner(self) -> None:
        connection = self.connect(admin=True)
        try:
            connection.run(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{self.owner_password}'")
        finally:
            connection.close()

    def create_database(self) -> str:
        name = f"dataall_{uuid.uuid4().hex[:12]}"
        connection = self.connect(admin=True)
        try:
            connection.run(f"CREATE DATABASE {name} OWNER {OWNER}")
        finally:
            connection.close()
        return name

    def drop_database(self, name: str) -> None:
        connection = self.connect(admin=True)
        try:
            connection.run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            connection.close()

    def terminate(self, pid: int) -> None:
        connection = self.connect(admin=True)
        try:
            connection.run("SELECT pg_terminate_backend(:pid)", pid=pid)
        finally:
            connection.close()

    @contextlib.contextmanager
    def terminated_after(self, pid: int, seconds: float) -> Iterator[None]:
        """End session `pid` after `seconds`: code that waits on its locks forever fails the test
        instead of hanging it."""
        timer = threading.Timer(seconds, self.terminate, args=(pid,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def secret(self, database: str) -> dict[str, Any]:
        """The database's credentials in the shape of an RDS secret."""
        return {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": self.port,
            "dbname": database,
            "username": OWNER,
            "password": self.owner_password,
        }


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def wait_until(condition: Any, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
