"""The pivot-role provider against moto in-process, its answers PUT to a local HTTP server
standing in for CloudFormation's pre-signed response URL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from lambdas.core import cfn_response
from lambdas.data import aws as lambda_aws
from lambdas.handlers import pivot_role
from lambdas.pivot_role import common, role, stack_sets
from lambdas.pivot_role import resources as pivot_resources
from lambdas.pivot_role.policies import MAX_POLICY_CHARACTERS, characters, statements_of
from tests.unit.conftest import REGION

ACCOUNT = "123456789012"  # moto's account
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:acme-test-pivot-role-provider"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/acme-test-pivot-role/5f1a9d40-0000-11ef-8000-0a1b2c3d4e5f"
PARAMETER = "/acme/test/pivot-role/external-id"
ROLE = "acme-test-pivot-role"
ENVIRONMENT_ACCOUNTS = ("111111111111", "222222222222")


# ---------------------------------------------------------------------- CloudFormation's side
class Answers:
    """A local HTTP server that records the PUT answers, by response URL."""

    def __init__(self) -> None:
        received: dict[str, list[dict[str, Any]]] = {}
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.setdefault(self.path, []).append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return self.received.get("/" + event["ResponseURL"].rsplit("/", 1)[1], [])


@dataclass
class Context:
    """What Lambda hands the handler (the parts the provider and Powertools read)."""

    seconds: float = 900.0
    function_name: str = "acme-test-pivot-role-provider"
    invoked_function_arn: str = FUNCTION_ARN
    memory_limit_in_mb: int = 256
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def stringified(value: Any) -> Any:
    """Properties as CloudFormation delivers them: numbers and booleans become strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: stringified(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringified(v) for v in value]
    return value


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    server = Answers()
    yield server
    server.server.shutdown()


@pytest.fixture
def provider(aws: None, answers: Answers) -> Iterator[Callable[..., dict[str, Any]]]:
    """Send one request to the provider's handler; returns CloudFormation's single answer."""
    lambda_aws.client.cache_clear()

    def send(
        kind: str,
        request: str,
        properties: dict[str, Any],
        *,
        physical: str | None = None,
        old: dict[str, Any] | None = None,
        context: Context | None = None,
    ) -> dict[str, Any]:
        event = request_event(answers, kind, request, properties, physical=physical, old=old)
        pivot_role.handler(event, context or Context())
        sent = answers.to(event)
        assert len(sent) == 1, sent
        return sent[0]

    yield send
    lambda_aws.client.cache_clear()


def request_event(
    answers: Answers,
    kind: str,
    request: str,
    properties: dict[str, Any],
    *,
    physical: str | None = None,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": f"{answers.url}/{uuid.uuid4().hex}",
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "PivotRole" if kind == pivot_resources.PIVOT_ROLE_TYPE else "ExternalId",
        "ResourceType": kind,
        "ResourceProperties": stringified({"ServiceToken": FUNCTION_ARN, **properties}),
    }
    if physical is not None:
        event["PhysicalResourceId"] = physical
    if old is not None:
        event["OldResourceProperties"] = stringified({"ServiceToken": FUNCTION_ARN, **old})
    return event


@cache
def client(service: str) -> Any:
    """One client per service for the module: moto intercepts it in whichever test runs."""
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def iam() -> Any:
    return client("iam")


def ssm() -> Any:
    return client("ssm")


def cloudformation() -> Any:
    return client("cloudformation")


# ---------------------------------------------------------------------- properties
def statements(count: int, *, prefix: str = "S", width: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "Sid": f"{prefix}{n}",
            "Effect": "Allow",
            "Action": [f"s3:GetObject{a}" for a in range(width)],
            "Resource": [f"arn:{{Partition}}:s3:::{{ResourcePrefix}}-data-{n}-{r}/*" for r in range(width)],
        }
        for n in range(count)
    ]


def documents(count: int, **kwargs: Any) -> list[dict[str, Any]]:
    return [{"Version": "2012-10-17", "Statement": statements(count, **kwargs)}]


