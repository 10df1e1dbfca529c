"""The benchmarks' floor (`bench/critical_path.py`): a stack's modelled creation and the
longest chain of a release graph, on hand-made templates and latency figures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.critical_path import migrate_estimate, release_floor, schedule, stack_create_estimate
from lambdas.release.manifest import ManifestError
from lambdas.stage.latency import CUSTOM_RESOURCE_DISPATCH, Durations, LatencyModel

MODEL = LatencyModel(
    {
        "AWS::KMS::Key": Durations(create=20, update=60, delete=20),
        "AWS::SQS::Queue": Durations(create=60, update=5, delete=3),
        "AWS::SNS::Topic": Durations(create=2, update=2, delete=2),
        "AWS::EC2::NatGateway": Durations(create=105, update=105, delete=75),
        "AWS::Lambda::Function": Durations(create=3, update=3, delete=3),
        "AWS::Lambda::Function (in a VPC)": Durations(create=60, update=60, delete=1800),
        "(stack overhead)": Durations(create=25, update=10, delete=10),
        "(change set create)": Durations(create=10, update=0, delete=0),
        "AWS::RDS::DBClusterSnapshot": Durations(create=180, update=0, delete=30),
    }
)
#: a create is CreateStack: the stack overhead, no change set
CREATE_OVERHEAD = 25

#: a key, a queue encrypted with it, and a topic beside them: the chain is key -> queue
QUEUE: dict[str, Any] = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
    }
}

#: a function in subnets (the slow "in a VPC" row); a NAT gateway before it only when Prod
NETWORK: dict[str, Any] = {
    "Parameters": {
        "Prod": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
        "Subnets": {"Type": "List<String>"},
    },
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Prod"}, "true"]}},
    "Resources": {
        "Nat": {"Type": "AWS::EC2::NatGateway", "Condition": "IsProd", "Properties": {"SubnetId": "subnet-1"}},
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "VpcConfig": {"SubnetIds": {"Ref": "Subnets"}, "SecurityGroupIds": []},
                "Environment": {"Variables": {"NAT": {"Fn::If": ["IsProd", {"Ref": "Nat"}, {"Ref": "AWS::NoValue"}]}}},
            },
        },
        "Helper": {"Type": "AWS::Lambda::Function", "Properties": {}},
    },
}

#: a custom resource: the model's dispatch time, its handler's run time is overhead
APP: dict[str, Any] = {"Resources": {"Thing": {"Type": "Custom::Thing", "Properties": {"ServiceToken": "arn"}}}}


def test_a_stack_takes_the_stack_overhead_and_its_longest_resource_chain() -> None:
    estimate = stack_create_estimate(QUEUE, {}, MODEL)

    assert estimate.chain == ("Key", "Queue")
    assert estimate.resources == 20 + 60
    assert estimate.seconds == CREATE_OVERHEAD + 80


@pytest.mark.parametrize(
    ("prod", "chain", "resources"),
    [("false", ("Function",), 60), ("true", ("Nat", "Function"), 105 + 60)],
)
def test_conditions_pick_the_resources_and_dependencies_a_stack_has(
    prod: str, chain: tuple[str, ...], resources: float
) -> None:
    estimate = stack_create_estimate(NETWORK, {"Prod": prod, "Subnets": "subnet-1,subnet-2"}, MODEL)

    assert estimate.chain == chain
    assert estimate.resources == resources, "a function with subnets takes the in-a-VPC row"


def test_a_custom_resource_takes_the_models_dispatch_time() -> None:
    assert stack_create_estimate(APP, {}, MODEL).resources == CUSTOM_RESOURCE_DISPATCH.create


def test_migrate_takes_the_models_snapshot_time_when_the_run_took_a_snapshot() -> None:
    assert migrate_estimate(MODEL, took_snapshot=True) == 180
    assert migrate_estimate(MODEL, took_snapshot=False) == 0


def test_the_figures_are_the_sandboxs_own_latency_model() -> None:
    model = LatencyModel.load()

    estimate = stack_create_estimate(QUEUE, {}, model)

    assert estimate.seconds == (
        model.stack_overhead("create")
        + model.resource("AWS::KMS::Key", "create")
        + model.resource("AWS::SQS::Queue", "create")
    )


def test_the_critical_path_is_the_longest_chain_of_stages_and_actions() -> None:
    """network 85 ─┐
    queue 105 ─ migrate 180 ─ app 26: the chain through migrate is the longest (311)."""
    floor = release_floor(
        templates={"network": NETWORK, "queue": QUEUE, "app": APP},
        parameters={"network": {"Subnets": "subnet-1"}},
        dependencies={"network": set(), "queue": set(), "migrate": {"queue"}, "app": {"network", "migrate"}},
        actions={"migrate": 180},
        model=MODEL,
    )
    plan = floor.schedule

    assert plan.durations == {"network": 85, "queue": 105, "app": 26, "migrate": 180}
    assert plan.path == ("queue", "migrate", "app")
    assert plan.length == 105 + 180 + 26
    assert plan.start["app"] == 285
    assert plan.total == 85 + 105 + 180 + 26, "one at a time: the sum"
    assert plan.slack("network") == 285 - 85
    assert plan.slack("migrate") == 0


def test_dependencies_on_steps_that_are_off_are_ignored_and_ties_go_to_the_first_name() -> None:
    plan = schedule({"a": 10, "b": 10, "c": 5}, {"c": {"a", "b", "off"}})

    assert plan.path == ("a", "c")
    assert plan.length == 15


def test_a_cycle_is_refused_with_its_steps_named() -> None:
    with pytest.raises(ManifestError, match=r"a -> b -> a|b -> a -> b"):
        schedule({"a": 1, "b": 1}, {"a": {"b"}, "b": {"a"}})


def test_the_template_is_not_changed_by_estimating_it() -> None:
    before = json.dumps(NETWORK, sort_keys=True)

    stack_create_estimate(NETWORK, {"Prod": "true", "Subnets": "subnet-1"}, MODEL)

    assert json.dumps(NETWORK, sort_keys=True) == before


def test_a_noecho_value_the_run_recorded_masked_gets_a_stand_in_that_meets_its_pattern() -> None:
    """The run records CloudFormation's mask for a NoEcho parameter (data.all's pivot-role external
    id); the floor estimates the stack with a stand-in that its AllowedPattern accepts (the value's
    content does not change how long a stack takes), and refuses nothing else for it."""
    from bench.install import unmasked

    template = {
        "Parameters": {"ExternalId": {"Type": "String", "NoEcho": True, "AllowedPattern": "[\\w+=,.@:/-]{2,1224}"}},
        "Resources": QUEUE["Resources"],
    }
    recorded = {"ExternalId": "****"}
    with pytest.raises(Exception, match="ExternalId"):
        stack_create_estimate(template, recorded, MODEL)
    given = unmasked(recorded)
    assert given["ExternalId"] != "****"
    assert stack_create_estimate(template, given, MODEL).seconds == stack_create_estimate(QUEUE, {}, MODEL).seconds
