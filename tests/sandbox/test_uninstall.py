"""Deleting the bootstrap stack with OnDelete=Destroy uninstalls the platform first."""

from __future__ import annotations

from typing import Any

from installer.aws import Aws
from tests.sandbox.conftest import INSTALLATION, deploy
from tests.sandbox.test_ways_in import settle, stack_names


def test_deleting_the_bootstrap_stack_with_destroy_uninstalls_in_reverse_order_keeping_data(
    sandbox: Any, release: Any
) -> None:
    aws = Aws(region=sandbox.region, endpoint_url=sandbox.endpoint)
    outcome = deploy(aws, release, {"OnDelete": "Destroy"})
    assert outcome.result["status"] == "SUCCEEDED", outcome.result["error"]
    cfn = aws.client("cloudformation")
    s3 = outcome.reader.ledger.stage("s3")
    assert s3 is not None
    data_bucket = s3.outputs["ResourcesBucketName"]

    cfn.delete_stack(StackName=INSTALLATION.stack_name)
    final = settle(aws, INSTALLATION.stack_name, timeout=600)

    assert final == "DELETE_COMPLETE"
    assert stack_names(aws) == set()
    uninstall = outcome.reader.ledger.latest_runs(1)[0]
    assert uninstall.action == "uninstall"
    steps = outcome.reader.ledger.steps(uninstall.run)
    finished = sorted(steps, key=lambda name: steps[name].finished or "")
    assert finished.index("lambda-api") < finished.index("aurora") < finished.index("vpc")
    assert aws.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert data_bucket in {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