def role_properties(**overrides: Any) -> dict[str, Any]:
    return {
        "RoleName": ROLE,
        "ExternalIdParameter": PARAMETER,
        "ResourcePrefix": "acme",
        "EnvName": "test",
        "TrustedRolePatterns": ["acme-test-*"],
        "TrustedServices": ["glue.amazonaws.com"],
        "MaxSessionDuration": 43200,
        "PolicyDocuments": documents(20),
        "EnvironmentAccounts": "",
        "StackSetName": "acme-test-pivot-role",
        **overrides,
    }


def external_id(provider: Callable[..., dict[str, Any]], name: str = PARAMETER) -> dict[str, Any]:
    answer = provider(pivot_resources.EXTERNAL_ID_TYPE, "Create", {"ParameterName": name})
    assert answer["Status"] == "SUCCESS", answer
    return answer


def stored_id(name: str = PARAMETER) -> str:
    return str(ssm().get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def policy_documents(role: str = ROLE) -> dict[str, Any]:
    """The role's attached managed policies: name -> default version's document."""
    client = iam()
    found = {}
    for attached in client.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = client.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = client.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        found[attached["PolicyName"]] = version["PolicyVersion"]["Document"]
    return found


def role_exists(name: str) -> bool:
    try:
        iam().get_role(RoleName=name)
    except iam().exceptions.NoSuchEntityException:
        return False
    return True


# ---------------------------------------------------------------------- external id
def test_the_external_id_is_created_once_kept_secret_and_stable_across_updates(provider: Any) -> None:
    created = external_id(provider)

    value = stored_id()
    assert created["PhysicalResourceId"] == PARAMETER
    assert created["Data"] == {
        "ParameterName": PARAMETER,
        "ParameterArn": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PARAMETER}",
    }
    assert value not in json.dumps(created) and "NoEcho" not in created
    assert len(value) >= 40
    assert ssm().get_parameter(Name=PARAMETER)["Parameter"]["Type"] == "SecureString"

    updated = provider(
        pivot_resources.EXTERNAL_ID_TYPE, "Update", {"ParameterName": PARAMETER, "Description": "changed"},
        physical=PARAMETER, old={"ParameterName": PARAMETER},
    )  # fmt: skip
    assert (updated["Status"], updated["PhysicalResourceId"], stored_id()) == ("SUCCESS", PARAMETER, value)

    renamed = "/acme/test/pivot-role/external-id-2"
    moved = provider(
        pivot_resources.EXTERNAL_ID_TYPE, "Update", {"ParameterName": renamed},
        physical=PARAMETER, old={"ParameterName": PARAMETER},
    )  # fmt: skip
    assert (moved["Status"], moved["PhysicalResourceId"], stored_id(renamed)) == ("SUCCESS", renamed, value)

    deleted = provider(pivot_resources.EXTERNAL_ID_TYPE, "Delete", {"ParameterName": PARAMETER}, physical=PARAMETER)
    assert deleted["Status"] == "SUCCESS"
    with pytest.raises(ssm().exceptions.ParameterNotFound):
        stored_id()
    assert stored_id(renamed) == value


def test_a_create_reuses_an_existing_external_id_and_delete_can_retain_it(provider: Any) -> None:
    ssm().put_parameter(Name=PARAMETER, Value="kept-from-an-earlier-install", Type="SecureString")

    external_id(provider)
    kept = provider(
        pivot_resources.EXTERNAL_ID_TYPE, "Delete", {"ParameterName": PARAMETER, "Retain": True}, physical=PARAMETER
    )
    again = provider(pivot_resources.EXTERNAL_ID_TYPE, "Delete", {"ParameterName": PARAMETER}, physical=PARAMETER)

    assert kept["Status"] == "SUCCESS"
    assert again["Status"] == "SUCCESS"
    with pytest.raises(ssm().exceptions.ParameterNotFound):
        stored_id()
    gone = provider(pivot_resources.EXTERNAL_ID_TYPE, "Delete", {"ParameterName": PARAMETER}, physical=PARAMETER)
    assert gone["Status"] == "SUCCESS"


