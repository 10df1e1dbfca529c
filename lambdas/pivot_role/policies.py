"""The pivot role's policies, as data: placeholders, IAM's size limit, the split, the trust
policy, and the CloudFormation template that rolls the role out to environment accounts.

The release ships the statements as IAM policy documents whose strings may name
`{Partition}`, `{AccountId}`, `{Region}`, `{ResourcePrefix}`, `{EnvName}`,
`{PivotRoleName}` and `{PlatformAccountId}` (single braces: CloudFormation and cfn-lint
take `${...}` for their own, and IAM's policy variables `${aws:...}` stay untouched).

IAM caps a managed policy at 6,144 characters (white space not counted) and a role at 10
managed policies, so the statements are packed first-fit decreasing into as few documents
as fit; a statement too large on its own is divided by its Action or Resource list. No
AWS call here: the provider and the build share this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

POLICY_VERSION = "2012-10-17"
#: IAM's limit on a managed policy document, white space excluded.
MAX_POLICY_CHARACTERS = 6144
#: IAM's default quota of managed policies attached to one role.
MAX_MANAGED_POLICIES = 10
#: CloudFormation's limit on a template passed in the request (TemplateBody).
MAX_TEMPLATE_BODY_BYTES = 51_200

PLACEHOLDERS = (
    "Partition",
    "AccountId",
    "Region",
    "ResourcePrefix",
    "EnvName",
    "PivotRoleName",
    "PlatformAccountId",
)
#: Placeholders that differ between the accounts and regions of a StackSet's instances.
PER_INSTANCE = {"Partition": "AWS::Partition", "AccountId": "AWS::AccountId", "Region": "AWS::Region"}
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z]+)\}")
_SID = re.compile(r"^[A-Za-z0-9]*$")
# `{"Version":"2012-10-17","Statement":[]}`: what a document costs besides its statements.
_DOCUMENT_OVERHEAD = len('{"Version":"2012-10-17","Statement":[]}')
_DIVISIBLE = ("Action", "Resource")


class PolicyError(ValueError):
    """Policy documents IAM would refuse, or that cannot be attached to one role."""


def minified(document: Any) -> str:
    """The document as IAM measures it: JSON without white space between tokens."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def characters(document: Any) -> int:
    return len(minified(document))


