"""The plan step: check the input, take the lock, load and verify the release, compute waves.

Everything here happens before any stage changes, so every refusal (bad input, a run
already going, a missing or damaged release, impossible options) leaves nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.deps import Deps
from lambdas.errors import InvalidInput, InvalidOptions
from lambdas.ledger import now_iso
from lambdas.manifest import ManifestError, OptionValue, schema_errors, topological_levels
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


@dataclass
class Plan:
    """What a run will do, recorded in the ledger before anything changes."""

    action: str
    version: str
    options: dict[str, OptionValue]
    params: dict[str, OptionValue]
    #: waves of step names, and the same as step references for the state machine
    waves: list[list[str]]
    items: list[list[dict[str, str]]]
    steps: dict[str, dict[str, str]] = field(default_factory=dict)


def plan(deps: Deps, request: PlanRequest) -> dict[str, Any]:
    document = validate_input(request.input)
    run = request.execution.name
    holder = request.execution.id
    previous_holder = deps.ledger.acquire_lock(holder, run, lambda arn: execution_running(deps.sfn, arn))
    try:
        current = deps.ledger.current_release()
        if document["action"] == "uninstall":
            chosen = _plan_uninstall(deps, document, current)
        else:
            chosen = _plan_deploy(deps, document, current)
        deps.ledger.put_run(
            run,
            {
                "action": chosen.action,
                "version": chosen.version,
                "source": document.get("source", "console"),
                "execution_arn": holder,
                "status": "RUNNING",
                "options": chosen.options,
                "params": chosen.params,
                "previous": {"version": current["version"], "options": current["options"]} if current else None,
                "took_over_lock_from": (previous_holder or {}).get("run"),
                "waves": chosen.waves,
                "steps": chosen.steps,
                "started": now_iso(),
            },
        )
    except BaseException:
        deps.ledger.release_lock(holder)
        raise
    return {"run": run, "action": chosen.action, "version": chosen.version, "waves": chosen.items}


def _plan_deploy(deps: Deps, document: dict[str, Any], current: dict[str, Any] | None) -> Plan:
    action = document["action"]
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
        "PivotRoleProviderArn": deps.settings.pivot_role_provider_arn,
        # Off only while an uninstall deletes a stage (see StageDeployment._start_delete).
        "DeletionProtection": "true",
    }
    deployed = deps.ledger.stages()
    steps = {}
    for name in (n for wave in waves for n in wave):
        step = manifest.steps[name]
        change = "action" if not step.is_stage else ("check" if name in deployed else "new")
        steps[name] = {"kind": step.kind, "change": change}
    return Plan(
        action=action,
        version=version,
        options=options,
        params=params,
        waves=waves,
        items=[[{"name": name, "kind": manifest.steps[name].kind} for name in wave] for wave in waves],
        steps=steps,
    )


def _plan_uninstall(deps: Deps, document: dict[str, Any], current: dict[str, Any] | None) -> Plan:
    """Every deployed stage, deleted in reverse dependency order (stateful ones kept on request)."""
    deployed = deps.ledger.stages()
    version = (current or {}).get("version") or document.get("version") or ""
    order: list[list[str]] = [sorted(deployed)]
    if version and deployed:
        manifest = deps.store.ensure(version)
        known = {name: manifest.steps[name].dependencies() if name in manifest.steps else set() for name in deployed}
        order = list(reversed(topological_levels({n: {d for d in ds if d in deployed} for n, ds in known.items()})))
    retain = bool(document.get("retain_data"))
    waves = [wave for wave in ([n for n in w if not (retain and deployed[n].get("stateful"))] for w in order) if wave]
    return Plan(
        action="uninstall",
        version=version or "0.0.0",
        options=(current or {}).get("options", {}),
        params={},
        waves=waves,
        items=[[{"name": name, "kind": "stage", "op": "delete"} for name in wave] for wave in waves],
        steps={name: {"kind": "stage", "change": "delete"} for wave in waves for name in wave},
    )
