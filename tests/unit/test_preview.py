"""What a run would change, read from change sets, and the data-loss guard's decision.

AWS: a change set's `ResourceChange` has `Action` (Add, Modify, Remove), `Replacement` (True,
Conditional, False) and `Details` whose `Target.RequiresRecreation` (Never, Conditionally,
Always) says which property forces it
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceTargetDefinition.html).
"""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.core.errors import DataAtRisk
from lambdas.run.planning import guard
from lambdas.run.preview import Preview, StagePreview, holds_data, resource_previews


def change(logical_id: str, kind: str, action: str, replacement: str | None = None, **targets: str) -> dict[str, Any]:
    details = [
        {"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation}}
        for name, recreation in targets.items()
    ]
    body: dict[str, Any] = {"LogicalResourceId": logical_id, "ResourceType": kind, "Action": action, "Details": details}
    if replacement is not None:
        body["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": body}


TEMPLATE = {
    "Resources": {
        "Cluster": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot"},
        "Logs": {"Type": "AWS::Logs::LogGroup", "UpdateReplacePolicy": "Retain"},
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
}


def preview_of(changes: list[dict[str, Any]], old: dict[str, Any] | None = None) -> Preview:
    resources = resource_previews(changes, TEMPLATE, old or TEMPLATE)
    return Preview("upgrade", "2.9.0", "2.8.0", [StagePreview("aurora", "update", "dataall-prod-aurora", resources)])


def test_a_resource_holds_data_by_its_type_or_by_a_policy_that_keeps_it() -> None:
    assert holds_data("AWS::RDS::DBCluster", {}) == "type"
    assert holds_data("AWS::Logs::LogGroup", {"UpdateReplacePolicy": "Retain"}) == "UpdateReplacePolicy Retain"
    assert holds_data("AWS::Logs::LogGroup", {"DeletionPolicy": "Snapshot"}) == "DeletionPolicy Snapshot"
    assert holds_data("AWS::Logs::LogGroup", {"DeletionPolicy": "Delete"}) is None
    assert holds_data("AWS::SQS::Queue", None) is None


def test_the_preview_names_the_properties_that_force_a_replacement() -> None:
    preview = preview_of(
        [change("Cluster", "AWS::RDS::DBCluster", "Modify", "True", DatabaseName="Always", Port="Never")]
    )

    (resource,) = preview.stages[0].resources
    assert (resource.replacement, resource.forcing, resource.properties) == (
        "True",
        ["DatabaseName"],
        ["DatabaseName", "Port"],
    )
    assert resource.holds_data == "type"
    assert [risk.key for risk in preview.at_risk()] == ["aurora/Cluster"]


@pytest.mark.parametrize(
    ("changes", "at_risk"),
    [
        ([change("Cluster", "AWS::RDS::DBCluster", "Modify", "False", Port="Never")], []),
        ([change("Cluster", "AWS::RDS::DBCluster", "Modify", "Conditional", KmsKeyId="Always")], ["aurora/Cluster"]),
        ([change("Logs", "AWS::Logs::LogGroup", "Modify", "True", LogGroupName="Always")], ["aurora/Logs"]),
        ([change("Queue", "AWS::SQS::Queue", "Modify", "True", QueueName="Always")], []),
        ([change("Logs", "AWS::Logs::LogGroup", "Remove")], ["aurora/Logs"]),
        ([change("Queue", "AWS::SQS::Queue", "Remove")], []),
        ([change("Bucket", "AWS::S3::Bucket", "Add")], []),
    ],
)
def test_a_replacement_or_removal_of_what_holds_data_is_at_risk_and_nothing_else(
    changes: list[dict[str, Any]], at_risk: list[str]
) -> None:
    assert [risk.key for risk in preview_of(changes).at_risk()] == at_risk


def test_the_guard_refuses_naming_stage_resource_type_and_forcing_property() -> None:
    preview = preview_of([change("Cluster", "AWS::RDS::DBCluster", "Modify", "True", DatabaseName="Always")])

    with pytest.raises(DataAtRisk) as refused:
        guard(preview, [])

    message = str(refused.value)
    for named in ("stage aurora", "Cluster", "AWS::RDS::DBCluster", "DatabaseName", '"aurora/Cluster"'):
        assert named in message
    assert refused.value.field == "stages.aurora.Cluster"


def test_the_guard_lets_through_exactly_the_resources_the_input_allows() -> None:
    preview = preview_of(
        [
            change("Cluster", "AWS::RDS::DBCluster", "Modify", "True", DatabaseName="Always"),
            change("Logs", "AWS::Logs::LogGroup", "Remove"),
        ]
    )

    guard(preview, ["aurora/Cluster", "aurora/Logs"])
    with pytest.raises(DataAtRisk) as refused:
        guard(preview, ["aurora/Cluster"])
    assert "Logs" in str(refused.value) and "Cluster (" not in str(refused.value)
    assert preview.to_json(["aurora/Cluster"])["refused"] is True
    assert preview.to_json(["aurora/Cluster", "aurora/Logs"])["refused"] is False
