"""Install, uninstall, install again (issue 17, item 5), with the bootstrap stack's OnDelete both
Retain and Destroy: what an uninstall keeps is adopted (the ledger, the retained stages) or named
before anything changes (a kept data bucket), never a collision, never half an install."""

from __future__ import annotations

from typing import Any

import pytest

from installer.aws import Aws
from installer.operations import ledger_table_name
from tests.sandbox.conftest import INSTALLATION, deploy, run
from tests.sandbox.test_ways_in import settle, stack_names

pytestmark = pytest.mark.slow  # each installs the release twice (a minute and more each, on 2 cores)


def stack_ids(aws: Aws) -> dict[str, str]:
    cfn = aws.client("cloudformation")
    return {
        s["StackName"]: s["StackId"]
        for page in cfn.get_paginator("describe_stacks").paginate()
        for s in page["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def uninstall(aws: Aws) -> None:
    """Delete the bootstrap stack, as the console's Delete does."""
    aws.client("cloudformation").delete_stack(StackName=INSTALLATION.stack_name)
    assert settle(aws, INSTALLATION.stack_name, timeout=600) == "DELETE_COMPLETE"


def test_install_uninstall_with_retain_then_install_adopts_the_ledger_and_the_kept_stages(
    sandbox: Any, release: Any
) -> None:
    aws = Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)
    first = deploy(aws, release)
    assert first.result["status"] == "SUCCEEDED", first.result["error"]
    stages = stack_names(aws) - {INSTALLATION.stack_name}
    ids = stack_ids(aws)
    uninstall(aws)
    assert stack_names(aws) == stages  # Retain: the platform stays
    assert ledger_table_name(INSTALLATION) in aws.client("dynamodb").list_tables()["TableNames"]

    again = deploy(aws, release)

    assert again.result["status"] == "SUCCEEDED", again.result["error"]
    assert again.result["action"] == "install"
    parameters = aws.client("cloudformation").describe_stacks(StackName=INSTALLATION.stack_name)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in parameters["Parameters"]}["AdoptLedger"] == "true"
    assert again.outputs["LedgerTableName"] == ledger_table_name(INSTALLATION)
    # The kept stages are adopted, never created again: those that read the new bootstrap stack's
    # artifacts bucket or pivot-role provider are updated to them, the others are left as they are.
    assert {s["outcome"] for s in again.result["stages"].values()} <= {"UNCHANGED", "UPDATED", "SKIPPED"}
    assert "UNCHANGED" in {s["outcome"] for s in again.result["stages"].values()}
    assert {k: v for k, v in stack_ids(aws).items() if k in stages} == {k: v for k, v in ids.items() if k in stages}
    history = [r.run for r in again.reader.ledger.latest_runs(5)]
    assert first.reader.ledger.latest_runs(5)[-1].run in history  # the earlier installation's history
    installed = again.reader.ledger.current_release()
    assert installed is not None and installed.version == release.version


def test_install_uninstall_with_destroy_then_install_names_the_kept_buckets_and_changes_nothing(
    sandbox: Any, release: Any
) -> None:
    aws = Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)
    first = deploy(aws, release, {"OnDelete": "Destroy"})
    assert first.result["status"] == "SUCCEEDED", first.result["error"]
    s3_stage = first.reader.ledger.stage("s3")
    assert s3_stage is not None
    kept = {s3_stage.outputs["ResourcesBucketName"]}
    uninstall(aws)
    assert stack_names(aws) == set()
    s3 = aws.client("s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert kept <= buckets  # the data stays

    again = deploy(aws, release, {"OnDelete": "Destroy"})

    # Refused at Plan, before any stage: no half install, every kept bucket named.
    assert again.result["status"] == "REFUSED", again.result
    error = again.result["error"]
    assert error["code"] == "NameTaken"
    assert error["field"].startswith("stages.s3.")
    assert all(name in error["reason"] for name in kept)
    assert stack_names(aws) == {INSTALLATION.stack_name}
    made = {b["Name"] for b in s3.list_buckets()["Buckets"]} - buckets
    # Only the new bootstrap stack's own artifacts and access-logs buckets: nothing of a stage.
    assert again.outputs["ArtifactsBucketName"] in made
    assert all(name.startswith(f"{INSTALLATION.stack_name}-") for name in made), made
    assert {s["outcome"] for s in again.result["stages"].values()} <= {"NOT_RUN", "SKIPPED"}

    # The operator removes the kept data (here: empties and deletes the buckets), then installs.
    for bucket in sorted(b for b in buckets if b.startswith(f"{INSTALLATION.prefix}-{INSTALLATION.env}-")):
        if "installer" in bucket:
            continue
        for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)
    result = run(aws, again, {"action": "install", "version": release.version})

    assert result["status"] == "SUCCEEDED", result["error"]
    assert {s["outcome"] for s in result["stages"].values()} <= {"CREATED", "SKIPPED"}
