"""Where the metadata database is, and how to open it.

The function's environment names the cluster (endpoint, port, database, secret ARN; the
aurora stage fills them); a command may name another (`database` in the event). The
secret follows AWS's RDS secret structure: `username` and `password`, and optionally
`engine`, `host`, `port`, `dbname`; a value present in the secret wins. `engine` is
PostgreSQL (`postgres`, `aurora-postgresql`, the default) through pg8000, or `sqlite`,
a file at `dbname`.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from dataall_migrations.errors import BadRequest, DatabaseUnreachable
from dataall_migrations.protocol import Timeouts

Dialect = Literal["postgresql", "sqlite"]
SslMode = Literal["disable", "require", "verify-full"]

ENGINES: dict[str, Dialect] = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "aurora-postgresql": "postgresql",
    "sqlite": "sqlite",
}
SSL_MODES: tuple[SslMode, ...] = ("disable", "require", "verify-full")
APPLICATION_NAME = "dataall-migrations"
DEFAULT_PORT = 5432
#: What the function's environment may say; `database` in an event may say the same.
SETTINGS = ("host", "port", "dbname", "secret_arn", "sslmode", "ssl_root_cert")
ENVIRONMENT = {
    "host": "DB_HOST",
    "port": "DB_PORT",
    "dbname": "DB_NAME",
    "secret_arn": "DB_SECRET_ARN",
    "sslmode": "DB_SSLMODE",
    "ssl_root_cert": "DB_SSL_ROOT_CERT",
}

#: A session the function abandons mid-transaction (it was stopped) gives its locks back.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
#: The socket gives up this long after the server should have cancelled a statement.
SOCKET_MARGIN_S = 30


@dataclass(frozen=True)
class Location:
    dialect: Dialect
    dbname: str
    host: str = ""
    port: int = DEFAULT_PORT
    username: str = ""
    password: str = field(default="", repr=False)
    sslmode: SslMode = "verify-full"
    ssl_root_cert: str = ""

    @classmethod
    def resolve(cls, settings: Mapping[str, Any], secret: Mapping[str, Any]) -> Location:
        """The database from the function's settings and the secret (whose values win)."""

        def pick(key: str, secret_key: str | None = None) -> str:
            value = secret.get(secret_key or key)
            if value in (None, ""):
                value = settings.get(key)
            return "" if value is None else str(value)

        engine = pick("engine").lower() or "postgres"
        if engine not in ENGINES:
            raise DatabaseUnreachable(f"the database secret's engine {engine!r} is not one of {sorted(ENGINES)}")
        dialect = ENGINES[engine]
        dbname = pick("dbname")
        if not dbname:
            raise DatabaseUnreachable("no database name: neither the secret nor DB_NAME gives one")
        if dialect == "sqlite":
            return cls(dialect="sqlite", dbname=dbname)
        host = pick("host")
        username = pick("username")
        if not host or not username:
            raise DatabaseUnreachable(
                "the database needs a host (secret `host` or DB_HOST) and a user (secret `username`)"
            )
        port = pick("port") or str(DEFAULT_PORT)
        sslmode = pick("sslmode") or "verify-full"
        if not port.isdigit():
            raise DatabaseUnreachable(f"the database port {port!r} is not a number")
        if sslmode not in SSL_MODES:
            raise DatabaseUnreachable(f"sslmode {sslmode!r} is not one of {list(SSL_MODES)}")
        return cls(
            dialect="postgresql",
            dbname=dbname,
            host=host,
            port=int(port),
            username=username,
            password=pick("password"),
            sslmode=sslmode,
            ssl_root_cert=pick("ssl_root_cert"),
        )

    def url(self) -> sa.URL:
        if self.dialect == "sqlite":
            return sa.URL.create("sqlite+pysqlite", database=self.dbname)
        return sa.URL.create(
            "postgresql+pg8000",
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.dbname,
        )

    def describe(self) -> str:
        """The location for messages: never the password."""
        return self.url().render_as_string(hide_password=True)

    def ssl_context(self) -> ssl.SSLContext | Literal[False]:
        """pg8000's `ssl_context`: False is no TLS (None would mean TLS when the server offers it)."""
        if self.sslmode == "disable":
            return False
        if self.sslmode == "require":
            # Encrypted, without checking the server's certificate (libpq's `require`).
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ssl_root_cert or None)


def settings_from(environ: Mapping[str, str], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """The function's environment, with the event's `database` fields on top."""
    settings: dict[str, Any] = {key: environ.get(name, "") for key, name in ENVIRONMENT.items()}
    if override is not None and not isinstance(override, Mapping):
        raise BadRequest("`database` must be an object with " + ", ".join(SETTINGS))
    unknown = sorted(set(override or {}) - set(SETTINGS))
    if unknown:
        raise BadRequest(f"`database` has unknown fields {unknown}; it may give {list(SETTINGS)}")
    settings.update({key: value for key, value in (override or {}).items() if value not in (None, "")})
    return settings


def read_secret(secrets: Any, secret_arn: str) -> dict[str, Any]:
    try:
        value = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    except Exception as error:  # access denied, no such secret, no route to the endpoint ...
        raise DatabaseUnreachable(f"cannot read the database secret {secret_arn}: {error}") from error
    try:
        document = json.loads(value)
    except json.JSONDecodeError as error:
        raise DatabaseUnreachable(f"the database secret {secret_arn} is not JSON") from error
    if not isinstance(document, dict):
        raise DatabaseUnreachable(f"the database secret {secret_arn} is not a JSON object")
    return document


def locate(override: Mapping[str, Any] | None, secrets: Any, environ: Mapping[str, str] = os.environ) -> Location:
    settings = settings_from(environ, override)
    if not settings["secret_arn"]:
        raise DatabaseUnreachable("no database secret: set DB_SECRET_ARN (or `database.secret_arn` in the event)")
    return Location.resolve(settings, read_secret(secrets, settings["secret_arn"]))


def create_engine(location: Location, timeouts: Timeouts) -> Engine:
    """An engine without a pool: one command, one connection, nothing kept across invocations."""
    if location.dialect == "sqlite":
        engine = sa.create_engine(location.url(), poolclass=NullPool, connect_args={"timeout": timeouts.lock_ms / 1000})
        _transactional_sqlite(engine)
        return engine
    return sa.create_engine(
        location.url(),
        poolclass=NullPool,
        connect_args={
            "ssl_context": location.ssl_context(),
            "application_name": APPLICATION_NAME,
            "timeout": timeouts.statement_ms / 1000 + SOCKET_MARGIN_S,
        },
    )


def _transactional_sqlite(engine: Engine) -> None:
    """SQLite runs DDL in transactions only when the driver leaves BEGIN to SQLAlchemy."""

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")
