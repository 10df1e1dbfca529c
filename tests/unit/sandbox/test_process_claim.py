"""moto's backends and the sandbox's hooks into them are process-wide: a process hosts one
sandbox at a time, and only the endpoint of that sandbox is kept (`moto_internals.claim_process`)."""

from __future__ import annotations

import pytest

from sandbox import moto_internals


def test_a_process_hosts_one_sandbox_at_a_time_until_that_one_releases_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_internals, "_process_owner", None)  # a sandbox of another tier may run here
    moto_internals.claim_process("http://127.0.0.1:1")
    try:
        with pytest.raises(RuntimeError, match=r"already runs in this process at http://127\.0\.0\.1:1"):
            moto_internals.claim_process("http://127.0.0.1:2")
        moto_internals.release_process("http://127.0.0.1:2")  # not the owner: changes nothing
        with pytest.raises(RuntimeError):
            moto_internals.claim_process("http://127.0.0.1:2")
    finally:
        moto_internals.release_process("http://127.0.0.1:1")

    moto_internals.claim_process("http://127.0.0.1:2")
    moto_internals.release_process("http://127.0.0.1:2")
