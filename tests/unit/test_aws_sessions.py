"""The CLI's AWS access (`installer.aws.Aws`): one session per `Aws`, every session on one copy of
the SDK's data, and clients that still are what boto3 makes."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from installer import aws as aws_module
from installer.aws import Aws, new_session


def test_every_session_reads_the_sdks_data_once_and_the_loader_keeps_one_copy_of_each_folder() -> None:
    sessions = [new_session(region_name=region) for region in ("eu-west-1", "us-east-1", "eu-west-1")]

    loaders = {id(s._session.get_component("data_loader")) for s in sessions}
    assert loaders == {id(aws_module._sdk_data())}
    paths = aws_module._sdk_data().search_paths
    assert len(paths) == len(set(paths))  # boto3 adds its data folder once per session: kept once
    assert any(path.endswith("boto3/data") for path in paths)  # boto3's resource models are found
    assert [s.region_name for s in sessions] == ["eu-west-1", "us-east-1", "eu-west-1"]


def test_an_aws_makes_one_session_and_one_client_per_service_even_from_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    aws = Aws(region="eu-west-1", endpoint_url="http://127.0.0.1:9")
    made: list[object] = []

    def take() -> None:
        made.append(aws.client("cloudformation"))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(client) for client in made}) == 1
    client = made[0]
    assert client.meta.region_name == "eu-west-1"  # type: ignore[attr-defined]
    assert client.meta.endpoint_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    assert aws.session is aws.session
    # a local endpoint gets the sandbox's placeholder credentials, not the operator's
    assert aws.session.get_credentials().access_key == "sandbox"
    assert aws.client("sts") is not client and aws.table("ledger").name == "ledger"


def test_an_aws_against_aws_takes_the_operators_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    aws = Aws(region="eu-west-1")

    assert aws.session.get_credentials().access_key == "AKIDEXAMPLE"
    assert Aws(region="eu-west-1") == aws  # equality is the region and endpoint, not the cached session


def test_an_aws_for_another_region_makes_its_own_clients() -> None:
    here = Aws(region="eu-west-1", endpoint_url="http://127.0.0.1:9")
    client = here.client("sqs")

    there = dataclasses.replace(here, region="us-east-1")

    assert there.client("sqs") is not client and there.client("sqs").meta.region_name == "us-east-1"
    assert here.in_region("us-east-1").client("sqs").meta.region_name == "us-east-1"
    assert here.in_region("eu-west-1") is here
