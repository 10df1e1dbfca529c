"""Two reaches into moto's server internals that only make the sandbox faster (sandbox/moto_internals.py),
each pinned: the dispatcher remembers each host's service, and moto's Step Functions interpreter reuses
one Lambda client per Region and endpoint. Both must answer exactly as moto's own code does."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import create_backend_app
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import boto_client

from sandbox import moto_internals

HOSTS = [
    "sqs.eu-west-1.amazonaws.com",
    "cloudformation.us-east-1.amazonaws.com",
    "lambda.eu-west-1.amazonaws.com",
    "dynamodb",
    "s3.amazonaws.com",
    "my-bucket.s3.eu-west-1.amazonaws.com",
    "nothing.example.com",
]


def test_moto_looks_a_hosts_backend_up_under_its_dispatcher_lock_on_every_request() -> None:
    """What the sandbox's dispatcher relies on (moto 5.2.5): `get_application` asks
    `get_backend_for_host`, and the answer depends on the host alone."""
    source = inspect.getsource(werkzeug_app.DomainDispatcherApplication.get_application)
    assert "with self.lock:" in source and "self.get_backend_for_host(host)" in source
    assert list(inspect.signature(werkzeug_app.DomainDispatcherApplication.get_backend_for_host).parameters) == [
        "self", "host",
    ]  # fmt: skip


def test_the_dispatcher_answers_as_motos_and_looks_each_host_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = moto_internals.backend_app()
    plain = werkzeug_app.DomainDispatcherApplication(create_backend_app)  # moto's own, as `moto_server` makes it
    listed: list[int] = []
    original = werkzeug_app.backends.list_of_moto_modules

    def counting() -> Any:
        listed.append(1)
        return original()

    monkeypatch.setattr(werkzeug_app.backends, "list_of_moto_modules", counting)
    expected = {host: plain.get_backend_for_host(host) for host in HOSTS}
    listed.clear()

    first = {host: app.get_backend_for_host(host) for host in HOSTS}
    looked_up = len(listed)
    again = {host: app.get_backend_for_host(host) for host in HOSTS}

    assert first == again == expected
    assert expected["sqs.eu-west-1.amazonaws.com"] == "sqs" and expected["dynamodb"] == "dynamodb"
    assert looked_up == len(HOSTS) and len(listed) == looked_up  # the second round looked nothing up
    assert app.get_backend_for_host(None) is None


def test_step_functions_lambda_tasks_share_one_client_per_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5's `boto_client_for(region, service, state_credentials)` makes a new client on every
    call; the sandbox's gives the same client for a Region and endpoint, another for another."""
    assert list(inspect.signature(boto_client.boto_client_for).parameters) == ["region", "service", "state_credentials"]
    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for or getattr(
        lambda_eval_utils.boto_client_for, "_sandbox_fixed", False
    )
    made = boto_client.boto_client_for("eu-west-1", "lambda")
    assert made is not boto_client.boto_client_for("eu-west-1", "lambda")  # moto's: a new one each time

    monkeypatch.setattr(lambda_eval_utils, "boto_client_for", lambda_eval_utils.boto_client_for)
    monkeypatch.setenv("MOTO_PORT", "5999")
    moto_internals.reuse_stepfunctions_lambda_clients()
    reuse = lambda_eval_utils.boto_client_for

    one = reuse("eu-west-1", "lambda", None)
    assert reuse("eu-west-1", "lambda", object()) is one
    assert reuse("us-east-1", "lambda", None) is not one
    assert one.meta.region_name == "eu-west-1" and one.meta.endpoint_url == "http://localhost:5999"
    monkeypatch.setenv("MOTO_PORT", "6000")  # another sandbox: another endpoint
    assert reuse("eu-west-1", "lambda", None).meta.endpoint_url == "http://localhost:6000"
