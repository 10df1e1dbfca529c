"""Unit tier: no network. AWS is moto in-process (`mock_aws`), never a server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def ledger_table(bootstrap_template: dict[str, Any], name: str = "dataall-test-installer-ledger") -> Any:
    """The ledger table, created with the key schema the bootstrap stack declares."""
    spec = next(r for r in bootstrap_template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    props = spec["Properties"]
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
    )
    return boto3.resource("dynamodb", region_name=REGION).Table(name)
