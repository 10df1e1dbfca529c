"""CloudWatch RUM's app monitors, which moto 5.2.5 lacks: the control-plane calls data.all's RUM stack
and its web UI's configuration make (https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/).

REST-JSON as the service speaks it (botocore's `rum` model): CreateAppMonitor `POST /appmonitor`,
GetAppMonitor `GET /appmonitor/{Name}`, UpdateAppMonitor `PATCH /appmonitor/{Name}`, DeleteAppMonitor
`DELETE /appmonitor/{Name}`, ListAppMonitors `POST /appmonitors`; errors by `x-amzn-ErrorType` with a
`message`. App monitors live per account and region (a sandbox has one account).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from sandbox.sigv4 import region_of

StartResponse = Callable[..., Any]

#: https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_CreateAppMonitor.html: Name,
#: 1-255 characters of `(?!\.)[\.\-_#A-Za-z0-9]+`
NAME = re.compile(r"(?!\.)[\.\-_#A-Za-z0-9]{1,255}")
#: UpdateAppMonitor's fields (the others stay)
UPDATABLE = (
    "Domain",
    "DomainList",
    "AppMonitorConfiguration",
    "CwLogEnabled",
    "CustomEvents",
    "DeobfuscationConfiguration",
)


class RumError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


@dataclass
class AppMonitor:
    name: str
    region: str
    body: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    modified: str = ""

    def described(self) -> dict[str, Any]:
        """GetAppMonitor's AppMonitor (https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_AppMonitor.html):
        `State` ACTIVE, and with CwLogEnabled the log group RUM writes to, `/aws/vendedlogs/RUMService_<name><id8>`."""
        log_enabled = bool(self.body.get("CwLogEnabled", False))
        storage: dict[str, Any] = {"CwLogEnabled": log_enabled}
        if log_enabled:
            storage["CwLogGroup"] = f"/aws/vendedlogs/RUMService_{self.name}{self.id[:8]}"
        found = {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "LastModified": self.modified or self.created,
            "State": "ACTIVE",
            "DataStorage": {"CwLog": storage},
            "Tags": self.body.get("Tags") or {},
            "Platform": self.body.get("Platform", "Web"),
        }
        for key in ("Domain", "DomainList", "AppMonitorConfiguration", "CustomEvents", "DeobfuscationConfiguration"):
            if key in self.body:
                found[key] = self.body[key]
        return found


class RumService:
    """The sandbox's RUM: app monitors by (region, name)."""

    def __init__(self) -> None:
        self._monitors: dict[tuple[str, str], AppMonitor] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._monitors.clear()

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise RumError(
                    "ValidationException", 400, f"the request body is a JSON {type(body).__name__}, not an object"
                )
            answer = self.call(method, path, body, region_of(environ))
        except RumError as error:
            return _respond(start_response, error.status, {"message": error.message}, error.code)
        except ValueError as error:
            return _respond(start_response, 400, {"message": f"bad request: {error}"}, "ValidationException")
        return _respond(start_response, 200, answer)

    def call(self, method: str, path: str, body: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            if (method, path) == ("POST", "/appmonitor"):
                return self._create(body, region)
            if (method, path) == ("POST", "/appmonitors"):
                listed = sorted((m for (r, _), m in self._monitors.items() if r == region), key=lambda m: m.name)
                return {"AppMonitorSummaries": [_summary(m) for m in listed]}
            match = re.fullmatch(r"/appmonitor/([^/]+)", path)
            if match is None:
                raise RumError("ValidationException", 400, f"no RUM operation is {method} {path}")
            name = unquote(match.group(1))
            monitor = self._monitors.get((region, name))
            if monitor is None:
                raise RumError("ResourceNotFoundException", 404, f"AppMonitor not found with name {name}")
            if method == "GET":
                return {"AppMonitor": monitor.described()}
            if method == "PATCH":
                monitor.body.update({key: body[key] for key in UPDATABLE if key in body})
                monitor.modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                return {}
            if method == "DELETE":
                del self._monitors[(region, name)]
                return {}
            raise RumError("ValidationException", 400, f"no RUM operation is {method} {path}")

    def _create(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = str(body.get("Name", ""))
        if not NAME.fullmatch(name):
            raise RumError(
                "ValidationException",
                400,
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must "
                "have length between 1 and 255 and satisfy regular expression pattern: (?!\\.)[\\.\\-_#A-Za-z0-9]+",
            )
        if not body.get("Domain") and not body.get("DomainList"):
            raise RumError("ValidationException", 400, "Either Domain or DomainList must be provided")
        if (region, name) in self._monitors:
            raise RumError("ConflictException", 409, f"AppMonitor with name {name} already exists")
        monitor = AppMonitor(name=name, region=region, body=dict(body))
        self._monitors[(region, name)] = monitor
        return {"Id": monitor.id}


def _summary(monitor: AppMonitor) -> dict[str, Any]:
    return {
        "Name": monitor.name,
        "Id": monitor.id,
        "Created": monitor.created,
        "LastModified": monitor.modified or monitor.created,
        "State": "ACTIVE",
        "Platform": monitor.body.get("Platform", "Web"),
    }


def _respond(start_response: StartResponse, status: int, body: dict[str, Any], code: str = "") -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if code:
        headers.append(("x-amzn-ErrorType", code))
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [data]
