"""The bootstrap trigger turns stack events into exactly the run the operator asked for."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.handlers.trigger import decide

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


def test_empty_options_are_left_to_the_release_defaults() -> None:
    run = decide(event("Create", {**BASE, "Options": {"ExistingVpcId": "", "ProdSizing": "true"}}))

    assert run is not None and run["options"] == {"ProdSizing": "true"}