def test_a_parameter_of_another_stack_is_not_deleted(provider: Any) -> None:
    ssm().put_parameter(Name=PARAMETER, Value="someone-elses", Type="SecureString")

    answer = provider(pivot_resources.EXTERNAL_ID_TYPE, "Delete", {"ParameterName": PARAMETER}, physical=PARAMETER)

    assert answer["Status"] == "SUCCESS"
    assert stored_id() == "someone-elses"


# ---------------------------------------------------------------------- pivot role: create
def test_create_makes_the_role_its_trust_and_policies_under_the_limit(provider: Any) -> None:
    external_id(provider)
    properties = role_properties()

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", properties)

    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == ROLE
    role = iam().get_role(RoleName=ROLE)["Role"]
    assert role["MaxSessionDuration"] == 43200
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert trust[0]["Condition"]["StringEquals"] == {"sts:ExternalId": stored_id()}
    assert trust[0]["Condition"]["ArnLike"] == {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/acme-test-*"]}
    assert trust[1]["Principal"] == {"Service": ["glue.amazonaws.com"]}
    policies = policy_documents()
    names = [f"{ROLE}-policy-{n}" for n in range(1, len(policies) + 1)]
    assert sorted(policies) == sorted(names)
    assert len(policies) >= 3
    assert all(characters(doc) <= MAX_POLICY_CHARACTERS for doc in policies.values())
    stored = [s for doc in policies.values() for s in doc["Statement"]]
    assert sorted(s["Sid"] for s in stored) == sorted(f"S{n}" for n in range(20))
    assert all(r.startswith("arn:aws:s3:::acme-data-") for s in stored for r in s["Resource"])
    assert answer["Data"] == {
        "RoleName": ROLE,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
        "PolicyNames": ",".join(names),
        "PolicyArns": ",".join(f"arn:aws:iam::{ACCOUNT}:policy/{name}" for name in names),
        "PolicyCount": str(len(names)),
        "StackSetName": "",
        "EnvironmentAccounts": "",
    }
    assert stored_id() not in json.dumps(answer)


def test_status_reads_the_role_and_its_policies(provider: Any) -> None:
    external_id(provider)
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties())

    status = role.describe_pivot_role(iam(), ROLE)

    assert status is not None
    assert status["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    assert status["PolicyNames"] == [f"{ROLE}-policy-{n}" for n in range(1, len(status["Policies"]) + 1)]
    assert all(0 < p["Characters"] <= MAX_POLICY_CHARACTERS for p in status["Policies"])
    assert role.describe_pivot_role(iam(), "no-such-role") is None


# ---------------------------------------------------------------------- pivot role: update
def test_update_converges_and_the_rollback_update_converges_back_exactly(provider: Any) -> None:
    external_id(provider)
    before = role_properties()
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before)
    original = policy_documents()
    original_trust = iam().get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    after = role_properties(
        PolicyDocuments=documents(45, prefix="New"),
        TrustedRolePatterns=["acme-test-*", "acme-test2-*"],
        MaxSessionDuration=3600,
    )

    updated = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", after, physical=ROLE, old=before)

    assert updated["Status"] == "SUCCESS", updated
    changed = policy_documents()
    assert len(changed) > len(original)
    assert sorted(s["Sid"] for doc in changed.values() for s in doc["Statement"]) == sorted(
        f"New{n}" for n in range(45)
    )
    assert iam().get_role(RoleName=ROLE)["Role"]["MaxSessionDuration"] == 3600

    # CloudFormation's rollback: the old properties as the new ones, the failed update's as old.
    rolled_back = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", before, physical=ROLE, old=after)

    assert rolled_back["Status"] == "SUCCESS", rolled_back
    assert rolled_back["PhysicalResourceId"] == ROLE
    assert policy_documents() == original
    role = iam().get_role(RoleName=ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"] == original_trust
    assert role["MaxSessionDuration"] == 43200
    stale = iam().list_policies(Scope="Local")["Policies"]
    assert sorted(p["PolicyName"] for p in stale) == sorted(original)  # the extra policies are deleted


def test_repeated_updates_keep_within_iams_five_policy_versions(provider: Any) -> None:
    external_id(provider)
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties(PolicyDocuments=documents(3)))

    for width in range(4, 12):
        old = role_properties(PolicyDocuments=documents(3, width=width - 1))
        answer = provider(
            pivot_resources.PIVOT_ROLE_TYPE, "Update", role_properties(PolicyDocuments=documents(3, width=width)),
            physical=ROLE, old=old,
        )  # fmt: skip
        assert answer["Status"] == "SUCCESS", answer

    arn = f"arn:aws:iam::{ACCOUNT}:policy/{ROLE}-policy-1"
    assert len(iam().list_policy_versions(PolicyArn=arn)["Versions"]) == 5
    assert policy_documents()[f"{ROLE}-policy-1"]["Statement"][0]["Action"][-1] == "s3:GetObject10"


