"""What a request's SigV4 signature says of it: the service and the region it is signed for
(`Credential=KEY/20261204/us-east-1/cloudformation/aws4_request`), as one endpoint that
serves every service needs to know."""

from __future__ import annotations

from typing import Any

DEFAULT_REGION = "us-east-1"


def _credential_scope(environ: dict[str, Any]) -> list[str]:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return str(auth.split(",")[0].split()[1]).split("/")
    except IndexError:
        return []


def service_of(environ: dict[str, Any]) -> str | None:
    """The signing service of a request, lower case; None if it is not signed."""
    scope = _credential_scope(environ)
    return scope[3].lower() if len(scope) > 3 else None


def region_of(environ: dict[str, Any]) -> str:
    """The region a request is signed for; the default region if it is not signed."""
    scope = _credential_scope(environ)
    return scope[2] if len(scope) > 2 else DEFAULT_REGION
