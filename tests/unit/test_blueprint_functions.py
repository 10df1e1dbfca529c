"""The synthetic release's stand-in functions (tests/fixtures/synthetic/functions): authorizer,
API, worker, page.

Each function is a package at the root of its zip; the tests import it the same way, from
its folder. JWTs are signed with an RSA key generated here, by `cryptography` (an
implementation independent of the authorizer's).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "synthetic" / "functions"
for folder in ("api", "authorizer", "worker", "site", "canary/python"):
    sys.path.insert(0, str(FUNCTIONS / folder))

import api_canary  # noqa: E402
from dataall_api import database  # noqa: E402
from dataall_api import handler as api  # noqa: E402
from dataall_authorizer import handler as authorizer  # noqa: E402
from dataall_authorizer.jwt import InvalidToken, RsaPublicKey, verify, verify_rs256  # noqa: E402
from dataall_site import handler as site  # noqa: E402
from dataall_site.site import files  # noqa: E402
from dataall_worker import handler as worker  # noqa: E402
from dataall_worker.tasks import UnknownAction, WorkItem, perform  # noqa: E402

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
CLIENT = "3n4b5urk1ft4fl3mg5e62d9ado"
NOW = 1_800_000_000


@pytest.fixture
def lambda_context() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        function_name="acme-test-fn",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:eu-west-1:111122223333:function:acme-test-fn",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 30_000,
    )


# ---------------------------------------------------------------------- JWT fixtures
@pytest.fixture(scope="module")
def rsa_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(private_key: Any, kid: str = "key-1") -> dict[str, str]:
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": _b64(numbers.e.to_bytes(3, "big")),
    }


def sign(private_key: Any, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    head = _b64(json.dumps(header or {"alg": "RS256", "kid": "key-1"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = private_key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "4f1c-user",
        "iss": ISSUER,
        "token_use": "id",
        "aud": CLIENT,
        "email": "ada@example.com",
        "cognito:groups": ["DAAdministrators"],
        "iat": NOW - 60,
        "exp": NOW + 3600,
    }
    base.update(overrides)
    return base


@pytest.fixture(scope="module")
def keys(rsa_key: Any) -> dict[str, RsaPublicKey]:
    return {"key-1": RsaPublicKey.from_jwk(_jwk(rsa_key))}


def check(token: str, keys: dict[str, RsaPublicKey]) -> dict[str, Any]:
    return verify(token, keys, issuer=ISSUER, client_ids={CLIENT}, now=NOW)


# ---------------------------------------------------------------------- authorizer
def test_a_token_signed_by_the_pool_s_key_is_accepted(rsa_key: Any, keys: dict[str, RsaPublicKey]) -> None:
    assert check(sign(rsa_key, claims()), keys)["sub"] == "4f1c-user"


def test_an_access_token_names_its_client_in_client_id(rsa_key: Any, keys: dict[str, RsaPublicKey]) -> None:
    token = sign(rsa_key, claims(token_use="access", aud=None, client_id=CLIENT))

    assert check(token, keys)["client_id"] == CLIENT


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"}, "issuer"),
        ({"aud": "someone-else"}, "not a client"),
        ({"exp": NOW - 3600}, "expired"),
        ({"exp": None}, "no expiry"),
        ({"iat": NOW + 3600}, "in the future"),
        ({"token_use": "refresh"}, "neither id nor access"),
    ],
)
def test_a_token_with_a_wrong_claim_is_refused(
    rsa_key: Any, keys: dict[str, RsaPublicKey], changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidToken, match=reason):
        check(sign(rsa_key, claims(**changes)), keys)


def test_a_token_whose_payload_was_changed_after_signing_is_refused(
    rsa_key: Any, keys: dict[str, RsaPublicKey]
) -> None:
    head, _, signature = sign(rsa_key, claims()).split(".")
    forged = _b64(json.dumps(claims(**{"cognito:groups": ["DAAdministrators", "root"]})).encode())

    with pytest.raises(InvalidToken, match="bad signature"):
        check(f"{head}.{forged}.{signature}", keys)


def test_a_token_signed_by_another_key_is_refused(keys: dict[str, RsaPublicKey]) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(InvalidToken, match="bad signature"):
        check(sign(stranger, claims()), keys)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "none", "kid": "key-1"}, "not RS256"),
        ({"alg": "HS256", "kid": "key-1"}, "not RS256"),
        ({"alg": "RS256", "kid": "rotated-away"}, "no published key"),
    ],
)
def test_a_token_with_an_unacceptable_header_is_refused(
    rsa_key: Any, keys: dict[str, RsaPublicKey], header: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidToken, match=reason):
        check(sign(rsa_key, claims(), header), keys)


@pytest.mark.parametrize("token", ["", "a.b", "not base64!.x.y", "e30.e30.e30.e30"])
def test_a_malformed_token_is_refused(keys: dict[str, RsaPublicKey], token: str) -> None:
    with pytest.raises(InvalidToken):
        check(token, keys)


def test_a_short_key_or_signature_never_verifies(rsa_key: Any, keys: dict[str, RsaPublicKey]) -> None:
    key = keys["key-1"]
    weak = RsaPublicKey(kid="weak", modulus=key.modulus >> 1100, exponent=key.exponent)

    assert not verify_rs256(key, b"message", b"\x01" * 10)
    assert not verify_rs256(weak, b"message", b"\x01" * weak.size)


@pytest.fixture
def authorizer_env(monkeypatch: pytest.MonkeyPatch, keys: dict[str, RsaPublicKey]) -> Iterator[None]:
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_Example")
    monkeypatch.setenv("USER_POOL_REGION", "eu-west-1")
    monkeypatch.setattr(authorizer, "signing_keys", lambda refresh=False: keys)
    monkeypatch.setattr(authorizer, "client_ids", lambda ssm=None: frozenset({CLIENT}))
    monkeypatch.setattr(authorizer.time, "time", lambda: NOW)
    yield


METHOD_ARN = "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3/api/POST/graphql"


def test_the_authorizer_allows_the_stage_to_a_valid_bearer(
    authorizer_env: None, rsa_key: Any, lambda_context: Any
) -> None:
    event = {"authorizationToken": f"Bearer {sign(rsa_key, claims(exp=time.time() + 600))}", "methodArn": METHOD_ARN}

    answer = authorizer.handler(event, lambda_context)

    assert answer["principalId"] == "4f1c-user"
    (statement,) = answer["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == (
        "Allow",
        "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3/api/*",
    )
    assert answer["context"]["groups"] == "DAAdministrators"


@pytest.mark.parametrize("authorization", ["", "Basic abc", "Bearer", "Bearer x.y.z"])
def test_the_authorizer_answers_unauthorized_to_anything_else(
    authorizer_env: None, authorization: str, lambda_context: Any
) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler({"authorizationToken": authorization, "methodArn": METHOD_ARN}, lambda_context)


def test_the_authorizer_reads_the_registered_clients_from_ssm(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    ssm = boto3.client("ssm")
    for stage, client in (("cloudfront", "client-a"), ("albfront", "client-b")):
        ssm.put_parameter(Name=f"/acme/test/cognito/clients/{stage}", Value=client, Type="String")
    ssm.put_parameter(Name="/acme/test/other", Value="not-a-client", Type="String")
    monkeypatch.setenv("CLIENTS_PATH", "/acme/test/cognito/clients")
    monkeypatch.setattr(authorizer, "_clients", (0.0, frozenset()))

    assert authorizer.client_ids(ssm) == {"client-a", "client-b"}


# ---------------------------------------------------------------------- api
class FakeConnection:
    def __init__(self, revision: str | None, fail_on: str | None = None) -> None:
        self.revision = revision
        self.fail_on = fail_on
        self.closed = False

    def run(self, sql: str, **_params: Any) -> list[list[Any]]:
        if self.fail_on and self.fail_on in sql:
            raise RuntimeError("relation is locked")
        if "to_regclass" in sql:
            return [[self.revision is not None]]
        if "alembic_version" in sql:
            return [[self.revision]]
        return [[1]]

    def close(self) -> None:
        self.closed = True


def test_health_reads_the_schema_revision_of_the_metadata_database() -> None:
    connection = FakeConnection("4a8e2b")

    health = database.check(lambda: connection)

    assert (health.status, health.database, health.revision) == ("ok", "reachable", "4a8e2b")
    assert connection.closed


def test_health_before_the_first_migration_has_no_revision() -> None:
    assert database.check(lambda: FakeConnection(None)).as_json()["revision"] is None


def test_health_is_degraded_when_the_database_cannot_be_reached_or_queried() -> None:
    def refuse() -> Any:
        raise TimeoutError("connect timed out")

    unreachable = database.check(refuse)
    failing = database.check(lambda: FakeConnection("4a8e2b", fail_on="version_num"))

    assert (unreachable.status, unreachable.database, unreachable.error) == ("degraded", "unreachable", "TimeoutError")
    assert (failing.status, failing.database) == ("degraded", "error")


def test_the_credentials_come_from_the_cluster_s_secret(aws: None) -> None:
    import boto3

    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(
        Name="rds!cluster-1", SecretString=json.dumps({"username": "dataall_admin", "password": "p"})
    )["ARN"]

    assert database.credentials(secrets, arn) == ("dataall_admin", "p")


@pytest.fixture
def healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "health", lambda: database.Health("ok", "reachable", "4a8e2b", 3.2))


def test_get_health_answers_json(healthy: None, lambda_context: Any) -> None:
    answer = api.handler({"httpMethod": "GET", "resource": "/health"}, lambda_context)

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {
        "status": "ok",
        "database": "reachable",
        "revision": "4a8e2b",
        "latencyMs": 3.2,
    }


def test_get_health_answers_503_when_degraded(monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> None:
    monkeypatch.setattr(api, "health", lambda: database.Health("degraded", "unreachable", None, 5000, "TimeoutError"))

    assert api.handler({"httpMethod": "GET", "resource": "/health"}, lambda_context)["statusCode"] == 503


@pytest.mark.parametrize("query", ["{ health }", "query { health }", "query Check {\n  health\n}"])
def test_the_graphql_health_query_answers_in_graphql_s_shape(healthy: None, query: str, lambda_context: Any) -> None:
    event = {"httpMethod": "POST", "resource": "/graphql", "body": json.dumps({"query": query})}

    body = json.loads(api.handler(event, lambda_context)["body"])

    assert body["data"]["health"]["status"] == "ok"


def test_an_unknown_field_or_a_bad_body_is_an_error(healthy: None, lambda_context: Any) -> None:
    unknown = {"httpMethod": "POST", "resource": "/graphql", "body": json.dumps({"query": "{ datasets }"})}
    broken = {"httpMethod": "POST", "resource": "/graphql", "body": "{"}

    assert json.loads(api.handler(unknown, lambda_context)["body"]) == {
        "errors": [{"message": "Cannot query field 'datasets'"}]
    }
    assert api.handler(broken, lambda_context)["statusCode"] == 400
    assert api.handler({"httpMethod": "GET", "resource": "/other"}, lambda_context)["statusCode"] == 404


# ---------------------------------------------------------------------- worker
def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"r{index}",
                "body": body,
                "attributes": {"MessageGroupId": "platform", "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:acme-test-worker.fifo",
                "awsRegion": "eu-west-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def test_a_work_item_is_parsed_and_performed() -> None:
    item = WorkItem.parse(json.dumps({"action": "ping", "payload": {"id": 7}}), "m1")

    assert perform(item) == {"pong": 7}


@pytest.mark.parametrize("body", ["[]", '{"payload": {}}', '{"action": "ping", "payload": []}', "not json"])
def test_a_malformed_work_item_is_rejected(body: str) -> None:
    with pytest.raises(ValueError):
        WorkItem.parse(body, "m1")


def test_an_unknown_action_fails_naming_the_known_ones() -> None:
    with pytest.raises(UnknownAction, match=r"'reindex'.*\['ping'\]"):
        perform(WorkItem("reindex", {}, "m1"))


def test_the_worker_reports_the_failed_item_and_keeps_the_fifo_order(lambda_context: Any) -> None:
    event = sqs_event(
        json.dumps({"action": "ping", "payload": {"id": 1}}),
        json.dumps({"action": "reindex"}),
        json.dumps({"action": "ping", "payload": {"id": 3}}),
    )

    answer = worker.handler(event, lambda_context)

    # The failed item and everything after it in its group go back to the queue.
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


# ---------------------------------------------------------------------- page
CONFIG = {
    "apiUrl": "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/api/",
    "region": "eu-west-1",
    "userPoolId": "eu-west-1_Example",
    "clientId": CLIENT,
    "authDomain": "acme-test-111122223333.auth.eu-west-1.amazoncognito.com",
    "redirectUri": "https://d111111abcdef8.cloudfront.net/",
}


def test_the_page_is_its_static_files_and_its_configuration() -> None:
    published = {file.key: file for file in files(CONFIG)}

    assert {"index.html", "app.js", "style.css", "config.json"} <= set(published)
    assert json.loads(published["config.json"].body) == CONFIG
    assert published["config.json"].cache_control == "no-store"
    assert published["index.html"].content_type == "text/html"


def test_a_configuration_without_the_api_url_is_refused() -> None:
    with pytest.raises(ValueError, match="apiUrl"):
        list(files({**CONFIG, "apiUrl": ""}))


def custom_resource_event(request_type: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/signed",
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/acme-test-cloudfront/1",
        "RequestId": "r-1",
        "LogicalResourceId": "SitePublisher",
        "ResourceProperties": {"ServiceToken": "arn", "Bucket": "acme-test-web", "Config": CONFIG},
    }


def test_the_publisher_writes_the_page_and_empties_the_bucket_on_delete(aws: None) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="acme-test-web")

    written = site.on_event(custom_resource_event("Create"), s3, cloudfront=None)
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="acme-test-web")["Contents"]}
    removed = site.on_event(custom_resource_event("Delete"), s3, cloudfront=None)

    assert written == {"Files": len(keys)} and "config.json" in keys
    assert removed == {"Removed": len(keys)}
    assert "Contents" not in s3.list_objects_v2(Bucket="acme-test-web")


def test_the_publisher_answers_failed_with_the_reason(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[tuple[str, str]] = []
    monkeypatch.setattr(site, "answer", lambda event, status, data, reason="": answers.append((status, reason)))

    def broken(*_args: Any) -> Any:
        raise PermissionError("AccessDenied on acme-test-web")

    monkeypatch.setattr(site, "on_event", broken)
    site.custom_resource(custom_resource_event("Update"))

    assert answers == [("FAILED", "PermissionError: AccessDenied on acme-test-web")]


def test_the_load_balancer_target_serves_the_page_and_routes_unknown_paths_to_it() -> None:
    page = site.serve("/", CONFIG)
    config = site.serve("/config.json", CONFIG)
    route = site.serve("/datasets/42", CONFIG)

    assert page["headers"]["Content-Type"] == "text/html"
    assert json.loads(base64.b64decode(config["body"])) == CONFIG
    assert route["body"] == page["body"]


# ---------------------------------------------------------------------- canary
class FakeResponse:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self._body = json.dumps(body).encode()

    def read(self) -> bytes:
        return self._body

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


def test_the_canary_passes_on_ok_and_fails_on_anything_else() -> None:
    url = "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/api/health"

    assert api_canary.check(url, lambda request, timeout: FakeResponse(200, {"status": "ok"}))["status"] == "ok"
    with pytest.raises(RuntimeError, match="degraded"):
        api_canary.check(url, lambda request, timeout: FakeResponse(200, {"status": "degraded"}))