def document(statements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": [dict(s) for s in statements]}


# ---------------------------------------------------------------------- statements
def statements_of(documents: Iterable[Any]) -> list[dict[str, Any]]:
    """Every statement of the documents, in order, checked for what IAM needs of each."""
    found: list[dict[str, Any]] = []
    for number, doc in enumerate(documents, 1):
        if not isinstance(doc, Mapping) or "Statement" not in doc:
            raise PolicyError(f"policy document {number} has no Statement")
        statements = doc["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            found.append(_checked(statement, f"policy document {number}"))
    if not found:
        raise PolicyError("the pivot role needs at least one policy statement")
    sids = [s["Sid"] for s in found if s.get("Sid")]
    duplicates = sorted({sid for sid in sids if sids.count(sid) > 1})
    if duplicates:
        raise PolicyError(f"statement ids must be unique, repeated: {', '.join(duplicates)}")
    return found


def _checked(statement: Any, where: str) -> dict[str, Any]:
    if not isinstance(statement, Mapping):
        raise PolicyError(f"{where}: a statement is not an object: {statement!r}")
    name = statement.get("Sid") or minified(statement)[:80]
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: statement {name}: Effect must be Allow or Deny")
    if not ({"Action", "NotAction"} & set(statement)) or not ({"Resource", "NotResource"} & set(statement)):
        raise PolicyError(f"{where}: statement {name}: needs Action (or NotAction) and Resource (or NotResource)")
    if "*" in _as_list(statement.get("Action")):
        raise PolicyError(f"{where}: statement {name}: grants every action")
    if not _SID.match(str(statement.get("Sid", ""))):
        raise PolicyError(f"{where}: statement {name}: Sid must be letters and digits only")
    return dict(statement)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# ---------------------------------------------------------------------- placeholders
def placeholders_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return {name for inner in value.values() for name in placeholders_in(inner)}
    if isinstance(value, list):
        return {name for inner in value for name in placeholders_in(inner)}
    return set()


def check_placeholders(value: Any) -> None:
    unknown = placeholders_in(value) - set(PLACEHOLDERS)
    if unknown:
        raise PolicyError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}; "
            f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        )


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """`value` with each `{Name}` of `values` replaced; other placeholders kept."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {key: substitute(inner, values) for key, inner in value.items()}
    if isinstance(value, list):
        return [substitute(inner, values) for inner in value]
    return value


def resolver(values: Mapping[str, str]) -> Callable[[Any], Any]:
    """A resolve function that refuses a placeholder it has no value for."""

    def resolve(value: Any) -> Any:
        resolved = substitute(value, values)
        left = placeholders_in(resolved)
        if left:
            raise PolicyError(f"no value for placeholder(s) {', '.join('{' + p + '}' for p in sorted(left))}")
        return resolved

    return resolve


# ---------------------------------------------------------------------- the split
def split(
    statements: Sequence[Mapping[str, Any]],
    *,
    resolve: Callable[[Any], Any] = lambda value: value,
    limit: int = MAX_POLICY_CHARACTERS,
    max_policies: int = MAX_MANAGED_POLICIES,
) -> list[list[dict[str, Any]]]:
    """The statements packed into policies of at most `limit` characters each.

    Sizes are measured on `resolve(statement)` (the document IAM will store) while the
    statements are returned as given, so a template can still substitute per account.
    Deterministic: the same statements always give the same policies, so an Update with
    unchanged properties changes nothing and a rollback converges back exactly.
    """
    capacity = limit - _DOCUMENT_OVERHEAD

    def size(statement: Mapping[str, Any]) -> int:
        return characters(resolve(statement))

    pieces: list[tuple[int, tuple[int, int], dict[str, Any]]] = []
    for index, statement in enumerate(statements):
        for part, piece in enumerate(_divide(dict(statement), lambda s: size(s) <= capacity)):
            pieces.append((size(piece), (index, part), piece))

    bins: list[list[tuple[tuple[int, int], dict[str, Any]]]] = []
    used: list[int] = []
    for piece_size, order, piece in sorted(pieces, key=lambda p: (-p[0], p[1])):
        for number, content in enumerate(bins):
            cost = piece_size + (1 if content else 0)  # the comma between statements
            if used[number] + cost <= capacity:
                content.append((order, piece))
                used[number] += cost
                break
        else:
            bins.append([(order, piece)])
            used.append(piece_size)
    sids = [piece["Sid"] for _, _, piece in pieces if piece.get("Sid")]
    if len(sids) != len(set(sids)):
        repeated = sorted({sid for sid in sids if sids.count(sid) > 1})
        raise PolicyError(f"dividing statements repeated the statement ids {', '.join(repeated)}: rename them")
    if len(bins) > max_policies:
        total = sum(p[0] for p in pieces)
        raise PolicyError(
            f"the pivot role's statements ({total} characters) need {len(bins)} managed policies of at most "
            f"{limit} characters, and IAM attaches at most {max_policies} managed policies to a role: "
            "remove or merge statements, or shorten their Action and Resource lists"
        )
    return [[piece for _, piece in sorted(content, key=lambda c: c[0])] for content in bins]


def _divide(statement: dict[str, Any], fits: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """`statement` as one or more statements that each fit, granting together the same.

    Only Action and Resource lists are divided: an Allow (or Deny) of actions A and B on R
    is the same as A on R plus B on R. NotAction, NotResource and Condition cannot be.
    """
    if fits(statement):
        return [statement]
    keys = sorted(
        (key for key in _DIVISIBLE if len(_as_list(statement.get(key))) > 1),
        key=lambda key: (-characters(statement[key]), key),
    )
    if not keys:
        name = statement.get("Sid") or minified(statement)[:80]
        raise PolicyError(
            f"statement {name} is {characters(statement)} characters, over IAM's limit for a whole policy, "
            "and cannot be divided: only its Action and Resource lists can be (NotAction, NotResource "
            "and Condition cannot)"
        )
    key, items = keys[0], _as_list(statement[keys[0]])
    if len(keys) == 2 and not fits({**statement, key: [min(items, key=characters)]}):
        # The other list is too long even beside one item of this one: halve it first,
        # else every item of this list would become a statement of its own.
        other = _as_list(statement[keys[1]])
        halves = [other[: len(other) // 2], other[len(other) // 2 :]]
        parts = [part for half in halves for part in _divide({**statement, keys[1]: half}, fits)]
    else:
        chunks: list[list[Any]] = []
        for item in items:
            if chunks and fits({**statement, key: [*chunks[-1], item]}):
                chunks[-1].append(item)
            else:
                chunks.append([item])
        parts = [part for chunk in chunks for part in _divide({**statement, key: chunk}, fits)]
    if statement.get("Sid"):
        parts = [{**part, "Sid": f"{statement['Sid']}Part{number}"} for number, part in enumerate(parts, 1)]
    return parts


# ---------------------------------------------------------------------- names
def policy_name(role_name: str, number: int) -> str:
    return f"{role_name}-policy-{number}"


def policy_number(role_name: str, name: str) -> int | None:
    """n when `name` is `{role_name}-policy-{n}`, one of the role's own policies."""
    match = re.fullmatch(re.escape(role_name) + r"-policy-([1-9][0-9]*)", name)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------- trust
