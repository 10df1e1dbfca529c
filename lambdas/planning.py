"""The plan step: check the input, take the lock, load and verify the release, compute waves.

Everything here happens before any stage changes, so every refusal (bad input, a run
already going, a missing or damaged release, impossible options) leaves nothing changed.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.deps import Deps
from lambdas.errors import InvalidInput, InvalidOptions
from lambdas.ledger import now_iso
from lambdas.manifest import ManifestError, OptionValue, schema_errors
from lambdas.models import PlanRequest


def validate_input(document: Any) -> dict[str, Any]:
    errors = schema_errors(document, "run-input")
    if errors:
        raise InvalidInput("the run input is not valid: " + "; ".join(errors))
    result: dict[str, Any] = document
    return result


def execution_running(sfn: Any, execution_arn: str) -> bool:
    try:
        return bool(sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            return False
        raise


def plan(deps: Deps, request: PlanRequest) -> dict[str, Any]:
    document = validate_input(request.input)
    run = request.execution.name
    holder = request.execution.id
    previous_holder = deps.ledger.acquire_lock(holder, run, lambda arn: execution_running(deps.sfn, arn))
    try:
        return _plan_locked(deps, document, run, holder, previous_holder)
    except BaseException:
        deps.ledger.release_lock(holder)
        raise


def _plan_locked(
    deps: Deps,
    document: dict[str, Any],
    run: str,
    holder: str,
    previous_holder: dict[str, Any] | None,
) -> dict[str, Any]:
    action = document["action"]
    current = deps.ledger.current_release()
    version = document.get("version") or (current or {}).get("version")
    if not version:
        raise InvalidInput(f"version: required for {action}, nothing is installed yet")
    manifest = deps.store.ensure(version)
    try:
        options = manifest.resolve_options((current or {}).get("options"), document.get("options"))
        waves = manifest.waves(options)
    except ManifestError as error:
        raise InvalidOptions(str(error)) from None
    params: dict[str, OptionValue] = {
        **options,
        "ResourcePrefix": deps.settings.resource_prefix,
        "EnvName": deps.settings.env_name,
        "AssetsBucket": deps.settings.artifacts_bucket,
        "Region": deps.region,
        "AccountId": deps.account_id,
    }
    deployed = deps.ledger.stages()
    steps = {}
    for name in (n for wave in waves for n in wave):
        step = manifest.steps[name]
        record = deployed.get(name)
        if not step.is_stage:
            change = "action"
        elif record is None:
            change = "new"
        else:
            change = "check"
        steps[name] = {"kind": step.kind, "change": change}
    deps.ledger.put_run(
        run,
        {
            "action": action,
            "version": version,
            "source": document.get("source", "console"),
            "execution_arn": holder,
            "status": "RUNNING",
            "options": options,
            "params": params,
            "previous": {"version": current["version"], "options": current["options"]} if current else None,
            "took_over_lock_from": (previous_holder or {}).get("run"),
            "waves": waves,
            "steps": steps,
            "started": now_iso(),
        },
    )
    return {
        "run": run,
        "action": action,
        "version": version,
        "waves": [[{"name": name, "kind": manifest.steps[name].kind} for name in wave] for wave in waves],
    }
