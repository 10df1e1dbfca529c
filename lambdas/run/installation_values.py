"""Per-installation values: made once per installation at deploy time, never baked into a release.

data.all's pivot role trusts the platform's account with an external id that data.all's own
synthesis draws (`deploy/stacks/param_store_stack.py`: 32 characters of `[A-Za-z0-9]`) unless it
can read the one its account already holds (`/dataall/<env>/pivotRole/externalId`). A release is
shared by every installation, so the value cannot be in it: the release names the value
(`Manifest.values`) and the stage's template takes it as a NoEcho parameter. Plan makes it:

- the installation's ledger keeps it (`ValueRecord`): the same value for every later run,
  upgrade, redeploy and rollback;
- otherwise the account's SSM parameter holds one (data.all installed before the installer took
  it over, or an earlier installation whose ledger is gone): adopted, as data.all's synthesis does;
- otherwise a new one, drawn with the `secrets` CSPRNG from the value's alphabet and length.

The value is never logged, never in a run's record, its report or its plan: a run records and
compares NO_ECHO_MASK, what CloudFormation itself shows of a NoEcho parameter; the value is
given to CloudFormation alone (`Manifest.given_to_cloudformation`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lambdas.core.deps import Deps
from lambdas.core.errors import ReleaseInvalid
from lambdas.data.ledger import now_iso
from lambdas.data.parameters import read_parameter
from lambdas.data.records import ValueRecord
from lambdas.release.manifest import NO_ECHO_MASK, InstallationValue, Manifest

#: What STS takes as an external id (2 to 1,224 of these characters); an adopted value must be one.
#: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html#API_AssumeRole_RequestParameters
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")


def draw(spec: InstallationValue, choice: Callable[[str], str] = secrets.choice) -> str:
    """A new value: `spec.length` characters, each chosen from `spec.alphabet` by a CSPRNG."""
    return "".join(choice(spec.alphabet) for _ in range(spec.length))


@dataclass
class Made:
    """The installation's values for a run: those it had, and those Plan made, kept only if the run goes."""

    values: dict[str, str]
    new: list[ValueRecord]

    def masked(self) -> dict[str, str]:
        """What a run's parameters hold in place of the values."""
        return dict.fromkeys(self.values, NO_ECHO_MASK)


def make(deps: Deps, manifest: Manifest, run: str) -> Made:
    """Every value the release names: the ledger's, else the account's (adopted), else drawn."""
    values: dict[str, str] = {}
    new: list[ValueRecord] = []
    for name, spec in sorted(manifest.values.items()):
        kept = deps.ledger.value(name)
        if kept is not None:
            values[name] = kept.value
            continue
        record = _adopted(deps, spec, run) or ValueRecord(
            name=name, value=draw(spec), origin="drawn", run=run, created=now_iso()
        )
        values[name] = record.value
        new.append(record)
    return Made(values, new)


def keep(deps: Deps, made: Made) -> None:
    """Keep the values Plan made (a run going ahead): none replaces one the ledger has."""
    for record in made.new:
        made.values[record.name] = deps.ledger.keep_value(record).value


def installation_values(deps: Deps, manifest: Manifest) -> Mapping[str, str]:
    """The values the ledger keeps for the release's names (what a step gives CloudFormation)."""
    found = {}
    for name in manifest.values:
        record = deps.ledger.value(name)
        if record is not None:
            found[name] = record.value
    return found


def _adopted(deps: Deps, spec: InstallationValue, run: str) -> ValueRecord | None:
    if spec.adopt_ssm_parameter is None:
        return None
    ssm = deps.regional_client("ssm", deps.home_region)
    parameter = deps.settings.installation_name(spec.adopt_ssm_parameter)
    value = read_parameter(ssm, parameter)
    if value is None:
        return None
    if not EXTERNAL_ID.fullmatch(value):
        # Never the value in the message: it is a secret, even when malformed.
        raise ReleaseInvalid(
            f"the account's SSM parameter {parameter} holds a {spec.name} that is not "
            f"2 to 1,224 of the characters STS takes in an external id ({len(value)} characters); "
            "correct or delete it, then run again",
            field=f"values.{spec.name}",
        )
    return ValueRecord(name=spec.name, value=value, origin="adopted", source=parameter, run=run, created=now_iso())