def test_an_update_with_the_same_properties_changes_nothing(provider: Any) -> None:
    external_id(provider)
    properties = role_properties()
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", properties)

    provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", properties, physical=ROLE, old=properties)

    for name in policy_documents():
        versions = iam().list_policy_versions(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{name}")["Versions"]
        assert [v["VersionId"] for v in versions] == ["v1"]


def test_a_role_rename_is_a_replacement_and_the_old_role_goes_with_its_delete(provider: Any) -> None:
    external_id(provider)
    before = role_properties()
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before)
    after = role_properties(RoleName="acme-test-pivot-role-2")

    replaced = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", after, physical=ROLE, old=before)

    assert replaced["Status"] == "SUCCESS", replaced
    assert replaced["PhysicalResourceId"] == "acme-test-pivot-role-2"
    assert role_exists(ROLE) and role_exists("acme-test-pivot-role-2")

    # CloudFormation's cleanup deletes the old physical id.
    cleaned = provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", before, physical=ROLE)

    assert cleaned["Status"] == "SUCCESS"
    assert not role_exists(ROLE)
    assert role_exists("acme-test-pivot-role-2")
    assert all(name.startswith("acme-test-pivot-role-2-policy-") for name in policy_documents("acme-test-pivot-role-2"))
    left = {p["PolicyName"] for p in iam().list_policies(Scope="Local")["Policies"]}
    assert all(name.startswith("acme-test-pivot-role-2-") for name in left)


# ---------------------------------------------------------------------- pivot role: delete
def test_delete_removes_the_role_and_its_policies_and_is_idempotent(provider: Any) -> None:
    external_id(provider)
    properties = role_properties()
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", properties)

    first = provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", properties, physical=ROLE)
    second = provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", properties, physical=ROLE)

    assert (first["Status"], second["Status"]) == ("SUCCESS", "SUCCESS")
    assert first["PhysicalResourceId"] == ROLE
    assert not role_exists(ROLE)
    assert iam().list_policies(Scope="Local")["Policies"] == []


# ---------------------------------------------------------------------- failures reach CloudFormation
def test_an_iam_error_is_answered_failed_with_its_reason_and_the_rollback_cleans_up(provider: Any) -> None:
    external_id(provider)
    broken = role_properties(
        PolicyDocuments=[
            *documents(20),
            {"Statement": [{"Sid": "Bad", "Effect": "Allow", "Action": "s3GetObject", "Resource": "*"}]},
        ]
    )

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", broken)

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("MalformedPolicyDocument") or "MalformedPolicyDocument" in answer["Reason"]
    assert answer["PhysicalResourceId"] == ROLE  # the rollback's Delete names what was created
    assert role_exists(ROLE)

    cleaned = provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", broken, physical=answer["PhysicalResourceId"])

    assert cleaned["Status"] == "SUCCESS"
    assert not role_exists(ROLE)
    assert iam().list_policies(Scope="Local")["Policies"] == []


