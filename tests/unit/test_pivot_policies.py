"""The pivot role's policies as data: IAM's 6,144-character limit, the split, placeholders,
and the template for the environment accounts. No AWS."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any

import pytest

from lambdas.pivot_role.policies import (
    MAX_MANAGED_POLICIES,
    MAX_POLICY_CHARACTERS,
    PolicyError,
    characters,
    check_placeholders,
    document,
    environment_template,
    policy_name,
    policy_number,
    resolver,
    split,
    statements_of,
    substitute,
    trust_policy,
)

VALUES = {
    "Partition": "aws",
    "AccountId": "111122223333",
    "Region": "eu-west-1",
    "ResourcePrefix": "dataall",
    "EnvName": "prod",
    "PivotRoleName": "dataall-prod-pivot-role",
    "PlatformAccountId": "111122223333",
}
SERVICES = ("s3", "glue", "athena", "kms", "lakeformation", "sagemaker", "quicksight", "redshift-data", "sns", "sqs")


def statement_set(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` statements of very different sizes, each naming resources by placeholder."""
    rng = random.Random(seed)
    statements = []
    for number in range(count):
        service = rng.choice(SERVICES)
        actions = sorted({f"{service}:Action{rng.randrange(10_000)}" for _ in range(rng.randrange(1, 40))})
        resources = [
            f"arn:{{Partition}}:{service}:{{Region}}:{{AccountId}}:thing/{{ResourcePrefix}}-{rng.randrange(10**6)}"
            for _ in range(rng.randrange(1, 12))
        ]
        statements.append({"Sid": f"S{number}", "Effect": "Allow", "Action": actions, "Resource": resources})
    return statements


