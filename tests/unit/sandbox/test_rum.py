"""The sandbox's CloudWatch RUM refusing bad input, naming what is wrong and keeping nothing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sandbox.rum import RumError, RumService


def _post(service: RumService, path: str, raw: bytes) -> tuple[str, dict[str, str], dict[str, Any]]:
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answered.update(status=status, headers=dict(headers))

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=x/20261206/us-east-1/rum/aws4_request",
    }
    body = b"".join(service.wsgi(environ, start_response))
    return answered["status"], answered["headers"], json.loads(body)


def test_a_request_body_that_is_not_a_json_object_is_a_validation_error_naming_what_it_is() -> None:
    service = RumService()

    status, headers, body = _post(service, "/appmonitor", b'["Name", "web"]')

    assert status.startswith("400")
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert body["message"] == "the request body is a JSON list, not an object"
    assert _post(service, "/appmonitors", b"{}")[2] == {"AppMonitorSummaries": []}


def test_an_invalid_app_monitor_name_is_refused_naming_the_constraint() -> None:
    service = RumService()

    with pytest.raises(
        RumError, match=r"Value '\.web' at 'name' failed to satisfy constraint: .*length between 1 and 255"
    ):
        service.call("POST", "/appmonitor", {"Name": ".web", "Domain": "a.example.com"}, "us-east-1")

    assert service.call("POST", "/appmonitors", {}, "us-east-1") == {"AppMonitorSummaries": []}
