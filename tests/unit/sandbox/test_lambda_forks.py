"""The fork server's handling of its own resources, without starting one."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from sandbox import lambda_forks


def test_a_fork_server_that_cannot_be_started_leaves_no_socket_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[socket.socket] = []
    socketpair = socket.socketpair

    def recorded(*args: Any) -> tuple[socket.socket, socket.socket]:
        pair = socketpair(*args)
        made.extend(pair)
        return pair

    def unstartable(*args: Any, **kwargs: Any) -> None:
        raise OSError(8, "Exec format error")

    monkeypatch.setattr(lambda_forks.socket, "socketpair", recorded)
    monkeypatch.setattr(lambda_forks.subprocess, "Popen", unstartable)
    server = lambda_forks.ForkServer(tmp_path, [])

    with pytest.raises(lambda_forks.ForkServerError, match=r"failed twice .*Exec format error") as raised:
        server.fork({}, 0, 1, 2)

    assert raised.value.__cause__ is not None  # the failed start's frames are still held here
    assert len(made) == 4  # two starts, a pair each
    assert [sock.fileno() for sock in made] == [-1, -1, -1, -1]


def test_a_worker_is_forked_unless_its_environment_sets_what_an_interpreter_reads_only_at_start(
    tmp_path: Path,
) -> None:
    """`startup_difference`: the variable that sends a worker to a fresh interpreter, None when none
    does; LD_LIBRARY_PATH counts only for a folder that exists, the layers' /opt seen in their folder."""
    start = dict(lambda_forks.STARTUP_ENVIRONMENT)
    layers_folder = tmp_path / "layers"
    layers_folder.mkdir()
    libraries = {**start, "LD_LIBRARY_PATH": "/opt/lib:/nonexistent-lib"}

    assert lambda_forks.startup_difference({**start, "AWS_REGION": "us-east-1"}, None, None) is None
    assert lambda_forks.startup_difference(libraries, layers_folder, "/opt") is None
    (layers_folder / "lib").mkdir()
    assert lambda_forks.startup_difference(libraries, layers_folder, "/opt") == "LD_LIBRARY_PATH (/opt/lib)"
    assert lambda_forks.startup_difference({**start, "LD_PRELOAD": "x.so"}, None, None) == "LD_PRELOAD"
    assert lambda_forks.startup_difference({**start, "LANG": "C"}, None, None) == "LANG"
    without = {k: v for k, v in start.items() if k != "PYTHONDONTWRITEBYTECODE"}
    assert lambda_forks.startup_difference(without, None, None) == "PYTHONDONTWRITEBYTECODE"
