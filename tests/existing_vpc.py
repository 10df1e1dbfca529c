"""An operator's VPC for data.all's `vpc_id` (the release's `VpcId`): its shape as CDK's VPC lookup answers it
(`installer.upstream.vpc_lookup_context`), the parameters Plan fills from it, and a template as CloudFormation
makes it with them (`resolved`: the conditions evaluated, what they leave out gone, the parameters' values in
place), for the tests that compare the release's vpc stage with data.all's synthesis of a looked-up VPC."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from blueprints.dataall import rules

#: ids of the forms EC2 draws, recognisable as a placeholder (`da7a11`)
VPC = "vpc-0da7a1100000000aa"
CIDR = "10.213.0.0/16"
PRIVATE = (
    ("subnet-0da7a1100000000a1", "10.213.0.0/24", "eu-west-1a", "rtb-0da7a1100000000a1"),
    ("subnet-0da7a1100000000a2", "10.213.1.0/24", "eu-west-1b", "rtb-0da7a1100000000a2"),
)
PUBLIC = (
    ("subnet-0da7a1100000000b1", "10.213.128.0/20", "eu-west-1a", "rtb-0da7a1100000000b0"),
    ("subnet-0da7a1100000000b2", "10.213.144.0/20", "eu-west-1b", "rtb-0da7a1100000000b0"),
)


def lookup(public: bool = True) -> dict[str, Any]:
    """The VPC as CDK's VPC context provider answers (`returnAsymmetricSubnets`: subnet groups)."""

    def group(name: str, subnets: tuple[tuple[str, str, str, str], ...]) -> dict[str, Any]:
        return {
            "name": name,
            "type": name,
            "subnets": [
                {"subnetId": s, "cidr": c, "availabilityZone": az, "routeTableId": rt} for s, c, az, rt in subnets
            ],
        }

    groups = [group("Private", PRIVATE), *([group("Public", PUBLIC)] if public else [])]
    return {"vpcId": VPC, "vpcCidrBlock": CIDR, "ownerAccountId": "111111111111", "availabilityZones": [],
            "subnetGroups": groups}  # fmt: skip


#: the security group of that VPC's own endpoints (`VpcEndpointsSecurityGroupId`, data.all's `vpc_endpoints_sg`)
ENDPOINTS_GROUP = "sg-0da7a1100000000e1"


#: the installation's names as data.all's synthesis had them (`resource_prefix`, `envname`): what the names rule's
#: parameters make of a template to compare it with data.all's own
SYNTHESIZED_NAMES = {rules.RESOURCE_PREFIX: "dataall", rules.ENV_NAME: "dev"}


def parameters(public: bool = True, endpoints_group: str = "") -> dict[str, Any]:
    """The options `VpcId` and `VpcEndpointsSecurityGroupId` (empty: data.all makes its endpoints) and what Plan
    fills for that VPC (a CommaDelimitedList as the list CloudFormation makes of it)."""
    return {
        **SYNTHESIZED_NAMES,
        rules.VPC_ID: VPC,
        rules.VPC_ENDPOINTS_SG: endpoints_group,
        rules.VPC_CIDR: CIDR,
        rules.VPC_PRIVATE_ROUTE_TABLES: [rt for *_, rt in PRIVATE],
        rules.VPC_PUBLIC_SUBNETS: ",".join(s for s, *_ in PUBLIC) if public else "",
        **{rules.vpc_private_subnet(n): s for n, (s, *_) in enumerate(PRIVATE, start=1)},
    }


def _condition(node: Any, values: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    if isinstance(node, dict) and list(node) == ["Condition"]:
        return _condition(conditions[node["Condition"]], values, conditions)
    ((function, arguments),) = node.items()
    if function == "Fn::Equals":
        left, right = (_value(a, values, conditions) for a in arguments)
        return bool(left == right)
    if function == "Fn::Not":
        return not _condition(arguments[0], values, conditions)
    results = [_condition(a, values, conditions) for a in arguments]
    return all(results) if function == "Fn::And" else any(results)


_GONE = object()


def _value(node: Any, values: Mapping[str, Any], conditions: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        items = [_value(item, values, conditions) for item in node]
        return [item for item in items if item is not _GONE]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Ref"] and node["Ref"] in values:
        return values[node["Ref"]]
    if list(node) == ["Fn::If"] and node["Fn::If"][0] in conditions:
        name, then, otherwise = node["Fn::If"]
        chosen = then if _condition(conditions[name], values, conditions) else otherwise
        return _GONE if chosen == {"Ref": "AWS::NoValue"} else _value(chosen, values, conditions)
    if list(node) == ["Fn::Sub"] and isinstance(node["Fn::Sub"], str):  # of the values' variables alone
        names = re.findall(r"\$\{([^}!]+)\}", node["Fn::Sub"])
        if names and all(name in values and isinstance(values[name], str) for name in names):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(values[m[1]]), node["Fn::Sub"])
    return _literal({key: _value(item, values, conditions) for key, item in node.items()}, node)


def _literal(result: dict[str, Any], node: Mapping[str, Any]) -> Any:
    """`result` (`node` with the values in place) evaluated where the values made a function's arguments literals
    (`Fn::Split` of a string, `Fn::Select` of a list, `Fn::Join` of strings); else without what `AWS::NoValue` left."""
    if list(result) == ["Fn::Split"] and isinstance(result["Fn::Split"][1], str):
        separator, joined = result["Fn::Split"]
        return joined.split(separator)
    if list(result) == ["Fn::Select"] and isinstance(result["Fn::Select"][1], list):
        index, items = result["Fn::Select"]
        return items[int(index)]
    if list(result) == ["Fn::Join"] and result != node:  # a join of what the values made literals
        separator, items = result["Fn::Join"]
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return separator.join(items)
    return {key: item for key, item in result.items() if item is not _GONE}


def resolved(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """`template` as CloudFormation makes it with the parameters `values`: each condition that reads only them
    evaluated, the resources and outputs it leaves out gone, their `Fn::If`s chosen, their `Ref`s (and `Fn::Sub`
    variables) the values, `Fn::Join`s, `Fn::Split`s and `Fn::Select`s of literals made; the parameters given and the
    conditions evaluated no longer declared."""
    conditions = template.get("Conditions") or {}
    known = {name for name in conditions if _decidable(conditions[name], values, conditions)}
    kept = {name: c for name, c in conditions.items() if name not in known}

    def present(body: Mapping[str, Any]) -> bool:
        name = body.get("Condition")
        return name is None or name not in known or _condition(conditions[name], values, conditions)

    result: dict[str, Any] = dict(template)
    for section in ("Resources", "Outputs"):
        if section in template:
            result[section] = {
                key: _value(body, values, {n: conditions[n] for n in known})
                for key, body in template[section].items()
                if present(body)
            }
            for body in result[section].values():
                if body.get("Condition") in known:
                    del body["Condition"]
    result["Parameters"] = {k: p for k, p in (template.get("Parameters") or {}).items() if k not in values}
    result["Conditions"] = kept
    return {key: part for key, part in result.items() if part or key == "Resources"}


def _decidable(node: Any, values: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    text = json.dumps(node)
    refs = [part.split('"')[0] for part in text.split('{"Ref": "')[1:]]
    refs += [name for name in re.findall(r"\$\{([^}!]+)\}", text) if not name.startswith("AWS::")]
    names = [part.split('"')[0] for part in text.split('{"Condition": "')[1:]]
    return all(r in values for r in refs) and all(_decidable(conditions[n], values, conditions) for n in names)
