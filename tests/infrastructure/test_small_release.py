"""The unit tier's small release (tests/unit/releases.py) keeps the shape of the synthetic release
(tests/fixtures/synthetic, built by CDK synthesis as the sandbox tests install it), so the unit tests
that read it read what a built release holds."""

from __future__ import annotations

from typing import Any

from tests.unit.releases import platform


def test_the_small_release_has_the_real_manifests_keys(release: Any) -> None:
    real = release.manifest.document
    small = platform().document
    real_stage_keys = {key for stage in real["stages"] for key in stage}

    assert set(small) == set(real)
    for stage in small["stages"]:
        assert set(stage) <= real_stage_keys, stage["name"]


def test_the_small_releases_stages_and_options_are_the_real_ones(release: Any) -> None:
    real = release.manifest
    small = platform().manifest

    for name, step in small.steps.items():
        assert name in real.steps, name
        assert step.stateful == real.steps[name].stateful, name
    for name, option in small.options.items():
        assert name in real.options and option.type == real.options[name].type, name
