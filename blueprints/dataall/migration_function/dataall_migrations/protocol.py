"""What the installer's `migrate` step (`lambdas/migration/step.py`) sends a migration function:
a command, its target revision, the lock and statement timeouts, checked here.

data.all's migration function (`dataall_installer_migrate`, beside this package) speaks it: its
package ships this module and `errors` (`installer/dataall_migrations.py`), as does the test
fixture's synthetic migration function, so the step drives either alike. Standard library only:
it runs beside either function's SQLAlchemy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dataall_migrations.errors import BadRequest

COMMANDS = ("status", "upgrade", "downgrade")
DEFAULT_LOCK_TIMEOUT_MS = 5_000
DEFAULT_STATEMENT_TIMEOUT_MS = 300_000
LOCK_TIMEOUT_RANGE = (100, 600_000)
STATEMENT_TIMEOUT_RANGE = (1_000, 900_000)
#: Kept back from the function's own timeout to roll back and answer.
SAFETY_MARGIN_S = 15


@dataclass(frozen=True)
class Timeouts:
    """How long a statement may wait for a lock, how long it may run, when the command must end."""

    lock_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    statement_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    #: `time.monotonic()` by which the command must be over (the function's own timeout).
    deadline: float | None = None

    def remaining_ms(self) -> int | None:
        if self.deadline is None:
            return None
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    def statement_budget_ms(self) -> int:
        """The statement timeout, never beyond the time the command has left."""
        remaining = self.remaining_ms()
        budget = self.statement_ms if remaining is None else min(self.statement_ms, remaining)
        return max(1, budget)


def command(event: Any) -> tuple[str, str | None]:
    """The event's command and its target revision (a downgrade's; None: base)."""
    if not isinstance(event, Mapping):
        raise BadRequest("the event must be an object with a `command`")
    name = event.get("command")
    if name not in COMMANDS:
        raise BadRequest(f"command must be one of {list(COMMANDS)}, got {name!r}")
    if name == "downgrade" and "revision" not in event:
        # Explicit, so that a forgotten field never means "downgrade to base, drop every table".
        raise BadRequest("downgrade needs `revision`: a revision, or null for base")
    target = event.get("revision")
    if target is not None and not isinstance(target, str):
        raise BadRequest(f"revision must be a string or null, got {target!r}")
    return str(name), target


def _milliseconds(event: Mapping[str, Any], key: str, default: int, bounds: tuple[int, int]) -> int:
    value = event.get(key, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise BadRequest(f"{key} must be an integer from {bounds[0]} to {bounds[1]}, got {value!r}")
    return value


def timeouts(event: Mapping[str, Any], context: Any) -> Timeouts:
    """The event's timeouts, and the deadline the function's own timeout sets (less a margin)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    deadline = None
    if callable(remaining_ms):
        deadline = time.monotonic() + max(1.0, remaining_ms() / 1000 - SAFETY_MARGIN_S)
    return Timeouts(
        lock_ms=_milliseconds(event, "lock_timeout_ms", DEFAULT_LOCK_TIMEOUT_MS, LOCK_TIMEOUT_RANGE),
        statement_ms=_milliseconds(
            event, "statement_timeout_ms", DEFAULT_STATEMENT_TIMEOUT_MS, STATEMENT_TIMEOUT_RANGE
        ),
        deadline=deadline,
    )
