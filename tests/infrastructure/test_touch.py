"""The build's touch hook: a release variant in which exactly one stage's template changes."""

from __future__ import annotations

import os
from typing import Any

import pytest

pytestmark = pytest.mark.infrastructure

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synthesized(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sqs and secrets stages' templates, synthesized with `context` (no cdk-nag, no layer)."""
    import aws_cdk as cdk

    from blueprints.assets import AssetRegistry
    from blueprints.common import BuildContext
    from tests.fixtures.synthetic.stages.secrets import SecretsStage
    from tests.fixtures.synthetic.stages.sqs import SqsStage

    app = cdk.App(analytics_reporting=False, context=context)
    build = BuildContext(assets=AssetRegistry(), nag=False)
    stacks = {"sqs": SqsStage(app, build), "secrets": SecretsStage(app, build)}
    assembly = app.synth()
    return {name: assembly.get_stack_by_name(stack.stack_name).template for name, stack in stacks.items()}


def test_touching_a_stage_adds_one_inert_resource_to_that_stage_only() -> None:
    from tests.fixtures.synthetic.common import TOUCH_CONTEXT, TOUCH_LOGICAL_ID

    plain = synthesized({})
    touched = synthesized({TOUCH_CONTEXT: "sqs"})

    added = set(touched["sqs"]["Resources"]) - set(plain["sqs"]["Resources"])
    assert added == {TOUCH_LOGICAL_ID}
    assert touched["sqs"]["Resources"][TOUCH_LOGICAL_ID] == {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    assert {k: v for k, v in touched["sqs"]["Resources"].items() if k != TOUCH_LOGICAL_ID} == plain["sqs"]["Resources"]
    assert touched["secrets"] == plain["secrets"]


def test_several_stages_can_be_touched_at_once() -> None:
    from tests.fixtures.synthetic.common import TOUCH_CONTEXT, TOUCH_LOGICAL_ID

    touched = synthesized({TOUCH_CONTEXT: "secrets, sqs"})

    assert TOUCH_LOGICAL_ID in touched["sqs"]["Resources"]
    assert TOUCH_LOGICAL_ID in touched["secrets"]["Resources"]
