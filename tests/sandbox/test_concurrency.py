"""Concurrent requests to one service, as AWS serves them (a stack creating roles while a custom
resource reads them): none fails for another's sake."""

from __future__ import annotations

import json
import sys
import threading

from tests.sandbox.conftest import Clients

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def test_reads_beside_writes_of_one_service_all_succeed(clients: Clients) -> None:
    """IAM answers GetRole and ListRoles while other callers create roles (IAM API reference:
    no call is refused for another's concurrent write). moto 5.2.5's server answered some reads
    HTTP 500 "dictionary changed size during iteration"."""
    iam = clients("iam")
    iam.create_role(RoleName="reader-target", AssumeRolePolicyDocument=TRUST)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for number in range(60):
                iam.create_role(RoleName=f"role-{worker}-{number}", AssumeRolePolicyDocument=TRUST)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    def read() -> None:
        try:
            for _ in range(120):
                iam.get_role(RoleName="reader-target")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the sandbox serves from this process: switch threads often
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    assert len(iam.list_roles(MaxItems=1000)["Roles"]) >= 181
