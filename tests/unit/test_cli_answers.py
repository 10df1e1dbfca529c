"""One answer shape (issue 17, item 1): every command ends, on a refusal or an error as on
success, with its status, a machine-readable `error.code`, the flag or file at fault and a
sentence; with `--json` as one JSON object on the last line of standard output; exit codes by
status; no traceback unless --debug. Flags are checked before anything is built: the unit
tier's guard fails a test that reaches for a build, a process or the network, so each refusal
here is proven to come first."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from typer.testing import CliRunner

from installer.answers import EXIT_CODES, Problem, check_parameters, classify, exit_code
from installer.cli import _follow, app
from installer.operations import StageView, step_outcome
from lambdas.data.records import StepRecord
from lambdas.data.releases import release_key

runner = CliRunner()


def answer(*args: str) -> tuple[int, dict[str, Any], str]:
    """Exit code, the last JSON line, and standard error."""
    result = runner.invoke(app, list(args))
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, f"no output at all: {result.output!r}"
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(lines[-1]), result.stderr


REFUSALS = [
    (["deploy", "--param", "NoEquals", "--json", "--sandbox"], "InvalidArgument", "--param"),
    (["deploy", "--param", "A=1", "--param", "A=2", "--json", "--sandbox"], "InvalidArgument", "--param A"),
    (["deploy", "--fault", "vpc:explode", "--json", "--sandbox"], "InvalidFault", "--fault"),
    (["deploy", "--fault", "not a fault", "--json", "--sandbox"], "InvalidFault", "--fault"),
    (["deploy", "--sandbox", "--endpoint-url", "http://127.0.0.1:1", "--json"], "InvalidArgument", "--endpoint-url"),
    (["deploy", "--sandbox", "--scale", "0", "--json"], "InvalidArgument", "--scale"),
    (["deploy", "--serve", "--json"], "InvalidArgument", "--serve"),
    (
        ["deploy", "--release", "/some/release", "--upstream", "x", "--json", "--sandbox"],
        "InvalidArgument",
        "--upstream",
    ),
    (["upgrade", "--fault", "aurora:melt", "--json", "--sandbox"], "InvalidFault", "--fault"),
    (["run", "reinstall", "--json", "--sandbox"], "InvalidAction", "ACTION"),
    (["run", "redeploy", "--option", "=1", "--json", "--sandbox"], "InvalidArgument", "--option"),
    (["deploy", "--release", "/nonexistent/release", "--json", "--sandbox"], "ReleaseInvalid", "--release"),
    (["status", "--region", "mars-north-1", "--json"], "InvalidRegion", "--region"),
    (["deploy", "--region", "eu-west-9", "--json", "--sandbox"], "InvalidRegion", "--region"),  # before a build
    (["uninstall", "--region", "us-east-1\n", "--json"], "InvalidRegion", "--region"),
]


@pytest.mark.parametrize(("args", "code", "field"), REFUSALS, ids=[" ".join(a[:3]) for a, _, _ in REFUSALS])
def test_a_refused_flag_ends_with_the_json_line_naming_it_before_anything_is_built(
    args: list[str], code: str, field: str | None
) -> None:
    exit_status, document, stderr = answer(*args)
    assert exit_status == EXIT_CODES["REFUSED"] == 2
    assert document["status"] == "REFUSED"
    assert document["error"]["code"] == code, document
    assert document["error"].get("field") == field, document
    assert document["error"]["message"] and document["command"] == args[0]
    assert stderr.startswith("refused: ")


def test_without_json_a_refusal_is_one_line_on_standard_error_and_nothing_on_standard_output() -> None:
    result = runner.invoke(app, ["deploy", "--fault", "vpc:explode", "--sandbox"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "refused: fault 'vpc:explode': unknown kind 'explode' (one of create, update, timeout, crash, throttle, "
        "rollback) (--fault)"
    ]


def test_an_unreachable_endpoint_is_an_error_exit_3_with_no_traceback(
    listening: set[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import installer.aws

    # The CLI retries as the SDK's standard mode does (10 attempts, ~12 s of backoff here): one will do.
    monkeypatch.setattr(installer.aws, "_CONFIG", installer.aws._CONFIG.merge(Config(retries={"max_attempts": 1})))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed.listen()
    port = closed.getsockname()[1]
    closed.close()  # nothing answers there now
    exit_status, document, _ = answer(
        "status", "--endpoint-url", f"http://127.0.0.1:{port}", "--region", "eu-west-1", "--json"
    )
    assert exit_status == 3
    assert document["status"] == "ERROR" and document["error"]["code"] == "EndpointUnreachable", document


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (NoCredentialsError(), "NoCredentials", "ERROR"),
        (EndpointConnectionError(endpoint_url="https://x"), "EndpointUnreachable", "ERROR"),
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject"), "AccessDenied", "ERROR"),
        (ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Describe"), "Throttled", "ERROR"),
        (ClientError({"Error": {"Code": "ExpiredToken", "Message": "old"}}, "X"), "InvalidCredentials", "ERROR"),
        (KeyboardInterrupt(), "Interrupted", "INTERRUPTED"),
        (RuntimeError("a bug"), "InternalError", "ERROR"),
    ],
)
def test_expected_conditions_are_classified(error: BaseException, code: str, status: str) -> None:
    problem = classify(error)
    assert (problem.code, problem.status) == (code, status)
    assert exit_code(status) in (3, 130)


def test_a_refusal_of_the_workflow_keeps_its_name_and_field() -> None:
    from lambdas.core.errors import InvalidOptions

    problem = classify(InvalidOptions("options.X: unknown option", field="options.X"))
    assert (problem.code, problem.status, problem.field) == ("InvalidOptions", "REFUSED", "options.X")


DECLARED = {
    "EnvName": {"Type": "String", "AllowedPattern": "[a-z][a-z0-9]{1,7}", "ConstraintDescription": "2-8 lowercase"},
    "OnDelete": {"Type": "String", "AllowedValues": ["Retain", "Destroy"]},
    "LogRetentionDays": {"Type": "Number", "MinValue": 1, "MaxValue": 3653},
    "Email": {"Type": "String", "MaxLength": 10},
}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"EnvName": "prod\n"}, "--param EnvName"),  # AllowedPattern matches the whole value
        ({"EnvName": "xprodx-1"}, "--param EnvName"),
        ({"OnDelete": "Keep"}, "--param OnDelete"),
        ({"LogRetentionDays": "0"}, "--param LogRetentionDays"),
        ({"LogRetentionDays": "nan"}, "--param LogRetentionDays"),
        ({"LogRetentionDays": "ninety"}, "--param LogRetentionDays"),
        ({"Email": "a" * 11}, "--param Email"),
    ],
)
def test_bootstrap_parameters_are_checked_against_the_templates_own_constraints(
    values: dict[str, str], field: str
) -> None:
    with pytest.raises(Problem) as refused:
        check_parameters(DECLARED, values)
    assert refused.value.code == "InvalidParameter" and refused.value.field == field


def test_parameters_within_their_constraints_pass() -> None:
    check_parameters(DECLARED, {"EnvName": "prod", "OnDelete": "Retain", "LogRetentionDays": "90", "Email": "a@b.c"})


class _Interrupted:
    def follow(self, reader: Any, execution_arn: str) -> Any:
        raise KeyboardInterrupt


class _Aws:
    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url, self.region = endpoint_url, "eu-west-1"


class _Installation:
    prefix, env = "dataall", "prod"


ARN = "arn:aws:states:eu-west-1:000000000000:execution:installer:run-7"


def test_ctrl_c_against_an_endpoint_says_the_run_goes_on_and_how_to_follow_it() -> None:
    with pytest.raises(Problem) as stopped:
        _follow(_Interrupted(), None, ARN, _Aws("http://127.0.0.1:4566"), _Installation(), embedded=False)
    problem = stopped.value
    assert problem.status == "INTERRUPTED" and exit_code(problem.status) == 130
    assert problem.extra == {"execution_arn": ARN, "run_continues": True}
    assert "run-7 goes on" in problem.message
    assert "dataall-installer status --follow --endpoint-url http://127.0.0.1:4566" in problem.message


def test_ctrl_c_with_the_embedded_sandbox_says_the_run_is_discarded() -> None:
    with pytest.raises(Problem) as stopped:
        _follow(_Interrupted(), None, ARN, _Aws("http://127.0.0.1:1"), _Installation(), embedded=True)
    assert stopped.value.extra["run_continues"] is False
    assert "discarded with the embedded sandbox" in stopped.value.message


@pytest.mark.parametrize(
    ("record", "active", "run_status", "outcome"),
    [
        (StepRecord(name="s", result="CREATED"), True, "SUCCEEDED", "CREATED"),
        (StepRecord(name="s", result="NO_CHANGES"), True, "SUCCEEDED", "UNCHANGED"),
        (StepRecord(name="s", result="UPDATED", rolled_back="RESTORED"), True, "FAILED", "RESTORED"),
        (StepRecord(name="s", result="CREATED", rolled_back="DELETED"), True, "FAILED", "DELETED"),
        (StepRecord(name="s", rolled_back="FAILED"), True, "FAILED", "ROLLBACK_FAILED"),
        (StepRecord(name="s", started="2026-12-05T00:00:00Z"), True, "FAILED", "INTERRUPTED"),
        (StepRecord(name="s", started="2026-12-05T00:00:00Z"), True, "RUNNING", "IN_PROGRESS"),
        (StepRecord(name="s", planned=True), True, "FAILED", "NOT_RUN"),  # a migrate never started
        (None, True, "RUNNING", "PENDING"),
        (None, False, "SUCCEEDED", "SKIPPED"),
    ],
)
def test_each_stage_has_this_runs_outcome(
    record: StepRecord | None, active: bool, run_status: str, outcome: str
) -> None:
    assert step_outcome(record, active=active, run_status=run_status) == outcome


def test_a_refused_run_did_nothing_to_any_stage() -> None:
    assert step_outcome(StepRecord(name="s", result="UNCHANGED"), active=True, run_status="FAILED", refused=True) == (
        "NOT_RUN"
    )


def test_the_stage_view_carries_the_outcome_into_the_json() -> None:
    from installer.operations import result_document
    from tests.unit.test_cli_summary import view

    run = view(status="FAILED")
    run.stages[0] = StageView(name="vpc", stack="dataall-prod-vpc", status="UPDATE_COMPLETE", outcome="RESTORED")
    run.error = {"stage": "s3", "reason": "Resource handler returned message"}
    document = result_document(run, 10)
    assert document["stages"]["vpc"] == {
        "stack": "dataall-prod-vpc",
        "status": "UPDATE_COMPLETE",
        "outcome": "RESTORED",
    }
    assert document["error"]["code"] == "StageFailed" and document["error"]["stage"] == "s3"
    assert document["error"]["message"] == "stage s3: Resource handler returned message"


#: The bootstrap template's parameters as a release carries them (their constraints as
#: bootstrap_stack.py declares them), for the checks publish makes before uploading anything.
BOOTSTRAP = {
    "Parameters": {
        "ReleaseBucketPrefix": {"Type": "String", "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$",
                                "ConstraintDescription": "an S3 bucket name prefix"},
        "AdminEmail": {"Type": "String", "AllowedPattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"},
        "OnDelete": {"Type": "String", "AllowedValues": ["Retain", "Destroy"]},
    }
}  # fmt: skip


def _release_folder(folder: Path, release: Any) -> Path:
    """A small release (tests.unit.releases) written as a release folder, with its bootstrap template."""
    from lambdas.release.manifest import sha256_bytes

    files = {**release.files, "bootstrap.template.json": json.dumps(BOOTSTRAP).encode()}
    document = {**release.document, "files": {name: sha256_bytes(body) for name, body in sorted(files.items())}}
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(body)
    (folder / "manifest.json").write_text(json.dumps(document))
    return folder


def test_publish_refuses_other_content_under_a_published_version_unless_replace(aws: None, tmp_path: Path) -> None:
    import boto3

    from tests.unit.releases import small_release, stage

    first = _release_folder(tmp_path / "first", small_release(stage("vpc")))
    corrected = _release_folder(tmp_path / "corrected", small_release(stage("vpc"), stage("sqs")))
    assert runner.invoke(app, ["publish", "--release", str(first)]).exit_code == 0

    refused = runner.invoke(app, ["publish", "--release", str(corrected)])
    replaced = runner.invoke(app, ["publish", "--release", str(corrected), "--replace"])

    assert refused.exit_code == 2 and refused.stderr.startswith("refused: release 2.8.0 is already published")
    assert "--replace" in refused.stderr and "Traceback" not in refused.output
    assert replaced.exit_code == 0, replaced.output
    body = boto3.client("s3").get_object(Bucket="dataall-installer-releases-us-east-1",
                                         Key=release_key("2.8.0", "manifest.json"))["Body"].read()  # fmt: skip
    assert body == (corrected / "manifest.json").read_bytes()


@pytest.fixture
def small(tmp_path: Path) -> Path:
    from tests.unit.releases import small_release, stage

    return _release_folder(tmp_path / "small", small_release(stage("vpc")))


def test_publish_json_names_each_regions_bucket_template_and_quick_create_link(aws: None, small: Path) -> None:
    exit_status, document, _ = answer(
        "publish", "--release", str(small), "--regions", "us-east-1, eu-west-1", "--param", "OnDelete=Destroy",
        "--json",
    )  # fmt: skip

    assert exit_status == 0 and document["status"] == "SUCCEEDED" and document["error"] is None
    assert (document["command"], document["version"]) == ("publish", "2.8.0")
    assert len(document["manifest_sha256"]) == 64
    assert [entry["region"] for entry in document["published"]] == ["us-east-1", "eu-west-1"]
    ireland = document["published"][1]
    assert ireland["bucket"] == "dataall-installer-releases-eu-west-1" and ireland["public"] is False
    assert ireland["template_url"].endswith("/releases/2.8.0/bootstrap.template.json")
    assert ireland["quick_create_url"].startswith("https://eu-west-1.console.aws.amazon.com/cloudformation/")
    assert "param_OnDelete=Destroy" in ireland["quick_create_url"]
    import boto3

    objects = boto3.client("s3", region_name="eu-west-1").list_objects_v2(Bucket=ireland["bucket"])
    assert objects["KeyCount"] > 0


PUBLISH_REFUSALS = [
    (["--regions", "us-east-1,mars-north-1"], "InvalidRegion", "--regions"),
    (["--regions", "eu-west-1,eu-west-1"], "InvalidRegion", "--regions"),
    (["--regions", " , "], "InvalidRegion", "--regions"),
    (["--stack-name", "1-installer"], "InvalidArgument", "--stack-name"),
    (["--bucket-prefix", "My_Releases"], "InvalidParameter", "--bucket-prefix"),
    (["--bucket-prefix", "a" * 42 + "-releases"], "InvalidParameter", "--bucket-prefix"),
    (["--bucket-prefix", "releases.", "--regions", "us-east-1"], "InvalidParameter", "--bucket-prefix"),
    (["--bucket-prefix", "my..releases"], "InvalidArgument", "--bucket-prefix"),  # the pattern lets it by; S3 does not
    (["--param", "OnDelete=Keep"], "InvalidParameter", "--param OnDelete"),
    (["--param", "Colour=blue"], "InvalidParameter", "--param Colour"),
    (["--param", "ReleaseBucketPrefix=x"], "InvalidArgument", "--param ReleaseBucketPrefix"),
    (["--param", "NoEquals"], "InvalidArgument", "--param"),
]


@pytest.mark.parametrize(
    ("flags", "code", "field"), PUBLISH_REFUSALS, ids=[" ".join(f)[:40] for f, _, _ in PUBLISH_REFUSALS]
)
def test_publish_refuses_a_bad_flag_with_the_json_line_before_uploading_anything(
    aws: None, small: Path, flags: list[str], code: str, field: str
) -> None:
    import boto3

    exit_status, document, stderr = answer("publish", "--release", str(small), *flags, "--json")

    assert exit_status == 2 and document["status"] == "REFUSED", document
    assert (document["command"], document["error"]["code"], document["error"]["field"]) == ("publish", code, field)
    assert stderr.startswith("refused: ")
    assert boto3.client("s3").list_buckets()["Buckets"] == []  # nothing published anywhere


def test_publish_json_refuses_other_content_under_a_published_version_naming_replace(
    aws: None, tmp_path: Path, small: Path
) -> None:
    from tests.unit.releases import small_release, stage

    corrected = _release_folder(tmp_path / "corrected", small_release(stage("vpc"), stage("sqs")))
    assert answer("publish", "--release", str(small), "--json")[0] == 0

    exit_status, document, _ = answer("publish", "--release", str(corrected), "--json")

    assert exit_status == 2 and document["status"] == "REFUSED"
    assert document["error"]["code"] == "ReleaseConflict" and document["error"]["field"] == "--release"
    assert "--replace" in document["error"]["message"]
    assert document["published"] == []


def test_publish_a_damaged_release_is_refused_before_any_upload(aws: None, small: Path) -> None:
    (small / "bootstrap.template.json").write_text("{}")

    exit_status, document, _ = answer("publish", "--release", str(small), "--json")

    assert exit_status == 2 and document["error"]["code"] == "ReleaseInvalid", document
    assert document["error"]["field"] == "--release"


def test_an_aws_error_in_the_second_region_is_an_error_naming_what_was_published(
    aws: None, small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import installer.operations

    upload = installer.operations.publish

    def denied_in_ireland(aws: Any, release: Any, bucket_prefix: str, *, replace: bool = False) -> str:
        if aws.region == "eu-west-1":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not yours"}}, "CreateBucket")
        return upload(aws, release, bucket_prefix, replace=replace)

    monkeypatch.setattr(installer.operations, "publish", denied_in_ireland)

    exit_status, document, stderr = answer("publish", "--release", str(small), "--regions", "us-east-1,eu-west-1",
                                           "--json")  # fmt: skip

    assert exit_status == 3 and document["status"] == "ERROR"
    assert document["error"]["code"] == "AccessDenied"
    assert "region eu-west-1; published before it: us-east-1" in document["error"]["message"]
    assert [entry["region"] for entry in document["published"]] == ["us-east-1"]
    assert stderr.startswith("error: ")


LINK = "https://b.s3.eu-west-1.amazonaws.com/releases/2.8.0/bootstrap.template.json"


def test_link_json_gives_the_quick_create_url() -> None:
    exit_status, document, _ = answer("link", "--template-url", LINK, "--region", "eu-west-1", "--json")
    assert exit_status == 0 and document["status"] == "SUCCEEDED" and document["command"] == "link"
    assert document["quick_create_url"].startswith("https://eu-west-1.console.aws.amazon.com/")


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--template-url", LINK, "--region", "eu-wst-1"], "--region"),
        (["--template-url", "s3://b/t.json", "--region", "eu-west-1"], "--template-url"),
        (["--template-url", LINK, "--region", "eu-west-1", "--stack-name", "a_b"], "--stack-name"),
    ],
)
def test_link_refuses_a_bad_flag_naming_it(flags: list[str], field: str) -> None:
    exit_status, document, _ = answer("link", *flags, "--json")
    assert exit_status == 2 and document["status"] == "REFUSED" and document["error"]["field"] == field


@pytest.mark.parametrize(
    ("flags", "code", "field"),
    [
        (["--fault", "vpc:explode"], "InvalidFault", "--fault"),
        (["--scale", "-1"], "InvalidArgument", "--scale"),
        (["--port", "70000"], "InvalidArgument", "--port"),
        (["--image", "no-path"], "InvalidArgument", "--image"),
    ],
)
def test_sandbox_serve_refuses_a_bad_flag_before_it_starts(flags: list[str], code: str, field: str) -> None:
    exit_status, document, _ = answer("sandbox", "serve", *flags, "--json")
    assert exit_status == 2 and document["status"] == "REFUSED"
    assert (document["command"], document["error"]["code"], document["error"]["field"]) == (
        "sandbox serve",
        code,
        field,
    )


@pytest.mark.parametrize(
    ("argv", "command", "field"),
    [
        (["sandbox", "serve", "--port", "many"], "sandbox serve", "--port"),
        (["deploy", "--bogus"], "deploy", "--bogus"),
        (["status", "--follow=yes"], "status", "--follow"),
    ],
)
def test_the_console_script_answers_a_usage_error_with_the_json_line_and_no_traceback(
    argv: list[str],
    command: str,
    field: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`main` (not the CliRunner): typer's own click raises its usage errors past click's classes."""
    import sys

    from installer.cli import main

    monkeypatch.setattr(sys, "argv", ["dataall-installer", *argv, "--json"])
    with pytest.raises(SystemExit) as ended:
        main()
    out, err = capsys.readouterr()
    document = json.loads(out.splitlines()[-1])
    assert ended.value.code == 2 and "Traceback" not in err and err.startswith("refused: ")
    assert (document["status"], document["command"], document["error"]["code"]) == ("REFUSED", command, "UsageError")
    assert document["error"].get("field") == field


