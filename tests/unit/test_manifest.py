"""The manifest contract: schema, graph checks, options, waves and parameter resolution."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lambdas.release.manifest import Manifest, ManifestError, resolve_parameters, schema_errors

SHA = "0" * 64


def stage(name: str, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": name,
        "template": f"blueprints/{name}.template.json",
        "parameters": {},
        "depends_on": [],
        "stateful": False,
        "timeout": 600,
        "outputs": [],
    }
    document.update(extra)
    return document


def manifest(*stages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": 1,
        "name": "dataall",
        "version": "2.8.0",
        "options": {
            "InternetFacing": {"type": "boolean", "default": True},
            "LogRetentionDays": {"type": "integer", "default": 30, "allowed": [7, 30, 90]},
            "ExistingVpcId": {"type": "string", "default": "", "pattern": "^(vpc-[0-9a-f]{8,17})?$"},
        },
        "rules": [],
        "stages": list(stages),
        "actions": [],
        "files": {f"blueprints/{s['name']}.template.json": SHA for s in stages},
    }
    document.update(extra)
    return document


def graph() -> dict[str, Any]:
    return manifest(
        stage("vpc", outputs=["VpcId"]),
        stage("sqs", outputs=["QueueArn"]),
        stage("params", parameters={"Vpc": "${stage:vpc.VpcId}", "Queue": "${stage:sqs.QueueArn}"}),
        stage("cloudfront", depends_on=["params"], when={"option": "InternetFacing", "equals": True}),
        stage("albfront", depends_on=["params"], when={"option": "InternetFacing", "equals": False}),
    )


def test_waves_are_topological_levels_with_inferred_dependencies() -> None:
    waves = Manifest.from_document(graph()).waves({"InternetFacing": True})

    assert waves == [["sqs", "vpc"], ["params"], ["cloudfront"]]


def test_a_stage_whose_condition_is_false_is_not_in_any_wave() -> None:
    waves = Manifest.from_document(graph()).waves({"InternetFacing": False})

    assert waves[-1] == ["albfront"]
    assert "cloudfront" not in [name for wave in waves for name in wave]


def test_a_cycle_is_rejected_naming_the_stages_in_it() -> None:
    document = manifest(stage("a", depends_on=["c"]), stage("b", depends_on=["a"]), stage("c", depends_on=["b"]))

    with pytest.raises(ManifestError, match=r"dependency cycle: a -> c -> b -> a"):
        Manifest.from_document(document)


def test_an_unknown_stage_reference_names_the_reader_and_the_missing_stage() -> None:
    document = manifest(stage("params", parameters={"Vpc": "${stage:network.VpcId}"}))

    with pytest.raises(ManifestError, match=r"'params'.*unknown stage 'network'"):
        Manifest.from_document(document)


def test_an_output_no_stage_declares_is_rejected_with_what_the_stage_has() -> None:
    document = manifest(
        stage("vpc", outputs=["VpcId"]),
        stage("params", parameters={"Subnets": "${stage:vpc.SubnetIds}"}),
    )

    with pytest.raises(ManifestError, match=r"output 'SubnetIds'.*'vpc'.*it has: VpcId"):
        Manifest.from_document(document)


def test_an_unknown_option_in_a_parameter_is_rejected() -> None:
    document = manifest(stage("vpc", parameters={"Size": "${param:ProdSizing}"}))

    with pytest.raises(ManifestError, match=r"unknown option 'ProdSizing'"):
        Manifest.from_document(document)


def test_schema_errors_name_the_field() -> None:
    document = graph()
    document["stages"][0]["timeout"] = 5
    del document["version"]

    errors = schema_errors(document, "manifest")

    assert any(e.startswith("(top level): 'version' is a required property") for e in errors)
    assert any(e.startswith("stages.0.timeout:") for e in errors)


def test_options_are_coerced_from_cloudformation_text_and_validated() -> None:
    m = Manifest.from_document(graph())

    options = m.resolve_options({"InternetFacing": "false"}, {"LogRetentionDays": "90"})

    assert options == {"InternetFacing": False, "LogRetentionDays": 90, "ExistingVpcId": ""}
    with pytest.raises(ManifestError, match=r"option LogRetentionDays: 45 is not one of"):
        m.resolve_options({"LogRetentionDays": 45})
    with pytest.raises(ManifestError, match=r"option ExistingVpcId: 'vpc-xyz' does not match"):
        m.resolve_options({"ExistingVpcId": "vpc-xyz"})
    with pytest.raises(ManifestError, match=r"options.Colour: unknown option"):
        m.resolve_options({"Colour": "blue"})


def test_a_rule_refuses_an_impossible_combination_with_its_message() -> None:
    document = graph()
    document["rules"] = [
        {
            "when": {"all": [{"option": "InternetFacing", "equals": False}, {"option": "ExistingVpcId", "equals": ""}]},
            "message": "an internal platform (InternetFacing=false) needs ExistingVpcId",
        }
    ]
    m = Manifest.from_document(document)

    with pytest.raises(ManifestError, match=r"needs ExistingVpcId"):
        m.resolve_options({"InternetFacing": False})
    assert m.resolve_options({"InternetFacing": False, "ExistingVpcId": "vpc-0123abcd"})


def test_an_active_stage_reading_an_inactive_stage_is_refused_at_plan_time() -> None:
    document = graph()
    document["stages"][0]["when"] = {"option": "ExistingVpcId", "equals": ""}
    m = Manifest.from_document(document)

    with pytest.raises(ManifestError, match=r"'params' reads vpc.VpcId, but stage 'vpc' is off"):
        m.waves({"InternetFacing": True, "ExistingVpcId": "vpc-0123abcd"})


def test_parameters_are_resolved_from_options_and_stage_outputs() -> None:
    m = Manifest.from_document(graph())
    step = copy.deepcopy(m.steps["params"])
    outputs = {("vpc", "VpcId"): "vpc-1", ("sqs", "QueueArn"): "arn:q"}

    resolved = resolve_parameters(step, {}, lambda s, o: outputs[(s, o)])

    assert resolved == {"Vpc": "vpc-1", "Queue": "arn:q"}
