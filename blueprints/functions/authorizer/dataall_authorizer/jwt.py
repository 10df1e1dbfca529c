"""Verification of RS256 JSON Web Tokens with the standard library.

Cognito signs its tokens with RSA keys published as a JWKS. Checking an RS256 signature
is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, section 8.2.2): raise the signature to the
public exponent and compare the result with the expected encoding of the digest. That
needs only integer arithmetic, so the authorizer has no compiled dependency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

#: DER prefix of a DigestInfo holding a SHA-256 digest (RFC 8017, section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

#: The claim that names the app client, by `token_use`.
CLIENT_CLAIM = {"id": "aud", "access": "client_id"}

#: Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds.
LEEWAY = 60


class InvalidToken(Exception):
    """The token is not one this platform accepts; the message says why (for the logs)."""


@dataclass(frozen=True)
class RsaPublicKey:
    kid: str
    modulus: int
    exponent: int

    @property
    def size(self) -> int:
        return (self.modulus.bit_length() + 7) // 8

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> RsaPublicKey:
        if jwk.get("kty") != "RSA":
            raise InvalidToken(f"key {jwk.get('kid')!r} is not an RSA key")
        return cls(
            kid=str(jwk["kid"]),
            modulus=int.from_bytes(b64url_decode(jwk["n"]), "big"),
            exponent=int.from_bytes(b64url_decode(jwk["e"]), "big"),
        )


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidToken("malformed base64url") from error


def verify_rs256(key: RsaPublicKey, message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5-VERIFY with SHA-256."""
    if key.modulus.bit_length() < 2048 or len(signature) != key.size:
        return False
    number = int.from_bytes(signature, "big")
    if number >= key.modulus:
        return False
    encoded = pow(number, key.exponent, key.modulus).to_bytes(key.size, "big")
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    padding = key.size - len(digest_info) - 3
    expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info
    return hmac.compare_digest(encoded, expected)


def unverified_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("a JWT has three dot-separated parts")
    return _json_part(parts[0], "header")


def _json_part(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidToken(f"the {what} is not JSON") from error
    if not isinstance(value, dict):
        raise InvalidToken(f"the {what} is not a JSON object")
    return value


def verify(
    token: str,
    keys: Mapping[str, RsaPublicKey],
    *,
    issuer: str,
    client_ids: Collection[str],
    now: float | None = None,
) -> dict[str, Any]:
    """The token's claims, once its signature, issuer, client and lifetime check out.

    Cognito ID tokens name their app client in `aud`, access tokens in `client_id`.
    """
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not RS256")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidToken(f"no published key has kid {header.get('kid')!r}")
    signing_input, _, signature = token.rpartition(".")
    if not verify_rs256(key, signing_input.encode("ascii"), b64url_decode(signature)):
        raise InvalidToken("bad signature")
    claims = _json_part(token.split(".")[1], "payload")
    check_claims(claims, issuer=issuer, client_ids=client_ids, now=now)
    return claims


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_ids: Collection[str],
    now: float | None = None,
) -> None:
    moment = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise InvalidToken(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    kind = claims.get("token_use")
    if kind not in CLIENT_CLAIM:
        raise InvalidToken(f"token_use {kind!r} is neither id nor access")
    client = claims.get(CLIENT_CLAIM[kind])
    if client not in client_ids:
        raise InvalidToken(f"client {client!r} is not a client of this platform")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise InvalidToken("the token has no expiry")
    if moment > expires + LEEWAY:
        raise InvalidToken("the token has expired")
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > moment + LEEWAY:
            raise InvalidToken(f"the token's {name} is in the future")