def test_a_role_of_another_stack_is_neither_adopted_nor_deleted(provider: Any) -> None:
    external_id(provider)
    iam().create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))

    created = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties())
    rolled_back = provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", role_properties(), physical=ROLE)

    assert created["Status"] == "FAILED"
    assert f"role {ROLE} exists and is not managed by this stack (no owner tag)" in created["Reason"]
    assert rolled_back["Status"] == "SUCCESS"
    assert role_exists(ROLE)
    assert iam().list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []


def test_too_many_policies_fail_before_anything_changes(provider: Any) -> None:
    external_id(provider)

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties(PolicyDocuments=documents(200)))

    assert answer["Status"] == "FAILED"
    assert "IAM attaches at most 10 managed policies to a role" in answer["Reason"]
    assert not role_exists(ROLE)


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"RoleName": "not a role name"}, "RoleName: String should match pattern"),
        ({"EnvironmentAccounts": "12345"}, "EnvironmentAccounts: Value error, '12345' is not an AWS account id"),
        ({"ExternalIdParameter": "/acme/test/missing"}, "the external id parameter /acme/test/missing does not exist"),
        ({"EnvironmentAccounts": ACCOUNT}, f"the platform's account {ACCOUNT} has its pivot role already"),
        (
            {"EnvironmentAccounts": "111111111111", "EnvironmentRegions": ["eu-west-1", "us-east-1"]},
            "IAM roles are global to an account, so the pivot role's StackSet instances live in one region",
        ),
        (
            {"PolicyDocuments": [{"Statement": [{"Effect": "Allow", "Action": "s3:Get", "Resource": "{Bucket}"}]}]},
            r"unknown placeholder(s) {Bucket}",
        ),
    ],
)
def test_bad_properties_are_answered_failed_naming_the_property(
    provider: Any, properties: dict[str, Any], reason: str
) -> None:
    external_id(provider)

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties(**properties))

    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]


def test_an_unknown_resource_type_is_answered_failed(provider: Any) -> None:
    answer = provider("Custom::Something", "Create", {})

    assert answer["Status"] == "FAILED"
    assert "serves Custom::PivotRoleExternalId and Custom::PivotRole, not Custom::Something" in answer["Reason"]


def test_a_failed_replacement_removes_the_new_role_and_keeps_the_old_one(provider: Any) -> None:
    external_id(provider)
    before = role_properties()
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before)
    broken = role_properties(
        RoleName="acme-test-pivot-role-2",
        PolicyDocuments=[{"Statement": [{"Sid": "Bad", "Effect": "Allow", "Action": "s3GetObject", "Resource": "*"}]}],
    )

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", broken, physical=ROLE, old=before)

    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == ROLE
    assert not role_exists("acme-test-pivot-role-2")
    assert role_exists(ROLE)


