"""`dataall-installer sandbox conformance`: a CDK cloud assembly deployed into the sandbox as
`cdk deploy` deploys it (assets published, the bootstrap version answered, stacks in dependency
order with their nested stacks), on a small assembly written here and on data.all's platform."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from installer.upstream import shared_upstream
from sandbox import conformance
from tests.sandbox.conftest import dataall_revisions, require_postgres_server

ROOT = Path(__file__).resolve().parents[2]
DATAALL = shared_upstream("2.9.0") / "cdk.out"
OLDER = shared_upstream("2.8.0") / "cdk.out"
BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"


def cdk_template(resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A template as CDK's default synthesizer writes one: the bootstrap version parameter and rule."""
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
        "Resources": resources,
        "Outputs": outputs or {},
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
    }


def write_assembly(root: Path, value: str, *, broken: bool = False) -> Path:
    """A cloud assembly with one CDK Stage (a nested assembly) of two stacks, `app` depending on
    `base`; `app` holds a nested stack and a Python function whose code is a directory asset."""
    stage = root / "assembly-Stage"
    stage.mkdir(parents=True)
    code = root / "asset.code"
    code.mkdir()
    (code / "index.py").write_text(f"def handler(event, context):\n    return {value!r}\n")

    def digest(document: Any) -> str:
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()

    nested: dict[str, Any] = {
        "Parameters": {"Value": {"Type": "String"}},
        "Resources": {
            "Setting": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "Value"}}}
        },
        "Outputs": {"Name": {"Value": {"Ref": "Setting"}}},
    }
    if broken:
        nested["Resources"]["Broken"] = {"Type": "AWS::Sandbox::Nothing", "DependsOn": "Setting"}
    nested_key = f"{digest(nested)}.json"
    (stage / "StageappInner.nested.template.json").write_text(json.dumps(nested))
    function_role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        },
    }
    app = cdk_template(
        {
            "InnerNestedStackInnerNestedStackResource": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": {
                        "Fn::Join": [
                            "",
                            [
                                "https://s3.",
                                {"Ref": "AWS::Region"},
                                ".",
                                {"Ref": "AWS::URLSuffix"},
                                "/",
                                {"Fn::Sub": BUCKET},
                                f"/{nested_key}",
                            ],
                        ]
                    },
                    "Parameters": {"Value": value},
                },
                "Metadata": {"aws:asset:path": "StageappInner.nested.template.json"},
            },
            "Role": function_role,
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"S3Bucket": {"Fn::Sub": BUCKET}, "S3Key": "code.zip"},
                },
            },
        }
    )
    base = cdk_template({"Queue": {"Type": "AWS::SQS::Queue"}})
    destination = {"d": {"bucketName": BUCKET, "objectKey": "", "region": "eu-west-1"}}

    def assets(files: dict[str, tuple[str, str, str | None]]) -> dict[str, Any]:
        return {
            "version": "45.0.0",
            "files": {
                name: {
                    "source": {"path": path, **({"packaging": packaging} if packaging else {})},
                    "destinations": {"d": {**destination["d"], "objectKey": key}},
                }
                for name, (path, key, packaging) in files.items()
            },
            "dockerImages": {},
        }

    (stage / "Stageapp.template.json").write_text(json.dumps(app))
    (stage / "Stagebase.template.json").write_text(json.dumps(base))
    app_key, base_key = f"{digest(app)}.json", f"{digest(base)}.json"
    (stage / "Stageapp.assets.json").write_text(
        json.dumps(
            assets(
                {
                    "code": ("../asset.code", "code.zip", "zip"),
                    "nested": ("StageappInner.nested.template.json", nested_key, None),
                    "template": ("Stageapp.template.json", app_key, None),
                }
            )
        )
    )
    (stage / "Stagebase.assets.json").write_text(
        json.dumps(assets({"template": ("Stagebase.template.json", base_key, None)}))
    )

    def stack(name: str, key: str, dependencies: list[str]) -> dict[str, Any]:
        return {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/eu-west-1",
            "displayName": f"Stage/{name}",
            "properties": {
                "templateFile": f"Stage{name}.template.json",
                "stackName": f"Stage-{name}",
                "tags": {"Application": "conformance"},
                "stackTemplateAssetObjectUrl": f"s3://{BUCKET}/{key}",
                "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
            },
            "dependencies": [f"Stage{name}.assets", *dependencies],
        }

    manifest = {
        "version": "45.0.0",
        "artifacts": {
            "Stageapp": stack("app", app_key, ["Stagebase"]),
            "Stageapp.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Stageapp.assets.json"}},
            "Stagebase.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Stagebase.assets.json"}},
            "Stagebase": stack("base", base_key, []),
        },
    }
    (stage / "manifest.json").write_text(json.dumps(manifest))
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "version": "45.0.0",
                "artifacts": {
                    "assembly-Stage": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Stage"}}
                },
            }
        )
    )
    return root


