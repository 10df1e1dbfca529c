"""The ledger's lock: one run at a time, and a dead run's lock is taken over."""

from __future__ import annotations

import pytest

from lambdas.core.errors import LockHeld
from lambdas.data.ledger import Ledger
from lambdas.data.records import RunRecord
from tests.unit.conftest import ledger_table

RUN_A = "arn:aws:states:us-east-1:000000000000:execution:sm:install-a"
RUN_B = "arn:aws:states:us-east-1:000000000000:execution:sm:install-b"


@pytest.fixture
def ledger(aws: None) -> Ledger:
    return Ledger(ledger_table())


def test_a_second_run_while_the_first_runs_is_refused_and_the_lock_stays(ledger: Ledger) -> None:
    ledger.acquire_lock(RUN_A, "install-a", is_running=lambda arn: True)

    with pytest.raises(LockHeld, match=r"run install-a holds the installer lock"):
        ledger.acquire_lock(RUN_B, "install-b", is_running=lambda arn: arn == RUN_A)

    lock = ledger.lock()
    assert lock is not None and lock.holder == RUN_A


def test_a_lock_whose_run_is_no_longer_running_is_taken_over(ledger: Ledger) -> None:
    ledger.acquire_lock(RUN_A, "install-a", is_running=lambda arn: True)

    previous = ledger.acquire_lock(RUN_B, "install-b", is_running=lambda arn: False)

    assert previous is not None and previous.holder == RUN_A
    lock = ledger.lock()
    assert lock is not None and lock.holder == RUN_B


def test_taking_the_lock_again_is_idempotent_for_its_holder(ledger: Ledger) -> None:
    ledger.acquire_lock(RUN_A, "install-a", is_running=lambda arn: True)

    assert ledger.acquire_lock(RUN_A, "install-a", is_running=lambda arn: True) is None


def test_only_the_holder_releases_the_lock(ledger: Ledger) -> None:
    ledger.acquire_lock(RUN_A, "install-a", is_running=lambda arn: True)

    assert ledger.release_lock(RUN_B) is False
    assert ledger.release_lock(RUN_A) is True
    assert ledger.lock() is None


def test_run_history_lists_the_newest_run_first(ledger: Ledger) -> None:
    for run, action, started in (
        ("install-a", "install", "2026-01-01T00:00:00Z"),
        ("upgrade-b", "upgrade", "2026-01-02T00:00:00Z"),
    ):
        ledger.put_run(RunRecord(run=run, action=action, version="1.0.0", status="RUNNING", started=started))

    assert [r.run for r in ledger.latest_runs(2)] == ["upgrade-b", "install-a"]