def test_the_watchdog_answers_failed_before_the_lambda_timeout(
    provider: Any, answers: Answers, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(*args: Any) -> cfn_response.Outcome:
        release.wait(10)
        return cfn_response.Outcome("late")

    monkeypatch.setattr(cfn_response, "WATCHDOG_MARGIN_SECONDS", 2.0)
    monkeypatch.setattr(pivot_resources, "handle", stuck)
    event = request_event(answers, pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties())
    started = time.monotonic()

    worker = threading.Thread(target=pivot_role.handler, args=(event, Context(seconds=4.0)))
    worker.start()
    deadline = time.monotonic() + 10
    while not answers.to(event) and time.monotonic() < deadline:
        time.sleep(0.02)
    answered = time.monotonic() - started
    release.set()
    worker.join(10)

    (answer,) = answers.to(event)  # the late SUCCESS is dropped
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("Timeout: the Create of PivotRole (Custom::PivotRole) was still running")
    assert answer["PhysicalResourceId"] == ROLE
    assert 1.5 < answered < 4.0  # after the margin began, before the Lambda timeout


# ---------------------------------------------------------------------- environment accounts
def stack_set_instances(name: str = "acme-test-pivot-role") -> set[tuple[str, str]]:
    summaries = cloudformation().list_stack_instances(StackSetName=name)["Summaries"]
    return {(s["Account"], s["Region"]) for s in summaries}


def test_environment_accounts_get_the_pivot_role_through_a_stack_set(provider: Any) -> None:
    external_id(provider)
    before = role_properties(EnvironmentAccounts=ENVIRONMENT_ACCOUNTS[0])

    created = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before)

    assert created["Status"] == "SUCCESS", created
    assert created["Data"]["StackSetName"] == "acme-test-pivot-role"
    stack_set = cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")["StackSet"]
    assert stack_set["PermissionModel"] == "SELF_MANAGED"
    assert (
        stack_set["AdministrationRoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/AWSCloudFormationStackSetAdministrationRole"
    )
    assert stack_set["ExecutionRoleName"] == "AWSCloudFormationStackSetExecutionRole"
    assert {t["Key"]: t["Value"] for t in stack_set["Tags"]}[common.OWNER_TAG] == STACK_ID
    template = json.loads(stack_set["TemplateBody"])
    assert stored_id() not in stack_set["TemplateBody"]
    role = template["Resources"]["PivotRole"]["Properties"]
    assert role["RoleName"] == ROLE
    assert len(role["ManagedPolicyArns"]) == len(policy_documents())
    statement = template["Resources"]["PivotRolePolicy1"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Resource"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::acme-data-" + statement["Sid"][1:] + "-0/*"
    }
    assert stack_set_instances() == {(ENVIRONMENT_ACCOUNTS[0], REGION)}

    more = role_properties(EnvironmentAccounts=",".join(ENVIRONMENT_ACCOUNTS), PolicyDocuments=documents(25))
    updated = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", more, physical=ROLE, old=before)
    assert updated["Status"] == "SUCCESS", updated
    assert stack_set_instances() == {(account, REGION) for account in ENVIRONMENT_ACCOUNTS}
    changed = cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")["StackSet"]
    assert '"S24"' in changed["TemplateBody"] and '"S24"' not in stack_set["TemplateBody"]

    rolled_back = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", before, physical=ROLE, old=more)
    assert rolled_back["Status"] == "SUCCESS", rolled_back
    assert stack_set_instances() == {(ENVIRONMENT_ACCOUNTS[0], REGION)}
    restored = cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")["StackSet"]
    assert restored["TemplateBody"] == stack_set["TemplateBody"]

    emptied = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", role_properties(), physical=ROLE, old=before)
    assert emptied["Status"] == "SUCCESS", emptied
    assert emptied["Data"]["StackSetName"] == ""
    with pytest.raises(cloudformation().exceptions.StackSetNotFoundException):
        cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")


def test_delete_removes_the_stack_set_unless_a_replacement_took_it_over(provider: Any) -> None:
    external_id(provider)
    before = role_properties(EnvironmentAccounts=",".join(ENVIRONMENT_ACCOUNTS))
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before)
    after = {**before, "RoleName": "acme-test-pivot-role-2"}
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", after, physical=ROLE, old=before)

    provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", before, physical=ROLE)  # the replacement's cleanup

    assert len(stack_set_instances()) == 2
    assert (
        json.loads(
            cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")["StackSet"]["TemplateBody"]
        )["Resources"]["PivotRole"]["Properties"]["RoleName"]
        == "acme-test-pivot-role-2"
    )

    deleted = provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", after, physical="acme-test-pivot-role-2")

    assert deleted["Status"] == "SUCCESS"
    with pytest.raises(cloudformation().exceptions.StackSetNotFoundException):
        cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")


def test_a_template_over_the_body_limit_goes_through_the_template_bucket(provider: Any) -> None:
    external_id(provider)
    client("s3").create_bucket(Bucket="acme-artifacts")
    large = role_properties(
        PolicyDocuments=documents(75, width=11),
        EnvironmentAccounts=ENVIRONMENT_ACCOUNTS[0],
        TemplateBucket="acme-artifacts",
    )

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", large)

    assert answer["Status"] == "SUCCESS", answer
    stored = client("s3").list_objects_v2(Bucket="acme-artifacts", Prefix="pivot-role/")
    (item,) = stored["Contents"]
    assert item["Size"] > 51_200
    assert len(policy_documents()) >= 8

    without = provider(
        pivot_resources.PIVOT_ROLE_TYPE, "Update", {**large, "TemplateBucket": ""}, physical=ROLE, old=large
    )
    assert without["Status"] == "FAILED"
    assert "over CloudFormation's 51200 for a template body: give TemplateBucket" in without["Reason"]


