"""API Gateway TOKEN authorizer: a valid Cognito JWT of a platform client may call the API.

The app clients are registered by the frontend stages under
`/{prefix}/{env}/cognito/clients/` in SSM, so a new client needs no redeploy of the API.
The pool's JWKS and the client list are cached for the life of the execution environment
(the client list for five minutes).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from dataall_authorizer.jwt import InvalidToken, RsaPublicKey, verify

logger = Logger()

CLIENTS_TTL = 300
_jwks: dict[str, RsaPublicKey] = {}
_clients: tuple[float, frozenset[str]] = (0.0, frozenset())


def issuer() -> str:
    return f"https://cognito-idp.{os.environ['USER_POOL_REGION']}.amazonaws.com/{os.environ['USER_POOL_ID']}"


def signing_keys(refresh: bool = False) -> dict[str, RsaPublicKey]:
    global _jwks  # noqa: PLW0603 - the cache outlives one invocation on purpose
    if refresh or not _jwks:
        url = f"{issuer()}/.well-known/jwks.json"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - fixed https URL
            document = json.load(response)
        _jwks = {key.kid: key for key in map(RsaPublicKey.from_jwk, document["keys"])}
    return _jwks


def client_ids(ssm: Any = None) -> frozenset[str]:
    global _clients  # noqa: PLW0603 - the cache outlives one invocation on purpose
    fetched_at, clients = _clients
    if time.monotonic() - fetched_at > CLIENTS_TTL or not clients:
        ssm = ssm or boto3.client("ssm")
        found: set[str] = set()
        pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=os.environ["CLIENTS_PATH"], Recursive=True)
        for page in pages:
            found.update(parameter["Value"] for parameter in page["Parameters"])
        _clients = (time.monotonic(), frozenset(found))
    return _clients[1]


def bearer(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("the Authorization header is not 'Bearer <token>'")
    return token.strip()


def policy(principal: str, effect: str, method_arn: str, context: dict[str, str]) -> dict[str, Any]:
    # Allow the whole stage: API Gateway caches the decision per token for every route.
    api_arn = method_arn.split("/", 1)[0]
    stage = method_arn.split("/")[1] if "/" in method_arn else "*"
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": f"{api_arn}/{stage}/*",
                }
            ],
        },
        "context": context,
    }


@logger.inject_lambda_context
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    try:
        token = bearer(event.get("authorizationToken", ""))
        keys = signing_keys()
        try:
            claims = verify(token, keys, issuer=issuer(), client_ids=client_ids())
        except InvalidToken as error:
            if "no published key" not in str(error):
                raise
            # Cognito rotated its keys since this environment cached them.
            claims = verify(token, signing_keys(refresh=True), issuer=issuer(), client_ids=client_ids())
    except InvalidToken as error:
        logger.info("token refused", extra={"reason": str(error)})
        # API Gateway answers 401 for exactly this error message.
        raise Exception("Unauthorized") from error
    groups = claims.get("cognito:groups") or []
    return policy(
        str(claims["sub"]),
        "Allow",
        event["methodArn"],
        {
            "sub": str(claims["sub"]),
            "username": str(claims.get("username") or claims.get("cognito:username") or ""),
            "email": str(claims.get("email", "")),
            "groups": ",".join(groups),
        },
    )