def test_the_assembly_is_read_with_its_nested_assemblies_in_dependency_order(tmp_path: Path) -> None:
    """cdk deploy: a stack after those it depends on; nested assemblies (CDK Stages) included."""
    stacks = conformance.read_assembly(write_assembly(tmp_path, "one"), "us-east-1")

    assert [stack.stack_name for stack in stacks] == ["Stage-base", "Stage-app"]
    assert {stack.region for stack in stacks} == {"eu-west-1"}
    assert [s.stack_name for s in conformance.select(stacks, ["*-app"])] == ["Stage-app"]
    assert [s.stack_name for s in conformance.select(stacks, ["Stage/base"])] == ["Stage-base"]
    with pytest.raises(conformance.AssemblyError, match="no stack matches"):
        conformance.select(stacks, ["nothing*"])


def test_an_assembly_deploys_with_its_nested_stacks_and_deletes_leaving_nothing(sandbox: Any, tmp_path: Path) -> None:
    lines: list[str] = []

    report = conformance.run(sandbox, write_assembly(tmp_path, "one"), [], delete=True, log=lines.append)

    summary = report.summary()
    assert summary["stacks"] == summary["stacks_complete"] == 2
    # base: its queue; app: role, function, the nested stack resource and the nested stack's parameter
    assert summary["resources"] == summary["resources_complete"] == 5
    assert summary["failures"] == []
    assert summary["left"] == []
    assert [line.split(":")[0] for line in lines] == [
        "Stage-base (eu-west-1) create",
        "Stage-app (eu-west-1) create",
        "Stage-app (eu-west-1) delete",
        "Stage-base (eu-west-1) delete",
    ]


def test_an_assembly_updates_one_deployed_before(sandbox: Any, tmp_path: Path) -> None:
    """--update-from: the old assembly first, then this one as an update (its nested stack's
    parameter changed; the stack without changes is left as it is)."""
    old = write_assembly(tmp_path / "old", "one")
    new = write_assembly(tmp_path / "new", "two")

    report = conformance.run(sandbox, new, [], update_from=old)

    summary = report.summary()
    assert [(result.stack_name, result.operation, result.status) for result in report.results] == [
        ("Stage-base", "create", "CREATE_COMPLETE"),
        ("Stage-app", "create", "CREATE_COMPLETE"),
        ("Stage-base", "update (no changes)", "CREATE_COMPLETE"),
        ("Stage-app", "update", "UPDATE_COMPLETE"),
    ]
    assert summary["stacks"] == summary["stacks_complete"] == 2
    assert summary["resources"] == summary["resources_complete"] == 5


def test_the_command_deploys_updates_and_deletes_printing_one_json_line(tmp_path: Path) -> None:
    """The command itself, in a process of its own (one sandbox per process): its JSON line's shape,
    figures that add up, and exit 0 when every stack is complete and nothing is left."""
    old, new = write_assembly(tmp_path / "old", "one"), write_assembly(tmp_path / "new", "two")
    command = [
        *(sys.executable, "-m", "installer.cli", "sandbox", "conformance", "--assembly", str(new)),
        *("--update-from", str(old), "--delete", "--json"),
    ]
    env = {**os.environ, "HOME": os.environ.get("HOME", str(tmp_path))}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"stacks", "stacks_complete", "resources", "resources_complete", "failures", "seconds"}
    assert (summary["status"], summary["command"]) == ("SUCCEEDED", "sandbox conformance")
    assert (summary["stacks"], summary["stacks_complete"]) == (2, 2)
    assert (summary["resources"], summary["resources_complete"]) == (5, 5)
    assert (summary["failures"], summary["left"], summary["retained"]) == ([], [], [])
    assert summary["seconds"] > 0