def trust_policy(
    *,
    partition: str,
    trusted_account_id: str,
    role_patterns: Sequence[str],
    external_id: Any,
    services: Sequence[str] = (),
) -> dict[str, Any]:
    """Who may assume the pivot role: the platform's roles, with the external id."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "PlatformRoles",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{trusted_account_id}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"sts:ExternalId": external_id},
                "ArnLike": {
                    "aws:PrincipalArn": [
                        f"arn:{partition}:iam::{trusted_account_id}:role/{pattern}" for pattern in role_patterns
                    ]
                },
            },
        }
    ]
    if services:
        statements.append(
            {
                "Sid": "PlatformServices",
                "Effect": "Allow",
                "Principal": {"Service": sorted(services)},
                "Action": "sts:AssumeRole",
            }
        )
    return document(statements)


# ---------------------------------------------------------------------- environment accounts
def environment_template(
    *,
    role_name: str,
    policies: Sequence[Sequence[Mapping[str, Any]]],
    platform_account_id: str,
    role_patterns: Sequence[str],
    services: Sequence[str] = (),
    max_session_duration: int = 3600,
) -> dict[str, Any]:
    """The pivot role as a CloudFormation template for a StackSet's instances.

    `policies` are the split statements with `{Partition}`, `{AccountId}` and `{Region}`
    still in place: they become `Fn::Sub` so each instance names its own account.
    The external id is a NoEcho parameter, kept out of the template's text.
    """
    trust = trust_policy(
        partition="{Partition}",
        trusted_account_id=platform_account_id,
        role_patterns=role_patterns,
        external_id={"Ref": "ExternalId"},
        services=services,
    )
    resources: dict[str, Any] = {}
    for number, statements in enumerate(policies, 1):
        resources[f"PivotRolePolicy{number}"] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": policy_name(role_name, number),
                # Stable: a changed Description would make CloudFormation replace a named policy.
                "Description": f"Pivot role {role_name}: managed policy {number}",
                "PolicyDocument": _with_sub(document(statements)),
            },
        }
    resources["PivotRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": role_name,
            "Description": f"The data platform's pivot role, assumed from account {platform_account_id}",
            "AssumeRolePolicyDocument": _with_sub(trust),
            "MaxSessionDuration": max_session_duration,
            "ManagedPolicyArns": [{"Ref": f"PivotRolePolicy{n}"} for n in range(1, len(policies) + 1)],
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"dataall-installer: pivot role {role_name} of the platform in account {platform_account_id}",
        "Parameters": {
            "ExternalId": {
                "Type": "String",
                "NoEcho": True,
                "MinLength": 2,
                "MaxLength": 1224,
                "Description": "The external id the platform presents when it assumes the pivot role",
            }
        },
        "Resources": resources,
        "Outputs": {"PivotRoleArn": {"Value": {"Fn::GetAtt": ["PivotRole", "Arn"]}}},
    }


def _with_sub(value: Any) -> Any:
    """Strings naming per-instance placeholders as `Fn::Sub`; IAM's `${...}` escaped there."""
    if isinstance(value, str):
        names = placeholders_in(value) & set(PER_INSTANCE)
        if not names:
            return value
        text = value.replace("${", "${!")
        for name in names:
            text = text.replace("{" + name + "}", "${" + PER_INSTANCE[name] + "}")
        return {"Fn::Sub": text}
    if isinstance(value, Mapping):
        return {key: _with_sub(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_with_sub(inner) for inner in value]
    return value


def fingerprint(*parts: Any) -> str:
    """A short digest of what a deployment consists of (compared, never reversed)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