def test_version_json() -> None:
    from installer import __version__

    assert answer("version", "--json")[:2] == (0, {"status": "SUCCEEDED", "command": "version", "version": __version__})


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--synthetic"],
        ["deploy", "--synthetic", "--sandbox"],
        ["upgrade", "--synthetic", "--sandbox"],
        ["plan", "--synthetic", "--sandbox"],
    ],
    ids=lambda argv: argv[0],
)
def test_the_synthetic_release_is_no_flag_of_the_product_a_stale_synthetic_is_a_usage_error_naming_it(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The product installs data.all; the synthetic release is a test fixture (tests/fixtures/synthetic),
    which tests build and hand over with --release DIR. `--synthetic` is refused as any unknown flag
    is, before anything is built (the unit tier's guard fails a build)."""
    import sys

    from installer.cli import main

    monkeypatch.setattr(sys, "argv", ["dataall-installer", *argv, "--json"])
    with pytest.raises(SystemExit) as ended:
        main()
    out, err = capsys.readouterr()
    document = json.loads(out.splitlines()[-1])
    assert ended.value.code == 2 and "Traceback" not in err
    assert (document["status"], document["command"], document["error"]["code"]) == ("REFUSED", argv[0], "UsageError")
    assert document["error"]["field"] == "--synthetic" and "--synthetic" in document["error"]["message"]


def test_a_fault_naming_a_stage_the_release_does_not_have_is_refused_before_a_sandbox_starts(small: Path) -> None:
    exit_status, document, _ = answer("deploy", "--release", str(small), "--fault", "aurora:create", "--sandbox",
                                      "--json")  # fmt: skip
    assert exit_status == 2 and document["error"]["code"] == "InvalidFault" and document["error"]["field"] == "--fault"
    assert "has no stage 'aurora' (its stages: vpc)" in document["error"]["message"]


@pytest.mark.parametrize(
    ("status", "error", "line"),
    [
        ("FAILED", {"stage": "s3", "reason": "bucket exists"}, "failed: stage s3: bucket exists"),
        ("FAILED", {"reason": "Plan failed"}, "failed: Plan failed"),  # not "stage None"
        ("REFUSED", {"stage": None, "reason": "a run is going"}, "refused: a run is going"),
    ],
)
def test_the_failure_line_names_a_stage_only_when_there_is_one(status: str, error: dict[str, Any], line: str) -> None:
    from installer.progress import failure_line
    from tests.unit.test_cli_summary import view

    run = view(status=status)
    run.error = error
    assert failure_line(run) == line


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--param", "OnDelete=Keep"], "--param OnDelete"),
        (["--param", "Colour=blue"], "--param Colour"),
        (["--bucket-prefix", "Releases"], "--bucket-prefix"),
    ],
)
@pytest.mark.parametrize("command", ["deploy", "upgrade", "plan"])
def test_a_bootstrap_parameter_is_checked_against_the_releases_template_before_a_sandbox_starts(
    small: Path, command: str, flags: list[str], field: str
) -> None:
    """The unit tier's guard fails a test that starts a sandbox or publishes: the refusal comes first."""
    exit_status, document, _ = answer(command, "--release", str(small), *flags, "--sandbox", "--json")
    assert exit_status == 2 and document["error"]["code"] == "InvalidParameter", document
    assert (document["command"], document["error"]["field"]) == (command, field)
