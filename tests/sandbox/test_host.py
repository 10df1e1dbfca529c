"""The sandbox hosts its services; moto's hooks are process-wide, so a process hosts one
sandbox at a time (sandbox/moto_internals.py, `claim_process`)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.server import Sandbox


def test_a_second_sandbox_in_the_same_process_refuses_to_start_and_names_the_first(sandbox: Any) -> None:
    second = Sandbox()

    with pytest.raises(RuntimeError, match=f"already runs in this process at {sandbox.endpoint}"):
        second.start()