def grants(statements: list[dict[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    """Every (effect, action, resource, condition) a set of statements grants, with multiplicity."""
    found: Counter[tuple[str, str, str, str]] = Counter()
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        condition = json.dumps(statement.get("Condition"), sort_keys=True)
        for action in actions:
            for resource in resources:
                found[(statement["Effect"], action, resource, condition)] += 1
    return found


# ---------------------------------------------------------------------- the split
def test_a_statement_set_far_over_the_limit_is_split_into_policies_that_each_fit() -> None:
    statements = statement_set(70)
    resolve = resolver(VALUES)
    total = characters(document(resolve(statements)))
    assert total > 7 * MAX_POLICY_CHARACTERS

    policies = split(statements, resolve=resolve)

    for policy in policies:
        assert characters(document(resolve(policy))) <= MAX_POLICY_CHARACTERS
    assert len(policies) <= MAX_MANAGED_POLICIES
    assert len(policies) <= -(-total // MAX_POLICY_CHARACTERS) + 1  # first-fit decreasing wastes little
    packed = [statement for policy in policies for statement in policy]
    assert sorted(s["Sid"] for s in packed) == sorted(s["Sid"] for s in statements)  # none lost, none twice
    assert grants(packed) == grants(statements)


def test_the_split_is_deterministic_and_keeps_each_policys_statements_in_source_order() -> None:
    statements = statement_set(70)
    resolve = resolver(VALUES)

    first, second = split(statements, resolve=resolve), split(json.loads(json.dumps(statements)), resolve=resolve)

    assert first == second
    order = {s["Sid"]: n for n, s in enumerate(statements)}
    for policy in first:
        assert [order[s["Sid"]] for s in policy] == sorted(order[s["Sid"]] for s in policy)


def test_sizes_are_measured_on_the_resolved_document() -> None:
    """A placeholder may be shorter than its value: `{Region}` is 8 characters, a region up to 14."""
    resource = "arn:aws:s3:{Region}:x/" + "a" * 5
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [resource] * 180}
    raw = characters(document([statement]))
    assert raw <= MAX_POLICY_CHARACTERS

    policies = split([statement], resolve=resolver({"Region": "ap-southeast-5"}))

    assert len(policies) == 2
    for policy in policies:
        assert characters(document(substitute(policy, {"Region": "ap-southeast-5"}))) <= MAX_POLICY_CHARACTERS


def test_a_single_oversized_statement_is_divided_by_its_actions() -> None:
    actions = [f"glue:SomeRatherLongActionName{n:04d}" for n in range(400)]
    statement = {"Sid": "Glue", "Effect": "Allow", "Action": actions, "Resource": "arn:aws:glue:::catalog"}
    assert characters(statement) > 2 * MAX_POLICY_CHARACTERS

    policies = split([statement])

    parts = [s for policy in policies for s in policy]
    assert len(parts) >= 3
    in_order = sorted(parts, key=lambda s: int(s["Sid"].removeprefix("GluePart")))
    assert [s["Sid"] for s in in_order] == [f"GluePart{n}" for n in range(1, len(parts) + 1)]
    assert all(s["Resource"] == "arn:aws:glue:::catalog" for s in parts)
    assert [a for s in in_order for a in s["Action"]] == actions
    assert all(characters(document(policy)) <= MAX_POLICY_CHARACTERS for policy in policies)


def test_a_single_oversized_statement_is_divided_by_its_resources() -> None:
    resources = [f"arn:aws:s3:::dataall-bucket-with-a-long-name-{n:04d}/*" for n in range(300)]
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": resources}

    policies = split([statement])

    parts = [s for policy in policies for s in policy]
    assert len(parts) >= 3
    assert all(s["Action"] == ["s3:GetObject", "s3:PutObject"] for s in parts)
    assert sorted(r for s in parts for r in s["Resource"]) == sorted(resources)
    assert all(characters(document(policy)) <= MAX_POLICY_CHARACTERS for policy in policies)


def test_a_statement_too_large_in_both_lists_is_divided_by_both() -> None:
    actions = [f"s3:LongishActionName{n:04d}" for n in range(250)]
    resources = [f"arn:aws:s3:::dataall-bucket-with-a-long-name-{n:04d}/*" for n in range(150)]
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}

    policies = split([statement])

    parts = [s for policy in policies for s in policy]
    assert all(characters(document(policy)) <= MAX_POLICY_CHARACTERS for policy in policies)
    assert grants(parts) == grants([statement])
    assert len(parts) <= 8  # tiles of both lists, not one statement per action


@pytest.mark.parametrize(
    "statement",
    [
        {"Sid": "Huge", "Effect": "Allow", "NotAction": [f"s3:Action{n:05d}" for n in range(600)], "Resource": "*"},
        {
            "Sid": "Huge",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringLike": {"s3:prefix": [f"home/user-{n:05d}/*" for n in range(400)]}},
        },
    ],
    ids=["not-action", "condition"],
)
def test_a_statement_that_cannot_be_divided_is_refused_by_name(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match=r"statement Huge is \d+ characters.*cannot be divided"):
        split([statement])


def test_more_than_ten_policies_are_refused_with_a_clear_message() -> None:
    statements = statement_set(140)

    with pytest.raises(PolicyError) as refused:
        split(statements, resolve=resolver(VALUES))

    message = str(refused.value)
    assert re.search(r"\(\d+ characters\) need \d\d managed policies of at most 6144 characters", message)
    assert "IAM attaches at most 10 managed policies to a role" in message


# ---------------------------------------------------------------------- statements and placeholders
@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}], "grants every action"),
        (
            [
                {"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
                {"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]},
            ],
            "repeated: A",
        ),
        ([{"Statement": [{"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"}]}], "Effect"),
        ([{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}], "Resource"),
        ([{"Statement": [{"Sid": "no-dashes", "Effect": "Allow", "Action": "s3:Get", "Resource": "*"}]}], "Sid"),
        ([{"Version": "2012-10-17"}], "no Statement"),
    ],
)
def test_statements_iam_would_refuse_are_refused_first(documents: list[Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        statements_of(documents)


def test_placeholders_are_substituted_and_iam_policy_variables_left_alone() -> None:
    statement = {"Resource": "arn:{Partition}:s3:::{ResourcePrefix}-${aws:username}/*"}

    assert substitute(statement, VALUES) == {"Resource": "arn:aws:s3:::dataall-${aws:username}/*"}
    with pytest.raises(PolicyError, match=r"unknown placeholder\(s\) \{Acount\}"):
        check_placeholders({"Resource": "arn:aws:iam::{Acount}:role/x"})
    with pytest.raises(PolicyError, match=r"no value for placeholder\(s\) \{Region\}"):
        resolver({"Partition": "aws"})({"Resource": "arn:{Partition}:logs:{Region}"})


def test_the_role_owns_the_policies_named_after_it() -> None:
    assert policy_name("acme-test-pivot-role", 3) == "acme-test-pivot-role-policy-3"
    assert policy_number("acme-test-pivot-role", "acme-test-pivot-role-policy-3") == 3
    assert policy_number("acme-test-pivot-role", "acme-test-pivot-role-policy-x") is None
    assert policy_number("acme-test-pivot-role", "acme-test-pivot-role2-policy-1") is None


# ---------------------------------------------------------------------- trust and template
def test_the_trust_policy_needs_the_external_id_and_a_platform_role() -> None:
    trust = trust_policy(
        partition="aws",
        trusted_account_id="111122223333",
        role_patterns=["dataall-prod-*"],
        external_id="secret-id",
        services=["lakeformation.amazonaws.com", "glue.amazonaws.com"],
    )

    platform, services = trust["Statement"]
    assert platform["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert platform["Condition"] == {
        "StringEquals": {"sts:ExternalId": "secret-id"},
        "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::111122223333:role/dataall-prod-*"]},
    }
    assert services["Principal"] == {"Service": ["glue.amazonaws.com", "lakeformation.amazonaws.com"]}


def test_the_environment_template_names_each_instances_account_and_hides_the_external_id() -> None:
    statements: list[dict[str, Any]] = [
        {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents",
         "Resource": "arn:{Partition}:logs:{Region}:{AccountId}:log-group:/dataall*"},
        {"Sid": "Own", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:{Partition}:s3:::dataall-{AccountId}/${aws:username}/*"},
        {"Sid": "Plain", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*",
         "Condition": {"StringEquals": {"aws:userid": "${aws:userid}"}}},
    ]  # fmt: skip

    template = environment_template(
        role_name="dataall-prod-pivot-role",
        policies=[statements[:2], statements[2:]],
        platform_account_id="111122223333",
        role_patterns=["dataall-prod-*"],
        max_session_duration=43200,
    )

    resources = template["Resources"]
    assert set(resources) == {"PivotRole", "PivotRolePolicy1", "PivotRolePolicy2"}
    first = resources["PivotRolePolicy1"]["Properties"]
    assert first["ManagedPolicyName"] == "dataall-prod-pivot-role-policy-1"
    logs, own = first["PolicyDocument"]["Statement"]
    assert logs["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/dataall*"
    }
    assert own["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::dataall-${AWS::AccountId}/${!aws:username}/*"}
    plain = resources["PivotRolePolicy2"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert plain["Condition"] == {"StringEquals": {"aws:userid": "${aws:userid}"}}
    role = resources["PivotRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [{"Ref": "PivotRolePolicy1"}, {"Ref": "PivotRolePolicy2"}]
    assert role["MaxSessionDuration"] == 43200
    condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {"sts:ExternalId": {"Ref": "ExternalId"}}
    assert condition["ArnLike"]["aws:PrincipalArn"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::111122223333:role/dataall-prod-*"}
    ]
    assert template["Parameters"]["ExternalId"]["NoEcho"] is True
    assert "secret" not in json.dumps(template)
