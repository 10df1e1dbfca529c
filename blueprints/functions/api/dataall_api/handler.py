"""API Gateway proxy handler: `GET /health` and `POST /graphql` with the `health` query.

`GET /health` is the unauthenticated liveness probe of canaries and load balancers;
`POST /graphql` is behind the Cognito authorizer and answers in GraphQL's shape.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from dataall_api.database import Health, Settings, check, connect

logger = Logger()

#: The fields of a query's selection set, e.g. `query { health }` -> ["health"].
FIELD = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
SELECTION = re.compile(r"^\s*(?:query\s*[_A-Za-z0-9]*\s*)?\{(?P<fields>[^{}]*)\}\s*$", re.S)


@cache
def _secrets() -> Any:
    return boto3.client("secretsmanager")


def health() -> Health:
    settings = Settings.from_environment()
    return check(lambda: connect(settings, _secrets()))


def response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body),
    }


def query_fields(query: str) -> list[str]:
    """The top-level fields of a flat GraphQL query; ValueError when it is not one."""
    match = SELECTION.match(query)
    if match is None:
        raise ValueError("expected a query with one flat selection set, e.g. { health }")
    return FIELD.findall(match.group("fields"))


def graphql(body: str | None) -> dict[str, Any]:
    try:
        request = json.loads(body or "")
        fields = query_fields(str(request["query"]))
    except (ValueError, KeyError, TypeError) as error:
        return response(400, {"errors": [{"message": f"bad request: {error}"}]})
    unknown = [name for name in fields if name != "health"]
    if unknown:
        return response(200, {"errors": [{"message": f"Cannot query field {name!r}"} for name in unknown]})
    return response(200, {"data": {"health": health().as_json()}})


@logger.inject_lambda_context
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    route = (event.get("httpMethod"), event.get("resource"))
    if route == ("GET", "/health"):
        result = health()
        logger.info("health", extra=result.as_json())
        return response(200 if result.status == "ok" else 503, result.as_json())
    if route == ("POST", "/graphql"):
        return graphql(event.get("body"))
    return response(404, {"message": "not found"})
