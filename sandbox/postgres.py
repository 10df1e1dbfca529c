"""A PostgreSQL server in a temporary folder: initdb and pg_ctl, nothing else.

The sandbox's Aurora PostgreSQL clusters keep their data in one such server (`sandbox.databases`),
and the database tests start their own. The server listens on 127.0.0.1 on a free port and asks
for passwords (SCRAM), as Aurora does, so the credentials a cluster's secret holds are really
used. initdb refuses to run as root: under root (CI containers) the server belongs to the
`postgres` user, or to `nobody`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pg8000.native

from sandbox import processes

INSTALLATIONS = Path("/usr/lib/postgresql")
SEARCH_PATTERN = f"{INSTALLATIONS}/*/bin"
ADMIN = "postgres"
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


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class PostgresServer:
    """One server, started with `start()` and removed with its files by `stop()`."""

    bin_dir: Path = field(default_factory=find_binaries)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dataall-pg-")))
    port: int = 0
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    #: the running server's pid (its process group's too)
    postmaster: int | None = None

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

    def start(self) -> PostgresServer:
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
                self.postmaster = self._postmaster_pid()
                self.started()
                return self
            last_error = started.stderr + self.log()[-2000:]
        raise RuntimeError(f"pg_ctl could not start PostgreSQL:\n{last_error}")

    def started(self) -> None:
        """Called once the server answers (a subclass prepares its roles here)."""

    @property
    def running(self) -> bool:
        return self.port != 0 and self.data_dir.exists()

    def _postmaster_pid(self) -> int | None:
        """The server's pid: the first line of its postmaster.pid (PostgreSQL documentation,
        "Database File Layout")."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and remove its files. Should `pg_ctl stop` fail,
        the server and its backends are ended with their process group (pg_ctl starts the
        postmaster in a session of its own); a subreaper reaps it."""
        stopped = False
        if self.data_dir.exists():
            stopped = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop").returncode == 0
        if self.postmaster is not None:
            if not stopped:
                _end_postmaster(self.postmaster)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.postmaster, os.WNOHANG)  # a zombie of its subreaper otherwise
            self.postmaster = None
        shutil.rmtree(self.root, ignore_errors=True)
        self.port = 0

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def admin(self, database: str = "postgres") -> pg8000.native.Connection:
        """A connection as the server's superuser."""
        return self.connection(ADMIN, self.admin_password, database)

    def connection(
        self, user: str, password: str, database: str = "postgres", application: str = "dataall-sandbox"
    ) -> pg8000.native.Connection:
        """A connection to the server on 127.0.0.1, without TLS (the server has none)."""
        return pg8000.native.Connection(
            user=user,
            password=password,
            host="127.0.0.1",
            port=self.port,
            database=database,
            application_name=application,
            ssl_context=False,
            timeout=30,
        )


def _end_postmaster(pid: int) -> None:
    """SIGKILL to the server and its backends: its process group when it leads one (as pg_ctl
    starts it), else the postmaster alone (its backends then end as they find it gone)."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    if group == pid:
        processes.end_group(pid)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