# slow: 76-109 s; `make test` keeps data.all's stacks created one nested stack at a time
# (tests/sandbox/cloudformation/test_cdk_output.py) and installed by the installer (tests/sandbox/test_dataall.py)
@pytest.mark.slow
@pytest.mark.skipif(not (DATAALL.is_dir() and OLDER.is_dir()), reason="data.all's cloud assemblies are not there")
def test_data_alls_platform_installs_migrates_upgrades_and_deletes_as_synthesized(sandbox: Any) -> None:
    """data.all's backend and cloudfront stacks (541 resources, nested stacks included) at 2.8.0,
    then updated to 2.9.0, then deleted: every stack and resource complete each time. data.all's
    own triggers run its Lambda image, built from its source: its migration trigger brings a real
    PostgreSQL to each release's alembic head (2.8.0: ba2da94739ab, 2.9.0: 2258cd8d6e9f; the
    upstream README's). The delete turns the Aurora cluster's deletion protection off, as an
    operator must, and leaves nothing but what the templates retain."""
    require_postgres_server(sandbox)
    lines: list[str] = []
    patterns = ["*backend-stack", "*cloudfront-stack"]
    runner = conformance.Conformance(sandbox, log=lines.append)

    runner.deploy(
        conformance.select(conformance.read_assembly(OLDER, sandbox.region), patterns), OLDER.parent / "source"
    )
    assert dataall_revisions(sandbox) == {"devdb": "ba2da94739ab"}
    newer = conformance.select(conformance.read_assembly(DATAALL, sandbox.region), patterns)
    runner.deploy(newer, DATAALL.parent / "source")
    assert dataall_revisions(sandbox) == {"devdb": "2258cd8d6e9f"}
    runner.delete(newer)

    summary = runner.report.summary()
    print("\n".join(lines))  # the record (pytest -s)
    assert [(r.operation, r.status) for r in runner.report.results] == [
        ("create", "CREATE_COMPLETE"), ("create", "CREATE_COMPLETE"),
        ("update", "UPDATE_COMPLETE"), ("update", "UPDATE_COMPLETE"),
        ("delete", "DELETE_COMPLETE"), ("delete", "DELETE_COMPLETE"),
    ]  # fmt: skip
    assert (summary["stacks"], summary["stacks_complete"]) == (2, 2)
    assert summary["resources"] == summary["resources_complete"] == 541  # the upstream README's count
    assert summary["failures"] == []
    assert summary["left"] == []
    assert all("DELETE_SKIPPED" in line for line in summary["retained"])
    assert len(summary["built_images"]) == 2  # lambdas-2.8.0 and lambdas-2.9.0
    assert any("deletion protection turned off" in line for line in lines)


def test_a_failure_in_a_nested_stack_is_named_and_the_stack_is_created_again_next_time(
    sandbox: Any, tmp_path: Path
) -> None:
    """The failure names the nested stack, the logical id, the type and the reason; cdk deploy
    deletes a stack left ROLLBACK_COMPLETE before it creates it again."""
    broken = write_assembly(tmp_path / "broken", "one", broken=True)
    fixed = write_assembly(tmp_path / "fixed", "two")

    report = conformance.run(sandbox, fixed, [], update_from=broken)

    first, second = report.results[1], report.results[3]
    assert (first.stack_name, first.operation, first.status) == ("Stage-app", "create", "ROLLBACK_COMPLETE")
    assert [(f.logical_id, f.type) for f in first.failures] == [("Broken", "AWS::Sandbox::Nothing")]
    assert first.failures[0].stack.startswith("Stage-app-InnerNestedStackInnerNestedStackResource-")
    assert "not supported by the sandbox" in first.failures[0].reason
    assert first.resources == 5  # role, function, the nested stack, its parameter and the broken one
    assert first.resources_complete < first.resources
    assert (second.operation, second.status) == ("create", "CREATE_COMPLETE")
    summary = report.summary()
    assert summary["stacks"] == summary["stacks_complete"] == 2
    assert len(summary["failures"]) == 1


def test_without_rollback_a_failed_stack_stays_and_its_update_is_refused(sandbox: Any, tmp_path: Path) -> None:
    """cdk deploy --no-rollback: the failed stack and its nested stack stay CREATE_FAILED with what
    they made; CloudFormation refuses to update a stack in CREATE_FAILED, and the report says so."""
    broken = write_assembly(tmp_path / "broken", "one", broken=True)
    fixed = write_assembly(tmp_path / "fixed", "two")

    report = conformance.run(sandbox, fixed, ["*-app"], update_from=broken, rollback=False)

    first, second = report.results
    assert first.status == "CREATE_FAILED"
    assert first.resources_complete == 3  # role, function and the nested stack's parameter
    assert (second.operation, second.status) == ("update refused", "CREATE_FAILED")
    assert "CREATE_FAILED state and can not be updated" in second.failures[0].reason
    assert report.summary()["stacks_complete"] == 0
