"""data.all's OpenSearch service-linked role: made by its stage only where the account has none
(`rules.service_linked_roles_when_missing`, `lambdas.run.service_linked_roles`). A service-linked role is the
account's, one per service (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html):
data.all's stack, which makes it unconditionally, fails at create in an account that has it already."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from blueprints.dataall import rules
from lambdas.data.records import StageRecord
from lambdas.run import service_linked_roles
from lambdas.run.service_linked_roles import ROLES
from tests.unit.conftest import REGION

SYNTHESIS = rules.Synthesis(account="", region="", asset_buckets=frozenset(), asset_keys={})
PARAMETER = "OpenSearchServiceLinkedRoleMade"


def _opensearch(service: str = "opensearchservice.amazonaws.com") -> dict[str, Any]:
    return {"Resources": {"Slr": {"Type": "AWS::IAM::ServiceLinkedRole", "Properties": {"AWSServiceName": service}}}}


def test_data_alls_service_linked_role_is_made_under_the_condition_plan_fills() -> None:
    result = _opensearch()
    rules.service_linked_roles_when_missing(result, SYNTHESIS)

    assert result["Resources"]["Slr"]["Condition"] == "DataallOpenSearchServiceLinkedRoleMade"
    assert result["Conditions"]["DataallOpenSearchServiceLinkedRoleMade"] == {
        "Fn::Equals": [{"Ref": PARAMETER}, "true"]
    }
    assert result["Parameters"][PARAMETER]["AllowedValues"] == ["true", "false"]
    # the table the workflow reads is the rule's
    assert {p: service for service, (p, _) in rules.SERVICE_LINKED_ROLES.items()} == ROLES
    with pytest.raises(rules.RuleError, match=r"a service-linked role of 'other\.amazonaws\.com', which no rule knows"):
        rules.service_linked_roles_when_missing(_opensearch("other.amazonaws.com"), SYNTHESIS)


class _Step:
    def __init__(self, name: str, reads: bool = True) -> None:
        self.name, self.reads = name, reads

    def reads_param(self, name: str) -> bool:
        return self.reads and name == PARAMETER


def _records(**parameters: dict[str, str]) -> dict[str, StageRecord]:
    """The ledger's stage records: each stage installed with these parameters."""
    return {
        name: StageRecord(stage=name, stack_name=f"x-{name}", stack_id="id", version="1", template_sha256="0",
                          parameters=given, outputs={}, status="CREATE_COMPLETE", stateful=True, run="r")
        for name, given in parameters.items()
    }  # fmt: skip


@mock_aws
def test_plan_makes_the_role_only_where_the_account_has_none_and_never_flips_an_installed_stage() -> None:
    iam = boto3.client("iam", region_name=REGION)
    steps: Any = [_Step("opensearch")]

    # a new stage, no role in the account: the stage makes it
    assert service_linked_roles.make(steps, _records(), lambda: iam) == {PARAMETER: "true"}
    # the account has it (another domain made it, or another installation): the stage leaves it be
    iam.create_service_linked_role(AWSServiceName="opensearchservice.amazonaws.com")
    assert service_linked_roles.make(steps, _records(), lambda: iam) == {PARAMETER: "false"}
    # an installed stage keeps what it was installed with, whatever the account holds now: a redeploy never
    # deletes the role it made, nor makes one beside another's (a stage of a release before the rule made it)
    made, left, older = (
        _records(opensearch={PARAMETER: "true"}),
        _records(opensearch={PARAMETER: "false"}),
        _records(opensearch={}),
    )
    assert service_linked_roles.make(steps, made, lambda: iam) == {PARAMETER: "true"}
    assert service_linked_roles.make(steps, left, lambda: iam) == {PARAMETER: "false"}
    assert service_linked_roles.make(steps, older, lambda: iam) == {PARAMETER: "true"}
    # no stage reads it: no value, no IAM call
    vpc: Any = [_Step("vpc", reads=False)]
    assert service_linked_roles.make(vpc, _records(), lambda: 1 / 0) == {}
