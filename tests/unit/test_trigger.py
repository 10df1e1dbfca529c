"""The bootstrap trigger turns stack events into exactly the run the operator asked for."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.run.trigger import decide

BASE: dict[str, Any] = {"StateMachineArn": "arn:sm", "ReleaseVersion": "2.8.0", "OnDelete": "Retain",
        "Options": {"ProdSizing": "false", "LogRetentionDays": "30"}}  # fmt: skip


def event(request: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"RequestType": request, "ResourceProperties": new}
    if old is not None:
        document["OldResourceProperties"] = old
    return document


def test_stack_create_starts_an_install_of_the_stack_s_release_with_its_options() -> None:
    assert decide(event("Create", BASE)) == {
        "action": "install", "version": "2.8.0", "source": "trigger",
        "options": {"ProdSizing": "false", "LogRetentionDays": "30"},
    }  # fmt: skip


def test_a_new_release_version_starts_an_upgrade() -> None:
    run = decide(event("Update", {**BASE, "ReleaseVersion": "2.9.0"}, BASE))

    assert run is not None and (run["action"], run["version"]) == ("upgrade", "2.9.0")


def test_a_changed_option_starts_a_redeploy_with_the_new_options() -> None:
    changed = {**BASE, "Options": {**BASE["Options"], "ProdSizing": "true"}}

    run = decide(event("Update", changed, BASE))

    assert run is not None and run["action"] == "redeploy" and run["options"]["ProdSizing"] == "true"


@pytest.mark.parametrize("change", [{"OnDelete": "Destroy"}, {}])
def test_an_update_of_nothing_the_installer_uses_starts_no_run(change: dict[str, Any]) -> None:
    assert decide(event("Update", {**BASE, **change}, BASE)) is None


def test_with_nothing_installed_an_update_installs_with_every_option_of_the_stack() -> None:
    # the install was refused (a wrong hosted zone, say): the operator corrects one parameter
    corrected = {**BASE, "Options": {**BASE["Options"], "LogRetentionDays": "90"}}

    run = decide(event("Update", corrected, BASE), installed=False)

    assert run == {
        "action": "install", "version": "2.8.0", "source": "trigger",
        "options": {"ProdSizing": "false", "LogRetentionDays": "90"},
    }  # fmt: skip
    assert decide(event("Update", {**BASE, "OnDelete": "Destroy"}, BASE), installed=False) is None


def test_empty_options_are_left_to_the_release_defaults() -> None:
    run = decide(event("Create", {**BASE, "Options": {"ExistingVpcId": "", "ProdSizing": "true"}}))

    assert run is not None and run["options"] == {"ProdSizing": "true"}


class _Sfn:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": self.statuses.pop(0), "cause": "stage vpc failed"}


class _Lambda:
    def __init__(self) -> None:
        self.invoked: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> None:
        self.invoked.append(request)


class _Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trigger"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _follow(statuses: list[str], remaining_ms: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], _Lambda]:
    from lambdas.core.settings import Settings
    from lambdas.run import trigger

    answers: list[Any] = []
    monkeypatch.setattr(
        trigger, "answer", lambda _event, status, reason="", data=None: answers.append((status, reason))
    )
    lambda_ = _Lambda()
    settings = Settings(ledger_table="ledger", artifacts_bucket="artifacts", resource_prefix="dataall", env_name="dev")
    worker = trigger.Trigger(settings=settings, ledger=None, sfn=_Sfn(statuses), sns=None, lambda_=lambda_,  # type: ignore[arg-type]
                             sleep=lambda _seconds: None)  # fmt: skip
    trigger.follow_uninstall(worker, {"RequestType": "Delete"}, _Context(remaining_ms), "arn:run")
    return answers, lambda_


def test_a_destroy_is_answered_when_its_uninstall_run_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    answers, lambda_ = _follow(["RUNNING", "RUNNING", "SUCCEEDED"], 600_000, monkeypatch)

    assert answers == [("SUCCESS", "")] and lambda_.invoked == []


def test_a_failed_uninstall_fails_the_delete_with_the_runs_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    answers, _ = _follow(["FAILED"], 600_000, monkeypatch)

    assert answers[0][0] == "FAILED" and "stage vpc failed" in answers[0][1]


def test_the_wait_is_handed_to_a_fresh_invocation_before_lambdas_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    answers, lambda_ = _follow(["RUNNING"], 30_000, monkeypatch)

    assert answers == []
    (handover,) = lambda_.invoked
    assert handover["InvocationType"] == "Event" and b'"WaitFor": "arn:run"' in handover["Payload"]
