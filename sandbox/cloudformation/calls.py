"""How many CloudFormation API calls the sandbox answered, per action.

AWS bills nothing for these calls, but they are what an installer's efficiency shows in:
a redeploy that changes nothing should create no change set (`CreateChangeSet`), and
every poll is a `DescribeStacks` against an account-wide rate limit. Benchmarks read the
counts from Python (`sandbox.cloudformation.calls`), before and after a run.

Every request that names an action is counted, whatever the answer: a call refused with
a validation error or a throttle still reached the API, as it does in AWS.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping


class ApiCalls:
    """A thread-safe count of calls per action (`CreateChangeSet`, `DescribeStacks` ...)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, action: str) -> None:
        with self._lock:
            self._counts[action] += 1

    def count(self, action: str) -> int:
        with self._lock:
            return self._counts[action]

    def snapshot(self) -> dict[str, int]:
        """Every action's count so far (a copy: later calls do not change it)."""
        with self._lock:
            return dict(self._counts)

    def since(self, earlier: Mapping[str, int]) -> dict[str, int]:
        """The calls made after `earlier` (a `snapshot()`), per action; actions not called are left out."""
        now = self.snapshot()
        return {
            action: count - earlier.get(action, 0) for action, count in now.items() if count > earlier.get(action, 0)
        }

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