class SlowStackSets:
    """CloudFormation whose StackSet operations never finish."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def describe_stack_set_operation(self, **kwargs: Any) -> dict[str, Any]:
        answer = self._real.describe_stack_set_operation(**kwargs)
        answer["StackSetOperation"]["Status"] = "RUNNING"
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_stack_set_operation_that_outlasts_the_lambda_is_answered_failed_naming_it(
    provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    external_id(provider)
    real = pivot_resources.Services.from_context

    def slow(context: Any) -> pivot_resources.Services:
        services = real(context)
        return replace(services, cloudformation=SlowStackSets(services.cloudformation), sleep=lambda _: None)

    monkeypatch.setattr(pivot_resources.Services, "from_context", staticmethod(slow))
    monkeypatch.setattr(stack_sets, "STACK_SET_MARGIN_SECONDS", 899.0)

    answer = provider(
        pivot_resources.PIVOT_ROLE_TYPE, "Create", role_properties(EnvironmentAccounts=ENVIRONMENT_ACCOUNTS[0])
    )

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "OutOfTime: StackSet acme-test-pivot-role: creating the pivot role in 111111111111 (us-east-1) (operation "
    )
    assert "still RUNNING" in answer["Reason"]


def test_the_provider_reads_the_release_documents_as_the_stage_passes_them() -> None:
    from pathlib import Path

    files = [
        json.loads(p.read_text()) for p in sorted(Path("tests/fixtures/synthetic/pivot_role/policies").glob("*.json"))
    ]

    assert len(statements_of(files)) > 20


class NoStackSets:
    """CloudFormation without its StackSet API (the sandbox's, or a role without the permissions)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        if "stack_set" in name or "stack_instances" in name:
            raise AssertionError(f"{name} called for a pivot role without environment accounts")
        return getattr(self._real, name)


def test_without_environment_accounts_no_stack_set_call_is_made(provider: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    external_id(provider)
    real = pivot_resources.Services.from_context
    monkeypatch.setattr(
        pivot_resources.Services,
        "from_context",
        staticmethod(lambda context: replace(real(context), cloudformation=NoStackSets(real(context).cloudformation))),
    )
    before, after = role_properties(), role_properties(PolicyDocuments=documents(30))

    answers = [
        provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before),
        provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", after, physical=ROLE, old=before),
        provider(pivot_resources.PIVOT_ROLE_TYPE, "Delete", after, physical=ROLE),
    ]

    assert [a["Status"] for a in answers] == ["SUCCESS"] * 3, answers


def test_a_renamed_stack_set_replaces_the_old_one(provider: Any) -> None:
    external_id(provider)
    before = role_properties(EnvironmentAccounts=ENVIRONMENT_ACCOUNTS[0])
    provider(pivot_resources.PIVOT_ROLE_TYPE, "Create", before)
    # Another account: moto leaves a deleted instance's resources behind, AWS does not.
    after = {**before, "StackSetName": "acme-test-pivot-role-2", "EnvironmentAccounts": ENVIRONMENT_ACCOUNTS[1]}

    answer = provider(pivot_resources.PIVOT_ROLE_TYPE, "Update", after, physical=ROLE, old=before)

    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["StackSetName"] == "acme-test-pivot-role-2"
    with pytest.raises(cloudformation().exceptions.StackSetNotFoundException):
        cloudformation().describe_stack_set(StackSetName="acme-test-pivot-role")
    assert stack_set_instances("acme-test-pivot-role-2") == {(ENVIRONMENT_ACCOUNTS[1], REGION)}
