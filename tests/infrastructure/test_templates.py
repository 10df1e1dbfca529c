"""Every template of the release passes cfn-lint, and cdk-nag found nothing unacknowledged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_cfn_lint_is_clean_on_every_template(release: Any) -> None:
    templates = [release.path / "bootstrap.template.json", *sorted((release.path / "blueprints").glob("*.json"))]

    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *map(str, templates)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_refuses_an_unacknowledged_cdk_nag_finding(tmp_path: Path) -> None:
    """cdk-nag runs inside the synthesis: a finding nobody acknowledged fails the build, named."""
    import aws_cdk as cdk
    import pytest
    from aws_cdk import aws_sqs as sqs
    from cdk_nag import AwsSolutionsChecks

    from installer.build import BuildError, synthesize

    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False)
    stack = cdk.Stack(app, "unreviewed", synthesizer=cdk.BootstraplessSynthesizer())
    sqs.Queue(stack, "Queue", enforce_ssl=True)
    cdk.Validations.of(stack).add_plugins(AwsSolutionsChecks())

    with pytest.raises(BuildError, match=r"AwsSolutions-SQS3 at unreviewed/Queue/Resource"):
        synthesize(app, tmp_path)


def test_every_file_of_the_release_matches_its_manifest_sha256(release: Any) -> None:
    release.verify()
    on_disk = {p.relative_to(release.path).as_posix() for p in release.path.rglob("*") if p.is_file()}
    assert on_disk == set(release.files())
